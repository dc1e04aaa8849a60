/*
 * sql_ddl_job.c — DDL jobs (docs/ddl.md "Jobs"): the stored job record, the queue and history
 * keys, submission (sql_ddl_exec: enqueue, then wait for the job in the history), the DDL worker
 * of each sqlnode (a lease thread campaigning for PD's election "ddl_owner" and a runner thread
 * that, while this node is the owner, runs the queued jobs one at a time, one compare-and-set
 * transaction per step, waiting for every sqlnode to load each new schema version), and the
 * ADMIN SHOW DDL [JOBS] / ADMIN CANCEL DDL JOBS statements.
 */
#include "sql_ddl_int.h"

#include "cm_failpoint.h"
#include "cm_keys.h"
#include "cm_log.h"
#include "cm_pd_client.h"
#include "cm_time.h"
#include "sql_my_const.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_COMP "ddl"

#define DDL_OWNER_ELECTION "ddl_owner"
#define JOB_STR_MAX        (16u << 20) /* a stored string (the statement text) */
#define JOB_ELEMS_MAX      8192
#define STEP_RETRIES_MAX   50  /* consecutive transient failures of one step before the job fails */
#define IDLE_POLL_MS       100 /* the owner looks at the queue this often when idle */
#define SUBMIT_POLL_MAX_MS                                                                         \
    100                        /* a waiting submitter looks at the history at most this far apart  \
                                */
#define HISTORY_SHOW_MAX 10000 /* finished jobs ADMIN SHOW DDL JOBS reads at most */

struct sql_ddl_worker {
    sql_catalog *c;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    bool poke;            /* a job was queued on this node */
    uint64_t finished;    /* jobs finished by this node's owner (submitters wait on cv) */
    bool owner;           /* this node holds the lease */
    uint64_t term;        /* of the lease */
    uint64_t valid_until; /* monotonic ms: the lease is believed until then */
    int64_t running_job;  /* id of the job the runner is on, 0 */
    pthread_t lease_thr, run_thr;
    bool lease_started, run_started;
};

static int nomem(cm_err *err)
{
    return cm_err_set(err, CM_E_NOMEM, "out of memory");
}

/* ---- record encoding ----------------------------------------------------------------------- */

static int put_str(cm_buf *b, const char *s)
{
    if (s == NULL) {
        return cm_buf_append_uvarint(b, 0);
    }
    size_t n = strlen(s);
    int rc = cm_buf_append_uvarint(b, (uint64_t)n + 1);
    return rc != 0 ? rc : cm_buf_append(b, s, n);
}

int sql_ddl_job_encode(const sql_ddl_job *j, cm_buf *out)
{
    int rc = cm_buf_append_u8(out, SQL_DDL_JOB_FORMAT);
    rc = rc ? rc : cm_buf_append_uvarint(out, (uint64_t)j->id);
    rc = rc ? rc : cm_buf_append_u8(out, j->type);
    rc = rc ? rc : cm_buf_append_u8(out, j->state);
    rc = rc ? rc : cm_buf_append_u8(out, j->schema_state);
    rc = rc ? rc : cm_buf_append_u8(out, j->cancel ? 1 : 0);
    rc = rc ? rc : cm_buf_append_uvarint(out, (uint64_t)j->db_id);
    rc = rc ? rc : cm_buf_append_uvarint(out, (uint64_t)j->table_id);
    rc = rc ? rc : put_str(out, j->db_name);
    rc = rc ? rc : put_str(out, j->table_name);
    rc = rc ? rc : put_str(out, j->query);
    rc = rc ? rc : put_str(out, j->curdb);
    rc = rc ? rc : cm_buf_append_uvarint(out, j->lex_mode);
    rc = rc ? rc : cm_buf_append_uvarint(out, j->nelems);
    for (uint32_t i = 0; rc == 0 && i < j->nelems; i++) {
        rc = cm_buf_append_u8(out, j->elems[i].kind);
        rc = rc ? rc : cm_buf_append_u8(out, j->elems[i].add);
        rc = rc ? rc : cm_buf_append_uvarint(out, (uint64_t)j->elems[i].id);
    }
    rc = rc ? rc : cm_buf_append_uvarint(out, j->schema_version);
    rc = rc ? rc : cm_buf_append_uvarint(out, j->row_count);
    rc = rc ? rc : cm_buf_append_uvarint(out, j->reorg_key_len);
    rc = rc ? rc : cm_buf_append(out, j->reorg_key, j->reorg_key_len);
    rc = rc ? rc : put_str(out, j->owner);
    rc = rc ? rc : cm_buf_append_uvarint(out, j->owner_term);
    rc = rc ? rc : cm_buf_append_uvarint(out, (uint64_t)(-(int64_t)j->err_code));
    rc = rc ? rc : put_str(out, j->err_msg);
    rc = rc ? rc : cm_buf_append_uvarint(out, j->warning_code);
    rc = rc ? rc : put_str(out, j->warning_msg);
    rc = rc ? rc : cm_buf_append_uvarint(out, j->affected);
    rc = rc ? rc : cm_buf_append_uvarint(out, j->create_ms);
    rc = rc ? rc : cm_buf_append_uvarint(out, j->start_ms);
    rc = rc ? rc : cm_buf_append_uvarint(out, j->end_ms);
    return rc;
}

static int get_str(cm_reader *r, cm_arena *a, char **out)
{
    uint64_t n;
    cm_slice s;
    if (cm_reader_uvarint(r, &n) != 0 || n > JOB_STR_MAX) {
        return -1;
    }
    if (n == 0) {
        *out = NULL;
        return 0;
    }
    if (cm_reader_bytes(r, (size_t)(n - 1), &s) != 0) {
        return -1;
    }
    if (memchr(s.ptr, 0, s.len) != NULL) {
        return -1;
    }
    *out = cm_arena_strndup(a, (const char *)s.ptr, s.len);
    return *out == NULL ? -1 : 0;
}

static int get_u8(cm_reader *r, uint8_t *v, uint8_t max)
{
    return cm_reader_u8(r, v) != 0 || *v > max ? -1 : 0;
}

static int get_id(cm_reader *r, int64_t *v)
{
    uint64_t u;
    if (cm_reader_uvarint(r, &u) != 0 || u > (uint64_t)INT64_MAX) {
        return -1;
    }
    *v = (int64_t)u;
    return 0;
}

