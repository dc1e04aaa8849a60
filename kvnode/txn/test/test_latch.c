/*
 * test_latch.c — per-key latches: slot hashing and de-duplication, all-or-nothing try-acquire,
 * mutual exclusion under threads, and deadlock freedom with overlapping key sets taken in every
 * order (a watchdog fails the test instead of hanging it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kv_latch.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static cm_slice K(const char *s)
{
    return cm_slice_cstr(s);
}

static void t_basics(void **state)
{
    (void)state;
    kv_latches *l;
    cm_err err;
    assert_int_equal(kv_latches_new(1000, &l, &err), 0); /* rounded up to 1024 */
    assert_true(kv_latch_slot(l, K("a")) < 1024);
    assert_int_equal(kv_latch_slot(l, K("abc")), kv_latch_slot(l, K("abc")));
    /* Duplicate keys collapse to one slot, sorted. */
    cm_slice keys[4] = {K("k2"), K("k1"), K("k2"), K("k1")};
    kv_latch_guard g;
    assert_int_equal(kv_latch_acquire(l, keys, 4, &g, &err), 0);
    assert_true(g.n >= 1 && g.n <= 2);
    for (size_t i = 1; i < g.n; i++) {
        assert_true(g.slots[i - 1] < g.slots[i]);
    }
    /* try-acquire: all or nothing. */
    cm_slice other[2] = {K("free-key-x"), K("k1")};
    kv_latch_guard g2;
    assert_int_equal(kv_latch_try_acquire(l, other, 2, &g2, &err), CM_E_BUSY);
    assert_int_equal(g2.n, 0);
    /* ... so "free-key-x" was not left held: */
    kv_latch_guard g3;
    cm_slice fx = K("free-key-x");
    if (kv_latch_slot(l, fx) != kv_latch_slot(l, K("k1")) &&
        kv_latch_slot(l, fx) != kv_latch_slot(l, K("k2"))) {
        assert_int_equal(kv_latch_try_acquire(l, &fx, 1, &g3, &err), 0);
        kv_latch_release(l, &g3);
    }
    kv_latch_release(l, &g);
    assert_int_equal(g.n, 0);
    assert_int_equal(kv_latch_try_acquire(l, other, 2, &g2, &err), 0);
    kv_latch_release(l, &g2);
    /* An empty guard. */
    assert_int_equal(kv_latch_acquire(l, NULL, 0, &g, &err), 0);
    kv_latch_release(l, &g);
    kv_latches_free(l);
    assert_int_equal(kv_latches_new((size_t)KV_LATCH_SLOTS_MAX + 1, &l, &err), CM_E_INVALID);
}

/* ---- threads ----------------------------------------------------------------------------------
 */

#define NKEYS    24
#define NTHREADS 6
#define ROUNDS   3000

typedef struct shared {
    kv_latches *l;
    int inside[NKEYS];   /* threads inside the critical section of key i (must stay <= 1) */
    long counter[NKEYS]; /* plain increments under the latch: lost updates show a race */
    long expected[NKEYS];
    int violations;
    pthread_mutex_t mu; /* guards expected and violations only */
    int done_threads;
    uint64_t seed;
} shared;

static char key_names[NKEYS][8];

typedef struct worker {
    shared *s;
    int id;
    int release_elsewhere; /* hand the guard to a helper thread to release (as apply does) */
} worker;

static void *release_main(void *arg)
{
    void **a = arg;
    kv_latch_release(a[0], a[1]);
    return NULL;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    shared *s = w->s;
    uint64_t rng = s->seed * 1000 + (uint64_t)w->id;
    for (int r = 0; r < ROUNDS; r++) {
        /* 1..5 keys in a random order, with repeats: overlapping sets in every order. */
        int n = 1 + (int)((rng = rng * 6364136223846793005ull + 1442695040888963407ull) >> 61);
        cm_slice keys[8];
        int idx[8];
        for (int i = 0; i < n; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            idx[i] = (int)((rng >> 33) % NKEYS);
            keys[i] = K(key_names[idx[i]]);
        }
        kv_latch_guard g;
        if (r % 7 == 0) {
            while (kv_latch_try_acquire(s->l, keys, (size_t)n, &g, NULL) == CM_E_BUSY) {
                sched_yield();
            }
        } else {
            assert_int_equal(kv_latch_acquire(s->l, keys, (size_t)n, &g, NULL), 0);
        }
        int uniq[8], nu = 0;
        for (int i = 0; i < n; i++) {
            int dup = 0;
            for (int j = 0; j < nu; j++) {
                dup |= uniq[j] == idx[i];
            }
            if (!dup) {
                uniq[nu++] = idx[i];
            }
        }
        for (int i = 0; i < nu; i++) {
            if (__atomic_add_fetch(&s->inside[uniq[i]], 1, __ATOMIC_SEQ_CST) != 1) {
                pthread_mutex_lock(&s->mu);
                s->violations++;
                pthread_mutex_unlock(&s->mu);
            }
        }
        for (int i = 0; i < nu; i++) {
            long c = s->counter[uniq[i]];
            if ((r & 3) == 0) {
                sched_yield(); /* widen the window a race would need */
            }
            s->counter[uniq[i]] = c + 1;
        }
        pthread_mutex_lock(&s->mu);
        for (int i = 0; i < nu; i++) {
            s->expected[uniq[i]]++;
        }
        pthread_mutex_unlock(&s->mu);
        for (int i = 0; i < nu; i++) {
            __atomic_sub_fetch(&s->inside[uniq[i]], 1, __ATOMIC_SEQ_CST);
        }
        if (w->release_elsewhere && r % 5 == 0) {
            void *a[2] = {s->l, &g};
            pthread_t th;
            assert_int_equal(pthread_create(&th, NULL, release_main, a), 0);
            pthread_join(th, NULL);
        } else {
            kv_latch_release(s->l, &g);
        }
    }
    __atomic_add_fetch(&s->done_threads, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void run_threads(uint64_t seed, size_t slots)
{
    shared *s = calloc(1, sizeof(*s));
    s->seed = seed;
    pthread_mutex_init(&s->mu, NULL);
    assert_int_equal(kv_latches_new(slots, &s->l, NULL), 0);
    pthread_t th[NTHREADS];
    worker w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i].s = s;
        w[i].id = i;
        w[i].release_elsewhere = i % 2;
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    /* Watchdog: a deadlock would leave threads stuck forever; fail after 60 s instead. */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (__atomic_load_n(&s->done_threads, __ATOMIC_SEQ_CST) == NTHREADS) {
            break;
        }
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (t1.tv_sec - t0.tv_sec > 60) {
            fail_msg("latch workers did not finish within 60 s: deadlock");
        }
        usleep(2000);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
    }
    assert_int_equal(s->violations, 0);
    long total = 0;
    for (int k = 0; k < NKEYS; k++) {
        assert_int_equal(s->counter[k], s->expected[k]);
        total += s->counter[k];
    }
    assert_true(total >= NTHREADS * ROUNDS);
    kv_latches_free(s->l);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void t_threads_many_slots(void **state)
{
    (void)state;
    run_threads(1, 4096);
}

/* Few slots: distinct keys collide all the time, so ordering by slot is what prevents
 * deadlock (ordering by key would not). */
static void t_threads_few_slots(void **state)
{
    (void)state;
    run_threads(2, 8);
}

int main(void)
{
    for (int i = 0; i < NKEYS; i++) {
        snprintf(key_names[i], sizeof(key_names[i]), "key%d", i);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_basics),
        cmocka_unit_test(t_threads_many_slots),
        cmocka_unit_test(t_threads_few_slots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
