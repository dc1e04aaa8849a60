/*
 * sql_tls.h — TLS for MySQL connections (OpenSSL 3) and the server's key material.
 *
 * At startup the server loads its certificate and key, or generates a self-signed pair in the
 * configured directory on first start (as MySQL's auto_generate_certs does), and the RSA key
 * pair caching_sha2_password uses to receive passwords over plain connections. A connection
 * that sends SSLRequest is upgraded by sql_tls_accept, which returns a transport (sql_io) the
 * packet layer then uses unchanged. No OpenSSL type appears in this header.
 */
#ifndef SQL_TLS_H
#define SQL_TLS_H

#include "cm_err.h"
#include "sql_io.h"

#include <stddef.h>

typedef struct sql_tls sql_tls;

/* cert/key: configured PEM files, or NULL/"" to use dir/server-cert.pem and dir/server-key.pem
 * (generated when absent). dir is created when needed. */
int sql_tls_init(const char *cert, const char *key, const char *dir, sql_tls **out, cm_err *err);
void sql_tls_free(sql_tls *t);

/* Loads dir/private_key.pem and dir/public_key.pem, generating them when absent. *pkey is an
 * EVP_PKEY (owned by the caller, for sql_auth_set_rsa); *pub_pem a malloc'd PEM string. */
int sql_tls_rsa_keys(const char *dir, void **pkey, char **pub_pem, size_t *pub_len, cm_err *err);

/* Runs the server side of a TLS handshake on fd (borrowed until the transport is closed, which
 * closes it). The handshake is bounded by the socket's receive timeout. */
int sql_tls_accept(sql_tls *t, int fd, sql_io **out, cm_err *err);
/* Frees a transport from sql_tls_accept (after its close). */
void sql_tls_io_free(sql_io *io);
/* Protocol version and cipher of a TLS transport ("" for others). */
const char *sql_tls_version(const sql_io *io);
const char *sql_tls_cipher(const sql_io *io);

#endif
