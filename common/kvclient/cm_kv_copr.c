/*
 * cm_kv_copr.c — the coprocessor client (cm_kv_client.h "coprocessor plans"): one plan sent to
 * every region a key range touches, several regions at once.
 *
 * Shape: [start, end) is cut into tasks, one per region of the route cache at the time of the
 * call. Up to `concurrency` worker threads (started per call; none when there is one task or a
 * concurrency of 1: the caller's thread then does the work itself) each take the next task and
 * walk it: locate the current key, send the plan over [cur, min(task end, region end)), follow
 * the resume key page by page, then go on to the next region inside the task. Because a task
 * re-locates its current key after every region error, a region that split or moved mid-scan
 * only makes the task walk more (or other) regions; the rows stay in key order within it.
 *
 * Delivery: a worker hands each page (the unpacked response, owned) to the caller's thread and
 * keeps at most one page undelivered: it waits before sending its next request until the
 * caller took the previous one. So at most `concurrency` pages wait, plus the one the callback
 * is reading. Ordered calls deliver task after task (task k's pages before task k+1's); others
 * in the order pages arrive. A callback that returns non-zero stops everything: workers see the
 * stop flag after their current RPC (bounded by rpc_timeout_ms) and their pages are dropped.
 *
 * Locks (docs/coprocessor.md "Executor and client"): a response reporting a lock is resolved
 * with kv_resolve_lock (CheckTxnStatus + ResolveLock; a live transaction is waited for, polling
 * at most every 100 ms, within the retry budget) and the request is sent again — from the
 * locked key for scans (the rows before it are delivered), from the start of the region's
 * request for TopN and aggregation, whose response carried no rows.
 */
#include "cm_kv_int.h"

#include "cm_log.h"
#include "cm_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KVC "kvclient"

/* Section tags of cm_copr.h whose response covers a region's whole range at once. */
#define PLAN_SEC_AGG  2
#define PLAN_SEC_TOPN 3

int kv_copr_other_error(const char *msg, cm_err *err)
{
    if (strstr(msg, "GC life time") != NULL) {
        return cm_err_set(err, CM_E_GC_TOO_EARLY, "coprocessor: %s", msg);
    }
    int code = 0, n = 0;
    if (sscanf(msg, "[%d] %n", &code, &n) == 1 && n > 0 && code < 0) {
        /* A code this build does not know becomes CM_E_INTERNAL (the table's fallback). */
        bool known = strcmp(cm_err_name(code), cm_err_name(CM_E_INTERNAL)) != 0;
        return cm_err_set(err, known ? code : CM_E_INTERNAL, "%s", msg + n);
    }
    return cm_err_set(err, CM_E_INTERNAL, "coprocessor: %s", msg);
}

/* Walks the plan's header (cm_copr.h) far enough to see whether it aggregates or has a TopN.
 * The kvnode validates the plan fully; this only needs its section tags. */
static int plan_whole_region(cm_slice plan, bool *whole, cm_err *err)
{
    cm_reader rd;
    cm_reader_init(&rd, plan.ptr, plan.len);
    uint8_t ver, scan, tag, dt;
    uint64_t n, v;
    *whole = false;
    if (cm_reader_u8(&rd, &ver) != 0 || cm_reader_u8(&rd, &scan) != 0 ||
        cm_reader_uvarint(&rd, &n) != 0 || n > 1000000) {
        return cm_err_set(err, CM_E_INVALID, "coprocessor: truncated plan");
    }
    for (uint64_t i = 0; i < n; i++) {
        if (cm_reader_uvarint(&rd, &v) != 0 || cm_reader_u8(&rd, &dt) != 0) {
            return cm_err_set(err, CM_E_INVALID, "coprocessor: truncated plan columns");
        }
    }
    if (cm_reader_uvarint(&rd, &n) != 0) {
        return cm_err_set(err, CM_E_INVALID, "coprocessor: truncated plan sections");
    }
    for (uint64_t i = 0; i < n; i++) {
        if (cm_reader_u8(&rd, &tag) != 0 || cm_reader_uvarint(&rd, &v) != 0 ||
            cm_reader_skip(&rd, (size_t)v) != 0) {
            return cm_err_set(err, CM_E_INVALID, "coprocessor: truncated plan section");
        }
        *whole |= tag == PLAN_SEC_AGG || tag == PLAN_SEC_TOPN;
    }
    return 0;
}

