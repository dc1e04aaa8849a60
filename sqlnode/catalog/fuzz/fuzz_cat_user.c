/*
 * fuzz_cat_user.c — libFuzzer target over stored account records (values read from the `Users`
 * metadata hash): whatever decodes must re-encode to the same bytes and answer privilege lookups;
 * host patterns are matched against a fixed address. Nothing may crash, leak or abort.
 */
#include "sql_cat_user.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cm_arena a;
    cm_arena_init(&a, 0);
    cm_err err;
    sql_user u;
    if (sql_user_decode(cm_slice_make(data, size), &a, &u, &err) == 0) {
        cm_buf b = CM_BUF_INIT;
        if (sql_user_encode(&u, &b) != 0 || b.len != size || memcmp(b.ptr, data, size) != 0) {
            abort(); /* a decoded record re-encodes to the bytes it came from */
        }
        cm_buf_fini(&b);
        (void)sql_user_host_match(u.host, "127.0.0.1");
        for (uint32_t i = 0; i < u.ngrants; i++) {
            (void)sql_user_privs(&u, u.grants[i].db, u.grants[i].table);
        }
        (void)sql_user_any_in_db(&u, "test");
    }
    cm_arena_fini(&a);
    return 0;
}
