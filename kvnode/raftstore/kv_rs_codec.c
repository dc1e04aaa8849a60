/* kv_rs_codec.c — persistent formats of the raftstore (kv_rs_codec.h). */
#include "kv_rs_codec.h"

#include <string.h>

#define STATE_VERSION 1
#define CMD_VERSION   1
#define SNAP_VERSION  1

static void put_u64be(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_u64be(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

void kv_rs_key_store_ident(cm_buf *out)
{
    cm_buf_reset(out);
    (void)cm_buf_append_u8(out, KV_RS_KEY_STORE_IDENT);
    (void)cm_buf_append_u8(out, 'i');
}

void kv_rs_key_meta(uint64_t region_id, uint8_t suffix, uint8_t out[KV_RS_META_KEY_LEN])
{
    out[0] = KV_RS_KEY_REGION_META;
    put_u64be(out + 1, region_id);
    out[9] = suffix;
}

void kv_rs_key_log(uint64_t region_id, uint64_t index, uint8_t out[KV_RS_LOG_KEY_LEN])
{
    out[0] = KV_RS_KEY_LOG;
    put_u64be(out + 1, region_id);
    put_u64be(out + 9, index);
}

int kv_rs_key_parse(cm_slice key, uint8_t *kind, uint64_t *region_id, uint8_t *suffix,
                    uint64_t *index)
{
    if (key.len == KV_RS_META_KEY_LEN && key.ptr[0] == KV_RS_KEY_REGION_META) {
        *kind = KV_RS_KEY_REGION_META;
        *region_id = get_u64be(key.ptr + 1);
        *suffix = key.ptr[9];
        return 0;
    }
    if (key.len == KV_RS_LOG_KEY_LEN && key.ptr[0] == KV_RS_KEY_LOG) {
        *kind = KV_RS_KEY_LOG;
        *region_id = get_u64be(key.ptr + 1);
        *index = get_u64be(key.ptr + 9);
        return 0;
    }
    if (key.len == 2 && key.ptr[0] == KV_RS_KEY_STORE_IDENT && key.ptr[1] == 'i') {
        *kind = KV_RS_KEY_STORE_IDENT;
        return 0;
    }
    return CM_E_CORRUPT;
}

/* ---- region local state ------------------------------------------------------------------ */

void kv_rs_region_state_init(kv_rs_region_state *s)
{
    memset(s, 0, sizeof(*s));
    kv_region_init(&s->region);
}

void kv_rs_region_state_fini(kv_rs_region_state *s)
{
    kv_region_fini(&s->region);
}

int kv_rs_region_state_encode(const kv_rs_region_state *s, cm_buf *out)
{
    int rc = cm_buf_append_u8(out, STATE_VERSION);
    rc = rc ? rc : cm_buf_append_u8(out, s->state);
    rc = rc ? rc : cm_buf_append_uvarint(out, s->peer_id);
    rc = rc ? rc : kv_region_encode(&s->region, out);
    rc = rc ? rc : cm_buf_append_u8(out, s->n_pending);
    for (size_t i = 0; rc == 0 && i < s->n_pending; i++) {
        const kv_peer *p = &s->pending[i].peer;
        rc = cm_buf_append_uvarint(out, p->id);
        rc = rc ? rc : cm_buf_append_uvarint(out, p->store_id);
        rc = rc ? rc : cm_buf_append_u8(out, p->role);
    }
    return rc;
}

static int region_state_read(cm_reader *rd, kv_rs_region_state *s, cm_err *err)
{
    uint8_t ver, state, n;
    uint64_t peer_id;
    if (cm_reader_u8(rd, &ver) != 0 || cm_reader_u8(rd, &state) != 0 ||
        cm_reader_uvarint(rd, &peer_id) != 0) {
        return cm_err_set(err, CM_E_CORRUPT, "region state: truncated");
    }
    if (ver != STATE_VERSION || state > KV_RS_PEER_TOMBSTONE || peer_id == 0) {
        return cm_err_set(err, CM_E_CORRUPT, "region state: bad header");
    }
    int rc = kv_region_decode(rd, &s->region, err);
    if (rc != 0) {
        return rc;
    }
    if (cm_reader_u8(rd, &n) != 0 || n > KV_RS_PENDING_PEERS_MAX) {
        return cm_err_set(err, CM_E_CORRUPT, "region state: pending peers");
    }
    for (size_t i = 0; i < n; i++) {
        kv_peer *p = &s->pending[i].peer;
        if (cm_reader_uvarint(rd, &p->id) != 0 || cm_reader_uvarint(rd, &p->store_id) != 0 ||
            cm_reader_u8(rd, &p->role) != 0 || p->id == 0 || p->store_id == 0 ||
            p->role > KV_PEER_LEARNER) {
            return cm_err_set(err, CM_E_CORRUPT, "region state: bad pending peer");
        }
    }
    s->state = state;
    s->peer_id = peer_id;
    s->n_pending = n;
    return 0;
}

int kv_rs_region_state_decode(cm_slice v, kv_rs_region_state *s, cm_err *err)
{
    cm_reader rd;
    cm_reader_init(&rd, v.ptr, v.len);
    int rc = region_state_read(&rd, s, err);
    if (rc == 0 && cm_reader_left(&rd) != 0) {
        rc = cm_err_set(err, CM_E_CORRUPT, "region state: trailing bytes");
    }
    return rc;
}

/* ---- raft and apply states ---------------------------------------------------------------- */

static int conf_encode(const cm_raft_conf *c, cm_buf *out)
{
    int rc = cm_buf_append_u8(out, c->n_voters);
    for (size_t i = 0; rc == 0 && i < c->n_voters; i++) {
        rc = cm_buf_append_uvarint(out, c->voters[i]);
    }
    rc = rc ? rc : cm_buf_append_u8(out, c->n_learners);
    for (size_t i = 0; rc == 0 && i < c->n_learners; i++) {
        rc = cm_buf_append_uvarint(out, c->learners[i]);
    }
    return rc;
}

static int conf_decode(cm_reader *rd, cm_raft_conf *c)
{
    memset(c, 0, sizeof(*c));
    if (cm_reader_u8(rd, &c->n_voters) != 0 || c->n_voters > CM_RAFT_MEMBERS_MAX) {
        return CM_E_CORRUPT;
    }
    for (size_t i = 0; i < c->n_voters; i++) {
        if (cm_reader_uvarint(rd, &c->voters[i]) != 0 || c->voters[i] == 0) {
            return CM_E_CORRUPT;
        }
    }
    if (cm_reader_u8(rd, &c->n_learners) != 0 ||
        c->n_learners + c->n_voters > CM_RAFT_MEMBERS_MAX) {
        return CM_E_CORRUPT;
    }
    for (size_t i = 0; i < c->n_learners; i++) {
        if (cm_reader_uvarint(rd, &c->learners[i]) != 0 || c->learners[i] == 0) {
            return CM_E_CORRUPT;
        }
    }
    return 0;
}

int kv_rs_raft_state_encode(const kv_rs_raft_state *s, cm_buf *out)
{
    int rc = cm_buf_append_u8(out, STATE_VERSION);
    rc = rc ? rc : cm_buf_append_uvarint(out, s->hs.term);
    rc = rc ? rc : cm_buf_append_uvarint(out, s->hs.vote);
    rc = rc ? rc : cm_buf_append_uvarint(out, s->hs.commit);
    rc = rc ? rc : cm_buf_append_uvarint(out, s->trunc_index);
    rc = rc ? rc : cm_buf_append_uvarint(out, s->trunc_term);
    rc = rc ? rc : conf_encode(&s->trunc_conf, out);
    return rc;
}

int kv_rs_raft_state_decode(cm_slice v, kv_rs_raft_state *s, cm_err *err)
{
    cm_reader rd;
    cm_reader_init(&rd, v.ptr, v.len);
    uint8_t ver;
    if (cm_reader_u8(&rd, &ver) != 0 || ver != STATE_VERSION ||
        cm_reader_uvarint(&rd, &s->hs.term) != 0 || cm_reader_uvarint(&rd, &s->hs.vote) != 0 ||
        cm_reader_uvarint(&rd, &s->hs.commit) != 0 ||
        cm_reader_uvarint(&rd, &s->trunc_index) != 0 ||
        cm_reader_uvarint(&rd, &s->trunc_term) != 0 || conf_decode(&rd, &s->trunc_conf) != 0 ||
        cm_reader_left(&rd) != 0) {
        return cm_err_set(err, CM_E_CORRUPT, "raft state: malformed");
    }
    if (s->trunc_term > s->hs.term && s->hs.term != 0) {
        return cm_err_set(err, CM_E_CORRUPT, "raft state: truncated term above the term");
    }
    return 0;
}

int kv_rs_apply_state_encode(const kv_rs_apply_state *s, cm_buf *out)
{
    int rc = cm_buf_append_u8(out, STATE_VERSION);
    rc = rc ? rc : cm_buf_append_uvarint(out, s->applied_index);
    rc = rc ? rc : cm_buf_append_uvarint(out, s->applied_term);
    return rc;
}

int kv_rs_apply_state_decode(cm_slice v, kv_rs_apply_state *s, cm_err *err)
{
    cm_reader rd;
    cm_reader_init(&rd, v.ptr, v.len);
    uint8_t ver;
    if (cm_reader_u8(&rd, &ver) != 0 || ver != STATE_VERSION ||
        cm_reader_uvarint(&rd, &s->applied_index) != 0 ||
        cm_reader_uvarint(&rd, &s->applied_term) != 0 || cm_reader_left(&rd) != 0) {
        return cm_err_set(err, CM_E_CORRUPT, "apply state: malformed");
    }
    return 0;
}

int kv_rs_entry_encode(const cm_raft_entry *e, cm_buf *out)
{
    int rc = cm_buf_append_u8(out, e->type);
    rc = rc ? rc : cm_buf_append_uvarint(out, e->term);
    rc = rc ? rc : cm_buf_append_slice(out, e->data);
    return rc;
}

int kv_rs_entry_decode(cm_slice v, uint64_t index, cm_raft_entry *e, cm_err *err)
{
    cm_reader rd;
    cm_reader_init(&rd, v.ptr, v.len);
    uint8_t type;
    uint64_t term;
    if (cm_reader_u8(&rd, &type) != 0 || cm_reader_uvarint(&rd, &term) != 0 ||
        type > CM_RAFT_ENTRY_CONF || term == 0) {
        return cm_err_set(err, CM_E_CORRUPT, "log entry %llu: malformed",
                          (unsigned long long)index);
    }
    e->type = type;
    e->term = term;
    e->index = index;
    e->data = cm_slice_make(rd.ptr + rd.pos, cm_reader_left(&rd));
    return 0;
}

/* ---- commands ------------------------------------------------------------------------------ */

int kv_rs_cmd_encode(const kv_rs_cmd *c, cm_buf *out)
{
    int rc = cm_buf_append_u8(out, CMD_VERSION);
    rc = rc ? rc : cm_buf_append_u8(out, c->kind);
    rc = rc ? rc : cm_buf_append_uvarint(out, c->epoch.conf_ver);
    rc = rc ? rc : cm_buf_append_uvarint(out, c->epoch.version);
    if (rc != 0) {
        return rc;
    }
    switch (c->kind) {
    case KV_RS_CMD_WRITE:
        return cm_buf_append_slice(out, c->batch);
    case KV_RS_CMD_SPLIT:
        rc = cm_buf_append_uvarint(out, c->split_key.len);
        rc = rc ? rc : cm_buf_append_slice(out, c->split_key);
        rc = rc ? rc : cm_buf_append_uvarint(out, c->new_region_id);
        rc = rc ? rc : cm_buf_append_u8(out, c->n_new_peers);
        for (size_t i = 0; rc == 0 && i < c->n_new_peers; i++) {
            rc = cm_buf_append_uvarint(out, c->new_peer_ids[i]);
        }
        return rc;
    case KV_RS_CMD_PREPARE_PEER:
        rc = cm_buf_append_uvarint(out, c->peer.id);
        rc = rc ? rc : cm_buf_append_uvarint(out, c->peer.store_id);
        rc = rc ? rc : cm_buf_append_u8(out, c->peer.role);
        return rc;
    default:
        return CM_E_INVALID;
    }
}

int kv_rs_cmd_decode(cm_slice data, kv_rs_cmd *c, cm_err *err)
{
    memset(c, 0, sizeof(*c));
    cm_reader rd;
    cm_reader_init(&rd, data.ptr, data.len);
    uint8_t ver;
    if (cm_reader_u8(&rd, &ver) != 0 || cm_reader_u8(&rd, &c->kind) != 0 ||
        cm_reader_uvarint(&rd, &c->epoch.conf_ver) != 0 ||
        cm_reader_uvarint(&rd, &c->epoch.version) != 0) {
        return cm_err_set(err, CM_E_CORRUPT, "command: truncated header");
    }
    if (ver != CMD_VERSION) {
        return cm_err_set(err, CM_E_CORRUPT, "command: unknown version %u", ver);
    }
    switch (c->kind) {
    case KV_RS_CMD_WRITE:
        c->batch = cm_slice_make(rd.ptr + rd.pos, cm_reader_left(&rd));
        return 0;
    case KV_RS_CMD_SPLIT: {
        uint64_t n;
        if (cm_reader_uvarint(&rd, &n) != 0 || n == 0 || n > KV_KEY_BYTES_MAX ||
            cm_reader_bytes(&rd, (size_t)n, &c->split_key) != 0 ||
            cm_reader_uvarint(&rd, &c->new_region_id) != 0 || c->new_region_id == 0 ||
            cm_reader_u8(&rd, &c->n_new_peers) != 0 || c->n_new_peers == 0 ||
            c->n_new_peers > KV_REGION_PEERS_MAX) {
            return cm_err_set(err, CM_E_CORRUPT, "split command: malformed");
        }
        for (size_t i = 0; i < c->n_new_peers; i++) {
            if (cm_reader_uvarint(&rd, &c->new_peer_ids[i]) != 0 || c->new_peer_ids[i] == 0) {
                return cm_err_set(err, CM_E_CORRUPT, "split command: bad peer id");
            }
        }
        break;
    }
    case KV_RS_CMD_PREPARE_PEER:
        if (cm_reader_uvarint(&rd, &c->peer.id) != 0 ||
            cm_reader_uvarint(&rd, &c->peer.store_id) != 0 ||
            cm_reader_u8(&rd, &c->peer.role) != 0 || c->peer.id == 0 || c->peer.store_id == 0 ||
            c->peer.role > KV_PEER_LEARNER) {
            return cm_err_set(err, CM_E_CORRUPT, "prepare-peer command: malformed");
        }
        break;
    default:
        return cm_err_set(err, CM_E_CORRUPT, "command: unknown kind %u", c->kind);
    }
    if (cm_reader_left(&rd) != 0) {
        return cm_err_set(err, CM_E_CORRUPT, "command: trailing bytes");
    }
    return 0;
}

/* ---- snapshot payload ---------------------------------------------------------------------- */

int kv_rs_snap_begin(const kv_rs_region_state *st, cm_buf *out)
{
    cm_buf tmp = CM_BUF_INIT;
    int rc = kv_rs_region_state_encode(st, &tmp);
    rc = rc ? rc : cm_buf_append_u8(out, SNAP_VERSION);
    rc = rc ? rc : cm_buf_append_uvarint(out, tmp.len);
    rc = rc ? rc : cm_buf_append(out, tmp.ptr, tmp.len);
    cm_buf_fini(&tmp);
    return rc;
}

int kv_rs_snap_add(cm_buf *out, kv_cf cf, cm_slice key, cm_slice value)
{
    int rc = cm_buf_append_u8(out, (uint8_t)cf);
    rc = rc ? rc : cm_buf_append_uvarint(out, key.len);
    rc = rc ? rc : cm_buf_append_slice(out, key);
    rc = rc ? rc : cm_buf_append_uvarint(out, value.len);
    rc = rc ? rc : cm_buf_append_slice(out, value);
    return rc;
}

int kv_rs_snap_finish(cm_buf *out)
{
    return cm_buf_append_u8(out, KV_RS_SNAP_END);
}

int kv_rs_snap_open(kv_rs_snap_reader *sr, cm_slice data, kv_rs_region_state *st, cm_err *err)
{
    cm_reader_init(&sr->rd, data.ptr, data.len);
    sr->last_cf = -1;
    sr->last_key = cm_slice_make(NULL, 0);
    uint8_t ver;
    uint64_t n;
    cm_slice hdr;
    if (cm_reader_u8(&sr->rd, &ver) != 0 || ver != SNAP_VERSION ||
        cm_reader_uvarint(&sr->rd, &n) != 0 || n > cm_reader_left(&sr->rd) ||
        cm_reader_bytes(&sr->rd, (size_t)n, &hdr) != 0) {
        return cm_err_set(err, CM_E_CORRUPT, "snapshot: bad header");
    }
    return kv_rs_region_state_decode(hdr, st, err);
}

int kv_rs_snap_next(kv_rs_snap_reader *sr, const kv_region *region, kv_cf *cf, cm_slice *key,
                    cm_slice *value, cm_err *err)
{
    uint8_t c;
    if (cm_reader_u8(&sr->rd, &c) != 0) {
        return cm_err_set(err, CM_E_CORRUPT, "snapshot: missing end marker");
    }
    if (c == KV_RS_SNAP_END) {
        if (cm_reader_left(&sr->rd) != 0) {
            return cm_err_set(err, CM_E_CORRUPT, "snapshot: trailing bytes");
        }
        return 0;
    }
    if (c >= KV_CF_COUNT || c == KV_CF_RAFT) {
        return cm_err_set(err, CM_E_CORRUPT, "snapshot: bad column family %u", c);
    }
    uint64_t kn, vn;
    if (cm_reader_uvarint(&sr->rd, &kn) != 0 || kn > KV_KEY_BYTES_MAX ||
        cm_reader_bytes(&sr->rd, (size_t)kn, key) != 0 || cm_reader_uvarint(&sr->rd, &vn) != 0 ||
        vn > KV_VALUE_BYTES_MAX || cm_reader_bytes(&sr->rd, (size_t)vn, value) != 0) {
        return cm_err_set(err, CM_E_CORRUPT, "snapshot: truncated record");
    }
    if (!kv_region_contains(region, *key)) {
        return cm_err_set(err, CM_E_CORRUPT, "snapshot: key outside the region");
    }
    if (sr->last_cf > (int)c || (sr->last_cf == (int)c && cm_slice_cmp(sr->last_key, *key) >= 0)) {
        return cm_err_set(err, CM_E_CORRUPT, "snapshot: records out of order");
    }
    sr->last_cf = c;
    sr->last_key = *key;
    *cf = (kv_cf)c;
    return 1;
}
