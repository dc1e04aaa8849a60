/*
 * sim_bank.c — the Percolator bank workload of the store simulator: the real transaction layer
 * (kvnode/txn) over the real raftstore, with the server's discipline done here: every command
 * latches its keys on the store, reads a snapshot of the applied state through the raftstore (so
 * only a leader that applied an entry of its term checks anything), runs the Percolator action
 * on it and proposes the resulting batch, holding the latches until the batch applied.
 *
 * Eight accounts start at 100 (an absent account reads as 100). Clients run transfers (read both
 * accounts at start_ts, prewrite primary then secondary, commit primary at a later TSO time,
 * then the secondary) and readers (read every account at one timestamp, resolving the locks in
 * the way through CheckTxnStatus / ResolveLock, and check the total). At the end, with the faults
 * stopped, a last reader must see the exact total and every acknowledged commit's record must be
 * there.
 */
#include "sim_int.h"

#include "kv_mvcc.h"
#include "kv_txn.h"

#include <stdlib.h>
#include <string.h>

#define BANK_ACCOUNTS          8
#define BANK_INITIAL           100
#define BANK_TOTAL             (BANK_ACCOUNTS * BANK_INITIAL)
#define BANK_CLIENTS           4
#define BANK_TTL_MS            2000
#define BANK_CMD_ATTEMPTS      400
#define BANK_CMD_BUDGET_TICKS  40 /* a command retries for this long, then fails */
#define BANK_TXN_STEPS_MAX     120
#define BANK_CMD_TIMEOUT_TICKS 30
#define BANK_ACKED_MAX         8192

enum {
    CMD_GET = 1,
    CMD_PREWRITE,
    CMD_COMMIT,
    CMD_ROLLBACK,
    CMD_CHECK,
    CMD_RESOLVE,
    CMD_VERIFY, /* final: the commit record of an acknowledged transaction is there */
};

enum {
    PH_IDLE = 0,
    PH_READ_FROM,
    PH_READ_TO,
    PH_PREWRITE_P,
    PH_PREWRITE_S,
    PH_COMMIT_P,
    PH_COMMIT_S,
    PH_ROLLBACK_S,
    PH_ROLLBACK_P,
    PH_READ_ALL,
    PH_RESOLVE_CHECK,
    PH_RESOLVE_DO,
    PH_VERIFY,
};

typedef struct bank_cmd {
    uint8_t kind;
    int key;
    int prim;
    uint64_t start_ts;
    uint64_t commit_ts;
    uint64_t current_ts;
    bool rollback_if_not_exist;
    uint64_t value; /* PREWRITE: the new balance; GET: the balance read */
    uint64_t id;    /* this attempt; callbacks of older attempts are ignored */
    int attempts;
    uint64_t first_at; /* first attempt */
    uint64_t issued_at;
    /* results */
    kv_txn_state status;
    uint64_t status_commit_ts;
    int lock_primary;
    uint64_t lock_start_ts;
    uint64_t lock_ttl;
} bank_cmd;

typedef struct bank_client {
    int idx;
    int phase;
    int resume;
    bool reader;
    bool final_reader;
    uint64_t start_ts;
    uint64_t commit_ts;
    int from;
    int to;
    uint64_t amount;
    uint64_t bal_from;
    uint64_t bal_to;
    int read_i;
    uint64_t sum;
    int steps;
    int lock_key;
    uint64_t lock_start_ts;
    uint64_t lock_ttl;
    int lock_primary;
    size_t verify_i;
    bank_cmd cmd;
    bool waiting;
    uint64_t next_at;
    uint64_t route_region[BANK_ACCOUNTS];
    uint64_t route_store[BANK_ACCOUNTS];
} bank_client;

typedef struct acked {
    int prim;
    uint64_t start_ts;
    uint64_t commit_ts;
} acked;

typedef struct sim_bank {
    bank_client clients[BANK_CLIENTS];
    uint64_t latch[SIM_NODES_MAX][BANK_ACCOUNTS]; /* owner attempt id, 0: free */
    uint64_t next_cmd_id;
    uint64_t tso;
    bool stopping;
    acked *acks;
    size_t n_acks;
    /* coverage */
    uint64_t committed, aborted, undetermined, checks, resolved, verified;
} sim_bank;

typedef struct token {
    sim *s;
    int client;
    int key;
    uint64_t id;
    uint64_t store;
    bool latched;
} token;

