/*
 * kv_server.c — the kvnode server's lifecycle (kv_server.h): data directory, store id, PD
 * registration and bootstrap, the store loop thread, the PD thread (store and region heartbeats,
 * executing the operators PD answers them with) and the status document. Request handlers live in
 * kv_service.c.
 */
#include "kv_server_int.h"

#include "cm_log.h"
#include "cm_time.h"
#include "kv_rocks.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- store id file ------------------------------------------------------------------------ */

static int read_store_id(const char *dir, uint64_t *id)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/store_id", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return CM_E_NOT_FOUND;
    }
    unsigned long long v = 0;
    int ok = fscanf(f, "%llu", &v) == 1 && v > 0;
    fclose(f);
    if (!ok) {
        return CM_E_CORRUPT;
    }
    *id = v;
    return 0;
}

/* Written and fsynced (file and directory) before the id is used anywhere, so a restart always
 * comes back as the same store. */
static int write_store_id(const char *dir, uint64_t id, cm_err *err)
{
    char path[4096], tmp[4096];
    snprintf(path, sizeof(path), "%s/store_id", dir);
    snprintf(tmp, sizeof(tmp), "%s/store_id.tmp", dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        return cm_err_set(err, CM_E_IO, "open %s: %s", tmp, strerror(errno));
    }
    char line[32];
    int n = snprintf(line, sizeof(line), "%llu\n", (unsigned long long)id);
    int rc = (write(fd, line, (size_t)n) == n && fsync(fd) == 0) ? 0 : CM_E_IO;
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = CM_E_IO;
    }
    int dfd = open(dir, O_RDONLY);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    if (rc != 0) {
        return cm_err_set(err, CM_E_IO, "write %s: %s", path, strerror(errno));
    }
    return 0;
}

/* ---- conversions -------------------------------------------------------------------------- */

static int pd_to_region(const cm_pd_region *p, kv_region *r)
{
    r->id = p->id;
    r->epoch.conf_ver = p->conf_ver;
    r->epoch.version = p->version;
    r->n_peers = 0;
    for (uint32_t i = 0; i < p->npeers && i < KV_REGION_PEERS_MAX; i++) {
        r->peers[r->n_peers].id = p->peers[i].id;
        r->peers[r->n_peers].store_id = p->peers[i].store_id;
        r->peers[r->n_peers].role = (uint8_t)p->peers[i].role;
        r->n_peers++;
    }
    return kv_region_set_range(r, cm_buf_slice(&p->start_key), cm_buf_slice(&p->end_key));
}

static int region_to_pd(const kv_region *r, cm_pd_region *p)
{
    p->id = r->id;
    p->conf_ver = r->epoch.conf_ver;
    p->version = r->epoch.version;
    p->npeers = 0;
    for (uint8_t i = 0; i < r->n_peers && i < CM_PD_PEERS_MAX; i++) {
        p->peers[i].id = r->peers[i].id;
        p->peers[i].store_id = r->peers[i].store_id;
        p->peers[i].role = r->peers[i].role;
        p->npeers++;
    }
    cm_buf_reset(&p->start_key);
    cm_buf_reset(&p->end_key);
    int rc = cm_buf_append_slice(&p->start_key, kv_region_start(r));
    return rc ? rc : cm_buf_append_slice(&p->end_key, kv_region_end(r));
}

/* ---- environment callbacks (store thread) ------------------------------------------------- */

static uint64_t env_clock_ns(void *ctx)
{
    (void)ctx;
    return cm_time_mono_ns();
}

static uint64_t env_rand(void *ctx)
{
    (void)ctx;
    uint64_t a = (uint64_t)random(), b = (uint64_t)random(), c = (uint64_t)random();
    return (a << 42) ^ (b << 21) ^ c;
}

static int env_alloc_ids(void *ctx, size_t n, uint64_t *ids, cm_err *err)
{
    kv_server *s = ctx;
    uint64_t first = 0;
    int rc = cm_pd_alloc_ids(s->pd, (uint32_t)n, &first, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        ids[i] = first + i;
    }
    return rc;
}

