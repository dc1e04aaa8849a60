/* sql_conn.c — the handshake, authentication and command loop of one MySQL connection. */
#include "sql_conn.h"

#include "cm_log.h"
#include "cm_time.h"
#include "sql_binary.h"
#include "sql_metrics.h"
#include "sql_my_const.h"
#include "sql_packet.h"
#include "sql_result.h"
#include "sql_wire.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* What a command handler tells the loop. */
enum { CONN_CONTINUE = 0, CONN_CLOSE = 1 };

struct sql_conn {
    const sql_conn_env *env;
    uint64_t id;
    sql_io *io;     /* current transport */
    int fd;         /* the socket (-1 in memory); constant, so KILL may read it */
    sql_io *tls_io; /* owned, after an upgrade */
    sql_pkt pkt;
    sql_sess *sess;
    uint32_t caps; /* negotiated */
    uint8_t nonce[SQL_NONCE_LEN];
    int connect_timeout_ms; /* connect_timeout when the connection began */
    char user[128];
    char peer[64];
    int authed;
    sql_stmts stmts;
    cm_buf payload;
    cm_buf scratch;
    sql_value *params;
    uint32_t cap_params;
    sql_res_sink rs;
    uint64_t started_ms;

    pthread_mutex_t info_mu; /* guards command, since_ms, info */
    const char *command;
    uint64_t since_ms;
    char info[SQL_CONN_INFO_MAX + 1];
    size_t info_len;
};

/* ---- processlist state ---- */

static void set_command(sql_conn *c, const char *command, const char *text, size_t n)
{
    if (n > SQL_CONN_INFO_MAX) {
        n = SQL_CONN_INFO_MAX;
    }
    pthread_mutex_lock(&c->info_mu);
    c->command = command;
    c->since_ms = cm_time_mono_ms();
    if (text != NULL) {
        memcpy(c->info, text, n);
    }
    c->info_len = text != NULL ? n : 0;
    c->info[c->info_len] = '\0';
    pthread_mutex_unlock(&c->info_mu);
}

void sql_conn_get_info(sql_conn *c, int full, sql_conn_info *out)
{
    memset(out, 0, sizeof(*out));
    out->id = c->id;
    sql_sess_copy_info(c->sess, out->user, sizeof(out->user), out->host, sizeof(out->host), out->db,
                       sizeof(out->db));
    pthread_mutex_lock(&c->info_mu);
    out->command = c->command;
    out->time_s = (int64_t)(cm_time_mono_ms() - c->since_ms) / 1000;
    size_t n = c->info_len;
    if (!full && n > 100) {
        n = 100;
    }
    memcpy(out->info, c->info, n);
    out->info[n] = '\0';
    out->has_info = c->info_len > 0;
    pthread_mutex_unlock(&c->info_mu);
}

/* ---- lifecycle ---- */

