/* sql_packet.c — packet framing: split and join at 16 MiB, sequence ids, buffering. */
#include "sql_packet.h"

#include "sql_my_const.h"

#include <string.h>

/* Growth step for a long payload: memory follows the bytes that actually arrive, so a length
 * header alone cannot make the server allocate the length it announces. */
#define PAYLOAD_GROW_BYTES (256u * 1024)

void sql_pkt_init(sql_pkt *p, sql_io *io, int read_timeout_ms)
{
    memset(p, 0, sizeof(*p));
    p->io = io;
    p->read_timeout_ms = read_timeout_ms;
    cm_buf_init(&p->in);
    cm_buf_init(&p->out);
}

void sql_pkt_fini(sql_pkt *p)
{
    cm_buf_fini(&p->in);
    cm_buf_fini(&p->out);
}

/* Reads more input into p->in, at most `most` bytes in exact mode. Returns bytes read (> 0) or
 * an error code; end of stream is CM_E_CLOSED. */
static long fill(sql_pkt *p, int timeout_ms, size_t most)
{
    if (p->in_pos == p->in.len) {
        p->in_pos = 0;
        p->in.len = 0;
    } else if (p->in_pos > 0 && p->in.cap - p->in.len < 512) {
        memmove(p->in.ptr, p->in.ptr + p->in_pos, p->in.len - p->in_pos);
        p->in.len -= p->in_pos;
        p->in_pos = 0;
    }
    if (cm_buf_reserve(&p->in, SQL_IN_CHUNK_BYTES) != 0) {
        return CM_E_NOMEM;
    }
    size_t room = p->in.cap - p->in.len - 1;
    if (p->exact && room > most) {
        room = most;
    }
    long got = p->io->ops->read(p->io, p->in.ptr + p->in.len, room, timeout_ms);
    if (got == 0) {
        return CM_E_CLOSED;
    }
    if (got > 0) {
        p->in.len += (size_t)got;
        p->bytes_in += (uint64_t)got;
    }
    return got;
}

/* Makes at least n bytes available in the input buffer (n <= 4 here). */
static int need(sql_pkt *p, size_t n, int timeout_ms)
{
    while (p->in.len - p->in_pos < n) {
        long got = fill(p, timeout_ms, n - (p->in.len - p->in_pos));
        if (got < 0) {
            return (int)got;
        }
    }
    return 0;
}

/* Appends len payload bytes to out: first the buffered ones, then straight from the transport. */
static int read_body(sql_pkt *p, cm_buf *out, size_t len, cm_err *err)
{
    size_t have = p->in.len - p->in_pos;
    size_t take = have < len ? have : len;
    if (cm_buf_append(out, p->in.ptr + p->in_pos, take) != 0) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory reading a packet");
    }
    p->in_pos += take;
    len -= take;
    while (len > 0) {
        if (len < SQL_IN_CHUNK_BYTES) {
            /* Short remainder: go through the buffer, which may also pick up the next packet. */
            long got = fill(p, p->read_timeout_ms, len);
            if (got < 0) {
                return cm_err_set(err, got == CM_E_CLOSED ? CM_E_CORRUPT : (int)got,
                                  "connection ended inside a packet");
            }
            take = p->in.len - p->in_pos < len ? p->in.len - p->in_pos : len;
            if (cm_buf_append(out, p->in.ptr + p->in_pos, take) != 0) {
                return cm_err_set(err, CM_E_NOMEM, "out of memory reading a packet");
            }
            p->in_pos += take;
            len -= take;
            continue;
        }
        size_t step = len < PAYLOAD_GROW_BYTES ? len : PAYLOAD_GROW_BYTES;
        if (cm_buf_reserve(out, step) != 0) {
            return cm_err_set(err, CM_E_NOMEM, "out of memory reading a packet");
        }
        long got = p->io->ops->read(p->io, out->ptr + out->len, step, p->read_timeout_ms);
        if (got <= 0) {
            return cm_err_set(err, got == 0 ? CM_E_CORRUPT : (int)got,
                              "connection ended inside a packet");
        }
        out->len += (size_t)got;
        p->bytes_in += (uint64_t)got;
        len -= (size_t)got;
    }
    return 0;
}

