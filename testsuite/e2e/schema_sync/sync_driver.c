/*
 * sync_driver.c — the schema-sync e2e test's client (test_schema_sync.py): the KV client's commit
 * check and the catalog's registry entries and sync wait against a real cluster.
 *
 *   sync_driver --pd ADDR hook          the commit check of cm_txn_commit: a refusing check
 *                                       fails the commit with its own error, leaves nothing
 *                                       written and no lock behind; an accepting one sees the
 *                                       commit_ts the transaction then reports, above start_ts;
 *                                       a transaction that wrote nothing never calls it
 *   sync_driver --pd ADDR registry      the live "ddl/schema/" entries: "entry KEY VERSION ADDR"
 *                                       lines, then "ok entries=N"
 *   sync_driver --pd ADDR wait V LEASE_MS
 *                                       opens a catalog (schema lease LEASE_MS, no DDL worker)
 *                                       and runs sql_cat_wait_synced(V): "wait all=0|1 rc=RC
 *                                       ms=MS" (MS from the call to its return)
 *   sync_driver --pd ADDR lease LEASE_MS
 *                                       opens a catalog: "lease rc=RC" right after the open, then
 *                                       "own KEY VERSION" for its own registry entry
 * Exit status 0 when the command ran (and for hook: every check held), 1 when not, 2 on usage.
 */
#include "cm_kv_client.h"
#include "cm_log.h"
#include "cm_pd_client.h"
#include "cm_time.h"
#include "sql_catalog.h"
#include "sql_ddl_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *pd_addr;

static cm_slice S(const char *s)
{
    return cm_slice_make(s, strlen(s));
}

#define CHECK(cond, what)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "sync_driver: check failed: %s (%s:%d)\n", what, __FILE__, __LINE__);  \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

typedef struct hook_state {
    int calls;
    int refuse; /* the code to return, 0: accept */
    uint64_t seen_ts;
} hook_state;

static int hook(void *user, uint64_t commit_ts, cm_err *err)
{
    hook_state *h = user;
    h->calls++;
    h->seen_ts = commit_ts;
    if (h->refuse != 0) {
        return cm_err_set(err, h->refuse, "refused by the test's commit check");
    }
    return 0;
}

/* Writes key=value in one transaction with the check h (NULL: none). */
static int write_one(cm_kv_client *kc, const char *key, const char *value, hook_state *h,
                     uint64_t *start_ts, uint64_t *commit_ts, cm_err *err)
{
    cm_txn *t = NULL;
    int rc = cm_txn_begin(kc, &t, err);
    if (rc != 0) {
        return rc;
    }
    *start_ts = cm_txn_start_ts(t);
    rc = cm_txn_set(t, S(key), S(value), err);
    /* a second key in another part of the key space: secondaries too */
    char k2[64];
    snprintf(k2, sizeof(k2), "zz/%s", key);
    rc = rc ? rc : cm_txn_set(t, S(k2), S(value), err);
    if (rc == 0 && h != NULL) {
        cm_txn_set_commit_check(t, hook, h);
    }
    rc = rc ? rc : cm_txn_commit(t, err);
    *commit_ts = cm_txn_commit_ts(t);
    cm_txn_free(t);
    return rc;
}

static int read_one(cm_kv_client *kc, const char *key, cm_buf *out, cm_err *err)
{
    cm_txn *t = NULL;
    int rc = cm_txn_begin(kc, &t, err);
    if (rc == 0) {
        rc = cm_txn_get(t, S(key), out, err);
    }
    cm_txn_free(t);
    return rc;
}

