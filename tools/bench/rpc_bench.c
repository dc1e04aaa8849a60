/*
 * rpc_bench — request/response latency and throughput of common/rpc on 127.0.0.1, next to a plain
 * TCP echo baseline measured in the same run (DESIGN.md §3: "measure before and after any change
 * to the transport").
 *
 * Cases, each with a small payload (64 B by default):
 *   rpc  1 in flight   cm_rpc_call in a loop on one client
 *   rpc 64 in flight   cm_rpc_call_async with 64 calls kept in flight on one client (one
 *                      connection), each completion starting the next call
 *   tcp  1 in flight   blocking write + read of the payload over one TCP connection; the server
 *                      thread echoes with blocking read/write
 *   nng 1 / 64         the same echo over plain nng (rpc_bench_nng.c): what common/rpc adds to
 *                      nng itself, and the figures DESIGN.md §3 quotes for this machine
 *   tcp 64 in flight   the same connection pipelined: 64 payloads written before the first read,
 *                      then one new write per reply read (one connection, no framing needed since
 *                      every message has the same size)
 * Server and client run in this one process, as they share the machine's two cores anyway.
 * Every case runs `rounds` times, interleaved; throughput is the median round, latency
 * percentiles are over all samples of a case.
 *
 * usage: rpc_bench [--seconds S] [--rounds R] [--payload BYTES] [--workers N] [--only CASE]
 * (--only rpc1|rpc64|tcp1|tcp64|nng1|nng64 runs one case, for profiling; ratios then mean nothing).
 */
#include "cm_limits.h"
#include "cm_rpc.h"
#include "cm_time.h"
#include "rpc_bench_nng.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define INFLIGHT    64
#define SAMPLES_MAX (4u << 20)
#define ROUNDS_MAX  9
#define NCASES      6

typedef struct samples {
    uint32_t *ns; /* latency per request, nanoseconds (capped at 4 s) */
    size_t n;
} samples;

