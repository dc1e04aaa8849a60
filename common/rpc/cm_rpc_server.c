/*
 * cm_rpc_server.c — the RPC server: an nng rep0 socket, a method table, worker threads.
 *
 * The server keeps workers × CM_RPC_SERVER_CTX_PER_WORKER nng contexts receiving at all times, so
 * that many requests of one connection are read concurrently. A context whose receive completes
 * (on an nng thread) goes onto one ready queue; worker threads take contexts from it, decode the
 * frame, run the handler with the worker's arena and reply buffer, and start the reply send; the
 * send's completion (again on an nng thread) starts the next receive on that context. Handlers
 * therefore never run on nng's own threads, and a slow handler holds back only the request it
 * took.
 */
#include "cm_arena.h"
#include "cm_assert.h"
#include "cm_limits.h"
#include "cm_log.h"
#include "cm_rpc.h"
#include "cm_rpc_frame.h"
#include "cm_rpc_int.h"
#include "cm_time.h"

#include <nng/protocol/reqrep0/rep.h>
#include <nng/transport/tcp/tcp.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Minimum gap between two log lines about malformed requests (the rest are counted). */
#define BAD_FRAME_LOG_GAP_MS 1000
/* A worker's reply buffer above this is freed after the request instead of kept for reuse. */
#define REPLY_BUF_KEEP_BYTES (1u << 20)
#define PEER_MAX             64

typedef enum ctx_phase { CTX_RECV, CTX_QUEUED, CTX_SEND } ctx_phase;

typedef struct srv_worker {
    struct cm_rpc_server *srv;
    pthread_t thread;
    bool running;
    cm_arena arena;
    cm_buf reply;
    int peer_pipe; /* pipe whose address is in peer (a connection sends many requests) */
    char peer[PEER_MAX];
} srv_worker;

typedef struct srv_ctx {
    cm_rpc_server *srv;
    nng_ctx ctx;
    nng_aio *aio;
    ctx_phase phase;
    nng_msg *req;         /* owned while queued or being served */
    struct srv_ctx *next; /* ready queue */
    srv_worker inl;       /* arena and reply of inline methods run on this context */
} srv_ctx;

typedef struct srv_method {
    cm_rpc_handler_cb handler; /* NULL: no such method */
    const char *name;
    void *user;
    bool run_inline; /* cm_rpc_server_set_inline */
} srv_method;

struct cm_rpc_server {
    char addr[CM_ADDR_MAX];
    nng_socket sock;
    nng_listener listener;
    bool sock_open;
    bool started;
    int port;
    srv_method methods[CM_RPC_METHODS_MAX];
    int nworkers;
    srv_worker *workers;
    int nctx;
    srv_ctx *ctxs;
    pthread_mutex_t mu; /* guards the queue, the worker counts and stopping */
    pthread_cond_t cv;
    srv_ctx *qhead, *qtail;
    int idle;      /* workers asleep on cv */
    int searching; /* workers awake and not in a handler: they look at the queue before sleeping */
    int waking;    /* signals sent whose worker has not yet woken */
    bool stopping;
    uint64_t bad_frames;   /* atomic */
    uint64_t bad_last_ms;  /* atomic: when the last bad-frame line was logged */
    uint64_t bad_unlogged; /* atomic: bad frames since that line */
};

/* ---- shared helpers (declared in cm_rpc_int.h) ---------------------------------------------- */

int cm_rpc_url_from_addr(const char *addr, char *url, size_t url_size, cm_err *err)
{
    if (addr == NULL || addr[0] == '\0') {
        return cm_err_set(err, CM_E_INVALID, "rpc: empty address");
    }
    size_t n = strlen(addr);
    const char *colon = strrchr(addr, ':');
    if (n >= CM_ADDR_MAX || colon == NULL || colon == addr || colon[1] == '\0') {
        return cm_err_set(err, CM_E_INVALID, "rpc: address '%.64s' is not host:port", addr);
    }
    for (const char *p = colon + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return cm_err_set(err, CM_E_INVALID, "rpc: address '%.64s' has a bad port", addr);
        }
    }
    if (strtol(colon + 1, NULL, 10) > 65535) {
        return cm_err_set(err, CM_E_INVALID, "rpc: address '%.64s' has a bad port", addr);
    }
    int w = snprintf(url, url_size, "tcp://%s", addr);
    if (w < 0 || (size_t)w >= url_size) {
        return cm_err_set(err, CM_E_INVALID, "rpc: address '%.64s' too long", addr);
    }
    return 0;
}

