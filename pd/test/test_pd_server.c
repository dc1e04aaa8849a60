/* In-process tests of pd/server through the real PD client over loopback RPC, so the handlers
 * run under the sanitizers of the unit build: every method, malformed payloads, a foreign
 * cluster id, paging of ScanRegions, restart on the same data directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_log.h"
#include "cm_pd_client.h"
#include "cm_rpc.h"
#include "cm_time.h"
#include "pd_server.h"
#include "pdpb.pb-c.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char data_dir[64];
static _Atomic int64_t clock_offset_ms;

static uint64_t test_clock(void *user)
{
    return (uint64_t)((int64_t)cm_time_wall_ms() + atomic_load(&clock_offset_ms));
}

static pd_server *start_pd(int port)
{
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    pd_server_options o;
    memset(&o, 0, sizeof(o));
    o.name = "pd-test";
    o.data_dir = data_dir;
    o.listen_addr = listen;
    o.status_addr = "127.0.0.1:0";
    o.tso_save_window_ms = 200;
    o.id_alloc_window = 5;
    o.store_heartbeat_timeout_ms = 20000;
    o.max_store_down_time_ms = 1800000;
    o.rpc_workers = 4;
    o.version = "test";
    o.config_json = "{}";
    o.wall_clock = test_clock;
    pd_server *s = NULL;
    cm_err err;
    int rc = pd_server_start(&o, &s, &err);
    if (rc != 0) {
        fprintf(stderr, "pd_server_start: %s\n", err.msg);
    }
    assert_int_equal(rc, 0);
    return s;
}

static cm_pd_client *client_for(pd_server *s)
{
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", pd_server_rpc_port(s));
    cm_pd_client_options o;
    cm_pd_client_options_default(&o);
    o.request_timeout_ms = 5000;
    o.retry_budget_ms = 10000;
    cm_pd_client *c = NULL;
    cm_err err;
    assert_int_equal(cm_pd_client_create(addr, &o, &c, &err), 0);
    return c;
}

static void region(cm_pd_region *r, uint64_t id, const char *s, const char *e, uint64_t version,
                   uint64_t store, uint64_t peer)
{
    cm_pd_region_init(r);
    r->id = id;
    cm_buf_append(&r->start_key, s, strlen(s));
    cm_buf_append(&r->end_key, e, strlen(e));
    r->conf_ver = 1;
    r->version = version;
    r->npeers = 1;
    r->peers[0].id = peer;
    r->peers[0].store_id = store;
    r->leader = r->peers[0];
}

static void test_tso_ids_members(void **state)
{
    (void)state;
    pd_server *s = start_pd(0);
    cm_pd_client *c = client_for(s);
    cm_err err;
    cm_pd_members m;
    assert_int_equal(cm_pd_get_members(c, &m, &err), 0);
    assert_int_equal(m.cluster_id, pd_server_cluster_id(s));
    assert_string_equal(m.name, "pd-test");
    assert_false(m.bootstrapped);
    assert_int_equal(cm_pd_client_cluster_id(c), pd_server_cluster_id(s));
    uint64_t last = 0, ts;
    for (int i = 0; i < 300; i++) {
        assert_int_equal(cm_pd_get_ts(c, &ts, &err), 0);
        assert_true(ts > last);
        last = ts;
        if (i == 150) {
            atomic_store(&clock_offset_ms, -5000); /* the clock steps back */
        }
    }
    atomic_store(&clock_offset_ms, 0);
    uint64_t first;
    assert_int_equal(cm_pd_get_ts_n(c, 1000, &first, &err), 0);
    assert_true(first > last);
    assert_int_equal(cm_pd_get_ts_n(c, 0, &first, &err), CM_E_INVALID);
    assert_int_equal(cm_pd_get_ts_n(c, (1u << 18) + 1, &first, &err), CM_E_INVALID);
    uint64_t id1, id2;
    assert_int_equal(cm_pd_alloc_ids(c, 3, &id1, &err), 0);
    assert_int_equal(cm_pd_alloc_ids(c, 1, &id2, &err), 0);
    assert_int_equal(id2, id1 + 3);
    assert_int_equal(cm_pd_alloc_ids(c, 0, &id2, &err), CM_E_INVALID);
    cm_pd_client_free(c);
    pd_server_stop(s);
}