/* ---- helpers -------------------------------------------------------------------------------- */

static void account_name(int i, char out[8])
{
    memcpy(out, "acct", 4);
    out[4] = (char)('0' + i % 10);
    out[5] = '\0';
}

static cm_slice account(int i, char buf[8])
{
    account_name(i, buf);
    return cm_slice_cstr(buf);
}

static int account_index(cm_slice key)
{
    if (key.len == 5 && memcmp(key.ptr, "acct", 4) == 0 && key.ptr[4] >= '0' &&
        key.ptr[4] < '0' + BANK_ACCOUNTS) {
        return key.ptr[4] - '0';
    }
    return -1;
}

/* enc(k): where the account lives in the data CFs (and so in the region key space). */
static void encoded(int i, cm_buf *out)
{
    char buf[8];
    cm_buf_reset(out);
    (void)kv_mvcc_key_lock(out, account(i, buf));
}

static uint64_t tso(sim *s)
{
    sim_bank *b = s->bk;
    uint64_t phys = kv_ts_compose(s->now / 1000000, 0);
    b->tso = b->tso + 1 > phys ? b->tso + 1 : phys;
    return b->tso;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_u64(cm_slice v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < v.len && i < 8; i++) {
        x = (x << 8) | v.ptr[i];
    }
    return x;
}

static void latch_release(sim *s, token *t)
{
    if (t->latched && t->store != 0 && s->bk->latch[t->store - 1][t->key] == t->id) {
        s->bk->latch[t->store - 1][t->key] = 0;
    }
    t->latched = false;
}

static bool is_write(uint8_t kind)
{
    return kind != CMD_GET && kind != CMD_VERIFY;
}

/* ---- command execution ---------------------------------------------------------------------- */

static void on_cmd_done(sim *s, bank_client *c, int rc);

static void cmd_retry(sim *s, bank_client *c, int rc)
{
    c->waiting = false;
    if (c->cmd.attempts >= BANK_CMD_ATTEMPTS ||
        s->now - c->cmd.first_at > BANK_CMD_BUDGET_TICKS * TICK_NS) {
        on_cmd_done(s, c, rc);
        return;
    }
    c->next_at = s->now + 10000000 + sim_rng_below(&s->r, TICK_NS);
}

static void reroute(sim *s, bank_client *c, int key, const kv_raftstore_result *res)
{
    if (res->rc == CM_E_NOT_LEADER && res->leader.store_id != 0) {
        c->route_store[key] = res->leader.store_id;
    } else if (res->rc == CM_E_EPOCH_NOT_MATCH || res->rc == CM_E_KEY_NOT_IN_REGION) {
        c->route_region[key] = 0;
    } else {
        c->route_region[key] = 0;
        c->route_store[key] = sim_random_up_store(s);
    }
}

/* Client c's token is current (not an abandoned attempt). */
static bank_client *current(sim *s, token *t)
{
    bank_client *c = &s->bk->clients[t->client];
    return c->waiting && c->cmd.id == t->id ? c : NULL;
}

static void write_cb(void *user, const kv_raftstore_result *res)
{
    token *t = user;
    sim *s = t->s;
    latch_release(s, t);
    bank_client *c = current(s, t);
    free(t);
    if (c == NULL) {
        return;
    }
    if (res->rc == 0) {
        c->waiting = false;
        on_cmd_done(s, c, 0);
        return;
    }
    /* Region errors mean "not applied" or "unknown": Percolator commands are idempotent, so
     * the command is simply tried again on a fresh route. */
    reroute(s, c, c->cmd.key, res);
    cmd_retry(s, c, res->rc);
}

/* Runs the command's Percolator action on snap; on 0 with a non-empty batch the caller proposes
 * it. */