int cm_rpc_nng_code(int rv)
{
    switch (rv) {
    case 0:
        return 0;
    case NNG_ETIMEDOUT:
        return CM_E_TIMEOUT;
    case NNG_ECONNRESET:
    case NNG_ECONNREFUSED:
    case NNG_ECONNSHUT:
    case NNG_EUNREACHABLE:
        return CM_E_UNAVAILABLE;
    case NNG_ECLOSED:
        return CM_E_CLOSED;
    case NNG_ECANCELED:
        return CM_E_CANCELLED;
    case NNG_ENOMEM:
        return CM_E_NOMEM;
    case NNG_EMSGSIZE:
        return CM_E_TOO_LARGE;
    case NNG_EINVAL:
    case NNG_EADDRINVAL:
        return CM_E_INVALID;
    case NNG_EADDRINUSE:
        return CM_E_EXISTS;
    default:
        return CM_E_IO;
    }
}

/* ---- receive / send completions (nng threads) ----------------------------------------------- */

static bool server_stopping(cm_rpc_server *s)
{
    return __atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE);
}

static void ctx_post_recv(srv_ctx *c)
{
    c->phase = CTX_RECV;
    nng_aio_set_timeout(c->aio, NNG_DURATION_INFINITE);
    nng_ctx_recv(c->ctx, c->aio);
}

/* Wakes a sleeping worker for work in the queue unless an awake worker will see it anyway: one
 * that is between handlers always looks at the queue before it sleeps, and one already signalled
 * will. Waking a thread per request costs more than a small handler on this hardware (a context
 * switch in each direction); waking none while every awake worker sits in a slow handler would
 * leave requests waiting behind it. Called with s->mu held. */
static void wake_one_if_needed(cm_rpc_server *s)
{
    if (s->qhead != NULL && s->searching == 0 && s->waking == 0 && s->idle > 0) {
        s->waking++;
        pthread_cond_signal(&s->cv);
    }
}

static void serve_ctx(srv_worker *w, srv_ctx *c);

/* Whether the request names a method marked inline (a garbled frame is left to a worker). */
static bool is_inline(const cm_rpc_server *s, nng_msg *msg)
{
    cm_slice frame = cm_slice_make(nng_msg_body(msg), nng_msg_len(msg));
    uint32_t method;
    cm_slice payload;
    cm_err err;
    return cm_rpc_frame_parse_req(frame, &method, &payload, &err) == 0 &&
           s->methods[method].handler != NULL && s->methods[method].run_inline;
}

static void ctx_cb(void *arg)
{
    srv_ctx *c = arg;
    cm_rpc_server *s = c->srv;
    int rv = nng_aio_result(c->aio);

    if (c->phase == CTX_SEND) {
        if (rv != 0) {
            /* The reply did not go out (peer gone, or it stopped reading): the message is ours. */
            nng_msg_free(nng_aio_get_msg(c->aio));
            nng_aio_set_msg(c->aio, NULL);
        }
        if (rv != NNG_ECLOSED && !server_stopping(s)) {
            ctx_post_recv(c);
        }
        return;
    }
    CM_ASSERT(c->phase == CTX_RECV);
    if (rv != 0) {
        /* ECLOSED: the socket is closing. Anything else is transient: receive again. */
        if (rv != NNG_ECLOSED && !server_stopping(s)) {
            ctx_post_recv(c);
        }
        return;
    }
    c->req = nng_aio_get_msg(c->aio);
    nng_aio_set_msg(c->aio, NULL);
    if (is_inline(s, c->req) && !server_stopping(s)) {
        serve_ctx(&c->inl, c);
        return;
    }
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        nng_msg_free(c->req);
        c->req = NULL;
        return;
    }
    c->phase = CTX_QUEUED;
    c->next = NULL;
    if (s->qtail != NULL) {
        s->qtail->next = c;
    } else {
        s->qhead = c;
    }
    s->qtail = c;
    wake_one_if_needed(s);
    pthread_mutex_unlock(&s->mu);
}

/* ---- workers -------------------------------------------------------------------------------- */

/* Logs a malformed request, at most one line per BAD_FRAME_LOG_GAP_MS (the others are counted
 * and the count is reported in the next line), so a misbehaving peer cannot flood the log. */
