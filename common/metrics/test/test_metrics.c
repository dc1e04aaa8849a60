/*
 * Unit tests for common/metrics: registration (dedupe, validation, the series bound), lock-free
 * updates from many threads, histogram buckets, the exact Prometheus text of a small registry,
 * request routing, and the status server over a real loopback socket (including garbage input
 * and the connection bound).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_limits.h"
#include "cm_log.h"
#include "cm_metrics.h"
#include "cm_metrics_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- registry ------------------------------------------------------------------------------ */

static void test_register_dedupe(void **state)
{
    (void)state;
    cm_metrics *m = cm_metrics_create();
    assert_non_null(m);
    cm_counter *a = cm_metrics_counter(m, "tessera_test_requests_total", "method=\"Get\"", "h");
    cm_counter *a2 = cm_metrics_counter(m, "tessera_test_requests_total", "method=\"Get\"", "x");
    cm_counter *b = cm_metrics_counter(m, "tessera_test_requests_total", "method=\"Put\"", "h");
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_equal(a, a2);
    assert_ptr_not_equal(a, b);
    /* Label order does not make a new series: labels are canonicalised. */
    cm_counter *c1 = cm_metrics_counter(m, "tessera_test_x_total", "a=\"1\",b=\"2\"", "");
    cm_counter *c2 = cm_metrics_counter(m, "tessera_test_x_total", "b=\"2\",a=\"1\"", "");
    assert_non_null(c1);
    assert_ptr_equal(c1, c2);
    /* NULL and "" labels are the same (label-less) series. */
    cm_gauge *g1 = cm_metrics_gauge(m, "tessera_test_g", NULL, "");
    cm_gauge *g2 = cm_metrics_gauge(m, "tessera_test_g", "", "");
    assert_non_null(g1);
    assert_ptr_equal(g1, g2);
    assert_int_equal(cm_metrics_series_count(m), 4);
    /* One name, one kind. */
    assert_null(cm_metrics_gauge(m, "tessera_test_requests_total", "method=\"Get\"", ""));
    assert_null(cm_metrics_gauge(m, "tessera_test_requests_total", "method=\"Del\"", ""));
    /* A histogram re-registered with other buckets is refused, with the same ones it is found. */
    const double b1[] = {1, 2};
    const double b2[] = {1, 3};
    cm_histogram *h1 = cm_metrics_histogram(m, "tessera_test_lat_seconds", NULL, "", b1, 2);
    assert_non_null(h1);
    assert_ptr_equal(cm_metrics_histogram(m, "tessera_test_lat_seconds", NULL, "", b1, 2), h1);
    assert_null(cm_metrics_histogram(m, "tessera_test_lat_seconds", NULL, "", b2, 2));
    assert_null(cm_metrics_histogram(m, "tessera_test_lat_seconds", NULL, "", b1, 1));
    /* A histogram's derived names cannot be families of their own, and the other way round. */
    assert_null(cm_metrics_counter(m, "tessera_test_lat_seconds_count", NULL, ""));
    assert_null(cm_metrics_gauge(m, "tessera_test_lat_seconds_bucket", NULL, ""));
    assert_non_null(cm_metrics_counter(m, "tessera_test_lat_seconds_counts", NULL, ""));
    assert_non_null(cm_metrics_counter(m, "tessera_test_q_sum", NULL, ""));
    assert_null(cm_metrics_histogram(m, "tessera_test_q", NULL, "", b1, 2));
    assert_int_equal(cm_metrics_series_count(m), 7);
    cm_metrics_free(m);
}

