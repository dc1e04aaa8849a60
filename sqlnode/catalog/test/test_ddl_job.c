/* Unit tests of DDL job records (sql_ddl_job.c): the stored form round-trips every field,
 * every truncation and random corruption is CM_E_CORRUPT or a valid record (never a crash), queue
 * keys sort in job id order, the display names, the statement-error classification that decides
 * between failing a job and retrying its step, and what a submitted statement's job describes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sql_ddl_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sql_ddl_job sample(sql_job_elem *el)
{
    sql_ddl_job j;
    memset(&j, 0, sizeof(j));
    j.id = 123456789;
    j.type = SQL_JOB_ADD_INDEX;
    j.state = SQL_JOB_ROLLINGBACK;
    j.schema_state = SQL_OBJ_WRITE_REORG;
    j.cancel = true;
    j.db_id = 7;
    j.table_id = 99;
    j.db_name = "sbtest";
    j.table_name = "sbtest1";
    j.query = "ALTER TABLE sbtest1 ADD INDEX idx_c (c), DROP COLUMN pad";
    j.curdb = NULL;
    j.lex_mode = 3;
    el[0] = (sql_job_elem){SQL_ELEM_INDEX, 1, 1001};
    el[1] = (sql_job_elem){SQL_ELEM_COLUMN, 0, 4};
    j.elems = el;
    j.nelems = 2;
    j.schema_version = 42;
    j.row_count = 500000;
    j.reorg_key = "t\x80\x00r\x00";
    j.reorg_key_len = 5;
    j.owner = "abcdef0123456789abcdef0123456789";
    j.owner_term = 17;
    j.err_code = CM_E_DUP_ENTRY;
    j.err_msg = "Duplicate entry 'x' for key 'sbtest1.idx_c'";
    j.warning_code = 1050;
    j.warning_msg = "Table 't' already exists";
    j.affected = 3;
    j.create_ms = 1700000000000ull;
    j.start_ms = 1700000000100ull;
    j.end_ms = 1700000000999ull;
    return j;
}

static void streq(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        assert_true(a == b);
    } else {
        assert_string_equal(a, b);
    }
}

static void test_round_trip(void **state)
{
    (void)state;
    sql_job_elem el[2];
    sql_ddl_job j = sample(el);
    cm_buf b = CM_BUF_INIT;
    assert_int_equal(sql_ddl_job_encode(&j, &b), 0);
    cm_arena a;
    cm_arena_init(&a, 0);
    sql_ddl_job d;
    cm_err err;
    assert_int_equal(sql_ddl_job_decode(cm_buf_slice(&b), &a, &d, &err), 0);
    assert_int_equal(d.id, j.id);
    assert_int_equal(d.type, j.type);
    assert_int_equal(d.state, j.state);
    assert_int_equal(d.schema_state, j.schema_state);
    assert_true(d.cancel);
    assert_int_equal(d.db_id, 7);
    assert_int_equal(d.table_id, 99);
    streq(d.db_name, j.db_name);
    streq(d.table_name, j.table_name);
    streq(d.query, j.query);
    streq(d.curdb, NULL);
    assert_int_equal(d.lex_mode, 3);
    assert_int_equal(d.nelems, 2);
    assert_int_equal(d.elems[0].kind, SQL_ELEM_INDEX);
    assert_int_equal(d.elems[0].add, 1);
    assert_int_equal(d.elems[0].id, 1001);
    assert_int_equal(d.elems[1].kind, SQL_ELEM_COLUMN);
    assert_int_equal(d.elems[1].add, 0);
    assert_int_equal(d.elems[1].id, 4);
    assert_int_equal(d.schema_version, 42);
    assert_int_equal(d.row_count, 500000);
    assert_int_equal(d.reorg_key_len, 5);
    assert_memory_equal(d.reorg_key, j.reorg_key, 5);
    streq(d.owner, j.owner);
    assert_int_equal(d.owner_term, 17);
    assert_int_equal(d.err_code, CM_E_DUP_ENTRY);
    streq(d.err_msg, j.err_msg);
    assert_int_equal(d.warning_code, 1050);
    streq(d.warning_msg, j.warning_msg);
    assert_int_equal(d.affected, 3);
    assert_int_equal(d.create_ms, j.create_ms);
    assert_int_equal(d.start_ms, j.start_ms);
    assert_int_equal(d.end_ms, j.end_ms);

    /* every truncation and one extra byte are corrupt */
    for (size_t n = 0; n < b.len; n++) {
        assert_int_equal(sql_ddl_job_decode(cm_slice_make(b.ptr, n), &a, &d, &err), CM_E_CORRUPT);
    }
    cm_buf_append_u8(&b, 0);
    assert_int_equal(sql_ddl_job_decode(cm_buf_slice(&b), &a, &d, &err), CM_E_CORRUPT);
    b.len--;

    /* random corruption: an error or a record, never a crash (ASan watches) */
    srand(7);
    for (int i = 0; i < 20000; i++) {
        cm_buf c = CM_BUF_INIT;
        cm_buf_append(&c, b.ptr, b.len);
        int flips = 1 + rand() % 4;
        for (int f = 0; f < flips; f++) {
            c.ptr[rand() % c.len] = (uint8_t)rand();
        }
        int rc = sql_ddl_job_decode(cm_buf_slice(&c), &a, &d, &err);
        assert_true(rc == 0 || rc == CM_E_CORRUPT);
        cm_buf_fini(&c);
        if (i % 1000 == 0) {
            cm_arena_reset(&a);
        }
    }
    /* an unknown format byte */
    b.ptr[0] = 9;
    assert_int_equal(sql_ddl_job_decode(cm_buf_slice(&b), &a, &d, &err), CM_E_CORRUPT);
    cm_buf_fini(&b);
    cm_arena_fini(&a);
}

