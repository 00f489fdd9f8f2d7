/*
 * reading.h: the telemetry example's message formats, shared by its guests.
 * src/nanonet/demo.py packs and unpacks the same layouts with struct.
 */
#ifndef TELEMETRY_READING_H
#define TELEMETRY_READING_H

#include <stdint.h>

/* One sensor reading on "raw" and "filtered": 24 bytes, little-endian. */
typedef struct {
    uint32_t sensor;  /* 0 .. sensors-1                                    */
    uint32_t seq;     /* 0, 1, 2, ... in the order ingress produced them   */
    int32_t value;    /* tenths of a degree; filter keeps [lo, hi]         */
    uint32_t reserved;
    uint64_t t_ns;    /* realtime clock when ingress made the reading      */
} reading_t;

/* The deterministic generator: one LCG step per reading. */
static inline uint32_t reading_step(uint32_t state) {
    return state * 1664525u + 1013904223u;
}

static inline uint32_t reading_sensor(uint32_t state, uint32_t sensors) {
    return (state >> 24) % sensors;
}

static inline int32_t reading_value(uint32_t state) {
    return (int32_t)(((state >> 8) & 0xFFFFu) % 2000u) - 500;
}

#define SUMMARY_MAGIC 0x4D4D5553u /* "SUMM" */
#define MAX_SENSORS 32

/* The one message on "summary": this header, then one entry per sensor. */
typedef struct {
    uint32_t magic;
    uint32_t sensors;    /* entries that follow: highest sensor id seen + 1 */
    uint64_t readings;   /* readings aggregate received                     */
    uint32_t p50_ns;     /* end-to-end latency, ingress clock to aggregate  */
    uint32_t p99_ns;
    uint32_t max_ns;
    uint32_t samples;    /* latency samples behind the percentiles          */
} summary_head_t;

typedef struct {
    int64_t sum;
    uint32_t count;
    int32_t min;
    int32_t max;
    uint32_t reserved;
} summary_sensor_t;

#endif
