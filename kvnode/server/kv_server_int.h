/*
 * kv_server_int.h — internals shared by the kvnode server's files: the server object, the
 * synchronous bridge from RPC worker threads to the store thread, and the request handlers.
 */
#ifndef KV_SERVER_INT_H
#define KV_SERVER_INT_H

#include "kv_server.h"

#include "cm_metrics.h"
#include "cm_pd_client.h"
#include "cm_rpc.h"
#include "kv_engine.h"
#include "kv_latch.h"
#include "kv_raftstore.h"
#include "kv_transport_rpc.h"

#include <pthread.h>
#include <stdatomic.h>

#define KV_SRV "kvserver"

/* How long a worker waits for the store thread to answer a read, split or conf change before it
 * gives up (the store answers NOT_LEADER / STALE_COMMAND long before in any normal case; this
 * only bounds a stuck store). A proposal holding latches is never abandoned early: the latches
 * travel with it (see kv_call). */
#define KV_SRV_CALL_TIMEOUT_MS 10000
/* Regions tracked by the PD thread's heartbeat queue and repair book-keeping at once. */
#define KV_SRV_HB_QUEUE_MAX 4096

/* Summary the store thread publishes every tick for other threads (status, store heartbeat). */
typedef struct kv_srv_summary {
    uint32_t regions;
    uint32_t leaders;
    kv_raftstore_stats rs;
    kv_engine_stats eng;
} kv_srv_summary;

/* One region heartbeat waiting for the PD thread. */
typedef struct kv_srv_hb {
    kv_region region;
    kv_peer leader;
    uint64_t term;
    uint64_t approx_bytes;
    uint64_t approx_keys;
    uint32_t pending_peers;
    uint64_t pending_peer_ids[KV_REGION_PEERS_MAX]; /* the first pending_peers of them */
} kv_srv_hb;

/* A PD operator running for a region (one at a time per region). */
typedef struct kv_srv_op {
    uint64_t region_id;
    uint64_t deadline_ms; /* 0: free */
} kv_srv_op;

struct kv_server {
    kv_server_options opts;
    char advertise[CM_ADDR_MAX];
    char status_advertise[CM_ADDR_MAX];
    char *data_dir;
    char *config_json;
    uint64_t store_id;
    kv_engine *engine;
    kv_raftstore *rs;
    kv_transport_rpc *transport;
    kv_latches *latches;
    cm_pd_client *pd;
    cm_rpc_server *rpc;
    cm_status_server *status;

    pthread_t store_thread;
    pthread_t pd_thread;
    bool store_thread_started;
    bool pd_thread_started;
    atomic_bool stop_store;
    atomic_bool stop_pd;
    /* Set once the store is open: the RPC server starts earlier (the store id and address must
     * be registered first), and requests before that are answered ServerIsBusy. */
    atomic_bool ready;
    atomic_int kv_inflight; /* KV commands in progress (kv_service.c gate) */
    int kv_inflight_max;

    pthread_mutex_t mu; /* summary, hb queue, ops */
    kv_srv_summary summary;
    kv_srv_hb *hbs;
    size_t n_hbs;
    kv_srv_op ops[64];

    /* metrics */
    cm_counter *m_requests[64];
    cm_counter *m_errors;
    cm_gauge *m_regions, *m_leaders, *m_syncs, *m_writes, *m_proposals, *m_applied;
    cm_gauge *m_lease_reads, *m_index_reads;
    cm_counter *m_repairs;
    /* coprocessor (docs/observability.md) */
    cm_counter *m_copr_requests, *m_copr_scanned, *m_copr_returned, *m_copr_bytes;
    cm_histogram *m_copr_seconds;
};

/* ---- the bridge to the store thread (kv_service.c) ------------------------------------------ */

typedef enum kv_call_kind {
    KV_CALL_READ = 1,
    KV_CALL_PROPOSE = 2,
    KV_CALL_SPLIT = 3,
    KV_CALL_CONF = 4,
} kv_call_kind;

/* A request handed to the store thread and its answer. Reference counted: the worker and the
 * store-side callback each hold one; whoever drops the last frees it. If the worker gives up
 * waiting, the callback releases what the call still owns (snapshot, latches). */
typedef struct kv_call {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    bool done;
    bool abandoned;
    kv_server *srv;
    kv_call_kind kind;
    uint64_t region_id;
    kv_epoch epoch;
    kv_batch batch;
    cm_buf split_key;
    kv_conf_op op;
    kv_peer peer;
    kv_latch_guard guard; /* released by whoever finishes the call last */
    bool has_guard;
    /* answer */
    int rc;
    char msg[160];
    kv_peer leader;
    kv_region regions[2]; /* read: [0] the region; split: left, right; epoch errors: current */
    size_t n_regions;
    kv_snapshot *snap;
} kv_call;

kv_call *kv_call_new(kv_server *s, kv_call_kind kind, uint64_t region_id, kv_epoch epoch);
/* Posts the call to the store thread and waits (bounded) for the answer. Returns call->rc. */
int kv_call_run(kv_call *c);
/* Drops the worker's reference (releases the snapshot and latches when still held). */
void kv_call_put(kv_call *c);

/* The kvrpcpb methods served by the server (RAFT_BATCH / SNAPSHOT_CHUNK are the transport's). */
const cm_rpc_method *kv_service_methods(size_t *n);

/* Status document (JSON object) for /status and STORE_STATUS. */
int kv_server_status_json(void *user, cm_buf *out);

#endif
