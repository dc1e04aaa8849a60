/* pd_config.h — the placement driver's configuration table (DESIGN.md §6). */
#ifndef PD_CONFIG_H
#define PD_CONFIG_H

#include "cm_config.h"

#include <stdint.h>

typedef struct pd_config {
    char *name;
    char *data_dir;
    char *listen_addr;
    char *advertise_addr;
    char *status_addr;
    char *initial_cluster;
    int log_level;
    char *log_file;
    int64_t tso_save_window_ms;
    int64_t id_alloc_window;
    int64_t max_replicas;
    int64_t max_store_down_time_ms;
    int64_t store_heartbeat_timeout_ms;
    int64_t operator_timeout_ms;
    int64_t leader_lease_ms;
    int64_t rpc_workers;
} pd_config;

extern const cm_cfg_table pd_config_table;

#endif
