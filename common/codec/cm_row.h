/*
 * cm_row.h — the row codec: how a table row is stored as the value of its row key (DESIGN.md §4,
 * byte layout in docs/codec.md). Written by the sqlnode, read by the sqlnode and by the kvnode's
 * coprocessor.
 *
 * A row lists its columns by column id, not by position, so ADD/DROP COLUMN never rewrites rows:
 * a column added later is simply absent from older rows (the reader applies its default), and a
 * dropped column's value is ignored. The header holds the sorted ids of the non-NULL columns,
 * the sorted ids of the NULL columns and the end offset of each value, so reading a few columns
 * of a wide row costs a binary search and a slice per column; values are decoded only on demand.
 *
 * The format carries no types: the reader names the type of each column it asks for (from the
 * schema). Values are compact (integers in 1, 2, 4 or 8 bytes; strings raw) and canonical, and
 * readers refuse anything the writer would not produce with CM_E_CORRUPT.
 */
#ifndef CM_ROW_H
#define CM_ROW_H

#include "cm_codec.h"

#include <stdbool.h>
#include <stdint.h>

/* Format version (first byte of every row). */
#define CM_ROW_VERSION 1
/* Columns in one row: MySQL's limit per table is 4096. It also bounds the header a malformed
 * row can make a reader walk. */
#define CM_ROW_COLS_MAX 4096
/* Header bytes before the id lists. */
#define CM_ROW_HEADER_BYTES 6

/* One column to encode: id and value (borrowed). A NULL datum is listed as a NULL column. */
typedef struct cm_row_cell {
    uint32_t id;
    cm_datum value;
} cm_row_cell;

/* Appends a row holding cells[0..n) (borrowed, any order) to out. Returns 0, CM_E_INVALID
 * (duplicate id, more than CM_ROW_COLS_MAX cells, a value outside its type's domain) or
 * CM_E_NOMEM; on error out->len is unchanged. */
int cm_row_encode(cm_buf *out, const cm_row_cell *cells, size_t n, cm_err *err);

/* A validated row header; the row bytes stay borrowed from the caller. */
typedef struct cm_row_view {
    cm_slice row;        /* borrowed */
    uint32_t n_values;   /* non-NULL columns */
    uint32_t n_nulls;    /* NULL columns */
    uint8_t id_width;    /* 1, 2 or 4 bytes */
    uint8_t off_width;   /* 2 or 4 bytes */
    const uint8_t *ids;  /* n_values ids, then n_nulls ids */
    const uint8_t *offs; /* n_values end offsets into data */
    const uint8_t *data;
    size_t data_len;
} cm_row_view;

typedef enum cm_row_presence {
    CM_ROW_ABSENT = 0, /* the row has no such column: apply the column's default */
    CM_ROW_NULL,
    CM_ROW_VALUE,
} cm_row_presence;

/* Checks the header of row (borrowed): version, flags, counts, sorted unique ids, offsets.
 * O(columns); values are not looked at. Returns 0 or CM_E_CORRUPT. */
int cm_row_view_init(cm_row_view *v, cm_slice row, cm_err *err);
/* Finds column id: O(log columns). For CM_ROW_VALUE, *value (may be NULL) gets the value bytes,
 * borrowed from the row. */
cm_row_presence cm_row_view_find(const cm_row_view *v, uint32_t id, cm_slice *value);
/* Number of columns listed (values and NULLs) and the i-th of them, values first, each part in
 * id order. */
size_t cm_row_view_count(const cm_row_view *v);
void cm_row_view_column(const cm_row_view *v, size_t i, uint32_t *id, bool *is_null);

/* Decodes value bytes as a value of type t. Strings, bytes and JSON borrow from value. Returns 0
 * or CM_E_CORRUPT (wrong length, non-canonical width, value outside the type's domain). */
int cm_row_value_decode(cm_dtype t, cm_slice value, cm_datum *out, cm_err *err);

/* A column to read: its id and its type in the schema. */
typedef struct cm_row_col {
    uint32_t id;
    cm_dtype type;
} cm_row_col;

/* Reads the n columns cols[] of row into out[] (payloads borrowed from row): a NULL datum for
 * NULL columns, and for absent ones too with present[i] = false (present may be NULL when the
 * caller does not need the difference). Returns 0 or CM_E_CORRUPT. */
int cm_row_decode(cm_slice row, const cm_row_col *cols, size_t n, cm_datum *out, bool *present,
                  cm_err *err);

#endif
