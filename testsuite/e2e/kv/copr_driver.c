/*
 * copr_driver.c — the e2e tests' client of the coprocessor over a real cluster (cm_kv_copr,
 * common/copr plans). Table 43, handles 0..N-1: column 1 = h, 2 = h % 7, 3 = "v<h>".
 *
 *   copr_driver --pd ADDR load N NREGIONS   write the rows and split them into NREGIONS regions
 *   copr_driver --pd ADDR parallel N        cm_kv_copr over every region (ordered, unordered,
 *                                           early stop) gives what the sequential
 *                                           cm_kv_copr_scan gives, byte for byte
 *   copr_driver --pd ADDR agg N             COUNT/SUM with a selection, and GROUP BY h % 7, merged
 *                                           from every region's partial states
 *   copr_driver --pd ADDR dead-lock H       a dead transaction's locks on rows H and H+1: a scan
 *                                           and an aggregate resolve them, read the old values
 *   copr_driver --pd ADDR live-lock H       a live transaction (long TTL) holds row H and commits
 *                                           600 ms later at a commit_ts below the readers' ts:
 *                                           a scan and an aggregate wait and read the new value
 *   copr_driver --pd ADDR errors            an unknown section and an overflowing selection come
 *                                           back as UNSUPPORTED and BIGINT_RANGE
 *   copr_driver --pd ADDR split-mid N       a region ahead of an ordered scan splits during it:
 *                                           every row still comes back once, in order
 * Prints one result line per command; exit status 0 when the check held, 1 when it did not.
 */
#include "cm_copr.h"
#include "cm_cx.h"
#include "cm_kv_client.h"
#include "cm_kv_int.h"
#include "cm_keys.h"
#include "cm_log.h"
#include "cm_pd_client.h"
#include "cm_row.h"
#include "cm_time.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLE 43
#define BIG   1000000 /* the live transaction's new value of column 1: h + BIG */

static cm_kv_client *kc;

static int die(const char *what, const cm_err *err)
{
    fprintf(stderr, "copr_driver: %s: %s (%s)\n", what, err->msg, cm_err_name(err->code));
    return 1;
}

static const cm_copr_pcol cols3[3] = {{1, CM_DT_INT64}, {2, CM_DT_INT64}, {3, CM_DT_STRING}};
static const cm_copr_col scan_cols[3] = {{1, CM_DT_INT64}, {2, CM_DT_INT64}, {3, CM_DT_STRING}};

static void rows_range(int64_t from, int64_t to, cm_buf *start, cm_buf *end)
{
    cm_buf_reset(start);
    cm_buf_reset(end);
    cm_keys_append_row(start, TABLE, from);
    cm_keys_append_row(end, TABLE, to);
}

static int row_value(int64_t h, int64_t c1, cm_buf *row, cm_err *err)
{
    char s[32];
    snprintf(s, sizeof(s), "v%lld", (long long)h);
    cm_row_cell cells[3] = {{1, cm_datum_int64(c1)},
                            {2, cm_datum_int64(h % 7)},
                            {3, cm_datum_string(cm_slice_make(s, strlen(s)))}};
    cm_buf_reset(row);
    return cm_row_encode(row, cells, 3, err);
}

/* ---- load ----------------------------------------------------------------------------------- */

static int cmd_load(int64_t n, int nregions)
{
    cm_buf key = CM_BUF_INIT, row = CM_BUF_INIT;
    cm_err err;
    int rc = 0;
    for (int64_t base = 0; rc == 0 && base < n; base += 1000) {
        cm_txn *t = NULL;
        rc = cm_txn_begin(kc, &t, &err);
        for (int64_t h = base; rc == 0 && h < n && h < base + 1000; h++) {
            cm_buf_reset(&key);
            rc = cm_keys_append_row(&key, TABLE, h);
            rc = rc ? rc : row_value(h, h, &row, &err);
            rc = rc ? rc : cm_txn_set(t, cm_buf_slice(&key), cm_buf_slice(&row), &err);
        }
        rc = rc ? rc : cm_txn_commit(t, &err);
        cm_txn_free(t);
    }
    for (int i = 1; rc == 0 && i < nregions; i++) {
        cm_buf_reset(&key);
        rc = cm_keys_append_row(&key, TABLE, n * i / nregions);
        rc = rc ? rc : cm_kv_split(kc, cm_buf_slice(&key), &err);
    }
    cm_buf_fini(&key);
    cm_buf_fini(&row);
    if (rc != 0) {
        return die("load", &err);
    }
    printf("loaded rows=%lld regions=%d\n", (long long)n, nregions);
    return 0;
}

