/*
 * fuzz_sql_functions — libFuzzer target over the built-in functions and the translator forms
 * that reach them (INTERVAL arithmetic, TRIM, EXTRACT, GROUP_CONCAT, JSON constructors).
 *
 * The input is one COM_QUERY text run by a session without a cluster (tables give 1146), so the
 * lexer, the translator, SQLite and every registered function see it as a client would send
 * it. Seeds (corpus_sql_functions/) are SELECTs of each function family; libFuzzer mutates
 * their arguments, units, paths and formats. The clock is fixed, SLEEP() returns at once and a
 * statement may run at most 20 M SQLite instructions, so inputs stay fast.
 */
#include "cm_log.h"
#include "sql_session.h"
#include "sql_sysvar.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Longest input run: a statement this long already exercises every path of the parsers. */
#define FUZZ_SQL_MAX 4096

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

static int drop_columns(sql_sink *sink, const sql_column *cols, int ncols)
{
    (void)sink;
    (void)cols;
    (void)ncols;
    return 0;
}

static int drop_row(sql_sink *sink, const sql_value *vals, int ncols)
{
    (void)sink;
    (void)vals;
    (void)ncols;
    return 0;
}

static int drop_done(sql_sink *sink, const sql_done *d)
{
    (void)sink;
    (void)d;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready = 0;
    if (!ready) {
        cm_log_set_level(CM_LOG_OFF);
        if (sql_sess_global_init() != 0) {
            return 0;
        }
        ready = 1;
    }
    if (size > FUZZ_SQL_MAX) {
        return 0;
    }
    /* a fresh session and fresh globals per input: SET and SET GLOBAL do not leak into the
     * next one */
    cm_err err;
    sql_sysvars globals;
    if (sql_sysvars_init(&globals, &err) != 0) {
        return 0;
    }
    sql_sysvars_set_text(&globals, SQL_SV_MAX_ALLOWED_PACKET, "1048576", &err);
    sql_sess_env env;
    memset(&env, 0, sizeof(env));
    env.globals = &globals;
    env.now_us = fixed_now;
    env.sleep_ms = no_sleep;
    env.stmt_cache_size = 16;
    env.stmt_ops_max = 20000000;
    sql_sess *sess = NULL;
    if (sql_sess_create(&env, 1, &sess, &err) == 0 &&
        sql_sess_login(sess, "root", "127.0.0.1", NULL, 46, 0, &err) == 0) {
        sql_sink sink = {drop_columns, drop_row, drop_done};
        (void)sql_sess_query(sess, (const char *)data, size, &sink, &err);
    }
    if (sess != NULL) {
        sql_sess_free(sess);
    }
    sql_sysvars_fini(&globals);
    return 0;
}
