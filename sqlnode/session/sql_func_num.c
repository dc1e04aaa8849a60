/*
 * sql_func_num.c — MySQL numeric functions where SQLite's differ or are missing: ROUND and
 * TRUNCATE (exact on decimal text, integers kept integers), MOD (integers stay integers, MOD(x, 0)
 * is NULL), LOG2 / LOG10 (NULL outside the domain), RAND with MySQL's own generator (so
 * RAND(3) gives MySQL's sequence), CONV, BIN, OCT and CRC32.
 */
#include "sql_func_int.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Most decimal places ROUND / TRUNCATE keep (MySQL's DECIMAL scale maximum). */
#define NUM_PLACES_MAX 30

static void round_or_truncate(sqlite3_context *ctx, int argc, sqlite3_value **argv, int trunc_)
{
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    int64_t d = argc > 1 ? sqlite3_value_int64(argv[1]) : 0;
    if (d > NUM_PLACES_MAX) {
        d = NUM_PLACES_MAX;
    } else if (d < -NUM_PLACES_MAX) {
        d = -NUM_PLACES_MAX;
    }
    int t = sqlite3_value_type(argv[0]);
    if (t == SQLITE_INTEGER) { /* INTEGER result */
        int64_t x = sqlite3_value_int64(argv[0]);
        if (d >= 0) {
            sqlite3_result_int64(ctx, x);
            return;
        }
        if (d < -18) {
            sqlite3_result_int64(ctx, 0);
            return;
        }
        int64_t m = 1;
        for (int64_t k = 0; k < -d; k++) {
            m *= 10;
        }
        int64_t q = x / m, r = x % m;
        if (!trunc_ && (r >= 0 ? r : -r) * 2 >= m) {
            q += x < 0 ? -1 : 1;
        }
        if ((q > 0 && q > INT64_MAX / m) || (q < 0 && q < INT64_MIN / m)) {
            sqlite3_result_double(ctx, (double)q * (double)m);
            return;
        }
        sqlite3_result_int64(ctx, q * m);
        return;
    }
    char buf[160];
    size_t n = sql_fn_dec_round_text(argv[0], (int)d, trunc_, buf, sizeof(buf));
    if (t == SQLITE_TEXT && n > 0) { /* a DECIMAL value: exact TEXT, scale max(d, 0) */
        if (d > 0) {
            char *dot = strchr(buf, '.');
            size_t have = dot ? strlen(dot + 1) : 0;
            if (dot == NULL && n + 1 < sizeof(buf)) {
                buf[n++] = '.';
            }
            while (have < (size_t)d && n + 1 < sizeof(buf)) {
                buf[n++] = '0';
                have++;
            }
            buf[n] = '\0';
        }
        sqlite3_result_text(ctx, buf, (int)n, SQLITE_TRANSIENT);
        return;
    }
    if (n > 0) { /* REAL result, rounded on its decimal digits */
        double r = strtod(buf, NULL);
        sqlite3_result_double(ctx, r == 0 ? 0.0 : r); /* no -0 */
        return;
    }
    double x = sqlite3_value_double(argv[0]);
    double m = pow(10.0, (double)d);
    double r = trunc_ ? trunc(x * m) / m : round(x * m) / m;
    sqlite3_result_double(ctx, !isfinite(r) ? x : r == 0 ? 0.0 : r);
}

/* ROUND(x[, d]): INTEGER for integers, TEXT for decimal text, REAL for doubles. */
static void f_round(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    round_or_truncate(ctx, argc, argv, 0);
}

/* TRUNCATE(x, d): as ROUND. */
static void f_truncate(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    round_or_truncate(ctx, argc, argv, 1);
}

/* An integer or DECIMAL text as a scaled integer: *v × 10^-*scale. 0, or -1 when it is
 * neither or needs more than 36 digits. */
static int scaled_of(sqlite3_value *x, __int128 *v, int *scale)
{
    if (sqlite3_value_type(x) == SQLITE_INTEGER) {
        *v = sqlite3_value_int64(x);
        *scale = 0;
        return 0;
    }
    if (sqlite3_value_type(x) != SQLITE_TEXT) {
        return -1;
    }
    sql_fn_str s = sql_fn_get_str(x);
    if (!sql_fn_is_decimal_text(s.p, s.n)) {
        return -1;
    }
    __int128 acc = 0;
    int digits = 0, sc = 0, frac = 0;
    for (size_t i = s.p[0] == '-'; i < s.n; i++) {
        if (s.p[i] == '.') {
            frac = 1;
            continue;
        }
        if (++digits > 36) {
            return -1;
        }
        acc = acc * 10 + (s.p[i] - '0');
        sc += frac;
    }
    *v = s.p[0] == '-' ? -acc : acc;
    *scale = sc;
    return 0;
}

