/*
 * cm_rpc.h — RPC over nng between Tessera processes.
 *
 * Server: a table of methods (id → handler, like Redis's command table) served by worker threads
 * over an nng rep0 socket; each worker owns nng contexts, so many requests from one connection
 * are served concurrently. Client: one nng req0 socket per peer address with many requests in
 * flight on one connection (one nng context per call), a deadline per call, reconnection after
 * the peer restarts, and *no automatic resend*: a request whose reply does not arrive by its
 * deadline fails with CM_E_TIMEOUT and the caller decides (non-idempotent requests are never sent
 * twice by this layer).
 *
 * Frame (our own, not protobuf, so that a malformed one is cheap to reject):
 *   request:  u32be magic 'TSR1' | u32be method | payload
 *   reply:    u32be magic 'TSP1' | i32be status | payload   (status < 0: payload is the error text)
 * Payloads are usually protobuf-c messages of proto/, but bulk data stays opaque bytes.
 * A malformed request frame gets an error reply (CM_E_RPC_BAD_FRAME) and a log line; the server
 * keeps serving. Messages larger than CM_RPC_MSG_BYTES_MAX are refused on both sides.
 */
#ifndef CM_RPC_H
#define CM_RPC_H

#include "cm_arena.h"
#include "cm_buf.h"
#include "cm_err.h"

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#define CM_RPC_REQ_MAGIC 0x54535231u /* "TSR1" */
#define CM_RPC_REP_MAGIC 0x54535031u /* "TSP1" */

/* (Added.) Module-local limits, each with its reason (the global ones are in cm_limits.h). */
/* nng contexts a server keeps receiving per worker thread: requests already read off a connection
 * wait in a queue that every worker serves, so a slow handler holds back nothing it did not take;
 * 8 per worker keeps 64 requests of one connection in progress with the default 8 workers. */
#define CM_RPC_SERVER_CTX_PER_WORKER 8
/* Client redial backoff after a connection fails: first retry after 10 ms (a restarted peer is
 * found quickly), doubling up to 500 ms (a dead peer costs each client two connects a second). */
#define CM_RPC_RECONNECT_MIN_MS 10
#define CM_RPC_RECONNECT_MAX_MS 500

/* One call as a handler sees it. Everything here is valid only during the handler. */
typedef struct cm_rpc_req {
    uint32_t method;
    cm_slice payload; /* borrowed request payload */
    cm_arena *arena;  /* per-request arena, reset after the reply is sent */
    const char *peer; /* peer description for logs, may be "?" */
} cm_rpc_req;

/* A handler appends its reply payload to `reply` and returns 0, or returns a negative CM_E_*
 * code with a message in `err` (sent to the client as the error). `user` is the pointer given
 * at registration (borrowed). Handlers run on worker threads concurrently. */
typedef int (*cm_rpc_handler_cb)(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err);

typedef struct cm_rpc_method {
    uint32_t id;      /* < CM_RPC_METHODS_MAX */
    const char *name; /* for logs and metrics */
    cm_rpc_handler_cb handler;
} cm_rpc_method;

typedef struct cm_rpc_server cm_rpc_server;

/* Creates a server that will listen on addr ("host:port"; port 0 picks a free one). workers 0
 * means CM_RPC_WORKERS_DEFAULT. */
int cm_rpc_server_create(const char *addr, int workers, cm_rpc_server **out, cm_err *err);
/* Registers methods before start; `methods` and `user` are borrowed and must outlive the server. */
int cm_rpc_server_register(cm_rpc_server *s, const cm_rpc_method *methods, size_t count, void *user,
                           cm_err *err);
/* Marks a registered method to run on the nng thread that received it instead of a worker
 * (before start). Only for handlers that never block — no I/O, no waiting on other threads, a
 * short critical section at most — such as one that queues the payload for another thread: it
 * saves the hand-off to a worker (a thread wake, tens to hundreds of microseconds on a loaded
 * machine) but holds up nng's completion thread while it runs. */
int cm_rpc_server_set_inline(cm_rpc_server *s, uint32_t method, cm_err *err);
/* Starts listening and serving. */
int cm_rpc_server_start(cm_rpc_server *s, cm_err *err);
/* The port actually bound (useful with port 0). */
int cm_rpc_server_port(const cm_rpc_server *s);
/* Malformed request frames answered with an error so far (short, bad magic, unknown method). */
uint64_t cm_rpc_server_bad_frames(const cm_rpc_server *s);
/* Stops serving (in-flight handlers finish) and frees the server. */
void cm_rpc_server_free(cm_rpc_server *s);

typedef struct cm_rpc_client cm_rpc_client;

/* Creates a client for addr ("host:port"). Connection happens in the background and is retried
 * forever; a call before the peer is up waits for it until its deadline. */
int cm_rpc_client_create(const char *addr, cm_rpc_client **out, cm_err *err);
void cm_rpc_client_free(cm_rpc_client *c);
const char *cm_rpc_client_addr(const cm_rpc_client *c);

/* Sends one request and waits for its reply until timeout_ms passes. On 0, `reply` holds the
 * payload (appended). Errors: CM_E_TIMEOUT (deadline; the request may or may not have been
 * executed), CM_E_TOO_LARGE, the server's error code with its message, CM_E_RPC_BAD_FRAME for a
 * garbled reply. Thread-safe: many threads may call on one client at once.
 * (Added.) CM_E_UNAVAILABLE: the connection the request went out on broke before the reply came
 * (peer restarted or network cut); like CM_E_TIMEOUT the request may or may not have been
 * executed, and it is never sent again by this layer (see docs/rpc.md). */
int cm_rpc_call(cm_rpc_client *c, uint32_t method, cm_slice req, cm_buf *reply, int64_t timeout_ms,
                cm_err *err);

/* Asynchronous form: `done_cb` runs once on an nng thread with the result; `reply` is borrowed
 * for the duration of the callback only. */
typedef void (*cm_rpc_done_cb)(void *arg, int rc, cm_slice reply, const cm_err *err);
/* (Added.) A non-zero return means the call was not started and done_cb will not run:
 * CM_E_TOO_LARGE, CM_E_BUSY (CM_RPC_INFLIGHT_MAX calls already in flight: an asynchronous call
 * never blocks), CM_E_NOMEM, CM_E_CLOSED. done_cb may start new calls. */
int cm_rpc_call_async(cm_rpc_client *c, uint32_t method, cm_slice req, int64_t timeout_ms,
                      cm_rpc_done_cb done_cb, void *arg, cm_err *err);

/* protobuf-c conveniences. cm_rpc_call_pb packs `req`, calls, and unpacks the reply with
 * `reply_desc` into *reply_out (free it with protobuf_c_message_free_unpacked). A reply that
 * does not decode is CM_E_RPC_BAD_MESSAGE. */
int cm_rpc_call_pb(cm_rpc_client *c, uint32_t method, const ProtobufCMessage *req,
                   const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **reply_out,
                   int64_t timeout_ms, cm_err *err);
/* For handlers: unpack the request payload (into the request arena's allocator is not required;
 * free with protobuf_c_message_free_unpacked) and pack a reply message into `reply`. */
int cm_rpc_unpack(const cm_rpc_req *req, const ProtobufCMessageDescriptor *desc,
                  ProtobufCMessage **out, cm_err *err);
int cm_rpc_pack(const ProtobufCMessage *msg, cm_buf *reply);

#endif