int sql_ddl_job_decode(cm_slice in, cm_arena *a, sql_ddl_job *j, cm_err *err)
{
    memset(j, 0, sizeof(*j));
    cm_reader r;
    cm_reader_init(&r, in.ptr, in.len);
    uint8_t fmt = 0, cancel = 0;
    uint64_t u = 0, nel = 0, code = 0, klen = 0;
    int bad = cm_reader_u8(&r, &fmt) != 0 || fmt != SQL_DDL_JOB_FORMAT;
    bad = bad || get_id(&r, &j->id) != 0;
    bad = bad || get_u8(&r, &j->type, SQL_JOB_CREATE_LIKE) != 0 || j->type == 0;
    bad = bad || get_u8(&r, &j->state, SQL_JOB_SYNCED) != 0 || j->state == 0;
    bad = bad || get_u8(&r, &j->schema_state, SQL_OBJ_PUBLIC) != 0;
    bad = bad || get_u8(&r, &cancel, 1) != 0;
    bad = bad || get_id(&r, &j->db_id) != 0 || get_id(&r, &j->table_id) != 0;
    bad = bad || get_str(&r, a, &j->db_name) != 0 || get_str(&r, a, &j->table_name) != 0;
    bad = bad || get_str(&r, a, &j->query) != 0 || get_str(&r, a, &j->curdb) != 0;
    bad = bad || cm_reader_uvarint(&r, &u) != 0 || u > UINT32_MAX;
    j->lex_mode = (uint32_t)u;
    bad = bad || cm_reader_uvarint(&r, &nel) != 0 || nel > JOB_ELEMS_MAX;
    if (!bad && nel > 0) {
        j->elems = cm_arena_alloc(a, sizeof(sql_job_elem) * nel);
        bad = j->elems == NULL;
    }
    for (uint64_t i = 0; !bad && i < nel; i++) {
        bad = get_u8(&r, &j->elems[i].kind, SQL_ELEM_COLUMN) != 0 || j->elems[i].kind == 0 ||
              get_u8(&r, &j->elems[i].add, 1) != 0 || get_id(&r, &j->elems[i].id) != 0;
    }
    j->nelems = (uint32_t)nel;
    bad = bad || cm_reader_uvarint(&r, &j->schema_version) != 0;
    bad = bad || cm_reader_uvarint(&r, &j->row_count) != 0;
    bad = bad || cm_reader_uvarint(&r, &klen) != 0 || klen > JOB_STR_MAX;
    if (!bad && klen > 0) {
        cm_slice k;
        bad = cm_reader_bytes(&r, (size_t)klen, &k) != 0;
        if (!bad) {
            j->reorg_key = cm_arena_alloc(a, (size_t)klen);
            bad = j->reorg_key == NULL;
        }
        if (!bad) {
            memcpy(j->reorg_key, k.ptr, (size_t)klen);
        }
    }
    j->reorg_key_len = (uint32_t)klen;
    bad = bad || get_str(&r, a, &j->owner) != 0;
    bad = bad || cm_reader_uvarint(&r, &j->owner_term) != 0;
    bad = bad || cm_reader_uvarint(&r, &code) != 0 || code > 100000;
    j->err_code = -(int32_t)code;
    bad = bad || get_str(&r, a, &j->err_msg) != 0;
    bad = bad || cm_reader_uvarint(&r, &u) != 0 || u > UINT16_MAX;
    j->warning_code = (uint16_t)u;
    bad = bad || get_str(&r, a, &j->warning_msg) != 0;
    bad = bad || cm_reader_uvarint(&r, &j->affected) != 0;
    bad = bad || cm_reader_uvarint(&r, &j->create_ms) != 0;
    bad = bad || cm_reader_uvarint(&r, &j->start_ms) != 0;
    bad = bad || cm_reader_uvarint(&r, &j->end_ms) != 0;
    bad = bad || cm_reader_left(&r) != 0;
    j->cancel = cancel != 0;
    if (bad) {
        return cm_err_set(err, CM_E_CORRUPT, "corrupt DDL job record (%zu bytes)", in.len);
    }
    return 0;
}

const char *sql_ddl_job_type_name(uint8_t type)
{
    static const char *const names[] = {
        [SQL_JOB_CREATE_DB] = "create schema",     [SQL_JOB_DROP_DB] = "drop schema",
        [SQL_JOB_CREATE_TABLE] = "create table",   [SQL_JOB_DROP_TABLE] = "drop table",
        [SQL_JOB_TRUNCATE] = "truncate table",     [SQL_JOB_RENAME_TABLE] = "rename table",
        [SQL_JOB_ALTER_TABLE] = "alter table",     [SQL_JOB_ADD_INDEX] = "add index",
        [SQL_JOB_DROP_INDEX] = "drop index",       [SQL_JOB_ADD_COLUMN] = "add column",
        [SQL_JOB_DROP_COLUMN] = "drop column",     [SQL_JOB_MODIFY_COLUMN] = "modify column",
        [SQL_JOB_RENAME_COLUMN] = "rename column", [SQL_JOB_CREATE_LIKE] = "create table",
    };
    return type < sizeof(names) / sizeof(names[0]) && names[type] ? names[type] : "unknown";
}

const char *sql_ddl_job_state_name(uint8_t state)
{
    static const char *const names[] = {
        [SQL_JOB_QUEUEING] = "queueing",
        [SQL_JOB_RUNNING] = "running",
        [SQL_JOB_ROLLINGBACK] = "rollingback",
        [SQL_JOB_DONE] = "done",
        [SQL_JOB_ROLLBACK_DONE] = "rollback done",
        [SQL_JOB_CANCELLED] = "cancelled",
        [SQL_JOB_SYNCED] = "synced",
    };
    return state < sizeof(names) / sizeof(names[0]) && names[state] ? names[state] : "none";
}

const char *sql_ddl_obj_state_name(uint8_t state)
{
    static const char *const names[] = {
        [SQL_OBJ_NONE] = "none",
        [SQL_OBJ_DELETE_ONLY] = "delete only",
        [SQL_OBJ_WRITE_ONLY] = "write only",
        [SQL_OBJ_WRITE_REORG] = "write reorganization",
        [SQL_OBJ_DELETE_REORG] = "delete reorganization",
        [SQL_OBJ_PUBLIC] = "public",
    };
    return state < sizeof(names) / sizeof(names[0]) ? names[state] : "none";
}

/* ---- keys ---------------------------------------------------------------------------------- */

static int job_field(cm_buf *k, const char *hash, int64_t id)
{
    char f[32];
    snprintf(f, sizeof(f), "Job:%016" PRIx64, (uint64_t)id);
    return cm_keys_append_meta_hash_field(k, cm_slice_cstr(hash), cm_slice_cstr(f));
}

static int job_range(const char *hash, cm_buf *start, cm_buf *end)
{
    int rc = cm_keys_append_meta_prefix(start, cm_slice_cstr(hash), CM_META_HASH);
    return rc != 0 ? rc : cm_keys_prefix_next(cm_buf_slice(start), end);
}

int sql_ddl_key_queue(cm_buf *k, int64_t job_id)
{
    return job_field(k, "DDLJobQueue", job_id);
}

int sql_ddl_key_queue_range(cm_buf *start, cm_buf *end)
{
    return job_range("DDLJobQueue", start, end);
}

int sql_ddl_key_history(cm_buf *k, int64_t job_id)
{
    return job_field(k, "DDLJobHistory", job_id);
}

int sql_ddl_key_history_range(cm_buf *start, cm_buf *end)
{
    return job_range("DDLJobHistory", start, end);
}

/* ---- reading and writing jobs in a transaction ------------------------------------------- */

