/* Unit tests for the MySQL wire encodings (length-encoded integers and strings) and packet
 * framing (splitting and joining at 16 MiB, sequence ids, limits, truncation). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_err.h"
#include "sql_io.h"
#include "sql_my_const.h"
#include "sql_packet.h"
#include "sql_wire.h"

#include <stdlib.h>
#include <string.h>

static void check_lenenc(uint64_t v, const uint8_t *want, size_t n)
{
    cm_buf b = CM_BUF_INIT;
    assert_int_equal(sql_wire_put_lenenc(&b, v), 0);
    assert_int_equal(b.len, n);
    assert_int_equal(sql_wire_lenenc_size(v), n);
    assert_memory_equal(b.ptr, want, n);
    cm_reader r;
    cm_reader_init(&r, b.ptr, b.len);
    uint64_t got;
    assert_int_equal(sql_wire_get_lenenc(&r, &got), 0);
    assert_true(got == v);
    assert_int_equal(cm_reader_left(&r), 0);
    /* Every truncation of it is an error that leaves the reader where it was. */
    for (size_t cut = 0; cut < n; cut++) {
        cm_reader_init(&r, b.ptr, cut);
        assert_int_equal(sql_wire_get_lenenc(&r, &got), CM_E_CORRUPT);
        assert_int_equal(r.pos, 0);
    }
    cm_buf_fini(&b);
}

static void test_lenenc_int(void **state)
{
    (void)state;
    check_lenenc(0, (const uint8_t[]){0x00}, 1);
    check_lenenc(250, (const uint8_t[]){0xfa}, 1);
    check_lenenc(251, (const uint8_t[]){0xfc, 0xfb, 0x00}, 3);
    check_lenenc(0xffff, (const uint8_t[]){0xfc, 0xff, 0xff}, 3);
    check_lenenc(0x10000, (const uint8_t[]){0xfd, 0x00, 0x00, 0x01}, 4);
    check_lenenc(0xffffff, (const uint8_t[]){0xfd, 0xff, 0xff, 0xff}, 4);
    check_lenenc(0x1000000, (const uint8_t[]){0xfe, 0, 0, 0, 1, 0, 0, 0, 0}, 9);
    check_lenenc(UINT64_MAX,
                 (const uint8_t[]){0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9);
    /* 0xfb (NULL in a row) and 0xff (ERR tag) are not integers. */
    uint64_t v;
    cm_reader r;
    cm_reader_init(&r, (const uint8_t[]){0xfb}, 1);
    assert_int_equal(sql_wire_get_lenenc(&r, &v), CM_E_CORRUPT);
    cm_reader_init(&r, (const uint8_t[]){0xff, 1, 2}, 3);
    assert_int_equal(sql_wire_get_lenenc(&r, &v), CM_E_CORRUPT);
}

static void test_lenenc_str(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT;
    assert_int_equal(sql_wire_put_lenenc_str(&b, "abc", 3), 0);
    assert_int_equal(sql_wire_put_lenenc_str(&b, "", 0), 0);
    char big[300];
    memset(big, 'x', sizeof(big));
    assert_int_equal(sql_wire_put_lenenc_str(&b, big, sizeof(big)), 0);
    assert_int_equal(sql_wire_put_cstr(&b, "nul"), 0);
    assert_int_equal(b.len, 4 + 1 + 3 + 300 + 4);
    cm_reader r;
    cm_reader_init(&r, b.ptr, b.len);
    cm_slice s;
    assert_int_equal(sql_wire_get_lenenc_str(&r, &s), 0);
    assert_int_equal(s.len, 3);
    assert_memory_equal(s.ptr, "abc", 3);
    assert_int_equal(sql_wire_get_lenenc_str(&r, &s), 0);
    assert_int_equal(s.len, 0);
    assert_int_equal(sql_wire_get_lenenc_str(&r, &s), 0);
    assert_int_equal(s.len, 300);
    assert_int_equal(sql_wire_get_cstr(&r, &s), 0);
    assert_int_equal(s.len, 3);
    assert_int_equal(cm_reader_left(&r), 0);
    /* A length longer than the input is refused without moving. */
    cm_reader_init(&r, (const uint8_t[]){0x05, 'a', 'b'}, 3);
    assert_int_equal(sql_wire_get_lenenc_str(&r, &s), CM_E_CORRUPT);
    assert_int_equal(r.pos, 0);
    cm_reader_init(&r, (const uint8_t[]){0xfd, 0xff, 0xff, 0xff, 'a'}, 5);
    assert_int_equal(sql_wire_get_lenenc_str(&r, &s), CM_E_CORRUPT);
    /* A string without its NUL. */
    cm_reader_init(&r, (const uint8_t[]){'a', 'b'}, 2);
    assert_int_equal(sql_wire_get_cstr(&r, &s), CM_E_CORRUPT);
    cm_buf_fini(&b);
}

/* Writes packets with a writer over memory and returns the bytes. */
static void write_payload(const uint8_t *p, size_t n, cm_buf *out, uint8_t seq0)
{
    sql_io_mem m;
    sql_io_mem_init(&m, NULL, 0);
    sql_pkt w;
    sql_pkt_init(&w, &m.io, 1000);
    w.seq = seq0;
    assert_int_equal(sql_pkt_write(&w, p, n), 0);
    assert_int_equal(sql_pkt_flush(&w), 0);
    cm_buf_append(out, m.out.ptr, m.out.len);
    sql_pkt_fini(&w);
    sql_io_mem_fini(&m);
}

static void test_packet_small(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT;
    write_payload((const uint8_t *)"abc", 3, &b, 5);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.ptr,
                        "\x03\x00\x00\x05"
                        "abc",
                        7);
    write_payload((const uint8_t *)"", 0, &b, 6);
    assert_int_equal(b.len, 11);
    assert_memory_equal(b.ptr + 7, "\x00\x00\x00\x06", 4);
    /* Read back one byte at a time. */
    sql_io_mem m;
    sql_io_mem_init(&m, b.ptr, b.len);
    m.max_read = 1;
    sql_pkt r;
    sql_pkt_init(&r, &m.io, 1000);
    r.seq = 5;
    cm_buf pl = CM_BUF_INIT;
    cm_err err;
    assert_int_equal(sql_pkt_read(&r, &pl, 100, -1, &err), 0);
    assert_int_equal(pl.len, 3);
    assert_memory_equal(pl.ptr, "abc", 3);
    assert_int_equal(sql_pkt_read(&r, &pl, 100, -1, &err), 0);
    assert_int_equal(pl.len, 0);
    assert_int_equal(sql_pkt_read(&r, &pl, 100, -1, &err), CM_E_CLOSED);
    assert_int_equal(r.bytes_in, 11);
    sql_pkt_fini(&r);
    sql_io_mem_fini(&m);
    cm_buf_fini(&pl);
    cm_buf_fini(&b);
}

