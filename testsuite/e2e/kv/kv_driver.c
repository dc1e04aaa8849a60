/*
 * kv_driver.c — the e2e tests' and benchmarks' client of the KV cluster (common/kvclient):
 *
 *   kv_driver --pd ADDR split KEY...                 split the regions at these keys
 *   kv_driver --pd ADDR put KEY VALUE | get KEY      one transaction each
 *   kv_driver --pd ADDR multi-put KEY...             one transaction writing every key
 *   kv_driver --pd ADDR bank-init N BALANCE          accounts acct%05d, one transaction
 *   kv_driver --pd ADDR bank SECONDS THREADS READERS N LOG
 *        transfers between random accounts (each also writes a marker key m<thread>_<seq>),
 *        readers check the total at snapshots; every acknowledged commit is appended to LOG
 *        ("<mono_ms> <marker>"); prints a summary line with the largest gap between commits
 *   kv_driver --pd ADDR bank-check N TOTAL LOG       total exact and every logged marker present
 *   kv_driver --pd ADDR dead-prewrite KEY VALUE      prewrite and exit without committing
 *   kv_driver --pd ADDR late-prewrite KEY            a rolled-back transaction's prewrite fails
 *   kv_driver --pd ADDR scan START END               count of pairs across regions
 *   kv_driver --pd ADDR copr-test                    rows of table 42 across 2 regions, a dead
 *                                                    transaction's lock among them; coprocessor
 *                                                    scan in pages returns the projected columns
 *   kv_driver --pd ADDR bench SECONDS THREADS KIND   KIND get|commit1|commit10: ops/s and p99
 * Exit status 0 when the check held, 1 when it did not, 2 on usage errors.
 */
#include "cm_kv_client.h"
#include "cm_kv_int.h"
#include "cm_log.h"
#include "cm_keys.h"
#include "cm_pd_client.h"
#include "cm_row.h"
#include "cm_time.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cm_kv_client *kc;

static cm_slice S(const char *s)
{
    return cm_slice_make(s, strlen(s));
}

static int die(const char *what, const cm_err *err)
{
    fprintf(stderr, "kv_driver: %s: %s\n", what, err->msg);
    return 1;
}

static int cmd_put(const char *k, const char *v)
{
    cm_txn *t;
    cm_err err;
    int rc = cm_txn_begin(kc, &t, &err);
    rc = rc ? rc : cm_txn_set(t, S(k), S(v), &err);
    rc = rc ? rc : cm_txn_commit(t, &err);
    cm_txn_free(t);
    return rc ? die("put", &err) : 0;
}

static int cmd_multi_put(int n, char **keys)
{
    cm_txn *t;
    cm_err err;
    int rc = cm_txn_begin(kc, &t, &err);
    for (int i = 0; rc == 0 && i < n; i++) {
        rc = cm_txn_set(t, S(keys[i]), S("probe"), &err);
    }
    rc = rc ? rc : cm_txn_commit(t, &err);
    cm_txn_free(t);
    return rc ? die("multi-put", &err) : 0;
}

static int cmd_get(const char *k)
{
    cm_txn *t;
    cm_err err;
    cm_buf v = CM_BUF_INIT;
    uint64_t t0 = cm_time_mono_ms();
    int rc = cm_txn_begin(kc, &t, &err);
    rc = rc ? rc : cm_txn_get(t, S(k), &v, &err);
    cm_txn_free(t);
    if (rc == CM_E_NOT_FOUND) {
        printf("not found ms=%llu\n", (unsigned long long)(cm_time_mono_ms() - t0));
        return 0;
    }
    if (rc != 0) {
        return die("get", &err);
    }
    printf("value=%.*s ms=%llu\n", (int)v.len, (const char *)v.ptr,
           (unsigned long long)(cm_time_mono_ms() - t0));
    cm_buf_fini(&v);
    return 0;
}

static int cmd_split(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        cm_err err;
        if (cm_kv_split(kc, S(argv[i]), &err) != 0) {
            return die("split", &err);
        }
    }
    return 0;
}

static int cmd_scan(const char *start, const char *end)
{
    cm_txn *t;
    cm_err err;
    int rc = cm_txn_begin(kc, &t, &err);
    cm_txn_iter *it = NULL;
    rc = rc ? rc : cm_txn_scan(t, S(start), S(end), &it, &err);
    long n = 0;
    cm_slice k, v;
    while (rc == 0 && (rc = cm_txn_iter_next(it, &k, &v, &err)) == 1) {
        n++;
        rc = 0;
    }
    cm_txn_iter_free(it);
    cm_txn_free(t);
    if (rc < 0) {
        return die("scan", &err);
    }
    printf("pairs=%ld\n", n);
    return 0;
}