/* ---- scans: sequential reference and parallel ---------------------------------------------- */

typedef struct collected {
    cm_buf bytes; /* uvarint key_len | key | cols, per row */
    long rows;
    long pages;
    long stop_after_pages; /* 0: never stop */
    int64_t last_handle;
    long out_of_order;
    long handle_sum;
    int64_t split_at; /* split-mid: split these handles after the first page (0: no) */
    long bad;
} collected;

static int seq_cb(void *user, cm_slice key, cm_slice cols)
{
    collected *c = user;
    cm_buf_append_uvarint(&c->bytes, key.len);
    cm_buf_append_slice(&c->bytes, key);
    cm_buf_append_slice(&c->bytes, cols);
    c->rows++;
    return 0;
}

/* Splits one response into rows of 3 columns and appends them as seq_cb does. */
static int page_cb(void *user, cm_slice data)
{
    collected *c = user;
    cm_reader rd;
    cm_reader_init(&rd, data.ptr, data.len);
    c->pages++;
    while (cm_reader_left(&rd) > 0) {
        size_t row_start = rd.pos;
        uint64_t kl, vl;
        cm_slice k;
        if (cm_reader_uvarint(&rd, &kl) != 0 || cm_reader_bytes(&rd, kl, &k) != 0) {
            c->bad++;
            return 1;
        }
        for (int i = 0; i < 3; i++) {
            uint8_t pr;
            if (cm_reader_u8(&rd, &pr) != 0 ||
                (pr == CM_COPR_VALUE &&
                 (cm_reader_uvarint(&rd, &vl) != 0 || cm_reader_skip(&rd, vl) != 0))) {
                c->bad++;
                return 1;
            }
        }
        cm_buf_append(&c->bytes, data.ptr + row_start, rd.pos - row_start);
        int64_t tid, h;
        cm_err err;
        if (cm_keys_decode_row(k, &tid, &h, &err) != 0) {
            c->bad++;
            return 1;
        }
        if (c->rows > 0 && h <= c->last_handle) {
            c->out_of_order++;
        }
        c->last_handle = h;
        c->handle_sum += h;
        c->rows++;
    }
    if (c->split_at > 0 && c->pages == 1) {
        for (int i = 0; i < 2; i++) {
            cm_buf key = CM_BUF_INIT;
            cm_err err;
            cm_keys_append_row(&key, TABLE, c->split_at + i * 50);
            if (cm_kv_split(kc, cm_buf_slice(&key), &err) != 0) {
                fprintf(stderr, "copr_driver: split: %s\n", err.msg);
                c->bad++;
            }
            cm_buf_fini(&key);
        }
    }
    return c->stop_after_pages > 0 && c->pages >= c->stop_after_pages;
}

static int scan_plan(cm_buf *out, cm_err *err)
{
    cm_copr_plan p;
    memset(&p, 0, sizeof(p));
    p.scan = CM_COPR_SCAN_TABLE;
    p.ncols = 3;
    p.cols = cols3;
    cm_buf_reset(out);
    return cm_copr_plan_encode(&p, out, err);
}

static int par_scan(uint64_t ts, uint32_t conc, uint32_t page, bool ordered, collected *c,
                    cm_err *err)
{
    cm_buf plan = CM_BUF_INIT, start = CM_BUF_INIT, end = CM_BUF_INIT;
    int rc = scan_plan(&plan, err);
    rows_range(0, INT64_MAX, &start, &end);
    cm_kv_copr_opts o = {conc, page, ordered};
    rc = rc ? rc
            : cm_kv_copr(kc, cm_buf_slice(&plan), cm_buf_slice(&start), cm_buf_slice(&end), ts, &o,
                         page_cb, c, err);
    cm_buf_fini(&plan);
    cm_buf_fini(&start);
    cm_buf_fini(&end);
    return rc;
}

