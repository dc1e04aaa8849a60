/* sql_charset.c — the table of known collations (ids are MySQL's). utf8mb4's default is
 * utf8mb4_bin, as in TiDB: it is how Tessera compares text (DESIGN.md §7). */
#include "sql_charset.h"

#include <string.h>
#include <strings.h>

static const sql_collation collations[] = {
    {8, "latin1_swedish_ci", "latin1", 1, 1},
    {11, "ascii_general_ci", "ascii", 1, 1},
    {33, "utf8mb3_general_ci", "utf8mb3", 1, 3},
    {45, "utf8mb4_general_ci", "utf8mb4", 0, 4},
    {46, "utf8mb4_bin", "utf8mb4", 1, 4},
    {47, "latin1_bin", "latin1", 0, 1},
    {63, "binary", "binary", 1, 1},
    {65, "ascii_bin", "ascii", 0, 1},
    {83, "utf8mb3_bin", "utf8mb3", 0, 3},
    {192, "utf8mb3_unicode_ci", "utf8mb3", 0, 3},
    {224, "utf8mb4_unicode_ci", "utf8mb4", 0, 4},
    {255, "utf8mb4_0900_ai_ci", "utf8mb4", 0, 4},
    {309, "utf8mb4_0900_bin", "utf8mb4", 0, 4},
};

#define NCOLL (sizeof(collations) / sizeof(collations[0]))

/* Older names clients still send: "utf8_*" means utf8mb3_* in MySQL 8. */
static int name_eq(const char *a, const char *b, size_t n)
{
    return strlen(a) == n && strncasecmp(a, b, n) == 0;
}

const sql_collation *sql_collation_by_id(uint16_t id)
{
    for (size_t i = 0; i < NCOLL; i++) {
        if (collations[i].id == id) {
            return &collations[i];
        }
    }
    return NULL;
}

const sql_collation *sql_collation_by_name(const char *name, size_t n)
{
    for (size_t i = 0; i < NCOLL; i++) {
        if (name_eq(collations[i].name, name, n)) {
            return &collations[i];
        }
    }
    if (n > 5 && strncasecmp(name, "utf8_", 5) == 0) {
        char buf[64];
        if (n + 3 < sizeof(buf)) {
            memcpy(buf, "utf8mb3_", 8);
            memcpy(buf + 8, name + 5, n - 5);
            return sql_collation_by_name(buf, n + 3);
        }
    }
    return NULL;
}

const sql_collation *sql_charset_default(const char *charset, size_t n)
{
    if (name_eq("utf8", charset, n)) {
        charset = "utf8mb3";
        n = 7;
    }
    for (size_t i = 0; i < NCOLL; i++) {
        if (collations[i].is_default && name_eq(collations[i].charset, charset, n)) {
            return &collations[i];
        }
    }
    return NULL;
}

size_t sql_collation_count(void)
{
    return NCOLL;
}

const sql_collation *sql_collation_at(size_t i)
{
    return i < NCOLL ? &collations[i] : NULL;
}

const char *sql_charset_description(const char *charset)
{
    if (strcmp(charset, "utf8mb4") == 0) {
        return "UTF-8 Unicode";
    }
    if (strcmp(charset, "utf8mb3") == 0) {
        return "UTF-8 Unicode (3 bytes)";
    }
    if (strcmp(charset, "latin1") == 0) {
        return "cp1252 West European";
    }
    if (strcmp(charset, "ascii") == 0) {
        return "US ASCII";
    }
    return "Binary pseudo charset";
}
