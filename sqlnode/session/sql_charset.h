/*
 * sql_charset.h — the character sets and collations the server knows by name and id.
 *
 * Tessera stores and compares text as UTF-8 bytes (utf8mb4_bin semantics, DESIGN.md §7). The
 * names here let clients negotiate and report a charset (handshake byte, SET NAMES, the
 * character_set_* and collation_* variables, column metadata); the server does not transcode:
 * a client that declares latin1 still exchanges its bytes unchanged (see docs/mysql-protocol.md).
 */
#ifndef SQL_CHARSET_H
#define SQL_CHARSET_H

#include <stddef.h>
#include <stdint.h>

typedef struct sql_collation {
    uint16_t id;
    const char *name;
    const char *charset;
    int is_default; /* the default collation of its charset */
    uint8_t maxlen; /* bytes per character at most */
} sql_collation;

/* The server's default: utf8mb4_bin (46), PAD SPACE, as DESIGN.md §7 fixes. */
#define SQL_COLLATION_DEFAULT_ID 46

const sql_collation *sql_collation_by_id(uint16_t id);
/* Case-insensitive; n bytes of name. NULL when unknown. */
const sql_collation *sql_collation_by_name(const char *name, size_t n);
/* The default collation of a charset name ("utf8" is utf8mb3, as in MySQL 8). NULL if unknown. */
const sql_collation *sql_charset_default(const char *charset, size_t n);
/* Iteration for SHOW COLLATION / SHOW CHARACTER SET. */
size_t sql_collation_count(void);
const sql_collation *sql_collation_at(size_t i);
/* A short description of a charset for SHOW CHARACTER SET. */
const char *sql_charset_description(const char *charset);

#endif