/* Splits a payload of n bytes, checks the chunk headers, and joins it back. */
static void check_split(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(i * 7 + 3);
    }
    cm_buf b = CM_BUF_INIT;
    write_payload(p, n, &b, 0);
    size_t chunks = n / SQL_PACKET_CHUNK_MAX + 1;
    assert_int_equal(b.len, n + 4 * chunks);
    size_t off = 0;
    for (size_t i = 0; i < chunks; i++) {
        size_t len = b.ptr[off] | (b.ptr[off + 1] << 8) | ((size_t)b.ptr[off + 2] << 16);
        size_t want = i + 1 < chunks ? SQL_PACKET_CHUNK_MAX : n - i * SQL_PACKET_CHUNK_MAX;
        assert_int_equal(len, want);
        assert_int_equal(b.ptr[off + 3], i);
        off += 4 + len;
    }
    sql_io_mem m;
    sql_io_mem_init(&m, b.ptr, b.len);
    m.max_read = 100000; /* many partial reads */
    sql_pkt r;
    sql_pkt_init(&r, &m.io, 1000);
    cm_buf pl = CM_BUF_INIT;
    cm_err err;
    assert_int_equal(sql_pkt_read(&r, &pl, 64u << 20, -1, &err), 0);
    assert_int_equal(pl.len, n);
    assert_true(n == 0 || memcmp(pl.ptr, p, n) == 0);
    assert_int_equal(r.seq, chunks);
    /* The same payload over a limit one byte too small is refused. */
    sql_io_mem_init(&m, b.ptr, b.len);
    sql_pkt_fini(&r);
    sql_pkt_init(&r, &m.io, 1000);
    if (n > 0) {
        assert_int_equal(sql_pkt_read(&r, &pl, n - 1, -1, &err), CM_E_NET_PACKET_TOO_LARGE);
    }
    sql_pkt_fini(&r);
    sql_io_mem_fini(&m);
    cm_buf_fini(&pl);
    cm_buf_fini(&b);
    free(p);
}

