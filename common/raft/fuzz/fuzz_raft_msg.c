/*
 * fuzz_raft_msg — libFuzzer target for the Raft wire decoder: any input either decodes to a
 * valid message or is rejected with an error; a decoded message re-encodes and decodes to the
 * same fields (a batch of several messages is decoded until the first error).
 */
#include "cm_raft.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cm_reader r;
    cm_reader_init(&r, data, size);
    cm_arena a;
    cm_arena_init(&a, 0);
    for (int i = 0; i < 16 && cm_reader_left(&r) > 0; i++) {
        cm_raft_msg m;
        cm_err err;
        if (cm_raft_msg_decode(&r, &a, &m, &err) != 0) {
            break;
        }
        cm_buf b = CM_BUF_INIT;
        if (cm_raft_msg_encode(&m, &b) != 0) {
            abort();
        }
        cm_reader r2;
        cm_reader_init(&r2, b.ptr, b.len);
        cm_raft_msg m2;
        if (cm_raft_msg_decode(&r2, &a, &m2, &err) != 0 || cm_reader_left(&r2) != 0) {
            abort();
        }
        if (m2.type != m.type || m2.from != m.from || m2.to != m.to || m2.term != m.term ||
            m2.n_entries != m.n_entries || m2.index != m.index || m2.commit != m.commit) {
            abort();
        }
        for (size_t k = 0; k < m.n_entries; k++) {
            if (!cm_slice_eq(m.entries[k].data, m2.entries[k].data) ||
                m.entries[k].term != m2.entries[k].term) {
                abort();
            }
        }
        cm_buf_fini(&b);
    }
    cm_arena_fini(&a);
    return 0;
}
