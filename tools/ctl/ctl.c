/*
 * ctl — the operator's command-line tool; talks to PD through the PD client (common/kvclient).
 *
 *   ctl --pd HOST:PORT tso [--count N]     N timestamps, one per line
 *   ctl --pd HOST:PORT members             PD's name, address, cluster id, bootstrap state
 *   ctl --pd HOST:PORT stores              every store (table; --json for JSON)
 *   ctl --pd HOST:PORT regions             every region in key order
 *   ctl --pd HOST:PORT region KEY|ID       the region with that id (all digits) or covering KEY
 *   ctl --pd HOST:PORT split KEY           split the region holding user key KEY at KEY
 *                                          (through the kvnode leading it; kvclient)
 *
 * KEY is text with C escapes (\xNN, \\), or hex:HEX for raw bytes, or key:TEXT to force a key
 * that looks like a number. In tables, keys print with non-printable bytes as \xNN, the empty
 * start key as -inf and the empty end key as +inf. Exit status: 0 ok, 1 the call failed,
 * 2 usage.
 */
#include "cm_config.h"
#include "cm_kv_client.h"
#include "cm_pd_client.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ctl_config {
    char *pd;
    int json;
    int64_t count;
    int64_t timeout_ms;
} ctl_config;

static const cm_cfg_option options[] = {
    {"pd", CM_CFG_STRING, offsetof(ctl_config, pd), "127.0.0.1:2379", 0, 0, NULL,
     "PD address HOST:PORT"},
    {"json", CM_CFG_BOOL, offsetof(ctl_config, json), "false", 0, 0, NULL,
     "print JSON instead of a table"},
    {"count", CM_CFG_INT, offsetof(ctl_config, count), "1", 1, 10000000, NULL,
     "tso: how many timestamps"},
    {"timeout", CM_CFG_DURATION, offsetof(ctl_config, timeout_ms), "5s", 100, 600000, NULL,
     "give up when PD has not answered within this time"},
};

static const cm_cfg_table table = {
    "ctl",
    "Tessera control tool.\n\ncommands:\n"
    "  tso [--count N]   print N timestamps, one per line\n"
    "  members           PD's name, address, cluster id\n"
    "  stores            the stores PD knows\n"
    "  regions           every region, in key order\n"
    "  region KEY|ID     one region: by id (digits) or the one covering KEY\n"
    "                    (KEY: text with \\xNN escapes, hex:HEX, or key:TEXT)",
    options, sizeof(options) / sizeof(options[0])};

/* ---- key formatting ---------------------------------------------------------------------- */

static void print_key_text(FILE *f, cm_slice k, const char *empty)
{
    if (k.len == 0) {
        fputs(empty, f);
        return;
    }
    for (size_t i = 0; i < k.len; i++) {
        unsigned char c = k.ptr[i];
        if (c == '\\') {
            fputs("\\\\", f);
        } else if (isprint(c) && c != '"') {
            fputc(c, f);
        } else {
            fprintf(f, "\\x%02x", c);
        }
    }
}

static void print_key_json(FILE *f, cm_slice k)
{
    /* Escaped text (JSON-safe) and hex, so scripts can use either. */
    fputs("{\"text\":\"", f);
    for (size_t i = 0; i < k.len; i++) {
        unsigned char c = k.ptr[i];
        if (c == '\\' || c == '"') {
            fprintf(f, "\\%c", c);
        } else if (c >= 0x20 && c < 0x7f) {
            fputc(c, f);
        } else {
            fprintf(f, "\\\\x%02x", c);
        }
    }
    fputs("\",\"hex\":\"", f);
    for (size_t i = 0; i < k.len; i++) {
        fprintf(f, "%02x", k.ptr[i]);
    }
    fputs("\"}", f);
}

static void print_json_str(FILE *f, const char *v)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\') {
            fprintf(f, "\\%c", *p);
        } else if (*p < 0x20) {
            fprintf(f, "\\u%04x", *p);
        } else {
            fputc(*p, f);
        }
    }
    fputc('"', f);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Parses KEY as described at the top. Returns 0 or -1 (bad escape / hex). */
