/*
 * Unit tests for common/raft: the classic scenarios (Figure 8, stale candidates, pre-vote,
 * removed nodes, leases, one membership change at a time, fresh leaders and reads), snapshots
 * and compaction, leadership transfer, learners, flow control. Each runs a small cluster in
 * raft_fixture.c where the test decides every tick and every delivery.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "raft_fixture.h"

#include <string.h>

static void no_prevote_no_cq(cm_raft_config *c)
{
    c->pre_vote = false;
    c->check_quorum = false;
    c->lease_read = false;
}

static void fig8_cfg(cm_raft_config *c)
{
    no_prevote_no_cq(c);
    c->max_msg_bytes = 1; /* one entry per append, so replication can be cut between entries */
}

static uint64_t term_at(fx *f, uint64_t id, uint64_t index)
{
    if (fx_r(f, id) == NULL) {
        return 0;
    }
    uint64_t t = 0;
    if (cm_raft_term_at(fx_r(f, id), index, &t) != 0) {
        return 0;
    }
    return t;
}

static void test_election_and_replication(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, NULL);
    assert_true(fx_elect(&f, 1));
    assert_int_equal(fx_term(&f, 1), 2);
    assert_int_equal(fx_lead(&f, 2), 1);
    assert_int_equal(fx_lead(&f, 3), 1);
    uint64_t idx = fx_propose(&f, 1, 77);
    assert_int_equal(idx, 3);
    fx_stabilize(&f);
    for (uint64_t id = 1; id <= 3; id++) {
        assert_int_equal(fx_commit(&f, id), 3);
        assert_int_equal(fx_applied_value(&f, id, 3), 77);
    }
    /* A follower refuses proposals. */
    uint64_t i, t;
    assert_int_equal(cm_raft_propose(fx_r(&f, 2), cm_slice_make("x", 1), &i, &t), CM_E_NOT_LEADER);
    fx_fini(&f);
}

/* Figure 8 filters: drop appends from `from` that carry entries at or above `min_index`. */
typedef struct drop_rule {
    uint64_t from;
    uint64_t min_index;
} drop_rule;

static uint64_t term_at(fx *f, uint64_t id, uint64_t index);

static bool drop_appends(fx *f, const cm_raft_msg *m)
{
    const drop_rule *d = f->filter_ctx;
    if (m->type != CM_RAFT_MSG_APP || m->from != d->from) {
        return true;
    }
    /* Let a probe through to a node that lacks the entry before it (it rejects, and the leader
     * backs off); drop it where it would be accepted. */
    if (m->index > 0 && term_at(f, m->to, m->index) != m->log_term) {
        return true;
    }
    for (size_t i = 0; i < m->n_entries; i++) {
        if (m->entries[i].index >= d->min_index) {
            return false;
        }
    }
    return true;
}

static bool elect_retry(fx *f, uint64_t id)
{
    for (int i = 0; i < 4; i++) {
        if (fx_elect(f, id)) {
            return true;
        }
    }
    return false;
}

/*
 * The Raft paper's Figure 8: an entry of an earlier term that is on a majority is not committed
 * by counting replicas; a later leader may still overwrite it.
 */