static void test_register_invalid(void **state)
{
    (void)state;
    cm_metrics *m = cm_metrics_create();
    const double up[] = {1, 2, 3};
    const double down[] = {1, 3, 2};
    const double dup[] = {1, 1};
    const double nan_b[] = {1, NAN};
    const double inf_b[] = {1, INFINITY};
    double many[CM_METRICS_BUCKETS_MAX + 1];
    for (int i = 0; i <= CM_METRICS_BUCKETS_MAX; i++) {
        many[i] = i;
    }
    assert_null(cm_metrics_counter(m, NULL, NULL, ""));
    assert_null(cm_metrics_counter(m, "", NULL, ""));
    assert_null(cm_metrics_counter(m, "9abc", NULL, ""));
    assert_null(cm_metrics_counter(m, "a-b", NULL, ""));
    assert_null(cm_metrics_counter(m, "a b", NULL, ""));
    assert_null(cm_metrics_counter(m, "ok", "x=1", ""));
    assert_null(cm_metrics_counter(m, "ok", "__x=\"1\"", ""));
    assert_null(cm_metrics_counter(m, "ok", "x=\"1\",x=\"2\"", ""));
    assert_null(cm_metrics_counter(m, "ok", "x=\"\xff\"", ""));
    assert_null(cm_metrics_counter(m, "ok", NULL, "bad utf8 \xc0\x80"));
    assert_null(cm_metrics_histogram(m, "h", NULL, "", down, 3));
    assert_null(cm_metrics_histogram(m, "h", NULL, "", dup, 2));
    assert_null(cm_metrics_histogram(m, "h", NULL, "", nan_b, 2));
    assert_null(cm_metrics_histogram(m, "h", NULL, "", inf_b, 2));
    assert_null(cm_metrics_histogram(m, "h", NULL, "", many, CM_METRICS_BUCKETS_MAX + 1));
    assert_null(cm_metrics_histogram(m, "h", NULL, "", NULL, 2));
    assert_null(cm_metrics_histogram(m, "h", NULL, "", up, -1));
    assert_null(cm_metrics_histogram(m, "h", "le=\"1\"", "", up, 3));
    assert_int_equal(cm_metrics_series_count(m), 0);
    /* The limits themselves are accepted. */
    assert_non_null(cm_metrics_histogram(m, "h", NULL, "", many, CM_METRICS_BUCKETS_MAX));
    assert_non_null(cm_metrics_histogram(m, "h0", NULL, "", NULL, 0));
    assert_non_null(cm_metrics_counter(m, "le_is_fine_on_a_counter", "le=\"1\"", ""));
    assert_non_null(cm_metrics_counter(m, "a:b_c", NULL, ""));
    char name[CM_METRICS_NAME_BYTES_MAX + 2];
    memset(name, 'n', sizeof(name));
    name[CM_METRICS_NAME_BYTES_MAX] = '\0';
    assert_non_null(cm_metrics_counter(m, name, NULL, ""));
    name[CM_METRICS_NAME_BYTES_MAX] = 'n';
    name[CM_METRICS_NAME_BYTES_MAX + 1] = '\0';
    assert_null(cm_metrics_counter(m, name, NULL, ""));
    assert_int_equal(cm_metrics_series_count(m), 5);
    /* Registration into no registry fails softly. */
    assert_null(cm_metrics_counter(NULL, "x", NULL, ""));
    cm_metrics_free(m);
}

static void test_labels_canon(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out; /* NULL: rejected */
    } cases[] = {
        {"", ""},
        {"a=\"\"", "a=\"\""},
        {"b=\"2\",a=\"1\"", "a=\"1\",b=\"2\""},
        {"z=\"\\\\\\\"\\n\",_y=\"\xc3\xa9\"", "_y=\"\xc3\xa9\",z=\"\\\\\\\"\\n\""},
        {"aa=\"1\",a=\"2\"", "a=\"2\",aa=\"1\""},
        {"a=\"x,y=\\\"z\\\"\"", "a=\"x,y=\\\"z\\\"\""},
        {"a=\"1\",", NULL},
        {",a=\"1\"", NULL},
        {"a=\"1\" ", NULL},
        {"a =\"1\"", NULL},
        {"a=\"1", NULL},
        {"a=\"\\t\"", NULL},
        {"a=\"\\", NULL},
        {"a=\"\n\"", NULL},
        {"1a=\"1\"", NULL},
        {"a:b=\"1\"", NULL},
        {"a=\"1\"b=\"2\"", NULL},
        {"a=\"\xed\xa0\x80\"", NULL},     /* a UTF-16 surrogate */
        {"a=\"\xf4\x90\x80\x80\"", NULL}, /* above U+10FFFF */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cm_buf out = CM_BUF_INIT;
        cm_err err;
        int rc = cm_metrics_labels_canon(cases[i].in, &out, &err);
        if (cases[i].out == NULL) {
            assert_int_equal(rc, CM_E_INVALID);
            assert_int_equal(out.len, 0);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(out.len, strlen(cases[i].out));
            assert_memory_equal(out.ptr ? (const void *)out.ptr : "", cases[i].out, out.len);
        }
        cm_buf_fini(&out);
    }
    /* The pair and byte bounds. */
    cm_buf in = CM_BUF_INIT;
    cm_buf out = CM_BUF_INIT;
    cm_err err;
    for (int i = 0; i < CM_METRICS_LABELS_MAX; i++) {
        assert_int_equal(cm_buf_printf(&in, "%sl%d=\"v\"", i ? "," : "", i), 0);
    }
    assert_int_equal(cm_buf_terminate(&in), 0);
    assert_int_equal(cm_metrics_labels_canon((const char *)in.ptr, &out, &err), 0);
    assert_int_equal(cm_buf_printf(&in, ",x=\"v\""), 0);
    assert_int_equal(cm_buf_terminate(&in), 0);
    assert_int_equal(cm_metrics_labels_canon((const char *)in.ptr, &out, &err), CM_E_INVALID);
    cm_buf_reset(&in);
    assert_int_equal(cm_buf_printf(&in, "a=\""), 0);
    while (in.len < CM_METRICS_LABELS_BYTES_MAX) {
        assert_int_equal(cm_buf_append_u8(&in, 'v'), 0);
    }
    assert_int_equal(cm_buf_append_u8(&in, '"'), 0);
    assert_int_equal(cm_buf_terminate(&in), 0);
    assert_int_equal(cm_metrics_labels_canon((const char *)in.ptr, &out, &err), CM_E_INVALID);
    cm_buf_fini(&in);
    cm_buf_fini(&out);
}