static int parse_key(const char *arg, cm_buf *out)
{
    if (strncmp(arg, "hex:", 4) == 0) {
        const char *h = arg + 4;
        size_t n = strlen(h);
        if (n % 2 != 0) {
            return -1;
        }
        for (size_t i = 0; i < n; i += 2) {
            int a = hexval(h[i]), b = hexval(h[i + 1]);
            if (a < 0 || b < 0) {
                return -1;
            }
            cm_buf_append_u8(out, (uint8_t)(a * 16 + b));
        }
        return 0;
    }
    if (strncmp(arg, "key:", 4) == 0) {
        arg += 4;
    }
    for (const char *p = arg; *p; p++) {
        if (*p != '\\') {
            cm_buf_append_u8(out, (uint8_t)*p);
            continue;
        }
        p++;
        if (*p == '\\') {
            cm_buf_append_u8(out, '\\');
        } else if (*p == 'x' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            cm_buf_append_u8(out, (uint8_t)(hexval(p[1]) * 16 + hexval(p[2])));
            p += 2;
        } else {
            return -1;
        }
    }
    return 0;
}

static int all_digits(const char *s)
{
    if (*s == '\0') {
        return 0;
    }
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s)) {
            return 0;
        }
    }
    return 1;
}

/* ---- commands ---------------------------------------------------------------------------- */

static int cmd_tso(cm_pd_client *c, const ctl_config *cfg)
{
    int64_t left = cfg->count;
    int first_out = 1;
    if (cfg->json) {
        fputs("[", stdout);
    }
    while (left > 0) {
        uint32_t n = left > (1 << 18) ? (1u << 18) : (uint32_t)left;
        uint64_t first;
        cm_err err;
        if (cm_pd_get_ts_n(c, n, &first, &err) != 0) {
            fprintf(stderr, "ctl: tso: %s\n", err.msg);
            return 1;
        }
        for (uint32_t i = 0; i < n; i++) {
            uint64_t ts = first + i;
            if (cfg->json) {
                printf("%s{\"ts\":%" PRIu64 ",\"physical_ms\":%" PRIu64 ",\"logical\":%u}",
                       first_out ? "" : ",", ts, cm_pd_ts_physical_ms(ts), cm_pd_ts_logical(ts));
            } else {
                printf("%" PRIu64 "\n", ts);
            }
            first_out = 0;
        }
        left -= n;
    }
    if (cfg->json) {
        fputs("]\n", stdout);
    }
    return 0;
}

static int cmd_members(cm_pd_client *c, const ctl_config *cfg)
{
    cm_pd_members m;
    cm_err err;
    if (cm_pd_get_members(c, &m, &err) != 0) {
        fprintf(stderr, "ctl: members: %s\n", err.msg);
        return 1;
    }
    if (cfg->json) {
        printf("{\"cluster_id\":%" PRIu64 ",\"name\":", m.cluster_id);
        print_json_str(stdout, m.name);
        fputs(",\"advertise_addr\":", stdout);
        print_json_str(stdout, m.advertise_addr);
        printf(",\"bootstrapped\":%s,\"start_wall_ms\":%" PRIu64 ",\"version\":",
               m.bootstrapped ? "true" : "false", m.start_wall_ms);
        print_json_str(stdout, m.version);
        fputs("}\n", stdout);
    } else {
        printf("cluster_id    %" PRIu64 "\nname          %s\naddress       %s\nbootstrapped  %s\n"
               "version       %s\n",
               m.cluster_id, m.name, m.advertise_addr, m.bootstrapped ? "yes" : "no", m.version);
    }
    return 0;
}

static int cmd_stores(cm_pd_client *c, const ctl_config *cfg)
{
    cm_pd_store *v = NULL;
    size_t n = 0;
    cm_err err;
    if (cm_pd_get_all_stores(c, 0, &v, &n, &err) != 0) {
        fprintf(stderr, "ctl: stores: %s\n", err.msg);
        return 1;
    }
    if (cfg->json) {
        fputs("[", stdout);
        for (size_t i = 0; i < n; i++) {
            const cm_pd_store *s = &v[i];
            printf("%s{\"id\":%" PRIu64 ",\"address\":", i ? "," : "", s->id);
            print_json_str(stdout, s->address);
            fputs(",\"status_address\":", stdout);
            print_json_str(stdout, s->status_address);
            printf(",\"state\":\"%s\",\"capacity_bytes\":%" PRIu64 ",\"available_bytes\":%" PRIu64
                   ",\"used_bytes\":%" PRIu64 ",\"region_count\":%u,\"leader_count\":%u,"
                   "\"heartbeat_age_ms\":%" PRIu64 "}",
                   cm_pd_store_live_name(s->live_state), s->stats.capacity_bytes,
                   s->stats.available_bytes, s->stats.used_bytes, s->stats.region_count,
                   s->stats.leader_count, s->heartbeat_age_ms);
        }
        fputs("]\n", stdout);
    } else {
        printf("%-6s %-24s %-13s %8s %8s %14s %14s %12s\n", "ID", "ADDRESS", "STATE", "REGIONS",
               "LEADERS", "CAPACITY", "AVAILABLE", "HEARTBEAT");
        for (size_t i = 0; i < n; i++) {
            const cm_pd_store *s = &v[i];
            char age[32];
            snprintf(age, sizeof(age), "%.1fs ago", (double)s->heartbeat_age_ms / 1000.0);
            printf("%-6" PRIu64 " %-24s %-13s %8u %8u %14" PRIu64 " %14" PRIu64 " %12s\n", s->id,
                   s->address, cm_pd_store_live_name(s->live_state), s->stats.region_count,
                   s->stats.leader_count, s->stats.capacity_bytes, s->stats.available_bytes, age);
        }
        printf("(%zu stores)\n", n);
    }
    free(v);
    return 0;
}

