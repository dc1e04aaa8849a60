/* Unit tests for authentication: scramble computations against known vectors (SHA1(SHA1(
 * 'secret')) is MySQL's famous PASSWORD('secret') hash), checks, the account table, the
 * caching_sha2 cache, the RSA password exchange, and TLS/RSA key material generation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_err.h"
#include "sql_auth.h"
#include "sql_tls.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void unhex(const char *h, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

static void nonce_1_to_20(uint8_t n[SQL_NONCE_LEN])
{
    for (int i = 0; i < SQL_NONCE_LEN; i++) {
        n[i] = (uint8_t)(i + 1);
    }
}

static void test_native_vectors(void **state)
{
    (void)state;
    uint8_t nonce[SQL_NONCE_LEN], got[20], want[20], h2[20];
    nonce_1_to_20(nonce);
    sql_auth_native_h2("secret", 6, h2);
    unhex("14e65567abdb5135d0cfd9a70b3032c179a49ee7", want, 20);
    assert_memory_equal(h2, want, 20);
    sql_auth_native_scramble(nonce, "secret", 6, got);
    unhex("b32bb3a583e1340c0a1108d58b1be49781ad8c2f", want, 20);
    assert_memory_equal(got, want, 20);
    assert_true(sql_auth_native_check(h2, nonce, got, 20));
    got[0] ^= 1;
    assert_false(sql_auth_native_check(h2, nonce, got, 20));
    got[0] ^= 1;
    assert_false(sql_auth_native_check(h2, nonce, got, 19));
    nonce[3] ^= 1;
    assert_false(sql_auth_native_check(h2, nonce, got, 20));
}

static void test_sha2_vectors(void **state)
{
    (void)state;
    uint8_t nonce[SQL_NONCE_LEN], got[32], want[32], h2[32];
    nonce_1_to_20(nonce);
    sql_auth_sha2_h2("secret", 6, h2);
    unhex("3881219d087dd9c634373fd33dfa33a2cb6bfc6c520b64b8bb60ef2ceb534ae7", want, 32);
    assert_memory_equal(h2, want, 32);
    sql_auth_sha2_scramble(nonce, "secret", 6, got);
    unhex("746ebe205d56a0707acb3e796e834e0dd7b1d61743b26bd5202c7a623230c7c9", want, 32);
    assert_memory_equal(got, want, 32);
    assert_true(sql_auth_sha2_check(h2, nonce, SQL_NONCE_LEN, got, 32));
    assert_false(sql_auth_sha2_check(h2, nonce, SQL_NONCE_LEN - 1, got, 32));
    got[31] ^= 0x80;
    assert_false(sql_auth_sha2_check(h2, nonce, SQL_NONCE_LEN, got, 32));
    assert_false(sql_auth_sha2_check(h2, nonce, SQL_NONCE_LEN, got, 20));
}

static void test_nonce(void **state)
{
    (void)state;
    uint8_t a[SQL_NONCE_LEN], b[SQL_NONCE_LEN];
    for (int k = 0; k < 200; k++) {
        assert_int_equal(sql_auth_nonce(a), 0);
        for (int i = 0; i < SQL_NONCE_LEN; i++) {
            assert_int_not_equal(a[i], 0);
            assert_int_not_equal(a[i], '$');
            assert_true(a[i] < 0x80);
        }
    }
    sql_auth_nonce(b);
    assert_memory_not_equal(a, b, SQL_NONCE_LEN);
}

static void test_accounts(void **state)
{
    (void)state;
    sql_auth a;
    cm_err err;
    sql_auth_init(&a, SQL_AUTH_NATIVE);
    assert_int_equal(sql_auth_add(&a, "root", "", SQL_AUTH_NATIVE, &err), 0);
    assert_int_equal(
        sql_auth_parse_users(&a, "alice:caching_sha2_password:pw1,bob:native:p:w", &err), 0);
    assert_int_equal(a.naccounts, 3);
    const sql_account *al = sql_auth_find(&a, "alice", 5);
    assert_non_null(al);
    assert_int_equal(al->plugin, SQL_AUTH_SHA2);
    assert_true(sql_auth_password_equal(al, (const uint8_t *)"pw1", 3));
    assert_false(sql_auth_password_equal(al, (const uint8_t *)"pw2", 3));
    const sql_account *bob = sql_auth_find(&a, "bob", 3);
    assert_non_null(bob);
    assert_true(sql_auth_password_equal(bob, (const uint8_t *)"p:w", 3));
    assert_null(sql_auth_find(&a, "bo", 2));
    assert_int_equal(sql_auth_parse_users(&a, "nouser", &err), CM_E_CONFIG);
    assert_int_equal(sql_auth_parse_users(&a, "x:md5:pw", &err), CM_E_CONFIG);
    assert_int_equal(sql_auth_parse_users(&a, ":native:pw", &err), CM_E_CONFIG);
    /* Replacing an account keeps one entry. */
    assert_int_equal(sql_auth_add(&a, "root", "new", SQL_AUTH_SHA2, &err), 0);
    assert_int_equal(a.naccounts, 3);
    assert_int_equal(sql_auth_plugin_by_name("caching_sha2_password", 21), SQL_AUTH_SHA2);
    assert_int_equal(sql_auth_plugin_by_name("mysql_native_password", 21), SQL_AUTH_NATIVE);
    assert_int_equal(sql_auth_plugin_by_name("dialog", 6), -1);
    /* The fast-path cache. */
    uint8_t h2[32], got[32];
    sql_auth_sha2_h2("pw1", 3, h2);
    assert_false(sql_auth_cache_get(&a, "alice", got));
    sql_auth_cache_put(&a, "alice", h2);
    assert_true(sql_auth_cache_get(&a, "alice", got));
    assert_memory_equal(got, h2, 32);
    sql_auth_fini(&a);
}