static int cmd_hook(void)
{
    cm_kv_client *kc = NULL;
    cm_err err;
    cm_kv_client_options o;
    cm_kv_client_options_default(&o);
    CHECK(cm_kv_client_create(pd_addr, &o, &kc, &err) == 0, "kv client");
    char key[64];
    snprintf(key, sizeof(key), "synctest/%llu", (unsigned long long)cm_time_wall_ms());
    uint64_t st = 0, ct = 0;
    cm_buf v = CM_BUF_INIT;

    /* 1. refused: the commit fails with the check's error, nothing is visible */
    hook_state h = {0, CM_E_DEADLOCK, 0};
    int rc = write_one(kc, key, "refused", &h, &st, &ct, &err);
    CHECK(rc == CM_E_DEADLOCK, "a refusing check fails the commit with its code");
    CHECK(strstr(err.msg, "refused by the test") != NULL, "the check's message");
    CHECK(h.calls == 1 && h.seen_ts > st, "the check ran once with a commit_ts above start_ts");
    CHECK(ct == 0, "no commit_ts after a refused commit");
    rc = read_one(kc, key, &v, &err);
    CHECK(rc == CM_E_NOT_FOUND, "nothing of a refused transaction is visible");

    /* 2. no lock left: a new writer of the same keys commits at once (a lock left behind would
     * make it wait for the lock's TTL and resolve it) */
    uint64_t t0 = cm_time_mono_ms();
    hook_state ok = {0, 0, 0};
    rc = write_one(kc, key, "accepted", &ok, &st, &ct, &err);
    uint64_t took = cm_time_mono_ms() - t0;
    CHECK(rc == 0, "an accepting check commits");
    CHECK(ok.calls == 1 && ok.seen_ts == ct && ct > st, "the check saw the commit_ts");
    CHECK(took < 1500, "the refused transaction's locks were rolled back (no lock wait)");
    cm_buf_reset(&v);
    CHECK(read_one(kc, key, &v, &err) == 0 && v.len == 8 && memcmp(v.ptr, "accepted", 8) == 0,
          "the accepted value is visible");

    /* 3. a refusal with another code (the lease gate's 8027) travels as is */
    hook_state h2 = {0, CM_E_SCHEMA_OUT_OF_DATE, 0};
    rc = write_one(kc, key, "late", &h2, &st, &ct, &err);
    CHECK(rc == CM_E_SCHEMA_OUT_OF_DATE, "8027 from the check");
    cm_buf_reset(&v);
    CHECK(read_one(kc, key, &v, &err) == 0 && v.len == 8 && memcmp(v.ptr, "accepted", 8) == 0,
          "the refused write left the old value");

    /* 4. a transaction that wrote nothing never calls the check */
    cm_txn *t = NULL;
    hook_state h3 = {0, CM_E_DEADLOCK, 0};
    CHECK(cm_txn_begin(kc, &t, &err) == 0, "begin");
    cm_txn_set_commit_check(t, hook, &h3);
    CHECK(cm_txn_commit(t, &err) == 0 && h3.calls == 0, "empty transaction: no check");
    cm_txn_free(t);
    cm_buf_fini(&v);
    cm_kv_client_free(kc);
    printf("hook ok refused_then_accepted_in_ms=%llu\n", (unsigned long long)took);
    return 0;
}

static int list_cb(void *user, const char *key, cm_slice value, uint64_t ttl_left_ms)
{
    int *n = user;
    uint64_t v = 0;
    for (int i = 7; value.len >= 8 && i >= 0; i--) {
        v = v << 8 | value.ptr[i];
    }
    printf("entry %s %llu %.*s ttl=%llu\n", key, (unsigned long long)v,
           (int)(value.len > 8 ? value.len - 8 : 0),
           value.len > 8 ? (const char *)value.ptr + 8 : "", (unsigned long long)ttl_left_ms);
    (*n)++;
    return 0;
}

static int cmd_registry(void)
{
    cm_kv_client *kc = NULL;
    cm_err err;
    CHECK(cm_kv_client_create(pd_addr, NULL, &kc, &err) == 0, "kv client");
    int n = 0;
    int rc = cm_pd_registry_list(cm_kv_client_pd(kc), SQL_CAT_REG_SCHEMA, 0, list_cb, &n, &err);
    if (rc != 0) {
        printf("err %s\n", err.msg);
    } else {
        printf("ok entries=%d\n", n);
    }
    cm_kv_client_free(kc);
    return rc != 0;
}

