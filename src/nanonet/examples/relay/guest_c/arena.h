/* cabi_realloc for the event guests, with no libc: a bump allocator over the
 * heap (from __heap_base, growing memory as needed). What the canonical ABI
 * copies in for an export lives until the host has read its result, so each
 * export's post-return empties the heap with arena_reset(). */
#ifndef NANONET_ARENA_H
#define NANONET_ARENA_H
#include <stddef.h>
#include <stdint.h>

extern unsigned char __heap_base;
static uintptr_t top;

__attribute__((export_name("cabi_realloc")))
void *cabi_realloc(void *old, size_t old_size, size_t align, size_t size) {
  if (top == 0) top = (uintptr_t)&__heap_base;
  uintptr_t at = (top + align - 1) & ~(uintptr_t)(align - 1);
  uintptr_t end = at + size, have = __builtin_wasm_memory_size(0) * 65536;
  if (end > have && __builtin_wasm_memory_grow(0, (end - have + 65535) / 65536) == (size_t)-1)
    __builtin_trap();
  for (size_t i = 0; old && i < old_size && i < size; i++) ((uint8_t *)at)[i] = ((uint8_t *)old)[i];
  top = end;
  return (void *)at;
}

static void arena_reset(void) { top = (uintptr_t)&__heap_base; }

#endif
