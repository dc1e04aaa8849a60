/*
 * Unit tests for common/rpc: frame codec, then real servers and clients over TCP on 127.0.0.1
 * with ports picked by the kernel. Every wait is bounded in time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_assert.h"
#include "cm_limits.h"
#include "cm_log.h"
#include "cm_rpc.h"
#include "cm_rpc_frame.h"
#include "cm_time.h"
#include "metapb.pb-c.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

enum {
    M_ECHO = 1,    /* replies "echo:" + payload, after an optional short sleep */
    M_FAIL = 2,    /* fails with the code and message in its payload ("-51 text") */
    M_SLOW = 3,    /* sleeps the milliseconds in its payload, counts invocations */
    M_REGION = 4,  /* metapb.Region in, the same region with epoch.version + 1 and a peer added */
    M_BIG = 5,     /* replies with as many bytes as its payload says */
    M_GARBAGE = 6, /* replies with bytes that are no protobuf message */
    M_UNREGISTERED = 77,
};

typedef struct fixture {
    int inflight;     /* handlers running now (atomic) */
    int inflight_max; /* most seen at once (atomic) */
    int slow_calls;   /* M_SLOW invocations (atomic) */
    int echo_calls;   /* M_ECHO invocations (atomic) */
    int echo_sleep_us;
    pthread_mutex_t mu;
    char peers[4][64]; /* distinct peer strings seen by M_ECHO */
    int npeers;
} fixture;

static fixture fx;

