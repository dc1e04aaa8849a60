/*
 * kv_rs_codec.h — the raftstore's persistent formats (docs/raftstore.md, "raft column family"):
 * keys and values in the engine's `raft` column family, the commands carried in Raft entries and
 * the payload of a region snapshot. Every decoder treats its input as hostile (bytes from disk or
 * from the network) and answers CM_E_CORRUPT instead of crashing.
 *
 * Keys of the raft column family (region ids and indexes big-endian, so a region's log is one
 * contiguous, ordered key range):
 *
 *   0x01 'i'                        store identity        -> u8 1 | uvarint store_id
 *   0x02 region_id:u64 0x01         region local state    -> kv_rs_region_state
 *   0x02 region_id:u64 0x02         raft state            -> kv_rs_raft_state
 *   0x02 region_id:u64 0x03         apply state           -> kv_rs_apply_state
 *   0x03 region_id:u64 index:u64    log entry             -> u8 type | uvarint term | data
 */
#ifndef KV_RS_CODEC_H
#define KV_RS_CODEC_H

#include "kv_batch.h"
#include "kv_region.h"

#include "cm_raft.h"

#define KV_RS_KEY_STORE_IDENT 0x01
#define KV_RS_KEY_REGION_META 0x02
#define KV_RS_KEY_LOG         0x03

#define KV_RS_SUFFIX_REGION_STATE 0x01
#define KV_RS_SUFFIX_RAFT_STATE   0x02
#define KV_RS_SUFFIX_APPLY_STATE  0x03

/* Sizes of the fixed-length keys. */
#define KV_RS_META_KEY_LEN 10
#define KV_RS_LOG_KEY_LEN  17

/* Index and term of a region's first log position (bootstrap and split): the log starts empty
 * after a truncation point at (5, 5), as TiKV does, so a peer created from nothing (index 0)
 * can never be mistaken for one that holds the region's initial state. */
#define KV_RS_INIT_INDEX 5
#define KV_RS_INIT_TERM  5

void kv_rs_key_store_ident(cm_buf *out);
void kv_rs_key_meta(uint64_t region_id, uint8_t suffix, uint8_t out[KV_RS_META_KEY_LEN]);
void kv_rs_key_log(uint64_t region_id, uint64_t index, uint8_t out[KV_RS_LOG_KEY_LEN]);
/* Parses a raft-CF key: *kind is KV_RS_KEY_*; meta keys fill region_id and suffix, log keys
 * region_id and index. Returns 0 or CM_E_CORRUPT for anything else. */
int kv_rs_key_parse(cm_slice key, uint8_t *kind, uint64_t *region_id, uint8_t *suffix,
                    uint64_t *index);

/* ---- states ------------------------------------------------------------------------------- */

typedef enum kv_rs_peer_state {
    KV_RS_PEER_NORMAL = 0,    /* a live peer (initialized when the region has peers) */
    KV_RS_PEER_TOMBSTONE = 1, /* removed: never recreate peer_id or anything older */
} kv_rs_peer_state;

/* A peer that a prepared membership change will add: the Raft core's conf-change entries carry
 * only a node id, so the store of an added peer travels in a command applied before it. */
typedef struct kv_rs_pending_peer {
    kv_peer peer;
} kv_rs_pending_peer;

#define KV_RS_PENDING_PEERS_MAX 4

typedef struct kv_rs_region_state {
    uint8_t state;    /* kv_rs_peer_state */
    uint64_t peer_id; /* this store's peer of the region */
    kv_region region; /* as of the applied index; no peers = uninitialized */
    uint8_t n_pending;
    kv_rs_pending_peer pending[KV_RS_PENDING_PEERS_MAX];
} kv_rs_region_state;

void kv_rs_region_state_init(kv_rs_region_state *s);
void kv_rs_region_state_fini(kv_rs_region_state *s);
int kv_rs_region_state_encode(const kv_rs_region_state *s, cm_buf *out);
int kv_rs_region_state_decode(cm_slice v, kv_rs_region_state *s, cm_err *err);