int sql_pkt_read(sql_pkt *p, cm_buf *payload, size_t max_len, int first_timeout_ms, cm_err *err)
{
    cm_buf_reset(payload);
    int first = 1;
    for (;;) {
        int rc = need(p, 1, first ? first_timeout_ms : p->read_timeout_ms);
        if (rc == 0) {
            rc = need(p, 4, p->read_timeout_ms);
            if (rc == CM_E_CLOSED) {
                rc = CM_E_CORRUPT;
            }
        }
        if (rc != 0) {
            if (rc == CM_E_CLOSED && !first) {
                rc = CM_E_CORRUPT;
            }
            return cm_err_set(err, rc, "reading a packet header: %s", cm_err_message(rc));
        }
        const uint8_t *h = p->in.ptr + p->in_pos;
        size_t len = (size_t)h[0] | ((size_t)h[1] << 8) | ((size_t)h[2] << 16);
        uint8_t seq = h[3];
        if (seq != p->seq) {
            return cm_err_set(err, CM_E_PACKETS_OUT_OF_ORDER,
                              "Got packets out of order (sequence id %u, expected %u)", seq,
                              p->seq);
        }
        if (len > max_len || payload->len + len > max_len) {
            return cm_err_set(err, CM_E_NET_PACKET_TOO_LARGE,
                              "Got a packet bigger than 'max_allowed_packet' bytes");
        }
        p->in_pos += 4;
        p->seq++;
        rc = read_body(p, payload, len, err);
        if (rc != 0) {
            return rc;
        }
        if (len < SQL_PACKET_CHUNK_MAX) {
            return 0;
        }
        first = 0;
    }
}

size_t sql_pkt_begin(sql_pkt *p)
{
    size_t off = p->out.len;
    static const uint8_t zero[4] = {0, 0, 0, 0};
    if (cm_buf_append(&p->out, zero, 4) != 0) {
        return (size_t)-1;
    }
    return off;
}

static void put_header(uint8_t *h, size_t len, uint8_t seq)
{
    h[0] = (uint8_t)(len & 0xff);
    h[1] = (uint8_t)((len >> 8) & 0xff);
    h[2] = (uint8_t)((len >> 16) & 0xff);
    h[3] = seq;
}

int sql_pkt_end(sql_pkt *p, size_t off)
{
    if (off == (size_t)-1 || off + 4 > p->out.len) {
        return CM_E_NOMEM; /* sql_pkt_begin failed */
    }
    size_t len = p->out.len - off - 4;
    if (len < SQL_PACKET_CHUNK_MAX) {
        put_header(p->out.ptr + off, len, p->seq++);
    } else {
        /* k chunks: k-1 full ones and a shorter (possibly empty) last one. */
        size_t k = len / SQL_PACKET_CHUNK_MAX + 1;
        if (cm_buf_reserve(&p->out, 4 * (k - 1)) != 0) {
            return CM_E_NOMEM;
        }
        uint8_t *base = p->out.ptr + off;
        for (size_t i = k - 1; i >= 1; i--) {
            size_t src = 4 + i * SQL_PACKET_CHUNK_MAX;
            size_t dst = 4 * (i + 1) + i * SQL_PACKET_CHUNK_MAX;
            size_t n = (i == k - 1) ? len - i * SQL_PACKET_CHUNK_MAX : SQL_PACKET_CHUNK_MAX;
            memmove(base + dst, base + src, n);
        }
        for (size_t i = 0; i < k; i++) {
            size_t n = (i == k - 1) ? len - i * SQL_PACKET_CHUNK_MAX : SQL_PACKET_CHUNK_MAX;
            put_header(base + i * (SQL_PACKET_CHUNK_MAX + 4), n, p->seq++);
        }
        p->out.len += 4 * (k - 1);
    }
    if (p->out.len >= SQL_OUT_FLUSH_BYTES) {
        return sql_pkt_flush(p);
    }
    return 0;
}

int sql_pkt_write(sql_pkt *p, const void *payload, size_t n)
{
    size_t off = sql_pkt_begin(p);
    if (off == (size_t)-1 || cm_buf_append(&p->out, payload, n) != 0) {
        return CM_E_NOMEM;
    }
    return sql_pkt_end(p, off);
}

int sql_pkt_flush(sql_pkt *p)
{
    if (p->out.len == 0) {
        return 0;
    }
    int rc = p->io->ops->write(p->io, p->out.ptr, p->out.len);
    if (rc == 0) {
        p->bytes_out += p->out.len;
    }
    p->out.len = 0;
    /* A large result set grew the buffer: give the memory back (idle connections stay small). */
    if (p->out.cap > 4 * SQL_OUT_FLUSH_BYTES) {
        cm_buf_fini(&p->out);
    }
    return rc;
}
