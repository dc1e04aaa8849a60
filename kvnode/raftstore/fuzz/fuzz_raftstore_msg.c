/*
 * fuzz_raftstore_msg — arbitrary bytes as what another store sends: the first byte picks the
 * method (RAFT_BATCH or SNAPSHOT_CHUNK), the rest is the payload, given to a store holding one
 * region on a memory engine; then one loop iteration and one tick. Nothing may crash, abort or
 * leak: bad input is dropped and counted.
 */
#include "kv_memengine.h"
#include "kv_raftstore.h"

#include "cm_log.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int drop(void *ctx, uint64_t to, uint32_t method, cm_slice payload)
{
    (void)ctx;
    (void)to;
    (void)method;
    (void)payload;
    return 0;
}

static uint64_t rnd(void *ctx)
{
    (void)ctx;
    static uint64_t x = 88172645463325252ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

static uint64_t clk(void *ctx)
{
    (void)ctx;
    static uint64_t t = 1000000000ull;
    return t += 1000000;
}

static int ids(void *ctx, size_t n, uint64_t *out, cm_err *err)
{
    (void)ctx;
    (void)err;
    static uint64_t next = 5000;
    for (size_t i = 0; i < n; i++) {
        out[i] = next++;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    cm_log_set_level(CM_LOG_OFF);
    kv_engine *e;
    if (kv_memengine_open(&e, NULL) != 0) {
        return 0;
    }
    kv_region r;
    kv_region_init(&r);
    r.id = 1;
    r.epoch.conf_ver = 1;
    r.epoch.version = 1;
    (void)kv_region_set_range(&r, cm_slice_cstr("b"), cm_slice_cstr("m"));
    for (uint64_t i = 0; i < 3; i++) {
        kv_peer p = {101 + i, 1 + i, KV_PEER_VOTER};
        (void)kv_region_add_peer(&r, &p);
    }
    (void)kv_raftstore_bootstrap(e, 1, &r, NULL);
    kv_region_fini(&r);
    kv_raftstore_env env;
    memset(&env, 0, sizeof(env));
    env.engine = e;
    env.send_cb = drop;
    env.rand_cb = rnd;
    env.clock_ns_cb = clk;
    env.alloc_ids_cb = ids;
    kv_raftstore_config cfg;
    kv_raftstore_config_default(&cfg);
    cfg.store_id = 1;
    kv_raftstore *s;
    if (kv_raftstore_open(&env, &cfg, &s, NULL) == 0) {
        cm_slice payload = cm_slice_make(data + 1, size - 1);
        if (data[0] & 1) {
            (void)kv_raftstore_on_snapshot_chunk(s, payload);
        } else {
            (void)kv_raftstore_on_raft_batch(s, payload);
        }
        (void)kv_raftstore_process(s);
        (void)kv_raftstore_tick(s);
        (void)kv_raftstore_process(s);
        kv_raftstore_close(s);
    }
    kv_engine_close(e);
    return 0;
}
