/* pd_server_int.h — what pd_server.c and pd_handlers.c share (private to pd/server). */
#ifndef PD_SERVER_INT_H
#define PD_SERVER_INT_H

#include "cm_metrics.h"
#include "cm_rpc.h"
#include "pd_cluster.h"
#include "pd_id.h"
#include "pd_kv.h"
#include "pd_registry.h"
#include "pd_sched.h"
#include "pd_server.h"
#include "pd_store.h"
#include "pd_tso.h"

#include <pthread.h>
#include <stdatomic.h>

#define PD_METHODS_COUNT 23 /* method ids 1..22 of pdpb.Method, index 0 unused */

typedef struct pd_metrics {
    cm_counter *tso_requests;
    cm_counter *tso_timestamps;
    cm_histogram *tso_batch;
    cm_counter *tso_mark_writes;
    cm_counter *tso_clock_behind;
    cm_gauge *stores[PD_STORE_LIVE_COUNT];
    cm_gauge *regions;
    cm_counter *region_heartbeats;
    cm_counter *region_stale;
    cm_gauge *registry_entries;
    cm_gauge *gc_safe_point;
    cm_counter *requests[PD_METHODS_COUNT];
    cm_counter *request_errors;
    cm_counter *operators[PD_OP_KIND_COUNT]; /* new operators by kind */
    cm_counter *operators_done;
    cm_counter *operators_timeout;
    cm_gauge *operators_inflight;
} pd_metrics;

struct pd_server {
    pd_server_options opt; /* strings below are owned copies */
    char *name, *data_dir, *listen_addr, *advertise_addr, *status_addr, *version, *config_json;
    uint64_t start_wall_ms;
    pd_kv kv;
    int kv_open;
    pd_tso tso;
    int tso_open;
    pd_id_alloc ids;
    int ids_open;
    pd_cluster cluster;
    int cluster_open;
    pd_registry registry;
    int registry_open;
    pd_sched sched;
    int sched_open;
    cm_rpc_server *rpc;
    cm_status_server *status;
    pd_metrics m;
    pthread_t tick_thread;
    int tick_started;
    pthread_mutex_t tick_mu;
    pthread_cond_t tick_cv;
    int stopping;
    uint64_t last_mark_writes, last_clock_behind;
    uint64_t last_ops_done, last_ops_timeout;
};

/* The method table (pd_handlers.c). */
extern const cm_rpc_method pd_methods[];
extern const size_t pd_methods_count;

/* PD's monotonic clock for liveness and leases. */
uint64_t pd_server_mono_ms(void);

#endif
