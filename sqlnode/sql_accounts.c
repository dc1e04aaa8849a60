/* sql_accounts.c — configured accounts into the cluster; logins from its table (sql_accounts.h). */
#include "sql_accounts.h"

#include "sql_cat_user.h"

#include <stdio.h>
#include <string.h>

static int lookup(void *ud, const char *user, const char *ip, sql_account *out)
{
    sql_users *u = sql_cat_users_acquire(ud);
    if (u == NULL) {
        return 0;
    }
    const sql_user *a = sql_users_match(u, user, ip);
    int found = a != NULL;
    if (found) {
        out->user = (char *)user;
        out->hashed = 1;
        out->plugin = a->plugin == SQL_USER_PLUGIN_SHA2 ? SQL_AUTH_SHA2 : SQL_AUTH_NATIVE;
        out->empty_password = a->auth_len == 0;
        if (a->plugin == SQL_USER_PLUGIN_SHA2 && a->auth_len == SQL_AUTH_SHA2_STORED) {
            memcpy(out->sha2_stored, a->auth, SQL_AUTH_SHA2_STORED);
            /* the fast-path cache entry belongs to this account and this stored hash */
            int len = snprintf(out->cache_key, sizeof(out->cache_key), "%s@%s#", a->user, a->host);
            for (int i = 0;
                 len > 0 && i < SQL_AUTH_SHA2_STORED && (size_t)len + 2 < sizeof(out->cache_key);
                 i++) {
                len += snprintf(out->cache_key + len, sizeof(out->cache_key) - (size_t)len, "%02x",
                                a->auth[i]);
            }
        } else if (a->plugin == SQL_USER_PLUGIN_NATIVE && a->auth_len == 20) {
            memcpy(out->native_h2, a->auth, 20);
        }
    }
    sql_users_release(u);
    return found;
}

int sql_accounts_open(sql_catalog *cat, sql_auth *auth, cm_err *err)
{
    sql_user_boot boot[SQL_AUTH_ACCOUNTS_MAX];
    uint8_t hashes[SQL_AUTH_ACCOUNTS_MAX][64];
    uint32_t n = 0;
    for (size_t i = 0; i < auth->naccounts && n < SQL_AUTH_ACCOUNTS_MAX; i++) {
        const sql_account *acc = &auth->accounts[i];
        sql_user_boot *b = &boot[n];
        memset(b, 0, sizeof(*b));
        b->user = acc->user;
        b->host = "%";
        b->plugin = acc->plugin == SQL_AUTH_SHA2 ? SQL_USER_PLUGIN_SHA2 : SQL_USER_PLUGIN_NATIVE;
        if (acc->password_len > 0) {
            if (acc->plugin == SQL_AUTH_SHA2) {
                int len = sql_auth_hash_password(SQL_AUTH_SHA2, acc->password, acc->password_len,
                                                 hashes[n]);
                if (len <= 0) {
                    return cm_err_set(err, CM_E_INTERNAL, "cannot hash a password");
                }
                b->auth_len = (uint8_t)len;
            } else {
                memcpy(hashes[n], acc->native_h2, 20);
                b->auth_len = 20;
            }
            b->auth = hashes[n];
        }
        b->global = SQL_PRIV_ALL_GLOBAL;
        if (strcmp(acc->user, "root") == 0) {
            b->global |= SQL_PRIV_GRANT;
        }
        n++;
    }
    int rc = sql_cat_users_open(cat, boot, n, err);
    if (rc == 0) {
        sql_auth_set_lookup(auth, lookup, cat);
    }
    return rc;
}
