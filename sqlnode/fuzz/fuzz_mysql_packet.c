/*
 * fuzz_mysql_packet — libFuzzer target over the MySQL packet parser and command dispatch.
 *
 * The input's first byte picks the mode: bit 0 set runs the whole connection from the server
 * greeting (the rest of the input is what the client sends: handshake response, SSLRequest,
 * authentication data, commands); clear logs in directly as root and feeds the rest as command
 * packets. Bits 1-2 pick client capabilities (DEPRECATE_EOF, MULTI_STATEMENTS). The bytes go
 * through the memory transport, so everything from packet framing to the session's statement
 * path (lexer, translator, SQLite, SET/SHOW, prepared statements) runs as for a socket. The
 * clock and sleep are injected (SLEEP() returns at once), max_allowed_packet is 1 MiB and a
 * statement may run at most 20 M SQLite instructions, so inputs stay fast. Global variables are
 * rebuilt for every input.
 */
#include "cm_log.h"
#include "sql_auth.h"
#include "sql_conn.h"
#include "sql_io.h"
#include "sql_my_const.h"
#include "sql_session.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int64_t fixed_now(void *user)
{
    (void)user;
    return 1700000000LL * 1000000;
}

static int no_sleep(void *user, int64_t ms, const volatile int *stop)
{
    (void)user;
    (void)ms;
    return *stop != 0;
}

static sql_auth auth;
static int ready;

static void init_once(void)
{
    cm_err err;
    cm_log_set_level(CM_LOG_OFF);
    sql_sess_global_init();
    sql_auth_init(&auth, SQL_AUTH_NATIVE);
    sql_auth_add(&auth, "root", "", SQL_AUTH_NATIVE, &err);
    sql_auth_add(&auth, "alice", "pw", SQL_AUTH_SHA2, &err);
    ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) {
        init_once();
    }
    if (size == 0) {
        return 0;
    }
    cm_err err;
    sql_sysvars globals;
    if (sql_sysvars_init(&globals, &err) != 0) {
        return 0;
    }
    sql_sysvars_set_text(&globals, SQL_SV_MAX_ALLOWED_PACKET, "1048576", &err);
    sql_sess_env senv;
    memset(&senv, 0, sizeof(senv));
    senv.globals = &globals;
    senv.now_us = fixed_now;
    senv.sleep_ms = no_sleep;
    senv.stmt_cache_size = 8;
    senv.stmt_ops_max = 20u * 1000 * 1000; /* recursive CTEs and huge joins end, not hang */
    sql_conn_env env;
    memset(&env, 0, sizeof(env));
    env.sess_env = &senv;
    env.auth = &auth;

    uint8_t mode = data[0];
    sql_io_mem m;
    sql_io_mem_init(&m, data + 1, size - 1);
    m.discard = 1;
    sql_conn *c;
    if (sql_conn_create(&env, 1, &m.io, "127.0.0.1:1", &c, &err) == 0) {
        if (mode & 1) {
            sql_conn_serve(c);
        } else {
            uint32_t caps = SQL_CLIENT_PROTOCOL_41 | SQL_CLIENT_SECURE_CONNECTION |
                            SQL_CLIENT_PLUGIN_AUTH | SQL_CLIENT_MULTI_RESULTS;
            caps |= (mode & 2) ? SQL_CLIENT_DEPRECATE_EOF : 0;
            caps |= (mode & 4) ? SQL_CLIENT_MULTI_STATEMENTS : 0;
            if (sql_conn_login_direct(c, "root", caps, &err) == 0) {
                sql_conn_commands(c);
            }
        }
        sql_conn_free(c);
    }
    sql_io_mem_fini(&m);
    sql_sysvars_fini(&globals);
    return 0;
}
