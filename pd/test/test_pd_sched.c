/* Unit tests for pd/sched/pd_sched: the replica repair decisions (a table of cases) and the
 * table of operators in flight (re-send, done, timeout, obsolete, throttling, spreading adds). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_log.h"
#include "pd_sched.h"

#include <stdio.h>
#include <string.h>

#define V    0u
#define L    1u
#define UP   PD_STORE_LIVE_UP
#define DISC PD_STORE_LIVE_DISCONNECTED
#define DOWN PD_STORE_LIVE_DOWN
#define OFF  PD_STORE_LIVE_OFFLINE
#define TOMB PD_STORE_LIVE_TOMBSTONE

typedef struct sched_case {
    const char *name;
    pd_peer peers[6]; /* id 0 ends the list */
    uint64_t leader;  /* peer id */
    uint64_t pending[4];
    pd_sched_store stores[6]; /* id 0 ends the list */
    uint32_t max_replicas;
    pd_op_kind want;
    uint64_t want_peer;  /* the peer acted on (0: any except the ones in not_peer) */
    uint64_t want_store; /* add: the target store */
} sched_case;

static void build(const sched_case *c, pd_region *r, pd_sched_view *v, size_t *np, size_t *ns)
{
    pd_region_init(r);
    r->id = 7;
    r->conf_ver = 5;
    r->version = 3;
    for (size_t i = 0; i < 6 && c->peers[i].id != 0; i++) {
        r->peers[r->npeers++] = c->peers[i];
        if (c->peers[i].id == c->leader) {
            r->leader = c->peers[i];
        }
    }
    *np = 0;
    while (*np < 4 && c->pending[*np] != 0) {
        (*np)++;
    }
    *ns = 0;
    while (*ns < 6 && c->stores[*ns].id != 0) {
        (*ns)++;
    }
    memset(v, 0, sizeof(*v));
    v->region = r;
    v->pending_peer_ids = c->pending;
    v->n_pending = *np;
    v->stores = c->stores;
    v->n_stores = *ns;
    v->max_replicas = c->max_replicas ? c->max_replicas : 3;
}

