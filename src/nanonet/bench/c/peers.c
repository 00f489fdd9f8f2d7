/* The native peers of `nanonet bench`: the same W1 ping-pong and W2 stream
 * over loopback TCP, a Unix socket, and a shared-memory SPSC ring between two
 * threads (the machine's floor).
 *
 * usage: peers w1|w2 tcp|unix|ring COUNT SIZE WARMUP [INTERVAL_NS]
 * INTERVAL_NS > 0 paces W1 at a fixed rate: round i is sent at start + i *
 * interval and its latency counts from then (coordinated omission shows).
 * prints one JSON line {"count","received","errors","seconds","cpu_s"} (cpu_s: the
 * process's CPU seconds over the run, all threads); for w1 then
 * one round-trip time in ns per line. Every wait is bounded: sockets carry a
 * receive timeout, spin loops check a deadline. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64 /* stream messages per send() or ring publish, as the Wasm producer's batch */
#define DEADLINE_NS 60000000000ULL
#define CACHE_LINE 64

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no syscall */
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

static uint64_t g_start;

/* One failed poll of a spin loop: now and then give the CPU away (if the
 * peer shares our core, spinning only delays it) and check the deadline. */
static void spun(uint64_t *spins) {
    if ((++*spins & 0xFFF) != 0) return;
    sched_yield();
    if (now_ns() - g_start > DEADLINE_NS) {
        fprintf(stderr, "peers: deadline passed, giving up\n");
        exit(3);
    }
}

/* ---- configuration and results shared by both sides ---- */
typedef struct {
    int w1, tcp, unix_, count, size, warmup;
    uint64_t interval, start;
    uint64_t *rtt;
    long received, errors;
    int listen_fd;
    char path[108];
    void *ring_a, *ring_b;
} job_t;

/* When round i's latency starts: now (closed loop, warm-up), or its intended
 * send time at a fixed rate, spinning until that time comes. */
/* the process's CPU time, all threads: the rate workload's cores kept busy */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t round_start(job_t *j, int64_t i) {
    uint64_t now = now_ns();
    if (j->interval == 0 || i < 0) return now;
    if (i == 0) j->start = now;
    uint64_t due = j->start + (uint64_t)i * j->interval;
    while (now < due) {
        sched_yield(); /* the peer may need this core more than we do */
        now = now_ns();
    }
    return due;
}

/* ---- sockets ---- */
static void set_timeout(int fd) {
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* fails harmlessly on unix */
    }
}

static int read_n(int fd, char *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r == 0) return got == 0 ? 0 : -1;
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        got += (size_t)r;
    }
    return 1;
}

static void write_n(int fd, const char *buf, size_t n) {
    while (n) {
        ssize_t r = write(fd, buf, n);
        if (r < 0) {
            if (errno == EINTR) continue;
            die("write");
        }
        buf += r;
        n -= (size_t)r;
    }
}

static void do_listen(job_t *j, struct sockaddr_storage *addr, socklen_t *alen) {
    if (j->tcp) {
        struct sockaddr_in *in = (struct sockaddr_in *)addr;
        j->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* 127.0.0.1 only */
        in->sin_port = 0;
        *alen = sizeof *in;
    } else {
        struct sockaddr_un *un = (struct sockaddr_un *)addr;
        j->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
        un->sun_family = AF_UNIX;
        snprintf(j->path, sizeof j->path, "/tmp/nanonet-peers-%d.sock", (int)getpid());
        unlink(j->path);
        strcpy(un->sun_path, j->path);
        *alen = sizeof *un;
    }
    if (j->listen_fd < 0) die("socket");
    if (bind(j->listen_fd, (struct sockaddr *)addr, *alen) < 0) die("bind");
    if (listen(j->listen_fd, 1) < 0) die("listen");
    if (getsockname(j->listen_fd, (struct sockaddr *)addr, alen) < 0) die("getsockname");
}

static int do_accept(job_t *j) {
    struct pollfd p = {j->listen_fd, POLLIN, 0};
    if (poll(&p, 1, 10000) != 1) die("accept timed out");
    int fd = accept(j->listen_fd, NULL, NULL);
    if (fd < 0) die("accept");
    set_timeout(fd);
    return fd;
}