static int job_put(cm_txn *t, bool history, const sql_ddl_job *j, cm_err *err)
{
    cm_buf k = CM_BUF_INIT, v = CM_BUF_INIT;
    int rc = (history ? sql_ddl_key_history(&k, j->id) : sql_ddl_key_queue(&k, j->id)) != 0 ||
                     sql_ddl_job_encode(j, &v) != 0
                 ? nomem(err)
                 : cm_txn_set(t, cm_buf_slice(&k), cm_buf_slice(&v), err);
    cm_buf_fini(&k);
    cm_buf_fini(&v);
    return rc;
}

/* CM_E_NOT_FOUND when absent. */
static int job_get(cm_txn *t, bool history, int64_t id, cm_arena *a, sql_ddl_job *j, cm_err *err)
{
    cm_buf k = CM_BUF_INIT, v = CM_BUF_INIT;
    int rc = (history ? sql_ddl_key_history(&k, id) : sql_ddl_key_queue(&k, id)) != 0
                 ? nomem(err)
                 : cm_txn_get(t, cm_buf_slice(&k), &v, err);
    if (rc == 0) {
        rc = sql_ddl_job_decode(cm_buf_slice(&v), a, j, err);
    }
    cm_buf_fini(&k);
    cm_buf_fini(&v);
    return rc;
}

static int job_del_queue(cm_txn *t, int64_t id, cm_err *err)
{
    cm_buf k = CM_BUF_INIT;
    int rc = sql_ddl_key_queue(&k, id) != 0 ? nomem(err) : cm_txn_delete(t, cm_buf_slice(&k), err);
    cm_buf_fini(&k);
    return rc;
}

typedef int (*job_each_fn)(void *user, const sql_ddl_job *j);

/* Calls fn for every job of the queue (or history) in id order at t's snapshot, decoding in a
 * (reset between jobs is the caller's business). fn returning non-zero stops (returned). */
static int job_scan(cm_txn *t, bool history, cm_arena *a, job_each_fn fn, void *user, cm_err *err)
{
    cm_buf s = CM_BUF_INIT, e = CM_BUF_INIT;
    cm_txn_iter *it = NULL;
    int rc = (history ? sql_ddl_key_history_range(&s, &e) : sql_ddl_key_queue_range(&s, &e)) != 0
                 ? nomem(err)
                 : cm_txn_scan(t, cm_buf_slice(&s), cm_buf_slice(&e), &it, err);
    while (rc == 0) {
        cm_slice k, v;
        int more = cm_txn_iter_next(it, &k, &v, err);
        if (more <= 0) {
            rc = more;
            break;
        }
        sql_ddl_job j;
        if (sql_ddl_job_decode(v, a, &j, err) != 0) {
            CM_WARN(LOG_COMP, "skipping a corrupt DDL job record: %s", err->msg);
            cm_err_clear(err);
            continue;
        }
        rc = fn(user, &j);
    }
    cm_txn_iter_free(it);
    cm_buf_fini(&s);
    cm_buf_fini(&e);
    return rc;
}

/* ---- the lease thread ---------------------------------------------------------------------- */

static bool worker_stopping(struct sql_ddl_worker *w)
{
    pthread_mutex_lock(&w->mu);
    bool s = w->stopping;
    pthread_mutex_unlock(&w->mu);
    return s;
}

/* Waits on the worker's condition up to ms (or until stopping). */
static void worker_wait(struct sql_ddl_worker *w, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (ms % 1000) * 1000000;
    ts.tv_sec += ms / 1000 + ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    pthread_mutex_lock(&w->mu);
    if (!w->stopping && !w->poke) {
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    pthread_mutex_unlock(&w->mu);
}

/* Whether this node holds the owner lease now; *term receives its term. */
static bool owner_now(struct sql_ddl_worker *w, uint64_t *term)
{
    pthread_mutex_lock(&w->mu);
    bool ok = w->owner && !w->stopping && cm_time_mono_ms() < w->valid_until;
    if (term != NULL) {
        *term = w->term;
    }
    pthread_mutex_unlock(&w->mu);
    return ok;
}

static void *lease_main(void *arg)
{
    struct sql_ddl_worker *w = arg;
    sql_catalog *c = w->c;
    cm_pd_client *pd = cm_kv_client_pd(c->kc);
    uint64_t ttl = (uint64_t)c->opt.owner_ttl_ms;
    while (!worker_stopping(w)) {
        uint64_t t0 = cm_time_mono_ms();
        cm_err err;
        cm_err_clear(&err);
        uint64_t term = 0;
        bool owner = owner_now(w, &term);
        if (!owner) {
            cm_pd_lease l;
            memset(&l, 0, sizeof(l));
            if (cm_pd_campaign(pd, DDL_OWNER_ELECTION, c->node_id, ttl, &l, &err) == 0 &&
                l.granted) {
                pthread_mutex_lock(&w->mu);
                w->owner = true;
                w->term = l.term;
                w->valid_until = t0 + ttl;
                pthread_cond_broadcast(&w->cv);
                pthread_mutex_unlock(&w->mu);
                CM_INFO(LOG_COMP, "this node (%s) is the DDL owner, term %llu", c->node_id,
                        (unsigned long long)l.term);
                continue;
            }
            pthread_mutex_lock(&w->mu);
            w->owner = false;
            pthread_mutex_unlock(&w->mu);
            worker_wait(w, (int64_t)(ttl / 4 > 500 ? 500 : ttl / 4));
            continue;
        }
        uint64_t left = 0;
        int rc = cm_pd_renew(pd, DDL_OWNER_ELECTION, c->node_id, term, ttl, &left, &err);
        pthread_mutex_lock(&w->mu);
        if (rc == 0) {
            w->valid_until = t0 + ttl;
        } else if (rc == CM_E_NOT_FOUND) {
            w->owner = false;
            CM_WARN(LOG_COMP, "lost the DDL owner lease (term %llu)", (unsigned long long)term);
        } else if (cm_time_mono_ms() >= w->valid_until) {
            w->owner = false;
            CM_WARN(LOG_COMP, "DDL owner lease ran out (renew failed: %s)", err.msg);
        }
        pthread_mutex_unlock(&w->mu);
        /* sleep a third of the lease, but wake at once on stop */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ms = (int64_t)(ttl / 3);
        int64_t ns = ts.tv_nsec + (ms % 1000) * 1000000;
        ts.tv_sec += ms / 1000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_mutex_lock(&w->mu);
        while (!w->stopping) {
            if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT) {
                break;
            }
        }
        pthread_mutex_unlock(&w->mu);
    }
    uint64_t term = 0;
    pthread_mutex_lock(&w->mu);
    bool was = w->owner;
    term = w->term;
    w->owner = false;
    pthread_mutex_unlock(&w->mu);
    if (was) {
        cm_err err;
        cm_pd_resign(pd, DDL_OWNER_ELECTION, c->node_id, term, &err); /* best effort */
    }
    return NULL;
}

/* ---- running a job ------------------------------------------------------------------------- */

typedef struct run_ctx {
    struct sql_ddl_worker *w;
    sql_catalog *c;
    uint64_t term;
    int64_t job_id;
    uint64_t last_ckpt_ms;
} run_ctx;

