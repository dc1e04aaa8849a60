/*
 * cm_tso_batch.h — client-side batching of timestamp requests (DESIGN.md §6, docs/pd.md).
 *
 * Many threads ask for one timestamp each; one request to PD serves many of them. The rule:
 *
 *   There is at most ONE request in flight and at most ONE batch gathering. A thread that asks
 *   joins the gathering batch (opening one if there is none) and is given the next index in
 *   it. When no request is in flight, a member of the gathering batch closes it and sends it as
 *   one request for `size` timestamps; threads asking after that open the next gathering
 *   batch. When a reply arrives, every member of that batch gets first_ts + its index, and
 *   the next gathering batch (if any) is sent.
 *
 * A thread never joins a request that has already been sent. Why it matters: thread B may ask
 * for a timestamp *because* thread A's transaction committed at commit_ts a (A told B). If B
 * could join a request already in flight, that request may have been served by PD before a was
 * handed out, and B would read at a timestamp below a commit it has seen. Joining only a batch
 * that is sent after B asked guarantees that PD serves B's request after it served A's, so
 * b > a. (Causality holds for any number of requests in flight under this rule; allowing only
 * one is what makes batches form: everything that arrives during one round trip rides the next.)
 *
 * Within a batch, timestamps go out in join order, so a thread's successive timestamps always
 * increase. A failed request fails every member of its batch with the same error; the fetch
 * callback is expected to have retried within its own time budget already.
 * Thread-safe.
 */
#ifndef CM_TSO_BATCH_H
#define CM_TSO_BATCH_H

#include "cm_err.h"

#include <stdint.h>

/* Asks PD for `count` consecutive timestamps; *first_ts receives the first. Runs on the calling
 * thread of the member that sends the batch; `user` is the pointer given at creation. */
typedef int (*cm_tso_fetch_cb)(void *user, uint32_t count, uint64_t *first_ts, cm_err *err);

/* Batch sizes are counted in power-of-two buckets: bucket i holds sizes in (2^(i-1), 2^i]. */
#define CM_TSO_BATCH_BUCKETS 18

typedef struct cm_tso_batch_stats {
    uint64_t requests;   /* requests sent to PD */
    uint64_t timestamps; /* timestamps handed to callers */
    uint64_t errors;     /* requests that failed */
    uint64_t max_batch;  /* largest batch sent */
    uint64_t size_buckets[CM_TSO_BATCH_BUCKETS];
} cm_tso_batch_stats;

typedef struct cm_tso_batcher cm_tso_batcher;

/* max_batch: the most members one batch takes (1 .. 2^18); further callers wait for the next
 * batch. `user` is borrowed. */
int cm_tso_batcher_create(cm_tso_fetch_cb fetch, void *user, uint32_t max_batch,
                          cm_tso_batcher **out, cm_err *err);
/* No call may be in progress. */
void cm_tso_batcher_free(cm_tso_batcher *b);
/* One timestamp, under the rule above. */
int cm_tso_batcher_get(cm_tso_batcher *b, uint64_t *ts, cm_err *err);
void cm_tso_batcher_stats(cm_tso_batcher *b, cm_tso_batch_stats *out);

#endif
