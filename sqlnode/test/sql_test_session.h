/* sql_test_session.h — a session without a cluster for unit tests: the fixture (sysvars, a fixed
 * clock at 1970-01-02 00:00:00 UTC, a logged-in root session, a text sink from
 * sql_test_sink.h), cmocka setup/teardown, and helpers that run a query and read its first row.
 * Header-only; include in one test file after cmocka.h. */
#ifndef SQL_TEST_SESSION_H
#define SQL_TEST_SESSION_H

#include "cm_err.h"
#include "sql_session.h"
#include "sql_test_sink.h"

#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    sql_sysvars globals;
    sql_sess_env env;
    sql_sess *s;
    test_sink sink;
    int64_t now_us;
} fixture;

static inline int64_t fixed_now(void *user)
{
    return ((fixture *)user)->now_us;
}

static inline int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    cm_err err;
    assert_int_equal(sql_sysvars_init(&f->globals, &err), 0);
    f->env.globals = &f->globals;
    f->env.user = f;
    f->env.now_us = fixed_now;
    f->env.stmt_cache_size = 8;
    f->now_us = 86400LL * 1000000; /* 1970-01-02 00:00:00 UTC */
    assert_int_equal(sql_sess_create(&f->env, 7, &f->s, &err), 0);
    assert_int_equal(sql_sess_login(f->s, "root", "127.0.0.1:5555", NULL, 46, 0, &err), 0);
    ts_init(&f->sink);
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    fixture *f = *state;
    sql_sess_free(f->s);
    sql_sysvars_fini(&f->globals);
    cm_buf_fini(&f->sink.out);
    free(f);
    return 0;
}

/* Runs a query; returns the MySQL errno (0 on success) and leaves text in the sink. */
static inline int q(fixture *f, const char *sql)
{
    cm_buf_reset(&f->sink.out);
    cm_err err;
    cm_err_clear(&err);
    int rc = sql_sess_query(f->s, sql, strlen(sql), &f->sink.sink, &err);
    if (rc != 0) {
        cm_buf_printf(&f->sink.out, "error %d %s\n", cm_err_mysql_errno(rc), err.msg);
        return cm_err_mysql_errno(rc);
    }
    return 0;
}

/* The value text of the first row ("row " stripped, up to the newline). */
static inline const char *first_row(fixture *f)
{
    static char buf[1024];
    const char *t = ts_text(&f->sink);
    const char *r = strstr(t, "row ");
    if (r == NULL) {
        return "<no row>";
    }
    r += 4;
    size_t n = strcspn(r, "\n");
    if (n >= sizeof(buf)) {
        n = sizeof(buf) - 1;
    }
    memcpy(buf, r, n);
    buf[n] = '\0';
    return buf;
}

static inline void check_value(fixture *f, const char *sql, const char *want)
{
    int rc = q(f, sql);
    if (rc != 0) {
        fail_msg("%s: %s", sql, ts_text(&f->sink));
    }
    if (strcmp(first_row(f), want) != 0) {
        fail_msg("%s: got '%s' want '%s'", sql, first_row(f), want);
    }
}

#endif
