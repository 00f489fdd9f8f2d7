/* The producer world (nanonet:tunnel/producer) in C: `run(count, size)` calls
 * the `forward` import `count` times. The canonical ABI lowers
 * forward(stream-id: u32, payload: list<u8>) to (i32, i32 ptr, i32 len),
 * which is all this needs: no allocation crosses, so no cabi_realloc. */
#include <stddef.h>
#include <stdint.h>

__attribute__((import_module("$root"), import_name("forward")))
extern void forward(uint32_t stream_id, const uint8_t *data, size_t len);

static uint8_t payload[65536];

static void stamp(uint32_t i, uint32_t size) {
  for (uint32_t k = 0; k < size && k < 4; k++) payload[k] = (uint8_t)(i >> (8 * k));
}

__attribute__((export_name("run")))
uint32_t run(uint32_t count, uint32_t size) {
  if (size > sizeof payload) size = sizeof payload;
  for (uint32_t i = 0; i < count; i++) {
    stamp(i, size);
    forward(i, payload, size);
  }
  return count;
}
