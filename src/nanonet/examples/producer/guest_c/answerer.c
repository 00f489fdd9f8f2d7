/* The answerer world (nanonet:tunnel/answerer) in C, with no libc.
 * The canonical ABI lowers each export's string or list<u8> to (ptr, len),
 * copied in through cabi_realloc, and returns (ptr, len) through a return
 * area: shout(ptr, len) -> retptr. cabi_realloc (bump.h) is a bump allocator
 * over the heap, which each export's post-return (cabi_post_NAME) empties. */
#include "bump.h"

__attribute__((import_module("$root"), import_name("forward")))
extern void forward(uint32_t stream_id, const uint8_t *data, size_t len);

static uint32_t ret_area[2];

static uint32_t *answer(uint8_t *out, size_t len) {
  ret_area[0] = (uint32_t)(uintptr_t)out;
  ret_area[1] = (uint32_t)len;
  return ret_area;
}

__attribute__((export_name("shout")))
uint32_t *shout(const uint8_t *text, size_t len) {
  forward(1, text, len);
  uint8_t *out = cabi_realloc(NULL, 0, 1, len);
  for (size_t i = 0; i < len; i++) {
    uint8_t c = text[i];
    out[i] = (c >= 'a' && c <= 'z') ? (uint8_t)(c - 32) : c;
  }
  return answer(out, len);
}

__attribute__((export_name("reverse")))
uint32_t *reverse(const uint8_t *data, size_t len) {
  forward(2, data, len);
  uint8_t *out = cabi_realloc(NULL, 0, 1, len);
  for (size_t i = 0; i < len; i++) out[i] = data[len - 1 - i];
  return answer(out, len);
}

__attribute__((export_name("cabi_post_shout")))
void post_shout(uint32_t *ret) { (void)ret; empty_heap(); }

__attribute__((export_name("cabi_post_reverse")))
void post_reverse(uint32_t *ret) { (void)ret; empty_heap(); }
