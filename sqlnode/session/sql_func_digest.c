/*
 * sql_func_digest.c — MD5, SHA1 / SHA and SHA2: TEXT of lowercase hex digits, as MySQL returns
 * them, through common/crypto (OpenSSL stays out of the session module, DESIGN.md §2).
 */
#include "sql_func_int.h"

#include "cm_digest.h"

static void digest(sqlite3_context *ctx, sqlite3_value *v, int alg)
{
    if (sqlite3_value_type(v) == SQLITE_NULL || alg < 0) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_fn_str s = sql_fn_get_str(v);
    char out[2 * CM_DIGEST_MAX + 1];
    size_t n = cm_digest_hex((cm_digest_alg)alg, s.p, s.n, out);
    if (n == 0) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sqlite3_result_text(ctx, out, (int)n, SQLITE_TRANSIENT);
}

/* MD5(s) → TEXT, 32 hex digits. */
static void f_md5(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    digest(ctx, argv[0], CM_DIGEST_MD5);
}

/* SHA1(s), SHA(s) → TEXT, 40 hex digits. */
static void f_sha1(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    digest(ctx, argv[0], CM_DIGEST_SHA1);
}

/* SHA2(s, bits) → TEXT; bits 224, 256 (or 0), 384, 512; NULL for other lengths. */
static void f_sha2(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[1]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    int md = -1;
    switch (sqlite3_value_int64(argv[1])) {
    case 224:
        md = CM_DIGEST_SHA224;
        break;
    case 0:
    case 256:
        md = CM_DIGEST_SHA256;
        break;
    case 384:
        md = CM_DIGEST_SHA384;
        break;
    case 512:
        md = CM_DIGEST_SHA512;
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
