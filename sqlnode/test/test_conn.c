/* Unit tests for whole connections over the memory transport: a scripted client answers the
 * server's greeting and authentication packets (native, caching_sha2 fast and full/RSA, plugin
 * switch), then sends commands; the server's responses are decoded to text and checked. Also
 * malformed, out-of-order and oversized packets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_err.h"
#include "sql_auth.h"
#include "sql_conn.h"
#include "sql_io.h"
#include "sql_my_const.h"
#include "sql_tls.h"
#include "sql_wire.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLIENT_CAPS                                                                                \
    (SQL_CLIENT_PROTOCOL_41 | SQL_CLIENT_SECURE_CONNECTION | SQL_CLIENT_PLUGIN_AUTH |              \
     SQL_CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | SQL_CLIENT_LONG_PASSWORD |                        \
     SQL_CLIENT_TRANSACTIONS | SQL_CLIENT_MULTI_RESULTS)

/* ---- the scripted client (a memory transport that answers) ---- */

typedef struct mclient {
    sql_io io;
    const char *user;
    const char *password;
    const char *plugin; /* announced in the handshake response */
    const char *db;
    uint32_t caps;
    cm_buf srv;    /* server output not parsed yet */
    cm_buf to_srv; /* client bytes not read by the server yet */
    size_t to_pos;
    int phase; /* 0 greeting, 1 authentication, 2 commands, 3 finished */
    int raw;   /* send to_srv as is, parse nothing */
    uint8_t nonce[SQL_NONCE_LEN];
    uint32_t server_caps;
    char greeting_version[64];
    char greeting_plugin[64];
    cm_buf cmds;    /* command packets sent after login */
    cm_buf packets; /* server packets after login: u8 seq, u32 len, payload */
    int auth_err;   /* MySQL errno of a failed login */
    int saw_switch, saw_fast_ok, saw_full, saw_pubkey;
} mclient;

static void queue_packet(cm_buf *b, uint8_t seq, const void *p, size_t n)
{
    cm_buf_append_u24le(b, (uint32_t)n);
    cm_buf_append_u8(b, seq);
    cm_buf_append(b, p, n);
}

static void auth_response(mclient *c, const char *plugin, cm_buf *out)
{
    size_t n = strlen(c->password);
    if (n == 0) {
        return;
    }
    if (strcmp(plugin, SQL_PLUGIN_SHA2) == 0) {
        uint8_t s[32];
        sql_auth_sha2_scramble(c->nonce, c->password, n, s);
        cm_buf_append(out, s, 32);
    } else {
        uint8_t s[20];
        sql_auth_native_scramble(c->nonce, c->password, n, s);
        cm_buf_append(out, s, 20);
    }
}

static void rsa_encrypt(mclient *c, const char *pem, size_t pemlen, cm_buf *out)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)pemlen);
    EVP_PKEY *pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    assert_non_null(pk);
    uint8_t plain[128], enc[512];
    size_t n = strlen(c->password) + 1;
    for (size_t i = 0; i < n; i++) {
        plain[i] = (uint8_t)(i < n - 1 ? c->password[i] : 0) ^ c->nonce[i % SQL_NONCE_LEN];
    }
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
    size_t len = sizeof(enc);
    EVP_PKEY_encrypt_init(ctx);
    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING);
    assert_int_equal(EVP_PKEY_encrypt(ctx, enc, &len, plain, n), 1);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    cm_buf_append(out, enc, len);
}

static void on_greeting(mclient *c, const uint8_t *p, size_t n, uint8_t seq)
{
    cm_reader r;
    cm_reader_init(&r, p, n);
    uint8_t proto, filler, charset, authlen;
    cm_slice version, part1, rest, part2, plugin;
    uint32_t id;
    uint16_t caps_lo, status, caps_hi;
    assert_int_equal(cm_reader_u8(&r, &proto), 0);
    assert_int_equal(proto, 10);
    assert_int_equal(sql_wire_get_cstr(&r, &version), 0);
    snprintf(c->greeting_version, sizeof(c->greeting_version), "%.*s", (int)version.len,
             (const char *)version.ptr);
    assert_int_equal(cm_reader_u32le(&r, &id), 0);
    assert_int_equal(cm_reader_bytes(&r, 8, &part1), 0);
    assert_int_equal(cm_reader_u8(&r, &filler), 0);
    assert_int_equal(filler, 0);
    assert_int_equal(cm_reader_u16le(&r, &caps_lo), 0);
    assert_int_equal(cm_reader_u8(&r, &charset), 0);
    assert_int_equal(cm_reader_u16le(&r, &status), 0);
    assert_int_equal(cm_reader_u16le(&r, &caps_hi), 0);
    assert_int_equal(cm_reader_u8(&r, &authlen), 0);
    assert_int_equal(authlen, 21);
    assert_int_equal(cm_reader_bytes(&r, 10, &rest), 0);
    assert_int_equal(cm_reader_bytes(&r, 13, &part2), 0);
    assert_int_equal(part2.ptr[12], 0);
    assert_int_equal(sql_wire_get_cstr(&r, &plugin), 0);
    snprintf(c->greeting_plugin, sizeof(c->greeting_plugin), "%.*s", (int)plugin.len,
             (const char *)plugin.ptr);
    c->server_caps = caps_lo | ((uint32_t)caps_hi << 16);
    memcpy(c->nonce, part1.ptr, 8);
    memcpy(c->nonce + 8, part2.ptr, 12);
    /* The handshake response. */
    cm_buf b = CM_BUF_INIT;
    uint32_t caps = c->caps | (c->db ? SQL_CLIENT_CONNECT_WITH_DB : 0);
    cm_buf_append_u32le(&b, caps);
    cm_buf_append_u32le(&b, 16u << 20);
    cm_buf_append_u8(&b, 45);
    static const uint8_t zeros[23] = {0};
    cm_buf_append(&b, zeros, 23);
    sql_wire_put_cstr(&b, c->user);
    cm_buf auth = CM_BUF_INIT;
    auth_response(c, c->plugin, &auth);
    sql_wire_put_lenenc_str(&b, auth.ptr ? auth.ptr : (const uint8_t *)"", auth.len);
    if (c->db) {
        sql_wire_put_cstr(&b, c->db);
    }
    sql_wire_put_cstr(&b, c->plugin);
    queue_packet(&c->to_srv, (uint8_t)(seq + 1), b.ptr, b.len);
    cm_buf_fini(&auth);
    cm_buf_fini(&b);
    c->phase = 1;
}

