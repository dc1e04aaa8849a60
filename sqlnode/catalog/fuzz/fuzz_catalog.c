/*
 * fuzz_catalog.c — libFuzzer target over the catalog's untrusted inputs: stored definitions
 * (table and database values read from KV) and DDL statement text. The first byte picks which;
 * whatever decodes must re-encode, whatever parses goes through the table builder (an ALTER
 * TABLE's column ops through the column functions of sql_ddl_build.c, applied to a fixed table,
 * each result read back byte for byte). Nothing may crash, leak or abort.
 */
#include "sql_ddl_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_id(void *user, int64_t *id, cm_err *err)
{
    (void)err;
    *id = ++*(int64_t *)user;
    return 0;
}

/* What we encode we must read back, byte for byte, and every column's origin must convert. */
static void roundtrip(const sql_cat_table *t, cm_arena *a)
{
    cm_err err;
    cm_buf b = CM_BUF_INIT, b2 = CM_BUF_INIT;
    sql_cat_table d;
    if (sql_cat_encode_table(t, &b) != 0 || sql_cat_decode_table(cm_buf_slice(&b), a, &d, &err) ||
        sql_cat_encode_table(&d, &b2) != 0 || b.len != b2.len || memcmp(b.ptr, b2.ptr, b.len)) {
        abort();
    }
    for (uint32_t i = 0; i < d.ncols; i++) {
        if (d.cols[i].offset != i) {
            abort();
        }
        cm_buf mem = CM_BUF_INIT;
        cm_datum v;
        (void)sql_cat_col_origin(&d.cols[i], &v, &mem, &err);
        cm_buf_fini(&mem);
    }
    cm_buf_fini(&b);
    cm_buf_fini(&b2);
}

/* The column ops of an ALTER applied one after the other to a fixed table. */
static void alter_columns(const sql_ddl_stmt *st, cm_arena *a)
{
    static const char base[] = "CREATE TABLE b (id INT PRIMARY KEY, a INT NOT NULL DEFAULT 1, "
                               "s VARCHAR(10), d DATETIME(3), e ENUM('x','y'), KEY ka (a, s(2)))";
    sql_tokens toks;
    sql_tokens_init(&toks);
    cm_err err;
    sql_ddl_stmt bst;
    int64_t next = 0;
    sql_cat_table *t = cm_arena_alloc(a, sizeof(*t));
    if (t == NULL || sql_lex(base, strlen(base), 0, &toks, &err) != 0 ||
        sql_ddl_parse(base, toks.v, toks.n, a, &bst, &err) != 0 ||
        sql_ddl_build_table(&bst, a, fuzz_id, &next, t, &err) != 0) {
        abort();
    }
    sql_tokens_fini(&toks);
    t->id = 9;
    t->db_id = 2;
    for (uint32_t i = 0; i < st->nops; i++) {
        const sql_alter_op *op = &st->ops[i];
        sql_cat_table *n = cm_arena_alloc(a, sizeof(*n));
        uint32_t id = 0;
        int rc = -1;
        if (n == NULL) {
            break;
        }
        switch (op->kind) {
        case SQL_ALTER_ADD_COLUMN:
            rc = sql_ddl_add_column(t, op, (uint8_t)(1 + i % 5), a, n, &id, &err);
            break;
        case SQL_ALTER_DROP_COLUMN:
            rc = sql_ddl_drop_column_check(t, op, &id, &err);
            if (rc == 0 && sql_cat_table_copy(t, a, n, &err) == 0) {
                sql_cat_table_remove_column(n, id);
            }
            break;
        case SQL_ALTER_RENAME_COLUMN:
        case SQL_ALTER_MODIFY_COLUMN:
            rc = sql_ddl_change_column(t, op, a, n, &err);
            break;
        default:
            break;
        }
        if (rc == 0) {
            roundtrip(n, a);
            t = n;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    cm_arena a;
    cm_arena_init(&a, 0);
    cm_err err;
    cm_slice in = cm_slice_make(data + 1, size - 1);
    if (data[0] % 3 == 0) {
        sql_cat_table t;
        if (sql_cat_decode_table(in, &a, &t, &err) == 0) {
            cm_buf b = CM_BUF_INIT;
            sql_cat_encode_table(&t, &b);
            cm_buf_fini(&b);
        }
    } else if (data[0] % 3 == 1) {
        sql_cat_db d;
        if (sql_cat_decode_db(in, &a, &d, &err) == 0) {
            cm_buf b = CM_BUF_INIT;
            sql_cat_encode_db(&d, &b);
            cm_buf_fini(&b);
        }
    } else {
        char *src = malloc(in.len + 1);
        memcpy(src, in.ptr, in.len);
        src[in.len] = 0;
        sql_tokens toks;
        sql_tokens_init(&toks);
        sql_ddl_stmt st;
        bool parsed = sql_lex(src, in.len, 0, &toks, &err) == 0 &&
                      sql_ddl_parse(src, toks.v, toks.n, &a, &st, &err) == 0;
        if (parsed && st.kind == SQL_DDL_CREATE_TABLE) {
            int64_t next = 0;
            sql_cat_table t;
            if (sql_ddl_build_table(&st, &a, fuzz_id, &next, &t, &err) == 0) {
                cm_buf b = CM_BUF_INIT;
                sql_cat_encode_table(&t, &b);
                sql_cat_table d;
                if (sql_cat_decode_table(cm_buf_slice(&b), &a, &d, &err) != 0) {
                    abort(); /* what we encode we must read back */
                }
                cm_buf_fini(&b);
            }
        } else if (parsed && st.kind == SQL_DDL_ALTER_TABLE) {
            alter_columns(&st, &a);
        }
        sql_tokens_fini(&toks);
        free(src);
    }
    cm_arena_fini(&a);
    return 0;
}
