/* sql_metrics.c — sqlnode counters over common/metrics, or over local atomics when that module
 * is not built (see sql_metrics.h). */
#include "sql_metrics.h"

#include "sql_my_const.h"

#include <pthread.h>
#include <stdio.h>

static const char *const com_names[SQL_COM_MAX + 1] = {"sleep",
                                                       "quit",
                                                       "init_db",
                                                       "query",
                                                       "field_list",
                                                       "create_db",
                                                       "drop_db",
                                                       "refresh",
                                                       "shutdown",
                                                       "statistics",
                                                       "process_info",
                                                       "connect",
                                                       "process_kill",
                                                       "debug",
                                                       "ping",
                                                       "time",
                                                       "delayed_insert",
                                                       "change_user",
                                                       "binlog_dump",
                                                       "table_dump",
                                                       "connect_out",
                                                       "register_slave",
                                                       "stmt_prepare",
                                                       "stmt_execute",
                                                       "stmt_send_long_data",
                                                       "stmt_close",
                                                       "stmt_reset",
                                                       "set_option",
                                                       "stmt_fetch",
                                                       "daemon",
                                                       "binlog_dump_gtid",
                                                       "reset_connection",
                                                       "unknown"};

const char *sql_metrics_command_name(uint8_t com)
{
    return com < SQL_COM_MAX ? com_names[com] : com_names[SQL_COM_MAX];
}

static const char *const metric_names[SQL_M_COUNT][2] = {
    {"tessera_sql_connections_total", "MySQL connections accepted"},
    {"tessera_sql_connections_refused_total", "MySQL connections refused (max_connections)"},
    {"tessera_sql_auth_failures_total", "failed MySQL authentications"},
    {"tessera_sql_errors_total", "ERR packets sent to clients"},
    {"tessera_sql_bytes_received_total", "bytes received from MySQL clients"},
    {"tessera_sql_bytes_sent_total", "bytes sent to MySQL clients"},
    {"tessera_sql_questions_total", "statements executed"},
};

#include "cm_metrics.h"

static cm_counter *counters[SQL_M_COUNT];
static cm_counter *commands[SQL_COM_MAX + 1];
static cm_gauge *open_conns;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_once(void)
{
    cm_metrics *m = cm_metrics_global();
    for (int i = 0; i < SQL_M_COUNT; i++) {
        counters[i] = cm_metrics_counter(m, metric_names[i][0], NULL, metric_names[i][1]);
    }
    for (int c = 0; c <= SQL_COM_MAX; c++) {
        char labels[64];
        snprintf(labels, sizeof(labels), "command=\"%s\"", com_names[c]);
        commands[c] = cm_metrics_counter(m, "tessera_sql_commands_total", labels,
                                         "MySQL commands received, by command");
    }
    open_conns = cm_metrics_gauge(m, "tessera_sql_connections", NULL, "open MySQL connections");
}

void sql_metrics_init(void)
{
    pthread_once(&once, init_once);
}

void sql_metrics_add(sql_metric m, uint64_t n)
{
    cm_counter_add(counters[m], n);
}

uint64_t sql_metrics_get(sql_metric m)
{
    return counters[m] ? cm_counter_get(counters[m]) : 0;
}

void sql_metrics_command(uint8_t com)
{
    cm_counter_inc(commands[com < SQL_COM_MAX ? com : SQL_COM_MAX]);
}

uint64_t sql_metrics_command_count(uint8_t com)
{
    cm_counter *c = commands[com < SQL_COM_MAX ? com : SQL_COM_MAX];
    return c ? cm_counter_get(c) : 0;
}

void sql_metrics_open_connections(int64_t delta)
{
    cm_gauge_add(open_conns, delta);
}

int64_t sql_metrics_open_connections_get(void)
{
    return open_conns ? cm_gauge_get(open_conns) : 0;
}

int sql_metrics_exported(void)
{
    return 1;
}
