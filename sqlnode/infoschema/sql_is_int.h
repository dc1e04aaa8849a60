/* sql_is_int.h — private to sqlnode/infoschema: table definitions and the row buffer the
 * generators (sql_is_rows.c) fill and the virtual tables (sql_is_vtab.c) read. */
#ifndef SQL_IS_INT_H
#define SQL_IS_INT_H

#include "sql_infoschema.h"

/* Columns of the widest table (FILES has 38). */
#define SQL_IS_COLS_MAX 40

typedef struct is_coldef {
    const char *name;
    const char *type; /* MySQL 8's column type, as SHOW COLUMNS prints it */
} is_coldef;

typedef struct is_rows is_rows;

typedef struct is_tabdef {
    const char *name; /* upper case, as MySQL 8 names them */
    const is_coldef *cols;
    uint32_t ncols;
    int schema_col; /* column holding a database name the scan can be narrowed by, or -1 */
    int table_col;  /* column holding a table name the scan can be narrowed by, or -1 */
    /* Builds every row (NULL: the table is empty). */
    int (*rows)(const sql_is_env *env, is_rows *r, cm_err *err);
} is_tabdef;

enum { IS_NULL = 0, IS_INT, IS_TEXT };

typedef struct is_cell {
    uint8_t kind;
    int64_t i;
    size_t off, len; /* IS_TEXT: bytes in is_rows.text */
} is_cell;

struct is_rows {
    uint32_t ncols;
    is_cell *cells;
    uint32_t ncells, cap;
    cm_buf text;
    bool oom;
    /* Narrowing asked by the scan (NULL: any): generators may skip other databases/tables. */
    const char *want_db, *want_table;
};

extern const is_tabdef sql_is_tables[];
extern const uint32_t sql_is_ntabs;
const is_tabdef *sql_is_find(const char *name);

void is_rows_init(is_rows *r, uint32_t ncols);
void is_rows_fini(is_rows *r);
void is_null(is_rows *r);
void is_int(is_rows *r, int64_t v);
void is_strn(is_rows *r, const char *s, size_t n);
void is_str(is_rows *r, const char *s); /* NULL s: SQL NULL */
/* Whether the scan wants rows of database db (table: NULL for database-level rows). */
bool is_want(const is_rows *r, const char *db, const char *table);

#endif
