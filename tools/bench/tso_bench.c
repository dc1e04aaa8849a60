/*
 * tso_bench — timestamps per second and per-call latency through the PD client, against a
 * running pd (tools/bench/tso starts one and calls this).
 *
 *   tso_bench --pd ADDR [--threads T] [--seconds S] [--mode batched|unbatched|members]
 *
 * batched    cm_pd_get_ts: concurrent callers share TSO requests (our path)
 * unbatched  cm_pd_get_ts_n(1): one TSO request per timestamp (the reference: what the same pd
 *            and transport give without client batching)
 * members    GetMembers round trips (the transport's floor: a request that does no work)
 * Prints one JSON object: rate, p50/p99/max latency per call in microseconds, and the client's
 * TSO batching statistics.
 */
#include "cm_log.h"
#include "cm_pd_client.h"
#include "cm_time.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Latency samples kept per thread (the rest are counted, not sampled): bounds memory at
 * 64 threads to ~25 MB. */
#define SAMPLES_MAX 100000

typedef struct worker {
    cm_pd_client *c;
    int mode; /* 0 batched, 1 unbatched, 2 members */
    uint64_t deadline_ns;
    uint32_t *lat_ns;
    size_t nlat;
    uint64_t calls, errors;
} worker;

static void *worker_main(void *p)
{
    worker *w = p;
    for (;;) {
        uint64_t t0 = cm_time_mono_ns();
        if (t0 >= w->deadline_ns) {
            break;
        }
        cm_err err;
        uint64_t ts;
        int rc;
        if (w->mode == 0) {
            rc = cm_pd_get_ts(w->c, &ts, &err);
        } else if (w->mode == 1) {
            rc = cm_pd_get_ts_n(w->c, 1, &ts, &err);
        } else {
            cm_pd_members m;
            rc = cm_pd_get_members(w->c, &m, &err);
        }
        uint64_t dt = cm_time_mono_ns() - t0;
        if (rc != 0) {
            w->errors++;
            continue;
        }
        w->calls++;
        if (w->nlat < SAMPLES_MAX) {
            w->lat_ns[w->nlat++] = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
        }
    }
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : (x > y ? 1 : 0);
}

int main(int argc, char **argv)
{
    const char *pd = NULL, *mode_s = "batched";
    int threads = 1;
    double seconds = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--pd") == 0) {
            pd = argv[i + 1];
        } else if (strcmp(argv[i], "--threads") == 0) {
            threads = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--seconds") == 0) {
            seconds = atof(argv[i + 1]);
        } else if (strcmp(argv[i], "--mode") == 0) {
            mode_s = argv[i + 1];
        }
    }
    int mode = strcmp(mode_s, "batched") == 0     ? 0
               : strcmp(mode_s, "unbatched") == 0 ? 1
               : strcmp(mode_s, "members") == 0   ? 2
                                                  : -1;
    if (pd == NULL || threads < 1 || threads > 1024 || seconds <= 0 || mode < 0) {
        fprintf(stderr, "usage: tso_bench --pd ADDR [--threads T] [--seconds S] "
                        "[--mode batched|unbatched|members]\n");
        return 2;
    }
    cm_log_set_level(CM_LOG_WARN);
    cm_pd_client *c = NULL;
    cm_err err;
    if (cm_pd_client_create(pd, NULL, &c, &err) != 0) {
        fprintf(stderr, "tso_bench: %s\n", err.msg);
        return 1;
    }
    uint64_t warm;
    if (cm_pd_get_ts(c, &warm, &err) != 0) { /* connect before the clock starts */
        fprintf(stderr, "tso_bench: %s\n", err.msg);
        return 1;
    }
    cm_pd_client_stats before;
    cm_pd_client_stats_get(c, &before);
    worker *w = calloc((size_t)threads, sizeof(*w));
    pthread_t *th = calloc((size_t)threads, sizeof(*th));
    if (w == NULL || th == NULL) {
        return 1;
    }
    uint64_t t0 = cm_time_mono_ns();
    for (int i = 0; i < threads; i++) {
        w[i].c = c;
        w[i].mode = mode;
        w[i].deadline_ns = t0 + (uint64_t)(seconds * 1e9);
        w[i].lat_ns = malloc(SAMPLES_MAX * sizeof(uint32_t));
        if (w[i].lat_ns == NULL) {
            return 1;
        }
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    uint64_t calls = 0, errors = 0;
    size_t nlat = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        calls += w[i].calls;
        errors += w[i].errors;
        nlat += w[i].nlat;
    }
    double elapsed = (double)(cm_time_mono_ns() - t0) / 1e9;
    uint32_t *all = malloc((nlat ? nlat : 1) * sizeof(uint32_t));
    size_t k = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(all + k, w[i].lat_ns, w[i].nlat * sizeof(uint32_t));
        k += w[i].nlat;
        free(w[i].lat_ns);
    }
    qsort(all, nlat, sizeof(uint32_t), cmp_u32);
    double p50 = nlat ? all[nlat / 2] / 1000.0 : 0;
    double p99 = nlat ? all[(nlat * 99) / 100] / 1000.0 : 0;
    double pmax = nlat ? all[nlat - 1] / 1000.0 : 0;
    cm_pd_client_stats after;
    cm_pd_client_stats_get(c, &after);
    uint64_t reqs = after.tso.requests - before.tso.requests;
    uint64_t tss = after.tso.timestamps - before.tso.timestamps;
    printf("{\"mode\":\"%s\",\"threads\":%d,\"seconds\":%.2f,\"calls\":%" PRIu64
           ",\"errors\":%" PRIu64 ",\"per_s\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f",
           mode_s, threads, elapsed, calls, errors, (double)calls / elapsed, p50, p99, pmax);
    if (mode == 0) {
        printf(",\"tso_requests\":%" PRIu64 ",\"avg_batch\":%.2f,\"max_batch\":%" PRIu64
               ",\"batch_buckets\":{",
               reqs, reqs ? (double)tss / (double)reqs : 0.0, after.tso.max_batch);
        int first = 1;
        for (int i = 0; i < CM_TSO_BATCH_BUCKETS; i++) {
            uint64_t n = after.tso.size_buckets[i] - before.tso.size_buckets[i];
            if (n) {
                printf("%s\"<=%u\":%" PRIu64, first ? "" : ",", 1u << i, n);
                first = 0;
            }
        }
        printf("}");
    }
    printf("}\n");
    free(all);
    free(w);
    free(th);
    cm_pd_client_free(c);
    return errors ? 1 : 0;
}
