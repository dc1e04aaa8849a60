/*
 * sql_sysvar.h — system variables as a table of data (Redis's config.c is the model): name,
 * type, scope, flags, default and bounds. Every variable the common drivers read on connect is
 * here (DESIGN.md §7; see docs/mysql-protocol.md for the list and what each one does today).
 *
 * Global values live in one sql_sysvars store (mutex-protected; SET GLOBAL changes it and new
 * sessions copy it); each session keeps its own copy of the session-scoped values
 * (sql_session_int.h). Reading and setting from SQL goes through the session (sql_sess_sysvar_*).
 */
#ifndef SQL_SYSVAR_H
#define SQL_SYSVAR_H

#include "cm_buf.h"
#include "cm_err.h"

#include <pthread.h>
#include <stdint.h>

typedef enum sql_sv_type {
    SQL_SV_BOOL,   /* i: 0/1; shown ON/OFF by SHOW VARIABLES, 0/1 by SELECT @@ */
    SQL_SV_INT,    /* i within [min, max] */
    SQL_SV_UINT,   /* i holds a uint64 (sql_select_limit) */
    SQL_SV_DOUBLE, /* d */
    SQL_SV_STR,    /* s (owned), or NULL when is_null */
    SQL_SV_ENUM,   /* i: index into choices */
    SQL_SV_SET,    /* i: bit mask over choices */
} sql_sv_type;

#define SQL_SV_GLOBAL     0x01 /* has a global value */
#define SQL_SV_SESSION    0x02 /* has a session value */
#define SQL_SV_BOTH       (SQL_SV_GLOBAL | SQL_SV_SESSION)
#define SQL_SV_RO         0x04 /* cannot be SET at all */
#define SQL_SV_NULLABLE   0x08 /* may be set to NULL (character_set_results) */
#define SQL_SV_SESSION_RO 0x10 /* the session value follows the global one and is read-only */
#define SQL_SV_COMPUTED   0x20 /* value computed from the session (warning_count, timestamp…) */

