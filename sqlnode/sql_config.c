/* sql_config.c — the sqlnode's option table. Defaults follow MySQL 8.0 and TiDB. */
#include "sql_config.h"

#include "cm_limits.h"

#include <stddef.h>

#define DAY_MS (24LL * 3600 * 1000)

static const cm_cfg_option options[] = {
    {"pd", CM_CFG_STRING, offsetof(sql_config, pd_addrs), "", 0, 0, NULL,
     "PD address; empty: no cluster (protocol only: tables give 1146, DDL 1235)"},
    {"cluster-wait", CM_CFG_DURATION, offsetof(sql_config, cluster_wait_ms), "60s", 1000, DAY_MS,
     NULL, "how long start-up waits for PD and the kvnodes before giving up"},
    {"mysql-addr", CM_CFG_STRING, offsetof(sql_config, mysql_addr), "127.0.0.1:4000", 0, 0, NULL,
     "MySQL protocol listen address"},
    {"status-addr", CM_CFG_STRING, offsetof(sql_config, status_addr), "127.0.0.1:10080", 0, 0, NULL,
     "HTTP status address (/metrics, /status)"},
    {"advertise-addr", CM_CFG_STRING, offsetof(sql_config, advertise_addr), "", 0, 0, NULL,
     "address other nodes see for this sqlnode (default: mysql-addr)"},
    {"log-level", CM_CFG_ENUM, offsetof(sql_config, log_level), "info", 0, 0,
     "trace|debug|info|warn|error|off", "minimum log level"},
    {"log-file", CM_CFG_STRING, offsetof(sql_config, log_file), "", 0, 0, NULL,
     "log file (default: stderr)"},
    {"max-connections", CM_CFG_INT, offsetof(sql_config, max_connections), "1000", 1, 100000, NULL,
     "MySQL connections served at once (more get error 1040)"},
    {"max-allowed-packet", CM_CFG_SIZE, offsetof(sql_config, max_allowed_packet), "64M", 1024,
     1LL << 30, NULL, "largest client packet (MySQL's max_allowed_packet)"},
    {"wait-timeout", CM_CFG_DURATION, offsetof(sql_config, wait_timeout_ms), "8h", 1000,
     365 * DAY_MS, NULL, "idle connections are closed after this long"},
    {"require-secure-transport", CM_CFG_BOOL, offsetof(sql_config, require_secure_transport),
     "false", 0, 0, NULL, "refuse connections that do not use TLS"},
    {"ssl-cert", CM_CFG_STRING, offsetof(sql_config, ssl_cert), "", 0, 0, NULL,
     "TLS certificate (PEM); empty: generate a self-signed one on first start"},
    {"ssl-key", CM_CFG_STRING, offsetof(sql_config, ssl_key), "", 0, 0, NULL,
     "TLS private key (PEM)"},
    {"tls-dir", CM_CFG_STRING, offsetof(sql_config, tls_dir), "./data/sql", 0, 0, NULL,
     "where a generated certificate and RSA key pair are kept"},
    {"root-password", CM_CFG_STRING, offsetof(sql_config, root_password), "", 0, 0, NULL,
     "password of root@%; with a cluster it is written once, when the cluster's accounts are "
     "bootstrapped (then ALTER USER changes it)"},
    {"users", CM_CFG_STRING, offsetof(sql_config, users), "", 0, 0, NULL,
     "more accounts (with a cluster: written once at its bootstrap, as user@%): "
     "user:plugin:password,... (plugin: "
     "mysql_native_password or caching_sha2_password; no commas in passwords)"},
    {"default-auth-plugin", CM_CFG_ENUM, offsetof(sql_config, default_auth_plugin),
     "mysql_native_password", 0, 0, "mysql_native_password|caching_sha2_password",
     "plugin announced in the handshake and used by root"},
    {"schema-lease", CM_CFG_DURATION, offsetof(sql_config, schema_lease_ms), "45s", 1000, DAY_MS,
     NULL,
     "schema lease (DESIGN.md §8, docs/ddl.md): a node that could not load the schema version "
     "for this long answers table statements with 8027; DDL waits for every node up to two "
     "leases per state"},
    {"ddl-owner-ttl", CM_CFG_DURATION, offsetof(sql_config, ddl_owner_ttl_ms), "0", 0, DAY_MS, NULL,
     "the DDL owner's lease in PD; 0: min(schema-lease, 10s)"},
    {"ddl-backfill-workers", CM_CFG_INT, offsetof(sql_config, ddl_backfill_workers), "4", 1, 64,
     NULL, "index backfill batch transactions in flight"},
    {"ddl-backfill-batch", CM_CFG_INT, offsetof(sql_config, ddl_backfill_batch), "1024", 1, 65536,
     NULL, "rows per index backfill transaction"},
    {"gc-life-time", CM_CFG_DURATION, offsetof(sql_config, gc_life_time_ms), "10m", 1000,
     30 * DAY_MS, NULL, "MVCC versions younger than this are kept"},
    {"autocommit-retries", CM_CFG_INT, offsetof(sql_config, autocommit_retries), "5", 1, 100, NULL,
     "re-runs of an autocommit DML statement after a write conflict before 1213"},
    {"stmt-cache-size", CM_CFG_INT, offsetof(sql_config, stmt_cache_size), "256", 0, 100000, NULL,
     "prepared SQLite statements cached per session"},
};

const cm_cfg_table sql_config_table = {
    "sqlnode", "Tessera SQL node: MySQL protocol, SQLite planner and VDBE over the KV store.",
    options, sizeof(options) / sizeof(options[0])};
