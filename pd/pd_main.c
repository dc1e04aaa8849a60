/*
 * pd_main.c — the pd process: configuration, signals, the server (pd/server), clean shutdown on
 * SIGTERM / SIGINT.
 *
 * Test-only clock offset: when the environment variable TESSERA_PD_TEST_CLOCK_OFFSET_FILE names
 * a file, PD's wall clock (the TSO's physical time) is the real clock plus the signed number of
 * milliseconds in that file, re-read every 50 ms. Tests use it to step the clock back while PD
 * runs or across a restart (docs/pd.md). It only ever shifts the clock the TSO already treats as
 * untrusted, and PD logs a warning at start when it is set.
 */
#include "cm_config.h"
#include "cm_log.h"
#include "cm_time.h"
#include "pd_config.h"
#include "pd_server.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TESSERA_VERSION
#define TESSERA_VERSION "0.0.0"
#endif

#define CLOCK_OFFSET_ENV "TESSERA_PD_TEST_CLOCK_OFFSET_FILE"

static const char *offset_file;
static _Atomic int64_t clock_offset_ms;

static void read_offset(void *user)
{
    (void)user;
    FILE *f = fopen(offset_file, "r");
    if (f == NULL) {
        return; /* keep the last offset */
    }
    long long v = 0;
    if (fscanf(f, "%lld", &v) == 1) {
        int64_t old = atomic_exchange(&clock_offset_ms, (int64_t)v);
        if (old != (int64_t)v) {
            CM_WARN("pd", "test clock offset %lld ms -> %lld ms", (long long)old, v);
        }
    }
    fclose(f);
}

static uint64_t offset_wall_ms(void *user)
{
    (void)user;
    return (uint64_t)((int64_t)cm_time_wall_ms() + atomic_load(&clock_offset_ms));
}

int main(int argc, char **argv)
{
    pd_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cm_err err;
    int rc = cm_config_process_start(&pd_config_table, &cfg, argc, argv);
    if (rc >= 0) {
        return rc;
    }
    if (cfg.initial_cluster && cfg.initial_cluster[0]) {
        CM_WARN("pd", "initial-cluster is set but replicated PD is not built yet: running as a "
                      "single PD");
    }

    /* Signals: block them in every thread (the server's threads inherit this mask) and wait for
     * them here. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    cm_buf cfg_json = CM_BUF_INIT;
    cm_config_dump(&pd_config_table, &cfg, 1, &cfg_json);
    cm_buf_terminate(&cfg_json);

    pd_server_options o;
    memset(&o, 0, sizeof(o));
    o.name = cfg.name;
    o.data_dir = cfg.data_dir;
    o.listen_addr = cfg.listen_addr;
    o.advertise_addr = cfg.advertise_addr;
    o.status_addr = cfg.status_addr;
    o.tso_save_window_ms = (uint64_t)cfg.tso_save_window_ms;
    o.id_alloc_window = (uint64_t)cfg.id_alloc_window;
    o.store_heartbeat_timeout_ms = (uint64_t)cfg.store_heartbeat_timeout_ms;
    o.max_store_down_time_ms = (uint64_t)cfg.max_store_down_time_ms;
    o.max_replicas = (uint32_t)cfg.max_replicas;
    o.operator_timeout_ms = (uint64_t)cfg.operator_timeout_ms;
    o.rpc_workers = (int)cfg.rpc_workers;
    o.version = TESSERA_VERSION;
    o.config_json = cfg_json.ptr ? (const char *)cfg_json.ptr : "{}";
    offset_file = getenv(CLOCK_OFFSET_ENV);
    if (offset_file != NULL && offset_file[0] != '\0') {
        read_offset(NULL);
        CM_WARN("pd", "%s is set: the TSO wall clock is shifted by the offset in %s (tests only)",
                CLOCK_OFFSET_ENV, offset_file);
        o.wall_clock = offset_wall_ms;
        o.tick_hook = read_offset;
    }

    pd_server *s = NULL;
    rc = pd_server_start(&o, &s, &err);
    if (rc != 0) {
        CM_ERROR("pd", "cannot start: %s", err.msg);
        fprintf(stderr, "pd: cannot start: %s\n", err.msg);
        cm_buf_fini(&cfg_json);
        cm_config_free(&pd_config_table, &cfg);
        return 1;
    }
    /* One line on stdout that scripts can wait for. */
    printf("pd ready rpc_port=%d status_port=%d cluster_id=%llu\n", pd_server_rpc_port(s),
           pd_server_status_port(s), (unsigned long long)pd_server_cluster_id(s));
    fflush(stdout);

    int sig = 0;
    sigwait(&set, &sig);
    CM_INFO("pd", "signal %d: shutting down", sig);
    pd_server_stop(s);
    CM_INFO("pd", "stopped");
    cm_buf_fini(&cfg_json);
    cm_config_free(&pd_config_table, &cfg);
    return 0;
}
