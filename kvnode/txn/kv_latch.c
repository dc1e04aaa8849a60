/*
 * kv_latch.c — hash-slot latches; see kv_latch.h.
 *
 * A slot is one byte (held or not). Slots are guarded by a small array of stripes, each a mutex
 * and a condition variable, because a pthread mutex per slot would cost 40+ bytes each and could
 * not be released from another thread anyway. A waiter sleeps on its slot's stripe; a release
 * broadcasts on the stripes of the slots it frees.
 */
#include "kv_latch.h"

#include "cm_assert.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define STRIPES 64

typedef struct stripe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
} stripe;

struct kv_latches {
    uint32_t mask; /* slots - 1 */
    uint8_t *held; /* one flag per slot, guarded by its stripe */
    stripe stripes[STRIPES];
};

static stripe *stripe_of(kv_latches *l, uint32_t slot)
{
    return &l->stripes[slot % STRIPES];
}

int kv_latches_new(size_t slots, kv_latches **out, cm_err *err)
{
    *out = NULL;
    if (slots == 0) {
        slots = KV_LATCH_SLOTS_DEFAULT;
    }
    if (slots > KV_LATCH_SLOTS_MAX) {
        return cm_err_set(err, CM_E_INVALID, "latches: %zu slots (max %u)", slots,
                          KV_LATCH_SLOTS_MAX);
    }
    size_t n = 1;
    while (n < slots) {
        n <<= 1;
    }
    kv_latches *l = calloc(1, sizeof(*l));
    if (l == NULL || (l->held = calloc(n, 1)) == NULL) {
        free(l);
        return cm_err_set(err, CM_E_NOMEM, "latches: out of memory");
    }
    l->mask = (uint32_t)(n - 1);
    for (int i = 0; i < STRIPES; i++) {
        pthread_mutex_init(&l->stripes[i].mu, NULL);
        pthread_cond_init(&l->stripes[i].cv, NULL);
    }
    *out = l;
    return 0;
}

void kv_latches_free(kv_latches *l)
{
    if (l == NULL) {
        return;
    }
    for (uint32_t i = 0; i <= l->mask; i++) {
        CM_ASSERT(l->held[i] == 0);
    }
    for (int i = 0; i < STRIPES; i++) {
        pthread_mutex_destroy(&l->stripes[i].mu);
        pthread_cond_destroy(&l->stripes[i].cv);
    }
    free(l->held);
    free(l);
}

uint32_t kv_latch_slot(const kv_latches *l, cm_slice key)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then a finalizer to spread short keys */
    for (size_t i = 0; i < key.len; i++) {
        h = (h ^ key.ptr[i]) * 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (uint32_t)h & l->mask;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Fills g with the sorted, distinct slots of keys. */
static int guard_fill(kv_latches *l, const cm_slice *keys, size_t n, kv_latch_guard *g, cm_err *err)
{
    g->slots = NULL;
    g->n = 0;
    if (n == 0) {
        return 0;
    }
    g->slots = malloc(n * sizeof(uint32_t));
    if (g->slots == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "latches: out of memory for %zu keys", n);
    }
    for (size_t i = 0; i < n; i++) {
        g->slots[i] = kv_latch_slot(l, keys[i]);
    }
    qsort(g->slots, n, sizeof(uint32_t), cmp_u32);
    size_t m = 1;
    for (size_t i = 1; i < n; i++) {
        if (g->slots[i] != g->slots[m - 1]) {
            g->slots[m++] = g->slots[i];
        }
    }
    g->n = m;
    return 0;
}

static void release_slots(kv_latches *l, const uint32_t *slots, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        stripe *s = stripe_of(l, slots[i]);
        pthread_mutex_lock(&s->mu);
        CM_ASSERT(l->held[slots[i]] == 1);
        l->held[slots[i]] = 0;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
}

int kv_latch_acquire(kv_latches *l, const cm_slice *keys, size_t n, kv_latch_guard *g, cm_err *err)
{
    int rc = guard_fill(l, keys, n, g, err);
    if (rc != 0) {
        return rc;
    }
    /* Ascending slot order: a command only ever waits for a slot above every slot it holds, so
     * no cycle of waiters can form. */
    for (size_t i = 0; i < g->n; i++) {
        stripe *s = stripe_of(l, g->slots[i]);
        pthread_mutex_lock(&s->mu);
        while (l->held[g->slots[i]]) {
            pthread_cond_wait(&s->cv, &s->mu);
        }
        l->held[g->slots[i]] = 1;
        pthread_mutex_unlock(&s->mu);
    }
    return 0;
}

int kv_latch_try_acquire(kv_latches *l, const cm_slice *keys, size_t n, kv_latch_guard *g,
                         cm_err *err)
{
    int rc = guard_fill(l, keys, n, g, err);
    if (rc != 0) {
        return rc;
    }
    for (size_t i = 0; i < g->n; i++) {
        stripe *s = stripe_of(l, g->slots[i]);
        pthread_mutex_lock(&s->mu);
        bool busy = l->held[g->slots[i]] != 0;
        if (!busy) {
            l->held[g->slots[i]] = 1;
        }
        pthread_mutex_unlock(&s->mu);
        if (busy) {
            release_slots(l, g->slots, i);
            free(g->slots);
            g->slots = NULL;
            g->n = 0;
            return cm_err_set(err, CM_E_BUSY, "latches: a key is latched by another command");
        }
    }
    return 0;
}

void kv_latch_release(kv_latches *l, kv_latch_guard *g)
{
    release_slots(l, g->slots, g->n);
    free(g->slots);
    g->slots = NULL;
    g->n = 0;
}