/* ---- bank ------------------------------------------------------------------------------- */

static int naccts;
static uint64_t run_until_ms;
static FILE *commit_log;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_long n_commits, n_conflicts, n_other, n_undetermined, n_reads, n_bad_reads;
static atomic_ullong last_commit_ms, max_gap_ms;

static void acct_key(char *out, int i)
{
    snprintf(out, 16, "acct%05d", i);
}

static int read_total(cm_txn *t, long *total, cm_err *err)
{
    cm_txn_iter *it = NULL;
    int rc = cm_txn_scan(t, S("acct"), S("acct~"), &it, err);
    long sum = 0, n = 0;
    cm_slice k, v;
    while (rc == 0 && (rc = cm_txn_iter_next(it, &k, &v, err)) == 1) {
        rc = 0;
        if (k.len != 9) {
            continue; /* probe keys of the failover check share the prefix */
        }
        char tmp[32];
        size_t l = v.len < 31 ? v.len : 31;
        memcpy(tmp, v.ptr, l);
        tmp[l] = 0;
        sum += atol(tmp);
        n++;
        rc = 0;
    }
    cm_txn_iter_free(it);
    if (rc < 0) {
        return rc;
    }
    if (n != naccts) {
        return cm_err_set(err, CM_E_CORRUPT, "scan saw %ld accounts, expected %d", n, naccts);
    }
    *total = sum;
    return 0;
}

static long expected_total;

static void *reader(void *arg)
{
    (void)arg;
    while (cm_time_mono_ms() < run_until_ms) {
        cm_txn *t;
        cm_err err;
        long total = 0;
        if (cm_txn_begin(kc, &t, &err) != 0) {
            continue;
        }
        int rc = read_total(t, &total, &err);
        cm_txn_free(t);
        if (rc == 0) {
            atomic_fetch_add(&n_reads, 1);
            if (total != expected_total) {
                atomic_fetch_add(&n_bad_reads, 1);
                fprintf(stderr, "kv_driver: snapshot total %ld != %ld\n", total, expected_total);
            }
        }
    }
    return NULL;
}

static void *transferer(void *arg)
{
    long id = (long)arg;
    unsigned seed = (unsigned)(id * 7919 + cm_time_mono_ns());
    long seq = 0;
    while (cm_time_mono_ms() < run_until_ms) {
        int a = rand_r(&seed) % naccts, b = rand_r(&seed) % naccts;
        if (a == b) {
            continue;
        }
        char ka[16], kb[16], marker[48];
        acct_key(ka, a);
        acct_key(kb, b);
        snprintf(marker, sizeof(marker), "m%02ld_%08ld", id, seq++);
        cm_txn *t;
        cm_err err;
        cm_buf va = CM_BUF_INIT, vb = CM_BUF_INIT;
        int rc = cm_txn_begin(kc, &t, &err);
        cm_slice bk[2] = {S(ka), S(kb)};
        cm_buf bv[2] = {CM_BUF_INIT, CM_BUF_INIT};
        bool bf[2] = {false, false};
        rc = rc ? rc : cm_txn_batch_get(t, bk, 2, bv, bf, &err);
        if (rc == 0 && (!bf[0] || !bf[1])) {
            rc = cm_err_set(&err, CM_E_CORRUPT, "account missing");
        }
        va = bv[0];
        vb = bv[1];
        if (rc == 0) {
            cm_buf_terminate(&va);
            cm_buf_terminate(&vb);
            long ba = atol((char *)va.ptr), bb = atol((char *)vb.ptr);
            long amt = 1 + rand_r(&seed) % 10;
            char na[32], nb[32];
            snprintf(na, sizeof(na), "%ld", ba - amt);
            snprintf(nb, sizeof(nb), "%ld", bb + amt);
            rc = cm_txn_set(t, S(ka), S(na), &err);
            rc = rc ? rc : cm_txn_set(t, S(kb), S(nb), &err);
            rc = rc ? rc : cm_txn_set(t, S(marker), S("1"), &err);
            rc = rc ? rc : cm_txn_commit(t, &err);
        }
        cm_txn_free(t);
        cm_buf_fini(&va);
        cm_buf_fini(&vb);
        if (rc == 0) {
            uint64_t now = cm_time_mono_ms();
            uint64_t prev = atomic_exchange(&last_commit_ms, now);
            if (prev != 0 && now > prev && now - prev > atomic_load(&max_gap_ms)) {
                atomic_store(&max_gap_ms, now - prev);
            }
            atomic_fetch_add(&n_commits, 1);
            pthread_mutex_lock(&log_mu);
            fprintf(commit_log, "%llu %s\n", (unsigned long long)now, marker);
            fflush(commit_log);
            pthread_mutex_unlock(&log_mu);
        } else if (rc == CM_E_WRITE_CONFLICT || rc == CM_E_TXN_ROLLED_BACK) {
            atomic_fetch_add(&n_conflicts, 1);
        } else if (rc == CM_E_TXN_UNDETERMINED) {
            atomic_fetch_add(&n_undetermined, 1);
            fprintf(stderr, "kv_driver: undetermined: %s\n", err.msg);
        } else {
            atomic_fetch_add(&n_other, 1);
            fprintf(stderr, "kv_driver: transfer failed: %s\n", err.msg);
        }
    }
    return NULL;
}

