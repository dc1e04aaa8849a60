/*
 * sql_func_digest.c — MD5, SHA1 / SHA and SHA2 through OpenSSL's EVP digests: TEXT of lowercase
 * hex digits, as MySQL returns them. The only file of the session module that includes OpenSSL
 * (the digests are not worth a second implementation; DESIGN.md §2 keeps OpenSSL out of the
 * rest).
 */
#include "sql_func_int.h"

#include <openssl/evp.h>

static void digest(sqlite3_context *ctx, sqlite3_value *v, const EVP_MD *md)
{
    if (sqlite3_value_type(v) == SQLITE_NULL || md == NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_fn_str s = sql_fn_get_str(v);
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hn = 0;
    if (EVP_Digest(s.p, s.n, h, &hn, md, NULL) != 1) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    char out[2 * EVP_MAX_MD_SIZE + 1];
    static const char hexd[] = "0123456789abcdef";
    for (unsigned int i = 0; i < hn; i++) {
        out[2 * i] = hexd[h[i] >> 4];
        out[2 * i + 1] = hexd[h[i] & 15];
    }
    sqlite3_result_text(ctx, out, (int)(2 * hn), SQLITE_TRANSIENT);
}

/* MD5(s) → TEXT, 32 hex digits. */
static void f_md5(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    digest(ctx, argv[0], EVP_md5());
}

/* SHA1(s), SHA(s) → TEXT, 40 hex digits. */
static void f_sha1(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    digest(ctx, argv[0], EVP_sha1());
}

/* SHA2(s, bits) → TEXT; bits 224, 256 (or 0), 384, 512; NULL for other lengths. */
static void f_sha2(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[1]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    const EVP_MD *md = NULL;
    switch (sqlite3_value_int64(argv[1])) {
    case 224:
        md = EVP_sha224();
        break;
    case 0:
    case 256:
        md = EVP_sha256();
        break;
    case 384:
        md = EVP_sha384();
        break;
    case 512:
        md = EVP_sha512();
        break;
    default:
        break;
    }
    digest(ctx, argv[0], md);
}

static const sql_fn_def digest_fns[] = {
    {"md5", 1, 1, f_md5},
    {"sha1", 1, 1, f_sha1},
    {"sha", 1, 1, f_sha1},
    {"sha2", 2, 1, f_sha2},
};

int sql_func_digest_register(sql_sess *s)
{
    return sql_fn_register_table(s, digest_fns, sizeof(digest_fns) / sizeof(digest_fns[0]));
}