static void test_figure8(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 5, fig8_cfg);
    /* (a) S1 leads term 2 and replicates X at index 3 to S2 only. */
    assert_true(fx_elect(&f, 1));
    for (uint64_t o = 3; o <= 5; o++) {
        fx_cut(&f, 1, o);
    }
    assert_int_equal(fx_propose(&f, 1, 111), 3);
    fx_stabilize(&f);
    assert_int_equal(term_at(&f, 2, 3), 2);
    /* (b) S1 goes away; S5 wins term 3 with S3 and S4 and appends its own entry at index 3, which
     * nobody else receives. */
    fx_isolate(&f, 1);
    drop_rule d5 = {5, 3};
    f.filter = drop_appends;
    f.filter_ctx = &d5;
    assert_true(elect_retry(&f, 5));
    uint64_t t5 = fx_term(&f, 5);
    assert_int_equal(term_at(&f, 5, 3), t5);
    /* (c) S5 goes away; S1 restarts and wins a later term, then replicates index 3 (term 2) to
     * S3 and S4 but not its own entry at index 4. */
    fx_heal(&f);
    fx_isolate(&f, 5);
    fx_crash(&f, 1);
    fx_restart(&f, 1);
    drop_rule d1 = {1, 4};
    f.filter_ctx = &d1;
    assert_true(elect_retry(&f, 1));
    fx_tick_all(&f, 3);
    uint64_t t1 = fx_term(&f, 1);
    assert_true(t1 > t5);
    for (uint64_t id = 1; id <= 4; id++) {
        assert_int_equal(term_at(&f, id, 3), 2);
    }
    /* Index 3 is on four of five nodes, but its term is not the leader's: it is not committed. */
    assert_true(fx_commit(&f, 1) < 3);
    assert_int_equal(fx_applied_value(&f, 1, 3), -1);
    /* (d) S1 goes away; S5 restarts and (last term t5 > 2) can win and overwrite index 3. */
    f.filter = NULL;
    fx_heal(&f);
    fx_isolate(&f, 1);
    fx_crash(&f, 5);
    fx_restart(&f, 5);
    assert_true(elect_retry(&f, 5));
    fx_stabilize(&f);
    for (uint64_t id = 2; id <= 5; id++) {
        assert_int_equal(term_at(&f, id, 3), t5);
        assert_int_equal(fx_applied_value(&f, id, 3), 0);
    }
    /* S1 rejoins and converges: nobody ever applied X. */
    fx_heal(&f);
    fx_tick_all(&f, 3);
    assert_int_equal(term_at(&f, 1, 3), t5);
    for (uint64_t id = 1; id <= 5; id++) {
        assert_int_not_equal(fx_applied_value(&f, id, 3), 111);
    }
    fx_fini(&f);
}

static void stale_candidate(void (*tweak)(cm_raft_config *c))
{
    fx f;
    fx_init(&f, 3, tweak);
    assert_true(fx_elect(&f, 1));
    fx_isolate(&f, 3);
    for (uint64_t v = 1; v <= 5; v++) {
        assert_true(fx_propose(&f, 1, v) > 0);
    }
    fx_stabilize(&f);
    uint64_t commit = fx_commit(&f, 1);
    assert_int_equal(commit, 7);
    fx_heal(&f);
    fx_isolate(&f, 1);
    /* Let node 2 forget the leader (leases expire) without campaigning itself. */
    cm_raft_status st;
    for (int i = 0; i < 3; i++) {
        assert_false(fx_elect(&f, 3));
        cm_raft_status_get(fx_r(&f, 2), &st);
        assert_int_not_equal(st.vote, 3);
        fx_tick(&f, 2, 10);
        fx_tick(&f, 3, 10);
        fx_stabilize(&f);
        if (fx_role(&f, 2) == CM_RAFT_LEADER) {
            break;
        }
    }
    assert_int_not_equal(fx_role(&f, 3), CM_RAFT_LEADER);
    /* Node 2, with the full log, can win; node 3 votes for it. */
    if (fx_role(&f, 2) != CM_RAFT_LEADER) {
        assert_true(elect_retry(&f, 2));
    }
    fx_stabilize(&f);
    assert_int_equal(fx_applied_value(&f, 3, 7), 5);
    fx_fini(&f);
}

static void test_stale_candidate_cannot_win(void **state)
{
    (void)state;
    stale_candidate(no_prevote_no_cq);
    stale_candidate(NULL);
}

static void test_prevote_stops_disruption(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, NULL);
    assert_true(fx_elect(&f, 1));
    uint64_t term = fx_term(&f, 1);
    fx_isolate(&f, 3);
    fx_tick(&f, 3, 100);
    fx_stabilize(&f);
    assert_int_equal(fx_term(&f, 3), term);
    fx_heal(&f);
    fx_tick_all(&f, 30);
    assert_int_equal(fx_role(&f, 1), CM_RAFT_LEADER);
    for (uint64_t id = 1; id <= 3; id++) {
        assert_int_equal(fx_term(&f, id), term);
        assert_int_equal(fx_lead(&f, id), 1);
    }
    fx_fini(&f);
}

