/* kv_main.c — the kvnode process: configuration, signals, the server (kvnode/server), clean
 * shutdown on SIGTERM / SIGINT. Prints one "kvnode ready ..." line on stdout once serving. */
#include "cm_config.h"
#include "cm_log.h"
#include "kv_config.h"
#include "kv_server.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    kv_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cm_err err;
    int rc = cm_config_process_start(&kv_config_table, &cfg, argc, argv);
    if (rc >= 0) {
        return rc;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    cm_buf cfg_json = CM_BUF_INIT;
    cm_config_dump(&kv_config_table, &cfg, 1, &cfg_json);
    cm_buf_terminate(&cfg_json);

    kv_server_options o;
    memset(&o, 0, sizeof(o));
    o.pd_addr = cfg.pd_addrs;
    o.data_dir = cfg.data_dir;
    o.listen_addr = cfg.listen_addr;
    o.advertise_addr = cfg.advertise_addr;
    o.status_addr = cfg.status_addr;
    o.block_cache_bytes = (uint64_t)cfg.block_cache_bytes;
    o.tick_ms = (uint64_t)cfg.raft_tick_ms;
    o.election_ticks = (uint32_t)cfg.raft_election_ticks;
    o.heartbeat_ticks = (uint32_t)cfg.raft_heartbeat_ticks;
    o.max_replicas = (uint32_t)cfg.max_replicas;
    o.rpc_workers = (int)cfg.rpc_workers;
    o.sync_log = cfg.sync_log;
    o.config_json = cfg_json.ptr ? (const char *)cfg_json.ptr : "{}";
    kv_server *s = NULL;
    rc = kv_server_start(&o, &s, &err);
    if (rc != 0) {
        CM_ERROR("kv", "cannot start: %s", err.msg);
        fprintf(stderr, "kvnode: cannot start: %s\n", err.msg);
        cm_buf_fini(&cfg_json);
        cm_config_free(&kv_config_table, &cfg);
        return 1;
    }
    printf("kvnode ready store_id=%llu rpc_port=%d status_port=%d\n",
           (unsigned long long)kv_server_store_id(s), kv_server_rpc_port(s),
           kv_server_status_port(s));
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    CM_INFO("kv", "signal %d: shutting down", sig);
    kv_server_stop(s);
    CM_INFO("kv", "stopped");
    cm_buf_fini(&cfg_json);
    cm_config_free(&kv_config_table, &cfg);
    return 0;
}
