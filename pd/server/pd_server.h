/*
 * pd_server.h — the PD process's server: storage, TSO, ids, cluster map and registry behind the
 * pdpb RPC methods (proto/pdpb.proto), the scheduler answering region heartbeats with operators
 * (pd/sched), metrics and /status on the status port, and one tick thread (TSO mark every 50 ms;
 * gauges, registry and operator expiry every second).
 */
#ifndef PD_SERVER_H
#define PD_SERVER_H

#include "cm_err.h"
#include "pd_tso.h"

#include <stdint.h>

typedef struct pd_server_options {
    const char *name;
    const char *data_dir;
    const char *listen_addr;    /* RPC, "host:port" (port 0: any) */
    const char *advertise_addr; /* "" or NULL: listen_addr */
    const char *status_addr;    /* HTTP, "host:port" (port 0: any) */
    uint64_t tso_save_window_ms;
    uint64_t id_alloc_window;
    uint64_t store_heartbeat_timeout_ms;
    uint64_t max_store_down_time_ms;
    uint32_t max_replicas;        /* replica repair target (0: 3) */
    uint64_t operator_timeout_ms; /* an operator not done by then is decided again (0: 30 s) */
    int rpc_workers;              /* 0: default */
    const char *version;          /* for /status and GetMembers */
    const char *config_json;      /* the effective configuration as one JSON object (for /status) */
    /* The wall clock TSO uses (NULL: the real one). Tests inject an offset through it. */
    pd_clock_ms_cb wall_clock;
    void *wall_clock_user;
    /* Called every tick (50 ms) before the TSO tick, e.g. to re-read a test clock offset. */
    void (*tick_hook)(void *user);
    void *tick_hook_user;
} pd_server_options;

typedef struct pd_server pd_server;

/* Opens storage, loads state and starts serving. `o` is copied (strings too). */
int pd_server_start(const pd_server_options *o, pd_server **out, cm_err *err);
int pd_server_rpc_port(const pd_server *s);
int pd_server_status_port(const pd_server *s);
uint64_t pd_server_cluster_id(const pd_server *s);
/* Stops serving (in-flight requests finish), stops the tick thread, closes storage. */
void pd_server_stop(pd_server *s);

#endif
