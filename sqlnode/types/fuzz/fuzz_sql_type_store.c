/* libFuzzer target: a column type parsed from the first line of the input, then every following
 * line stored as text, as a blob and as numbers, strictly and not, and loaded back; and the whole
 * input read as a stored JSON text. Must never
 * crash, leak or trip a sanitizer. */
#include "sql_lexer.h"
#include "sql_types.h"
#include "sql_types_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void store_one(const sql_coltype *t, const sql_value *in)
{
    {
        cm_buf scratch = CM_BUF_INIT;
        cm_datum d;
        cm_err err;
        sql_type_fit fit;
        if (sql_type_key_value(t, in, &d, &scratch, &fit, &err) == 0 && fit != SQL_TYPE_FIT_NONE &&
            d.type != CM_DT_NULL && (d.type != t->dtype || !cm_datum_valid(&d))) {
            abort(); /* a key value the codec would refuse */
        }
        cm_buf_fini(&scratch);
    }
    for (int strict = 0; strict < 2; strict++) {
        cm_buf scratch = CM_BUF_INIT, ls = CM_BUF_INIT;
        cm_datum d;
        cm_err err;
        sql_type_note note;
        if (sql_type_store(t, "c", in, strict != 0, &d, &scratch, &note, &err) == 0) {
            if (d.type != CM_DT_NULL && (d.type != t->dtype || !cm_datum_valid(&d))) {
                abort(); /* the store produced a datum the codec refuses */
            }
            sql_value v;
            if (sql_type_load(t, &d, &v, &ls, &err) != 0) {
                abort(); /* what was stored must load */
            }
        }
        cm_buf_fini(&scratch);
        cm_buf_fini(&ls);
    }
}

/* What SHOW CREATE TABLE prints must parse back to a type that prints the same (integer display
 * widths are not printed, as in MySQL 8.0, so they are not compared). */
static void reparse(const sql_coltype *t, const cm_buf *f)
{
    sql_tokens toks;
    sql_tokens_init(&toks);
    cm_err err;
    sql_coltype t2;
    uint32_t pos = 0;
    const char *src = (const char *)f->ptr;
    if (sql_lex(src, f->len, 0, &toks, &err) != 0 ||
        sql_type_parse(src, toks.v, toks.n, &pos, &t2, &err) != 0 || pos != toks.n) {
        abort();
    }
    cm_buf f2 = CM_BUF_INIT;
    if (sql_type_format(&t2, &f2) != 0 || f2.len != f->len || memcmp(f2.ptr, f->ptr, f->len) != 0 ||
        t2.dtype != t->dtype || t2.nmembers != t->nmembers) {
        abort();
    }
    for (uint32_t i = 0; i < t->nmembers; i++) {
        if (strcmp(t->members[i], t2.members[i]) != 0) {
            abort();
        }
    }
    cm_buf_fini(&f2);
    sql_coltype_free(&t2);
    sql_tokens_fini(&toks);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *src = (const char *)data;
    /* JSON normalisation of arbitrary bytes (a corrupt row) */
    cm_buf j = CM_BUF_INIT;
    (void)sql_json_normalize(data, size, &j);
    cm_buf_fini(&j);
    size_t nl = 0;
    while (nl < size && data[nl] != '\n') {
        nl++;
    }
    sql_tokens toks;
    sql_tokens_init(&toks);
    cm_err err;
    sql_coltype t;
    uint32_t pos = 0;
    if (sql_lex(src, nl, 0, &toks, &err) != 0 ||
        sql_type_parse_named(src, toks.v, toks.n, &pos, "c", 0, &t, &err) != 0) {
        sql_tokens_fini(&toks);
        return 0;
    }
    sql_tokens_fini(&toks);
    cm_buf f = CM_BUF_INIT;
    if (sql_type_format(&t, &f) != 0) {
        abort();
    }
    reparse(&t, &f);
    (void)sql_type_sqlite_decl(&t);
    (void)sql_type_column(&t, "c", false, 0);
    cm_buf_fini(&f);
    size_t at = nl < size ? nl + 1 : size;
    while (at < size) {
        size_t end = at;
        while (end < size && data[end] != '\n') {
            end++;
        }
        sql_value in = sql_value_text(src + at, end - at);
        store_one(&t, &in);
        in.type = SQL_V_BLOB;
        store_one(&t, &in);
        if (end - at >= 8) {
            int64_t i;
            double dv;
            memcpy(&i, data + at, 8);
            memcpy(&dv, data + at, 8);
            in = sql_value_int(i);
            store_one(&t, &in);
            in.type = SQL_V_UINT;
            in.u = (uint64_t)i;
            store_one(&t, &in);
            if (dv == dv) { /* SQLite never hands over NaN */
                in = sql_value_null();
                in.type = SQL_V_DOUBLE;
                in.d = dv;
                store_one(&t, &in);
            }
        }
        at = end + 1;
    }
    sql_coltype_free(&t);
    return 0;
}