/* ---- one call ------------------------------------------------------------------------------- */

typedef struct copr_page {
    Tessera__Kvrpcpb__CoprocessorResponse *resp; /* owned */
    size_t task;
    struct copr_page *next;
} copr_page;

typedef struct copr_task {
    cm_buf start, end; /* user keys; empty end: +inf */
    copr_page *page;   /* the one page handed over and not yet taken */
    bool done;
} copr_task;

typedef struct copr_run {
    cm_kv_client *c;
    cm_slice plan;
    uint64_t ts;
    uint32_t paging;
    bool whole; /* AGG / TopN: a lock restarts the region's request */
    bool ordered;
    bool threaded;
    cm_kv_copr_cb cb;
    void *user;
    pthread_mutex_t mu;
    pthread_cond_t cv_caller, cv_worker;
    copr_task *tasks;
    size_t ntasks, next_task, head, ndone;
    copr_page *fifo_head, *fifo_tail;
    atomic_bool stop;
    bool cb_stopped;
    int rc;
    cm_err err;
} copr_run;

static void page_free(copr_page *pg)
{
    if (pg != NULL) {
        protobuf_c_message_free_unpacked(&pg->resp->base, NULL);
        free(pg);
    }
}

/* Hands a response (ownership taken) to the caller. Returns 1 when the call is stopping. */
static int deliver(copr_run *r, size_t t, Tessera__Kvrpcpb__CoprocessorResponse *resp)
{
    if (!r->threaded) {
        int stop = r->cb(r->user, cm_slice_make(resp->data.data, resp->data.len)) != 0;
        protobuf_c_message_free_unpacked(&resp->base, NULL);
        if (stop) {
            r->cb_stopped = true;
            atomic_store(&r->stop, true);
        }
        return stop;
    }
    copr_page *pg = malloc(sizeof(*pg));
    pthread_mutex_lock(&r->mu);
    while (r->tasks[t].page != NULL && !atomic_load(&r->stop)) {
        pthread_cond_wait(&r->cv_worker, &r->mu);
    }
    if (atomic_load(&r->stop) || pg == NULL) {
        if (pg == NULL && r->rc == 0) {
            r->rc = cm_err_set(&r->err, CM_E_NOMEM, "out of memory");
            atomic_store(&r->stop, true);
            pthread_cond_broadcast(&r->cv_caller);
        }
        pthread_mutex_unlock(&r->mu);
        protobuf_c_message_free_unpacked(&resp->base, NULL);
        free(pg);
        return 1;
    }
    pg->resp = resp;
    pg->task = t;
    pg->next = NULL;
    r->tasks[t].page = pg;
    if (!r->ordered) {
        if (r->fifo_tail != NULL) {
            r->fifo_tail->next = pg;
        } else {
            r->fifo_head = pg;
        }
        r->fifo_tail = pg;
    }
    pthread_cond_broadcast(&r->cv_caller);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

static int set_key(cm_buf *b, const uint8_t *p, size_t n)
{
    cm_buf_reset(b);
    return cm_buf_append(b, p, n);
}

/* Sends one request for [cur, seg_end) to route rt. */
static int send_one(copr_run *r, const kv_route *rt, cm_slice cur, cm_slice seg_end,
                    uint64_t deadline, Tessera__Kvrpcpb__CoprocessorResponse **resp, cm_err *err)
{
    Tessera__Kvrpcpb__CoprocessorRequest req = TESSERA__KVRPCPB__COPROCESSOR_REQUEST__INIT;
    Tessera__Kvrpcpb__KeyRange kr = TESSERA__KVRPCPB__KEY_RANGE__INIT, *krp = &kr;
    kr.start.data = (uint8_t *)cur.ptr;
    kr.start.len = cur.len;
    kr.end.data = (uint8_t *)seg_end.ptr;
    kr.end.len = seg_end.len;
    req.tp = 2; /* CM_COPR_REQ_DAG */
    req.data.data = (uint8_t *)r->plan.ptr;
    req.data.len = r->plan.len;
    req.n_ranges = 1;
    req.ranges = &krp;
    req.start_ts = r->ts;
    req.paging_size = r->paging;
    bool unc = false;
    return kv_send(r->c, rt, TESSERA__KVRPCPB__METHOD__COPROCESSOR, &req.base,
                   &tessera__kvrpcpb__coprocessor_response__descriptor, (ProtobufCMessage **)resp,
                   deadline, &unc, err);
}

/* A response that reports a lock: resolves it, delivers the rows before it (scans), and sets
 * where to send again. Returns 0 (go on), 1 (stopping) or an error. */
static int on_lock(copr_run *r, size_t t, Tessera__Kvrpcpb__CoprocessorResponse *resp, cm_buf *cur,
                   uint64_t deadline, cm_err *err)
{
    uint64_t wait = 0;
    int lrc = kv_resolve_lock(r->c, resp->locked, r->ts, deadline, &wait, err);
    int rc = 0;
    if (!r->whole && resp->range != NULL && resp->range->start.len > 0) {
        rc = set_key(cur, resp->range->start.data, resp->range->start.len);
    }
    if (!r->whole && resp->data.len > 0) {
        if (deliver(r, t, resp) != 0) {
            return 1;
        }
    } else {
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    }
    if (rc != 0) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    if (lrc == CM_E_KEY_IS_LOCKED) {
        /* The transaction is alive: wait a little and look again (it commits or expires). */
        if (cm_time_mono_ms() + wait >= deadline) {
            return lrc;
        }
        cm_time_sleep_ms(wait ? wait : 10);
        return 0;
    }
    return lrc;
}

/* Runs task t to its end. Returns 0 (done or stopping) or an error. */
static int run_task(copr_run *r, size_t t, cm_err *err)
{
    cm_kv_client *c = r->c;
    copr_task *tk = &r->tasks[t];
    cm_slice end = cm_buf_slice(&tk->end);
    cm_buf cur = CM_BUF_INIT;
    int rc = cm_buf_append_slice(&cur, cm_buf_slice(&tk->start));
    uint64_t deadline = cm_time_mono_ms() + (uint64_t)c->o.retry_budget_ms;
    for (unsigned attempt = 0; rc == 0 && !atomic_load(&r->stop); attempt++) {
        if (cm_time_mono_ms() >= deadline) {
            rc = cm_err_set(err, CM_E_TIMEOUT, "coprocessor: retry budget exhausted (last: %s)",
                            err->msg);
            break;
        }
        kv_route rt;
        kv_route_init(&rt);
        rc = kv_locate(c, cm_buf_slice(&cur), &rt, err);
        if (rc != 0) {
            kv_route_fini(&rt);
            kv_backoff(attempt, deadline); /* PD away for a moment */
            rc = 0;
            continue;
        }
        cm_slice seg_end = end;
        bool last = true;
        if (rt.end_user.len > 0 &&
            (end.len == 0 || cm_slice_cmp(cm_buf_slice(&rt.end_user), end) < 0)) {
            seg_end = cm_buf_slice(&rt.end_user);
            last = false;
        }
        Tessera__Kvrpcpb__CoprocessorResponse *resp = NULL;
        rc = send_one(r, &rt, cm_buf_slice(&cur), seg_end, deadline, &resp, err);
        if (rc == CM_E_EPOCH_NOT_MATCH) {
            kv_route_fini(&rt); /* split, merged or moved: locate cur again */
            rc = 0;
            continue;
        }
        if (rc == 0 && resp->other_error != NULL && resp->other_error[0] != '\0') {
            rc = kv_copr_other_error(resp->other_error, err);
            protobuf_c_message_free_unpacked(&resp->base, NULL);
        } else if (rc == 0 && resp->locked != NULL) {
            rc = on_lock(r, t, resp, &cur, deadline, err);
        } else if (rc == 0) {
            bool more = resp->range != NULL && resp->range->start.len > 0;
            if (more) {
                rc = set_key(&cur, resp->range->start.data, resp->range->start.len);
            } else if (!last) {
                rc = set_key(&cur, seg_end.ptr, seg_end.len);
            }
            if (resp->data.len > 0) {
                rc = deliver(r, t, resp) != 0 ? 1 : rc;
            } else {
                protobuf_c_message_free_unpacked(&resp->base, NULL);
            }
            deadline = cm_time_mono_ms() + (uint64_t)c->o.retry_budget_ms; /* progress */
            if (rc == 0 && !more && last) {
                kv_route_fini(&rt);
                break;
            }
        }
        kv_route_fini(&rt);
        rc = rc == 1 ? 0 : rc; /* stopping: the loop sees r->stop */
    }
    cm_buf_fini(&cur);
    return rc;
}

static void *worker_main(void *arg)
{
    copr_run *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        if (atomic_load(&r->stop) || r->next_task == r->ntasks) {
            pthread_mutex_unlock(&r->mu);
            return NULL;
        }
        size_t t = r->next_task++;
        pthread_mutex_unlock(&r->mu);
        cm_err e;
        cm_err_clear(&e);
        int rc = run_task(r, t, &e);
        pthread_mutex_lock(&r->mu);
        r->tasks[t].done = true;
        r->ndone++;
        if (rc != 0 && r->rc == 0 && !atomic_load(&r->stop)) {
            r->rc = rc;
            r->err = e;
            atomic_store(&r->stop, true);
            pthread_cond_broadcast(&r->cv_worker);
        }
        pthread_cond_broadcast(&r->cv_caller);
        pthread_mutex_unlock(&r->mu);
    }
}

