/* sql_tls.c — TLS context, certificate and RSA key generation, the TLS transport. */
#include "sql_tls.h"

#include "cm_log.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct sql_tls {
    SSL_CTX *ctx;
};

/* Key size of generated keys: 2048-bit RSA, what MySQL generates. */
#define TLS_RSA_BITS 2048
/* Validity of a generated certificate: ten years. */
#define TLS_CERT_DAYS 3650

static int ssl_error(cm_err *err, int code, const char *what)
{
    char buf[256];
    unsigned long e = ERR_get_error();
    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return cm_err_set(err, code, "%s: %s", what, e ? buf : "unknown error");
}

static int mkdir_p(const char *dir, cm_err *err)
{
    char path[1024];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
        return cm_err_set(err, CM_E_CONFIG, "tls-dir path too long");
    }
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0700) != 0 && errno != EEXIST) {
                return cm_err_set(err, CM_E_IO, "mkdir %s: %s", path, strerror(errno));
            }
            *p = '/';
        }
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        return cm_err_set(err, CM_E_IO, "mkdir %s: %s", path, strerror(errno));
    }
    return 0;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Writes via a temporary file and rename, so a crash never leaves half a key behind. */
static FILE *open_private(const char *tmp, mode_t mode)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
    return fd < 0 ? NULL : fdopen(fd, "w");
}

static int write_key(const char *path, EVP_PKEY *pkey, int public_only, cm_err *err)
{
    char tmp[1100];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = open_private(tmp, public_only ? 0644 : 0600);
    if (f == NULL) {
        return cm_err_set(err, CM_E_IO, "cannot write %s: %s", tmp, strerror(errno));
    }
    int ok = public_only ? PEM_write_PUBKEY(f, pkey)
                         : PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
    if (fclose(f) != 0 || !ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return ssl_error(err, CM_E_IO, path);
    }
    return 0;
}

static int write_cert(const char *path, X509 *x, cm_err *err)
{
    char tmp[1100];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = open_private(tmp, 0644);
    if (f == NULL) {
        return cm_err_set(err, CM_E_IO, "cannot write %s: %s", tmp, strerror(errno));
    }
    int ok = PEM_write_X509(f, x);
    if (fclose(f) != 0 || !ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return ssl_error(err, CM_E_IO, path);
    }
    return 0;
}

static int generate_cert(const char *cert_path, const char *key_path, cm_err *err)
{
    EVP_PKEY *pkey = EVP_RSA_gen(TLS_RSA_BITS);
    X509 *x = X509_new();
    int rc = 0;
    if (pkey == NULL || x == NULL) {
        rc = ssl_error(err, CM_E_INTERNAL, "generating the TLS key");
        goto out;
    }
    uint8_t serial[8];
    RAND_bytes(serial, sizeof(serial));
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    X509_set_version(x, 2);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(x), -24 * 3600);
    X509_gmtime_adj(X509_getm_notAfter(x), (long)TLS_CERT_DAYS * 24 * 3600);
    X509_set_pubkey(x, pkey);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"Tessera_Server_Auto_Generated_Certificate",
                               -1, -1, 0);
    X509_set_issuer_name(x, name);
    if (X509_sign(x, pkey, EVP_sha256()) == 0) {
        rc = ssl_error(err, CM_E_INTERNAL, "signing the TLS certificate");
        goto out;
    }
    rc = write_key(key_path, pkey, 0, err);
    if (rc == 0) {
        rc = write_cert(cert_path, x, err);
    }
    if (rc == 0) {
        CM_INFO("sql", "generated a self-signed TLS certificate cert=%s", cert_path);
    }
out:
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
}

int sql_tls_init(const char *cert, const char *key, const char *dir, sql_tls **out, cm_err *err)
{
    *out = NULL;
    char cert_path[1024], key_path[1024];
    int rc;
    if (cert != NULL && cert[0] != '\0') {
        if (key == NULL || key[0] == '\0') {
            return cm_err_set(err, CM_E_CONFIG, "ssl-cert is set but ssl-key is not");
        }
        snprintf(cert_path, sizeof(cert_path), "%s", cert);
        snprintf(key_path, sizeof(key_path), "%s", key);
    } else {
        if ((rc = mkdir_p(dir, err)) != 0) {
            return rc;
        }
        snprintf(cert_path, sizeof(cert_path), "%s/server-cert.pem", dir);
        snprintf(key_path, sizeof(key_path), "%s/server-key.pem", dir);
        if (!exists(cert_path) || !exists(key_path)) {
            if ((rc = generate_cert(cert_path, key_path, err)) != 0) {
                return rc;
            }
        }
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        return ssl_error(err, CM_E_INTERNAL, "SSL_CTX_new");
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
        SSL_CTX_free(ctx);
        return ssl_error(err, CM_E_CONFIG, cert_path);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        SSL_CTX_free(ctx);
        return ssl_error(err, CM_E_CONFIG, key_path);
    }
    sql_tls *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        SSL_CTX_free(ctx);
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    t->ctx = ctx;
    *out = t;
    return 0;
}

void sql_tls_free(sql_tls *t)
{
    if (t != NULL) {
        SSL_CTX_free(t->ctx);
        free(t);
    }
}

