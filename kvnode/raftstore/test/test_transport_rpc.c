/*
 * Unit test of the raftstore's RPC transport: three stores in one process, each with a real RPC
 * server on 127.0.0.1 (port chosen at run time) and the transport as its send_cb; the test
 * thread is every store's loop thread (drain, process, tick on the wall clock). A region elects
 * a leader, replicates a write and serves a read over real sockets; a snapshot streams in chunks
 * to a store added as learner; garbage sent to the methods is refused without harm.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kv_memengine.h"
#include "kv_transport_rpc.h"

#include "cm_log.h"
#include "cm_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N       4
#define TICK_MS 20

typedef struct node {
    uint64_t id;
    kv_engine *eng;
    kv_raftstore *rs;
    kv_transport_rpc *tr;
    cm_rpc_server *srv;
    int port;
} node;

static node nodes[N];
static uint64_t next_id = 1000;

static uint64_t now_ns(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(void *ctx)
{
    (void)ctx;
    static uint64_t x = 12345;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

static int alloc_ids(void *ctx, size_t n, uint64_t *ids, cm_err *err)
{
    (void)ctx;
    (void)err;
    for (size_t i = 0; i < n; i++) {
        ids[i] = next_id++;
    }
    return 0;
}

static int resolve(void *ctx, uint64_t store, cm_buf *addr, cm_err *err)
{
    (void)ctx;
    if (store == 0 || store > N) {
        return cm_err_set(err, CM_E_NOT_FOUND, "no store %llu", (unsigned long long)store);
    }
    cm_buf_reset(addr);
    return cm_buf_printf(addr, "127.0.0.1:%d", nodes[store - 1].port);
}

static void start(size_t replicas)
{
    kv_region r;
    kv_region_init(&r);
    r.id = 1;
    r.epoch.conf_ver = 1;
    r.epoch.version = 1;
    for (size_t i = 0; i < replicas; i++) {
        kv_peer p = {101 + i, i + 1, KV_PEER_VOTER};
        assert_int_equal(kv_region_add_peer(&r, &p), 0);
    }
    for (size_t i = 0; i < N; i++) {
        node *nd = &nodes[i];
        memset(nd, 0, sizeof(*nd));
        nd->id = i + 1;
        cm_err err;
        assert_int_equal(kv_memengine_open(&nd->eng, &err), 0);
        if (i < replicas) {
            assert_int_equal(kv_raftstore_bootstrap(nd->eng, nd->id, &r, &err), 0);
        }
        kv_transport_rpc_config tc = {0};
        tc.store_id = nd->id;
        tc.resolve_cb = resolve;
        assert_int_equal(kv_transport_rpc_create(&tc, &nd->tr, &err), 0);
        assert_int_equal(cm_rpc_server_create("127.0.0.1:0", 2, &nd->srv, &err), 0);
        size_t nm;
        const cm_rpc_method *m = kv_transport_rpc_methods(&nm);
        assert_int_equal(cm_rpc_server_register(nd->srv, m, nm, nd->tr, &err), 0);
        assert_int_equal(cm_rpc_server_start(nd->srv, &err), 0);
        nd->port = cm_rpc_server_port(nd->srv);
        assert_true(nd->port > 0);
    }
    for (size_t i = 0; i < N; i++) {
        node *nd = &nodes[i];
        kv_raftstore_env env;
        memset(&env, 0, sizeof(env));
        env.engine = nd->eng;
        env.ctx = nd->tr;
        env.send_cb = kv_transport_rpc_send;
        env.clock_ns_cb = now_ns;
        env.rand_cb = rnd;
        env.alloc_ids_cb = alloc_ids;
        kv_raftstore_config cfg;
        kv_raftstore_config_default(&cfg);
        cfg.store_id = nd->id;
        cfg.tick_ns = TICK_MS * 1000000ull;
        cfg.log_gc_ticks = 5;
        cfg.log_gc_threshold = 10;
        cfg.log_gc_lag_max = 10;
        cfg.snap_chunk_bytes = 100;
        cm_err err;
        assert_int_equal(kv_raftstore_open(&env, &cfg, &nd->rs, &err), 0);
    }
    kv_region_fini(&r);
}

static void stop(void)
{
    for (size_t i = 0; i < N; i++) {
        cm_rpc_server_free(nodes[i].srv);
        kv_raftstore_close(nodes[i].rs);
        kv_transport_rpc_free(nodes[i].tr);
        kv_engine_close(nodes[i].eng);
    }
}

/* One pass of every store's loop; ticks when TICK_MS passed. */
static void loop_once(uint64_t *last_tick)
{
    uint64_t now = now_ns(NULL);
    bool tick = now - *last_tick >= TICK_MS * 1000000ull;
    if (tick) {
        *last_tick = now;
    }
    for (size_t i = 0; i < N; i++) {
        kv_transport_rpc_drain(nodes[i].tr, nodes[i].rs, 0);
        if (tick) {
            assert_int_equal(kv_raftstore_tick(nodes[i].rs), 0);
        }
        for (int k = 0; k < 4 && kv_raftstore_busy(nodes[i].rs); k++) {
            assert_int_equal(kv_raftstore_process(nodes[i].rs), 0);
        }
    }
    (void)kv_transport_rpc_wait(nodes[0].tr, 1);
}