static void on_auth_packet(mclient *c, const uint8_t *p, size_t n, uint8_t seq)
{
    cm_buf b = CM_BUF_INIT;
    if (n > 0 && p[0] == 0x00) {
        c->phase = 2;
        cm_buf_append(&c->to_srv, c->cmds.ptr, c->cmds.len);
    } else if (n > 0 && p[0] == 0xff) {
        c->auth_err = p[1] | (p[2] << 8);
        c->phase = 3;
    } else if (n > 0 && p[0] == 0xfe) {
        c->saw_switch = 1;
        const char *name = (const char *)p + 1;
        size_t nl = strnlen(name, n - 1);
        assert_true(n >= 1 + nl + 1 + SQL_NONCE_LEN);
        memcpy(c->nonce, p + 1 + nl + 1, SQL_NONCE_LEN);
        char plugin[64];
        snprintf(plugin, sizeof(plugin), "%.*s", (int)nl, name);
        auth_response(c, plugin, &b);
        queue_packet(&c->to_srv, (uint8_t)(seq + 1), b.ptr ? b.ptr : (const uint8_t *)"", b.len);
    } else if (n == 2 && p[0] == 0x01 && p[1] == 0x03) {
        c->saw_fast_ok = 1;
    } else if (n == 2 && p[0] == 0x01 && p[1] == 0x04) {
        c->saw_full = 1;
        queue_packet(&c->to_srv, (uint8_t)(seq + 1), "\x02", 1);
    } else if (n > 1 && p[0] == 0x01) {
        c->saw_pubkey = 1;
        rsa_encrypt(c, (const char *)p + 1, n - 1, &b);
        queue_packet(&c->to_srv, (uint8_t)(seq + 1), b.ptr, b.len);
    } else {
        fail_msg("unexpected packet during authentication (0x%02x)", n ? p[0] : 0);
    }
    cm_buf_fini(&b);
}

static void process(mclient *c)
{
    size_t off = 0;
    while (c->srv.len - off >= 4) {
        size_t len =
            c->srv.ptr[off] | (c->srv.ptr[off + 1] << 8) | ((size_t)c->srv.ptr[off + 2] << 16);
        uint8_t seq = c->srv.ptr[off + 3];
        if (c->srv.len - off - 4 < len) {
            break;
        }
        const uint8_t *p = c->srv.ptr + off + 4;
        if (c->phase == 0) {
            on_greeting(c, p, len, seq);
        } else if (c->phase == 1) {
            on_auth_packet(c, p, len, seq);
        } else {
            cm_buf_append_u8(&c->packets, seq);
            cm_buf_append_u32le(&c->packets, (uint32_t)len);
            cm_buf_append(&c->packets, p, len);
        }
        off += 4 + len;
    }
    memmove(c->srv.ptr, c->srv.ptr + off, c->srv.len - off);
    c->srv.len -= off;
}

static long mc_read(sql_io *io, void *buf, size_t n, int timeout_ms)
{
    (void)timeout_ms;
    mclient *c = (mclient *)io;
    if (c->to_pos == c->to_srv.len && !c->raw) {
        process(c);
    }
    size_t left = c->to_srv.len - c->to_pos;
    if (left == 0) {
        return 0;
    }
    if (n > left) {
        n = left;
    }
    memcpy(buf, c->to_srv.ptr + c->to_pos, n);
    c->to_pos += n;
    return (long)n;
}

static int mc_write(sql_io *io, const void *buf, size_t n)
{
    mclient *c = (mclient *)io;
    return cm_buf_append(&c->srv, buf, n) == 0 ? 0 : CM_E_IO;
}

static void mc_close(sql_io *io)
{
    (void)io;
}

static const sql_io_ops mc_ops = {mc_read, mc_write, mc_close};

static void mc_init(mclient *c, const char *user, const char *password, const char *plugin)
{
    memset(c, 0, sizeof(*c));
    c->io.ops = &mc_ops;
    c->io.fd = -1;
    c->user = user;
    c->password = password;
    c->plugin = plugin;
    c->caps = CLIENT_CAPS | SQL_CLIENT_DEPRECATE_EOF | SQL_CLIENT_MULTI_STATEMENTS;
}