static int run_action(sim *s, bank_client *c, kv_snapshot *snap, kv_batch *batch, cm_arena *arena)
{
    bank_cmd *k = &c->cmd;
    char buf[8], pbuf[8];
    cm_slice key = account(k->key, buf);
    kv_txn_out out;
    kv_txn_out_init(&out, batch, arena);
    cm_err err;
    int rc;
    switch (k->kind) {
    case CMD_GET: {
        cm_slice v;
        kv_lock_info li;
        rc = kv_mvcc_get(snap, key, k->start_ts, arena, &v, &li, &err);
        if (rc == 0) {
            k->value = get_u64(v);
        } else if (rc == CM_E_NOT_FOUND) {
            k->value = BANK_INITIAL;
            rc = 0;
        } else if (rc == CM_E_KEY_IS_LOCKED) {
            k->lock_primary = account_index(li.primary);
            k->lock_start_ts = li.start_ts;
            k->lock_ttl = li.ttl_ms;
            if (k->lock_primary < 0) {
                sim_fail(s, "bank", "a lock with a foreign primary");
            }
        }
        return rc;
    }
    case CMD_VERIFY: {
        cm_buf wk = CM_BUF_INIT, wv = CM_BUF_INIT;
        (void)kv_mvcc_key_ts(&wk, key, k->commit_ts);
        rc = kv_snapshot_get(snap, KV_CF_WRITE, cm_buf_slice(&wk), &wv, NULL);
        kv_write w;
        if (rc == 0 && (kv_write_decode(cm_buf_slice(&wv), &w, NULL) != 0 ||
                        w.kind != KV_WRITE_PUT || w.start_ts != k->start_ts)) {
            rc = CM_E_CORRUPT;
        }
        cm_buf_fini(&wk);
        cm_buf_fini(&wv);
        return rc;
    }
    case CMD_PREWRITE: {
        uint8_t v[8];
        put_u64(v, k->value);
        kv_mutation m = {KV_MUT_PUT, key, cm_slice_make(v, 8)};
        kv_prewrite_req req;
        memset(&req, 0, sizeof(req));
        req.muts = &m;
        req.n = 1;
        req.primary = account(k->prim, pbuf);
        req.start_ts = k->start_ts;
        req.ttl_ms = BANK_TTL_MS;
        req.txn_size = 2;
        return kv_txn_prewrite(snap, &req, &out, &err);
    }
    case CMD_COMMIT:
        return kv_txn_commit(snap, &key, 1, k->start_ts, k->commit_ts, &out, &err);
    case CMD_ROLLBACK:
        return kv_txn_rollback(snap, &key, 1, k->start_ts, &out, &err);
    case CMD_CHECK: {
        kv_txn_status st;
        memset(&st, 0, sizeof(st));
        rc = kv_txn_check_status(snap, key, k->start_ts, k->current_ts, k->rollback_if_not_exist,
                                 &out, &st, &err);
        if (rc == 0) {
            k->status = st.state;
            k->status_commit_ts = st.commit_ts;
        }
        return rc;
    }
    case CMD_RESOLVE:
        return kv_txn_resolve_lock(snap, k->start_ts, k->commit_ts, &key, 1, &out, &err);
    default:
        return CM_E_INVALID;
    }
}

static void read_cb(void *user, const kv_raftstore_result *res, kv_snapshot *snap)
{
    token *t = user;
    sim *s = t->s;
    bank_client *c = current(s, t);
    if (c == NULL || res->rc != 0) {
        kv_snapshot_release(snap);
        latch_release(s, t);
        free(t);
        if (c != NULL) {
            reroute(s, c, c->cmd.key, res);
            cmd_retry(s, c, res->rc);
        }
        return;
    }
    cm_buf ek = CM_BUF_INIT;
    encoded(c->cmd.key, &ek);
    bool inside = res->n_regions == 1 && kv_region_contains(&res->regions[0], cm_buf_slice(&ek));
    cm_buf_fini(&ek);
    if (!inside) {
        /* The region served the read but no longer holds the key (a split moved it). */
        kv_snapshot_release(snap);
        latch_release(s, t);
        free(t);
        c->route_region[c->cmd.key] = 0;
        c->route_store[c->cmd.key] = sim_random_up_store(s);
        cmd_retry(s, c, CM_E_EPOCH_NOT_MATCH);
        return;
    }
    kv_batch batch;
    kv_batch_init(&batch);
    cm_arena arena;
    cm_arena_init(&arena, 4096);
    int rc = run_action(s, c, snap, &batch, &arena);
    kv_snapshot_release(snap);
    cm_arena_fini(&arena);
    if (!is_write(c->cmd.kind) || rc != 0 || kv_batch_count(&batch) == 0) {
        latch_release(s, t);
        free(t);
        kv_batch_fini(&batch);
        c->waiting = false;
        on_cmd_done(s, c, rc);
        return;
    }
    /* Propose under the latch; it is released when the batch applied (or failed). */
    node *nd = &s->nodes[t->store - 1];
    kv_raftstore_propose(nd->rs, res->region_id, res->regions[0].epoch, &batch, write_cb, t);
    kv_batch_fini(&batch);
}