static int echo_h(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    fixture *f = user;
    int now = __atomic_add_fetch(&f->inflight, 1, __ATOMIC_SEQ_CST);
    int max = __atomic_load_n(&f->inflight_max, __ATOMIC_SEQ_CST);
    while (now > max && !__atomic_compare_exchange_n(&f->inflight_max, &max, now, false,
                                                     __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    __atomic_add_fetch(&f->echo_calls, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&f->mu);
    int seen = 0;
    for (int i = 0; i < f->npeers; i++) {
        seen |= strcmp(f->peers[i], req->peer) == 0;
    }
    if (!seen && f->npeers < 4) {
        snprintf(f->peers[f->npeers++], sizeof(f->peers[0]), "%s", req->peer);
    }
    pthread_mutex_unlock(&f->mu);
    if (f->echo_sleep_us > 0) {
        usleep((useconds_t)f->echo_sleep_us);
    }
    /* Use the request arena, as handlers do. */
    char *copy = cm_arena_memdup(req->arena, req->payload.ptr, req->payload.len);
    int rc = copy ? 0 : cm_err_set(err, CM_E_NOMEM, "arena");
    if (rc == 0 && (cm_buf_append(reply, "echo:", 5) != 0 ||
                    cm_buf_append(reply, copy, req->payload.len) != 0)) {
        rc = cm_err_set(err, CM_E_NOMEM, "reply");
    }
    __atomic_sub_fetch(&f->inflight, 1, __ATOMIC_SEQ_CST);
    return rc;
}

static int fail_h(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    char text[256];
    size_t n = req->payload.len < sizeof(text) - 1 ? req->payload.len : sizeof(text) - 1;
    memcpy(text, req->payload.ptr, n);
    text[n] = '\0';
    char *rest;
    long code = strtol(text, &rest, 10);
    if (*rest == ' ') {
        rest++;
    }
    cm_buf_append(reply, "partial reply that must not reach the client", 44);
    if (*rest == '\0') {
        return (int)code; /* no message: the client gets the table's message */
    }
    return cm_err_set(err, (int)code, "%s", rest);
}

static int slow_h(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    fixture *f = user;
    __atomic_add_fetch(&f->slow_calls, 1, __ATOMIC_SEQ_CST);
    char text[32];
    size_t n = req->payload.len < sizeof(text) - 1 ? req->payload.len : sizeof(text) - 1;
    memcpy(text, req->payload.ptr, n);
    text[n] = '\0';
    cm_time_sleep_ms((uint64_t)strtol(text, NULL, 10));
    return cm_buf_append(reply, "slow done", 9);
}

static int region_h(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    ProtobufCMessage *m;
    int rc = cm_rpc_unpack(req, &tessera__metapb__region__descriptor, &m, err);
    if (rc != 0) {
        return rc;
    }
    Tessera__Metapb__Region *r = (Tessera__Metapb__Region *)m;
    Tessera__Metapb__RegionEpoch epoch = TESSERA__METAPB__REGION_EPOCH__INIT;
    Tessera__Metapb__Peer extra = TESSERA__METAPB__PEER__INIT;
    extra.id = r->id * 100;
    extra.store_id = 9;
    extra.role = TESSERA__METAPB__PEER_ROLE__LEARNER;
    Tessera__Metapb__Peer **peers = cm_arena_alloc(req->arena, (r->n_peers + 1) * sizeof(*peers));
    for (size_t i = 0; i < r->n_peers; i++) {
        peers[i] = r->peers[i];
    }
    peers[r->n_peers] = &extra;
    Tessera__Metapb__Region out = *r;
    if (r->epoch != NULL) {
        epoch = *r->epoch;
    }
    epoch.version++;
    out.epoch = &epoch;
    out.peers = peers;
    out.n_peers = r->n_peers + 1;
    rc = cm_rpc_pack(&out.base, reply);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

static int big_h(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    char text[32];
    size_t n = req->payload.len < sizeof(text) - 1 ? req->payload.len : sizeof(text) - 1;
    memcpy(text, req->payload.ptr, n);
    text[n] = '\0';
    size_t want = (size_t)strtoull(text, NULL, 10);
    if (cm_buf_reserve(reply, want) != 0) {
        return cm_err_set(err, CM_E_NOMEM, "big");
    }
    memset(reply->ptr + reply->len, 'b', want);
    reply->len += want;
    return 0;
}

static int garbage_h(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    return cm_buf_append(reply, "\xff\xff\xff\xff", 4);
}

static const cm_rpc_method methods[] = {
    {M_ECHO, "Echo", echo_h},       {M_FAIL, "Fail", fail_h}, {M_SLOW, "Slow", slow_h},
    {M_REGION, "Region", region_h}, {M_BIG, "Big", big_h},    {M_GARBAGE, "Garbage", garbage_h},
};

static int fx_setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof(fx));
    pthread_mutex_init(&fx.mu, NULL);
    return 0;
}

static int fx_teardown(void **state)
{
    (void)state;
    pthread_mutex_destroy(&fx.mu);
    return 0;
}

/* Starts a server on 127.0.0.1:port (0: any), retrying briefly while the port is still held. */
static cm_rpc_server *server_start(int port, int workers)
{
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    cm_err err;
    for (int attempt = 0; attempt < 100; attempt++) {
        cm_rpc_server *s;
        assert_int_equal(cm_rpc_server_create(addr, workers, &s, &err), 0);
        assert_int_equal(cm_rpc_server_register(s, methods, CM_ARRAY_LEN(methods), &fx, &err), 0);
        if (cm_rpc_server_start(s, &err) == 0) {
            assert_true(cm_rpc_server_port(s) > 0);
            return s;
        }
        cm_rpc_server_free(s);
        cm_time_sleep_ms(20);
    }
    fail_msg("cannot start a server on %s: %s", addr, err.msg);
    return NULL;
}

static cm_rpc_client *client_for(int port)
{
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    cm_rpc_client *c;
    cm_err err;
    assert_int_equal(cm_rpc_client_create(addr, &c, &err), 0);
    assert_string_equal(cm_rpc_client_addr(c), addr);
    return c;
}

/* A port with nothing listening: bound by a server that is then freed. */
static int dead_port(void)
{
    cm_rpc_server *s = server_start(0, 1);
    int port = cm_rpc_server_port(s);
    cm_rpc_server_free(s);
    return port;
}

static int call_str(cm_rpc_client *c, uint32_t method, const char *req, cm_buf *out,
                    int64_t timeout_ms, cm_err *err)
{
    cm_buf_reset(out);
    return cm_rpc_call(c, method, cm_slice_cstr(req), out, timeout_ms, err);
}

/* ---- frame codec (pure) --------------------------------------------------------------------- */

static void test_frame_codec(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT;
    cm_err err;
    uint32_t method;
    cm_slice payload;
    assert_int_equal(cm_rpc_frame_put_req(&b, 42, cm_slice_cstr("hello"), &err), 0);
    assert_int_equal(b.len, 13);
    assert_memory_equal(b.ptr, "TSR1", 4);
    assert_int_equal(cm_rpc_frame_parse_req(cm_buf_slice(&b), &method, &payload, &err), 0);
    assert_int_equal(method, 42);
    assert_true(cm_slice_eq(payload, cm_slice_cstr("hello")));
    /* Short, bad magic, method out of range: each an error, never a crash. */
    for (size_t n = 0; n < 8; n++) {
        assert_int_equal(cm_rpc_frame_parse_req(cm_slice_make(b.ptr, n), &method, &payload, &err),
                         CM_E_RPC_BAD_FRAME);
    }
    assert_int_equal(cm_rpc_frame_parse_req(cm_slice_make(b.ptr, 8), &method, &payload, &err), 0);
    assert_int_equal(payload.len, 0);
    b.ptr[0] = 'X';
    assert_int_equal(cm_rpc_frame_parse_req(cm_buf_slice(&b), &method, &payload, &err),
                     CM_E_RPC_BAD_FRAME);
    assert_non_null(strstr(err.msg, "magic"));
    cm_buf_reset(&b);
    assert_int_equal(cm_rpc_frame_put_req(&b, CM_RPC_METHODS_MAX, cm_slice_cstr(""), &err), 0);
    assert_int_equal(cm_rpc_frame_parse_req(cm_buf_slice(&b), &method, &payload, &err),
                     CM_E_RPC_NO_METHOD);
    /* A request frame is not a reply frame. */
    assert_int_equal(cm_rpc_frame_parse_rep(cm_buf_slice(&b), &payload, &err), CM_E_RPC_BAD_FRAME);

    /* Replies: ok, known error with text, unknown error code, positive status, control bytes. */
    cm_buf_reset(&b);
    assert_int_equal(cm_rpc_frame_put_rep(&b, 0, cm_slice_cstr("pong"), &err), 0);
    assert_int_equal(cm_rpc_frame_parse_rep(cm_buf_slice(&b), &payload, &err), 0);
    assert_true(cm_slice_eq(payload, cm_slice_cstr("pong")));
    cm_buf_reset(&b);
    assert_int_equal(
        cm_rpc_frame_put_rep(&b, CM_E_NOT_LEADER, cm_slice_cstr("leader is 3\n"), &err), 0);
    assert_int_equal(cm_rpc_frame_parse_rep(cm_buf_slice(&b), &payload, &err), CM_E_NOT_LEADER);
    assert_int_equal(err.code, CM_E_NOT_LEADER);
    assert_string_equal(err.msg, "leader is 3?");
    cm_buf_reset(&b);
    assert_int_equal(cm_rpc_frame_put_rep(&b, CM_E_NOT_LEADER, cm_slice_cstr(""), &err), 0);
    assert_int_equal(cm_rpc_frame_parse_rep(cm_buf_slice(&b), &payload, &err), CM_E_NOT_LEADER);
    assert_string_equal(err.msg, cm_err_message(CM_E_NOT_LEADER));
    cm_buf_reset(&b);
    assert_int_equal(cm_rpc_frame_put_rep(&b, -9999, cm_slice_cstr("new code"), &err), 0);
    assert_int_equal(cm_rpc_frame_parse_rep(cm_buf_slice(&b), &payload, &err), CM_E_INTERNAL);
    assert_non_null(strstr(err.msg, "-9999"));
    assert_non_null(strstr(err.msg, "new code"));
    assert_int_equal(cm_rpc_frame_put_rep(&b, 5, cm_slice_cstr(""), &err), CM_E_INVALID);
    uint8_t positive[] = {'T', 'S', 'P', '1', 0, 0, 0, 5};
    assert_int_equal(cm_rpc_frame_parse_rep(cm_slice_make(positive, 8), &payload, &err),
                     CM_E_RPC_BAD_FRAME);
    /* An error text longer than cm_err holds is cut, not overflowed. */
    char long_text[2 * CM_ERR_MSG_MAX];
    memset(long_text, 'x', sizeof(long_text));
    cm_buf_reset(&b);
    assert_int_equal(
        cm_rpc_frame_put_rep(&b, CM_E_IO, cm_slice_make(long_text, sizeof(long_text)), &err), 0);
    assert_int_equal(cm_rpc_frame_parse_rep(cm_buf_slice(&b), &payload, &err), CM_E_IO);
    assert_int_equal(strlen(err.msg), CM_ERR_MSG_MAX - 1);
    /* Size limit on both encoders and decoders. */
    assert_int_equal(
        cm_rpc_frame_put_req(&b, 1, cm_slice_make(long_text, CM_RPC_MSG_BYTES_MAX), &err),
        CM_E_TOO_LARGE);
    assert_int_equal(cm_rpc_frame_parse_req(cm_slice_make(long_text, CM_RPC_MSG_BYTES_MAX + 1u),
                                            &method, &payload, &err),
                     CM_E_TOO_LARGE);
    cm_buf_fini(&b);
}

/* ---- (a) 64 concurrent calls on one connection ---------------------------------------------- */

typedef struct caller {
    cm_rpc_client *c;
    int id;
    int ok;
} caller;

#define CALLS_PER_THREAD 10

static void *caller_main(void *arg)
{
    caller *k = arg;
    cm_buf out = CM_BUF_INIT;
    for (int i = 0; i < CALLS_PER_THREAD; i++) {
        char req[64], want[80];
        snprintf(req, sizeof(req), "thread %d call %d", k->id, i);
        snprintf(want, sizeof(want), "echo:%s", req);
        cm_err err;
        if (call_str(k->c, M_ECHO, req, &out, 10000, &err) == 0 && out.len == strlen(want) &&
            memcmp(out.ptr, want, out.len) == 0) {
            k->ok++;
        }
    }
    cm_buf_fini(&out);
    return NULL;
}

typedef struct async_slot {
    int id;
    int rc;
    char got[80];
    int done; /* atomic */
} async_slot;

static void async_done_cb(void *arg, int rc, cm_slice reply, const cm_err *err)
{
    async_slot *a = arg;
    a->rc = rc;
    size_t n = reply.len < sizeof(a->got) - 1 ? reply.len : sizeof(a->got) - 1;
    if (n > 0) {
        memcpy(a->got, reply.ptr, n);
    }
    a->got[n] = '\0';
    if (rc != 0) {
        snprintf(a->got, sizeof(a->got), "%.79s", err->msg);
    }
    __atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
}

static void wait_async(async_slot *slots, int n, uint64_t limit_ms)
{
    uint64_t end = cm_time_mono_ms() + limit_ms;
    for (int i = 0; i < n; i++) {
        while (!__atomic_load_n(&slots[i].done, __ATOMIC_ACQUIRE)) {
            assert_true(cm_time_mono_ms() < end);
            cm_time_sleep_ms(1);
        }
    }
}

static void test_64_concurrent_one_connection(void **state)
{
    (void)state;
    fx.echo_sleep_us = 2000; /* long enough that requests overlap in the server */
    cm_rpc_server *s = server_start(0, 8);
    cm_rpc_client *c = client_for(cm_rpc_server_port(s));

    pthread_t th[64];
    caller k[64];
    for (int i = 0; i < 64; i++) {
        k[i] = (caller){c, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, caller_main, &k[i]), 0);
    }
    for (int i = 0; i < 64; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(k[i].ok, CALLS_PER_THREAD);
    }

    /* The same through the asynchronous form: 64 calls started before any completes. */
    async_slot slots[64];
    memset(slots, 0, sizeof(slots));
    cm_err err;
    for (int i = 0; i < 64; i++) {
        char req[32];
        snprintf(req, sizeof(req), "async %d", i);
        slots[i].id = i;
        assert_int_equal(
            cm_rpc_call_async(c, M_ECHO, cm_slice_cstr(req), 10000, async_done_cb, &slots[i], &err),
            0);
    }
    wait_async(slots, 64, 15000);
    for (int i = 0; i < 64; i++) {
        char want[48];
        snprintf(want, sizeof(want), "echo:async %d", i);
        assert_int_equal(slots[i].rc, 0);
        assert_string_equal(slots[i].got, want);
    }
    assert_int_equal(__atomic_load_n(&fx.echo_calls, __ATOMIC_SEQ_CST), 64 * CALLS_PER_THREAD + 64);
    /* Served concurrently, and all over one connection (one peer address). */
    assert_true(fx.inflight_max >= 4);
    assert_int_equal(fx.npeers, 1);
    assert_non_null(strstr(fx.peers[0], "127.0.0.1:"));
    cm_rpc_client_free(c);
    cm_rpc_server_free(s);
}

