/*
 * rpc_bench_nng.c — the plain-nng reference for rpc_bench: the same echo over nng req0/rep0 with
 * nothing of ours on top (no frame, no worker hand-off, no pool), so a run shows what common/rpc
 * adds to nng itself. The server echoes from its context callbacks (nng threads); the client is
 * one req0 socket, either blocking (1 in flight) or 64 contexts driven by callbacks.
 * (tools/ may use everything; production code reaches nng only through common/rpc.)
 */
#include "rpc_bench_nng.h"

#include "cm_time.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_CTX 64

typedef struct ref_sctx {
    nng_ctx ctx;
    nng_aio *aio;
    int sending;
} ref_sctx;

static nng_socket ref_rep;
static ref_sctx ref_server[REF_CTX];

static void ref_server_cb(void *arg)
{
    ref_sctx *c = arg;
    if (nng_aio_result(c->aio) != 0) {
        if (c->sending) {
            nng_msg_free(nng_aio_get_msg(c->aio));
        }
        return; /* closed */
    }
    if (!c->sending) {
        c->sending = 1;
        nng_ctx_send(c->ctx, c->aio); /* the request message goes back as the reply */
    } else {
        c->sending = 0;
        nng_ctx_recv(c->ctx, c->aio);
    }
}

int nngref_server_start(void)
{
    nng_listener l;
    int port = 0;
    if (nng_rep0_open(&ref_rep) != 0 || nng_listen(ref_rep, "tcp://127.0.0.1:0", &l, 0) != 0 ||
        nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port) != 0) {
        return -1;
    }
    for (int i = 0; i < REF_CTX; i++) {
        ref_sctx *c = &ref_server[i];
        if (nng_ctx_open(&c->ctx, ref_rep) != 0 || nng_aio_alloc(&c->aio, ref_server_cb, c) != 0) {
            return -1;
        }
        nng_ctx_recv(c->ctx, c->aio);
    }
    return port;
}

void nngref_server_stop(void)
{
    nng_close(ref_rep);
    for (int i = 0; i < REF_CTX; i++) {
        nng_aio_free(ref_server[i].aio);
    }
}

static int ref_dial(int port, nng_socket *s)
{
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
    if (nng_req0_open(s) != 0) {
        return -1;
    }
    nng_socket_set_ms(*s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    return nng_dial(*s, url, NULL, 0) == 0 ? 0 : -1;
}

double nngref_sync_round(int port, const uint8_t *payload, size_t n, double seconds,
                         nngref_record_fn record, void *rarg, uint64_t *errors)
{
    nng_socket s;
    if (ref_dial(port, &s) != 0) {
        (*errors)++;
        return 0;
    }
    uint64_t start = cm_time_mono_ns(), end = start + (uint64_t)(seconds * 1e9), now = start;
    uint64_t done = 0;
    while (now < end) {
        uint64_t t0 = now;
        nng_msg *m;
        if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, payload, n) != 0 ||
            nng_sendmsg(s, m, 0) != 0 || nng_recvmsg(s, &m, 0) != 0) {
            (*errors)++;
            break;
        }
        now = cm_time_mono_ns();
        if (nng_msg_len(m) != n) {
            (*errors)++;
        }
        nng_msg_free(m);
        record(rarg, now - t0);
        done++;
    }
    nng_close(s);
    return (double)done / ((double)(now - start) / 1e9);
}

typedef struct ref_async {
    nng_socket s;
    const uint8_t *payload;
    size_t n;
    uint64_t end_ns;
    nngref_record_fn record;
    void *rarg;
    uint64_t *errors;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int live;
    uint64_t done, last_ns;
} ref_async;

typedef struct ref_cctx {
    ref_async *st;
    nng_ctx ctx;
    nng_aio *aio;
    int receiving;
    uint64_t t0;
} ref_cctx;

static void ref_client_retire(ref_cctx *c, uint64_t now)
{
    pthread_mutex_lock(&c->st->mu);
    if (--c->st->live == 0) {
        c->st->last_ns = now;
        pthread_cond_signal(&c->st->cv);
    }
    pthread_mutex_unlock(&c->st->mu);
}

static void ref_client_send(ref_cctx *c)
{
    nng_msg *m;
    uint64_t now = cm_time_mono_ns();
    if (now >= c->st->end_ns || nng_msg_alloc(&m, 0) != 0 ||
        nng_msg_append(m, c->st->payload, c->st->n) != 0) {
        ref_client_retire(c, now);
        return;
    }
    c->t0 = now;
    c->receiving = 0;
    nng_aio_set_msg(c->aio, m);
    nng_ctx_send(c->ctx, c->aio);
}

static void ref_client_cb(void *arg)
{
    ref_cctx *c = arg;
    ref_async *st = c->st;
    if (nng_aio_result(c->aio) != 0) {
        if (!c->receiving) {
            nng_msg_free(nng_aio_get_msg(c->aio));
        }
        pthread_mutex_lock(&st->mu);
        (*st->errors)++;
        pthread_mutex_unlock(&st->mu);
        ref_client_retire(c, cm_time_mono_ns());
        return;
    }
    if (!c->receiving) {
        c->receiving = 1;
        nng_ctx_recv(c->ctx, c->aio);
        return;
    }
    nng_msg_free(nng_aio_get_msg(c->aio));
    uint64_t now = cm_time_mono_ns();
    pthread_mutex_lock(&st->mu);
    st->record(st->rarg, now - c->t0);
    st->done++;
    pthread_mutex_unlock(&st->mu);
    ref_client_send(c);
}

double nngref_async_round(int port, const uint8_t *payload, size_t n, double seconds,
                          nngref_record_fn record, void *rarg, uint64_t *errors)
{
    ref_async st = {.payload = payload,
                    .n = n,
                    .record = record,
                    .rarg = rarg,
                    .errors = errors,
                    .live = REF_CTX};
    ref_cctx cl[REF_CTX];
    if (ref_dial(port, &st.s) != 0) {
        (*errors)++;
        return 0;
    }
    pthread_mutex_init(&st.mu, NULL);
    pthread_cond_init(&st.cv, NULL);
    for (int i = 0; i < REF_CTX; i++) {
        cl[i].st = &st;
        if (nng_ctx_open(&cl[i].ctx, st.s) != 0 ||
            nng_aio_alloc(&cl[i].aio, ref_client_cb, &cl[i]) != 0) {
            (*errors)++;
            return 0;
        }
    }
    uint64_t start = cm_time_mono_ns();
    st.end_ns = start + (uint64_t)(seconds * 1e9);
    for (int i = 0; i < REF_CTX; i++) {
        ref_client_send(&cl[i]);
    }
    pthread_mutex_lock(&st.mu);
    while (st.live > 0) {
        pthread_cond_wait(&st.cv, &st.mu);
    }
    pthread_mutex_unlock(&st.mu);
    nng_close(st.s);
    for (int i = 0; i < REF_CTX; i++) {
        nng_aio_free(cl[i].aio);
    }
    pthread_mutex_destroy(&st.mu);
    pthread_cond_destroy(&st.cv);
    return (double)st.done / ((double)(st.last_ns - start) / 1e9);
}
