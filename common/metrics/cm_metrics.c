/*
 * cm_metrics.c — the metrics registry and its Prometheus text exposition (format 0.0.4).
 *
 * Series that share a name form a family: one `# HELP` / `# TYPE` block, one kind. The registry
 * mutex is taken only to register and to render; updates are relaxed atomics on the series, so a
 * hot path never locks. Series live until their registry is freed, so the pointer a registration
 * returns stays valid for the registry's lifetime (the global one's: the whole process).
 */
#include "cm_metrics.h"
#include "cm_assert.h"
#include "cm_limits.h"
#include "cm_log.h"
#include "cm_metrics_int.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum kind {
    KIND_COUNTER,
    KIND_GAUGE,
    KIND_HISTOGRAM,
} kind;

static const char *const kind_names[] = {"counter", "gauge", "histogram"};

struct cm_counter {
    _Atomic uint64_t v;
};

struct cm_gauge {
    _Atomic int64_t v;
};

struct cm_histogram {
    int nbounds;
    double bounds[CM_METRICS_BUCKETS_MAX];
    /* Per-bucket counts, not cumulative (one increment per observation); [nbounds] is +Inf.
     * Rendering accumulates them, and _count is their total, so a scrape is always consistent
     * with itself (+Inf bucket == _count) even while observations race with it. */
    _Atomic uint64_t buckets[CM_METRICS_BUCKETS_MAX + 1];
    _Atomic uint64_t sum_bits; /* a double, updated by compare-and-swap */
};

typedef struct family family;

typedef struct series {
    family *fam;
    char *labels;        /* canonical (sorted by name), "" when none; owned */
    struct series *next; /* next series of the family, in registration order */
    union {
        cm_counter c;
        cm_gauge g;
        cm_histogram h;
    } u;
} series;

struct family {
    kind kind;
    char *name; /* owned */
    char *help; /* owned; the help of the family's first registration */
    series *head;
    series *tail;
};

struct cm_metrics {
    pthread_mutex_t mu;
    int nseries;
    int nfamilies;
    int full_logged; /* the "registry full" warning is logged once, not per attempt */
    family *families[CM_METRICS_SERIES_MAX]; /* a family holds at least one series */
};

/* ---- global registry ----------------------------------------------------------------------- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static cm_metrics *global_registry;

static void global_init(void)
{
    global_registry = cm_metrics_create();
}

cm_metrics *cm_metrics_global(void)
{
    pthread_once(&global_once, global_init);
    return global_registry;
}

cm_metrics *cm_metrics_create(void)
{
    cm_metrics *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return NULL;
    }
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

static void family_free(family *f)
{
    series *s = f->head;
    while (s != NULL) {
        series *next = s->next;
        free(s->labels);
        free(s);
        s = next;
    }
    free(f->name);
    free(f->help);
    free(f);
}

void cm_metrics_free(cm_metrics *m)
{
    if (m == NULL) {
        return;
    }
    for (int i = 0; i < m->nfamilies; i++) {
        family_free(m->families[i]);
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

int cm_metrics_series_count(cm_metrics *m)
{
    if (m == NULL) {
        return 0;
    }
    pthread_mutex_lock(&m->mu);
    int n = m->nseries;
    pthread_mutex_unlock(&m->mu);
    return n;
}

/* ---- validation ---------------------------------------------------------------------------- */