/* The contrast: without pre-vote and check-quorum the returning node does disrupt. */
static void test_without_prevote_node_disrupts(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, no_prevote_no_cq);
    assert_true(fx_elect(&f, 1));
    uint64_t term = fx_term(&f, 1);
    fx_isolate(&f, 3);
    fx_tick(&f, 3, 100);
    fx_stabilize(&f);
    assert_true(fx_term(&f, 3) > term);
    fx_heal(&f);
    fx_tick(&f, 3, 30);
    fx_stabilize(&f);
    assert_true(fx_term(&f, 1) > term);
    fx_fini(&f);
}

static void test_removed_node_cannot_disrupt(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 4, NULL);
    assert_true(fx_elect(&f, 1));
    uint64_t term = fx_term(&f, 1);
    fx_isolate(&f, 4);
    cm_raft_conf_change cc = {CM_RAFT_CONF_REMOVE, 4};
    uint64_t idx, t;
    assert_int_equal(cm_raft_propose_conf(fx_r(&f, 1), &cc, &idx, &t), 0);
    fx_stabilize(&f);
    assert_true(fx_commit(&f, 1) >= idx);
    cm_raft_status st;
    cm_raft_status_get(fx_r(&f, 1), &st);
    assert_int_equal(st.conf.n_voters, 3);
    /* Node 4 never heard of its removal; it campaigns while cut off and after it returns. */
    fx_tick(&f, 4, 100);
    fx_heal(&f);
    fx_tick_all(&f, 50);
    assert_int_equal(fx_role(&f, 1), CM_RAFT_LEADER);
    for (uint64_t id = 1; id <= 3; id++) {
        assert_int_equal(fx_term(&f, id), term);
    }
    uint64_t v = fx_propose(&f, 1, 9);
    fx_stabilize(&f);
    assert_int_equal(fx_applied_value(&f, 2, v), 9);
    fx_fini(&f);
}

static void test_lease_read(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, NULL);
    cm_raft *r1 = fx_r(&f, 1);
    uint64_t lease = cm_raft_lease_ns(&f.cfg);
    assert_true(lease > 0);
    assert_true(lease < (f.cfg.election_tick - 1) * f.cfg.tick_ns);
    assert_true(fx_elect(&f, 1));
    uint64_t index = 0;
    /* No quorum round acknowledged yet in this term. */
    assert_int_equal(cm_raft_lease_read(r1, &index), CM_E_TIMEOUT);
    fx_clock_advance(&f, 1000);
    fx_tick(&f, 1, 1); /* heartbeat round */
    fx_stabilize(&f);
    assert_int_equal(cm_raft_lease_read(r1, &index), 0);
    assert_int_equal(index, fx_commit(&f, 1));
    /* Just before the lease ends it holds; once it may have expired it is refused. */
    fx_clock_advance(&f, lease - 1);
    assert_int_equal(cm_raft_lease_read(r1, &index), 0);
    fx_clock_advance(&f, 1);
    assert_int_equal(cm_raft_lease_read(r1, &index), CM_E_TIMEOUT);
    /* A new acknowledged round renews it. */
    fx_tick(&f, 1, 1);
    fx_stabilize(&f);
    assert_int_equal(cm_raft_lease_read(r1, &index), 0);
    /* Cut off, rounds go unanswered and the lease runs out. */
    fx_isolate(&f, 1);
    fx_clock_advance(&f, lease / 2);
    fx_tick(&f, 1, 1);
    fx_stabilize(&f);
    assert_int_equal(cm_raft_lease_read(r1, &index), 0);
    fx_clock_advance(&f, lease / 2 + 1);
    assert_int_equal(cm_raft_lease_read(r1, &index), CM_E_TIMEOUT);
    /* A leadership transfer drops the lease at once. */
    fx_heal(&f);
    fx_tick(&f, 1, 1);
    fx_stabilize(&f);
    assert_int_equal(cm_raft_lease_read(r1, &index), 0);
    assert_int_equal(cm_raft_transfer_leader(r1, 2), 0);
    assert_int_equal(cm_raft_lease_read(r1, &index), CM_E_UNAVAILABLE);
    fx_stabilize(&f);
    assert_int_equal(fx_role(&f, 2), CM_RAFT_LEADER);
    assert_int_equal(cm_raft_lease_read(r1, &index), CM_E_NOT_LEADER);
    fx_fini(&f);
}

