/* cm_config.c — see cm_config.h. */
#include "cm_config.h"

#include "cm_log.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Option names compare with '-' and '_' as the same character. */
static int name_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a == '_' ? '-' : *a;
        char y = *b == '_' ? '-' : *b;
        if (tolower((unsigned char)x) != tolower((unsigned char)y)) {
            return 0;
        }
    }
    return *a == *b;
}

static const cm_cfg_option *find_option(const cm_cfg_table *t, const char *name)
{
    for (size_t i = 0; i < t->count; i++) {
        if (name_eq(t->options[i].name, name)) {
            return &t->options[i];
        }
    }
    return NULL;
}

static int parse_int64(const char *s, int64_t *out, const char **end_out)
{
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno != 0) {
        return -1;
    }
    *out = (int64_t)v;
    *end_out = end;
    return 0;
}

int cm_config_parse_size(const char *s, int64_t *out)
{
    const char *end;
    int64_t v;
    if (parse_int64(s, &v, &end) != 0 || v < 0) {
        return CM_E_CONFIG;
    }
    int64_t mult = 1;
    if (strcasecmp(end, "") == 0 || strcasecmp(end, "b") == 0) {
        mult = 1;
    } else if (strcasecmp(end, "k") == 0 || strcasecmp(end, "kb") == 0 ||
               strcasecmp(end, "kib") == 0) {
        mult = 1024;
    } else if (strcasecmp(end, "m") == 0 || strcasecmp(end, "mb") == 0 ||
               strcasecmp(end, "mib") == 0) {
        mult = 1024 * 1024;
    } else if (strcasecmp(end, "g") == 0 || strcasecmp(end, "gb") == 0 ||
               strcasecmp(end, "gib") == 0) {
        mult = 1024LL * 1024 * 1024;
    } else {
        return CM_E_CONFIG;
    }
    if (v > INT64_MAX / mult) {
        return CM_E_CONFIG;
    }
    *out = v * mult;
    return 0;
}

int cm_config_parse_duration_ms(const char *s, int64_t *out)
{
    const char *end;
    int64_t v;
    if (parse_int64(s, &v, &end) != 0 || v < 0) {
        return CM_E_CONFIG;
    }
    int64_t mult;
    if (strcmp(end, "ms") == 0 || strcmp(end, "") == 0) {
        mult = 1;
    } else if (strcmp(end, "s") == 0) {
        mult = 1000;
    } else if (strcmp(end, "m") == 0) {
        mult = 60 * 1000;
    } else if (strcmp(end, "h") == 0) {
        mult = 3600 * 1000;
    } else {
        return CM_E_CONFIG;
    }
    if (v > INT64_MAX / mult) {
        return CM_E_CONFIG;
    }
    *out = v * mult;
    return 0;
}

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"1", "true", "on", "yes"};
    static const char *const no[] = {"0", "false", "off", "no"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return CM_E_CONFIG;
}

/* Index of value among "a|b|c", or -1. */
static int enum_index(const char *choices, const char *value)
{
    int idx = 0;
    size_t vlen = strlen(value);
    const char *p = choices;
    while (p && *p) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == vlen && strncasecmp(p, value, n) == 0) {
            return idx;
        }
        idx++;
        p = bar ? bar + 1 : NULL;
    }
    return -1;
}

/* Writes choice number idx of "a|b|c" into out. */
static void enum_name(const char *choices, int idx, char *out, size_t cap)
{
    const char *p = choices;
    for (int i = 0; p && i < idx; i++) {
        p = strchr(p, '|');
        p = p ? p + 1 : NULL;
    }
    if (p == NULL) {
        snprintf(out, cap, "?");
        return;
    }
    const char *bar = strchr(p, '|');
    size_t n = bar ? (size_t)(bar - p) : strlen(p);
    snprintf(out, cap, "%.*s", (int)n, p);
}