static void note_bad_frame(cm_rpc_server *s, const char *peer, const cm_err *err)
{
    __atomic_add_fetch(&s->bad_frames, 1, __ATOMIC_RELAXED);
    uint64_t now = cm_time_mono_ms() + BAD_FRAME_LOG_GAP_MS; /* + gap: the first one logs */
    uint64_t last = __atomic_load_n(&s->bad_last_ms, __ATOMIC_RELAXED);
    if (now - last >= BAD_FRAME_LOG_GAP_MS &&
        __atomic_compare_exchange_n(&s->bad_last_ms, &last, now, false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED)) {
        uint64_t more = __atomic_exchange_n(&s->bad_unlogged, 0, __ATOMIC_RELAXED);
        CM_WARN("rpc", "rejected request addr=%s peer=%s err=%s msg=\"%s\" suppressed=%llu",
                s->addr, peer, cm_err_name(err->code), err->msg, (unsigned long long)more);
    } else {
        __atomic_add_fetch(&s->bad_unlogged, 1, __ATOMIC_RELAXED);
    }
}

/* The peer's address as text, cached per connection (nng pipe). */
static const char *worker_peer(srv_worker *w, nng_msg *msg)
{
    nng_pipe p = nng_msg_get_pipe(msg);
    int id = nng_pipe_id(p);
    if (id == w->peer_pipe && id > 0) {
        return w->peer;
    }
    nng_sockaddr sa;
    snprintf(w->peer, sizeof(w->peer), "?");
    if (id > 0 && nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) == 0) {
        char ip[INET6_ADDRSTRLEN];
        if (sa.s_family == NNG_AF_INET &&
            inet_ntop(AF_INET, &sa.s_in.sa_addr, ip, sizeof(ip)) != NULL) {
            snprintf(w->peer, sizeof(w->peer), "%s:%u", ip, (unsigned)ntohs(sa.s_in.sa_port));
        } else if (sa.s_family == NNG_AF_INET6 &&
                   inet_ntop(AF_INET6, sa.s_in6.sa_addr, ip, sizeof(ip)) != NULL) {
            snprintf(w->peer, sizeof(w->peer), "[%s]:%u", ip, (unsigned)ntohs(sa.s_in6.sa_port));
        }
    }
    w->peer_pipe = id;
    return w->peer;
}

/* Runs the request in c->req and leaves the reply frame's status and payload in *status and
 * w->reply (the payload, or the error text). */
static int32_t serve_request(srv_worker *w, nng_msg *msg)
{
    cm_rpc_server *s = w->srv;
    cm_err err;
    cm_err_clear(&err);
    cm_slice frame = cm_slice_make(nng_msg_body(msg), nng_msg_len(msg));
    uint32_t method;
    cm_rpc_req req;
    int rc = cm_rpc_frame_parse_req(frame, &method, &req.payload, &err);
    if (rc == 0 && s->methods[method].handler == NULL) {
        rc = cm_err_set(&err, CM_E_RPC_NO_METHOD, "rpc: no method %u on this server", method);
    }
    if (rc != 0) {
        note_bad_frame(s, worker_peer(w, msg), &err);
        cm_buf_append(&w->reply, err.msg, strlen(err.msg));
        return rc;
    }
    const srv_method *m = &s->methods[method];
    req.method = method;
    req.arena = &w->arena;
    req.peer = worker_peer(w, msg);
    rc = m->handler(m->user, &req, &w->reply, &err);
    if (rc > 0) {
        CM_ERROR("rpc", "handler returned a positive code method=%s rc=%d", m->name, rc);
        cm_err_set(&err, CM_E_INTERNAL, "rpc: handler %s returned %d", m->name, rc);
        rc = CM_E_INTERNAL;
    }
    if (rc == 0 && w->reply.len > CM_RPC_MSG_BYTES_MAX - CM_RPC_FRAME_HDR_BYTES) {
        rc = cm_err_set(&err, CM_E_TOO_LARGE, "rpc: reply of %zu bytes to %s exceeds %u bytes",
                        w->reply.len, m->name, (unsigned)CM_RPC_MSG_BYTES_MAX);
    }
    if (rc != 0) {
        cm_buf_reset(&w->reply);
        const char *text = (err.code == rc && err.msg[0] != '\0') ? err.msg : cm_err_message(rc);
        cm_buf_append(&w->reply, text, strlen(text));
    }
    return rc;
}