typedef struct waiter {
    bool done;
    int rc;
    bool found;
} waiter;

static void done_cb(void *user, const kv_raftstore_result *res)
{
    waiter *w = user;
    w->done = true;
    w->rc = res->rc;
}

static void read_cb(void *user, const kv_raftstore_result *res, kv_snapshot *snap)
{
    waiter *w = user;
    w->done = true;
    w->rc = res->rc;
    if (snap != NULL) {
        cm_buf v = CM_BUF_INIT;
        w->found = kv_snapshot_get(snap, KV_CF_DEFAULT, cm_slice_cstr("key"), &v, NULL) == 0 &&
                   cm_slice_eq(cm_buf_slice(&v), cm_slice_cstr("value"));
        cm_buf_fini(&v);
        kv_snapshot_release(snap);
    }
}

static uint64_t leader_store(uint64_t region)
{
    for (size_t i = 0; i < N; i++) {
        kv_peer_status st;
        if (kv_raftstore_region(nodes[i].rs, region, NULL, &st) == 0 && st.leader) {
            return i + 1;
        }
    }
    return 0;
}

static bool engine_has(size_t i, const char *k)
{
    cm_buf v = CM_BUF_INIT;
    bool ok = kv_engine_get(nodes[i].eng, KV_CF_DEFAULT, cm_slice_cstr(k), &v, NULL) == 0;
    cm_buf_fini(&v);
    return ok;
}

/* Loops until cond() or about 10 s of wall time (bounded). */
#define LOOP_UNTIL(cond)                                                                           \
    do {                                                                                           \
        uint64_t deadline_ = now_ns(NULL) + 10000000000ull;                                        \
        while (!(cond) && now_ns(NULL) < deadline_) {                                              \
            loop_once(&last_tick);                                                                 \
        }                                                                                          \
    } while (0)