/* ---- (b) dead peer: the call fails at its deadline ------------------------------------------ */

/* Deadline checks: never early; each attempt ends within DEADLINE_LATE_MAX_MS of its deadline
 * (no hang), and the best of several attempts within DEADLINE_LATE_BEST_MS (the
 * mechanism is prompt; single attempts can be late by a scheduling hiccup on a loaded machine,
 * and tests run in parallel with others on two cores). */
#define DEADLINE_ROUNDS       3
#define DEADLINE_LATE_MAX_MS  3000
#define DEADLINE_LATE_BEST_MS 150

static void check_deadline_rounds(const uint64_t *elapsed, int n, uint64_t deadline_ms)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < n; i++) {
        assert_true(elapsed[i] + 5 >= deadline_ms); /* ms clock: allow rounding */
        assert_true(elapsed[i] <= deadline_ms + DEADLINE_LATE_MAX_MS);
        best = elapsed[i] < best ? elapsed[i] : best;
    }
    assert_true(best <= deadline_ms + DEADLINE_LATE_BEST_MS);
}

static void test_dead_peer_deadline(void **state)
{
    (void)state;
    int port = dead_port();
    cm_rpc_client *c = client_for(port);
    cm_buf out = CM_BUF_INIT;
    cm_err err;
    uint64_t elapsed[DEADLINE_ROUNDS];
    for (int round = 0; round < DEADLINE_ROUNDS; round++) {
        uint64_t t0 = cm_time_mono_ms();
        int rc = call_str(c, M_ECHO, "anyone?", &out, 300, &err);
        elapsed[round] = cm_time_mono_ms() - t0;
        assert_int_equal(rc, CM_E_TIMEOUT);
        assert_int_equal(err.code, CM_E_TIMEOUT);
        assert_non_null(strstr(err.msg, "not sent"));
        assert_int_equal(out.len, 0);
    }
    check_deadline_rounds(elapsed, DEADLINE_ROUNDS, 300);
    /* Asynchronous form too. */
    for (int round = 0; round < DEADLINE_ROUNDS; round++) {
        async_slot a = {0};
        uint64_t t0 = cm_time_mono_ms();
        assert_int_equal(
            cm_rpc_call_async(c, M_ECHO, cm_slice_cstr("x"), 200, async_done_cb, &a, &err), 0);
        wait_async(&a, 1, 5000);
        elapsed[round] = cm_time_mono_ms() - t0;
        assert_int_equal(a.rc, CM_E_TIMEOUT);
    }
    check_deadline_rounds(elapsed, DEADLINE_ROUNDS, 200);
    cm_buf_fini(&out);
    cm_rpc_client_free(c);
}

