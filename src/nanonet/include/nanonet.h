/*
 * nanonet.h: the guest ABI of nanonet, for C guests (see docs/abi.md).
 *
 * Freestanding: needs only the compiler's own <stdint.h> and <stddef.h>.
 * Every function here is an import from the "nanonet" module, provided by
 * the tunnel adapter the host links into the service's store; a tunnel is
 * named in the service's manifest and reached through a small integer handle.
 *
 * Build with nanonet.build (zig cc, wasm32-freestanding):
 *     from nanonet.build import build
 *     wasm = build("guest.c")                    # exports its memory
 *     wasm = build("guest.c", memory="import")   # imports env.memory
 */
#ifndef NANONET_H
#define NANONET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes: every call returns >= 0 on success ------------------- */
#define NN_OK 0
#define NN_CLOSED (-1)     /* closed; a reader sees it only once drained     */
#define NN_AGAIN (-2)      /* try_* only: full (send) or empty (recv)        */
#define NN_TOO_BIG (-3)    /* larger than the tunnel's max payload           */
#define NN_CORRUPT (-4)    /* the ring failed a check and is quarantined     */
#define NN_BAD_HANDLE (-5) /* unknown name/handle, or the wrong direction    */
#define NN_TRUNCATED (-6)  /* buffer too small; the message stays queued     */
#define NN_BROKEN (-7)     /* the other end is gone for good; after draining */
#define NN_YIELD (-8)      /* the host asks run to return (hot upgrade)      */
#define NN_TIMEOUT (-9)    /* a port call's deadline passed; no reply        */

#define NN_IMPORT(name) __attribute__((import_module("nanonet"), import_name(name)))
/* Export a function under a fixed name, e.g. NN_EXPORT("configure"). */
#define NN_EXPORT(name) __attribute__((export_name(name)))

/* ---- tunnels -------------------------------------------------------------- */
/* The handle (>= 0) of the tunnel end this service holds, or NN_BAD_HANDLE. */
NN_IMPORT("tunnel") int32_t nn_tunnel(const char *name, size_t name_len);
/* Close the tunnel for both ends; the reader still drains, then gets NN_CLOSED. */
NN_IMPORT("close") int32_t nn_close(int32_t h);
/* Give back the slots of what the last receive on h returned (read ends).
 * Receiving is two-phase: the next receive, a park and a normal return commit
 * too; a service that traps before committing gets those messages again. */
NN_IMPORT("commit") int32_t nn_commit(int32_t h);

/* ---- one message at a time ------------------------------------------------ */
/* Send len bytes; blocks while the ring is full. 0 or a negative status. */
NN_IMPORT("send") int32_t nn_send(int32_t h, const void *ptr, size_t len);
NN_IMPORT("try_send") int32_t nn_try_send(int32_t h, const void *ptr, size_t len);
/* Receive into buf; blocks while empty. The message length, or a status. */
NN_IMPORT("recv") int32_t nn_recv(int32_t h, void *buf, size_t cap);
NN_IMPORT("try_recv") int32_t nn_try_recv(int32_t h, void *buf, size_t cap);
/* Zero-copy receive, for a guest that maps the ring with a raw grant: the
 * message stays in its slot until committed; *offset gets its payload's byte
 * offset in the ring memory (import "nanonet:raw" "<tunnel>"). The length,
 * or a status. Plain C cannot address a second memory: use WAT or a
 * toolchain with multi-memory support to read it. See docs/abi.md. */
NN_IMPORT("recv_raw") int32_t nn_recv_raw(int32_t h, uint32_t *offset);
NN_IMPORT("try_recv_raw") int32_t nn_try_recv_raw(int32_t h, uint32_t *offset);
/* A subscriber of a pub-sub tunnel: how many messages it has missed (a lossy
 * subscriber the writer lapped; always 0 for a blocking one), saturating at
 * INT32_MAX. Offered only to a service holding a subscriber end. */
NN_IMPORT("missed") int32_t nn_missed(int32_t h);

/* ---- batches of records: [len u32][payload padded to 4 bytes] ------------- */
/* Send count records laid out at ptr; blocks until all are sent.
 * Returns how many were sent, or a negative status if none was. */
NN_IMPORT("send_batch") int32_t nn_send_batch(int32_t h, const void *ptr, uint32_t count);
/* Send what fits now: how many, or NN_AGAIN if none fits. */
NN_IMPORT("try_send_batch") int32_t nn_try_send_batch(int32_t h, const void *ptr, uint32_t count);
/* Receive up to max records into cap bytes at buf; blocks until >= 1. */
NN_IMPORT("recv_batch") int32_t nn_recv_batch(int32_t h, void *buf, size_t cap, uint32_t max);
/* As recv_batch, but returns 0 at once when the ring is empty. */
NN_IMPORT("try_recv_batch")
int32_t nn_try_recv_batch(int32_t h, void *buf, size_t cap, uint32_t max);