static int open_cat(int64_t lease_ms, cm_kv_client **kc, sql_catalog **cat)
{
    cm_err err;
    CHECK(cm_kv_client_create(pd_addr, NULL, kc, &err) == 0, "kv client");
    sql_cat_options o;
    sql_cat_options_default(&o);
    o.lease_ms = lease_ms;
    o.no_ddl_worker = true;
    if (sql_cat_open(*kc, &o, cat, &err) != 0) {
        fprintf(stderr, "sync_driver: open: %s\n", err.msg);
        return 1;
    }
    return 0;
}

static int cmd_wait(uint64_t v, int64_t lease_ms)
{
    cm_kv_client *kc = NULL;
    sql_catalog *cat = NULL;
    if (open_cat(lease_ms, &kc, &cat) != 0) {
        return 1;
    }
    cm_err err;
    cm_err_clear(&err);
    bool all = false;
    uint64_t t0 = cm_time_mono_ms();
    int rc = sql_cat_wait_synced(cat, v, &all, &err);
    uint64_t ms = cm_time_mono_ms() - t0;
    printf("wait all=%d rc=%d ms=%llu %s\n", all ? 1 : 0, rc, (unsigned long long)ms,
           rc ? err.msg : "");
    sql_cat_close(cat);
    cm_kv_client_free(kc);
    return 0;
}

static int cmd_lease(int64_t lease_ms)
{
    cm_kv_client *kc = NULL;
    sql_catalog *cat = NULL;
    if (open_cat(lease_ms, &kc, &cat) != 0) {
        return 1;
    }
    cm_err err;
    int rc = sql_cat_lease_check(cat, &err);
    printf("lease rc=%d\n", rc);
    /* its own entry appears within a moment */
    char key[128];
    snprintf(key, sizeof(key), "%s%s", SQL_CAT_REG_SCHEMA, sql_cat_node_id(cat));
    cm_buf v = CM_BUF_INIT;
    int got = -1;
    for (int i = 0; i < 100 && got != 0; i++) {
        cm_buf_reset(&v);
        uint64_t ttl = 0;
        got = cm_pd_registry_get(cm_kv_client_pd(kc), key, &v, &ttl, &err);
        if (got != 0) {
            cm_time_sleep_ms(20);
        }
    }
    uint64_t ver = 0;
    for (int i = 7; got == 0 && v.len >= 8 && i >= 0; i--) {
        ver = ver << 8 | v.ptr[i];
    }
    sql_schema *s = sql_cat_acquire(cat);
    printf("own %s %llu loaded=%llu\n", got == 0 ? key : "-", (unsigned long long)ver,
           (unsigned long long)sql_schema_version(s));
    sql_schema_release(s);
    cm_buf_fini(&v);
    sql_cat_close(cat);
    /* closing deletes the entry */
    cm_buf b = CM_BUF_INIT;
    uint64_t ttl = 0;
    printf("after-close %s\n",
           cm_pd_registry_get(cm_kv_client_pd(kc), key, &b, &ttl, &err) == CM_E_NOT_FOUND
               ? "gone"
               : "present");
    cm_buf_fini(&b);
    cm_kv_client_free(kc);
    return 0;
}

int main(int argc, char **argv)
{
    cm_log_set_level(CM_LOG_WARN);
    if (argc < 4 || strcmp(argv[1], "--pd") != 0) {
        fprintf(stderr, "usage: sync_driver --pd ADDR hook|registry|wait V LEASE_MS|lease L\n");
        return 2;
    }
    pd_addr = argv[2];
    const char *cmd = argv[3];
    if (strcmp(cmd, "hook") == 0) {
        return cmd_hook();
    }
    if (strcmp(cmd, "registry") == 0) {
        return cmd_registry();
    }
    if (strcmp(cmd, "wait") == 0 && argc == 6) {
        return cmd_wait(strtoull(argv[4], NULL, 10), strtoll(argv[5], NULL, 10));
    }
    if (strcmp(cmd, "lease") == 0 && argc == 5) {
        return cmd_lease(strtoll(argv[4], NULL, 10));
    }
    fprintf(stderr, "sync_driver: unknown command %s\n", cmd);
    return 2;
}
