/*
 * fuzz_codec — libFuzzer target for every key decoder of common/codec: a datum sequence (all
 * types), a row key, an index key (with 0..4 columns), a metadata key and an MVCC key. Each
 * decoder must refuse the input with CM_E_CORRUPT or decode it; what decodes must re-encode to
 * exactly the input bytes (encodings are canonical), otherwise the target aborts. The same bytes
 * also go to the text parsers (decimal, datetime, time), whose results must format and parse
 * back to the same value. The row decoder has its own target, fuzz_row.
 */
#include "cm_keys.h"

#include <stdio.h>
#include <stdlib.h>

#define DATUMS_MAX 256

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_codec: %s\n", what);
        abort();
    }
}

static void same(const cm_buf *re, cm_slice in, const char *what)
{
    check(cm_slice_eq(cm_buf_slice(re), in), what);
}

static void fuzz_datums(cm_slice in, cm_arena *arena, cm_buf *re)
{
    static cm_datum out[DATUMS_MAX];
    size_t n = 0;
    cm_err err;
    int rc = cm_codec_decode_datums(in, arena, out, DATUMS_MAX, &n, &err);
    if (rc != 0) {
        check(rc == CM_E_CORRUPT, "datums: unexpected error code");
        return;
    }
    cm_buf_reset(re);
    check(cm_codec_encode_datums(re, out, n, &err) == 0, "datums: re-encode failed");
    same(re, in, "datums: round trip differs");
    /* Skipping must walk the same datums. */
    cm_reader r;
    cm_reader_init(&r, in.ptr, in.len);
    for (size_t i = 0; i < n; i++) {
        check(cm_codec_skip_datum(&r, NULL) == 0, "datums: skip failed where decode worked");
    }
    check(cm_reader_left(&r) == 0, "datums: skip stopped early");
}

static void fuzz_row(cm_slice in, cm_buf *re)
{
    int64_t tid, h;
    if (cm_keys_decode_row(in, &tid, &h, NULL) != 0) {
        return;
    }
    cm_buf_reset(re);
    check(cm_keys_append_row(re, tid, h) == 0, "row: re-encode failed");
    same(re, in, "row: round trip differs");
}

static void fuzz_index(cm_slice in, cm_arena *arena, cm_buf *re)
{
    int64_t tid, iid, h = 0;
    cm_slice values;
    cm_err err;
    if (cm_keys_decode_index(in, &tid, &iid, &values, &err) != 0) {
        return;
    }
    for (size_t ncols = 0; ncols <= 4; ncols++) {
        cm_datum out[5];
        bool has_handle = false;
        if (cm_keys_decode_index_values(values, ncols, arena, out, &has_handle, &h, &err) != 0) {
            check(err.code == CM_E_CORRUPT, "index: unexpected error code");
            continue;
        }
        cm_buf_reset(re);
        check(cm_keys_append_index_prefix(re, tid, iid) == 0, "index: prefix failed");
        if (has_handle) {
            out[ncols] = cm_datum_int64(h);
        }
        check(cm_codec_encode_datums(re, out, ncols + (has_handle ? 1 : 0), &err) == 0,
              "index: re-encode failed");
        same(re, in, "index: round trip differs");
    }
}

static void fuzz_meta(cm_slice in, cm_buf *re)
{
    cm_meta_kind kind;
    cm_buf name = CM_BUF_INIT, field = CM_BUF_INIT;
    int64_t index = 0;
    cm_err err;
    if (cm_keys_decode_meta(in, &kind, &name, &field, &index, &err) == 0) {
        cm_buf_reset(re);
        int rc = -1;
        switch (kind) {
        case CM_META_STRING:
            rc = cm_keys_append_meta_string(re, cm_buf_slice(&name));
            break;
        case CM_META_HASH:
            rc = cm_keys_append_meta_hash_field(re, cm_buf_slice(&name), cm_buf_slice(&field));
            break;
        case CM_META_LIST:
            rc = cm_keys_append_meta_list_item(re, cm_buf_slice(&name), index);
            break;
        }
        check(rc == 0, "meta: re-encode failed");
        same(re, in, "meta: round trip differs");
    }
    cm_buf_fini(&name);
    cm_buf_fini(&field);
}

static void fuzz_mvcc(cm_slice in, cm_buf *re)
{
    cm_buf uk = CM_BUF_INIT;
    uint64_t ts = 0, ts2 = 0;
    cm_slice enc;
    cm_err err;
    int split = cm_keys_split_mvcc(in, &enc, &ts2, &err);
    if (cm_keys_decode_mvcc(in, &uk, &ts, &err) == 0) {
        check(split == 0 && ts == ts2, "mvcc: split and decode disagree");
        cm_buf_reset(re);
        check(cm_keys_append_mvcc(re, cm_buf_slice(&uk), ts) == 0, "mvcc: re-encode failed");
        same(re, in, "mvcc: round trip differs");
    } else {
        check(split != 0, "mvcc: split accepted what decode refused");
    }
    cm_buf_fini(&uk);
}

static void fuzz_text(cm_slice in)
{
    cm_decimal d, d2;
    cm_buf text = CM_BUF_INIT;
    cm_err err;
    int rc = cm_decimal_parse(in, &d, NULL, &err);
    if (rc == 0) {
        check(cm_decimal_valid(&d), "decimal: parse gave an invalid value");
        check(cm_decimal_format(&d, &text) == 0, "decimal: format failed");
        check(cm_decimal_parse(cm_buf_slice(&text), &d2, NULL, &err) == 0, "decimal: reparse");
        check(cm_decimal_cmp(&d, &d2) == 0 && d.frac == d2.frac, "decimal: text round trip");
    } else {
        check(rc == CM_E_INVALID || rc == CM_E_OUT_OF_RANGE, "decimal: unexpected error code");
    }
    cm_datetime t, t2;
    if (cm_datetime_parse(in, &t, &err) == 0) {
        cm_buf_reset(&text);
        check(cm_datetime_format(&t, false, 6, &text) == 0, "datetime: format failed");
        check(cm_datetime_parse(cm_buf_slice(&text), &t2, &err) == 0, "datetime: reparse");
        check(cm_datetime_pack(&t) == cm_datetime_pack(&t2), "datetime: text round trip");
    }
    int64_t us, us2;
    if (cm_duration_parse(in, &us, &err) == 0) {
        cm_buf_reset(&text);
        check(cm_duration_format(us, 6, &text) == 0, "time: format failed");
        check(cm_duration_parse(cm_buf_slice(&text), &us2, &err) == 0, "time: reparse");
        check(us == us2, "time: text round trip");
    }
    cm_buf_fini(&text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cm_slice in = cm_slice_make(data, size);
    cm_arena arena;
    cm_arena_init(&arena, 0);
    cm_buf re = CM_BUF_INIT;
    fuzz_datums(in, &arena, &re);
    cm_arena_reset(&arena);
    fuzz_row(in, &re);
    fuzz_index(in, &arena, &re);
    fuzz_meta(in, &re);
    fuzz_mvcc(in, &re);
    fuzz_text(in);
    cm_buf_fini(&re);
    cm_arena_fini(&arena);
    return 0;
}
