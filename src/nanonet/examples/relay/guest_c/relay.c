/* The relay world (nanonet:tunnel/relay) in C, with the canonical ABI glue
 * written by hand: built by nanonet.component.cbuild (zig cc, then jco embed
 * and jco new). Layouts, from the canonical ABI:
 *   packet          u32 stream-id @0, u64 timestamp @8, list<u8> @16 (ptr, len); 24 bytes
 *   result<T, E>    u8 case @0 (0 ok, 1 err), payload @4: string or list is (ptr, len)
 * Every allocation of a call (its arguments, what receive-stream returns, the
 * answer) is dead once the host has read the answer, so memory is one arena
 * that each post-return resets. */
#include <stddef.h>
#include <stdint.h>

typedef struct { uint32_t stream_id; uint64_t timestamp; uint8_t *data; size_t len; } packet;
typedef struct { packet *ptr; size_t len; } packets;
typedef struct { uint8_t is_err; void *ptr; size_t len; } answer;  /* result<string|list, string> */

_Static_assert(sizeof(packet) == 24 && offsetof(packet, data) == 16, "packet layout");
_Static_assert(offsetof(answer, ptr) == 4 && sizeof(answer) == 12, "result layout");

__attribute__((import_module("$root"), import_name("forward")))
extern void forward(uint32_t stream_id, const uint8_t *data, size_t len);
__attribute__((import_module("$root"), import_name("receive-stream")))
extern void receive_stream(packets *out);

extern unsigned char __heap_base;
static uintptr_t top;

static void *alloc(size_t size, size_t align) {
  if (top == 0) top = (uintptr_t)&__heap_base;
  uintptr_t at = (top + align - 1) & ~(uintptr_t)(align - 1);
  uintptr_t end = at + size, have = __builtin_wasm_memory_size(0) * 65536;
  if (end > have && __builtin_wasm_memory_grow(0, (end - have + 65535) / 65536) == (size_t)-1)
    __builtin_trap();
  top = end;
  return (void *)at;
}

__attribute__((export_name("cabi_realloc")))
void *cabi_realloc(void *old, size_t old_size, size_t align, size_t size) {
  uint8_t *p = alloc(size, align);
  for (size_t i = 0; old && i < old_size && i < size; i++) p[i] = ((uint8_t *)old)[i];
  return p;
}

static answer result;
static char *str;
static size_t str_len;

static void put(const char *s) { while (*s) str[str_len++] = *s++; }

static void put_u32(uint32_t n) {
  char digits[10];
  size_t k = 0;
  do digits[k++] = (char)('0' + n % 10); while (n /= 10);
  while (k) str[str_len++] = digits[--k];
}

static void begin(void) { str = alloc(64, 1); str_len = 0; }

static answer *finish(uint8_t is_err) {
  result = (answer){is_err, str, str_len};
  return &result;
}

__attribute__((export_name("transmit-packet")))
answer *transmit_packet(uint32_t stream_id, uint64_t timestamp, uint8_t *data, size_t len) {
  (void)timestamp;
  begin();
  if (len == 0) {
    put("empty payload");
    return finish(1);
  }
  forward(stream_id, data, len);
  put("stream "); put_u32(stream_id); put(": "); put_u32((uint32_t)len); put(" bytes");
  return finish(0);
}

__attribute__((export_name("receive")))
answer *receive(uint32_t stream_id) {
  packets got;
  receive_stream(&got);
  size_t kept = 0;
  for (size_t i = 0; i < got.len; i++) {
    if (got.ptr[i].stream_id != stream_id) continue;
    if (got.ptr[i].len == 0) {
      begin(); put("packet "); put_u32((uint32_t)i); put(": empty payload");
      return finish(1);
    }
    got.ptr[kept++] = got.ptr[i];  /* in place: kept never passes i */
  }
  result = (answer){0, got.ptr, kept};
  return &result;
}

__attribute__((export_name("cabi_post_transmit-packet")))
void post_transmit(answer *r) { (void)r; top = 0; }

__attribute__((export_name("cabi_post_receive")))
void post_receive(answer *r) { (void)r; top = 0; }
