/*
 * sql_cat_sync.h — private to sqlnode/catalog: the pure parts of the schema lease and version
 * sync (sql_cat_sync.c, docs/ddl.md "Schema lease and version sync"), unit-tested without a
 * cluster, and the catalog's hooks into the publisher.
 */
#ifndef SQL_CAT_SYNC_H
#define SQL_CAT_SYNC_H

#include "sql_ddl_int.h"

#include <stdbool.h>
#include <stdint.h>

/* Bounds of the schema lease (sqlnode config schema-lease: tests go down to 1 s). */
#define SQL_CAT_LEASE_MIN_MS     1000
#define SQL_CAT_LEASE_DEFAULT_MS 45000
/* The poll of the version key: default, and at most a quarter of the lease so a node renews its
 * lease several times per lease even when a poll is lost. */
#define SQL_CAT_POLL_DEFAULT_MS 100
/* The DDL owner's lease in PD: min(lease, this). */
#define SQL_CAT_OWNER_TTL_MAX_MS 10000
/* The owner re-lists the registry this often while it waits for the nodes to load a version. */
#define SQL_CAT_SYNC_LIST_MS 20
/* Registry keys: "ddl/schema/" + 32 hex digits. */
#define SQL_CAT_REG_KEY_MAX 64

/* Fills in every zero / out-of-range field of o with its default and clamps poll_ms to
 * lease_ms / 4 (sql_cat_open does this on the options it is given). */
void sql_cat_options_fix(sql_cat_options *o);

/* Whether a node that confirmed the schema version at monotonic time confirmed_ms (0: never)
 * still holds its lease at now_ms: now_ms - confirmed_ms < lease_ms. */
bool sql_cat_lease_valid(int64_t confirmed_ms, int64_t now_ms, int64_t lease_ms);

/* The registry value: uint64 LE version followed by the address (text, no NUL). */
int sql_cat_sync_value_encode(uint64_t version, const char *addr, cm_buf *out);
/* CM_E_CORRUPT when shorter than 8 bytes; *addr (may be NULL) borrows from v. */
int sql_cat_sync_value_decode(cm_slice v, uint64_t *version, cm_slice *addr);

/* Waits up to timeout_ms for the first successful publish (sql_cat_open: a node serves only
 * while its entry is live). false on timeout. */
bool sql_cat_sync_wait_published(sql_catalog *c, int64_t timeout_ms);
/* Wakes the publisher (the address changed). */
void sql_cat_sync_wake(sql_catalog *c);

#endif
