/*
 * sql_packet.h — MySQL packet framing over an sql_io.
 *
 * A packet is a 3-byte little-endian payload length, a 1-byte sequence id and the payload.
 * Payloads of 0xffffff bytes or more are split into chunks of 0xffffff bytes followed by a
 * shorter (possibly empty) chunk; the reader joins them and the writer splits them. Sequence
 * ids count up within one command exchange and are checked on every packet read.
 * Input is buffered (one read usually holds a whole command); output accumulates in `out` and
 * leaves in one write per response (sql_pkt_flush), or earlier once large.
 */
#ifndef SQL_PACKET_H
#define SQL_PACKET_H

#include "cm_buf.h"
#include "cm_err.h"
#include "sql_io.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sql_pkt {
    sql_io *io; /* borrowed; replaced by the TLS transport after an upgrade */
    cm_buf in;  /* buffered input; bytes [in_pos, in.len) are not consumed yet */
    size_t in_pos;
    cm_buf out;          /* pending output (whole packets) */
    uint8_t seq;         /* next sequence id to read or write */
    int read_timeout_ms; /* net_read_timeout: for every byte after a packet's first */
    int exact;           /* read no byte past the current packet (before a TLS upgrade the
                            client's ClientHello must stay in the socket for OpenSSL) */
    uint64_t bytes_in;
    uint64_t bytes_out;
} sql_pkt;

/* io is borrowed. */
void sql_pkt_init(sql_pkt *p, sql_io *io, int read_timeout_ms);
void sql_pkt_fini(sql_pkt *p);

/* Reads one logical packet into *payload (reset first). The first byte is awaited at most
 * first_timeout_ms (< 0: no limit); later bytes at most read_timeout_ms.
 * Returns 0; CM_E_CLOSED when the stream ended before the first byte; CM_E_CORRUPT when it ended
 * inside a packet; CM_E_TIMEOUT; CM_E_IO; CM_E_PACKETS_OUT_OF_ORDER on a wrong sequence id;
 * CM_E_NET_PACKET_TOO_LARGE when the payload would exceed max_len (nothing past the header of
 * the offending chunk is read or allocated). err gets the context. */
int sql_pkt_read(sql_pkt *p, cm_buf *payload, size_t max_len, int first_timeout_ms, cm_err *err);

/* Input bytes received but not yet consumed (a TLS upgrade requires none). */
static inline size_t sql_pkt_pending_input(const sql_pkt *p)
{
    return p->in.len - p->in_pos;
}

/* Starts a packet in `out`; returns its offset, to be passed to sql_pkt_end. The payload is then
 * appended to p->out directly. */
size_t sql_pkt_begin(sql_pkt *p);
/* Finishes the packet begun at off: writes its header (splitting a long payload into chunks)
 * and takes the next sequence id(s). Returns 0 or CM_E_NOMEM. Flushes when `out` is large. */
int sql_pkt_end(sql_pkt *p, size_t off);
/* Appends a whole packet with the given payload (borrowed). */
int sql_pkt_write(sql_pkt *p, const void *payload, size_t n);
/* Writes everything pending to the transport. 0, CM_E_IO or CM_E_TIMEOUT. */
int sql_pkt_flush(sql_pkt *p);

#endif
