/* The event-relay world (nanonet:tunnel/event-relay) in C. An event flattens
 * to 17 core values, more than the canonical ABI passes flat, so both
 * `relay` and the `send` import take one pointer at the event in linear
 * memory (canonical layout: tags' (ptr, len) at offset 20); `relay` hands
 * that pointer on unchanged. */
#include "arena.h"

__attribute__((import_module("$root"), import_name("send")))
extern void send(const uint8_t *event);

__attribute__((export_name("relay")))
uint32_t relay(const uint8_t *event) {
  send(event);
  return *(const uint32_t *)(event + 24);  /* tags' length */
}

__attribute__((export_name("cabi_post_relay")))
void post_relay(uint32_t ret) { (void)ret; arena_reset(); }
