/*
 * sql_wire.h — the MySQL protocol's basic encodings: length-encoded integers and strings and
 * NUL-terminated strings, written into a cm_buf and read through a bounds-checked cm_reader.
 * Decoders return 0 or CM_E_CORRUPT and never read past the end of their input.
 */
#ifndef SQL_WIRE_H
#define SQL_WIRE_H

#include "cm_buf.h"

#include <stddef.h>
#include <stdint.h>

/* Bytes a length-encoded integer takes: 1, 3, 4 or 9. */
size_t sql_wire_lenenc_size(uint64_t v);
/* Appends v as a length-encoded integer (< 251: one byte; 0xfc + 2; 0xfd + 3; 0xfe + 8). */
int sql_wire_put_lenenc(cm_buf *b, uint64_t v);
/* Appends a length-encoded string (length, then the bytes). p is borrowed. */
int sql_wire_put_lenenc_str(cm_buf *b, const void *p, size_t n);
/* Appends s and its terminating NUL. */
int sql_wire_put_cstr(cm_buf *b, const char *s);

/* Reads a length-encoded integer. 0xfb (NULL in a text row) and 0xff (an error packet's tag)
 * are not integers: they return CM_E_CORRUPT, as does truncation. */
int sql_wire_get_lenenc(cm_reader *r, uint64_t *v);
/* Reads a length-encoded string; *out borrows the reader's memory. */
int sql_wire_get_lenenc_str(cm_reader *r, cm_slice *out);
/* Reads bytes up to a NUL and consumes the NUL; CM_E_CORRUPT when no NUL follows. */
int sql_wire_get_cstr(cm_reader *r, cm_slice *out);
/* Reads the rest of the input (string<EOF>). */
void sql_wire_get_rest(cm_reader *r, cm_slice *out);

#endif