static void mc_fini(mclient *c)
{
    cm_buf_fini(&c->srv);
    cm_buf_fini(&c->to_srv);
    cm_buf_fini(&c->cmds);
    cm_buf_fini(&c->packets);
}

static void cmd(mclient *c, uint8_t com, const void *p, size_t n)
{
    cm_buf b = CM_BUF_INIT;
    cm_buf_append_u8(&b, com);
    cm_buf_append(&b, p, n);
    queue_packet(&c->cmds, 0, b.ptr, b.len);
    cm_buf_fini(&b);
}

static void query(mclient *c, const char *sql)
{
    cmd(c, SQL_COM_QUERY, sql, strlen(sql));
}

/* ---- the server side ---- */

typedef struct fixture {
    sql_sysvars globals;
    sql_sess_env sess_env;
    sql_auth auth;
    sql_conn_env env;
    char dir[64];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    cm_err err;
    assert_int_equal(sql_sysvars_init(&f->globals, &err), 0);
    f->sess_env.globals = &f->globals;
    f->sess_env.stmt_cache_size = 16;
    sql_auth_init(&f->auth, SQL_AUTH_NATIVE);
    assert_int_equal(sql_auth_add(&f->auth, "root", "", SQL_AUTH_NATIVE, &err), 0);
    assert_int_equal(
        sql_auth_parse_users(&f->auth,
                             "bob:mysql_native_password:bpw,alice:caching_sha2_password:"
                             "apw,carol:caching_sha2_password:",
                             &err),
        0);
    f->env.sess_env = &f->sess_env;
    f->env.auth = &f->auth;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    sql_auth_fini(&f->auth);
    sql_sysvars_fini(&f->globals);
    if (f->dir[0]) {
        char p[128];
        snprintf(p, sizeof(p), "%s/private_key.pem", f->dir);
        unlink(p);
        snprintf(p, sizeof(p), "%s/public_key.pem", f->dir);
        unlink(p);
        rmdir(f->dir);
    }
    free(f);
    return 0;
}

static void serve(fixture *f, mclient *c)
{
    sql_conn *conn;
    cm_err err;
    assert_int_equal(sql_conn_create(&f->env, 11, &c->io, "127.0.0.1:9999", &conn, &err), 0);
    sql_conn_serve(conn);
    sql_conn_free(conn);
    process(c); /* what the server wrote last */
}

/* ---- decoding responses to text ---- */

typedef struct resp_it {
    const cm_buf *b;
    size_t off;
} resp_it;

static int next_packet(resp_it *it, const uint8_t **p, uint32_t *n)
{
    if (it->off + 5 > it->b->len) {
        return 0;
    }
    const uint8_t *h = it->b->ptr + it->off;
    *n = h[1] | (h[2] << 8) | ((uint32_t)h[3] << 16) | ((uint32_t)h[4] << 24);
    *p = h + 5;
    it->off += 5 + *n;
    return 1;
}

static void render_ok(cm_buf *out, const uint8_t *p, uint32_t n, const char *tag)
{
    cm_reader r;
    cm_reader_init(&r, p + 1, n - 1);
    uint64_t affected = 0, id = 0;
    uint16_t status = 0, warn = 0;
    sql_wire_get_lenenc(&r, &affected);
    sql_wire_get_lenenc(&r, &id);
    cm_reader_u16le(&r, &status);
    cm_reader_u16le(&r, &warn);
    cm_buf_printf(out, "%s status=0x%x warn=%u\n", tag, status, warn);
}

static void render_err(cm_buf *out, const uint8_t *p, uint32_t n)
{
    cm_buf_printf(out, "ERR %u %.*s\n", p[1] | (p[2] << 8), (int)(n > 9 ? n - 9 : 0),
                  (const char *)p + 9);
}

static void render_binary_value(cm_buf *out, cm_reader *r, uint8_t type)
{
    uint64_t v;
    double d;
    cm_slice s;
    uint8_t len;
    switch (type) {
    case SQL_TYPE_LONGLONG:
        cm_reader_u64le(r, &v);
        cm_buf_printf(out, "%" PRId64, (int64_t)v);
        break;
    case SQL_TYPE_DOUBLE:
        cm_reader_u64le(r, &v);
        memcpy(&d, &v, 8);
        cm_buf_printf(out, "%g", d);
        break;
    case SQL_TYPE_DATETIME:
    case SQL_TYPE_DATE:
        cm_reader_u8(r, &len);
        cm_reader_skip(r, len);
        cm_buf_printf(out, "<datetime/%u>", len);
        break;
    default:
        sql_wire_get_lenenc_str(r, &s);
        cm_buf_printf(out, "%.*s", (int)s.len, (const char *)s.ptr);
        break;
    }
}