static void print_region_row(const cm_pd_region *r)
{
    printf("%-8" PRIu64 " ", r->id);
    print_key_text(stdout, cm_buf_slice(&r->start_key), "-inf");
    fputs("  ", stdout);
    print_key_text(stdout, cm_buf_slice(&r->end_key), "+inf");
    printf("  conf_ver=%" PRIu64 " version=%" PRIu64 " peers=", r->conf_ver, r->version);
    for (uint32_t i = 0; i < r->npeers; i++) {
        printf("%s%" PRIu64 "@%" PRIu64 "%s", i ? "," : "", r->peers[i].id, r->peers[i].store_id,
               r->peers[i].role == 1 ? "(learner)" : "");
    }
    if (r->leader.id != 0) {
        printf(" leader=%" PRIu64 "@%" PRIu64, r->leader.id, r->leader.store_id);
    } else {
        fputs(" leader=?", stdout);
    }
    printf(" size=%" PRIu64 " keys=%" PRIu64 "\n", r->approx_size_bytes, r->approx_keys);
}

static void print_region_json(const cm_pd_region *r)
{
    printf("{\"id\":%" PRIu64 ",\"start_key\":", r->id);
    print_key_json(stdout, cm_buf_slice(&r->start_key));
    fputs(",\"end_key\":", stdout);
    print_key_json(stdout, cm_buf_slice(&r->end_key));
    printf(",\"conf_ver\":%" PRIu64 ",\"version\":%" PRIu64 ",\"peers\":[", r->conf_ver,
           r->version);
    for (uint32_t i = 0; i < r->npeers; i++) {
        printf("%s{\"id\":%" PRIu64 ",\"store_id\":%" PRIu64 ",\"role\":\"%s\"}", i ? "," : "",
               r->peers[i].id, r->peers[i].store_id, r->peers[i].role == 1 ? "learner" : "voter");
    }
    printf("],\"leader\":");
    if (r->leader.id != 0) {
        printf("{\"id\":%" PRIu64 ",\"store_id\":%" PRIu64 "}", r->leader.id, r->leader.store_id);
    } else {
        fputs("null", stdout);
    }
    printf(",\"approximate_size_bytes\":%" PRIu64 ",\"approximate_keys\":%" PRIu64 "}",
           r->approx_size_bytes, r->approx_keys);
}

static int cmd_regions(cm_pd_client *c, const ctl_config *cfg)
{
    cm_buf start = CM_BUF_INIT;
    size_t total = 0;
    int rc = 0;
    if (cfg->json) {
        fputs("[", stdout);
    } else {
        printf("%-8s %s\n", "ID", "START  END  EPOCH  PEERS(peer@store)  LEADER  SIZE  KEYS");
    }
    /* Page through the key space; each page starts at the end key of the previous one. */
    for (;;) {
        cm_pd_region *v = NULL;
        size_t n = 0;
        cm_err err;
        if (cm_pd_scan_regions(c, cm_buf_slice(&start), cm_slice_make(NULL, 0), 0, &v, &n, &err) !=
            0) {
            fprintf(stderr, "ctl: regions: %s\n", err.msg);
            rc = 1;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            if (cfg->json) {
                fputs(total ? "," : "", stdout);
                print_region_json(&v[i]);
            } else {
                print_region_row(&v[i]);
            }
            total++;
        }
        int more = n > 0 && v[n - 1].end_key.len > 0;
        if (more) {
            cm_buf_reset(&start);
            cm_buf_append_slice(&start, cm_buf_slice(&v[n - 1].end_key));
        }
        cm_pd_regions_free(v, n);
        if (!more) {
            break;
        }
    }
    if (cfg->json) {
        fputs("]\n", stdout);
    } else if (rc == 0) {
        printf("(%zu regions)\n", total);
    }
    cm_buf_fini(&start);
    return rc;
}

