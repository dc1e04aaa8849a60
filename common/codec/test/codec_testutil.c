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

static int type_rank(cm_dtype t)
{
    /* The order of types is the order of their flags in cm_codec.h. */
    switch (t) {
    case CM_DT_NULL:
        return 0;
    case CM_DT_BYTES:
        return 1;
    case CM_DT_INT64:
        return 3;
    case CM_DT_UINT64:
        return 4;
    case CM_DT_FLOAT64:
        return 5;
    default:
        return 99;
    }
}

#define CMP3(a, b) ((a) < (b) ? -1 : ((a) > (b) ? 1 : 0))

int tu_sign(int c)
{
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

int tu_datum_cmp(const cm_datum *a, const cm_datum *b)
{
    int ra = type_rank(a->type), rb = type_rank(b->type);
    if (ra != rb) {
        return CMP3(ra, rb);
    }
    switch (a->type) {
    case CM_DT_INT64:
        return CMP3(a->v.i64, b->v.i64);
    case CM_DT_UINT64:
        return CMP3(a->v.u64, b->v.u64);
    case CM_DT_FLOAT64:
        return CMP3(a->v.f64, b->v.f64);
    case CM_DT_BYTES: {
        size_t n = a->v.bytes.len < b->v.bytes.len ? a->v.bytes.len : b->v.bytes.len;
        for (size_t i = 0; i < n; i++) {
            if (a->v.bytes.ptr[i] != b->v.bytes.ptr[i]) {
                return CMP3(a->v.bytes.ptr[i], b->v.bytes.ptr[i]);
            }
        }
        return CMP3(a->v.bytes.len, b->v.bytes.len);
    }
    default:
        return 0;
    }
}

int tu_datum_same(const cm_datum *a, const cm_datum *b)
{
    if (a->type != b->type) {
        return 0;
    }
    switch (a->type) {
    case CM_DT_NULL:
        return 1;
    case CM_DT_INT64:
        return a->v.i64 == b->v.i64;
    case CM_DT_UINT64:
        return a->v.u64 == b->v.u64;
    case CM_DT_FLOAT64: {
        /* Bit-exact, except that -0.0 comes back as +0.0. */
        double x = a->v.f64 == 0 ? 0.0 : a->v.f64;
        double y = b->v.f64 == 0 ? 0.0 : b->v.f64;
        return memcmp(&x, &y, sizeof(x)) == 0 && !signbit(b->v.f64 == 0 ? b->v.f64 : 1.0);
    }
    case CM_DT_BYTES:
        return a->v.bytes.len == b->v.bytes.len &&
               (a->v.bytes.len == 0 || memcmp(a->v.bytes.ptr, b->v.bytes.ptr, a->v.bytes.len) == 0);
    default:
        return 0;
    }
}
