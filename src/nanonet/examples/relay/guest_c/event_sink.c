/* The event-service world (nanonet:tunnel/event-service) in C: event-relay's
 * `relay`, exported as the `event-sink` interface (see event_relay.c). */
#include "arena.h"

#define SINK "nanonet:tunnel/event-sink@0.1.0#relay"

__attribute__((import_module("$root"), import_name("send")))
extern void send(const uint8_t *event);

__attribute__((export_name(SINK)))
uint32_t relay(const uint8_t *event) {
  send(event);
  return *(const uint32_t *)(event + 24);  /* tags' length */
}

__attribute__((export_name("cabi_post_" SINK)))
void post_relay(uint32_t ret) { (void)ret; arena_reset(); }
