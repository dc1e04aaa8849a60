/*
 * cm_rpc_client.c — the RPC client: one nng req0 socket (one connection) per peer address, many
 * calls in flight on it, one pooled nng context per call.
 *
 * A call is two steps on its context: send (the aio's timeout is the time left to the deadline,
 * so a call made while the peer is down waits for the connection until its deadline), then
 * receive (timeout again the time left). A synchronous call runs both steps on its own thread
 * with a callback-less aio; an asynchronous one runs them as a state machine in the aio
 * callback (an nng thread), which ends by calling done_cb.
 *
 * No automatic resend: NNG_OPT_REQ_RESENDTIME is NNG_DURATION_INFINITE on the socket and on each
 * context. With that setting nng 1.5.2 fails a request whose connection breaks after it was sent
 * (NNG_ECONNRESET → CM_E_UNAVAILABLE) instead of sending it again on the next connection; the unit
 * test "no_resend_across_restart" holds nng to that (see docs/rpc.md for the source reading).
 */
#include "cm_limits.h"
#include "cm_log.h"
#include "cm_rpc.h"
#include "cm_rpc_frame.h"
#include "cm_rpc_int.h"
#include "cm_time.h"

#include <nng/protocol/reqrep0/req.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum call_phase { CALL_IDLE, CALL_SEND, CALL_RECV } call_phase;

typedef struct cli_call {
    cm_rpc_client *cli;
    nng_ctx ctx;
    nng_aio *aio;      /* with call_cb: asynchronous calls */
    nng_aio *aio_wait; /* no callback: a synchronous caller waits on it */
    call_phase phase;
    uint64_t deadline_ms; /* monotonic */
    int64_t timeout_ms;   /* as asked, for messages */
    uint32_t method;
    /* asynchronous completion */
    cm_rpc_done_cb done_cb;
    void *done_arg;
    struct cli_call *next_free;
} cli_call;

struct cm_rpc_client {
    char addr[CM_ADDR_MAX];
    nng_socket sock;
    nng_dialer dialer;
    pthread_mutex_t mu; /* guards the pool */
    pthread_cond_t free_cv;
    cli_call *free_list;
    cli_call *calls[CM_RPC_INFLIGHT_MAX];
    int ncalls;
    int waiting; /* callers waiting for a free call */
    bool closing;
};

/* ---- pool ----------------------------------------------------------------------------------- */

static void cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

static void call_cb(void *arg);

/* Makes a new call object (context + aio). Called with c->mu held. */
static int call_new(cm_rpc_client *c, cli_call **out, cm_err *err)
{
    cli_call *call = calloc(1, sizeof(*call));
    if (call == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "rpc: out of memory");
    }
    call->cli = c;
    int rv = nng_ctx_open(&call->ctx, c->sock);
    if (rv != 0) {
        free(call);
        return cm_err_set(err, cm_rpc_nng_code(rv), "rpc: context for %s: %s", c->addr,
                          nng_strerror(rv));
    }
    /* Contexts copy the socket's resend time when opened; set it again so no path can differ. */
    nng_ctx_set_ms(call->ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    if ((rv = nng_aio_alloc(&call->aio, call_cb, call)) != 0 ||
        (rv = nng_aio_alloc(&call->aio_wait, NULL, NULL)) != 0) {
        nng_aio_free(call->aio);
        nng_ctx_close(call->ctx);
        free(call);
        return cm_err_set(err, cm_rpc_nng_code(rv), "rpc: aio: %s", nng_strerror(rv));
    }
    c->calls[c->ncalls++] = call;
    *out = call;
    return 0;
}

static void timespec_at_ms(struct timespec *ts, uint64_t mono_ms)
{
    ts->tv_sec = (time_t)(mono_ms / 1000);
    ts->tv_nsec = (long)(mono_ms % 1000) * 1000000L;
}

/* Takes a free call object, making one if fewer than CM_RPC_INFLIGHT_MAX exist. A synchronous
 * caller waits for one until its deadline; an asynchronous one gets CM_E_BUSY at once. */
