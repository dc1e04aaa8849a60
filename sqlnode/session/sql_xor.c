/* sql_xor.c — operand boundaries of MySQL's XOR (sql_xor.h). */
#include "sql_xor.h"

#include <string.h>

static int word(const char *src, const sql_token *t, const char *const *list)
{
    if (t->type != SQL_TK_IDENT) {
        return 0;
    }
    for (; *list; list++) {
        if (sql_tok_is(src, t, *list)) {
            return 1;
        }
    }
    return 0;
}

static int op_is(const char *src, const sql_token *t, const char *op)
{
    size_t n = strlen(op);
    return t->type == SQL_TK_OP && t->len == n && memcmp(src + t->off, op, n) == 0;
}

/* `||` as OR (not under PIPES_AS_CONCAT) and `:=`: looser than XOR. */
static int loose_op(const char *src, const sql_token *t, unsigned mode)
{
    return (op_is(src, t, "||") && !(mode & SQL_MODE_PIPES_AS_CONCAT)) || op_is(src, t, ":=");
}

/* Words before which a left operand cannot reach: clause starts and looser operators. */
static const char *const left_stop[] = {"OR",
                                        "SELECT",
                                        "DISTINCT",
                                        "DISTINCTROW",
                                        "ALL",
                                        "WHERE",
                                        "HAVING",
                                        "ON",
                                        "WHEN",
                                        "THEN",
                                        "ELSE",
                                        "SET",
                                        "BY",
                                        "LIMIT",
                                        "VALUES",
                                        "VALUE",
                                        "UPDATE",
                                        "DO",
                                        "RETURN",
                                        "USING",
                                        "SQL_NO_CACHE",
                                        "SQL_CACHE",
                                        "SQL_CALC_FOUND_ROWS",
                                        "HIGH_PRIORITY",
                                        "STRAIGHT_JOIN",
                                        "SQL_SMALL_RESULT",
                                        "SQL_BIG_RESULT",
                                        "SQL_BUFFER_RESULT",
                                        NULL};

/* Words where a right operand ends. */
static const char *const right_stop[] = {
    "OR",      "XOR",    "FROM",  "WHERE", "GROUP",         "HAVING", "ORDER",     "LIMIT", "THEN",
    "WHEN",    "ELSE",   "END",   "AS",    "UNION",         "EXCEPT", "INTERSECT", "INTO",  "FOR",
    "LOCK",    "WINDOW", "USING", "ON",    "JOIN",          "INNER",  "LEFT",      "RIGHT", "CROSS",
    "NATURAL", "DESC",   "ASC",   "SET",   "STRAIGHT_JOIN", NULL};

/* Operator words: a bare word after an operand that is one of these continues the expression;
 * any other bare word there is an alias. */
static const char *const operators[] = {
    "AND",  "NOT",   "IS",      "IN",     "LIKE",   "REGEXP",   "RLIKE", "BETWEEN",
    "DIV",  "MOD",   "COLLATE", "ESCAPE", "SOUNDS", "MEMBER",   "OF",    "NULL",
    "TRUE", "FALSE", "UNKNOWN", "CASE",   "BINARY", "INTERVAL", NULL};

static int ends_operand(const char *src, const sql_token *t)
{
    switch (t->type) {
    case SQL_TK_INT:
    case SQL_TK_DECIMAL:
    case SQL_TK_FLOAT:
    case SQL_TK_STRING:
    case SQL_TK_HEX:
    case SQL_TK_BIT:
    case SQL_TK_QIDENT:
    case SQL_TK_RPAREN:
    case SQL_TK_SYSVAR:
    case SQL_TK_USERVAR:
    case SQL_TK_PARAM:
        return 1;
    case SQL_TK_IDENT:
        return !word(src, t, operators) || sql_tok_is(src, t, "NULL") ||
               sql_tok_is(src, t, "TRUE") || sql_tok_is(src, t, "FALSE") ||
               sql_tok_is(src, t, "UNKNOWN");
    default:
        return 0;
    }
}

/* After a SET (or a comma of a SET list): skips `col =` so that the assignment's `=` is not
 * taken as a comparison inside the operand. */