/* The next page for the caller (NULL: nothing more). Called with r->mu held. */
static copr_page *take_page(copr_run *r)
{
    for (;;) {
        if (atomic_load(&r->stop)) {
            return NULL;
        }
        copr_page *pg = NULL;
        if (r->ordered) {
            while (r->head < r->ntasks && r->tasks[r->head].page == NULL &&
                   r->tasks[r->head].done) {
                r->head++;
            }
            if (r->head == r->ntasks) {
                return NULL;
            }
            pg = r->tasks[r->head].page;
        } else {
            pg = r->fifo_head;
            if (pg != NULL) {
                r->fifo_head = pg->next;
                if (r->fifo_head == NULL) {
                    r->fifo_tail = NULL;
                }
            } else if (r->ndone == r->ntasks) {
                return NULL;
            }
        }
        if (pg != NULL) {
            r->tasks[pg->task].page = NULL;
            pthread_cond_broadcast(&r->cv_worker);
            return pg;
        }
        pthread_cond_wait(&r->cv_caller, &r->mu);
    }
}

static int run_threads(copr_run *r, size_t nthreads)
{
    pthread_t th[CM_KV_COPR_CONCURRENCY_MAX];
    size_t started = 0;
    for (; started < nthreads; started++) {
        if (pthread_create(&th[started], NULL, worker_main, r) != 0) {
            break;
        }
    }
    if (started == 0) {
        r->threaded = false; /* no thread to be had: do the work here */
        worker_main(r);
        return 0;
    }
    pthread_mutex_lock(&r->mu);
    for (;;) {
        copr_page *pg = take_page(r);
        if (pg == NULL) {
            break;
        }
        pthread_mutex_unlock(&r->mu);
        int stop = r->cb(r->user, cm_slice_make(pg->resp->data.data, pg->resp->data.len)) != 0;
        page_free(pg);
        pthread_mutex_lock(&r->mu);
        if (stop) {
            r->cb_stopped = true;
            atomic_store(&r->stop, true);
            pthread_cond_broadcast(&r->cv_worker);
            break;
        }
    }
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
    }
    for (size_t t = 0; t < r->ntasks; t++) {
        page_free(r->tasks[t].page); /* pages left when the call stopped early */
        r->tasks[t].page = NULL;
    }
    return 0;
}

