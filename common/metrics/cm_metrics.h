/*
 * cm_metrics.h — a small metrics registry and the status HTTP server.
 *
 * Counters, gauges and histograms are registered once (typically at startup, into the process's
 * global registry) and updated lock-free with atomics on hot paths. The status server
 * (libmicrohttpd) serves `/metrics` in Prometheus text format and `/status` as JSON built from a
 * callback the process registers (version, config, role-specific state).
 * A registry holds at most CM_METRICS_SERIES_MAX series; registering more fails rather than
 * growing without bound. Labels are fixed at registration ("method=\"Get\"").
 */
#ifndef CM_METRICS_H
#define CM_METRICS_H

#include "cm_buf.h"
#include "cm_err.h"

#include <stdint.h>

typedef struct cm_counter cm_counter;
typedef struct cm_gauge cm_gauge;
typedef struct cm_histogram cm_histogram;
typedef struct cm_metrics cm_metrics;

/* The process-wide registry (created on first use; never freed while the process runs). */
cm_metrics *cm_metrics_global(void);
cm_metrics *cm_metrics_create(void);
void cm_metrics_free(cm_metrics *m);

/* Registration returns the existing series when name+labels are already registered; NULL when
 * the registry is full or out of memory. `labels` may be NULL or e.g. "method=\"Get\"". */
cm_counter *cm_metrics_counter(cm_metrics *m, const char *name, const char *labels,
                               const char *help);
cm_gauge *cm_metrics_gauge(cm_metrics *m, const char *name, const char *labels, const char *help);
/* bounds: ascending upper bounds (at most CM_METRICS_BUCKETS_MAX); +Inf is implicit. */
cm_histogram *cm_metrics_histogram(cm_metrics *m, const char *name, const char *labels,
                                   const char *help, const double *bounds, int nbounds);

/* All updates are thread-safe and accept NULL (a metric that failed to register is a no-op). */
void cm_counter_add(cm_counter *c, uint64_t n);
static inline void cm_counter_inc(cm_counter *c)
{
    cm_counter_add(c, 1);
}
uint64_t cm_counter_get(const cm_counter *c);
void cm_gauge_set(cm_gauge *g, int64_t v);
void cm_gauge_add(cm_gauge *g, int64_t delta);
int64_t cm_gauge_get(const cm_gauge *g);
void cm_histogram_observe(cm_histogram *h, double v);
uint64_t cm_histogram_count(const cm_histogram *h);

/* Appends the Prometheus text exposition of every series to out. */
int cm_metrics_render(cm_metrics *m, cm_buf *out);

/* Status server. `status_cb` appends one JSON object to `out` (the /status body); `user` is
 * borrowed. */
typedef int (*cm_status_json_cb)(void *user, cm_buf *out);
typedef struct cm_status_server cm_status_server;
/* addr "host:port" (port 0 picks a free one). Serves /metrics from `m` and /status. */
int cm_status_server_start(const char *addr, cm_metrics *m, cm_status_json_cb status_cb, void *user,
                           cm_status_server **out, cm_err *err);
int cm_status_server_port(const cm_status_server *s);
void cm_status_server_stop(cm_status_server *s);

/* ---- Additions (after the interface was fixed; nothing above changed) ---------------------- */

/* Bounds on what one registration may carry. A name or label set longer than these is a bug
 * (labels are fixed at registration, never built from user data without bound), and with
 * CM_METRICS_SERIES_MAX they bound the size of one scrape. */
#define CM_METRICS_NAME_BYTES_MAX   128  /* metric names: tessera_<component>_<what>_<unit> */
#define CM_METRICS_LABELS_BYTES_MAX 1024 /* the whole label string as given */
#define CM_METRICS_LABELS_MAX       16   /* label pairs per series */
#define CM_METRICS_HELP_BYTES_MAX   1024 /* help text, before escaping */

/* Status server: concurrent connections; beyond it libmicrohttpd serves no new connection until
 * a slot frees (a scrape is one short request, so 64 is far more than Prometheus + operators
 * need). */
#define CM_STATUS_CONNECTIONS_MAX 64
/* Status server: an idle (or slowly trickling) connection is closed after this many seconds, so
 * a stuck client cannot hold a connection slot for ever. */
#define CM_STATUS_IDLE_TIMEOUT_S 10

/* Number of series registered in m (0 for NULL). */
int cm_metrics_series_count(cm_metrics *m);
/* Appends value to out escaped as a Prometheus label value (\\ \" \n), without quotes, so a
 * caller can build `labels` from a value it does not control. Returns 0 or CM_E_NOMEM. */
int cm_metrics_label_escape(cm_buf *out, const char *value);

#endif