static const sched_case cases[] = {
    {"one peer: add a learner on the emptiest store",
     {{1, 1, V}},
     1,
     {0},
     {{1, UP, 9, 0}, {2, UP, 5, 0}, {3, UP, 2, 0}, {4, UP, 7, 0}},
     3,
     PD_OP_ADD_LEARNER,
     0,
     3},
    {"two voters: add on the store without a peer",
     {{1, 1, V}, {2, 2, V}},
     1,
     {0},
     {{1, UP, 0, 0}, {2, UP, 0, 0}, {3, UP, 4, 0}},
     3,
     PD_OP_ADD_LEARNER,
     0,
     3},
    {"learner caught up: promote",
     {{1, 1, V}, {2, 2, V}, {3, 3, L}},
     1,
     {0},
     {{1, UP, 1, 0}, {2, UP, 1, 0}, {3, UP, 1, 0}},
     3,
     PD_OP_PROMOTE,
     3,
     0},
    {"pending learner: nothing",
     {{1, 1, V}, {2, 2, V}, {3, 3, L}},
     1,
     {3},
     {{1, UP, 1, 0}, {2, UP, 1, 0}, {3, UP, 1, 0}, {4, UP, 0, 0}},
     3,
     PD_OP_NONE,
     0,
     0},
    {"pending voter does not block promoting a caught-up learner",
     {{1, 1, V}, {2, 2, V}, {3, 3, L}},
     1,
     {2},
     {{1, UP, 1, 0}, {2, UP, 1, 0}, {3, UP, 1, 0}},
     3,
     PD_OP_PROMOTE,
     3,
     0},
    {"voter on a Down store: add the replacement first",
     {{1, 1, V}, {2, 2, V}, {3, 3, V}},
     1,
     {3},
     {{1, UP, 1, 0}, {2, UP, 1, 0}, {3, DOWN, 1, 0}, {4, UP, 0, 0}},
     3,
     PD_OP_ADD_LEARNER,
     0,
     4},
    {"Down voter, replacement learner caught up: promote it",
     {{1, 1, V}, {2, 2, V}, {3, 3, V}, {9, 4, L}},
     1,
     {3},
     {{1, UP, 1, 0}, {2, UP, 1, 0}, {3, DOWN, 1, 0}, {4, UP, 1, 0}},
     3,
     PD_OP_PROMOTE,
     9,
     0},
    {"Down voter, replacement is a voter: remove the Down peer",
     {{1, 1, V}, {2, 2, V}, {3, 3, V}, {9, 4, V}},
     2,
     {3},
     {{1, UP, 1, 0}, {2, UP, 1, 0}, {3, DOWN, 1, 0}, {4, UP, 1, 0}},
     3,
     PD_OP_REMOVE,
     3,
     0},
    {"Tombstone store counts as lost",
     {{1, 1, V}, {2, 2, V}, {3, 3, V}, {9, 4, V}},
     2,
     {0},
     {{1, UP, 1, 0}, {2, UP, 1, 0}, {3, TOMB, 1, 0}, {4, UP, 1, 0}},
     3,
     PD_OP_REMOVE,
     3,
     0},
    {"Disconnected voter is not replaced yet",
     {{1, 1, V}, {2, 2, V}, {3, 3, V}},
     1,
     {3},
     {{1, UP, 1, 0}, {2, UP, 1, 0}, {3, DISC, 1, 0}, {4, UP, 0, 0}},
     3,
     PD_OP_NONE,
     0,
     0},
    {"Down voter and no eligible store: nothing (never remove without a replacement)",
     {{1, 1, V}, {2, 2, V}, {3, 3, V}},
     1,
     {3},
     {{1, UP, 1, 0}, {2, UP, 1, 0}, {3, DOWN, 1, 0}, {4, OFF, 0, 0}, {5, DISC, 0, 0}},
     3,
     PD_OP_NONE,
     0,
     0},
    {"too many voters: remove one, never the leader (busiest store)",
     {{1, 1, V}, {2, 2, V}, {3, 3, V}, {4, 4, V}},
     1,
     {0},
     {{1, UP, 50, 0}, {2, UP, 3, 0}, {3, UP, 9, 0}, {4, UP, 2, 0}},
     3,
     PD_OP_REMOVE,
     3,
     0},
    {"too many voters: a peer on a store that is not Up goes first",
     {{1, 1, V}, {2, 2, V}, {3, 3, V}, {4, 4, V}},
     1,
     {0},
     {{1, UP, 50, 0}, {2, UP, 3, 0}, {3, UP, 9, 0}, {4, DISC, 2, 0}},
     3,
     PD_OP_REMOVE,
     4,
     0},
    {"max-replicas 1 with two voters: remove the follower",
     {{1, 1, V}, {2, 2, V}},
     2,
     {0},
     {{1, UP, 1, 0}, {2, UP, 1, 0}},
     1,
     PD_OP_REMOVE,
     1,
     0},
    {"no eligible store: nothing",
     {{1, 1, V}},
     1,
     {0},
     {{1, UP, 1, 0}, {2, DOWN, 0, 0}, {3, OFF, 0, 0}, {4, TOMB, 0, 0}, {5, DISC, 0, 0}},
     3,
     PD_OP_NONE,
     0,
     0},
    {"learner on a Down store: remove it",
     {{1, 1, V}, {2, 2, V}, {3, 3, L}},
     1,
     {3},
     {{1, UP, 1, 0}, {2, UP, 1, 0}, {3, DOWN, 1, 0}, {4, UP, 0, 0}},
     3,
     PD_OP_REMOVE,
     3,
     0},
    {"surplus learner (enough healthy voters): remove it",
     {{1, 1, V}, {2, 2, V}, {3, 3, V}, {4, 4, L}},
     1,
     {0},
     {{1, UP, 1, 0}, {2, UP, 1, 0}, {3, UP, 1, 0}, {4, UP, 1, 0}},
     3,
     PD_OP_REMOVE,
     4,
     0},
    {"three healthy voters: nothing",
     {{1, 1, V}, {2, 2, V}, {3, 3, V}},
     2,
     {0},
     {{1, UP, 1, 0}, {2, UP, 1, 0}, {3, UP, 1, 0}, {4, UP, 0, 0}},
     3,
     PD_OP_NONE,
     0,
     0},
    {"adds in flight count as load",
     {{1, 1, V}},
     1,
     {0},
     {{1, UP, 0, 0}, {2, UP, 1, 5}, {3, UP, 2, 0}},
     3,
     PD_OP_ADD_LEARNER,
     0,
     3},
    {"unknown stores count as Up but are never a target",
     {{1, 1, V}, {2, 2, V}, {3, 99, V}},
     1,
     {0},
     {{1, UP, 1, 0}, {2, UP, 1, 0}},
     3,
     PD_OP_NONE,
     0,
     0},
};

