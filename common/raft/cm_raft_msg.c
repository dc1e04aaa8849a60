/*
 * cm_raft_msg.c — compact binary encoding of Raft messages (docs/raft.md, "wire format").
 *
 *   u8 version (1) | u8 type | u8 flags | uvarint from, to, term | body by type
 *
 * Only the fields a type uses are written; entries carry no index (they follow the append's
 * prev index), so a heartbeat is ~10 bytes and an append adds ~3 bytes per entry besides its
 * data. Messages are self-delimiting: a store's batch is their concatenation. The decoder treats
 * its input as hostile: every count is bounded by the bytes left before anything is allocated,
 * and a decoded message is checked by the same validation cm_raft_step applies.
 */
#include "cm_raft_int.h"

#include <string.h>

#define WIRE_VERSION 1

const char *cm_raft_msg_type_name(int type)
{
    static const char *const names[] = {
        "?",           "app",          "app_resp",  "vote",           "vote_resp",
        "prevote",     "prevote_resp", "heartbeat", "heartbeat_resp", "snap",
        "timeout_now",
    };
    if (type < 1 || type > CM_RAFT_MSG_TYPE_MAX) {
        return "?";
    }
    return names[type];
}

static int validate_conf(const cm_raft_conf *c, cm_err *err)
{
    if ((size_t)c->n_voters + c->n_learners > CM_RAFT_MEMBERS_MAX || c->n_voters == 0) {
        return cm_err_set(err, CM_E_CORRUPT, "raft msg: snapshot configuration size");
    }
    uint64_t all[2 * CM_RAFT_MEMBERS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < c->n_voters; i++) {
        all[n++] = c->voters[i];
    }
    for (size_t i = 0; i < c->n_learners; i++) {
        all[n++] = c->learners[i];
    }
    for (size_t i = 0; i < n; i++) {
        if (all[i] == CM_RAFT_NONE) {
            return cm_err_set(err, CM_E_CORRUPT, "raft msg: member id 0");
        }
        for (size_t j = i + 1; j < n; j++) {
            if (all[i] == all[j]) {
                return cm_err_set(err, CM_E_CORRUPT, "raft msg: duplicate member");
            }
        }
    }
    return 0;
}

