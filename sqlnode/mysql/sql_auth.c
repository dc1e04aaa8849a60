/* sql_auth.c — accounts, scrambles and the caching_sha2 cache (see sql_auth.h). */
#include "sql_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int sql_auth_init(sql_auth *a, int default_plugin)
{
    memset(a, 0, sizeof(*a));
    a->default_plugin = default_plugin;
    pthread_mutex_init(&a->mu, NULL);
    return 0;
}

void sql_auth_fini(sql_auth *a)
{
    for (size_t i = 0; i < a->naccounts; i++) {
        free(a->accounts[i].user);
        OPENSSL_cleanse(a->accounts[i].password, a->accounts[i].password_len);
        free(a->accounts[i].password);
    }
    for (size_t i = 0; i < a->ncache; i++) {
        free(a->cache[i].user);
    }
    EVP_PKEY_free(a->rsa_key);
    free(a->rsa_pub_pem);
    pthread_mutex_destroy(&a->mu);
    memset(a, 0, sizeof(*a));
}

int sql_auth_plugin_by_name(const char *name, size_t n)
{
    if ((n == strlen(SQL_PLUGIN_NATIVE) && strncasecmp(name, SQL_PLUGIN_NATIVE, n) == 0) ||
        (n == 6 && strncasecmp(name, "native", 6) == 0)) {
        return SQL_AUTH_NATIVE;
    }
    if ((n == strlen(SQL_PLUGIN_SHA2) && strncasecmp(name, SQL_PLUGIN_SHA2, n) == 0) ||
        (n == 4 && strncasecmp(name, "sha2", 4) == 0)) {
        return SQL_AUTH_SHA2;
    }
    return -1;
}

const char *sql_auth_plugin_name(int plugin)
{
    return plugin == SQL_AUTH_SHA2 ? SQL_PLUGIN_SHA2 : SQL_PLUGIN_NATIVE;
}

const sql_account *sql_auth_find(const sql_auth *a, const char *user, size_t n)
{
    for (size_t i = 0; i < a->naccounts; i++) {
        if (strlen(a->accounts[i].user) == n && memcmp(a->accounts[i].user, user, n) == 0) {
            return &a->accounts[i];
        }
    }
    return NULL;
}

int sql_auth_add(sql_auth *a, const char *user, const char *password, int plugin, cm_err *err)
{
    sql_account *acc = (sql_account *)sql_auth_find(a, user, strlen(user));
    if (acc == NULL) {
        if (a->naccounts >= SQL_AUTH_ACCOUNTS_MAX) {
            return cm_err_set(err, CM_E_CONFIG, "more than %d accounts", SQL_AUTH_ACCOUNTS_MAX);
        }
        acc = &a->accounts[a->naccounts];
        memset(acc, 0, sizeof(*acc));
        acc->user = strdup(user);
        if (acc->user == NULL) {
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        a->naccounts++;
    } else {
        free(acc->password);
    }
    acc->password = strdup(password);
    if (acc->password == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    acc->password_len = strlen(password);
    acc->plugin = plugin;
    sql_auth_native_h2(password, acc->password_len, acc->native_h2);
    return 0;
}

int sql_auth_parse_users(sql_auth *a, const char *spec, cm_err *err)
{
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *c1 = memchr(p, ':', len);
        const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - p)) : NULL;
        if (c1 == NULL || c2 == NULL || c1 == p) {
            return cm_err_set(err, CM_E_CONFIG, "users: expected user:plugin:password, got '%.*s'",
                              (int)len, p);
        }
        int plugin = sql_auth_plugin_by_name(c1 + 1, (size_t)(c2 - c1 - 1));
        if (plugin < 0) {
            return cm_err_set(err, CM_E_CONFIG, "users: unknown authentication plugin '%.*s'",
                              (int)(c2 - c1 - 1), c1 + 1);
        }
        char *user = strndup(p, (size_t)(c1 - p));
        char *pw = strndup(c2 + 1, len - (size_t)(c2 + 1 - p));
        int rc = (user && pw) ? sql_auth_add(a, user, pw, plugin, err)
                              : cm_err_set(err, CM_E_NOMEM, "out of memory");
        free(user);
        if (pw) {
            OPENSSL_cleanse(pw, strlen(pw));
        }
        free(pw);
        if (rc != 0) {
            return rc;
        }
        p = end ? end + 1 : p + len;
    }
    return 0;
}

void sql_auth_set_rsa(sql_auth *a, void *pkey, char *pub_pem, size_t pub_len)
{
    EVP_PKEY_free(a->rsa_key);
    free(a->rsa_pub_pem);
    a->rsa_key = pkey;
    a->rsa_pub_pem = pub_pem;
    a->rsa_pub_len = pub_len;
}

