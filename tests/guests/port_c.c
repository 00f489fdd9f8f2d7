/* A port server and a port client from nanonet.h's helpers, in one file:
 * built with -DSERVER it serves "rpc" (reply = 'C' + request), else it
 * calls "rpc" COUNT times and returns the number of bad replies (or the
 * first unexpected status). */
#include "nanonet.h"

static unsigned char req[300], rep[300];

#ifdef SERVER
NN_EXPORT("run") int32_t run(void) {
    int32_t h = NN_PORT("rpc");
    if (h < 0) return h;
    nn_call_t call;
    for (;;) {
        int32_t n = nn_serve_recv(h, req + 1, sizeof req - 1, &call);
        if (n == NN_CLOSED) return 0;
        if (n < 0) return n;
        req[0] = 'C';
        int32_t r = nn_serve_reply(h, call, req, (size_t)n + 1);
        if (r < 0) return r;
    }
}
#else
NN_EXPORT("run") int32_t run(void) {
    int32_t h = NN_PORT("rpc"), bad = 0;
    if (h < 0) return h;
    for (uint32_t i = 0; i < COUNT; i++) {
        uint32_t len = 4 + i % 200;
        for (uint32_t k = 0; k < len; k++) req[k] = (unsigned char)(i + k);
        int32_t n = nn_call(h, req, len, rep, sizeof rep, 10000);
        if (n < 0) return n;
        if ((uint32_t)n != len + 1 || rep[0] != 'C') { bad++; continue; }
        for (uint32_t k = 0; k < len; k++) bad += rep[k + 1] != req[k];
    }
    /* a call too big for the port, and a token no serve_recv gave: statuses */
    if (nn_call(h, req, 1000, rep, sizeof rep, 10) != NN_TOO_BIG) return -100;
    if (nn_call(NN_PORT("nope"), req, 1, rep, sizeof rep, 10) != NN_BAD_HANDLE) return -101;
    return bad;
}
#endif
