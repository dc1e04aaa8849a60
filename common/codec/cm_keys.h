/*
 * cm_keys.h — the key layouts of the KV store (DESIGN.md §4, byte layouts in docs/codec.md).
 *
 *   row            't' int64(table_id) '_r' int64(handle)
 *   index          't' int64(table_id) '_i' int64(index_id) datum… [datum int64(handle)]
 *   metadata       'm' bytes(name) 's'                    a single value
 *                  'm' bytes(name) 'h' bytes(field)       one field of a hash
 *                  'm' bytes(name) 'l' int64(index)       one item of a list
 *   MVCC (kvnode)  bytes(user_key) ^ts                    ^ts = big-endian, bit-inverted
 *
 * int64(x) and bytes(x) are the flagless memcomparable bodies of cm_codec.h; index values are
 * full datums (flag + body). Every layout sorts in the order of its fields, so the rows of a
 * table, the entries of an index and the entries sharing a value prefix are each one contiguous
 * key range, and newer MVCC versions of a user key come before older ones.
 *
 * Encoders append to a cm_buf and return 0 or CM_E_NOMEM (CM_E_INVALID for a datum that cannot
 * be in a key); on error the buffer's length is unchanged. Decoders take a borrowed slice, check
 * the whole key and return 0 or CM_E_CORRUPT with context in err.
 */
#ifndef CM_KEYS_H
#define CM_KEYS_H

#include "cm_codec.h"

#include <stdbool.h>

#define CM_KEYS_TABLE_PREFIX_LEN 9  /* 't' + int64 */
#define CM_KEYS_ROW_PREFIX_LEN   11 /* 't' + int64 + "_r" */
#define CM_KEYS_ROW_LEN          19 /* 't' + int64 + "_r" + int64 */
#define CM_KEYS_INDEX_PREFIX_LEN 19 /* 't' + int64 + "_i" + int64 */
#define CM_KEYS_MVCC_TS_LEN      8

/* What a key is, by its leading bytes (for tools and logs; decoders check the rest). */
typedef enum cm_key_kind {
    CM_KEY_OTHER = 0,
    CM_KEY_ROW,
    CM_KEY_INDEX,
    CM_KEY_META,
} cm_key_kind;

/* ---- table data: rows and index entries ---------------------------------------------------- */

/* 't' int64(table_id): the prefix of everything of a table. */
int cm_keys_append_table_prefix(cm_buf *b, int64_t table_id);
/* 't' int64(table_id) '_r': the prefix of a table's rows. */
int cm_keys_append_row_prefix(cm_buf *b, int64_t table_id);
int cm_keys_append_row(cm_buf *b, int64_t table_id, int64_t handle);
/* 't' int64(table_id) '_i' int64(index_id): the prefix of an index. */
int cm_keys_append_index_prefix(cm_buf *b, int64_t table_id, int64_t index_id);

/* Whether an index entry carries the handle in its key: always for a non-unique index, and for a
 * unique one whose values hold a NULL (MySQL lets such rows repeat, so the key alone would
 * collide). vals is borrowed. */
bool cm_keys_index_has_handle(bool unique, const cm_datum *vals, size_t n);

/* Appends the key of an index entry: the prefix, the n values (borrowed) as datums, then the
 * handle as an int64 datum when cm_keys_index_has_handle says so. *handle_in_key (may be NULL)
 * tells which layout was written; when it is false the entry's value must hold the handle. */
int cm_keys_append_index(cm_buf *b, int64_t table_id, int64_t index_id, const cm_datum *vals,
                         size_t n, bool unique, int64_t handle, bool *handle_in_key, cm_err *err);

/* Kind of a key by its first bytes (no full validation). */
cm_key_kind cm_keys_kind(cm_slice key);
/* Table id of any key that starts with 't' int64 (row, index or bare prefix). */
int cm_keys_decode_table_id(cm_slice key, int64_t *table_id, cm_err *err);
/* A row key: exactly CM_KEYS_ROW_LEN bytes. */
int cm_keys_decode_row(cm_slice key, int64_t *table_id, int64_t *handle, cm_err *err);
/* An index key: *values (borrowed from key) gets the encoded datums after the prefix, handle
 * included if there is one; they are validated by cm_keys_decode_index_values. */