static int cmd_parallel(long n)
{
    cm_err err;
    uint64_t ts = 0;
    int rc = cm_pd_get_ts(cm_kv_client_pd(kc), &ts, &err);
    collected seq, ord, unord, early;
    memset(&seq, 0, sizeof(seq));
    memset(&ord, 0, sizeof(ord));
    memset(&unord, 0, sizeof(unord));
    memset(&early, 0, sizeof(early));
    cm_buf start = CM_BUF_INIT, end = CM_BUF_INIT;
    rows_range(0, INT64_MAX, &start, &end);
    uint64_t t0 = cm_time_mono_ms();
    rc = rc ? rc
            : cm_kv_copr_scan(kc, cm_buf_slice(&start), cm_buf_slice(&end), ts, scan_cols, 3,
                              seq_cb, &seq, &err);
    uint64_t t1 = cm_time_mono_ms();
    rc = rc ? rc : par_scan(ts, 8, 100, true, &ord, &err);
    uint64_t t2 = cm_time_mono_ms();
    rc = rc ? rc : par_scan(ts, 8, 100, false, &unord, &err);
    early.stop_after_pages = 3;
    rc = rc ? rc : par_scan(ts, 4, 50, true, &early, &err);
    cm_buf_fini(&start);
    cm_buf_fini(&end);
    if (rc != 0) {
        return die("parallel", &err);
    }
    bool same =
        seq.bytes.len == ord.bytes.len && memcmp(seq.bytes.ptr, ord.bytes.ptr, seq.bytes.len) == 0;
    long want_sum = n * (n - 1) / 2;
    printf("parallel seq_rows=%ld ord_rows=%ld same_bytes=%d out_of_order=%ld unord_rows=%ld "
           "unord_sum_ok=%d early_rows=%ld early_pages=%ld bad=%ld seq_ms=%llu par_ms=%llu\n",
           seq.rows, ord.rows, same, ord.out_of_order, unord.rows, unord.handle_sum == want_sum,
           early.rows, early.pages, ord.bad + unord.bad + early.bad, (unsigned long long)(t1 - t0),
           (unsigned long long)(t2 - t1));
    bool ok = seq.rows == n && ord.rows == n && same && ord.out_of_order == 0 && unord.rows == n &&
              unord.handle_sum == want_sum && unord.bytes.len == seq.bytes.len &&
              early.pages == 3 && early.rows == 150 && early.out_of_order == 0 &&
              ord.bad + unord.bad + early.bad == 0;
    cm_buf_fini(&seq.bytes);
    cm_buf_fini(&ord.bytes);
    cm_buf_fini(&unord.bytes);
    cm_buf_fini(&early.bytes);
    return ok ? 0 : 1;
}

/* ---- aggregation ---------------------------------------------------------------------------- */

typedef struct agg_merge {
    uint32_t ngroup;
    cm_copr_agg_state st[8][2]; /* [group][COUNT, SUM]; no GROUP BY: group 0 */
    long responses;
    long bad;
    cm_arena arena;
} agg_merge;

static int agg_cb(void *user, cm_slice data)
{
    agg_merge *m = user;
    cm_reader rd;
    cm_reader_init(&rd, data.ptr, data.len);
    cm_err err;
    m->responses++;
    while (cm_reader_left(&rd) > 0) {
        int g = 0;
        if (m->ngroup > 0) {
            cm_datum k;
            if (cm_codec_decode_datum(&rd, &m->arena, &k, &err) != 0 || k.type != CM_DT_INT64 ||
                k.v.i64 < 0 || k.v.i64 >= 7) {
                m->bad++;
                return 1;
            }
            g = (int)k.v.i64;
        }
        for (int a = 0; a < 2; a++) {
            if (cm_copr_agg_merge(&m->st[g][a], &rd, &m->arena, &err) != 0) {
                fprintf(stderr, "copr_driver: merge: %s\n", err.msg);
                m->bad++;
                return 1;
            }
        }
    }
    return 0;
}

static void agg_init(agg_merge *m, uint32_t ngroup)
{
    memset(m, 0, sizeof(*m));
    m->ngroup = ngroup;
    cm_arena_init(&m->arena, 4096);
    for (int g = 0; g < 8; g++) {
        cm_copr_agg_init(&m->st[g][0], CM_COPR_COUNT);
        cm_copr_agg_init(&m->st[g][1], CM_COPR_SUM);
    }
}

