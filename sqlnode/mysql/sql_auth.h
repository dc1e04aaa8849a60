/*
 * sql_auth.h — accounts and the two authentication plugins: mysql_native_password and
 * caching_sha2_password (fast path through a cache of SHA256(SHA256(password)); full
 * authentication with the password in clear over TLS or RSA-encrypted with the server's key).
 *
 * The account table comes from configuration until the SQL layer stores users (root with an
 * empty password by default, like a fresh TiDB playground). The scramble computations are
 * exported so that unit tests can check them against known vectors.
 */
#ifndef SQL_AUTH_H
#define SQL_AUTH_H

#include "cm_err.h"
#include "sql_my_const.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

enum { SQL_AUTH_NATIVE = 0, SQL_AUTH_SHA2 = 1 };

#define SQL_PLUGIN_NATIVE "mysql_native_password"
#define SQL_PLUGIN_SHA2   "caching_sha2_password"

/* Accounts the configuration may declare; also the caching_sha2 cache's entries (the oldest is
 * replaced beyond it: a replaced account authenticates in full once more). */
#define SQL_AUTH_ACCOUNTS_MAX 256
/* caching_sha2_password's stored hash of a password: a random salt and PBKDF2-HMAC-SHA256 of the
 * password with it (like MySQL's salted SHA-256 crypt, it cannot be replayed as a scramble). */
#define SQL_AUTH_SHA2_SALT   20
#define SQL_AUTH_SHA2_ROUNDS 5000
#define SQL_AUTH_SHA2_STORED (SQL_AUTH_SHA2_SALT + 32)
/* A cache key: user, host and the stored hash in hex. */
#define SQL_AUTH_CACHE_KEY_MAX 512

typedef struct sql_account {
    char *user;     /* owned */
    char *password; /* owned; cleartext from the configuration (full sha2 auth compares it) */
    size_t password_len;
    int plugin;            /* SQL_AUTH_* */
    uint8_t native_h2[20]; /* SHA1(SHA1(password)) */
    /* An account of the cluster's account table (sql_auth_set_lookup): no cleartext, only the
     * plugin's stored hash (native_h2, or sha2_stored); empty_password tells the empty one
     * apart. caching_sha2 logins take the fast path only after a full authentication on this
     * sqlnode filled the cache under cache_key, which names the stored hash (a new password
     * misses the old entry). */
    int hashed;
    int empty_password;
    uint8_t sha2_stored[SQL_AUTH_SHA2_STORED]; /* salt, then PBKDF2-HMAC-SHA256(pw, salt) */
    char cache_key[SQL_AUTH_CACHE_KEY_MAX];
} sql_account;

/* Looks an account up in the cluster's account table for a login of `user` from address `ip`:
 * fills *out (hashed, user borrowed for the call) and returns 1, or 0 when no account matches. */
typedef int (*sql_auth_lookup_fn)(void *ud, const char *user, const char *ip, sql_account *out);

typedef struct sql_auth_cache_entry {
    char *user;     /* the user (configured accounts) or sql_account.cache_key */
    uint8_t h2[32]; /* SHA256(SHA256(password)) */
} sql_auth_cache_entry;

typedef struct sql_auth {
    sql_account accounts[SQL_AUTH_ACCOUNTS_MAX];
    size_t naccounts;
    int default_plugin; /* announced in the handshake */
    pthread_mutex_t mu; /* guards the sha2 cache */
    sql_auth_cache_entry cache[SQL_AUTH_ACCOUNTS_MAX];
    size_t ncache;
    size_t cache_next; /* the entry to replace when the cache is full */
    void *rsa_key;     /* EVP_PKEY (owned) for the RSA exchange, or NULL */
    char *rsa_pub_pem; /* owned PEM of its public half */
    size_t rsa_pub_len;
    sql_auth_lookup_fn lookup; /* when set, the only source of accounts */
    void *lookup_ud;
} sql_auth;

int sql_auth_init(sql_auth *a, int default_plugin);
void sql_auth_fini(sql_auth *a);
/* Adds (or replaces) an account. Strings are copied. */
int sql_auth_add(sql_auth *a, const char *user, const char *password, int plugin, cm_err *err);
/* Parses "user:plugin:password,…" (plugin: mysql_native_password, caching_sha2_password,
 * native or sha2; passwords may not contain commas). */