static void test_regions_scan_paging_and_cache(void **state)
{
    (void)state;
    pd_server *s = start_pd(0);
    cm_pd_client *c = client_for(s);
    cm_err err;
    uint64_t sid;
    assert_int_equal(cm_pd_alloc_ids(c, 1, &sid, &err), 0);
    cm_pd_store st;
    memset(&st, 0, sizeof(st));
    st.id = sid;
    snprintf(st.address, sizeof(st.address), "127.0.0.1:1");
    cm_pd_region boot;
    cm_pd_region_init(&boot);
    int has = 0;
    assert_int_equal(cm_pd_put_store(c, &st, &boot, &has, &err), 0);
    assert_true(has);
    /* Tile the key space into 40 regions: "" .. k01 .. k39 .. +inf. */
    for (int i = 0; i < 40; i++) {
        char a[8], b[8];
        snprintf(a, sizeof(a), "k%02d", i);
        snprintf(b, sizeof(b), "k%02d", i + 1);
        cm_pd_region r;
        region(&r, i == 0 ? boot.id : 1000 + (uint64_t)i, i == 0 ? "" : a, i == 39 ? "" : b, 2, sid,
               5000 + (uint64_t)i);
        if (i == 0) {
            r.peers[0].id = boot.peers[0].id;
            r.leader = r.peers[0];
        }
        assert_int_equal(cm_pd_region_heartbeat(c, &r, &err), 0);
        cm_pd_region_fini(&r);
    }
    cm_pd_region *v = NULL;
    size_t n = 0;
    assert_int_equal(cm_pd_scan_regions(c, cm_slice_cstr(""), cm_slice_cstr(""), 0, &v, &n, &err),
                     0);
    assert_int_equal(n, 40);
    cm_pd_regions_free(v, n);
    assert_int_equal(
        cm_pd_scan_regions(c, cm_slice_cstr("k10x"), cm_slice_cstr("k13"), 0, &v, &n, &err), 0);
    assert_int_equal(n, 3); /* [k10,k11) [k11,k12) [k12,k13) */
    assert_int_equal(v[0].id, 1010);
    cm_pd_regions_free(v, n);
    assert_int_equal(cm_pd_scan_regions(c, cm_slice_cstr(""), cm_slice_cstr(""), 7, &v, &n, &err),
                     0);
    assert_int_equal(n, 7);
    cm_pd_regions_free(v, n);
    cm_pd_region got;
    cm_pd_region_init(&got);
    assert_int_equal(cm_pd_locate_key(c, cm_slice_cstr("k205"), &got, &err), 0);
    assert_int_equal(got.id, 1020);
    assert_int_equal(cm_pd_locate_id(c, 1020, &got, &err), 0);
    cm_pd_client_stats cs;
    cm_pd_client_stats_get(c, &cs);
    assert_true(cs.route_hits >= 1);
    assert_int_equal(cm_pd_get_region_by_id(c, 424242, &got, &err), CM_E_REGION_NOT_FOUND);
    /* A malformed report (end before start) is refused, not stored. */
    cm_pd_region bad;
    region(&bad, 77, "z", "a", 9, sid, 7777);
    assert_int_equal(cm_pd_region_heartbeat(c, &bad, &err), CM_E_INVALID);
    cm_pd_region_fini(&bad);
    cm_pd_region_fini(&got);
    cm_pd_region_fini(&boot);
    cm_pd_client_free(c);
    pd_server_stop(s);
}