static void test_label_escape(void **state)
{
    (void)state;
    cm_buf out = CM_BUF_INIT;
    assert_int_equal(cm_metrics_label_escape(&out, "a\"b\\c\nd"), 0);
    assert_int_equal(cm_buf_terminate(&out), 0);
    assert_string_equal((const char *)out.ptr, "a\\\"b\\\\c\\nd");
    /* What it produces is accepted as a label value. */
    cm_buf labels = CM_BUF_INIT;
    cm_buf canon = CM_BUF_INIT;
    cm_err err;
    assert_int_equal(cm_buf_printf(&labels, "v=\"%s\"", (const char *)out.ptr), 0);
    assert_int_equal(cm_buf_terminate(&labels), 0);
    assert_int_equal(cm_metrics_labels_canon((const char *)labels.ptr, &canon, &err), 0);
    cm_buf_fini(&out);
    cm_buf_fini(&labels);
    cm_buf_fini(&canon);
}

static void test_series_bound(void **state)
{
    (void)state;
    cm_metrics *m = cm_metrics_create();
    cm_counter *first = NULL;
    char labels[64];
    for (int i = 0; i < CM_METRICS_SERIES_MAX; i++) {
        snprintf(labels, sizeof(labels), "key=\"%d\"", i);
        cm_counter *c = cm_metrics_counter(m, "tessera_test_keys_total", labels, "");
        assert_non_null(c);
        if (i == 0) {
            first = c;
        }
    }
    assert_int_equal(cm_metrics_series_count(m), CM_METRICS_SERIES_MAX);
    /* Full: new series (of a new or an existing family) are refused... */
    assert_null(cm_metrics_counter(m, "tessera_test_keys_total", "key=\"x\"", ""));
    assert_null(cm_metrics_gauge(m, "tessera_test_other", NULL, ""));
    assert_int_equal(cm_metrics_series_count(m), CM_METRICS_SERIES_MAX);
    /* ...existing ones are still found, and a refused one is a harmless no-op. */
    assert_ptr_equal(cm_metrics_counter(m, "tessera_test_keys_total", "key=\"0\"", ""), first);
    cm_counter *none = cm_metrics_counter(m, "tessera_test_keys_total", "key=\"y\"", "");
    cm_counter_inc(none);
    assert_int_equal(cm_counter_get(none), 0);
    cm_buf out = CM_BUF_INIT;
    assert_int_equal(cm_metrics_render(m, &out), 0);
    size_t lines = 0;
    for (size_t i = 0; i < out.len; i++) {
        lines += out.ptr[i] == '\n';
    }
    assert_int_equal(lines, CM_METRICS_SERIES_MAX + 1); /* + TYPE (no HELP: empty help) */
    cm_buf_fini(&out);
    cm_metrics_free(m);
}

