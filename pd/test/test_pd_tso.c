/* Unit tests for pd/tso: monotonicity across restarts, clock steps and logical exhaustion, with
 * an injected clock and the in-memory store that loses unsynced writes at a "crash". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_log.h"
#include "pd_kv.h"
#include "pd_tso.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct fake_clock {
    _Atomic uint64_t now_ms;
} fake_clock;

static uint64_t fake_now(void *user)
{
    return atomic_load(&((fake_clock *)user)->now_ms);
}

#define T0 1700000000000ull /* a realistic wall clock in ms */

static void open_tso(pd_tso *t, pd_kv *kv, fake_clock *c, uint64_t window)
{
    cm_err err;
    assert_int_equal(pd_tso_init(t, kv, fake_now, c, window, &err), 0);
}

static uint64_t stored_mark(pd_kv *kv)
{
    uint64_t m = 0;
    cm_err err;
    assert_int_equal(pd_kv_get_u64(kv, "tso/mark", &m, &err), 0);
    return m;
}

static void test_basic_layout_and_count(void **state)
{
    (void)state;
    pd_kv kv;
    cm_err err;
    assert_int_equal(pd_kv_mem_open(&kv, &err), 0);
    fake_clock c = {T0};
    pd_tso t;
    open_tso(&t, &kv, &c, 3000);
    uint64_t a, b, d;
    assert_int_equal(pd_tso_alloc(&t, 1, &a, &err), 0);
    assert_int_equal(pd_tso_physical(a), T0);
    assert_int_equal(pd_tso_logical(a), 0);
    assert_int_equal(pd_tso_alloc(&t, 10, &b, &err), 0);
    assert_int_equal(b, a + 1); /* same millisecond: next logical */
    assert_int_equal(pd_tso_alloc(&t, 1, &d, &err), 0);
    assert_int_equal(d, b + 10); /* the 10 of the batch were b .. b+9 */
    atomic_store(&c.now_ms, T0 + 5);
    assert_int_equal(pd_tso_alloc(&t, 1, &d, &err), 0);
    assert_int_equal(pd_tso_physical(d), T0 + 5);
    assert_int_equal(pd_tso_logical(d), 0);
    /* The mark was persisted a window ahead before the first timestamp was handed out. */
    assert_true(stored_mark(&kv) >= T0 + 3000);
    assert_int_equal(pd_tso_alloc(&t, 0, &d, &err), CM_E_INVALID);
    assert_int_equal(pd_tso_alloc(&t, PD_TSO_COUNT_MAX + 1, &d, &err), CM_E_INVALID);
    pd_tso_fini(&t);
    pd_kv_close(&kv);
}

static void test_one_sync_per_window(void **state)
{
    (void)state;
    pd_kv kv;
    cm_err err;
    assert_int_equal(pd_kv_mem_open(&kv, &err), 0);
    fake_clock c = {T0};
    pd_tso t;
    open_tso(&t, &kv, &c, 3000);
    uint64_t ts;
    assert_int_equal(pd_tso_alloc(&t, 1, &ts, &err), 0);
    int syncs = pd_kv_mem_sync_count(&kv);
    assert_int_equal(syncs, 1);
    /* Within the window: no further sync, whatever the number of requests. */
    for (int i = 0; i < 2999; i++) {
        atomic_store(&c.now_ms, T0 + (uint64_t)i);
        assert_int_equal(pd_tso_alloc(&t, 3, &ts, &err), 0);
    }
    assert_int_equal(pd_kv_mem_sync_count(&kv), syncs);
    /* Past the mark: one more sync, before the timestamp is returned. */
    atomic_store(&c.now_ms, T0 + 3001);
    assert_int_equal(pd_tso_alloc(&t, 1, &ts, &err), 0);
    assert_int_equal(pd_kv_mem_sync_count(&kv), syncs + 1);
    assert_true(stored_mark(&kv) >= pd_tso_physical(ts));
    pd_tso_fini(&t);
    pd_kv_close(&kv);
}

static void test_tick_persists_early(void **state)
{
    (void)state;
    pd_kv kv;
    cm_err err;
    assert_int_equal(pd_kv_mem_open(&kv, &err), 0);
    fake_clock c = {T0};
    pd_tso t;
    open_tso(&t, &kv, &c, 3000);
    uint64_t ts;
    assert_int_equal(pd_tso_alloc(&t, 1, &ts, &err), 0);
    uint64_t mark = stored_mark(&kv);
    /* More than a third of the window left: the tick does nothing. */
    atomic_store(&c.now_ms, T0 + 1000);
    assert_int_equal(pd_tso_tick(&t, &err), 0);
    assert_int_equal(stored_mark(&kv), mark);
    /* Less than a third left: the tick moves the mark a full window ahead of now. */
    atomic_store(&c.now_ms, T0 + 2500);
    assert_int_equal(pd_tso_tick(&t, &err), 0);
    assert_int_equal(stored_mark(&kv), T0 + 2500 + 3000);
    int syncs = pd_kv_mem_sync_count(&kv);
    /* So a request just past the old mark needs no sync of its own. */
    atomic_store(&c.now_ms, T0 + 3100);
    assert_int_equal(pd_tso_alloc(&t, 1, &ts, &err), 0);
    assert_int_equal(pd_kv_mem_sync_count(&kv), syncs);
    pd_tso_fini(&t);
    pd_kv_close(&kv);
}