/* ---- (c) the client recovers after the server restarts -------------------------------------- */

static void test_reconnect_after_restart(void **state)
{
    (void)state;
    cm_rpc_server *s = server_start(0, 2);
    int port = cm_rpc_server_port(s);
    cm_rpc_client *c = client_for(port);
    cm_buf out = CM_BUF_INIT;
    cm_err err;
    assert_int_equal(call_str(c, M_ECHO, "before", &out, 5000, &err), 0);
    cm_rpc_server_free(s);
    /* While it is down, calls fail (at their deadline or when the connection drops). */
    int rc = call_str(c, M_ECHO, "while down", &out, 150, &err);
    assert_true(rc == CM_E_TIMEOUT || rc == CM_E_UNAVAILABLE);
    s = server_start(port, 2);
    uint64_t t0 = cm_time_mono_ms();
    assert_int_equal(call_str(c, M_ECHO, "after", &out, 5000, &err), 0);
    uint64_t elapsed = cm_time_mono_ms() - t0;
    assert_true(out.len == 10 && memcmp(out.ptr, "echo:after", 10) == 0);
    /* Redial backoff is capped at CM_RPC_RECONNECT_MAX_MS; allow for that plus sanitizers. */
    assert_true(elapsed < CM_RPC_RECONNECT_MAX_MS + 2500);
    cm_buf_fini(&out);
    cm_rpc_client_free(c);
    cm_rpc_server_free(s);
}

/* A request in flight when its server dies is failed (CM_E_UNAVAILABLE), not sent again to the
 * server that comes up on the same port. "Server A" is a bare nng rep socket that reads the
 * request and closes without replying; server B counts what it receives. */
static void test_no_resend_across_restart(void **state)
{
    (void)state;
    nng_socket a;
    nng_listener l;
    assert_int_equal(nng_rep0_open(&a), 0);
    assert_int_equal(nng_listen(a, "tcp://127.0.0.1:0", &l, 0), 0);
    int port;
    assert_int_equal(nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port), 0);
    cm_rpc_client *c = client_for(port);
    async_slot r = {0};
    cm_err err;
    assert_int_equal(
        cm_rpc_call_async(c, M_SLOW, cm_slice_cstr("0"), 4000, async_done_cb, &r, &err), 0);
    nng_msg *m;
    assert_int_equal(nng_socket_set_ms(a, NNG_OPT_RECVTIMEO, 5000), 0);
    assert_int_equal(nng_recvmsg(a, &m, 0), 0); /* server A has the request... */
    nng_msg_free(m);
    uint64_t t0 = cm_time_mono_ms();
    nng_close(a); /* ...and dies without replying */
    cm_rpc_server *b = server_start(port, 2);
    wait_async(&r, 1, 5000);
    uint64_t elapsed = cm_time_mono_ms() - t0;
    assert_int_equal(r.rc, CM_E_UNAVAILABLE);
    assert_true(elapsed < 2000); /* failed when the connection broke, not at the deadline */
    /* The next call reaches B; the first request never did. */
    cm_buf out = CM_BUF_INIT;
    assert_int_equal(call_str(c, M_SLOW, "0", &out, 5000, &err), 0);
    cm_time_sleep_ms(200);
    assert_int_equal(__atomic_load_n(&fx.slow_calls, __ATOMIC_SEQ_CST), 1);
    cm_buf_fini(&out);
    cm_rpc_client_free(c);
    cm_rpc_server_free(b);
}

/* ---- (d) malformed frames get error replies; the server keeps serving ----------------------- */

typedef struct bystander {
    cm_rpc_client *c;
    int stop; /* atomic */
    int ok, bad;
} bystander;

static void *bystander_main(void *arg)
{
    bystander *b = arg;
    cm_buf out = CM_BUF_INIT;
    for (int i = 0; i < 100000 && !__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE); i++) {
        char req[32], want[48];
        snprintf(req, sizeof(req), "by %d", i);
        snprintf(want, sizeof(want), "echo:by %d", i);
        cm_err err;
        if (call_str(b->c, M_ECHO, req, &out, 5000, &err) == 0 && out.len == strlen(want) &&
            memcmp(out.ptr, want, out.len) == 0) {
            __atomic_add_fetch(&b->ok, 1, __ATOMIC_SEQ_CST);
        } else {
            b->bad++;
        }
    }
    cm_buf_fini(&out);
    return NULL;
}

/* Waits (bounded) until the bystander has had at least n good replies. */
static void wait_bystander(bystander *b, int n)
{
    uint64_t end = cm_time_mono_ms() + 10000;
    while (__atomic_load_n(&b->ok, __ATOMIC_SEQ_CST) < n) {
        assert_true(cm_time_mono_ms() < end);
        cm_time_sleep_ms(1);
    }
}

