/* kv_config.h — the kvnode's configuration table (DESIGN.md §5). */
#ifndef KV_CONFIG_H
#define KV_CONFIG_H

#include "cm_config.h"

#include <stdint.h>

typedef struct kv_config {
    char *pd_addrs;
    char *data_dir;
    char *listen_addr;
    char *advertise_addr;
    char *status_addr;
    int log_level;
    char *log_file;
    int64_t block_cache_bytes;
    int64_t raft_tick_ms;
    int64_t raft_election_ticks;
    int64_t raft_heartbeat_ticks;
    int64_t region_split_bytes;
    int64_t region_split_keys;
    int64_t rpc_workers;
    int sync_log;
    int64_t max_replicas;
} kv_config;

extern const cm_cfg_table kv_config_table;

#endif