static int cmd_bank_init(int n, long balance)
{
    cm_txn *t;
    cm_err err;
    int rc = cm_txn_begin(kc, &t, &err);
    for (int i = 0; rc == 0 && i < n; i++) {
        char k[16], v[32];
        acct_key(k, i);
        snprintf(v, sizeof(v), "%ld", balance);
        rc = cm_txn_set(t, S(k), S(v), &err);
    }
    rc = rc ? rc : cm_txn_commit(t, &err);
    cm_txn_free(t);
    return rc ? die("bank-init", &err) : 0;
}

static int cmd_bank(int seconds, int threads, int readers, int n, long total, const char *log)
{
    naccts = n;
    expected_total = total;
    commit_log = fopen(log, "a");
    if (commit_log == NULL) {
        perror(log);
        return 2;
    }
    run_until_ms = cm_time_mono_ms() + (uint64_t)seconds * 1000;
    atomic_store(&last_commit_ms, cm_time_mono_ms());
    pthread_t th[128];
    int nt = 0;
    for (long i = 0; i < threads && nt < 128; i++) {
        pthread_create(&th[nt++], NULL, transferer, (void *)i);
    }
    for (long i = 0; i < readers && nt < 128; i++) {
        pthread_create(&th[nt++], NULL, reader, NULL);
    }
    for (int i = 0; i < nt; i++) {
        pthread_join(th[i], NULL);
    }
    fclose(commit_log);
    uint64_t gap = atomic_load(&max_gap_ms);
    uint64_t tail = cm_time_mono_ms() - atomic_load(&last_commit_ms);
    if (tail > gap) {
        gap = tail;
    }
    printf("bank commits=%ld conflicts=%ld undetermined=%ld other_errors=%ld reads=%ld "
           "bad_reads=%ld max_commit_gap_ms=%llu\n",
           atomic_load(&n_commits), atomic_load(&n_conflicts), atomic_load(&n_undetermined),
           atomic_load(&n_other), atomic_load(&n_reads), atomic_load(&n_bad_reads),
           (unsigned long long)gap);
    return atomic_load(&n_bad_reads) == 0 && atomic_load(&n_commits) > 0 ? 0 : 1;
}

static int cmd_bank_check(int n, long total, const char *log)
{
    naccts = n;
    cm_txn *t;
    cm_err err;
    long got = 0;
    int rc = cm_txn_begin(kc, &t, &err);
    rc = rc ? rc : read_total(t, &got, &err);
    if (rc != 0) {
        cm_txn_free(t);
        return die("bank-check", &err);
    }
    FILE *f = fopen(log, "r");
    long checked = 0, missing = 0;
    char line[128];
    while (f && fgets(line, sizeof(line), f)) {
        char marker[64];
        unsigned long long ms;
        if (sscanf(line, "%llu %63s", &ms, marker) != 2) {
            continue;
        }
        cm_buf v = CM_BUF_INIT;
        int grc = cm_txn_get(t, S(marker), &v, &err);
        cm_buf_fini(&v);
        if (grc == CM_E_NOT_FOUND) {
            missing++;
            fprintf(stderr, "kv_driver: acknowledged commit %s is missing\n", marker);
        } else if (grc != 0) {
            cm_txn_free(t);
            if (f) {
                fclose(f);
            }
            return die("bank-check get", &err);
        }
        checked++;
    }
    if (f) {
        fclose(f);
    }
    cm_txn_free(t);
    printf("bank-check total=%ld expected=%ld acknowledged=%ld missing=%ld\n", got, total, checked,
           missing);
    return got == total && missing == 0 ? 0 : 1;
}