/* Sends raw bytes through a plain nng req0 socket; returns the decoded reply's code. */
static int raw_call(nng_socket raw, const void *bytes, size_t n, cm_err *err)
{
    nng_msg *m;
    assert_int_equal(nng_msg_alloc(&m, 0), 0);
    assert_int_equal(nng_msg_append(m, bytes, n), 0);
    assert_int_equal(nng_sendmsg(raw, m, 0), 0);
    int rv = nng_recvmsg(raw, &m, 0);
    assert_int_equal(rv, 0);
    cm_slice payload;
    int rc = cm_rpc_frame_parse_rep(cm_slice_make(nng_msg_body(m), nng_msg_len(m)), &payload, err);
    nng_msg_free(m);
    return rc;
}

static nng_socket raw_socket(int port)
{
    nng_socket raw;
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
    assert_int_equal(nng_req0_open(&raw), 0);
    assert_int_equal(nng_socket_set_ms(raw, NNG_OPT_RECVTIMEO, 5000), 0);
    assert_int_equal(nng_socket_set_ms(raw, NNG_OPT_SENDTIMEO, 5000), 0);
    assert_int_equal(nng_socket_set_ms(raw, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE), 0);
    assert_int_equal(nng_dial(raw, url, NULL, 0), 0);
    return raw;
}

static void test_malformed_frames(void **state)
{
    (void)state;
    cm_rpc_server *s = server_start(0, 4);
    int port = cm_rpc_server_port(s);
    bystander by = {client_for(port), 0, 0, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, bystander_main, &by), 0);

    wait_bystander(&by, 1); /* it is being served before the garbage starts... */
    nng_socket raw = raw_socket(port);
    cm_err err;
    uint8_t frame[64];
    /* too short */
    assert_int_equal(raw_call(raw, "TSR", 3, &err), CM_E_RPC_BAD_FRAME);
    assert_non_null(strstr(err.msg, "short"));
    assert_int_equal(raw_call(raw, "", 0, &err), CM_E_RPC_BAD_FRAME);
    /* bad magic */
    memcpy(frame, "TSR2\0\0\0\1payload", 15);
    assert_int_equal(raw_call(raw, frame, 15, &err), CM_E_RPC_BAD_FRAME);
    assert_non_null(strstr(err.msg, "magic"));
    /* a reply frame sent as a request */
    memcpy(frame, "TSP1\0\0\0\0", 8);
    assert_int_equal(raw_call(raw, frame, 8, &err), CM_E_RPC_BAD_FRAME);
    /* unknown method: unregistered, and out of the table's range */
    memcpy(frame, "TSR1\0\0\0\x4d", 8); /* 77 */
    assert_int_equal(raw_call(raw, frame, 8, &err), CM_E_RPC_NO_METHOD);
    memcpy(frame, "TSR1\xff\xff\xff\xff", 8);
    assert_int_equal(raw_call(raw, frame, 8, &err), CM_E_RPC_NO_METHOD);
    /* garbage */
    unsigned seed = 12345;
    for (int i = 0; i < 20; i++) {
        size_t n = (size_t)(rand_r(&seed) % (int)sizeof(frame));
        for (size_t j = 0; j < n; j++) {
            frame[j] = (uint8_t)rand_r(&seed);
        }
        assert_int_equal(raw_call(raw, frame, n, &err), CM_E_RPC_BAD_FRAME);
    }
    /* The same raw connection still gets served when it sends a good frame. */
    memcpy(frame, "TSR1\0\0\0\1hi", 10);
    assert_int_equal(raw_call(raw, frame, 10, &err), 0);
    assert_int_equal(cm_rpc_server_bad_frames(s), 26);
    /* And the client that behaved was served throughout. */
    wait_bystander(&by, __atomic_load_n(&by.ok, __ATOMIC_SEQ_CST) + 3); /* ...and after it */
    __atomic_store_n(&by.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    assert_true(by.ok > 0);
    assert_int_equal(by.bad, 0);
    nng_close(raw);
    cm_rpc_client_free(by.c);
    cm_rpc_server_free(s);
}

/* ---- (e) server error codes and messages reach the client ----------------------------------- */

static void test_server_errors(void **state)
{
    (void)state;
    cm_rpc_server *s = server_start(0, 2);
    cm_rpc_client *c = client_for(cm_rpc_server_port(s));
    cm_buf out = CM_BUF_INIT;
    cm_err err;
    char req[64];
    snprintf(req, sizeof(req), "%d epoch moved region=7 version=3", CM_E_EPOCH_NOT_MATCH);
    assert_int_equal(call_str(c, M_FAIL, req, &out, 5000, &err), CM_E_EPOCH_NOT_MATCH);
    assert_int_equal(err.code, CM_E_EPOCH_NOT_MATCH);
    assert_string_equal(err.msg, "epoch moved region=7 version=3");
    assert_int_equal(out.len, 0); /* the handler's partial reply is dropped */
    snprintf(req, sizeof(req), "%d", CM_E_KEY_IS_LOCKED);
    assert_int_equal(call_str(c, M_FAIL, req, &out, 5000, &err), CM_E_KEY_IS_LOCKED);
    assert_string_equal(err.msg, cm_err_message(CM_E_KEY_IS_LOCKED));
    /* A handler returning a positive number is a bug: the client gets INTERNAL. */
    assert_int_equal(call_str(c, M_FAIL, "3 oops", &out, 5000, &err), CM_E_INTERNAL);
    /* Unknown method through the client. */
    assert_int_equal(call_str(c, M_UNREGISTERED, "", &out, 5000, &err), CM_E_RPC_NO_METHOD);
    assert_non_null(strstr(err.msg, "77"));
    /* Asynchronous form carries the error as well. */
    async_slot a = {0};
    snprintf(req, sizeof(req), "%d no leader yet", CM_E_NOT_LEADER);
    assert_int_equal(
        cm_rpc_call_async(c, M_FAIL, cm_slice_cstr(req), 5000, async_done_cb, &a, &err), 0);
    wait_async(&a, 1, 5000);
    assert_int_equal(a.rc, CM_E_NOT_LEADER);
    assert_string_equal(a.got, "no leader yet");
    cm_buf_fini(&out);
    cm_rpc_client_free(c);
    cm_rpc_server_free(s);
}

/* ---- (f) oversize messages are refused ------------------------------------------------------ */

/* SP over TCP by hand (nng's wire format): an 8-byte greeting "\0SP\0" + u16be protocol + 0,
 * then each message as u64be length + u32be request id + body. req0 is protocol 0x30. */
