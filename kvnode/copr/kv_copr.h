/*
 * kv_copr.h — the coprocessor, first cut (DESIGN.md §5 "Coprocessor", docs/kv-protocol.md):
 * a table scan over key ranges at a timestamp that decodes each row with the row codec
 * (common/codec/cm_row.h) and returns only the requested columns, in pages with a resume key.
 *
 * Request `data` for tp = KV_COPR_TABLE_SCAN (compact, not protobuf; integers uvarint):
 *   u8 version (1) | uvarint ncols | ncols x (uvarint column_id | u8 cm_dtype)
 *   | uvarint nsections | nsections x (u8 tag | uvarint len | len bytes)
 * Sections are where selection bytecode, aggregation and TopN/Limit will go; this cut knows
 * none and refuses a request that carries one (CM_E_UNSUPPORTED), so a client never silently
 * gets unfiltered rows.
 * Response `data`: for each row, uvarint key_len | key | for each requested column in request
 * order: u8 presence (0 absent: use the default, 1 NULL, 2 value) and, for 2, uvarint len | the
 * value bytes as the row codec stores them (decode with cm_row_value_decode and the type).
 */
#ifndef KV_COPR_H
#define KV_COPR_H

#include "kv_engine.h"
#include "kv_mvcc.h"

#include "cm_arena.h"
#include "cm_buf.h"
#include "cm_err.h"

#define KV_COPR_TABLE_SCAN 1
#define KV_COPR_VERSION    1
/* Rows per page when the request names none, and the most it may name: bounds one reply. */
#define KV_COPR_PAGE_ROWS_DEFAULT 1024
#define KV_COPR_PAGE_ROWS_MAX     10000
/* Presence bytes in the response. */
#define KV_COPR_ABSENT 0
#define KV_COPR_NULL   1
#define KV_COPR_VALUE  2

typedef struct kv_copr_range {
    cm_slice start; /* user keys; empty end: unbounded */
    cm_slice end;
} kv_copr_range;

typedef struct kv_copr_result {
    cm_slice data;       /* in the arena */
    bool more;           /* stopped at the page size; resume at resume_key */
    cm_slice resume_key; /* with more, or with a lock: where the next request starts */
    kv_lock_info lock;   /* CM_E_KEY_IS_LOCKED: the first lock met (rows before it are in data) */
    uint64_t scanned_rows;
} kv_copr_result;

/* Runs one request on a snapshot (borrowed); ranges sorted, non-overlapping, already clipped to
 * the region. Returns 0, CM_E_KEY_IS_LOCKED (out->lock, out->resume_key), CM_E_INVALID /
 * CM_E_CORRUPT (bad request data or a bad row), CM_E_UNSUPPORTED, or a read error. */
int kv_copr_handle(kv_snapshot *snap, uint32_t tp, cm_slice data, const kv_copr_range *ranges,
                   size_t nranges, uint64_t start_ts, uint32_t page_rows, cm_arena *arena,
                   kv_copr_result *out, cm_err *err);

#endif
