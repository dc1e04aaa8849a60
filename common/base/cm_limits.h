/*
 * cm_limits.h — every fixed maximum of Tessera in one place, each with the reason for its value
 * (SQLite's sqliteLimit.h is the model). Limits that operators tune live in the config tables
 * instead; this file holds the compile-time ones and the defaults those tables start from.
 */
#ifndef CM_LIMITS_H
#define CM_LIMITS_H

/* Arena chunk: 16 KiB holds a typical point query's allocations in one chunk. */
#define CM_ARENA_CHUNK_BYTES_DEFAULT (16 * 1024)

/* Largest RPC message (frame header + payload). Raft snapshots travel in chunks well below this
 * and a coprocessor page is bounded separately, so anything larger is a bug or an attack.
 * 64 MiB also bounds what a malformed length field can make a server allocate. */
#define CM_RPC_MSG_BYTES_MAX (64u * 1024 * 1024)

/* RPC worker threads per server by default: a few more than cores, since handlers may block
 * briefly on storage. */
#define CM_RPC_WORKERS_DEFAULT 8

/* Concurrent requests one RPC client keeps in flight on one connection (nng contexts). 64 reached
 * ~95k req/s on this machine (DESIGN.md §3); more only adds queueing. */
#define CM_RPC_INFLIGHT_MAX 256

/* Methods one RPC server can register (method ids are small integers, see proto/). */
#define CM_RPC_METHODS_MAX 256

/* Longest host:port address string. */
#define CM_ADDR_MAX 256

/* Longest filesystem path we accept in configuration. */
#define CM_PATH_MAX 1024

/* Metrics: a registry holds at most this many series; an accident (a label per key) must not
 * grow memory without bound. */
#define CM_METRICS_SERIES_MAX 1024
/* Histogram buckets per histogram. */
#define CM_METRICS_BUCKETS_MAX 32

/* Memcomparable bytes are written in groups of 8 bytes plus a marker (DESIGN.md §4). */
#define CM_CODEC_GROUP_BYTES 8

/* MySQL: the protocol's largest single packet payload; larger payloads are split. */
#define CM_MYSQL_PACKET_PAYLOAD_MAX 0xffffffu
/* MySQL: max_allowed_packet default, as MySQL 8.0 (64 MiB); the config table bounds it to 1 GiB,
 * MySQL's own maximum. */
#define CM_MYSQL_MAX_ALLOWED_PACKET_DEFAULT (64u * 1024 * 1024)

#endif
