/* kv_config.c — the kvnode's option table. Defaults follow DESIGN.md §5 and TiKV's own. */
#include "kv_config.h"

#include <stddef.h>

static const cm_cfg_option options[] = {
    {"pd", CM_CFG_STRING, offsetof(kv_config, pd_addrs), "127.0.0.1:2379", 0, 0, NULL,
     "PD addresses, comma-separated"},
    {"data-dir", CM_CFG_STRING, offsetof(kv_config, data_dir), "./data/kv", 0, 0, NULL,
     "directory of this store's RocksDB"},
    {"listen-addr", CM_CFG_STRING, offsetof(kv_config, listen_addr), "127.0.0.1:20160", 0, 0, NULL,
     "RPC listen address"},
    {"advertise-addr", CM_CFG_STRING, offsetof(kv_config, advertise_addr), "", 0, 0, NULL,
     "RPC address peers and clients must use (default: listen-addr)"},
    {"status-addr", CM_CFG_STRING, offsetof(kv_config, status_addr), "127.0.0.1:20180", 0, 0, NULL,
     "HTTP status address (/metrics, /status)"},
    {"log-level", CM_CFG_ENUM, offsetof(kv_config, log_level), "info", 0, 0,
     "trace|debug|info|warn|error|off", "minimum log level"},
    {"log-file", CM_CFG_STRING, offsetof(kv_config, log_file), "", 0, 0, NULL,
     "log file (default: stderr)"},
    {"block-cache-size", CM_CFG_SIZE, offsetof(kv_config, block_cache_bytes), "256M", 1 << 20,
     1LL << 40, NULL, "RocksDB block cache"},
    {"raft-tick", CM_CFG_DURATION, offsetof(kv_config, raft_tick_ms), "100ms", 1, 10000, NULL,
     "Raft tick interval"},
    {"raft-election-ticks", CM_CFG_INT, offsetof(kv_config, raft_election_ticks), "10", 2, 1000,
     NULL, "election timeout in ticks (randomized up to twice this)"},
    {"raft-heartbeat-ticks", CM_CFG_INT, offsetof(kv_config, raft_heartbeat_ticks), "2", 1, 100,
     NULL, "heartbeat interval in ticks"},
    {"region-split-size", CM_CFG_SIZE, offsetof(kv_config, region_split_bytes), "96M", 1024,
     1LL << 36, NULL, "split a region above this approximate size"},
    {"region-split-keys", CM_CFG_INT, offsetof(kv_config, region_split_keys), "960000", 10,
     1LL << 40, NULL, "split a region above this approximate key count"},
    {"rpc-workers", CM_CFG_INT, offsetof(kv_config, rpc_workers), "32", 2, 256, NULL,
     "RPC worker threads (KV commands in progress are capped 4 below, leaving room for Raft)"},
    {"sync-log", CM_CFG_BOOL, offsetof(kv_config, sync_log), "true", 0, 0, NULL,
     "fsync the Raft log before acknowledging (turn off only for throwaway benchmarks)"},
    {"max-replicas", CM_CFG_INT, offsetof(kv_config, max_replicas), "3", 1, 7, NULL,
     "ignored (kept so old command lines parse): PD decides replicas, see pd --max-replicas"},
};

const cm_cfg_table kv_config_table = {
    "kvnode", "Tessera KV node: one store of Raft-replicated regions with Percolator MVCC.",
    options, sizeof(options) / sizeof(options[0])};