static void serve_ctx(srv_worker *w, srv_ctx *c)
{
    nng_msg *msg = c->req;
    c->req = NULL;
    cm_buf_reset(&w->reply);
    int32_t status = serve_request(w, msg);
    /* The request message becomes the reply: its body is rewritten in place. */
    nng_msg_clear(msg);
    uint8_t hdr[CM_RPC_FRAME_HDR_BYTES];
    uint32_t st = (uint32_t)status;
    for (int i = 0; i < 4; i++) {
        hdr[i] = (uint8_t)(CM_RPC_REP_MAGIC >> (24 - 8 * i));
        hdr[4 + i] = (uint8_t)(st >> (24 - 8 * i));
    }
    if (nng_msg_append(msg, hdr, sizeof(hdr)) != 0 ||
        nng_msg_append(msg, w->reply.ptr, w->reply.len) != 0) {
        /* Out of memory: no reply; the client's deadline covers it. */
        CM_ERROR("rpc", "out of memory building a reply addr=%s", w->srv->addr);
        nng_msg_free(msg);
        ctx_post_recv(c);
    } else {
        c->phase = CTX_SEND;
        nng_aio_set_msg(c->aio, msg);
        nng_aio_set_timeout(c->aio, CM_RPC_SERVER_SEND_TIMEOUT_MS);
        nng_ctx_send(c->ctx, c->aio);
    }
    cm_arena_reset(&w->arena);
    if (w->reply.cap > REPLY_BUF_KEEP_BYTES) {
        cm_buf_fini(&w->reply);
    }
}

static void *worker_main(void *arg)
{
    srv_worker *w = arg;
    cm_rpc_server *s = w->srv;
    pthread_mutex_lock(&s->mu);
    s->searching++;
    for (;;) {
        while (!s->stopping && s->qhead == NULL) {
            s->searching--;
            s->idle++;
            pthread_cond_wait(&s->cv, &s->mu);
            s->idle--;
            s->searching++;
            if (s->waking > 0) {
                s->waking--;
            }
        }
        if (s->stopping) {
            break;
        }
        srv_ctx *c = s->qhead;
        s->qhead = c->next;
        if (s->qhead == NULL) {
            s->qtail = NULL;
        }
        s->searching--;
        wake_one_if_needed(s); /* more work queued and this worker goes into a handler */
        pthread_mutex_unlock(&s->mu);
        serve_ctx(w, c);
        pthread_mutex_lock(&s->mu);
        s->searching++;
    }
    s->searching--;
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

int cm_rpc_server_create(const char *addr, int workers, cm_rpc_server **out, cm_err *err)
{
    *out = NULL;
    char url[CM_RPC_URL_MAX];
    int rc = cm_rpc_url_from_addr(addr, url, sizeof(url), err);
    if (rc != 0) {
        return rc;
    }
    if (workers == 0) {
        workers = CM_RPC_WORKERS_DEFAULT;
    }
    if (workers < 0 || workers > CM_RPC_WORKERS_MAX) {
        return cm_err_set(err, CM_E_INVALID, "rpc: %d workers (want 1..%d)", workers,
                          CM_RPC_WORKERS_MAX);
    }
    cm_rpc_server *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "rpc: out of memory");
    }
    snprintf(s->addr, sizeof(s->addr), "%s", addr);
    s->nworkers = workers;
    s->nctx = workers * CM_RPC_SERVER_CTX_PER_WORKER;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    int rv = nng_rep0_open(&s->sock);
    if (rv != 0) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s);
        return cm_err_set(err, cm_rpc_nng_code(rv), "rpc: rep socket: %s", nng_strerror(rv));
    }
    s->sock_open = true;
    /* The limit also bounds what a peer's length prefix can make us allocate; nng drops a
     * connection that announces more (there is no reply to send for a message never read). */
    if ((rv = nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, CM_RPC_NNG_RECV_MAX_BYTES)) != 0 ||
        (rv = nng_listener_create(&s->listener, s->sock, url)) != 0) {
        cm_rpc_server_free(s);
        return cm_err_set(err, cm_rpc_nng_code(rv), "rpc: listen on %s: %s", addr,
                          nng_strerror(rv));
    }
    *out = s;
    return 0;
}

int cm_rpc_server_register(cm_rpc_server *s, const cm_rpc_method *methods, size_t count, void *user,
                           cm_err *err)
{
    if (s->started) {
        return cm_err_set(err, CM_E_INVALID, "rpc: register after start");
    }
    for (size_t i = 0; i < count; i++) {
        const cm_rpc_method *m = &methods[i];
        if (m->id >= CM_RPC_METHODS_MAX || m->handler == NULL) {
            return cm_err_set(err, CM_E_INVALID, "rpc: bad method %u (%s)", m->id,
                              m->name ? m->name : "?");
        }
        if (s->methods[m->id].handler != NULL) {
            return cm_err_set(err, CM_E_EXISTS, "rpc: method %u registered twice (%s, %s)", m->id,
                              s->methods[m->id].name, m->name ? m->name : "?");
        }
    }
    for (size_t i = 0; i < count; i++) {
        const cm_rpc_method *m = &methods[i];
        s->methods[m->id].handler = m->handler;
        s->methods[m->id].name = m->name ? m->name : "?";
        s->methods[m->id].user = user;
    }
    return 0;
}