int sql_auth_nonce(uint8_t out[SQL_NONCE_LEN])
{
    if (RAND_bytes(out, SQL_NONCE_LEN) != 1) {
        return CM_E_INTERNAL;
    }
    for (int i = 0; i < SQL_NONCE_LEN; i++) {
        out[i] &= 0x7f;
        if (out[i] == 0 || out[i] == '$') {
            out[i]++;
        }
    }
    return 0;
}

static void digest(const EVP_MD *md, const void *a, size_t an, const void *b, size_t bn,
                   uint8_t *out)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int len = 0;
    if (ctx == NULL || EVP_DigestInit_ex(ctx, md, NULL) != 1 || EVP_DigestUpdate(ctx, a, an) != 1 ||
        (bn > 0 && EVP_DigestUpdate(ctx, b, bn) != 1) || EVP_DigestFinal_ex(ctx, out, &len) != 1) {
        memset(out, 0, (size_t)EVP_MD_get_size(md)); /* cannot match a real hash check */
    }
    EVP_MD_CTX_free(ctx);
}

void sql_auth_native_h2(const char *pw, size_t n, uint8_t out[20])
{
    uint8_t h1[20];
    digest(EVP_sha1(), pw, n, NULL, 0, h1);
    digest(EVP_sha1(), h1, 20, NULL, 0, out);
}

void sql_auth_native_scramble(const uint8_t nonce[SQL_NONCE_LEN], const char *pw, size_t n,
                              uint8_t out[20])
{
    uint8_t h1[20], h2[20], x[20];
    digest(EVP_sha1(), pw, n, NULL, 0, h1);
    digest(EVP_sha1(), h1, 20, NULL, 0, h2);
    digest(EVP_sha1(), nonce, SQL_NONCE_LEN, h2, 20, x);
    for (int i = 0; i < 20; i++) {
        out[i] = h1[i] ^ x[i];
    }
}

int sql_auth_native_check(const uint8_t h2[20], const uint8_t nonce[SQL_NONCE_LEN],
                          const uint8_t *resp, size_t n)
{
    if (n != 20) {
        return 0;
    }
    uint8_t x[20], h1[20], got[20];
    digest(EVP_sha1(), nonce, SQL_NONCE_LEN, h2, 20, x);
    for (int i = 0; i < 20; i++) {
        h1[i] = resp[i] ^ x[i];
    }
    digest(EVP_sha1(), h1, 20, NULL, 0, got);
    return CRYPTO_memcmp(got, h2, 20) == 0;
}

void sql_auth_sha2_h2(const char *pw, size_t n, uint8_t out[32])
{
    uint8_t h1[32];
    digest(EVP_sha256(), pw, n, NULL, 0, h1);
    digest(EVP_sha256(), h1, 32, NULL, 0, out);
}

void sql_auth_sha2_scramble(const uint8_t nonce[SQL_NONCE_LEN], const char *pw, size_t n,
                            uint8_t out[32])
{
    uint8_t h1[32], h2[32], x[32];
    digest(EVP_sha256(), pw, n, NULL, 0, h1);
    digest(EVP_sha256(), h1, 32, NULL, 0, h2);
    digest(EVP_sha256(), h2, 32, nonce, SQL_NONCE_LEN, x);
    for (int i = 0; i < 32; i++) {
        out[i] = h1[i] ^ x[i];
    }
}

int sql_auth_sha2_check(const uint8_t h2[32], const uint8_t *nonce, size_t nonce_len,
                        const uint8_t *resp, size_t n)
{
    if (n != 32) {
        return 0;
    }
    uint8_t x[32], h1[32], got[32];
    digest(EVP_sha256(), h2, 32, nonce, nonce_len, x);
    for (int i = 0; i < 32; i++) {
        h1[i] = resp[i] ^ x[i];
    }
    digest(EVP_sha256(), h1, 32, NULL, 0, got);
    return CRYPTO_memcmp(got, h2, 32) == 0;
}

int sql_auth_cache_get(sql_auth *a, const char *user, uint8_t h2[32])
{
    int found = 0;
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->ncache; i++) {
        if (strcmp(a->cache[i].user, user) == 0) {
            memcpy(h2, a->cache[i].h2, 32);
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&a->mu);
    return found;
}

