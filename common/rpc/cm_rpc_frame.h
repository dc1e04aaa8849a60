/*
 * cm_rpc_frame.h — the RPC frame codec: pure functions over bytes, no sockets, no threads, so
 * the whole decoder can be fuzzed (fuzz_rpc_frame) and unit-tested without a server.
 *
 *   request:  u32be magic 'TSR1' | u32be method | payload
 *   reply:    u32be magic 'TSP1' | i32be status | payload   (status < 0: payload is the error text)
 *
 * Every decoder reads external input: it returns an error for anything malformed and never
 * asserts on the bytes it is given.
 */
#ifndef CM_RPC_FRAME_H
#define CM_RPC_FRAME_H

#include "cm_buf.h"
#include "cm_err.h"

#include <stdint.h>

/* Magic + method (request) or magic + status (reply). */
#define CM_RPC_FRAME_HDR_BYTES 8u

/* Appends a request frame (header + payload) to out. Returns 0, CM_E_TOO_LARGE when the frame
 * would exceed CM_RPC_MSG_BYTES_MAX, or CM_E_NOMEM. */
int cm_rpc_frame_put_req(cm_buf *out, uint32_t method, cm_slice payload, cm_err *err);
/* Appends a reply frame. status is 0 (payload is the reply) or a negative CM_E_* code (payload is
 * the error text). Same errors as cm_rpc_frame_put_req. */
int cm_rpc_frame_put_rep(cm_buf *out, int32_t status, cm_slice payload, cm_err *err);

/* Decodes a request frame. On 0, *method and *payload (borrowed from frame) are set.
 * Errors: CM_E_RPC_BAD_FRAME (short, bad magic), CM_E_TOO_LARGE (over CM_RPC_MSG_BYTES_MAX),
 * CM_E_RPC_NO_METHOD (method id >= CM_RPC_METHODS_MAX; the server also answers NO_METHOD for ids
 * below that with no handler). */
int cm_rpc_frame_parse_req(cm_slice frame, uint32_t *method, cm_slice *payload, cm_err *err);

/* Decodes a reply frame into the call's result: returns 0 with *payload (borrowed) set, or the
 * peer's error code with its text in err (an unknown negative code becomes CM_E_INTERNAL, with the
 * code in the message, since the error table only grows and an older binary may not know it), or
 * CM_E_RPC_BAD_FRAME / CM_E_TOO_LARGE for a frame that does not decode. */
int cm_rpc_frame_parse_rep(cm_slice frame, cm_slice *payload, cm_err *err);

#endif
