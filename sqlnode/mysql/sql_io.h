/*
 * sql_io.h — the byte transport under a MySQL connection.
 *
 * A connection reads and writes only through an sql_io, so the same protocol code runs over a
 * TCP socket, over TLS (sql_tls.c) and over memory (unit tests and the fuzz target, which feed a
 * session a byte stream without sockets). Implementations: sql_io_socket (here), sql_io_mem
 * (here) and the TLS transport of sql_tls.h.
 */
#ifndef SQL_IO_H
#define SQL_IO_H

#include "cm_buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sql_io sql_io;

typedef struct sql_io_ops {
    /* Reads up to n (> 0) bytes, waiting at most timeout_ms (< 0: no limit). Returns the count
     * read (> 0), 0 at an orderly end of stream, CM_E_TIMEOUT, or CM_E_IO. */
    long (*read)(sql_io *io, void *buf, size_t n, int timeout_ms);
    /* Writes all n bytes; 0, CM_E_TIMEOUT or CM_E_IO. buf is borrowed. */
    int (*write)(sql_io *io, const void *buf, size_t n);
    /* Releases what the transport holds (not the sql_io memory itself); idempotent. */
    void (*close)(sql_io *io);
} sql_io_ops;

struct sql_io {
    const sql_io_ops *ops;
    int fd; /* the socket, or -1 for the memory transport */
};

/* ---- socket transport ---- */
typedef struct sql_io_socket {
    sql_io io;
    int write_timeout_ms; /* net_write_timeout */
} sql_io_socket;

/* Wraps a connected socket (owned from now on: close() closes it). Sets TCP_NODELAY and, so
 * that no blocking call inside a read or a TLS handshake can hang forever, SO_RCVTIMEO and
 * SO_SNDTIMEO from the timeouts given. */
void sql_io_socket_init(sql_io_socket *s, int fd, int read_timeout_ms, int write_timeout_ms);

/* ---- memory transport ---- */
typedef struct sql_io_mem {
    sql_io io;
    const uint8_t *in; /* borrowed input stream */
    size_t in_len;
    size_t in_pos;
    size_t max_read; /* largest single read (tests use 1 to exercise partial reads); 0 = any */
    cm_buf out;      /* everything written (owned), unless discard is set */
    int discard;     /* drop output instead of keeping it (fuzzing) */
    size_t out_total;
} sql_io_mem;

/* in is borrowed and must outlive the transport. */
void sql_io_mem_init(sql_io_mem *m, const void *in, size_t in_len);
void sql_io_mem_fini(sql_io_mem *m);

#endif
