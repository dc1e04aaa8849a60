/* kv_transport_rpc.c — the raftstore's RPC transport (kv_transport_rpc.h). */
#include "kv_transport_rpc.h"

#include "kvrpcpb.pb-c.h"

#include "cm_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COMPONENT "raft-transport"

typedef struct peer_client {
    uint64_t store_id;
    cm_rpc_client *client;
} peer_client;

typedef struct inbox_item {
    uint32_t method;
    cm_buf payload;
} inbox_item;

struct kv_transport_rpc {
    kv_transport_rpc_config cfg;

    pthread_mutex_t clients_mu;
    peer_client *clients;
    size_t n_clients;
    size_t cap_clients;

    pthread_mutex_t inbox_mu;
    pthread_cond_t inbox_cv;
    inbox_item *items;
    size_t head;
    size_t n_items;
    size_t cap_items;
    uint64_t inbox_bytes;
    bool woken;

    pthread_mutex_t stats_mu;
    kv_transport_rpc_stats stats;
};

static void count(kv_transport_rpc *t, uint64_t *field)
{
    pthread_mutex_lock(&t->stats_mu);
    (*field)++;
    pthread_mutex_unlock(&t->stats_mu);
}

int kv_transport_rpc_create(const kv_transport_rpc_config *cfg, kv_transport_rpc **out, cm_err *err)
{
    *out = NULL;
    if (cfg->resolve_cb == NULL || cfg->store_id == 0) {
        return cm_err_set(err, CM_E_INVALID, "raft transport: store id and resolver needed");
    }
    kv_transport_rpc *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "raft transport: out of memory");
    }
    t->cfg = *cfg;
    if (t->cfg.call_timeout_ms <= 0) {
        t->cfg.call_timeout_ms = 2000;
    }
    if (t->cfg.inbox_bytes_max == 0) {
        t->cfg.inbox_bytes_max = KV_TRANSPORT_INBOX_BYTES_MAX;
    }
    pthread_mutex_init(&t->clients_mu, NULL);
    pthread_mutex_init(&t->inbox_mu, NULL);
    pthread_cond_init(&t->inbox_cv, NULL);
    pthread_mutex_init(&t->stats_mu, NULL);
    *out = t;
    return 0;
}

void kv_transport_rpc_free(kv_transport_rpc *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < t->n_clients; i++) {
        cm_rpc_client_free(t->clients[i].client); /* runs outstanding callbacks now */
    }
    free(t->clients);
    for (size_t i = 0; i < t->n_items; i++) {
        cm_buf_fini(&t->items[(t->head + i) % t->cap_items].payload);
    }
    free(t->items);
    pthread_mutex_destroy(&t->clients_mu);
    pthread_mutex_destroy(&t->inbox_mu);
    pthread_cond_destroy(&t->inbox_cv);
    pthread_mutex_destroy(&t->stats_mu);
    free(t);
}

/* ---- out ------------------------------------------------------------------------------------ */

static cm_rpc_client *client_for(kv_transport_rpc *t, uint64_t store_id)
{
    pthread_mutex_lock(&t->clients_mu);
    for (size_t i = 0; i < t->n_clients; i++) {
        if (t->clients[i].store_id == store_id) {
            cm_rpc_client *c = t->clients[i].client;
            pthread_mutex_unlock(&t->clients_mu);
            return c;
        }
    }
    cm_rpc_client *c = NULL;
    cm_buf addr = CM_BUF_INIT;
    cm_err err;
    memset(&err, 0, sizeof(err));
    int rc = t->cfg.resolve_cb(t->cfg.resolve_ctx, store_id, &addr, &err);
    if (rc == 0) {
        rc = cm_buf_terminate(&addr);
    }
    if (rc == 0) {
        rc = cm_rpc_client_create((const char *)addr.ptr, &c, &err);
    }
    if (rc == 0 && t->n_clients == t->cap_clients) {
        size_t cap = t->cap_clients ? t->cap_clients * 2 : 8;
        peer_client *v = realloc(t->clients, cap * sizeof(*v));
        if (v == NULL) {
            rc = CM_E_NOMEM;
        } else {
            t->clients = v;
            t->cap_clients = cap;
        }
    }
    if (rc == 0) {
        t->clients[t->n_clients].store_id = store_id;
        t->clients[t->n_clients].client = c;
        t->n_clients++;
    } else {
        cm_rpc_client_free(c);
        c = NULL;
        CM_WARN(COMPONENT, "store=%llu no client for store %llu: %s",
                (unsigned long long)t->cfg.store_id, (unsigned long long)store_id,
                err.code ? err.msg : cm_err_name(rc));
    }
    pthread_mutex_unlock(&t->clients_mu);
    cm_buf_fini(&addr);
    return c;
}

static void sent_cb(void *arg, int rc, cm_slice reply, const cm_err *err)
{
    (void)reply;
    (void)err;
    kv_transport_rpc *t = arg;
    if (rc != 0) {
        count(t, &t->stats.call_failed);
    }
}

int kv_transport_rpc_send(void *ctx, uint64_t to_store, uint32_t method, cm_slice payload)
{
    kv_transport_rpc *t = ctx;
    cm_rpc_client *c = client_for(t, to_store);
    if (c == NULL) {
        count(t, &t->stats.send_failed);
        return CM_E_UNAVAILABLE;
    }
    cm_err err;
    int rc = cm_rpc_call_async(c, method, payload, t->cfg.call_timeout_ms, sent_cb, t, &err);
    count(t, rc == 0 ? &t->stats.sent : &t->stats.send_failed);
    return rc;
}

