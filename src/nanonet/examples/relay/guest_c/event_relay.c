/* The event-relay world (nanonet:tunnel/event-relay) in C. An event flattens
 * to 17 core values, more than the canonical ABI passes flat, so both
 * `relay` and the `send` import take one pointer at the event in linear
 * memory (canonical layout: tags' (ptr, len) at offset 20); `relay` hands
 * that pointer on unchanged. The host copies the argument in with
 * cabi_realloc; relay's post-return empties the heap. */
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

__attribute__((import_module("$root"), import_name("send")))
extern void send(const uint8_t *event);

__attribute__((export_name("relay")))
uint32_t relay(const uint8_t *event) {
  send(event);
  return *(const uint32_t *)(event + 24);  /* tags' length */
}

__attribute__((export_name("cabi_post_relay")))
void post_relay(uint32_t ret) { (void)ret; top = (uintptr_t)&__heap_base; }