/* The job as the queue has it now, in a fresh transaction (for reads that decide). */
static int load_job(sql_catalog *c, int64_t id, cm_arena *a, sql_ddl_job *j, cm_err *err)
{
    cm_txn *t = NULL;
    int rc = cm_txn_begin(c->kc, &t, err);
    if (rc == 0) {
        rc = job_get(t, false, id, a, j, err);
    }
    cm_txn_free(t);
    return rc;
}

/* The compare-and-set every write of the owner goes through: the job is read in t; it must still
 * be in the queue and not belong to a newer owner's term; the caller's changes are then applied
 * by fn and written with this owner's id and term. */
static int cas_begin(run_ctx *r, cm_txn **t, cm_arena *a, sql_ddl_job *j, cm_err *err)
{
    int rc = cm_txn_begin(r->c->kc, t, err);
    if (rc == 0) {
        rc = job_get(*t, false, r->job_id, a, j, err);
        if (rc == CM_E_NOT_FOUND) {
            rc = cm_err_set(err, CM_E_DDL_JOB_NOT_FOUND, "DDL job %lld left the queue",
                            (long long)r->job_id);
        }
    }
    if (rc == 0 && j->owner_term > r->term) {
        rc = cm_err_set(
            err, CM_E_DDL_OWNER_LOST, "DDL job %lld belongs to a newer owner (term %llu > %llu)",
            (long long)r->job_id, (unsigned long long)j->owner_term, (unsigned long long)r->term);
    }
    if (rc == 0) {
        j->owner = r->c->node_id;
        j->owner_term = r->term;
    }
    return rc;
}

/* Commits t if this node still holds the lease of r->term. */
static int cas_commit(run_ctx *r, cm_txn *t, cm_err *err)
{
    uint64_t term = 0;
    if (!owner_now(r->w, &term) || term != r->term) {
        return cm_err_set(err, CM_E_DDL_OWNER_LOST, "the DDL owner lease was lost");
    }
    return cm_txn_commit(t, err);
}

static bool transient(int rc)
{
    return rc != 0 && rc != CM_E_DDL_OWNER_LOST && rc != CM_E_DDL_JOB_NOT_FOUND &&
           !sql_ddl_is_stmt_error(rc);
}

/* Checkpoint of the backfill: persisted in the job record (compare-and-set); a cancel asked
 * meanwhile or a lost lease stops the backfill. */
static int on_ckpt(void *user, cm_slice next_key, uint64_t rows_done, cm_err *err)
{
    run_ctx *r = user;
    cm_arena a;
    cm_arena_init(&a, 0);
    int rc = 0;
    for (int attempt = 0; attempt < 10; attempt++) {
        cm_txn *t = NULL;
        sql_ddl_job j;
        rc = cas_begin(r, &t, &a, &j, err);
        if (rc == 0 && j.cancel) {
            rc = cm_err_set(err, CM_E_DDL_CANCELLED, "Cancelled DDL job");
        }
        if (rc == 0) {
            j.row_count = rows_done;
            j.reorg_key = (char *)next_key.ptr;
            j.reorg_key_len = (uint32_t)next_key.len;
            rc = job_put(t, false, &j, err);
        }
        if (rc == 0) {
            rc = cas_commit(r, t, err);
        }
        cm_txn_free(t);
        if (rc != CM_E_WRITE_CONFLICT && rc != CM_E_TXN_ROLLED_BACK) {
            break;
        }
        cm_arena_reset(&a);
    }
    cm_arena_fini(&a);
    return rc;
}

/* Runs the backfill of j's indexes in write-reorg, resuming from the job's checkpoint. */
static int run_backfill(run_ctx *r, const sql_ddl_job *j, cm_err *err)
{
    sql_schema *s = sql_cat_acquire(r->c);
    const sql_cat_table *t = s != NULL ? sql_schema_table_by_id(s, j->table_id) : NULL;
    int64_t ids[SQL_CAT_INDEXES_MAX];
    uint32_t n = t != NULL ? sql_ddl_reorg_indexes(j, t, ids) : 0;
    int rc = 0;
    if (n > 0) {
        sql_bf_options o;
        sql_bf_options_default(&o);
        if (r->c->opt.backfill_workers > 0) {
            o.workers = r->c->opt.backfill_workers;
        }
        if (r->c->opt.backfill_batch_rows > 0) {
            o.batch_rows = r->c->opt.backfill_batch_rows;
        }
        o.job_id = j->id;
        uint64_t t0 = cm_time_mono_ms();
        CM_INFO(LOG_COMP, "job %lld: backfill of %u index(es) of table %lld from %s",
                (long long)j->id, n, (long long)j->table_id,
                j->reorg_key_len > 0 ? "its checkpoint" : "the first row");
        rc = sql_ddl_backfill(r->c, t, ids, n, cm_slice_make(j->reorg_key, j->reorg_key_len),
                              j->row_count, &o, on_ckpt, r, err);
        CM_INFO(LOG_COMP, "job %lld: backfill ended in %llu ms, rc=%d %s", (long long)j->id,
                (unsigned long long)(cm_time_mono_ms() - t0), rc, rc ? err->msg : "");
    }
    sql_schema_release(s);
    return rc;
}

/* Marks the job as rolling back with the error code/msg (a step without a version change). */
static int start_rollback(run_ctx *r, int code, const char *msg, cm_err *err)
{
    cm_arena a;
    cm_arena_init(&a, 0);
    int rc = 0;
    for (int attempt = 0; attempt < 10; attempt++) {
        cm_txn *t = NULL;
        sql_ddl_job j;
        rc = cas_begin(r, &t, &a, &j, err);
        if (rc == 0) {
            j.state = SQL_JOB_ROLLINGBACK;
            j.err_code = code;
            j.err_msg = (char *)msg;
            rc = job_put(t, false, &j, err);
        }
        if (rc == 0) {
            rc = cas_commit(r, t, err);
        }
        cm_txn_free(t);
        if (rc != CM_E_WRITE_CONFLICT && rc != CM_E_TXN_ROLLED_BACK) {
            break;
        }
        cm_arena_reset(&a);
    }
    cm_arena_fini(&a);
    return rc;
}

/* Moves a finished job from the queue to the history (synced). */
static int finish_job(run_ctx *r, cm_err *err)
{
    cm_arena a;
    cm_arena_init(&a, 0);
    int rc = 0;
    for (int attempt = 0; attempt < 10; attempt++) {
        cm_txn *t = NULL;
        sql_ddl_job j;
        rc = cas_begin(r, &t, &a, &j, err);
        if (rc == 0) {
            if (j.state == SQL_JOB_DONE) {
                j.state = SQL_JOB_SYNCED;
            }
            j.end_ms = cm_time_wall_ms();
            rc = job_del_queue(t, j.id, err);
        }
        if (rc == 0) {
            rc = job_put(t, true, &j, err);
        }
        if (rc == 0) {
            rc = cas_commit(r, t, err);
        }
        cm_txn_free(t);
        if (rc == 0) {
            CM_INFO(LOG_COMP, "job %lld (%s) finished: %s%s%s", (long long)j.id,
                    sql_ddl_job_type_name(j.type), sql_ddl_job_state_name(j.state),
                    j.err_msg ? ": " : "", j.err_msg ? j.err_msg : "");
        }
        if (rc != CM_E_WRITE_CONFLICT && rc != CM_E_TXN_ROLLED_BACK) {
            break;
        }
        cm_arena_reset(&a);
    }
    cm_arena_fini(&a);
    return rc;
}

