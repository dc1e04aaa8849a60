/*
 * kv_copr.h — the kvnode's coprocessor executor (DESIGN.md §5 "Coprocessor",
 * docs/coprocessor.md "Executor and client"): runs one CM_COPR_REQ_DAG plan (common/copr/
 * cm_copr.h) over key ranges of one region at a snapshot — table or index scan through the MVCC
 * layer, then selection, then partial aggregation, TopN or Limit, then the response encoding of
 * cm_copr.h, in pages with a resume key.
 *
 * Work per request: the plan is decoded once; rows are read in chunks of KV_COPR_CHUNK_ROWS
 * pairs from kv_mvcc_scan into a chunk arena that is reset per chunk, and each row's scratch
 * (decoded index datums, expression results) lives in a row arena reset per row, so the per-row
 * path never calls malloc once buffers have grown. What outlives a chunk (TopN rows, group keys
 * and aggregate states) is copied into buffers of the request.
 *
 * Locks: a lock with ts <= start_ts ends the request with CM_E_KEY_IS_LOCKED. A scan (or LIMIT)
 * response carries the rows before the lock and resume_key = the locked key; a TopN or AGG
 * response carries no data (its result would be partial): the client resolves the lock and
 * sends the whole region again.
 */
#ifndef KV_COPR_H
#define KV_COPR_H

#include "kv_engine.h"
#include "kv_mvcc.h"

#include "cm_arena.h"
#include "cm_buf.h"
#include "cm_copr.h"
#include "cm_err.h"

/* Rows per page when the request names none, and the most it may name: bounds one reply. */
#define KV_COPR_PAGE_ROWS_DEFAULT 1024
#define KV_COPR_PAGE_ROWS_MAX     10000
/* Pairs read from the MVCC layer at once: bounds the chunk arena (values of one chunk). */
#define KV_COPR_CHUNK_ROWS 512
/* Rows a scan page may look at without filling up (a selective filter): the page then ends with
 * a resume key, so one request's latency stays bounded and the client sees progress. TopN and
 * AGG requests are not paged (their work is bounded by the region's size). */
#define KV_COPR_PAGE_SCAN_MAX 200000

typedef struct kv_copr_range {
    cm_slice start; /* user keys; empty end: unbounded */
    cm_slice end;
} kv_copr_range;

typedef struct kv_copr_result {
    cm_slice data;          /* in the arena: rows or groups (cm_copr.h) */
    bool more;              /* stopped at the page size; resume at resume_key */
    cm_slice resume_key;    /* with more, or with a lock: where the next request starts */
    kv_lock_info lock;      /* CM_E_KEY_IS_LOCKED: the first lock met (in the arena) */
    uint64_t scanned_rows;  /* visible rows read from the MVCC layer */
    uint64_t returned_rows; /* rows or groups in data */
} kv_copr_result;

/* Runs one request on a snapshot (borrowed); ranges sorted, non-overlapping, already clipped to
 * the region. tp must be CM_COPR_REQ_DAG. Returns 0, CM_E_KEY_IS_LOCKED (out->lock,
 * out->resume_key, and for scans the rows before the lock in out->data), CM_E_INVALID /
 * CM_E_CORRUPT (bad plan or a bad row), CM_E_UNSUPPORTED (unknown tp, version or section; more
 * than CM_COPR_GROUPS_MAX groups), CM_E_BIGINT_RANGE (an expression overflowed), or a read
 * error. Everything in *out lives in arena. */
int kv_copr_handle(kv_snapshot *snap, uint32_t tp, cm_slice data, const kv_copr_range *ranges,
                   size_t nranges, uint64_t start_ts, uint32_t page_rows, cm_arena *arena,
                   kv_copr_result *out, cm_err *err);

#endif