/* Writes v × 10^-scale as decimal text. */
static void scaled_text(sqlite3_context *ctx, __int128 v, int scale)
{
    char tmp[64];
    size_t k = sizeof(tmp);
    int neg = v < 0;
    unsigned __int128 u = neg ? (unsigned __int128)(-(v + 1)) + 1 : (unsigned __int128)v;
    tmp[--k] = '\0';
    int n = 0;
    do {
        tmp[--k] = (char)('0' + (int)(u % 10));
        u /= 10;
        if (++n == scale) {
            tmp[--k] = '.';
        }
    } while ((u > 0 || n < scale + 1) && k > 2);
    if (tmp[k] == '.') {
        tmp[--k] = '0';
    }
    if (neg) {
        tmp[--k] = '-';
    }
    sqlite3_result_text(ctx, tmp + k, -1, SQLITE_TRANSIENT);
}

/* MOD(a, b) on DECIMAL text (and integers) exactly: the scale of the larger one, as MySQL's
 * DECIMAL result. Returns 0 when it does not apply. */
static int decimal_mod(sqlite3_context *ctx, sqlite3_value *a, sqlite3_value *b)
{
    __int128 x, y;
    int sx, sy;
    if (sqlite3_value_type(a) != SQLITE_TEXT && sqlite3_value_type(b) != SQLITE_TEXT) {
        return 0;
    }
    if (scaled_of(a, &x, &sx) != 0 || scaled_of(b, &y, &sy) != 0) {
        return 0;
    }
    int sc = sx > sy ? sx : sy;
    for (; sx < sc; sx++) {
        if (x > (__int128)1e36 || x < -(__int128)1e36) {
            return 0;
        }
        x *= 10;
    }
    for (; sy < sc; sy++) {
        if (y > (__int128)1e36 || y < -(__int128)1e36) {
            return 0;
        }
        y *= 10;
    }
    if (y == 0) {
        sqlite3_result_null(ctx);
        return 1;
    }
    scaled_text(ctx, x % y, sc);
    return 1;
}

/* MOD(a, b): INTEGER for integers (sign of a), exact TEXT for DECIMAL text, REAL otherwise;
 * NULL when b is 0. */
static void f_mod(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    if (decimal_mod(ctx, argv[0], argv[1])) {
        return;
    }
    if (sqlite3_value_type(argv[0]) == SQLITE_INTEGER &&
        sqlite3_value_type(argv[1]) == SQLITE_INTEGER) {
        int64_t a = sqlite3_value_int64(argv[0]), b = sqlite3_value_int64(argv[1]);
        if (b == 0) {
            sqlite3_result_null(ctx);
        } else if (b == -1) {
            sqlite3_result_int64(ctx, 0);
        } else {
            sqlite3_result_int64(ctx, a % b);
        }
        return;
    }
    double a = sqlite3_value_double(argv[0]), b = sqlite3_value_double(argv[1]);
    if (b == 0) {
        sqlite3_result_null(ctx);
        return;
    }
    sqlite3_result_double(ctx, fmod(a, b));
}

static void log_base(sqlite3_context *ctx, sqlite3_value **argv, double base)
{
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    double x = sqlite3_value_double(argv[0]);
    if (x <= 0) {
        sqlite3_result_null(ctx);
        return;
    }
    sqlite3_result_double(ctx, base == 2 ? log2(x) : log10(x));
}

/* LOG2(x), LOG10(x): REAL; NULL for x <= 0. */
static void f_log2(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    log_base(ctx, argv, 2);
}

static void f_log10(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    log_base(ctx, argv, 10);
}

/* MySQL's RAND generator: two 30-bit seeds. */
typedef struct rand_state {
    uint32_t s1, s2;
} rand_state;

#define RAND_MAX_VALUE 0x3FFFFFFFu

static void rand_seed(rand_state *r, uint32_t seed)
{
    r->s1 = (uint32_t)(seed * 0x10001u + 55555555u) % RAND_MAX_VALUE;
    r->s2 = (uint32_t)(seed * 0x10000001u) % RAND_MAX_VALUE;
}

static double rand_next(rand_state *r)
{
    r->s1 = (uint32_t)(((uint64_t)r->s1 * 3 + r->s2) % RAND_MAX_VALUE);
    r->s2 = (uint32_t)(((uint64_t)r->s1 + r->s2 + 33) % RAND_MAX_VALUE);
    return (double)r->s1 / (double)RAND_MAX_VALUE;
}

