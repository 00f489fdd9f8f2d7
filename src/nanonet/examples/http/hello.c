/* An HTTP service in C: it serves port "capi" (docs/http.md) with
 * nanonet.h's request and reply helpers. GET /c/NAME answers 200 text/plain
 * "hello from c: /c/NAME #N (user-agent)", N counting the requests it
 * answered; any other path answers 404. */
#include "nanonet.h"

static uint8_t req[4096], rep[4096];
static uint32_t answered;

static void put_number(nn_http_reply_t *r, uint32_t v) {
    char digits[10];
    int n = 0;
    do digits[n++] = (char)('0' + v % 10); while (v /= 10);
    while (n) nn_http_reply_body(r, &digits[--n], 1);
}

static int32_t answer(uint32_t n) {
    nn_http_request_t q;
    nn_http_reply_t r;
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
        int32_t len = answer((uint32_t)n);
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
