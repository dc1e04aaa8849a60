/*
 * raft_fixture.h — a small in-process cluster for the Raft unit tests: nodes over the in-memory
 * storage, messages encoded and decoded through the wire codec, a per-node clock, links that
 * can be cut, and an optional filter that drops chosen messages. Deterministic: no time, no
 * threads; the tests decide every tick and every delivery.
 */
#ifndef RAFT_FIXTURE_H
#define RAFT_FIXTURE_H

#include "cm_raft.h"
#include "cm_raft_memstore.h"

#define FX_MAX 8

typedef struct fx_applied {
    uint64_t index;
    uint64_t term;
    uint8_t type;
    uint64_t value; /* first 8 bytes of the data, 0 when shorter */
} fx_applied;

typedef struct fx_node {
    uint64_t id;
    bool exists;
    bool up;
    bool hold; /* fx_stabilize leaves this node's readies unhandled */
    cm_raft *r;
    cm_raft_memstore ms;
    uint64_t now_ns;
    uint64_t applied;
    fx_applied *app; /* entries applied, in order (snapshots reset the list) */
    size_t n_app;
    size_t cap_app;
    cm_raft_read_state reads[256];
    size_t n_reads;
} fx_node;

typedef struct fx_msg {
    uint64_t from;
    uint64_t to;
    cm_buf bytes;
} fx_msg;

struct fx;
typedef bool (*fx_filter_cb)(struct fx *f, const cm_raft_msg *m);

typedef struct fx {
    fx_node nodes[FX_MAX + 1]; /* indexed by id */
    bool cut[FX_MAX + 1][FX_MAX + 1];
    fx_msg *q;
    size_t qn;
    size_t qcap;
    fx_filter_cb filter; /* returns false to drop */
    void *filter_ctx;
    void (*on_send)(struct fx *f, const cm_raft_msg *m); /* observes every message sent */
    uint64_t counter[4];                                 /* for on_send observers */
    uint64_t rng;
    cm_raft_config cfg; /* template for new nodes */
    uint64_t delivered;
} fx;

/* A cluster of voters 1..n, bootstrapped from a snapshot at index 1, term 1. cfg_tweak may
 * change the template config (NULL for defaults: pre-vote, check-quorum, lease reads). */
void fx_init(fx *f, int n, void (*cfg_tweak)(cm_raft_config *c));
void fx_fini(fx *f);
/* Adds node id with an empty log (to be added by a membership change). */
void fx_add_empty(fx *f, uint64_t id);
cm_raft *fx_r(fx *f, uint64_t id);
/* Handles every pending ready of node id (persist, queue messages, apply, advance). */
void fx_process(fx *f, uint64_t id);
/* Processes and delivers until quiet (bounded). */
void fx_stabilize(fx *f);
/* Delivers queued messages once (no processing of what they produce beyond one round). */
void fx_deliver_once(fx *f);
void fx_tick(fx *f, uint64_t id, int n);
/* Ticks every up node n times, stabilizing after each tick. */
void fx_tick_all(fx *f, int n);
void fx_isolate(fx *f, uint64_t id);
void fx_cut(fx *f, uint64_t a, uint64_t b);
void fx_heal(fx *f);
void fx_crash(fx *f, uint64_t id);
void fx_restart(fx *f, uint64_t id);
void fx_clock_advance(fx *f, uint64_t ns);
/* Campaigns at id and stabilizes; returns whether id became leader. */
bool fx_elect(fx *f, uint64_t id);
/* Proposes an 8-byte value at the leader id; returns the index (0 on failure). */
uint64_t fx_propose(fx *f, uint64_t id, uint64_t value);
cm_raft_role fx_role(fx *f, uint64_t id);
uint64_t fx_term(fx *f, uint64_t id);
uint64_t fx_commit(fx *f, uint64_t id);
uint64_t fx_lead(fx *f, uint64_t id);
/* Value applied at index on node id, or -1 when not applied there. */
int64_t fx_applied_value(fx *f, uint64_t id, uint64_t index);

#endif