int raft_msg_validate(const cm_raft_msg *m, cm_err *err)
{
    if (m->type < 1 || m->type > CM_RAFT_MSG_TYPE_MAX) {
        return cm_err_set(err, CM_E_CORRUPT, "raft msg: unknown type %u", m->type);
    }
    if (m->flags & ~CM_RAFT_FLAGS_ALL) {
        return cm_err_set(err, CM_E_CORRUPT, "raft msg: unknown flags 0x%x", m->flags);
    }
    bool resp = m->type == CM_RAFT_MSG_APP_RESP || m->type == CM_RAFT_MSG_VOTE_RESP ||
                m->type == CM_RAFT_MSG_PREVOTE_RESP;
    bool vote = m->type == CM_RAFT_MSG_VOTE || m->type == CM_RAFT_MSG_PREVOTE;
    if (((m->flags & CM_RAFT_FLAG_REJECT) && !resp) || ((m->flags & CM_RAFT_FLAG_FORCE) && !vote)) {
        return cm_err_set(err, CM_E_CORRUPT, "raft msg: flag 0x%x not valid for %s", m->flags,
                          cm_raft_msg_type_name(m->type));
    }
    if (m->from == CM_RAFT_NONE || m->to == CM_RAFT_NONE || m->term == 0) {
        return cm_err_set(err, CM_E_CORRUPT, "raft msg: zero from/to/term");
    }
    if (m->term > CM_RAFT_TERM_INDEX_MAX || m->index > CM_RAFT_TERM_INDEX_MAX ||
        m->log_term > CM_RAFT_TERM_INDEX_MAX || m->commit > CM_RAFT_TERM_INDEX_MAX ||
        m->reject_hint > CM_RAFT_TERM_INDEX_MAX) {
        return cm_err_set(err, CM_E_CORRUPT, "raft msg: term or index out of range");
    }
    if (vote && m->log_term >= m->term) {
        return cm_err_set(err, CM_E_CORRUPT, "raft msg: vote request with last term >= term");
    }
    if (m->type != CM_RAFT_MSG_APP && m->n_entries != 0) {
        return cm_err_set(err, CM_E_CORRUPT, "raft msg: entries on a %s",
                          cm_raft_msg_type_name(m->type));
    }
    if (m->type == CM_RAFT_MSG_APP) {
        if (m->log_term > m->term || m->n_entries > CM_RAFT_MSG_ENTRIES_MAX) {
            return cm_err_set(err, CM_E_CORRUPT, "raft msg: append header out of range");
        }
        uint64_t prev_term = m->log_term;
        for (size_t i = 0; i < m->n_entries; i++) {
            const cm_raft_entry *e = &m->entries[i];
            if (e->index != m->index + 1 + i) {
                return cm_err_set(err, CM_E_CORRUPT, "raft msg: entry %zu not contiguous", i);
            }
            if (e->term < prev_term || e->term > m->term) {
                return cm_err_set(err, CM_E_CORRUPT, "raft msg: entry %zu term out of order", i);
            }
            prev_term = e->term;
            if (e->data.len > CM_RAFT_ENTRY_BYTES_MAX) {
                return cm_err_set(err, CM_E_CORRUPT, "raft msg: entry %zu too large", i);
            }
            if (e->type == CM_RAFT_ENTRY_CONF) {
                cm_raft_conf_change cc;
                if (cm_raft_conf_change_decode(e->data, &cc) != 0) {
                    return cm_err_set(err, CM_E_CORRUPT, "raft msg: entry %zu bad conf change", i);
                }
            } else if (e->type != CM_RAFT_ENTRY_NORMAL) {
                return cm_err_set(err, CM_E_CORRUPT, "raft msg: entry %zu unknown type %u", i,
                                  e->type);
            }
        }
    }
    if (m->type == CM_RAFT_MSG_SNAP) {
        const cm_raft_snapshot *s = m->snapshot;
        if (s == NULL || s->meta.index == 0 || s->meta.index > CM_RAFT_TERM_INDEX_MAX ||
            s->meta.term == 0 || s->meta.term > m->term ||
            s->data.len > CM_RAFT_SNAPSHOT_BYTES_MAX) {
            return cm_err_set(err, CM_E_CORRUPT, "raft msg: bad snapshot header");
        }
        return validate_conf(&s->meta.conf, err);
    }
    return 0;
}

static int put_ids(cm_buf *out, const uint64_t *ids, uint8_t n)
{
    int rc = cm_buf_append_u8(out, n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = cm_buf_append_uvarint(out, ids[i]);
    }
    return rc;
}

