/*
 * kv_ref_bench.c — the references tools/bench/kv prints next to its figures (house rule: a
 * reference measured in the same run):
 *
 *   kv_ref_bench fsync DIR SECONDS THREADS   synchronous RocksDB writes (one small put per
 *        batch, WAL fsync before returning) through the kvnode's own engine (kv_rocks) in a
 *        fresh database under DIR — the floor of one durable write on this disk; with many
 *        threads RocksDB's group commit shares fsyncs, as the store loop does
 *   kv_ref_bench rpc ADDR SECONDS THREADS    raw RPC round trips to a kvnode at ADDR: a KvGet
 *        without a region context, which the server's RPC layer delivers, the KV gate admits
 *        and the handler refuses at once (no raftstore, no MVCC) — the floor of a point get
 *
 * Prints one line: ops=N ops_per_s=X p50_us=Y p99_us=Z. Exit 0, 1 on failure, 2 on usage.
 */
#include "cm_buf.h"
#include "cm_err.h"
#include "cm_log.h"
#include "cm_rpc.h"
#include "cm_time.h"
#include "kv_batch.h"
#include "kv_engine.h"
#include "kv_rocks.h"
#include "kvrpcpb.pb-c.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS_MAX 256
#define SAMPLES_MAX (1u << 18) /* per thread: latencies kept for percentiles */

typedef struct worker {
    pthread_t th;
    int id;
    uint64_t end_ms;
    uint32_t *lat_us; /* samples */
    size_t n;
    int failed;
    char msg[600];
} worker;

static kv_engine *eng;
static cm_rpc_client *rpc;
static cm_buf get_req = CM_BUF_INIT;

static void *fsync_loop(void *arg)
{
    worker *w = arg;
    kv_batch b;
    kv_batch_init(&b);
    char key[32], val[100];
    memset(val, 'v', sizeof(val));
    for (uint64_t i = 0; cm_time_mono_ms() < w->end_ms && w->n < SAMPLES_MAX; i++) {
        snprintf(key, sizeof(key), "ref%03d_%08llu", w->id, (unsigned long long)i);
        kv_batch_clear(&b);
        cm_err err;
        uint64_t t0 = cm_time_mono_ns();
        int rc = kv_batch_put(&b, KV_CF_DEFAULT, cm_slice_make(key, strlen(key)),
                              cm_slice_make(val, sizeof(val)));
        rc = rc ? rc : kv_engine_write(eng, &b, true, &err);
        if (rc != 0) {
            w->failed = 1;
            snprintf(w->msg, sizeof(w->msg), "write: %d", rc);
            break;
        }
        w->lat_us[w->n++] = (uint32_t)((cm_time_mono_ns() - t0) / 1000);
    }
    kv_batch_fini(&b);
    return NULL;
}

static void *rpc_loop(void *arg)
{
    worker *w = arg;
    cm_buf reply = CM_BUF_INIT;
    while (cm_time_mono_ms() < w->end_ms && w->n < SAMPLES_MAX) {
        cm_err err;
        cm_buf_reset(&reply);
        uint64_t t0 = cm_time_mono_ns();
        int rc = cm_rpc_call(rpc, TESSERA__KVRPCPB__METHOD__KV_GET, cm_buf_slice(&get_req), &reply,
                             2000, &err);
        /* The handler refuses the request (no region context): an error reply is a full round
         * trip through the server; only a transport failure is one. */
        if (rc == CM_E_TIMEOUT || rc == CM_E_UNAVAILABLE || rc == CM_E_CLOSED) {
            w->failed = 1;
            snprintf(w->msg, sizeof(w->msg), "rpc: %s", err.msg);
            break;
        }
        w->lat_us[w->n++] = (uint32_t)((cm_time_mono_ns() - t0) / 1000);
    }
    cm_buf_fini(&reply);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int run(void *(*fn)(void *), int secs, int threads)
{
    static worker ws[THREADS_MAX];
    uint64_t start = cm_time_mono_ms();
    for (int i = 0; i < threads; i++) {
        ws[i].id = i;
        ws[i].end_ms = start + (uint64_t)secs * 1000;
        ws[i].lat_us = malloc(sizeof(uint32_t) * SAMPLES_MAX);
        if (ws[i].lat_us == NULL || pthread_create(&ws[i].th, NULL, fn, &ws[i]) != 0) {
            fprintf(stderr, "kv_ref_bench: cannot start thread %d\n", i);
            return 1;
        }
    }
    size_t total = 0;
    int failed = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(ws[i].th, NULL);
        total += ws[i].n;
        if (ws[i].failed) {
            fprintf(stderr, "kv_ref_bench: thread %d: %s\n", i, ws[i].msg);
            failed = 1;
        }
    }
    double elapsed = (double)(cm_time_mono_ms() - start) / 1000.0;
    uint32_t *all = malloc(sizeof(uint32_t) * (total + 1));
    size_t k = 0;
    for (int i = 0; all && i < threads; i++) {
        memcpy(all + k, ws[i].lat_us, sizeof(uint32_t) * ws[i].n);
        k += ws[i].n;
        free(ws[i].lat_us);
    }
    if (all == NULL || total == 0) {
        fprintf(stderr, "kv_ref_bench: no samples\n");
        free(all);
        return 1;
    }
    qsort(all, total, sizeof(uint32_t), cmp_u32);
    printf("ops=%zu ops_per_s=%.0f p50_us=%u p99_us=%u\n", total, (double)total / elapsed,
           all[total / 2], all[(size_t)((double)total * 0.99)]);
    free(all);
    return failed;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: kv_ref_bench fsync DIR SECONDS THREADS | rpc ADDR SECONDS "
                        "THREADS\n");
        return 2;
    }
    cm_log_set_level(CM_LOG_WARN);
    int secs = atoi(argv[3]), threads = atoi(argv[4]);
    if (secs <= 0 || threads <= 0 || threads > THREADS_MAX) {
        fprintf(stderr, "kv_ref_bench: bad seconds or threads\n");
        return 2;
    }
    cm_err err;
    int rc;
    if (strcmp(argv[1], "fsync") == 0) {
        kv_rocks_opts o;
        memset(&o, 0, sizeof(o));
        o.path = argv[2];
        o.create_if_missing = true;
        if (kv_rocks_open(&o, &eng, &err) != 0) {
            fprintf(stderr, "kv_ref_bench: open %s: %s\n", argv[2], err.msg);
            return 1;
        }
        rc = run(fsync_loop, secs, threads);
        kv_engine_close(eng);
    } else if (strcmp(argv[1], "rpc") == 0) {
        if (cm_rpc_client_create(argv[2], &rpc, &err) != 0) {
            fprintf(stderr, "kv_ref_bench: connect %s: %s\n", argv[2], err.msg);
            return 1;
        }
        Tessera__Kvrpcpb__GetRequest g = TESSERA__KVRPCPB__GET_REQUEST__INIT;
        g.key.data = (uint8_t *)"x";
        g.key.len = 1;
        g.version = UINT64_MAX; /* never below a GC safe point */
        if (cm_rpc_pack(&g.base, &get_req) != 0) {
            return 1;
        }
        rc = run(rpc_loop, secs, threads);
        cm_rpc_client_free(rpc);
        cm_buf_fini(&get_req);
    } else {
        fprintf(stderr, "kv_ref_bench: unknown mode %s\n", argv[1]);
        return 2;
    }
    return rc;
}