static bool drop_resp_to_1(fx *f, const cm_raft_msg *m)
{
    (void)f;
    return !(m->type == CM_RAFT_MSG_APP_RESP && m->to == 1);
}

static void test_one_conf_change_at_a_time(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, NULL);
    f.filter = drop_resp_to_1;
    assert_true(fx_elect(&f, 1));
    cm_raft *r1 = fx_r(&f, 1);
    uint64_t idx, t;
    cm_raft_conf_change add4 = {CM_RAFT_CONF_ADD_LEARNER, 4};
    cm_raft_conf_change add5 = {CM_RAFT_CONF_ADD_LEARNER, 5};
    /* The new leader's own entry has not committed: no change yet. */
    assert_true(fx_commit(&f, 1) < 2);
    assert_int_equal(cm_raft_propose_conf(r1, &add4, &idx, &t), CM_E_BUSY);
    f.filter = NULL;
    fx_tick_all(&f, 2);
    assert_true(fx_commit(&f, 1) >= 2);
    assert_int_equal(cm_raft_propose_conf(r1, &add4, &idx, &t), 0);
    /* One pending change at a time. */
    assert_int_equal(cm_raft_propose_conf(r1, &add5, &idx, &t), CM_E_BUSY);
    fx_stabilize(&f);
    assert_true(fx_commit(&f, 1) >= idx);
    assert_int_equal(cm_raft_propose_conf(r1, &add5, &idx, &t), 0);
    fx_stabilize(&f);
    cm_raft_status st;
    cm_raft_status_get(fx_r(&f, 2), &st);
    assert_int_equal(st.conf.n_learners, 2);
    assert_int_equal(st.conf.n_voters, 3);
    /* Changes that change nothing, or would leave no voter, are refused. */
    cm_raft_conf_change bad = {CM_RAFT_CONF_REMOVE, 9};
    assert_int_equal(cm_raft_propose_conf(r1, &bad, &idx, &t), CM_E_INVALID);
    assert_int_equal(cm_raft_propose_conf(r1, &add4, &idx, &t), CM_E_INVALID);
    fx_fini(&f);
}

static void test_fresh_leader_reads_wait(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, NULL);
    f.filter = drop_resp_to_1;
    assert_true(fx_elect(&f, 1));
    cm_raft *r1 = fx_r(&f, 1);
    uint64_t index;
    assert_int_equal(cm_raft_read_index(r1, 7), CM_E_UNAVAILABLE);
    assert_int_equal(cm_raft_lease_read(r1, &index), CM_E_UNAVAILABLE);
    /* A follower's acknowledgement commits the entry, but the leader has not applied it yet. */
    f.filter = NULL;
    cm_raft_status st;
    cm_raft_status_get(r1, &st);
    cm_raft_msg ack;
    memset(&ack, 0, sizeof(ack));
    ack.type = CM_RAFT_MSG_APP_RESP;
    ack.from = 2;
    ack.to = 1;
    ack.term = st.term;
    ack.index = st.term_start_index;
    assert_int_equal(cm_raft_step(r1, &ack), 0);
    cm_raft_status_get(r1, &st);
    assert_true(st.commit >= st.term_start_index);
    assert_true(st.applied < st.term_start_index);
    assert_int_equal(cm_raft_read_index(r1, 7), CM_E_UNAVAILABLE);
    assert_int_equal(cm_raft_lease_read(r1, &index), CM_E_UNAVAILABLE);
    /* Once applied, reads are served. */
    fx_stabilize(&f);
    assert_int_equal(cm_raft_read_index(r1, 7), 0);
    fx_stabilize(&f);
    assert_int_equal(f.nodes[1].n_reads, 1);
    assert_int_equal(f.nodes[1].reads[0].ctx, 7);
    assert_int_equal(f.nodes[1].reads[0].status, 0);
    assert_true(f.nodes[1].reads[0].index >= st.term_start_index);
    fx_tick(&f, 1, 1);
    fx_stabilize(&f);
    assert_int_equal(cm_raft_lease_read(r1, &index), 0);
    fx_fini(&f);
}