static void agg_fini(agg_merge *m)
{
    for (int g = 0; g < 8; g++) {
        cm_copr_agg_fini(&m->st[g][0]);
        cm_copr_agg_fini(&m->st[g][1]);
    }
    cm_arena_fini(&m->arena);
}

/* Final COUNT and SUM of group g as integers (SUM NULL: -1). */
static void agg_result(agg_merge *m, int g, long *count, long *sum)
{
    cm_datum c, s;
    cm_err err;
    *count = -1;
    *sum = -1;
    if (cm_copr_agg_final(&m->st[g][0], &m->arena, &c, &err) != 0 ||
        cm_copr_agg_final(&m->st[g][1], &m->arena, &s, &err) != 0) {
        m->bad++;
        return;
    }
    *count = c.type == CM_DT_INT64 ? (long)c.v.i64 : -1;
    if (s.type == CM_DT_DECIMAL) {
        cm_buf b = CM_BUF_INIT;
        cm_decimal_format(&s.v.dec, &b);
        cm_buf_terminate(&b);
        *sum = strtol((const char *)b.ptr, NULL, 10);
        cm_buf_fini(&b);
    }
}

/* COUNT(*), SUM(col1) [WHERE lo <= col1 < hi] [GROUP BY col2] over rows [from, to) at ts. */
static int run_agg(uint64_t ts, int64_t from, int64_t to, int64_t lo, int64_t hi, bool group,
                   agg_merge *m, cm_err *err)
{
    cm_cx_builder sel, arg, grp;
    cm_cx_builder_init(&sel);
    cm_cx_builder_init(&arg);
    cm_cx_builder_init(&grp);
    cm_datum dl = cm_datum_int64(lo), dh = cm_datum_int64(hi);
    cm_cx_col(&sel, 0);
    cm_cx_const(&sel, &dl);
    cm_cx_op1(&sel, CM_CX_GE);
    cm_cx_col(&sel, 0);
    cm_cx_const(&sel, &dh);
    cm_cx_op1(&sel, CM_CX_LT);
    cm_cx_op1(&sel, CM_CX_AND);
    cm_cx_col(&arg, 0);
    cm_cx_col(&grp, 1);
    cm_copr_plan p;
    memset(&p, 0, sizeof(p));
    p.scan = CM_COPR_SCAN_TABLE;
    p.ncols = 3;
    p.cols = cols3;
    cm_copr_agg aggs[2];
    cm_slice groups[1];
    int rc = cm_cx_finish(&sel, &p.sel, err);
    aggs[0].fn = CM_COPR_COUNT;
    aggs[0].arg = cm_slice_make(NULL, 0);
    aggs[1].fn = CM_COPR_SUM;
    rc = rc ? rc : cm_cx_finish(&arg, &aggs[1].arg, err);
    rc = rc ? rc : cm_cx_finish(&grp, &groups[0], err);
    p.has_agg = true;
    p.naggs = 2;
    p.aggs = aggs;
    p.ngroup = group ? 1 : 0;
    p.group = groups;
    cm_buf plan = CM_BUF_INIT, start = CM_BUF_INIT, end = CM_BUF_INIT;
    rc = rc ? rc : cm_copr_plan_encode(&p, &plan, err);
    rows_range(from, to, &start, &end);
    cm_kv_copr_opts o = {4, 0, false};
    rc = rc ? rc
            : cm_kv_copr(kc, cm_buf_slice(&plan), cm_buf_slice(&start), cm_buf_slice(&end), ts, &o,
                         agg_cb, m, err);
    cm_buf_fini(&plan);
    cm_buf_fini(&start);
    cm_buf_fini(&end);
    cm_cx_builder_fini(&sel);
    cm_cx_builder_fini(&arg);
    cm_cx_builder_fini(&grp);
    return rc;
}