/* X(id, name, type, flags, default, min, max, choices) — in name order. */
#define SQL_SYSVAR_TABLE(X)                                                                        \
    X(AUTO_INCREMENT_INCREMENT, "auto_increment_increment", INT, SQL_SV_BOTH, "1", 1, 65535, 0)    \
    X(AUTO_INCREMENT_OFFSET, "auto_increment_offset", INT, SQL_SV_BOTH, "1", 1, 65535, 0)          \
    X(AUTOCOMMIT, "autocommit", BOOL, SQL_SV_BOTH, "ON", 0, 1, 0)                                  \
    X(BIG_TABLES, "big_tables", BOOL, SQL_SV_BOTH, "OFF", 0, 1, 0)                                 \
    X(CHARACTER_SET_CLIENT, "character_set_client", STR, SQL_SV_BOTH, "utf8mb4", 0, 0, 0)          \
    X(CHARACTER_SET_CONNECTION, "character_set_connection", STR, SQL_SV_BOTH, "utf8mb4", 0, 0, 0)  \
    X(CHARACTER_SET_DATABASE, "character_set_database", STR, SQL_SV_BOTH, "utf8mb4", 0, 0, 0)      \
    X(CHARACTER_SET_FILESYSTEM, "character_set_filesystem", STR, SQL_SV_BOTH, "binary", 0, 0, 0)   \
    X(CHARACTER_SET_RESULTS, "character_set_results", STR, SQL_SV_BOTH | SQL_SV_NULLABLE,          \
      "utf8mb4", 0, 0, 0)                                                                          \
    X(CHARACTER_SET_SERVER, "character_set_server", STR, SQL_SV_BOTH, "utf8mb4", 0, 0, 0)          \
    X(CHARACTER_SET_SYSTEM, "character_set_system", STR, SQL_SV_GLOBAL | SQL_SV_RO, "utf8mb3", 0,  \
      0, 0)                                                                                        \
    X(COLLATION_CONNECTION, "collation_connection", STR, SQL_SV_BOTH, "utf8mb4_bin", 0, 0, 0)      \
    X(COLLATION_DATABASE, "collation_database", STR, SQL_SV_BOTH, "utf8mb4_bin", 0, 0, 0)          \
    X(COLLATION_SERVER, "collation_server", STR, SQL_SV_BOTH, "utf8mb4_bin", 0, 0, 0)              \
    X(CONNECT_TIMEOUT, "connect_timeout", INT, SQL_SV_GLOBAL, "10", 2, 31536000, 0)                \
    X(CTE_MAX_RECURSION_DEPTH, "cte_max_recursion_depth", INT, SQL_SV_BOTH, "1000", 0,             \
      4294967295LL, 0)                                                                             \
    X(DEFAULT_AUTHENTICATION_PLUGIN, "default_authentication_plugin", STR,                         \
      SQL_SV_GLOBAL | SQL_SV_RO, "mysql_native_password", 0, 0, 0)                                 \
    X(DEFAULT_STORAGE_ENGINE, "default_storage_engine", STR, SQL_SV_BOTH, "InnoDB", 0, 0, 0)       \
    X(DEFAULT_WEEK_FORMAT, "default_week_format", INT, SQL_SV_BOTH, "0", 0, 7, 0)                  \
    X(DIV_PRECISION_INCREMENT, "div_precision_increment", INT, SQL_SV_BOTH, "4", 0, 30, 0)         \
    X(ERROR_COUNT, "error_count", INT, SQL_SV_SESSION | SQL_SV_RO | SQL_SV_COMPUTED, "0", 0, 0, 0) \
    X(EXPLICIT_DEFAULTS_FOR_TIMESTAMP, "explicit_defaults_for_timestamp", BOOL, SQL_SV_BOTH, "ON", \
      0, 1, 0)                                                                                     \
    X(FOREIGN_KEY_CHECKS, "foreign_key_checks", BOOL, SQL_SV_BOTH, "ON", 0, 1, 0)                  \
    X(GROUP_CONCAT_MAX_LEN, "group_concat_max_len", INT, SQL_SV_BOTH, "1024", 4, 4294967295LL, 0)  \
    X(HAVE_OPENSSL, "have_openssl", STR, SQL_SV_GLOBAL | SQL_SV_RO, "DISABLED", 0, 0, 0)           \
    X(HAVE_SSL, "have_ssl", STR, SQL_SV_GLOBAL | SQL_SV_RO, "DISABLED", 0, 0, 0)                   \
    X(HOSTNAME, "hostname", STR, SQL_SV_GLOBAL | SQL_SV_RO, "localhost", 0, 0, 0)                  \
    X(IDENTITY, "identity", INT, SQL_SV_SESSION | SQL_SV_COMPUTED, "0", 0, INT64_MAX, 0)           \
    X(INIT_CONNECT, "init_connect", STR, SQL_SV_GLOBAL, "", 0, 0, 0)                               \
    X(INFORMATION_SCHEMA_STATS_EXPIRY, "information_schema_stats_expiry", INT, SQL_SV_BOTH,        \
      "86400", 0, 31536000, 0)                                                                     \
    X(INNODB_LOCK_WAIT_TIMEOUT, "innodb_lock_wait_timeout", INT, SQL_SV_BOTH, "50", 1, 1073741824, \
      0)                                                                                           \
    X(INTERACTIVE_TIMEOUT, "interactive_timeout", INT, SQL_SV_BOTH, "28800", 1, 31536000, 0)       \
    X(LAST_INSERT_ID, "last_insert_id", INT, SQL_SV_SESSION | SQL_SV_COMPUTED, "0", 0, INT64_MAX,  \
      0)                                                                                           \
    X(LICENSE, "license", STR, SQL_SV_GLOBAL | SQL_SV_RO, "Apache-2.0", 0, 0, 0)                   \
    X(LOCK_WAIT_TIMEOUT, "lock_wait_timeout", INT, SQL_SV_BOTH, "31536000", 1, 31536000, 0)        \
    X(LONG_QUERY_TIME, "long_query_time", DOUBLE, SQL_SV_BOTH, "10", 0, 31536000, 0)               \
    X(LOWER_CASE_TABLE_NAMES, "lower_case_table_names", INT, SQL_SV_GLOBAL | SQL_SV_RO, "2", 0, 2, \
      0)                                                                                           \
    X(MAX_ALLOWED_PACKET, "max_allowed_packet", INT, SQL_SV_BOTH | SQL_SV_SESSION_RO, "67108864",  \
      1024, 1073741824, 0)                                                                         \
    X(MAX_CONNECTIONS, "max_connections", INT, SQL_SV_GLOBAL, "1000", 1, 100000, 0)                \
    X(MAX_ERROR_COUNT, "max_error_count", INT, SQL_SV_BOTH, "1024", 0, 65535, 0)                   \
    X(MAX_EXECUTION_TIME, "max_execution_time", INT, SQL_SV_BOTH, "0", 0, 4294967295LL, 0)         \
    X(MAX_JOIN_SIZE, "max_join_size", UINT, SQL_SV_BOTH, "18446744073709551615", 0, 0, 0)          \
    X(MAX_PREPARED_STMT_COUNT, "max_prepared_stmt_count", INT, SQL_SV_GLOBAL, "16382", 0, 4194304, \
      0)                                                                                           \
    X(MAX_USER_CONNECTIONS, "max_user_connections", INT, SQL_SV_BOTH, "0", 0, 4294967295LL, 0)     \
    X(NET_BUFFER_LENGTH, "net_buffer_length", INT, SQL_SV_BOTH, "16384", 1024, 1048576, 0)         \
    X(NET_READ_TIMEOUT, "net_read_timeout", INT, SQL_SV_BOTH, "30", 1, 31536000, 0)                \
    X(NET_WRITE_TIMEOUT, "net_write_timeout", INT, SQL_SV_BOTH, "60", 1, 31536000, 0)              \
    X(PERFORMANCE_SCHEMA, "performance_schema", BOOL, SQL_SV_GLOBAL | SQL_SV_RO, "OFF", 0, 1, 0)   \
    X(PORT, "port", INT, SQL_SV_GLOBAL | SQL_SV_RO, "4000", 0, 65535, 0)                           \
    X(PROTOCOL_VERSION, "protocol_version", INT, SQL_SV_GLOBAL | SQL_SV_RO, "10", 0, 255, 0)       \
    X(PSEUDO_THREAD_ID, "pseudo_thread_id", INT, SQL_SV_SESSION | SQL_SV_RO | SQL_SV_COMPUTED,     \
      "0", 0, INT64_MAX, 0)                                                                        \
    X(QUERY_CACHE_SIZE, "query_cache_size", INT, SQL_SV_GLOBAL | SQL_SV_RO, "0", 0, 0, 0)          \
    X(QUERY_CACHE_TYPE, "query_cache_type", ENUM, SQL_SV_BOTH, "OFF", 0, 0, "OFF|ON|DEMAND")       \
    X(READ_ONLY, "read_only", BOOL, SQL_SV_GLOBAL, "OFF", 0, 1, 0)                                 \
    X(REQUIRE_SECURE_TRANSPORT, "require_secure_transport", BOOL, SQL_SV_GLOBAL, "OFF", 0, 1, 0)   \
    X(SERVER_ID, "server_id", INT, SQL_SV_GLOBAL, "1", 0, 4294967295LL, 0)                         \
    X(SESSION_TRACK_GTIDS, "session_track_gtids", ENUM, SQL_SV_BOTH, "OFF", 0, 0,                  \
      "OFF|OWN_GTID|ALL_GTIDS")                                                                    \
    X(SESSION_TRACK_SCHEMA, "session_track_schema", BOOL, SQL_SV_BOTH, "ON", 0, 1, 0)              \
    X(SESSION_TRACK_STATE_CHANGE, "session_track_state_change", BOOL, SQL_SV_BOTH, "OFF", 0, 1, 0) \
    X(SESSION_TRACK_SYSTEM_VARIABLES, "session_track_system_variables", STR, SQL_SV_BOTH,          \
      "time_zone,autocommit,character_set_client,character_set_results,character_set_connection",  \
      0, 0, 0)                                                                                     \
    X(SESSION_TRACK_TRANSACTION_INFO, "session_track_transaction_info", ENUM, SQL_SV_BOTH, "OFF",  \
      0, 0, "OFF|STATE|CHARACTERISTICS")                                                           \
    X(SQL_AUTO_IS_NULL, "sql_auto_is_null", BOOL, SQL_SV_BOTH, "OFF", 0, 1, 0)                     \
    X(SQL_BIG_SELECTS, "sql_big_selects", BOOL, SQL_SV_BOTH, "ON", 0, 1, 0)                        \
    X(SQL_MODE, "sql_mode", SET, SQL_SV_BOTH,                                                      \
      "ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"                       \
      "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION",                                         \
      0, 0, SQL_SQL_MODE_CHOICES)                                                                  \
    X(SQL_NOTES, "sql_notes", BOOL, SQL_SV_BOTH, "ON", 0, 1, 0)                                    \
    X(SQL_QUOTE_SHOW_CREATE, "sql_quote_show_create", BOOL, SQL_SV_BOTH, "ON", 0, 1, 0)            \
    X(SQL_SAFE_UPDATES, "sql_safe_updates", BOOL, SQL_SV_BOTH, "OFF", 0, 1, 0)                     \
    X(SQL_SELECT_LIMIT, "sql_select_limit", UINT, SQL_SV_BOTH, "18446744073709551615", 0, 0, 0)    \
    X(SQL_WARNINGS, "sql_warnings", BOOL, SQL_SV_BOTH, "OFF", 0, 1, 0)                             \
    X(SYSTEM_TIME_ZONE, "system_time_zone", STR, SQL_SV_GLOBAL | SQL_SV_RO, "UTC", 0, 0, 0)        \
    X(TESSERA_COPR_PUSHDOWN, "tessera_copr_pushdown", BOOL, SQL_SV_BOTH, "ON", 0, 1, 0)            \
    X(TIME_ZONE, "time_zone", STR, SQL_SV_BOTH, "SYSTEM", 0, 0, 0)                                 \
    X(TIMESTAMP, "timestamp", DOUBLE, SQL_SV_SESSION | SQL_SV_COMPUTED, "0", 0, 2147483647, 0)     \
    X(TLS_VERSION, "tls_version", STR, SQL_SV_GLOBAL | SQL_SV_RO, "TLSv1.2,TLSv1.3", 0, 0, 0)      \
    X(TRANSACTION_ISOLATION, "transaction_isolation", ENUM, SQL_SV_BOTH, "REPEATABLE-READ", 0, 0,  \
      "READ-UNCOMMITTED|READ-COMMITTED|REPEATABLE-READ|SERIALIZABLE")                              \
    X(TRANSACTION_READ_ONLY, "transaction_read_only", BOOL, SQL_SV_BOTH, "OFF", 0, 1, 0)           \
    X(TX_ISOLATION, "tx_isolation", ENUM, SQL_SV_BOTH, "REPEATABLE-READ", 0, 0,                    \
      "READ-UNCOMMITTED|READ-COMMITTED|REPEATABLE-READ|SERIALIZABLE")                              \
    X(TX_READ_ONLY, "tx_read_only", BOOL, SQL_SV_BOTH, "OFF", 0, 1, 0)                             \
    X(UNIQUE_CHECKS, "unique_checks", BOOL, SQL_SV_BOTH, "ON", 0, 1, 0)                            \
    X(VERSION, "version", STR, SQL_SV_GLOBAL | SQL_SV_RO, SQL_SERVER_VERSION, 0, 0, 0)             \
    X(VERSION_COMMENT, "version_comment", STR, SQL_SV_GLOBAL | SQL_SV_RO,                          \
      "Tessera distributed SQL (Apache-2.0)", 0, 0, 0)                                             \
    X(VERSION_COMPILE_MACHINE, "version_compile_machine", STR, SQL_SV_GLOBAL | SQL_SV_RO,          \
      "x86_64", 0, 0, 0)                                                                           \
    X(VERSION_COMPILE_OS, "version_compile_os", STR, SQL_SV_GLOBAL | SQL_SV_RO, "Linux", 0, 0, 0)  \
    X(WAIT_TIMEOUT, "wait_timeout", INT, SQL_SV_BOTH, "28800", 1, 31536000, 0)                     \
    X(WARNING_COUNT, "warning_count", INT, SQL_SV_SESSION | SQL_SV_RO | SQL_SV_COMPUTED, "0", 0,   \
      0, 0)

