/*
 * cm_copr.h — the coprocessor request plan and its response encodings, shared by the sqlnode
 * (which builds plans and merges responses) and the kvnode (which decodes and runs them), and
 * the aggregate states both sides use (DESIGN.md §5, docs/coprocessor.md).
 *
 * Plan (CoprocessorRequest.data, tp = CM_COPR_REQ_DAG), compact, integers uvarint:
 *   u8 version (2) | u8 scan kind | uvarint ncols | ncols x (uvarint column_id | u8 cm_dtype)
 *   | uvarint nsections | nsections x (u8 tag | uvarint len | len bytes)
 * Scan kinds:
 *   CM_COPR_SCAN_TABLE  keys t<table>_r<handle>; column i of the row is column cols[i].id of
 *                       the row codec (absent: NULL unless the plan's defaults section gives a
 *                       value). The handle is available as the pseudo column id
 *                       CM_COPR_HANDLE_ID (type INT64).
 *   CM_COPR_SCAN_INDEX  keys t<table>_i<index>_<datums>[<handle>]: column i is the i-th
 *                       memcomparable datum of the key (cols[i].id unused, the dtype checked);
 *                       a last column with id CM_COPR_HANDLE_ID is the handle (for a unique
 *                       index, the handle is the value, an INT64 datum).
 * Sections (each at most once, in any order; unknown tags are refused with CM_E_UNSUPPORTED):
 *   SEL    selection: one cm_cx program; a row is kept only when it is TRUE
 *   AGG    partial aggregation: uvarint ngroup, ngroup programs (uvarint len | code), uvarint
 *          naggs, naggs x (u8 cm_copr_aggfn | uvarint len | code; len 0 only for COUNT(*))
 *   TOPN   uvarint limit | uvarint norder | norder x (u8 desc | uvarint len | code)
 *   LIMIT  uvarint limit (after the selection; without TOPN and AGG)
 *   OUT    uvarint n | n x uvarint column index: the columns a scan response carries (default:
 *          every plan column, in order)
 *   DFLT   uvarint n | n x (uvarint column index | datum): values of absent columns (a DECIMAL
 *          datum is followed by a u8 scale, as in CM_CX_CONST, so 1.50 stays 1.50)
 * Order of work per region: scan → SEL → (AGG | TOPN | LIMIT) → response.
 *
 * Responses (CoprocessorResponse.data):
 *   scan (no AGG): rows in key order (TOPN: in the TopN's order), each
 *       uvarint key_len | key | for each OUT column: u8 presence (CM_COPR_ABSENT, CM_COPR_NULL,
 *       CM_COPR_VALUE) and, for a value, uvarint len | the value as the row codec stores it
 *       (cm_row_value_decode with the column's type). Index scans send values the same way
 *       (re-encoded with the row codec).
 *   AGG: groups, each: ngroup datums (memcomparable, cm_codec_encode_datum) then, per
 *       aggregate, its partial state (cm_copr_agg_partial_*): COUNT → INT64; SUM → sum datum
 *       (DECIMAL followed by a u8 scale, FLOAT64, or NULL when it saw no value); AVG → the
 *       same sum, then an INT64 count;
 *       MIN/MAX → the datum or NULL (a DECIMAL followed by its u8 scale, as SUM's).
 *       A region with no row and no GROUP BY still sends one group
 *       (COUNT 0, others NULL), so the merge knows every region answered.
 * Paging: a scan or LIMIT response stops after paging_size rows and sets the resume key; TOPN
 * and AGG responses cover their whole ranges (the work is bounded by the region's size; their
 * output by the limit and the number of groups, at most CM_COPR_GROUPS_MAX, beyond which the
 * request fails with CM_E_UNSUPPORTED and the sqlnode falls back to a scan).
 */
#ifndef CM_COPR_H
#define CM_COPR_H

#include "cm_arena.h"
#include "cm_buf.h"
#include "cm_codec.h"
#include "cm_cx.h"
#include "cm_err.h"

#include <stdbool.h>
#include <stdint.h>

/* CoprocessorRequest.tp of a plan in this encoding (tp 1, the first cut, is retired). */
#define CM_COPR_REQ_DAG      2
#define CM_COPR_PLAN_VERSION 2

#define CM_COPR_SCAN_TABLE 1
#define CM_COPR_SCAN_INDEX 2

/* Pseudo column id of the handle. */
#define CM_COPR_HANDLE_ID 0xFFFFFFFFu

/* Presence bytes of a scan response's columns. */
#define CM_COPR_ABSENT 0
#define CM_COPR_NULL   1
#define CM_COPR_VALUE  2

/* Section tags. */
#define CM_COPR_SEC_SEL   1
#define CM_COPR_SEC_AGG   2
#define CM_COPR_SEC_TOPN  3
#define CM_COPR_SEC_LIMIT 4
#define CM_COPR_SEC_OUT   5
#define CM_COPR_SEC_DFLT  6

/* Most columns a plan names (the row codec's own maximum) and most of each list: bound decode. */
#define CM_COPR_COLS_MAX    4096
#define CM_COPR_GROUPBY_MAX 64
#define CM_COPR_AGGS_MAX    256
#define CM_COPR_ORDER_MAX   64
/* Most groups one region's partial aggregation keeps: bounds the kvnode's memory per request
 * (groups × (keys + states) stays in the low MBs). */
