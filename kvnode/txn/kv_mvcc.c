/*
 * kv_mvcc.c — MVCC records, keys and snapshot reads; see kv_mvcc.h and docs/kv-storage.md.
 */
#include "kv_mvcc.h"

#include "cm_assert.h"
#include "cm_codec.h"
#include "cm_keys.h"

#include <string.h>

#define RECORD_VERSION 1

/* Lock record flags. */
#define LOCK_F_SHORT_VALUE   0x01
#define LOCK_F_MIN_COMMIT_TS 0x02
#define LOCK_F_FOR_UPDATE_TS 0x04
#define LOCK_F_TXN_SIZE      0x08
#define LOCK_F_ALL           0x0f

/* Write record flags. */
#define WRITE_F_SHORT_VALUE 0x01
#define WRITE_F_OVERLAPPED  0x02
#define WRITE_F_ALL         0x03

/* ---- records ------------------------------------------------------------------------------- */

/* Reads a uvarint in its shortest form only, so each record has exactly one encoding. */
static int read_uvarint(cm_reader *r, uint64_t *v)
{
    size_t at = r->pos;
    if (cm_reader_uvarint(r, v) != 0) {
        return CM_E_CORRUPT;
    }
    size_t n = 1;
    for (uint64_t x = *v; x >= 0x80; x >>= 7) {
        n++;
    }
    if (r->pos - at != n) {
        r->pos = at;
        return CM_E_CORRUPT;
    }
    return 0;
}

static bool lock_kind_ok(unsigned k)
{
    return k >= KV_LOCK_PUT && k <= KV_LOCK_PESSIMISTIC;
}

static bool write_kind_ok(unsigned k)
{
    return k >= KV_WRITE_PUT && k <= KV_WRITE_ROLLBACK;
}

int kv_lock_encode(const kv_lock *l, cm_buf *out)
{
    if (!lock_kind_ok(l->kind) || l->start_ts == 0 || l->primary.len == 0 ||
        l->primary.len > KV_TXN_KEY_BYTES_MAX ||
        (l->has_short_value &&
         (l->kind != KV_LOCK_PUT || l->short_value.len > KV_SHORT_VALUE_MAX))) {
        return CM_E_INVALID;
    }
    uint8_t flags = (l->has_short_value ? LOCK_F_SHORT_VALUE : 0) |
                    (l->min_commit_ts ? LOCK_F_MIN_COMMIT_TS : 0) |
                    (l->for_update_ts ? LOCK_F_FOR_UPDATE_TS : 0) |
                    (l->txn_size ? LOCK_F_TXN_SIZE : 0);
    size_t old = out->len;
    int rc = cm_buf_append_u8(out, RECORD_VERSION);
    rc = rc ? rc : cm_buf_append_u8(out, (uint8_t)l->kind);
    rc = rc ? rc : cm_buf_append_u8(out, flags);
    rc = rc ? rc : cm_buf_append_u64be(out, l->start_ts);
    rc = rc ? rc : cm_buf_append_uvarint(out, l->ttl_ms);
    rc = rc ? rc : cm_buf_append_uvarint(out, l->primary.len);
    rc = rc ? rc : cm_buf_append_slice(out, l->primary);
    if (l->has_short_value) {
        rc = rc ? rc : cm_buf_append_u8(out, (uint8_t)l->short_value.len);
        rc = rc ? rc : cm_buf_append_slice(out, l->short_value);
    }
    if (l->min_commit_ts) {
        rc = rc ? rc : cm_buf_append_u64be(out, l->min_commit_ts);
    }
    if (l->for_update_ts) {
        rc = rc ? rc : cm_buf_append_u64be(out, l->for_update_ts);
    }
    if (l->txn_size) {
        rc = rc ? rc : cm_buf_append_uvarint(out, l->txn_size);
    }
    if (rc != 0) {
        out->len = old;
    }
    return rc;
}