/* The version string clients see (handshake, @@version, VERSION()): MySQL 8.0-compatible so
 * drivers pick 8.0 features, then our own name and version. */
#define SQL_SERVER_VERSION "8.0.11-Tessera-0.1.0"

/* sql_mode members in MySQL's bit order; ANSI and TRADITIONAL are combinations. */
#define SQL_SQL_MODE_CHOICES                                                                       \
    "REAL_AS_FLOAT|PIPES_AS_CONCAT|ANSI_QUOTES|IGNORE_SPACE|NOT_USED|ONLY_FULL_GROUP_BY|"          \
    "NO_UNSIGNED_SUBTRACTION|NO_DIR_IN_CREATE|NOT_USED_9|NOT_USED_10|NOT_USED_11|NOT_USED_12|"     \
    "NOT_USED_13|NOT_USED_14|NOT_USED_15|NOT_USED_16|NOT_USED_17|NOT_USED_18|ANSI|"                \
    "NO_AUTO_VALUE_ON_ZERO|NO_BACKSLASH_ESCAPES|STRICT_TRANS_TABLES|STRICT_ALL_TABLES|"            \
    "NO_ZERO_IN_DATE|NO_ZERO_DATE|ALLOW_INVALID_DATES|ERROR_FOR_DIVISION_BY_ZERO|TRADITIONAL|"     \
    "NOT_USED_29|HIGH_NOT_PRECEDENCE|NO_ENGINE_SUBSTITUTION|PAD_CHAR_TO_FULL_LENGTH|"              \
    "TIME_TRUNCATE_FRACTIONAL"

