/*
 * fuzz_metrics_labels — libFuzzer target over the inputs common/metrics accepts: metric names,
 * label strings, help text, histogram bounds and observations, and the method/path of status
 * requests. The input is a list of records (below); every record is applied to a fresh registry,
 * which is then rendered, and the exposition is checked line by line by a checker written here,
 * independent of the module's own label parser. A violated property traps, so libFuzzer reports
 * it as a crash; so do leaks and sanitizer findings.
 *
 * Record: op byte, then NUL-terminated fields.
 *   op % 4 == 0 counter:   name, labels, help, 8-byte add
 *   op % 4 == 1 gauge:     name, labels, help, 8-byte set, 8-byte add
 *   op % 4 == 2 histogram: name, labels, help, count byte, count x 8-byte bound, 8-byte observe
 *   op % 4 == 3 request:   method, url
 * Bit 0x80 of op sends NULL instead of the labels string.
 */
#include "cm_limits.h"
#include "cm_log.h"
#include "cm_metrics.h"
#include "cm_metrics_int.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RECORDS_MAX 64

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

typedef struct input {
    const uint8_t *p;
    size_t n;
} input;

/* Next NUL-terminated field (or the rest of the input), as a heap copy. */
static char *take_str(input *in)
{
    size_t k = 0;
    while (k < in->n && in->p[k] != 0) {
        k++;
    }
    char *s = malloc(k + 1);
    if (s == NULL) {
        abort();
    }
    memcpy(s, in->p, k);
    s[k] = '\0';
    size_t used = k < in->n ? k + 1 : k;
    in->p += used;
    in->n -= used;
    return s;
}

static uint64_t take_u64(input *in)
{
    uint64_t v = 0;
    size_t k = in->n < 8 ? in->n : 8;
    memcpy(&v, in->p, k);
    in->p += k;
    in->n -= k;
    return v;
}