/* Queues the report for the PD thread (latest report per region wins). */
static void env_heartbeat(void *ctx, const kv_region_heartbeat *hb)
{
    kv_server *s = ctx;
    pthread_mutex_lock(&s->mu);
    size_t i = 0;
    while (i < s->n_hbs && s->hbs[i].region.id != hb->region->id) {
        i++;
    }
    if (i == s->n_hbs) {
        if (s->n_hbs == KV_SRV_HB_QUEUE_MAX) {
            pthread_mutex_unlock(&s->mu);
            return; /* the next period reports it again */
        }
        kv_region_init(&s->hbs[i].region);
        s->n_hbs++;
    }
    kv_srv_hb *q = &s->hbs[i];
    if (kv_region_copy(&q->region, hb->region) == 0) {
        q->leader = hb->leader;
        q->term = hb->term;
        q->approx_bytes = hb->approx_bytes;
        q->approx_keys = hb->approx_keys;
        q->pending_peers = hb->pending_peers;
        memcpy(q->pending_peer_ids, hb->pending_peer_ids, sizeof(q->pending_peer_ids));
    }
    pthread_mutex_unlock(&s->mu);
}

static int resolve_store(void *ctx, uint64_t store_id, cm_buf *addr, cm_err *err)
{
    kv_server *s = ctx;
    char a[CM_ADDR_MAX];
    int rc = cm_pd_store_addr(s->pd, store_id, a, sizeof(a), err);
    if (rc == 0) {
        cm_buf_reset(addr);
        rc = cm_buf_append(addr, a, strlen(a));
    }
    return rc;
}

static int server_send(void *ctx, uint64_t to_store, uint32_t method, cm_slice payload)
{
    kv_server *s = ctx;
    return kv_transport_rpc_send(s->transport, to_store, method, payload);
}

/* ---- the store loop ------------------------------------------------------------------------ */

static void publish_summary(kv_server *s)
{
    uint64_t ids[4096];
    size_t n = kv_raftstore_region_ids(s->rs, ids, 4096);
    uint32_t leaders = 0;
    for (size_t i = 0; i < n && i < 4096; i++) {
        kv_peer_status st;
        if (kv_raftstore_region(s->rs, ids[i], NULL, &st) == 0 && st.leader) {
            leaders++;
        }
    }
    kv_srv_summary sum;
    sum.regions = (uint32_t)n;
    sum.leaders = leaders;
    kv_raftstore_stats_get(s->rs, &sum.rs);
    kv_engine_stats_get(s->engine, &sum.eng);
    pthread_mutex_lock(&s->mu);
    s->summary = sum;
    pthread_mutex_unlock(&s->mu);
}

/* Longest idle wait of the store loop when nothing wakes it. */
#define STORE_IDLE_WAIT_MS 10

/* kv_raftstore_env.wake_cb: a command was posted to the store loop; end its wait. */
static void server_wake(void *ctx)
{
    kv_server *s = ctx;
    kv_transport_rpc_wake(s->transport);
}

static void *store_loop(void *arg)
{
    kv_server *s = arg;
    uint64_t tick_ns = s->opts.tick_ms * 1000000ull;
    uint64_t next_tick = cm_time_mono_ns() + tick_ns;
    while (!atomic_load(&s->stop_store)) {
        kv_transport_rpc_drain(s->transport, s->rs, 0);
        uint64_t now = cm_time_mono_ns();
        if (now >= next_tick) {
            kv_raftstore_tick(s->rs);
            publish_summary(s);
            next_tick += tick_ns;
            if (next_tick < now) {
                next_tick = now + tick_ns;
            }
        }
        int rc = kv_raftstore_process(s->rs);
        if (rc != 0) {
            /* The engine failed: the store cannot go on (its state on disk is the truth; a
             * restart recovers from it). */
            CM_ERROR(KV_SRV, "store=%llu raftstore failed (%d): exiting",
                     (unsigned long long)s->store_id, rc);
            _exit(3);
        }
        if (!kv_raftstore_busy(s->rs)) {
            /* Raft messages and posted commands (proposals, reads) wake this wait at once
             * (server_wake); the timeout bounds the wait for the next tick and for anything
             * that does not wake us (at most STORE_IDLE_WAIT_MS). */
            uint64_t now2 = cm_time_mono_ns();
            int64_t left_ms = next_tick > now2 ? (int64_t)((next_tick - now2) / 1000000) + 1 : 0;
            kv_transport_rpc_wait(s->transport,
                                  left_ms < STORE_IDLE_WAIT_MS ? left_ms : STORE_IDLE_WAIT_MS);
        }
    }
    return NULL;
}