/* ---- request/reply ports (docs/abi.md, "Ports") --------------------------- */
/* A call token: the runtime's call id (high 32 bits) and mailbox (low 32). */
typedef uint64_t nn_call_t;
/* The handle (>= 0) of a port this service serves or calls, or NN_BAD_HANDLE. */
NN_IMPORT("port") int32_t nn_port(const char *name, size_t name_len);
/* Call port h: send len bytes, wait up to timeout_ms (< 0: no deadline) for
 * the reply, written into buf. The reply's length, or NN_TIMEOUT (the call is
 * abandoned: a late reply is dropped), NN_TRUNCATED (the reply did not fit
 * cap; it is dropped), NN_TOO_BIG, NN_BROKEN (the server is gone for good),
 * NN_CLOSED, NN_CORRUPT. */
NN_IMPORT("call")
int32_t nn_call(int32_t h, const void *req, size_t len, void *buf, size_t cap,
                int32_t timeout_ms);
/* Serve port h: take the next request (round robin over the callers) into
 * buf; blocks until one is posted. Its length, with *call set for the reply;
 * NN_TRUNCATED if it does not fit cap (it stays posted), NN_CLOSED at stop,
 * NN_YIELD (nothing taken) when a hot upgrade asks the server to return. */
NN_IMPORT("serve_recv") int32_t nn_serve_recv(int32_t h, void *buf, size_t cap, nn_call_t *call);
/* As serve_recv, but NN_AGAIN at once when nothing is posted. */
NN_IMPORT("try_serve_recv")
int32_t nn_try_serve_recv(int32_t h, void *buf, size_t cap, nn_call_t *call);
/* Answer call with len bytes: 0 (also when its caller gave up: the reply is
 * dropped), NN_TOO_BIG, or NN_BAD_HANDLE for a token no serve_recv gave. */
NN_IMPORT("serve_reply")
int32_t nn_serve_reply(int32_t h, nn_call_t call, const void *ptr, size_t len);

/* The handle of a port named by a string literal: NN_PORT("auth"). */
#define NN_PORT(literal) nn_port("" literal, sizeof(literal) - 1)

/* ---- waiting on many ends at once ------------------------------------------ */
/* Block until one of the count (1 to NN_WAIT_MAX) ends in handles is ready: a
 * read end with a message (or ended: closed, broken, corrupt), a write end
 * with a free slot (or ended). Returns the mask of the ready ones (bit i for
 * handles[i]), NN_AGAIN once timeout_ms passed with none (0: look once, -1:
 * wait for ever), NN_YIELD if the host asks the service to return, NN_BAD_HANDLE.
 * One park for all of them: idle costs no CPU. Commits the read ends' last
 * receives, as a park does. See docs/abi.md, "Waiting on many ends". */
NN_IMPORT("wait_any")
int32_t nn_wait_any(const int32_t *handles, uint32_t count, int32_t timeout_ms);
#define NN_WAIT_MAX 31
#define NN_FOREVER (-1)
/* Whether bit i of a wait_any mask is set: handles[i] is ready. */
#define NN_READY(mask, i) (((uint32_t)(mask) >> (i)) & 1u)

/* The handle of a tunnel named by a string literal: NN_TUNNEL("raw"). */
#define NN_TUNNEL(literal) nn_tunnel("" literal, sizeof(literal) - 1)

/* Bytes one record of a payload of len bytes takes in a batch buffer. */
static inline uint32_t nn_record_size(uint32_t len) {
    return 4u + ((len + 3u) & ~3u);
}

/* The payload length of the record at rec. */
static inline uint32_t nn_record_len(const void *rec) {
    return *(const uint32_t *)rec;
}

/* The payload of the record at rec. */
static inline void *nn_record_data(const void *rec) {
    return (uint8_t *)rec + 4;
}

/* The record after the one at rec. */
static inline void *nn_record_next(const void *rec) {
    return (uint8_t *)rec + nn_record_size(nn_record_len(rec));
}

/* Write one record at at; returns where the next one goes. */
static inline void *nn_record_put(void *at, const void *data, uint32_t len) {
    *(uint32_t *)at = len;
    __builtin_memcpy((uint8_t *)at + 4, data, len);
    return (uint8_t *)at + nn_record_size(len);
}