/* RAND([seed]) → REAL in [0, 1). With a constant seed the statement draws one sequence (the same
 * as MySQL's); a seed that changes per row re-seeds per row, as in MySQL. */
static void f_rand(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (argc == 0) {
        uint64_t r;
        sqlite3_randomness(sizeof(r), &r);
        sqlite3_result_double(ctx, (double)(r >> 11) / 9007199254740992.0);
        return;
    }
    rand_state *st = sqlite3_get_auxdata(ctx, 0);
    if (st == NULL) {
        rand_state fresh;
        rand_seed(&fresh, (uint32_t)sqlite3_value_int64(argv[0]));
        double v = rand_next(&fresh);
        st = malloc(sizeof(*st));
        if (st != NULL) {
            *st = fresh;
            sqlite3_set_auxdata(ctx, 0, st, free); /* freed by SQLite when not kept */
        }
        sqlite3_result_double(ctx, v);
        return;
    }
    sqlite3_result_double(ctx, rand_next(st));
}

static int digit_of(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'Z') {
        return c - 'A' + 10;
    }
    return 99;
}

/* CONV text of the number in argv as base from → base to (negative to: signed). TEXT. */
static void conv(sqlite3_context *ctx, sqlite3_value *nv, int64_t from, int64_t to)
{
    int from_signed = from < 0, to_signed = to < 0;
    if (from < 0) {
        from = -from;
    }
    if (to < 0) {
        to = -to;
    }
    if (from < 2 || from > 36 || to < 2 || to > 36) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_fn_str s = sql_fn_get_str(nv);
    size_t i = 0;
    while (i < s.n && s.p[i] == ' ') {
        i++;
    }
    int neg = 0;
    if (i < s.n && s.p[i] == '-') {
        neg = 1;
        i++;
    }
    uint64_t v = 0;
    int overflow = 0;
    for (; i < s.n; i++) {
        int dg = digit_of(s.p[i]);
        if (dg >= from) {
            break;
        }
        if (v > (UINT64_MAX - (uint64_t)dg) / (uint64_t)from) {
            overflow = 1;
        }
        v = v * (uint64_t)from + (uint64_t)dg;
    }
    if (overflow) {
        v = from_signed ? (neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX) : UINT64_MAX;
        neg = from_signed ? neg : 0;
    }
    if (neg) {
        v = (uint64_t)0 - v; /* two's complement, as MySQL */
    }
    char out[80];
    size_t k = sizeof(out) - 1;
    out[k] = '\0';
    int minus = 0;
    if (to_signed && (int64_t)v < 0) {
        minus = 1;
        v = (uint64_t)0 - v;
    }
    do {
        out[--k] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[v % (uint64_t)to];
        v /= (uint64_t)to;
    } while (v > 0 && k > 1);
    if (minus) {
        out[--k] = '-';
    }
    sqlite3_result_text(ctx, out + k, -1, SQLITE_TRANSIENT);
}

/* CONV(n, from_base, to_base) → TEXT. */
static void f_conv(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    conv(ctx, argv[0], sqlite3_value_int64(argv[1]), sqlite3_value_int64(argv[2]));
}

/* BIN(n), OCT(n) → TEXT: CONV(n, 10, 2|8). */
static void f_bin(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    conv(ctx, argv[0], 10, 2);
}

static void f_oct(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    conv(ctx, argv[0], 10, 8);
}

/* CRC32(s) → INTEGER: the CRC-32 (ISO-HDLC, zlib's) of s's bytes. */
static void f_crc32(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_fn_str s = sql_fn_get_str(argv[0]);
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < s.n; i++) {
        crc ^= s.p[i];
        for (int k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    sqlite3_result_int64(ctx, (int64_t)(crc ^ 0xFFFFFFFFu));
}

/* _tdb_interval(n, n1, n2, …) → INTEGER: MySQL's INTERVAL(): 0 when n < n1, 1 when n < n2 …,
 * -1 when n is NULL (the ni are expected in ascending order). */
static void f_interval(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (argc < 2) {
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS,
                     "Incorrect parameter count in the call to native function 'interval'");
        return;
    }
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_int(ctx, -1);
        return;
    }
    double n = sqlite3_value_double(argv[0]);
    for (int i = 1; i < argc; i++) {
        if (sqlite3_value_type(argv[i]) != SQLITE_NULL && n < sqlite3_value_double(argv[i])) {
            sqlite3_result_int(ctx, i - 1);
            return;
        }
    }
    sqlite3_result_int(ctx, argc - 1);
}

/* UUID_SHORT() → INTEGER: MySQL's layout, (server_id & 255) << 56 | start-up seconds << 24,
 * plus one per call, process-wide (server_id is 1, MySQL's default). */
