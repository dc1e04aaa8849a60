/*
 * sql_result.h — what the server writes: OK, ERR and EOF packets, column definitions, and rows
 * in the text protocol (COM_QUERY) and the binary protocol (COM_STMT_EXECUTE); plus the sink
 * that turns a session's results (sql_value.h) into those packets.
 *
 * Clients with CLIENT_DEPRECATE_EOF get no EOF after column definitions and an OK packet with
 * the 0xFE header at the end of a result set; the others (sysbench's libmariadb among them
 * when it does not ask) get classic EOF packets.
 */
#ifndef SQL_RESULT_H
#define SQL_RESULT_H

#include "sql_packet.h"
#include "sql_value.h"

#include <stdint.h>

int sql_res_ok(sql_pkt *p, uint64_t affected, uint64_t insert_id, uint16_t status,
               uint16_t warnings, const char *info);
/* ERR from an error code of cm_err.h (its MySQL number and SQLSTATE) and a message. */
int sql_res_err(sql_pkt *p, int code, const char *msg);
int sql_res_eof(sql_pkt *p, uint16_t warnings, uint16_t status);
/* End of a result set: EOF, or OK with the 0xFE header under CLIENT_DEPRECATE_EOF. */
int sql_res_end(sql_pkt *p, uint32_t caps, uint16_t warnings, uint16_t status);
int sql_res_column_def(sql_pkt *p, const sql_column *c);
int sql_res_text_row(sql_pkt *p, const sql_value *v, int n);
/* Binary row: each value converted to its column's type. */
int sql_res_binary_row(sql_pkt *p, const sql_column *cols, const sql_value *v, int n);

/* Shortest text that reads back as d ("0.1", "1e20"), as MySQL prints doubles. */
void sql_format_double(double d, char *buf, size_t cap);

/* The sink of one command's results. */
typedef struct sql_res_sink {
    sql_sink sink;
    sql_pkt *pkt;
    uint32_t caps;
    int binary; /* binary rows (COM_STMT_EXECUTE) */
    int in_resultset;
    sql_column *cols; /* types of the current result set (binary encoding); owned */
    int ncols;
    int cap_cols;
    uint64_t rows;
} sql_res_sink;

void sql_res_sink_init(sql_res_sink *s, sql_pkt *p);
void sql_res_sink_fini(sql_res_sink *s);
/* Prepares for one command. */
void sql_res_sink_begin(sql_res_sink *s, uint32_t caps, int binary);

#endif
