/* kv_region.c — region metadata helpers and their compact encoding (kv_region.h). */
#include "kv_region.h"

#include "kv_batch.h"

#include <string.h>

#define REGION_WIRE_VERSION 1

void kv_region_init(kv_region *r)
{
    memset(r, 0, sizeof(*r));
    cm_buf_init(&r->start_key);
    cm_buf_init(&r->end_key);
}

void kv_region_fini(kv_region *r)
{
    cm_buf_fini(&r->start_key);
    cm_buf_fini(&r->end_key);
    memset(r, 0, sizeof(*r));
}

int kv_region_set_range(kv_region *r, cm_slice start, cm_slice end)
{
    cm_buf s = CM_BUF_INIT, e = CM_BUF_INIT;
    if (cm_buf_append_slice(&s, start) != 0 || cm_buf_append_slice(&e, end) != 0) {
        cm_buf_fini(&s);
        cm_buf_fini(&e);
        return CM_E_NOMEM;
    }
    cm_buf_fini(&r->start_key);
    cm_buf_fini(&r->end_key);
    r->start_key = s;
    r->end_key = e;
    return 0;
}

int kv_region_copy(kv_region *dst, const kv_region *src)
{
    if (dst == src) {
        return 0;
    }
    int rc = kv_region_set_range(dst, kv_region_start(src), kv_region_end(src));
    if (rc != 0) {
        return rc;
    }
    dst->id = src->id;
    dst->epoch = src->epoch;
    dst->n_peers = src->n_peers;
    memcpy(dst->peers, src->peers, sizeof(dst->peers));
    return 0;
}

bool kv_range_contains(cm_slice start, cm_slice end, cm_slice key)
{
    if (cm_slice_cmp(key, start) < 0) {
        return false;
    }
    return end.len == 0 || cm_slice_cmp(key, end) < 0;
}

bool kv_range_overlaps(cm_slice s1, cm_slice e1, cm_slice s2, cm_slice e2)
{
    /* [s1,e1) and [s2,e2) overlap iff s1 < e2 and s2 < e1 (an empty end is +infinity). */
    bool a = e2.len == 0 || cm_slice_cmp(s1, e2) < 0;
    bool b = e1.len == 0 || cm_slice_cmp(s2, e1) < 0;
    return a && b;
}

bool kv_region_contains(const kv_region *r, cm_slice key)
{
    return kv_range_contains(kv_region_start(r), kv_region_end(r), key);
}

const kv_peer *kv_region_peer(const kv_region *r, uint64_t peer_id)
{
    for (size_t i = 0; i < r->n_peers; i++) {
        if (r->peers[i].id == peer_id) {
            return &r->peers[i];
        }
    }
    return NULL;
}

const kv_peer *kv_region_peer_on_store(const kv_region *r, uint64_t store_id)
{
    for (size_t i = 0; i < r->n_peers; i++) {
        if (r->peers[i].store_id == store_id) {
            return &r->peers[i];
        }
    }
    return NULL;
}

int kv_region_add_peer(kv_region *r, const kv_peer *p)
{
    if (kv_region_peer(r, p->id) != NULL || kv_region_peer_on_store(r, p->store_id) != NULL) {
        return CM_E_EXISTS;
    }
    if (r->n_peers >= KV_REGION_PEERS_MAX) {
        return CM_E_TOO_LARGE;
    }
    r->peers[r->n_peers++] = *p;
    return 0;
}

bool kv_region_remove_peer(kv_region *r, uint64_t peer_id)
{
    for (size_t i = 0; i < r->n_peers; i++) {
        if (r->peers[i].id == peer_id) {
            /* Keep the order of the others: replicas derive split peer ids by position. */
            memmove(&r->peers[i], &r->peers[i + 1], (r->n_peers - i - 1) * sizeof(r->peers[0]));
            r->n_peers--;
            return true;
        }
    }
    return false;
}

void kv_region_conf(const kv_region *r, cm_raft_conf *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < r->n_peers; i++) {
        if (r->peers[i].role == KV_PEER_LEARNER) {
            out->learners[out->n_learners++] = r->peers[i].id;
        } else {
            out->voters[out->n_voters++] = r->peers[i].id;
        }
    }
}

static int put_bytes(cm_buf *out, cm_slice s)
{
    int rc = cm_buf_append_uvarint(out, s.len);
    return rc != 0 ? rc : cm_buf_append_slice(out, s);
}