static int sp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    static const uint8_t hello[8] = {0, 'S', 'P', 0, 0, 0x30, 0, 0};
    assert_int_equal(write(fd, hello, 8), 8);
    uint8_t peer[8];
    assert_int_equal(recv(fd, peer, 8, MSG_WAITALL), 8);
    assert_memory_equal(peer, "\0SP\0\0\x31", 6); /* rep0 */
    return fd;
}

static int sp_write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            return -1;
        }
        p += w, n -= (size_t)w;
    }
    return 0;
}

/* Sends one message; header_only sends the length and id without the body (a peer announcing a
 * message it does not send). */
static int sp_send(int fd, uint32_t id, const uint8_t *body, size_t n, int header_only)
{
    uint8_t h[12];
    uint64_t len = n + 4;
    for (int i = 0; i < 8; i++) {
        h[i] = (uint8_t)(len >> (56 - 8 * i));
    }
    for (int i = 0; i < 4; i++) {
        h[8 + i] = (uint8_t)(id >> (24 - 8 * i));
    }
    if (sp_write_all(fd, h, sizeof(h)) != 0) {
        return -1;
    }
    return header_only ? 0 : sp_write_all(fd, body, n);
}

/* Receives one reply; -1 when the connection ends or nothing comes within 5 s. */
static int sp_recv(int fd, uint32_t want_id, uint8_t *body, size_t cap, size_t *n)
{
    uint8_t h[12];
    if (recv(fd, h, sizeof(h), MSG_WAITALL) != (ssize_t)sizeof(h)) {
        return -1;
    }
    uint64_t len = 0;
    uint32_t id = 0;
    for (int i = 0; i < 8; i++) {
        len = len << 8 | h[i];
    }
    for (int i = 0; i < 4; i++) {
        id = id << 8 | h[8 + i];
    }
    assert_int_equal(id, want_id);
    assert_true(len >= 4 && len - 4 <= cap);
    *n = (size_t)(len - 4);
    return recv(fd, body, *n, MSG_WAITALL) == (ssize_t)*n ? 0 : -1;
}

static void test_oversize(void **state)
{
    (void)state;
    cm_rpc_server *s = server_start(0, 2);
    int port = cm_rpc_server_port(s);
    cm_rpc_client *c = client_for(port);
    cm_buf out = CM_BUF_INIT;
    cm_err err;
    size_t max_payload = CM_RPC_MSG_BYTES_MAX - CM_RPC_FRAME_HDR_BYTES;
    uint8_t *big = calloc(1, CM_RPC_MSG_BYTES_MAX + 1);
    assert_non_null(big);

    /* Client side: refused before anything is sent. */
    int before = __atomic_load_n(&fx.echo_calls, __ATOMIC_SEQ_CST);
    assert_int_equal(cm_rpc_call(c, M_ECHO, cm_slice_make(big, max_payload + 1), &out, 5000, &err),
                     CM_E_TOO_LARGE);
    assert_int_equal(err.code, CM_E_TOO_LARGE);
    assert_int_equal(cm_rpc_call_async(c, M_ECHO, cm_slice_make(big, max_payload + 1), 5000,
                                       async_done_cb, NULL, &err),
                     CM_E_TOO_LARGE);
    /* The largest allowed request goes through (echo adds 5 bytes: too large a reply, below). */
    assert_int_equal(cm_rpc_call(c, M_BIG, cm_slice_cstr("100"), &out, 5000, &err), 0);
    assert_int_equal(out.len, 100);
    /* Server side: a reply over the limit becomes a TOO_LARGE error, not a dropped connection. */
    char req[32];
    snprintf(req, sizeof(req), "%zu", max_payload + 1);
    assert_int_equal(call_str(c, M_BIG, req, &out, 10000, &err), CM_E_TOO_LARGE);
    assert_non_null(strstr(err.msg, "Big"));
    snprintf(req, sizeof(req), "%zu", max_payload);
    assert_int_equal(call_str(c, M_BIG, req, &out, 10000, &err), 0);
    assert_int_equal(out.len, max_payload);
    assert_int_equal(__atomic_load_n(&fx.echo_calls, __ATOMIC_SEQ_CST), before);

    /* A foreign peer's frame just over the limit is answered with TOO_LARGE; one that announces
     * more than nng is told to read gets its connection cut. Others are still served. (Spoken
     * as SP over plain TCP: nng 1.5.2's own nng_close can hang after a reset in the middle of a
     * 64 MiB send, see docs/rpc.md.) */
    int fd = sp_connect(port);
    assert_int_equal(sp_send(fd, 0x80000001u, big, 100, 0), 0);
    memcpy(big, "TSR1\0\0\0\1", 8);
    assert_int_equal(sp_send(fd, 0x80000002u, big, CM_RPC_MSG_BYTES_MAX + 1, 0), 0);
    uint8_t rep[256];
    size_t rep_len;
    assert_int_equal(sp_recv(fd, 0x80000001u, rep, sizeof(rep), &rep_len), 0);
    cm_slice payload;
    assert_int_equal(cm_rpc_frame_parse_rep(cm_slice_make(rep, rep_len), &payload, &err),
                     CM_E_RPC_BAD_FRAME); /* zeros: bad magic */
    assert_int_equal(sp_recv(fd, 0x80000002u, rep, sizeof(rep), &rep_len), 0);
    assert_int_equal(cm_rpc_frame_parse_rep(cm_slice_make(rep, rep_len), &payload, &err),
                     CM_E_TOO_LARGE);
    /* Announce 4 KiB more than nng reads: the server drops the connection at once. */
    assert_int_equal(sp_send(fd, 0x80000003u, big, CM_RPC_MSG_BYTES_MAX + 4096, 1), 0);
    assert_int_equal(sp_recv(fd, 0x80000003u, rep, sizeof(rep), &rep_len), -1);
    close(fd);
    assert_int_equal(call_str(c, M_ECHO, "still here", &out, 5000, &err), 0);
    free(big);
    cm_buf_fini(&out);
    cm_rpc_client_free(c);
    cm_rpc_server_free(s);
}

/* ---- (g) a slow handler: CM_E_TIMEOUT, and the request is not sent again -------------------- */