int kv_lock_decode(cm_slice in, kv_lock *l, cm_err *err)
{
    memset(l, 0, sizeof(*l));
    cm_reader r;
    cm_reader_init(&r, in.ptr, in.len);
    uint8_t ver = 0, kind = 0, flags = 0, svlen = 0;
    uint64_t plen = 0;
    if (cm_reader_u8(&r, &ver) || ver != RECORD_VERSION) {
        return cm_err_set(err, CM_E_CORRUPT, "lock record: bad version");
    }
    if (cm_reader_u8(&r, &kind) || !lock_kind_ok(kind) || cm_reader_u8(&r, &flags) ||
        (flags & ~LOCK_F_ALL) != 0) {
        return cm_err_set(err, CM_E_CORRUPT, "lock record: bad kind or flags");
    }
    l->kind = (kv_lock_kind)kind;
    if (cm_reader_u64be(&r, &l->start_ts) || l->start_ts == 0 || read_uvarint(&r, &l->ttl_ms) ||
        read_uvarint(&r, &plen) || plen == 0 || plen > KV_TXN_KEY_BYTES_MAX ||
        cm_reader_bytes(&r, (size_t)plen, &l->primary)) {
        return cm_err_set(err, CM_E_CORRUPT, "lock record: bad start_ts, ttl or primary");
    }
    if (flags & LOCK_F_SHORT_VALUE) {
        if (kind != KV_LOCK_PUT || cm_reader_u8(&r, &svlen) ||
            cm_reader_bytes(&r, svlen, &l->short_value)) {
            return cm_err_set(err, CM_E_CORRUPT, "lock record: bad short value");
        }
        l->has_short_value = true;
    }
    if ((flags & LOCK_F_MIN_COMMIT_TS) &&
        (cm_reader_u64be(&r, &l->min_commit_ts) || l->min_commit_ts == 0)) {
        return cm_err_set(err, CM_E_CORRUPT, "lock record: bad min_commit_ts");
    }
    if ((flags & LOCK_F_FOR_UPDATE_TS) &&
        (cm_reader_u64be(&r, &l->for_update_ts) || l->for_update_ts == 0)) {
        return cm_err_set(err, CM_E_CORRUPT, "lock record: bad for_update_ts");
    }
    if ((flags & LOCK_F_TXN_SIZE) && (read_uvarint(&r, &l->txn_size) || l->txn_size == 0)) {
        return cm_err_set(err, CM_E_CORRUPT, "lock record: bad txn_size");
    }
    if (cm_reader_left(&r) != 0) {
        return cm_err_set(err, CM_E_CORRUPT, "lock record: %zu trailing bytes", cm_reader_left(&r));
    }
    return 0;
}

int kv_write_encode(const kv_write *w, cm_buf *out)
{
    if (!write_kind_ok(w->kind) || w->start_ts == 0 ||
        (w->has_short_value &&
         (w->kind != KV_WRITE_PUT || w->short_value.len > KV_SHORT_VALUE_MAX)) ||
        (w->overlapped_rollback && w->kind == KV_WRITE_ROLLBACK)) {
        return CM_E_INVALID;
    }
    uint8_t flags = (w->has_short_value ? WRITE_F_SHORT_VALUE : 0) |
                    (w->overlapped_rollback ? WRITE_F_OVERLAPPED : 0);
    size_t old = out->len;
    int rc = cm_buf_append_u8(out, RECORD_VERSION);
    rc = rc ? rc : cm_buf_append_u8(out, (uint8_t)w->kind);
    rc = rc ? rc : cm_buf_append_u8(out, flags);
    rc = rc ? rc : cm_buf_append_u64be(out, w->start_ts);
    if (w->has_short_value) {
        rc = rc ? rc : cm_buf_append_u8(out, (uint8_t)w->short_value.len);
        rc = rc ? rc : cm_buf_append_slice(out, w->short_value);
    }
    if (rc != 0) {
        out->len = old;
    }
    return rc;
}

int kv_write_decode(cm_slice in, kv_write *w, cm_err *err)
{
    memset(w, 0, sizeof(*w));
    cm_reader r;
    cm_reader_init(&r, in.ptr, in.len);
    uint8_t ver = 0, kind = 0, flags = 0, svlen = 0;
    if (cm_reader_u8(&r, &ver) || ver != RECORD_VERSION) {
        return cm_err_set(err, CM_E_CORRUPT, "write record: bad version");
    }
    if (cm_reader_u8(&r, &kind) || !write_kind_ok(kind) || cm_reader_u8(&r, &flags) ||
        (flags & ~WRITE_F_ALL) != 0) {
        return cm_err_set(err, CM_E_CORRUPT, "write record: bad kind or flags");
    }
    w->kind = (kv_write_kind)kind;
    if (cm_reader_u64be(&r, &w->start_ts) || w->start_ts == 0) {
        return cm_err_set(err, CM_E_CORRUPT, "write record: bad start_ts");
    }
    if (flags & WRITE_F_SHORT_VALUE) {
        if (kind != KV_WRITE_PUT || cm_reader_u8(&r, &svlen) ||
            cm_reader_bytes(&r, svlen, &w->short_value)) {
            return cm_err_set(err, CM_E_CORRUPT, "write record: bad short value");
        }
        w->has_short_value = true;
    }
    if (flags & WRITE_F_OVERLAPPED) {
        if (kind == KV_WRITE_ROLLBACK) {
            return cm_err_set(err, CM_E_CORRUPT, "write record: overlapped flag on a rollback");
        }
        w->overlapped_rollback = true;
    }
    if (cm_reader_left(&r) != 0) {
        return cm_err_set(err, CM_E_CORRUPT, "write record: %zu trailing bytes",
                          cm_reader_left(&r));
    }
    return 0;
}

/* ---- keys ---------------------------------------------------------------------------------- */

int kv_mvcc_key_lock(cm_buf *out, cm_slice user_key)
{
    return cm_keys_append_mvcc_prefix(out, user_key);
}

int kv_mvcc_key_ts(cm_buf *out, cm_slice user_key, uint64_t ts)
{
    return cm_keys_append_mvcc(out, user_key, ts);
}