static int set_option(const cm_cfg_option *o, void *cfg, const char *value, cm_err *err)
{
    char *field = (char *)cfg + o->offset;
    int64_t v = 0;
    int rc = 0;
    switch (o->type) {
    case CM_CFG_BOOL: {
        int b;
        if (parse_bool(value, &b) != 0) {
            return cm_err_set(err, CM_E_CONFIG, "option %s: '%s' is not a boolean", o->name, value);
        }
        *(int *)field = b;
        return 0;
    }
    case CM_CFG_STRING: {
        char *dup = strdup(value);
        if (dup == NULL) {
            return cm_err_set(err, CM_E_NOMEM, "option %s: out of memory", o->name);
        }
        free(*(char **)field);
        *(char **)field = dup;
        return 0;
    }
    case CM_CFG_ENUM: {
        int idx = enum_index(o->choices, value);
        if (idx < 0) {
            return cm_err_set(err, CM_E_CONFIG, "option %s: '%s' is not one of %s", o->name, value,
                              o->choices);
        }
        *(int *)field = idx;
        return 0;
    }
    case CM_CFG_INT: {
        const char *end;
        rc = parse_int64(value, &v, &end) != 0 || *end != '\0' ? CM_E_CONFIG : 0;
        break;
    }
    case CM_CFG_SIZE:
        rc = cm_config_parse_size(value, &v);
        break;
    case CM_CFG_DURATION:
        rc = cm_config_parse_duration_ms(value, &v);
        break;
    }
    if (rc != 0) {
        return cm_err_set(err, CM_E_CONFIG, "option %s: cannot parse '%s'", o->name, value);
    }
    if (v < o->min || v > o->max) {
        return cm_err_set(err, CM_E_CONFIG, "option %s: %lld is out of range [%lld, %lld]", o->name,
                          (long long)v, (long long)o->min, (long long)o->max);
    }
    *(int64_t *)field = v;
    return 0;
}

int cm_config_set(const cm_cfg_table *t, void *cfg, const char *name, const char *value,
                  cm_err *err)
{
    const cm_cfg_option *o = find_option(t, name);
    if (o == NULL) {
        return cm_err_set(err, CM_E_CONFIG, "unknown option '%s' (see --help)", name);
    }
    return set_option(o, cfg, value, err);
}

typedef struct ini_ctx {
    const cm_cfg_table *t;
    void *cfg;
    cm_err *err;
    int rc;
} ini_ctx;

static int ini_cb(void *user, const char *section, const char *name, const char *value)
{
    (void)section;
    ini_ctx *c = user;
    if (c->rc != 0) {
        return 0;
    }
    c->rc = cm_config_set(c->t, c->cfg, name, value, c->err);
    return c->rc == 0;
}

void cm_config_print_help(const cm_cfg_table *t, cm_buf *out)
{
    cm_buf_printf(out, "usage: %s [--config FILE] [--OPTION=VALUE ...]\n%s\n\noptions:\n",
                  t->program, t->summary);
    cm_buf_printf(out, "  %-28s %s\n", "--config FILE", "read options from an INI file");
    cm_buf_printf(out, "  %-28s %s\n", "--help", "print this help and exit");
    for (size_t i = 0; i < t->count; i++) {
        const cm_cfg_option *o = &t->options[i];
        const char *kind = "";
        char range[96] = "";
        switch (o->type) {
        case CM_CFG_BOOL:
            kind = "bool";
            break;
        case CM_CFG_INT:
            kind = "int";
            snprintf(range, sizeof(range), " [%lld..%lld]", (long long)o->min, (long long)o->max);
            break;
        case CM_CFG_SIZE:
            kind = "size";
            snprintf(range, sizeof(range), " [%lld..%lld bytes]", (long long)o->min,
                     (long long)o->max);
            break;
        case CM_CFG_DURATION:
            kind = "duration";
            snprintf(range, sizeof(range), " [%lld..%lld ms]", (long long)o->min,
                     (long long)o->max);
            break;
        case CM_CFG_STRING:
            kind = "string";
            break;
        case CM_CFG_ENUM:
            kind = o->choices;
            break;
        }
        char flag[80];
        snprintf(flag, sizeof(flag), "--%s", o->name);
        cm_buf_printf(out, "  %-28s %s (%s, default '%s'%s)\n", flag, o->help, kind,
                      o->default_value ? o->default_value : "", range);
    }
}