static void test_read_index_fails_on_step_down(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, NULL);
    assert_true(fx_elect(&f, 1));
    fx_tick_all(&f, 1);
    fx_isolate(&f, 1);
    assert_int_equal(cm_raft_read_index(fx_r(&f, 1), 8), 0);
    fx_stabilize(&f);
    assert_int_equal(f.nodes[1].n_reads, 0);
    /* Check-quorum makes the cut-off leader step down; the read fails instead of hanging. */
    fx_tick(&f, 1, 2 * (int)f.cfg.election_tick);
    fx_stabilize(&f);
    assert_int_not_equal(fx_role(&f, 1), CM_RAFT_LEADER);
    assert_int_equal(f.nodes[1].n_reads, 1);
    assert_int_equal(f.nodes[1].reads[0].ctx, 8);
    assert_int_equal(f.nodes[1].reads[0].status, CM_E_NOT_LEADER);
    fx_fini(&f);
}

static void test_snapshot_catch_up(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, NULL);
    assert_true(fx_elect(&f, 1));
    fx_isolate(&f, 3);
    uint64_t last = 0;
    for (uint64_t v = 1; v <= 20; v++) {
        last = fx_propose(&f, 1, 1000 + v);
        fx_stabilize(&f);
    }
    /* Both up-to-date nodes snapshot and compact their logs. */
    for (uint64_t id = 1; id <= 2; id++) {
        fx_node *n = &f.nodes[id];
        cm_raft_status st;
        cm_raft_status_get(n->r, &st);
        assert_int_equal(n->applied, last);
        assert_int_equal(
            cm_raft_memstore_create_snapshot(&n->ms, n->applied, &st.conf, cm_slice_cstr("S")), 0);
        assert_int_equal(cm_raft_memstore_compact(&n->ms, n->applied - 2), 0);
    }
    uint64_t v = fx_propose(&f, 1, 4242);
    fx_stabilize(&f);
    fx_heal(&f);
    fx_tick_all(&f, 5);
    cm_raft_stats stats;
    cm_raft_stats_get(fx_r(&f, 1), &stats);
    assert_true(stats.snapshots_sent >= 1);
    cm_raft_stats_get(fx_r(&f, 3), &stats);
    assert_int_equal(stats.snapshots_restored, 1);
    assert_int_equal(f.nodes[3].ms.base_index, last);
    assert_int_equal(f.nodes[3].applied, f.nodes[1].applied);
    assert_int_equal(fx_applied_value(&f, 3, v), 4242);
    fx_fini(&f);
}

static void test_leadership_transfer(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, NULL);
    assert_true(fx_elect(&f, 1));
    uint64_t term = fx_term(&f, 1);
    /* Node 3 lags; the transfer first catches it up, then hands over. */
    fx_isolate(&f, 3);
    for (uint64_t v = 1; v <= 5; v++) {
        fx_propose(&f, 1, v);
    }
    fx_stabilize(&f);
    fx_heal(&f);
    cm_raft *r1 = fx_r(&f, 1);
    assert_int_equal(cm_raft_transfer_leader(r1, 3), 0);
    uint64_t i, t;
    assert_int_equal(cm_raft_propose(r1, cm_slice_make("x", 1), &i, &t), CM_E_BUSY);
    fx_stabilize(&f);
    assert_int_equal(fx_role(&f, 3), CM_RAFT_LEADER);
    assert_int_equal(fx_term(&f, 3), term + 1);
    assert_int_equal(fx_lead(&f, 1), 3);
    cm_raft_stats st;
    cm_raft_stats_get(r1, &st);
    assert_int_equal(st.transfers, 1);
    /* Non-voters cannot be targets. */
    assert_int_equal(cm_raft_transfer_leader(fx_r(&f, 3), 9), CM_E_INVALID);
    fx_fini(&f);
}