static void cmd_issue(sim *s, bank_client *c)
{
    bank_cmd *k = &c->cmd;
    if (k->attempts++ == 0) {
        k->first_at = s->now;
    }
    int key = k->key;
    uint64_t store = c->route_store[key];
    if (store == 0 || !s->nodes[store - 1].up) {
        store = c->route_store[key] = sim_random_up_store(s);
    }
    if (store == 0) {
        cmd_retry(s, c, CM_E_UNAVAILABLE);
        return;
    }
    kv_raftstore *rs = s->nodes[store - 1].rs;
    cm_buf ek = CM_BUF_INIT;
    encoded(key, &ek);
    uint64_t region = c->route_region[key];
    kv_region r;
    kv_region_init(&r);
    if ((region == 0 || kv_raftstore_region(rs, region, &r, NULL) != 0 ||
         !kv_region_contains(&r, cm_buf_slice(&ek))) &&
        (kv_raftstore_route(rs, cm_buf_slice(&ek), &region) != 0 ||
         kv_raftstore_region(rs, region, &r, NULL) != 0)) {
        kv_region_fini(&r);
        cm_buf_fini(&ek);
        c->route_region[key] = 0;
        c->route_store[key] = sim_random_up_store(s);
        cmd_retry(s, c, CM_E_REGION_NOT_FOUND);
        return;
    }
    cm_buf_fini(&ek);
    c->route_region[key] = region;
    kv_epoch ep = r.epoch;
    kv_region_fini(&r);
    sim_bank *b = s->bk;
    if (is_write(k->kind) && b->latch[store - 1][key] != 0) {
        k->attempts--; /* waiting for a latch is not a failed attempt */
        c->next_at = s->now + 1000000 + sim_rng_below(&s->r, 5000000);
        return;
    }
    token *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        abort();
    }
    k->id = ++b->next_cmd_id;
    k->issued_at = s->now;
    t->s = s;
    t->client = c->idx;
    t->key = key;
    t->id = k->id;
    t->store = store;
    if (is_write(k->kind)) {
        b->latch[store - 1][key] = t->id;
        t->latched = true;
    }
    c->waiting = true;
    c->next_at = UINT64_MAX;
    kv_raftstore_read(rs, region, ep, read_cb, t);
}

/* Sets up the next command; the caller fills its fields, then cmd_go issues it. */
static bank_cmd *cmd_prep(bank_client *c, uint8_t kind, int key)
{
    bank_cmd *k = &c->cmd;
    uint64_t id = k->id;
    memset(k, 0, sizeof(*k));
    k->id = id;
    k->kind = kind;
    k->key = key;
    k->start_ts = c->start_ts;
    k->commit_ts = c->commit_ts;
    return k;
}

static void cmd_go(sim *s, bank_client *c)
{
    if (++c->steps > BANK_TXN_STEPS_MAX) {
        c->phase = PH_IDLE; /* give up on this transaction: its locks expire and get resolved */
        c->next_at = s->now + TICK_NS;
        return;
    }
    cmd_issue(s, c);
}

static void cmd_start(sim *s, bank_client *c, uint8_t kind, int key)
{
    (void)cmd_prep(c, kind, key);
    cmd_go(s, c);
}

/* ---- transactions --------------------------------------------------------------------------- */

static void txn_end(sim *s, bank_client *c)
{
    c->phase = PH_IDLE;
    c->waiting = false;
    c->next_at = s->now + 1000000 + sim_rng_below(&s->r, TICK_NS);
}

static void start_resolve(sim *s, bank_client *c, int resume)
{
    bank_cmd *k = &c->cmd;
    c->resume = resume;
    c->lock_key = k->key;
    c->lock_primary = k->lock_primary;
    c->lock_start_ts = k->lock_start_ts;
    c->lock_ttl = k->lock_ttl;
    c->phase = PH_RESOLVE_CHECK;
    uint64_t now_ts = tso(s);
    bank_cmd *n = cmd_prep(c, CMD_CHECK, c->lock_primary);
    n->start_ts = c->lock_start_ts;
    n->current_ts = now_ts;
    /* With no lock and no record at the primary, roll it back only once the lock we met has
     * expired: before that the primary's prewrite may still be on its way. */
    n->rollback_if_not_exist = kv_txn_lock_expired(c->lock_start_ts, c->lock_ttl, now_ts);
    cmd_go(s, c);
}