static void print_help_and_free(const cm_cfg_table *t)
{
    cm_buf b = CM_BUF_INIT;
    cm_config_print_help(t, &b);
    fwrite(b.ptr, 1, b.len, stdout);
    cm_buf_fini(&b);
}

static int load(const cm_cfg_table *t, void *cfg, int *argc_inout, char **argv, cm_err *err);

int cm_config_load(const cm_cfg_table *t, void *cfg, int *argc_inout, char **argv, cm_err *err)
{
    int rc = load(t, cfg, argc_inout, argv, err);
    if (rc != 0) {
        cm_config_free(t, cfg); /* nothing is left to free on --help or on an error */
    }
    return rc;
}

static int load(const cm_cfg_table *t, void *cfg, int *argc_inout, char **argv, cm_err *err)
{
    int argc = *argc_inout;
    for (size_t i = 0; i < t->count; i++) {
        const cm_cfg_option *o = &t->options[i];
        int rc = set_option(o, cfg, o->default_value ? o->default_value : "", err);
        if (rc != 0) {
            return rc; /* a bad default is a programmer error, reported like bad input */
        }
    }
    /* First pass: --help and --config. */
    const char *config_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help_and_free(t);
            return CM_CONFIG_EXIT;
        }
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                return cm_err_set(err, CM_E_CONFIG, "--config needs a file name");
            }
            config_path = argv[i + 1];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            config_path = argv[i] + 9;
        }
    }
    if (config_path != NULL) {
        ini_ctx c = {t, cfg, err, 0};
        int line = ini_parse(config_path, ini_cb, &c);
        if (c.rc != 0) {
            return c.rc;
        }
        if (line < 0) {
            return cm_err_set(err, CM_E_CONFIG, "cannot read config file '%s'", config_path);
        }
        if (line > 0) {
            return cm_err_set(err, CM_E_CONFIG, "config file '%s': syntax error on line %d",
                              config_path, line);
        }
    }
    /* Second pass: flags; positional arguments are kept. */
    int out = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            argv[out++] = argv[i];
            continue;
        }
        if (strcmp(a, "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0) {
            continue;
        }
        char name[128];
        const char *eq = strchr(a + 2, '=');
        size_t nlen = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        if (nlen >= sizeof(name)) {
            return cm_err_set(err, CM_E_CONFIG, "option name too long: %s", a);
        }
        memcpy(name, a + 2, nlen);
        name[nlen] = '\0';
        const cm_cfg_option *o = find_option(t, name);
        if (o == NULL) {
            return cm_err_set(err, CM_E_CONFIG, "unknown option '--%s' (see --help)", name);
        }
        const char *value;
        if (eq) {
            value = eq + 1;
        } else if (o->type == CM_CFG_BOOL) {
            value = "true";
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return cm_err_set(err, CM_E_CONFIG, "option --%s needs a value", name);
        }
        int rc = set_option(o, cfg, value, err);
        if (rc != 0) {
            return rc;
        }
    }
    argv[out] = NULL;
    *argc_inout = out;
    return 0;
}

void cm_config_free(const cm_cfg_table *t, void *cfg)
{
    for (size_t i = 0; i < t->count; i++) {
        const cm_cfg_option *o = &t->options[i];
        if (o->type == CM_CFG_STRING) {
            char **field = (char **)((char *)cfg + o->offset);
            free(*field);
            *field = NULL;
        }
    }
}

static void json_string(cm_buf *out, const char *s)
{
    cm_buf_append_u8(out, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            cm_buf_printf(out, "\\%c", c);
        } else if (c < 0x20) {
            cm_buf_printf(out, "\\u%04x", c);
        } else {
            cm_buf_append_u8(out, c);
        }
    }
    cm_buf_append_u8(out, '"');
}

