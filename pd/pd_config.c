/* pd_config.c — PD's option table. Defaults follow DESIGN.md §6 and PD's own. */
#include "pd_config.h"

#include <stddef.h>

#define DAY_MS (24LL * 3600 * 1000)

static const cm_cfg_option options[] = {
    {"name", CM_CFG_STRING, offsetof(pd_config, name), "pd-1", 0, 0, NULL, "this PD member's name"},
    {"data-dir", CM_CFG_STRING, offsetof(pd_config, data_dir), "./data/pd", 0, 0, NULL,
     "directory of PD's RocksDB state"},
    {"listen-addr", CM_CFG_STRING, offsetof(pd_config, listen_addr), "127.0.0.1:2379", 0, 0, NULL,
     "RPC listen address"},
    {"advertise-addr", CM_CFG_STRING, offsetof(pd_config, advertise_addr), "", 0, 0, NULL,
     "RPC address clients must use (default: listen-addr)"},
    {"status-addr", CM_CFG_STRING, offsetof(pd_config, status_addr), "127.0.0.1:2380", 0, 0, NULL,
     "HTTP status address (/metrics, /status)"},
    {"initial-cluster", CM_CFG_STRING, offsetof(pd_config, initial_cluster), "", 0, 0, NULL,
     "name=addr,... of the PD members (empty: a single PD)"},
    {"log-level", CM_CFG_ENUM, offsetof(pd_config, log_level), "info", 0, 0,
     "trace|debug|info|warn|error|off", "minimum log level"},
    {"log-file", CM_CFG_STRING, offsetof(pd_config, log_file), "", 0, 0, NULL,
     "log file (default: stderr)"},
    {"tso-save-window", CM_CFG_DURATION, offsetof(pd_config, tso_save_window_ms), "3s", 50, 60000,
     NULL, "how far ahead the TSO high-water mark is persisted"},
    {"id-alloc-window", CM_CFG_INT, offsetof(pd_config, id_alloc_window), "1000", 1, 1000000, NULL,
     "ids reserved per persisted allocation step"},
    {"max-replicas", CM_CFG_INT, offsetof(pd_config, max_replicas), "3", 1, 7, NULL,
     "voters per region, on distinct stores: PD adds, promotes and removes peers to keep it"},
    {"max-store-down-time", CM_CFG_DURATION, offsetof(pd_config, max_store_down_time_ms), "30m",
     1000, 7 * DAY_MS, NULL, "a store silent this long is Down and its peers are replaced"},
    {"store-heartbeat-timeout", CM_CFG_DURATION, offsetof(pd_config, store_heartbeat_timeout_ms),
     "20s", 100, DAY_MS, NULL, "a store silent this long is Disconnected"},
    {"operator-timeout", CM_CFG_DURATION, offsetof(pd_config, operator_timeout_ms), "30s", 1000,
     DAY_MS, NULL, "a scheduling operator not done by then is dropped and decided again"},
    {"leader-lease", CM_CFG_DURATION, offsetof(pd_config, leader_lease_ms), "3s", 100, 60000, NULL,
     "PD leader lease when PD runs as 3 replicas"},
    {"rpc-workers", CM_CFG_INT, offsetof(pd_config, rpc_workers), "0", 0, 256, NULL,
     "RPC worker threads (0: the RPC layer's default)"},
};

const cm_cfg_table pd_config_table = {
    "pd", "Tessera placement driver: timestamps, ids, cluster map, scheduling.", options,
    sizeof(options) / sizeof(options[0])};