/* Re-runs the read that met a lock (its phase and key are kept in resume / lock_key). */
static void resume_read(sim *s, bank_client *c, uint64_t delay)
{
    c->phase = c->resume;
    (void)cmd_prep(c, CMD_GET, c->lock_key);
    if (delay > 0) {
        c->waiting = false;
        c->next_at = s->now + delay; /* sim_bank_act issues it then */
        return;
    }
    cmd_go(s, c);
}

static void start_reader(sim *s, bank_client *c)
{
    c->reader = true;
    c->start_ts = tso(s);
    c->commit_ts = 0;
    c->read_i = 0;
    c->sum = 0;
    c->steps = 0;
    c->phase = PH_READ_ALL;
    cmd_start(s, c, CMD_GET, 0);
}

static void start_transfer(sim *s, bank_client *c)
{
    c->reader = false;
    c->from = (int)sim_rng_below(&s->r, BANK_ACCOUNTS);
    c->to = (int)((c->from + 1 + sim_rng_below(&s->r, BANK_ACCOUNTS - 1)) % BANK_ACCOUNTS);
    c->amount = 1 + sim_rng_below(&s->r, 20);
    c->start_ts = tso(s);
    c->commit_ts = 0;
    c->steps = 0;
    c->phase = PH_READ_FROM;
    cmd_start(s, c, CMD_GET, c->from);
}

static void abort_txn(sim *s, bank_client *c, bool secondary_too)
{
    s->bk->aborted++;
    if (secondary_too) {
        c->phase = PH_ROLLBACK_S;
        cmd_start(s, c, CMD_ROLLBACK, c->to);
    } else {
        c->phase = PH_ROLLBACK_P;
        cmd_start(s, c, CMD_ROLLBACK, c->from);
    }
}

/* Checks the commit record of acknowledged transaction verify_i. */
static void verify_next(sim *s, bank_client *c)
{
    const acked *a = &s->bk->acks[c->verify_i];
    bank_cmd *n = cmd_prep(c, CMD_VERIFY, a->prim);
    n->start_ts = a->start_ts;
    n->commit_ts = a->commit_ts;
    cmd_go(s, c);
}

