/*
 * aggregate: per-sensor count, sum, min and max of the readings on
 * "filtered", and a histogram of their end-to-end latency: from the reading's
 * timestamp to its batch's arrival here, both on the realtime clock (each
 * service's monotonic clock has its own zero). When "filtered" closes, it
 * writes one summary message to "summary" and closes that.
 * Exports its memory (the toolchain default).
 */
#include <nanonet.h>

#include "reading.h"

/* log-linear latency buckets: 16 per power of two, within 1/16 */
#define SUB_BITS 4
#define SUB (1u << SUB_BITS)
#define BUCKETS ((32u - SUB_BITS + 1u) * SUB)

static summary_sensor_t stats[MAX_SENSORS];
static uint32_t hist[BUCKETS];
static uint64_t readings, samples;
static uint32_t sensors_seen, max_ns;
static uint8_t inbox[64 * 1024];
static uint8_t outbox[sizeof(summary_head_t) + MAX_SENSORS * sizeof(summary_sensor_t)];

static uint32_t bucket_of(uint32_t v) {
    if (v < SUB) return v;
    uint32_t e = 31u - (uint32_t)__builtin_clz(v);
    return (e - SUB_BITS + 1u) * SUB + ((v >> (e - SUB_BITS)) & (SUB - 1u));
}

/* The middle of bucket b, as a latency in ns. */
static uint32_t bucket_mid(uint32_t b) {
    if (b < SUB) return b;
    uint32_t e = b / SUB + SUB_BITS - 1u;
    uint32_t low = (SUB + b % SUB) << (e - SUB_BITS);
    return low + ((1u << (e - SUB_BITS)) >> 1);
}

static uint32_t percentile(uint32_t pct) {
    uint64_t rank = (samples * pct + 99u) / 100u, seen = 0;
    for (uint32_t b = 0; b < BUCKETS; b++) {
        seen += hist[b];
        if (seen >= rank && rank) return bucket_mid(b);
    }
    return 0;
}

static void take(const reading_t *r, uint64_t now) {
    readings++;
    uint64_t lat = now > r->t_ns ? now - r->t_ns : 0;
    uint32_t ns = lat > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)lat;
    hist[bucket_of(ns)]++;
    samples++;
    if (ns > max_ns) max_ns = ns;
    if (r->sensor >= MAX_SENSORS) return;
    summary_sensor_t *s = &stats[r->sensor];
    if (s->count == 0 || r->value < s->min) s->min = r->value;
    if (s->count == 0 || r->value > s->max) s->max = r->value;
    s->count++;
    s->sum += r->value;
    if (r->sensor >= sensors_seen) sensors_seen = r->sensor + 1;
}

static int32_t send_summary(void) {
    summary_head_t head = {SUMMARY_MAGIC, sensors_seen, readings, percentile(50),
                           percentile(99), max_ns, (uint32_t)samples};
    uint32_t size = sizeof head + sensors_seen * sizeof(summary_sensor_t);
    __builtin_memcpy(outbox, &head, sizeof head);
    __builtin_memcpy(outbox + sizeof head, stats, size - sizeof head);
    int32_t out = NN_TUNNEL("summary");
    if (out < 0) return out;
    int32_t r = nn_send(out, outbox, size);
    nn_close(out);
    return r;
}

int run(void) {
    int32_t in = NN_TUNNEL("filtered");
    if (in < 0) return in;
    for (;;) {
        int32_t n = nn_recv_batch(in, inbox, sizeof inbox, 1024);
        if (n == NN_CLOSED) return send_summary();
        if (n < 0) return n;
        uint64_t now = nn_realtime_ns();
        const uint8_t *rec = inbox;
        for (int32_t i = 0; i < n; i++, rec = nn_record_next(rec)) {
            if (nn_record_len(rec) < sizeof(reading_t)) continue;
            reading_t r;  /* records are 4-aligned; a reading wants 8 */
            __builtin_memcpy(&r, nn_record_data(rec), sizeof r);
            take(&r, now);
        }
    }
}
