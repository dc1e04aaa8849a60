/* cm_rpc_frame.c — see cm_rpc_frame.h. */
#include "cm_rpc_frame.h"
#include "cm_limits.h"
#include "cm_rpc.h"

#include <stdio.h>
#include <string.h>

static int put_frame(cm_buf *out, uint32_t magic, uint32_t word, cm_slice payload, cm_err *err)
{
    if (payload.len > CM_RPC_MSG_BYTES_MAX - CM_RPC_FRAME_HDR_BYTES) {
        return cm_err_set(err, CM_E_TOO_LARGE, "rpc: frame of %zu payload bytes exceeds %u bytes",
                          payload.len, (unsigned)CM_RPC_MSG_BYTES_MAX);
    }
    if (cm_buf_reserve(out, CM_RPC_FRAME_HDR_BYTES + payload.len) != 0 ||
        cm_buf_append_u32be(out, magic) != 0 || cm_buf_append_u32be(out, word) != 0 ||
        cm_buf_append_slice(out, payload) != 0) {
        return cm_err_set(err, CM_E_NOMEM, "rpc: out of memory building a frame");
    }
    return 0;
}

int cm_rpc_frame_put_req(cm_buf *out, uint32_t method, cm_slice payload, cm_err *err)
{
    return put_frame(out, CM_RPC_REQ_MAGIC, method, payload, err);
}

int cm_rpc_frame_put_rep(cm_buf *out, int32_t status, cm_slice payload, cm_err *err)
{
    if (status > 0) {
        return cm_err_set(err, CM_E_INVALID, "rpc: reply status %d is positive", (int)status);
    }
    return put_frame(out, CM_RPC_REP_MAGIC, (uint32_t)status, payload, err);
}

/* Reads the 8-byte header shared by both frame kinds. */
static int parse_header(cm_slice frame, uint32_t want_magic, uint32_t *word, cm_slice *payload,
                        cm_err *err)
{
    if (frame.len > CM_RPC_MSG_BYTES_MAX) {
        return cm_err_set(err, CM_E_TOO_LARGE, "rpc: frame of %zu bytes exceeds %u bytes",
                          frame.len, (unsigned)CM_RPC_MSG_BYTES_MAX);
    }
    cm_reader r;
    cm_reader_init(&r, frame.ptr, frame.len);
    uint32_t magic;
    if (cm_reader_u32be(&r, &magic) != 0 || cm_reader_u32be(&r, word) != 0) {
        return cm_err_set(err, CM_E_RPC_BAD_FRAME, "rpc: short frame (%zu bytes, need %u)",
                          frame.len, CM_RPC_FRAME_HDR_BYTES);
    }
    if (magic != want_magic) {
        return cm_err_set(err, CM_E_RPC_BAD_FRAME, "rpc: bad magic 0x%08x (want 0x%08x)", magic,
                          want_magic);
    }
    payload->ptr = frame.ptr + CM_RPC_FRAME_HDR_BYTES;
    payload->len = frame.len - CM_RPC_FRAME_HDR_BYTES;
    return 0;
}

int cm_rpc_frame_parse_req(cm_slice frame, uint32_t *method, cm_slice *payload, cm_err *err)
{
    int rc = parse_header(frame, CM_RPC_REQ_MAGIC, method, payload, err);
    if (rc != 0) {
        return rc;
    }
    if (*method >= CM_RPC_METHODS_MAX) {
        return cm_err_set(err, CM_E_RPC_NO_METHOD, "rpc: method %u out of range (max %u)", *method,
                          (unsigned)CM_RPC_METHODS_MAX - 1);
    }
    return 0;
}

/* Copies a peer's error text into err->msg: printable ASCII only (the text came off the wire and
 * will end up in logs and MySQL error packets), cut to the buffer. */
static void copy_error_text(cm_err *err, cm_slice text)
{
    size_t n = text.len < CM_ERR_MSG_MAX - 1 ? text.len : CM_ERR_MSG_MAX - 1;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = text.ptr[i];
        err->msg[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    err->msg[n] = '\0';
}

int cm_rpc_frame_parse_rep(cm_slice frame, cm_slice *payload, cm_err *err)
{
    uint32_t word;
    int rc = parse_header(frame, CM_RPC_REP_MAGIC, &word, payload, err);
    if (rc != 0) {
        return rc;
    }
    int32_t status = (int32_t)word;
    if (status == 0) {
        return 0;
    }
    if (status > 0) {
        return cm_err_set(err, CM_E_RPC_BAD_FRAME, "rpc: reply status %d is positive", (int)status);
    }
    cm_slice text = *payload;
    payload->ptr = NULL;
    payload->len = 0;
    int code = cm_err_known(status) ? (int)status : CM_E_INTERNAL;
    if (err != NULL) {
        err->code = code;
        if (code != status) {
            cm_err tmp;
            copy_error_text(&tmp, text);
            snprintf(err->msg, sizeof(err->msg), "rpc: peer error %d: %.400s", (int)status,
                     tmp.msg);
        } else if (text.len == 0) {
            snprintf(err->msg, sizeof(err->msg), "%s", cm_err_message(code));
        } else {
            copy_error_text(err, text);
        }
    }
    return code;
}