static int cmd_agg(long n)
{
    cm_err err;
    uint64_t ts = 0;
    int rc = cm_pd_get_ts(cm_kv_client_pd(kc), &ts, &err);
    agg_merge all, sel, grp;
    agg_init(&all, 0);
    agg_init(&sel, 0);
    agg_init(&grp, 1);
    long lo = n / 10, hi = n / 10 + n / 100; /* 1 % of the rows */
    rc = rc ? rc : run_agg(ts, 0, INT64_MAX, INT64_MIN, INT64_MAX, false, &all, &err);
    rc = rc ? rc : run_agg(ts, 0, INT64_MAX, lo, hi, false, &sel, &err);
    rc = rc ? rc : run_agg(ts, 0, INT64_MAX, INT64_MIN, INT64_MAX, true, &grp, &err);
    if (rc != 0) {
        return die("agg", &err);
    }
    long c_all, s_all, c_sel, s_sel;
    agg_result(&all, 0, &c_all, &s_all);
    agg_result(&sel, 0, &c_sel, &s_sel);
    bool groups_ok = true;
    for (int g = 0; g < 7; g++) {
        long c, s, wc = 0, ws = 0;
        agg_result(&grp, g, &c, &s);
        for (long h = g; h < n; h += 7) {
            wc++;
            ws += h;
        }
        groups_ok &= c == wc && s == ws;
    }
    long want_sel_sum = (lo + hi - 1) * (hi - lo) / 2;
    printf("agg count=%ld sum=%ld responses=%ld sel_count=%ld sel_sum=%ld sel_responses=%ld "
           "groups_ok=%d bad=%ld\n",
           c_all, s_all, all.responses, c_sel, s_sel, sel.responses, groups_ok,
           all.bad + sel.bad + grp.bad);
    bool ok = c_all == n && s_all == n * (n - 1) / 2 && c_sel == hi - lo && s_sel == want_sel_sum &&
              groups_ok && all.bad + sel.bad + grp.bad == 0;
    agg_fini(&all);
    agg_fini(&sel);
    agg_fini(&grp);
    return ok ? 0 : 1;
}

/* ---- locks ---------------------------------------------------------------------------------- */

/* Reads rows [from, to) with an ordered scan: the sum of column 1 and the row count. */
typedef struct reader_job {
    uint64_t ts;
    int64_t from, to;
    bool agg;
    long rows, sum;
    uint64_t ms;
    int rc;
    cm_err err;
} reader_job;

static int sum_cb(void *user, cm_slice data)
{
    reader_job *j = user;
    cm_reader rd;
    cm_reader_init(&rd, data.ptr, data.len);
    while (cm_reader_left(&rd) > 0) {
        uint64_t kl, vl;
        cm_slice k, v;
        cm_datum d;
        cm_err err;
        uint8_t pr;
        if (cm_reader_uvarint(&rd, &kl) != 0 || cm_reader_bytes(&rd, kl, &k) != 0 ||
            cm_reader_u8(&rd, &pr) != 0 || pr != CM_COPR_VALUE ||
            cm_reader_uvarint(&rd, &vl) != 0 || cm_reader_bytes(&rd, vl, &v) != 0 ||
            cm_row_value_decode(CM_DT_INT64, v, &d, &err) != 0) {
            j->rows = -1000000;
            return 1;
        }
        j->rows++;
        j->sum += d.v.i64;
    }
    return 0;
}

static void *reader_main(void *arg)
{
    reader_job *j = arg;
    uint64_t t0 = cm_time_mono_ms();
    if (j->agg) {
        agg_merge m;
        agg_init(&m, 0);
        j->rc = run_agg(j->ts, j->from, j->to, INT64_MIN, INT64_MAX, false, &m, &j->err);
        agg_result(&m, 0, &j->rows, &j->sum);
        agg_fini(&m);
    } else {
        cm_copr_plan p;
        memset(&p, 0, sizeof(p));
        p.scan = CM_COPR_SCAN_TABLE;
        p.ncols = 3;
        p.cols = cols3;
        uint32_t out[1] = {0};
        p.has_out = true;
        p.nout = 1;
        p.out = out;
        cm_buf plan = CM_BUF_INIT, start = CM_BUF_INIT, end = CM_BUF_INIT;
        j->rc = cm_copr_plan_encode(&p, &plan, &j->err);
        rows_range(j->from, j->to, &start, &end);
        cm_kv_copr_opts o = {2, 2, true};
        j->rc = j->rc ? j->rc
                      : cm_kv_copr(kc, cm_buf_slice(&plan), cm_buf_slice(&start),
                                   cm_buf_slice(&end), j->ts, &o, sum_cb, j, &j->err);
        cm_buf_fini(&plan);
        cm_buf_fini(&start);
        cm_buf_fini(&end);
    }
    j->ms = cm_time_mono_ms() - t0;
    return NULL;
}