/* ---- PD's operators (PD thread) -----------------------------------------------------------
 * PD decides replica repair (pd/sched, docs/pd.md "Scheduling") and answers a leader's region
 * heartbeat with at most one operator. The leader executes it through the raftstore only while
 * its region still has the epoch PD decided against (the raftstore checks the epoch again when
 * it proposes), and runs one operator per region at a time: PD re-sends an operator with every
 * heartbeat until the region shows it done, so a copy arriving while one runs is skipped. */

typedef struct pd_op_run {
    kv_server *srv;
    uint64_t region_id;
    kv_epoch epoch;
    int kind; /* cm_pd_op_kind */
    kv_conf_op op;
    kv_peer peer;
} pd_op_run;

static void op_slot_set(kv_server *s, uint64_t region_id, uint64_t deadline_ms)
{
    pthread_mutex_lock(&s->mu);
    kv_srv_op *free_slot = NULL;
    uint64_t now = cm_time_mono_ms();
    for (size_t i = 0; i < 64; i++) {
        if (s->ops[i].region_id == region_id) {
            s->ops[i].deadline_ms = deadline_ms;
            pthread_mutex_unlock(&s->mu);
            return;
        }
        if (free_slot == NULL && s->ops[i].deadline_ms < now) {
            free_slot = &s->ops[i];
        }
    }
    if (free_slot != NULL) {
        free_slot->region_id = region_id;
        free_slot->deadline_ms = deadline_ms;
    }
    pthread_mutex_unlock(&s->mu);
}

/* Whether an operator of the region runs here; with no free slot, everything counts as busy
 * (the 64 slots bound the operators this store runs at once). */
