/* The asker world (nanonet:tunnel/asker) in C, with no libc: ask(key) calls
 * the host's lookup(key), forwards the answer down the tunnel (stream id 3)
 * and returns it. The canonical ABI lowers lookup(key: string) -> string to
 * (key ptr, key len, retptr): the host writes the answer's (ptr, len) at
 * retptr, the bytes allocated with cabi_realloc (bump.h). */
#include "bump.h"

__attribute__((import_module("$root"), import_name("forward")))
extern void forward(uint32_t stream_id, const uint8_t *data, size_t len);

__attribute__((import_module("$root"), import_name("lookup")))
extern void lookup(const uint8_t *key, size_t len, uint32_t *ret);

static uint32_t ret_area[2];

__attribute__((export_name("ask")))
uint32_t *ask(const uint8_t *key, size_t len) {
  lookup(key, len, ret_area);
  forward(3, (const uint8_t *)(uintptr_t)ret_area[0], ret_area[1]);
  return ret_area;
}

__attribute__((export_name("cabi_post_ask")))
void post_ask(uint32_t *ret) { (void)ret; empty_heap(); }