static char tmpdir[64];

static int make_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/tessera-auth-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    const char *files[] = {"private_key.pem", "public_key.pem", "server-cert.pem",
                           "server-key.pem"};
    for (size_t i = 0; i < 4; i++) {
        char p[128];
        snprintf(p, sizeof(p), "%s/%s", tmpdir, files[i]);
        unlink(p);
    }
    rmdir(tmpdir);
    return 0;
}

/* Encrypts password+NUL XOR nonce with the public key, as a client does. */
static size_t client_encrypt(const char *pub_pem, const uint8_t nonce[SQL_NONCE_LEN],
                             const char *pw, uint8_t *out, size_t cap)
{
    BIO *bio = BIO_new_mem_buf(pub_pem, -1);
    EVP_PKEY *pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    assert_non_null(pk);
    uint8_t plain[128];
    size_t n = strlen(pw) + 1;
    for (size_t i = 0; i < n; i++) {
        plain[i] = (uint8_t)(i < n - 1 ? pw[i] : 0) ^ nonce[i % SQL_NONCE_LEN];
    }
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
    size_t len = cap;
    assert_int_equal(EVP_PKEY_encrypt_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING), 1);
    assert_int_equal(EVP_PKEY_encrypt(ctx, out, &len, plain, n), 1);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    return len;
}

static void test_rsa_exchange(void **state)
{
    (void)state;
    cm_err err;
    void *pkey;
    char *pub;
    size_t publen;
    assert_int_equal(sql_tls_rsa_keys(tmpdir, &pkey, &pub, &publen, &err), 0);
    assert_non_null(strstr(pub, "BEGIN PUBLIC KEY"));
    char path[128];
    snprintf(path, sizeof(path), "%s/private_key.pem", tmpdir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 077, 0); /* the private key is not readable by others */
    char *pub_copy = strdup(pub);
    sql_auth a;
    sql_auth_init(&a, SQL_AUTH_SHA2);
    sql_auth_set_rsa(&a, pkey, pub, publen);
    uint8_t nonce[SQL_NONCE_LEN], enc[512], out[512];
    sql_auth_nonce(nonce);
    size_t n = client_encrypt(pub_copy, nonce, "a password longer than the twenty byte nonce", enc,
                              sizeof(enc));
    size_t got = 0;
    assert_int_equal(
        sql_auth_rsa_password(&a, nonce, SQL_NONCE_LEN, enc, n, out, sizeof(out), &got), 0);
    assert_int_equal(got, strlen("a password longer than the twenty byte nonce"));
    assert_memory_equal(out, "a password longer than the twenty byte nonce", got);
    /* A different nonce, corrupted ciphertext, or garbage: refused, never a crash. */
    uint8_t other[SQL_NONCE_LEN];
    memcpy(other, nonce, sizeof(other));
    other[0] ^= 1;
    int rc = sql_auth_rsa_password(&a, other, SQL_NONCE_LEN, enc, n, out, sizeof(out), &got);
    assert_true(rc != 0 || got != strlen("a password longer than the twenty byte nonce") ||
                memcmp(out, "a password", 10) != 0);
    enc[10] ^= 0x55;
    assert_int_equal(
        sql_auth_rsa_password(&a, nonce, SQL_NONCE_LEN, enc, n, out, sizeof(out), &got),
        CM_E_ACCESS_DENIED);
    assert_int_equal(sql_auth_rsa_password(&a, nonce, SQL_NONCE_LEN, (const uint8_t *)"xyz", 3, out,
                                           sizeof(out), &got),
                     CM_E_ACCESS_DENIED);
    sql_auth_fini(&a);
    /* A second start loads the same key instead of generating another. */
    char *pub2;
    assert_int_equal(sql_tls_rsa_keys(tmpdir, &pkey, &pub2, &publen, &err), 0);
    assert_string_equal(pub_copy, pub2);
    EVP_PKEY_free(pkey);
    free(pub2);
    free(pub_copy);
}

