/* pd_kv.c — helpers shared by every pd_kv implementation (see pd_kv.h). */
#include "pd_kv.h"

#include <string.h>

void pd_kv_close(pd_kv *kv)
{
    if (kv == NULL || kv->vt == NULL) {
        return;
    }
    kv->vt->close(kv->impl);
    kv->vt = NULL;
    kv->impl = NULL;
}

int pd_kv_put(pd_kv *kv, cm_slice key, cm_slice value, int sync, cm_err *err)
{
    pd_kv_op op = {PD_KV_PUT, key, value};
    return pd_kv_write(kv, &op, 1, sync, err);
}

int pd_kv_del(pd_kv *kv, cm_slice key, int sync, cm_err *err)
{
    pd_kv_op op = {PD_KV_DEL, key, cm_slice_make(NULL, 0)};
    return pd_kv_write(kv, &op, 1, sync, err);
}

int pd_kv_put_u64(pd_kv *kv, const char *key, uint64_t v, int sync, cm_err *err)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    }
    return pd_kv_put(kv, cm_slice_cstr(key), cm_slice_make(b, sizeof(b)), sync, err);
}

int pd_kv_get_u64(pd_kv *kv, const char *key, uint64_t *v, cm_err *err)
{
    cm_buf b = CM_BUF_INIT;
    int rc = pd_kv_get(kv, cm_slice_cstr(key), &b, err);
    if (rc == 0) {
        if (b.len != 8) {
            rc = cm_err_set(err, CM_E_CORRUPT, "pd storage: key %s holds %zu bytes, want 8", key,
                            b.len);
        } else {
            cm_reader r;
            cm_reader_init(&r, b.ptr, b.len);
            rc = cm_reader_u64be(&r, v);
        }
    }
    cm_buf_fini(&b);
    return rc;
}