int kv_mvcc_check_key(cm_slice key, cm_err *err)
{
    if (key.len == 0 || key.len > KV_TXN_KEY_BYTES_MAX) {
        return cm_err_set(err, CM_E_INVALID, "key of %zu bytes (want 1..%u)", key.len,
                          KV_TXN_KEY_BYTES_MAX);
    }
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------------- */

static int nomem(cm_err *err)
{
    return cm_err_set(err, CM_E_NOMEM, "mvcc: out of memory");
}

static int arena_copy(cm_arena *a, cm_slice in, cm_slice *out)
{
    if (in.len == 0) {
        *out = cm_slice_make("", 0);
        return 0;
    }
    void *p = cm_arena_memdup(a, in.ptr, in.len);
    if (p == NULL) {
        return CM_E_NOMEM;
    }
    *out = cm_slice_make(p, in.len);
    return 0;
}

/* Whether write-CF key k is a version of the user key whose encoding is enc; CM_E_CORRUPT when
 * it starts with enc but is not enc + 8 bytes. *ts gets the version's timestamp. */
static int version_of(cm_slice k, cm_slice enc, uint64_t *ts, bool *match, cm_err *err)
{
    *match = false;
    if (k.len < enc.len || memcmp(k.ptr, enc.ptr, enc.len) != 0) {
        return 0;
    }
    if (k.len != enc.len + CM_KEYS_MVCC_TS_LEN) {
        return cm_err_set(err, CM_E_CORRUPT, "write CF key of %zu bytes after a %zu-byte user key",
                          k.len, enc.len);
    }
    uint64_t inv = 0;
    for (size_t i = 0; i < 8; i++) {
        inv = (inv << 8) | k.ptr[enc.len + i];
    }
    *ts = ~inv;
    *match = true;
    return 0;
}

/* Decodes an encoded user key (a lock CF key, or the user part of a version key). */
static int decode_user_key(cm_slice enc, cm_buf *out, cm_err *err)
{
    if (enc.len == 0) {
        return cm_err_set(err, CM_E_CORRUPT, "empty key in an MVCC column family");
    }
    cm_reader r;
    cm_reader_init(&r, enc.ptr, enc.len);
    cm_buf_reset(out);
    int rc = cm_codec_read_bytes(&r, out, err);
    if (rc == 0 && cm_reader_left(&r) != 0) {
        rc = cm_err_set(err, CM_E_CORRUPT, "key has %zu bytes after its user key",
                        cm_reader_left(&r));
    }
    return rc;
}

/* Whether a lock hides the state of its key from a reader at ts. */
static bool lock_blocks_read(const kv_lock *l, uint64_t ts)
{
    return l->start_ts <= ts && (l->kind == KV_LOCK_PUT || l->kind == KV_LOCK_DELETE);
}

int kv_mvcc_lock_info(cm_arena *arena, cm_slice user_key, const kv_lock *l, kv_lock_info *out)
{
    memset(out, 0, sizeof(*out));
    if (arena_copy(arena, user_key, &out->key) || arena_copy(arena, l->primary, &out->primary)) {
        return CM_E_NOMEM;
    }
    out->start_ts = l->start_ts;
    out->ttl_ms = l->ttl_ms;
    out->kind = l->kind;
    out->txn_size = l->txn_size;
    return 0;
}

/* ---- the reader --------------------------------------------------------------------------- */

void kv_mvcc_reader_init(kv_mvcc_reader *r, kv_snapshot *snap)
{
    r->snap = snap;
    r->write_it = NULL;
    cm_buf_init(&r->key);
    cm_buf_init(&r->lock_val);
    cm_buf_init(&r->val);
}

void kv_mvcc_reader_fini(kv_mvcc_reader *r)
{
    kv_iter_free(r->write_it);
    r->write_it = NULL;
    cm_buf_fini(&r->key);
    cm_buf_fini(&r->lock_val);
    cm_buf_fini(&r->val);
}

static int write_iter(kv_mvcc_reader *r, cm_err *err)
{
    if (r->write_it != NULL) {
        return 0;
    }
    return kv_iter_new(r->snap, KV_CF_WRITE, NULL, &r->write_it, err);
}

int kv_mvcc_load_lock(kv_mvcc_reader *r, cm_slice user_key, kv_lock *lock, cm_err *err)
{
    cm_buf_reset(&r->key);
    if (kv_mvcc_key_lock(&r->key, user_key) != 0) {
        return nomem(err);
    }
    int rc = kv_snapshot_get(r->snap, KV_CF_LOCK, cm_buf_slice(&r->key), &r->lock_val, err);
    if (rc != 0) {
        return rc;
    }
    return kv_lock_decode(cm_buf_slice(&r->lock_val), lock, err);
}

/* Positions the write iterator on the newest version of the user key encoded as enc whose
 * timestamp is <= ts (ts = UINT64_MAX: the newest of all). *found tells whether there is one. */
static int seek_version(kv_mvcc_reader *r, cm_slice enc, uint64_t ts, bool *found, uint64_t *vts,
                        cm_err *err)
{
    int rc = write_iter(r, err);
    if (rc != 0) {
        return rc;
    }
    cm_buf_reset(&r->val);
    if (cm_buf_append_slice(&r->val, enc) || cm_buf_append_u64be(&r->val, ~ts)) {
        return nomem(err);
    }
    kv_iter_seek(r->write_it, cm_buf_slice(&r->val));
    *found = false;
    if (!kv_iter_valid(r->write_it)) {
        return kv_iter_status(r->write_it, err);
    }
    return version_of(kv_iter_key(r->write_it), enc, vts, found, err);
}

/* Steps the write iterator to the next (older) version of the same user key. */
static int next_version(kv_mvcc_reader *r, cm_slice enc, bool *found, uint64_t *vts, cm_err *err)
{
    kv_iter_next(r->write_it);
    *found = false;
    if (!kv_iter_valid(r->write_it)) {
        return kv_iter_status(r->write_it, err);
    }
    return version_of(kv_iter_key(r->write_it), enc, vts, found, err);
}

static int copy_write(cm_arena *arena, const kv_write *in, kv_write *out)
{
    *out = *in;
    return in->has_short_value ? arena_copy(arena, in->short_value, &out->short_value) : 0;
}

int kv_mvcc_newest_write(kv_mvcc_reader *r, cm_slice user_key, cm_arena *arena, uint64_t *commit_ts,
                         kv_write *write, cm_err *err)
{
    cm_buf enc = CM_BUF_INIT;
    if (kv_mvcc_key_lock(&enc, user_key) != 0) {
        return nomem(err);
    }
    bool found = false;
    int rc = seek_version(r, cm_buf_slice(&enc), UINT64_MAX, &found, commit_ts, err);
    if (rc == 0 && !found) {
        rc = CM_E_NOT_FOUND;
    }
    if (rc == 0) {
        kv_write w;
        rc = kv_write_decode(kv_iter_value(r->write_it), &w, err);
        if (rc == 0 && copy_write(arena, &w, write) != 0) {
            rc = nomem(err);
        }
    }
    cm_buf_fini(&enc);
    return rc;
}

int kv_mvcc_txn_record(kv_mvcc_reader *r, cm_slice user_key, uint64_t start_ts, cm_arena *arena,
                       kv_commit_state *state, uint64_t *commit_ts, bool *at_start,
                       kv_write *at_start_rec, cm_err *err)
{
    *state = KV_TXN_NO_RECORD;
    *commit_ts = 0;
    *at_start = false;
    memset(at_start_rec, 0, sizeof(*at_start_rec));
    cm_buf enc = CM_BUF_INIT;
    if (kv_mvcc_key_lock(&enc, user_key) != 0) {
        return nomem(err);
    }
    cm_slice e = cm_buf_slice(&enc);
    bool found = false;
    uint64_t cts = 0;
    /* Newest first, down to the versions at start_ts: the commit of start_ts, if any, has a
     * commit_ts above it; its rollback sits exactly at it. */
    int rc = seek_version(r, e, UINT64_MAX, &found, &cts, err);
    while (rc == 0 && found && cts >= start_ts) {
        kv_write w;
        rc = kv_write_decode(kv_iter_value(r->write_it), &w, err);
        if (rc != 0) {
            break;
        }
        if (cts == start_ts) {
            *at_start = true;
            if (copy_write(arena, &w, at_start_rec) != 0) {
                rc = nomem(err);
                break;
            }
        }
        if (w.start_ts == start_ts) {
            *state = w.kind == KV_WRITE_ROLLBACK ? KV_TXN_ROLLED_BACK : KV_TXN_COMMITTED;
            *commit_ts = w.kind == KV_WRITE_ROLLBACK ? 0 : cts;
            break;
        }
        if (cts == start_ts && w.overlapped_rollback) {
            *state = KV_TXN_ROLLED_BACK;
            break;
        }
        rc = next_version(r, e, &found, &cts, err);
    }
    cm_buf_fini(&enc);
    return rc;
}

/* Reads the value visible at ts of the user key encoded as enc, ignoring locks. *found false:
 * no value (never written, or deleted). Value bytes go to arena unless key_only. */
/* The value of a committed put w of user_key: its short value, or the default CF's record at
 * its start_ts (in arena; empty with key_only). */
static int put_value(kv_mvcc_reader *r, cm_slice user_key, const kv_write *w, bool key_only,
                     cm_arena *arena, cm_slice *value, cm_err *err)
{
    if (key_only) {
        return 0;
    }
    if (w->has_short_value) {
        return arena_copy(arena, w->short_value, value) ? nomem(err) : 0;
    }
    cm_buf_reset(&r->key);
    if (kv_mvcc_key_ts(&r->key, user_key, w->start_ts) != 0) {
        return nomem(err);
    }
    int rc = kv_snapshot_get(r->snap, KV_CF_DEFAULT, cm_buf_slice(&r->key), &r->val, err);
    if (rc == CM_E_NOT_FOUND) {
        return cm_err_set(err, CM_E_CORRUPT,
                          "mvcc: the value of a committed put (start_ts %llu) is missing",
                          (unsigned long long)w->start_ts);
    }
    if (rc != 0) {
        return rc;
    }
    return arena_copy(arena, cm_buf_slice(&r->val), value) ? nomem(err) : 0;
}

static int read_visible(kv_mvcc_reader *r, cm_slice user_key, cm_slice enc, uint64_t ts,
                        bool key_only, cm_arena *arena, bool *found, cm_slice *value, cm_err *err)
{
    *found = false;
    *value = cm_slice_make("", 0);
    bool have = false;
    uint64_t cts = 0;
    int rc = seek_version(r, enc, ts, &have, &cts, err);
    while (rc == 0 && have) {
        kv_write w;
        rc = kv_write_decode(kv_iter_value(r->write_it), &w, err);
        if (rc != 0) {
            return rc;
        }
        if (w.kind == KV_WRITE_DELETE) {
            return 0;
        }
        if (w.kind == KV_WRITE_PUT) {
            *found = true;
            return put_value(r, user_key, &w, key_only, arena, value, err);
        }
        rc = next_version(r, enc, &have, &cts, err); /* Lock and Rollback: look further back */
    }
    return rc;
}

/* ---- Get / BatchGet -------------------------------------------------------------------------- */

static int get_one(kv_mvcc_reader *r, cm_slice key, uint64_t ts, cm_arena *arena, cm_slice *value,
                   kv_lock_info *lock, cm_err *err)
{
    int rc = kv_mvcc_check_key(key, err);
    if (rc != 0) {
        return rc;
    }
    kv_lock l;
    rc = kv_mvcc_load_lock(r, key, &l, err);
    if (rc == 0 && lock_blocks_read(&l, ts)) {
        if (kv_mvcc_lock_info(arena, key, &l, lock) != 0) {
            return nomem(err);
        }
        return cm_err_set(err, CM_E_KEY_IS_LOCKED, "key is locked by start_ts %llu",
                          (unsigned long long)l.start_ts);
    }
    if (rc != 0 && rc != CM_E_NOT_FOUND) {
        return rc;
    }
    cm_buf enc = CM_BUF_INIT;
    if (kv_mvcc_key_lock(&enc, key) != 0) {
        return nomem(err);
    }
    bool found = false;
    rc = read_visible(r, key, cm_buf_slice(&enc), ts, false, arena, &found, value, err);
    cm_buf_fini(&enc);
    if (rc == 0 && !found) {
        rc = CM_E_NOT_FOUND;
    }
    return rc;
}

int kv_mvcc_get(kv_snapshot *snap, cm_slice key, uint64_t ts, cm_arena *arena, cm_slice *value,
                kv_lock_info *lock, cm_err *err)
{
    if (ts == 0) {
        return cm_err_set(err, CM_E_INVALID, "mvcc get: timestamp 0");
    }
    kv_mvcc_reader r;
    kv_mvcc_reader_init(&r, snap);
    int rc = get_one(&r, key, ts, arena, value, lock, err);
    kv_mvcc_reader_fini(&r);
    return rc;
}

int kv_mvcc_batch_get(kv_snapshot *snap, const cm_slice *keys, size_t n, uint64_t ts,
                      cm_arena *arena, kv_read_result *out, cm_err *err)
{
    memset(out, 0, sizeof(*out));
    if (ts == 0) {
        return cm_err_set(err, CM_E_INVALID, "mvcc batch get: timestamp 0");
    }
    if (n == 0) {
        return 0;
    }
    out->pairs = cm_arena_alloc(arena, n * sizeof(kv_pair));
    out->locks =
        cm_arena_alloc(arena, (n < KV_TXN_LOCKS_MAX ? n : KV_TXN_LOCKS_MAX) * sizeof(kv_lock_info));
    if (out->pairs == NULL || out->locks == NULL) {
        return nomem(err);
    }
    kv_mvcc_reader r;
    kv_mvcc_reader_init(&r, snap);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        cm_slice v;
        kv_lock_info li;
        rc = get_one(&r, keys[i], ts, arena, &v, &li, err);
        if (rc == 0) {
            out->pairs[out->npairs].key = keys[i];
            if (arena_copy(arena, keys[i], &out->pairs[out->npairs].key) != 0) {
                rc = nomem(err);
            }
            out->pairs[out->npairs++].value = v;
        } else if (rc == CM_E_NOT_FOUND) {
            rc = 0;
        } else if (rc == CM_E_KEY_IS_LOCKED && out->nlocks < KV_TXN_LOCKS_MAX) {
            out->locks[out->nlocks++] = li;
            rc = 0;
        } else if (rc == CM_E_KEY_IS_LOCKED) {
            rc = 0; /* reported enough locks for one round of resolving */
        }
    }
    kv_mvcc_reader_fini(&r);
    if (rc == 0 && out->nlocks > 0) {
        rc = cm_err_set(err, CM_E_KEY_IS_LOCKED, "%zu of %zu keys are locked", out->nlocks, n);
    }
    return rc;
}

