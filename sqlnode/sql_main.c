/* sql_main.c — the sqlnode process: configuration, system variables, accounts, TLS material,
 * the MySQL listener and the status server; SIGTERM/SIGINT close every session and exit. */
#include "cm_config.h"
#include "cm_log.h"
#include "sql_auth.h"
#include "sql_config.h"
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

static void on_signal(int sig)
{
    (void)sig;
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
    sql_server_cfg scfg = {cfg->mysql_addr, &globals, &auth, tls, (uint32_t)cfg->stmt_cache_size};
    if (sql_server_create(&scfg, &server, &err) != 0) {
        fprintf(stderr, "sqlnode: %s\n", err.msg);
        goto out;
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
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* One machine-readable line for scripts and tests that start us on port 0. */
    printf("sqlnode ready mysql_port=%d status_port=%d\n", sql_server_port(server), status_port);
    fflush(stdout);
    sql_server_run(server);
    cm_status_server_stop(status);
    exit_code = 0;
out:
    g_server = NULL;
    sql_server_free(server);
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
