/* sql_like.c — MySQL's LIKE in place of SQLite's like() (which SQLite calls for `x LIKE p` and
 * `x LIKE p ESCAPE e`): `%` any run of characters, `_` exactly one character (a UTF-8 code
 * point, not a byte), and the escape character `\` by default (SQLite has none unless ESCAPE is
 * written, so `'a_b' LIKE 'a\_b'` was false). Comparison is by code point, case-sensitive:
 * Tessera's text collation is utf8mb4_bin (DESIGN.md section 7). A NULL operand gives NULL.
 * ESCAPE '' means no escape character, as in MySQL; a longer ESCAPE is MySQL's 1210. */
#include "sql_session_int.h"

#include <string.h>

/* Length of the UTF-8 character at p (1 for a byte that starts no valid sequence). */
static size_t char_len(const unsigned char *p, const unsigned char *end)
{
    size_t n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 1;
    if ((size_t)(end - p) < n) {
        return 1;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            return 1;
        }
    }
    return n;
}

/* Whether s[0, sn) matches pattern p[0, pn) with escape character esc[0, en) (en 0: none).
 * Iterative with one backtrack point (the last %), so no input can make it blow up. */
static int like_match(const unsigned char *p, size_t pn, const unsigned char *s, size_t sn,
                      const unsigned char *esc, size_t en)
{
    const unsigned char *pe = p + pn, *se = s + sn;
    const unsigned char *star_p = NULL, *star_s = NULL;
    while (s < se) {
        if (p < pe && *p == '%') {
            while (p < pe && *p == '%') {
                p++;
            }
            if (p == pe) {
                return 1;
            }
            star_p = p;
            star_s = s;
            continue;
        }
        if (p < pe) {
            size_t pl = char_len(p, pe), sl = char_len(s, se);
            const unsigned char *lit = p;
            size_t ll = pl;
            int any = 0;
            if (en > 0 && pl == en && memcmp(p, esc, en) == 0 && p + pl < pe) {
                lit = p + pl; /* escaped: the next character is literal */
                ll = char_len(lit, pe);
                pl += ll;
            } else if (*p == '_') {
                any = 1;
            }
            if (any || (ll == sl && memcmp(lit, s, sl) == 0)) {
                p += pl;
                s += sl;
                continue;
            }
        }
        if (star_p == NULL) {
            return 0;
        }
        star_s += char_len(star_s, se);
        s = star_s;
        p = star_p;
    }
    while (p < pe && *p == '%') {
        p++;
    }
    return p == pe;
}

static void fn_like(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    for (int i = 0; i < argc; i++) {
        if (sqlite3_value_type(argv[i]) == SQLITE_NULL) {
            sqlite3_result_null(ctx);
            return;
        }
    }
    /* like(pattern, string [, escape]) */
    const unsigned char *p = sqlite3_value_text(argv[0]);
    int pn = sqlite3_value_bytes(argv[0]);
    const unsigned char *s = sqlite3_value_text(argv[1]);
    int sn = sqlite3_value_bytes(argv[1]);
    const unsigned char *esc = (const unsigned char *)"\\";
    size_t en = 1;
    if (argc == 3) {
        esc = sqlite3_value_text(argv[2]);
        en = (size_t)sqlite3_value_bytes(argv[2]);
        if (esc == NULL || (en > 0 && char_len(esc, esc + en) != en)) {
            sql_sess *sess = sqlite3_user_data(ctx);
            cm_err_set(&sess->fn_err, CM_E_WRONG_ARGUMENTS, "Incorrect arguments to ESCAPE");
            sqlite3_result_error(ctx, "Incorrect arguments to ESCAPE", -1);
            return;
        }
    }
    if (p == NULL || s == NULL) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sqlite3_result_int(ctx, like_match(p, (size_t)pn, s, (size_t)sn, esc, en));
}

int sql_like_register(sql_sess *s)
{
    int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
    if (sqlite3_create_function(s->db, "like", 2, flags, s, fn_like, NULL, NULL) != SQLITE_OK ||
        sqlite3_create_function(s->db, "like", 3, flags, s, fn_like, NULL, NULL) != SQLITE_OK) {
        return CM_E_INTERNAL;
    }
    return 0;
}