static void f_uuid_short(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    static uint64_t next; /* 0: not started */
    uint64_t v = __atomic_load_n(&next, __ATOMIC_ACQUIRE);
    if (v == 0) {
        uint64_t start = ((uint64_t)1 << 56) + (((uint64_t)time(NULL) & 0xFFFFFFFFu) << 24);
        __atomic_compare_exchange_n(&next, &v, start, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    }
    sqlite3_result_int64(ctx, (int64_t)__atomic_fetch_add(&next, 1, __ATOMIC_ACQ_REL));
}

/* ABS(x): INTEGER for integers (BIGINT's minimum is out of range, 1690), DECIMAL text without
 * its sign (the scale kept, as MySQL's DECIMAL), REAL otherwise. */
static void f_abs(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    int t = sqlite3_value_type(argv[0]);
    if (t == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    if (t == SQLITE_INTEGER) {
        int64_t v = sqlite3_value_int64(argv[0]);
        if (v == INT64_MIN) {
            sql_fn_error(ctx, CM_E_BIGINT_RANGE, "BIGINT value is out of range in 'abs'");
            return;
        }
        sqlite3_result_int64(ctx, v < 0 ? -v : v);
        return;
    }
    if (t == SQLITE_TEXT) {
        sql_fn_str s = sql_fn_get_str(argv[0]);
        if (sql_fn_is_decimal_text(s.p, s.n)) {
            size_t k = s.p[0] == '-';
            sqlite3_result_text(ctx, (const char *)s.p + k, (int)(s.n - k), SQLITE_TRANSIENT);
            return;
        }
    }
    sqlite3_result_double(ctx, fabs(sqlite3_value_double(argv[0])));
}

/* The node id (bytes 0–5) and clock sequence (6–7) of UUID(), random, made once. */
static uint8_t uuid_node[8];

static void uuid_node_init(void)
{
    sqlite3_randomness(sizeof(uuid_node), uuid_node);
    uuid_node[0] |= 0x01;                                   /* multicast: not a real MAC */
    uuid_node[6] = (uint8_t)((uuid_node[6] & 0x3F) | 0x80); /* RFC 4122 variant */
}

/* UUID() → TEXT: a version 1 UUID as MySQL makes them: 100 ns ticks since 1582-10-15 (strictly
 * increasing within the process), a random clock sequence and a random node id with the
 * multicast bit set (RFC 4122 §4.5: not a network card's address), both chosen once. */
static void f_uuid(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    static uint64_t last_ticks;
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, uuid_node_init);
    /* 100 ns ticks between 1582-10-15 and 1970-01-01 */
    uint64_t ticks = (uint64_t)sql_sess_now_us(SQL_FN_SESS(ctx)) * 10 + 0x01B21DD213814000ULL;
    uint64_t prev = __atomic_load_n(&last_ticks, __ATOMIC_ACQUIRE);
    for (;;) {
        uint64_t want = ticks > prev ? ticks : prev + 1;
        if (__atomic_compare_exchange_n(&last_ticks, &prev, want, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            ticks = want;
            break;
        }
    }
    char buf[40];
    snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             (unsigned)(ticks & 0xFFFFFFFFu), (unsigned)((ticks >> 32) & 0xFFFFu),
             (unsigned)(((ticks >> 48) & 0x0FFFu) | 0x1000u), uuid_node[6], uuid_node[7],
             uuid_node[0], uuid_node[1], uuid_node[2], uuid_node[3], uuid_node[4], uuid_node[5]);
    sqlite3_result_text(ctx, buf, -1, SQLITE_TRANSIENT);
}

static const sql_fn_def num_fns[] = {
    {"uuid", 0, 0, f_uuid},
    {"abs", 1, 1, f_abs},
    {"uuid_short", 0, 0, f_uuid_short},
    {"_tdb_interval", -1, 1, f_interval},
    {"round", 1, 1, f_round},
    {"round", 2, 1, f_round},
    {"truncate", 2, 1, f_truncate},
    {"mod", 2, 1, f_mod},
    {"log2", 1, 1, f_log2},
    {"log10", 1, 1, f_log10},
    {"rand", 0, 0, f_rand},
    {"rand", 1, 0, f_rand},
    {"conv", 3, 1, f_conv},
    {"bin", 1, 1, f_bin},
    {"oct", 1, 1, f_oct},
    {"crc32", 1, 1, f_crc32},
};

int sql_func_num_register(sql_sess *s)
{
    return sql_fn_register_table(s, num_fns, sizeof(num_fns) / sizeof(num_fns[0]));
}
