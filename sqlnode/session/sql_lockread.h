/*
 * sql_lockread.h — MySQL's locking-read clauses at the end of a SELECT, for the translator:
 *   FOR UPDATE [OF t[, t]…] [NOWAIT | SKIP LOCKED]
 *   FOR SHARE  [OF t[, t]…] [NOWAIT | SKIP LOCKED]
 *   LOCK IN SHARE MODE
 * (one or more). Tessera's transactions are optimistic (Percolator): nothing waits. In an
 * explicit transaction FOR UPDATE makes every row it returned a lock-only mutation of the
 * transaction, so a row another transaction changes (and commits) before this one commits
 * fails this commit with 1213 — the conflict is caught at commit, not prevented at read. FOR
 * SHARE and LOCK IN SHARE MODE take nothing (a lock-only mutation would make two readers
 * conflict). See docs/sql-layer.md "DML forms beyond SQLite".
 */
#ifndef SQL_LOCKREAD_H
#define SQL_LOCKREAD_H

#include "cm_err.h"
#include "sql_lexer.h"

#include <sqlite3.h>
#include <stdint.h>

/* t[i] starts a locking clause (FOR or LOCK): 0 when t[i, e) is one or more complete
 * clauses (*exclusive set when one is FOR UPDATE); -1 otherwise, with *bad the index of the
 * token that does not fit (e: cut short). */
int sql_lockread_check(const char *src, const sql_token *t, uint32_t i, uint32_t e, uint32_t *bad,
                       int *exclusive);

/* The translator ends the SQLite text of a statement with FOR UPDATE with this comment; the
 * session recognizes such statements by it (sqlite3_sql). */
#define SQL_LOCKREAD_MARK " /*tessera:for-update*/"

struct sql_sess;
/* Around the steps of one statement (sql_exec_run): start sets the vtab's lock_reads when st
 * is a FOR UPDATE read inside an explicit transaction (in autocommit MySQL's locks end with the
 * statement: nothing to do); finish turns the rows the cursors returned into lock-only
 * mutations of the transaction (cm_txn_lock) when rc is 0, and clears the list whatever rc.
 * Returns rc or the error of taking the locks. */
void sql_lockread_start(struct sql_sess *s, sqlite3_stmt *st);
int sql_lockread_finish(struct sql_sess *s, int rc, cm_err *err);

#endif
