/* sql_cat_sync.c — schema lease and version sync (sql_ddl_int.h). Contract stubs. */
#include "sql_ddl_int.h"

int sql_cat_sync_start(sql_catalog *c, cm_err *err)
{
    (void)c;
    (void)err;
    return 0;
}

void sql_cat_sync_stop(sql_catalog *c)
{
    (void)c;
}

void sql_cat_sync_note_loaded(sql_catalog *c, uint64_t version, int64_t mono_ms)
{
    (void)c;
    (void)version;
    (void)mono_ms;
}

int sql_cat_wait_synced(sql_catalog *c, uint64_t v, bool *all, cm_err *err)
{
    (void)c;
    (void)v;
    (void)err;
    if (all != NULL) {
        *all = true;
    }
    return 0;
}

int sql_cat_lease_check(sql_catalog *c, cm_err *err)
{
    (void)c;
    (void)err;
    return 0;
}