static void *sock_server(void *arg) {
    job_t *j = arg;
    int fd = do_accept(j);
    size_t cap = (size_t)j->size * BATCH;
    char *buf = malloc(cap);
    if (j->w1) {
        while (read_n(fd, buf, (size_t)j->size) == 1) write_n(fd, buf, (size_t)j->size);
    } else {
        uint64_t expect = 0;
        size_t have = 0;
        for (;;) {
            ssize_t r = read(fd, buf + have, cap - have);
            if (r <= 0) break;
            have += (size_t)r;
            size_t off = 0;
            for (; off + (size_t)j->size <= have; off += (size_t)j->size) {
                uint64_t seq;
                memcpy(&seq, buf + off, 8);
                if (seq != expect) j->errors++;
                expect++;
            }
            memmove(buf, buf + off, have - off);
            have -= off;
        }
        j->received = (long)expect;
    }
    free(buf);
    close(fd);
    return NULL;
}

static void sock_client(job_t *j, int fd) {
    size_t cap = (size_t)j->size * BATCH;
    char *buf = calloc(1, cap);
    if (j->w1) {
        for (int64_t i = -j->warmup; i < j->count; i++) {
            uint64_t t0 = round_start(j, i);
            memcpy(buf, &i, 8);
            write_n(fd, buf, (size_t)j->size);
            if (read_n(fd, buf, (size_t)j->size) != 1) die("echo read");
            if (memcmp(buf, &i, 8) != 0) j->errors++;
            if (i >= 0) j->rtt[i] = now_ns() - t0;
        }
        j->received = j->count;
    } else {
        uint64_t seq = 0;
        while (seq < (uint64_t)j->count) {
            size_t n = 0;
            for (; n < BATCH && seq < (uint64_t)j->count; n++, seq++)
                memcpy(buf + n * (size_t)j->size, &seq, 8);
            write_n(fd, buf, n * (size_t)j->size);
        }
        shutdown(fd, SHUT_WR);
    }
    free(buf);
}

static void run_sockets(job_t *j) {
    struct sockaddr_storage addr;
    socklen_t alen;
    memset(&addr, 0, sizeof addr);
    do_listen(j, &addr, &alen);
    pthread_t server;
    pthread_create(&server, NULL, sock_server, j);
    int fd = socket(j->tcp ? AF_INET : AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, alen) < 0) die("connect");
    set_timeout(fd);
    sock_client(j, fd);
    if (j->w1) shutdown(fd, SHUT_WR);
    pthread_join(server, NULL);
    close(fd);
    close(j->listen_fd);
    if (!j->tcp) unlink(j->path);
}

/* ---- the shared-memory ring: counters on their own cache lines ---- */
typedef struct {
    _Alignas(CACHE_LINE) uint64_t head; /* written by the producer (release) */
    _Alignas(CACHE_LINE) uint64_t tail; /* written by the consumer (release) */
    _Alignas(CACHE_LINE) uint32_t closed;
    _Alignas(CACHE_LINE) uint64_t mask, slot;
    char *slots;
} ring_t;

static ring_t *ring_new(int size) {
    ring_t *r = aligned_alloc(CACHE_LINE, sizeof(ring_t));
    memset(r, 0, sizeof *r);
    uint64_t n = size > 256 ? 512 : 4096;
    r->mask = n - 1;
    r->slot = ((uint64_t)size + 8 + 63) & ~63ULL;
    r->slots = aligned_alloc(CACHE_LINE, n * r->slot);
    memset(r->slots, 0, n * r->slot);
    return r;
}

typedef struct { uint64_t pos, peer; } cursor_t;

/* Wait for a free slot (publishing what is pending first), fill it; publish
 * head now if `flush`, else later: a stream publishes once per BATCH, as the
 * Wasm adapter's send_batch does, and ping-pong on every message. */
static void ring_put(ring_t *r, cursor_t *c, const char *data, uint32_t len, int flush) {
    uint64_t spins = 0;
    if (c->pos - c->peer > r->mask) __atomic_store_n(&r->head, c->pos, __ATOMIC_RELEASE);
    while (c->pos - c->peer > r->mask) {
        c->peer = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
        spun(&spins);
    }
    char *s = r->slots + (c->pos & r->mask) * r->slot;
    memcpy(s, &len, 4);
    memcpy(s + 8, data, len);
    c->pos++;
    if (flush) __atomic_store_n(&r->head, c->pos, __ATOMIC_RELEASE);
}

/* Wait for a message or close (committing what is pending first), copy it
 * out; commit tail now if `flush`. Returns 0 when closed and drained. */