static void test_learner(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, NULL);
    fx_add_empty(&f, 4);
    assert_true(fx_elect(&f, 1));
    cm_raft *r1 = fx_r(&f, 1);
    cm_raft_conf_change cc = {CM_RAFT_CONF_ADD_LEARNER, 4};
    uint64_t idx, t;
    assert_int_equal(cm_raft_propose_conf(r1, &cc, &idx, &t), 0);
    uint64_t v = fx_propose(&f, 1, 55);
    fx_tick_all(&f, 5);
    assert_int_equal(fx_applied_value(&f, 4, v), 55);
    /* A learner never campaigns. */
    uint64_t term = fx_term(&f, 4);
    fx_isolate(&f, 4);
    fx_tick(&f, 4, 100);
    fx_stabilize(&f);
    assert_int_equal(fx_term(&f, 4), term);
    assert_int_equal(fx_role(&f, 4), CM_RAFT_FOLLOWER);
    /* A learner does not count towards the quorum. */
    fx_heal(&f);
    fx_cut(&f, 1, 2);
    fx_cut(&f, 1, 3);
    uint64_t c0 = fx_commit(&f, 1);
    fx_propose(&f, 1, 56);
    fx_stabilize(&f);
    assert_int_equal(fx_commit(&f, 1), c0);
    /* Promotion makes it a voter. */
    fx_heal(&f);
    fx_stabilize(&f);
    cm_raft_conf_change up = {CM_RAFT_CONF_ADD_VOTER, 4};
    assert_int_equal(cm_raft_propose_conf(r1, &up, &idx, &t), 0);
    fx_stabilize(&f);
    cm_raft_status st;
    cm_raft_status_get(fx_r(&f, 4), &st);
    assert_int_equal(st.conf.n_voters, 4);
    assert_int_equal(st.conf.n_learners, 0);
    fx_fini(&f);
}

static void count_apps(fx *f, const cm_raft_msg *m)
{
    if (m->type == CM_RAFT_MSG_APP && m->from == 1 && m->n_entries > 0 && m->to <= 3) {
        f->counter[m->to]++;
    }
}

static bool drop_apps_to_2(fx *f, const cm_raft_msg *m)
{
    (void)f;
    return !(m->type == CM_RAFT_MSG_APP && m->to == 2 && m->n_entries > 0);
}

static void window_cfg(cm_raft_config *c)
{
    c->max_inflight = 2;
    c->max_msg_bytes = 1;
}

static void test_flow_control_window(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, window_cfg);
    assert_true(fx_elect(&f, 1));
    fx_stabilize(&f);
    f.on_send = count_apps;
    f.filter = drop_apps_to_2;
    uint64_t last = 0;
    for (uint64_t v = 1; v <= 10; v++) {
        last = fx_propose(&f, 1, v);
    }
    fx_stabilize(&f);
    /* Node 3 answers and receives every entry, one per message; node 2 never answers and gets
     * no more than the window. */
    assert_int_equal(fx_applied_value(&f, 3, last), 10);
    assert_true(f.counter[3] >= 10);
    assert_int_equal(f.counter[2], 2);
    cm_raft_progress_info pi;
    assert_int_equal(cm_raft_progress_of(fx_r(&f, 1), 2, &pi), 0);
    assert_int_equal(pi.state, CM_RAFT_PR_REPLICATE);
    /* Once the messages get through again, node 2 catches up. */
    f.filter = NULL;
    fx_tick_all(&f, 4);
    assert_int_equal(fx_applied_value(&f, 2, last), 10);
    fx_fini(&f);
}

