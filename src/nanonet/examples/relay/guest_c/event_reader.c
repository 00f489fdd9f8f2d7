/* The event-reader world (nanonet:tunnel/event-reader) in C. Both imports
 * return more than one core value, so the canonical ABI passes a return
 * area (an option<event>: case byte, the event at offset 8; a list: ptr,
 * len) that the import fills, its strings and lists copied in through
 * cabi_realloc; each export returns its area unchanged, and its
 * post-return empties the heap. */
#include "arena.h"

__attribute__((import_module("$root"), import_name("receive")))
extern void receive(uint8_t *ret);

__attribute__((import_module("$root"), import_name("receive-all")))
extern void receive_all(uint8_t *ret);

static _Alignas(8) uint8_t one[8 + 80];  /* option<event>: the event is 80 bytes */
static _Alignas(8) uint8_t all[8];

__attribute__((export_name("take")))
uint8_t *take(void) {
  receive(one);
  return one;
}

__attribute__((export_name("take-all")))
uint8_t *take_all(void) {
  receive_all(all);
  return all;
}

__attribute__((export_name("cabi_post_take")))
void post_take(uint8_t *ret) { (void)ret; arena_reset(); }

__attribute__((export_name("cabi_post_take-all")))
void post_take_all(uint8_t *ret) { (void)ret; arena_reset(); }
