/* The event-front world (nanonet:tunnel/event-front) in C: its `event-sink`
 * export hands each event to the `event-sink` it imports. The event is
 * passed by pointer both ways (17 core values); composed with a provider,
 * wasmtime's adapter copies it from this component's memory into the
 * provider's. */
#include "arena.h"

__attribute__((import_module("nanonet:tunnel/event-sink@0.1.0"), import_name("relay")))
extern uint32_t next_relay(const uint8_t *event);

__attribute__((export_name("nanonet:tunnel/event-sink@0.1.0#relay")))
uint32_t relay(const uint8_t *event) { return next_relay(event); }

__attribute__((export_name("cabi_post_nanonet:tunnel/event-sink@0.1.0#relay")))
void post_relay(uint32_t ret) { (void)ret; arena_reset(); }
