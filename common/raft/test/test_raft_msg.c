/*
 * Unit tests for the Raft wire codec (cm_raft_msg.c) and conf-change encoding: every message
 * type round-trips, and truncated, mutated or random input is rejected with an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_raft.h"

#include <stdlib.h>
#include <string.h>

static void msg_equal(const cm_raft_msg *a, const cm_raft_msg *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->from, b->from);
    assert_int_equal(a->to, b->to);
    assert_int_equal(a->term, b->term);
    assert_int_equal(a->n_entries, b->n_entries);
    for (size_t i = 0; i < a->n_entries; i++) {
        assert_int_equal(a->entries[i].index, b->entries[i].index);
        assert_int_equal(a->entries[i].term, b->entries[i].term);
        assert_int_equal(a->entries[i].type, b->entries[i].type);
        assert_true(cm_slice_eq(a->entries[i].data, b->entries[i].data));
    }
    switch (a->type) {
    case CM_RAFT_MSG_APP:
        assert_int_equal(a->commit, b->commit);
        /* fall through */
    case CM_RAFT_MSG_VOTE:
    case CM_RAFT_MSG_PREVOTE:
        assert_int_equal(a->index, b->index);
        assert_int_equal(a->log_term, b->log_term);
        break;
    case CM_RAFT_MSG_APP_RESP:
        assert_int_equal(a->index, b->index);
        if (a->flags & CM_RAFT_FLAG_REJECT) {
            assert_int_equal(a->reject_hint, b->reject_hint);
            assert_int_equal(a->log_term, b->log_term);
        }
        break;
    case CM_RAFT_MSG_HEARTBEAT:
        assert_int_equal(a->commit, b->commit);
        /* fall through */
    case CM_RAFT_MSG_HEARTBEAT_RESP:
        assert_int_equal(a->hb_seq, b->hb_seq);
        assert_int_equal(a->hb_time_ns, b->hb_time_ns);
        break;
    case CM_RAFT_MSG_SNAP:
        assert_int_equal(a->snapshot->meta.index, b->snapshot->meta.index);
        assert_int_equal(a->snapshot->meta.term, b->snapshot->meta.term);
        assert_memory_equal(&a->snapshot->meta.conf, &b->snapshot->meta.conf, sizeof(cm_raft_conf));
        assert_true(cm_slice_eq(a->snapshot->data, b->snapshot->data));
        break;
    default:
        break;
    }
}