static int cmd_region(cm_pd_client *c, const ctl_config *cfg, const char *arg)
{
    cm_pd_region r;
    cm_pd_region_init(&r);
    cm_err err;
    int rc;
    if (all_digits(arg)) {
        rc = cm_pd_get_region_by_id(c, strtoull(arg, NULL, 10), &r, &err);
    } else {
        cm_buf key = CM_BUF_INIT;
        if (parse_key(arg, &key) != 0) {
            fprintf(stderr, "ctl: region: bad key '%s' (text with \\xNN escapes, or hex:HEX)\n",
                    arg);
            cm_buf_fini(&key);
            cm_pd_region_fini(&r);
            return 2;
        }
        rc = cm_pd_get_region(c, cm_buf_slice(&key), &r, &err);
        cm_buf_fini(&key);
    }
    if (rc != 0) {
        fprintf(stderr, "ctl: region: %s\n", err.msg);
        cm_pd_region_fini(&r);
        return 1;
    }
    if (cfg->json) {
        print_region_json(&r);
        fputs("\n", stdout);
    } else {
        print_region_row(&r);
    }
    cm_pd_region_fini(&r);
    return 0;
}

/* Splits the region holding user key arg at arg (the kvnode encodes it and proposes the split
 * through Raft with ids from PD). */
static int cmd_split(const ctl_config *cfg, const char *arg)
{
    cm_buf key = CM_BUF_INIT;
    if (parse_key(arg, &key) != 0 || key.len == 0) {
        fprintf(stderr, "ctl: split: bad key '%s'\n", arg);
        cm_buf_fini(&key);
        return 2;
    }
    cm_kv_client_options o;
    cm_kv_client_options_default(&o);
    o.retry_budget_ms = cfg->timeout_ms;
    cm_kv_client *kc = NULL;
    cm_err err;
    int rc = cm_kv_client_create(cfg->pd, &o, &kc, &err);
    rc = rc ? rc : cm_kv_split(kc, cm_buf_slice(&key), &err);
    cm_kv_client_free(kc);
    cm_buf_fini(&key);
    if (rc != 0) {
        fprintf(stderr, "ctl: split: %s\n", err.msg);
        return 1;
    }
    printf("split at %s\n", arg);
    return 0;
}

int main(int argc, char **argv)
{
    ctl_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cm_err err;
    int rc = cm_config_load(&table, &cfg, &argc, argv, &err);
    if (rc == CM_CONFIG_EXIT) {
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "ctl: %s\n", err.msg);
        return 2;
    }
    if (argc < 2) {
        fprintf(stderr, "ctl: no command given (see --help)\n");
        cm_config_free(&table, &cfg);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "split") == 0 && argc == 3) {
        rc = cmd_split(&cfg, argv[2]);
        cm_config_free(&table, &cfg);
        return rc;
    }
    int known = strcmp(cmd, "tso") == 0 || strcmp(cmd, "members") == 0 ||
                strcmp(cmd, "stores") == 0 || strcmp(cmd, "regions") == 0 ||
                (strcmp(cmd, "region") == 0 && argc == 3);
    if (!known || (strcmp(cmd, "region") != 0 && argc != 2)) {
        fprintf(stderr, "ctl: bad command line (see --help)\n");
        cm_config_free(&table, &cfg);
        return 2;
    }
    cm_pd_client_options o;
    cm_pd_client_options_default(&o);
    o.retry_budget_ms = cfg.timeout_ms;
    o.request_timeout_ms = cfg.timeout_ms < 3000 ? cfg.timeout_ms : 3000;
    cm_pd_client *c = NULL;
    if (cm_pd_client_create(cfg.pd, &o, &c, &err) != 0) {
        fprintf(stderr, "ctl: %s\n", err.msg);
        cm_config_free(&table, &cfg);
        return 1;
    }
    if (strcmp(cmd, "tso") == 0) {
        rc = cmd_tso(c, &cfg);
    } else if (strcmp(cmd, "members") == 0) {
        rc = cmd_members(c, &cfg);
    } else if (strcmp(cmd, "stores") == 0) {
        rc = cmd_stores(c, &cfg);
    } else if (strcmp(cmd, "regions") == 0) {
        rc = cmd_regions(c, &cfg);
    } else {
        rc = cmd_region(c, &cfg, argv[2]);
    }
    cm_pd_client_free(c);
    cm_config_free(&table, &cfg);
    return rc;
}