static void test_bad_payloads_and_foreign_cluster(void **state)
{
    (void)state;
    pd_server *s = start_pd(0);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", pd_server_rpc_port(s));
    cm_rpc_client *rpc;
    cm_err err;
    assert_int_equal(cm_rpc_client_create(addr, &rpc, &err), 0);
    /* Bytes that are not a protobuf message: every method refuses them with an error. */
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    for (uint32_t m = 1; m <= 22; m++) {
        cm_buf reply = CM_BUF_INIT;
        int rc = cm_rpc_call(rpc, m, cm_slice_make(junk, sizeof(junk)), &reply, 5000, &err);
        assert_int_equal(rc, CM_E_RPC_BAD_MESSAGE);
        cm_buf_fini(&reply);
    }
    /* An unknown method id. */
    cm_buf reply = CM_BUF_INIT;
    assert_true(cm_rpc_call(rpc, 200, cm_slice_make(NULL, 0), &reply, 5000, &err) != 0);
    cm_buf_fini(&reply);
    /* A request for another cluster is answered with an error header. */
    Tessera__Pdpb__RequestHeader hdr = TESSERA__PDPB__REQUEST_HEADER__INIT;
    hdr.cluster_id = pd_server_cluster_id(s) + 1;
    Tessera__Pdpb__TsoRequest req = TESSERA__PDPB__TSO_REQUEST__INIT;
    req.header = &hdr;
    req.count = 1;
    Tessera__Pdpb__TsoResponse *rep = NULL;
    assert_int_equal(cm_rpc_call_pb(rpc, TESSERA__PDPB__METHOD__TSO, &req.base,
                                    &tessera__pdpb__tso_response__descriptor,
                                    (ProtobufCMessage **)&rep, 5000, &err),
                     0);
    assert_non_null(rep->header);
    assert_non_null(rep->header->error);
    assert_int_equal(rep->header->error->code, CM_E_INVALID);
    assert_int_equal(rep->first_ts, 0);
    protobuf_c_message_free_unpacked(&rep->base, NULL);
    /* Empty payloads decode as all-default messages: handled, answered with errors where the
     * defaults are invalid (count 0, missing store), never a crash. */
    for (uint32_t m = 1; m <= 22; m++) {
        cm_buf r2 = CM_BUF_INIT;
        int rc = cm_rpc_call(rpc, m, cm_slice_make(NULL, 0), &r2, 5000, &err);
        assert_int_equal(rc, 0);
        cm_buf_fini(&r2);
    }
    cm_rpc_client_free(rpc);
    pd_server_stop(s);
}

static void test_restart_keeps_state(void **state)
{
    (void)state;
    pd_server *s = start_pd(0);
    int port = pd_server_rpc_port(s);
    uint64_t cid = pd_server_cluster_id(s);
    cm_pd_client *c = client_for(s);
    cm_err err;
    uint64_t before = 0, after = 0, sp = 0, id = 0;
    assert_int_equal(cm_pd_get_ts(c, &before, &err), 0);
    assert_int_equal(cm_pd_update_gc_safe_point(c, before, &sp, &err), 0);
    assert_int_equal(cm_pd_registry_put(c, "schema/a", cm_slice_cstr("5"), 0, &err), 0);
    cm_pd_lease l;
    assert_int_equal(cm_pd_campaign(c, "ddl", "a", 60000, &l, &err), 0);
    pd_server_stop(s);
    /* Restart on the same port and data directory with the clock a minute behind. */
    atomic_store(&clock_offset_ms, -60000);
    s = start_pd(port);
    assert_int_equal(pd_server_cluster_id(s), cid);
    assert_int_equal(cm_pd_get_ts(c, &after, &err), 0); /* the same client reconnects */
    assert_true(after > before);
    assert_int_equal(cm_pd_get_gc_safe_point(c, &sp, &err), 0);
    assert_int_equal(sp, before);
    cm_buf v = CM_BUF_INIT;
    uint64_t left;
    assert_int_equal(cm_pd_registry_get(c, "schema/a", &v, &left, &err), 0);
    assert_int_equal(v.len, 1);
    cm_buf_fini(&v);
    cm_pd_lease o;
    assert_int_equal(cm_pd_get_owner(c, "ddl", &o, &err), 0);
    assert_string_equal(o.owner, "a");
    assert_int_equal(o.term, l.term);
    assert_int_equal(cm_pd_alloc_ids(c, 1, &id, &err), 0);
    atomic_store(&clock_offset_ms, 0);
    cm_pd_client_free(c);
    pd_server_stop(s);
}

/* Region heartbeats answered with PD's operators (pd/sched) through the real client: a one-peer
 * region gets a learner on another store, re-sent until done; a pending learner waits; a
 * caught-up one is promoted; a stale report gets nothing. */