int cm_keys_decode_index(cm_slice key, int64_t *table_id, int64_t *index_id, cm_slice *values,
                         cm_err *err);
/* Splits the values part of an index key of an index with ncols columns: decodes the ncols
 * values into out (bytes copied into arena), then either the end (*has_handle = false) or
 * exactly one int64 datum, the handle. Anything else is CM_E_CORRUPT. */
int cm_keys_decode_index_values(cm_slice values, size_t ncols, cm_arena *arena, cm_datum *out,
                                bool *has_handle, int64_t *handle, cm_err *err);

/* ---- ranges for scans ---------------------------------------------------------------------- */

/* The smallest key greater than every key that starts with prefix: the last byte below 0xFF is
 * incremented and what follows it dropped. A prefix that is empty or all 0xFF has no such key:
 * out is left empty, which scans read as "no upper bound". Appends to out. */
int cm_keys_prefix_next(cm_slice prefix, cm_buf *out);

/* Key ranges [start, end): each function appends to start and end (both owned by the caller). */
/* Everything of a table: rows and every index. */
int cm_keys_table_range(int64_t table_id, cm_buf *start, cm_buf *end);
/* The rows of a table. */
int cm_keys_rows_range(int64_t table_id, cm_buf *start, cm_buf *end);
/* The entries of an index. */
int cm_keys_index_range(int64_t table_id, int64_t index_id, cm_buf *start, cm_buf *end);
/* The entries of an index whose first n values equal vals (borrowed). */
int cm_keys_index_prefix_range(int64_t table_id, int64_t index_id, const cm_datum *vals, size_t n,
                               cm_buf *start, cm_buf *end, cm_err *err);

/* ---- metadata ------------------------------------------------------------------------------ */

typedef enum cm_meta_kind {
    CM_META_STRING = 's', /* one value under a name */
    CM_META_HASH = 'h',   /* fields under a name */
    CM_META_LIST = 'l',   /* items under a name, by int64 index */
} cm_meta_kind;

/* 'm' bytes(name) 's' */
int cm_keys_append_meta_string(cm_buf *b, cm_slice name);
/* 'm' bytes(name) 'h' bytes(field) */
int cm_keys_append_meta_hash_field(cm_buf *b, cm_slice name, cm_slice field);
/* 'm' bytes(name) 'l' int64(index) */
int cm_keys_append_meta_list_item(cm_buf *b, cm_slice name, int64_t index);
/* 'm' bytes(name) kind: the prefix of every field of a hash, or every item of a list. */
int cm_keys_append_meta_prefix(cm_buf *b, cm_slice name, cm_meta_kind kind);

/* Decodes a metadata key: the name is appended to name (owned by the caller); for a hash field
 * the field is appended to field; for a list item *index gets the index. name, field and index
 * may be NULL when the caller does not need them; the key is validated all the same. */
int cm_keys_decode_meta(cm_slice key, cm_meta_kind *kind, cm_buf *name, cm_buf *field,
                        int64_t *index, cm_err *err);

/* ---- MVCC keys (kvnode engine) ------------------------------------------------------------- */

/* bytes(user_key) ^ts, user_key borrowed. */
int cm_keys_append_mvcc(cm_buf *b, cm_slice user_key, uint64_t ts);
/* bytes(user_key): the prefix of every version of user_key, in version order (newest first). */
int cm_keys_append_mvcc_prefix(cm_buf *b, cm_slice user_key);
/* Splits an MVCC key without copying: *encoded_user_key (borrowed from key) is the bytes body,
 * which compares equal for two versions of the same user key. */
int cm_keys_split_mvcc(cm_slice key, cm_slice *encoded_user_key, uint64_t *ts, cm_err *err);
/* Decodes an MVCC key: the user key is appended to user_key (owned by the caller). */
int cm_keys_decode_mvcc(cm_slice key, cm_buf *user_key, uint64_t *ts, cm_err *err);

#endif