/* ---- Scan ------------------------------------------------------------------------------------ */

/* A scan walks the lock CF and the write CF side by side, one user key at a time. wit only
 * steps from user key to user key; the reader's own iterator looks up the visible version. */
typedef struct scan_state {
    const kv_scan_req *req;
    kv_mvcc_reader r;
    kv_iter *lock_it;
    kv_iter *wit;
    cm_buf lo, hi;  /* encoded bounds */
    cm_buf cur;     /* encoded user key being looked at */
    cm_buf ukey;    /* its decoded user key */
    cm_buf seek;    /* scratch */
    kv_pair *pairs; /* growable, in arena */
    size_t cap;
} scan_state;

static int push_pair(scan_state *s, cm_arena *arena, kv_read_result *out, cm_slice key,
                     cm_slice value)
{
    if (out->npairs == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        kv_pair *p = cm_arena_alloc(arena, cap * sizeof(*p));
        if (p == NULL) {
            return CM_E_NOMEM;
        }
        if (out->npairs) {
            memcpy(p, s->pairs, out->npairs * sizeof(*p));
        }
        s->pairs = p;
        s->cap = cap;
        out->pairs = p;
    }
    kv_pair *p = &s->pairs[out->npairs];
    if (arena_copy(arena, key, &p->key) != 0) {
        return CM_E_NOMEM;
    }
    p->value = value;
    out->npairs++;
    return 0;
}

