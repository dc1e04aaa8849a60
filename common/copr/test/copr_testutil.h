/* copr_testutil.h — what the common/copr unit tests (test_cx.c, test_copr.c) share. */
#ifndef COPR_TESTUTIL_H
#define COPR_TESTUTIL_H

#include "cm_codec.h"

#include <stdio.h>

/* The text of a value for comparisons in tests: "NULL", "i:5", "u:5", "f:1.5", "d:1.50",
 * "s:abc", "b:abc". */
static inline const char *show(const cm_datum *d)
{
    static char buf[8][256];
    static int slot;
    char *p = buf[slot++ % 8];
    switch (d->type) {
    case CM_DT_NULL:
        snprintf(p, 256, "NULL");
        break;
    case CM_DT_INT64:
        snprintf(p, 256, "i:%lld", (long long)d->v.i64);
        break;
    case CM_DT_UINT64:
        snprintf(p, 256, "u:%llu", (unsigned long long)d->v.u64);
        break;
    case CM_DT_FLOAT64:
        snprintf(p, 256, "f:%.17g", d->v.f64);
        break;
    case CM_DT_DECIMAL: {
        char t[CM_DECIMAL_TEXT_MAX + 1];
        size_t n = cm_decimal_put_text(&d->v.dec, t);
        t[n] = '\0';
        snprintf(p, 256, "d:%s", t);
        break;
    }
    case CM_DT_STRING:
    case CM_DT_BYTES:
        snprintf(p, 256, "%c:%.*s", d->type == CM_DT_STRING ? 's' : 'b', (int)d->v.bytes.len,
                 (const char *)d->v.bytes.ptr);
        break;
    default:
        snprintf(p, 256, "t%d:%llu", (int)d->type, (unsigned long long)d->v.u64);
        break;
    }
    return p;
}

#endif