int sql_conn_create(const sql_conn_env *env, uint64_t id, sql_io *io, const char *peer,
                    sql_conn **out, cm_err *err)
{
    *out = NULL;
    sql_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    c->env = env;
    c->id = id;
    c->io = io;
    c->fd = io->fd;
    snprintf(c->peer, sizeof(c->peer), "%s", peer ? peer : "");
    c->started_ms = cm_time_mono_ms();
    c->command = "Connect";
    c->since_ms = c->started_ms;
    pthread_mutex_init(&c->info_mu, NULL);
    sql_pkt_init(&c->pkt, io, SQL_CONNECT_TIMEOUT_MS); /* until login: connect_timeout bounds */
    sql_stmts_init(&c->stmts);
    cm_buf_init(&c->payload);
    cm_buf_init(&c->scratch);
    sql_res_sink_init(&c->rs, &c->pkt);
    c->connect_timeout_ms =
        (int)sql_sysvars_get_int(env->sess_env->globals, SQL_SV_CONNECT_TIMEOUT) * 1000;
    c->pkt.read_timeout_ms = c->connect_timeout_ms;
    int rc = sql_sess_create(env->sess_env, id, &c->sess, err);
    if (rc != 0) {
        sql_conn_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void close_statements(sql_conn *c)
{
    for (uint32_t i = 0; i < c->stmts.n; i++) {
        sql_sess_prep_free(c->sess, c->stmts.v[i].prep);
    }
    sql_stmts_fini(&c->stmts);
    sql_stmts_init(&c->stmts);
}

void sql_conn_free(sql_conn *c)
{
    if (c == NULL) {
        return;
    }
    if (c->sess != NULL) {
        close_statements(c);
        sql_sess_free(c->sess);
    }
    sql_stmts_fini(&c->stmts);
    if (c->tls_io != NULL) {
        c->tls_io->ops->close(c->tls_io);
        sql_tls_io_free(c->tls_io);
    } else if (c->io != NULL) {
        c->io->ops->close(c->io);
    }
    sql_pkt_fini(&c->pkt);
    cm_buf_fini(&c->payload);
    cm_buf_fini(&c->scratch);
    sql_res_sink_fini(&c->rs);
    free(c->params);
    pthread_mutex_destroy(&c->info_mu);
    free(c);
}

sql_sess *sql_conn_session(sql_conn *c)
{
    return c->sess;
}

uint64_t sql_conn_id(const sql_conn *c)
{
    return c->id;
}

int sql_conn_is_tls(const sql_conn *c)
{
    return c->tls_io != NULL;
}

const char *sql_conn_tls_version(const sql_conn *c)
{
    return sql_tls_version(c->tls_io);
}

const char *sql_conn_tls_cipher(const sql_conn *c)
{
    return sql_tls_cipher(c->tls_io);
}

void sql_conn_kill(sql_conn *c, int query_only)
{
    sql_sess_interrupt(c->sess, query_only);
    if (!query_only && c->fd >= 0) {
        /* Wakes the connection's blocked read; the fd stays open until its own thread closes
         * it, and the registry keeps the connection alive while KILL runs. */
        shutdown(c->fd, SHUT_RDWR);
    }
}

/* ---- writing helpers ---- */

static int send_error(sql_conn *c, int code, const char *msg)
{
    sql_metrics_add(SQL_M_ERRORS, 1);
    int rc = sql_res_err(&c->pkt, code, msg);
    return rc ? rc : sql_pkt_flush(&c->pkt);
}

static int send_ok(sql_conn *c)
{
    int rc =
        sql_res_ok(&c->pkt, 0, 0, sql_sess_status(c->sess), sql_sess_warning_count(c->sess), NULL);
    return rc ? rc : sql_pkt_flush(&c->pkt);
}

/* Reads one packet in an exchange (authentication): the sequence id continues. */
static int read_packet(sql_conn *c, size_t max, int timeout_ms, cm_err *err)
{
    int rc = sql_pkt_flush(&c->pkt);
    if (rc != 0) {
        return cm_err_set(err, rc, "write failed");
    }
    return sql_pkt_read(&c->pkt, &c->payload, max, timeout_ms, err);
}

/* ---- handshake ---- */

static uint32_t server_caps(const sql_conn *c)
{
    return SQL_SERVER_CAPS | (c->env->tls != NULL ? SQL_CLIENT_SSL : 0);
}

static int send_greeting(sql_conn *c)
{
    uint32_t caps = server_caps(c);
    const char *plugin = sql_auth_plugin_name(c->env->auth->default_plugin);
    size_t off = sql_pkt_begin(&c->pkt);
    cm_buf *b = &c->pkt.out;
    static const uint8_t zeros[10] = {0};
    int rc = cm_buf_append_u8(b, 10);
    rc |= sql_wire_put_cstr(b, SQL_SERVER_VERSION);
    rc |= cm_buf_append_u32le(b, (uint32_t)c->id);
    rc |= cm_buf_append(b, c->nonce, 8);
    rc |= cm_buf_append_u8(b, 0);
    rc |= cm_buf_append_u16le(b, (uint16_t)(caps & 0xffff));
    rc |= cm_buf_append_u8(b, 46); /* utf8mb4_bin, the server's collation */
    rc |= cm_buf_append_u16le(b, SQL_STATUS_AUTOCOMMIT);
    rc |= cm_buf_append_u16le(b, (uint16_t)(caps >> 16));
    rc |= cm_buf_append_u8(b, SQL_NONCE_LEN + 1);
    rc |= cm_buf_append(b, zeros, 10);
    rc |= cm_buf_append(b, c->nonce + 8, SQL_NONCE_LEN - 8);
    rc |= cm_buf_append_u8(b, 0);
    rc |= sql_wire_put_cstr(b, plugin);
    if (rc != 0) {
        return CM_E_NOMEM;
    }
    rc = sql_pkt_end(&c->pkt, off);
    return rc ? rc : sql_pkt_flush(&c->pkt);
}

typedef struct hs_resp {
    uint32_t caps;
    uint32_t max_packet;
    uint8_t charset;
    cm_slice user, auth, db, plugin;
    int has_db, has_plugin;
} hs_resp;

/* Reads the optional trailing NUL-terminated string; a missing NUL takes the rest. */
static void opt_cstr(cm_reader *r, cm_slice *out, int *has)
{
    *has = 0;
    if (cm_reader_left(r) == 0) {
        return;
    }
    if (sql_wire_get_cstr(r, out) != 0) {
        sql_wire_get_rest(r, out);
    }
    *has = 1;
}

static int skip_attrs(cm_reader *r)
{
    if (cm_reader_left(r) == 0) {
        return 0;
    }
    uint64_t total;
    cm_slice attrs;
    if (sql_wire_get_lenenc(r, &total) != 0 || total > cm_reader_left(r) ||
        cm_reader_bytes(r, (size_t)total, &attrs) != 0) {
        return CM_E_CORRUPT;
    }
    cm_reader a;
    cm_reader_init(&a, attrs.ptr, attrs.len);
    while (cm_reader_left(&a) > 0) {
        cm_slice k, v;
        if (sql_wire_get_lenenc_str(&a, &k) != 0 || sql_wire_get_lenenc_str(&a, &v) != 0) {
            return CM_E_CORRUPT;
        }
    }
    return 0;
}

static int parse_response(const uint8_t *p, size_t n, hs_resp *h)
{
    memset(h, 0, sizeof(*h));
    cm_reader r;
    cm_reader_init(&r, p, n);
    cm_slice filler;
    if (cm_reader_u32le(&r, &h->caps) != 0 || !(h->caps & SQL_CLIENT_PROTOCOL_41) ||
        cm_reader_u32le(&r, &h->max_packet) != 0 || cm_reader_u8(&r, &h->charset) != 0 ||
        cm_reader_bytes(&r, 23, &filler) != 0 || sql_wire_get_cstr(&r, &h->user) != 0) {
        return CM_E_HANDSHAKE;
    }
    if (h->user.len >= 128) {
        return CM_E_HANDSHAKE;
    }
    if (h->caps & SQL_CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
        if (sql_wire_get_lenenc_str(&r, &h->auth) != 0) {
            return CM_E_HANDSHAKE;
        }
    } else if (h->caps & SQL_CLIENT_SECURE_CONNECTION) {
        uint8_t len;
        if (cm_reader_u8(&r, &len) != 0 || cm_reader_bytes(&r, len, &h->auth) != 0) {
            return CM_E_HANDSHAKE;
        }
    } else if (sql_wire_get_cstr(&r, &h->auth) != 0) {
        return CM_E_HANDSHAKE;
    }
    if (h->caps & SQL_CLIENT_CONNECT_WITH_DB) {
        opt_cstr(&r, &h->db, &h->has_db);
    }
    if (h->caps & SQL_CLIENT_PLUGIN_AUTH) {
        opt_cstr(&r, &h->plugin, &h->has_plugin);
    }
    if ((h->caps & SQL_CLIENT_CONNECT_ATTRS) && skip_attrs(&r) != 0) {
        return CM_E_HANDSHAKE;
    }
    if (h->db.len >= 256 || h->plugin.len >= 64) {
        return CM_E_HANDSHAKE;
    }
    return 0;
}

/* ---- authentication ---- */

static int more_data(sql_conn *c, const void *data, size_t n)
{
    size_t off = sql_pkt_begin(&c->pkt);
    if (cm_buf_append_u8(&c->pkt.out, 0x01) != 0 || cm_buf_append(&c->pkt.out, data, n) != 0) {
        return CM_E_NOMEM;
    }
    return sql_pkt_end(&c->pkt, off);
}

static int access_denied(sql_conn *c, const char *user, int used_password, cm_err *err)
{
    sql_metrics_add(SQL_M_AUTH_FAILURES, 1);
    char host[64];
    snprintf(host, sizeof(host), "%.*s", (int)strcspn(c->peer, ":"), c->peer);
    return cm_err_set(err, CM_E_ACCESS_DENIED,
                      "Access denied for user '%s'@'%s' (using password: %s)", user, host,
                      used_password ? "YES" : "NO");
}

/* caching_sha2_password after a cache miss: the password in clear over TLS, or RSA-encrypted
 * (the client may ask for the public key first). */
static int sha2_full(sql_conn *c, const sql_account *acc, const char *user, int *ok, cm_err *err)
{
    static const uint8_t perform_full = 0x04;
    *ok = 0;
    int rc = more_data(c, &perform_full, 1);
    if (rc == 0) {
        rc = read_packet(c, SQL_PREAUTH_PACKET_MAX, c->connect_timeout_ms, err);
    }
    if (rc != 0) {
        return rc;
    }
    uint8_t pw[512];
    size_t pwlen = 0;
    const uint8_t *p = c->payload.ptr;
    size_t n = c->payload.len;
    if (c->tls_io != NULL) {
        if (n > 0 && p[n - 1] == '\0') {
            n--;
        }
        *ok = sql_auth_sha2_full_check(c->env->auth, acc, user, p, n);
        return 0;
    }
    if (n == 1 && p[0] == 0x02) {
        if (c->env->auth->rsa_key == NULL) {
            return 0; /* no key: full authentication needs TLS */
        }
        rc = more_data(c, c->env->auth->rsa_pub_pem, c->env->auth->rsa_pub_len);
        if (rc == 0) {
            rc = read_packet(c, SQL_PREAUTH_PACKET_MAX, c->connect_timeout_ms, err);
        }
        if (rc != 0) {
            return rc;
        }
        p = c->payload.ptr;
        n = c->payload.len;
    }
    /* The nonce as clients use it: 20 bytes, or 21 with the NUL after an AuthSwitchRequest. */
    uint8_t nonce21[SQL_NONCE_LEN + 1];
    memcpy(nonce21, c->nonce, SQL_NONCE_LEN);
    nonce21[SQL_NONCE_LEN] = 0;
    for (size_t nl = SQL_NONCE_LEN; nl <= SQL_NONCE_LEN + 1 && !*ok; nl++) {
        if (sql_auth_rsa_password(c->env->auth, nonce21, nl, p, n, pw, sizeof(pw), &pwlen) == 0) {
            *ok = sql_auth_sha2_full_check(c->env->auth, acc, user, pw, pwlen);
        }
    }
    memset(pw, 0, sizeof(pw));
    return 0;
}

/* Runs the authentication exchange for `user` whose first response is `resp` (computed with
 * plugin `plugin`). Returns 0 when authenticated, CM_E_ACCESS_DENIED (err set) when not, or a
 * transport error. */
static int authenticate(sql_conn *c, const char *user, cm_slice resp, cm_slice plugin,
                        int has_plugin, cm_err *err)
{
    sql_auth *a = c->env->auth;
    char ip[64];
    snprintf(ip, sizeof(ip), "%.*s", (int)strcspn(c->peer, ":"), c->peer);
    sql_account accbuf;
    const sql_account *acc = sql_auth_lookup(a, user, ip, &accbuf);
    int want = acc ? acc->plugin : a->default_plugin;
    int have = has_plugin ? sql_auth_plugin_by_name((const char *)plugin.ptr, plugin.len)
                          : (resp.len == 20 || resp.len == 0 ? SQL_AUTH_NATIVE : -1);
    uint8_t first[64];
    size_t first_len = resp.len < sizeof(first) ? resp.len : sizeof(first);
    memcpy(first, resp.ptr ? resp.ptr : (const uint8_t *)"", first_len);
    int rc;
    int switched = have != want;
    if (have != want) {
        if (!(c->caps & SQL_CLIENT_PLUGIN_AUTH)) {
            sql_metrics_add(SQL_M_AUTH_FAILURES, 1);
            return cm_err_set(err, CM_E_AUTH_MODE,
                              "Client does not support authentication protocol requested by "
                              "server; consider upgrading MySQL client");
        }
        /* AuthSwitchRequest with a fresh nonce. */
        if (sql_auth_nonce(c->nonce) != 0) {
            return cm_err_set(err, CM_E_INTERNAL, "no random bytes");
        }
        const char *name = sql_auth_plugin_name(want);
        size_t off = sql_pkt_begin(&c->pkt);
        cm_buf *b = &c->pkt.out;
        if (cm_buf_append_u8(b, 0xfe) != 0 || sql_wire_put_cstr(b, name) != 0 ||
            cm_buf_append(b, c->nonce, SQL_NONCE_LEN) != 0 || cm_buf_append_u8(b, 0) != 0) {
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        if ((rc = sql_pkt_end(&c->pkt, off)) != 0 ||
            (rc = read_packet(c, SQL_PREAUTH_PACKET_MAX, c->connect_timeout_ms, err)) != 0) {
            return rc;
        }
        first_len = c->payload.len < sizeof(first) ? c->payload.len : sizeof(first);
        memcpy(first, c->payload.ptr ? c->payload.ptr : (const uint8_t *)"", first_len);
    }
    /* Some clients terminate an empty response with a NUL. */
    if (first_len == 1 && first[0] == 0) {
        first_len = 0;
    }
    int ok = 0;
    if (want == SQL_AUTH_NATIVE) {
        ok = acc != NULL &&
             (sql_auth_account_empty(acc)
                  ? first_len == 0
                  : sql_auth_native_check(acc->native_h2, c->nonce, first, first_len));
    } else if (acc != NULL && sql_auth_account_empty(acc)) {
        ok = first_len == 0;
    } else if (first_len > 0) {
        uint8_t h2[32];
        if (acc != NULL && sql_auth_fast_h2(a, acc, user, h2)) {
            uint8_t nonce21[SQL_NONCE_LEN + 1];
            memcpy(nonce21, c->nonce, SQL_NONCE_LEN);
            nonce21[SQL_NONCE_LEN] = 0;
            ok =
                sql_auth_sha2_check(h2, nonce21, SQL_NONCE_LEN, first, first_len) ||
                (switched && sql_auth_sha2_check(h2, nonce21, SQL_NONCE_LEN + 1, first, first_len));
            if (ok) {
                static const uint8_t fast_ok = 0x03;
                if ((rc = more_data(c, &fast_ok, 1)) != 0) {
                    return rc;
                }
            }
        } else {
            if ((rc = sha2_full(c, acc, user, &ok, err)) != 0) {
                return rc;
            }
        }
    }
    if (!ok) {
        return access_denied(c, user, first_len > 0, err);
    }
    return 0;
}

/* After authentication: the session takes the account, database and charset. */
static int login(sql_conn *c, const char *user, cm_slice db, uint8_t charset, cm_err *err)
{
    char dbz[256];
    snprintf(dbz, sizeof(dbz), "%.*s", (int)db.len, db.len ? (const char *)db.ptr : "");
    snprintf(c->user, sizeof(c->user), "%s", user);
    sql_sess_set_multi_statements(c->sess, (c->caps & SQL_CLIENT_MULTI_STATEMENTS) != 0);
    sql_sess_set_found_rows(c->sess, (c->caps & SQL_CLIENT_FOUND_ROWS) != 0);
    int rc = sql_sess_login(c->sess, user, c->peer, dbz, charset,
                            (c->caps & SQL_CLIENT_INTERACTIVE) != 0, err);
    if (rc == 0) {
        c->authed = 1;
        c->pkt.read_timeout_ms = (int)sql_sess_net_read_timeout_ms(c->sess);
    }
    return rc;
}

static int handshake(sql_conn *c)
{
    cm_err err;
    cm_err_clear(&err);
    int rc;
    if (sql_auth_nonce(c->nonce) != 0 || send_greeting(c) != 0) {
        return CM_E_IO;
    }
    c->pkt.exact = 1; /* a ClientHello may follow SSLRequest at once: leave it to OpenSSL */
    rc = sql_pkt_read(&c->pkt, &c->payload, SQL_PREAUTH_PACKET_MAX, c->connect_timeout_ms, &err);
    c->pkt.exact = 0;
    if (rc != 0) {
        if (rc != CM_E_CLOSED && rc != CM_E_IO && rc != CM_E_CORRUPT) {
            send_error(c, rc == CM_E_TIMEOUT ? CM_E_HANDSHAKE : rc,
                       rc == CM_E_TIMEOUT ? "Bad handshake" : err.msg);
        }
        return rc;
    }
    uint32_t caps = 0;
    if (c->payload.len >= 4) {
        caps = (uint32_t)c->payload.ptr[0] | ((uint32_t)c->payload.ptr[1] << 8) |
               ((uint32_t)c->payload.ptr[2] << 16) | ((uint32_t)c->payload.ptr[3] << 24);
    }
    if (c->payload.len == 32 && (caps & SQL_CLIENT_SSL)) {
        /* SSLRequest: upgrade, then the real response arrives encrypted. */
        if (c->env->tls == NULL || sql_pkt_pending_input(&c->pkt) != 0 || c->io->fd < 0) {
            send_error(c, CM_E_HANDSHAKE, "Bad handshake (TLS is not available)");
            return CM_E_HANDSHAKE;
        }
        sql_io *tio;
        rc = sql_tls_accept(c->env->tls, c->io->fd, &tio, &err);
        if (rc != 0) {
            CM_DEBUG("sql", "TLS handshake failed conn=%llu: %s", (unsigned long long)c->id,
                     err.msg);
            return rc;
        }
        c->tls_io = tio;
        c->io = tio;
        c->pkt.io = tio;
        rc =
            sql_pkt_read(&c->pkt, &c->payload, SQL_PREAUTH_PACKET_MAX, c->connect_timeout_ms, &err);
        if (rc != 0) {
            return rc;
        }
    }
    hs_resp h;
    if (parse_response(c->payload.ptr, c->payload.len, &h) != 0) {
        send_error(c, CM_E_HANDSHAKE, "Bad handshake");
        return CM_E_HANDSHAKE;
    }
    c->caps = h.caps & server_caps(c);
    if (sql_sysvars_get_int(c->env->sess_env->globals, SQL_SV_REQUIRE_SECURE_TRANSPORT) &&
        c->tls_io == NULL) {
        send_error(c, CM_E_SECURE_TRANSPORT, NULL);
        return CM_E_SECURE_TRANSPORT;
    }
    char user[128];
    snprintf(user, sizeof(user), "%.*s", (int)h.user.len, (const char *)h.user.ptr);
    /* h's slices point into c->payload, which the exchange reuses: keep copies. */
    char dbz[256];
    size_t dblen = h.has_db ? h.db.len : 0;
    memcpy(dbz, h.has_db && dblen ? (const char *)h.db.ptr : "", dblen);
    dbz[dblen] = '\0';
    rc = authenticate(c, user, h.auth, h.plugin, h.has_plugin, &err);
    if (rc == 0) {
        rc = login(c, user, cm_slice_make(dbz, dblen), h.charset, &err);
    }
    if (rc != 0) {
        if (rc != CM_E_IO && rc != CM_E_CLOSED && rc != CM_E_CORRUPT && rc != CM_E_TIMEOUT) {
            CM_INFO("sql", "login failed conn=%llu peer=%s: %s", (unsigned long long)c->id, c->peer,
                    err.msg);
            send_error(c, rc, err.msg);
        }
        return rc;
    }
    return send_ok(c);
}

int sql_conn_login_direct(sql_conn *c, const char *user, uint32_t caps, cm_err *err)
{
    c->caps = caps & server_caps(c);
    return login(c, user, cm_slice_make("", 0), 46, err);
}

/* ---- commands ---- */

/* Sends a statement's error unless writing failed (then the connection ends). */
static int statement_result(sql_conn *c, int rc, cm_err *err)
{
    if (rc == 0) {
        return CONN_CONTINUE;
    }
    if (rc == CM_E_IO || rc == CM_E_TIMEOUT) {
        return rc; /* the client is gone */
    }
    if (c->rs.in_resultset) {
        c->rs.in_resultset = 0; /* the ERR ends the half-sent result set */
    }
    rc = send_error(c, rc, err->msg);
    return rc ? rc : CONN_CONTINUE;
}

static int com_query(sql_conn *c, const uint8_t *p, size_t n)
{
    cm_err err;
    cm_err_clear(&err);
    set_command(c, "Query", (const char *)p, n);
    sql_res_sink_begin(&c->rs, c->caps, 0);
    int rc = sql_sess_query(c->sess, (const char *)p, n, &c->rs.sink, &err);
    sql_metrics_add(SQL_M_QUESTIONS, 1);
    return statement_result(c, rc, &err);
}

static int com_init_db(sql_conn *c, const uint8_t *p, size_t n)
{
    cm_err err;
    set_command(c, "Init DB", (const char *)p, n);
    int rc = sql_sess_use_db(c->sess, (const char *)p, n, &err);
    if (rc != 0) {
        return statement_result(c, rc, &err);
    }
    return send_ok(c);
}

static int com_ping(sql_conn *c, const uint8_t *p, size_t n)
{
    (void)p;
    (void)n;
    return send_ok(c);
}

static int com_quit(sql_conn *c, const uint8_t *p, size_t n)
{
    (void)c;
    (void)p;
    (void)n;
    return CONN_CLOSE;
}

/* One column definition of a COM_FIELD_LIST answer: the result-set form with the schema and
 * table filled in, plus the column's default value (lenenc text, 0xfb for none). */
static int field_def_cb(void *ctx, const sql_column *col, const char *table, const char *dflt)
{
    sql_conn *c = ctx;
    char db[256], user[128], host[64];
    sql_sess_copy_info(c->sess, user, sizeof(user), host, sizeof(host), db, sizeof(db));
    size_t off = sql_pkt_begin(&c->pkt);
    cm_buf *b = &c->pkt.out;
    size_t tl = strlen(table);
    if (sql_wire_put_lenenc_str(b, "def", 3) != 0 ||
        sql_wire_put_lenenc_str(b, db, strlen(db)) != 0 ||
        sql_wire_put_lenenc_str(b, table, tl) != 0 || sql_wire_put_lenenc_str(b, table, tl) != 0 ||
        sql_wire_put_lenenc_str(b, col->name, col->name_len) != 0 ||
        sql_wire_put_lenenc_str(b, col->name, col->name_len) != 0 ||
        sql_wire_put_lenenc(b, 0x0c) != 0 || cm_buf_append_u16le(b, col->charset) != 0 ||
        cm_buf_append_u32le(b, col->length) != 0 || cm_buf_append_u8(b, col->type) != 0 ||
        cm_buf_append_u16le(b, col->flags) != 0 || cm_buf_append_u8(b, col->decimals) != 0 ||
        cm_buf_append_u16le(b, 0) != 0 ||
        (dflt != NULL ? sql_wire_put_lenenc_str(b, dflt, strlen(dflt))
                      : cm_buf_append_u8(b, 0xfb)) != 0) {
        return CM_E_NOMEM;
    }
    return sql_pkt_end(&c->pkt, off);
}

/* COM_FIELD_LIST table NUL [wildcard]: the table's columns from the catalog, then EOF. */
static int com_field_list(sql_conn *c, const uint8_t *p, size_t n)
{
    cm_reader r;
    cm_reader_init(&r, p, n);
    cm_slice table, wild = cm_slice_make(NULL, 0);
    if (sql_wire_get_cstr(&r, &table) != 0) {
        table = cm_slice_make(p, n);
    } else {
        wild = cm_slice_make(p + table.len + 1, n - table.len - 1);
    }
    cm_err err;
    cm_err_clear(&err);
    int rc = sql_sess_field_list(c->sess, (const char *)table.ptr, table.len,
                                 (const char *)wild.ptr, wild.len, field_def_cb, c, &err);
    if (rc != 0) {
        /* only out of memory fails once definitions are written; the connection then ends */
        return send_error(c, rc, err.msg);
    }
    rc = sql_res_end(&c->pkt, c->caps, sql_sess_warning_count(c->sess), sql_sess_status(c->sess));
    return rc ? rc : sql_pkt_flush(&c->pkt);
}

static int com_statistics(sql_conn *c, const uint8_t *p, size_t n)
{
    (void)p;
    (void)n;
    cm_buf_reset(&c->scratch);
    if (c->env->statistics != NULL) {
        c->env->statistics(c->env->user, &c->scratch);
    } else {
        cm_buf_printf(&c->scratch, "Uptime: %llu  Threads: 1  Questions: %llu",
                      (unsigned long long)((cm_time_mono_ms() - c->started_ms) / 1000),
                      (unsigned long long)sql_sess_questions(c->sess));
    }
    int rc = sql_pkt_write(&c->pkt, c->scratch.ptr ? c->scratch.ptr : (const uint8_t *)"",
                           c->scratch.len);
    return rc ? rc : sql_pkt_flush(&c->pkt);
}

static int com_process_kill(sql_conn *c, const uint8_t *p, size_t n)
{
    cm_reader r;
    cm_reader_init(&r, p, n);
    uint32_t id;
    if (cm_reader_u32le(&r, &id) != 0) {
        return send_error(c, CM_E_MALFORMED_PACKET, NULL);
    }
    cm_err err;
    const sql_sess_env *se = c->env->sess_env;
    int rc = se->kill ? se->kill(se->user, c->sess, id, 0, &err)
                      : cm_err_set(&err, CM_E_NO_SUCH_THREAD, "Unknown thread id: %u", id);
    if (rc != 0) {
        return send_error(c, rc, err.msg);
    }
    return send_ok(c);
}

static int com_set_option(sql_conn *c, const uint8_t *p, size_t n)
{
    cm_reader r;
    cm_reader_init(&r, p, n);
    uint16_t opt;
    if (cm_reader_u16le(&r, &opt) != 0 || opt > 1) {
        return send_error(c, CM_E_UNKNOWN_COM, "Unknown command");
    }
    sql_sess_set_multi_statements(c->sess, opt == 0);
    int rc = sql_res_end(&c->pkt, c->caps, 0, sql_sess_status(c->sess));
    return rc ? rc : sql_pkt_flush(&c->pkt);
}

static int com_reset_connection(sql_conn *c, const uint8_t *p, size_t n)
{
    (void)p;
    (void)n;
    cm_err err;
    close_statements(c);
    int rc = sql_sess_reset(c->sess, &err);
    if (rc != 0) {
        return send_error(c, rc, err.msg);
    }
    return send_ok(c);
}

static int com_change_user(sql_conn *c, const uint8_t *p, size_t n)
{
    cm_reader r;
    cm_reader_init(&r, p, n);
    cm_slice user, auth, db = {NULL, 0}, plugin = {NULL, 0};
    int has_plugin = 0, has_db = 0;
    uint16_t charset = 46;
    if (sql_wire_get_cstr(&r, &user) != 0 || user.len >= 128) {
        return send_error(c, CM_E_MALFORMED_PACKET, NULL);
    }
    if (c->caps & SQL_CLIENT_SECURE_CONNECTION) {
        uint8_t len;
        if (cm_reader_u8(&r, &len) != 0 || cm_reader_bytes(&r, len, &auth) != 0) {
            return send_error(c, CM_E_MALFORMED_PACKET, NULL);
        }
    } else if (sql_wire_get_cstr(&r, &auth) != 0) {
        return send_error(c, CM_E_MALFORMED_PACKET, NULL);
    }
    opt_cstr(&r, &db, &has_db);
    if (cm_reader_left(&r) >= 2) {
        cm_reader_u16le(&r, &charset);
    }
    if (c->caps & SQL_CLIENT_PLUGIN_AUTH) {
        opt_cstr(&r, &plugin, &has_plugin);
    }
    if (db.len >= 256 || plugin.len >= 64) {
        return send_error(c, CM_E_MALFORMED_PACKET, NULL);
    }
    char userz[128], dbz[256];
    snprintf(userz, sizeof(userz), "%.*s", (int)user.len, (const char *)user.ptr);
    memcpy(dbz, db.len ? (const char *)db.ptr : "", db.len);
    dbz[db.len] = '\0';
    char pluginz[64];
    memcpy(pluginz, plugin.len ? (const char *)plugin.ptr : "", plugin.len);
    pluginz[plugin.len] = '\0';
    uint8_t authcopy[256];
    size_t alen = auth.len < sizeof(authcopy) ? auth.len : sizeof(authcopy);
    memcpy(authcopy, auth.len ? auth.ptr : (const uint8_t *)"", alen);
    set_command(c, "Change user", NULL, 0);
    cm_err err;
    cm_err_clear(&err);
    int rc = authenticate(c, userz, cm_slice_make(authcopy, alen),
                          cm_slice_make(pluginz, strlen(pluginz)), has_plugin, &err);
    if (rc == 0) {
        close_statements(c);
        rc = sql_sess_reset(c->sess, &err);
        if (rc == 0) {
            rc = login(c, userz, cm_slice_make(dbz, db.len), (uint8_t)charset, &err);
        }
    }
    if (rc == CM_E_ACCESS_DENIED || rc == CM_E_AUTH_MODE) {
        send_error(c, rc, err.msg);
        return CONN_CLOSE; /* a failed COM_CHANGE_USER leaves no valid account */
    }
    if (rc != 0) {
        if (rc == CM_E_IO || rc == CM_E_TIMEOUT || rc == CM_E_CLOSED || rc == CM_E_CORRUPT) {
            return rc;
        }
        send_error(c, rc, err.msg);
        return CONN_CLOSE;
    }
    return send_ok(c);
}

static int ensure_params(sql_conn *c, uint32_t n)
{
    if (n <= c->cap_params) {
        return 0;
    }
    sql_value *v = realloc(c->params, n * sizeof(*v));
    if (v == NULL) {
        return CM_E_NOMEM;
    }
    c->params = v;
    c->cap_params = n;
    return 0;
}

static int unknown_stmt(sql_conn *c, uint32_t id, const char *where)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "Unknown prepared statement handler (%u) given to %s", id, where);
    return send_error(c, CM_E_UNKNOWN_STMT, msg);
}

static int com_stmt_prepare(sql_conn *c, const uint8_t *p, size_t n)
{
    cm_err err;
    cm_err_clear(&err);
    set_command(c, "Prepare", (const char *)p, n);
    sql_prep *prep;
    int rc = sql_sess_prepare(c->sess, (const char *)p, n, &prep, &err);
    if (rc != 0) {
        return statement_result(c, rc, &err);
    }
    uint32_t np = sql_prep_param_count(prep), nc = sql_prep_column_count(prep);
    sql_stmt_ent *st;
    if (np > 65535 || sql_stmts_add(&c->stmts, prep, np, &st) != 0) {
        sql_sess_prep_free(c->sess, prep);
        return send_error(c, np > 65535 ? CM_E_PARSE : CM_E_NOMEM,
                          np > 65535 ? "Prepared statement contains too many placeholders"
                                     : "out of memory");
    }
    size_t off = sql_pkt_begin(&c->pkt);
    cm_buf *b = &c->pkt.out;
    if (cm_buf_append_u8(b, 0) != 0 || cm_buf_append_u32le(b, st->id) != 0 ||
        cm_buf_append_u16le(b, (uint16_t)nc) != 0 || cm_buf_append_u16le(b, (uint16_t)np) != 0 ||
        cm_buf_append_u8(b, 0) != 0 ||
        cm_buf_append_u16le(b, sql_sess_warning_count(c->sess)) != 0) {
        return CM_E_NOMEM;
    }
    rc = sql_pkt_end(&c->pkt, off);
    sql_column pc;
    memset(&pc, 0, sizeof(pc));
    pc.name = "?";
    pc.name_len = 1;
    pc.type = SQL_TYPE_VAR_STRING;
    pc.charset = SQL_COLLATION_BINARY;
    pc.flags = SQL_FLAG_BINARY;
    for (uint32_t i = 0; rc == 0 && i < np; i++) {
        rc = sql_res_column_def(&c->pkt, &pc);
    }
    if (rc == 0 && np > 0 && !(c->caps & SQL_CLIENT_DEPRECATE_EOF)) {
        rc = sql_res_eof(&c->pkt, 0, sql_sess_status(c->sess));
    }
    const sql_column *cols = sql_prep_columns(prep);
    for (uint32_t i = 0; rc == 0 && i < nc; i++) {
        rc = sql_res_column_def(&c->pkt, &cols[i]);
    }
    if (rc == 0 && nc > 0 && !(c->caps & SQL_CLIENT_DEPRECATE_EOF)) {
        rc = sql_res_eof(&c->pkt, 0, sql_sess_status(c->sess));
    }
    return rc ? rc : sql_pkt_flush(&c->pkt);
}

static int com_stmt_execute(sql_conn *c, const uint8_t *p, size_t n)
{
    cm_reader r;
    cm_reader_init(&r, p, n);
    uint32_t id;
    if (cm_reader_u32le(&r, &id) != 0) {
        return send_error(c, CM_E_MALFORMED_PACKET, NULL);
    }
    sql_stmt_ent *st = sql_stmts_find(&c->stmts, id);
    if (st == NULL) {
        return unknown_stmt(c, id, "mysqld_stmt_execute");
    }
    cm_err err;
    cm_err_clear(&err);
    if (ensure_params(c, st->nparams) != 0) {
        return send_error(c, CM_E_NOMEM, "out of memory");
    }
    uint8_t flags;
    int rc = sql_bin_decode_execute(st, p + 4, n - 4, c->params, &c->scratch, &flags, &err);
    if (rc != 0) {
        sql_bin_reset(st);
        sql_sess_note_error(c->sess, &err);
        return send_error(c, rc, err.msg);
    }
    size_t tlen;
    const char *text = sql_prep_text(st->prep, &tlen);
    set_command(c, "Execute", text, tlen);
    /* Cursors are not offered: a cursor request gets the whole result set, which clients
     * accept (they fall back to buffered results when no cursor is opened). */
    sql_res_sink_begin(&c->rs, c->caps, 1);
    rc = sql_sess_execute(c->sess, st->prep, c->params, st->nparams, &c->rs.sink, &err);
    sql_bin_reset(st); /* long data is consumed by an execute */
    sql_metrics_add(SQL_M_QUESTIONS, 1);
    return statement_result(c, rc, &err);
}

static int com_stmt_send_long_data(sql_conn *c, const uint8_t *p, size_t n)
{
    cm_reader r;
    cm_reader_init(&r, p, n);
    uint32_t id;
    uint16_t param;
    if (cm_reader_u32le(&r, &id) != 0 || cm_reader_u16le(&r, &param) != 0) {
        return CONN_CONTINUE; /* no reply in this command, even to errors */
    }
    sql_stmt_ent *st = sql_stmts_find(&c->stmts, id);
    if (st != NULL) {
        sql_bin_long_data(st, param, p + 6, n - 6, (size_t)sql_sess_max_allowed_packet(c->sess));
    }
    return CONN_CONTINUE;
}

static int com_stmt_close(sql_conn *c, const uint8_t *p, size_t n)
{
    cm_reader r;
    cm_reader_init(&r, p, n);
    uint32_t id;
    if (cm_reader_u32le(&r, &id) == 0) {
        void *prep = sql_stmts_remove(&c->stmts, id);
        if (prep != NULL) {
            sql_sess_prep_free(c->sess, prep);
        }
    }
    return CONN_CONTINUE; /* no reply */
}

static int com_stmt_reset(sql_conn *c, const uint8_t *p, size_t n)
{
    cm_reader r;
    cm_reader_init(&r, p, n);
    uint32_t id;
    if (cm_reader_u32le(&r, &id) != 0) {
        return send_error(c, CM_E_MALFORMED_PACKET, NULL);
    }
    sql_stmt_ent *st = sql_stmts_find(&c->stmts, id);
    if (st == NULL) {
        return unknown_stmt(c, id, "mysqld_stmt_reset");
    }
    sql_bin_reset(st);
    return send_ok(c);
}

static int com_stmt_fetch(sql_conn *c, const uint8_t *p, size_t n)
{
    (void)p;
    (void)n;
    return send_error(c, CM_E_UNSUPPORTED,
                      "This version of Tessera doesn't yet support cursors (COM_STMT_FETCH)");
}

static int com_debug(sql_conn *c, const uint8_t *p, size_t n)
{
    (void)p;
    (void)n;
    int rc = sql_res_end(&c->pkt, c->caps, 0, sql_sess_status(c->sess));
    return rc ? rc : sql_pkt_flush(&c->pkt);
}

typedef int (*cmd_fn)(sql_conn *c, const uint8_t *p, size_t n);

/* The commands served, as data (Redis's command table is the model). */
static const struct {
    uint8_t com;
    const char *state; /* SHOW PROCESSLIST's Command column */
    cmd_fn fn;
} commands[] = {
    {SQL_COM_QUIT, "Quit", com_quit},
    {SQL_COM_INIT_DB, "Init DB", com_init_db},
    {SQL_COM_QUERY, "Query", com_query},
    {SQL_COM_FIELD_LIST, "Field List", com_field_list},
    {SQL_COM_STATISTICS, "Statistics", com_statistics},
    {SQL_COM_PROCESS_KILL, "Kill", com_process_kill},
    {SQL_COM_DEBUG, "Debug", com_debug},
    {SQL_COM_PING, "Ping", com_ping},
    {SQL_COM_CHANGE_USER, "Change user", com_change_user},
    {SQL_COM_STMT_PREPARE, "Prepare", com_stmt_prepare},
    {SQL_COM_STMT_EXECUTE, "Execute", com_stmt_execute},
    {SQL_COM_STMT_SEND_LONG_DATA, "Long Data", com_stmt_send_long_data},
    {SQL_COM_STMT_CLOSE, "Close stmt", com_stmt_close},
    {SQL_COM_STMT_RESET, "Reset stmt", com_stmt_reset},
    {SQL_COM_SET_OPTION, "Set option", com_set_option},
    {SQL_COM_STMT_FETCH, "Fetch", com_stmt_fetch},
    {SQL_COM_RESET_CONNECTION, "Reset connection", com_reset_connection},
};

static int dispatch(sql_conn *c)
{
    const uint8_t *p = c->payload.ptr;
    size_t n = c->payload.len;
    if (n == 0) {
        return send_error(c, CM_E_MALFORMED_PACKET, "Malformed communication packet (empty)");
    }
    sql_metrics_command(p[0]);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (commands[i].com == p[0]) {
            set_command(c, commands[i].state, NULL, 0);
            return commands[i].fn(c, p + 1, n - 1);
        }
    }
    return send_error(c, CM_E_UNKNOWN_COM, "Unknown command");
}

