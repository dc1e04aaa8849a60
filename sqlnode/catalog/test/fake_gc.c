/* fake_gc.c — stands in for sqlnode/gc's queue in the catalog's unit tests while the gc module
 * is not on main (the unit tests never run a DDL against KV; the e2e test uses the real one). */
#include "sql_gc.h"

int sql_gc_queue_delete_range(cm_txn *t, uint64_t ts, cm_slice start, cm_slice end, cm_err *err)
{
    (void)t;
    (void)ts;
    (void)start;
    (void)end;
    return cm_err_set(err, CM_E_UNSUPPORTED, "no gc module in this test");
}
