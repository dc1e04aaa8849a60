/* test_digest.c — cm_digest against the published test vectors of "abc" and "". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_digest.h"

#include <string.h>

static void t_vectors(void **state)
{
    (void)state;
    char hex[2 * CM_DIGEST_MAX + 1];
    assert_int_equal(cm_digest_hex(CM_DIGEST_MD5, "abc", 3, hex), 32);
    assert_string_equal(hex, "900150983cd24fb0d6963f7d28e17f72");
    assert_int_equal(cm_digest_hex(CM_DIGEST_SHA1, "abc", 3, hex), 40);
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert_int_equal(cm_digest_hex(CM_DIGEST_SHA256, "", 0, hex), 64);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(cm_digest_hex(CM_DIGEST_SHA224, "abc", 3, hex), 56);
    assert_string_equal(hex, "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7");
    assert_int_equal(cm_digest_hex(CM_DIGEST_SHA384, "abc", 3, hex), 96);
    assert_int_equal(cm_digest_hex(CM_DIGEST_SHA512, "abc", 3, hex), 128);
    assert_memory_equal(hex, "ddaf35a193617aba", 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
