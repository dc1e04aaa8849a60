/* pd_id.c — persisted-window id allocator; see pd_id.h. */
#include "pd_id.h"

#include "cm_assert.h"
#include "cm_log.h"
#include "pd_limits.h"

#include <string.h>

#define ID_END_KEY "id/end"

int pd_id_init(pd_id_alloc *a, pd_kv *kv, uint64_t window, cm_err *err)
{
    CM_ASSERT(window >= 1);
    memset(a, 0, sizeof(*a));
    a->kv = kv;
    a->window = window;
    uint64_t end = 0;
    int rc = pd_kv_get_u64(kv, ID_END_KEY, &end, err);
    if (rc == CM_E_NOT_FOUND) {
        end = 0;
        cm_err_clear(err);
    } else if (rc != 0) {
        return rc;
    }
    if (end >= UINT64_MAX / 2) {
        return cm_err_set(err, CM_E_CORRUPT, "id: persisted end %llu is out of range",
                          (unsigned long long)end);
    }
    a->end = end;
    a->next = end + 1;
    pthread_mutex_init(&a->mu, NULL);
    return 0;
}

void pd_id_fini(pd_id_alloc *a)
{
    pthread_mutex_destroy(&a->mu);
}

int pd_id_alloc_n(pd_id_alloc *a, uint32_t count, uint64_t *first, cm_err *err)
{
    if (count == 0 || count > PD_ID_COUNT_MAX) {
        return cm_err_set(err, CM_E_INVALID, "id: count %u is outside 1..%u", count,
                          PD_ID_COUNT_MAX);
    }
    pthread_mutex_lock(&a->mu);
    uint64_t last = a->next + count - 1;
    if (last > a->end) {
        uint64_t end = last + a->window;
        int rc = pd_kv_put_u64(a->kv, ID_END_KEY, end, 1, err);
        if (rc != 0) {
            pthread_mutex_unlock(&a->mu);
            CM_ERROR("pd", "id: cannot persist window end: %s", err ? err->msg : "");
            return rc;
        }
        a->end = end;
    }
    CM_ASSERT(last <= a->end);
    *first = a->next;
    a->next = last + 1;
    pthread_mutex_unlock(&a->mu);
    return 0;
}

uint64_t pd_id_peek(pd_id_alloc *a)
{
    pthread_mutex_lock(&a->mu);
    uint64_t v = a->next;
    pthread_mutex_unlock(&a->mu);
    return v;
}