static void test_heartbeat_operators(void **state)
{
    (void)state;
    char saved[sizeof(data_dir)];
    memcpy(saved, data_dir, sizeof(saved));
    size_t n = strlen(saved);
    assert_true(n + 3 <= sizeof(data_dir));
    memcpy(data_dir + n, "/s", 3); /* a fresh cluster in a subdirectory */
    pd_server *s = start_pd(0);
    cm_pd_client *c = client_for(s);
    cm_err err;
    uint64_t ids[3];
    cm_pd_region boot;
    cm_pd_region_init(&boot);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cm_pd_alloc_ids(c, 1, &ids[i], &err), 0);
        cm_pd_store st;
        memset(&st, 0, sizeof(st));
        st.id = ids[i];
        snprintf(st.address, sizeof(st.address), "127.0.0.1:%d", 100 + i);
        int has = 0;
        assert_int_equal(cm_pd_put_store(c, &st, &boot, &has, &err), 0);
        assert_int_equal(has, i == 0);
    }
    assert_int_equal(boot.npeers, 1);
    boot.leader = boot.peers[0];
    cm_pd_operator op, again;
    assert_int_equal(cm_pd_region_heartbeat_op(c, &boot, NULL, 0, &op, &err), 0);
    assert_int_equal(op.kind, CM_PD_OP_ADD_LEARNER);
    assert_int_equal(op.region_id, boot.id);
    assert_int_equal(op.conf_ver, boot.conf_ver);
    assert_int_equal(op.version, boot.version);
    assert_int_not_equal(op.peer.id, 0);
    assert_true(op.peer.store_id == ids[1] || op.peer.store_id == ids[2]);
    assert_int_equal(op.peer.role, 1);
    /* Not done: the same operator again, same peer id. */
    assert_int_equal(cm_pd_region_heartbeat_op(c, &boot, NULL, 0, &again, &err), 0);
    assert_int_equal(again.kind, CM_PD_OP_ADD_LEARNER);
    assert_int_equal(again.peer.id, op.peer.id);
    /* The learner is in but pending: nothing; once caught up: promote it. */
    cm_pd_region r;
    cm_pd_region_init(&r);
    assert_int_equal(cm_pd_region_copy(&r, &boot), 0);
    r.conf_ver++;
    r.peers[r.npeers++] = op.peer;
    cm_pd_peer learner = op.peer;
    assert_int_equal(cm_pd_region_heartbeat_op(c, &r, &learner, 1, &again, &err), 0);
    assert_int_equal(again.kind, CM_PD_OP_NONE);
    assert_int_equal(cm_pd_region_heartbeat_op(c, &r, NULL, 0, &again, &err), 0);
    assert_int_equal(again.kind, CM_PD_OP_PROMOTE_LEARNER);
    assert_int_equal(again.peer.id, learner.id);
    assert_int_equal(again.conf_ver, r.conf_ver);
    /* A stale report (the old conf_ver) is refused and carries no operator. */
    assert_int_equal(cm_pd_region_heartbeat_op(c, &boot, NULL, 0, &again, &err), CM_E_STALE_EPOCH);
    assert_int_equal(again.kind, CM_PD_OP_NONE);
    cm_pd_region_fini(&r);
    cm_pd_region_fini(&boot);
    cm_pd_client_free(c);
    pd_server_stop(s);
    memcpy(data_dir, saved, sizeof(saved));
}

int main(void)
{
    cm_log_set_level(CM_LOG_WARN);
    snprintf(data_dir, sizeof(data_dir), "/tmp/test_pd_server_XXXXXX");
    if (mkdtemp(data_dir) == NULL) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tso_ids_members),
        cmocka_unit_test(test_regions_scan_paging_and_cache),
        cmocka_unit_test(test_bad_payloads_and_foreign_cluster),
        cmocka_unit_test(test_restart_keeps_state),
        cmocka_unit_test(test_heartbeat_operators),
    };
    int rc = cmocka_run_group_tests_name("pd_server", tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", data_dir);
    if (system(cmd) != 0) {
        rc = rc ? rc : 1;
    }
    return rc;
}