int cm_rpc_server_set_inline(cm_rpc_server *s, uint32_t method, cm_err *err)
{
    if (s->started) {
        return cm_err_set(err, CM_E_INVALID, "rpc: set_inline after start");
    }
    if (method >= CM_RPC_METHODS_MAX || s->methods[method].handler == NULL) {
        return cm_err_set(err, CM_E_INVALID, "rpc: set_inline of unregistered method %u", method);
    }
    s->methods[method].run_inline = true;
    return 0;
}

int cm_rpc_server_start(cm_rpc_server *s, cm_err *err)
{
    if (s->started) {
        return cm_err_set(err, CM_E_INVALID, "rpc: server already started");
    }
    s->workers = calloc((size_t)s->nworkers, sizeof(*s->workers));
    s->ctxs = calloc((size_t)s->nctx, sizeof(*s->ctxs));
    if (s->workers == NULL || s->ctxs == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "rpc: out of memory");
    }
    s->started = true; /* from here on, free() tears down whatever was set up */
    int rv = nng_listener_start(s->listener, 0);
    if (rv != 0) {
        return cm_err_set(err, cm_rpc_nng_code(rv), "rpc: listen on %s: %s", s->addr,
                          nng_strerror(rv));
    }
    if ((rv = nng_listener_get_int(s->listener, NNG_OPT_TCP_BOUND_PORT, &s->port)) != 0) {
        return cm_err_set(err, CM_E_IO, "rpc: bound port of %s: %s", s->addr, nng_strerror(rv));
    }
    for (int i = 0; i < s->nctx; i++) {
        srv_ctx *c = &s->ctxs[i];
        c->srv = s;
        c->inl.srv = s;
        c->inl.peer_pipe = -1;
        cm_arena_init(&c->inl.arena, 0);
        cm_buf_init(&c->inl.reply);
        if ((rv = nng_aio_alloc(&c->aio, ctx_cb, c)) != 0) {
            return cm_err_set(err, cm_rpc_nng_code(rv), "rpc: aio: %s", nng_strerror(rv));
        }
        if ((rv = nng_ctx_open(&c->ctx, s->sock)) != 0) {
            nng_aio_free(c->aio);
            c->aio = NULL;
            return cm_err_set(err, cm_rpc_nng_code(rv), "rpc: context: %s", nng_strerror(rv));
        }
        ctx_post_recv(c);
    }
    for (int i = 0; i < s->nworkers; i++) {
        srv_worker *w = &s->workers[i];
        w->srv = s;
        w->peer_pipe = -1;
        cm_arena_init(&w->arena, 0);
        cm_buf_init(&w->reply);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            return cm_err_set(err, CM_E_INTERNAL, "rpc: cannot start worker thread");
        }
        w->running = true;
    }
    CM_INFO("rpc", "server listening addr=%s port=%d workers=%d contexts=%d", s->addr, s->port,
            s->nworkers, s->nctx);
    return 0;
}

int cm_rpc_server_port(const cm_rpc_server *s)
{
    return s->port;
}

uint64_t cm_rpc_server_bad_frames(const cm_rpc_server *s)
{
    return __atomic_load_n(&s->bad_frames, __ATOMIC_RELAXED);
}

void cm_rpc_server_free(cm_rpc_server *s)
{
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    __atomic_store_n(&s->stopping, true, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    /* Handlers in progress finish; their replies may or may not make it out. */
    for (int i = 0; s->workers != NULL && i < s->nworkers; i++) {
        if (s->workers[i].running) {
            pthread_join(s->workers[i].thread, NULL);
        }
    }
    if (s->sock_open) {
        nng_close(s->sock); /* fails every pending receive and send with NNG_ECLOSED */
    }
    for (int i = 0; s->ctxs != NULL && i < s->nctx; i++) {
        if (s->ctxs[i].aio != NULL) {
            nng_aio_stop(s->ctxs[i].aio);
            nng_aio_free(s->ctxs[i].aio);
        }
        if (s->ctxs[i].req != NULL) {
            nng_msg_free(s->ctxs[i].req);
        }
        if (s->ctxs[i].inl.srv != NULL) {
            cm_arena_fini(&s->ctxs[i].inl.arena);
            cm_buf_fini(&s->ctxs[i].inl.reply);
        }
    }
    for (int i = 0; s->workers != NULL && i < s->nworkers; i++) {
        cm_arena_fini(&s->workers[i].arena);
        cm_buf_fini(&s->workers[i].reply);
    }
    free(s->workers);
    free(s->ctxs);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
