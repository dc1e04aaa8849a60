/* Unit tests for sqlnode/catalog/sql_cat_user.c without a cluster: the account record encoding
 * (round trip, every truncation, corrupt bytes), host patterns, MySQL's login order, grants at the
 * three levels and their removal. The KV transactions are covered by testsuite/sql/privileges.test
 * and testsuite/e2e/privileges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sql_cat_user.h"

#include <stdlib.h>
#include <string.h>

static void test_host_patterns(void **state)
{
    (void)state;
    assert_true(sql_user_host_match("%", "10.1.2.3"));
    assert_true(sql_user_host_match("", "10.1.2.3"));
    assert_true(sql_user_host_match("10.1.%", "10.1.2.3"));
    assert_false(sql_user_host_match("10.1.%", "10.12.2.3"));
    assert_true(sql_user_host_match("10.1._.3", "10.1.2.3"));
    assert_false(sql_user_host_match("10.1._.3", "10.1.22.3"));
    assert_true(sql_user_host_match("%.3", "10.1.2.3"));
    assert_true(sql_user_host_match("10.%.%.3", "10.1.2.3"));
    assert_false(sql_user_host_match("10.%.%.4", "10.1.2.3"));
    assert_true(sql_user_host_match("127.0.0.1", "127.0.0.1"));
    assert_false(sql_user_host_match("127.0.0.1", "127.0.0.10"));
    assert_true(sql_user_host_match("LOCALHOST", "127.0.0.1")); /* loopback, any case */
    assert_true(sql_user_host_match("localhost", "::1"));
    assert_false(sql_user_host_match("localhost", "10.0.0.1"));
    assert_true(sql_user_host_match("Host.Example", "host.example"));
    assert_true(sql_user_host_match("10.1.0.0/255.255.0.0", "10.1.2.3"));
    assert_false(sql_user_host_match("10.1.0.0/255.255.0.0", "10.2.2.3"));
    assert_true(sql_user_host_match("10.0.0.0/8", "10.200.2.3"));
    assert_false(sql_user_host_match("10.0.0.0/8", "11.0.0.1"));
    assert_true(sql_user_host_match("127.0.0.1/32", "127.0.0.1"));
    assert_false(sql_user_host_match("10.0.0.0/33", "10.0.0.1"));
    assert_false(sql_user_host_match("10.0.0.0/x", "10.0.0.1"));
    assert_false(sql_user_host_match("10.0.0.0/8", "::1"));
}