int sql_tls_rsa_keys(const char *dir, void **pkey_out, char **pub_pem, size_t *pub_len, cm_err *err)
{
    *pkey_out = NULL;
    *pub_pem = NULL;
    int rc = mkdir_p(dir, err);
    if (rc != 0) {
        return rc;
    }
    char priv_path[1024], pub_path[1024];
    snprintf(priv_path, sizeof(priv_path), "%s/private_key.pem", dir);
    snprintf(pub_path, sizeof(pub_path), "%s/public_key.pem", dir);
    EVP_PKEY *pkey = NULL;
    if (exists(priv_path)) {
        FILE *f = fopen(priv_path, "r");
        if (f != NULL) {
            pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
            fclose(f);
        }
        if (pkey == NULL) {
            return ssl_error(err, CM_E_CONFIG, priv_path);
        }
    } else {
        pkey = EVP_RSA_gen(TLS_RSA_BITS);
        if (pkey == NULL) {
            return ssl_error(err, CM_E_INTERNAL, "generating the RSA key pair");
        }
        if ((rc = write_key(priv_path, pkey, 0, err)) != 0 ||
            (rc = write_key(pub_path, pkey, 1, err)) != 0) {
            EVP_PKEY_free(pkey);
            return rc;
        }
        CM_INFO("sql", "generated the RSA key pair for caching_sha2_password dir=%s", dir);
    }
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long len = 0;
    if (bio == NULL || PEM_write_bio_PUBKEY(bio, pkey) != 1 ||
        (len = BIO_get_mem_data(bio, &data)) <= 0) {
        BIO_free(bio);
        EVP_PKEY_free(pkey);
        return ssl_error(err, CM_E_INTERNAL, "encoding the RSA public key");
    }
    char *copy = malloc((size_t)len + 1);
    if (copy == NULL) {
        BIO_free(bio);
        EVP_PKEY_free(pkey);
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    memcpy(copy, data, (size_t)len);
    copy[len] = '\0';
    BIO_free(bio);
    *pkey_out = pkey;
    *pub_pem = copy;
    *pub_len = (size_t)len;
    return 0;
}

/* ---- the TLS transport ---- */

typedef struct tls_io {
    sql_io io;
    SSL *ssl;
} tls_io;

static long tls_read(sql_io *io, void *buf, size_t n, int timeout_ms)
{
    tls_io *t = (tls_io *)io;
    if (SSL_pending(t->ssl) == 0) {
        struct pollfd p = {.fd = io->fd, .events = POLLIN, .revents = 0};
        int w;
        do {
            w = poll(&p, 1, timeout_ms);
        } while (w < 0 && errno == EINTR);
        if (w == 0) {
            return CM_E_TIMEOUT;
        }
        if (w < 0) {
            return CM_E_IO;
        }
    }
    int got = SSL_read(t->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    if (got > 0) {
        return got;
    }
    int e = SSL_get_error(t->ssl, got);
    ERR_clear_error();
    if (e == SSL_ERROR_ZERO_RETURN) {
        return 0;
    }
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        return CM_E_TIMEOUT;
    }
    return CM_E_IO;
}

static int tls_write(sql_io *io, const void *buf, size_t n)
{
    tls_io *t = (tls_io *)io;
    const uint8_t *p = buf;
    while (n > 0) {
        int put = SSL_write(t->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
        if (put <= 0) {
            int e = SSL_get_error(t->ssl, put);
            ERR_clear_error();
            return e == SSL_ERROR_WANT_WRITE ? CM_E_TIMEOUT : CM_E_IO;
        }
        p += put;
        n -= (size_t)put;
    }
    return 0;
}

static void tls_close(sql_io *io)
{
    tls_io *t = (tls_io *)io;
    if (t->ssl != NULL) {
        (void)SSL_shutdown(t->ssl); /* one close_notify; we do not wait for the peer's */
        SSL_free(t->ssl);
        t->ssl = NULL;
        ERR_clear_error();
    }
    if (io->fd >= 0) {
        close(io->fd);
        io->fd = -1;
    }
}

static const sql_io_ops tls_ops = {tls_read, tls_write, tls_close};

int sql_tls_accept(sql_tls *t, int fd, sql_io **out, cm_err *err)
{
    *out = NULL;
    tls_io *io = calloc(1, sizeof(*io));
    if (io == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    io->io.ops = &tls_ops;
    io->io.fd = fd;
    io->ssl = SSL_new(t->ctx);
    if (io->ssl == NULL || SSL_set_fd(io->ssl, fd) != 1) {
        if (io->ssl) {
            SSL_free(io->ssl);
        }
        free(io);
        return ssl_error(err, CM_E_INTERNAL, "SSL_new");
    }
    int r = SSL_accept(io->ssl);
    if (r != 1) {
        int e = SSL_get_error(io->ssl, r);
        int rc = ssl_error(err, e == SSL_ERROR_WANT_READ ? CM_E_TIMEOUT : CM_E_HANDSHAKE,
                           "TLS handshake failed");
        SSL_free(io->ssl);
        free(io);
        return rc;
    }
    *out = &io->io;
    return 0;
}

void sql_tls_io_free(sql_io *io)
{
    free(io);
}

const char *sql_tls_version(const sql_io *io)
{
    if (io == NULL || io->ops != &tls_ops || ((const tls_io *)io)->ssl == NULL) {
        return "";
    }
    return SSL_get_version(((const tls_io *)io)->ssl);
}

const char *sql_tls_cipher(const sql_io *io)
{
    if (io == NULL || io->ops != &tls_ops || ((const tls_io *)io)->ssl == NULL) {
        return "";
    }
    const char *c = SSL_get_cipher_name(((const tls_io *)io)->ssl);
    return c ? c : "";
}