/* A sample message of every type. */
static size_t samples(cm_raft_msg *out, cm_raft_entry *ents, cm_raft_snapshot *snap,
                      cm_buf *conf_data)
{
    cm_raft_conf_change cc = {CM_RAFT_CONF_ADD_LEARNER, 9};
    cm_buf_init(conf_data);
    assert_int_equal(cm_raft_conf_change_encode(&cc, conf_data), 0);
    memset(ents, 0, 3 * sizeof(*ents));
    ents[0] = (cm_raft_entry){5, 11, CM_RAFT_ENTRY_NORMAL, cm_slice_cstr("hello")};
    ents[1] = (cm_raft_entry){6, 12, CM_RAFT_ENTRY_NORMAL, cm_slice_make(NULL, 0)};
    ents[2] = (cm_raft_entry){7, 13, CM_RAFT_ENTRY_CONF, cm_buf_slice(conf_data)};
    memset(snap, 0, sizeof(*snap));
    snap->meta.index = 100;
    snap->meta.term = 6;
    snap->meta.conf.n_voters = 3;
    snap->meta.conf.voters[0] = 1;
    snap->meta.conf.voters[1] = 2;
    snap->meta.conf.voters[2] = 300000;
    snap->meta.conf.n_learners = 1;
    snap->meta.conf.learners[0] = 4;
    snap->data = cm_slice_cstr("state machine bytes");
    size_t n = 0;
    memset(out, 0, 12 * sizeof(*out));
    out[n++] = (cm_raft_msg){.type = CM_RAFT_MSG_APP,
                             .from = 1,
                             .to = 2,
                             .term = 7,
                             .index = 10,
                             .log_term = 5,
                             .commit = 9,
                             .entries = ents,
                             .n_entries = 3};
    out[n++] = (cm_raft_msg){.type = CM_RAFT_MSG_APP,
                             .from = 1,
                             .to = 2,
                             .term = 7,
                             .index = 10,
                             .log_term = 5,
                             .commit = 9};
    out[n++] =
        (cm_raft_msg){.type = CM_RAFT_MSG_APP_RESP, .from = 2, .to = 1, .term = 7, .index = 13};
    out[n++] = (cm_raft_msg){.type = CM_RAFT_MSG_APP_RESP,
                             .flags = CM_RAFT_FLAG_REJECT,
                             .from = 2,
                             .to = 1,
                             .term = 7,
                             .index = 13,
                             .reject_hint = 8,
                             .log_term = 4};
    out[n++] = (cm_raft_msg){.type = CM_RAFT_MSG_VOTE,
                             .flags = CM_RAFT_FLAG_FORCE,
                             .from = 3,
                             .to = 1,
                             .term = 8,
                             .index = 13,
                             .log_term = 7};
    out[n++] = (cm_raft_msg){
        .type = CM_RAFT_MSG_VOTE_RESP, .flags = CM_RAFT_FLAG_REJECT, .from = 1, .to = 3, .term = 8};
    out[n++] = (cm_raft_msg){
        .type = CM_RAFT_MSG_PREVOTE, .from = 3, .to = 1, .term = 8, .index = 13, .log_term = 7};
    out[n++] = (cm_raft_msg){.type = CM_RAFT_MSG_PREVOTE_RESP, .from = 1, .to = 3, .term = 8};
    out[n++] = (cm_raft_msg){.type = CM_RAFT_MSG_HEARTBEAT,
                             .from = 1,
                             .to = 2,
                             .term = 7,
                             .commit = 12,
                             .hb_seq = 99,
                             .hb_time_ns = 123456789012ull};
    out[n++] = (cm_raft_msg){.type = CM_RAFT_MSG_HEARTBEAT_RESP,
                             .from = 2,
                             .to = 1,
                             .term = 7,
                             .hb_seq = 99,
                             .hb_time_ns = 123456789012ull};
    out[n++] =
        (cm_raft_msg){.type = CM_RAFT_MSG_SNAP, .from = 1, .to = 2, .term = 7, .snapshot = snap};
    out[n++] = (cm_raft_msg){.type = CM_RAFT_MSG_TIMEOUT_NOW, .from = 1, .to = 2, .term = 7};
    return n;
}

static void test_roundtrip_all_types(void **state)
{
    (void)state;
    cm_raft_msg ms[12];
    cm_raft_entry ents[3];
    cm_raft_snapshot snap;
    cm_buf cd;
    size_t n = samples(ms, ents, &snap, &cd);
    /* One batch holding every message: messages are self-delimiting. */
    cm_buf b = CM_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(cm_raft_msg_encode(&ms[i], &b), 0);
    }
    cm_reader r;
    cm_reader_init(&r, b.ptr, b.len);
    cm_arena a;
    cm_arena_init(&a, 0);
    for (size_t i = 0; i < n; i++) {
        cm_raft_msg got;
        cm_err err;
        assert_int_equal(cm_raft_msg_decode(&r, &a, &got, &err), 0);
        msg_equal(&ms[i], &got);
    }
    assert_int_equal(cm_reader_left(&r), 0);
    /* A heartbeat is small. */
    cm_buf hb = CM_BUF_INIT;
    assert_int_equal(cm_raft_msg_encode(&ms[8], &hb), 0);
    assert_true(hb.len <= 20);
    cm_buf_fini(&hb);
    cm_arena_fini(&a);
    cm_buf_fini(&b);
    cm_buf_fini(&cd);
}

