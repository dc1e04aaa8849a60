/* pd_tso.c — the timestamp oracle; the rules are in pd_tso.h and docs/pd.md. */
#include "pd_tso.h"

#include "cm_assert.h"
#include "cm_log.h"

#include <string.h>

#define TSO_MARK_KEY "tso/mark"

int pd_tso_init(pd_tso *t, pd_kv *kv, pd_clock_ms_cb clock, void *clock_user, uint64_t window_ms,
                cm_err *err)
{
    CM_ASSERT(window_ms > 0);
    memset(t, 0, sizeof(*t));
    t->kv = kv;
    t->clock = clock;
    t->clock_user = clock_user;
    t->window_ms = window_ms;
    uint64_t mark = 0;
    int rc = pd_kv_get_u64(kv, TSO_MARK_KEY, &mark, err);
    if (rc == CM_E_NOT_FOUND) {
        mark = 0;
        cm_err_clear(err);
    } else if (rc != 0) {
        return rc;
    }
    if (mark >= PD_TSO_PHYSICAL_LIMIT) {
        return cm_err_set(err, CM_E_CORRUPT, "tso: persisted mark %llu is out of range",
                          (unsigned long long)mark);
    }
    /* Everything handed out before had physical <= mark. Starting at physical == mark with the
     * logical part exhausted forces the first allocation to physical >= mark + 1. */
    t->physical = mark;
    t->logical = PD_TSO_LOGICAL_LIMIT;
    t->saved = mark;
    t->persisted = mark;
    t->stats.saved_mark_ms = mark;
    pthread_mutex_init(&t->mu, NULL);
    pthread_mutex_init(&t->persist_mu, NULL);
    CM_INFO("pd", "tso: loaded mark=%llu window_ms=%llu", (unsigned long long)mark,
            (unsigned long long)window_ms);
    return 0;
}

void pd_tso_fini(pd_tso *t)
{
    pthread_mutex_destroy(&t->mu);
    pthread_mutex_destroy(&t->persist_mu);
}

/* Writes a mark of at least `want` (never lower than one already written: two writers must not
 * leave a lower mark as the last write). Returns the mark written in *written. */
static int persist_mark(pd_tso *t, uint64_t want, uint64_t *written, cm_err *err)
{
    pthread_mutex_lock(&t->persist_mu);
    uint64_t mark = want > t->persisted ? want : t->persisted;
    int rc = 0;
    if (mark > t->persisted) {
        rc = pd_kv_put_u64(t->kv, TSO_MARK_KEY, mark, 1, err);
        if (rc == 0) {
            t->persisted = mark;
        }
    }
    pthread_mutex_unlock(&t->persist_mu);
    *written = mark;
    return rc;
}

int pd_tso_alloc(pd_tso *t, uint32_t count, uint64_t *first, cm_err *err)
{
    if (count == 0 || count > PD_TSO_COUNT_MAX) {
        return cm_err_set(err, CM_E_INVALID, "tso: count %u is outside 1..%u", count,
                          PD_TSO_COUNT_MAX);
    }
    pthread_mutex_lock(&t->mu);
    uint64_t now = t->clock(t->clock_user);
    uint64_t physical = t->physical;
    uint32_t logical = t->logical;
    if (now > physical) {
        physical = now;
        logical = 0;
    } else if (now < physical) {
        t->stats.clock_behind++;
    }
    if ((uint64_t)logical + count > PD_TSO_LOGICAL_LIMIT) {
        /* Out of logical values in this millisecond: move ahead of the clock, never wrap. */
        physical++;
        logical = 0;
        t->stats.logical_spill++;
    }
    if (physical >= PD_TSO_PHYSICAL_LIMIT) {
        pthread_mutex_unlock(&t->mu);
        return cm_err_set(err, CM_E_INTERNAL, "tso: physical time %llu exceeds 46 bits",
                          (unsigned long long)physical);
    }
    if (physical > t->saved) {
        /* Rare: the tick did not keep the mark ahead (startup, a clock jump, a slow disk). */
        uint64_t written = 0;
        int rc = persist_mark(t, physical + t->window_ms, &written, err);
        if (rc != 0) {
            pthread_mutex_unlock(&t->mu);
            CM_ERROR("pd", "tso: cannot persist mark: %s", err ? err->msg : "");
            return rc;
        }
        t->saved = written;
        t->stats.mark_writes++;
        t->stats.saved_mark_ms = written;
    }
    CM_ASSERT(physical <= t->saved);
    uint64_t ts = pd_tso_compose(physical, logical);
    CM_ASSERT(ts > t->stats.last_ts);
    t->physical = physical;
    t->logical = logical + count;
    t->stats.requests++;
    t->stats.timestamps += count;
    t->stats.last_ts = ts + count - 1;
    pthread_mutex_unlock(&t->mu);
    *first = ts;
    return 0;
}

int pd_tso_tick(pd_tso *t, cm_err *err)
{
    pthread_mutex_lock(&t->mu);
    uint64_t now = t->clock(t->clock_user);
    uint64_t base = now > t->physical ? now : t->physical;
    uint64_t saved = t->saved;
    pthread_mutex_unlock(&t->mu);
    if (saved > base && saved - base >= t->window_ms / 3) {
        return 0;
    }
    uint64_t want = base + t->window_ms;
    if (want >= PD_TSO_PHYSICAL_LIMIT) {
        return cm_err_set(err, CM_E_INTERNAL, "tso: clock beyond 46 bits");
    }
    /* Written without holding mu, so requests below the old mark keep flowing during the sync. */
    uint64_t written = 0;
    int rc = persist_mark(t, want, &written, err);
    if (rc != 0) {
        CM_ERROR("pd", "tso: tick cannot persist mark: %s", err ? err->msg : "");
        return rc;
    }
    pthread_mutex_lock(&t->mu);
    if (written > t->saved) {
        t->saved = written;
        t->stats.saved_mark_ms = written;
    }
    t->stats.mark_writes++;
    pthread_mutex_unlock(&t->mu);
    return 0;
}

void pd_tso_get_stats(pd_tso *t, pd_tso_stats *out)
{
    pthread_mutex_lock(&t->mu);
    *out = t->stats;
    pthread_mutex_unlock(&t->mu);
}