typedef enum sql_sv_id {
#define SQL_SV_ENUM_(id, name, type, flags, def, mn, mx, ch) SQL_SV_##id,
    SQL_SYSVAR_TABLE(SQL_SV_ENUM_)
#undef SQL_SV_ENUM_
        SQL_SV_COUNT
} sql_sv_id;

typedef struct sql_sysvar_def {
    const char *name;
    sql_sv_type type;
    unsigned flags;
    const char *def;
    int64_t min, max;
    const char *choices; /* ENUM/SET members separated by '|' */
} sql_sysvar_def;

typedef struct sql_sv_val {
    int64_t i;
    double d;
    char *s; /* owned (STR) */
    int is_null;
} sql_sv_val;

/* The global values. */
typedef struct sql_sysvars {
    pthread_mutex_t mu;
    sql_sv_val v[SQL_SV_COUNT];
} sql_sysvars;

const sql_sysvar_def *sql_sysvar_def_of(int id);
/* The id of a variable (case-insensitive name, n bytes), or -1. */
int sql_sysvar_find(const char *name, size_t n);
/* The variable whose storage an alias shares (tx_isolation → transaction_isolation). */
int sql_sysvar_storage(int id);

/* Fills g with every default. Returns 0 or CM_E_NOMEM. */
int sql_sysvars_init(sql_sysvars *g, cm_err *err);
void sql_sysvars_fini(sql_sysvars *g);
/* Sets a global value from text at startup (config), read-only variables included; the text is
 * parsed as the variable's type. */