static bool op_busy(kv_server *s, uint64_t region_id)
{
    bool busy = false, has_free = false;
    uint64_t now = cm_time_mono_ms();
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < 64; i++) {
        if (s->ops[i].deadline_ms > now) {
            busy |= s->ops[i].region_id == region_id;
        } else {
            has_free = true;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return busy || !has_free;
}

static void op_log_end(pd_op_run *o, int rc, const char *msg)
{
    if (rc != 0) {
        CM_WARN(KV_SRV, "region=%llu PD operator %d peer %llu@%llu failed: %s",
                (unsigned long long)o->region_id, o->kind, (unsigned long long)o->peer.id,
                (unsigned long long)o->peer.store_id, msg ? msg : "");
    } else {
        CM_INFO(KV_SRV, "region=%llu PD operator %d peer %llu@%llu done",
                (unsigned long long)o->region_id, o->kind, (unsigned long long)o->peer.id,
                (unsigned long long)o->peer.store_id);
        cm_counter_inc(o->srv->m_repairs);
    }
    /* A short gap so the next heartbeat shows the new state before another operator runs. */
    op_slot_set(o->srv, o->region_id, cm_time_mono_ms() + 500);
    free(o);
}

static void op_done(void *user, const kv_raftstore_result *res)
{
    op_log_end(user, res->rc, res->msg);
}

/* Store thread. */
static void op_post(kv_raftstore *rs, void *arg)
{
    pd_op_run *o = arg;
    if (o->kind == CM_PD_OP_TRANSFER_LEADER) {
        kv_region r;
        kv_region_init(&r);
        int rc = kv_raftstore_region(rs, o->region_id, &r, NULL);
        if (rc == 0 &&
            (r.epoch.conf_ver != o->epoch.conf_ver || r.epoch.version != o->epoch.version)) {
            rc = CM_E_EPOCH_NOT_MATCH;
        }
        kv_region_fini(&r);
        rc = rc ? rc : kv_raftstore_transfer_leader(rs, o->region_id, o->peer.id);
        op_log_end(o, rc, rc ? cm_err_name(rc) : NULL);
        return;
    }
    kv_raftstore_change_peer(rs, o->region_id, o->epoch, o->op, o->peer, op_done, o);
}

/* Runs PD's operator op for the region of heartbeat hb, if this store leads it and its epoch is
 * the one PD decided against. */
static void run_operator(kv_server *s, const kv_srv_hb *hb, const cm_pd_operator *op)
{
    const kv_region *r = &hb->region;
    if (op->kind == CM_PD_OP_NONE || op->region_id != r->id || hb->leader.store_id != s->store_id ||
        op->conf_ver != r->epoch.conf_ver || op->version != r->epoch.version || op_busy(s, r->id)) {
        return;
    }
    pd_op_run *o = calloc(1, sizeof(*o));
    if (o == NULL) {
        return;
    }
    o->srv = s;
    o->region_id = r->id;
    o->epoch = r->epoch;
    o->kind = op->kind;
    o->peer.id = op->peer.id;
    o->peer.store_id = op->peer.store_id;
    o->peer.role = op->peer.role == 1 ? KV_PEER_LEARNER : KV_PEER_VOTER;
    switch (op->kind) {
    case CM_PD_OP_ADD_LEARNER:
        o->op = KV_CONF_ADD_LEARNER;
        o->peer.role = KV_PEER_LEARNER;
        break;
    case CM_PD_OP_PROMOTE_LEARNER:
        o->op = KV_CONF_PROMOTE;
        break;
    case CM_PD_OP_REMOVE_PEER:
        o->op = KV_CONF_REMOVE;
        break;
    case CM_PD_OP_TRANSFER_LEADER:
        break;
    default:
        free(o);
        return;
    }
    op_slot_set(s, r->id, cm_time_mono_ms() + 10000);
    CM_INFO(KV_SRV, "region=%llu PD operator %d peer %llu@%llu", (unsigned long long)r->id,
            op->kind, (unsigned long long)o->peer.id, (unsigned long long)o->peer.store_id);
    if (kv_raftstore_post(s->rs, op_post, o) != 0) {
        op_slot_set(s, r->id, 0);
        free(o);
    }
}

static void send_heartbeats(kv_server *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->n_hbs;
    kv_srv_hb *q = NULL;
    if (n > 0) {
        q = s->hbs;
        s->hbs = calloc(KV_SRV_HB_QUEUE_MAX, sizeof(kv_srv_hb));
        if (s->hbs == NULL) { /* keep the old queue */
            s->hbs = q;
            pthread_mutex_unlock(&s->mu);
            return;
        }
        s->n_hbs = 0;
    }
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < n; i++) {
        cm_pd_region pr;
        cm_pd_region_init(&pr);
        cm_pd_operator op;
        memset(&op, 0, sizeof(op));
        if (region_to_pd(&q[i].region, &pr) == 0) {
            pr.leader.id = q[i].leader.id;
            pr.leader.store_id = q[i].leader.store_id;
            pr.approx_size_bytes = q[i].approx_bytes;
            pr.approx_keys = q[i].approx_keys;
            cm_pd_peer pending[CM_PD_PEERS_MAX];
            uint32_t np = 0;
            for (uint32_t j = 0; j < q[i].pending_peers && np < CM_PD_PEERS_MAX; j++) {
                const kv_peer *p = kv_region_peer(&q[i].region, q[i].pending_peer_ids[j]);
                if (p != NULL) {
                    pending[np].id = p->id;
                    pending[np].store_id = p->store_id;
                    pending[np].role = p->role;
                    np++;
                }
            }
            cm_err err;
            int rc = cm_pd_region_heartbeat_op(s->pd, &pr, pending, np, &op, &err);
            if (rc != 0 && rc != CM_E_STALE_EPOCH) {
                CM_WARN(KV_SRV, "region=%llu heartbeat: %s", (unsigned long long)pr.id, err.msg);
            }
        }
        cm_pd_region_fini(&pr);
        run_operator(s, &q[i], &op);
        kv_region_fini(&q[i].region);
    }
    free(q);
}