int kv_region_encode(const kv_region *r, cm_buf *out)
{
    int rc = cm_buf_append_u8(out, REGION_WIRE_VERSION);
    rc = rc ? rc : cm_buf_append_uvarint(out, r->id);
    rc = rc ? rc : put_bytes(out, kv_region_start(r));
    rc = rc ? rc : put_bytes(out, kv_region_end(r));
    rc = rc ? rc : cm_buf_append_uvarint(out, r->epoch.conf_ver);
    rc = rc ? rc : cm_buf_append_uvarint(out, r->epoch.version);
    rc = rc ? rc : cm_buf_append_u8(out, r->n_peers);
    for (size_t i = 0; rc == 0 && i < r->n_peers; i++) {
        rc = cm_buf_append_uvarint(out, r->peers[i].id);
        rc = rc ? rc : cm_buf_append_uvarint(out, r->peers[i].store_id);
        rc = rc ? rc : cm_buf_append_u8(out, r->peers[i].role);
    }
    return rc;
}

static int get_bytes(cm_reader *rd, cm_slice *out)
{
    uint64_t n;
    if (cm_reader_uvarint(rd, &n) != 0 || n > KV_KEY_BYTES_MAX || n > cm_reader_left(rd)) {
        return CM_E_CORRUPT;
    }
    return cm_reader_bytes(rd, (size_t)n, out);
}

int kv_region_decode(cm_reader *rd, kv_region *r, cm_err *err)
{
    uint8_t ver, n;
    uint64_t id, conf_ver, version;
    cm_slice start, end;
    if (cm_reader_u8(rd, &ver) != 0 || cm_reader_uvarint(rd, &id) != 0 ||
        get_bytes(rd, &start) != 0 || get_bytes(rd, &end) != 0 ||
        cm_reader_uvarint(rd, &conf_ver) != 0 || cm_reader_uvarint(rd, &version) != 0 ||
        cm_reader_u8(rd, &n) != 0) {
        return cm_err_set(err, CM_E_CORRUPT, "region: truncated");
    }
    if (ver != REGION_WIRE_VERSION) {
        return cm_err_set(err, CM_E_CORRUPT, "region: unknown version %u", ver);
    }
    if (n > KV_REGION_PEERS_MAX) {
        return cm_err_set(err, CM_E_CORRUPT, "region: %u peers", n);
    }
    if (end.len > 0 && cm_slice_cmp(start, end) >= 0) {
        return cm_err_set(err, CM_E_CORRUPT, "region: start >= end");
    }
    kv_peer peers[KV_REGION_PEERS_MAX];
    for (size_t i = 0; i < n; i++) {
        uint64_t pid, sid;
        uint8_t role;
        if (cm_reader_uvarint(rd, &pid) != 0 || cm_reader_uvarint(rd, &sid) != 0 ||
            cm_reader_u8(rd, &role) != 0) {
            return cm_err_set(err, CM_E_CORRUPT, "region: truncated peer");
        }
        if (pid == 0 || sid == 0 || role > KV_PEER_LEARNER) {
            return cm_err_set(err, CM_E_CORRUPT, "region: bad peer");
        }
        for (size_t j = 0; j < i; j++) {
            if (peers[j].id == pid || peers[j].store_id == sid) {
                return cm_err_set(err, CM_E_CORRUPT, "region: duplicate peer or store");
            }
        }
        peers[i].id = pid;
        peers[i].store_id = sid;
        peers[i].role = role;
    }
    if (kv_region_set_range(r, start, end) != 0) {
        return cm_err_set(err, CM_E_NOMEM, "region: out of memory");
    }
    r->id = id;
    r->epoch.conf_ver = conf_ver;
    r->epoch.version = version;
    r->n_peers = n;
    memset(r->peers, 0, sizeof(r->peers));
    memcpy(r->peers, peers, n * sizeof(peers[0]));
    return 0;
}

static void hex(cm_buf *out, cm_slice s)
{
    size_t n = s.len > 16 ? 16 : s.len;
    for (size_t i = 0; i < n; i++) {
        cm_buf_printf(out, "%02x", s.ptr[i]);
    }
    if (n < s.len) {
        cm_buf_printf(out, "..");
    }
}

void kv_region_describe(const kv_region *r, cm_buf *out)
{
    cm_buf_printf(out, "id=%llu [", (unsigned long long)r->id);
    hex(out, kv_region_start(r));
    cm_buf_printf(out, ", ");
    if (r->end_key.len == 0) {
        cm_buf_printf(out, "+inf");
    } else {
        hex(out, kv_region_end(r));
    }
    cm_buf_printf(out, ") epoch=%llu/%llu peers=", (unsigned long long)r->epoch.conf_ver,
                  (unsigned long long)r->epoch.version);
    for (size_t i = 0; i < r->n_peers; i++) {
        cm_buf_printf(out, "%s%llu@%llu%s", i ? "," : "", (unsigned long long)r->peers[i].id,
                      (unsigned long long)r->peers[i].store_id,
                      r->peers[i].role == KV_PEER_LEARNER ? "L" : "");
    }
}