static int cmd_dead_lock(int64_t h)
{
    cm_err err;
    cm_buf key = CM_BUF_INIT, row = CM_BUF_INIT;
    cm_kv_client_stats st0, st1;
    cm_kv_client_stats_get(kc, &st0);
    int rc = 0;
    for (int i = 0; rc == 0 && i < 2; i++) { /* two dead transactions: rows h and h + 1 */
        cm_txn *t = NULL;
        rc = cm_txn_begin(kc, &t, &err);
        cm_buf_reset(&key);
        rc = rc ? rc : cm_keys_append_row(&key, TABLE, h + i);
        rc = rc ? rc : row_value(h + i, BIG, &row, &err);
        rc = rc ? rc : cm_txn_set(t, cm_buf_slice(&key), cm_buf_slice(&row), &err);
        rc = rc ? rc : cm_txn_prewrite_only(t, &err);
        cm_txn_free(t); /* freeing a prewritten txn would roll it back: the hook leaves it */
    }
    uint64_t ts = 0;
    rc = rc ? rc : cm_pd_get_ts(cm_kv_client_pd(kc), &ts, &err);
    if (rc != 0) {
        return die("dead-lock setup", &err);
    }
    reader_job scan = {ts, h - 10, h + 10, false, 0, 0, 0, 0, {0, ""}};
    reader_job agg = {ts, h - 10, h + 10, true, 0, 0, 0, 0, {0, ""}};
    pthread_t t1, t2;
    pthread_create(&t1, NULL, reader_main, &scan);
    pthread_create(&t2, NULL, reader_main, &agg);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    cm_kv_client_stats_get(kc, &st1);
    long want = 0;
    for (int64_t k = h - 10; k < h + 10; k++) {
        want += k;
    }
    printf("dead-lock scan_rc=%s scan_rows=%ld scan_sum=%ld agg_rc=%s agg_count=%ld agg_sum=%ld "
           "want_sum=%ld locks_resolved=%llu scan_ms=%llu\n",
           cm_err_name(scan.rc), scan.rows, scan.sum, cm_err_name(agg.rc), agg.rows, agg.sum, want,
           (unsigned long long)(st1.locks_resolved - st0.locks_resolved),
           (unsigned long long)scan.ms);
    cm_buf_fini(&key);
    cm_buf_fini(&row);
    if (scan.rc != 0 || agg.rc != 0) {
        fprintf(stderr, "copr_driver: %s / %s\n", scan.err.msg, agg.err.msg);
    }
    return scan.rc == 0 && agg.rc == 0 && scan.rows == 20 && scan.sum == want && agg.rows == 20 &&
                   agg.sum == want && st1.locks_resolved - st0.locks_resolved >= 2
               ? 0
               : 1;
}

static int send_key(cm_slice key, uint32_t method, ProtobufCMessage *req,
                    const ProtobufCMessageDescriptor *d, ProtobufCMessage **resp, cm_err *err)
{
    bool unc = false;
    return kv_send_by_key(kc, key, method, req, d, resp, cm_time_mono_ms() + 10000, &unc, err);
}