static void test_replication_over_rpc(void **state)
{
    (void)state;
    start(3);
    uint64_t last_tick = now_ns(NULL);
    LOOP_UNTIL(leader_store(1) != 0);
    uint64_t l = leader_store(1);
    assert_true(l != 0);
    kv_region r;
    kv_region_init(&r);
    assert_int_equal(kv_raftstore_region(nodes[l - 1].rs, 1, &r, NULL), 0);
    kv_batch b;
    kv_batch_init(&b);
    assert_int_equal(kv_batch_put(&b, KV_CF_DEFAULT, cm_slice_cstr("key"), cm_slice_cstr("value")),
                     0);
    waiter w = {0};
    kv_raftstore_propose(nodes[l - 1].rs, 1, r.epoch, &b, done_cb, &w);
    LOOP_UNTIL(w.done);
    assert_true(w.done);
    assert_int_equal(w.rc, 0);
    waiter rd = {0};
    kv_raftstore_read(nodes[l - 1].rs, 1, r.epoch, read_cb, &rd);
    LOOP_UNTIL(rd.done);
    assert_int_equal(rd.rc, 0);
    assert_true(rd.found);
    LOOP_UNTIL(engine_has(0, "key") && engine_has(1, "key") && engine_has(2, "key"));
    for (size_t i = 0; i < 3; i++) {
        assert_true(engine_has(i, "key"));
    }
    /* Enough writes that the log is truncated, then a learner on store 4: it catches up by a
     * snapshot streamed in chunks over RPC. */
    for (int i = 0; i < 30; i++) {
        char k[16];
        snprintf(k, sizeof(k), "fill%02d", i);
        kv_batch_clear(&b);
        assert_int_equal(kv_batch_put(&b, KV_CF_DEFAULT, cm_slice_cstr(k), cm_slice_cstr("x")), 0);
        waiter wf = {0};
        kv_raftstore_propose(nodes[l - 1].rs, 1, r.epoch, &b, done_cb, &wf);
        LOOP_UNTIL(wf.done);
        assert_int_equal(wf.rc, 0);
    }
    uint64_t until = now_ns(NULL) + 300000000ull;
    LOOP_UNTIL(now_ns(NULL) > until);
    waiter wc = {0};
    kv_peer learner = {201, 4, KV_PEER_LEARNER};
    kv_raftstore_change_peer(nodes[l - 1].rs, 1, r.epoch, KV_CONF_ADD_LEARNER, learner, done_cb,
                             &wc);
    LOOP_UNTIL(wc.done);
    assert_int_equal(wc.rc, 0);
    LOOP_UNTIL(engine_has(3, "fill29"));
    assert_true(engine_has(3, "key"));
    assert_true(engine_has(3, "fill29"));
    kv_raftstore_stats st;
    kv_raftstore_stats_get(nodes[3].rs, &st);
    assert_true(st.snapshots_applied >= 1);
    kv_transport_rpc_stats ts;
    kv_transport_rpc_stats_get(nodes[l - 1].tr, &ts);
    assert_true(ts.sent > 0);
    kv_batch_fini(&b);
    kv_region_fini(&r);
    stop();
}

static void test_garbage_is_refused_harmlessly(void **state)
{
    (void)state;
    start(3);
    uint64_t last_tick = now_ns(NULL);
    cm_err err;
    cm_rpc_client *c;
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", nodes[0].port);
    assert_int_equal(cm_rpc_client_create(addr, &c, &err), 0);
    static const uint8_t junk[] = {0x12, 0xff, 0xff, 0x01};
    cm_buf reply = CM_BUF_INIT;
    assert_int_equal(cm_rpc_call(c, KV_RAFTSTORE_MSG_BATCH, cm_slice_make(junk, sizeof(junk)),
                                 &reply, 2000, &err),
                     0);
    assert_int_equal(cm_rpc_call(c, KV_RAFTSTORE_MSG_SNAPSHOT, cm_slice_make(junk, sizeof(junk)),
                                 &reply, 2000, &err),
                     0);
    /* The loop takes them and drops them; the store keeps working. */
    LOOP_UNTIL(leader_store(1) != 0);
    assert_true(leader_store(1) != 0);
    kv_raftstore_stats st;
    kv_raftstore_stats_get(nodes[0].rs, &st);
    assert_true(st.msgs_dropped >= 1 || st.snapshots_rejected >= 1);
    cm_buf_fini(&reply);
    cm_rpc_client_free(c);
    stop();
}

int main(void)
{
    cm_log_set_level(getenv("RS_TEST_LOG") ? CM_LOG_INFO : CM_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replication_over_rpc),
        cmocka_unit_test(test_garbage_is_refused_harmlessly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