static void test_decide_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const sched_case *c = &cases[i];
        pd_region r;
        pd_sched_view v;
        size_t np, ns;
        build(c, &r, &v, &np, &ns);
        pd_operator op;
        pd_op_kind k = pd_sched_decide(&v, &op);
        if (k != c->want) {
            fail_msg("case '%s': kind %s, want %s", c->name, pd_op_kind_name(k),
                     pd_op_kind_name(c->want));
        }
        if (k != PD_OP_NONE) {
            assert_int_equal(op.region_id, 7);
            assert_int_equal(op.conf_ver, 5);
            assert_int_equal(op.version, 3);
            assert_int_not_equal(op.peer.id, r.leader.id);
        }
        if (c->want_peer != 0 && op.peer.id != c->want_peer) {
            fail_msg("case '%s': peer %llu, want %llu", c->name, (unsigned long long)op.peer.id,
                     (unsigned long long)c->want_peer);
        }
        if (k == PD_OP_ADD_LEARNER) {
            assert_int_equal(op.peer.id, 0); /* the caller allocates */
            assert_int_equal(op.peer.role, L);
            if (op.peer.store_id != c->want_store) {
                fail_msg("case '%s': store %llu, want %llu", c->name,
                         (unsigned long long)op.peer.store_id, (unsigned long long)c->want_store);
            }
        }
        if (k == PD_OP_PROMOTE) {
            assert_int_equal(op.peer.role, V);
        }
        pd_region_fini(&r);
    }
}

/* ---- the in-flight table -------------------------------------------------------------------- */

typedef struct fixture {
    pd_sched s;
    uint64_t next_id;
    int fail_alloc;
} fixture;

static int alloc_cb(void *user, uint64_t *id, cm_err *err)
{
    fixture *f = user;
    if (f->fail_alloc) {
        return cm_err_set(err, CM_E_IO, "injected");
    }
    *id = f->next_id++;
    return 0;
}

static void fx_init(fixture *f, uint32_t max_replicas)
{
    memset(f, 0, sizeof(*f));
    f->next_id = 100;
    pd_sched_options o = {max_replicas, 30000, alloc_cb, f};
    pd_sched_init(&f->s, &o);
}

static void region(pd_region *r, uint64_t id, uint64_t conf_ver, const pd_peer *peers, size_t n)
{
    pd_region_init(r);
    r->id = id;
    r->conf_ver = conf_ver;
    r->version = 1;
    for (size_t i = 0; i < n; i++) {
        r->peers[r->npeers++] = peers[i];
    }
    r->leader = peers[0];
}

static int run(fixture *f, const pd_region *r, const pd_sched_store *st, size_t ns,
               const uint64_t *pending, size_t np, uint64_t now, pd_operator *op)
{
    pd_sched_view v = {r, pending, np, st, ns, 0};
    cm_err err;
    memset(op, 0, sizeof(*op));
    return pd_sched_region(&f->s, &v, now, op, &err);
}