/* Moves wit off every version of the user key in s->cur: forward to the next user key, or in
 * reverse to the previous one (every version of cur sorts after cur itself). */
static int step_past_versions(scan_state *s, cm_err *err)
{
    if (s->req->reverse) {
        kv_iter_seek_for_prev(s->wit, cm_buf_slice(&s->cur));
        return kv_iter_status(s->wit, err);
    }
    cm_buf_reset(&s->seek);
    if (cm_buf_append_slice(&s->seek, cm_buf_slice(&s->cur)) ||
        cm_buf_append_u64be(&s->seek, UINT64_MAX) /* ^0: the oldest possible version */) {
        return nomem(err);
    }
    kv_iter_seek(s->wit, cm_buf_slice(&s->seek));
    while (kv_iter_valid(s->wit)) {
        uint64_t ts;
        bool match;
        int rc = version_of(kv_iter_key(s->wit), cm_buf_slice(&s->cur), &ts, &match, err);
        if (rc != 0) {
            return rc;
        }
        if (!match) {
            break;
        }
        kv_iter_next(s->wit);
    }
    return kv_iter_status(s->wit, err);
}

/* The key in s->cur: its visible version (when read; seeking with the reader's own iterator),
 * then wit moved past its versions. */
static int scan_visible_then_step(scan_state *s, bool read, cm_arena *arena, kv_read_result *out,
                                  cm_err *err)
{
    if (read) {
        bool found = false;
        cm_slice value;
        int rc = read_visible(&s->r, cm_buf_slice(&s->ukey), cm_buf_slice(&s->cur), s->req->ts,
                              s->req->key_only, arena, &found, &value, err);
        if (rc != 0) {
            return rc;
        }
        if (found && push_pair(s, arena, out, cm_buf_slice(&s->ukey), value) != 0) {
            return nomem(err);
        }
    }
    return step_past_versions(s, err);
}

