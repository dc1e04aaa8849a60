/* sql_ddl_backfill.c — parallel index backfill (sql_ddl_int.h). Contract stubs. */
#include "sql_ddl_int.h"

void sql_bf_options_default(sql_bf_options *o)
{
    o->workers = 4;
    o->batch_rows = 1024;
    o->job_id = 0;
}

int sql_ddl_backfill(sql_catalog *c, const sql_cat_table *t, const int64_t *index_ids,
                     uint32_t nids, cm_slice from, uint64_t rows_before, const sql_bf_options *o,
                     sql_bf_ckpt_cb ckpt, void *user, cm_err *err)
{
    (void)c;
    (void)t;
    (void)index_ids;
    (void)nids;
    (void)from;
    (void)rows_before;
    (void)o;
    (void)ckpt;
    (void)user;
    return cm_err_set(err, CM_E_UNSUPPORTED, "the parallel backfill is not built yet");
}