static int clamp_ms(int64_t ms)
{
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

void sql_conn_commands(sql_conn *c)
{
    cm_err err;
    uint64_t in0 = c->pkt.bytes_in, out0 = c->pkt.bytes_out;
    for (;;) {
        if (sql_pkt_flush(&c->pkt) != 0 || sql_sess_killed(c->sess) == 2) {
            break;
        }
        sql_metrics_add(SQL_M_BYTES_IN, c->pkt.bytes_in - in0);
        sql_metrics_add(SQL_M_BYTES_OUT, c->pkt.bytes_out - out0);
        in0 = c->pkt.bytes_in;
        out0 = c->pkt.bytes_out;
        set_command(c, "Sleep", NULL, 0);
        c->pkt.seq = 0;
        int rc = sql_pkt_read(&c->pkt, &c->payload, (size_t)sql_sess_max_allowed_packet(c->sess),
                              clamp_ms(sql_sess_wait_timeout_ms(c->sess)), &err);
        if (rc == CM_E_NET_PACKET_TOO_LARGE || rc == CM_E_PACKETS_OUT_OF_ORDER) {
            CM_INFO("sql", "closing conn=%llu: %s", (unsigned long long)c->id, err.msg);
            send_error(c, rc, err.msg);
            break;
        }
        if (rc != 0) {
            if (rc == CM_E_TIMEOUT) {
                CM_INFO("sql", "closing idle conn=%llu after wait_timeout",
                        (unsigned long long)c->id);
            }
            break;
        }
        rc = dispatch(c);
        if (rc != CONN_CONTINUE) {
            break;
        }
        /* A large command's buffer is not kept by an idle connection. */
        if (c->payload.cap > 4 * SQL_IN_CHUNK_BYTES) {
            cm_buf_fini(&c->payload);
        }
    }
    sql_pkt_flush(&c->pkt);
    sql_metrics_add(SQL_M_BYTES_IN, c->pkt.bytes_in - in0);
    sql_metrics_add(SQL_M_BYTES_OUT, c->pkt.bytes_out - out0);
}

void sql_conn_serve(sql_conn *c)
{
    uint64_t in0 = c->pkt.bytes_in, out0 = c->pkt.bytes_out;
    int rc = handshake(c);
    sql_metrics_add(SQL_M_BYTES_IN, c->pkt.bytes_in - in0);
    sql_metrics_add(SQL_M_BYTES_OUT, c->pkt.bytes_out - out0);
    if (rc == 0) {
        sql_conn_commands(c);
    }
}
