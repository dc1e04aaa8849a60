/* pd_server.c — lifecycle of the PD server: storage, modules, RPC, status, metrics, ticks. */
#include "pd_server.h"

#include "cm_log.h"
#include "cm_time.h"
#include "pd_server_int.h"
#include "pdpb.pb-c.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

/* The TSO mark is checked this often: a third of the smallest window (50 ms) still leaves the
 * tick many chances to persist ahead of requests. */
#define TICK_MS 50
/* Gauges and registry expiry are refreshed every this many ticks (1 s). */
#define SLOW_TICK_EVERY 20

uint64_t pd_server_mono_ms(void)
{
    return cm_time_mono_ms();
}

static uint64_t real_wall_ms(void *user)
{
    return cm_time_wall_ms();
}

/* Peer ids for the scheduler's new learners: the cluster-wide id sequence. */
static int alloc_peer_id(void *user, uint64_t *id, cm_err *err)
{
    pd_server *s = user;
    return pd_id_alloc_n(&s->ids, 1, id, err);
}

/* ---- metrics ----------------------------------------------------------------------------- */

static void register_metrics(pd_server *s)
{
    cm_metrics *m = cm_metrics_global();
    pd_metrics *x = &s->m;
    x->tso_requests =
        cm_metrics_counter(m, "tessera_tso_requests_total", NULL, "TSO requests served.");
    x->tso_timestamps = cm_metrics_counter(m, "tessera_tso_timestamps_total", NULL,
                                           "Timestamps handed out (sum of request counts).");
    static const double bounds[] = {1,   2,   4,    8,    16,   32,    64,    128,
                                    256, 512, 1024, 2048, 4096, 16384, 65536, 262144};
    x->tso_batch = cm_metrics_histogram(m, "tessera_tso_batch_size", NULL,
                                        "Timestamps asked for per TSO request (client batching).",
                                        bounds, (int)(sizeof(bounds) / sizeof(bounds[0])));
    x->tso_mark_writes = cm_metrics_counter(m, "tessera_tso_mark_writes_total", NULL,
                                            "Synced writes of the TSO high-water mark.");
    x->tso_clock_behind =
        cm_metrics_counter(m, "tessera_tso_clock_behind_total", NULL,
                           "TSO requests served while the wall clock was behind the last "
                           "physical time handed out.");
    for (int i = 0; i < PD_STORE_LIVE_COUNT; i++) {
        char labels[64];
        snprintf(labels, sizeof(labels), "state=\"%s\"", pd_store_live_name((pd_store_live)i));
        x->stores[i] =
            cm_metrics_gauge(m, "tessera_pd_store_count", labels, "Stores by liveness state.");
    }
    x->regions = cm_metrics_gauge(m, "tessera_pd_region_count", NULL, "Regions PD holds.");
    x->region_heartbeats = cm_metrics_counter(m, "tessera_pd_region_heartbeats_total", NULL,
                                              "Region heartbeats received.");
    x->region_stale = cm_metrics_counter(m, "tessera_pd_region_stale_total", NULL,
                                         "Region heartbeats refused as stale.");
    x->registry_entries = cm_metrics_gauge(m, "tessera_pd_registry_entry_count", NULL,
                                           "Entries in the SQL layer's registry.");
    x->gc_safe_point =
        cm_metrics_gauge(m, "tessera_pd_gc_safe_point", NULL, "GC safe point (a TSO timestamp).");
    for (size_t i = 0; i < pd_methods_count; i++) {
        char labels[96];
        snprintf(labels, sizeof(labels), "method=\"%s\"", pd_methods[i].name);
        if (pd_methods[i].id < PD_METHODS_COUNT) {
            x->requests[pd_methods[i].id] = cm_metrics_counter(
                m, "tessera_pd_requests_total", labels, "PD RPC requests by method.");
        }
    }
    x->request_errors = cm_metrics_counter(m, "tessera_pd_request_errors_total", NULL,
                                           "PD RPC requests answered with an error header.");
    for (int k = 1; k < PD_OP_KIND_COUNT; k++) {
        char labels[64];
        snprintf(labels, sizeof(labels), "kind=\"%s\"", pd_op_kind_name((pd_op_kind)k));
        x->operators[k] = cm_metrics_counter(m, "tessera_pd_operators_total", labels,
                                             "Scheduling operators issued, by kind.");
    }
    x->operators_done = cm_metrics_counter(m, "tessera_pd_operators_done_total", NULL,
                                           "Operators a region heartbeat showed done.");
    x->operators_timeout = cm_metrics_counter(m, "tessera_pd_operators_timeout_total", NULL,
                                              "Operators dropped after the operator timeout.");
    x->operators_inflight =
        cm_metrics_gauge(m, "tessera_pd_operators_inflight", NULL, "Operators in flight.");
}

