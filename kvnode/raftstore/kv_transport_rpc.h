/*
 * kv_transport_rpc.h — the raftstore's transport between real processes, over common/rpc.
 *
 * Outgoing: kv_transport_rpc_send() is a kv_raftstore_env.send_cb. It sends each payload (a
 * packed BatchRaftMessage or SnapshotChunk) as one asynchronous RPC (methods RAFT_BATCH and
 * SNAPSHOT_CHUNK of proto/kvrpcpb.proto) on a per-store client, created on first use with the
 * address the resolver gives (PD's store table in the kvnode). Nothing is resent: Raft resends
 * what matters, and a lost message costs less than a stale one delivered late.
 *
 * Incoming: the methods of kv_transport_rpc_methods() are registered on the kvnode's RPC server.
 * Their handlers, on RPC worker threads, only copy the payload into an inbox and reply; the
 * store's loop thread takes the inbox with kv_transport_rpc_drain(), which hands each payload to
 * kv_raftstore_on_raft_batch / _on_snapshot_chunk — so the store stays single-threaded.
 */
#ifndef KV_TRANSPORT_RPC_H
#define KV_TRANSPORT_RPC_H

#include "kv_raftstore.h"

#include "cm_rpc.h"

/* Bytes the inbox may hold before handlers answer SERVER_IS_BUSY (the sender drops the message
 * and Raft resends): a loop that fell behind must not make memory grow without bound. 256 MiB
 * holds a full-size snapshot plus ordinary traffic. */
#define KV_TRANSPORT_INBOX_BYTES_MAX (256u * 1024 * 1024)

typedef struct kv_transport_rpc kv_transport_rpc;

/* Resolves a store id to its RPC address ("host:port") into addr (reset first). */
typedef int (*kv_store_resolve_cb)(void *ctx, uint64_t store_id, cm_buf *addr, cm_err *err);

typedef struct kv_transport_rpc_config {
    uint64_t store_id;
    kv_store_resolve_cb resolve_cb;
    void *resolve_ctx;
    int64_t call_timeout_ms;  /* per message; 0: 2000 */
    uint64_t inbox_bytes_max; /* 0: KV_TRANSPORT_INBOX_BYTES_MAX */
} kv_transport_rpc_config;

int kv_transport_rpc_create(const kv_transport_rpc_config *cfg, kv_transport_rpc **out,
                            cm_err *err);
/* Closes every client (in-flight sends fail), then frees. The server whose methods point here
 * must be freed first. */
void kv_transport_rpc_free(kv_transport_rpc *t);

/* A kv_raftstore_env.send_cb: ctx is the transport. Thread-safe. */
int kv_transport_rpc_send(void *ctx, uint64_t to_store, uint32_t method, cm_slice payload);

/* The server methods (RAFT_BATCH, SNAPSHOT_CHUNK); register them with the transport as user. */
const cm_rpc_method *kv_transport_rpc_methods(size_t *n);

/* On the store's thread: hands up to max queued payloads (0: all) to the store. Returns how many
 * were delivered. */
size_t kv_transport_rpc_drain(kv_transport_rpc *t, kv_raftstore *s, size_t max);
/* Waits until the inbox is not empty or timeout_ms passes; true if something is there. */
bool kv_transport_rpc_wait(kv_transport_rpc *t, int64_t timeout_ms);

typedef struct kv_transport_rpc_stats {
    uint64_t sent;         /* payloads handed to RPC */
    uint64_t send_failed;  /* not sent (no address, client busy, too large) */
    uint64_t call_failed;  /* sent but the call failed (timeout, peer down) */
    uint64_t received;     /* payloads taken into the inbox */
    uint64_t refused_busy; /* refused: inbox full */
} kv_transport_rpc_stats;

void kv_transport_rpc_stats_get(kv_transport_rpc *t, kv_transport_rpc_stats *out);

#endif
