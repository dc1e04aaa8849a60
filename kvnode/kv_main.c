/* kv_main.c — the kvnode process: configuration, signals, the server (kvnode/server), clean
 * shutdown on SIGTERM / SIGINT. Prints one "kvnode ready ..." line on stdout once serving. */
#include "cm_config.h"
#include "cm_log.h"
#include "kv_config.h"
#include "kv_server.h"

#include <stdio.h>
#include <string.h>

static int start(void *c, const char *config_json, void **server, cm_err *err)
{
    const kv_config *cfg = c;
    kv_server_options o;
    memset(&o, 0, sizeof(o));
    o.pd_addr = cfg->pd_addrs;
    o.data_dir = cfg->data_dir;
    o.listen_addr = cfg->listen_addr;
    o.advertise_addr = cfg->advertise_addr;
    o.status_addr = cfg->status_addr;
    o.block_cache_bytes = (uint64_t)cfg->block_cache_bytes;
    o.tick_ms = (uint64_t)cfg->raft_tick_ms;
    o.election_ticks = (uint32_t)cfg->raft_election_ticks;
    o.heartbeat_ticks = (uint32_t)cfg->raft_heartbeat_ticks;
    o.max_replicas = (uint32_t)cfg->max_replicas;
    o.rpc_workers = (int)cfg->rpc_workers;
    o.sync_log = cfg->sync_log;
    o.config_json = config_json;
    return kv_server_start(&o, (kv_server **)server, err);
}

static void print_ready(void *server, FILE *out)
{
    kv_server *s = server;
    fprintf(out, "kvnode ready store_id=%llu rpc_port=%d status_port=%d\n",
            (unsigned long long)kv_server_store_id(s), kv_server_rpc_port(s),
            kv_server_status_port(s));
}

static void stop(void *server)
{
    kv_server_stop(server);
}

int main(int argc, char **argv)
{
    static const cm_daemon d = {"kv", "kvnode", start, print_ready, stop};
    kv_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    return cm_daemon_main(&d, &kv_config_table, &cfg, argc, argv);
}
