/* cabi_realloc for the guests here, with no libc: a bump allocator over the
 * heap (from __heap_base, growing memory as needed) that each export's
 * post-return empties with empty_heap(). What the canonical ABI copies in
 * for an export, and what it hands back, live only until the host has copied
 * the result out. */
#ifndef NANONET_BUMP_H
#define NANONET_BUMP_H
#include <stddef.h>
#include <stdint.h>

extern unsigned char __heap_base;
static uintptr_t heap_top;

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

static void empty_heap(void) { heap_top = heap_start(); }

#endif