#define CM_COPR_GROUPS_MAX 100000
/* Largest TopN limit pushed down: above it the sqlnode scans instead (memory per request). */
#define CM_COPR_TOPN_MAX 100000

typedef enum cm_copr_aggfn {
    CM_COPR_COUNT = 1, /* COUNT(expr); COUNT(*) has no argument */
    CM_COPR_SUM = 2,
    CM_COPR_MIN = 3,
    CM_COPR_MAX = 4,
    CM_COPR_AVG = 5,
} cm_copr_aggfn;

typedef struct cm_copr_pcol {
    uint32_t id;
    uint8_t dtype; /* cm_dtype */
} cm_copr_pcol;

typedef struct cm_copr_agg {
    uint8_t fn;   /* cm_copr_aggfn */
    cm_slice arg; /* program; empty: COUNT(*) */
} cm_copr_agg;

typedef struct cm_copr_order {
    cm_slice expr; /* program */
    bool desc;
} cm_copr_order;

typedef struct cm_copr_dflt {
    uint32_t col;
    cm_datum value;
} cm_copr_dflt;

/* A plan. Slices and arrays are borrowed (encode) or point into the request/arena (decode). */
typedef struct cm_copr_plan {
    uint8_t scan; /* CM_COPR_SCAN_* */
    uint32_t ncols;
    const cm_copr_pcol *cols;
    cm_slice sel; /* empty: no selection */
    bool has_agg;
    uint32_t ngroup;
    const cm_slice *group;
    uint32_t naggs;
    const cm_copr_agg *aggs;
    bool has_topn;
    uint64_t topn_limit;
    uint32_t norder;
    const cm_copr_order *order;
    bool has_limit;
    uint64_t limit;
    bool has_out;
    uint32_t nout;
    const uint32_t *out;
    uint32_t ndflt;
    const cm_copr_dflt *dflt;
} cm_copr_plan;

/* Appends the encoding of p to out. Returns 0, CM_E_NOMEM or CM_E_INVALID (a list over its
 * maximum, AGG with TOPN/LIMIT, LIMIT with TOPN). */
int cm_copr_plan_encode(const cm_copr_plan *p, cm_buf *out, cm_err *err);
/* Decodes and validates data (borrowed: slices point into it) — every program decodes against
 * ncols, every index is in range, nothing trails. Returns 0, CM_E_INVALID, CM_E_UNSUPPORTED
 * (unknown version, scan kind or section) or CM_E_NOMEM. */
int cm_copr_plan_decode(cm_slice data, cm_arena *arena, cm_copr_plan *out, cm_err *err);

/* ---- aggregate states ------------------------------------------------------------------------
 * One state per aggregate per group. The kvnode feeds values (cm_copr_agg_add) and sends
 * partial states (cm_copr_agg_partial_encode); the sqlnode merges partials from every region
 * (cm_copr_agg_merge) and takes the final value (cm_copr_agg_final). Semantics are MySQL's:
 * COUNT counts non-NULL values; SUM and AVG of integers and DECIMALs are exact DECIMALs (SUM of
 * integers has scale 0; AVG's scale is the argument's scale + 4, rounded half away from zero),
 * of DOUBLE/FLOAT or strings doubles; SUM/AVG/MIN/MAX of no value are NULL; MIN/MAX compare with
 * cm_cx_compare and keep the value with its type. */
typedef struct cm_copr_agg_state {
    uint8_t fn;
    uint8_t kind; /* internal: what the sum holds */
    uint64_t count;
    bool has;      /* SUM/AVG/MIN/MAX saw a value */
    __int128 isum; /* integer sums while they fit */
    double dsum;
    cm_decimal dec;
    cm_datum m; /* MIN/MAX: value (payload in mem) */
    cm_buf mem; /* MIN/MAX payload copy */
} cm_copr_agg_state;

void cm_copr_agg_init(cm_copr_agg_state *s, cm_copr_aggfn fn);
void cm_copr_agg_fini(cm_copr_agg_state *s);
/* Feeds one argument value (COUNT(*): pass NULL for v and it counts the row). */
int cm_copr_agg_add(cm_copr_agg_state *s, const cm_datum *v, cm_arena *scratch, cm_err *err);
/* Appends the partial state (the datums listed in the response encoding above). */
int cm_copr_agg_partial_encode(const cm_copr_agg_state *s, cm_buf *out, cm_err *err);
/* Reads one partial state of s->fn from r and merges it into s. CM_E_CORRUPT on bad input. */
int cm_copr_agg_merge(cm_copr_agg_state *s, cm_reader *r, cm_arena *arena, cm_err *err);
/* The final value (payload in arena): COUNT → INT64; SUM → DECIMAL (scale: the largest scale
 * fed or merged) or FLOAT64, NULL when empty; AVG → DECIMAL with scale + 4 (max 30) or
 * FLOAT64; MIN/MAX → the value. */
int cm_copr_agg_final(const cm_copr_agg_state *s, cm_arena *arena, cm_datum *out, cm_err *err);

#endif