static int cmd_live_lock(int64_t h)
{
    cm_err err;
    cm_buf key = CM_BUF_INIT, row = CM_BUF_INIT;
    cm_pd_client *pd = cm_kv_client_pd(kc);
    uint64_t start_ts = 0, commit_ts = 0, read_ts = 0;
    int rc = cm_keys_append_row(&key, TABLE, h);
    rc = rc ? rc : row_value(h, h + BIG, &row, &err);
    rc = rc ? rc : cm_pd_get_ts(pd, &start_ts, &err);
    /* Prewrite by hand with a TTL no reader will outlive: the transaction is alive. */
    Tessera__Kvrpcpb__Mutation mut = TESSERA__KVRPCPB__MUTATION__INIT, *mp = &mut;
    mut.op = TESSERA__KVRPCPB__OP__PUT;
    mut.key.data = key.ptr;
    mut.key.len = key.len;
    mut.value.data = row.ptr;
    mut.value.len = row.len;
    Tessera__Kvrpcpb__PrewriteRequest pw = TESSERA__KVRPCPB__PREWRITE_REQUEST__INIT;
    pw.n_mutations = 1;
    pw.mutations = &mp;
    pw.primary_lock = mut.key;
    pw.start_version = start_ts;
    pw.lock_ttl = 30000;
    pw.txn_size = 1;
    Tessera__Kvrpcpb__PrewriteResponse *pr = NULL;
    rc = rc ? rc
            : send_key(cm_buf_slice(&key), TESSERA__KVRPCPB__METHOD__KV_PREWRITE, &pw.base,
                       &tessera__kvrpcpb__prewrite_response__descriptor, (ProtobufCMessage **)&pr,
                       &err);
    if (rc == 0 && pr->n_errors > 0) {
        rc = cm_err_set(&err, CM_E_INTERNAL, "prewrite refused");
    }
    if (pr != NULL) {
        protobuf_c_message_free_unpacked(&pr->base, NULL);
    }
    /* The commit timestamp is taken before the readers' snapshot: they must see the value. */
    rc = rc ? rc : cm_pd_get_ts(pd, &commit_ts, &err);
    rc = rc ? rc : cm_pd_get_ts(pd, &read_ts, &err);
    if (rc != 0) {
        return die("live-lock setup", &err);
    }
    reader_job scan = {read_ts, h - 10, h + 10, false, 0, 0, 0, 0, {0, ""}};
    reader_job agg = {read_ts, h - 10, h + 10, true, 0, 0, 0, 0, {0, ""}};
    pthread_t t1, t2;
    pthread_create(&t1, NULL, reader_main, &scan);
    pthread_create(&t2, NULL, reader_main, &agg);
    cm_time_sleep_ms(600);
    Tessera__Kvrpcpb__CommitRequest cr = TESSERA__KVRPCPB__COMMIT_REQUEST__INIT;
    cr.start_version = start_ts;
    cr.n_keys = 1;
    cr.keys = &mut.key;
    cr.commit_version = commit_ts;
    Tessera__Kvrpcpb__CommitResponse *cresp = NULL;
    rc =
        send_key(cm_buf_slice(&key), TESSERA__KVRPCPB__METHOD__KV_COMMIT, &cr.base,
                 &tessera__kvrpcpb__commit_response__descriptor, (ProtobufCMessage **)&cresp, &err);
    if (rc == 0 && cresp->error != NULL) {
        rc = cm_err_set(&err, CM_E_INTERNAL, "commit refused: %s",
                        cresp->error->message ? cresp->error->message : "");
    }
    if (cresp != NULL) {
        protobuf_c_message_free_unpacked(&cresp->base, NULL);
    }
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    long want = BIG;
    for (int64_t k = h - 10; k < h + 10; k++) {
        want += k;
    }
    printf("live-lock commit_rc=%s scan_rc=%s scan_rows=%ld scan_sum=%ld agg_rc=%s "
           "agg_count=%ld agg_sum=%ld want_sum=%ld scan_ms=%llu agg_ms=%llu\n",
           cm_err_name(rc), cm_err_name(scan.rc), scan.rows, scan.sum, cm_err_name(agg.rc),
           agg.rows, agg.sum, want, (unsigned long long)scan.ms, (unsigned long long)agg.ms);
    if (scan.rc != 0 || agg.rc != 0) {
        fprintf(stderr, "copr_driver: %s / %s\n", scan.err.msg, agg.err.msg);
    }
    cm_buf_fini(&key);
    cm_buf_fini(&row);
    /* Both readers met the lock before the commit (they waited) and read the committed value. */
    return rc == 0 && scan.rc == 0 && agg.rc == 0 && scan.rows == 20 && scan.sum == want &&
                   agg.rows == 20 && agg.sum == want && scan.ms >= 400 && agg.ms >= 400
               ? 0
               : 1;
}

/* ---- errors from the kvnode ---------------------------------------------------------------- */

static int noop_cb(void *user, cm_slice data)
{
    (void)user;
    (void)data;
    return 0;
}

/* A plan the kvnode refuses (unknown section) and one whose selection overflows: the client
 * returns the executor's own error codes. */