static int call_acquire(cm_rpc_client *c, bool wait, uint64_t deadline_ms, cli_call **out,
                        cm_err *err)
{
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        if (c->closing) {
            rc = cm_err_set(err, CM_E_CLOSED, "rpc: client for %s is closing", c->addr);
            break;
        }
        if (c->free_list != NULL) {
            *out = c->free_list;
            c->free_list = (*out)->next_free;
            break;
        }
        if (c->ncalls < CM_RPC_INFLIGHT_MAX) {
            rc = call_new(c, out, err);
            break;
        }
        if (!wait) {
            rc = cm_err_set(err, CM_E_BUSY, "rpc: %d calls already in flight to %s",
                            CM_RPC_INFLIGHT_MAX, c->addr);
            break;
        }
        struct timespec ts;
        timespec_at_ms(&ts, deadline_ms);
        c->waiting++;
        int w = pthread_cond_timedwait(&c->free_cv, &c->mu, &ts);
        c->waiting--;
        if (w != 0 && c->free_list == NULL) {
            rc = cm_err_set(err, CM_E_TIMEOUT,
                            "rpc: deadline passed waiting for one of %d calls "
                            "in flight to %s",
                            CM_RPC_INFLIGHT_MAX, c->addr);
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static void call_release(cli_call *call)
{
    cm_rpc_client *c = call->cli;
    call->phase = CALL_IDLE;
    call->done_cb = NULL;
    call->done_arg = NULL;
    pthread_mutex_lock(&c->mu);
    call->next_free = c->free_list;
    c->free_list = call;
    if (c->waiting > 0) {
        pthread_cond_signal(&c->free_cv);
    }
    pthread_mutex_unlock(&c->mu);
}

/* ---- the call state machine (nng threads) ---------------------------------------------------- */

static int64_t ms_left(const cli_call *call)
{
    uint64_t now = cm_time_mono_ms();
    return now >= call->deadline_ms ? 0 : (int64_t)(call->deadline_ms - now);
}

/* Ends an asynchronous call: reply (owned, may be NULL) or an error. */
static void call_finish(cli_call *call, int rc, nng_msg *reply, const cm_err *err)
{
    cm_err e;
    cm_slice payload = {NULL, 0};
    if (rc == 0) {
        cm_err_clear(&e);
        rc = cm_rpc_frame_parse_rep(cm_slice_make(nng_msg_body(reply), nng_msg_len(reply)),
                                    &payload, &e);
    } else {
        e = *err;
    }
    cm_rpc_done_cb cb = call->done_cb;
    void *arg = call->done_arg;
    /* The call object goes back to the pool only after done_cb returns (done_cb may start new
     * calls, which then take other call objects). */
    cb(arg, rc, payload, &e);
    if (reply != NULL) {
        nng_msg_free(reply);
    }
    call_release(call);
}

/* Describes an nng failure of the call's send step (phase CALL_SEND) or receive step. */
static int call_nng_error(const cli_call *call, int rv, cm_err *e)
{
    int code = cm_rpc_nng_code(rv);
    switch (code) {
    case CM_E_TIMEOUT:
        if (call->phase == CALL_SEND) {
            cm_err_set(e, code,
                       "rpc: no connection to %s within the %lld ms deadline (method %u not sent)",
                       call->cli->addr, (long long)call->timeout_ms, call->method);
        } else {
            cm_err_set(e, code, "rpc: no reply from %s within the %lld ms deadline (method %u)",
                       call->cli->addr, (long long)call->timeout_ms, call->method);
        }
        break;
    case CM_E_UNAVAILABLE:
        cm_err_set(e, code,
                   "rpc: connection to %s lost after method %u was sent; it may or may not have "
                   "run and is not resent",
                   call->cli->addr, call->method);
        break;
    default:
        cm_err_set(e, code, "rpc: %s %s (method %u): %s",
                   call->phase == CALL_SEND ? "send to" : "reply from", call->cli->addr,
                   call->method, nng_strerror(rv));
        break;
    }
    return code;
}

static void call_fail_nng(cli_call *call, int rv)
{
    cm_err e;
    int code = call_nng_error(call, rv, &e);
    call_finish(call, code, NULL, &e);
}

static void call_cb(void *arg)
{
    cli_call *call = arg;
    int rv = nng_aio_result(call->aio);
    if (call->phase == CALL_SEND) {
        if (rv != 0) {
            /* Not sent: the message came back to us. */
            nng_msg_free(nng_aio_get_msg(call->aio));
            nng_aio_set_msg(call->aio, NULL);
            call_fail_nng(call, rv);
            return;
        }
        call->phase = CALL_RECV;
        nng_aio_set_timeout(call->aio, (nng_duration)ms_left(call));
        nng_ctx_recv(call->ctx, call->aio);
        return;
    }
    if (rv != 0) {
        call_fail_nng(call, rv);
        return;
    }
    nng_msg *reply = nng_aio_get_msg(call->aio);
    nng_aio_set_msg(call->aio, NULL);
    call_finish(call, 0, reply, NULL);
}

/* Builds the request message and starts the send step. */
static int call_start(cli_call *call, nng_aio *aio, uint32_t method, cm_slice req,
                      int64_t timeout_ms, cm_err *err)
{
    nng_msg *m;
    int rv = nng_msg_alloc(&m, CM_RPC_FRAME_HDR_BYTES + req.len);
    if (rv != 0) {
        return cm_err_set(err, CM_E_NOMEM, "rpc: out of memory for a %zu-byte request", req.len);
    }
    uint8_t *p = nng_msg_body(m);
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(CM_RPC_REQ_MAGIC >> (24 - 8 * i));
        p[4 + i] = (uint8_t)(method >> (24 - 8 * i));
    }
    if (req.len > 0) {
        memcpy(p + CM_RPC_FRAME_HDR_BYTES, req.ptr, req.len);
    }
    call->method = method;
    call->timeout_ms = timeout_ms;
    call->deadline_ms = cm_time_mono_ms() + (uint64_t)timeout_ms;
    call->phase = CALL_SEND;
    nng_aio_set_msg(aio, m);
    nng_aio_set_timeout(aio, (nng_duration)timeout_ms);
    nng_ctx_send(call->ctx, aio);
    return 0;
}

static int check_call_args(cm_rpc_client *c, cm_slice req, int64_t *timeout_ms, cm_err *err)
{
    if (req.len > CM_RPC_MSG_BYTES_MAX - CM_RPC_FRAME_HDR_BYTES) {
        return cm_err_set(err, CM_E_TOO_LARGE,
                          "rpc: request of %zu bytes to %s exceeds %u bytes (not sent)", req.len,
                          c->addr, (unsigned)CM_RPC_MSG_BYTES_MAX);
    }
    if (*timeout_ms <= 0) {
        return cm_err_set(err, CM_E_TIMEOUT, "rpc: call to %s with no time left", c->addr);
    }
    /* nng durations are int32 milliseconds. */
    if (*timeout_ms > INT32_MAX / 2) {
        *timeout_ms = INT32_MAX / 2;
    }
    return 0;
}

/* ---- public ---------------------------------------------------------------------------------- */

int cm_rpc_call(cm_rpc_client *c, uint32_t method, cm_slice req, cm_buf *reply, int64_t timeout_ms,
                cm_err *err)
{
    int rc = check_call_args(c, req, &timeout_ms, err);
    if (rc != 0) {
        return rc;
    }
    cli_call *call;
    uint64_t deadline = cm_time_mono_ms() + (uint64_t)timeout_ms;
    if ((rc = call_acquire(c, true, deadline, &call, err)) != 0) {
        return rc;
    }
    int64_t left = (int64_t)(deadline - cm_time_mono_ms());
    if (left <= 0 || (uint64_t)left > (uint64_t)timeout_ms) {
        left = left <= 0 ? 1 : timeout_ms;
    }
    /* The caller's thread drives both steps on the callback-less aio: the nng thread that
     * completes a step wakes it directly (a callback would add a hop through nng's task
     * threads). */
    nng_aio *aio = call->aio_wait;
    if ((rc = call_start(call, aio, method, req, left, err)) != 0) {
        call_release(call);
        return rc;
    }
    nng_aio_wait(aio);
    int rv = nng_aio_result(aio);
    if (rv == 0) {
        call->phase = CALL_RECV;
        nng_aio_set_timeout(aio, (nng_duration)ms_left(call));
        nng_ctx_recv(call->ctx, aio);
        nng_aio_wait(aio);
        rv = nng_aio_result(aio);
    }
    nng_msg *m = nng_aio_get_msg(aio); /* the reply, or the request when the send failed */
    nng_aio_set_msg(aio, NULL);
    if (rv != 0) {
        rc = call_nng_error(call, rv, err);
    } else {
        cm_slice payload;
        rc = cm_rpc_frame_parse_rep(cm_slice_make(nng_msg_body(m), nng_msg_len(m)), &payload, err);
        if (rc == 0 && cm_buf_append_slice(reply, payload) != 0) {
            rc =
                cm_err_set(err, CM_E_NOMEM, "rpc: out of memory for a %zu-byte reply", payload.len);
        }
    }
    if (m != NULL) {
        nng_msg_free(m);
    }
    call_release(call);
    return rc;
}

int cm_rpc_call_async(cm_rpc_client *c, uint32_t method, cm_slice req, int64_t timeout_ms,
                      cm_rpc_done_cb done_cb, void *arg, cm_err *err)
{
    int rc = check_call_args(c, req, &timeout_ms, err);
    if (rc != 0) {
        return rc;
    }
    cli_call *call;
    if ((rc = call_acquire(c, false, 0, &call, err)) != 0) {
        return rc;
    }
    call->done_cb = done_cb;
    call->done_arg = arg;
    if ((rc = call_start(call, call->aio, method, req, timeout_ms, err)) != 0) {
        call_release(call);
        return rc;
    }
    return 0;
}

int cm_rpc_client_create(const char *addr, cm_rpc_client **out, cm_err *err)
{
    *out = NULL;
    char url[CM_RPC_URL_MAX];
    int rc = cm_rpc_url_from_addr(addr, url, sizeof(url), err);
    if (rc != 0) {
        return rc;
    }
    cm_rpc_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "rpc: out of memory");
    }
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    pthread_mutex_init(&c->mu, NULL);
    cond_init_mono(&c->free_cv);
    int rv = nng_req0_open(&c->sock);
    if (rv != 0) {
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->free_cv);
        free(c);
        return cm_err_set(err, cm_rpc_nng_code(rv), "rpc: req socket: %s", nng_strerror(rv));
    }
    if ((rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
        (rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, CM_RPC_NNG_RECV_MAX_BYTES)) != 0 ||
        (rv = nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, CM_RPC_RECONNECT_MIN_MS)) != 0 ||
        (rv = nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, CM_RPC_RECONNECT_MAX_MS)) != 0 ||
        (rv = nng_dialer_create(&c->dialer, c->sock, url)) != 0 ||
        (rv = nng_dialer_start(c->dialer, NNG_FLAG_NONBLOCK)) != 0) {
        cm_rpc_client_free(c);
        return cm_err_set(err, cm_rpc_nng_code(rv), "rpc: dial %s: %s", addr, nng_strerror(rv));
    }
    *out = c;
    return 0;
}

void cm_rpc_client_free(cm_rpc_client *c)
{
    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&c->mu);
    c->closing = true;
    pthread_cond_broadcast(&c->free_cv);
    pthread_mutex_unlock(&c->mu);
    /* Pending calls fail with NNG_ECLOSED (CM_E_CLOSED); asynchronous callbacks run now. */
    nng_close(c->sock);
    for (int i = 0; i < c->ncalls; i++) {
        cli_call *call = c->calls[i];
        nng_aio_free(call->aio); /* waits for a callback still running */
        nng_aio_free(call->aio_wait);
        free(call);
    }
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->free_cv);
    free(c);
}

const char *cm_rpc_client_addr(const cm_rpc_client *c)
{
    return c->addr;
}