int cm_raft_msg_encode(const cm_raft_msg *m, cm_buf *out)
{
    int rc = cm_buf_append_u8(out, WIRE_VERSION);
    rc = rc ? rc : cm_buf_append_u8(out, m->type);
    rc = rc ? rc : cm_buf_append_u8(out, m->flags);
    rc = rc ? rc : cm_buf_append_uvarint(out, m->from);
    rc = rc ? rc : cm_buf_append_uvarint(out, m->to);
    rc = rc ? rc : cm_buf_append_uvarint(out, m->term);
    if (rc != 0) {
        return rc;
    }
    switch (m->type) {
    case CM_RAFT_MSG_APP:
        rc = cm_buf_append_uvarint(out, m->index);
        rc = rc ? rc : cm_buf_append_uvarint(out, m->log_term);
        rc = rc ? rc : cm_buf_append_uvarint(out, m->commit);
        rc = rc ? rc : cm_buf_append_uvarint(out, m->n_entries);
        for (size_t i = 0; rc == 0 && i < m->n_entries; i++) {
            const cm_raft_entry *e = &m->entries[i];
            rc = cm_buf_append_u8(out, e->type);
            rc = rc ? rc : cm_buf_append_uvarint(out, e->term);
            rc = rc ? rc : cm_buf_append_uvarint(out, e->data.len);
            rc = rc ? rc : cm_buf_append_slice(out, e->data);
        }
        return rc;
    case CM_RAFT_MSG_APP_RESP:
        rc = cm_buf_append_uvarint(out, m->index);
        if (rc == 0 && (m->flags & CM_RAFT_FLAG_REJECT)) {
            rc = cm_buf_append_uvarint(out, m->reject_hint);
            rc = rc ? rc : cm_buf_append_uvarint(out, m->log_term);
        }
        return rc;
    case CM_RAFT_MSG_VOTE:
    case CM_RAFT_MSG_PREVOTE:
        rc = cm_buf_append_uvarint(out, m->index);
        return rc ? rc : cm_buf_append_uvarint(out, m->log_term);
    case CM_RAFT_MSG_HEARTBEAT:
        rc = cm_buf_append_uvarint(out, m->commit);
        /* fall through */
    case CM_RAFT_MSG_HEARTBEAT_RESP:
        rc = rc ? rc : cm_buf_append_uvarint(out, m->hb_seq);
        return rc ? rc : cm_buf_append_uvarint(out, m->hb_time_ns);
    case CM_RAFT_MSG_SNAP: {
        const cm_raft_snapshot *s = m->snapshot;
        rc = cm_buf_append_uvarint(out, s->meta.index);
        rc = rc ? rc : cm_buf_append_uvarint(out, s->meta.term);
        rc = rc ? rc : put_ids(out, s->meta.conf.voters, s->meta.conf.n_voters);
        rc = rc ? rc : put_ids(out, s->meta.conf.learners, s->meta.conf.n_learners);
        rc = rc ? rc : cm_buf_append_uvarint(out, s->data.len);
        return rc ? rc : cm_buf_append_slice(out, s->data);
    }
    default:
        return 0; /* VOTE_RESP, PREVOTE_RESP, TIMEOUT_NOW: header only */
    }
}

static int get_ids(cm_reader *r, uint64_t *ids, uint8_t *n)
{
    uint8_t cnt;
    if (cm_reader_u8(r, &cnt) != 0 || cnt > CM_RAFT_MEMBERS_MAX) {
        return CM_E_CORRUPT;
    }
    for (size_t i = 0; i < cnt; i++) {
        if (cm_reader_uvarint(r, &ids[i]) != 0) {
            return CM_E_CORRUPT;
        }
    }
    *n = cnt;
    return 0;
}