static void test_null_safe(void **state)
{
    (void)state;
    cm_counter_add(NULL, 5);
    cm_counter_inc(NULL);
    cm_gauge_set(NULL, 1);
    cm_gauge_add(NULL, 1);
    cm_histogram_observe(NULL, 1.0);
    assert_int_equal(cm_counter_get(NULL), 0);
    assert_int_equal(cm_gauge_get(NULL), 0);
    assert_int_equal(cm_histogram_count(NULL), 0);
    assert_int_equal(cm_metrics_series_count(NULL), 0);
    cm_buf out = CM_BUF_INIT;
    assert_int_equal(cm_metrics_render(NULL, &out), 0);
    assert_int_equal(out.len, 0);
    cm_metrics_free(NULL);
    cm_status_server_stop(NULL);
    assert_int_equal(cm_status_server_port(NULL), 0);
    /* The global registry is one object. */
    cm_metrics *g = cm_metrics_global();
    assert_non_null(g);
    assert_ptr_equal(cm_metrics_global(), g);
}

/* ---- concurrency --------------------------------------------------------------------------- */

#define THREADS    8
#define PER_THREAD 100000

typedef struct worker_arg {
    cm_metrics *m;
    pthread_barrier_t *start;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    /* Each thread registers its own handles: registration races with updates too. */
    static const double bounds[] = {0.5, 1.5, 2.5};
    cm_counter *c = cm_metrics_counter(a->m, "tessera_test_ops_total", NULL, "");
    cm_gauge *g = cm_metrics_gauge(a->m, "tessera_test_level", NULL, "");
    cm_histogram *h = cm_metrics_histogram(a->m, "tessera_test_v", NULL, "", bounds, 3);
    pthread_barrier_wait(a->start);
    for (int i = 0; i < PER_THREAD; i++) {
        cm_counter_inc(c);
        cm_gauge_add(g, (i & 1) ? -1 : 3);        /* +2 per pair of iterations */
        cm_histogram_observe(h, (double)(i % 4)); /* 0,1,2,3: one per bucket */
    }
    return NULL;
}

static void test_concurrent_updates(void **state)
{
    (void)state;
    cm_metrics *m = cm_metrics_create();
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
    pthread_t t[THREADS];
    worker_arg a = {m, &start};
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, worker, &a), 0);
    }
    /* Scrape while they run: rendering must not block or corrupt updates. */
    cm_buf out = CM_BUF_INIT;
    for (int i = 0; i < 20; i++) {
        cm_buf_reset(&out);
        assert_int_equal(cm_metrics_render(m, &out), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
    }
    pthread_barrier_destroy(&start);
    const uint64_t total = (uint64_t)THREADS * PER_THREAD;
    assert_int_equal(cm_metrics_series_count(m), 3);
    assert_int_equal(cm_counter_get(cm_metrics_counter(m, "tessera_test_ops_total", NULL, "")),
                     total);
    assert_int_equal(cm_gauge_get(cm_metrics_gauge(m, "tessera_test_level", NULL, "")),
                     (int64_t)total);
    static const double bounds[] = {0.5, 1.5, 2.5};
    cm_histogram *h = cm_metrics_histogram(m, "tessera_test_v", NULL, "", bounds, 3);
    assert_int_equal(cm_histogram_count(h), total);
    cm_buf_reset(&out);
    assert_int_equal(cm_metrics_render(m, &out), 0);
    assert_int_equal(cm_buf_terminate(&out), 0);
    char want[512];
    /* Each bucket got a quarter; the sum (0+1+2+3 per 4) is exact in a double. */
    snprintf(want, sizeof(want),
             "tessera_test_v_bucket{le=\"0.5\"} %llu\n"
             "tessera_test_v_bucket{le=\"1.5\"} %llu\n"
             "tessera_test_v_bucket{le=\"2.5\"} %llu\n"
             "tessera_test_v_bucket{le=\"+Inf\"} %llu\n"
             "tessera_test_v_sum %llu\n"
             "tessera_test_v_count %llu\n",
             (unsigned long long)total / 4, (unsigned long long)total / 2,
             (unsigned long long)total * 3 / 4, (unsigned long long)total,
             (unsigned long long)total * 6 / 4, (unsigned long long)total);
    assert_non_null(strstr((const char *)out.ptr, want));
    cm_buf_fini(&out);
    cm_metrics_free(m);
}