static void test_slow_handler_timeout_no_resend(void **state)
{
    (void)state;
    cm_rpc_server *s = server_start(0, 2);
    cm_rpc_client *c = client_for(cm_rpc_server_port(s));
    cm_buf out = CM_BUF_INIT;
    cm_err err;
    uint64_t t0 = cm_time_mono_ms();
    assert_int_equal(call_str(c, M_SLOW, "600", &out, 150, &err), CM_E_TIMEOUT);
    uint64_t elapsed = cm_time_mono_ms() - t0;
    assert_true(elapsed + 5 >= 150 && elapsed <= 150 + DEADLINE_LATE_MAX_MS);
    assert_non_null(strstr(err.msg, "no reply"));
    /* Calls on the same client keep working while the slow one is still running; the late reply
     * of the slow call must not be taken for theirs. */
    for (int i = 0; i < 20; i++) {
        char req[32], want[48];
        snprintf(req, sizeof(req), "next %d", i);
        snprintf(want, sizeof(want), "echo:next %d", i);
        assert_int_equal(call_str(c, M_ECHO, req, &out, 5000, &err), 0);
        assert_int_equal(out.len, strlen(want));
        assert_memory_equal(out.ptr, want, out.len);
    }
    cm_time_sleep_ms(900); /* past the slow handler's end and any resend interval */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(call_str(c, M_ECHO, "after", &out, 5000, &err), 0);
        assert_memory_equal(out.ptr, "echo:after", 10);
    }
    assert_int_equal(__atomic_load_n(&fx.slow_calls, __ATOMIC_SEQ_CST), 1);
    cm_buf_fini(&out);
    cm_rpc_client_free(c);
    cm_rpc_server_free(s);
}

/* ---- inline methods ------------------------------------------------------------------------- */

static void inline_slow_done_cb(void *arg, int rc, cm_slice reply, const cm_err *err)
{
    (void)reply;
    (void)err;
    __atomic_store_n((int *)arg, rc == 0 ? 1 : -1, __ATOMIC_SEQ_CST);
}

/* A method marked inline is served on the receiving nng thread: with the only worker busy in a
 * slow handler, it still answers at once (run by a worker, it would wait 800 ms and time out). */
static void test_inline_method(void **state)
{
    (void)state;
    cm_err err;
    cm_rpc_server *s;
    assert_int_equal(cm_rpc_server_create("127.0.0.1:0", 1, &s, &err), 0);
    assert_int_equal(cm_rpc_server_register(s, methods, CM_ARRAY_LEN(methods), &fx, &err), 0);
    assert_int_equal(cm_rpc_server_set_inline(s, M_UNREGISTERED, &err), CM_E_INVALID);
    assert_int_equal(cm_rpc_server_set_inline(s, M_ECHO, &err), 0);
    assert_int_equal(cm_rpc_server_start(s, &err), 0);
    assert_int_equal(cm_rpc_server_set_inline(s, M_FAIL, &err), CM_E_INVALID);
    cm_rpc_client *c1 = client_for(cm_rpc_server_port(s));
    cm_rpc_client *c2 = client_for(cm_rpc_server_port(s));
    cm_buf out = CM_BUF_INIT;
    assert_int_equal(call_str(c2, M_ECHO, "warm", &out, 5000, &err), 0); /* connected */
    int slow_done = 0;
    assert_int_equal(cm_rpc_call_async(c1, M_SLOW, cm_slice_cstr("800"), 5000, inline_slow_done_cb,
                                       &slow_done, &err),
                     0);
    uint64_t t_end = cm_time_mono_ms() + 2000;
    while (__atomic_load_n(&fx.slow_calls, __ATOMIC_SEQ_CST) == 0 && cm_time_mono_ms() < t_end) {
        cm_time_sleep_ms(1);
    }
    assert_int_equal(__atomic_load_n(&fx.slow_calls, __ATOMIC_SEQ_CST), 1); /* worker taken */
    for (int i = 0; i < 20; i++) {
        char req[32], want[48];
        snprintf(req, sizeof(req), "inline %d", i);
        snprintf(want, sizeof(want), "echo:inline %d", i);
        assert_int_equal(call_str(c2, M_ECHO, req, &out, 300, &err), 0);
        assert_int_equal(out.len, strlen(want));
        assert_memory_equal(out.ptr, want, out.len);
    }
    assert_int_equal(__atomic_load_n(&slow_done, __ATOMIC_SEQ_CST), 0); /* still running */
    /* A method not marked inline waits for the worker. */
    assert_int_equal(call_str(c2, M_FAIL, "-51 x", &out, 100, &err), CM_E_TIMEOUT);
    t_end = cm_time_mono_ms() + 5000;
    while (__atomic_load_n(&slow_done, __ATOMIC_SEQ_CST) == 0 && cm_time_mono_ms() < t_end) {
        cm_time_sleep_ms(5);
    }
    assert_int_equal(__atomic_load_n(&slow_done, __ATOMIC_SEQ_CST), 1);
    cm_buf_fini(&out);
    cm_rpc_client_free(c1);
    cm_rpc_client_free(c2);
    cm_rpc_server_free(s);
}

/* ---- protobuf end to end -------------------------------------------------------------------- */

