/*
 * sql_binary.h — the binary protocol's server side: the table of a connection's prepared
 * statements, COM_STMT_SEND_LONG_DATA, and the decoding of COM_STMT_EXECUTE's parameter block
 * (null bitmap, parameter types, values of every type).
 *
 * Parameter types are remembered per statement: a client may send them only on the first
 * execute (new-params-bound flag 0 afterwards; sysbench does this). Independent of the session:
 * it produces sql_value parameters from bytes.
 */
#ifndef SQL_BINARY_H
#define SQL_BINARY_H

#include "cm_buf.h"
#include "cm_err.h"
#include "sql_value.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sql_stmt_ent {
    uint32_t id;
    void *prep; /* the session's statement (sql_prep *), owned by the session */
    uint32_t nparams;
    uint16_t *types;   /* remembered types (type | unsigned flag << 8); NULL until sent */
    cm_buf *long_data; /* per parameter, allocated on first COM_STMT_SEND_LONG_DATA */
    uint8_t *has_long; /* per parameter */
    int long_too_big;  /* a parameter's long data passed the limit: execute fails */
} sql_stmt_ent;

typedef struct sql_stmts {
    sql_stmt_ent *v; /* sorted by id (ids only grow) */
    uint32_t n, cap;
    uint32_t next_id;
    uint32_t last_id; /* the most recent prepare (MariaDB's stmt id 0xffffffff) */
} sql_stmts;

void sql_stmts_init(sql_stmts *t);
/* Frees the table's memory (not the statements' preps: the caller frees those first). */
void sql_stmts_fini(sql_stmts *t);
/* 0xffffffff means the most recently prepared statement. NULL when unknown. */
sql_stmt_ent *sql_stmts_find(sql_stmts *t, uint32_t id);
/* Adds a statement; *out points into the table until the next add or remove. */
int sql_stmts_add(sql_stmts *t, void *prep, uint32_t nparams, sql_stmt_ent **out);
/* Removes and returns the prep (for the caller to free), or NULL when unknown. */
void *sql_stmts_remove(sql_stmts *t, uint32_t id);

/* COM_STMT_SEND_LONG_DATA: appends data to parameter `param`. Bad parameter numbers are ignored
 * (the protocol sends no reply); more than max bytes marks the statement so execute fails. */
void sql_bin_long_data(sql_stmt_ent *st, uint16_t param, const uint8_t *data, size_t n, size_t max);
/* COM_STMT_RESET: drops long data. */
void sql_bin_reset(sql_stmt_ent *st);

/* Decodes COM_STMT_EXECUTE after its statement id: flags, iteration count, then (with
 * parameters) null bitmap, new-params-bound flag, types, values. vals gets st->nparams values
 * that borrow from p (strings) or scratch (temporal texts), valid until either changes.
 * Returns 0, CM_E_MALFORMED_PACKET (with context in err), CM_E_WRONG_ARGUMENTS (no types
 * known yet) or CM_E_NET_PACKET_TOO_LARGE (long data over the limit). */
int sql_bin_decode_execute(sql_stmt_ent *st, const uint8_t *p, size_t n, sql_value *vals,
                           cm_buf *scratch, uint8_t *cursor_flags, cm_err *err);

#endif
