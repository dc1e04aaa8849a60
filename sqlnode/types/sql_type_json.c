/*
 * sql_type_json.c — JSON values in the form MySQL prints them. A JSON column stores the text it
 * was given (validated by sql_json_valid); reads go through sql_json_normalize, so clients see
 * what MySQL 8.0 shows: `{"a": 1, "b": [1, 2.5]}`. The document model and MySQL's printing
 * rules are sql_json.h's (shared with the JSON functions, so a column and a function print a
 * document alike).
 *
 * The input was validated when stored; a text that does not parse (a corrupt row) is returned as
 * it is rather than failing the read.
 */
#include "sql_types_int.h"

#include "sql_json.h"

int sql_json_normalize(const uint8_t *s, size_t n, cm_buf *out)
{
    sql_jnode *j = sql_json_parse((const char *)s, n);
    if (j == NULL) {
        return cm_buf_append(out, s, n);
    }
    size_t mark = out->len;
    int rc = sql_json_print(out, j);
    sql_json_free(j);
    if (rc != 0) {
        out->len = mark;
        return CM_E_NOMEM;
    }
    return 0;
}
