/*
 * pd_limits.h — the placement driver's fixed maxima, each with its reason (the PD-specific part
 * of what common/base/cm_limits.h is for the whole tree). Operator-tunable values live in
 * pd_config.c instead.
 */
#ifndef PD_LIMITS_H
#define PD_LIMITS_H

/* TSO layout (DESIGN.md §6): 46 bits of physical milliseconds (until the year 4199) and 18
 * logical bits (262,144 timestamps per millisecond). */
#define PD_TSO_LOGICAL_BITS   18
#define PD_TSO_LOGICAL_LIMIT  (1u << PD_TSO_LOGICAL_BITS)
#define PD_TSO_PHYSICAL_LIMIT (1ull << 46)
/* One TSO request asks for at most one millisecond's worth of timestamps, so a reply is always
 * one contiguous run inside one physical millisecond. */
#define PD_TSO_COUNT_MAX PD_TSO_LOGICAL_LIMIT

/* Ids per AllocId request: a split needs a region id and one per peer; table creation a handful.
 * 10,000 bounds what a confused client can burn in one call. */
#define PD_ID_COUNT_MAX 10000

/* Peers one region may list: max-replicas is at most 7 (pd_config.c) plus learners being added
 * during a membership change; anything larger is a malformed report. */
#define PD_REGION_PEERS_MAX 16

/* Longest region boundary key. Keys are memcomparable-encoded rows and index entries
 * (DESIGN.md §4); MySQL's longest index key is 3072 bytes, which encodes to under 4 KiB.
 * 8 KiB leaves room and bounds what a bad heartbeat can make PD store. */
#define PD_REGION_KEY_BYTES_MAX 8192

/* Regions returned by one ScanRegions reply: keeps a reply well under the RPC message limit
 * (a region record is < 20 KiB even with maximal keys). */
#define PD_SCAN_REGIONS_MAX 1024

/* Stores one cluster may register: far above any deployment this design targets; bounds
 * memory and the size of a GetAllStores reply. */
#define PD_STORES_MAX 4096

/* Registry (election leases and the TTL key/value map of the SQL layer): a few entries per
 * sqlnode. The bounds stop a runaway client from growing PD without limit. */
#define PD_REGISTRY_KEY_BYTES_MAX   256
#define PD_REGISTRY_VALUE_BYTES_MAX (64 * 1024)
#define PD_REGISTRY_ENTRIES_MAX     10000
#define PD_ELECTIONS_MAX            256
#define PD_REGISTRY_LIST_MAX        1000
/* A lease or TTL longer than a day is a bug on the client side (leases are seconds). */
#define PD_REGISTRY_TTL_MS_MAX (24ull * 3600 * 1000)

#endif