static void test_db_patterns(void **state)
{
    (void)state;
    assert_true(sql_user_db_pattern_match("app%", "app_1"));
    assert_true(sql_user_db_pattern_match("APP%", "app"));
    assert_true(sql_user_db_pattern_match("a_c", "abc"));
    assert_false(sql_user_db_pattern_match("a\\_c", "abc")); /* escaped: a literal _ */
    assert_true(sql_user_db_pattern_match("a\\_c", "a_c"));
    assert_true(sql_user_db_pattern_match("%x%y%", "axxbyc"));
    assert_false(sql_user_db_pattern_match("%x%y%", "ayxb"));
    assert_false(sql_user_db_pattern_match("app", "app2"));
    char many[300];
    memset(many, '%', 250);
    strcpy(many + 250, "z");
    assert_false(
        sql_user_db_pattern_match(many, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
    sql_users_edit e;
    sql_users_edit_init(&e);
    sql_user *a = sql_users_edit_add(&e, "u", "%");
    assert_int_equal(sql_users_edit_grant(&e, a, "app\\_%", NULL, SQL_PRIV_SELECT, 0), 0);
    assert_int_equal(sql_users_edit_grant(&e, a, "app_one", NULL, SQL_PRIV_INSERT, 0), 0);
    /* an exact database grant wins over a pattern; otherwise the pattern applies */
    assert_int_equal(sql_user_privs(a, "app_one", NULL), SQL_PRIV_INSERT);
    assert_int_equal(sql_user_privs(a, "app_two", "t"), SQL_PRIV_SELECT);
    assert_int_equal(sql_user_privs(a, "appxtwo", NULL), 0);
    assert_true(sql_user_any_in_db(a, "app_two"));
    assert_false(sql_user_any_in_db(a, "other"));
    sql_users_edit_fini(&e);
}

static sql_user *add(sql_users_edit *e, const char *user, const char *host)
{
    sql_user *a = sql_users_edit_add(e, user, host);
    assert_non_null(a);
    return a;
}

static void test_login_order(void **state)
{
    (void)state;
    sql_users_edit e;
    sql_users_edit_init(&e);
    add(&e, "bob", "%");
    add(&e, "", "127.0.0.1"); /* anonymous, exact host */
    add(&e, "bob", "127.0.%");
    add(&e, "bob", "127.%");
    add(&e, "alice", "%");
    add(&e, "bob", "127.0.0.1");
    sql_users *u = sql_users_build(&e, 7);
    assert_non_null(u);
    assert_int_equal(sql_users_version(u), 7);
    assert_int_equal(sql_users_count(u), 6);
    /* exact hosts first (named user before anonymous), then longer literal prefixes, % last */
    const sql_user *a = sql_users_match(u, "bob", "127.0.0.1");
    assert_string_equal(a->host, "127.0.0.1");
    assert_string_equal(a->user, "bob");
    assert_string_equal(sql_users_match(u, "bob", "127.0.0.9")->host, "127.0.%");
    assert_string_equal(sql_users_match(u, "bob", "127.1.0.9")->host, "127.%");
    assert_string_equal(sql_users_match(u, "bob", "10.0.0.1")->host, "%");
    /* alice from 127.0.0.1: the anonymous exact-host account is more specific than alice@% */
    a = sql_users_match(u, "alice", "127.0.0.1");
    assert_string_equal(a->user, "");
    assert_string_equal(sql_users_match(u, "alice", "10.0.0.1")->user, "alice");
    assert_null(sql_users_match(u, "carol", "10.0.0.1"));
    assert_non_null(sql_users_find(u, "bob", "127.0.%"));
    assert_null(sql_users_find(u, "Bob", "127.0.%")); /* user names are case-sensitive */
    assert_non_null(sql_users_find(u, "alice", "%"));
    sql_users_release(u);
    sql_users_edit_fini(&e);
}

static void test_grants(void **state)
{
    (void)state;
    sql_users_edit e;
    sql_users_edit_init(&e);
    sql_user *a = add(&e, "u", "%");
    assert_int_equal(sql_users_edit_grant(&e, a, NULL, NULL, SQL_PRIV_PROCESS, 0), 0);
    assert_int_equal(sql_users_edit_grant(&e, a, "d1", NULL, SQL_PRIV_SELECT | SQL_PRIV_INSERT, 0),
                     0);
    assert_int_equal(sql_users_edit_grant(&e, a, "d1", "t", SQL_PRIV_DELETE, 0), 0);
    assert_int_equal(sql_users_edit_grant(&e, a, "d2", "t", SQL_PRIV_UPDATE, 0), 0);
    assert_int_equal(a->ngrants, 3);
    assert_int_equal(sql_user_privs(a, NULL, NULL), SQL_PRIV_PROCESS);
    assert_int_equal(sql_user_privs(a, "D1", NULL),
                     SQL_PRIV_PROCESS | SQL_PRIV_SELECT | SQL_PRIV_INSERT);
    assert_int_equal(sql_user_privs(a, "d1", "T"),
                     SQL_PRIV_PROCESS | SQL_PRIV_SELECT | SQL_PRIV_INSERT | SQL_PRIV_DELETE);
    assert_int_equal(sql_user_privs(a, "d2", "t2"), SQL_PRIV_PROCESS);
    assert_true(sql_user_any_in_db(a, "d2"));
    /* a revoked grant that becomes empty disappears */
    assert_int_equal(sql_users_edit_grant(&e, a, "d1", NULL, 0, SQL_PRIV_SELECT), 0);
    assert_int_equal(sql_user_grant_at(a, "d1", NULL)->privs, SQL_PRIV_INSERT);
    assert_int_equal(sql_users_edit_grant(&e, a, "d1", NULL, 0, SQL_PRIV_INSERT), 0);
    assert_null(sql_user_grant_at(a, "d1", NULL));
    assert_non_null(sql_user_grant_at(a, "d1", "t"));
    assert_int_equal(a->ngrants, 2);
    /* revoking what is not there changes nothing */
    assert_int_equal(sql_users_edit_grant(&e, a, "d9", NULL, 0, SQL_PRIV_SELECT), 0);
    assert_int_equal(a->ngrants, 2);
    a->global = 0;
    assert_true(sql_user_any_in_db(a, "d1")); /* the table grant in d1 counts */
    assert_false(sql_user_any_in_db(a, "d3"));
    assert_int_equal(sql_users_edit_rename(&e, a, "v", "10.%"), 0);
    assert_non_null(sql_users_edit_find(&e, "v", "10.%"));
    assert_null(sql_users_edit_find(&e, "u", "%"));
    sql_users_edit_remove(&e, sql_users_edit_find(&e, "v", "10.%"));
    assert_int_equal(e.n, 0);
    sql_users_edit_fini(&e);
}

static void test_record_encoding(void **state)
{
    (void)state;
    sql_users_edit e;
    sql_users_edit_init(&e);
    sql_user *a = add(&e, "someone", "10.0.%");
    a->plugin = SQL_USER_PLUGIN_SHA2;
    a->auth_len = 52;
    for (int i = 0; i < 52; i++) {
        a->auth[i] = (uint8_t)(i * 7);
    }
    a->global = SQL_PRIV_SELECT | SQL_PRIV_GRANT;
    assert_int_equal(sql_users_edit_grant(&e, a, "db", NULL, SQL_PRIV_ALL_DB, 0), 0);
    assert_int_equal(sql_users_edit_grant(&e, a, "db", "tbl", SQL_PRIV_INDEX, 0), 0);
    cm_buf b = CM_BUF_INIT;
    assert_int_equal(sql_user_encode(a, &b), 0);
    cm_arena ar;
    cm_arena_init(&ar, 4096);
    sql_user d;
    cm_err err;
    assert_int_equal(sql_user_decode(cm_buf_slice(&b), &ar, &d, &err), 0);
    assert_string_equal(d.user, "someone");
    assert_string_equal(d.host, "10.0.%");
    assert_int_equal(d.plugin, SQL_USER_PLUGIN_SHA2);
    assert_int_equal(d.auth_len, 52);
    assert_memory_equal(d.auth, a->auth, 52);
    assert_int_equal(d.global, a->global);
    assert_int_equal(d.ngrants, 2);
    assert_string_equal(d.grants[0].db, "db");
    assert_null(d.grants[0].table);
    assert_int_equal(d.grants[0].privs, SQL_PRIV_ALL_DB);
    assert_string_equal(d.grants[1].table, "tbl");
    /* every truncation and every flipped byte is an error or a valid record, never a crash */
    for (size_t n = 0; n < b.len; n++) {
        cm_arena_reset(&ar);
        assert_int_equal(sql_user_decode(cm_slice_make(b.ptr, n), &ar, &d, &err), CM_E_CORRUPT);
    }
    for (size_t i = 0; i < b.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            uint8_t *p = (uint8_t *)b.ptr;
            p[i] ^= (uint8_t)(1u << bit);
            cm_arena_reset(&ar);
            int rc = sql_user_decode(cm_buf_slice(&b), &ar, &d, &err);
            assert_true(rc == 0 || rc == CM_E_CORRUPT);
            if (rc == 0) { /* one form per record: what decodes re-encodes to the same bytes */
                cm_buf again = CM_BUF_INIT;
                assert_int_equal(sql_user_encode(&d, &again), 0);
                assert_int_equal(again.len, b.len);
                assert_memory_equal(again.ptr, b.ptr, b.len);
                cm_buf_fini(&again);
            }
            p[i] ^= (uint8_t)(1u << bit);
        }
    }
    /* an overlong varint (0 written as 0x80 0x00) is refused */
    {
        static const uint8_t overlong[] = {1, 2, 'u', 2, '%', 0, 0, 0x80, 0x00, 0};
        assert_int_equal(sql_user_decode(cm_slice_make(overlong, sizeof(overlong)), &ar, &d, &err),
                         CM_E_CORRUPT);
        static const uint8_t fine[] = {1, 2, 'u', 2, '%', 0, 0, 0x00, 0};
        assert_int_equal(sql_user_decode(cm_slice_make(fine, sizeof(fine)), &ar, &d, &err), 0);
    }
    /* trailing bytes, an unknown format and a hash of the wrong size are refused */
    assert_int_equal(cm_buf_append_u8(&b, 0), 0);
    assert_int_equal(sql_user_decode(cm_buf_slice(&b), &ar, &d, &err), CM_E_CORRUPT);
    ((uint8_t *)b.ptr)[0] = 9;
    assert_int_equal(sql_user_decode(cm_buf_slice(&b), &ar, &d, &err), CM_E_CORRUPT);
    a->auth_len = 32; /* sha2 takes 52 */
    cm_buf_reset(&b);
    assert_int_equal(sql_user_encode(a, &b), 0);
    assert_int_equal(sql_user_decode(cm_buf_slice(&b), &ar, &d, &err), CM_E_CORRUPT);
    cm_buf_fini(&b);
    cm_arena_fini(&ar);
    sql_users_edit_fini(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_patterns),   cmocka_unit_test(test_db_patterns),
        cmocka_unit_test(test_login_order),     cmocka_unit_test(test_grants),
        cmocka_unit_test(test_record_encoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
