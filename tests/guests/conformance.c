/*
 * The guest ABI seen from C: every call and status code of docs/abi.md.
 * Returns 0 if every check passed, else the number of the first failed
 * check (the export "status" holds the value that check saw).
 *
 * Tunnels: "out" (this guest writes; SLOTS slots of MAX_PAYLOAD bytes),
 * "in" (this guest reads) and "sync" (this guest writes). The host reads
 * "sync" before it touches "out" or "in", so phase 1 sees them untouched.
 */
#include <nanonet.h>

#ifndef SLOTS
#define SLOTS 4
#endif
#ifndef MAX_PAYLOAD
#define MAX_PAYLOAD 32
#endif

static int32_t status;
static uint8_t msg[MAX_PAYLOAD + 8];
static uint8_t buf[256];
static uint8_t recs[2 * (4 + MAX_PAYLOAD + 8)];

NN_EXPORT("status") int32_t get_status(void) { return status; }

#define EXPECT(step, value, want)                        \
    do {                                                  \
        status = (value);                                 \
        if (status != (want)) return (step);              \
    } while (0)

static int32_t handles(int32_t out, int32_t in) {
    EXPECT(1, out >= 0 && in >= 0 && out != in, 1);
    EXPECT(2, NN_TUNNEL("nope"), NN_BAD_HANDLE);
    EXPECT(3, nn_send(99, msg, 4), NN_BAD_HANDLE);
    EXPECT(4, nn_send(in, msg, 4), NN_BAD_HANDLE);          /* wrong direction */
    EXPECT(5, nn_recv(out, buf, sizeof buf), NN_BAD_HANDLE);
    EXPECT(6, nn_close(-1), NN_BAD_HANDLE);
    return 0;
}

static int32_t empty_and_big(int32_t out, int32_t in) {
    EXPECT(10, nn_try_recv(in, buf, sizeof buf), NN_AGAIN);
    EXPECT(11, nn_try_recv_batch(in, buf, sizeof buf, 8), 0);
    EXPECT(12, nn_send(out, msg, MAX_PAYLOAD + 1), NN_TOO_BIG);
    EXPECT(13, nn_try_send(out, msg, MAX_PAYLOAD + 1), NN_TOO_BIG);
    nn_record_put(recs, msg, MAX_PAYLOAD + 1);
    EXPECT(14, nn_send_batch(out, recs, 1), NN_TOO_BIG);
    return 0;
}

/* Fill "out" with messages 0 .. SLOTS-1, the last one through a batch. */
static int32_t fill(int32_t out) {
    for (uint8_t i = 0; i < SLOTS - 1; i++) {
        msg[0] = i;
        EXPECT(20, nn_try_send(out, msg, 4), NN_OK);
    }
    msg[0] = SLOTS - 1;
    void *next = nn_record_put(recs, msg, 4);
    msg[0] = 99;
    nn_record_put(next, msg, 4);
    EXPECT(21, nn_try_send_batch(out, recs, 2), 1);         /* only one fits */
    EXPECT(22, nn_try_send(out, msg, 4), NN_AGAIN);
    EXPECT(23, nn_try_send_batch(out, recs, 1), NN_AGAIN);
    return 0;
}

static int32_t same(const uint8_t *a, const char *b, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        if (a[i] != (uint8_t)b[i]) return 0;
    return 1;
}

/* The host sends "hello", "ab", "cdefg" in one publish, then closes "in". */
static int32_t receive(int32_t in) {
    EXPECT(30, nn_recv(in, buf, 2), NN_TRUNCATED);          /* the message stays */
    EXPECT(31, nn_recv(in, buf, sizeof buf), 5);
    EXPECT(32, same(buf, "hello", 5), 1);
    EXPECT(33, nn_recv_batch(in, buf, sizeof buf, 8), 2);
    EXPECT(34, (int32_t)nn_record_len(buf), 2);
    EXPECT(35, same(nn_record_data(buf), "ab", 2), 1);
    const uint8_t *second = nn_record_next(buf);
    EXPECT(36, (int32_t)(second - buf), 8);                 /* 4 + "ab" padded to 4 */
    EXPECT(37, (int32_t)nn_record_len(second), 5);
    EXPECT(38, same(nn_record_data(second), "cdefg", 5), 1);
    EXPECT(39, nn_recv(in, buf, sizeof buf), NN_CLOSED);    /* closed and drained */
    EXPECT(40, nn_try_recv(in, buf, sizeof buf), NN_CLOSED);
    EXPECT(41, nn_recv_batch(in, buf, sizeof buf, 8), NN_CLOSED);
    return 0;
}

static int32_t finish(int32_t out) {
    EXPECT(50, nn_send(out, "last", 4), NN_OK);              /* the host drained "out" */
    EXPECT(51, nn_close(out), NN_OK);
    EXPECT(52, nn_send(out, msg, 4), NN_CLOSED);
    EXPECT(53, nn_try_send(out, msg, 4), NN_CLOSED);
    EXPECT(54, nn_send_batch(out, recs, 1), NN_CLOSED);
    EXPECT(55, nn_try_send_batch(out, recs, 1), NN_CLOSED);
    return 0;
}

int run(void) {
    int32_t out = NN_TUNNEL("out"), in = NN_TUNNEL("in"), sync = NN_TUNNEL("sync");
    int32_t failed = handles(out, in);
    if (!failed) failed = empty_and_big(out, in);
    if (!failed) failed = fill(out);
    if (failed) return failed;
    EXPECT(24, nn_send(sync, "1", 1), NN_OK);                /* phase 1 done */
    failed = receive(in);
    return failed ? failed : finish(out);
}
