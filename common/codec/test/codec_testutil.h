/*
 * codec_testutil.h — what the codec tests share: a seeded PRNG (the seed is printed as a TAP
 * comment and can be replayed with CM_TEST_SEED=<n>), generators of values that favour edge
 * cases and near-equal pairs, and a reference comparison of datums written independently of the
 * encodings, against which the memcmp order of encodings is checked.
 */
#ifndef CODEC_TESTUTIL_H
#define CODEC_TESTUTIL_H

#include "cm_codec.h"

#include <stdint.h>

/* Seeds the PRNG from CM_TEST_SEED or the clock and prints "# <name> seed=<n>". */
uint64_t tu_seed(const char *name);
uint64_t tu_next(void);
/* Uniform in [0, n); n > 0. */
uint64_t tu_below(uint64_t n);
/* True with probability pct/100. */
int tu_chance(unsigned pct);

int64_t tu_rand_int64(void);
uint64_t tu_rand_uint64(void);
/* Never NaN; includes ±0, ±inf, subnormals, extremes. */
double tu_rand_float64(void);
/* Random bytes into buf (capacity cap >= 64); returns the length. Lengths favour 0, 7, 8, 9, 16
 * and bytes favour 0x00 and 0xFF so that prefixes and padding collide. */
size_t tu_rand_bytes(uint8_t *buf, size_t cap);
/* A second value near the first: equal, a prefix, an extension, or the last byte nudged. */
size_t tu_near_bytes(const uint8_t *a, size_t alen, uint8_t *buf, size_t cap);

/* Reference order of datums: by type (NULL first, then the flag order of cm_codec.h), then by
 * value (-0.0 equals +0.0). Returns -1, 0 or 1. */
int tu_datum_cmp(const cm_datum *a, const cm_datum *b);
/* Exact equality after a round trip (-0.0 comes back as +0.0). */
int tu_datum_same(const cm_datum *a, const cm_datum *b);
/* -1, 0, 1 for memcmp order of slices (shorter first on a common prefix). */
int tu_sign(int c);

#endif