static int is_alpha_(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

int cm_metrics_name_valid(const char *name)
{
    if (name == NULL || !(is_alpha_((unsigned char)name[0]) || name[0] == ':')) {
        return 0;
    }
    size_t i = 1;
    for (; name[i] != '\0'; i++) {
        int c = (unsigned char)name[i];
        if (i >= CM_METRICS_NAME_BYTES_MAX || !(is_alpha_(c) || is_digit(c) || c == ':')) {
            return 0;
        }
    }
    return 1;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0 when it is not one (overlong
 * forms, surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    unsigned min;
    unsigned cp;
    if (c < 0x80) {
        return 1;
    } else if ((c & 0xe0) == 0xc0) {
        len = 2, min = 0x80, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, min = 0x800, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return len;
}

static int utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_seq_len(p + i, n - i);
        if (k == 0) {
            return 0;
        }
        i += k;
    }
    return 1;
}

typedef struct label_pair {
    const char *name; /* borrowed from the label string */
    size_t name_len;
    const char *value; /* as written (still escaped), without the quotes */
    size_t value_len;
} label_pair;

static int pair_cmp(const void *a, const void *b)
{
    const label_pair *x = a;
    const label_pair *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    if (c != 0) {
        return c;
    }
    return x->name_len < y->name_len ? -1 : (x->name_len > y->name_len ? 1 : 0);
}

/* Parses one `name="value"` at s[*pos]; on success *pos is just past the closing quote. */
static int parse_pair(const char *s, size_t len, size_t *pos, label_pair *p, cm_err *err)
{
    size_t i = *pos;
    size_t start = i;
    if (i >= len || !is_alpha_((unsigned char)s[i])) {
        return cm_err_set(err, CM_E_INVALID, "labels: bad label name at byte %zu", i);
    }
    while (i < len && (is_alpha_((unsigned char)s[i]) || is_digit((unsigned char)s[i]))) {
        i++;
    }
    p->name = s + start;
    p->name_len = i - start;
    if (p->name_len >= 2 && s[start] == '_' && s[start + 1] == '_') {
        return cm_err_set(err, CM_E_INVALID, "labels: names starting with __ are reserved");
    }
    if (i + 1 >= len || s[i] != '=' || s[i + 1] != '"') {
        return cm_err_set(err, CM_E_INVALID, "labels: expected =\" at byte %zu", i);
    }
    i += 2;
    p->value = s + i;
    while (i < len && s[i] != '"') {
        if (s[i] == '\n') {
            return cm_err_set(err, CM_E_INVALID, "labels: raw newline in a value");
        }
        if (s[i] == '\\') {
            if (i + 1 >= len || (s[i + 1] != '\\' && s[i + 1] != '"' && s[i + 1] != 'n')) {
                return cm_err_set(err, CM_E_INVALID, "labels: bad escape at byte %zu", i);
            }
            i += 2;
            continue;
        }
        i++;
    }
    if (i >= len) {
        return cm_err_set(err, CM_E_INVALID, "labels: unterminated value");
    }
    p->value_len = (size_t)(s + i - p->value);
    if (!utf8_valid(p->value, p->value_len)) {
        return cm_err_set(err, CM_E_INVALID, "labels: value is not valid UTF-8");
    }
    *pos = i + 1;
    return 0;
}

int cm_metrics_labels_canon(const char *labels, cm_buf *out, cm_err *err)
{
    if (labels == NULL || labels[0] == '\0') {
        return 0;
    }
    size_t len = strnlen(labels, CM_METRICS_LABELS_BYTES_MAX + 1);
    if (len > CM_METRICS_LABELS_BYTES_MAX) {
        return cm_err_set(err, CM_E_INVALID, "labels: longer than %d bytes",
                          CM_METRICS_LABELS_BYTES_MAX);
    }
    label_pair pairs[CM_METRICS_LABELS_MAX];
    int n = 0;
    size_t pos = 0;
    for (;;) {
        if (n == CM_METRICS_LABELS_MAX) {
            return cm_err_set(err, CM_E_INVALID, "labels: more than %d pairs",
                              CM_METRICS_LABELS_MAX);
        }
        int rc = parse_pair(labels, len, &pos, &pairs[n], err);
        if (rc != 0) {
            return rc;
        }
        n++;
        if (pos == len) {
            break;
        }
        if (labels[pos] != ',') {
            return cm_err_set(err, CM_E_INVALID, "labels: expected , at byte %zu", pos);
        }
        pos++;
    }
    qsort(pairs, (size_t)n, sizeof(pairs[0]), pair_cmp);
    for (int i = 1; i < n; i++) {
        if (pair_cmp(&pairs[i - 1], &pairs[i]) == 0) {
            return cm_err_set(err, CM_E_INVALID, "labels: duplicate label %.*s",
                              (int)pairs[i].name_len, pairs[i].name);
        }
    }
    size_t mark = out->len;
    for (int i = 0; i < n; i++) {
        int rc = cm_buf_printf(out, "%s%.*s=\"%.*s\"", i ? "," : "", (int)pairs[i].name_len,
                               pairs[i].name, (int)pairs[i].value_len, pairs[i].value);
        if (rc != 0) {
            out->len = mark;
            return cm_err_set(err, rc, "labels: out of memory");
        }
    }
    return 0;
}

int cm_metrics_label_escape(cm_buf *out, const char *value)
{
    if (value == NULL) {
        return 0;
    }
    size_t mark = out->len;
    for (const char *p = value; *p != '\0'; p++) {
        int rc;
        if (*p == '\\') {
            rc = cm_buf_append(out, "\\\\", 2);
        } else if (*p == '"') {
            rc = cm_buf_append(out, "\\\"", 2);
        } else if (*p == '\n') {
            rc = cm_buf_append(out, "\\n", 2);
        } else {
            rc = cm_buf_append_u8(out, (uint8_t)*p);
        }
        if (rc != 0) {
            out->len = mark;
            return rc;
        }
    }
    return 0;
}

/* ---- registration -------------------------------------------------------------------------- */

static family *family_find(cm_metrics *m, const char *name)
{
    for (int i = 0; i < m->nfamilies; i++) {
        if (strcmp(m->families[i]->name, name) == 0) {
            return m->families[i];
        }
    }
    return NULL;
}

static const char *const histogram_suffixes[] = {"_bucket", "_sum", "_count"};

/* Whether derived is base followed by one of a histogram's suffixes. */
static int derived_name_of(const char *derived, const char *base)
{
    size_t n = strlen(base);
    if (strncmp(derived, base, n) != 0) {
        return 0;
    }
    for (size_t i = 0; i < CM_ARRAY_LEN(histogram_suffixes); i++) {
        if (strcmp(derived + n, histogram_suffixes[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Whether a new family `name` of kind k would print lines another family also prints: a
 * histogram `x` prints x_bucket, x_sum and x_count, which must not be families of their own. */
static int family_clashes(cm_metrics *m, const char *name, kind k)
{
    for (int i = 0; i < m->nfamilies; i++) {
        const family *f = m->families[i];
        if (f->kind == KIND_HISTOGRAM && derived_name_of(name, f->name)) {
            return 1;
        }
        if (k == KIND_HISTOGRAM && derived_name_of(f->name, name)) {
            return 1;
        }
    }
    return 0;
}

static int help_valid(const char *help)
{
    size_t n = strnlen(help, CM_METRICS_HELP_BYTES_MAX + 1);
    return n <= CM_METRICS_HELP_BYTES_MAX && utf8_valid(help, n);
}

static int bounds_valid(const double *bounds, int nbounds)
{
    if (nbounds < 0 || nbounds > CM_METRICS_BUCKETS_MAX || (nbounds > 0 && bounds == NULL)) {
        return 0;
    }
    for (int i = 0; i < nbounds; i++) {
        if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
            return 0;
        }
    }
    return 1;
}

/* Whether labels (canonical) carry a label named le, which a histogram reserves for buckets. */
static int labels_have_le(const char *labels)
{
    const char *p = labels;
    while (*p != '\0') {
        if (p[0] == 'l' && p[1] == 'e' && p[2] == '=') {
            return 1;
        }
        /* Skip to the next pair: past the closing quote of this value. */
        p = strchr(p, '"');
        CM_ASSERT(p != NULL);
        p++;
        while (*p != '"') {
            p += (*p == '\\') ? 2 : 1;
        }
        p++;
        if (*p == ',') {
            p++;
        }
    }
    return 0;
}

static int hist_same_bounds(const cm_histogram *h, const double *bounds, int nbounds)
{
    if (h->nbounds != nbounds) {
        return 0;
    }
    for (int i = 0; i < nbounds; i++) {
        if (h->bounds[i] != bounds[i]) {
            return 0;
        }
    }
    return 1;
}

/* Finds or creates a series; the registry mutex is held. NULL on a bad or conflicting
 * registration, a full registry, or OOM — each logged. */
static series *register_locked(cm_metrics *m, kind k, const char *name, const char *labels,
                               const char *help, const double *bounds, int nbounds)
{
    cm_err err;
    cm_buf canon = CM_BUF_INIT;
    if (!cm_metrics_name_valid(name)) {
        CM_WARN("metrics", "register: invalid metric name");
        return NULL;
    }
    if (cm_metrics_labels_canon(labels, &canon, &err) != 0) {
        CM_WARN("metrics", "register %s: %s", name, err.msg);
        cm_buf_fini(&canon);
        return NULL;
    }
    if (cm_buf_terminate(&canon) != 0) {
        CM_WARN("metrics", "register %s: out of memory", name);
        cm_buf_fini(&canon);
        return NULL;
    }
    const char *lab = canon.ptr ? (const char *)canon.ptr : "";
    series *s = NULL;
    family *f = family_find(m, name);
    if (f != NULL && f->kind != k) {
        CM_WARN("metrics", "register %s: already registered as a %s", name, kind_names[f->kind]);
        goto done;
    }
    if (k == KIND_HISTOGRAM && labels_have_le(lab)) {
        CM_WARN("metrics", "register %s: label le is reserved for histogram buckets", name);
        goto done;
    }
    for (series *it = f ? f->head : NULL; it != NULL; it = it->next) {
        if (strcmp(it->labels, lab) == 0) {
            if (k == KIND_HISTOGRAM && !hist_same_bounds(&it->u.h, bounds, nbounds)) {
                CM_WARN("metrics", "register %s{%s}: already registered with other buckets", name,
                        lab);
            } else {
                s = it;
            }
            goto done;
        }
    }
    if (m->nseries == CM_METRICS_SERIES_MAX) {
        if (!m->full_logged) {
            m->full_logged = 1;
            CM_WARN("metrics", "register %s: registry full (%d series); further series dropped",
                    name, CM_METRICS_SERIES_MAX);
        }
        goto done;
    }
    if (f == NULL && family_clashes(m, name, k)) {
        CM_WARN("metrics", "register %s: clashes with a histogram's _bucket/_sum/_count", name);
        goto done;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->labels = strdup(lab)) == NULL) {
        goto oom;
    }
    if (f == NULL) {
        f = calloc(1, sizeof(*f));
        if (f == NULL || (f->name = strdup(name)) == NULL ||
            (f->help = strdup(help ? help : "")) == NULL) {
            if (f != NULL) {
                free(f->name);
                free(f);
            }
            goto oom;
        }
        f->kind = k;
        CM_ASSERT(m->nfamilies < CM_METRICS_SERIES_MAX);
        m->families[m->nfamilies++] = f;
    }
    s->fam = f;
    if (k == KIND_HISTOGRAM) {
        s->u.h.nbounds = nbounds;
        for (int i = 0; i < nbounds; i++) {
            s->u.h.bounds[i] = bounds[i];
        }
    }
    if (f->tail != NULL) {
        f->tail->next = s;
    } else {
        f->head = s;
    }
    f->tail = s;
    m->nseries++;
    goto done;
oom:
    if (s != NULL) {
        free(s->labels);
        free(s);
        s = NULL;
    }
    CM_WARN("metrics", "register %s: out of memory", name);
done:
    cm_buf_fini(&canon);
    return s;
}

static series *register_series(cm_metrics *m, kind k, const char *name, const char *labels,
                               const char *help, const double *bounds, int nbounds)
{
    if (m == NULL) {
        return NULL;
    }
    if (help != NULL && !help_valid(help)) {
        CM_WARN("metrics", "register: help text too long or not UTF-8");
        return NULL;
    }
    pthread_mutex_lock(&m->mu);
    series *s = register_locked(m, k, name, labels, help, bounds, nbounds);
    pthread_mutex_unlock(&m->mu);
    return s;
}

cm_counter *cm_metrics_counter(cm_metrics *m, const char *name, const char *labels,
                               const char *help)
{
    series *s = register_series(m, KIND_COUNTER, name, labels, help, NULL, 0);
    return s ? &s->u.c : NULL;
}

cm_gauge *cm_metrics_gauge(cm_metrics *m, const char *name, const char *labels, const char *help)
{
    series *s = register_series(m, KIND_GAUGE, name, labels, help, NULL, 0);
    return s ? &s->u.g : NULL;
}

cm_histogram *cm_metrics_histogram(cm_metrics *m, const char *name, const char *labels,
                                   const char *help, const double *bounds, int nbounds)
{
    if (!bounds_valid(bounds, nbounds)) {
        CM_WARN("metrics", "register histogram: bounds must be finite, ascending, at most %d",
                CM_METRICS_BUCKETS_MAX);
        return NULL;
    }
    series *s = register_series(m, KIND_HISTOGRAM, name, labels, help, bounds, nbounds);
    return s ? &s->u.h : NULL;
}

/* ---- updates (lock-free) ------------------------------------------------------------------- */

void cm_counter_add(cm_counter *c, uint64_t n)
{
    if (c != NULL) {
        atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
    }
}

uint64_t cm_counter_get(const cm_counter *c)
{
    return c ? atomic_load_explicit(&((cm_counter *)c)->v, memory_order_relaxed) : 0;
}

void cm_gauge_set(cm_gauge *g, int64_t v)
{
    if (g != NULL) {
        atomic_store_explicit(&g->v, v, memory_order_relaxed);
    }
}

void cm_gauge_add(cm_gauge *g, int64_t delta)
{
    if (g != NULL) {
        /* Wraps like the unsigned arithmetic the hardware does instead of signed overflow UB. */
        atomic_fetch_add_explicit(&g->v, delta, memory_order_relaxed);
    }
}

int64_t cm_gauge_get(const cm_gauge *g)
{
    return g ? atomic_load_explicit(&((cm_gauge *)g)->v, memory_order_relaxed) : 0;
}

static uint64_t double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

static double bits_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

void cm_histogram_observe(cm_histogram *h, double v)
{
    /* A NaN observation has no bucket and would poison _sum for ever: drop it. */
    if (h == NULL || isnan(v)) {
        return;
    }
    int lo = 0;
    int hi = h->nbounds; /* first bound >= v (le is inclusive); nbounds means +Inf */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (h->bounds[mid] < v) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    atomic_fetch_add_explicit(&h->buckets[lo], 1, memory_order_relaxed);
    uint64_t old = atomic_load_explicit(&h->sum_bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&h->sum_bits, &old,
                                                  double_bits(bits_double(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

uint64_t cm_histogram_count(const cm_histogram *h)
{
    if (h == NULL) {
        return 0;
    }
    uint64_t n = 0;
    for (int i = 0; i <= h->nbounds; i++) {
        n += atomic_load_explicit(&((cm_histogram *)h)->buckets[i], memory_order_relaxed);
    }
    return n;
}

/* ---- exposition ---------------------------------------------------------------------------- */

/* Shortest decimal that reads back as the same double; +Inf, -Inf and NaN as Prometheus spells
 * them. */
static int put_double(cm_buf *out, double d)
{
    if (isnan(d)) {
        return cm_buf_append(out, "NaN", 3);
    }
    if (isinf(d)) {
        return d > 0 ? cm_buf_append(out, "+Inf", 4) : cm_buf_append(out, "-Inf", 4);
    }
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d) {
            break;
        }
    }
    return cm_buf_append(out, tmp, strlen(tmp));
}

static int put_help(cm_buf *out, const family *f)
{
    int rc = cm_buf_printf(out, "# HELP %s ", f->name);
    for (const char *p = f->help; rc == 0 && *p != '\0'; p++) {
        if (*p == '\\') {
            rc = cm_buf_append(out, "\\\\", 2);
        } else if (*p == '\n') {
            rc = cm_buf_append(out, "\\n", 2);
        } else {
            rc = cm_buf_append_u8(out, (uint8_t)*p);
        }
    }
    return rc ? rc : cm_buf_append_u8(out, '\n');
}

/* `name[suffix]{labels[,le="x"]} ` — the part of a sample line before its value. le_bound is
 * only read when with_le is set. */
static int put_sample_head(cm_buf *out, const series *s, const char *suffix, int with_le,
                           double le_bound)
{
    int rc = cm_buf_printf(out, "%s%s", s->fam->name, suffix);
    if (rc == 0 && (s->labels[0] != '\0' || with_le)) {
        rc = cm_buf_printf(out, "{%s%s", s->labels, s->labels[0] != '\0' && with_le ? "," : "");
        if (rc == 0 && with_le) {
            rc = cm_buf_append(out, "le=\"", 4);
            rc = rc ? rc : put_double(out, le_bound);
            rc = rc ? rc : cm_buf_append_u8(out, '"');
        }
        rc = rc ? rc : cm_buf_append_u8(out, '}');
    }
    return rc ? rc : cm_buf_append_u8(out, ' ');
}

static int render_histogram(cm_buf *out, const series *s)
{
    cm_histogram *h = (cm_histogram *)&s->u.h;
    uint64_t cum = 0;
    int rc = 0;
    for (int i = 0; rc == 0 && i <= h->nbounds; i++) {
        cum += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        rc = put_sample_head(out, s, "_bucket", 1, i < h->nbounds ? h->bounds[i] : INFINITY);
        rc = rc ? rc : cm_buf_printf(out, "%llu\n", (unsigned long long)cum);
    }
    rc = rc ? rc : put_sample_head(out, s, "_sum", 0, 0);
    rc =
        rc ? rc
           : put_double(out, bits_double(atomic_load_explicit(&h->sum_bits, memory_order_relaxed)));
    rc = rc ? rc : cm_buf_append_u8(out, '\n');
    rc = rc ? rc : put_sample_head(out, s, "_count", 0, 0);
    return rc ? rc : cm_buf_printf(out, "%llu\n", (unsigned long long)cum);
}

static int render_family(cm_buf *out, const family *f)
{
    int rc = 0;
    if (f->help[0] != '\0') {
        rc = put_help(out, f);
    }
    rc = rc ? rc : cm_buf_printf(out, "# TYPE %s %s\n", f->name, kind_names[f->kind]);
    for (const series *s = f->head; rc == 0 && s != NULL; s = s->next) {
        switch (f->kind) {
        case KIND_COUNTER:
            rc = put_sample_head(out, s, "", 0, 0);
            rc =
                rc ? rc : cm_buf_printf(out, "%llu\n", (unsigned long long)cm_counter_get(&s->u.c));
            break;
        case KIND_GAUGE:
            rc = put_sample_head(out, s, "", 0, 0);
            rc = rc ? rc : cm_buf_printf(out, "%lld\n", (long long)cm_gauge_get(&s->u.g));
            break;
        case KIND_HISTOGRAM:
            rc = render_histogram(out, s);
            break;
        }
    }
    return rc;
}

int cm_metrics_render(cm_metrics *m, cm_buf *out)
{
    if (m == NULL) {
        return 0;
    }
    size_t mark = out->len;
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    for (int i = 0; rc == 0 && i < m->nfamilies; i++) {
        rc = render_family(out, m->families[i]);
    }
    pthread_mutex_unlock(&m->mu);
    if (rc != 0) {
        out->len = mark; /* never hand out half an exposition */
    }
    return rc;
}