static void refresh_gauges(pd_server *s)
{
    uint64_t counts[PD_STORE_LIVE_COUNT];
    pd_cluster_store_counts(&s->cluster, pd_server_mono_ms(), counts);
    for (int i = 0; i < PD_STORE_LIVE_COUNT; i++) {
        cm_gauge_set(s->m.stores[i], (int64_t)counts[i]);
    }
    cm_gauge_set(s->m.regions, (int64_t)pd_cluster_region_count(&s->cluster));
    cm_gauge_set(s->m.registry_entries, (int64_t)pd_registry_count(&s->registry));
    cm_gauge_set(s->m.gc_safe_point, (int64_t)pd_cluster_gc_safe_point(&s->cluster));
    pd_tso_stats st;
    pd_tso_get_stats(&s->tso, &st);
    cm_counter_add(s->m.tso_mark_writes, st.mark_writes - s->last_mark_writes);
    cm_counter_add(s->m.tso_clock_behind, st.clock_behind - s->last_clock_behind);
    s->last_mark_writes = st.mark_writes;
    s->last_clock_behind = st.clock_behind;
    pd_sched_stats ss;
    pd_sched_get_stats(&s->sched, &ss);
    cm_counter_add(s->m.operators_done, ss.done - s->last_ops_done);
    cm_counter_add(s->m.operators_timeout, ss.timeouts - s->last_ops_timeout);
    s->last_ops_done = ss.done;
    s->last_ops_timeout = ss.timeouts;
    cm_gauge_set(s->m.operators_inflight, (int64_t)pd_sched_inflight(&s->sched));
}

/* ---- /status ----------------------------------------------------------------------------- */

static void json_str(cm_buf *out, const char *v)
{
    cm_buf_append_u8(out, '"');
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\') {
            cm_buf_printf(out, "\\%c", *p);
        } else if (*p < 0x20) {
            cm_buf_printf(out, "\\u%04x", *p);
        } else {
            cm_buf_append_u8(out, *p);
        }
    }
    cm_buf_append_u8(out, '"');
}

static int status_cb(void *user, cm_buf *out)
{
    pd_server *s = user;
    pd_tso_stats ts;
    pd_tso_get_stats(&s->tso, &ts);
    pd_cluster_stats cs;
    pd_cluster_get_stats(&s->cluster, &cs);
    uint64_t counts[PD_STORE_LIVE_COUNT];
    pd_cluster_store_counts(&s->cluster, pd_server_mono_ms(), counts);
    cm_buf_printf(out, "{\"component\":\"pd\",\"name\":");
    json_str(out, s->name);
    cm_buf_printf(out, ",\"version\":");
    json_str(out, s->version);
    cm_buf_printf(out, ",\"advertise_addr\":");
    json_str(out, s->advertise_addr);
    cm_buf_printf(out,
                  ",\"rpc_port\":%d,\"cluster_id\":%" PRIu64 ",\"bootstrapped\":%s"
                  ",\"start_wall_ms\":%" PRIu64,
                  pd_server_rpc_port(s), pd_cluster_id(&s->cluster),
                  pd_cluster_is_bootstrapped(&s->cluster) ? "true" : "false", s->start_wall_ms);
    cm_buf_printf(out,
                  ",\"tso\":{\"last_ts\":%" PRIu64 ",\"saved_mark_ms\":%" PRIu64
                  ",\"requests\":%" PRIu64 ",\"timestamps\":%" PRIu64 ",\"mark_writes\":%" PRIu64
                  ",\"clock_behind\":%" PRIu64 ",\"logical_spill\":%" PRIu64 "}",
                  ts.last_ts, ts.saved_mark_ms, ts.requests, ts.timestamps, ts.mark_writes,
                  ts.clock_behind, ts.logical_spill);
    cm_buf_printf(out, ",\"next_id\":%" PRIu64, pd_id_peek(&s->ids));
    cm_buf_printf(out, ",\"stores\":{");
    for (int i = 0; i < PD_STORE_LIVE_COUNT; i++) {
        cm_buf_printf(out, "%s\"%s\":%" PRIu64, i ? "," : "", pd_store_live_name((pd_store_live)i),
                      counts[i]);
    }
    cm_buf_printf(out,
                  "},\"regions\":%" PRIu64 ",\"region_heartbeats\":%" PRIu64
                  ",\"region_stale\":%" PRIu64 ",\"gc_safe_point\":%" PRIu64
                  ",\"registry_entries\":%zu",
                  pd_cluster_region_count(&s->cluster), cs.region_heartbeats, cs.region_stale,
                  pd_cluster_gc_safe_point(&s->cluster), pd_registry_count(&s->registry));
    pd_sched_stats ss;
    pd_sched_get_stats(&s->sched, &ss);
    cm_buf_printf(out, ",\"operators\":{\"inflight\":%zu", pd_sched_inflight(&s->sched));
    for (int k = 1; k < PD_OP_KIND_COUNT; k++) {
        cm_buf_printf(out, ",\"%s\":%" PRIu64, pd_op_kind_name((pd_op_kind)k), ss.issued[k]);
    }
    cm_buf_printf(out,
                  ",\"resent\":%" PRIu64 ",\"done\":%" PRIu64 ",\"timeouts\":%" PRIu64
                  ",\"obsolete\":%" PRIu64 ",\"throttled\":%" PRIu64 "}",
                  ss.resent, ss.done, ss.timeouts, ss.obsolete, ss.throttled);
    cm_buf_printf(out, ",\"config\":%s}",
                  s->config_json && s->config_json[0] ? s->config_json : "{}");
    return 0;
}