static void test_packet_split(void **state)
{
    (void)state;
    check_split(SQL_PACKET_CHUNK_MAX - 1);
    check_split(SQL_PACKET_CHUNK_MAX); /* needs an empty trailing packet */
    check_split(SQL_PACKET_CHUNK_MAX + 10);
    check_split(2 * (size_t)SQL_PACKET_CHUNK_MAX);
}

static int read_bytes(const uint8_t *in, size_t n, size_t max, uint8_t seq, cm_buf *pl)
{
    sql_io_mem m;
    sql_io_mem_init(&m, in, n);
    sql_pkt r;
    sql_pkt_init(&r, &m.io, 1000);
    r.seq = seq;
    cm_err err;
    int rc = sql_pkt_read(&r, pl, max, -1, &err);
    sql_pkt_fini(&r);
    sql_io_mem_fini(&m);
    return rc;
}

static void test_packet_malformed(void **state)
{
    (void)state;
    cm_buf pl = CM_BUF_INIT;
    /* Wrong sequence id. */
    assert_int_equal(read_bytes((const uint8_t *)"\x01\x00\x00\x03x", 5, 100, 0, &pl),
                     CM_E_PACKETS_OUT_OF_ORDER);
    /* Truncated header, truncated body, nothing at all. */
    assert_int_equal(read_bytes((const uint8_t *)"\x05\x00", 2, 100, 0, &pl), CM_E_CORRUPT);
    assert_int_equal(read_bytes((const uint8_t *)"\x05\x00\x00\x00"
                                                 "ab",
                                6, 100, 0, &pl),
                     CM_E_CORRUPT);
    assert_int_equal(read_bytes((const uint8_t *)"", 0, 100, 0, &pl), CM_E_CLOSED);
    /* A huge length header with no data: an error, and no 16 MiB allocation. */
    assert_int_equal(read_bytes((const uint8_t *)"\xff\xff\xff\x00zz", 6, 64u << 20, 0, &pl),
                     CM_E_CORRUPT);
    assert_true(pl.cap < (1u << 20));
    /* Larger than the limit: refused from the header alone. */
    assert_int_equal(read_bytes((const uint8_t *)"\x00\x10\x00\x00", 4, 1024, 0, &pl),
                     CM_E_NET_PACKET_TOO_LARGE);
    /* A continuation chunk with the wrong sequence id. */
    size_t n = 4 + SQL_PACKET_CHUNK_MAX + 4;
    uint8_t *b = calloc(1, n);
    memcpy(b, "\xff\xff\xff\x00", 4);
    memcpy(b + 4 + SQL_PACKET_CHUNK_MAX, "\x00\x00\x00\x07", 4);
    assert_int_equal(read_bytes(b, n, 64u << 20, 0, &pl), CM_E_PACKETS_OUT_OF_ORDER);
    free(b);
    cm_buf_fini(&pl);
}

static void test_packet_large_output_flushes(void **state)
{
    (void)state;
    /* Writing many packets flushes on the way: the buffer never holds all of them. */
    sql_io_mem m;
    sql_io_mem_init(&m, NULL, 0);
    m.discard = 1;
    sql_pkt w;
    sql_pkt_init(&w, &m.io, 1000);
    uint8_t row[1000];
    memset(row, 'r', sizeof(row));
    size_t maxcap = 0;
    for (int i = 0; i < 2000; i++) {
        assert_int_equal(sql_pkt_write(&w, row, sizeof(row)), 0);
        if (w.out.cap > maxcap) {
            maxcap = w.out.cap;
        }
    }
    assert_int_equal(sql_pkt_flush(&w), 0);
    assert_int_equal(m.out_total, 2000 * 1004);
    assert_true(maxcap <= 2 * SQL_OUT_FLUSH_BYTES);
    sql_pkt_fini(&w);
    sql_io_mem_fini(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lenenc_int),       cmocka_unit_test(test_lenenc_str),
        cmocka_unit_test(test_packet_small),     cmocka_unit_test(test_packet_split),
        cmocka_unit_test(test_packet_malformed), cmocka_unit_test(test_packet_large_output_flushes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
