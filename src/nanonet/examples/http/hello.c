/* An HTTP service in C: it serves port "capi" (docs/http.md) with
 * nanonet.h's request and reply helpers. GET /c/NAME answers 200 text/plain
 * "hello from c: /c/NAME #N (user-agent)", N counting the requests it
 * answered; any other path answers 404. On a stream route, POST /c/upload
 * answers "bytes=N fnv1a=HHHHHHHH" for a body of any size (with ?max=M, a
 * 413 as soon as more than M bytes came: the rest is never read), and
 * GET /c/download?n=N streams N bytes, byte i being i % 251. */
#include "nanonet.h"

static uint8_t req[65536], rep[65536];
/* A response part's bytes: its reply (1 + PART bytes) must fit the port's
 * max_payload, 4096 in nanonet.toml. */
#define PART 4095
static uint32_t answered;

/* What a mailbox is streaming: calls of different mailboxes interleave. */
enum { IDLE, UPLOAD, DOWNLOAD };
typedef struct {
    uint32_t box, mode;
    uint64_t count, left;
    uint32_t hash;
} stream_t;
static stream_t streams[64];

static stream_t *stream_of(nn_call_t call) {
    uint32_t box = (uint32_t)call;
    stream_t *s = &streams[box % 64];
    if (s->box != box) *s = (stream_t){box, IDLE, 0, 0, 0};
    return s;
}

static void put_number(nn_http_reply_t *r, uint32_t v) {
    char digits[10];
    int n = 0;
    do digits[n++] = (char)('0' + v % 10); while (v /= 10);
    while (n) nn_http_reply_body(r, &digits[--n], 1);
}

static void hex32(nn_http_reply_t *r, uint32_t v) {
    for (int i = 28; i >= 0; i -= 4) nn_http_reply_body(r, &"0123456789abcdef"[(v >> i) & 15], 1);
}

static void upload_take(stream_t *s, nn_bytes_t b) {
    for (uint32_t i = 0; i < b.len; i++) s->hash = (s->hash ^ b.ptr[i]) * 16777619u;
    s->count += b.len;
}

static int32_t upload_done(stream_t *s) {
    nn_http_reply_t r;
    nn_http_reply_start(&r, rep, sizeof rep, 200);
    nn_http_reply_header(&r, "content-type", "text/plain");
    nn_http_reply_text(&r, "bytes=");
    put_number(&r, (uint32_t)s->count);
    nn_http_reply_text(&r, " fnv1a=");
    hex32(&r, s->hash);
    nn_http_reply_text(&r, "\n");
    s->mode = IDLE;
    return nn_http_reply_len(&r);
}

/* The download's next bytes at out (up to cap); how many. */
static uint32_t download_fill(stream_t *s, uint8_t *out, uint32_t cap) {
    uint32_t k = s->left < cap ? (uint32_t)s->left : cap;
    for (uint32_t i = 0; i < k; i++) out[i] = (uint8_t)((s->count + i) % 251);
    s->count += k, s->left -= k;
    return k;
}

/* The number after key (e.g. "n=") at the start of the query; 0 if absent. */
static uint64_t query_number(nn_bytes_t q, const char *key) {
    uint64_t v = 0;
    uint32_t i = nn_strlen(key);
    if (!nn_bytes_starts(q, key)) return 0;
    for (; i < q.len && q.ptr[i] >= '0' && q.ptr[i] <= '9'; i++) v = v * 10 + (q.ptr[i] - '0');
    return v;
}

/* The answer to a body part: continue, or an early 413 past the upload's max. */
static int32_t upload_more(stream_t *s) {
    if (!s->left || s->count <= s->left) return nn_http_continue(rep);
    nn_http_reply_t r;
    nn_http_reply_start(&r, rep, sizeof rep, 413);
    nn_http_reply_header(&r, "content-type", "text/plain");
    nn_http_reply_text(&r, "over max=");
    put_number(&r, (uint32_t)s->left);
    nn_http_reply_text(&r, " after ");
    put_number(&r, (uint32_t)s->count);
    nn_http_reply_text(&r, " bytes\n");
    s->mode = IDLE;
    return nn_http_reply_len(&r);
}