/* ---- tick thread ------------------------------------------------------------------------- */

static void *tick_main(void *arg)
{
    pd_server *s = arg;
    unsigned n = 0;
    pthread_mutex_lock(&s->tick_mu);
    while (!s->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += TICK_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!s->stopping && pthread_cond_timedwait(&s->tick_cv, &s->tick_mu, &until) == 0) {
        }
        if (s->stopping) {
            break;
        }
        pthread_mutex_unlock(&s->tick_mu);
        if (s->opt.tick_hook != NULL) {
            s->opt.tick_hook(s->opt.tick_hook_user);
        }
        cm_err err;
        (void)pd_tso_tick(&s->tso, &err); /* failures are logged by the TSO */
        if (++n % SLOW_TICK_EVERY == 0) {
            size_t purged = pd_registry_expire(&s->registry, pd_server_mono_ms());
            if (purged > 0) {
                CM_DEBUG("pd", "registry: %zu entries expired", purged);
            }
            pd_sched_expire(&s->sched, pd_server_mono_ms());
            refresh_gauges(s);
        }
        pthread_mutex_lock(&s->tick_mu);
    }
    pthread_mutex_unlock(&s->tick_mu);
    return NULL;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static char *dup_or_empty(const char *v)
{
    return strdup(v ? v : "");
}

static uint64_t new_cluster_id(void)
{
    /* Milliseconds in the high bits (ids sort by creation), randomness in the low 20 bits so two
     * clusters created in the same millisecond still differ. */
    uint32_t r = 0;
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        r = (uint32_t)cm_time_mono_ns();
    }
    uint64_t id = (cm_time_wall_ms() << 20) | (r & 0xfffff);
    return id ? id : 1;
}

static int mkdir_p(const char *path, cm_err *err)
{
    char buf[1024];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(buf)) {
        return cm_err_set(err, CM_E_CONFIG, "pd: bad data directory '%s'", path);
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                return cm_err_set(err, CM_E_IO, "pd: cannot create %s: %s", buf, strerror(errno));
            }
            buf[i] = c;
        }
    }
    return 0;
}

/* With listen port 0 and no advertise address, advertise the port actually bound. */
static void fix_advertise_port(pd_server *s)
{
    const char *colon = strrchr(s->advertise_addr, ':');
    if (colon == NULL || strcmp(colon, ":0") != 0) {
        return;
    }
    size_t host = (size_t)(colon - s->advertise_addr);
    char *a = malloc(host + 16);
    if (a == NULL) {
        return;
    }
    snprintf(a, host + 16, "%.*s:%d", (int)host, s->advertise_addr, pd_server_rpc_port(s));
    free(s->advertise_addr);
    s->advertise_addr = a;
}