static void test_truncation_rejected(void **state)
{
    (void)state;
    cm_raft_msg ms[12];
    cm_raft_entry ents[3];
    cm_raft_snapshot snap;
    cm_buf cd;
    size_t n = samples(ms, ents, &snap, &cd);
    for (size_t i = 0; i < n; i++) {
        cm_buf b = CM_BUF_INIT;
        assert_int_equal(cm_raft_msg_encode(&ms[i], &b), 0);
        for (size_t len = 0; len < b.len; len++) {
            /* Copy to an exact-size heap buffer so ASAN sees any over-read. */
            uint8_t *p = malloc(len ? len : 1);
            memcpy(p, b.ptr, len);
            cm_reader r;
            cm_reader_init(&r, p, len);
            cm_arena a;
            cm_arena_init(&a, 0);
            cm_raft_msg got;
            cm_err err;
            assert_int_equal(cm_raft_msg_decode(&r, &a, &got, &err), CM_E_CORRUPT);
            assert_int_equal(r.pos, 0);
            cm_arena_fini(&a);
            free(p);
        }
        cm_buf_fini(&b);
    }
    cm_buf_fini(&cd);
}

static int decode_bytes(const uint8_t *p, size_t len)
{
    cm_reader r;
    cm_reader_init(&r, p, len);
    cm_arena a;
    cm_arena_init(&a, 0);
    cm_raft_msg got;
    cm_err err;
    int rc = cm_raft_msg_decode(&r, &a, &got, &err);
    cm_arena_fini(&a);
    return rc;
}

static void test_garbage_rejected(void **state)
{
    (void)state;
    /* Bad version, bad type, unknown flags, zero ids. */
    static const uint8_t bad_version[] = {2, 12, 0, 1, 2, 3};
    static const uint8_t bad_type[] = {1, 11, 0, 1, 2, 3};
    static const uint8_t bad_flags[] = {1, 10, 0x80, 1, 2, 3};
    static const uint8_t reject_on_req[] = {1, 10, 0x01, 1, 2, 3};
    static const uint8_t zero_from[] = {1, 10, 0, 0, 2, 3};
    static const uint8_t zero_term[] = {1, 10, 0, 1, 2, 0};
    /* An append claiming a huge entry count with few bytes left. */
    static const uint8_t huge_count[] = {1, 1, 0, 1, 2, 3, 0, 0, 0, 0xff, 0xff, 0x03, 0, 1, 0};
    /* An entry whose length runs past the end. */
    static const uint8_t long_entry[] = {1, 1, 0, 1, 2, 3, 0, 0, 0, 1, 0, 3, 0x7f, 'a'};
    /* A conf entry with garbage data. */
    static const uint8_t bad_conf[] = {1, 1, 0, 1, 2, 3, 0, 0, 0, 1, 1, 3, 2, 9, 0};
    /* An unknown entry type. */
    static const uint8_t bad_etype[] = {1, 1, 0, 1, 2, 3, 0, 0, 0, 1, 7, 3, 0};
    /* Entry term above the message term. */
    static const uint8_t future_term[] = {1, 1, 0, 1, 2, 3, 0, 0, 0, 1, 0, 4, 0};
    /* A varint that overflows 64 bits. */
    static const uint8_t overflow[] = {1,    10,   0,    0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0x7f, 2,    3};
    /* A snapshot with a duplicate member and one with no voter. */
    static const uint8_t snap_dup[] = {1, 9, 0, 1, 2, 3, 5, 2, 2, 1, 1, 0, 0};
    static const uint8_t snap_novoter[] = {1, 9, 0, 1, 2, 3, 5, 2, 0, 0, 0};
    static const uint8_t vote_lastterm[] = {1, 3, 0, 1, 2, 3, 9, 3};
    const struct {
        const uint8_t *p;
        size_t n;
    } cases[] = {
        {bad_version, sizeof(bad_version)},     {bad_type, sizeof(bad_type)},
        {bad_flags, sizeof(bad_flags)},         {reject_on_req, sizeof(reject_on_req)},
        {zero_from, sizeof(zero_from)},         {zero_term, sizeof(zero_term)},
        {huge_count, sizeof(huge_count)},       {long_entry, sizeof(long_entry)},
        {bad_conf, sizeof(bad_conf)},           {bad_etype, sizeof(bad_etype)},
        {future_term, sizeof(future_term)},     {overflow, sizeof(overflow)},
        {snap_dup, sizeof(snap_dup)},           {snap_novoter, sizeof(snap_novoter)},
        {vote_lastterm, sizeof(vote_lastterm)},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(decode_bytes(cases[i].p, cases[i].n), CM_E_CORRUPT);
    }
    /* Random bytes and single-byte mutations of valid messages never crash. */
    cm_raft_msg ms[12];
    cm_raft_entry ents[3];
    cm_raft_snapshot snap;
    cm_buf cd;
    size_t n = samples(ms, ents, &snap, &cd);
    uint64_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        cm_buf b = CM_BUF_INIT;
        assert_int_equal(cm_raft_msg_encode(&ms[i], &b), 0);
        for (size_t pos = 0; pos < b.len; pos++) {
            for (int k = 0; k < 8; k++) {
                uint8_t *p = malloc(b.len);
                memcpy(p, b.ptr, b.len);
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                p[pos] ^= (uint8_t)(1u << k);
                (void)decode_bytes(p, b.len);
                free(p);
            }
        }
        cm_buf_fini(&b);
    }
    for (int i = 0; i < 20000; i++) {
        uint8_t p[64];
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        size_t len = (size_t)(x >> 58);
        for (size_t j = 0; j < len; j++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            p[j] = (uint8_t)(x >> 33);
        }
        p[0] = 1; /* valid version, so the body decoders get exercised */
        (void)decode_bytes(p, len);
    }
    cm_buf_fini(&cd);
}