/* The whole replacement of a peer on a Down store, one heartbeat at a time. */
static void test_down_store_replacement_sequence(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, 3);
    pd_sched_store st[] = {{1, UP, 1, 0}, {2, UP, 1, 0}, {3, DOWN, 1, 0}, {4, UP, 0, 0}};
    pd_peer p3[] = {{1, 1, V}, {2, 2, V}, {3, 3, V}};
    pd_region r;
    pd_operator op;
    uint64_t pend3[] = {3};
    region(&r, 7, 5, p3, 3);
    assert_int_equal(run(&f, &r, st, 4, pend3, 1, 0, &op), PD_SCHED_NEW);
    assert_int_equal(op.kind, PD_OP_ADD_LEARNER);
    assert_int_equal(op.peer.id, 100);
    assert_int_equal(op.peer.store_id, 4);
    /* Not done yet: the same operator again (no new id). */
    assert_int_equal(run(&f, &r, st, 4, pend3, 1, 1000, &op), PD_SCHED_RESEND);
    assert_int_equal(op.peer.id, 100);
    assert_int_equal(f.next_id, 101);
    pd_region_fini(&r);
    /* The learner is in but still behind: done; nothing new until it catches up. */
    pd_peer p4[] = {{1, 1, V}, {2, 2, V}, {3, 3, V}, {100, 4, L}};
    uint64_t pend34[] = {3, 100};
    region(&r, 7, 6, p4, 4);
    assert_int_equal(run(&f, &r, st, 4, pend34, 2, 2000, &op), PD_SCHED_NOTHING);
    assert_int_equal(run(&f, &r, st, 4, pend3, 1, 3000, &op), PD_SCHED_NEW);
    assert_int_equal(op.kind, PD_OP_PROMOTE);
    assert_int_equal(op.peer.id, 100);
    assert_int_equal(op.conf_ver, 6);
    pd_region_fini(&r);
    /* Promoted: now the Down peer goes. */
    p4[3].role = V;
    region(&r, 7, 7, p4, 4);
    assert_int_equal(run(&f, &r, st, 4, pend3, 1, 4000, &op), PD_SCHED_NEW);
    assert_int_equal(op.kind, PD_OP_REMOVE);
    assert_int_equal(op.peer.id, 3);
    pd_region_fini(&r);
    pd_peer pdone[] = {{1, 1, V}, {2, 2, V}, {100, 4, V}};
    region(&r, 7, 8, pdone, 3);
    assert_int_equal(run(&f, &r, st, 4, NULL, 0, 5000, &op), PD_SCHED_NOTHING);
    assert_int_equal(pd_sched_inflight(&f.s), 0);
    pd_sched_stats ss;
    pd_sched_get_stats(&f.s, &ss);
    assert_int_equal(ss.issued[PD_OP_ADD_LEARNER], 1);
    assert_int_equal(ss.issued[PD_OP_PROMOTE], 1);
    assert_int_equal(ss.issued[PD_OP_REMOVE], 1);
    assert_int_equal(ss.done, 3);
    assert_int_equal(ss.resent, 1);
    pd_region_fini(&r);
    pd_sched_fini(&f.s);
}

static void test_timeout_then_redecide(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, 3);
    pd_sched_store st[] = {{1, UP, 0, 0}, {2, UP, 0, 0}, {3, UP, 0, 0}};
    pd_peer p[] = {{1, 1, V}};
    pd_region r;
    pd_operator op;
    region(&r, 9, 1, p, 1);
    assert_int_equal(run(&f, &r, st, 3, NULL, 0, 0, &op), PD_SCHED_NEW);
    assert_int_equal(op.peer.id, 100);
    assert_int_equal(run(&f, &r, st, 3, NULL, 0, 29999, &op), PD_SCHED_RESEND);
    /* Past the deadline: dropped and decided again, with a fresh peer id. */
    assert_int_equal(run(&f, &r, st, 3, NULL, 0, 30000, &op), PD_SCHED_NEW);
    assert_int_equal(op.peer.id, 101);
    pd_sched_stats ss;
    pd_sched_get_stats(&f.s, &ss);
    assert_int_equal(ss.timeouts, 1);
    /* A region that stops reporting: expire clears it. */
    pd_sched_expire(&f.s, 59999);
    assert_int_equal(pd_sched_inflight(&f.s), 1);
    pd_sched_expire(&f.s, 60000);
    assert_int_equal(pd_sched_inflight(&f.s), 0);
    pd_region_fini(&r);
    pd_sched_fini(&f.s);
}

static void test_obsolete_when_epoch_moves(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, 3);
    pd_sched_store st[] = {{1, UP, 0, 0}, {2, UP, 0, 0}, {3, UP, 0, 0}};
    pd_peer p[] = {{1, 1, V}, {2, 2, V}};
    pd_region r;
    pd_operator op;
    region(&r, 9, 1, p, 2);
    assert_int_equal(run(&f, &r, st, 3, NULL, 0, 0, &op), PD_SCHED_NEW);
    assert_int_equal(op.peer.store_id, 3);
    pd_region_fini(&r);
    /* A split moved the version: the leader would refuse the operator; decide anew. */
    region(&r, 9, 1, p, 2);
    r.version = 2;
    assert_int_equal(run(&f, &r, st, 3, NULL, 0, 10, &op), PD_SCHED_NEW);
    assert_int_equal(op.version, 2);
    pd_sched_stats ss;
    pd_sched_get_stats(&f.s, &ss);
    assert_int_equal(ss.obsolete, 1);
    pd_region_fini(&r);
    pd_sched_fini(&f.s);
}