static void store_heartbeat(kv_server *s)
{
    kv_srv_summary sum;
    pthread_mutex_lock(&s->mu);
    sum = s->summary;
    pthread_mutex_unlock(&s->mu);
    cm_pd_store_stats st;
    memset(&st, 0, sizeof(st));
    st.store_id = s->store_id;
    st.region_count = sum.regions;
    st.leader_count = sum.leaders;
    st.capacity_bytes = 1ull << 40;
    st.available_bytes = 1ull << 40;
    cm_err err;
    if (cm_pd_store_heartbeat(s->pd, &st, &err) != 0) {
        CM_WARN(KV_SRV, "store heartbeat: %s", err.msg);
    }
    cm_gauge_set(s->m_regions, sum.regions);
    cm_gauge_set(s->m_leaders, sum.leaders);
    cm_gauge_set(s->m_syncs, (int64_t)sum.eng.syncs);
    cm_gauge_set(s->m_writes, (int64_t)sum.eng.writes);
    cm_gauge_set(s->m_proposals, (int64_t)sum.rs.proposals);
    cm_gauge_set(s->m_applied, (int64_t)sum.rs.writes_applied);
    cm_gauge_set(s->m_lease_reads, (int64_t)sum.rs.lease_reads);
    cm_gauge_set(s->m_index_reads, (int64_t)sum.rs.index_reads);
}

static void *pd_loop(void *arg)
{
    kv_server *s = arg;
    uint64_t next_store_hb = 0;
    while (!atomic_load(&s->stop_pd)) {
        uint64_t now = cm_time_mono_ms();
        if (now >= next_store_hb) {
            store_heartbeat(s);
            next_store_hb = now + 1000;
        }
        send_heartbeats(s);
        cm_time_sleep_ms(50);
    }
    return NULL;
}

/* ---- status -----------------------------------------------------------------------------------
 */

int kv_server_status_json(void *user, cm_buf *out)
{
    kv_server *s = user;
    kv_srv_summary sum;
    pthread_mutex_lock(&s->mu);
    sum = s->summary;
    pthread_mutex_unlock(&s->mu);
    return cm_buf_printf(
        out,
        "{\"component\":\"kvnode\",\"store_id\":%llu,\"address\":\"%s\",\"regions\":%u,"
        "\"leaders\":%u,\"engine\":{\"writes\":%llu,\"syncs\":%llu},\"raftstore\":{"
        "\"proposals\":%llu,\"writes_applied\":%llu,\"lease_reads\":%llu,\"index_reads\":%llu,"
        "\"splits_applied\":%llu,\"conf_changes_applied\":%llu,\"snapshots_applied\":%llu},"
        "\"config\":%s}",
        (unsigned long long)s->store_id, s->advertise, sum.regions, sum.leaders,
        (unsigned long long)sum.eng.writes, (unsigned long long)sum.eng.syncs,
        (unsigned long long)sum.rs.proposals, (unsigned long long)sum.rs.writes_applied,
        (unsigned long long)sum.rs.lease_reads, (unsigned long long)sum.rs.index_reads,
        (unsigned long long)sum.rs.splits_applied, (unsigned long long)sum.rs.conf_changes_applied,
        (unsigned long long)sum.rs.snapshots_applied, s->config_json ? s->config_json : "{}");
}

/* ---- start / stop ------------------------------------------------------------------------ */