static void samples_add(samples *s, uint64_t ns)
{
    if (s->n < SAMPLES_MAX) {
        s->ns[s->n++] = ns > 4000000000ull ? 4000000000u : (uint32_t)ns;
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct bench_case {
    const char *name;
    samples lat;
    double rps[ROUNDS_MAX];
    int rounds;
    uint64_t errors;
    uint64_t cpu_ns; /* process CPU time (user + system, both ends) over all rounds */
    uint64_t reqs;   /* requests completed over all rounds */
} bench_case;

static uint64_t cpu_ns_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

static uint64_t total_errors(const bench_case *cases)
{
    uint64_t e = 0;
    for (int i = 0; i < NCASES; i++) {
        e += cases[i].errors;
    }
    return e;
}

static double case_rps(bench_case *c)
{
    double v[ROUNDS_MAX];
    memcpy(v, c->rps, sizeof(double) * (size_t)c->rounds);
    qsort(v, (size_t)c->rounds, sizeof(double), cmp_double);
    return v[c->rounds / 2];
}

static double case_cpu_us(const bench_case *c)
{
    return c->reqs ? (double)c->cpu_ns / 1000.0 / (double)c->reqs : 0;
}

static double case_pct_us(bench_case *c, double p)
{
    if (c->lat.n == 0) {
        return 0;
    }
    size_t i = (size_t)(p * (double)(c->lat.n - 1));
    return c->lat.ns[i] / 1000.0;
}

/* ---- rpc ------------------------------------------------------------------------------------ */

static int echo_h(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    return cm_buf_append_slice(reply, req->payload);
}

static void rpc_sync_round(cm_rpc_client *cli, const uint8_t *payload, size_t n, double seconds,
                           bench_case *bc)
{
    cm_buf out = CM_BUF_INIT;
    cm_err err;
    uint64_t start = cm_time_mono_ns(), end = start + (uint64_t)(seconds * 1e9);
    uint64_t done = 0, now = start;
    while (now < end) {
        uint64_t t0 = now;
        cm_buf_reset(&out);
        int rc = cm_rpc_call(cli, 1, cm_slice_make(payload, n), &out, 5000, &err);
        now = cm_time_mono_ns();
        if (rc != 0 || out.len != n) {
            bc->errors++;
            continue;
        }
        samples_add(&bc->lat, now - t0);
        done++;
    }
    bc->rps[bc->rounds++] = (double)done / ((double)(now - start) / 1e9);
    cm_buf_fini(&out);
}

typedef struct async_state {
    cm_rpc_client *cli;
    const uint8_t *payload;
    size_t n;
    uint64_t end_ns;
    bench_case *bc;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inflight;
    uint64_t done;
    uint64_t last_ns;
} async_state;

typedef struct async_slot {
    async_state *st;
    uint64_t t0;
} async_slot;

static void async_done_cb(void *arg, int rc, cm_slice reply, const cm_err *err);

/* Starts the slot's next call, or retires the slot when time is up. */
static void async_issue(async_slot *slot)
{
    async_state *st = slot->st;
    uint64_t now = cm_time_mono_ns();
    cm_err err;
    if (now < st->end_ns) {
        slot->t0 = now;
        if (cm_rpc_call_async(st->cli, 1, cm_slice_make(st->payload, st->n), 5000, async_done_cb,
                              slot, &err) == 0) {
            return;
        }
        fprintf(stderr, "rpc_bench: call_async: %s\n", err.msg);
    }
    pthread_mutex_lock(&st->mu);
    if (--st->inflight == 0) {
        st->last_ns = now;
        pthread_cond_signal(&st->cv);
    }
    pthread_mutex_unlock(&st->mu);
}

static void async_done_cb(void *arg, int rc, cm_slice reply, const cm_err *err)
{
    async_slot *slot = arg;
    async_state *st = slot->st;
    uint64_t now = cm_time_mono_ns();
    pthread_mutex_lock(&st->mu);
    if (rc == 0 && reply.len == st->n) {
        samples_add(&st->bc->lat, now - slot->t0);
        st->done++;
    } else {
        st->bc->errors++;
    }
    pthread_mutex_unlock(&st->mu);
    async_issue(slot);
}

static void rpc_async_round(cm_rpc_client *cli, const uint8_t *payload, size_t n, double seconds,
                            bench_case *bc)
{
    async_state st = {.cli = cli, .payload = payload, .n = n, .bc = bc, .inflight = INFLIGHT};
    async_slot slots[INFLIGHT];
    pthread_mutex_init(&st.mu, NULL);
    pthread_cond_init(&st.cv, NULL);
    uint64_t start = cm_time_mono_ns();
    st.end_ns = start + (uint64_t)(seconds * 1e9);
    for (int i = 0; i < INFLIGHT; i++) {
        slots[i].st = &st;
        async_issue(&slots[i]);
    }
    pthread_mutex_lock(&st.mu);
    while (st.inflight > 0) {
        pthread_cond_wait(&st.cv, &st.mu);
    }
    pthread_mutex_unlock(&st.mu);
    bc->rps[bc->rounds++] = (double)st.done / ((double)(st.last_ns - start) / 1e9);
    pthread_mutex_destroy(&st.mu);
    pthread_cond_destroy(&st.cv);
}

/* ---- tcp echo baseline ---------------------------------------------------------------------- */

typedef struct echo_server {
    int lfd;
    int port;
    pthread_t thread;
} echo_server;

static void *echo_conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[65536];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r <= 0) {
            break;
        }
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(fd, buf + off, (size_t)(r - off));
            if (w <= 0) {
                close(fd);
                return NULL;
            }
            off += w;
        }
    }
    close(fd);
    return NULL;
}

static void *echo_accept_main(void *arg)
{
    echo_server *es = arg;
    for (;;) {
        int fd = accept(es->lfd, NULL, NULL);
        if (fd < 0) {
            break; /* listener closed */
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        pthread_t t;
        if (pthread_create(&t, NULL, echo_conn_main, (void *)(intptr_t)fd) == 0) {
            pthread_detach(t);
        } else {
            close(fd);
        }
    }
    return NULL;
}

static int echo_server_start(echo_server *es)
{
    es->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (es->lfd < 0 || bind(es->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(es->lfd, 16) != 0 || getsockname(es->lfd, (struct sockaddr *)&a, &len) != 0) {
        return -1;
    }
    es->port = ntohs(a.sin_port);
    return pthread_create(&es->thread, NULL, echo_accept_main, es) == 0 ? 0 : -1;
}

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            return -1;
        }
        p += w, n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r <= 0) {
            return -1;
        }
        p += r, n -= (size_t)r;
    }
    return 0;
}

/* depth 1: ping-pong; depth 64: pipelined on the one connection. */
static void tcp_round(int fd, const uint8_t *payload, size_t n, int depth, double seconds,
                      bench_case *bc)
{
    uint8_t buf[65536];
    uint64_t sent_at[INFLIGHT];
    uint64_t start = cm_time_mono_ns(), end = start + (uint64_t)(seconds * 1e9), now = start;
    uint64_t done = 0, head = 0, tail = 0;
    for (; tail < (uint64_t)depth; tail++) {
        sent_at[tail % INFLIGHT] = cm_time_mono_ns();
        if (write_all(fd, payload, n) != 0) {
            bc->errors++;
            return;
        }
    }
    while (head < tail) {
        if (read_all(fd, buf, n) != 0) {
            bc->errors++;
            return;
        }
        now = cm_time_mono_ns();
        samples_add(&bc->lat, now - sent_at[head % INFLIGHT]);
        head++;
        done++;
        if (now < end) {
            sent_at[tail % INFLIGHT] = now;
            if (write_all(fd, payload, n) != 0) {
                bc->errors++;
                return;
            }
            tail++;
        }
    }
    bc->rps[bc->rounds++] = (double)done / ((double)(now - start) / 1e9);
}

