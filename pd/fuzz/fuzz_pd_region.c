/* fuzz_pd_region — libFuzzer target: bytes → pdpb.RegionInfo → pd_region_from_pb (validation)
 * → the region tree (staleness check, put, routing, scan). Input from outside (a region
 * heartbeat) must never crash PD, leak, or leave the tree with overlapping regions. The input is
 * split on 0x00 0xff markers into several reports applied in order. */
#include "pd_pbconv.h"
#include "pd_region.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static int count_cb(void *user, const pd_region *r)
{
    (void)r;
    (*(size_t *)user)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pd_region_tree t;
    if (pd_region_tree_init(&t) != 0) {
        return 0;
    }
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        int cut = i == size || (i + 1 < size && data[i] == 0x00 && data[i + 1] == 0xff);
        if (!cut) {
            continue;
        }
        Tessera__Pdpb__RegionInfo *m =
            tessera__pdpb__region_info__unpack(NULL, i - start, data + start);
        start = i + 2;
        if (m == NULL) {
            continue;
        }
        pd_region r;
        pd_region_init(&r);
        cm_err err;
        if (pd_region_from_pb(m, &r, &err) == 0 &&
            pd_region_tree_check(&t, &r, &err) != PD_REGION_STALE) {
            (void)pd_region_tree_put(&t, &r, NULL, NULL);
        }
        /* Routing must find the region just put (unless it was stale). */
        (void)pd_region_tree_by_key(&t, cm_buf_slice(&r.start_key));
        size_t n = 0;
        pd_region_tree_scan(&t, cm_slice_make(NULL, 0), cm_slice_make(NULL, 0), 0, count_cb, &n);
        if (n != pd_region_tree_count(&t)) {
            __builtin_trap();
        }
        pd_region_fini(&r);
        tessera__pdpb__region_info__free_unpacked(m, NULL);
        i++;
    }
    pd_region_tree_fini(&t);
    return 0;
}
