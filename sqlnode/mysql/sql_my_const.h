/*
 * sql_my_const.h — constants of the MySQL client/server protocol: commands, capability flags,
 * status flags, column types and flags, and the limits of the protocol module.
 *
 * Header-only and free of OpenSSL, so the session module may use the type codes when it builds
 * result-set metadata. Values are those of the protocol (dev.mysql.com internals pages), not ours.
 */
#ifndef SQL_MY_CONST_H
#define SQL_MY_CONST_H

#include <stdint.h>

/* ---- commands (first byte of a command packet) ---- */
enum {
    SQL_COM_SLEEP = 0x00,
    SQL_COM_QUIT = 0x01,
    SQL_COM_INIT_DB = 0x02,
    SQL_COM_QUERY = 0x03,
    SQL_COM_FIELD_LIST = 0x04,
    SQL_COM_CREATE_DB = 0x05,
    SQL_COM_DROP_DB = 0x06,
    SQL_COM_REFRESH = 0x07,
    SQL_COM_SHUTDOWN = 0x08,
    SQL_COM_STATISTICS = 0x09,
    SQL_COM_PROCESS_INFO = 0x0a,
    SQL_COM_CONNECT = 0x0b,
    SQL_COM_PROCESS_KILL = 0x0c,
    SQL_COM_DEBUG = 0x0d,
    SQL_COM_PING = 0x0e,
    SQL_COM_TIME = 0x0f,
    SQL_COM_DELAYED_INSERT = 0x10,
    SQL_COM_CHANGE_USER = 0x11,
    SQL_COM_BINLOG_DUMP = 0x12,
    SQL_COM_TABLE_DUMP = 0x13,
    SQL_COM_CONNECT_OUT = 0x14,
    SQL_COM_REGISTER_SLAVE = 0x15,
    SQL_COM_STMT_PREPARE = 0x16,
    SQL_COM_STMT_EXECUTE = 0x17,
    SQL_COM_STMT_SEND_LONG_DATA = 0x18,
    SQL_COM_STMT_CLOSE = 0x19,
    SQL_COM_STMT_RESET = 0x1a,
    SQL_COM_SET_OPTION = 0x1b,
    SQL_COM_STMT_FETCH = 0x1c,
    SQL_COM_DAEMON = 0x1d,
    SQL_COM_BINLOG_DUMP_GTID = 0x1e,
    SQL_COM_RESET_CONNECTION = 0x1f,
    SQL_COM_MAX = 0x20, /* commands at or above this are unknown */
};

/* ---- capability flags ---- */
#define SQL_CLIENT_LONG_PASSWORD                  (1u << 0)
#define SQL_CLIENT_FOUND_ROWS                     (1u << 1)
#define SQL_CLIENT_LONG_FLAG                      (1u << 2)
#define SQL_CLIENT_CONNECT_WITH_DB                (1u << 3)
#define SQL_CLIENT_NO_SCHEMA                      (1u << 4)
#define SQL_CLIENT_COMPRESS                       (1u << 5)
#define SQL_CLIENT_ODBC                           (1u << 6)
#define SQL_CLIENT_LOCAL_FILES                    (1u << 7)
#define SQL_CLIENT_IGNORE_SPACE                   (1u << 8)
#define SQL_CLIENT_PROTOCOL_41                    (1u << 9)
#define SQL_CLIENT_INTERACTIVE                    (1u << 10)
#define SQL_CLIENT_SSL                            (1u << 11)
#define SQL_CLIENT_IGNORE_SIGPIPE                 (1u << 12)
#define SQL_CLIENT_TRANSACTIONS                   (1u << 13)
#define SQL_CLIENT_RESERVED                       (1u << 14)
#define SQL_CLIENT_SECURE_CONNECTION              (1u << 15)
#define SQL_CLIENT_MULTI_STATEMENTS               (1u << 16)
#define SQL_CLIENT_MULTI_RESULTS                  (1u << 17)
#define SQL_CLIENT_PS_MULTI_RESULTS               (1u << 18)
#define SQL_CLIENT_PLUGIN_AUTH                    (1u << 19)
#define SQL_CLIENT_CONNECT_ATTRS                  (1u << 20)
#define SQL_CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA (1u << 21)
#define SQL_CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS   (1u << 22)
#define SQL_CLIENT_SESSION_TRACK                  (1u << 23)
#define SQL_CLIENT_DEPRECATE_EOF                  (1u << 24)

/* What the server offers (DESIGN.md §7). CLIENT_SSL is added only when TLS is configured.
 * Not offered: COMPRESS, LOCAL_FILES (LOAD DATA LOCAL), SESSION_TRACK, QUERY_ATTRIBUTES and
 * OPTIONAL_RESULTSET_METADATA, each of which changes packet layouts we do not produce. */
#define SQL_SERVER_CAPS                                                                            \
    (SQL_CLIENT_LONG_PASSWORD | SQL_CLIENT_FOUND_ROWS | SQL_CLIENT_LONG_FLAG |                     \
     SQL_CLIENT_CONNECT_WITH_DB | SQL_CLIENT_ODBC | SQL_CLIENT_IGNORE_SPACE |                      \
     SQL_CLIENT_PROTOCOL_41 | SQL_CLIENT_INTERACTIVE | SQL_CLIENT_IGNORE_SIGPIPE |                 \
     SQL_CLIENT_TRANSACTIONS | SQL_CLIENT_RESERVED | SQL_CLIENT_SECURE_CONNECTION |                \
     SQL_CLIENT_MULTI_STATEMENTS | SQL_CLIENT_MULTI_RESULTS | SQL_CLIENT_PS_MULTI_RESULTS |        \
     SQL_CLIENT_PLUGIN_AUTH | SQL_CLIENT_CONNECT_ATTRS |                                           \
     SQL_CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | SQL_CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS |         \
     SQL_CLIENT_DEPRECATE_EOF)

