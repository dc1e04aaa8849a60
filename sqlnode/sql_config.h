/* sql_config.h — the sqlnode's configuration table (DESIGN.md §7). */
#ifndef SQL_CONFIG_H
#define SQL_CONFIG_H

#include "cm_config.h"

#include <stdint.h>

typedef struct sql_config {
    char *pd_addrs;
    char *mysql_addr;
    char *status_addr;
    char *advertise_addr;
    int log_level;
    char *log_file;
    int64_t max_connections;
    int64_t max_allowed_packet;
    int64_t wait_timeout_ms;
    int require_secure_transport;
    char *ssl_cert;
    char *ssl_key;
    char *tls_dir;
    char *root_password;
    char *users;
    int default_auth_plugin;
    int64_t schema_lease_ms;
    int64_t ddl_owner_ttl_ms;
    int64_t ddl_backfill_workers;
    int64_t ddl_backfill_batch;
    int64_t gc_life_time_ms;
    int64_t stmt_cache_size;
    int64_t cluster_wait_ms;
    int64_t autocommit_retries;
} sql_config;

extern const cm_cfg_table sql_config_table;

#endif