static void test_tls_material(void **state)
{
    (void)state;
    cm_err err;
    sql_tls *t = NULL;
    assert_int_equal(sql_tls_init(NULL, NULL, tmpdir, &t, &err), 0);
    sql_tls_free(t);
    char cert[128];
    snprintf(cert, sizeof(cert), "%s/server-cert.pem", tmpdir);
    struct stat st1, st2;
    assert_int_equal(stat(cert, &st1), 0);
    assert_int_equal(sql_tls_init("", "", tmpdir, &t, &err), 0); /* reuses the files */
    sql_tls_free(t);
    assert_int_equal(stat(cert, &st2), 0);
    assert_int_equal(st1.st_ino, st2.st_ino);
    assert_int_equal(
        sql_tls_init("/nonexistent/cert.pem", "/nonexistent/key.pem", tmpdir, &t, &err),
        CM_E_CONFIG);
    assert_int_equal(sql_tls_init(cert, "", tmpdir, &t, &err), CM_E_CONFIG);
}

/* Accounts of the cluster's table (sql_auth_set_lookup): only the plugin's hash, no cleartext. */
static uint8_t sha_stored[SQL_AUTH_SHA2_STORED];

static int lookup_cb(void *ud, const char *user, const char *ip, sql_account *out)
{
    int *calls = ud;
    (*calls)++;
    if (strcmp(ip, "10.0.0.1") != 0) {
        return 0;
    }
    out->user = (char *)user;
    out->hashed = 1;
    if (strcmp(user, "nat") == 0) {
        out->plugin = SQL_AUTH_NATIVE;
        sql_auth_hash_password(SQL_AUTH_NATIVE, "npw", 3, out->native_h2);
        return 1;
    }
    if (strcmp(user, "sha") == 0) {
        out->plugin = SQL_AUTH_SHA2;
        memcpy(out->sha2_stored, sha_stored, sizeof(sha_stored));
        snprintf(out->cache_key, sizeof(out->cache_key), "sha@%%#%02x%02x%02x", sha_stored[0],
                 sha_stored[1], sha_stored[2]);
        return 1;
    }
    if (strcmp(user, "nopw") == 0) {
        out->plugin = SQL_AUTH_SHA2;
        out->empty_password = 1;
        return 1;
    }
    return 0;
}

