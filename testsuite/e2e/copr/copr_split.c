/*
 * copr_split — splits a SQL table's row range into regions, for the coprocessor tests
 * (testsuite/e2e/copr/copr_diff.py, tools/accept.d/copr, tools/bench/copr).
 *
 *   copr_split PD_ADDR DB TABLE HANDLE...
 *
 * Looks the table up in the catalog (its id is not visible through SQL) and splits the region
 * holding the row key of each HANDLE at that key (cm_kv_split, as `ctl split` does), so rows
 * with a handle below the first HANDLE, between two consecutive ones, and above the last, live in
 * different regions. Prints "table_id N" then one "split at handle H" line per split. Exit status:
 * 0 done, 1 a call failed, 2 usage.
 */
#include "cm_err.h"
#include "cm_keys.h"
#include "cm_kv_client.h"
#include "sql_catalog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static int parse_handle(const char *s, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != 0) {
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: copr_split PD_ADDR DB TABLE HANDLE...\n");
        return 2;
    }
    for (int i = 4; i < argc; i++) {
        int64_t h;
        if (parse_handle(argv[i], &h) != 0) {
            fprintf(stderr, "copr_split: bad handle '%s'\n", argv[i]);
            return 2;
        }
    }
    cm_err err;
    cm_kv_client *kc = NULL;
    sql_catalog *cat = NULL;
    if (cm_kv_client_create(argv[1], NULL, &kc, &err) != 0) {
        fprintf(stderr, "copr_split: kv client: %s\n", err.msg);
        return 1;
    }
    if (sql_cat_open(kc, NULL, &cat, &err) != 0) {
        fprintf(stderr, "copr_split: catalog: %s\n", err.msg);
        cm_kv_client_free(kc);
        return 1;
    }
    int rc = 0;
    sql_schema *s = sql_cat_acquire(cat);
    const sql_cat_table *t = sql_schema_table(s, argv[2], argv[3]);
    if (t == NULL) {
        fprintf(stderr, "copr_split: no table %s.%s\n", argv[2], argv[3]);
        rc = 1;
    } else {
        int64_t tid = t->id;
        printf("table_id %" PRId64 "\n", tid);
        cm_buf key = CM_BUF_INIT;
        for (int i = 4; rc == 0 && i < argc; i++) {
            int64_t h = 0;
            (void)parse_handle(argv[i], &h);
            cm_buf_reset(&key);
            if (cm_keys_append_row(&key, tid, h) != 0) {
                fprintf(stderr, "copr_split: out of memory\n");
                rc = 1;
            } else if (cm_kv_split(kc, cm_buf_slice(&key), &err) != 0) {
                fprintf(stderr, "copr_split: split at handle %" PRId64 ": %s\n", h, err.msg);
                rc = 1;
            } else {
                printf("split at handle %" PRId64 "\n", h);
            }
        }
        cm_buf_fini(&key);
    }
    fflush(stdout);
    sql_schema_release(s);
    sql_cat_close(cat);
    cm_kv_client_free(kc);
    return rc;
}
