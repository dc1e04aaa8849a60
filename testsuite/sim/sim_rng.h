/*
 * sim_rng.h — the simulator's one random source: xoshiro256** seeded through splitmix64. Every
 * random decision of a run (faults, delays, clients, Raft's election timeouts) draws from one
 * instance in a fixed order, so a seed replays the whole run exactly.
 */
#ifndef SIM_RNG_H
#define SIM_RNG_H

#include <stdbool.h>
#include <stdint.h>

typedef struct sim_rng {
    uint64_t s[4];
} sim_rng;

static inline uint64_t sim_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline void sim_rng_seed(sim_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        r->s[i] = sim_splitmix64(&x);
    }
}

static inline uint64_t sim_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t sim_rng_next(sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = sim_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sim_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, n); 0 when n is 0 (nothing drawn). The modulo bias is irrelevant at these
 * sizes. */
static inline uint64_t sim_rng_below(sim_rng *r, uint64_t n)
{
    return n == 0 ? 0 : sim_rng_next(r) % n;
}

/* Uniform in [lo, hi]. */
static inline uint64_t sim_rng_range(sim_rng *r, uint64_t lo, uint64_t hi)
{
    return lo + sim_rng_below(r, hi - lo + 1);
}

/* True with probability ppm / 1,000,000. */
static inline bool sim_rng_chance(sim_rng *r, uint32_t ppm)
{
    return sim_rng_below(r, 1000000) < ppm;
}

/* A 64-bit mixer for hashes and trace digests. */
static inline uint64_t sim_mix(uint64_t h, uint64_t v)
{
    uint64_t x = h ^ (v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2));
    return sim_splitmix64(&x);
}

#endif
