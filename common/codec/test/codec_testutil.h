/*
 * codec_testutil.h — what the codec tests share: a seeded PRNG (the seed is printed as a TAP
 * comment and can be replayed with CM_TEST_SEED=<n>), generators of values of every storage type
 * that favour edge cases and near-equal pairs, and a reference order of datums written
 * independently of the encodings, against which the memcmp order of encodings is checked.
 */
#ifndef CODEC_TESTUTIL_H
#define CODEC_TESTUTIL_H

#include "cm_codec.h"

#include <stdbool.h>
#include <stdint.h>

/* Room a generated payload (bytes, string, JSON) may take. */
#define TU_PAYLOAD_CAP 64

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

/* A random valid value of type t (never NULL); payloads go to buf (TU_PAYLOAD_CAP bytes). */
cm_datum tu_rand_datum(cm_dtype t, uint8_t *buf);
/* A value of a's type near a: often equal (or equal under the type's order, like "a" and "a  "
 * or 1.5 and 1.50), or one step away; payloads go to buf. */
cm_datum tu_near_datum(const cm_datum *a, uint8_t *buf);
/* Types that can be in a key (all but NULL and JSON), and every non-NULL type. */
extern const cm_dtype tu_key_types[];
extern const size_t tu_key_types_n;
extern const cm_dtype tu_row_types[];
extern const size_t tu_row_types_n;

/* Reference order of datums: by type (the flag order of cm_codec.h, NULL first), then by value:
 * -0.0 equals +0.0, strings compare PAD SPACE, decimals by value whatever their scale, temporal
 * values field by field. Returns -1, 0 or 1. */
int tu_datum_cmp(const cm_datum *a, const cm_datum *b);
/* Whether decoded is what encoding orig must give back: exactly (row codec), or with key
 * semantics (key = true): -0.0 as +0.0, strings without trailing spaces, decimals by value with
 * the smallest scale. */
bool tu_datum_same(const cm_datum *orig, const cm_datum *decoded, bool key);
/* -1, 0, 1 for the sign of c. */
int tu_sign(int c);

#endif
