/*
 * fuzz_rpc_frame — libFuzzer target over the RPC frame decoder (cm_rpc_frame.h): every input is
 * decoded as a request and as a reply; a frame that decodes must re-encode to the same bytes.
 */
#include "cm_rpc_frame.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cm_slice in = cm_slice_make(data, size);
    cm_err err;
    uint32_t method;
    cm_slice payload;
    cm_buf b = CM_BUF_INIT;
    if (cm_rpc_frame_parse_req(in, &method, &payload, &err) == 0) {
        if (cm_rpc_frame_put_req(&b, method, payload, &err) != 0 || b.len != size ||
            memcmp(b.ptr, data, size) != 0) {
            abort();
        }
    } else if (err.code >= 0 || err.msg[0] == '\0') {
        abort(); /* an error always comes with its code and a message */
    }
    cm_buf_reset(&b);
    int rc = cm_rpc_frame_parse_rep(in, &payload, &err);
    if (rc == 0) {
        if (cm_rpc_frame_put_rep(&b, 0, payload, &err) != 0 || b.len != size ||
            memcmp(b.ptr, data, size) != 0) {
            abort();
        }
    } else {
        if (err.code != rc || !cm_err_known(rc) || strlen(err.msg) >= CM_ERR_MSG_MAX) {
            abort();
        }
        for (const char *p = err.msg; *p != '\0'; p++) {
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
                abort(); /* peer text is sanitized before it reaches logs */
            }
        }
    }
    cm_buf_fini(&b);
    return 0;
}
