/* The answerer world (nanonet:tunnel/answerer) in C, with no libc.
 * The canonical ABI lowers each export's string or list<u8> to (ptr, len),
 * copied in through cabi_realloc, and returns (ptr, len) through a return
 * area: shout(ptr, len) -> retptr. cabi_realloc is a bump allocator over
 * the heap, which each export's post-return (cabi_post_NAME) empties: an
 * export's input and output live only until the host has copied the output. */
#include <stddef.h>
#include <stdint.h>

__attribute__((import_module("$root"), import_name("forward")))
extern void forward(uint32_t stream_id, const uint8_t *data, size_t len);

extern unsigned char __heap_base;
static uintptr_t heap_top;
static uint32_t ret_area[2];

#define PAGE 65536u

static uintptr_t heap_start(void) { return (uintptr_t)&__heap_base; }

__attribute__((export_name("cabi_realloc")))
void *cabi_realloc(void *old, size_t old_size, size_t align, size_t new_size) {
  if (heap_top == 0) heap_top = heap_start();
  uintptr_t at = (heap_top + align - 1) & ~(uintptr_t)(align - 1);
  uintptr_t end = at + new_size;
  uintptr_t have = __builtin_wasm_memory_size(0) * PAGE;
  if (end > have && __builtin_wasm_memory_grow(0, (end - have + PAGE - 1) / PAGE) == (size_t)-1)
    __builtin_trap();
  uint8_t *to = (uint8_t *)at;
  const uint8_t *from = old;
  for (size_t i = 0; i < old_size && i < new_size; i++) to[i] = from[i];
  heap_top = end;
  return to;
}

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

static void empty_heap(void) { heap_top = heap_start(); }

__attribute__((export_name("cabi_post_shout")))
void post_shout(uint32_t *ret) { (void)ret; empty_heap(); }

__attribute__((export_name("cabi_post_reverse")))
void post_reverse(uint32_t *ret) { (void)ret; empty_heap(); }