/* Renders one response starting at it. kind: 'T' text, 'B' binary, 'P' prepare, 'S' string. */
static void render(resp_it *it, char kind, uint32_t caps, cm_buf *out)
{
    const uint8_t *p;
    uint32_t n;
    if (!next_packet(it, &p, &n)) {
        cm_buf_printf(out, "<none>\n");
        return;
    }
    if (kind == 'S') {
        cm_buf_printf(out, "STR %.*s\n", (int)n, (const char *)p);
        return;
    }
    if (p[0] == 0xff) {
        render_err(out, p, n);
        return;
    }
    if (kind == 'P' && p[0] == 0x00) {
        uint32_t id = p[1] | (p[2] << 8) | ((uint32_t)p[3] << 16);
        uint16_t nc = p[5] | (p[6] << 8), np = p[7] | (p[8] << 8);
        cm_buf_printf(out, "PREPARED id=%u cols=%u params=%u\n", id, nc, np);
        for (int i = 0; i < np + nc; i++) {
            next_packet(it, &p, &n);
        }
        if (!(caps & SQL_CLIENT_DEPRECATE_EOF)) {
            if (np) {
                next_packet(it, &p, &n);
            }
            if (nc) {
                next_packet(it, &p, &n);
            }
        }
        return;
    }
    if (p[0] == 0x00 || (p[0] == 0xfe && n < 9)) {
        render_ok(out, p, n, p[0] == 0 ? "OK" : "EOF");
        return;
    }
    cm_reader r;
    cm_reader_init(&r, p, n);
    uint64_t ncols;
    sql_wire_get_lenenc(&r, &ncols);
    uint8_t types[64];
    cm_buf_printf(out, "RS");
    for (uint64_t i = 0; i < ncols && i < 64; i++) {
        next_packet(it, &p, &n);
        cm_reader cr;
        cm_reader_init(&cr, p, n);
        cm_slice s;
        for (int k = 0; k < 5; k++) {
            sql_wire_get_lenenc_str(&cr, &s);
        }
        cm_slice name = s;
        sql_wire_get_lenenc_str(&cr, &s);
        uint64_t fixed;
        uint16_t cs, flags;
        uint32_t clen;
        sql_wire_get_lenenc(&cr, &fixed);
        cm_reader_u16le(&cr, &cs);
        cm_reader_u32le(&cr, &clen);
        cm_reader_u8(&cr, &types[i]);
        cm_reader_u16le(&cr, &flags);
        cm_buf_printf(out, " %.*s:%u", (int)name.len, (const char *)name.ptr, types[i]);
    }
    cm_buf_printf(out, "\n");
    if (!(caps & SQL_CLIENT_DEPRECATE_EOF)) {
        next_packet(it, &p, &n);
        cm_buf_printf(out, "%s", p[0] == 0xfe ? "EOF\n" : "<missing EOF>\n");
    }
    for (;;) {
        if (!next_packet(it, &p, &n)) {
            cm_buf_printf(out, "<truncated>\n");
            return;
        }
        if (p[0] == 0xff) {
            render_err(out, p, n);
            return;
        }
        if (p[0] == 0xfe && n < 9) {
            render_ok(out, p, n, "END");
            return;
        }
        cm_buf_printf(out, "row ");
        cm_reader_init(&r, p, n);
        if (kind == 'B') {
            uint8_t hdr;
            cm_slice bitmap;
            cm_reader_u8(&r, &hdr);
            cm_reader_bytes(&r, (ncols + 9) / 8, &bitmap);
            for (uint64_t i = 0; i < ncols; i++) {
                cm_buf_printf(out, "%s", i ? "|" : "");
                if (bitmap.ptr[(i + 2) / 8] & (1 << ((i + 2) % 8))) {
                    cm_buf_printf(out, "NULL");
                } else {
                    render_binary_value(out, &r, types[i]);
                }
            }
        } else {
            for (uint64_t i = 0; i < ncols; i++) {
                cm_buf_printf(out, "%s", i ? "|" : "");
                if (r.pos < r.len && r.ptr[r.pos] == 0xfb) {
                    r.pos++;
                    cm_buf_printf(out, "NULL");
                    continue;
                }
                cm_slice s;
                sql_wire_get_lenenc_str(&r, &s);
                if (s.len > 64) {
                    cm_buf_printf(out, "<%zu bytes>", s.len);
                } else {
                    cm_buf_printf(out, "%.*s", (int)s.len, (const char *)s.ptr);
                }
            }
        }
        cm_buf_printf(out, "\n");
    }
}

/* Renders all responses, kinds[i] per expected response. */
static char *render_all(mclient *c, const char *kinds)
{
    static char text[8192];
    cm_buf out = CM_BUF_INIT;
    resp_it it = {&c->packets, 0};
    for (const char *k = kinds; *k; k++) {
        render(&it, *k, c->caps, &out);
    }
    if (it.off < c->packets.len) {
        cm_buf_printf(&out, "<extra bytes>\n");
    }
    snprintf(text, sizeof(text), "%.*s", (int)out.len, out.ptr ? (const char *)out.ptr : "");
    cm_buf_fini(&out);
    return text;
}

/* ---- tests ---- */

