/*
 * sql_server.h — the MySQL listener: one thread per connection (small stacks; an idle
 * connection costs its session and buffers, see docs/mysql-protocol.md), the registry of live
 * connections that KILL and SHOW PROCESSLIST use, max_connections, and shutdown.
 *
 * sql_server_run blocks in the accept loop until sql_server_wake is called (from a signal
 * handler: it only writes a byte to a pipe) and then closes every session and waits for their
 * threads, bounded in time.
 */
#ifndef SQL_SERVER_H
#define SQL_SERVER_H

#include "cm_buf.h"
#include "cm_err.h"
#include "sql_auth.h"
#include "sql_session.h"
#include "sql_sysvar.h"
#include "sql_tls.h"

#include <stdint.h>

typedef struct sql_server sql_server;

typedef struct sql_server_cfg {
    const char *listen_addr; /* "host:port"; port 0 picks a free one */
    sql_sysvars *globals;    /* borrowed */
    sql_auth *auth;          /* borrowed */
    sql_tls *tls;            /* borrowed; NULL: no TLS */
    uint32_t stmt_cache_size;
    cm_kv_client *kc; /* borrowed; NULL (with cat): no cluster */
    sql_catalog *cat; /* borrowed */
    uint32_t autocommit_retries;
} sql_server_cfg;

/* Thread stack of a connection: 512 KiB. SQLite's parser and expression walkers recurse per
 * nesting level (the translator allows 200); only touched pages cost memory. */
#define SQL_SRV_THREAD_STACK_BYTES (512u * 1024)
/* How long shutdown waits for connection threads to finish their statement and exit. */
#define SQL_SRV_SHUTDOWN_WAIT_MS 10000

/* Binds the listener. */
int sql_server_create(const sql_server_cfg *cfg, sql_server **out, cm_err *err);
int sql_server_port(const sql_server *s);
/* The GC worker sessions register their transactions with (borrowed); call before
 * sql_server_run. */
void sql_server_set_gc(sql_server *s, sql_gc *gc);
/* Accepts connections until sql_server_wake; then closes every session (their threads end
 * within SQL_SRV_SHUTDOWN_WAIT_MS, else they are reported and left). */
void sql_server_run(sql_server *s);
/* Async-signal-safe: asks sql_server_run to return. */
void sql_server_wake(sql_server *s);
void sql_server_free(sql_server *s);
/* Connections open now. */
int64_t sql_server_connections(sql_server *s);
/* Appends the /status JSON object. */
int sql_server_status_json(sql_server *s, cm_buf *out);

#endif