/* ---- histograms and rendering -------------------------------------------------------------- */

static void test_histogram_buckets(void **state)
{
    (void)state;
    cm_metrics *m = cm_metrics_create();
    const double bounds[] = {-1, 0, 0.25, 10};
    cm_histogram *h = cm_metrics_histogram(m, "h", "k=\"v\"", "", bounds, 4);
    assert_non_null(h);
    const double obs[] = {-5,           -1,        /* le -1 (bounds are inclusive) */
                          -0.5,         0,         /* le 0 */
                          0.1,                     /* le 0.25 */
                          0.25 + 1e-12, 10,        /* le 10 */
                          11,           INFINITY}; /* +Inf */
    for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++) {
        cm_histogram_observe(h, obs[i]);
    }
    cm_histogram_observe(h, NAN); /* dropped */
    assert_int_equal(cm_histogram_count(h), 9);
    cm_buf out = CM_BUF_INIT;
    assert_int_equal(cm_metrics_render(m, &out), 0);
    assert_int_equal(cm_buf_terminate(&out), 0);
    assert_string_equal((const char *)out.ptr, "# TYPE h histogram\n"
                                               "h_bucket{k=\"v\",le=\"-1\"} 2\n"
                                               "h_bucket{k=\"v\",le=\"0\"} 4\n"
                                               "h_bucket{k=\"v\",le=\"0.25\"} 5\n"
                                               "h_bucket{k=\"v\",le=\"10\"} 7\n"
                                               "h_bucket{k=\"v\",le=\"+Inf\"} 9\n"
                                               "h_sum{k=\"v\"} +Inf\n"
                                               "h_count{k=\"v\"} 9\n");
    cm_buf_fini(&out);
    cm_metrics_free(m);
}

static void test_render_exact(void **state)
{
    (void)state;
    cm_metrics *m = cm_metrics_create();
    cm_counter *get = cm_metrics_counter(m, "tessera_rpc_requests_total", "method=\"Get\"",
                                         "RPC requests served.\nBy method, with a \\.");
    cm_gauge *conns = cm_metrics_gauge(m, "tessera_sql_connections", NULL, "Open connections.");
    /* Registered after the gauge, printed with its family. */
    cm_counter *put = cm_metrics_counter(m, "tessera_rpc_requests_total",
                                         "zone=\"a\\\"b\",method=\"Put\"", "ignored: not first");
    const double bounds[] = {0.001, 0.1, 2.5};
    cm_histogram *lat = cm_metrics_histogram(m, "tessera_rpc_latency_seconds", "method=\"Get\"",
                                             "RPC latency.", bounds, 3);
    cm_gauge *neg = cm_metrics_gauge(m, "tessera_test_neg", "", "");
    cm_counter_add(get, 41);
    cm_counter_inc(get);
    cm_counter_add(put, UINT64_MAX);
    cm_gauge_set(conns, 10);
    cm_gauge_add(conns, -3);
    cm_gauge_set(neg, INT64_MIN);
    /* Binary fractions, so the sum is exact whatever the order of additions. */
    cm_histogram_observe(lat, 0.00048828125);
    cm_histogram_observe(lat, 0.0625);
    cm_histogram_observe(lat, 0.0625);
    cm_histogram_observe(lat, 7);
    cm_buf out = CM_BUF_INIT;
    assert_int_equal(cm_buf_printf(&out, "prefix\n"), 0); /* render appends */
    assert_int_equal(cm_metrics_render(m, &out), 0);
    assert_int_equal(cm_buf_terminate(&out), 0);
    assert_string_equal((const char *)out.ptr,
                        "prefix\n"
                        "# HELP tessera_rpc_requests_total RPC requests served.\\nBy method, "
                        "with a \\\\.\n"
                        "# TYPE tessera_rpc_requests_total counter\n"
                        "tessera_rpc_requests_total{method=\"Get\"} 42\n"
                        "tessera_rpc_requests_total{method=\"Put\",zone=\"a\\\"b\"} "
                        "18446744073709551615\n"
                        "# HELP tessera_sql_connections Open connections.\n"
                        "# TYPE tessera_sql_connections gauge\n"
                        "tessera_sql_connections 7\n"
                        "# HELP tessera_rpc_latency_seconds RPC latency.\n"
                        "# TYPE tessera_rpc_latency_seconds histogram\n"
                        "tessera_rpc_latency_seconds_bucket{method=\"Get\",le=\"0.001\"} 1\n"
                        "tessera_rpc_latency_seconds_bucket{method=\"Get\",le=\"0.1\"} 3\n"
                        "tessera_rpc_latency_seconds_bucket{method=\"Get\",le=\"2.5\"} 3\n"
                        "tessera_rpc_latency_seconds_bucket{method=\"Get\",le=\"+Inf\"} 4\n"
                        "tessera_rpc_latency_seconds_sum{method=\"Get\"} 7.12548828125\n"
                        "tessera_rpc_latency_seconds_count{method=\"Get\"} 4\n"
                        "# TYPE tessera_test_neg gauge\n"
                        "tessera_test_neg -9223372036854775808\n");
    cm_buf_fini(&out);
    cm_metrics_free(m);
}

