/* sql_test_sink.h — a result sink for unit tests that renders results as text:
 *   "cols name:type,name:type\n" "row v|v\n" "done more=0 warn=0\n"
 * NULL renders as \N. Header-only; include in one test file. */
#ifndef SQL_TEST_SINK_H
#define SQL_TEST_SINK_H

#include "cm_buf.h"
#include "sql_value.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

typedef struct test_sink {
    sql_sink sink;
    cm_buf out;
    sql_column cols[64];
    int ncols;
} test_sink;

static int ts_columns(sql_sink *k, const sql_column *c, int n)
{
    test_sink *t = (test_sink *)k;
    cm_buf_printf(&t->out, "cols ");
    for (int i = 0; i < n; i++) {
        cm_buf_printf(&t->out, "%s%.*s:%u", i ? "," : "", (int)c[i].name_len, c[i].name, c[i].type);
        if (i < 64) {
            t->cols[i] = c[i];
        }
    }
    t->ncols = n;
    cm_buf_printf(&t->out, "\n");
    return 0;
}

static int ts_row(sql_sink *k, const sql_value *v, int n)
{
    test_sink *t = (test_sink *)k;
    cm_buf_printf(&t->out, "row ");
    for (int i = 0; i < n; i++) {
        if (i) {
            cm_buf_printf(&t->out, "|");
        }
        switch (v[i].type) {
        case SQL_V_NULL:
            cm_buf_printf(&t->out, "\\N");
            break;
        case SQL_V_INT:
            cm_buf_printf(&t->out, "%" PRId64, v[i].i);
            break;
        case SQL_V_UINT:
            cm_buf_printf(&t->out, "%" PRIu64, v[i].u);
            break;
        case SQL_V_DOUBLE:
            cm_buf_printf(&t->out, "%g", v[i].d);
            break;
        default:
            cm_buf_printf(&t->out, "%.*s", (int)v[i].n, v[i].s);
            break;
        }
    }
    cm_buf_printf(&t->out, "\n");
    return 0;
}

static int ts_done(sql_sink *k, const sql_done *d)
{
    test_sink *t = (test_sink *)k;
    cm_buf_printf(&t->out, "done more=%d warn=%u\n", d->more, d->warnings);
    return 0;
}

static void ts_init(test_sink *t)
{
    memset(t, 0, sizeof(*t));
    t->sink.columns = ts_columns;
    t->sink.row = ts_row;
    t->sink.done = ts_done;
    cm_buf_init(&t->out);
}

static const char *ts_text(test_sink *t)
{
    cm_buf_terminate(&t->out);
    return t->out.ptr ? (const char *)t->out.ptr : "";
}

#endif