static uint32_t skip_assignment(const char *src, const sql_token *t, uint32_t j, uint32_t x)
{
    uint32_t k = j;
    while (k < x &&
           (t[k].type == SQL_TK_IDENT || t[k].type == SQL_TK_QIDENT || t[k].type == SQL_TK_DOT)) {
        k++;
    }
    if (k > j && k < x && op_is(src, &t[k], "=")) {
        return k + 1;
    }
    return j;
}

/* Whether the comma at t[c] separates assignments (the nearest clause word before it at its
 * depth is SET, or UPDATE of ON DUPLICATE KEY UPDATE). */
static int comma_in_set(const char *src, const sql_token *t, uint32_t b, uint32_t c)
{
    int nest = 0;
    for (uint32_t j = c; j-- > b;) {
        if (t[j].type == SQL_TK_RPAREN) {
            nest++;
        } else if (t[j].type == SQL_TK_LPAREN) {
            if (nest == 0) {
                return 0;
            }
            nest--;
        } else if (nest == 0 && t[j].type == SQL_TK_IDENT) {
            if (sql_tok_is(src, &t[j], "SET") || sql_tok_is(src, &t[j], "UPDATE")) {
                return 1;
            }
            if (word(src, &t[j], left_stop)) {
                return 0;
            }
        }
    }
    return 0;
}

uint32_t sql_xor_left(const char *src, const sql_token *t, uint32_t b, uint32_t x, unsigned mode)
{
    int nest = 0;
    for (uint32_t j = x; j-- > b;) {
        const sql_token *k = &t[j];
        if (k->type == SQL_TK_RPAREN || (k->type == SQL_TK_IDENT && sql_tok_is(src, k, "END"))) {
            nest++;
            continue;
        }
        if (k->type == SQL_TK_LPAREN || (k->type == SQL_TK_IDENT && sql_tok_is(src, k, "CASE"))) {
            if (nest == 0) {
                return j + 1;
            }
            nest--;
            continue;
        }
        if (nest > 0) {
            continue;
        }
        if (k->type == SQL_TK_COMMA || k->type == SQL_TK_SEMI) {
            return comma_in_set(src, t, b, j) ? skip_assignment(src, t, j + 1, x) : j + 1;
        }
        if (loose_op(src, k, mode)) {
            return j + 1;
        }
        if (word(src, k, left_stop)) {
            int set = sql_tok_is(src, k, "SET") ||
                      (sql_tok_is(src, k, "UPDATE") && j > b && sql_tok_is(src, &t[j - 1], "KEY"));
            return set ? skip_assignment(src, t, j + 1, x) : j + 1;
        }
    }
    return b;
}

uint32_t sql_xor_right(const char *src, const sql_token *t, uint32_t x, uint32_t e, unsigned mode)
{
    int nest = 0;
    for (uint32_t j = x + 1; j < e; j++) {
        const sql_token *k = &t[j];
        if (k->type == SQL_TK_LPAREN || (k->type == SQL_TK_IDENT && sql_tok_is(src, k, "CASE"))) {
            nest++;
            continue;
        }
        if (k->type == SQL_TK_RPAREN || (k->type == SQL_TK_IDENT && sql_tok_is(src, k, "END"))) {
            if (nest == 0) {
                return j;
            }
            nest--;
            continue;
        }
        if (nest > 0) {
            continue;
        }
        if (k->type == SQL_TK_COMMA || k->type == SQL_TK_SEMI || loose_op(src, k, mode) ||
            word(src, k, right_stop)) {
            return j;
        }
        /* an alias: a name right after a complete operand */
        if (j > x + 1 && ends_operand(src, &t[j - 1]) &&
            (k->type == SQL_TK_QIDENT || k->type == SQL_TK_STRING ||
             (k->type == SQL_TK_IDENT && !word(src, k, operators))) &&
            !(j + 1 < e && (t[j + 1].type == SQL_TK_LPAREN || t[j + 1].type == SQL_TK_DOT)) &&
            !(t[j - 1].type == SQL_TK_DOT)) {
            if (!(k->type == SQL_TK_STRING && t[j - 1].type == SQL_TK_STRING)) {
                return j;
            }
        }
    }
    return e;
}