/* Versions of one user key a forward scan steps through with next() before it seeks past the
 * rest: a key usually has one or two versions, and a next() costs far less than a seek (a scan
 * of fresh rows did two seeks a key before); a key with many old versions still costs one seek. */
#define SCAN_NEXT_STEPS_MAX 8

/* Forward scan, wit on the newest version of s->cur: finds the version visible at the scan's
 * timestamp (unless locked) while stepping past the key's versions. */
static int scan_versions_fwd(scan_state *s, bool locked, cm_arena *arena, kv_read_result *out,
                             cm_err *err)
{
    cm_slice enc = cm_buf_slice(&s->cur);
    bool decided = locked;
    for (int steps = 0; kv_iter_valid(s->wit); steps++) {
        if (steps == SCAN_NEXT_STEPS_MAX) {
            return scan_visible_then_step(s, !decided, arena, out, err);
        }
        uint64_t ts;
        bool match;
        int rc = version_of(kv_iter_key(s->wit), enc, &ts, &match, err);
        if (rc != 0) {
            return rc;
        }
        if (!match) {
            break;
        }
        if (!decided && ts <= s->req->ts) {
            kv_write w;
            rc = kv_write_decode(kv_iter_value(s->wit), &w, err);
            if (rc != 0) {
                return rc;
            }
            if (w.kind == KV_WRITE_DELETE) {
                decided = true;
            } else if (w.kind == KV_WRITE_PUT) {
                decided = true;
                cm_slice value = cm_slice_make("", 0);
                rc = put_value(&s->r, cm_buf_slice(&s->ukey), &w, s->req->key_only, arena, &value,
                               err);
                if (rc != 0) {
                    return rc;
                }
                if (push_pair(s, arena, out, cm_buf_slice(&s->ukey), value) != 0) {
                    return nomem(err);
                }
            } /* Lock and Rollback records: look further back */
        }
        kv_iter_next(s->wit);
    }
    return kv_iter_status(s->wit, err);
}

/* One user key of the scan: its lock (if any) and its visible version. */
static int scan_key(scan_state *s, cm_arena *arena, bool on_lock, bool on_write,
                    kv_read_result *out, cm_err *err)
{
    int rc = decode_user_key(cm_buf_slice(&s->cur), &s->ukey, err);
    if (rc != 0) {
        return rc;
    }
    bool locked = false;
    if (on_lock) {
        kv_lock l;
        rc = kv_lock_decode(kv_iter_value(s->lock_it), &l, err);
        if (rc != 0) {
            return rc;
        }
        if (lock_blocks_read(&l, s->req->ts)) {
            locked = true;
            if (kv_mvcc_lock_info(arena, cm_buf_slice(&s->ukey), &l, &out->locks[out->nlocks]) !=
                0) {
                return nomem(err);
            }
            out->nlocks++;
        }
        if (s->req->reverse) {
            kv_iter_prev(s->lock_it);
        } else {
            kv_iter_next(s->lock_it);
        }
        rc = kv_iter_status(s->lock_it, err);
        if (rc != 0) {
            return rc;
        }
    }
    if (!on_write) {
        return 0;
    }
    if (!s->req->reverse) {
        return scan_versions_fwd(s, locked, arena, out, err);
    }
    return scan_visible_then_step(s, !locked, arena, out, err);
}

