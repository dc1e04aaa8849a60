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

static int start(void *c, const char *config_json, void **server, cm_err *err)
{
    const pd_config *cfg = c;
    if (cfg->initial_cluster && cfg->initial_cluster[0]) {
        CM_WARN("pd", "initial-cluster is set but replicated PD is not built yet: running as a "
                      "single PD");
    }
    pd_server_options o;
    memset(&o, 0, sizeof(o));
    o.name = cfg->name;
    o.data_dir = cfg->data_dir;
    o.listen_addr = cfg->listen_addr;
    o.advertise_addr = cfg->advertise_addr;
    o.status_addr = cfg->status_addr;
    o.tso_save_window_ms = (uint64_t)cfg->tso_save_window_ms;
    o.id_alloc_window = (uint64_t)cfg->id_alloc_window;
    o.store_heartbeat_timeout_ms = (uint64_t)cfg->store_heartbeat_timeout_ms;
    o.max_store_down_time_ms = (uint64_t)cfg->max_store_down_time_ms;
    o.max_replicas = (uint32_t)cfg->max_replicas;
    o.operator_timeout_ms = (uint64_t)cfg->operator_timeout_ms;
    o.rpc_workers = (int)cfg->rpc_workers;
    o.version = TESSERA_VERSION;
    o.config_json = config_json;
    offset_file = getenv(CLOCK_OFFSET_ENV);
    if (offset_file != NULL && offset_file[0] != '\0') {
        read_offset(NULL);
        CM_WARN("pd", "%s is set: the TSO wall clock is shifted by the offset in %s (tests only)",
                CLOCK_OFFSET_ENV, offset_file);
        o.wall_clock = offset_wall_ms;
        o.tick_hook = read_offset;
    }
    return pd_server_start(&o, (pd_server **)server, err);
}

static void print_ready(void *server, FILE *out)
{
    pd_server *s = server;
    fprintf(out, "pd ready rpc_port=%d status_port=%d cluster_id=%llu\n", pd_server_rpc_port(s),
            pd_server_status_port(s), (unsigned long long)pd_server_cluster_id(s));
}

static void stop(void *server)
{
    pd_server_stop(server);
}

int main(int argc, char **argv)
{
    static const cm_daemon d = {"pd", "pd", start, print_ready, stop};
    pd_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    return cm_daemon_main(&d, &pd_config_table, &cfg, argc, argv);
}