static void test_hashed_accounts(void **state)
{
    (void)state;
    sql_auth a;
    cm_err err;
    sql_auth_init(&a, SQL_AUTH_NATIVE);
    assert_int_equal(sql_auth_add(&a, "root", "rootpw", SQL_AUTH_NATIVE, &err), 0);
    sql_account buf;
    /* without a lookup: the configured table */
    assert_non_null(sql_auth_lookup(&a, "root", "10.0.0.1", &buf));
    int calls = 0;
    sql_auth_set_lookup(&a, lookup_cb, &calls);
    /* with one: the configured table is no longer consulted */
    assert_null(sql_auth_lookup(&a, "root", "10.0.0.1", &buf));
    assert_null(sql_auth_lookup(&a, "nat", "10.0.0.2", &buf));
    const sql_account *acc = sql_auth_lookup(&a, "nat", "10.0.0.1", &buf);
    assert_non_null(acc);
    assert_int_equal(calls, 3);
    assert_false(sql_auth_account_empty(acc));
    assert_true(sql_auth_password_equal(acc, (const uint8_t *)"npw", 3));
    assert_false(sql_auth_password_equal(acc, (const uint8_t *)"npx", 3));
    assert_false(sql_auth_password_equal(acc, (const uint8_t *)"", 0));
    uint8_t nonce[SQL_NONCE_LEN], resp[32], h2[32];
    nonce_1_to_20(nonce);
    sql_auth_native_scramble(nonce, "npw", 3, resp);
    assert_true(sql_auth_native_check(acc->native_h2, nonce, resp, 20));
    /* caching_sha2: a salted hash; two hashes of one password differ (fresh salts) */
    uint8_t other[64];
    assert_int_equal(sql_auth_hash_password(SQL_AUTH_SHA2, "spw", 3, sha_stored),
                     SQL_AUTH_SHA2_STORED);
    assert_int_equal(sql_auth_hash_password(SQL_AUTH_SHA2, "spw", 3, other), SQL_AUTH_SHA2_STORED);
    assert_memory_not_equal(sha_stored, other, SQL_AUTH_SHA2_STORED);
    acc = sql_auth_lookup(&a, "sha", "10.0.0.1", &buf);
    assert_non_null(acc);
    assert_true(sql_auth_password_equal(acc, (const uint8_t *)"spw", 3));
    assert_false(sql_auth_password_equal(acc, (const uint8_t *)"npw", 3));
    /* no fast path before a full authentication on this node; a wrong password fills nothing */
    assert_false(sql_auth_fast_h2(&a, acc, "sha", h2));
    assert_false(sql_auth_sha2_full_check(&a, acc, "sha", (const uint8_t *)"spx", 3));
    assert_false(sql_auth_fast_h2(&a, acc, "sha", h2));
    assert_true(sql_auth_sha2_full_check(&a, acc, "sha", (const uint8_t *)"spw", 3));
    assert_true(sql_auth_fast_h2(&a, acc, "sha", h2));
    sql_auth_sha2_scramble(nonce, "spw", 3, resp);
    assert_true(sql_auth_sha2_check(h2, nonce, SQL_NONCE_LEN, resp, 32));
    sql_auth_sha2_scramble(nonce, "spx", 3, resp);
    assert_false(sql_auth_sha2_check(h2, nonce, SQL_NONCE_LEN, resp, 32));
    /* a new stored hash (password changed) misses the old cache entry */
    assert_int_equal(sql_auth_hash_password(SQL_AUTH_SHA2, "new", 3, sha_stored),
                     SQL_AUTH_SHA2_STORED);
    acc = sql_auth_lookup(&a, "sha", "10.0.0.1", &buf);
    assert_false(sql_auth_fast_h2(&a, acc, "sha", h2));
    assert_false(sql_auth_password_equal(acc, (const uint8_t *)"spw", 3));
    acc = sql_auth_lookup(&a, "nopw", "10.0.0.1", &buf);
    assert_true(sql_auth_account_empty(acc));
    assert_true(sql_auth_password_equal(acc, (const uint8_t *)"", 0));
    assert_false(sql_auth_password_equal(acc, (const uint8_t *)"x", 1));
    assert_int_equal(sql_auth_hash_password(SQL_AUTH_NATIVE, "secret", 6, h2), 20);
    uint8_t want[20];
    unhex("14e65567abdb5135d0cfd9a70b3032c179a49ee7", want, 20);
    assert_memory_equal(h2, want, 20);
    /* the cache replaces its oldest entries once full */
    for (int i = 0; i < SQL_AUTH_ACCOUNTS_MAX + 5; i++) {
        char key[32];
        snprintf(key, sizeof(key), "k%d", i);
        sql_auth_cache_put(&a, key, h2);
    }
    assert_true(sql_auth_cache_get(&a, "k260", h2));
    assert_false(sql_auth_cache_get(&a, "k0", h2));
    sql_auth_fini(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_native_vectors),  cmocka_unit_test(test_sha2_vectors),
        cmocka_unit_test(test_nonce),           cmocka_unit_test(test_accounts),
        cmocka_unit_test(test_rsa_exchange),    cmocka_unit_test(test_tls_material),
        cmocka_unit_test(test_hashed_accounts),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