static uint32_t ring_get(ring_t *r, cursor_t *c, char *out, int flush) {
    uint64_t spins = 0;
    if (c->pos == c->peer) __atomic_store_n(&r->tail, c->pos, __ATOMIC_RELEASE);
    while (c->pos == c->peer) {
        c->peer = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
        if (c->pos == c->peer && __atomic_load_n(&r->closed, __ATOMIC_ACQUIRE)) {
            c->peer = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
            if (c->pos == c->peer) return 0;
        }
        spun(&spins);
    }
    char *s = r->slots + (c->pos & r->mask) * r->slot;
    uint32_t len;
    memcpy(&len, s, 4);
    if (len > r->slot - 8) len = (uint32_t)(r->slot - 8);
    memcpy(out, s + 8, len);
    c->pos++;
    if (flush) __atomic_store_n(&r->tail, c->pos, __ATOMIC_RELEASE);
    return len;
}

static void *ring_peer(void *arg) {
    job_t *j = arg;
    ring_t *in = j->ring_a, *out = j->ring_b;
    cursor_t ci = {0, 0}, co = {0, 0};
    char *buf = malloc((size_t)j->size + 8);
    uint64_t expect = 0;
    uint32_t len;
    while ((len = ring_get(in, &ci, buf, j->w1 || (ci.pos + 1) % BATCH == 0)) != 0) {
        if (j->w1) {
            ring_put(out, &co, buf, len, 1);
            continue;
        }
        uint64_t seq;
        memcpy(&seq, buf, 8);
        if (seq != expect || len != (uint32_t)j->size) j->errors++;
        expect++;
    }
    if (j->w1) __atomic_store_n(&out->closed, 1, __ATOMIC_RELEASE);
    j->received = (long)expect;
    free(buf);
    return NULL;
}

static void run_ring(job_t *j) {
    ring_t *a = ring_new(j->size), *b = ring_new(j->size);
    j->ring_a = a;
    j->ring_b = b;
    pthread_t peer;
    pthread_create(&peer, NULL, ring_peer, j);
    cursor_t ca = {0, 0}, cb = {0, 0};
    char *buf = calloc(1, (size_t)j->size + 8);
    if (j->w1) {
        for (int64_t i = -j->warmup; i < j->count; i++) {
            uint64_t t0 = round_start(j, i);
            memcpy(buf, &i, 8);
            ring_put(a, &ca, buf, (uint32_t)j->size, 1);
            if (ring_get(b, &cb, buf, 1) == 0 || memcmp(buf, &i, 8) != 0) j->errors++;
            if (i >= 0) j->rtt[i] = now_ns() - t0;
        }
    } else {
        for (uint64_t seq = 0; seq < (uint64_t)j->count; seq++) {
            memcpy(buf, &seq, 8);
            ring_put(a, &ca, buf, (uint32_t)j->size, (seq + 1) % BATCH == 0);
        }
        __atomic_store_n(&a->head, ca.pos, __ATOMIC_RELEASE); /* the last partial batch */
    }
    __atomic_store_n(&a->closed, 1, __ATOMIC_RELEASE);
    pthread_join(peer, NULL);
    if (j->w1) j->received = j->count;
    free(buf);
}

int main(int argc, char **argv) {
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: peers w1|w2 tcp|unix|ring COUNT SIZE WARMUP [INTERVAL_NS]\n");
        return 64;
    }
    job_t j;
    memset(&j, 0, sizeof j);
    j.w1 = strcmp(argv[1], "w1") == 0;
    j.tcp = strcmp(argv[2], "tcp") == 0;
    j.unix_ = strcmp(argv[2], "unix") == 0;
    j.count = atoi(argv[3]);
    j.size = atoi(argv[4]);
    j.warmup = j.w1 ? atoi(argv[5]) : 0;
    j.interval = (j.w1 && argc == 7) ? strtoull(argv[6], NULL, 10) : 0;
    if (j.size < 8 || j.count < 0 || j.warmup < 0) {
        fprintf(stderr, "peers: SIZE must be >= 8, COUNT and WARMUP >= 0\n");
        return 64;
    }
    j.rtt = calloc((size_t)j.count + 1, sizeof(uint64_t));
    g_start = now_ns();
    uint64_t t0 = now_ns();
    double cpu0 = cpu_s();
    if (j.tcp || j.unix_)
        run_sockets(&j);
    else
        run_ring(&j);
    double seconds = (double)(now_ns() - t0) / 1e9;
    double cpu = cpu_s() - cpu0;
    printf("{\"count\": %d, \"received\": %ld, \"errors\": %ld, \"seconds\": %.9f, "
           "\"cpu_s\": %.9f}\n", j.count, j.received, j.errors, seconds, cpu);
    if (j.w1)
        for (int i = 0; i < j.count; i++) printf("%llu\n", (unsigned long long)j.rtt[i]);
    return j.errors ? 1 : 0;
}
