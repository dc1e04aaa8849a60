/*
 * kv_server.h — the kvnode process's server (DESIGN.md §5, docs/kv-protocol.md): one store.
 *
 * Wires together the engine (RocksDB), the multi-Raft store (kvnode/raftstore) with its RPC
 * transport, the transaction layer (kvnode/txn), the coprocessor (kvnode/copr), the RPC server
 * with the kvrpcpb methods, the PD client (registration, store and region heartbeats, executing
 * the operators PD's scheduler answers them with) and the status HTTP server.
 *
 * Threads: the store loop (the raftstore's own thread: ticks, process, transport inbox), a PD
 * thread (heartbeats, PD's operators), the RPC workers (requests: they latch, read, run the
 * Percolator step and wait for the proposal to apply) and the status server's threads.
 */
#ifndef KV_SERVER_H
#define KV_SERVER_H

#include "cm_err.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct kv_server kv_server;

typedef struct kv_server_options {
    const char *pd_addr;        /* borrowed; "host:port" */
    const char *data_dir;       /* borrowed; created when missing */
    const char *listen_addr;    /* borrowed; port 0 picks one */
    const char *advertise_addr; /* borrowed; "" = listen address with the bound port */
    const char *status_addr;    /* borrowed; "" = no status server */
    uint64_t block_cache_bytes;
    uint64_t tick_ms;
    uint32_t election_ticks;
    uint32_t heartbeat_ticks;
    uint32_t max_replicas; /* unused: PD decides replica counts (pd --max-replicas) */
    int rpc_workers;
    bool sync_log;
    const char *config_json; /* borrowed; shown in /status */
} kv_server_options;

/* Opens the data directory, registers with PD (store id persisted in data_dir/store_id),
 * bootstraps the first region when PD hands it over, opens the store and starts serving.
 * Returns 0 with *out, or an error (nothing left running). */
int kv_server_start(const kv_server_options *o, kv_server **out, cm_err *err);
/* Stops serving (in-flight requests finish), stops the loops, closes the store and the engine. */
void kv_server_stop(kv_server *s);

uint64_t kv_server_store_id(const kv_server *s);
int kv_server_rpc_port(const kv_server *s);
int kv_server_status_port(const kv_server *s);

#endif