int cm_config_dump(const cm_cfg_table *t, const void *cfg, int as_json, cm_buf *out)
{
    if (as_json) {
        cm_buf_append_u8(out, '{');
    }
    for (size_t i = 0; i < t->count; i++) {
        const cm_cfg_option *o = &t->options[i];
        const char *field = (const char *)cfg + o->offset;
        char val[256];
        int quoted = 0;
        switch (o->type) {
        case CM_CFG_BOOL:
            snprintf(val, sizeof(val), "%s", *(const int *)field ? "true" : "false");
            break;
        case CM_CFG_ENUM:
            enum_name(o->choices, *(const int *)field, val, sizeof(val));
            quoted = 1;
            break;
        case CM_CFG_STRING: {
            const char *s = *(char *const *)field;
            snprintf(val, sizeof(val), "%s", s ? s : "");
            quoted = 1;
            break;
        }
        default:
            snprintf(val, sizeof(val), "%lld", (long long)*(const int64_t *)field);
            break;
        }
        if (as_json) {
            if (i > 0) {
                cm_buf_append_u8(out, ',');
            }
            json_string(out, o->name);
            cm_buf_append_u8(out, ':');
            if (quoted) {
                json_string(out, val);
            } else {
                cm_buf_printf(out, "%s", val);
            }
        } else {
            cm_buf_printf(out, "%s = %s\n", o->name, val);
        }
    }
    if (as_json) {
        cm_buf_append_u8(out, '}');
    }
    return cm_buf_terminate(out);
}

int cm_config_process_start(const cm_cfg_table *t, void *cfg, int argc, char **argv)
{
    cm_err err;
    int rc = cm_config_load(t, cfg, &argc, argv, &err);
    if (rc == CM_CONFIG_EXIT) {
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", t->program, err.msg);
        return 2;
    }
    if (argc > 1) {
        fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", t->program, argv[1]);
        cm_config_free(t, cfg);
        return 2;
    }
    const cm_cfg_option *level = find_option(t, "log-level");
    if (level != NULL && level->type == CM_CFG_ENUM) {
        cm_log_set_level((cm_log_level) * (const int *)((const char *)cfg + level->offset));
    }
    const cm_cfg_option *file = find_option(t, "log-file");
    if (file != NULL && file->type == CM_CFG_STRING) {
        const char *path = *(char *const *)((const char *)cfg + file->offset);
        if (path != NULL && path[0] != '\0' && cm_log_set_file(path) != 0) {
            fprintf(stderr, "%s: cannot open log file %s\n", t->program, path);
            cm_config_free(t, cfg);
            return 2;
        }
    }
    return -1;
}

int cm_daemon_main(const cm_daemon *d, const cm_cfg_table *t, void *cfg, int argc, char **argv)
{
    int rc = cm_config_process_start(t, cfg, argc, argv);
    if (rc >= 0) {
        return rc;
    }
    /* Blocked here, so every thread the server starts inherits the mask and the signal reaches
     * sigwait below. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    cm_buf cfg_json = CM_BUF_INIT;
    cm_config_dump(t, cfg, 1, &cfg_json);
    cm_buf_terminate(&cfg_json);
    cm_err err;
    void *server = NULL;
    rc = d->start(cfg, cfg_json.ptr ? (const char *)cfg_json.ptr : "{}", &server, &err);
    if (rc != 0) {
        CM_ERROR(d->component, "cannot start: %s", err.msg);
        fprintf(stderr, "%s: cannot start: %s\n", d->program, err.msg);
        cm_buf_fini(&cfg_json);
        cm_config_free(t, cfg);
        return 1;
    }
    d->print_ready(server, stdout); /* one line on stdout that scripts can wait for */
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    CM_INFO(d->component, "signal %d: shutting down", sig);
    d->stop(server);
    CM_INFO(d->component, "stopped");
    cm_buf_fini(&cfg_json);
    cm_config_free(t, cfg);
    return 0;
}
