/* An HTTP route served by a component: the server world of nanonet:http in
 * C, with no libc (docs/http.md, "Component routes"). The ingress calls
 * handle(request) -> response once per request. The canonical ABI passes
 * the request record flat (method, path, query, headers, body: five
 * (ptr, len) pairs, copied in through cabi_realloc) and takes the response
 * through a return area: status u16 at 0, headers (ptr, len) at 4, body
 * (ptr, len) at 12. A header is a tuple<string, string>: four u32.
 *
 *   GET  /w/hello...    200 text: the method, path, query and user-agent
 *   POST /w/echo        200, the body's bytes back; x-* headers come back as echo-x-*
 *   GET  /w/trap        traps: the client gets 500
 *   GET  /w/spin?n=N    spins N million rounds first (a deadline test)
 *   anything else       404 */
#include <stddef.h>
#include <stdint.h>

typedef struct { const uint8_t *ptr; uint32_t len; } str_t;
typedef struct { str_t name, value; } header_t;
typedef struct { uint16_t status; uint16_t pad; header_t *headers; uint32_t nheaders;
                 uint8_t *body; uint32_t body_len; } response_t;

extern unsigned char __heap_base;
static uintptr_t heap_top;

/* A bump allocator over the heap, emptied by the post-return: what the
 * canonical ABI copies in and what handle hands back live for one call. */
__attribute__((export_name("cabi_realloc")))
void *cabi_realloc(void *old, size_t old_size, size_t align, size_t new_size) {
  if (heap_top == 0) heap_top = (uintptr_t)&__heap_base;
  uintptr_t at = (heap_top + align - 1) & ~(uintptr_t)(align - 1);
  uintptr_t end = at + new_size, have = __builtin_wasm_memory_size(0) * 65536u;
  if (end > have && __builtin_wasm_memory_grow(0, (end - have + 65535u) / 65536u) == (size_t)-1)
    __builtin_trap();
  uint8_t *to = (uint8_t *)at;
  const uint8_t *from = old;
  for (size_t i = 0; i < old_size && i < new_size; i++) to[i] = from[i];
  heap_top = end;
  return to;
}

static str_t cstr(const char *s) {
  uint32_t n = 0;
  while (s[n]) n++;
  return (str_t){(const uint8_t *)s, n};
}

static int same(str_t a, const char *b) {
  str_t c = cstr(b);
  if (a.len != c.len) return 0;
  for (uint32_t i = 0; i < a.len; i++) if (a.ptr[i] != c.ptr[i]) return 0;
  return 1;
}

static int starts(str_t a, const char *b) {
  str_t c = cstr(b);
  return a.len >= c.len && same((str_t){a.ptr, c.len}, b);
}

/* A growing text in the heap: the response body of /w/hello. */
typedef struct { uint8_t *ptr; uint32_t len; } text_t;

static void add(text_t *t, str_t s) {
  uint8_t *to = cabi_realloc(NULL, 0, 1, s.len);
  if (t->len == 0) t->ptr = to;  /* one bump allocation after another: contiguous */
  for (uint32_t i = 0; i < s.len; i++) to[i] = s.ptr[i];
  t->len += s.len;
}

static str_t find(const header_t *h, uint32_t n, const char *name) {
  for (uint32_t i = 0; i < n; i++) if (same(h[i].name, name)) return h[i].value;
  return (str_t){(const uint8_t *)"", 0};
}

static uint32_t number(str_t query, const char *key) {  /* key=N in the query */
  str_t k = cstr(key);
  uint32_t v = 0;
  for (uint32_t i = 0; i + k.len < query.len; i++) {
    if ((i == 0 || query.ptr[i - 1] == '&') && same((str_t){query.ptr + i, k.len}, key)
        && query.ptr[i + k.len] == '=') {
      for (uint32_t j = i + k.len + 1; j < query.len && query.ptr[j] >= '0' &&
           query.ptr[j] <= '9'; j++) v = v * 10 + (query.ptr[j] - '0');
      return v;
    }
  }
  return 0;
}

static response_t ret;

static header_t *one_header(const char *name, const char *value) {
  header_t *h = cabi_realloc(NULL, 0, 4, sizeof *h);
  h->name = cstr(name);
  h->value = cstr(value);
  return h;
}

static void hello(str_t method, str_t path, str_t query, header_t *h, uint32_t nh) {
  text_t t = {0};
  add(&t, cstr("hello from a component: "));
  add(&t, method); add(&t, cstr(" ")); add(&t, path);
  add(&t, cstr(" query=")); add(&t, query);
  add(&t, cstr(" ua=")); add(&t, find(h, nh, "user-agent"));
  ret = (response_t){200, 0, one_header("content-type", "text/plain"), 1, t.ptr, t.len};
}

/* Every x-* request header back as echo-x-*, and the body as it came. */
static void echo(header_t *h, uint32_t nh, uint8_t *body, uint32_t body_len) {
  header_t *out = cabi_realloc(NULL, 0, 4, (nh + 1) * sizeof *out);
  uint32_t n = 0;
  out[n++] = (header_t){cstr("content-type"), cstr("application/octet-stream")};
  for (uint32_t i = 0; i < nh; i++) {
    if (!starts(h[i].name, "x-")) continue;
    text_t name = {0};
    add(&name, cstr("echo-"));
    add(&name, h[i].name);
    out[n++] = (header_t){{name.ptr, name.len}, h[i].value};
  }
  ret = (response_t){200, 0, out, n, body, body_len};
}

static void spin(uint32_t millions) {
  volatile uint32_t x = 0;
  for (uint32_t i = 0; i < millions; i++)
    for (uint32_t j = 0; j < 1000000u; j++) x += j;
}

__attribute__((export_name("nanonet:http/handler@0.1.0#handle")))
response_t *handle(const uint8_t *m, uint32_t m_len, const uint8_t *p, uint32_t p_len,
                   const uint8_t *q, uint32_t q_len, header_t *h, uint32_t nh,
                   uint8_t *body, uint32_t body_len) {
  str_t method = {m, m_len}, path = {p, p_len}, query = {q, q_len};
  if (same(path, "/w/trap")) __builtin_trap();
  if (same(path, "/w/spin")) spin(number(query, "n"));
  if (same(path, "/w/echo")) echo(h, nh, body, body_len);
  else if (starts(path, "/w/hello") || same(path, "/w/spin")) hello(method, path, query, h, nh);
  else ret = (response_t){404, 0, one_header("content-type", "text/plain"), 1,
                          (uint8_t *)"not found", 9};
  return &ret;
}

__attribute__((export_name("cabi_post_nanonet:http/handler@0.1.0#handle")))
void post_handle(response_t *r) { (void)r; heap_top = (uintptr_t)&__heap_base; }