static double take_double(input *in)
{
    uint64_t u = take_u64(in);
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

static uint8_t take_u8(input *in)
{
    if (in->n == 0) {
        return 0;
    }
    uint8_t v = in->p[0];
    in->p++;
    in->n--;
    return v;
}

/* ---- an exposition checker, independent of cm_metrics.c ------------------------------------ */

static int name_char(char c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

/* Length of the metric name at p (0 when there is none). */
static size_t name_len(const char *p, const char *end)
{
    size_t i = 0;
    while (p + i < end && name_char(p[i], i == 0)) {
        i++;
    }
    return i;
}

/* Checks `{k="v",...}` at *pp; leaves *pp after the brace. Returns the number of pairs. */
static int check_labels(const char **pp, const char *end, int *saw_le)
{
    const char *p = *pp;
    CHECK(p < end && *p == '{');
    p++;
    int pairs = 0;
    *saw_le = 0;
    for (;;) {
        CHECK(p < end);
        size_t k = 0;
        while (p + k < end && name_char(p[k], k == 0) && p[k] != ':') {
            k++;
        }
        CHECK(k > 0);
        if (k == 2 && p[0] == 'l' && p[1] == 'e') {
            *saw_le = 1;
        }
        p += k;
        CHECK(end - p >= 2 && p[0] == '=' && p[1] == '"');
        p += 2;
        while (p < end && *p != '"') {
            CHECK(*p != '\n');
            if (*p == '\\') {
                CHECK(p + 1 < end && (p[1] == '\\' || p[1] == '"' || p[1] == 'n'));
                p++;
            }
            p++;
        }
        CHECK(p < end);
        p++;
        pairs++;
        CHECK(p < end);
        if (*p == '}') {
            *pp = p + 1;
            return pairs;
        }
        CHECK(*p == ',');
        p++;
    }
}

static void check_value(const char *p, const char *end)
{
    size_t n = (size_t)(end - p);
    CHECK(n > 0 && n < 64);
    char tmp[64];
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    if (strcmp(tmp, "+Inf") == 0 || strcmp(tmp, "-Inf") == 0 || strcmp(tmp, "NaN") == 0) {
        return;
    }
    char *stop = NULL;
    (void)strtod(tmp, &stop);
    CHECK(stop == tmp + n);
}

typedef struct family_seen {
    char name[CM_METRICS_NAME_BYTES_MAX + 1];
    char type[16];
} family_seen;

/* Checks the whole exposition; returns the number of sample lines. */
static int check_exposition(const char *text, size_t len, family_seen *seen, int seen_max)
{
    if (len == 0) {
        return 0;
    }
    const char *p = text;
    const char *end = text + len;
    int nseen = 0;
    int samples = 0;
    const family_seen *cur = NULL;
    CHECK(text[len - 1] == '\n');
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        CHECK(eol != NULL);
        if (strncmp(p, "# HELP ", 7) == 0) {
            const char *q = p + 7;
            size_t k = name_len(q, eol);
            CHECK(k > 0 && q[k] == ' ');
            for (q += k + 1; q < eol; q++) {
                if (*q == '\\') {
                    CHECK(q + 1 < eol && (q[1] == '\\' || q[1] == 'n'));
                    q++;
                }
            }
        } else if (strncmp(p, "# TYPE ", 7) == 0) {
            const char *q = p + 7;
            size_t k = name_len(q, eol);
            CHECK(k > 0 && k <= CM_METRICS_NAME_BYTES_MAX && q[k] == ' ');
            /* One TYPE per family: every series of a name is grouped under it. */
            for (int i = 0; i < nseen; i++) {
                CHECK(!(strlen(seen[i].name) == k && memcmp(seen[i].name, q, k) == 0));
            }
            CHECK(nseen < seen_max);
            family_seen *f = &seen[nseen++];
            memcpy(f->name, q, k);
            f->name[k] = '\0';
            size_t tl = (size_t)(eol - (q + k + 1));
            CHECK(tl < sizeof(f->type));
            memcpy(f->type, q + k + 1, tl);
            f->type[tl] = '\0';
            CHECK(strcmp(f->type, "counter") == 0 || strcmp(f->type, "gauge") == 0 ||
                  strcmp(f->type, "histogram") == 0);
            cur = f;
        } else {
            /* A sample of the current family: the name, or name_bucket/_sum/_count. */
            CHECK(cur != NULL);
            size_t k = name_len(p, eol);
            size_t fl = strlen(cur->name);
            CHECK(k >= fl && memcmp(p, cur->name, fl) == 0);
            const char *suffix = p + fl;
            size_t sl = k - fl;
            int is_hist = strcmp(cur->type, "histogram") == 0;
            int is_bucket = is_hist && sl == 7 && memcmp(suffix, "_bucket", 7) == 0;
            if (is_hist) {
                CHECK(is_bucket || (sl == 4 && memcmp(suffix, "_sum", 4) == 0) ||
                      (sl == 6 && memcmp(suffix, "_count", 6) == 0));
            } else {
                CHECK(sl == 0);
            }
            const char *q = p + k;
            int saw_le = 0;
            if (q < eol && *q == '{') {
                check_labels(&q, eol, &saw_le);
            }
            CHECK(saw_le == is_bucket || !is_hist);
            CHECK(q < eol && *q == ' ');
            check_value(q + 1, eol);
            samples++;
        }
        p = eol + 1;
    }
    return samples;
}

/* ---- the target ---------------------------------------------------------------------------- */

static int status_cb(void *user, cm_buf *out)
{
    (void)user;
    return cm_buf_printf(out, "{\"ok\":true}");
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cm_log_set_level(CM_LOG_OFF); /* rejected registrations log; keep the fuzzer fast */
    return 0;
}

static void apply_record(cm_metrics *m, uint8_t op, input *in, int *expect_samples)
{
    char *a = take_str(in);
    char *b = take_str(in);
    const char *labels = (op & 0x80) ? NULL : b;
    if ((op & 3) == 3) {
        cm_status_reply r;
        if (cm_status_route(a, b, m, status_cb, NULL, &r) == 0) {
            CHECK(r.http_status == 200 || r.http_status == 404 || r.http_status == 405);
            CHECK(r.body.len > 0 || (r.http_status == 200 && strcmp(b, "/metrics") == 0));
            CHECK((r.http_status == 405) == (r.allow != NULL));
        }
        cm_buf_fini(&r.body);
        free(a);
        free(b);
        return;
    }
    char *help = take_str(in);
    /* Whether the label string is valid, and its canonical form is a fixed point. */
    cm_buf canon = CM_BUF_INIT;
    cm_err err;
    if (cm_metrics_labels_canon(labels, &canon, &err) == 0) {
        cm_buf again = CM_BUF_INIT;
        if (cm_buf_terminate(&canon) == 0) {
            CHECK(cm_metrics_labels_canon((const char *)canon.ptr, &again, &err) == 0);
            CHECK(again.len == canon.len &&
                  (canon.len == 0 || memcmp(again.ptr, canon.ptr, canon.len) == 0));
        }
        cm_buf_fini(&again);
    }
    cm_buf_fini(&canon);
    int before = cm_metrics_series_count(m);
    switch (op & 3) {
    case 0: {
        cm_counter *c = cm_metrics_counter(m, a, labels, help);
        uint64_t old = cm_counter_get(c);
        uint64_t add = take_u64(in);
        cm_counter_add(c, add);
        CHECK(c == NULL || cm_counter_get(c) == old + add);
        *expect_samples += cm_metrics_series_count(m) - before;
        break;
    }
    case 1: {
        cm_gauge *g = cm_metrics_gauge(m, a, labels, help);
        cm_gauge_set(g, (int64_t)take_u64(in));
        cm_gauge_add(g, (int64_t)take_u64(in));
        *expect_samples += cm_metrics_series_count(m) - before;
        break;
    }
    default: {
        int nb = take_u8(in) % (CM_METRICS_BUCKETS_MAX + 2);
        double bounds[CM_METRICS_BUCKETS_MAX + 1];
        for (int i = 0; i < nb; i++) {
            bounds[i] = take_double(in);
        }
        cm_histogram *h = cm_metrics_histogram(m, a, labels, help, bounds, nb);
        uint64_t old = cm_histogram_count(h);
        double v = take_double(in);
        cm_histogram_observe(h, v);
        CHECK(h == NULL || cm_histogram_count(h) == old + (isnan(v) ? 0 : 1));
        if (cm_metrics_series_count(m) > before) {
            *expect_samples += nb + 1 + 2; /* buckets, +Inf, _sum, _count */
        }
        break;
    }
    }
    free(a);
    free(b);
    free(help);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static family_seen seen[RECORDS_MAX];
    input in = {data, size};
    cm_metrics *m = cm_metrics_create();
    if (m == NULL) {
        return 0;
    }
    int expect_samples = 0;
    for (int i = 0; i < RECORDS_MAX && in.n > 0; i++) {
        apply_record(m, take_u8(&in), &in, &expect_samples);
    }
    cm_buf out = CM_BUF_INIT;
    if (cm_metrics_render(m, &out) == 0) {
        CHECK(check_exposition((const char *)out.ptr, out.len, seen, RECORDS_MAX) ==
              expect_samples);
    }
    cm_buf_fini(&out);
    cm_metrics_free(m);
    return 0;
}