void sql_auth_cache_put(sql_auth *a, const char *user, const uint8_t h2[32])
{
    pthread_mutex_lock(&a->mu);
    size_t i = 0;
    while (i < a->ncache && strcmp(a->cache[i].user, user) != 0) {
        i++;
    }
    if (i == a->ncache) {
        /* Full: replace the entries in turn (their accounts authenticate in full once more). */
        if (a->ncache == SQL_AUTH_ACCOUNTS_MAX) {
            i = a->cache_next;
            a->cache_next = (a->cache_next + 1) % SQL_AUTH_ACCOUNTS_MAX;
        }
        char *u = strdup(user);
        if (u != NULL) {
            if (i < a->ncache) {
                free(a->cache[i].user);
            } else {
                a->ncache++;
            }
            a->cache[i].user = u;
        } else {
            i = SQL_AUTH_ACCOUNTS_MAX;
        }
    }
    if (i < SQL_AUTH_ACCOUNTS_MAX) {
        memcpy(a->cache[i].h2, h2, 32);
    }
    pthread_mutex_unlock(&a->mu);
}

int sql_auth_rsa_password(sql_auth *a, const uint8_t *nonce, size_t nonce_len, const uint8_t *in,
                          size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    if (a->rsa_key == NULL || nonce_len == 0) {
        return CM_E_ACCESS_DENIED;
    }
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(a->rsa_key, NULL);
    size_t len = cap;
    int ok = ctx != NULL && EVP_PKEY_decrypt_init(ctx) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
             EVP_PKEY_decrypt(ctx, NULL, &len, in, n) == 1 && len <= cap &&
             EVP_PKEY_decrypt(ctx, out, &len, in, n) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok || len == 0) {
        return CM_E_ACCESS_DENIED;
    }
    for (size_t i = 0; i < len; i++) {
        out[i] ^= nonce[i % nonce_len];
    }
    if (out[len - 1] != '\0') {
        return CM_E_ACCESS_DENIED;
    }
    *out_len = len - 1;
    return 0;
}

static int pbkdf2(const uint8_t *salt, const char *pw, size_t n, uint8_t out[32])
{
    return PKCS5_PBKDF2_HMAC(pw, (int)n, salt, SQL_AUTH_SHA2_SALT, SQL_AUTH_SHA2_ROUNDS,
                             EVP_sha256(), 32, out) == 1
               ? 0
               : CM_E_INTERNAL;
}

int sql_auth_password_equal(const sql_account *acc, const uint8_t *pw, size_t n)
{
    if (acc->hashed) {
        if (acc->empty_password || n == 0) {
            return acc->empty_password && n == 0;
        }
        uint8_t h[32];
        if (acc->plugin == SQL_AUTH_SHA2) {
            return pbkdf2(acc->sha2_stored, (const char *)pw, n, h) == 0 &&
                   CRYPTO_memcmp(h, acc->sha2_stored + SQL_AUTH_SHA2_SALT, 32) == 0;
        }
        sql_auth_native_h2((const char *)pw, n, h);
        return CRYPTO_memcmp(h, acc->native_h2, 20) == 0;
    }
    if (n != acc->password_len) {
        return 0;
    }
    return n == 0 || CRYPTO_memcmp(acc->password, pw, n) == 0;
}

void sql_auth_set_lookup(sql_auth *a, sql_auth_lookup_fn fn, void *ud)
{
    a->lookup = fn;
    a->lookup_ud = ud;
}

const sql_account *sql_auth_lookup(const sql_auth *a, const char *user, const char *ip,
                                   sql_account *buf)
{
    if (a->lookup == NULL) {
        return sql_auth_find(a, user, strlen(user));
    }
    memset(buf, 0, sizeof(*buf));
    return a->lookup(a->lookup_ud, user, ip, buf) == 1 ? buf : NULL;
}

int sql_auth_account_empty(const sql_account *acc)
{
    return acc->hashed ? acc->empty_password : acc->password_len == 0;
}

int sql_auth_fast_h2(sql_auth *a, const sql_account *acc, const char *user, uint8_t h2[32])
{
    return sql_auth_cache_get(a, acc->hashed ? acc->cache_key : user, h2);
}

int sql_auth_sha2_full_check(sql_auth *a, const sql_account *acc, const char *user,
                             const uint8_t *pw, size_t n)
{
    if (acc == NULL || !sql_auth_password_equal(acc, pw, n)) {
        return 0;
    }
    uint8_t h2[32];
    sql_auth_sha2_h2((const char *)pw, n, h2);
    sql_auth_cache_put(a, acc->hashed ? acc->cache_key : user, h2);
    return 1;
}

int sql_auth_hash_password(int plugin, const char *pw, size_t n, uint8_t *out)
{
    if (plugin == SQL_AUTH_SHA2) {
        if (RAND_bytes(out, SQL_AUTH_SHA2_SALT) != 1 ||
            pbkdf2(out, pw, n, out + SQL_AUTH_SHA2_SALT) != 0) {
            return 0;
        }
        return SQL_AUTH_SHA2_STORED;
    }
    sql_auth_native_h2(pw, n, out);
    return 20;
}