static void register_metrics(kv_server *s)
{
    cm_metrics *m = cm_metrics_global();
    size_t n = 0;
    const cm_rpc_method *ms = kv_service_methods(&n);
    for (size_t i = 0; i < n; i++) {
        char labels[96];
        snprintf(labels, sizeof(labels), "method=\"%s\"", ms[i].name);
        if (ms[i].id < 64) {
            s->m_requests[ms[i].id] = cm_metrics_counter(m, "tessera_kv_requests_total", labels,
                                                         "KV RPC requests by method");
        }
    }
    s->m_errors = cm_metrics_counter(m, "tessera_kv_request_errors_total", NULL,
                                     "KV requests answered with a region or RPC error");
    s->m_regions = cm_metrics_gauge(m, "tessera_kv_regions", NULL, "regions on this store");
    s->m_leaders = cm_metrics_gauge(m, "tessera_kv_leaders", NULL, "regions led by this store");
    s->m_syncs = cm_metrics_gauge(m, "tessera_kv_engine_syncs", NULL,
                                  "durable points reached by the engine (WAL fsyncs)");
    s->m_writes = cm_metrics_gauge(m, "tessera_kv_engine_writes", NULL, "engine write batches");
    s->m_proposals = cm_metrics_gauge(m, "tessera_kv_raft_proposals", NULL, "proposals made");
    s->m_applied =
        cm_metrics_gauge(m, "tessera_kv_raft_writes_applied", NULL, "write commands applied");
    s->m_lease_reads = cm_metrics_gauge(m, "tessera_kv_lease_reads", NULL, "reads under a lease");
    s->m_index_reads = cm_metrics_gauge(m, "tessera_kv_index_reads", NULL, "ReadIndex reads");
    s->m_repairs = cm_metrics_counter(m, "tessera_kv_pd_operators_total", NULL,
                                      "PD operators (membership, leader) this store executed");
    s->m_copr_requests = cm_metrics_counter(m, "tessera_kv_copr_requests_total", NULL,
                                            "coprocessor requests answered");
    s->m_copr_scanned = cm_metrics_counter(m, "tessera_kv_copr_rows_scanned_total", NULL,
                                           "rows the coprocessor read from the MVCC layer");
    s->m_copr_returned = cm_metrics_counter(m, "tessera_kv_copr_rows_returned_total", NULL,
                                            "rows or partial-aggregate groups sent back");
    s->m_copr_bytes = cm_metrics_counter(m, "tessera_kv_copr_bytes_returned_total", NULL,
                                         "bytes of coprocessor response data sent back");
    static const double copr_bounds[] = {0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5};
    s->m_copr_seconds = cm_metrics_histogram(m, "tessera_kv_copr_duration_seconds", NULL,
                                             "time of one coprocessor request", copr_bounds,
                                             (int)(sizeof(copr_bounds) / sizeof(copr_bounds[0])));
}

static int addr_with_port(const char *addr, int port, char *out, size_t cap)
{
    const char *colon = strrchr(addr, ':');
    size_t hl = colon ? (size_t)(colon - addr) : strlen(addr);
    int n = snprintf(out, cap, "%.*s:%d", (int)hl, addr, port);
    return (n < 0 || (size_t)n >= cap) ? CM_E_INVALID : 0;
}

static int register_store(kv_server *s, cm_err *err)
{
    int rc;
    cm_pd_store st;
    memset(&st, 0, sizeof(st));
    st.id = s->store_id;
    snprintf(st.address, sizeof(st.address), "%s", s->advertise);
    snprintf(st.status_address, sizeof(st.status_address), "%s", s->status_advertise);
    st.start_ts_ms = cm_time_wall_ms();
    cm_pd_region boot;
    cm_pd_region_init(&boot);
    int has_boot = 0;
    rc = cm_pd_put_store(s->pd, &st, &boot, &has_boot, err);
    if (rc == 0 && has_boot) {
        kv_region r;
        kv_region_init(&r);
        rc = pd_to_region(&boot, &r);
        if (rc == 0) {
            cm_err e2;
            int brc = kv_raftstore_bootstrap(s->engine, s->store_id, &r, &e2);
            if (brc == 0) {
                CM_INFO(KV_SRV, "bootstrapped region %llu", (unsigned long long)r.id);
            } else if (brc != CM_E_EXISTS) {
                rc = cm_err_set(err, brc, "bootstrap: %s", e2.msg);
            }
        }
        kv_region_fini(&r);
    }
    cm_pd_region_fini(&boot);
    return rc;
}