int pd_server_start(const pd_server_options *o, pd_server **out, cm_err *err)
{
    pd_server *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "pd: out of memory");
    }
    s->opt = *o;
    s->name = dup_or_empty(o->name);
    s->data_dir = dup_or_empty(o->data_dir);
    s->listen_addr = dup_or_empty(o->listen_addr);
    s->advertise_addr = dup_or_empty(o->advertise_addr && o->advertise_addr[0] ? o->advertise_addr
                                                                               : o->listen_addr);
    s->status_addr = dup_or_empty(o->status_addr);
    s->version = dup_or_empty(o->version);
    s->config_json = dup_or_empty(o->config_json);
    pthread_mutex_init(&s->tick_mu, NULL);
    /* The tick waits with a CLOCK_MONOTONIC deadline, so the condvar must use that clock. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->tick_cv, &ca);
    pthread_condattr_destroy(&ca);
    s->start_wall_ms = cm_time_wall_ms();
    if (s->opt.wall_clock == NULL) {
        s->opt.wall_clock = real_wall_ms;
        s->opt.wall_clock_user = NULL;
    }
    if (!s->name || !s->data_dir || !s->listen_addr || !s->advertise_addr || !s->status_addr ||
        !s->version || !s->config_json) {
        pd_server_stop(s);
        return cm_err_set(err, CM_E_NOMEM, "pd: out of memory");
    }
    uint64_t now = pd_server_mono_ms();
    int rc = mkdir_p(s->data_dir, err);
    if (rc == 0 && (rc = pd_kv_rocks_open(s->data_dir, &s->kv, err)) == 0) {
        s->kv_open = 1;
    }
    if (rc == 0 && (rc = pd_tso_init(&s->tso, &s->kv, s->opt.wall_clock, s->opt.wall_clock_user,
                                     o->tso_save_window_ms, err)) == 0) {
        s->tso_open = 1;
    }
    if (rc == 0 && (rc = pd_id_init(&s->ids, &s->kv, o->id_alloc_window, err)) == 0) {
        s->ids_open = 1;
    }
    if (rc == 0) {
        pd_cluster_options co = {o->store_heartbeat_timeout_ms, o->max_store_down_time_ms,
                                 new_cluster_id()};
        if ((rc = pd_cluster_open(&s->cluster, &s->kv, &s->ids, &co, now, err)) == 0) {
            s->cluster_open = 1;
        }
    }
    if (rc == 0 && (rc = pd_registry_open(&s->registry, &s->kv, now, err)) == 0) {
        s->registry_open = 1;
    }
    if (rc == 0) {
        pd_sched_options so = {o->max_replicas, o->operator_timeout_ms, alloc_peer_id, s};
        pd_sched_init(&s->sched, &so);
        s->sched_open = 1;
    }
    if (rc == 0) {
        register_metrics(s);
        /* Persist the TSO mark before serving, so the first request needs no sync. */
        rc = pd_tso_tick(&s->tso, err);
    }
    if (rc == 0) {
        rc = cm_rpc_server_create(s->listen_addr, o->rpc_workers, &s->rpc, err);
    }
    if (rc == 0) {
        rc = cm_rpc_server_register(s->rpc, pd_methods, pd_methods_count, s, err);
    }
    if (rc == 0) {
        rc = cm_rpc_server_start(s->rpc, err);
    }
    if (rc == 0) {
        fix_advertise_port(s);
        rc = cm_status_server_start(s->status_addr, cm_metrics_global(), status_cb, s, &s->status,
                                    err);
    }
    if (rc == 0) {
        refresh_gauges(s);
        if (pthread_create(&s->tick_thread, NULL, tick_main, s) != 0) {
            rc = cm_err_set(err, CM_E_INTERNAL, "pd: cannot start the tick thread");
        } else {
            s->tick_started = 1;
        }
    }
    if (rc != 0) {
        pd_server_stop(s);
        return rc;
    }
    CM_INFO("pd", "serving name=%s rpc=%s (port %d) status=%s (port %d) cluster=%" PRIu64, s->name,
            s->listen_addr, pd_server_rpc_port(s), s->status_addr, pd_server_status_port(s),
            pd_cluster_id(&s->cluster));
    *out = s;
    return 0;
}

int pd_server_rpc_port(const pd_server *s)
{
    return s->rpc ? cm_rpc_server_port(s->rpc) : 0;
}

int pd_server_status_port(const pd_server *s)
{
    return s->status ? cm_status_server_port(s->status) : 0;
}

uint64_t pd_server_cluster_id(const pd_server *s)
{
    return s->cluster.cluster_id;
}

void pd_server_stop(pd_server *s)
{
    if (s == NULL) {
        return;
    }
    if (s->tick_started) {
        pthread_mutex_lock(&s->tick_mu);
        s->stopping = 1;
        pthread_cond_broadcast(&s->tick_cv);
        pthread_mutex_unlock(&s->tick_mu);
        pthread_join(s->tick_thread, NULL);
    }
    if (s->status != NULL) {
        cm_status_server_stop(s->status);
    }
    if (s->rpc != NULL) {
        cm_rpc_server_free(s->rpc); /* in-flight handlers finish before this returns */
    }
    if (s->registry_open) {
        pd_registry_close(&s->registry);
    }
    if (s->sched_open) {
        pd_sched_fini(&s->sched);
    }
    if (s->cluster_open) {
        pd_cluster_close(&s->cluster);
    }
    if (s->ids_open) {
        pd_id_fini(&s->ids);
    }
    if (s->tso_open) {
        pd_tso_fini(&s->tso);
    }
    if (s->kv_open) {
        pd_kv_close(&s->kv);
    }
    pthread_cond_destroy(&s->tick_cv);
    pthread_mutex_destroy(&s->tick_mu);
    free(s->name);
    free(s->data_dir);
    free(s->listen_addr);
    free(s->advertise_addr);
    free(s->status_addr);
    free(s->version);
    free(s->config_json);
    free(s);
}