int sql_auth_parse_users(sql_auth *a, const char *spec, cm_err *err);
/* Takes ownership of an RSA key (EVP_PKEY *) and its public PEM for the sha2 RSA exchange. */
void sql_auth_set_rsa(sql_auth *a, void *pkey, char *pub_pem, size_t pub_len);
const sql_account *sql_auth_find(const sql_auth *a, const char *user, size_t n);
/* From then on accounts come from fn (the cluster) instead of the configured table. */
void sql_auth_set_lookup(sql_auth *a, sql_auth_lookup_fn fn, void *ud);
/* The account for a login of user from ip (buf receives a looked-up one), or NULL. */
const sql_account *sql_auth_lookup(const sql_auth *a, const char *user, const char *ip,
                                   sql_account *buf);
/* The stored hash of a password for plugin (SQL_AUTH_*) into out (64 bytes of room):
 * mysql_native_password SHA1(SHA1(pw)) (20 bytes), caching_sha2_password a fresh random salt and
 * PBKDF2-HMAC-SHA256 (SQL_AUTH_SHA2_STORED bytes). Returns the length, or 0 on failure. */
int sql_auth_hash_password(int plugin, const char *pw, size_t n, uint8_t *out);
/* Whether the account's password is empty. */
int sql_auth_account_empty(const sql_account *acc);
/* The fast-path hash for a caching_sha2 login, from the cache. 1 when there is one. */
int sql_auth_fast_h2(sql_auth *a, const sql_account *acc, const char *user, uint8_t h2[32]);
/* Full caching_sha2 authentication with the password in clear: 1 when it is the account's (and
 * the cache then holds SHA256(SHA256(pw)) for the fast path), else 0. */
int sql_auth_sha2_full_check(sql_auth *a, const sql_account *acc, const char *user,
                             const uint8_t *pw, size_t n);
/* SQL_AUTH_* for a plugin name (n bytes), or -1. */
int sql_auth_plugin_by_name(const char *name, size_t n);
const char *sql_auth_plugin_name(int plugin);

/* 20 random bytes, none of them NUL (the nonce travels NUL-terminated in the handshake). */
int sql_auth_nonce(uint8_t out[SQL_NONCE_LEN]);

/* mysql_native_password: what a client sends, and the server's check against SHA1(SHA1(pw)). */
void sql_auth_native_scramble(const uint8_t nonce[SQL_NONCE_LEN], const char *pw, size_t n,
                              uint8_t out[20]);
void sql_auth_native_h2(const char *pw, size_t n, uint8_t out[20]);
int sql_auth_native_check(const uint8_t h2[20], const uint8_t nonce[SQL_NONCE_LEN],
                          const uint8_t *resp, size_t n);

/* caching_sha2_password: the client's scramble, SHA256(SHA256(pw)), and the fast-path check.
 * The check takes the nonce's length because clients differ after an AuthSwitchRequest, whose
 * data is the 20-byte nonce and a NUL: MariaDB's connectors drop the NUL, PyMySQL 1.0 keeps it
 * in what it hashes; the server tries both (see sql_conn.c). */
void sql_auth_sha2_scramble(const uint8_t nonce[SQL_NONCE_LEN], const char *pw, size_t n,
                            uint8_t out[32]);
void sql_auth_sha2_h2(const char *pw, size_t n, uint8_t out[32]);
int sql_auth_sha2_check(const uint8_t h2[32], const uint8_t *nonce, size_t nonce_len,
                        const uint8_t *resp, size_t n);
/* The cache of the fast path: filled after a successful full authentication. */
int sql_auth_cache_get(sql_auth *a, const char *user, uint8_t h2[32]);
void sql_auth_cache_put(sql_auth *a, const char *user, const uint8_t h2[32]);
/* Decrypts an RSA-OAEP password block and undoes the XOR with the nonce (nonce_len bytes,
 * repeated). out receives the password (NUL removed); *out_len its length. Returns 0 or
 * CM_E_ACCESS_DENIED. */
int sql_auth_rsa_password(sql_auth *a, const uint8_t *nonce, size_t nonce_len, const uint8_t *in,
                          size_t n, uint8_t *out, size_t cap, size_t *out_len);
/* Constant-time comparison of a cleartext password with the account's (a hashed account:
 * the password's hash with the stored one). */
int sql_auth_password_equal(const sql_account *acc, const uint8_t *pw, size_t n);

#endif