/* ---- the clock (needs grants=["clock"]) ------------------------------------ */
#define NN_CLOCK_REALTIME 0
#define NN_CLOCK_MONOTONIC 1

__attribute__((import_module("wasi_snapshot_preview1"), import_name("clock_time_get")))
int32_t nn_wasi_clock_time_get(uint32_t clock_id, uint64_t precision, uint64_t *time_ns);

static inline uint64_t nn_clock_ns(uint32_t clock_id) {
    uint64_t t = 0;
    nn_wasi_clock_time_get(clock_id, 1, &t);
    return t;
}

/* Monotonic nanoseconds, for intervals within one service: each service's
 * monotonic clock starts near 0 when the service is loaded, so two services'
 * readings cannot be compared. */
static inline uint64_t nn_monotonic_ns(void) { return nn_clock_ns(NN_CLOCK_MONOTONIC); }

/* Wall-clock nanoseconds since 1970: the same time base in every service of a
 * process (and across machines, to the accuracy of their clock sync). */
static inline uint64_t nn_realtime_ns(void) { return nn_clock_ns(NN_CLOCK_REALTIME); }

/* ---- HTTP ingress (docs/http.md): the request and reply forms ------------- */
/* A port routed by [[http]] receives one request form per HTTP request and
 * answers one reply form. These helpers read and write them in place. */
typedef struct {
    const uint8_t *ptr;
    uint32_t len;
} nn_bytes_t;

typedef struct {
    nn_bytes_t method, path, query, body; /* path and query as sent, not decoded */
    const uint8_t *fields;                /* header_count × (u16, u16, name, value) */
    uint32_t header_count;                /* names are lowercase */
    int more;                             /* a stream route: body-part calls follow */
} nn_http_request_t;

static inline uint32_t nn_le16(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8; }
static inline uint32_t nn_le32(const uint8_t *p) { return nn_le16(p) | nn_le16(p + 2) << 16; }

/* Parse the n-byte request form at buf into req (its fields point into buf):
 * NN_OK, or NN_CORRUPT if its version or lengths do not fit n. */
static inline int32_t nn_http_parse(const void *buf, uint32_t n, nn_http_request_t *req) {
    const uint8_t *b = (const uint8_t *)buf, *at = b + 12, *end = b + n;
    if (n < 12 || (b[0] & 0x7f) != 1) return NN_CORRUPT;
    req->more = b[0] >> 7;
    req->method = (nn_bytes_t){at, b[1]};
    req->path = (nn_bytes_t){at + b[1], nn_le16(b + 2)};
    req->query = (nn_bytes_t){req->path.ptr + req->path.len, nn_le16(b + 4)};
    req->header_count = nn_le16(b + 6);
    req->fields = at = req->query.ptr + req->query.len;
    if (at > end) return NN_CORRUPT;
    for (uint32_t i = 0; i < req->header_count; i++) {
        if (end - at < 4) return NN_CORRUPT;
        uint32_t size = 4 + nn_le16(at) + nn_le16(at + 2);
        if ((uint32_t)(end - at) < size) return NN_CORRUPT;
        at += size;
    }
    req->body = (nn_bytes_t){at, nn_le32(b + 8)};
    return req->body.len == (uint32_t)(end - at) ? NN_OK : NN_CORRUPT;
}

/* The value of header `name` (lowercase, NUL-terminated); {0, 0} if absent. */
static inline nn_bytes_t nn_http_header(const nn_http_request_t *req, const char *name) {
    const uint8_t *at = req->fields;
    for (uint32_t i = 0; i < req->header_count; i++) {
        uint32_t nl = nn_le16(at), vl = nn_le16(at + 2), k = 0;
        while (k < nl && name[k] == (char)at[4 + k]) k++;
        if (k == nl && name[k] == 0) return (nn_bytes_t){at + 4 + nl, vl};
        at += 4 + nl + vl;
    }
    return (nn_bytes_t){0, 0};
}

/* Whether a field (the path, say) starts with the NUL-terminated prefix. */
static inline int nn_bytes_starts(nn_bytes_t b, const char *prefix) {
    uint32_t k = 0;
    while (prefix[k] && k < b.len && (char)b.ptr[k] == prefix[k]) k++;
    return prefix[k] == 0;
}

/* A reply form being written into buf: status, then headers, then the body. */
typedef struct {
    uint8_t *buf;
    uint32_t cap, len;
    int body, bad; /* the body has begun; something did not fit (or came late) */
} nn_http_reply_t;