static void test_queue_keys_sort_by_id(void **state)
{
    (void)state;
    int64_t ids[] = {1, 9, 10, 255, 256, 4096, 100000, 123456789012LL};
    cm_buf prev = CM_BUF_INIT, start = CM_BUF_INIT, end = CM_BUF_INIT;
    assert_int_equal(sql_ddl_key_queue_range(&start, &end), 0);
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        cm_buf k = CM_BUF_INIT;
        assert_int_equal(sql_ddl_key_queue(&k, ids[i]), 0);
        assert_true(cm_slice_cmp(cm_buf_slice(&k), cm_buf_slice(&start)) >= 0);
        assert_true(cm_slice_cmp(cm_buf_slice(&k), cm_buf_slice(&end)) < 0);
        if (i > 0) {
            assert_true(cm_slice_cmp(cm_buf_slice(&prev), cm_buf_slice(&k)) < 0);
        }
        cm_buf h = CM_BUF_INIT;
        assert_int_equal(sql_ddl_key_history(&h, ids[i]), 0);
        assert_false(cm_slice_eq(cm_buf_slice(&h), cm_buf_slice(&k)));
        cm_buf_fini(&h);
        cm_buf_reset(&prev);
        cm_buf_append_slice(&prev, cm_buf_slice(&k));
        cm_buf_fini(&k);
    }
    cm_buf_fini(&prev);
    cm_buf_fini(&start);
    cm_buf_fini(&end);
}

