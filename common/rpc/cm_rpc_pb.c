/* cm_rpc_pb.c — protobuf-c conveniences over cm_rpc_call and the handler side (see cm_rpc.h). */
#include "cm_limits.h"
#include "cm_rpc.h"
#include "cm_rpc_frame.h"

#include <stdlib.h>

int cm_rpc_pack(const ProtobufCMessage *msg, cm_buf *reply)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (n > CM_RPC_MSG_BYTES_MAX - CM_RPC_FRAME_HDR_BYTES) {
        return CM_E_TOO_LARGE;
    }
    if (cm_buf_reserve(reply, n) != 0) {
        return CM_E_NOMEM;
    }
    size_t w = protobuf_c_message_pack(msg, reply->ptr + reply->len);
    if (w != n) {
        return CM_E_INTERNAL;
    }
    reply->len += n;
    return 0;
}

static int unpack(cm_slice bytes, const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out,
                  cm_err *err)
{
    *out = protobuf_c_message_unpack(desc, NULL, bytes.len, bytes.ptr);
    if (*out == NULL) {
        return cm_err_set(err, CM_E_RPC_BAD_MESSAGE, "rpc: %zu bytes do not decode as %s",
                          bytes.len, desc->name);
    }
    return 0;
}

int cm_rpc_unpack(const cm_rpc_req *req, const ProtobufCMessageDescriptor *desc,
                  ProtobufCMessage **out, cm_err *err)
{
    return unpack(req->payload, desc, out, err);
}

int cm_rpc_call_pb(cm_rpc_client *c, uint32_t method, const ProtobufCMessage *req,
                   const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **reply_out,
                   int64_t timeout_ms, cm_err *err)
{
    *reply_out = NULL;
    cm_buf in = CM_BUF_INIT;
    cm_buf out = CM_BUF_INIT;
    int rc = cm_rpc_pack(req, &in);
    if (rc != 0) {
        cm_err_set(err, rc, "rpc: cannot pack %s for %s", req->descriptor->name,
                   cm_rpc_client_addr(c));
    } else if ((rc = cm_rpc_call(c, method, cm_buf_slice(&in), &out, timeout_ms, err)) == 0) {
        rc = unpack(cm_buf_slice(&out), reply_desc, reply_out, err);
    }
    cm_buf_fini(&in);
    cm_buf_fini(&out);
    return rc;
}