/* ---- routing ------------------------------------------------------------------------------- */

static int status_json_cb(void *user, cm_buf *out)
{
    int *calls = user;
    (*calls)++;
    return cm_buf_printf(out, "{\"version\":\"test\",\"calls\":%d}", *calls);
}

static int status_fail_cb(void *user, cm_buf *out)
{
    (void)user;
    cm_buf_printf(out, "{\"partial\":");
    return CM_E_INTERNAL;
}

static void test_route(void **state)
{
    (void)state;
    cm_metrics *m = cm_metrics_create();
    cm_counter_inc(cm_metrics_counter(m, "tessera_test_hits_total", NULL, ""));
    int calls = 0;
    cm_status_reply r;
    assert_int_equal(cm_status_route("GET", "/metrics", m, status_json_cb, &calls, &r), 0);
    assert_int_equal(r.http_status, 200);
    assert_string_equal(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert_int_equal(cm_buf_terminate(&r.body), 0);
    assert_non_null(strstr((const char *)r.body.ptr, "tessera_test_hits_total 1\n"));
    cm_buf_fini(&r.body);
    assert_int_equal(cm_status_route("HEAD", "/status", m, status_json_cb, &calls, &r), 0);
    assert_int_equal(r.http_status, 200);
    assert_string_equal(r.content_type, "application/json");
    assert_int_equal(calls, 1);
    cm_buf_fini(&r.body);
    assert_int_equal(cm_status_route("GET", "/status", m, NULL, NULL, &r), 0);
    assert_int_equal(r.body.len, 2);
    assert_memory_equal(r.body.ptr, "{}", 2);
    cm_buf_fini(&r.body);
    assert_int_equal(cm_status_route("GET", "/status", m, status_fail_cb, NULL, &r), 0);
    assert_int_equal(r.http_status, 500);
    assert_null(memchr(r.body.ptr, '{', r.body.len)); /* the partial JSON is not served */
    cm_buf_fini(&r.body);
    static const char *const not_found[] = {"/", "/metrics/", "/metricsx", "/Metrics", "", "x"};
    for (size_t i = 0; i < sizeof(not_found) / sizeof(not_found[0]); i++) {
        assert_int_equal(cm_status_route("GET", not_found[i], m, NULL, NULL, &r), 0);
        assert_int_equal(r.http_status, 404);
        cm_buf_fini(&r.body);
    }
    static const char *const bad_methods[] = {"POST", "PUT", "DELETE", "get", "", "GETX"};
    for (size_t i = 0; i < sizeof(bad_methods) / sizeof(bad_methods[0]); i++) {
        assert_int_equal(cm_status_route(bad_methods[i], "/metrics", m, NULL, NULL, &r), 0);
        assert_int_equal(r.http_status, 405);
        assert_string_equal(r.allow, "GET, HEAD");
        cm_buf_fini(&r.body);
    }
    assert_int_equal(cm_status_route(NULL, NULL, m, NULL, NULL, &r), 0);
    assert_int_equal(r.http_status, 405);
    cm_buf_fini(&r.body);
    cm_metrics_free(m);
}

/* ---- the server over real sockets ---------------------------------------------------------- */

/* Every socket wait in these tests is bounded by this. */
#define IO_TIMEOUT_MS 5000

static int connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return; /* the server may close on garbage before reading it all */
        }
        c += w;
        n -= (size_t)w;
    }
}