static void test_names_and_error_classes(void **state)
{
    (void)state;
    assert_string_equal(sql_ddl_job_type_name(SQL_JOB_ADD_INDEX), "add index");
    assert_string_equal(sql_ddl_job_type_name(SQL_JOB_DROP_COLUMN), "drop column");
    assert_string_equal(sql_ddl_job_type_name(200), "unknown");
    assert_string_equal(sql_ddl_job_state_name(SQL_JOB_SYNCED), "synced");
    assert_string_equal(sql_ddl_job_state_name(SQL_JOB_ROLLBACK_DONE), "rollback done");
    assert_string_equal(sql_ddl_obj_state_name(SQL_OBJ_WRITE_REORG), "write reorganization");
    assert_string_equal(sql_ddl_obj_state_name(SQL_OBJ_DELETE_ONLY), "delete only");
    /* statement errors end the job; the KV store's errors retry the step */
    assert_true(sql_ddl_is_stmt_error(CM_E_DUP_ENTRY));
    assert_true(sql_ddl_is_stmt_error(CM_E_TABLE_EXISTS));
    assert_true(sql_ddl_is_stmt_error(CM_E_DUP_KEYNAME));
    assert_true(sql_ddl_is_stmt_error(CM_E_UNSUPPORTED));
    assert_true(sql_ddl_is_stmt_error(CM_E_DDL_CANCELLED));
    assert_false(sql_ddl_is_stmt_error(CM_E_WRITE_CONFLICT));
    assert_false(sql_ddl_is_stmt_error(CM_E_TXN_ROLLED_BACK));
    assert_false(sql_ddl_is_stmt_error(CM_E_KEY_IS_LOCKED));
    assert_false(sql_ddl_is_stmt_error(CM_E_TIMEOUT));
    assert_false(sql_ddl_is_stmt_error(CM_E_UNAVAILABLE));
    assert_false(sql_ddl_is_stmt_error(CM_E_TXN_UNDETERMINED));
    assert_false(sql_ddl_is_stmt_error(CM_E_DEADLOCK));
    assert_false(sql_ddl_is_stmt_error(CM_E_NOMEM));
}

static void describe(const char *sql, const char *curdb, uint8_t type, const char *db,
                     const char *table)
{
    sql_tokens toks;
    sql_tokens_init(&toks);
    cm_err err;
    assert_int_equal(sql_lex(sql, strlen(sql), 0, &toks, &err), 0);
    cm_arena a;
    cm_arena_init(&a, 0);
    sql_ddl_stmt st;
    assert_int_equal(sql_ddl_parse(sql, toks.v, toks.n, &a, &st, &err), 0);
    sql_ddl_job j;
    memset(&j, 0, sizeof(j));
    assert_int_equal(sql_ddl_job_describe(&st, curdb, &j, &a), 0);
    assert_int_equal(j.type, type);
    streq(j.db_name, db);
    streq(j.table_name, table);
    streq(j.curdb, curdb);
    cm_arena_fini(&a);
    sql_tokens_fini(&toks);
}

static void test_describe(void **state)
{
    (void)state;
    describe("ALTER TABLE t ADD INDEX i (a)", "d", SQL_JOB_ADD_INDEX, "d", "t");
    describe("CREATE UNIQUE INDEX i ON x.t (a)", "d", SQL_JOB_ADD_INDEX, "x", "t");
    describe("DROP INDEX i ON t", "d", SQL_JOB_DROP_INDEX, "d", "t");
    describe("ALTER TABLE t ADD COLUMN c INT DEFAULT 1", "d", SQL_JOB_ADD_COLUMN, "d", "t");
    describe("ALTER TABLE t DROP COLUMN c", "d", SQL_JOB_DROP_COLUMN, "d", "t");
    describe("ALTER TABLE t ADD INDEX i (a), DROP COLUMN c", "d", SQL_JOB_ALTER_TABLE, "d", "t");
    describe("CREATE TABLE t (a INT)", NULL, SQL_JOB_CREATE_TABLE, NULL, "t");
    describe("DROP TABLE a.t, b.u", NULL, SQL_JOB_DROP_TABLE, "a", "t");
    describe("CREATE DATABASE z", NULL, SQL_JOB_CREATE_DB, "z", NULL);
    describe("TRUNCATE TABLE t", "d", SQL_JOB_TRUNCATE, "d", "t");
    describe("RENAME TABLE a TO b", "d", SQL_JOB_RENAME_TABLE, "d", "a");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_queue_keys_sort_by_id),
        cmocka_unit_test(test_names_and_error_classes),
        cmocka_unit_test(test_describe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
