/*
 * sql_admin.h — the session's ADMIN statements (docs/ddl.md "ADMIN statements"):
 *
 *   ADMIN SHOW DDL                          the catalog's owner and schema version
 *   ADMIN SHOW DDL JOBS [n]                 queued, running and the n newest finished jobs
 *   ADMIN CANCEL DDL JOBS id[, id…]         one result row per id
 *   ADMIN CHECK TABLE t[, t2…]              every index of each table against its rows
 *   ADMIN CHECK INDEX t idx                 one index against the rows
 *   ADMIN FAILPOINT SET 'name' value        failpoints of this node (builds with -Dfailpoints)
 *   ADMIN FAILPOINT CLEAR 'name'
 *
 * Private to the session module; the dispatcher hands every statement starting with ADMIN here.
 */
#ifndef SQL_ADMIN_H
#define SQL_ADMIN_H

#include "sql_lexer.h"
#include "sql_value.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct sql_sess sql_sess;

/* Whether t[0, n) starts with the word ADMIN. */
bool sql_admin_is(const char *src, const sql_token *t, uint32_t n);
/* Runs it: a result set or an OK packet through sink; 1064 for malformed ADMIN statements, 1235
 * for ADMIN statements Tessera does not have. */
int sql_admin_run(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                  int more, cm_err *err);

#endif