static int start_servers(kv_server *s, cm_err *err)
{
    int rc = cm_rpc_server_create(s->opts.listen_addr, s->opts.rpc_workers, &s->rpc, err);
    size_t n = 0;
    const cm_rpc_method *ms = NULL;
    if (rc == 0) {
        ms = kv_transport_rpc_methods(&n);
        rc = cm_rpc_server_register(s->rpc, ms, n, s->transport, err);
    }
    if (rc == 0) {
        /* Its handler only queues the payload for the store loop: running it on the receiving
         * nng thread saves a worker wake on every Raft message (docs/raftstore.md, "Latency of
         * a commit"). */
        rc = cm_rpc_server_set_inline(s->rpc, KV_RAFTSTORE_MSG_BATCH, err);
    }
    if (rc == 0) {
        ms = kv_service_methods(&n);
        rc = cm_rpc_server_register(s->rpc, ms, n, s, err);
    }
    rc = rc ? rc : cm_rpc_server_start(s->rpc, err);
    if (rc != 0) {
        return rc;
    }
    if (s->opts.advertise_addr && s->opts.advertise_addr[0]) {
        snprintf(s->advertise, sizeof(s->advertise), "%s", s->opts.advertise_addr);
    } else {
        addr_with_port(s->opts.listen_addr, cm_rpc_server_port(s->rpc), s->advertise,
                       sizeof(s->advertise));
    }
    if (s->opts.status_addr && s->opts.status_addr[0]) {
        rc = cm_status_server_start(s->opts.status_addr, cm_metrics_global(), kv_server_status_json,
                                    s, &s->status, err);
        if (rc != 0) {
            return rc;
        }
        addr_with_port(s->opts.status_addr, cm_status_server_port(s->status), s->status_advertise,
                       sizeof(s->status_advertise));
    }
    return 0;
}