static void test_clock_steps_back(void **state)
{
    (void)state;
    pd_kv kv;
    cm_err err;
    assert_int_equal(pd_kv_mem_open(&kv, &err), 0);
    fake_clock c = {T0 + 10000};
    pd_tso t;
    open_tso(&t, &kv, &c, 3000);
    uint64_t a, b;
    assert_int_equal(pd_tso_alloc(&t, 5, &a, &err), 0);
    atomic_store(&c.now_ms, T0); /* ten seconds back */
    assert_int_equal(pd_tso_alloc(&t, 1, &b, &err), 0);
    assert_true(b > a + 4);
    assert_int_equal(pd_tso_physical(b), T0 + 10000); /* the last physical is kept */
    pd_tso_stats st;
    pd_tso_get_stats(&t, &st);
    assert_int_equal(st.clock_behind, 1);
    /* When the clock catches up and passes, the physical part follows it again. */
    atomic_store(&c.now_ms, T0 + 10002);
    assert_int_equal(pd_tso_alloc(&t, 1, &b, &err), 0);
    assert_int_equal(pd_tso_physical(b), T0 + 10002);
    pd_tso_fini(&t);
    pd_kv_close(&kv);
}

static void test_logical_exhaustion_advances_physical(void **state)
{
    (void)state;
    pd_kv kv;
    cm_err err;
    assert_int_equal(pd_kv_mem_open(&kv, &err), 0);
    fake_clock c = {T0};
    pd_tso t;
    open_tso(&t, &kv, &c, 50);
    uint64_t a, b;
    assert_int_equal(pd_tso_alloc(&t, PD_TSO_LOGICAL_LIMIT - 1, &a, &err), 0);
    assert_int_equal(pd_tso_logical(a), 0);
    /* One logical value left in T0; a request for two moves to T0 + 1 rather than wrapping. */
    assert_int_equal(pd_tso_alloc(&t, 2, &b, &err), 0);
    assert_int_equal(pd_tso_physical(b), T0 + 1);
    assert_int_equal(pd_tso_logical(b), 0);
    assert_true(b > a + PD_TSO_LOGICAL_LIMIT - 2);
    /* A frozen clock and a flood of requests push the physical part past the persisted mark
     * (window 50 ms): the mark follows before anything above it is handed out. */
    uint64_t last = b + 1;
    for (int i = 0; i < 200; i++) {
        assert_int_equal(pd_tso_alloc(&t, PD_TSO_COUNT_MAX, &b, &err), 0);
        assert_true(b > last);
        last = b + PD_TSO_COUNT_MAX - 1;
        assert_true(stored_mark(&kv) >= pd_tso_physical(last));
    }
    assert_true(pd_tso_physical(last) > T0 + 200);
    pd_tso_stats st;
    pd_tso_get_stats(&t, &st);
    assert_true(st.logical_spill >= 200);
    pd_tso_fini(&t);
    pd_kv_close(&kv);
}

static void test_restart_after_crash_with_clock_behind(void **state)
{
    (void)state;
    pd_kv kv;
    cm_err err;
    assert_int_equal(pd_kv_mem_open(&kv, &err), 0);
    fake_clock c = {T0};
    pd_tso t;
    open_tso(&t, &kv, &c, 3000);
    uint64_t before = 0, ts;
    for (int i = 0; i < 1000; i++) {
        atomic_store(&c.now_ms, T0 + (uint64_t)i * 7);
        assert_int_equal(pd_tso_alloc(&t, 1 + (uint32_t)i % 5, &ts, &err), 0);
        before = ts + (uint64_t)(i % 5);
    }
    pd_tso_fini(&t);
    pd_kv_mem_crash(&kv); /* kill -9: only synced writes survive */
    /* The clock is now a minute behind the last timestamp handed out. */
    atomic_store(&c.now_ms, T0 - 60000);
    open_tso(&t, &kv, &c, 3000);
    assert_int_equal(pd_tso_alloc(&t, 1, &ts, &err), 0);
    assert_true(ts > before);
    pd_tso_fini(&t);
    pd_kv_close(&kv);
}

