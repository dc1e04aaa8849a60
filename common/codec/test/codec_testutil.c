/* codec_testutil.c — see codec_testutil.h. */
#include "codec_testutil.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t prng_state;

uint64_t tu_seed(const char *name)
{
    const char *env = getenv("CM_TEST_SEED");
    uint64_t seed;
    if (env != NULL && env[0] != '\0') {
        seed = strtoull(env, NULL, 0);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec;
    }
    prng_state = seed;
    printf("# %s seed=%" PRIu64 " (replay with CM_TEST_SEED=%" PRIu64 ")\n", name, seed, seed);
    fflush(stdout);
    return seed;
}

/* splitmix64: small, fast, and good enough to drive property tests. */
uint64_t tu_next(void)
{
    uint64_t z = (prng_state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

uint64_t tu_below(uint64_t n)
{
    return tu_next() % n;
}

int tu_chance(unsigned pct)
{
    return tu_below(100) < pct;
}

int64_t tu_rand_int64(void)
{
    static const int64_t edges[] = {INT64_MIN,
                                    INT64_MIN + 1,
                                    -4294967296LL,
                                    -2147483649LL,
                                    INT32_MIN,
                                    -65536,
                                    -257,
                                    -256,
                                    -255,
                                    -129,
                                    -128,
                                    -2,
                                    -1,
                                    0,
                                    1,
                                    2,
                                    127,
                                    128,
                                    255,
                                    256,
                                    65535,
                                    INT32_MAX,
                                    2147483648LL,
                                    INT64_MAX - 1,
                                    INT64_MAX};
    switch (tu_below(4)) {
    case 0:
        return edges[tu_below(sizeof(edges) / sizeof(edges[0]))];
    case 1:
        return (int64_t)tu_below(2001) - 1000;
    case 2:
        return (int64_t)(tu_next() >> tu_below(64)) * (tu_chance(50) ? 1 : -1);
    default:
        return (int64_t)tu_next();
    }
}

uint64_t tu_rand_uint64(void)
{
    static const uint64_t edges[] = {0,
                                     1,
                                     2,
                                     127,
                                     128,
                                     255,
                                     256,
                                     65535,
                                     65536,
                                     UINT32_MAX,
                                     UINT64_C(1) << 32,
                                     INT64_MAX,
                                     UINT64_C(1) << 63,
                                     UINT64_MAX - 1,
                                     UINT64_MAX};
    switch (tu_below(4)) {
    case 0:
        return edges[tu_below(sizeof(edges) / sizeof(edges[0]))];
    case 1:
        return tu_below(2001);
    case 2:
        return tu_next() >> tu_below(64);
    default:
        return tu_next();
    }
}

static double bits_to_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

double tu_rand_float64(void)
{
    static const double edges[] = {0.0,
                                   -0.0,
                                   1.0,
                                   -1.0,
                                   0.5,
                                   -0.5,
                                   0.1,
                                   -0.1,
                                   DBL_MAX,
                                   -DBL_MAX,
                                   DBL_MIN,
                                   -DBL_MIN,
                                   INFINITY,
                                   -INFINITY,
                                   1e300,
                                   -1e300,
                                   1e-300,
                                   -1e-300,
                                   9007199254740993.0,
                                   -9007199254740993.0};
    for (;;) {
        double d;
        switch (tu_below(6)) {
        case 0:
            d = edges[tu_below(sizeof(edges) / sizeof(edges[0]))];
            break;
        case 1: /* subnormals: exponent field 0 */
            d = bits_to_double((tu_next() & ((UINT64_C(1) << 52) - 1)) |
                               (tu_chance(50) ? UINT64_C(1) << 63 : 0));
            break;
        case 2: /* smallest subnormals and their neighbours */
            d = bits_to_double(tu_below(4) | (tu_chance(50) ? UINT64_C(1) << 63 : 0));
            break;
        case 3:
            d = (double)((int64_t)tu_below(2001) - 1000) / 8.0;
            break;
        default:
            d = bits_to_double(tu_next());
            break;
        }
        if (!isnan(d)) {
            return d;
        }
    }
}

static uint8_t rand_byte(void)
{
    static const uint8_t alphabet[] = {0x00, 0x00, 0x01, 0x7F, 0xF7, 0xFE, 0xFF, 0xFF, 'a', 'b'};
    if (tu_chance(70)) {
        return alphabet[tu_below(sizeof(alphabet))];
    }
    return (uint8_t)tu_next();
}

size_t tu_rand_bytes(uint8_t *buf, size_t cap)
{
    static const size_t lens[] = {0, 1, 7, 8, 9, 15, 16, 17, 24, 25};
    size_t n = tu_chance(50) ? lens[tu_below(sizeof(lens) / sizeof(lens[0]))] : tu_below(41);
    if (n > cap) {
        n = cap;
    }
    for (size_t i = 0; i < n; i++) {
        buf[i] = rand_byte();
    }
    return n;
}

size_t tu_near_bytes(const uint8_t *a, size_t alen, uint8_t *buf, size_t cap)
{
    size_t n = alen < cap ? alen : cap;
    memcpy(buf, a, n);
    switch (tu_below(5)) {
    case 0: /* equal */
        return n;
    case 1: /* a prefix */
        return n ? tu_below(n + 1) : 0;
    case 2: /* an extension */
        while (n < cap && tu_chance(60)) {
            buf[n++] = rand_byte();
        }
        return n;
    case 3: /* one byte changed */
        if (n > 0) {
            buf[tu_below(n)] = rand_byte();
        }
        return n;
    default:
        return tu_rand_bytes(buf, cap);
    }
}

/* ---- generators by type ------------------------------------------------------------------- */

const cm_dtype tu_key_types[] = {CM_DT_INT64,    CM_DT_UINT64,    CM_DT_FLOAT64, CM_DT_BYTES,
                                 CM_DT_STRING,   CM_DT_FLOAT32,   CM_DT_DECIMAL, CM_DT_DATE,
                                 CM_DT_DATETIME, CM_DT_TIMESTAMP, CM_DT_TIME,    CM_DT_YEAR,
                                 CM_DT_ENUM,     CM_DT_SET,       CM_DT_BIT};
const size_t tu_key_types_n = sizeof(tu_key_types) / sizeof(tu_key_types[0]);
const cm_dtype tu_row_types[] = {CM_DT_INT64,    CM_DT_UINT64,    CM_DT_FLOAT64, CM_DT_BYTES,
                                 CM_DT_STRING,   CM_DT_FLOAT32,   CM_DT_DECIMAL, CM_DT_DATE,
                                 CM_DT_DATETIME, CM_DT_TIMESTAMP, CM_DT_TIME,    CM_DT_YEAR,
                                 CM_DT_ENUM,     CM_DT_SET,       CM_DT_BIT,     CM_DT_JSON};
const size_t tu_row_types_n = sizeof(tu_row_types) / sizeof(tu_row_types[0]);

static float rand_float32(void)
{
    static const float edges[] = {0.0f,    -0.0f,    1.0f,     -1.0f,     FLT_MAX, -FLT_MAX,
                                  FLT_MIN, -FLT_MIN, INFINITY, -INFINITY, 1e-45f,  -1e-45f};
    for (;;) {
        float f;
        if (tu_chance(25)) {
            f = edges[tu_below(sizeof(edges) / sizeof(edges[0]))];
        } else if (tu_chance(30)) {
            f = (float)((int)tu_below(2001) - 1000) / 4.0f;
        } else {
            uint32_t u = (uint32_t)tu_next();
            memcpy(&f, &u, 4);
        }
        if (!isnan(f)) {
            return f;
        }
    }
}

/* Strings: spaces, tabs and control bytes around the pad character, and UTF-8. */
static size_t rand_string(uint8_t *buf, size_t cap, const uint8_t *like, size_t like_len)
{
    static const uint8_t alphabet[] = {' ', ' ', ' ', '\t', 0x00, 0x1f,
                                       '!', 'a', 'b', 0xc3, 0xa9, 0xff};
    static const size_t lens[] = {0, 1, 7, 8, 9, 15, 16, 17};
    size_t n;
    if (like != NULL) {
        n = like_len < cap ? like_len : cap;
        memcpy(buf, like, n);
        switch (tu_below(5)) {
        case 0: /* trailing spaces: equal under PAD SPACE */
            while (n < cap && tu_chance(70)) {
                buf[n++] = ' ';
            }
            return n;
        case 1:
            return n ? tu_below(n + 1) : 0;
        case 2:
            while (n < cap && tu_chance(60)) {
                buf[n++] = alphabet[tu_below(sizeof(alphabet))];
            }
            return n;
        case 3:
            if (n > 0) {
                buf[tu_below(n)] = alphabet[tu_below(sizeof(alphabet))];
            }
            return n;
        default:
            break; /* unrelated */
        }
    }
    n = tu_chance(50) ? lens[tu_below(sizeof(lens) / sizeof(lens[0]))] : tu_below(cap + 1);
    for (size_t i = 0; i < n; i++) {
        buf[i] = alphabet[tu_below(sizeof(alphabet))];
    }
    return n;
}

static void normalize_decimal(cm_decimal *d)
{
    /* Drop leading integer zeros; zero is never negative. */
    unsigned lead = 0;
    while (lead < d->intg && d->digits[lead] == 0) {
        lead++;
    }
    memmove(d->digits, d->digits + lead, (size_t)(d->intg + d->frac - lead));
    d->intg = (uint8_t)(d->intg - lead);
    if (cm_decimal_is_zero(d)) {
        d->neg = 0;
    }
}

static cm_decimal rand_decimal(void)
{
    cm_decimal d;
    memset(&d, 0, sizeof(d));
    unsigned intg = tu_chance(70) ? (unsigned)tu_below(6) : (unsigned)tu_below(66);
    unsigned fmax = CM_DECIMAL_DIGITS_MAX - intg < CM_DECIMAL_FRAC_MAX
                        ? CM_DECIMAL_DIGITS_MAX - intg
                        : CM_DECIMAL_FRAC_MAX;
    unsigned frac =
        tu_chance(70) ? (unsigned)tu_below(fmax < 5 ? fmax + 1 : 5) : (unsigned)tu_below(fmax + 1);
    d.intg = (uint8_t)intg;
    d.frac = (uint8_t)frac;
    int style = (int)tu_below(3);
    for (unsigned i = 0; i < intg + frac; i++) {
        d.digits[i] = style == 0   ? (uint8_t)tu_below(10)
                      : style == 1 ? (tu_chance(60) ? 0 : (uint8_t)tu_below(10))
                                   : (tu_chance(60) ? 9 : (uint8_t)tu_below(10));
    }
    d.neg = tu_chance(50);
    normalize_decimal(&d);
    return d;
}

static cm_datetime rand_fields(bool date_only)
{
    cm_datetime t;
    int edge = tu_chance(15);
    t.year = (uint16_t)(edge ? (tu_chance(50) ? 0 : 9999) : 1900 + tu_below(200));
    t.month = (uint8_t)(edge && tu_chance(50) ? 0 : 1 + tu_below(12));
    t.day = (uint8_t)(edge && tu_chance(50) ? (tu_chance(50) ? 0 : 31) : 1 + tu_below(28));
    t.hour = t.minute = t.second = 0;
    t.micro = 0;
    if (!date_only) {
        t.hour = (uint8_t)tu_below(24);
        t.minute = (uint8_t)tu_below(60);
        t.second = (uint8_t)(edge ? 59 : tu_below(60));
        t.micro = tu_chance(50) ? 0 : (uint32_t)(edge ? 999999 : tu_below(1000000));
    }
    return t;
}

static int64_t rand_duration(void)
{
    static const int64_t edges[] = {
        -CM_DURATION_US_MAX, -1, 0, 1, CM_DURATION_US_MAX, INT64_C(-3600000000),
        INT64_C(86399999999)};
    if (tu_chance(20)) {
        return edges[tu_below(sizeof(edges) / sizeof(edges[0]))];
    }
    return (int64_t)tu_below(2 * (uint64_t)CM_DURATION_US_MAX + 1) - CM_DURATION_US_MAX;
}

cm_datum tu_rand_datum(cm_dtype t, uint8_t *buf)
{
    switch (t) {
    case CM_DT_INT64:
        return cm_datum_int64(tu_rand_int64());
    case CM_DT_UINT64:
        return cm_datum_uint64(tu_rand_uint64());
    case CM_DT_FLOAT64:
        return cm_datum_float64(tu_rand_float64());
    case CM_DT_FLOAT32:
        return cm_datum_float32(rand_float32());
    case CM_DT_BYTES:
        return cm_datum_bytes(cm_slice_make(buf, tu_rand_bytes(buf, TU_PAYLOAD_CAP)));
    case CM_DT_STRING:
        return cm_datum_string(cm_slice_make(buf, rand_string(buf, TU_PAYLOAD_CAP, NULL, 0)));
    case CM_DT_JSON:
        return cm_datum_json(cm_slice_make(buf, tu_rand_bytes(buf, TU_PAYLOAD_CAP)));
    case CM_DT_DECIMAL: {
        cm_decimal d = rand_decimal();
        return cm_datum_decimal(&d);
    }
    case CM_DT_DATE:
    case CM_DT_DATETIME:
    case CM_DT_TIMESTAMP: {
        cm_datetime f = rand_fields(t == CM_DT_DATE);
        return cm_datum_uint(t, cm_datetime_pack(&f));
    }
    case CM_DT_TIME:
        return cm_datum_int(CM_DT_TIME, rand_duration());
    case CM_DT_YEAR:
        return cm_datum_uint(CM_DT_YEAR, tu_chance(10) ? 0 : CM_YEAR_MIN + tu_below(255));
    case CM_DT_ENUM:
        return cm_datum_uint(CM_DT_ENUM,
                             tu_chance(20) ? (tu_chance(50) ? 0 : CM_ENUM_MAX) : tu_below(300));
    case CM_DT_SET:
    case CM_DT_BIT:
        return cm_datum_uint(t, tu_rand_uint64());
    default:
        return cm_datum_null();
    }
}

/* One unit up or down for the integer-like types, staying in the domain. */
static cm_datum step(const cm_datum *a, uint8_t *buf)
{
    cm_datum b = *a;
    int up = tu_chance(50);
    switch (a->type) {
    case CM_DT_INT64:
        b.v.i64 = (int64_t)((uint64_t)a->v.i64 + (up ? 1u : UINT64_MAX));
        return b;
    case CM_DT_TIME:
        if ((up && a->v.i64 < CM_DURATION_US_MAX) || (!up && a->v.i64 > -CM_DURATION_US_MAX)) {
            b.v.i64 += up ? 1 : -1;
        }
        return b;
    case CM_DT_UINT64:
    case CM_DT_SET:
    case CM_DT_BIT:
        b.v.u64 += up ? 1 : UINT64_MAX;
        return b;
    case CM_DT_YEAR:
        if (a->v.u64 >= CM_YEAR_MIN + 1 && a->v.u64 < CM_YEAR_MAX) {
            b.v.u64 += up ? 1 : UINT64_MAX;
        }
        return b;
    case CM_DT_ENUM:
        if (a->v.u64 > 0 && a->v.u64 < CM_ENUM_MAX) {
            b.v.u64 += up ? 1 : UINT64_MAX;
        }
        return b;
    case CM_DT_DATETIME:
    case CM_DT_TIMESTAMP:
    case CM_DT_DATE: {
        cm_datetime f;
        if (cm_datetime_unpack(a->v.u64, &f, NULL) != 0) {
            return b;
        }
        if (a->type == CM_DT_DATE) {
            f.day = (uint8_t)(up ? (f.day < 31 ? f.day + 1 : f.day) : (f.day > 0 ? f.day - 1 : 0));
        } else {
            f.micro = up ? (f.micro < 999999 ? f.micro + 1 : f.micro) : (f.micro ? f.micro - 1 : 0);
        }
        b.v.u64 = cm_datetime_pack(&f);
        return b;
    }
    default:
        return tu_rand_datum(a->type, buf);
    }
}

cm_datum tu_near_datum(const cm_datum *a, uint8_t *buf)
{
    cm_datum b = *a;
    switch (a->type) {
    case CM_DT_BYTES:
    case CM_DT_JSON:
        b.v.bytes =
            cm_slice_make(buf, tu_near_bytes(a->v.bytes.ptr, a->v.bytes.len, buf, TU_PAYLOAD_CAP));
        return b;
    case CM_DT_STRING:
        b.v.bytes =
            cm_slice_make(buf, rand_string(buf, TU_PAYLOAD_CAP, a->v.bytes.ptr, a->v.bytes.len));
        return b;
    case CM_DT_FLOAT64:
    case CM_DT_FLOAT32: {
        double x = a->v.f64;
        switch (tu_below(4)) {
        case 0:
            return b;
        case 1:
            b.v.f64 = -x;
            return b;
        case 2:
            b.v.f64 = a->type == CM_DT_FLOAT32
                          ? (double)nextafterf((float)x, tu_chance(50) ? INFINITY : -INFINITY)
                          : nextafter(x, tu_chance(50) ? INFINITY : -INFINITY);
            return b;
        default:
            return tu_rand_datum(a->type, buf);
        }
    }
    case CM_DT_DECIMAL:
        switch (tu_below(4)) {
        case 0: /* same value, another scale */
            if (a->v.dec.intg + a->v.dec.frac < CM_DECIMAL_DIGITS_MAX &&
                a->v.dec.frac < CM_DECIMAL_FRAC_MAX) {
                b.v.dec.digits[a->v.dec.intg + a->v.dec.frac] = 0;
                b.v.dec.frac++;
            }
            return b;
        case 1: { /* one unit in the last place up or down (by text, so carries work) */
            unsigned n = a->v.dec.intg + a->v.dec.frac;
            if (n > 0 && b.v.dec.digits[n - 1] < 9) {
                b.v.dec.digits[n - 1]++;
            } else if (n > 0 && b.v.dec.digits[n - 1] > 0) {
                b.v.dec.digits[n - 1]--;
            }
            normalize_decimal(&b.v.dec);
            return b;
        }
        case 2:
            b.v.dec.neg = !a->v.dec.neg && !cm_decimal_is_zero(&a->v.dec);
            return b;
        default:
            return tu_rand_datum(CM_DT_DECIMAL, buf);
        }
    default:
        if (tu_chance(25)) {
            return b;
        }
        return tu_chance(40) ? step(a, buf) : tu_rand_datum(a->type, buf);
    }
}

/* ---- reference order ------------------------------------------------------------------------ */

static int type_rank(cm_dtype t)
{
    /* The order of types is the order of their flags in cm_codec.h. */
    static const int rank[CM_DT_COUNT_] = {
        [CM_DT_NULL] = 0,   [CM_DT_BYTES] = 1,    [CM_DT_STRING] = 2,     [CM_DT_INT64] = 3,
        [CM_DT_UINT64] = 4, [CM_DT_FLOAT64] = 5,  [CM_DT_FLOAT32] = 6,    [CM_DT_DECIMAL] = 7,
        [CM_DT_DATE] = 8,   [CM_DT_DATETIME] = 9, [CM_DT_TIMESTAMP] = 10, [CM_DT_TIME] = 11,
        [CM_DT_YEAR] = 12,  [CM_DT_ENUM] = 13,    [CM_DT_SET] = 14,       [CM_DT_BIT] = 15,
        [CM_DT_JSON] = 16,
    };
    return (unsigned)t < CM_DT_COUNT_ ? rank[t] : 99;
}

#define CMP3(a, b) ((a) < (b) ? -1 : ((a) > (b) ? 1 : 0))

int tu_sign(int c)
{
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

static int bytes_cmp(cm_slice a, cm_slice b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    for (size_t i = 0; i < n; i++) {
        if (a.ptr[i] != b.ptr[i]) {
            return CMP3(a.ptr[i], b.ptr[i]);
        }
    }
    return CMP3(a.len, b.len);
}

/* PAD SPACE, the obvious way: pad both to the same length with spaces, then compare bytes. */
static int padded_cmp(cm_slice a, cm_slice b)
{
    size_t n = a.len > b.len ? a.len : b.len;
    for (size_t i = 0; i < n; i++) {
        uint8_t x = i < a.len ? a.ptr[i] : ' ';
        uint8_t y = i < b.len ? b.ptr[i] : ' ';
        if (x != y) {
            return CMP3(x, y);
        }
    }
    return 0;
}

/* Decimals as fixed-point digit strings aligned on the point: 65 integer and 30 fraction places. */
static int decimal_ref_cmp(const cm_decimal *a, const cm_decimal *b)
{
    uint8_t x[95], y[95];
    const cm_decimal *d[2] = {a, b};
    uint8_t *out[2] = {x, y};
    int sign[2];
    for (int k = 0; k < 2; k++) {
        memset(out[k], 0, 95);
        int nonzero = 0;
        for (unsigned i = 0; i < (unsigned)d[k]->intg + d[k]->frac; i++) {
            out[k][65 - d[k]->intg + i] = d[k]->digits[i];
            nonzero |= d[k]->digits[i] != 0;
        }
        sign[k] = !nonzero ? 0 : (d[k]->neg ? -1 : 1);
    }
    if (sign[0] != sign[1]) {
        return CMP3(sign[0], sign[1]);
    }
    int c = memcmp(x, y, 95);
    return sign[0] < 0 ? -tu_sign(c) : tu_sign(c);
}

static int fields_cmp(uint64_t pa, uint64_t pb)
{
    cm_datetime a, b;
    if (cm_datetime_unpack(pa, &a, NULL) != 0 || cm_datetime_unpack(pb, &b, NULL) != 0) {
        return 99;
    }
    const uint32_t fa[] = {a.year, a.month, a.day, a.hour, a.minute, a.second, a.micro};
    const uint32_t fb[] = {b.year, b.month, b.day, b.hour, b.minute, b.second, b.micro};
    for (int i = 0; i < 7; i++) {
        if (fa[i] != fb[i]) {
            return CMP3(fa[i], fb[i]);
        }
    }
    return 0;
}

int tu_datum_cmp(const cm_datum *a, const cm_datum *b)
{
    int ra = type_rank(a->type), rb = type_rank(b->type);
    if (ra != rb) {
        return CMP3(ra, rb);
    }
    switch (a->type) {
    case CM_DT_INT64:
    case CM_DT_TIME:
        return CMP3(a->v.i64, b->v.i64);
    case CM_DT_UINT64:
    case CM_DT_YEAR:
    case CM_DT_ENUM:
    case CM_DT_SET:
    case CM_DT_BIT:
        return CMP3(a->v.u64, b->v.u64);
    case CM_DT_DATE:
    case CM_DT_DATETIME:
    case CM_DT_TIMESTAMP:
        return fields_cmp(a->v.u64, b->v.u64);
    case CM_DT_FLOAT64:
    case CM_DT_FLOAT32:
        return CMP3(a->v.f64, b->v.f64);
    case CM_DT_BYTES:
    case CM_DT_JSON:
        return bytes_cmp(a->v.bytes, b->v.bytes);
    case CM_DT_STRING:
        return padded_cmp(a->v.bytes, b->v.bytes);
    case CM_DT_DECIMAL:
        return decimal_ref_cmp(&a->v.dec, &b->v.dec);
    default:
        return 0;
    }
}

static bool slice_same(cm_slice a, cm_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool tu_datum_same(const cm_datum *orig, const cm_datum *decoded, bool key)
{
    const cm_datum *a = orig, *b = decoded;
    if (a->type != b->type) {
        return false;
    }
    switch (a->type) {
    case CM_DT_NULL:
        return true;
    case CM_DT_INT64:
    case CM_DT_TIME:
        return a->v.i64 == b->v.i64;
    case CM_DT_UINT64:
    case CM_DT_DATE:
    case CM_DT_DATETIME:
    case CM_DT_TIMESTAMP:
    case CM_DT_YEAR:
    case CM_DT_ENUM:
    case CM_DT_SET:
    case CM_DT_BIT:
        return a->v.u64 == b->v.u64;
    case CM_DT_FLOAT64:
    case CM_DT_FLOAT32: {
        /* Bit-exact; in keys -0.0 comes back as +0.0. */
        double x = key && a->v.f64 == 0 ? 0.0 : a->v.f64;
        return memcmp(&x, &b->v.f64, sizeof(x)) == 0;
    }
    case CM_DT_BYTES:
    case CM_DT_JSON:
        return slice_same(a->v.bytes, b->v.bytes);
    case CM_DT_STRING: {
        cm_slice x = a->v.bytes;
        while (key && x.len > 0 && x.ptr[x.len - 1] == ' ') {
            x.len--;
        }
        return slice_same(x, b->v.bytes);
    }
    case CM_DT_DECIMAL: {
        const cm_decimal *x = &a->v.dec, *y = &b->v.dec;
        unsigned frac = x->frac;
        if (key) { /* the smallest scale holding the value */
            while (frac > 0 && x->digits[x->intg + frac - 1] == 0) {
                frac--;
            }
        }
        return y->neg == x->neg && y->intg == x->intg && y->frac == frac &&
               memcmp(x->digits, y->digits, x->intg + frac) == 0;
    }
    default:
        return false;
    }
}
