/* sql_main.c — the sqlnode process: configuration, system variables, accounts, TLS material,
 * the cluster (KV client, catalog, GC worker; waited for at start-up), the MySQL listener and
 * the status server; SIGTERM/SIGINT close every session and exit. */
#include "cm_config.h"
#include "cm_kv_client.h"
#include "cm_log.h"
#include "cm_time.h"
#include "sql_accounts.h"
#include "sql_auth.h"
#include "sql_catalog.h"
#include "sql_config.h"
#include "sql_gc.h"
#include "sql_metrics.h"
#include "sql_server.h"
#include "sql_session.h"
#include "sql_sysvar.h"
#include "sql_tls.h"

#include "cm_metrics.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static sql_server *g_server;
static volatile sig_atomic_t g_stop; /* a signal during the start-up wait */

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
    if (g_server != NULL) {
        sql_server_wake(g_server);
    }
}

static int set_var(sql_sysvars *g, int id, const char *text)
{
    cm_err err;
    if (sql_sysvars_set_text(g, id, text, &err) != 0) {
        fprintf(stderr, "sqlnode: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int apply_config(const sql_config *cfg, sql_sysvars *g)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%lld", (long long)cfg->max_allowed_packet);
    if (set_var(g, SQL_SV_MAX_ALLOWED_PACKET, buf) != 0) {
        return -1;
    }
    snprintf(buf, sizeof(buf), "%lld", (long long)cfg->max_connections);
    if (set_var(g, SQL_SV_MAX_CONNECTIONS, buf) != 0) {
        return -1;
    }
    long long wt = cfg->wait_timeout_ms / 1000;
    snprintf(buf, sizeof(buf), "%lld", wt < 1 ? 1 : wt);
    if (set_var(g, SQL_SV_WAIT_TIMEOUT, buf) != 0 || set_var(g, SQL_SV_INTERACTIVE_TIMEOUT, buf)) {
        return -1;
    }
    if (set_var(g, SQL_SV_REQUIRE_SECURE_TRANSPORT, cfg->require_secure_transport ? "ON" : "OFF") ||
        set_var(g, SQL_SV_DEFAULT_AUTHENTICATION_PLUGIN,
                cfg->default_auth_plugin ? "caching_sha2_password" : "mysql_native_password")) {
        return -1;
    }
    char host[256];
    if (gethostname(host, sizeof(host)) == 0) {
        host[sizeof(host) - 1] = '\0';
        set_var(g, SQL_SV_HOSTNAME, host);
    }
    tzset();
    set_var(g, SQL_SV_SYSTEM_TIME_ZONE, tzname[0] ? tzname[0] : "UTC");
    return 0;
}

/* One probe of the cluster: a timestamp from PD and a read through the region holding the
 * metadata keys (CM_E_NOT_FOUND is an answer). */
static int cluster_probe(cm_kv_client *probe, cm_err *err)
{
    cm_txn *t = NULL;
    int rc = cm_txn_begin(probe, &t, err);
    if (rc == 0) {
        cm_buf v = CM_BUF_INIT;
        static const char key[] = "m";
        rc = cm_txn_get(t, cm_slice_make(key, 1), &v, err);
        rc = rc == CM_E_NOT_FOUND ? 0 : rc;
        cm_buf_fini(&v);
        cm_txn_free(t);
    }
    return rc;
}

/* Start-up: waits until PD and the kvnodes answer (the playground starts pd, kvnodes and
 * sqlnodes in order), probing with a short per-attempt budget and logging progress, for at
 * most cfg->cluster_wait_ms; then opens the catalog (which reads and, on a fresh cluster,
 * writes metadata) over the process's client with the normal retry budget. 0 or -1 with a
 * message on stderr. */
static int cluster_open(const sql_config *cfg, cm_kv_client **kc, sql_catalog **cat)
{
    cm_err err;
    cm_err_clear(&err);
    int64_t start = (int64_t)cm_time_mono_ms();
    int64_t deadline = start + cfg->cluster_wait_ms;
    cm_kv_client_options po;
    cm_kv_client_options_default(&po);
    po.retry_budget_ms = cfg->cluster_wait_ms < 5000 ? cfg->cluster_wait_ms / 2 : 5000;
    cm_kv_client *probe = NULL;
    int rc = cm_kv_client_create(cfg->pd_addrs, &po, &probe, &err);
    for (int attempt = 1; rc == 0 && !g_stop; attempt++) {
        rc = cluster_probe(probe, &err);
        if (rc == 0) {
            CM_INFO("sql", "cluster answers pd=%s after %lld ms (attempt %d)", cfg->pd_addrs,
                    (long long)((int64_t)cm_time_mono_ms() - start), attempt);
            break;
        }
        int64_t now = (int64_t)cm_time_mono_ms();
        CM_INFO("sql", "waiting for the cluster (pd=%s, attempt %d, %lld ms left): %s",
                cfg->pd_addrs, attempt, (long long)(now < deadline ? deadline - now : 0), err.msg);
        if (now >= deadline) {
            break;
        }
        rc = 0;
        for (int i = 0; i < 10 && !g_stop && (int64_t)cm_time_mono_ms() < deadline; i++) {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    cm_kv_client_free(probe);
    if (rc == 0 && !g_stop) {
        rc = cm_kv_client_create(cfg->pd_addrs, NULL, kc, &err);
        if (rc == 0) {
            sql_cat_options co;
            sql_cat_options_default(&co);
            co.lease_ms = cfg->schema_lease_ms;
            co.owner_ttl_ms = cfg->ddl_owner_ttl_ms; /* 0: min(lease, 10 s) */
            co.backfill_workers = (uint32_t)cfg->ddl_backfill_workers;
            co.backfill_batch_rows = (uint32_t)cfg->ddl_backfill_batch;
            co.poll_ms = 0; /* the default, at most a quarter of the lease */
            rc = sql_cat_open(*kc, &co, cat, &err);
        }
        if (rc == 0) {
            sql_schema *snap = sql_cat_acquire(*cat);
            CM_INFO("sql", "catalog open: schema version %llu",
                    (unsigned long long)(snap ? sql_schema_version(snap) : 0));
            if (snap != NULL) {
                sql_schema_release(snap);
            }
            return 0;
        }
    }
    fprintf(stderr,
            "sqlnode: the cluster at pd=%s is not reachable after %lld ms: %s\n"
            "sqlnode: start pd and the kvnodes first, raise --cluster-wait, or run with --pd '' "
            "(no cluster)\n",
            cfg->pd_addrs, (long long)((int64_t)cm_time_mono_ms() - start),
            err.msg[0] ? err.msg : "stopped");
    cm_kv_client_free(*kc);
    *kc = NULL;
    return -1;
}

static int status_json(void *user, cm_buf *out)
{
    return sql_server_status_json(user, out);
}

static int run(const sql_config *cfg)
{
    cm_err err;
    if (sql_sess_global_init() != 0) {
        fprintf(stderr, "sqlnode: SQLite did not initialize\n");
        return 1;
    }
    sql_metrics_init();
    sql_sysvars globals;
    if (sql_sysvars_init(&globals, &err) != 0 || apply_config(cfg, &globals) != 0) {
        fprintf(stderr, "sqlnode: system variables: %s\n", err.msg);
        return 1;
    }
    sql_auth auth;
    sql_auth_init(&auth, cfg->default_auth_plugin ? SQL_AUTH_SHA2 : SQL_AUTH_NATIVE);
    int rc = sql_auth_add(&auth, "root", cfg->root_password ? cfg->root_password : "",
                          auth.default_plugin, &err);
    if (rc == 0 && cfg->users != NULL && cfg->users[0] != '\0') {
        rc = sql_auth_parse_users(&auth, cfg->users, &err);
    }
    sql_tls *tls = NULL;
    sql_server *server = NULL;
    cm_kv_client *kc = NULL;
    sql_catalog *cat = NULL;
    sql_gc *gc = NULL;
    int exit_code = 1;
    if (rc != 0) {
        fprintf(stderr, "sqlnode: %s\n", err.msg);
        goto out;
    }
    int configured = cfg->ssl_cert != NULL && cfg->ssl_cert[0] != '\0';
    if (sql_tls_init(cfg->ssl_cert, cfg->ssl_key, cfg->tls_dir, &tls, &err) != 0) {
        if (configured || cfg->require_secure_transport) {
            fprintf(stderr, "sqlnode: TLS: %s\n", err.msg);
            goto out;
        }
        CM_WARN("sql", "TLS unavailable, serving without it: %s", err.msg);
    } else {
        set_var(&globals, SQL_SV_HAVE_SSL, "YES");
        set_var(&globals, SQL_SV_HAVE_OPENSSL, "YES");
    }
    void *pkey;
    char *pub;
    size_t publen;
    if (sql_tls_rsa_keys(cfg->tls_dir, &pkey, &pub, &publen, &err) == 0) {
        sql_auth_set_rsa(&auth, pkey, pub, publen);
    } else {
        CM_WARN("sql", "no RSA key pair (caching_sha2_password needs TLS then): %s", err.msg);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (cfg->pd_addrs != NULL && cfg->pd_addrs[0] != '\0') {
        if (cluster_open(cfg, &kc, &cat) != 0) {
            goto out;
        }
        if (sql_accounts_open(cat, &auth, &err) != 0) {
            fprintf(stderr, "sqlnode: accounts: %s\n", err.msg);
            goto out;
        }
    } else {
        CM_WARN("sql", "no cluster (--pd is empty): tables give 1146 and DDL 1235");
    }
    sql_server_cfg scfg = {cfg->mysql_addr,
                           &globals,
                           &auth,
                           tls,
                           (uint32_t)cfg->stmt_cache_size,
                           kc,
                           cat,
                           (uint32_t)cfg->autocommit_retries};
    if (sql_server_create(&scfg, &server, &err) != 0) {
        fprintf(stderr, "sqlnode: %s\n", err.msg);
        goto out;
    }
    char node[300]; /* the GC worker's registry name: kept until sql_gc_stop */
    if (kc != NULL) {
        if (cfg->advertise_addr != NULL && cfg->advertise_addr[0] != '\0') {
            snprintf(node, sizeof(node), "%s", cfg->advertise_addr);
        } else {
            snprintf(node, sizeof(node), "%.*s:%d", (int)strcspn(cfg->mysql_addr, ":"),
                     cfg->mysql_addr, sql_server_port(server));
        }
        sql_gc_options go;
        sql_gc_options_default(&go);
        go.node_name = node;
        go.life_time_ms = cfg->gc_life_time_ms;
        if (sql_gc_start(kc, &go, &gc, &err) != 0) {
            fprintf(stderr, "sqlnode: GC worker: %s\n", err.msg);
            goto out;
        }
        sql_server_set_gc(server, gc);
        sql_cat_set_address(cat, node); /* published with the schema version (docs/ddl.md) */
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", sql_server_port(server));
    set_var(&globals, SQL_SV_PORT, port);
    int status_port = -1;
    cm_status_server *status = NULL;
    if (cm_status_server_start(cfg->status_addr, cm_metrics_global(), status_json, server, &status,
                               &err) != 0) {
        fprintf(stderr, "sqlnode: status server: %s\n", err.msg);
        goto out;
    }
    status_port = cm_status_server_port(status);
    g_server = server;
    if (g_stop) {
        sql_server_wake(server);
    }
    /* One machine-readable line for scripts and tests that start us on port 0. */
    printf("sqlnode ready mysql_port=%d status_port=%d\n", sql_server_port(server), status_port);
    fflush(stdout);
    sql_server_run(server);
    cm_status_server_stop(status);
    exit_code = 0;
out:
    g_server = NULL;
    sql_server_free(server); /* sessions are gone: nothing uses the cluster any more */
    if (gc != NULL) {
        sql_gc_stop(gc);
    }
    if (cat != NULL) {
        sql_cat_close(cat);
    }
    cm_kv_client_free(kc);
    sql_tls_free(tls);
    sql_auth_fini(&auth);
    sql_sysvars_fini(&globals);
    return exit_code;
}

int main(int argc, char **argv)
{
    sql_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    int rc = cm_config_process_start(&sql_config_table, &cfg, argc, argv);
    if (rc >= 0) {
        return rc;
    }
    signal(SIGPIPE, SIG_IGN); /* TLS writes use write(2); a closed peer must not kill us */
    CM_INFO("sql", "starting mysql=%s pd=%s", cfg.mysql_addr, cfg.pd_addrs);
    rc = run(&cfg);
    cm_config_free(&sql_config_table, &cfg);
    return rc;
}