static void test_check_quorum_step_down(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, NULL);
    assert_true(fx_elect(&f, 1));
    fx_isolate(&f, 1);
    fx_tick(&f, 1, 2 * (int)f.cfg.election_tick);
    fx_stabilize(&f);
    assert_int_equal(fx_role(&f, 1), CM_RAFT_FOLLOWER);
    fx_fini(&f);
}

static void test_restart_keeps_state(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, NULL);
    assert_true(fx_elect(&f, 1));
    uint64_t v = fx_propose(&f, 1, 31);
    fx_stabilize(&f);
    uint64_t term = fx_term(&f, 2);
    fx_crash(&f, 2);
    fx_restart(&f, 2);
    assert_int_equal(fx_term(&f, 2), term);
    cm_raft_status st;
    cm_raft_status_get(fx_r(&f, 2), &st);
    assert_int_equal(st.last_index, v);
    assert_int_equal(st.vote, 1);
    /* A restarted node keeps quiet for an election timeout: a higher-term vote request from a
     * node that lost touch with the leader is ignored. */
    cm_raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = CM_RAFT_MSG_VOTE;
    m.from = 3;
    m.to = 2;
    m.term = term + 5;
    m.index = v;
    m.log_term = term;
    assert_int_equal(cm_raft_step(fx_r(&f, 2), &m), 0);
    assert_int_equal(fx_term(&f, 2), term);
    fx_tick(&f, 2, (int)f.cfg.election_tick);
    assert_int_equal(cm_raft_step(fx_r(&f, 2), &m), 0);
    assert_int_equal(fx_term(&f, 2), term + 5);
    fx_fini(&f);
}

static void test_corrupt_append_rejected(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, NULL);
    assert_true(fx_elect(&f, 1));
    uint64_t v = fx_propose(&f, 1, 5);
    fx_stabilize(&f);
    /* An append that would rewrite a committed entry is refused, not applied, never a crash. */
    cm_raft_entry e;
    memset(&e, 0, sizeof(e));
    e.term = fx_term(&f, 1);
    e.index = v;
    e.data = cm_slice_make("zzzzzzzz", 8);
    cm_raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = CM_RAFT_MSG_APP;
    m.from = 1;
    m.to = 2;
    m.term = fx_term(&f, 1);
    m.index = v - 1;
    m.log_term = term_at(&f, 2, v - 1);
    m.entries = &e;
    m.n_entries = 1;
    e.term = m.term;
    /* Same term, same index: a matching entry, accepted as a duplicate. */
    assert_int_equal(cm_raft_step(fx_r(&f, 2), &m), 0);
    /* A later term trying to rewrite a committed index is answered with the commit index and
     * changes nothing. */
    m.term = fx_term(&f, 1) + 1;
    e.term = m.term;
    assert_int_equal(cm_raft_step(fx_r(&f, 2), &m), 0);
    assert_int_equal(term_at(&f, 2, v), fx_term(&f, 1));
    /* Non-contiguous entries: refused by validation. */
    e.index = v + 5;
    assert_int_equal(cm_raft_step(fx_r(&f, 2), &m), CM_E_CORRUPT);
    fx_fini(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_election_and_replication),
        cmocka_unit_test(test_figure8),
        cmocka_unit_test(test_stale_candidate_cannot_win),
        cmocka_unit_test(test_prevote_stops_disruption),
        cmocka_unit_test(test_without_prevote_node_disrupts),
        cmocka_unit_test(test_removed_node_cannot_disrupt),
        cmocka_unit_test(test_lease_read),
        cmocka_unit_test(test_one_conf_change_at_a_time),
        cmocka_unit_test(test_fresh_leader_reads_wait),
        cmocka_unit_test(test_read_index_fails_on_step_down),
        cmocka_unit_test(test_snapshot_catch_up),
        cmocka_unit_test(test_leadership_transfer),
        cmocka_unit_test(test_learner),
        cmocka_unit_test(test_flow_control_window),
        cmocka_unit_test(test_check_quorum_step_down),
        cmocka_unit_test(test_restart_keeps_state),
        cmocka_unit_test(test_corrupt_append_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