/* Hard state plus the truncation point of the log (everything at or below trunc_index is gone;
 * trunc_conf is the configuration in force there). */
typedef struct kv_rs_raft_state {
    cm_raft_hard_state hs;
    uint64_t trunc_index;
    uint64_t trunc_term;
    cm_raft_conf trunc_conf;
} kv_rs_raft_state;

int kv_rs_raft_state_encode(const kv_rs_raft_state *s, cm_buf *out);
int kv_rs_raft_state_decode(cm_slice v, kv_rs_raft_state *s, cm_err *err);

typedef struct kv_rs_apply_state {
    uint64_t applied_index;
    uint64_t applied_term;
} kv_rs_apply_state;

int kv_rs_apply_state_encode(const kv_rs_apply_state *s, cm_buf *out);
int kv_rs_apply_state_decode(cm_slice v, kv_rs_apply_state *s, cm_err *err);

/* Log entry value (index in the key). data borrows v. */
int kv_rs_entry_encode(const cm_raft_entry *e, cm_buf *out);
int kv_rs_entry_decode(cm_slice v, uint64_t index, cm_raft_entry *e, cm_err *err);

/* ---- commands (data of normal Raft entries) ------------------------------------------------ */

typedef enum kv_rs_cmd_kind {
    KV_RS_CMD_WRITE = 1,        /* a write batch of data column families */
    KV_RS_CMD_SPLIT = 2,        /* split at a key into the region and a new one on its right */
    KV_RS_CMD_PREPARE_PEER = 3, /* records the store of a peer a conf change will add */
} kv_rs_cmd_kind;

/*
 *   u8 version (1) | u8 kind | uvarint conf_ver | uvarint version | body
 *   WRITE:         kv_batch wire bytes (to the end)
 *   SPLIT:         bytes split_key | uvarint new_region_id | u8 n | n * uvarint new_peer_id
 *   PREPARE_PEER:  uvarint peer_id | uvarint store_id | u8 role
 */
typedef struct kv_rs_cmd {
    uint8_t kind;
    kv_epoch epoch; /* the epoch the command was checked under */
    cm_slice batch; /* WRITE: wire bytes (validate with kv_batch_load) */
    cm_slice split_key;
    uint64_t new_region_id;
    uint8_t n_new_peers;
    uint64_t new_peer_ids[KV_REGION_PEERS_MAX];
    kv_peer peer; /* PREPARE_PEER */
} kv_rs_cmd;

int kv_rs_cmd_encode(const kv_rs_cmd *c, cm_buf *out);
/* Slices in *c borrow data. */
int kv_rs_cmd_decode(cm_slice data, kv_rs_cmd *c, cm_err *err);

/* ---- snapshot payload ---------------------------------------------------------------------- */

/*
 *   u8 version (1) | bytes region_state | record* | u8 0xFF
 *   record: u8 cf | bytes key | bytes value
 * The region state is the one at the snapshot's index; records are every key of the data
 * column families inside the region's range, in (cf, key) order.
 */
#define KV_RS_SNAP_END 0xFF

int kv_rs_snap_begin(const kv_rs_region_state *st, cm_buf *out);
int kv_rs_snap_add(cm_buf *out, kv_cf cf, cm_slice key, cm_slice value);
int kv_rs_snap_finish(cm_buf *out);

typedef struct kv_rs_snap_reader {
    cm_reader rd;
    int last_cf; /* -1 before the first record */
    cm_slice last_key;
} kv_rs_snap_reader;

/* Reads the header (region state into *st, initialized by the caller) and positions sr at the
 * first record. data is borrowed by sr. */
int kv_rs_snap_open(kv_rs_snap_reader *sr, cm_slice data, kv_rs_region_state *st, cm_err *err);
/* Next record: 1 with cf/key/value (borrowed), 0 at the end marker, or CM_E_CORRUPT (bad cf, a
 * key outside the region's range, keys out of order, trailing bytes after the end). */
int kv_rs_snap_next(kv_rs_snap_reader *sr, const kv_region *region, kv_cf *cf, cm_slice *key,
                    cm_slice *value, cm_err *err);

#endif