/* Reads until EOF or timeout_ms; returns 1 on EOF, 0 on timeout. */
static int read_to_eof(int fd, cm_buf *out, int timeout_ms)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long spent = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent >= timeout_ms) {
            return 0;
        }
        struct pollfd p = {fd, POLLIN, 0};
        int pr = poll(&p, 1, (int)(timeout_ms - spent));
        if (pr < 0 && errno == EINTR) {
            continue;
        }
        if (pr <= 0) {
            return 0;
        }
        char tmp[4096];
        ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return 1; /* EOF or reset: either way the server let go */
        }
        assert_int_equal(cm_buf_append(out, tmp, (size_t)n), 0);
    }
}

/* Sends raw bytes on a fresh connection and reads the whole answer (NUL-terminated in out). */
static void exchange(int port, const char *req, size_t req_len, cm_buf *out)
{
    int fd = connect_port(port);
    send_all(fd, req, req_len);
    cm_buf_reset(out);
    assert_int_equal(read_to_eof(fd, out, IO_TIMEOUT_MS), 1);
    assert_int_equal(cm_buf_terminate(out), 0);
    close(fd);
}

static void http_get(int port, const char *method, const char *path, cm_buf *out)
{
    char req[256];
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     method, path);
    exchange(port, req, (size_t)n, out);
}

static const char *body_of(const cm_buf *resp)
{
    const char *p = strstr((const char *)resp->ptr, "\r\n\r\n");
    assert_non_null(p);
    return p + 4;
}

static void assert_has(const cm_buf *resp, const char *needle)
{
    if (strstr((const char *)resp->ptr, needle) == NULL) {
        fail_msg("response lacks '%s':\n%s", needle, (const char *)resp->ptr);
    }
}

