/* TEMPORARY latency trace (kvperf investigation): KV_LAT_TRACE=1 prints events to stderr. */
#ifndef KV_LAT_TRACE_H
#define KV_LAT_TRACE_H
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
static inline int kv_lat_on(void)
{
    static int on = -1;
    if (on < 0) {
        on = getenv("KV_LAT_TRACE") != NULL;
    }
    return on;
}
static inline unsigned long long kv_lat_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000;
}
#define KV_LAT(...)                                                                            \
    do {                                                                                       \
        if (kv_lat_on()) {                                                                     \
            char kv_lat_b[256];                                                                \
            int kv_lat_n = snprintf(kv_lat_b, sizeof(kv_lat_b), "LAT %llu %d ", kv_lat_us(),   \
                                    (int)getpid());                                            \
            kv_lat_n += snprintf(kv_lat_b + kv_lat_n, sizeof(kv_lat_b) - (size_t)kv_lat_n,     \
                                 __VA_ARGS__);                                                 \
            fprintf(stderr, "%s\n", kv_lat_b);                                                 \
        }                                                                                      \
    } while (0)
#endif