static int cmd_errors(void)
{
    cm_err err;
    uint64_t ts = 0;
    int rc = cm_pd_get_ts(cm_kv_client_pd(kc), &ts, &err);
    if (rc != 0) {
        return die("errors", &err);
    }
    cm_buf start = CM_BUF_INIT, end = CM_BUF_INIT, plan = CM_BUF_INIT;
    rows_range(0, INT64_MAX, &start, &end);
    uint8_t unk[] = {2, 1, 1, 1, CM_DT_INT64, 1, 99, 0};
    cm_kv_copr_opts o = {4, 0, false};
    int rc1 = cm_kv_copr(kc, cm_slice_make(unk, sizeof(unk)), cm_buf_slice(&start),
                         cm_buf_slice(&end), ts, &o, noop_cb, NULL, &err);
    cm_cx_builder b;
    cm_cx_builder_init(&b);
    cm_datum big = cm_datum_int64(INT64_MAX);
    cm_datum zero = cm_datum_int64(0);
    cm_cx_col(&b, 0);
    cm_cx_const(&b, &big);
    cm_cx_op1(&b, CM_CX_MUL);
    cm_cx_const(&b, &zero);
    cm_cx_op1(&b, CM_CX_GT);
    cm_copr_plan p;
    memset(&p, 0, sizeof(p));
    p.scan = CM_COPR_SCAN_TABLE;
    p.ncols = 3;
    p.cols = cols3;
    int rc2 = cm_cx_finish(&b, &p.sel, &err);
    rc2 = rc2 ? rc2 : cm_copr_plan_encode(&p, &plan, &err);
    rc2 = rc2 ? rc2
              : cm_kv_copr(kc, cm_buf_slice(&plan), cm_buf_slice(&start), cm_buf_slice(&end), ts,
                           &o, noop_cb, NULL, &err);
    printf("errors unknown_section=%s overflow=%s (%s)\n", cm_err_name(rc1), cm_err_name(rc2),
           err.msg);
    cm_cx_builder_fini(&b);
    cm_buf_fini(&start);
    cm_buf_fini(&end);
    cm_buf_fini(&plan);
    return rc1 == CM_E_UNSUPPORTED && rc2 == CM_E_BIGINT_RANGE ? 0 : 1;
}

/* ---- split during a scan -------------------------------------------------------------------- */

static int cmd_split_mid(long n)
{
    cm_err err;
    uint64_t ts = 0;
    int rc = cm_pd_get_ts(cm_kv_client_pd(kc), &ts, &err);
    collected c;
    memset(&c, 0, sizeof(c));
    c.split_at = n - 120; /* in the last region, which the scan reaches last */
    cm_kv_client_stats st0, st1;
    cm_kv_client_stats_get(kc, &st0);
    rc = rc ? rc : par_scan(ts, 2, 32, true, &c, &err);
    cm_kv_client_stats_get(kc, &st1);
    if (rc != 0) {
        return die("split-mid", &err);
    }
    printf("split-mid rows=%ld out_of_order=%ld sum_ok=%d pages=%ld region_errors=%llu bad=%ld\n",
           c.rows, c.out_of_order, c.handle_sum == n * (n - 1) / 2, c.pages,
           (unsigned long long)(st1.region_errors - st0.region_errors), c.bad);
    cm_buf_fini(&c.bytes);
    return c.rows == n && c.out_of_order == 0 && c.handle_sum == n * (n - 1) / 2 && c.bad == 0 ? 0
                                                                                               : 1;
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[1], "--pd") != 0) {
        fprintf(stderr, "usage: copr_driver --pd ADDR CMD ARGS...\n");
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
    if (strcmp(cmd, "load") == 0 && na == 2) {
        rc = cmd_load(atol(a[0]), atoi(a[1]));
    } else if (strcmp(cmd, "parallel") == 0 && na == 1) {
        rc = cmd_parallel(atol(a[0]));
    } else if (strcmp(cmd, "agg") == 0 && na == 1) {
        rc = cmd_agg(atol(a[0]));
    } else if (strcmp(cmd, "dead-lock") == 0 && na == 1) {
        rc = cmd_dead_lock(atol(a[0]));
    } else if (strcmp(cmd, "live-lock") == 0 && na == 1) {
        rc = cmd_live_lock(atol(a[0]));
    } else if (strcmp(cmd, "errors") == 0 && na == 0) {
        rc = cmd_errors();
    } else if (strcmp(cmd, "split-mid") == 0 && na == 1) {
        rc = cmd_split_mid(atol(a[0]));
    } else {
        fprintf(stderr, "copr_driver: unknown command or arguments: %s\n", cmd);
    }
    cm_kv_client_free(kc);
    return rc;
}
