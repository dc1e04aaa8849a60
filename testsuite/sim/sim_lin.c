/*
 * sim_lin.c — Wing–Gong linearizability search with Lowe's memoization (see sim_lin.h).
 *
 * The history becomes a doubly linked list of call and return events in time order. The search
 * walks it: at a call, it tries to linearize that operation now (the register model must accept
 * it and the (set, value) configuration must be new), removing the op's events from the list and
 * starting over from the head; at a return whose op is still unlinearized, it backtracks. It
 * succeeds once no return event is left: the remaining (pending) ops are free to never happen.
 */
#include "sim_lin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Configurations explored before giving up (memory: 16 bytes each, at most ~64 MiB). */
#define LIN_BUDGET (4u * 1024 * 1024)

typedef struct lin_ev {
    uint64_t t;
    int op;
    bool call;
    int prev;
    int next;
} lin_ev;

typedef struct lin_cache {
    uint64_t *mask;
    uint64_t *val;
    uint8_t *used;
    size_t cap;
    size_t n;
} lin_cache;

static uint64_t hash2(uint64_t a, uint64_t b)
{
    uint64_t x = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull + (a << 6));
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    return x;
}

static int cache_grow(lin_cache *c)
{
    size_t ncap = c->cap ? c->cap * 2 : 1024;
    uint64_t *m = calloc(ncap, sizeof(*m));
    uint64_t *v = calloc(ncap, sizeof(*v));
    uint8_t *u = calloc(ncap, 1);
    if (m == NULL || v == NULL || u == NULL) {
        free(m);
        free(v);
        free(u);
        return -1;
    }
    for (size_t i = 0; i < c->cap; i++) {
        if (!c->used[i]) {
            continue;
        }
        size_t j = hash2(c->mask[i], c->val[i]) & (ncap - 1);
        while (u[j]) {
            j = (j + 1) & (ncap - 1);
        }
        u[j] = 1;
        m[j] = c->mask[i];
        v[j] = c->val[i];
    }
    free(c->mask);
    free(c->val);
    free(c->used);
    c->mask = m;
    c->val = v;
    c->used = u;
    c->cap = ncap;
    return 0;
}

/* 1 inserted, 0 already present, -1 out of memory or budget. */
static int cache_insert(lin_cache *c, uint64_t mask, uint64_t val)
{
    if (c->n * 2 >= c->cap) {
        if (c->n >= LIN_BUDGET || cache_grow(c) != 0) {
            return -1;
        }
    }
    size_t j = hash2(mask, val) & (c->cap - 1);
    while (c->used[j]) {
        if (c->mask[j] == mask && c->val[j] == val) {
            return 0;
        }
        j = (j + 1) & (c->cap - 1);
    }
    c->used[j] = 1;
    c->mask[j] = mask;
    c->val[j] = val;
    c->n++;
    return 1;
}

static int cmp_ev(const void *a, const void *b)
{
    const lin_ev *x = a, *y = b;
    if (x->t != y->t) {
        return x->t < y->t ? -1 : 1;
    }
    /* Equal times do not occur (event numbers are unique); keep calls first to be safe. */
    return (int)y->call - (int)x->call;
}

static void unlink_ev(lin_ev *e, int i)
{
    e[e[i].prev].next = e[i].next;
    e[e[i].next].prev = e[i].prev;
}

static void relink_ev(lin_ev *e, int i)
{
    e[e[i].prev].next = i;
    e[e[i].next].prev = i;
}

