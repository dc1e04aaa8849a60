/* cm_pd_types.c — helpers for the PD client's plain types; see cm_pd_types.h. */
#include "cm_pd_types.h"

#include "cm_err.h"

#include <stdlib.h>
#include <string.h>

void cm_pd_region_init(cm_pd_region *r)
{
    memset(r, 0, sizeof(*r));
    cm_buf_init(&r->start_key);
    cm_buf_init(&r->end_key);
}

void cm_pd_region_fini(cm_pd_region *r)
{
    cm_buf_fini(&r->start_key);
    cm_buf_fini(&r->end_key);
}

int cm_pd_region_copy(cm_pd_region *dst, const cm_pd_region *src)
{
    if (dst == src) {
        return 0;
    }
    cm_buf sk = dst->start_key, ek = dst->end_key;
    cm_buf_reset(&sk);
    cm_buf_reset(&ek);
    int rc = cm_buf_append_slice(&sk, cm_buf_slice(&src->start_key));
    if (rc == 0) {
        rc = cm_buf_append_slice(&ek, cm_buf_slice(&src->end_key));
    }
    *dst = *src;
    dst->start_key = sk;
    dst->end_key = ek;
    return rc == 0 ? 0 : CM_E_NOMEM;
}

int cm_pd_region_contains(const cm_pd_region *r, cm_slice key)
{
    if (cm_slice_cmp(cm_buf_slice(&r->start_key), key) > 0) {
        return 0;
    }
    return r->end_key.len == 0 || cm_slice_cmp(key, cm_buf_slice(&r->end_key)) < 0;
}

void cm_pd_regions_free(cm_pd_region *v, size_t n)
{
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        cm_pd_region_fini(&v[i]);
    }
    free(v);
}

const char *cm_pd_store_live_name(int live)
{
    static const char *names[] = {"Up", "Disconnected", "Down", "Offline", "Tombstone"};
    return live >= 0 && live < 5 ? names[live] : "?";
}