static void test_adds_spread_across_stores(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, 2);
    pd_sched_store st[] = {{1, UP, 10, 0}, {2, UP, 3, 0}, {3, UP, 3, 0}};
    pd_region r;
    pd_operator op;
    uint64_t seen[4] = {0};
    for (uint64_t id = 1; id <= 4; id++) {
        pd_peer p[] = {{id, 1, V}};
        region(&r, 10 + id, 1, p, 1);
        assert_int_equal(run(&f, &r, st, 3, NULL, 0, 0, &op), PD_SCHED_NEW);
        seen[id - 1] = op.peer.store_id;
        pd_region_fini(&r);
    }
    /* Stores 2 and 3 start equal; each add in flight weighs on its target. */
    assert_int_equal(seen[0], 2);
    assert_int_equal(seen[1], 3);
    assert_int_equal(seen[2], 2);
    assert_int_equal(seen[3], 3);
    pd_sched_fini(&f.s);
}

static void test_inflight_limit_and_alloc_failure(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, 3);
    pd_sched_store st[] = {{1, UP, 0, 0}, {2, UP, 0, 0}, {3, UP, 0, 0}};
    pd_region r;
    pd_operator op;
    f.fail_alloc = 1;
    pd_peer p0[] = {{1, 1, V}};
    region(&r, 1, 1, p0, 1);
    assert_int_equal(run(&f, &r, st, 3, NULL, 0, 0, &op), CM_E_IO);
    assert_int_equal(pd_sched_inflight(&f.s), 0);
    pd_region_fini(&r);
    f.fail_alloc = 0;
    for (uint64_t id = 1; id <= PD_SCHED_INFLIGHT_MAX + 1; id++) {
        pd_peer p[] = {{id, 1, V}};
        region(&r, id, 1, p, 1);
        int want = id <= PD_SCHED_INFLIGHT_MAX ? PD_SCHED_NEW : PD_SCHED_NOTHING;
        assert_int_equal(run(&f, &r, st, 3, NULL, 0, 0, &op), want);
        pd_region_fini(&r);
    }
    pd_sched_stats ss;
    pd_sched_get_stats(&f.s, &ss);
    assert_int_equal(ss.throttled, 1);
    assert_int_equal(pd_sched_inflight(&f.s), PD_SCHED_INFLIGHT_MAX);
    pd_sched_fini(&f.s);
}

static void test_done_rules(void **state)
{
    (void)state;
    pd_peer p[] = {{1, 1, V}, {2, 2, L}};
    pd_region r;
    region(&r, 1, 1, p, 2);
    pd_operator add = {1, 1, 1, PD_OP_ADD_LEARNER, {2, 2, L}};
    pd_operator add3 = {1, 1, 1, PD_OP_ADD_LEARNER, {3, 3, L}};
    pd_operator pro = {1, 1, 1, PD_OP_PROMOTE, {2, 2, V}};
    pd_operator rem = {1, 1, 1, PD_OP_REMOVE, {2, 2, V}};
    pd_operator rem3 = {1, 1, 1, PD_OP_REMOVE, {3, 3, V}};
    pd_operator tl = {1, 1, 1, PD_OP_TRANSFER_LEADER, {2, 2, V}};
    assert_true(pd_sched_op_done(&add, &r));
    assert_false(pd_sched_op_done(&add3, &r));
    assert_false(pd_sched_op_done(&pro, &r));
    assert_false(pd_sched_op_done(&rem, &r));
    assert_true(pd_sched_op_done(&rem3, &r));
    assert_false(pd_sched_op_done(&tl, &r));
    r.peers[1].role = V;
    r.leader = r.peers[1];
    assert_true(pd_sched_op_done(&pro, &r));
    assert_true(pd_sched_op_done(&tl, &r));
    pd_region_fini(&r);
}

int main(void)
{
    cm_log_set_level(CM_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide_table),
        cmocka_unit_test(test_down_store_replacement_sequence),
        cmocka_unit_test(test_timeout_then_redecide),
        cmocka_unit_test(test_obsolete_when_epoch_moves),
        cmocka_unit_test(test_adds_spread_across_stores),
        cmocka_unit_test(test_inflight_limit_and_alloc_failure),
        cmocka_unit_test(test_done_rules),
    };
    return cmocka_run_group_tests_name("pd_sched", tests, NULL, NULL);
}
