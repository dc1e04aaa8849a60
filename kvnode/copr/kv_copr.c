/* kv_copr.c — first-cut coprocessor: table scan with projection (kv_copr.h). */
#include "kv_copr.h"

#include "cm_row.h"

#include <string.h>

#define COLS_MAX CM_ROW_COLS_MAX

typedef struct plan {
    size_t ncols;
    cm_row_col cols[64];
    cm_row_col *big; /* when more than 64 columns: in the arena */
} plan;

static int parse_plan(cm_slice data, cm_arena *arena, plan *p, cm_err *err)
{
    cm_reader rd;
    cm_reader_init(&rd, data.ptr, data.len);
    uint8_t ver;
    uint64_t n;
    if (cm_reader_u8(&rd, &ver) != 0 || ver != KV_COPR_VERSION) {
        return cm_err_set(err, CM_E_INVALID, "coprocessor: unknown request version");
    }
    if (cm_reader_uvarint(&rd, &n) != 0 || n > COLS_MAX) {
        return cm_err_set(err, CM_E_INVALID, "coprocessor: bad column count");
    }
    p->ncols = (size_t)n;
    p->big = p->cols;
    if (n > 64) {
        p->big = cm_arena_alloc(arena, sizeof(cm_row_col) * n);
        if (p->big == NULL) {
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t id;
        uint8_t t;
        if (cm_reader_uvarint(&rd, &id) != 0 || id > UINT32_MAX || cm_reader_u8(&rd, &t) != 0) {
            return cm_err_set(err, CM_E_INVALID, "coprocessor: truncated column list");
        }
        p->big[i].id = (uint32_t)id;
        p->big[i].type = (cm_dtype)t;
    }
    uint64_t nsec;
    if (cm_reader_uvarint(&rd, &nsec) != 0) {
        return cm_err_set(err, CM_E_INVALID, "coprocessor: bad section list");
    }
    if (nsec != 0) {
        return cm_err_set(err, CM_E_UNSUPPORTED, "coprocessor: sections are not supported yet");
    }
    if (cm_reader_left(&rd) != 0) {
        return cm_err_set(err, CM_E_INVALID, "coprocessor: trailing bytes after the plan");
    }
    return 0;
}

/* Appends one row: key, then each requested column's presence and value bytes. */
static int emit_row(const plan *p, cm_slice key, cm_slice row, cm_buf *out, cm_err *err)
{
    cm_row_view v;
    int rc = cm_row_view_init(&v, row, err);
    if (rc != 0) {
        return rc;
    }
    rc = cm_buf_append_uvarint(out, key.len);
    rc = rc ? rc : cm_buf_append_slice(out, key);
    for (size_t i = 0; rc == 0 && i < p->ncols; i++) {
        cm_slice val;
        cm_row_presence pr = cm_row_view_find(&v, p->big[i].id, &val);
        if (pr == CM_ROW_VALUE) {
            cm_datum d;
            rc = cm_row_value_decode(p->big[i].type, val, &d, err); /* type check */
            rc = rc ? rc : cm_buf_append_u8(out, KV_COPR_VALUE);
            rc = rc ? rc : cm_buf_append_uvarint(out, val.len);
            rc = rc ? rc : cm_buf_append_slice(out, val);
        } else {
            rc = cm_buf_append_u8(out, pr == CM_ROW_NULL ? KV_COPR_NULL : KV_COPR_ABSENT);
        }
    }
    return rc;
}

int kv_copr_handle(kv_snapshot *snap, uint32_t tp, cm_slice data, const kv_copr_range *ranges,
                   size_t nranges, uint64_t start_ts, uint32_t page_rows, cm_arena *arena,
                   kv_copr_result *out, cm_err *err)
{
    memset(out, 0, sizeof(*out));
    if (tp != KV_COPR_TABLE_SCAN) {
        return cm_err_set(err, CM_E_UNSUPPORTED, "coprocessor: request kind %u", tp);
    }
    if (start_ts == 0) {
        return cm_err_set(err, CM_E_INVALID, "coprocessor: start_ts 0");
    }
    plan p;
    int rc = parse_plan(data, arena, &p, err);
    if (rc != 0) {
        return rc;
    }
    size_t budget = page_rows ? page_rows : KV_COPR_PAGE_ROWS_DEFAULT;
    if (budget > KV_COPR_PAGE_ROWS_MAX) {
        budget = KV_COPR_PAGE_ROWS_MAX;
    }
    cm_buf buf = CM_BUF_INIT;
    for (size_t r = 0; rc == 0 && r < nranges && budget > 0; r++) {
        cm_slice start = ranges[r].start;
        for (;;) {
            kv_scan_req sr = {start, ranges[r].end, start_ts, budget, false, false};
            kv_read_result res;
            int src = kv_mvcc_scan(snap, &sr, arena, &res, err);
            if (src == CM_E_KEY_IS_LOCKED && res.nlocks > 0) {
                /* Rows below the first lock are final; the rest waits for the resolution. */
                cm_slice lk = res.locks[0].key;
                for (size_t i = 0; rc == 0 && i < res.npairs; i++) {
                    if (cm_slice_cmp(res.pairs[i].key, lk) >= 0) {
                        break;
                    }
                    rc = emit_row(&p, res.pairs[i].key, res.pairs[i].value, &buf, err);
                    out->scanned_rows++;
                }
                out->lock = res.locks[0];
                out->resume_key = lk;
                rc = rc ? rc : CM_E_KEY_IS_LOCKED;
                break;
            }
            if (src != 0) {
                rc = src;
                break;
            }
            for (size_t i = 0; rc == 0 && i < res.npairs; i++) {
                rc = emit_row(&p, res.pairs[i].key, res.pairs[i].value, &buf, err);
            }
            out->scanned_rows += res.npairs;
            budget -= res.npairs < budget ? res.npairs : budget;
            if (!res.more) {
                if (budget == 0 && r + 1 < nranges) {
                    out->more = true;
                    out->resume_key = ranges[r + 1].start;
                }
                break;
            }
            if (budget == 0) {
                out->more = true;
                out->resume_key = res.resume_key;
                break;
            }
            start = res.resume_key;
        }
    }
    if (rc == 0 || rc == CM_E_KEY_IS_LOCKED) {
        void *d = cm_arena_memdup(arena, buf.ptr ? buf.ptr : (const uint8_t *)"", buf.len);
        out->data = cm_slice_make(d, buf.len);
    }
    cm_buf_fini(&buf);
    return rc;
}
