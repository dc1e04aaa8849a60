/* sql_ddl_check.c — ADMIN CHECK TABLE / INDEX (sql_catalog.h). Contract stubs. */
#include "sql_ddl_int.h"

int sql_ddl_check_table(sql_catalog *c, const sql_cat_table *t, const char *index_name, cm_err *err)
{
    (void)c;
    (void)t;
    (void)index_name;
    return cm_err_set(err, CM_E_UNSUPPORTED, "ADMIN CHECK is not built yet");
}
