/*
 * sql_conn.h — one MySQL connection: the handshake (v10, capability negotiation, TLS upgrade,
 * authentication with plugin switch), then the command loop that dispatches COM_* packets to
 * the session and writes the responses.
 *
 * A connection reads and writes only through its sql_io, so the same code serves a socket, a
 * TLS socket, or a byte stream in memory (unit tests, the fuzz target). It runs on one thread;
 * sql_conn_kill and sql_conn_get_info may be called from others.
 */
#ifndef SQL_CONN_H
#define SQL_CONN_H

#include "cm_buf.h"
#include "cm_err.h"
#include "sql_auth.h"
#include "sql_io.h"
#include "sql_session.h"
#include "sql_tls.h"

#include <stdint.h>

typedef struct sql_conn sql_conn;

/* Process-wide services of every connection; all borrowed. */
typedef struct sql_conn_env {
    const sql_sess_env *sess_env;
    sql_auth *auth;
    sql_tls *tls; /* NULL: TLS not offered */
    void *user;   /* passed to the hooks */
    /* COM_STATISTICS text. NULL: a minimal line. */
    int (*statistics)(void *user, cm_buf *out);
} sql_conn_env;

/* Longest query text kept for SHOW FULL PROCESSLIST. */
#define SQL_CONN_INFO_MAX 1024

typedef struct sql_conn_info {
    uint64_t id;
    char user[128];
    char host[64];
    char db[256];
    const char *command; /* static string */
    int64_t time_s;
    char info[SQL_CONN_INFO_MAX + 1];
    int has_info;
} sql_conn_info;

/* io is borrowed and must outlive the connection; peer is the client's address ("ip:port"). */
int sql_conn_create(const sql_conn_env *env, uint64_t id, sql_io *io, const char *peer,
                    sql_conn **out, cm_err *err);
/* Closes the transport (and a TLS transport it created), frees everything. */
void sql_conn_free(sql_conn *c);
/* Serves the connection until it ends: handshake, authentication, commands. */
void sql_conn_serve(sql_conn *c);
/* For tests and fuzzing: logs in as `user` with the given capabilities without a handshake,
 * then sql_conn_commands serves commands. */
int sql_conn_login_direct(sql_conn *c, const char *user, uint32_t caps, cm_err *err);
void sql_conn_commands(sql_conn *c);

sql_sess *sql_conn_session(sql_conn *c);
uint64_t sql_conn_id(const sql_conn *c);
int sql_conn_is_tls(const sql_conn *c);
const char *sql_conn_tls_version(const sql_conn *c);
const char *sql_conn_tls_cipher(const sql_conn *c);
/* From any thread: interrupts the running statement; without query_only also ends the
 * connection (its blocked read is woken by shutting the socket down). */
void sql_conn_kill(sql_conn *c, int query_only);
/* From any thread: what SHOW PROCESSLIST shows (info cut to 100 bytes unless full). */
void sql_conn_get_info(sql_conn *c, int full, sql_conn_info *out);

#endif