static void record_cb(void *arg, uint64_t ns)
{
    samples_add(&((bench_case *)arg)->lat, ns);
}

static void nngref_round(int port, const uint8_t *payload, size_t n, int async, double seconds,
                         bench_case *bc)
{
    double rps = async ? nngref_async_round(port, payload, n, seconds, record_cb, bc, &bc->errors)
                       : nngref_sync_round(port, payload, n, seconds, record_cb, bc, &bc->errors);
    bc->rps[bc->rounds++] = rps;
}

/* ---- main ----------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    double seconds = 2.0;
    int rounds = 3, workers = 0;
    const char *only = NULL;
    size_t n = 64;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--seconds") == 0) {
            seconds = atof(argv[i + 1]);
        } else if (strcmp(argv[i], "--rounds") == 0) {
            rounds = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--payload") == 0) {
            n = (size_t)atol(argv[i + 1]);
        } else if (strcmp(argv[i], "--workers") == 0) {
            workers = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--only") == 0) {
            only = argv[i + 1];
        } else {
            fprintf(stderr, "usage: rpc_bench [--seconds S] [--rounds R] [--payload BYTES] "
                            "[--workers N] [--only rpc1|rpc64|tcp1|tcp64|nng1|nng64]\n");
            return 2;
        }
    }
    if (rounds < 1 || rounds > ROUNDS_MAX || seconds <= 0 || n == 0 || n > 65536) {
        fprintf(stderr, "rpc_bench: rounds 1..%d, seconds > 0, payload 1..65536\n", ROUNDS_MAX);
        return 2;
    }
    uint8_t *payload = malloc(n);
    for (size_t i = 0; i < n; i++) {
        payload[i] = (uint8_t)('a' + i % 26);
    }

    cm_err err;
    cm_rpc_server *srv;
    static const cm_rpc_method methods[] = {{1, "Echo", echo_h}};
    if (cm_rpc_server_create("127.0.0.1:0", workers, &srv, &err) != 0 ||
        cm_rpc_server_register(srv, methods, 1, NULL, &err) != 0 ||
        cm_rpc_server_start(srv, &err) != 0) {
        fprintf(stderr, "rpc_bench: server: %s\n", err.msg);
        return 1;
    }
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", cm_rpc_server_port(srv));
    cm_rpc_client *cli;
    if (cm_rpc_client_create(addr, &cli, &err) != 0) {
        fprintf(stderr, "rpc_bench: client: %s\n", err.msg);
        return 1;
    }
    echo_server es;
    if (echo_server_start(&es) != 0) {
        perror("rpc_bench: echo server");
        return 1;
    }
    int fd = tcp_connect(es.port);
    if (fd < 0) {
        perror("rpc_bench: connect");
        return 1;
    }

    int ref_port = nngref_server_start();
    if (ref_port < 0) {
        fprintf(stderr, "rpc_bench: plain nng server failed\n");
        return 1;
    }
    bench_case cases[NCASES] = {
        {.name = "rpc 1 in flight"},       {.name = "rpc 64 in flight"},
        {.name = "tcp echo 1 in flight"},  {.name = "tcp echo 64 in flight"},
        {.name = "plain nng 1 in flight"}, {.name = "plain nng 64 in flight"}};
    for (int i = 0; i < NCASES; i++) {
        cases[i].lat.ns = malloc(sizeof(uint32_t) * SAMPLES_MAX);
    }
    /* Warm up: connections up, pools filled, caches hot. */
    bench_case warm = {.name = "warm-up", .lat = {cases[0].lat.ns, 0}};
    if (only == NULL || strncmp(only, "rpc", 3) == 0) {
        rpc_sync_round(cli, payload, n, 0.2, &warm);
        warm.rounds = 0;
        rpc_async_round(cli, payload, n, 0.2, &warm);
        warm.rounds = 0;
    }
    if (only == NULL || strncmp(only, "tcp", 3) == 0) {
        tcp_round(fd, payload, n, 1, 0.2, &warm);
    }
    static const char *const keys[NCASES] = {"rpc1", "rpc64", "tcp1", "tcp64", "nng1", "nng64"};
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < NCASES; i++) {
            if (only != NULL && strcmp(only, keys[i]) != 0) {
                continue;
            }
            bench_case *bc = &cases[i];
            uint64_t cpu0 = cpu_ns_now();
            size_t n0 = bc->lat.n;
            switch (i) {
            case 0:
                rpc_sync_round(cli, payload, n, seconds, bc);
                break;
            case 1:
                rpc_async_round(cli, payload, n, seconds, bc);
                break;
            case 2:
                tcp_round(fd, payload, n, 1, seconds, bc);
                break;
            case 3:
                tcp_round(fd, payload, n, INFLIGHT, seconds, bc);
                break;
            case 4:
                nngref_round(ref_port, payload, n, 0, seconds, bc);
                break;
            default:
                nngref_round(ref_port, payload, n, 1, seconds, bc);
                break;
            }
            bc->cpu_ns += cpu_ns_now() - cpu0;
            bc->reqs += bc->lat.n - n0;
        }
    }
    for (int i = 0; i < NCASES; i++) {
        if (cases[i].rounds == 0) { /* not run (--only) */
            cases[i].rps[cases[i].rounds++] = 0;
        }
    }
    for (int i = 0; i < NCASES; i++) {
        qsort(cases[i].lat.ns, cases[i].lat.n, sizeof(uint32_t), cmp_u32);
    }

    printf("rpc_bench: payload %zu B, %d rounds x %.1f s per case, server workers %d, "
           "127.0.0.1, one connection per case\n\n",
           n, rounds, seconds, workers ? workers : CM_RPC_WORKERS_DEFAULT);
    printf("%-24s %12s %10s %10s %12s %8s\n", "case", "req/s", "p50 us", "p99 us", "cpu us/req",
           "errors");
    for (int i = 0; i < NCASES; i++) {
        printf("%-24s %12.0f %10.1f %10.1f %12.1f %8llu\n", cases[i].name, case_rps(&cases[i]),
               case_pct_us(&cases[i], 0.50), case_pct_us(&cases[i], 0.99), case_cpu_us(&cases[i]),
               (unsigned long long)cases[i].errors);
    }
    double r1 = case_rps(&cases[0]), r64 = case_rps(&cases[1]);
    double t1 = case_rps(&cases[2]), t64 = case_rps(&cases[3]);
    printf("\nratios (rpc / tcp echo, same in flight): throughput 1: %.2f  64: %.2f;  "
           "p50 latency 1: %.2f  64: %.2f\n",
           r1 / t1, r64 / t64, case_pct_us(&cases[0], 0.5) / case_pct_us(&cases[2], 0.5),
           case_pct_us(&cases[1], 0.5) / case_pct_us(&cases[3], 0.5));
    double n1 = case_rps(&cases[4]), n64 = case_rps(&cases[5]);
    printf("ratios (rpc / plain nng, same in flight): throughput 1: %.2f  64: %.2f;  p50 latency "
           "1: %.2f  64: %.2f\n",
           r1 / n1, r64 / n64, case_pct_us(&cases[0], 0.5) / case_pct_us(&cases[4], 0.5),
           case_pct_us(&cases[1], 0.5) / case_pct_us(&cases[5], 0.5));
    printf("rpc 64 in flight / rpc 1 in flight: throughput %.2fx\n", r64 / r1);
    printf("RESULT rpc1_rps=%.0f rpc1_p50_us=%.1f rpc1_p99_us=%.1f rpc64_rps=%.0f "
           "rpc64_p50_us=%.1f rpc64_p99_us=%.1f tcp1_rps=%.0f tcp1_p50_us=%.1f tcp64_rps=%.0f "
           "tcp64_p50_us=%.1f nng1_rps=%.0f nng1_p50_us=%.1f nng64_rps=%.0f nng64_p50_us=%.1f "
           "errors=%llu\n",
           r1, case_pct_us(&cases[0], 0.5), case_pct_us(&cases[0], 0.99), r64,
           case_pct_us(&cases[1], 0.5), case_pct_us(&cases[1], 0.99), t1,
           case_pct_us(&cases[2], 0.5), t64, case_pct_us(&cases[3], 0.5), n1,
           case_pct_us(&cases[4], 0.5), n64, case_pct_us(&cases[5], 0.5),
           (unsigned long long)total_errors(cases));

    close(fd);
    shutdown(es.lfd, SHUT_RDWR);
    close(es.lfd);
    pthread_join(es.thread, NULL);
    cm_rpc_client_free(cli);
    cm_rpc_server_free(srv);
    nngref_server_stop();
    uint64_t errors = total_errors(cases);
    for (int i = 0; i < NCASES; i++) {
        free(cases[i].lat.ns);
    }
    free(payload);
    return errors ? 1 : 0;
}
