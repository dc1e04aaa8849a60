/*
 * fuzz_raft_msg — libFuzzer target for the Raft wire decoder and for cm_raft_step on hostile
 * input. Any input either decodes to valid messages or is rejected with an error; a decoded
 * message re-encodes and decodes to the same fields; and every decoded message is stepped into
 * a fresh 3-voter node (as follower and, after a won election, as leader) without crashing or
 * tripping an assertion (a batch of several messages is decoded until the first error).
 */
#include "cm_raft.h"
#include "cm_raft_memstore.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t frand(void *ctx)
{
    uint64_t *s = ctx;
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 11;
}

static uint64_t fclock(void *ctx)
{
    uint64_t *t = ctx;
    return *t += 1000;
}

/* Drains a node's readies into its storage, as the application would. */
static void drain(cm_raft *r, cm_raft_memstore *ms)
{
    for (int i = 0; i < 4 && cm_raft_has_ready(r); i++) {
        cm_raft_ready rd;
        if (cm_raft_ready_get(r, &rd) != 0) {
            abort();
        }
        if (rd.snapshot) {
            cm_raft_memstore_apply_snapshot(ms, rd.snapshot);
        }
        if (rd.n_entries) {
            cm_raft_memstore_append(ms, rd.entries, rd.n_entries);
        }
        if (rd.hard_state_changed) {
            cm_raft_memstore_set_hard_state(ms, &rd.hard_state);
        }
        cm_raft_advance(r, &rd);
    }
}

static void step_into_node(const cm_raft_msg *m, bool as_leader)
{
    cm_raft_memstore ms;
    cm_raft_memstore_init(&ms);
    cm_raft_snapshot s;
    memset(&s, 0, sizeof(s));
    s.meta.index = 1;
    s.meta.term = 1;
    s.meta.conf.n_voters = 1;
    s.meta.conf.voters[0] = 2; /* node 2 alone first, so it can win without peers */
    cm_raft_memstore_apply_snapshot(&ms, &s);
    cm_raft_hard_state hs = {1, 0, 1};
    cm_raft_memstore_set_hard_state(&ms, &hs);
    uint64_t seed = 1, now = 0;
    cm_raft_config c;
    cm_raft_config_default(&c);
    c.id = 2;
    c.storage = &cm_raft_memstore_ops;
    c.storage_ctx = &ms;
    c.rand_cb = frand;
    c.rand_ctx = &seed;
    c.clock_ns_cb = fclock;
    c.clock_ctx = &now;
    c.lease_read = true;
    c.applied = 1;
    c.fresh_start = true;
    cm_raft *r;
    cm_err err;
    if (cm_raft_new(&c, &r, &err) != 0) {
        abort();
    }
    if (as_leader) {
        cm_raft_campaign(r);
        drain(r, &ms);
        cm_raft_conf_change cc = {CM_RAFT_CONF_ADD_VOTER, 1};
        uint64_t i, t;
        cm_raft_propose_conf(r, &cc, &i, &t);
        drain(r, &ms);
    }
    cm_raft_msg mm = *m;
    mm.to = 2;
    (void)cm_raft_step(r, &mm);
    drain(r, &ms);
    cm_raft_tick(r);
    uint64_t idx;
    (void)cm_raft_lease_read(r, &idx);
    (void)cm_raft_read_index(r, 1);
    drain(r, &ms);
    cm_raft_free(r);
    cm_raft_memstore_fini(&ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cm_reader r;
    cm_reader_init(&r, data, size);
    cm_arena a;
    cm_arena_init(&a, 0);
    for (int i = 0; i < 16 && cm_reader_left(&r) > 0; i++) {
        cm_raft_msg m;
        cm_err err;
        if (cm_raft_msg_decode(&r, &a, &m, &err) != 0) {
            break;
        }
        cm_buf b = CM_BUF_INIT;
        if (cm_raft_msg_encode(&m, &b) != 0) {
            abort();
        }
        cm_reader r2;
        cm_reader_init(&r2, b.ptr, b.len);
        cm_raft_msg m2;
        if (cm_raft_msg_decode(&r2, &a, &m2, &err) != 0 || cm_reader_left(&r2) != 0) {
            abort();
        }
        if (m2.type != m.type || m2.from != m.from || m2.to != m.to || m2.term != m.term ||
            m2.n_entries != m.n_entries || m2.index != m.index || m2.commit != m.commit) {
            abort();
        }
        for (size_t k = 0; k < m.n_entries; k++) {
            if (!cm_slice_eq(m.entries[k].data, m2.entries[k].data) ||
                m.entries[k].term != m2.entries[k].term) {
                abort();
            }
        }
        cm_buf_fini(&b);
        if (m.from != 2) {
            step_into_node(&m, false);
            step_into_node(&m, true);
        }
    }
    cm_arena_fini(&a);
    return 0;
}
