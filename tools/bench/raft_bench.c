/*
 * raft_bench — committed proposals per second of a 3-node Raft group in one process, with no
 * I/O: in-memory storage, messages encoded and decoded through the wire codec and delivered in
 * the same loop. One "cycle" is what a multi-raft store does per loop: the leader takes a batch
 * of proposals, then every node handles its ready (persist, send, apply, advance) and the
 * messages are delivered. Batches of 1, 16 and 256 proposals per cycle show what batching buys;
 * batch 1 is the reference each figure is compared with. Each figure is the median of 5 runs.
 *
 * Usage: raft_bench [--seconds S] [--payload BYTES]
 */
#include "cm_raft.h"
#include "cm_raft_memstore.h"
#include "cm_time.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODES 3
#define RUNS  5

typedef struct bnode {
    cm_raft *r;
    cm_raft_memstore ms;
    uint64_t applied;
    uint64_t applied_bytes;
} bnode;

typedef struct bench {
    bnode n[NODES + 1];
    cm_buf q[2]; /* encoded messages in flight (current, next) */
    uint64_t rng;
    uint64_t msgs;
    cm_arena arena;
} bench;

static uint64_t brand(void *ctx)
{
    uint64_t *s = ctx;
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 11;
}

static uint64_t bclock(void *ctx)
{
    (void)ctx;
    return cm_time_mono_ns();
}

static void die(const char *what)
{
    fprintf(stderr, "raft_bench: %s\n", what);
    exit(1);
}

static void setup(bench *b)
{
    memset(b, 0, sizeof(*b));
    b->rng = 1;
    cm_arena_init(&b->arena, 0);
    cm_buf_init(&b->q[0]);
    cm_buf_init(&b->q[1]);
    cm_raft_conf conf;
    memset(&conf, 0, sizeof(conf));
    for (int i = 1; i <= NODES; i++) {
        conf.voters[conf.n_voters++] = (uint64_t)i;
    }
    for (int i = 1; i <= NODES; i++) {
        bnode *n = &b->n[i];
        cm_raft_memstore_init(&n->ms);
        cm_raft_snapshot s;
        memset(&s, 0, sizeof(s));
        s.meta.index = 1;
        s.meta.term = 1;
        s.meta.conf = conf;
        cm_raft_memstore_apply_snapshot(&n->ms, &s);
        cm_raft_hard_state hs = {1, 0, 1};
        cm_raft_memstore_set_hard_state(&n->ms, &hs);
        n->applied = 1;
        cm_raft_config c;
        cm_raft_config_default(&c);
        c.id = (uint64_t)i;
        c.storage = &cm_raft_memstore_ops;
        c.storage_ctx = &n->ms;
        c.rand_cb = brand;
        c.rand_ctx = &b->rng;
        c.clock_ns_cb = bclock;
        c.applied = 1;
        c.fresh_start = true;
        c.max_inflight = 256;
        c.max_msg_bytes = 1u << 20;
        cm_err err;
        if (cm_raft_new(&c, &n->r, &err) != 0) {
            die(err.msg);
        }
    }
}

static void teardown(bench *b)
{
    for (int i = 1; i <= NODES; i++) {
        cm_raft_free(b->n[i].r);
        cm_raft_memstore_fini(&b->n[i].ms);
    }
    cm_buf_fini(&b->q[0]);
    cm_buf_fini(&b->q[1]);
    cm_arena_fini(&b->arena);
}

static void send_all(bench *b, const cm_raft_msg *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (cm_raft_msg_encode(&m[i], &b->q[1]) != 0) {
            die("encode");
        }
        b->msgs++;
    }
}

/* One ready of node i: persist, send, apply, advance. */
static void handle(bench *b, int i)
{
    bnode *n = &b->n[i];
    if (!cm_raft_has_ready(n->r)) {
        return;
    }
    cm_raft_ready rd;
    if (cm_raft_ready_get(n->r, &rd) != 0) {
        die("ready");
    }
    send_all(b, rd.msgs_early, rd.n_msgs_early);
    if (rd.snapshot) {
        cm_raft_memstore_apply_snapshot(&n->ms, rd.snapshot);
    }
    if (rd.n_entries && cm_raft_memstore_append(&n->ms, rd.entries, rd.n_entries) != 0) {
        die("append");
    }
    if (rd.hard_state_changed) {
        cm_raft_memstore_set_hard_state(&n->ms, &rd.hard_state);
    }
    send_all(b, rd.msgs, rd.n_msgs);
    for (size_t k = 0; k < rd.n_committed; k++) {
        n->applied = rd.committed[k].index;
        n->applied_bytes += rd.committed[k].data.len;
    }
    if (cm_raft_advance(n->r, &rd) != 0) {
        die("advance");
    }
    /* Keep memory flat: snapshot (empty state) and compact now and then. */
    if (n->applied > n->ms.base_index + 8192) {
        cm_raft_status st;
        cm_raft_status_get(n->r, &st);
        uint64_t at = n->applied - 1024;
        if (cm_raft_memstore_create_snapshot(&n->ms, at, &st.conf, cm_slice_make(NULL, 0)) != 0 ||
            cm_raft_memstore_compact(&n->ms, at) != 0) {
            die("compact");
        }
    }
}

