/*
 * sql_lockread.h — MySQL's locking-read clauses at the end of a SELECT, for the translator:
 *   FOR UPDATE [OF t[, t]…] [NOWAIT | SKIP LOCKED]
 *   FOR SHARE  [OF t[, t]…] [NOWAIT | SKIP LOCKED]
 *   LOCK IN SHARE MODE
 * (one or more). Tessera's transactions are optimistic (Percolator): a locking read takes no
 * lock; a row it read that another transaction changes before this one commits makes the later
 * write conflict at commit (1213) — see docs/sql-layer.md "DML forms beyond SQLite".
 */
#ifndef SQL_LOCKREAD_H
#define SQL_LOCKREAD_H

#include "sql_lexer.h"

#include <stdint.h>

/* t[i] starts a locking clause (FOR or LOCK): 0 when t[i, e) is one or more complete
 * clauses; -1 otherwise, with *bad the index of the token that does not fit (e: cut short). */
int sql_lockread_check(const char *src, const sql_token *t, uint32_t i, uint32_t e, uint32_t *bad);

#endif