static void on_cmd_done(sim *s, bank_client *c, int rc)
{
    sim_bank *b = s->bk;
    bank_cmd *k = &c->cmd;
    sim_hash_in(s, ((uint64_t)c->phase << 40) ^ ((uint64_t)(uint32_t)rc << 8) ^ k->value);
    sim_trace(s, "bank: client %d phase %d cmd %d acct%d -> %s (attempts %d)", c->idx, c->phase,
              k->kind, k->key, cm_err_name(rc), k->attempts);
    switch (c->phase) {
    case PH_READ_FROM:
    case PH_READ_TO:
    case PH_READ_ALL:
        if (rc == CM_E_KEY_IS_LOCKED && k->lock_primary >= 0) {
            start_resolve(s, c, c->phase);
            return;
        }
        if (rc != 0) {
            if (c->final_reader) {
                /* keep trying the same account: the faults stopped */
                c->steps = 0;
                c->waiting = false;
                c->next_at = s->now + TICK_NS;
                (void)cmd_prep(c, CMD_GET, k->key);
                return;
            }
            txn_end(s, c);
            return;
        }
        if (c->phase == PH_READ_FROM) {
            c->bal_from = k->value;
            c->phase = PH_READ_TO;
            cmd_start(s, c, CMD_GET, c->to);
        } else if (c->phase == PH_READ_TO) {
            c->bal_to = k->value;
            if (c->bal_from < c->amount) {
                txn_end(s, c);
                return;
            }
            c->phase = PH_PREWRITE_P;
            bank_cmd *pp = cmd_prep(c, CMD_PREWRITE, c->from);
            pp->prim = c->from;
            pp->value = c->bal_from - c->amount;
            cmd_go(s, c);
        } else {
            c->sum += k->value;
            if (++c->read_i < BANK_ACCOUNTS) {
                cmd_start(s, c, CMD_GET, c->read_i);
                return;
            }
            b->checks++;
            sim_trace(s, "bank: total %llu at %llu", (unsigned long long)c->sum,
                      (unsigned long long)c->start_ts);
            if (c->sum != BANK_TOTAL) {
                sim_fail(s, "bank-total", "a snapshot at ts %llu sums to %llu, not %d",
                         (unsigned long long)c->start_ts, (unsigned long long)c->sum, BANK_TOTAL);
            }
            c->final_reader = false;
            txn_end(s, c);
        }
        return;
    case PH_PREWRITE_P:
        if (rc != 0) {
            abort_txn(s, c, false);
            return;
        }
        c->phase = PH_PREWRITE_S;
        bank_cmd *ps = cmd_prep(c, CMD_PREWRITE, c->to);
        ps->prim = c->from;
        ps->value = c->bal_to + c->amount;
        cmd_go(s, c);
        return;
    case PH_PREWRITE_S:
        if (rc != 0) {
            abort_txn(s, c, true);
            return;
        }
        c->commit_ts = tso(s);
        c->phase = PH_COMMIT_P;
        cmd_start(s, c, CMD_COMMIT, c->from);
        return;
    case PH_COMMIT_P:
        if (rc == 0) {
            b->committed++;
            if (b->n_acks < BANK_ACKED_MAX) {
                b->acks[b->n_acks].prim = c->from;
                b->acks[b->n_acks].start_ts = c->start_ts;
                b->acks[b->n_acks].commit_ts = c->commit_ts;
                b->n_acks++;
            }
            sim_trace(s, "bank: committed %d->%d %llu at %llu", c->from, c->to,
                      (unsigned long long)c->amount, (unsigned long long)c->commit_ts);
            c->phase = PH_COMMIT_S;
            cmd_start(s, c, CMD_COMMIT, c->to);
        } else if (rc == CM_E_TXN_ROLLED_BACK) {
            abort_txn(s, c, true); /* a resolver rolled us back: clean the secondary */
        } else {
            b->undetermined++; /* readers will resolve it through the primary */
            txn_end(s, c);
        }
        return;
    case PH_COMMIT_S:
    case PH_ROLLBACK_P:
        txn_end(s, c);
        return;
    case PH_ROLLBACK_S:
        c->phase = PH_ROLLBACK_P;
        cmd_start(s, c, CMD_ROLLBACK, c->from);
        return;
    case PH_RESOLVE_CHECK:
        if (rc == 0 && k->status != KV_TXN_STATE_LOCKED) {
            uint64_t commit_ts = k->status == KV_TXN_STATE_COMMITTED ? k->status_commit_ts : 0;
            c->phase = PH_RESOLVE_DO;
            bank_cmd *rs = cmd_prep(c, CMD_RESOLVE, c->lock_key);
            rs->start_ts = c->lock_start_ts;
            rs->commit_ts = commit_ts;
            cmd_go(s, c);
            return;
        }
        /* Alive, or not decidable yet: read again a little later. */
        resume_read(s, c, TICK_NS);
        return;
    case PH_RESOLVE_DO:
        if (rc == 0) {
            b->resolved++;
        }
        resume_read(s, c, 0);
        return;
    case PH_VERIFY:
        if (rc != 0) {
            if (c->steps < BANK_TXN_STEPS_MAX && rc != CM_E_NOT_FOUND && rc != CM_E_CORRUPT) {
                verify_next(s, c);
                return;
            }
            sim_fail(s, "bank-acked-commit",
                     "acknowledged commit of acct%d (start %llu, commit %llu) is missing: %s",
                     b->acks[c->verify_i].prim, (unsigned long long)b->acks[c->verify_i].start_ts,
                     (unsigned long long)b->acks[c->verify_i].commit_ts, cm_err_name(rc));
            c->phase = PH_IDLE;
            return;
        }
        b->verified++;
        c->steps = 0;
        if (++c->verify_i < b->n_acks) {
            verify_next(s, c);
            return;
        }
        c->phase = PH_IDLE;
        return;
    default:
        return;
    }
}

/* ---- hooks for sim_store.c ------------------------------------------------------------------ */

void sim_bank_init(sim *s)
{
    sim_bank *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        abort();
    }
    b->acks = calloc(BANK_ACKED_MAX, sizeof(*b->acks));
    if (b->acks == NULL) {
        abort();
    }
    for (int i = 0; i < BANK_CLIENTS; i++) {
        b->clients[i].idx = i;
        b->clients[i].next_at = s->now + sim_rng_below(&s->r, TICK_NS);
    }
    s->bk = b;
}