sim_lin_result sim_lin_check(const sim_lin_op *ops, size_t n, uint64_t initial, char *why,
                             size_t why_len)
{
    if (why_len > 0) {
        why[0] = 0;
    }
    if (n == 0) {
        return SIM_LIN_OK;
    }
    if (n > SIM_LIN_OPS_MAX) {
        snprintf(why, why_len, "%zu operations on one key (max %d)", n, SIM_LIN_OPS_MAX);
        return SIM_LIN_TOO_BIG;
    }
    /* Events 1..m; 0 is the head sentinel and m+1 the tail sentinel. */
    lin_ev ev[2 * SIM_LIN_OPS_MAX + 2];
    int call_of[SIM_LIN_OPS_MAX], ret_of[SIM_LIN_OPS_MAX];
    size_t m = 0;
    lin_ev tmp[2 * SIM_LIN_OPS_MAX];
    for (size_t i = 0; i < n; i++) {
        tmp[m++] = (lin_ev){ops[i].call, (int)i, true, 0, 0};
        if (ops[i].ret != SIM_LIN_PENDING) {
            tmp[m++] = (lin_ev){ops[i].ret, (int)i, false, 0, 0};
        }
    }
    qsort(tmp, m, sizeof(tmp[0]), cmp_ev);
    int tail = (int)m + 1;
    ev[0] = (lin_ev){0, -1, false, -1, 1};
    for (size_t i = 0; i < m; i++) {
        ev[i + 1] = tmp[i];
        ev[i + 1].prev = (int)i;
        ev[i + 1].next = (int)i + 2;
        if (tmp[i].call) {
            call_of[tmp[i].op] = (int)i + 1;
            ret_of[tmp[i].op] = -1;
        }
    }
    for (size_t i = 0; i < m; i++) {
        if (!ev[i + 1].call) {
            ret_of[ev[i + 1].op] = (int)i + 1;
        }
    }
    ev[tail] = (lin_ev){UINT64_MAX, -1, false, (int)m, -1};

    size_t returns_left = 0;
    for (size_t i = 0; i < n; i++) {
        returns_left += ops[i].ret != SIM_LIN_PENDING;
    }
    lin_cache cache = {0};
    struct {
        int op;
        uint64_t prev_state;
    } stack[SIM_LIN_OPS_MAX];
    int depth = 0, best_depth = -1, blocked_op = -1;
    uint64_t state = initial, mask = 0;
    sim_lin_result res = SIM_LIN_VIOLATION;
    int cur = ev[0].next;
    for (;;) {
        if (returns_left == 0) {
            res = SIM_LIN_OK;
            break;
        }
        if (cur == tail) {
            /* Cannot happen while returns remain; treat as a dead end. */
            cur = -1;
        }
        if (cur != -1 && ev[cur].call) {
            int op = ev[cur].op;
            const sim_lin_op *o = &ops[op];
            bool ok = o->write || o->value == state;
            uint64_t next_state = o->write ? o->value : state;
            if (ok) {
                int ins = cache_insert(&cache, mask | (1ull << op), next_state);
                if (ins < 0) {
                    snprintf(why, why_len, "search budget exhausted");
                    res = SIM_LIN_TOO_BIG;
                    break;
                }
                if (ins == 1) {
                    stack[depth].op = op;
                    stack[depth].prev_state = state;
                    depth++;
                    state = next_state;
                    mask |= 1ull << op;
                    unlink_ev(ev, call_of[op]);
                    if (ret_of[op] >= 0) {
                        unlink_ev(ev, ret_of[op]);
                        returns_left--;
                    }
                    cur = ev[0].next;
                    continue;
                }
            }
            cur = ev[cur].next;
            continue;
        }
        /* A return event of an op not yet linearized (or a dead end): backtrack. */
        if (depth > best_depth && cur != -1) {
            best_depth = depth;
            blocked_op = ev[cur].op;
        }
        if (depth == 0) {
            break;
        }
        depth--;
        int op = stack[depth].op;
        state = stack[depth].prev_state;
        mask &= ~(1ull << op);
        if (ret_of[op] >= 0) {
            relink_ev(ev, ret_of[op]);
            returns_left++;
        }
        relink_ev(ev, call_of[op]);
        cur = ev[call_of[op]].next;
    }
    if (res == SIM_LIN_VIOLATION && blocked_op >= 0) {
        const sim_lin_op *o = &ops[blocked_op];
        snprintf(
            why, why_len, "op %llu (%s %llu, called at %llu, returned at %llu) cannot be placed",
            (unsigned long long)o->id, o->write ? "write" : "read returning",
            (unsigned long long)o->value, (unsigned long long)o->call, (unsigned long long)o->ret);
    }
    free(cache.mask);
    free(cache.val);
    free(cache.used);
    return res;
}
