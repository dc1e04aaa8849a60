/*
 * cm_metrics_int.h — internals of common/metrics shared by its two files, its unit tests and its
 * fuzz target. Nothing outside common/metrics includes this header.
 */
#ifndef CM_METRICS_INT_H
#define CM_METRICS_INT_H

#include "cm_metrics.h"

/* Whether name is a valid Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*, at most
 * CM_METRICS_NAME_BYTES_MAX bytes). name is borrowed; NULL is invalid. */
int cm_metrics_name_valid(const char *name);

/* Parses a label string `a="x",b="y"` (NULL or "" means no labels) and appends its canonical form
 * to out: pairs sorted by label name, joined by ','. Rejects with CM_E_INVALID (message in err):
 * bad label names, names starting with "__", duplicate names, values that are not valid UTF-8 or
 * carry a raw newline or an escape other than \\ \" \n, more than CM_METRICS_LABELS_MAX pairs,
 * and strings longer than CM_METRICS_LABELS_BYTES_MAX. On error out is left as it was. */
int cm_metrics_labels_canon(const char *labels, cm_buf *out, cm_err *err);

/* One HTTP answer of the status server, built without libmicrohttpd so tests and the fuzz target
 * can drive the routing directly. body is owned by the reply (cm_buf_fini it). */
typedef struct cm_status_reply {
    int http_status;
    const char *content_type; /* static */
    const char *allow;        /* static; the Allow header of a 405, else NULL */
    cm_buf body;
} cm_status_reply;

/* Answers one request: GET/HEAD /metrics (render m), GET/HEAD /status (status_cb, or "{}" when
 * it is NULL), 404 for any other path, 405 for any other method. method and url are borrowed
 * and may hold any bytes (NULL is treated as ""). Returns 0, or CM_E_NOMEM when even the error
 * reply could not be built (the reply is then empty and the connection should be dropped). */
int cm_status_route(const char *method, const char *url, cm_metrics *m, cm_status_json_cb status_cb,
                    void *user, cm_status_reply *r);

#endif
