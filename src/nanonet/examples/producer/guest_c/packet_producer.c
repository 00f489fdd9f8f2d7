/* The packet-producer world (nanonet:tunnel/packet-producer) in C: `run`
 * sends `count` packets through `send`. The canonical ABI flattens
 * send(data: packet) to (i32 stream-id, i64 timestamp, i32 ptr, i32 len). */
#include <stddef.h>
#include <stdint.h>

__attribute__((import_module("$root"), import_name("send")))
extern void send(uint32_t stream_id, uint64_t timestamp, const uint8_t *data, size_t len);

static uint8_t payload[65536];

__attribute__((export_name("run")))
uint32_t run(uint32_t count, uint32_t size) {
  if (size > sizeof payload) size = sizeof payload;
  for (uint32_t i = 0; i < count; i++) {
    for (uint32_t k = 0; k < size && k < 4; k++) payload[k] = (uint8_t)(i >> (8 * k));
    send(i, (uint64_t)i * 1000, payload, size);
  }
  return count;
}