/* Whether job j may still be cancelled: queueing, or rolling forward with no drop past
 * write-only and no add already public. */
static bool cancellable(const sql_ddl_job *j, const sql_schema *s)
{
    if (j->state == SQL_JOB_QUEUEING) {
        return true;
    }
    if (j->state != SQL_JOB_RUNNING || j->nelems == 0) {
        return false;
    }
    const sql_cat_table *t = s != NULL ? sql_schema_table_by_id(s, j->table_id) : NULL;
    if (t == NULL) {
        return false;
    }
    for (uint32_t e = 0; e < j->nelems; e++) {
        const sql_job_elem *el = &j->elems[e];
        uint8_t st = SQL_OBJ_NONE;
        for (uint32_t i = 0; el->kind == SQL_ELEM_INDEX && i < t->nindexes; i++) {
            st = t->indexes[i].id == el->id ? t->indexes[i].state : st;
        }
        for (uint32_t i = 0; el->kind == SQL_ELEM_COLUMN && i < t->ncols; i++) {
            st = (int64_t)t->cols[i].id == el->id ? t->cols[i].state : st;
        }
        if ((el->add && st == SQL_OBJ_PUBLIC) ||
            (!el->add && st != SQL_OBJ_WRITE_ONLY && st != SQL_OBJ_PUBLIC)) {
            return false;
        }
    }
    return true;
}

/* One step in its own transaction. *finished: the job is over; *new_version: the schema version
 * it wrote (0: none). */
static int run_step(run_ctx *r, bool *finished, uint64_t *new_version, cm_err *err)
{
    *finished = false;
    *new_version = 0;
    cm_arena a;
    cm_arena_init(&a, 0);
    cm_txn *t = NULL;
    sql_ddl_job j;
    sql_schema *s = NULL;
    uint64_t v = 0;
    bool found = false;
    int rc = cas_begin(r, &t, &a, &j, err);
    if (rc == 0) {
        rc = sql_cat_read_version(t, &v, &found, err);
        if (rc == 0 && !found) {
            rc = cm_err_set(err, CM_E_NOT_FOUND, "the schema version key is missing");
        }
    }
    int64_t pause = CM_FP("ddl_owner_pause");
    if (rc == 0 && pause > 0 && v + 1 > (uint64_t)pause) {
        /* failpoint: hold the job between states (the caller comes back) */
        cm_txn_free(t);
        cm_arena_fini(&a);
        return CM_E_TIMEOUT;
    }
    if (rc == 0) {
        s = sql_cat_acquire(r->c);
        if (s == NULL || sql_schema_version(s) != v) {
            sql_schema_release(s);
            s = NULL;
            rc = sql_cat_load(t, &s, err);
        }
    }
    if (rc == 0 && j.state == SQL_JOB_QUEUEING) {
        j.start_ms = cm_time_wall_ms();
    }
    if (rc == 0 && j.cancel && cancellable(&j, s)) {
        if (j.state == SQL_JOB_QUEUEING) { /* nothing done yet: just end it */
            j.state = SQL_JOB_CANCELLED;
            j.err_code = CM_E_DDL_CANCELLED;
            j.err_msg = "Cancelled DDL job";
            rc = job_put(t, false, &j, err);
            if (rc == 0) {
                rc = cas_commit(r, t, err);
            }
            *finished = rc == 0;
            goto out;
        }
        j.state = SQL_JOB_ROLLINGBACK;
        j.err_code = CM_E_DDL_CANCELLED;
        j.err_msg = "Cancelled DDL job";
    }
    sql_ddl_step_out so;
    if (rc == 0) {
        rc = sql_ddl_step(r->c, t, s, v, &j, &a, &so, err);
    }
    if (rc == 0 && so.failed) {
        /* the statement failed: nothing of t is committed; the job ends with its error */
        cm_txn_free(t);
        t = NULL;
        sql_ddl_job failed = j;
        cm_txn *t2 = NULL;
        rc = cas_begin(r, &t2, &a, &j, err);
        if (rc == 0) {
            j.state = SQL_JOB_ROLLBACK_DONE;
            j.err_code = failed.err_code;
            j.err_msg = failed.err_msg;
            j.start_ms = failed.start_ms;
            rc = job_put(t2, false, &j, err);
        }
        if (rc == 0) {
            rc = cas_commit(r, t2, err);
        }
        cm_txn_free(t2);
        *finished = rc == 0;
        goto out;
    }
    if (rc == 0 && so.wrote) {
        rc = sql_cat_write_version(t, v + 1, err);
        j.schema_version = v + 1;
    }
    if (rc == 0) {
        rc = job_put(t, false, &j, err);
    }
    if (rc == 0) {
        rc = cas_commit(r, t, err);
    }
    if (rc == 0) {
        *finished = so.finished;
        *new_version = so.wrote ? v + 1 : 0;
        for (uint32_t i = 0; i < so.nforget; i++) {
            sql_cat_autoid_forget(r->c, so.forget[i]);
        }
        CM_INFO(LOG_COMP, "job %lld (%s): %s, %s, schema version %llu", (long long)j.id,
                sql_ddl_job_type_name(j.type), sql_ddl_job_state_name(j.state),
                sql_ddl_obj_state_name(j.schema_state), (unsigned long long)(so.wrote ? v + 1 : v));
    }
out:
    cm_txn_free(t);
    sql_schema_release(s);
    cm_arena_fini(&a);
    return rc;
}