static void test_login_and_query(void **state)
{
    fixture *f = *state;
    mclient c;
    mc_init(&c, "root", "", SQL_PLUGIN_NATIVE);
    c.db = "test";
    query(&c, "SELECT 1, 'a', NULL, DATABASE()");
    cmd(&c, SQL_COM_PING, "", 0);
    query(&c, "SELECT 1; SELECT 2");
    cmd(&c, SQL_COM_QUIT, "", 0);
    query(&c, "SELECT 'never'");
    serve(f, &c);
    assert_string_equal(c.greeting_version, SQL_SERVER_VERSION);
    assert_string_equal(c.greeting_plugin, SQL_PLUGIN_NATIVE);
    for (int i = 0; i < SQL_NONCE_LEN; i++) {
        assert_int_not_equal(c.nonce[i], 0);
    }
    assert_true(c.server_caps & SQL_CLIENT_PROTOCOL_41);
    assert_true(c.server_caps & SQL_CLIENT_DEPRECATE_EOF);
    assert_true(c.server_caps & SQL_CLIENT_PLUGIN_AUTH);
    assert_true(c.server_caps & SQL_CLIENT_CONNECT_ATTRS);
    assert_false(c.server_caps & SQL_CLIENT_SSL); /* no TLS configured here */
    assert_int_equal(c.auth_err, 0);
    assert_string_equal(render_all(&c, "TTTT"),
                        "RS 1:8 a:253 NULL:6 DATABASE():253\nrow 1|a|NULL|test\n"
                        "END status=0x2 warn=0\n"
                        "OK status=0x2 warn=0\n"
                        "RS 1:8\nrow 1\nEND status=0xa warn=0\n"
                        "RS 2:8\nrow 2\nEND status=0x2 warn=0\n");
    mc_fini(&c);
}

static void test_classic_eof(void **state)
{
    fixture *f = *state;
    mclient c;
    mc_init(&c, "root", "", SQL_PLUGIN_NATIVE);
    c.caps = CLIENT_CAPS; /* no DEPRECATE_EOF, no MULTI_STATEMENTS */
    query(&c, "SELECT 2");
    query(&c, "SELECT 1; SELECT 2");
    serve(f, &c);
    assert_string_equal(render_all(&c, "TT"),
                        "RS 2:8\nEOF\nrow 2\nEND status=0x2 warn=0\n"
                        "ERR 1064 You have an error in your SQL syntax; check the manual that "
                        "corresponds to your MySQL server version for the right syntax to use near "
                        "'SELECT 2' at line 1\n");
    mc_fini(&c);
}

static void test_native_password(void **state)
{
    fixture *f = *state;
    mclient c;
    mc_init(&c, "bob", "bpw", SQL_PLUGIN_NATIVE);
    query(&c, "SELECT CURRENT_USER()");
    serve(f, &c);
    assert_int_equal(c.auth_err, 0);
    assert_false(c.saw_switch);
    assert_string_equal(render_all(&c, "T"), "RS CURRENT_USER():253\nrow bob@%\nEND status=0x2 "
                                             "warn=0\n");
    mc_fini(&c);
    mc_init(&c, "bob", "wrong", SQL_PLUGIN_NATIVE);
    query(&c, "SELECT 1");
    serve(f, &c);
    assert_int_equal(c.auth_err, 1045);
    assert_int_equal(c.packets.len, 0); /* nothing ran */
    mc_fini(&c);
    mc_init(&c, "nobody", "", SQL_PLUGIN_NATIVE);
    serve(f, &c);
    assert_int_equal(c.auth_err, 1045);
    mc_fini(&c);
    /* An empty password where one is required. */
    mc_init(&c, "bob", "", SQL_PLUGIN_NATIVE);
    serve(f, &c);
    assert_int_equal(c.auth_err, 1045);
    mc_fini(&c);
}

static void test_auth_switch(void **state)
{
    fixture *f = *state;
    mclient c;
    /* bob is a native account; the client starts with caching_sha2_password. */
    mc_init(&c, "bob", "bpw", SQL_PLUGIN_SHA2);
    query(&c, "SELECT 1");
    serve(f, &c);
    assert_true(c.saw_switch);
    assert_int_equal(c.auth_err, 0);
    assert_string_equal(render_all(&c, "T"), "RS 1:8\nrow 1\nEND status=0x2 warn=0\n");
    mc_fini(&c);
    /* alice is caching_sha2; the client starts with native: switched to sha2. */
    mc_init(&c, "carol", "", SQL_PLUGIN_NATIVE);
    serve(f, &c);
    assert_true(c.saw_switch);
    assert_int_equal(c.auth_err, 0);
    mc_fini(&c);
}

