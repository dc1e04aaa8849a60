/*
 * sql_infoschema.h — the database `information_schema` (docs/sql-layer.md "information_schema"):
 * read-only SQLite virtual tables (module `infoschema`) whose rows are built, at each scan, from
 * the session's schema snapshot (sql_catalog.h) and the server's session list, with MySQL 8's
 * table and column names and column types.
 *
 * The session registers the module once on its SQLite connection and declares a table lazily,
 * like its user tables (sql_decl.c), when SQLite reports it missing:
 *     CREATE VIRTUAL TABLE <schema>."<name>" USING infoschema("<NAME>")
 * with <schema> `main` (USE information_schema) or the ATTACHed schema `information_schema`
 * (qualified names). Names are case-insensitive. Writes fail with MySQL's 1044 (access denied
 * to database 'information_schema').
 *
 * Tables: SCHEMATA, TABLES, COLUMNS, STATISTICS, KEY_COLUMN_USAGE, TABLE_CONSTRAINTS,
 * PROCESSLIST, ENGINES, CHARACTER_SETS, COLLATIONS, COLLATION_CHARACTER_SET_APPLICABILITY,
 * PARTITIONS (one row per table, as MySQL has for unpartitioned tables), and empty tables with
 * MySQL's columns for what clients query at connect or dump time: FILES, ROUTINES, TRIGGERS,
 * VIEWS, PARAMETERS, EVENTS, REFERENTIAL_CONSTRAINTS, CHECK_CONSTRAINTS, COLUMN_STATISTICS.
 */
#ifndef SQL_INFOSCHEMA_H
#define SQL_INFOSCHEMA_H

#include "cm_buf.h"
#include "cm_err.h"
#include "sql_catalog.h"
#include "sql_value.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

/* What a session gives the module (borrowed for the connection's life). */
typedef struct sql_is_env {
    void *sess; /* passed to the callbacks */
    sql_catalog *cat;
    /* The schema snapshot the running statement sees (borrowed; NULL: none). */
    const sql_schema *(*schema)(void *sess);
    /* Sends the columns and rows of SHOW FULL PROCESSLIST to sink (not done()). NULL: no rows. */
    int (*processlist)(void *sess, sql_sink *sink, cm_err *err);
    /* Whether the account may see database db (table NULL) or table db.table: rows of objects
     * it has no privilege on are left out, as MySQL does. NULL: everything is visible. */
    bool (*visible)(void *sess, const char *db, const char *table);
    /* The session's account, for the 1044 message. */
    const char *(*user)(void *sess);
    /* Where a refused write leaves its MySQL error (the session reports it for the statement). */
    cm_err *err;
} sql_is_env;

/* Registers the module `infoschema` on db. */
int sql_is_register(sqlite3 *db, sql_is_env *env, cm_err *err);

/* Whether name is `information_schema` (any case). */
bool sql_is_db(const char *name);
/* Whether name (any case) is a table of information_schema. */
bool sql_is_table(const char *name);
/* Appends the CREATE VIRTUAL TABLE statement for table `name` in SQLite schema `schema` (both
 * quoted with "…"); CM_E_NO_SUCH_TABLE when name is no table of information_schema. */
int sql_is_declare_sql(const char *schema, const char *name, cm_buf *out, cm_err *err);
/* Result metadata of column `col` of table `table` (MySQL 8's declared type); false when
 * unknown. name/name_len are kept as given. */
bool sql_is_column_meta(const char *table, const char *col, sql_column *c);

/* Number of tables, and table i's upper-case name (SHOW TABLES FROM information_schema). */
uint32_t sql_is_ntables(void);
const char *sql_is_table_name(uint32_t i);

#endif
