/*
 * sql_metrics.h — the sqlnode's counters: connections, commands by type, errors, bytes in and
 * out, authentication failures, refused connections.
 *
 * A thin wrapper over cm_metrics series in the global registry (served by the status server at
 * /metrics); the same functions read them for SHOW STATUS and COM_STATISTICS.
 */
#ifndef SQL_METRICS_H
#define SQL_METRICS_H

#include <stdint.h>

typedef enum sql_metric {
    SQL_M_CONNECTIONS = 0, /* accepted connections, total */
    SQL_M_REFUSED,         /* refused: max_connections or shutdown */
    SQL_M_AUTH_FAILURES,
    SQL_M_ERRORS, /* ERR packets sent */
    SQL_M_BYTES_IN,
    SQL_M_BYTES_OUT,
    SQL_M_QUESTIONS, /* statements run (COM_QUERY statements and executes) */
    SQL_M_COUNT
} sql_metric;

/* Registers the series (idempotent). */
void sql_metrics_init(void);
void sql_metrics_add(sql_metric m, uint64_t n);
uint64_t sql_metrics_get(sql_metric m);
/* Commands by type (the COM_* byte; unknown ones count as "unknown"). */
void sql_metrics_command(uint8_t com);
uint64_t sql_metrics_command_count(uint8_t com);
/* Open connections (a gauge). */
void sql_metrics_open_connections(int64_t delta);
int64_t sql_metrics_open_connections_get(void);
/* Whether the values are exported through common/metrics (and so through /metrics). */
int sql_metrics_exported(void);
/* Name of a command for labels and SHOW STATUS ("query", "stmt_execute" …). */
const char *sql_metrics_command_name(uint8_t com);

#endif