/* Page full: where the next page starts. Forward: just after the last key looked at; reverse:
 * that key itself, as the next page's exclusive end. */
static int scan_resume(scan_state *s, cm_arena *arena, kv_read_result *out, cm_err *err)
{
    cm_slice last = cm_buf_slice(&s->ukey);
    size_t n = last.len + (s->req->reverse ? 0 : 1);
    uint8_t *p = cm_arena_alloc(arena, n);
    if (p == NULL) {
        return nomem(err);
    }
    memcpy(p, last.ptr, last.len);
    if (!s->req->reverse) {
        p[last.len] = 0;
    }
    out->more = true;
    out->resume_key = cm_slice_make(p, n);
    return 0;
}

static int scan_run(scan_state *s, cm_arena *arena, kv_read_result *out, cm_err *err)
{
    const kv_scan_req *req = s->req;
    size_t limit =
        req->limit == 0 || req->limit > KV_SCAN_LIMIT_MAX ? KV_SCAN_LIMIT_MAX : req->limit;
    if (req->reverse) {
        kv_iter_seek_to_last(s->lock_it);
        kv_iter_seek_to_last(s->wit);
    } else {
        kv_iter_seek_to_first(s->lock_it);
        kv_iter_seek_to_first(s->wit);
    }
    for (;;) {
        bool lv = kv_iter_valid(s->lock_it), wv = kv_iter_valid(s->wit);
        int rc = kv_iter_status(s->lock_it, err);
        rc = rc ? rc : kv_iter_status(s->wit, err);
        if (rc != 0) {
            return rc;
        }
        if (!lv && !wv) {
            return 0;
        }
        if (out->npairs >= limit || out->nlocks >= KV_TXN_LOCKS_MAX) {
            return scan_resume(s, arena, out, err);
        }
        cm_slice wk = {NULL, 0}, lk = {NULL, 0};
        uint64_t ts;
        if (wv) {
            cm_slice k = kv_iter_key(s->wit);
            rc = k.len == 0 ? cm_err_set(err, CM_E_CORRUPT, "scan: empty key in the write CF")
                            : cm_keys_split_mvcc(k, &wk, &ts, err);
            if (rc != 0) {
                return rc;
            }
        }
        if (lv) {
            lk = kv_iter_key(s->lock_it);
        }
        /* c < 0: the lock's key comes first in scan order; c > 0: the write's; 0: the same. */
        int c;
        if (!lv || !wv) {
            c = !lv ? 1 : -1;
        } else {
            c = cm_slice_cmp(lk, wk);
            c = req->reverse ? -c : c;
        }
        cm_buf_reset(&s->cur);
        if (cm_buf_append_slice(&s->cur, c <= 0 ? lk : wk) != 0) {
            return nomem(err);
        }
        rc = scan_key(s, arena, c <= 0, c >= 0, out, err);
        if (rc != 0) {
            return rc;
        }
    }
}

/* Forward scans in two passes per page. The write CF first: up to limit visible pairs, as if no
 * key were locked. Then the lock CF, bounded by the last key the first pass looked at: locks
 * that block the read are reported and their keys' pairs dropped. One iterator over the lock CF
 * of the whole rest of the range (the single pass reverse scans make) would step over every
 * deleted lock after the page — each committed row leaves one until compaction — on every page,
 * which made a scan quadratic in the rows written since the last compaction. */