/* A request form for /c/upload or /c/download: start its stream. */
static int32_t stream_start(stream_t *s, nn_http_request_t *q) {
    *s = (stream_t){s->box, IDLE, 0, 0, 2166136261u};
    if (nn_bytes_starts(q->path, "/c/upload")) {
        upload_take(s, q->body);
        s->mode = UPLOAD;
        s->left = query_number(q->query, "max=");
        return q->more ? upload_more(s) : upload_done(s);
    }
    nn_http_reply_t r;
    nn_http_reply_start(&r, rep, sizeof rep, 200);
    nn_http_reply_header(&r, "content-type", "application/octet-stream");
    s->left = query_number(q->query, "n=");
    s->mode = DOWNLOAD;
    if (s->left) nn_http_reply_more(&r);
    else s->mode = IDLE;
    return nn_http_reply_len(&r);
}

/* A body part, a NEXT or an ABORT call on a mailbox that streams. */
static int32_t stream_step(stream_t *s, int32_t kind, uint32_t n) {
    if (kind == NN_HTTP_ABORT || s->mode == IDLE) {
        s->mode = IDLE;
        return 0;
    }
    if (kind == NN_HTTP_NEXT) {
        uint32_t k = download_fill(s, rep + 1, PART);
        if (!s->left) s->mode = IDLE;
        return nn_http_part(rep, s->left != 0, k);
    }
    upload_take(s, nn_http_part_bytes(req, n));
    return kind == NN_HTTP_BODY ? upload_more(s) : upload_done(s);
}

static int32_t answer(nn_call_t call, uint32_t n) {
    nn_http_request_t q;
    nn_http_reply_t r;
    stream_t *s = stream_of(call);
    int32_t kind = nn_http_kind(req, n);
    if (kind >= 0) return stream_step(s, kind, n);
    s->mode = IDLE;  /* a new request on this mailbox: any earlier stream is over */
    if (nn_http_parse(req, n, &q) == NN_OK &&
        (nn_bytes_starts(q.path, "/c/upload") || nn_bytes_starts(q.path, "/c/download")))
        return stream_start(s, &q);
    if (nn_http_parse(req, n, &q) != NN_OK) {
        nn_http_reply_start(&r, rep, sizeof rep, 400);
        nn_http_reply_text(&r, "not a request form\n");
        return nn_http_reply_len(&r);
    }
    int found = nn_bytes_starts(q.path, "/c/");
    nn_http_reply_start(&r, rep, sizeof rep, found ? 200 : 404);
    nn_http_reply_header(&r, "content-type", "text/plain");
    nn_http_reply_text(&r, found ? "hello from c: " : "not found: ");
    nn_http_reply_body(&r, q.path.ptr, q.path.len);
    if (found) {
        nn_bytes_t agent = nn_http_header(&q, "user-agent");
        nn_http_reply_text(&r, " #");
        put_number(&r, ++answered);
        nn_http_reply_text(&r, " (");
        nn_http_reply_body(&r, agent.ptr, agent.len);
        nn_http_reply_text(&r, ")");
    }
    nn_http_reply_text(&r, "\n");
    return nn_http_reply_len(&r);
}

NN_EXPORT("run") int32_t run(void) {
    int32_t h = NN_PORT("capi");
    if (h < 0) return h;
    nn_call_t call;
    for (;;) {
        int32_t n = nn_serve_recv(h, req, sizeof req, &call);
        if (n == NN_CLOSED) return 0;
        if (n < 0) return n;
        int32_t len = answer(call, (uint32_t)n);
        if (len < 0) {  /* too big for rep: a short 500 instead */
            nn_http_reply_t r;
            nn_http_reply_start(&r, rep, sizeof rep, 500);
            nn_http_reply_text(&r, "reply too big\n");
            len = nn_http_reply_len(&r);
        }
        int32_t sent = nn_serve_reply(h, call, rep, (size_t)len);
        if (sent < 0 && sent != NN_TOO_BIG) return sent;
    }
}