static void test_http_server(void **state)
{
    (void)state;
    cm_metrics *m = cm_metrics_create();
    cm_counter_add(cm_metrics_counter(m, "tessera_test_served_total", "k=\"v\"", "Served."), 5);
    int calls = 0;
    cm_status_server *s = NULL;
    cm_err err;
    assert_int_equal(cm_status_server_start("127.0.0.1:0", m, status_json_cb, &calls, &s, &err), 0);
    int port = cm_status_server_port(s);
    assert_true(port > 0 && port < 65536);
    cm_buf resp = CM_BUF_INIT;

    http_get(port, "GET", "/metrics", &resp);
    assert_true(strncmp((const char *)resp.ptr, "HTTP/1.1 200", 12) == 0);
    assert_has(&resp, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n");
    assert_string_equal(body_of(&resp), "# HELP tessera_test_served_total Served.\n"
                                        "# TYPE tessera_test_served_total counter\n"
                                        "tessera_test_served_total{k=\"v\"} 5\n");

    http_get(port, "GET", "/status", &resp);
    assert_true(strncmp((const char *)resp.ptr, "HTTP/1.1 200", 12) == 0);
    assert_has(&resp, "Content-Type: application/json\r\n");
    assert_string_equal(body_of(&resp), "{\"version\":\"test\",\"calls\":1}");

    http_get(port, "GET", "/nope", &resp);
    assert_true(strncmp((const char *)resp.ptr, "HTTP/1.1 404", 12) == 0);

    http_get(port, "HEAD", "/metrics", &resp);
    assert_true(strncmp((const char *)resp.ptr, "HTTP/1.1 200", 12) == 0);
    assert_string_equal(body_of(&resp), "");

    static const char post[] = "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                               "Content-Length: 5\r\n\r\nhello";
    exchange(port, post, sizeof(post) - 1, &resp);
    assert_true(strncmp((const char *)resp.ptr, "HTTP/1.1 405", 12) == 0);
    assert_has(&resp, "Allow: GET, HEAD\r\n");

    /* Garbage: not HTTP at all, binary, a header far beyond the memory limit, an empty request,
     * and a connection closed at once. Each gets an error or a close, never a hang. */
    static const char tls_hello[] = "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x00\xff\r\n\r\n";
    exchange(port, tls_hello, sizeof(tls_hello) - 1, &resp);
    static const char junk[] = "this is not http\r\n\r\n";
    exchange(port, junk, sizeof(junk) - 1, &resp);
    assert_true(strncmp((const char *)resp.ptr, "HTTP/1.1 400", 12) == 0);
    /* Blank lines (allowed before a request line) and half a request leave the connection
     * waiting for more, up to CM_STATUS_IDLE_TIMEOUT_S; meanwhile others are served. */
    int blank = connect_port(port);
    send_all(blank, "\r\n\r\n", 4);
    int half = connect_port(port);
    send_all(half, "GET /metr", 9);
    http_get(port, "GET", "/nope", &resp);
    assert_true(strncmp((const char *)resp.ptr, "HTTP/1.1 404", 12) == 0);
    close(blank);
    close(half);
    char *big = malloc(100000);
    assert_non_null(big);
    int n = snprintf(big, 100000, "GET /metrics HTTP/1.1\r\nX: ");
    memset(big + n, 'a', 100000 - (size_t)n - 4);
    memcpy(big + 100000 - 4, "\r\n\r\n", 4);
    exchange(port, big, 100000, &resp);
    assert_true(strncmp((const char *)resp.ptr, "HTTP/1.1 200", 12) != 0);
    free(big);
    close(connect_port(port));

    /* Still serving after all that; the callback ran once per /status only. */
    http_get(port, "GET", "/status", &resp);
    assert_string_equal(body_of(&resp), "{\"version\":\"test\",\"calls\":2}");
    cm_buf_fini(&resp);
    cm_status_server_stop(s);
    cm_metrics_free(m);
}

static void test_http_connection_bound(void **state)
{
    (void)state;
    cm_status_server *s = NULL;
    cm_err err;
    assert_int_equal(cm_status_server_start("127.0.0.1:0", NULL, NULL, NULL, &s, &err), 0);
    int port = cm_status_server_port(s);
    int idle[CM_STATUS_CONNECTIONS_MAX];
    for (int i = 0; i < CM_STATUS_CONNECTIONS_MAX; i++) {
        idle[i] = connect_port(port);
    }
    /* Let the server accept them all, so the limit is reached. */
    usleep(300 * 1000);
    /* One more is not served while the others hold every slot: closed at once, or left waiting
     * in the kernel's queue. */
    static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    int extra = connect_port(port);
    send_all(extra, req, sizeof(req) - 1);
    cm_buf resp = CM_BUF_INIT;
    (void)read_to_eof(extra, &resp, 500);
    assert_int_equal(cm_buf_terminate(&resp), 0);
    assert_null(strstr((const char *)resp.ptr, "HTTP/1.1 200"));
    close(extra);
    for (int i = 0; i < CM_STATUS_CONNECTIONS_MAX; i++) {
        close(idle[i]);
    }
    /* With the slots free again, requests are served. */
    http_get(port, "GET", "/metrics", &resp);
    assert_true(strncmp((const char *)resp.ptr, "HTTP/1.1 200", 12) == 0);
    cm_buf_fini(&resp);
    cm_status_server_stop(s);
}

static void test_http_bad_addresses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",       "127.0.0.1",       "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:70000",
        "[::1:0", "not an address:0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cm_status_server *s = (cm_status_server *)&s; /* must be reset to NULL on failure */
        cm_err err;
        int rc = cm_status_server_start(bad[i], NULL, NULL, NULL, &s, &err);
        if (rc == 0) {
            fail_msg("address '%s' was accepted", bad[i]);
        }
        assert_null(s);
    }
    /* A port in use is an error, not a crash. */
    cm_status_server *a = NULL;
    cm_status_server *b = NULL;
    cm_err err;
    assert_int_equal(cm_status_server_start("127.0.0.1:0", NULL, NULL, NULL, &a, &err), 0);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", cm_status_server_port(a));
    assert_int_equal(cm_status_server_start(addr, NULL, NULL, NULL, &b, &err), CM_E_IO);
    assert_null(b);
    cm_status_server_stop(a);
}

int main(void)
{
    cm_log_set_level(CM_LOG_ERROR); /* the negative tests log warnings by design */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_dedupe),    cmocka_unit_test(test_register_invalid),
        cmocka_unit_test(test_labels_canon),       cmocka_unit_test(test_label_escape),
        cmocka_unit_test(test_series_bound),       cmocka_unit_test(test_null_safe),
        cmocka_unit_test(test_concurrent_updates), cmocka_unit_test(test_histogram_buckets),
        cmocka_unit_test(test_render_exact),       cmocka_unit_test(test_route),
        cmocka_unit_test(test_http_server),        cmocka_unit_test(test_http_connection_bound),
        cmocka_unit_test(test_http_bad_addresses),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