static int scan_fwd(scan_state *s, cm_arena *arena, kv_read_result *out, cm_err *err)
{
    const kv_scan_req *req = s->req;
    size_t limit =
        req->limit == 0 || req->limit > KV_SCAN_LIMIT_MAX ? KV_SCAN_LIMIT_MAX : req->limit;
    bool cut = false; /* the write pass stopped at the limit: the page ends at s->cur */
    kv_iter_seek_to_first(s->wit);
    for (;;) {
        int rc = kv_iter_status(s->wit, err);
        if (rc != 0) {
            return rc;
        }
        if (!kv_iter_valid(s->wit)) {
            break;
        }
        if (out->npairs >= limit) {
            cut = true;
            break;
        }
        cm_slice wk;
        uint64_t ts;
        cm_slice k = kv_iter_key(s->wit);
        rc = k.len == 0 ? cm_err_set(err, CM_E_CORRUPT, "scan: empty key in the write CF")
                        : cm_keys_split_mvcc(k, &wk, &ts, err);
        if (rc != 0) {
            return rc;
        }
        cm_buf_reset(&s->cur);
        if (cm_buf_append_slice(&s->cur, wk) != 0) {
            return nomem(err);
        }
        rc = decode_user_key(cm_buf_slice(&s->cur), &s->ukey, err);
        rc = rc ? rc : scan_versions_fwd(s, false, arena, out, err);
        if (rc != 0) {
            return rc;
        }
    }
    /* the lock pass: [lo, just after the last key looked at) when cut, else the whole range */
    cm_buf bound = CM_BUF_INIT;
    if (cut &&
        (cm_buf_append_slice(&bound, cm_buf_slice(&s->cur)) || cm_buf_append_u8(&bound, 0))) {
        cm_buf_fini(&bound);
        return nomem(err);
    }
    kv_iter_opts o = {cm_buf_slice(&s->lo), cut ? cm_buf_slice(&bound) : cm_buf_slice(&s->hi)};
    int rc = kv_iter_new(s->r.snap, KV_CF_LOCK, &o, &s->lock_it, err);
    cm_buf_fini(&bound);
    if (rc != 0) {
        return rc;
    }
    size_t keep = 0, p = 0; /* pairs kept (compacted in place), next pair to look at */
    bool full = false;
    for (kv_iter_seek_to_first(s->lock_it); kv_iter_valid(s->lock_it) && !full;
         kv_iter_next(s->lock_it)) {
        kv_lock l;
        rc = kv_lock_decode(kv_iter_value(s->lock_it), &l, err);
        rc = rc ? rc : decode_user_key(kv_iter_key(s->lock_it), &s->seek, err);
        if (rc != 0) {
            return rc;
        }
        if (!lock_blocks_read(&l, req->ts)) {
            continue;
        }
        cm_slice lk = cm_buf_slice(&s->seek);
        for (; p < out->npairs && cm_slice_cmp(out->pairs[p].key, lk) < 0; p++) {
            out->pairs[keep++] = out->pairs[p];
        }
        if (p < out->npairs && cm_slice_cmp(out->pairs[p].key, lk) == 0) {
            p++; /* locked: not read */
        }
        if (kv_mvcc_lock_info(arena, lk, &l, &out->locks[out->nlocks]) != 0) {
            return nomem(err);
        }
        full = ++out->nlocks >= KV_TXN_LOCKS_MAX;
    }
    rc = kv_iter_status(s->lock_it, err);
    if (rc != 0) {
        return rc;
    }
    if (full) {
        /* as many locks as one page reports: the page ends at the last of them */
        out->npairs = keep;
        cm_buf_reset(&s->ukey);
        if (cm_buf_append_slice(&s->ukey, out->locks[out->nlocks - 1].key) != 0) {
            return nomem(err);
        }
        return scan_resume(s, arena, out, err);
    }
    for (; p < out->npairs; p++) {
        out->pairs[keep++] = out->pairs[p];
    }
    out->npairs = keep;
    return cut ? scan_resume(s, arena, out, err) : 0;
}

int kv_mvcc_scan(kv_snapshot *snap, const kv_scan_req *req, cm_arena *arena, kv_read_result *out,
                 cm_err *err)
{
    memset(out, 0, sizeof(*out));
    if (req->ts == 0) {
        return cm_err_set(err, CM_E_INVALID, "mvcc scan: timestamp 0");
    }
    if (req->start.len > KV_TXN_KEY_BYTES_MAX || req->end.len > KV_TXN_KEY_BYTES_MAX) {
        return cm_err_set(err, CM_E_INVALID, "mvcc scan: bound over the key limit");
    }
    if (req->end.len != 0 && cm_slice_cmp(req->start, req->end) >= 0) {
        return 0;
    }
    scan_state s;
    memset(&s, 0, sizeof(s));
    s.req = req;
    kv_mvcc_reader_init(&s.r, snap);
    int rc = 0;
    out->locks = cm_arena_alloc(arena, KV_TXN_LOCKS_MAX * sizeof(kv_lock_info));
    if (out->locks == NULL) {
        rc = nomem(err);
    }
    if (rc == 0 && ((req->start.len && kv_mvcc_key_lock(&s.lo, req->start)) ||
                    (req->end.len && kv_mvcc_key_lock(&s.hi, req->end)))) {
        rc = nomem(err);
    }
    kv_iter_opts o = {cm_buf_slice(&s.lo), cm_buf_slice(&s.hi)};
    if (rc == 0 && req->reverse) {
        rc = kv_iter_new(snap, KV_CF_LOCK, &o, &s.lock_it, err);
    }
    if (rc == 0) {
        rc = kv_iter_new(snap, KV_CF_WRITE, &o, &s.wit, err);
    }
    if (rc == 0) {
        rc = req->reverse ? scan_run(&s, arena, out, err) : scan_fwd(&s, arena, out, err);
    }
    if (rc == 0 && out->nlocks > 0) {
        rc = cm_err_set(err, CM_E_KEY_IS_LOCKED, "scan met %zu locks", out->nlocks);
    }
    kv_iter_free(s.lock_it);
    kv_iter_free(s.wit);
    kv_mvcc_reader_fini(&s.r);
    cm_buf_fini(&s.lo);
    cm_buf_fini(&s.hi);
    cm_buf_fini(&s.cur);
    cm_buf_fini(&s.ukey);
    cm_buf_fini(&s.seek);
    return rc;
}
