/*
 * ingress: makes synthetic sensor readings and writes them to "raw" in
 * batches of records, then closes "raw". Imports its memory.
 * The host calls configure(count, sensors, seed) before the mesh starts.
 */
#include <nanonet.h>

#include "reading.h"

#define BATCH 64

static uint32_t count = 1000;
static uint32_t sensors = 8;
static uint32_t seed = 1;
static uint8_t batch[BATCH * (4 + sizeof(reading_t))];

NN_EXPORT("configure") void configure(uint32_t n, uint32_t s, uint32_t sd) {
    count = n;
    sensors = s ? s : 1;
    seed = sd;
}

/* Fill the batch buffer with up to BATCH readings from seq on; returns how many. */
static uint32_t fill(uint32_t seq, uint32_t *state) {
    uint32_t n = 0;
    uint8_t *at = batch;
    for (; n < BATCH && seq + n < count; n++) {
        *state = reading_step(*state);
        reading_t r = {
            .sensor = reading_sensor(*state, sensors),
            .seq = seq + n,
            .value = reading_value(*state),
            .t_ns = nn_realtime_ns(),
        };
        at = nn_record_put(at, &r, sizeof r);
    }
    return n;
}

int run(void) {
    int32_t raw = NN_TUNNEL("raw");
    if (raw < 0) return raw;
    uint32_t state = seed;
    for (uint32_t seq = 0; seq < count;) {
        uint32_t n = fill(seq, &state);
        int32_t sent = nn_send_batch(raw, batch, n);
        if (sent != (int32_t)n) return sent < 0 ? sent : -100;
        seq += n;
    }
    return nn_close(raw);
}