static void test_protobuf_region(void **state)
{
    (void)state;
    cm_rpc_server *s = server_start(0, 2);
    cm_rpc_client *c = client_for(cm_rpc_server_port(s));
    Tessera__Metapb__Region r = TESSERA__METAPB__REGION__INIT;
    Tessera__Metapb__RegionEpoch epoch = TESSERA__METAPB__REGION_EPOCH__INIT;
    Tessera__Metapb__Peer p1 = TESSERA__METAPB__PEER__INIT, p2 = TESSERA__METAPB__PEER__INIT;
    Tessera__Metapb__Peer *peers[] = {&p1, &p2};
    r.id = 7;
    r.start_key.data = (uint8_t *)"t\x80\0\0\0\0\0\0\x01";
    r.start_key.len = 9;
    r.end_key.data = (uint8_t *)"t\x80\0\0\0\0\0\0\x02";
    r.end_key.len = 9;
    epoch.conf_ver = 3;
    epoch.version = 41;
    r.epoch = &epoch;
    p1.id = 1, p1.store_id = 1, p2.id = 2, p2.store_id = 2;
    r.peers = peers;
    r.n_peers = 2;
    ProtobufCMessage *reply;
    cm_err err;
    assert_int_equal(cm_rpc_call_pb(c, M_REGION, &r.base, &tessera__metapb__region__descriptor,
                                    &reply, 5000, &err),
                     0);
    Tessera__Metapb__Region *got = (Tessera__Metapb__Region *)reply;
    assert_int_equal(got->id, 7);
    assert_int_equal(got->start_key.len, 9);
    assert_memory_equal(got->start_key.data, r.start_key.data, 9);
    assert_memory_equal(got->end_key.data, r.end_key.data, 9);
    assert_non_null(got->epoch);
    assert_int_equal(got->epoch->conf_ver, 3);
    assert_int_equal(got->epoch->version, 42);
    assert_int_equal(got->n_peers, 3);
    assert_int_equal(got->peers[1]->store_id, 2);
    assert_int_equal(got->peers[2]->id, 700);
    assert_int_equal(got->peers[2]->role, TESSERA__METAPB__PEER_ROLE__LEARNER);
    protobuf_c_message_free_unpacked(reply, NULL);

    /* A request that does not decode: the handler's unpack error reaches the client. */
    cm_buf out = CM_BUF_INIT;
    assert_int_equal(call_str(c, M_REGION, "\xff\xff\xff", &out, 5000, &err), CM_E_RPC_BAD_MESSAGE);
    assert_non_null(strstr(err.msg, "Region"));
    /* A reply that does not decode as the expected message: CM_E_RPC_BAD_MESSAGE. */
    Tessera__Metapb__Store st = TESSERA__METAPB__STORE__INIT;
    st.address = "\xff\xff";
    assert_int_equal(cm_rpc_call_pb(c, M_GARBAGE, &st.base, &tessera__metapb__region__descriptor,
                                    &reply, 5000, &err),
                     CM_E_RPC_BAD_MESSAGE);
    assert_null(reply);
    cm_buf_fini(&out);
    cm_rpc_client_free(c);
    cm_rpc_server_free(s);
}

/* ---- API misuse and bad addresses ----------------------------------------------------------- */

static void test_bad_arguments(void **state)
{
    (void)state;
    cm_err err;
    cm_rpc_client *c;
    cm_rpc_server *s;
    const char *bad[] = {"", "localhost", "host:", ":80", "host:8x", "host:99999"};
    for (size_t i = 0; i < CM_ARRAY_LEN(bad); i++) {
        assert_int_equal(cm_rpc_client_create(bad[i], &c, &err), CM_E_INVALID);
        assert_int_equal(cm_rpc_server_create(bad[i], 1, &s, &err), CM_E_INVALID);
    }
    assert_int_equal(cm_rpc_server_create("127.0.0.1:0", -1, &s, &err), CM_E_INVALID);
    assert_int_equal(cm_rpc_server_create("127.0.0.1:0", 0, &s, &err), 0);
    cm_rpc_method dup[] = {{9, "A", echo_h}, {9, "B", echo_h}};
    assert_int_equal(cm_rpc_server_register(s, dup, 1, &fx, &err), 0);
    assert_int_equal(cm_rpc_server_register(s, dup + 1, 1, &fx, &err), CM_E_EXISTS);
    cm_rpc_method range[] = {{CM_RPC_METHODS_MAX, "X", echo_h}};
    assert_int_equal(cm_rpc_server_register(s, range, 1, &fx, &err), CM_E_INVALID);
    cm_rpc_method none[] = {{10, "N", NULL}};
    assert_int_equal(cm_rpc_server_register(s, none, 1, &fx, &err), CM_E_INVALID);
    assert_int_equal(cm_rpc_server_start(s, &err), 0);
    assert_int_equal(cm_rpc_server_register(s, methods, 1, &fx, &err), CM_E_INVALID);
    /* A second server on the same port fails to start. */
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", cm_rpc_server_port(s));
    cm_rpc_server *s2;
    assert_int_equal(cm_rpc_server_create(addr, 1, &s2, &err), 0);
    assert_int_not_equal(cm_rpc_server_start(s2, &err), 0);
    cm_rpc_server_free(s2);
    /* No time left: refused at once. */
    assert_int_equal(cm_rpc_client_create(addr, &c, &err), 0);
    cm_buf out = CM_BUF_INIT;
    assert_int_equal(call_str(c, 9, "x", &out, 0, &err), CM_E_TIMEOUT);
    assert_int_equal(call_str(c, 9, "x", &out, 5000, &err), 0);
    cm_buf_fini(&out);
    cm_rpc_client_free(c);
    cm_rpc_server_free(s);
    /* Freeing a server that never started, and NULLs. */
    assert_int_equal(cm_rpc_server_create("127.0.0.1:0", 1, &s, &err), 0);
    cm_rpc_server_free(s);
    cm_rpc_server_free(NULL);
    cm_rpc_client_free(NULL);
}

/* Freeing a client with asynchronous calls in flight completes them with CM_E_CLOSED. */
static void test_client_free_with_calls_in_flight(void **state)
{
    (void)state;
    int port = dead_port();
    cm_rpc_client *c = client_for(port);
    async_slot a[4];
    memset(a, 0, sizeof(a));
    cm_err err;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(
            cm_rpc_call_async(c, M_ECHO, cm_slice_cstr("x"), 10000, async_done_cb, &a[i], &err), 0);
    }
    uint64_t t0 = cm_time_mono_ms();
    cm_rpc_client_free(c);
    assert_true(cm_time_mono_ms() - t0 < 2000);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(a[i].done, 1);
        assert_int_equal(a[i].rc, CM_E_CLOSED);
    }
}

int main(void)
{
    cm_log_set_level(CM_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_codec),
        cmocka_unit_test_setup_teardown(test_64_concurrent_one_connection, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_dead_peer_deadline, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_after_restart, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_no_resend_across_restart, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_frames, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_server_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_oversize, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_slow_handler_timeout_no_resend, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_protobuf_region, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_inline_method, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_client_free_with_calls_in_flight, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests_name("rpc", tests, NULL, NULL);
}