static inline void nn_http_reply_start(nn_http_reply_t *r, void *buf, uint32_t cap,
                                       uint32_t status) {
    *r = (nn_http_reply_t){(uint8_t *)buf, cap, 4, 0, cap < 4};
    if (!r->bad) {
        r->buf[0] = (uint8_t)status, r->buf[1] = (uint8_t)(status >> 8);
        r->buf[2] = r->buf[3] = 0;
    }
}

static inline void nn_http_put(nn_http_reply_t *r, const void *p, uint32_t n) {
    if (r->bad || r->cap - r->len < n) { r->bad = 1; return; }
    __builtin_memcpy(r->buf + r->len, p, n);
    r->len += n;
}

static inline uint32_t nn_strlen(const char *s) {
    uint32_t n = 0;
    while (s[n]) n++;
    return n;
}

/* Add a header (before any body); Content-Length and Connection are the host's. */
static inline void nn_http_reply_header(nn_http_reply_t *r, const char *name, const char *value) {
    uint32_t nl = nn_strlen(name), vl = nn_strlen(value);
    uint8_t lens[4] = {(uint8_t)nl, (uint8_t)(nl >> 8), (uint8_t)vl, (uint8_t)(vl >> 8)};
    if (r->body) r->bad = 1;
    nn_http_put(r, lens, 4);
    nn_http_put(r, name, nl);
    nn_http_put(r, value, vl);
    if (!r->bad) {
        uint32_t count = nn_le16(r->buf + 2) + 1;
        r->buf[2] = (uint8_t)count, r->buf[3] = (uint8_t)(count >> 8);
    }
}

/* Append body bytes; nn_http_reply_text appends a NUL-terminated string. */
static inline void nn_http_reply_body(nn_http_reply_t *r, const void *p, uint32_t n) {
    r->body = 1;
    nn_http_put(r, p, n);
}
static inline void nn_http_reply_text(nn_http_reply_t *r, const char *s) {
    nn_http_reply_body(r, s, nn_strlen(s));
}

/* The reply's length, for nn_serve_reply; NN_TOO_BIG if it did not fit cap. */
static inline int32_t nn_http_reply_len(const nn_http_reply_t *r) {
    return r->bad ? NN_TOO_BIG : (int32_t)r->len;
}

/* ---- streamed bodies on a [[http]] stream = true route (docs/http.md) ------ */
/* After a request form whose .more is set, the same mailbox (the low 32 bits
 * of nn_call_t) gets body parts; after a reply made more with
 * nn_http_reply_more, it gets NN_HTTP_NEXT calls; a request cut short ends
 * with NN_HTTP_ABORT. nn_http_kind tells them from a request form (-1). */
#define NN_HTTP_BODY 0x10     /* a body part; more follow: answer nn_http_continue */
#define NN_HTTP_BODY_END 0x11 /* the last body part: answer the reply form */
#define NN_HTTP_NEXT 0x12     /* the next response part, please: answer nn_http_part */
#define NN_HTTP_ABORT 0x13    /* the client is gone: drop this mailbox's state, answer anything */

static inline int32_t nn_http_kind(const void *buf, uint32_t n) {
    const uint8_t *b = (const uint8_t *)buf;
    return n >= 1 && b[0] >= NN_HTTP_BODY && b[0] <= NN_HTTP_ABORT ? b[0] : -1;
}

/* A body part's bytes (after its kind byte). */
static inline nn_bytes_t nn_http_part_bytes(const void *buf, uint32_t n) {
    return n ? (nn_bytes_t){(const uint8_t *)buf + 1, n - 1} : (nn_bytes_t){0, 0};
}

/* The "continue" reply (status 100) that takes the next body part: 4 bytes. */
static inline int32_t nn_http_continue(void *buf) {
    uint8_t *b = (uint8_t *)buf;
    b[0] = 100, b[1] = b[2] = b[3] = 0;
    return 4;
}

/* Flag a reply form: more response parts follow its body (NN_HTTP_NEXT asks). */
static inline void nn_http_reply_more(nn_http_reply_t *r) {
    if (!r->bad) r->buf[1] |= 0x80;
}

/* The answer to NN_HTTP_NEXT at buf: a flag (1: more follow, 0: the last), then
 * the part's n bytes are the caller's to write at buf + 1. Its length. */
static inline int32_t nn_http_part(void *buf, int more, uint32_t n) {
    ((uint8_t *)buf)[0] = more ? 1 : 0;
    return (int32_t)(n + 1);
}

#ifdef __cplusplus
}
#endif

#endif /* NANONET_H */