static void run_job(struct sql_ddl_worker *w, uint64_t term, int64_t id)
{
    run_ctx r = {w, w->c, term, id, 0};
    int failures = 0;
    pthread_mutex_lock(&w->mu);
    w->running_job = id;
    pthread_mutex_unlock(&w->mu);
    cm_arena a;
    cm_arena_init(&a, 0);
    while (!worker_stopping(w)) {
        uint64_t now_term = 0;
        if (!owner_now(w, &now_term) || now_term != term) {
            break;
        }
        cm_err err;
        cm_err_clear(&err);
        cm_arena_reset(&a);
        sql_ddl_job j;
        int rc = load_job(w->c, id, &a, &j, &err);
        if (rc == CM_E_NOT_FOUND) {
            break; /* finished (by us or an earlier owner) */
        }
        if (rc == 0 && j.owner_term > term) {
            break; /* a newer owner has it */
        }
        bool finished = false;
        uint64_t nv = 0;
        if (rc == 0 && (j.state == SQL_JOB_DONE || j.state == SQL_JOB_ROLLBACK_DONE ||
                        j.state == SQL_JOB_CANCELLED)) {
            /* ended by the last step; make sure everyone has that version, then archive */
            bool all = false;
            rc = sql_cat_wait_synced(w->c, j.schema_version, &all, &err);
            if (rc == 0) {
                rc = finish_job(&r, &err);
            }
            if (rc == 0) {
                pthread_mutex_lock(&w->mu);
                w->finished++;
                pthread_cond_broadcast(&w->cv);
                pthread_mutex_unlock(&w->mu);
                break;
            }
        } else if (rc == 0) {
            /* every node has the job's last version before anything further happens: an
             * earlier owner may have died (or a commit come back undetermined) right after
             * a step, before its wait */
            if (j.schema_version > 0) {
                bool all = false;
                rc = sql_cat_wait_synced(w->c, j.schema_version, &all, &err);
            }
            if (rc == 0) {
                rc = run_backfill(&r, &j, &err);
            }
            if (rc != 0 && (sql_ddl_is_stmt_error(rc) || rc == CM_E_DDL_CANCELLED)) {
                char msg[CM_ERR_MSG_MAX];
                snprintf(msg, sizeof(msg), "%s", err.msg);
                rc = start_rollback(&r, rc, msg, &err);
                continue;
            }
            if (rc == 0) {
                rc = run_step(&r, &finished, &nv, &err);
            }
            if (rc == 0 && nv > 0) {
                cm_err e2;
                if (sql_cat_reload(w->c, &e2) != 0) {
                    CM_WARN(LOG_COMP, "reload after a DDL step failed: %s", e2.msg);
                }
                bool all = false;
                rc = sql_cat_wait_synced(w->c, nv, &all, &err);
                if (rc == 0 && !all) {
                    CM_WARN(LOG_COMP,
                            "job %lld: not every sqlnode loaded schema version %llu within two "
                            "leases; going on",
                            (long long)id, (unsigned long long)nv);
                }
            }
        }
        if (rc == CM_E_DDL_OWNER_LOST || rc == CM_E_DDL_JOB_NOT_FOUND) {
            CM_INFO(LOG_COMP, "job %lld: stopping here: %s", (long long)id, err.msg);
            break;
        }
        if (rc == CM_E_TIMEOUT && CM_FP("ddl_owner_pause") > 0) {
            worker_wait(w, 50); /* held by the failpoint */
            continue;
        }
        if (rc != 0) {
            failures++;
            CM_WARN(LOG_COMP, "job %lld: step failed (%d in a row): %s", (long long)id, failures,
                    err.msg);
            if (failures >= STEP_RETRIES_MAX && transient(rc)) {
                /* a KV store that keeps failing: give the job up, rolling back what it did */
                char msg[CM_ERR_MSG_MAX];
                snprintf(msg, sizeof(msg), "%s", err.msg);
                if (start_rollback(&r, rc, msg, &err) == 0) {
                    failures = 0;
                }
            }
            worker_wait(w, failures < 10 ? 20L * failures : 500);
            continue;
        }
        failures = 0;
        (void)finished;
    }
    cm_arena_fini(&a);
    pthread_mutex_lock(&w->mu);
    w->running_job = 0;
    pthread_mutex_unlock(&w->mu);
}

static int first_job_cb(void *user, const sql_ddl_job *j)
{
    *(int64_t *)user = j->id;
    return 1; /* stop at the first */
}

/* The id of the first queued job (0: none). */
static int first_job(sql_catalog *c, int64_t *id, cm_err *err)
{
    *id = 0;
    cm_arena a;
    cm_arena_init(&a, 0);
    cm_txn *t = NULL;
    int rc = cm_txn_begin(c->kc, &t, err);
    if (rc == 0) {
        rc = job_scan(t, false, &a, first_job_cb, id, err);
        rc = rc == 1 ? 0 : rc;
    }
    cm_txn_free(t);
    cm_arena_fini(&a);
    return rc;
}

static void *run_main(void *arg)
{
    struct sql_ddl_worker *w = arg;
    while (!worker_stopping(w)) {
        uint64_t term = 0;
        if (!owner_now(w, &term)) {
            worker_wait(w, IDLE_POLL_MS * 5);
            continue;
        }
        pthread_mutex_lock(&w->mu);
        w->poke = false;
        pthread_mutex_unlock(&w->mu);
        int64_t id = 0;
        cm_err err;
        cm_err_clear(&err);
        if (first_job(w->c, &id, &err) != 0) {
            CM_WARN(LOG_COMP, "reading the DDL queue failed: %s", err.msg);
            worker_wait(w, IDLE_POLL_MS * 5);
            continue;
        }
        if (id == 0) {
            worker_wait(w, IDLE_POLL_MS);
            continue;
        }
        run_job(w, term, id);
    }
    return NULL;
}

int sql_ddl_worker_start(sql_catalog *c, cm_err *err)
{
    struct sql_ddl_worker *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return nomem(err);
    }
    w->c = c;
    if (c->opt.owner_ttl_ms <= 0) {
        c->opt.owner_ttl_ms = 10000;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    c->ddl = w;
    if (c->opt.no_ddl_worker) {
        return 0;
    }
    if (pthread_create(&w->lease_thr, NULL, lease_main, w) != 0) {
        return cm_err_set(err, CM_E_NOMEM, "cannot start the DDL lease thread");
    }
    w->lease_started = true;
    if (pthread_create(&w->run_thr, NULL, run_main, w) != 0) {
        return cm_err_set(err, CM_E_NOMEM, "cannot start the DDL worker thread");
    }
    w->run_started = true;
    return 0;
}

void sql_ddl_worker_stop(sql_catalog *c)
{
    struct sql_ddl_worker *w = c->ddl;
    if (w == NULL) {
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (w->run_started) {
        pthread_join(w->run_thr, NULL);
    }
    if (w->lease_started) {
        pthread_join(w->lease_thr, NULL);
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
    c->ddl = NULL;
}

/* ---- submission ---------------------------------------------------------------------------- */

int sql_ddl_exec(sql_catalog *c, const char *curdb, const char *src, const sql_token *t, uint32_t n,
                 sql_ddl_result *res, cm_err *err)
{
    return sql_ddl_exec_mode(c, curdb, 0, src, t, n, res, err);
}

static int enqueue(sql_catalog *c, sql_ddl_job *j, cm_err *err)
{
    int rc = 0;
    for (int attempt = 0; attempt < SQL_CAT_DDL_RETRIES; attempt++) {
        cm_txn *t = NULL;
        rc = cm_txn_begin(c->kc, &t, err);
        if (rc == 0) {
            rc = job_put(t, false, j, err);
        }
        if (rc == 0) {
            rc = cm_txn_commit(t, err);
        }
        cm_txn_free(t);
        if (rc != CM_E_WRITE_CONFLICT && rc != CM_E_TXN_ROLLED_BACK) {
            break;
        }
    }
    return rc;
}

/* Waits for job id in the history; *out (strings in a) is the finished job. */
static int wait_job(sql_catalog *c, int64_t id, cm_arena *a, sql_ddl_job *out, cm_err *err)
{
    struct sql_ddl_worker *w = c->ddl;
    int64_t sleep_ms = 2;
    int transient_failures = 0;
    for (;;) {
        uint64_t seen = 0;
        if (w != NULL) {
            pthread_mutex_lock(&w->mu);
            seen = w->finished;
            pthread_mutex_unlock(&w->mu);
        }
        cm_txn *t = NULL;
        int rc = cm_txn_begin(c->kc, &t, err);
        if (rc == 0) {
            rc = job_get(t, true, id, a, out, err);
        }
        cm_txn_free(t);
        if (rc == 0) {
            return 0;
        }
        if (rc != CM_E_NOT_FOUND) {
            if (++transient_failures > 200) { /* minutes of a KV store that does not answer */
                return rc;
            }
            CM_WARN(LOG_COMP, "waiting for DDL job %lld: %s", (long long)id, err->msg);
        }
        /* sleep until a local job finishes or the poll interval passes */
        if (w != NULL) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ns = ts.tv_nsec + sleep_ms * 1000000;
            ts.tv_sec += ns / 1000000000;
            ts.tv_nsec = ns % 1000000000;
            pthread_mutex_lock(&w->mu);
            while (w->finished == seen && !w->stopping) {
                if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT) {
                    break;
                }
            }
            bool stop = w->stopping;
            pthread_mutex_unlock(&w->mu);
            if (stop) {
                return cm_err_set(err, CM_E_SERVER_SHUTDOWN,
                                  "Server shutdown in progress (DDL job %lld is still queued)",
                                  (long long)id);
            }
        } else {
            cm_time_sleep_ms((uint64_t)sleep_ms);
        }
        sleep_ms = sleep_ms * 2 > SUBMIT_POLL_MAX_MS ? SUBMIT_POLL_MAX_MS : sleep_ms * 2;
    }
}