/* Cuts [start, end) into one task per region of the route cache. */
static int make_tasks(copr_run *r, cm_slice start, cm_slice end, cm_err *err)
{
    cm_buf cur = CM_BUF_INIT;
    size_t cap = 0;
    int rc = cm_buf_append_slice(&cur, start);
    uint64_t deadline = cm_time_mono_ms() + (uint64_t)r->c->o.retry_budget_ms;
    for (unsigned attempt = 0; rc == 0;) {
        kv_route rt;
        kv_route_init(&rt);
        rc = kv_locate(r->c, cm_buf_slice(&cur), &rt, err);
        if (rc != 0) {
            kv_route_fini(&rt);
            if (cm_time_mono_ms() >= deadline) {
                break;
            }
            kv_backoff(attempt++, deadline);
            rc = 0;
            continue;
        }
        if (r->ntasks == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            copr_task *nt = realloc(r->tasks, ncap * sizeof(*nt));
            if (nt == NULL) {
                kv_route_fini(&rt);
                rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
                break;
            }
            r->tasks = nt;
            cap = ncap;
        }
        copr_task *tk = &r->tasks[r->ntasks++];
        memset(tk, 0, sizeof(*tk));
        cm_buf_init(&tk->start);
        cm_buf_init(&tk->end);
        bool last = rt.end_user.len == 0 ||
                    (end.len > 0 && cm_slice_cmp(cm_buf_slice(&rt.end_user), end) >= 0);
        rc = cm_buf_append_slice(&tk->start, cm_buf_slice(&cur));
        rc = rc ? rc : cm_buf_append_slice(&tk->end, last ? end : cm_buf_slice(&rt.end_user));
        if (rc == 0 && !last) {
            rc = set_key(&cur, rt.end_user.ptr, rt.end_user.len);
        }
        kv_route_fini(&rt);
        if (rc != 0) {
            rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        if (last) {
            break;
        }
    }
    cm_buf_fini(&cur);
    return rc;
}

int cm_kv_copr(cm_kv_client *c, cm_slice plan, cm_slice start, cm_slice end, uint64_t ts,
               const cm_kv_copr_opts *o, cm_kv_copr_cb cb, void *user, cm_err *err)
{
    if (ts == 0) {
        return cm_err_set(err, CM_E_INVALID, "coprocessor: timestamp 0");
    }
    if (end.len > 0 && cm_slice_cmp(start, end) >= 0) {
        return 0;
    }
    copr_run r;
    memset(&r, 0, sizeof(r));
    r.c = c;
    r.plan = plan;
    r.ts = ts;
    r.cb = cb;
    r.user = user;
    uint32_t conc = o && o->concurrency ? o->concurrency : CM_KV_COPR_CONCURRENCY_DEFAULT;
    conc = conc > CM_KV_COPR_CONCURRENCY_MAX ? CM_KV_COPR_CONCURRENCY_MAX : conc;
    r.paging = o && o->paging_size ? o->paging_size : c->o.scan_page;
    r.ordered = o ? o->ordered : false;
    int rc = plan_whole_region(plan, &r.whole, err);
    rc = rc ? rc : make_tasks(&r, start, end, err);
    if (rc == 0) {
        pthread_mutex_init(&r.mu, NULL);
        pthread_cond_init(&r.cv_caller, NULL);
        pthread_cond_init(&r.cv_worker, NULL);
        size_t nthreads = r.ntasks < conc ? r.ntasks : conc;
        r.threaded = nthreads > 1;
        if (r.threaded) {
            run_threads(&r, nthreads);
        } else {
            worker_main(&r);
        }
        pthread_cond_destroy(&r.cv_worker);
        pthread_cond_destroy(&r.cv_caller);
        pthread_mutex_destroy(&r.mu);
        if (r.rc != 0 && !r.cb_stopped) {
            rc = r.rc;
            *err = r.err;
        }
        CM_DEBUG(KVC, "copr: %zu regions, %zu threads, rc=%d", r.ntasks, nthreads, rc);
    }
    for (size_t t = 0; t < r.ntasks; t++) {
        cm_buf_fini(&r.tasks[t].start);
        cm_buf_fini(&r.tasks[t].end);
    }
    free(r.tasks);
    return rc;
}