static int get_body(cm_reader *r, cm_arena *arena, cm_raft_msg *m, cm_err *err)
{
    int rc = 0;
    switch (m->type) {
    case CM_RAFT_MSG_APP: {
        uint64_t n;
        rc = cm_reader_uvarint(r, &m->index);
        rc = rc ? rc : cm_reader_uvarint(r, &m->log_term);
        rc = rc ? rc : cm_reader_uvarint(r, &m->commit);
        rc = rc ? rc : cm_reader_uvarint(r, &n);
        if (rc != 0) {
            return cm_err_set(err, CM_E_CORRUPT, "raft msg: truncated append header");
        }
        /* Each entry takes at least 3 bytes: bound the count before allocating. */
        if (n > CM_RAFT_MSG_ENTRIES_MAX || n > cm_reader_left(r) / 3) {
            return cm_err_set(err, CM_E_CORRUPT, "raft msg: entry count %llu",
                              (unsigned long long)n);
        }
        if (m->index > UINT64_MAX - CM_RAFT_MSG_ENTRIES_MAX - 1) {
            return cm_err_set(err, CM_E_CORRUPT, "raft msg: append index out of range");
        }
        if (n > 0) {
            m->entries = cm_arena_alloc(arena, (size_t)n * sizeof(*m->entries));
            if (m->entries == NULL) {
                return cm_err_set(err, CM_E_NOMEM, "raft msg: out of memory");
            }
        }
        for (size_t i = 0; i < n; i++) {
            cm_raft_entry *e = &m->entries[i];
            uint64_t len;
            memset(e, 0, sizeof(*e));
            e->index = m->index + 1 + i;
            rc = cm_reader_u8(r, &e->type);
            rc = rc ? rc : cm_reader_uvarint(r, &e->term);
            rc = rc ? rc : cm_reader_uvarint(r, &len);
            if (rc == 0 && len > cm_reader_left(r)) {
                rc = CM_E_CORRUPT;
            }
            rc = rc ? rc : cm_reader_bytes(r, (size_t)len, &e->data);
            if (rc != 0) {
                return cm_err_set(err, CM_E_CORRUPT, "raft msg: truncated entry %zu", i);
            }
        }
        m->n_entries = (size_t)n;
        return 0;
    }
    case CM_RAFT_MSG_APP_RESP:
        rc = cm_reader_uvarint(r, &m->index);
        if (rc == 0 && (m->flags & CM_RAFT_FLAG_REJECT)) {
            rc = cm_reader_uvarint(r, &m->reject_hint);
            rc = rc ? rc : cm_reader_uvarint(r, &m->log_term);
        }
        break;
    case CM_RAFT_MSG_VOTE:
    case CM_RAFT_MSG_PREVOTE:
        rc = cm_reader_uvarint(r, &m->index);
        rc = rc ? rc : cm_reader_uvarint(r, &m->log_term);
        break;
    case CM_RAFT_MSG_HEARTBEAT:
        rc = cm_reader_uvarint(r, &m->commit);
        /* fall through */
    case CM_RAFT_MSG_HEARTBEAT_RESP:
        rc = rc ? rc : cm_reader_uvarint(r, &m->hb_seq);
        rc = rc ? rc : cm_reader_uvarint(r, &m->hb_time_ns);
        break;
    case CM_RAFT_MSG_SNAP: {
        cm_raft_snapshot *s = cm_arena_alloc(arena, sizeof(*s));
        if (s == NULL) {
            return cm_err_set(err, CM_E_NOMEM, "raft msg: out of memory");
        }
        memset(s, 0, sizeof(*s));
        uint64_t len = 0;
        rc = cm_reader_uvarint(r, &s->meta.index);
        rc = rc ? rc : cm_reader_uvarint(r, &s->meta.term);
        rc = rc ? rc : get_ids(r, s->meta.conf.voters, &s->meta.conf.n_voters);
        rc = rc ? rc : get_ids(r, s->meta.conf.learners, &s->meta.conf.n_learners);
        rc = rc ? rc : cm_reader_uvarint(r, &len);
        if (rc == 0 && len > cm_reader_left(r)) {
            rc = CM_E_CORRUPT;
        }
        rc = rc ? rc : cm_reader_bytes(r, (size_t)len, &s->data);
        m->snapshot = s;
        break;
    }
    default:
        break;
    }
    if (rc != 0) {
        return cm_err_set(err, CM_E_CORRUPT, "raft msg: truncated %s",
                          cm_raft_msg_type_name(m->type));
    }
    return 0;
}

int cm_raft_msg_decode(cm_reader *r, cm_arena *arena, cm_raft_msg *m, cm_err *err)
{
    size_t start = r->pos;
    memset(m, 0, sizeof(*m));
    uint8_t version;
    int rc = cm_reader_u8(r, &version);
    rc = rc ? rc : cm_reader_u8(r, &m->type);
    rc = rc ? rc : cm_reader_u8(r, &m->flags);
    rc = rc ? rc : cm_reader_uvarint(r, &m->from);
    rc = rc ? rc : cm_reader_uvarint(r, &m->to);
    rc = rc ? rc : cm_reader_uvarint(r, &m->term);
    if (rc != 0) {
        r->pos = start;
        return cm_err_set(err, CM_E_CORRUPT, "raft msg: truncated header");
    }
    if (version != WIRE_VERSION) {
        r->pos = start;
        return cm_err_set(err, CM_E_CORRUPT, "raft msg: unknown version %u", version);
    }
    if (m->type < 1 || m->type > CM_RAFT_MSG_TYPE_MAX) {
        r->pos = start;
        return cm_err_set(err, CM_E_CORRUPT, "raft msg: unknown type %u", m->type);
    }
    rc = get_body(r, arena, m, err);
    if (rc == 0) {
        rc = raft_msg_validate(m, err);
    }
    if (rc != 0) {
        r->pos = start;
        memset(m, 0, sizeof(*m));
    }
    return rc;
}