int sql_ddl_exec_mode(sql_catalog *c, const char *curdb, unsigned lex_mode, const char *src,
                      const sql_token *t, uint32_t n, sql_ddl_result *res, cm_err *err)
{
    memset(res, 0, sizeof(*res));
    cm_arena a;
    cm_arena_init(&a, 0);
    sql_ddl_stmt st;
    int rc = sql_ddl_parse_mode(src, t, n, lex_mode, &a, &st, err);
    if (rc != 0) {
        cm_arena_fini(&a);
        return rc;
    }
    sql_ddl_job j;
    memset(&j, 0, sizeof(j));
    sql_ddl_job_describe(&st, curdb, &j, &a);
    size_t from = n > 0 ? t[0].off : 0;
    size_t to = n > 0 ? t[n - 1].off + t[n - 1].len : 0;
    j.query = cm_arena_strndup(&a, src + from, to - from);
    j.lex_mode = lex_mode;
    j.state = SQL_JOB_QUEUEING;
    j.schema_state = SQL_OBJ_NONE;
    j.create_ms = cm_time_wall_ms();
    if (j.query == NULL) {
        rc = nomem(err);
    }
    if (rc == 0) {
        rc = sql_cat_alloc_ids(c, 1, &j.id, err);
    }
    if (rc == 0) {
        rc = enqueue(c, &j, err);
    }
    if (rc == 0 && c->ddl != NULL) {
        pthread_mutex_lock(&c->ddl->mu);
        c->ddl->poke = true;
        pthread_cond_broadcast(&c->ddl->cv);
        pthread_mutex_unlock(&c->ddl->mu);
    }
    sql_ddl_job done;
    if (rc == 0) {
        rc = wait_job(c, j.id, &a, &done, err);
    }
    if (rc == 0) {
        cm_err e2;
        if (sql_cat_reload(c, &e2) != 0) {
            CM_WARN(LOG_COMP, "reload after DDL job %lld failed: %s", (long long)j.id, e2.msg);
        }
        if (done.err_code != 0) {
            rc = cm_err_set(err, done.err_code, "%s", done.err_msg ? done.err_msg : "DDL failed");
        } else {
            res->affected = done.affected;
            if (done.warning_code != 0) {
                res->warnings = 1;
                res->warning_code = done.warning_code;
                snprintf(res->warning_msg, sizeof(res->warning_msg), "%s",
                         done.warning_msg ? done.warning_msg : "");
            }
        }
    }
    cm_arena_fini(&a);
    return rc;
}

/* ---- ADMIN --------------------------------------------------------------------------------- */

static sql_column col_of(const char *name, bool num)
{
    sql_column c;
    memset(&c, 0, sizeof(c));
    c.name = name;
    c.name_len = strlen(name);
    if (num) {
        c.type = SQL_TYPE_LONGLONG;
        c.charset = SQL_COLLATION_BINARY;
        c.length = 21;
        c.flags = SQL_FLAG_NUM;
    } else {
        c.type = SQL_TYPE_VAR_STRING;
        c.charset = 46;
        c.length = 256;
    }
    return c;
}

static sql_value text_or_null(const char *s)
{
    return s != NULL ? sql_value_text(s, strlen(s)) : sql_value_null();
}

/* "YYYY-MM-DD HH:MM:SS" in UTC of unix ms (0: NULL). */
static sql_value time_val(uint64_t ms, char *buf, size_t cap)
{
    if (ms == 0) {
        return sql_value_null();
    }
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm);
    return sql_value_text(buf, n);
}

typedef struct jobs_acc {
    cm_arena *a;
    sql_ddl_job *v;
    uint32_t n, cap;
    bool oom;
} jobs_acc;

static int acc_cb(void *user, const sql_ddl_job *j)
{
    jobs_acc *x = user;
    if (x->n == x->cap) {
        uint32_t cap = x->cap ? x->cap * 2 : 16;
        sql_ddl_job *v = realloc(x->v, sizeof(*v) * cap);
        if (v == NULL) {
            x->oom = true;
            return 1;
        }
        x->v = v;
        x->cap = cap;
    }
    x->v[x->n++] = *j;
    return 0;
}

static int job_row(sql_sink *sink, const sql_ddl_job *j)
{
    char ct[32], st[32], et[32];
    sql_value v[12];
    v[0] = sql_value_int(j->id);
    v[1] = text_or_null(j->db_name);
    v[2] = text_or_null(j->table_name);
    v[3] = text_or_null(sql_ddl_job_type_name(j->type));
    v[4] = text_or_null(sql_ddl_obj_state_name(j->schema_state));
    v[5] = sql_value_int(j->db_id);
    v[6] = sql_value_int(j->table_id);
    v[7] = sql_value_int((int64_t)j->row_count);
    v[8] = time_val(j->create_ms, ct, sizeof(ct));
    v[9] = time_val(j->start_ms, st, sizeof(st));
    v[10] = time_val(j->end_ms, et, sizeof(et));
    v[11] = text_or_null(sql_ddl_job_state_name(j->state));
    return sink->row(sink, v, 12);
}

