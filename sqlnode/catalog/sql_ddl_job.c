/* sql_ddl_job.c — DDL jobs and the DDL worker (sql_ddl_int.h). Contract stubs: filled in by the
 * online-DDL work. */
#include "sql_ddl_int.h"

int sql_ddl_worker_start(sql_catalog *c, cm_err *err)
{
    (void)c;
    (void)err;
    return 0;
}

void sql_ddl_worker_stop(sql_catalog *c)
{
    (void)c;
}

int sql_ddl_admin_show_ddl(sql_catalog *c, sql_sink *sink, cm_err *err)
{
    (void)c;
    (void)sink;
    return cm_err_set(err, CM_E_UNSUPPORTED, "ADMIN SHOW DDL is not built yet");
}

int sql_ddl_admin_show_jobs(sql_catalog *c, uint32_t n, sql_sink *sink, cm_err *err)
{
    (void)c;
    (void)n;
    (void)sink;
    return cm_err_set(err, CM_E_UNSUPPORTED, "ADMIN SHOW DDL JOBS is not built yet");
}

int sql_ddl_admin_cancel(sql_catalog *c, const int64_t *ids, uint32_t n, sql_sink *sink,
                         cm_err *err)
{
    (void)c;
    (void)ids;
    (void)n;
    (void)sink;
    return cm_err_set(err, CM_E_UNSUPPORTED, "ADMIN CANCEL DDL JOBS is not built yet");
}