/* ---- status flags (OK and EOF packets) ---- */
#define SQL_STATUS_IN_TRANS             0x0001
#define SQL_STATUS_AUTOCOMMIT           0x0002
#define SQL_STATUS_MORE_RESULTS_EXISTS  0x0008
#define SQL_STATUS_NO_GOOD_INDEX_USED   0x0010
#define SQL_STATUS_NO_INDEX_USED        0x0020
#define SQL_STATUS_CURSOR_EXISTS        0x0040
#define SQL_STATUS_LAST_ROW_SENT        0x0080
#define SQL_STATUS_DB_DROPPED           0x0100
#define SQL_STATUS_NO_BACKSLASH_ESCAPES 0x0200
#define SQL_STATUS_METADATA_CHANGED     0x0400
#define SQL_STATUS_IN_TRANS_READONLY    0x2000

/* ---- column types ---- */
enum {
    SQL_TYPE_DECIMAL = 0,
    SQL_TYPE_TINY = 1,
    SQL_TYPE_SHORT = 2,
    SQL_TYPE_LONG = 3,
    SQL_TYPE_FLOAT = 4,
    SQL_TYPE_DOUBLE = 5,
    SQL_TYPE_NULL = 6,
    SQL_TYPE_TIMESTAMP = 7,
    SQL_TYPE_LONGLONG = 8,
    SQL_TYPE_INT24 = 9,
    SQL_TYPE_DATE = 10,
    SQL_TYPE_TIME = 11,
    SQL_TYPE_DATETIME = 12,
    SQL_TYPE_YEAR = 13,
    SQL_TYPE_NEWDATE = 14,
    SQL_TYPE_VARCHAR = 15,
    SQL_TYPE_BIT = 16,
    SQL_TYPE_TIMESTAMP2 = 17,
    SQL_TYPE_DATETIME2 = 18,
    SQL_TYPE_TIME2 = 19,
    SQL_TYPE_JSON = 245,
    SQL_TYPE_NEWDECIMAL = 246,
    SQL_TYPE_ENUM = 247,
    SQL_TYPE_SET = 248,
    SQL_TYPE_TINY_BLOB = 249,
    SQL_TYPE_MEDIUM_BLOB = 250,
    SQL_TYPE_LONG_BLOB = 251,
    SQL_TYPE_BLOB = 252,
    SQL_TYPE_VAR_STRING = 253,
    SQL_TYPE_STRING = 254,
    SQL_TYPE_GEOMETRY = 255,
};

/* ---- column definition flags ---- */
#define SQL_FLAG_NOT_NULL       0x0001
#define SQL_FLAG_PRI_KEY        0x0002
#define SQL_FLAG_UNIQUE_KEY     0x0004
#define SQL_FLAG_MULTIPLE_KEY   0x0008
#define SQL_FLAG_BLOB           0x0010
#define SQL_FLAG_UNSIGNED       0x0020
#define SQL_FLAG_ZEROFILL       0x0040
#define SQL_FLAG_BINARY         0x0080
#define SQL_FLAG_ENUM           0x0100
#define SQL_FLAG_AUTO_INCREMENT 0x0200
#define SQL_FLAG_TIMESTAMP      0x0400
#define SQL_FLAG_SET            0x0800
#define SQL_FLAG_NO_DEFAULT     0x1000
#define SQL_FLAG_PART_KEY       0x4000
#define SQL_FLAG_NUM            0x8000

/* Collation id of binary strings and of every numeric column. */
#define SQL_COLLATION_BINARY 63
/* decimals value MySQL sends for values without a fixed scale (strings, DOUBLE expressions). */
#define SQL_DECIMALS_NOT_FIXED 31

/* Parameter flag in COM_STMT_EXECUTE's type list: the integer is unsigned. */
#define SQL_PARAM_UNSIGNED 0x80

/* ---- limits of the protocol module (each with its reason) ---- */

/* Largest payload of a single packet; longer payloads continue in the next packet. */
#define SQL_PACKET_CHUNK_MAX 0xffffffu
/* Largest packet a client may send before it has authenticated. A handshake response with
 * connect attributes is a few KiB; 1 MiB keeps unauthenticated peers from making the server
 * allocate max_allowed_packet. */
#define SQL_PREAUTH_PACKET_MAX (1u << 20)
/* Length of the authentication nonce (both plugins use 20 bytes). */
#define SQL_NONCE_LEN 20
/* Handshake phase deadline (MySQL's connect_timeout default, 10 s). */
#define SQL_CONNECT_TIMEOUT_MS 10000
/* Prepared statements one session may hold (MySQL's max_prepared_stmt_count is global; a
 * per-session bound keeps one client from holding the memory of all). */
#define SQL_PREPARED_PER_SESSION_MAX 16382
/* Output is flushed to the socket once this much is buffered, so a large result set streams
 * instead of growing the buffer. */
#define SQL_OUT_FLUSH_BYTES (256u * 1024)
/* Input buffer: a typical command fits in one read. */
#define SQL_IN_CHUNK_BYTES (16u * 1024)

#endif