/* ---- in ------------------------------------------------------------------------------------- */

static int inbox_put(kv_transport_rpc *t, uint32_t method, cm_slice payload, cm_err *err)
{
    pthread_mutex_lock(&t->inbox_mu);
    int rc = 0;
    if (t->inbox_bytes + payload.len > t->cfg.inbox_bytes_max) {
        rc = cm_err_set(err, CM_E_SERVER_IS_BUSY, "raft inbox full");
    } else if (t->n_items == t->cap_items) {
        size_t cap = t->cap_items ? t->cap_items * 2 : 64;
        inbox_item *v = malloc(cap * sizeof(*v));
        if (v == NULL) {
            rc = cm_err_set(err, CM_E_NOMEM, "raft inbox: out of memory");
        } else {
            for (size_t i = 0; i < t->n_items; i++) {
                v[i] = t->items[(t->head + i) % t->cap_items];
            }
            free(t->items);
            t->items = v;
            t->cap_items = cap;
            t->head = 0;
        }
    }
    if (rc == 0) {
        inbox_item *it = &t->items[(t->head + t->n_items) % t->cap_items];
        it->method = method;
        cm_buf_init(&it->payload);
        if (cm_buf_append_slice(&it->payload, payload) != 0) {
            rc = cm_err_set(err, CM_E_NOMEM, "raft inbox: out of memory");
        } else {
            t->n_items++;
            t->inbox_bytes += payload.len;
            pthread_cond_signal(&t->inbox_cv);
        }
    }
    pthread_mutex_unlock(&t->inbox_mu);
    count(t, rc == 0 ? &t->stats.received : &t->stats.refused_busy);
    return rc;
}

static int on_raft_batch(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    int rc = inbox_put(user, KV_RAFTSTORE_MSG_BATCH, req->payload, err);
    if (rc != 0) {
        return rc;
    }
    Tessera__Kvrpcpb__BatchRaftResponse r = TESSERA__KVRPCPB__BATCH_RAFT_RESPONSE__INIT;
    r.accepted = 1;
    return cm_rpc_pack(&r.base, reply);
}

static int on_snapshot_chunk(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    int rc = inbox_put(user, KV_RAFTSTORE_MSG_SNAPSHOT, req->payload, err);
    if (rc != 0) {
        return rc;
    }
    Tessera__Kvrpcpb__SnapshotChunkResponse r = TESSERA__KVRPCPB__SNAPSHOT_CHUNK_RESPONSE__INIT;
    return cm_rpc_pack(&r.base, reply);
}

static const cm_rpc_method methods[] = {
    {TESSERA__KVRPCPB__METHOD__RAFT_BATCH, "raft_batch", on_raft_batch},
    {TESSERA__KVRPCPB__METHOD__SNAPSHOT_CHUNK, "snapshot_chunk", on_snapshot_chunk},
};

_Static_assert(TESSERA__KVRPCPB__METHOD__RAFT_BATCH == KV_RAFTSTORE_MSG_BATCH &&
                   TESSERA__KVRPCPB__METHOD__SNAPSHOT_CHUNK == KV_RAFTSTORE_MSG_SNAPSHOT,
               "the raftstore's method numbers are proto/kvrpcpb.proto's");

const cm_rpc_method *kv_transport_rpc_methods(size_t *n)
{
    *n = sizeof(methods) / sizeof(methods[0]);
    return methods;
}

size_t kv_transport_rpc_drain(kv_transport_rpc *t, kv_raftstore *s, size_t max)
{
    size_t done = 0;
    while (max == 0 || done < max) {
        pthread_mutex_lock(&t->inbox_mu);
        if (t->n_items == 0) {
            pthread_mutex_unlock(&t->inbox_mu);
            break;
        }
        inbox_item it = t->items[t->head];
        t->head = (t->head + 1) % t->cap_items;
        t->n_items--;
        t->inbox_bytes -= it.payload.len;
        pthread_mutex_unlock(&t->inbox_mu);
        if (it.method == KV_RAFTSTORE_MSG_BATCH) {
            (void)kv_raftstore_on_raft_batch(s, cm_buf_slice(&it.payload));
        } else {
            (void)kv_raftstore_on_snapshot_chunk(s, cm_buf_slice(&it.payload));
        }
        cm_buf_fini(&it.payload);
        done++;
    }
    return done;
}

bool kv_transport_rpc_wait(kv_transport_rpc *t, int64_t timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (timeout_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&t->inbox_mu);
    while (t->n_items == 0 && !t->woken) {
        if (pthread_cond_timedwait(&t->inbox_cv, &t->inbox_mu, &ts) == ETIMEDOUT) {
            break;
        }
    }
    t->woken = false;
    bool any = t->n_items > 0;
    pthread_mutex_unlock(&t->inbox_mu);
    return any;
}

void kv_transport_rpc_wake(void *ctx)
{
    kv_transport_rpc *t = ctx;
    pthread_mutex_lock(&t->inbox_mu);
    t->woken = true;
    pthread_cond_signal(&t->inbox_cv);
    pthread_mutex_unlock(&t->inbox_mu);
}

void kv_transport_rpc_stats_get(kv_transport_rpc *t, kv_transport_rpc_stats *out)
{
    pthread_mutex_lock(&t->stats_mu);
    *out = t->stats;
    pthread_mutex_unlock(&t->stats_mu);
}