static void deliver(bench *b)
{
    cm_buf t = b->q[0];
    b->q[0] = b->q[1];
    b->q[1] = t;
    cm_buf_reset(&b->q[1]);
    cm_reader r;
    cm_reader_init(&r, b->q[0].ptr, b->q[0].len);
    while (cm_reader_left(&r) > 0) {
        cm_arena_reset(&b->arena);
        cm_raft_msg m;
        cm_err err;
        if (cm_raft_msg_decode(&r, &b->arena, &m, &err) != 0) {
            die(err.msg);
        }
        if (m.to >= 1 && m.to <= NODES && cm_raft_step(b->n[m.to].r, &m) != 0) {
            die("step");
        }
    }
    cm_buf_reset(&b->q[0]);
}

static void cycle(bench *b)
{
    for (int i = 1; i <= NODES; i++) {
        handle(b, i);
    }
    deliver(b);
}

/* Runs for about `seconds` with `batch` proposals per cycle; returns committed proposals/s. */
static double run(size_t batch, double seconds, size_t payload, double *cycles_per_s)
{
    bench b;
    setup(&b);
    cm_raft_campaign(b.n[1].r);
    for (int i = 0; i < 20; i++) {
        cycle(&b);
    }
    cm_raft_status st;
    cm_raft_status_get(b.n[1].r, &st);
    if (st.role != CM_RAFT_LEADER) {
        die("no leader");
    }
    uint8_t *data = calloc(1, payload);
    uint64_t start_applied = b.n[1].applied;
    uint64_t t0 = cm_time_mono_ns(), t1 = t0;
    uint64_t cycles = 0;
    uint64_t deadline = t0 + (uint64_t)(seconds * 1e9);
    while (t1 < deadline) {
        for (int k = 0; k < 64; k++) {
            for (size_t j = 0; j < batch; j++) {
                uint64_t idx, term;
                memcpy(data, &cycles, sizeof(cycles) < payload ? sizeof(cycles) : payload);
                if (cm_raft_propose(b.n[1].r, cm_slice_make(data, payload), &idx, &term) != 0) {
                    die("propose");
                }
            }
            cycle(&b);
            cycles++;
        }
        t1 = cm_time_mono_ns();
    }
    /* Drain: count only proposals committed and applied on the leader within the run. */
    uint64_t committed = b.n[1].applied - start_applied;
    double secs = (double)(t1 - t0) / 1e9;
    free(data);
    teardown(&b);
    *cycles_per_s = (double)cycles / secs;
    return (double)committed / secs;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    double seconds = 0.6;
    size_t payload = 100;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else if (strcmp(argv[i], "--payload") == 0 && i + 1 < argc) {
            payload = (size_t)atol(argv[++i]);
        } else {
            fprintf(stderr, "usage: raft_bench [--seconds S] [--payload BYTES]\n");
            return 2;
        }
    }
    if (payload == 0) {
        payload = 1;
    }
    static const size_t batches[] = {1, 16, 256};
    double med[3], cyc[3];
    for (int bi = 0; bi < 3; bi++) {
        double v[RUNS], c[RUNS];
        for (int k = 0; k < RUNS; k++) {
            v[k] = run(batches[bi], seconds, payload, &c[k]);
        }
        qsort(v, RUNS, sizeof(v[0]), cmp_double);
        qsort(c, RUNS, sizeof(c[0]), cmp_double);
        med[bi] = v[RUNS / 2];
        cyc[bi] = c[RUNS / 2];
    }
    printf("raft_bench: 3-node group, one process, no I/O, %zu-byte proposals, median of %d runs "
           "of %.1f s\n",
           payload, RUNS, seconds);
    printf("%-8s %16s %14s %16s %12s\n", "batch", "proposals/s", "ns/proposal", "cycles/s",
           "vs batch 1");
    for (int bi = 0; bi < 3; bi++) {
        printf("%-8zu %16.0f %14.0f %16.0f %11.1fx\n", batches[bi], med[bi], 1e9 / med[bi], cyc[bi],
               med[bi] / med[0]);
    }
    for (int bi = 0; bi < 3; bi++) {
        printf("RESULT batch=%zu proposals_per_sec=%.0f ratio_vs_batch1=%.2f\n", batches[bi],
               med[bi], med[bi] / med[0]);
    }
    return 0;
}