static void test_caching_sha2(void **state)
{
    fixture *f = *state;
    cm_err err;
    snprintf(f->dir, sizeof(f->dir), "/tmp/tessera-conn-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    mclient c;
    /* Without an RSA key and without TLS, full authentication cannot happen. */
    mc_init(&c, "alice", "apw", SQL_PLUGIN_SHA2);
    serve(f, &c);
    assert_true(c.saw_full);
    assert_int_equal(c.auth_err, 1045);
    mc_fini(&c);
    void *pkey;
    char *pub;
    size_t publen;
    assert_int_equal(sql_tls_rsa_keys(f->dir, &pkey, &pub, &publen, &err), 0);
    sql_auth_set_rsa(&f->auth, pkey, pub, publen);
    /* First login: cache miss → full authentication, the password RSA-encrypted. */
    mc_init(&c, "alice", "apw", SQL_PLUGIN_SHA2);
    query(&c, "SELECT USER()");
    serve(f, &c);
    assert_true(c.saw_full);
    assert_true(c.saw_pubkey);
    assert_false(c.saw_fast_ok);
    assert_int_equal(c.auth_err, 0);
    assert_string_equal(render_all(&c, "T"),
                        "RS USER():253\nrow alice@127.0.0.1\nEND status=0x2 warn=0\n");
    mc_fini(&c);
    /* Second login: the fast path. */
    mc_init(&c, "alice", "apw", SQL_PLUGIN_SHA2);
    serve(f, &c);
    assert_true(c.saw_fast_ok);
    assert_false(c.saw_full);
    assert_int_equal(c.auth_err, 0);
    mc_fini(&c);
    /* Wrong password against the cache. */
    mc_init(&c, "alice", "nope", SQL_PLUGIN_SHA2);
    serve(f, &c);
    assert_int_equal(c.auth_err, 1045);
    mc_fini(&c);
    /* Empty password accounts need no exchange. */
    mc_init(&c, "carol", "", SQL_PLUGIN_SHA2);
    serve(f, &c);
    assert_false(c.saw_full);
    assert_int_equal(c.auth_err, 0);
    mc_fini(&c);
}

static void test_malformed_commands(void **state)
{
    fixture *f = *state;
    mclient c;
    mc_init(&c, "root", "", SQL_PLUGIN_NATIVE);
    queue_packet(&c.cmds, 0, "", 0);                      /* empty command */
    cmd(&c, 0x99, "x", 1);                                /* unknown command */
    cmd(&c, SQL_COM_STMT_EXECUTE, "\x01", 1);             /* truncated */
    cmd(&c, SQL_COM_STMT_EXECUTE, "\x07\x00\x00\x00", 4); /* unknown statement */
    cmd(&c, SQL_COM_SET_OPTION, "\x09\x00", 2);
    cmd(&c, SQL_COM_PROCESS_KILL, "\x01", 1);
    cmd(&c, SQL_COM_FIELD_LIST, "t\0", 2);
    cmd(&c, SQL_COM_STMT_FETCH, "\x01\x00\x00\x00\x01\x00\x00\x00", 8);
    cmd(&c, SQL_COM_STMT_RESET, "\x05\x00\x00\x00", 4);
    cmd(&c, SQL_COM_STMT_CLOSE, "", 0);              /* no reply, no harm */
    cmd(&c, SQL_COM_STMT_SEND_LONG_DATA, "\x01", 1); /* no reply */
    cmd(&c, SQL_COM_PING, "", 0);                    /* still alive */
    queue_packet(&c.cmds, 3, "\x0e", 1);             /* wrong sequence id: closes */
    cmd(&c, SQL_COM_PING, "", 0);
    serve(f, &c);
    const char *t = render_all(&c, "TTTTTTTTTTTT");
    assert_non_null(strstr(t, "ERR 1835"));
    assert_non_null(strstr(t, "ERR 1047 Unknown command\nERR 1835"));
    assert_non_null(strstr(t, "ERR 1243 Unknown prepared statement handler (7)"));
    assert_non_null(strstr(t, "ERR 1046 No database selected"));
    assert_non_null(strstr(t, "ERR 1235"));
    assert_non_null(strstr(t, "OK status=0x2 warn=0\nERR 1156 Got packets out of order"));
    assert_non_null(strstr(t, "<none>"));
    mc_fini(&c);
}

static void test_oversized_packet(void **state)
{
    fixture *f = *state;
    cm_err err;
    assert_int_equal(sql_sysvars_set_text(&f->globals, SQL_SV_MAX_ALLOWED_PACKET, "1024", &err), 0);
    mclient c;
    mc_init(&c, "root", "", SQL_PLUGIN_NATIVE);
    char big[2000];
    memset(big, ' ', sizeof(big));
    memcpy(big, "SELECT 1", 8);
    cmd(&c, SQL_COM_QUERY, big, sizeof(big));
    cmd(&c, SQL_COM_PING, "", 0);
    serve(f, &c);
    assert_string_equal(render_all(&c, "TT"),
                        "ERR 1153 Got a packet bigger than 'max_allowed_packet' bytes\n<none>\n");
    mc_fini(&c);
}

static void test_garbage_handshake(void **state)
{
    fixture *f = *state;
    mclient c;
    mc_init(&c, "root", "", SQL_PLUGIN_NATIVE);
    c.raw = 1;
    queue_packet(&c.to_srv, 1, "garbage!", 8);
    serve(f, &c);
    /* Greeting, then ERR 1043. */
    assert_true(c.srv.len == 0);
    mc_fini(&c);
    /* SSLRequest without TLS configured: Bad handshake. */
    mc_init(&c, "root", "", SQL_PLUGIN_NATIVE);
    c.raw = 1;
    uint8_t ssl[32] = {0};
    uint32_t caps = CLIENT_CAPS | SQL_CLIENT_SSL;
    memcpy(ssl, &caps, 4);
    queue_packet(&c.to_srv, 1, ssl, 32);
    sql_conn *conn;
    cm_err err;
    sql_io_mem m;
    (void)m;
    assert_int_equal(sql_conn_create(&f->env, 12, &c.io, "p", &conn, &err), 0);
    sql_conn_serve(conn);
    sql_conn_free(conn);
    /* The server's output ends with an ERR 1043 packet. */
    assert_true(c.srv.len > 9);
    const uint8_t *e = NULL;
    for (size_t off = 0; off + 4 < c.srv.len;) {
        size_t len = c.srv.ptr[off] | (c.srv.ptr[off + 1] << 8);
        e = c.srv.ptr + off + 4;
        off += 4 + len;
    }
    assert_int_equal(e[0], 0xff);
    assert_int_equal(e[1] | (e[2] << 8), 1043);
    mc_fini(&c);
}

static void test_require_secure_transport(void **state)
{
    fixture *f = *state;
    cm_err err;
    sql_sysvars_set_text(&f->globals, SQL_SV_REQUIRE_SECURE_TRANSPORT, "ON", &err);
    mclient c;
    mc_init(&c, "root", "", SQL_PLUGIN_NATIVE);
    serve(f, &c);
    assert_int_equal(c.auth_err, 3159);
    mc_fini(&c);
}

static void put_u32(cm_buf *b, uint32_t v)
{
    cm_buf_append_u32le(b, v);
}

static void test_prepared_statements(void **state)
{
    fixture *f = *state;
    mclient c;
    mc_init(&c, "root", "", SQL_PLUGIN_NATIVE);
    c.caps &= ~SQL_CLIENT_DEPRECATE_EOF; /* sysbench-like: classic EOF packets */
    const char *sql = "SELECT ? + 1 AS a, ? AS b";
    cmd(&c, SQL_COM_STMT_PREPARE, sql, strlen(sql));
    cm_buf b = CM_BUF_INIT;
    /* execute 1: types sent */
    put_u32(&b, 1);
    cm_buf_append_u8(&b, 0);
    put_u32(&b, 1);
    cm_buf_append_u8(&b, 0);
    cm_buf_append_u8(&b, 1);
    cm_buf_append_u16le(&b, SQL_TYPE_LONGLONG);
    cm_buf_append_u16le(&b, SQL_TYPE_VAR_STRING);
    cm_buf_append_u64le(&b, 41);
    sql_wire_put_lenenc_str(&b, "xy", 2);
    cmd(&c, SQL_COM_STMT_EXECUTE, b.ptr, b.len);
    /* execute 2: types remembered, second parameter NULL */
    cm_buf_reset(&b);
    put_u32(&b, 1);
    cm_buf_append_u8(&b, 0);
    put_u32(&b, 1);
    cm_buf_append_u8(&b, 0x02);
    cm_buf_append_u8(&b, 0);
    cm_buf_append_u64le(&b, 1);
    cmd(&c, SQL_COM_STMT_EXECUTE, b.ptr, b.len);
    /* long data for parameter 1, then execute */
    cmd(&c, SQL_COM_STMT_SEND_LONG_DATA, "\x01\x00\x00\x00\x01\x00long", 10);
    cmd(&c, SQL_COM_STMT_SEND_LONG_DATA, "\x01\x00\x00\x00\x01\x00-data", 11);
    cm_buf_reset(&b);
    put_u32(&b, 1);
    cm_buf_append_u8(&b, 0);
    put_u32(&b, 1);
    cm_buf_append_u8(&b, 0);
    cm_buf_append_u8(&b, 0);
    cm_buf_append_u64le(&b, 5);
    cmd(&c, SQL_COM_STMT_EXECUTE, b.ptr, b.len);
    cmd(&c, SQL_COM_STMT_RESET, "\x01\x00\x00\x00", 4);
    cmd(&c, SQL_COM_STMT_CLOSE, "\x01\x00\x00\x00", 4);
    cmd(&c, SQL_COM_STMT_EXECUTE, "\x01\x00\x00\x00\x00\x01\x00\x00\x00", 9);
    const char *begin = "BEGIN";
    cmd(&c, SQL_COM_STMT_PREPARE, begin, strlen(begin));
    cmd(&c, SQL_COM_STMT_EXECUTE, "\x02\x00\x00\x00\x00\x01\x00\x00\x00", 9);
    const char *bad = "SELECT FROM WHERE";
    cmd(&c, SQL_COM_STMT_PREPARE, bad, strlen(bad));
    serve(f, &c);
    assert_string_equal(render_all(&c, "PBBBTBPTP"),
                        "PREPARED id=1 cols=2 params=2\n"
                        "RS a:8 b:253\nEOF\nrow 42|xy\nEND status=0x2 warn=0\n"
                        "RS a:8 b:253\nEOF\nrow 2|NULL\nEND status=0x2 warn=0\n"
                        "RS a:8 b:253\nEOF\nrow 6|long-data\nEND status=0x2 warn=0\n"
                        "OK status=0x2 warn=0\n"
                        "ERR 1243 Unknown prepared statement handler (1) given to "
                        "mysqld_stmt_execute\n"
                        "PREPARED id=2 cols=0 params=0\n"
                        "OK status=0x3 warn=0\n"
                        "ERR 1064 You have an error in your SQL syntax; check the manual that "
                        "corresponds to your MySQL server version for the right syntax to use near "
                        "'FROM' at line 1\n");
    cm_buf_fini(&b);
    mc_fini(&c);
}

static void test_misc_commands(void **state)
{
    fixture *f = *state;
    mclient c;
    mc_init(&c, "root", "", SQL_PLUGIN_NATIVE);
    cmd(&c, SQL_COM_INIT_DB, "db1", 3);
    query(&c, "SELECT DATABASE()");
    cmd(&c, SQL_COM_STATISTICS, "", 0);
    cmd(&c, SQL_COM_SET_OPTION, "\x01\x00", 2); /* multi-statements off */
    query(&c, "SELECT 1; SELECT 2");
    query(&c, "SET @v = 3");
    cmd(&c, SQL_COM_RESET_CONNECTION, "", 0);
    query(&c, "SELECT @v");
    /* COM_CHANGE_USER to bob with the connection's nonce. */
    serve(f, &c);
    const char *t = render_all(&c, "OTSTTTOT");
    assert_non_null(strstr(t, "OK status=0x2 warn=0\nRS DATABASE():253\nrow db1\n"));
    assert_non_null(strstr(t, "STR Uptime: "));
    assert_non_null(strstr(t, "EOF status=0x2 warn=0\nERR 1064"));
    assert_non_null(strstr(t, "RS @v:253\nrow NULL\n"));
    mc_fini(&c);
}

static void test_change_user(void **state)
{
    fixture *f = *state;
    mclient c;
    mc_init(&c, "root", "", SQL_PLUGIN_NATIVE);
    /* COM_CHANGE_USER's response is computed with the nonce of the greeting, which the
     * scripted client only knows after it; so bob's response is sent after a switch: an empty
     * native response for bob fails its check, a plugin switch does not happen (both native),
     * and the connection closes. A sha2 plugin name forces a switch with a fresh nonce. */
    cm_buf b = CM_BUF_INIT;
    sql_wire_put_cstr(&b, "bob");
    cm_buf_append_u8(&b, 0); /* empty auth response */
    sql_wire_put_cstr(&b, "");
    cm_buf_append_u16le(&b, 45);
    sql_wire_put_cstr(&b, SQL_PLUGIN_NATIVE);
    cmd(&c, SQL_COM_CHANGE_USER, b.ptr, b.len);
    cmd(&c, SQL_COM_PING, "", 0);
    serve(f, &c);
    assert_string_equal(render_all(&c, "TT"),
                        "ERR 1045 Access denied for user 'bob'@'127.0.0.1' (using password: NO)\n"
                        "<none>\n");
    cm_buf_fini(&b);
    mc_fini(&c);
    /* To an empty-password account: accepted; the session takes the new user. */
    mc_init(&c, "bob", "bpw", SQL_PLUGIN_NATIVE);
    b = (cm_buf)CM_BUF_INIT;
    sql_wire_put_cstr(&b, "root");
    cm_buf_append_u8(&b, 0);
    sql_wire_put_cstr(&b, "db2");
    cm_buf_append_u16le(&b, 45);
    sql_wire_put_cstr(&b, SQL_PLUGIN_NATIVE);
    cmd(&c, SQL_COM_CHANGE_USER, b.ptr, b.len);
    query(&c, "SELECT CURRENT_USER(), DATABASE()");
    serve(f, &c);
    assert_string_equal(render_all(&c, "TT"),
                        "OK status=0x2 warn=0\nRS CURRENT_USER():253 DATABASE():253\n"
                        "row root@%|db2\nEND status=0x2 warn=0\n");
    cm_buf_fini(&b);
    mc_fini(&c);
}

static void test_split_packets(void **state)
{
    fixture *f = *state;
    mclient c;
    mc_init(&c, "root", "", SQL_PLUGIN_NATIVE);
    /* A query of 16 MiB + 100 bytes arrives in two packets; its result row leaves in two. */
    size_t n = SQL_PACKET_CHUNK_MAX + 100;
    char *q = malloc(n);
    memcpy(q, "SELECT '", 8);
    memset(q + 8, 'x', n - 9);
    q[n - 1] = '\'';
    cm_buf b = CM_BUF_INIT;
    cm_buf_append_u8(&b, SQL_COM_QUERY);
    cm_buf_append(&b, q, n);
    /* Split the command payload by hand, as a client does. */
    queue_packet(&c.cmds, 0, b.ptr, SQL_PACKET_CHUNK_MAX);
    queue_packet(&c.cmds, 1, b.ptr + SQL_PACKET_CHUNK_MAX, b.len - SQL_PACKET_CHUNK_MAX);
    cmd(&c, SQL_COM_PING, "", 0);
    serve(f, &c);
    /* The row packet is split too: find the chunk headers. */
    resp_it it = {&c.packets, 0};
    const uint8_t *p;
    uint32_t len;
    int chunks_full = 0;
    size_t total = 0;
    while (next_packet(&it, &p, &len)) {
        chunks_full += len == SQL_PACKET_CHUNK_MAX;
        total += len;
    }
    assert_int_equal(chunks_full, 1);
    assert_true(total > n - 9);
    cm_buf_fini(&b);
    free(q);
    mc_fini(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_login_and_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_classic_eof, setup, teardown),
        cmocka_unit_test_setup_teardown(test_native_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_switch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caching_sha2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_packet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_handshake, setup, teardown),
        cmocka_unit_test_setup_teardown(test_require_secure_transport, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepared_statements, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misc_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_change_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_packets, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