static void test_conf_change_codec(void **state)
{
    (void)state;
    cm_raft_conf_change cc = {CM_RAFT_CONF_REMOVE, 1ull << 40}, got;
    cm_buf b = CM_BUF_INIT;
    assert_int_equal(cm_raft_conf_change_encode(&cc, &b), 0);
    assert_int_equal(cm_raft_conf_change_decode(cm_buf_slice(&b), &got), 0);
    assert_int_equal(got.op, cc.op);
    assert_int_equal(got.node, cc.node);
    assert_int_equal(cm_buf_append_u8(&b, 0), 0);
    assert_int_equal(cm_raft_conf_change_decode(cm_buf_slice(&b), &got), CM_E_CORRUPT);
    static const uint8_t zero_node[] = {1, 0};
    static const uint8_t bad_op[] = {4, 1};
    assert_int_equal(cm_raft_conf_change_decode(cm_slice_make(zero_node, 2), &got), CM_E_CORRUPT);
    assert_int_equal(cm_raft_conf_change_decode(cm_slice_make(bad_op, 2), &got), CM_E_CORRUPT);
    cm_buf_fini(&b);
    /* Applying changes. */
    cm_raft_conf c;
    memset(&c, 0, sizeof(c));
    cm_raft_conf_change add = {CM_RAFT_CONF_ADD_LEARNER, 5};
    assert_int_equal(cm_raft_conf_apply(&c, &add), 0);
    assert_true(cm_raft_conf_is_learner(&c, 5));
    add.op = CM_RAFT_CONF_ADD_VOTER;
    assert_int_equal(cm_raft_conf_apply(&c, &add), 0);
    assert_true(cm_raft_conf_is_voter(&c, 5));
    assert_false(cm_raft_conf_is_learner(&c, 5));
    for (uint64_t id = 10; id < 10 + CM_RAFT_MEMBERS_MAX - 1; id++) {
        cm_raft_conf_change a2 = {CM_RAFT_CONF_ADD_VOTER, id};
        assert_int_equal(cm_raft_conf_apply(&c, &a2), 0);
    }
    cm_raft_conf_change full = {CM_RAFT_CONF_ADD_LEARNER, 99};
    assert_int_equal(cm_raft_conf_apply(&c, &full), CM_E_TOO_LARGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all_types),
        cmocka_unit_test(test_truncation_rejected),
        cmocka_unit_test(test_garbage_rejected),
        cmocka_unit_test(test_conf_change_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
