/* cm_tso_batch.c — gathering batch + single in-flight request; the rule is in cm_tso_batch.h. */
#include "cm_tso_batch.h"

#include "cm_assert.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef enum batch_state {
    BATCH_GATHERING = 0, /* open: callers may join */
    BATCH_SENT = 1,      /* closed: its request is on the wire */
    BATCH_DONE = 2,      /* reply (or error) is in */
} batch_state;

typedef struct batch {
    pthread_cond_t cv; /* members wait here */
    batch_state state;
    uint32_t size; /* members; final once the batch leaves GATHERING */
    uint32_t refs; /* members that have not yet taken their result */
    int rc;
    uint64_t first_ts;
    cm_err err;
} batch;

struct cm_tso_batcher {
    pthread_mutex_t mu;
    pthread_cond_t full_cv; /* callers waiting because the gathering batch is full */
    cm_tso_fetch_cb fetch;
    void *user;
    uint32_t max_batch;
    batch *gathering; /* the one batch open for joining, or NULL */
    int inflight;     /* whether a request is on the wire */
    cm_tso_batch_stats stats;
};

int cm_tso_batcher_create(cm_tso_fetch_cb fetch, void *user, uint32_t max_batch,
                          cm_tso_batcher **out, cm_err *err)
{
    if (max_batch == 0 || max_batch > (1u << 18)) {
        return cm_err_set(err, CM_E_INVALID, "tso batch: max_batch %u outside 1..2^18", max_batch);
    }
    cm_tso_batcher *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "tso batch: out of memory");
    }
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->full_cv, NULL);
    b->fetch = fetch;
    b->user = user;
    b->max_batch = max_batch;
    *out = b;
    return 0;
}

void cm_tso_batcher_free(cm_tso_batcher *b)
{
    if (b == NULL) {
        return;
    }
    CM_ASSERT(b->gathering == NULL);
    CM_ASSERT(!b->inflight);
    pthread_cond_destroy(&b->full_cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

static batch *batch_new(void)
{
    batch *x = calloc(1, sizeof(*x));
    if (x != NULL) {
        pthread_cond_init(&x->cv, NULL);
    }
    return x;
}

static int bucket_of(uint32_t n)
{
    int i = 0;
    while (i < CM_TSO_BATCH_BUCKETS - 1 && (1u << i) < n) {
        i++;
    }
    return i;
}

/* Sends batch x (the caller is one of its members and holds mu; mu is released during the
 * request). On return x is DONE and the next gathering batch, if any, has been woken. */
static void send_batch(cm_tso_batcher *b, batch *x)
{
    CM_ASSERT(x->state == BATCH_GATHERING);
    CM_ASSERT(b->gathering == x);
    CM_ASSERT(!b->inflight);
    /* Close it: from here on nobody joins x; newcomers open the next batch. */
    b->gathering = NULL;
    x->state = BATCH_SENT;
    b->inflight = 1;
    pthread_cond_broadcast(&b->full_cv);
    uint32_t n = x->size;
    pthread_mutex_unlock(&b->mu);

    uint64_t first = 0;
    cm_err e;
    cm_err_clear(&e);
    int rc = b->fetch(b->user, n, &first, &e);

    pthread_mutex_lock(&b->mu);
    x->rc = rc;
    x->first_ts = first;
    x->err = e;
    x->state = BATCH_DONE;
    b->inflight = 0;
    b->stats.requests++;
    if (rc != 0) {
        b->stats.errors++;
    } else {
        b->stats.timestamps += n;
        if (n > b->stats.max_batch) {
            b->stats.max_batch = n;
        }
        b->stats.size_buckets[bucket_of(n)]++;
    }
    pthread_cond_broadcast(&x->cv);
    /* Wake one member of the batch that gathered meanwhile: it becomes the next sender. */
    if (b->gathering != NULL) {
        pthread_cond_signal(&b->gathering->cv);
    }
}

int cm_tso_batcher_get(cm_tso_batcher *b, uint64_t *ts, cm_err *err)
{
    pthread_mutex_lock(&b->mu);
    while (b->gathering != NULL && b->gathering->size >= b->max_batch) {
        pthread_cond_wait(&b->full_cv, &b->mu);
    }
    if (b->gathering == NULL) {
        b->gathering = batch_new();
        if (b->gathering == NULL) {
            pthread_mutex_unlock(&b->mu);
            return cm_err_set(err, CM_E_NOMEM, "tso batch: out of memory");
        }
    }
    batch *x = b->gathering;
    uint32_t idx = x->size++;
    x->refs++;
    for (;;) {
        if (x->state == BATCH_DONE) {
            break;
        }
        if (x->state == BATCH_GATHERING && !b->inflight) {
            send_batch(b, x);
            break;
        }
        /* Either our batch is on the wire (another member sent it), or a previous batch is:
         * wait for a reply or for our turn. */
        pthread_cond_wait(&x->cv, &b->mu);
    }
    int rc = x->rc;
    if (rc == 0) {
        *ts = x->first_ts + idx;
    } else if (err != NULL) {
        *err = x->err;
    }
    CM_ASSERT(x->refs > 0);
    if (--x->refs == 0) {
        pthread_cond_destroy(&x->cv);
        free(x);
    }
    pthread_mutex_unlock(&b->mu);
    return rc;
}

void cm_tso_batcher_stats(cm_tso_batcher *b, cm_tso_batch_stats *out)
{
    pthread_mutex_lock(&b->mu);
    *out = b->stats;
    pthread_mutex_unlock(&b->mu);
}