void sim_bank_fini(sim *s)
{
    sim_bank *b = s->bk;
    if (b == NULL) {
        return;
    }
    s->res->cov.bank_committed += b->committed;
    s->res->cov.bank_aborted += b->aborted;
    s->res->cov.bank_undetermined += b->undetermined;
    s->res->cov.bank_checks += b->checks;
    s->res->cov.bank_locks_resolved += b->resolved;
    s->res->cov.bank_commits_verified += b->verified;
    free(b->acks);
    free(b);
    s->bk = NULL;
}

uint64_t sim_bank_next_at(sim *s)
{
    uint64_t t = UINT64_MAX;
    for (int i = 0; s->bk != NULL && i < BANK_CLIENTS; i++) {
        const bank_client *c = &s->bk->clients[i];
        if (!c->waiting && c->next_at < t) {
            t = c->next_at;
        }
    }
    return t;
}

void sim_bank_act(sim *s)
{
    sim_bank *b = s->bk;
    for (int i = 0; i < BANK_CLIENTS; i++) {
        bank_client *c = &b->clients[i];
        if (c->waiting || c->next_at > s->now) {
            continue;
        }
        c->next_at = UINT64_MAX;
        if (c->phase != PH_IDLE) {
            cmd_issue(s, c); /* a retry of the current command */
        } else if (!b->stopping) {
            if (sim_rng_chance(&s->r, 250000)) {
                start_reader(s, c);
            } else {
                start_transfer(s, c);
            }
        }
    }
}

void sim_bank_tick(sim *s)
{
    sim_bank *b = s->bk;
    for (int i = 0; i < BANK_CLIENTS; i++) {
        bank_client *c = &b->clients[i];
        if (c->waiting && s->now - c->cmd.issued_at > BANK_CMD_TIMEOUT_TICKS * TICK_NS) {
            /* The attempt is abandoned: its callback, if it ever comes, is ignored. */
            c->waiting = false;
            c->cmd.id = ++b->next_cmd_id;
            cmd_retry(s, c, CM_E_TIMEOUT);
        }
    }
}

void sim_bank_on_crash(sim *s, uint64_t store)
{
    /* The store's latches die with it (its commands are answered CLOSED). */
    memset(s->bk->latch[store - 1], 0, sizeof(s->bk->latch[store - 1]));
}

void sim_bank_split_key(sim *s, int i, cm_buf *out)
{
    (void)s;
    encoded(1 + i % (BANK_ACCOUNTS - 1), out);
}

void sim_bank_final(sim *s)
{
    sim_bank *b = s->bk;
    b->stopping = true;
    /* Let the transactions in flight finish (bounded). */
    uint64_t end = s->now + 60 * TICK_NS;
    for (;;) {
        bool busy = false;
        for (int i = 0; i < BANK_CLIENTS; i++) {
            busy = busy || b->clients[i].phase != PH_IDLE;
        }
        if (!busy || s->now >= end || s->failed) {
            break;
        }
        sim_step(s, end);
    }
    for (int i = 0; i < BANK_CLIENTS; i++) {
        b->clients[i].phase = PH_IDLE;
        b->clients[i].waiting = false;
        b->clients[i].cmd.id = ++b->next_cmd_id;
        b->clients[i].next_at = UINT64_MAX;
    }
    /* A last reader: it must see the exact total, resolving whatever locks are left. */
    bank_client *c = &b->clients[0];
    uint64_t checks = b->checks;
    start_reader(s, c);
    c->final_reader = true;
    end = s->now + 200 * TICK_NS;
    while (b->checks == checks && s->now < end && !s->failed) {
        sim_step(s, end);
    }
    if (b->checks == checks && !s->failed) {
        sim_fail(s, "liveness", "the final bank reader did not finish after the faults stopped");
        return;
    }
    /* Every acknowledged commit's record is there. */
    if (b->n_acks > 0 && !s->failed) {
        c->verify_i = 0;
        c->steps = 0;
        c->phase = PH_VERIFY;
        verify_next(s, c);
        end = s->now + 400 * TICK_NS;
        while (c->phase == PH_VERIFY && s->now < end && !s->failed) {
            sim_step(s, end);
        }
        if (c->phase == PH_VERIFY && !s->failed) {
            sim_fail(s, "liveness", "acknowledged commits could not be verified in time");
        }
    }
}