int sql_ddl_admin_show_jobs(sql_catalog *c, uint32_t n, sql_sink *sink, cm_err *err)
{
    if (n == 0) {
        n = 10;
    }
    cm_arena a;
    cm_arena_init(&a, 0);
    jobs_acc q = {&a, NULL, 0, 0, false}, h = {&a, NULL, 0, 0, false};
    cm_txn *t = NULL;
    int rc = cm_txn_begin(c->kc, &t, err);
    if (rc == 0) {
        rc = job_scan(t, false, &a, acc_cb, &q, err);
    }
    if (rc == 0) {
        rc = job_scan(t, true, &a, acc_cb, &h, err);
    }
    cm_txn_free(t);
    if (rc == 0 && (q.oom || h.oom)) {
        rc = nomem(err);
    }
    static const char *const names[] = {"JOB_ID",       "DB_NAME",    "TABLE_NAME", "JOB_TYPE",
                                        "SCHEMA_STATE", "SCHEMA_ID",  "TABLE_ID",   "ROW_COUNT",
                                        "CREATE_TIME",  "START_TIME", "END_TIME",   "STATE"};
    sql_column cols[12];
    for (int i = 0; i < 12; i++) {
        cols[i] = col_of(names[i], i == 0 || i == 5 || i == 6 || i == 7);
    }
    if (rc == 0) {
        rc = sink->columns(sink, cols, 12);
    }
    for (uint32_t i = q.n; rc == 0 && i > 0; i--) {
        rc = job_row(sink, &q.v[i - 1]);
    }
    for (uint32_t i = h.n, k = 0; rc == 0 && i > 0 && k < n; i--, k++) {
        rc = job_row(sink, &h.v[i - 1]);
    }
    if (rc < 0 && err->code == 0) {
        rc = cm_err_set(err, rc, "sending the result failed");
    }
    free(q.v);
    free(h.v);
    cm_arena_fini(&a);
    return rc;
}

int sql_ddl_admin_show_ddl(sql_catalog *c, sql_sink *sink, cm_err *err)
{
    cm_pd_lease l;
    memset(&l, 0, sizeof(l));
    int rc = cm_pd_get_owner(cm_kv_client_pd(c->kc), DDL_OWNER_ELECTION, &l, err);
    if (rc == CM_E_NOT_FOUND) {
        rc = 0;
        l.owner[0] = '\0';
    }
    /* the owner's address: its entry in the schema registry */
    cm_buf addr = CM_BUF_INIT;
    if (rc == 0 && l.owner[0] != '\0') {
        char key[300];
        snprintf(key, sizeof(key), "%s%s", SQL_CAT_REG_SCHEMA, l.owner);
        cm_err e2;
        uint64_t ttl = 0;
        if (cm_pd_registry_get(cm_kv_client_pd(c->kc), key, &addr, &ttl, &e2) == 0 &&
            addr.len > 8) {
            memmove(addr.ptr, addr.ptr + 8, addr.len - 8);
            addr.len -= 8;
        } else {
            cm_buf_reset(&addr);
        }
    }
    int64_t running = 0;
    if (c->ddl != NULL) {
        pthread_mutex_lock(&c->ddl->mu);
        running = c->ddl->running_job;
        pthread_mutex_unlock(&c->ddl->mu);
    }
    sql_schema *s = sql_cat_acquire(c);
    uint64_t ver = s != NULL ? sql_schema_version(s) : 0;
    sql_schema_release(s);
    static const char *const names[] = {"SCHEMA_VER", "OWNER_ID", "OWNER_ADDRESS", "RUNNING_JOBS",
                                        "SELF_ID"};
    sql_column cols[5];
    for (int i = 0; i < 5; i++) {
        cols[i] = col_of(names[i], i == 0);
    }
    char run[32] = "";
    if (running > 0) {
        snprintf(run, sizeof(run), "%lld", (long long)running);
    }
    sql_value v[5];
    v[0] = sql_value_int((int64_t)ver);
    v[1] = sql_value_text(l.owner, strlen(l.owner));
    v[2] = sql_value_text(addr.ptr ? (const char *)addr.ptr : "", addr.len);
    v[3] = sql_value_text(run, strlen(run));
    v[4] = sql_value_text(c->node_id, strlen(c->node_id));
    if (rc == 0) {
        rc = sink->columns(sink, cols, 5);
    }
    if (rc == 0) {
        rc = sink->row(sink, v, 5);
    }
    cm_buf_fini(&addr);
    if (rc < 0 && err->code == 0) {
        rc = cm_err_set(err, rc, "sending the result failed");
    }
    return rc;
}

/* Sets the cancel flag of one queued job; *msg receives the row's RESULT. */
static int cancel_one(sql_catalog *c, int64_t id, char *msg, size_t cap, cm_err *err)
{
    int rc = 0;
    for (int attempt = 0; attempt < SQL_CAT_DDL_RETRIES; attempt++) {
        cm_arena a;
        cm_arena_init(&a, 0);
        cm_txn *t = NULL;
        sql_ddl_job j;
        rc = cm_txn_begin(c->kc, &t, err);
        if (rc == 0) {
            rc = job_get(t, false, id, &a, &j, err);
        }
        if (rc == CM_E_NOT_FOUND) {
            sql_ddl_job h;
            int hr = job_get(t, true, id, &a, &h, err);
            snprintf(msg, cap,
                     hr == 0 ? "error: [ddl:8225]This job:%lld is finished, so can't be cancelled"
                             : "error: [ddl:8223]DDL Job:%lld not found",
                     (long long)id);
            cm_txn_free(t);
            cm_arena_fini(&a);
            return 0;
        }
        if (rc == 0) {
            sql_schema *s = sql_cat_acquire(c);
            bool ok = j.cancel || cancellable(&j, s);
            sql_schema_release(s);
            if (!ok) {
                snprintf(
                    msg, cap,
                    "error: [ddl:8224]This job:%lld is almost finished, can't be cancelled now",
                    (long long)id);
                cm_txn_free(t);
                cm_arena_fini(&a);
                return 0;
            }
            j.cancel = true;
            rc = job_put(t, false, &j, err);
        }
        if (rc == 0) {
            rc = cm_txn_commit(t, err);
        }
        cm_txn_free(t);
        cm_arena_fini(&a);
        if (rc == 0) {
            snprintf(msg, cap, "successful");
            return 0;
        }
        if (rc != CM_E_WRITE_CONFLICT && rc != CM_E_TXN_ROLLED_BACK) {
            break;
        }
    }
    return rc;
}

int sql_ddl_admin_cancel(sql_catalog *c, const int64_t *ids, uint32_t n, sql_sink *sink,
                         cm_err *err)
{
    sql_column cols[2] = {col_of("JOB_ID", true), col_of("RESULT", false)};
    char(*msgs)[160] = calloc(n ? n : 1, sizeof(*msgs));
    if (msgs == NULL) {
        return nomem(err);
    }
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        rc = cancel_one(c, ids[i], msgs[i], sizeof(msgs[i]), err);
    }
    if (rc == 0 && c->ddl != NULL) {
        pthread_mutex_lock(&c->ddl->mu);
        c->ddl->poke = true;
        pthread_cond_broadcast(&c->ddl->cv);
        pthread_mutex_unlock(&c->ddl->mu);
    }
    if (rc == 0) {
        rc = sink->columns(sink, cols, 2);
    }
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        sql_value v[2] = {sql_value_int(ids[i]), sql_value_text(msgs[i], strlen(msgs[i]))};
        rc = sink->row(sink, v, 2);
    }
    free(msgs);
    if (rc < 0 && err->code == 0) {
        rc = cm_err_set(err, rc, "sending the result failed");
    }
    return rc;
}
