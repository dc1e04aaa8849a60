/*
 * cm_kv_int.h — internals of the transactional KV client shared by its files and unit tests.
 */
#ifndef CM_KV_INT_H
#define CM_KV_INT_H

#include "cm_kv_client.h"
#include "cm_membuf.h"
#include "cm_pd_client.h"
#include "cm_rpc.h"

#include "kvrpcpb.pb-c.h"

#include <pthread.h>
#include <stdatomic.h>

#define CM_KV_CONNS_MAX 64   /* store connections kept (stores in the cluster) */
#define CM_KV_HINTS_MAX 1024 /* leader hints kept (regions recently used) */

typedef struct kv_conn {
    uint64_t store_id;
    cm_rpc_client *rpc;
} kv_conn;

typedef struct kv_hint {
    uint64_t region_id;
    uint64_t store_id;
} kv_hint;

struct cm_kv_client {
    cm_kv_client_options o;
    cm_pd_client *pd;
    pthread_mutex_t mu;
    kv_conn conns[CM_KV_CONNS_MAX];
    size_t nconns;
    kv_hint hints[CM_KV_HINTS_MAX];
    atomic_uint_fast64_t rpcs, region_errors, retries, locks_resolved, commits, conflicts,
        undetermined;
};

/* A region route for requests: the PD region plus the user-key range it covers. */
typedef struct kv_route {
    cm_pd_region r;
    cm_buf start_user; /* empty: -inf */
    cm_buf end_user;   /* empty: +inf */
} kv_route;

void kv_route_init(kv_route *rt);
void kv_route_fini(kv_route *rt);
/* The region holding user key. */
int kv_locate(cm_kv_client *c, cm_slice key, kv_route *rt, cm_err *err);

/* Sends req (its Context is filled here) to the region's leader and unpacks the reply into
 * *resp (free with protobuf_c_message_free_unpacked). Retries leadership changes, busy stores
 * and transport failures until deadline_ms (monotonic). Returns 0 with a reply without region
 * error; CM_E_EPOCH_NOT_MATCH when the route changed (the caller relocates: the cache entry is
 * already dropped); CM_E_TIMEOUT at the deadline (*uncertain set when some attempt may have
 * executed); or another error. */
int kv_send(cm_kv_client *c, const kv_route *rt, uint32_t method, ProtobufCMessage *req,
            const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
            uint64_t deadline_ms, bool *uncertain, cm_err *err);

/* Locates key and sends (relocating after route changes) until deadline_ms. */
int kv_send_by_key(cm_kv_client *c, cm_slice key, uint32_t method, ProtobufCMessage *req,
                   const ProtobufCMessageDescriptor *desc, ProtobufCMessage **resp,
                   uint64_t deadline_ms, bool *uncertain, cm_err *err);

/* Resolves a lock met by a reader at caller_ts. Returns 0 when the lock is gone (committed or
 * rolled back and resolved), CM_E_KEY_IS_LOCKED when its transaction is alive (*wait_ms: how
 * long to wait before trying again), or an error. */
int kv_resolve_lock(cm_kv_client *c, const Tessera__Kvrpcpb__LockInfo *lock, uint64_t caller_ts,
                    uint64_t deadline_ms, uint64_t *wait_ms, cm_err *err);
/* kv_resolve_lock for the n locks one request met (a prewrite reports every locked key of its
 * region): one CheckTxnStatus per transaction and one ResolveLock per transaction carrying all of
 * its keys, instead of a round trip per key — a dead transaction that locked thousands of keys
 * (a DDL owner killed mid-backfill) is cleared at once. Keys of one lock holder must be in one
 * region (they come from one region's response). CM_E_KEY_IS_LOCKED if any holder is alive (the
 * others are resolved first). */
int kv_resolve_locks(cm_kv_client *c, Tessera__Kvrpcpb__LockInfo *const *locks, size_t n,
                     uint64_t caller_ts, uint64_t deadline_ms, uint64_t *wait_ms, cm_err *err);

/* The error of a CoprocessorResponse.other_error ("[code] message" from the executor, or the
 * GC refusal): returns the code (CM_E_GC_TOO_EARLY, the executor's, or CM_E_INTERNAL). */
int kv_copr_other_error(const char *msg, cm_err *err);

/* Sleeps the backoff of attempt n (exponential from 2 ms to 200 ms), never past deadline_ms. */
void kv_backoff(unsigned attempt, uint64_t deadline_ms);

/* ---- grouping (pure; unit-tested) ------------------------------------------------------ */

/* Locates user key: its region id and the region's end as a user key (empty: +inf). */
typedef int (*kv_locate_fn)(void *ctx, cm_slice key, uint64_t *region_id, cm_buf *end_user,
                            cm_err *err);
/* keys sorted ascending; writes the first index of each run of keys in one region to starts
 * (capacity n) and their count to *ngroups. */
int kv_group_sorted(const cm_slice *keys, size_t n, kv_locate_fn locate, void *ctx, size_t *starts,
                    size_t *ngroups, cm_err *err);

#endif