static void test_persist_failure_hands_out_nothing(void **state)
{
    (void)state;
    pd_kv kv;
    cm_err err;
    assert_int_equal(pd_kv_mem_open(&kv, &err), 0);
    fake_clock c = {T0};
    pd_tso t;
    open_tso(&t, &kv, &c, 3000);
    uint64_t a, b;
    assert_int_equal(pd_tso_alloc(&t, 1, &a, &err), 0);
    atomic_store(&c.now_ms, T0 + 5000); /* past the mark: a sync is needed */
    pd_kv_mem_fail_writes(&kv, 1);
    assert_int_equal(pd_tso_alloc(&t, 1, &b, &err), CM_E_IO);
    pd_tso_stats st;
    pd_tso_get_stats(&t, &st);
    assert_int_equal(st.last_ts, a);
    /* The tick fails too while the disk fails, and then recovers. */
    pd_kv_mem_fail_writes(&kv, 1);
    assert_int_equal(pd_tso_tick(&t, &err), CM_E_IO);
    assert_int_equal(pd_tso_alloc(&t, 1, &b, &err), 0);
    assert_true(b > a);
    assert_true(stored_mark(&kv) >= pd_tso_physical(b));
    pd_tso_fini(&t);
    pd_kv_close(&kv);
}

/* A random walk: clock moves forward, backward and jumps; counts vary; crashes (losing unsynced
 * writes) and restarts happen. Every timestamp must be larger than every earlier one. */
static void test_random_walk_never_backwards(void **state)
{
    (void)state;
    pd_kv kv;
    cm_err err;
    assert_int_equal(pd_kv_mem_open(&kv, &err), 0);
    fake_clock c = {T0};
    pd_tso t;
    open_tso(&t, &kv, &c, 100);
    uint64_t seed = 42, last = 0;
    int restarts = 0, back_steps = 0;
    for (int i = 0; i < 200000; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t r = (uint32_t)(seed >> 33);
        uint64_t now = atomic_load(&c.now_ms);
        switch (r % 100) {
        case 0:
            atomic_store(&c.now_ms, now - (r % 5000)); /* step back up to 5 s */
            back_steps++;
            break;
        case 1:
            pd_tso_fini(&t);
            pd_kv_mem_crash(&kv);
            open_tso(&t, &kv, &c, 100);
            restarts++;
            break;
        case 2:
            assert_int_equal(pd_tso_tick(&t, &err), 0);
            break;
        default:
            if (r % 3 == 0) {
                atomic_store(&c.now_ms, now + (r % 7));
            }
            break;
        }
        uint32_t count = (r % 1000 == 0) ? PD_TSO_COUNT_MAX : 1 + (r >> 8) % 64;
        uint64_t ts;
        assert_int_equal(pd_tso_alloc(&t, count, &ts, &err), 0);
        assert_true(ts > last);
        assert_true(pd_tso_logical(ts) + count <= PD_TSO_LOGICAL_LIMIT);
        last = ts + count - 1;
    }
    assert_true(restarts > 1000);
    assert_true(back_steps > 1000);
    pd_tso_fini(&t);
    pd_kv_close(&kv);
}

typedef struct worker_arg {
    pd_tso *t;
    fake_clock *c;
    uint64_t *out;
    int n;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    cm_err err;
    for (int i = 0; i < a->n; i++) {
        if (i % 100 == 0) {
            atomic_fetch_add(&a->c->now_ms, 1);
        }
        uint64_t ts = 0;
        if (pd_tso_alloc(a->t, 2, &ts, &err) != 0) {
            ts = 0;
        }
        a->out[2 * i] = ts;
        a->out[2 * i + 1] = ts + 1;
    }
    return NULL;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : (a > b ? 1 : 0);
}

static void test_threads_unique(void **state)
{
    (void)state;
    enum { THREADS = 4, N = 20000 };
    pd_kv kv;
    cm_err err;
    assert_int_equal(pd_kv_mem_open(&kv, &err), 0);
    fake_clock c = {T0};
    pd_tso t;
    open_tso(&t, &kv, &c, 3000);
    uint64_t *all = calloc((size_t)THREADS * N * 2, sizeof(uint64_t));
    assert_non_null(all);
    pthread_t th[THREADS];
    worker_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg){&t, &c, all + (size_t)i * N * 2, N};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
    }
    for (int i = 0; i < THREADS; i++) {
        for (int j = 1; j < N * 2; j++) {
            assert_true(args[i].out[j] > args[i].out[j - 1]); /* per thread: increasing */
        }
    }
    qsort(all, (size_t)THREADS * N * 2, sizeof(uint64_t), cmp_u64);
    assert_true(all[0] != 0);
    for (size_t i = 1; i < (size_t)THREADS * N * 2; i++) {
        assert_true(all[i] > all[i - 1]); /* globally unique */
    }
    free(all);
    pd_tso_fini(&t);
    pd_kv_close(&kv);
}

int main(void)
{
    cm_log_set_level(CM_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_layout_and_count),
        cmocka_unit_test(test_one_sync_per_window),
        cmocka_unit_test(test_tick_persists_early),
        cmocka_unit_test(test_clock_steps_back),
        cmocka_unit_test(test_logical_exhaustion_advances_physical),
        cmocka_unit_test(test_restart_after_crash_with_clock_behind),
        cmocka_unit_test(test_persist_failure_hands_out_nothing),
        cmocka_unit_test(test_random_walk_never_backwards),
        cmocka_unit_test(test_threads_unique),
    };
    return cmocka_run_group_tests_name("pd_tso", tests, NULL, NULL);
}
