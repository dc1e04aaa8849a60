/* sim_lin.c — see sim_lin.h. */
#include "sim_lin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* States explored before giving up (memory: 16 bytes each, doubled for the hash table). */
#define SIM_LIN_STATES_MAX (1u << 20)

typedef struct memo {
    uint64_t *mask;
    uint64_t *value;
    size_t cap;
    size_t n;
} memo;

static uint64_t mix(uint64_t a, uint64_t b)
{
    uint64_t x = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull);
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    return x ^ (x >> 29);
}

/* Inserts (m, v); returns false when already present (or on no memory / budget). */
static bool memo_add(memo *t, uint64_t m, uint64_t v, bool *full)
{
    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        if (t->n >= SIM_LIN_STATES_MAX) {
            *full = true;
            return false;
        }
        uint64_t *nm = calloc(cap, sizeof(*nm)), *nv = calloc(cap, sizeof(*nv));
        if (nm == NULL || nv == NULL) {
            free(nm);
            free(nv);
            *full = true;
            return false;
        }
        for (size_t i = 0; i < t->cap; i++) {
            if (t->mask[i] != 0) {
                size_t j = mix(t->mask[i], t->value[i]) & (cap - 1);
                while (nm[j] != 0) {
                    j = (j + 1) & (cap - 1);
                }
                nm[j] = t->mask[i];
                nv[j] = t->value[i];
            }
        }
        free(t->mask);
        free(t->value);
        t->mask = nm;
        t->value = nv;
        t->cap = cap;
    }
    /* mask 0 never reaches here (the root is not memoized), so 0 marks an empty slot */
    size_t j = mix(m, v) & (t->cap - 1);
    while (t->mask[j] != 0) {
        if (t->mask[j] == m && t->value[j] == v) {
            return false;
        }
        j = (j + 1) & (t->cap - 1);
    }
    t->mask[j] = m;
    t->value[j] = v;
    t->n++;
    return true;
}

static int by_invoke(const void *a, const void *b)
{
    const sim_lin_op *x = a, *y = b;
    return x->invoke < y->invoke ? -1 : x->invoke > y->invoke;
}

typedef struct frame {
    uint64_t mask;
    uint64_t value;
    size_t next; /* next candidate index to try */
} frame;

sim_lin_result sim_lin_check(sim_lin_op *ops, size_t n, char *why, size_t why_len)
{
    if (n == 0) {
        return SIM_LIN_OK;
    }
    if (n > SIM_LIN_OPS_MAX) {
        snprintf(why, why_len, "too many operations (%zu)", n);
        return SIM_LIN_INCONCLUSIVE;
    }
    qsort(ops, n, sizeof(*ops), by_invoke);
    uint64_t must = 0; /* operations that must be linearized: all but unknown writes */
    for (size_t i = 0; i < n; i++) {
        if (ops[i].complete != SIM_LIN_UNKNOWN) {
            must |= 1ull << i;
        }
    }
    memo t = {0};
    frame stack[SIM_LIN_OPS_MAX + 1];
    size_t sp = 0;
    stack[0].mask = 0;
    stack[0].value = 0;
    stack[0].next = 0;
    bool full = false;
    sim_lin_result res = SIM_LIN_VIOLATION;
    size_t deepest = 0;
    uint64_t deepest_mask = 0;
    for (;;) {
        frame *f = &stack[sp];
        if ((f->mask & must) == must) {
            res = SIM_LIN_OK;
            break;
        }
        /* Earliest completion among the operations not yet linearized. */
        uint64_t horizon = SIM_LIN_UNKNOWN;
        for (size_t i = 0; i < n; i++) {
            if (!(f->mask & (1ull << i)) && ops[i].complete < horizon) {
                horizon = ops[i].complete;
            }
        }
        bool pushed = false;
        while (f->next < n) {
            size_t i = f->next++;
            if ((f->mask & (1ull << i)) || ops[i].invoke > horizon) {
                continue;
            }
            uint64_t value = f->value;
            if (ops[i].kind == SIM_LIN_WRITE) {
                value = ops[i].value;
            } else if (ops[i].value != f->value) {
                continue;
            }
            uint64_t mask = f->mask | (1ull << i);
            if (!memo_add(&t, mask, value, &full)) {
                if (full) {
                    break;
                }
                continue;
            }
            sp++;
            stack[sp].mask = mask;
            stack[sp].value = value;
            stack[sp].next = 0;
            if (sp > deepest) {
                deepest = sp;
                deepest_mask = mask;
            }
            pushed = true;
            break;
        }
        if (full) {
            res = SIM_LIN_INCONCLUSIVE;
            snprintf(why, why_len, "search budget exhausted");
            break;
        }
        if (!pushed) {
            if (sp == 0) {
                break;
            }
            sp--;
        }
    }
    if (res == SIM_LIN_VIOLATION) {
        /* Name the first operation the longest linearization could not place. */
        for (size_t i = 0; i < n; i++) {
            if (!(deepest_mask & (1ull << i)) && (must & (1ull << i))) {
                snprintf(why, why_len,
                         "no linearization: stuck at %s of %llu invoked at %llu completed at %llu "
                         "(%zu of %zu placed)",
                         ops[i].kind == SIM_LIN_WRITE ? "write" : "read",
                         (unsigned long long)ops[i].value, (unsigned long long)ops[i].invoke,
                         (unsigned long long)ops[i].complete, deepest, n);
                break;
            }
        }
    }
    free(t.mask);
    free(t.value);
    return res;
}