int kv_server_start(const kv_server_options *o, kv_server **out, cm_err *err)
{
    *out = NULL;
    kv_server *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    s->opts = *o;
    if (s->opts.rpc_workers <= 0) {
        s->opts.rpc_workers = CM_RPC_WORKERS_DEFAULT;
    }
    /* Leave workers for the Raft transport (see kv_service.c). */
    s->kv_inflight_max =
        s->opts.rpc_workers > 8 ? s->opts.rpc_workers - 4 : s->opts.rpc_workers / 2;
    if (s->kv_inflight_max < 1) {
        s->kv_inflight_max = 1;
    }
    if (s->opts.tick_ms == 0) {
        s->opts.tick_ms = 100;
    }
    s->data_dir = strdup(o->data_dir);
    s->config_json = strdup(o->config_json ? o->config_json : "{}");
    pthread_mutex_init(&s->mu, NULL);
    s->hbs = calloc(KV_SRV_HB_QUEUE_MAX, sizeof(kv_srv_hb));
    int rc = (s->data_dir && s->config_json && s->hbs) ? 0 : CM_E_NOMEM;
    if (rc != 0) {
        cm_err_set(err, rc, "out of memory");
        goto fail;
    }
    srandom((unsigned)(cm_time_mono_ns() ^ (uint64_t)getpid()));
    if (mkdir(s->data_dir, 0755) != 0 && errno != EEXIST) {
        rc = cm_err_set(err, CM_E_IO, "mkdir %s: %s", s->data_dir, strerror(errno));
        goto fail;
    }
    register_metrics(s);
    char dbpath[4096];
    snprintf(dbpath, sizeof(dbpath), "%s/db", s->data_dir);
    kv_rocks_opts ro = {dbpath, o->block_cache_bytes, 0, true};
    rc = kv_rocks_open(&ro, &s->engine, err);
    rc = rc ? rc : kv_latches_new(0, &s->latches, err);
    rc = rc ? rc : cm_pd_client_create(o->pd_addr, NULL, &s->pd, err);
    if (rc != 0) {
        goto fail;
    }
    /* The transport needs the store id; the RPC server needs the transport; the store id needs
     * PD and the advertised address (the bound port). Read or allocate the id first. */
    rc = read_store_id(s->data_dir, &s->store_id);
    if (rc == CM_E_NOT_FOUND) {
        uint64_t id = 0;
        rc = cm_pd_alloc_ids(s->pd, 1, &id, err);
        rc = rc ? rc : write_store_id(s->data_dir, id, err);
        s->store_id = id;
    } else if (rc != 0) {
        rc = cm_err_set(err, rc, "%s/store_id is unreadable", s->data_dir);
    }
    if (rc != 0) {
        goto fail;
    }
    kv_transport_rpc_config tc;
    memset(&tc, 0, sizeof(tc));
    tc.store_id = s->store_id;
    tc.resolve_cb = resolve_store;
    tc.resolve_ctx = s;
    rc = kv_transport_rpc_create(&tc, &s->transport, err);
    rc = rc ? rc : start_servers(s, err);
    rc = rc ? rc : register_store(s, err);
    if (rc != 0) {
        goto fail;
    }
    kv_raftstore_env env;
    memset(&env, 0, sizeof(env));
    env.engine = s->engine;
    kv_raftstore_config rcfg;
    kv_raftstore_config_default(&rcfg);
    rcfg.store_id = s->store_id;
    rcfg.tick_ns = s->opts.tick_ms * 1000000ull;
    if (o->election_ticks) {
        rcfg.election_tick = o->election_ticks;
    }
    if (o->heartbeat_ticks) {
        rcfg.heartbeat_tick = o->heartbeat_ticks;
    }
    /* Followers persist a proposal while the leader does (docs/raftstore.md, "Latency of a
     * commit"): the leader's appends promise nothing about its own disk. */
    rcfg.send_before_sync = true;
    /* env.ctx is the server; server_send hands messages to the transport. */
    env.ctx = s;
    env.clock_ns_cb = env_clock_ns;
    env.rand_cb = env_rand;
    env.alloc_ids_cb = env_alloc_ids;
    env.heartbeat_cb = env_heartbeat;
    env.send_cb = server_send;
    env.wake_cb = server_wake;
    rc = kv_raftstore_open(&env, &rcfg, &s->rs, err);
    if (rc != 0) {
        goto fail;
    }
    publish_summary(s);
    atomic_store(&s->ready, true);
    if (pthread_create(&s->store_thread, NULL, store_loop, s) != 0) {
        rc = cm_err_set(err, CM_E_NOMEM, "cannot start the store thread");
        goto fail;
    }
    s->store_thread_started = true;
    if (pthread_create(&s->pd_thread, NULL, pd_loop, s) != 0) {
        rc = cm_err_set(err, CM_E_NOMEM, "cannot start the PD thread");
        goto fail;
    }
    s->pd_thread_started = true;
    CM_INFO(KV_SRV, "store=%llu serving on %s", (unsigned long long)s->store_id, s->advertise);
    *out = s;
    return 0;
fail:
    kv_server_stop(s);
    return rc;
}

void kv_server_stop(kv_server *s)
{
    if (s == NULL) {
        return;
    }
    /* RPC first: in-flight handlers may wait on the store thread, which still runs. */
    cm_rpc_server_free(s->rpc);
    s->rpc = NULL;
    if (s->pd_thread_started) {
        atomic_store(&s->stop_pd, true);
        pthread_join(s->pd_thread, NULL);
    }
    if (s->store_thread_started) {
        atomic_store(&s->stop_store, true);
        pthread_join(s->store_thread, NULL);
    }
    if (s->status) {
        cm_status_server_stop(s->status);
    }
    kv_raftstore_close(s->rs);
    kv_transport_rpc_free(s->transport);
    cm_pd_client_free(s->pd);
    kv_latches_free(s->latches);
    kv_engine_close(s->engine);
    for (size_t i = 0; s->hbs && i < s->n_hbs; i++) {
        kv_region_fini(&s->hbs[i].region);
    }
    free(s->hbs);
    pthread_mutex_destroy(&s->mu);
    free(s->data_dir);
    free(s->config_json);
    free(s);
}

uint64_t kv_server_store_id(const kv_server *s)
{
    return s->store_id;
}

int kv_server_rpc_port(const kv_server *s)
{
    return s->rpc ? cm_rpc_server_port(s->rpc) : 0;
}

int kv_server_status_port(const kv_server *s)
{
    return s->status ? cm_status_server_port(s->status) : 0;
}
