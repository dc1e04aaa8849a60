/* raft_fixture.c — see raft_fixture.h. */
#include "raft_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what)
{
    fprintf(stderr, "raft fixture: %s\n", what);
    abort();
}

static uint64_t fx_rand(void *ctx)
{
    uint64_t *s = ctx;
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t fx_clock(void *ctx)
{
    fx_node *n = ctx;
    return n->now_ns;
}

static void start_node(fx *f, uint64_t id, bool fresh)
{
    fx_node *n = &f->nodes[id];
    cm_raft_config c = f->cfg;
    c.id = id;
    c.storage = &cm_raft_memstore_ops;
    c.storage_ctx = &n->ms;
    c.rand_cb = fx_rand;
    c.rand_ctx = &f->rng;
    c.clock_ns_cb = fx_clock;
    c.clock_ctx = n;
    c.applied = n->applied;
    c.fresh_start = fresh;
    cm_err err;
    if (cm_raft_new(&c, &n->r, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        die("cm_raft_new");
    }
    n->up = true;
}

void fx_init(fx *f, int nv, void (*cfg_tweak)(cm_raft_config *c))
{
    memset(f, 0, sizeof(*f));
    f->rng = 42;
    cm_raft_config_default(&f->cfg);
    f->cfg.lease_read = true;
    f->cfg.tick_ns = 1000000;
    f->cfg.drift_ppm = 10000;
    if (cfg_tweak) {
        cfg_tweak(&f->cfg);
    }
    cm_raft_conf conf;
    memset(&conf, 0, sizeof(conf));
    for (int i = 1; i <= nv; i++) {
        conf.voters[conf.n_voters++] = (uint64_t)i;
    }
    for (int i = 1; i <= nv; i++) {
        fx_node *n = &f->nodes[i];
        n->id = (uint64_t)i;
        n->exists = true;
        cm_raft_memstore_init(&n->ms);
        cm_raft_snapshot s;
        memset(&s, 0, sizeof(s));
        s.meta.index = 1;
        s.meta.term = 1;
        s.meta.conf = conf;
        cm_raft_memstore_apply_snapshot(&n->ms, &s);
        cm_raft_hard_state hs = {1, 0, 1};
        cm_raft_memstore_set_hard_state(&n->ms, &hs);
        n->applied = 1;
        n->now_ns = 1000000000ull;
        start_node(f, (uint64_t)i, true);
    }
}

void fx_add_empty(fx *f, uint64_t id)
{
    fx_node *n = &f->nodes[id];
    n->id = id;
    n->exists = true;
    cm_raft_memstore_init(&n->ms);
    n->applied = 0;
    n->now_ns = 1000000000ull;
    start_node(f, id, true);
}

void fx_fini(fx *f)
{
    for (int i = 0; i <= FX_MAX; i++) {
        fx_node *n = &f->nodes[i];
        if (!n->exists) {
            continue;
        }
        cm_raft_free(n->r);
        cm_raft_memstore_fini(&n->ms);
        free(n->app);
    }
    for (size_t i = 0; i < f->qn; i++) {
        cm_buf_fini(&f->q[i].bytes);
    }
    free(f->q);
    memset(f, 0, sizeof(*f));
}

cm_raft *fx_r(fx *f, uint64_t id)
{
    return f->nodes[id].r;
}

static void enqueue(fx *f, const cm_raft_msg *m)
{
    if (f->on_send != NULL) {
        f->on_send(f, m);
    }
    if (f->qn == f->qcap) {
        f->qcap = f->qcap ? f->qcap * 2 : 64;
        f->q = realloc(f->q, f->qcap * sizeof(*f->q));
        if (f->q == NULL) {
            die("oom");
        }
    }
    fx_msg *x = &f->q[f->qn++];
    x->from = m->from;
    x->to = m->to;
    cm_buf_init(&x->bytes);
    if (cm_raft_msg_encode(m, &x->bytes) != 0) {
        die("encode");
    }
}

static void record_apply(fx_node *n, const cm_raft_entry *e)
{
    if (n->n_app == n->cap_app) {
        n->cap_app = n->cap_app ? n->cap_app * 2 : 32;
        n->app = realloc(n->app, n->cap_app * sizeof(*n->app));
        if (n->app == NULL) {
            die("oom");
        }
    }
    fx_applied *a = &n->app[n->n_app++];
    a->index = e->index;
    a->term = e->term;
    a->type = e->type;
    a->value = 0;
    if (e->data.len >= 8) {
        memcpy(&a->value, e->data.ptr, 8);
    }
    if (e->index != n->applied + 1) {
        die("applied out of order");
    }
    n->applied = e->index;
}

void fx_process(fx *f, uint64_t id)
{
    fx_node *n = &f->nodes[id];
    for (int guard = 0; n->up && cm_raft_has_ready(n->r) && guard < 100; guard++) {
        cm_raft_ready rd;
        if (cm_raft_ready_get(n->r, &rd) != 0) {
            die("ready");
        }
        for (size_t i = 0; i < rd.n_msgs_early; i++) {
            enqueue(f, &rd.msgs_early[i]);
        }
        if (rd.snapshot) {
            cm_raft_memstore_apply_snapshot(&n->ms, rd.snapshot);
        }
        if (rd.n_entries && cm_raft_memstore_append(&n->ms, rd.entries, rd.n_entries) != 0) {
            die("append");
        }
        if (rd.hard_state_changed) {
            cm_raft_memstore_set_hard_state(&n->ms, &rd.hard_state);
        }
        for (size_t i = 0; i < rd.n_msgs; i++) {
            enqueue(f, &rd.msgs[i]);
        }
        if (rd.snapshot) {
            n->n_app = 0;
            n->applied = rd.snapshot->meta.index;
        }
        for (size_t i = 0; i < rd.n_committed; i++) {
            record_apply(n, &rd.committed[i]);
        }
        for (size_t i = 0; i < rd.n_reads && n->n_reads < 256; i++) {
            n->reads[n->n_reads++] = rd.reads[i];
        }
        if (cm_raft_advance(n->r, &rd) != 0) {
            die("advance");
        }
    }
}

static void deliver(fx *f, fx_msg *x)
{
    if (x->to > FX_MAX || x->from > FX_MAX) {
        return;
    }
    fx_node *to = &f->nodes[x->to];
    if (!to->exists || !to->up || f->cut[x->from][x->to]) {
        return;
    }
    cm_reader rd;
    cm_reader_init(&rd, x->bytes.ptr, x->bytes.len);
    cm_arena a;
    cm_arena_init(&a, 0);
    cm_raft_msg m;
    cm_err err;
    if (cm_raft_msg_decode(&rd, &a, &m, &err) != 0 || cm_reader_left(&rd) != 0) {
        die("decode");
    }
    if (f->filter == NULL || f->filter(f, &m)) {
        f->delivered++;
        (void)cm_raft_step(to->r, &m);
    }
    cm_arena_fini(&a);
}

void fx_deliver_once(fx *f)
{
    size_t n = f->qn;
    fx_msg *batch = f->q;
    f->q = NULL;
    f->qn = 0;
    f->qcap = 0;
    for (size_t i = 0; i < n; i++) {
        deliver(f, &batch[i]);
        cm_buf_fini(&batch[i].bytes);
    }
    free(batch);
}

void fx_stabilize(fx *f)
{
    for (int round = 0; round < 1000; round++) {
        for (uint64_t id = 1; id <= FX_MAX; id++) {
            if (f->nodes[id].exists && f->nodes[id].up && !f->nodes[id].hold) {
                fx_process(f, id);
            }
        }
        if (f->qn == 0) {
            return;
        }
        fx_deliver_once(f);
    }
    die("did not stabilize");
}

void fx_tick(fx *f, uint64_t id, int n)
{
    for (int i = 0; i < n; i++) {
        cm_raft_tick(f->nodes[id].r);
    }
}

void fx_tick_all(fx *f, int n)
{
    for (int i = 0; i < n; i++) {
        for (uint64_t id = 1; id <= FX_MAX; id++) {
            if (f->nodes[id].exists && f->nodes[id].up) {
                cm_raft_tick(f->nodes[id].r);
            }
        }
        fx_stabilize(f);
    }
}

void fx_cut(fx *f, uint64_t a, uint64_t b)
{
    f->cut[a][b] = true;
    f->cut[b][a] = true;
}

void fx_isolate(fx *f, uint64_t id)
{
    for (uint64_t o = 0; o <= FX_MAX; o++) {
        if (o != id) {
            fx_cut(f, id, o);
        }
    }
}

void fx_heal(fx *f)
{
    memset(f->cut, 0, sizeof(f->cut));
}

void fx_crash(fx *f, uint64_t id)
{
    fx_node *n = &f->nodes[id];
    cm_raft_free(n->r);
    n->r = NULL;
    n->up = false;
}

void fx_restart(fx *f, uint64_t id)
{
    start_node(f, id, false);
}

void fx_clock_advance(fx *f, uint64_t ns)
{
    for (uint64_t id = 1; id <= FX_MAX; id++) {
        f->nodes[id].now_ns += ns;
    }
}

bool fx_elect(fx *f, uint64_t id)
{
    cm_raft_campaign(f->nodes[id].r);
    fx_stabilize(f);
    return fx_role(f, id) == CM_RAFT_LEADER;
}

uint64_t fx_propose(fx *f, uint64_t id, uint64_t value)
{
    uint64_t index, term;
    if (cm_raft_propose(f->nodes[id].r, cm_slice_make(&value, 8), &index, &term) != 0) {
        return 0;
    }
    return index;
}

static void status(fx *f, uint64_t id, cm_raft_status *st)
{
    cm_raft_status_get(f->nodes[id].r, st);
}

cm_raft_role fx_role(fx *f, uint64_t id)
{
    cm_raft_status st;
    status(f, id, &st);
    return st.role;
}

uint64_t fx_term(fx *f, uint64_t id)
{
    cm_raft_status st;
    status(f, id, &st);
    return st.term;
}

uint64_t fx_commit(fx *f, uint64_t id)
{
    cm_raft_status st;
    status(f, id, &st);
    return st.commit;
}

uint64_t fx_lead(fx *f, uint64_t id)
{
    cm_raft_status st;
    status(f, id, &st);
    return st.lead;
}

int64_t fx_applied_value(fx *f, uint64_t id, uint64_t index)
{
    fx_node *n = &f->nodes[id];
    for (size_t i = 0; i < n->n_app; i++) {
        if (n->app[i].index == index) {
            return (int64_t)n->app[i].value;
        }
    }
    return -1;
}