/* ---- lock tests ----------------------------------------------------------------------------- */

static int cmd_dead_prewrite(const char *k, const char *v)
{
    cm_txn *t;
    cm_err err;
    int rc = cm_txn_begin(kc, &t, &err);
    rc = rc ? rc : cm_txn_set(t, S(k), S(v), &err);
    rc = rc ? rc : cm_txn_prewrite_only(t, &err);
    if (rc != 0) {
        cm_txn_free(t);
        return die("dead-prewrite", &err);
    }
    printf("prewrote start_ts=%llu\n", (unsigned long long)cm_txn_start_ts(t));
    fflush(stdout);
    _exit(0); /* the client "dies": nothing is committed or rolled back */
}

static int cmd_late_prewrite(const char *k)
{
    cm_txn *t;
    cm_err err;
    int rc = cm_txn_begin(kc, &t, &err);
    rc = rc ? rc : cm_txn_set(t, S(k), S("late"), &err);
    if (rc != 0) {
        return die("late-prewrite", &err);
    }
    /* Another party rolls the transaction back before its prewrite arrives. */
    Tessera__Kvrpcpb__BatchRollbackRequest req = TESSERA__KVRPCPB__BATCH_ROLLBACK_REQUEST__INIT;
    ProtobufCBinaryData kb = {strlen(k), (uint8_t *)k};
    req.n_keys = 1;
    req.keys = &kb;
    req.start_version = cm_txn_start_ts(t);
    ProtobufCMessage *resp = NULL;
    bool unc = false;
    rc = kv_send_by_key(kc, S(k), TESSERA__KVRPCPB__METHOD__KV_BATCH_ROLLBACK, &req.base,
                        &tessera__kvrpcpb__batch_rollback_response__descriptor, &resp,
                        cm_time_mono_ms() + 10000, &unc, &err);
    if (rc != 0) {
        return die("rollback", &err);
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    rc = cm_txn_commit(t, &err);
    cm_txn_free(t);
    printf("late commit rc=%s (%s)\n", cm_err_name(rc), rc ? err.msg : "");
    return rc == CM_E_WRITE_CONFLICT || rc == CM_E_TXN_ROLLED_BACK ? 0 : 1;
}

/* ---- coprocessor ------------------------------------------------------------------------ */

#define COPR_ROWS 300

typedef struct copr_check {
    long n;
    long bad;
} copr_check;

/* Expects columns [3, 1, 4]: 3 = handle * 10, 1 = handle, 4 = NULL for even handles and
 * absent for odd ones. */
static int copr_row_cb(void *user, cm_slice key, cm_slice cols)
{
    copr_check *ck = user;
    int64_t table_id, h;
    cm_err err;
    if (cm_keys_decode_row(key, &table_id, &h, &err) != 0 || table_id != 42 || h != ck->n) {
        ck->bad++;
        fprintf(stderr, "kv_driver: copr row %ld: bad key\n", ck->n);
        ck->n++;
        return 0;
    }
    cm_reader rd;
    cm_reader_init(&rd, cols.ptr, cols.len);
    int64_t want[2] = {h * 10, h};
    for (int i = 0; i < 2; i++) {
        uint8_t pr;
        uint64_t len;
        cm_slice v;
        cm_datum d;
        if (cm_reader_u8(&rd, &pr) != 0 || pr != 2 || cm_reader_uvarint(&rd, &len) != 0 ||
            cm_reader_bytes(&rd, len, &v) != 0 ||
            cm_row_value_decode(CM_DT_INT64, v, &d, &err) != 0 || d.v.i64 != want[i]) {
            ck->bad++;
            fprintf(stderr, "kv_driver: copr row %lld column %d wrong\n", (long long)h, i);
        }
    }
    uint8_t pr4 = 9;
    if (cm_reader_u8(&rd, &pr4) != 0 || pr4 != (h % 2 == 0 ? 1 : 0) || cm_reader_left(&rd) != 0) {
        ck->bad++;
        fprintf(stderr, "kv_driver: copr row %lld column 4 presence %u\n", (long long)h, pr4);
    }
    ck->n++;
    return 0;
}

static int cmd_copr_test(const char *pd)
{
    cm_kv_client_options o;
    cm_kv_client_options_default(&o);
    o.scan_page = 64; /* several pages per region */
    cm_kv_client *c2 = NULL;
    cm_err err;
    if (cm_kv_client_create(pd, &o, &c2, &err) != 0) {
        return die("client", &err);
    }
    cm_buf key = CM_BUF_INIT, row = CM_BUF_INIT;
    cm_txn *t = NULL;
    int rc = cm_txn_begin(c2, &t, &err);
    for (int64_t h = 0; rc == 0 && h < COPR_ROWS; h++) {
        char name[32];
        snprintf(name, sizeof(name), "name%lld", (long long)h);
        cm_row_cell cells[4];
        size_t n = 3;
        cells[0].id = 1;
        cells[0].value = cm_datum_int64(h);
        cells[1].id = 2;
        cells[1].value = cm_datum_bytes(S(name));
        cells[1].value.type = CM_DT_STRING;
        cells[2].id = 3;
        cells[2].value = cm_datum_int64(h * 10);
        if (h % 2 == 0) {
            cells[3].id = 4;
            cells[3].value = cm_datum_null();
            n = 4;
        }
        cm_buf_reset(&key);
        cm_buf_reset(&row);
        rc = cm_keys_append_row(&key, 42, h);
        rc = rc ? rc : cm_row_encode(&row, cells, n, &err);
        rc = rc ? rc : cm_txn_set(t, cm_buf_slice(&key), cm_buf_slice(&row), &err);
    }
    rc = rc ? rc : cm_txn_commit(t, &err);
    cm_txn_free(t);
    t = NULL;
    cm_buf_reset(&key);
    rc = rc ? rc : cm_keys_append_row(&key, 42, COPR_ROWS / 2);
    rc = rc ? rc : cm_kv_split(c2, cm_buf_slice(&key), &err);
    /* A transaction that prewrites row 200 and dies: the scan must wait out its TTL, then
     * roll it back and return the committed row. */
    rc = rc ? rc : cm_txn_begin(c2, &t, &err);
    cm_buf_reset(&key);
    rc = rc ? rc : cm_keys_append_row(&key, 42, 200);
    rc = rc ? rc : cm_txn_set(t, cm_buf_slice(&key), S("garbage"), &err);
    rc = rc ? rc : cm_txn_prewrite_only(t, &err);
    cm_txn_free(t);
    uint64_t ts = 0;
    rc = rc ? rc : cm_pd_get_ts(cm_kv_client_pd(c2), &ts, &err);
    cm_buf start = CM_BUF_INIT, end = CM_BUF_INIT;
    rc = rc ? rc : cm_keys_rows_range(42, &start, &end);
    copr_check ck = {0, 0};
    cm_copr_col cols[3] = {{3, CM_DT_INT64}, {1, CM_DT_INT64}, {4, CM_DT_INT64}};
    cm_kv_client_stats st0, st1;
    cm_kv_client_stats_get(c2, &st0);
    rc = rc ? rc
            : cm_kv_copr_scan(c2, cm_buf_slice(&start), cm_buf_slice(&end), ts, cols, 3,
                              copr_row_cb, &ck, &err);
    cm_kv_client_stats_get(c2, &st1);
    printf("copr rows=%ld bad=%ld locks_resolved=%llu\n", ck.n, ck.bad,
           (unsigned long long)(st1.locks_resolved - st0.locks_resolved));
    cm_buf_fini(&key);
    cm_buf_fini(&row);
    cm_buf_fini(&start);
    cm_buf_fini(&end);
    cm_kv_client_free(c2);
    if (rc != 0) {
        return die("copr-test", &err);
    }
    return ck.n == COPR_ROWS && ck.bad == 0 && st1.locks_resolved > st0.locks_resolved ? 0 : 1;
}

/* ---- bench ------------------------------------------------------------------------------- */

static const char *bench_kind;
static uint64_t *lat_us[64];
static size_t lat_n[64];
#define LAT_MAX 2000000

static void *bench_thread(void *arg)
{
    long id = (long)arg;
    unsigned seed = (unsigned)(id * 31 + 7);
    lat_us[id] = malloc(sizeof(uint64_t) * LAT_MAX);
    while (cm_time_mono_ms() < run_until_ms && lat_n[id] < LAT_MAX) {
        uint64_t t0 = cm_time_mono_ns();
        cm_txn *t;
        cm_err err;
        int rc = cm_txn_begin(kc, &t, &err);
        char k[32];
        if (strcmp(bench_kind, "get") == 0) {
            cm_buf v = CM_BUF_INIT;
            snprintf(k, sizeof(k), "b%06d", rand_r(&seed) % 1000);
            rc = rc ? rc : cm_txn_get(t, S(k), &v, &err);
            rc = rc == CM_E_NOT_FOUND ? 0 : rc;
            cm_buf_fini(&v);
        } else {
            int nk = strcmp(bench_kind, "commit10") == 0 ? 10 : 1;
            for (int i = 0; rc == 0 && i < nk; i++) {
                snprintf(k, sizeof(k), "b%06d", rand_r(&seed) % 100000);
                rc = cm_txn_set(t, S(k), S("0123456789abcdef0123456789abcdef"), &err);
            }
            rc = rc ? rc : cm_txn_commit(t, &err);
        }
        cm_txn_free(t);
        if (rc == 0) {
            lat_us[id][lat_n[id]++] = (cm_time_mono_ns() - t0) / 1000;
        }
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmd_bench(int seconds, int threads, const char *kind)
{
    bench_kind = kind;
    if (threads > 64) {
        threads = 64;
    }
    run_until_ms = cm_time_mono_ms() + (uint64_t)seconds * 1000;
    pthread_t th[64];
    for (long i = 0; i < threads; i++) {
        pthread_create(&th[i], NULL, bench_thread, (void *)i);
    }
    size_t total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += lat_n[i];
    }
    uint64_t *all = malloc(sizeof(uint64_t) * (total + 1));
    size_t k = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(all + k, lat_us[i], lat_n[i] * sizeof(uint64_t));
        k += lat_n[i];
        free(lat_us[i]);
    }
    qsort(all, total, sizeof(uint64_t), cmp_u64);
    uint64_t p50 = total ? all[total / 2] : 0, p99 = total ? all[(total * 99) / 100] : 0;
    printf("bench kind=%s threads=%d ops=%zu ops_per_s=%.0f p50_us=%llu p99_us=%llu\n", kind,
           threads, total, (double)total / seconds, (unsigned long long)p50,
           (unsigned long long)p99);
    free(all);
    return total > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[1], "--pd") != 0) {
        fprintf(stderr, "usage: kv_driver --pd ADDR CMD ARGS...\n");
        return 2;
    }
    cm_log_set_level(getenv("KV_DRIVER_DEBUG") ? CM_LOG_DEBUG : CM_LOG_WARN);
    cm_err err;
    if (cm_kv_client_create(argv[2], NULL, &kc, &err) != 0) {
        return die("client", &err);
    }
    const char *cmd = argv[3];
    char **a = argv + 4;
    int na = argc - 4;
    int rc = 2;
    if (strcmp(cmd, "split") == 0) {
        rc = cmd_split(na, a);
    } else if (strcmp(cmd, "put") == 0 && na == 2) {
        rc = cmd_put(a[0], a[1]);
    } else if (strcmp(cmd, "multi-put") == 0 && na >= 1) {
        rc = cmd_multi_put(na, a);
    } else if (strcmp(cmd, "get") == 0 && na == 1) {
        rc = cmd_get(a[0]);
    } else if (strcmp(cmd, "scan") == 0 && na == 2) {
        rc = cmd_scan(a[0], a[1]);
    } else if (strcmp(cmd, "bank-init") == 0 && na == 2) {
        rc = cmd_bank_init(atoi(a[0]), atol(a[1]));
    } else if (strcmp(cmd, "bank") == 0 && na == 6) {
        rc = cmd_bank(atoi(a[0]), atoi(a[1]), atoi(a[2]), atoi(a[3]), atol(a[4]), a[5]);
    } else if (strcmp(cmd, "bank-check") == 0 && na == 3) {
        rc = cmd_bank_check(atoi(a[0]), atol(a[1]), a[2]);
    } else if (strcmp(cmd, "dead-prewrite") == 0 && na == 2) {
        rc = cmd_dead_prewrite(a[0], a[1]);
    } else if (strcmp(cmd, "late-prewrite") == 0 && na == 1) {
        rc = cmd_late_prewrite(a[0]);
    } else if (strcmp(cmd, "copr-test") == 0 && na == 0) {
        rc = cmd_copr_test(argv[2]);
    } else if (strcmp(cmd, "bench") == 0 && na == 3) {
        rc = cmd_bench(atoi(a[0]), atoi(a[1]), a[2]);
    } else {
        fprintf(stderr, "kv_driver: unknown command or arguments: %s\n", cmd);
    }
    cm_kv_client_free(kc);
    return rc;
}