int sql_sysvars_set_text(sql_sysvars *g, int id, const char *text, cm_err *err);
/* Reads an integer/bool/enum global without the lock: writers store the integer field
 * atomically (sql_sysvars_store), so hot paths (max_allowed_packet per command) never contend. */
int64_t sql_sysvars_get_int(sql_sysvars *g, int id);
/* Replaces a global value (caller holds g->mu); takes ownership of v's string. */
void sql_sysvars_store(sql_sysvars *g, int id, sql_sv_val *v);

/* Parses text as a value of def into *out (out->s owned). Used by SET and by startup.
 * Returns 0 or CM_E_WRONG_VALUE_FOR_VAR / CM_E_WRONG_TYPE_FOR_VAR. */
int sql_sysvar_parse_text(const sql_sysvar_def *def, const char *text, size_t n, sql_sv_val *out,
                          cm_err *err);
/* Appends the SHOW VARIABLES text of a value (NULL shows as an empty string, as in MySQL). */
int sql_sysvar_format(const sql_sysvar_def *def, const sql_sv_val *v, cm_buf *out);
/* Copies a value (duplicating its string). */
int sql_sv_val_copy(sql_sv_val *dst, const sql_sv_val *src);
void sql_sv_val_free(sql_sv_val *v);
/* sql_mode bit mask → SQL_MODE_* lexer/translator bits. */
unsigned sql_sysvar_mode_bits(int64_t sql_mode_mask);

#endif
