/*
 * sql_type_num.c — numbers as MySQL writes and reads them in conversions: a double's text (the
 * shortest digits that read back as the same value), and the numeric prefix of a string
 * ('12abc' → 12 with a truncation warning).
 */
#include "sql_types_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Shortest %.*e form of d that reads back as d (as a double, or as a float when is_float):
 * digits without the point into dig, returns the decimal exponent. */
static int shortest_digits(double d, bool is_float, char dig[24], int *ndig)
{
    char buf[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec - 1, d);
        double back = strtod(buf, NULL);
        if (is_float ? (float)back == (float)d : back == d) {
            break;
        }
    }
    if (prec > 17) {
        prec = 17;
        snprintf(buf, sizeof(buf), "%.*e", prec - 1, d);
    }
    /* buf: "d.ddde[+-]xx" (d non-negative here) */
    int n = 0;
    const char *p = buf;
    for (; *p != '\0' && *p != 'e'; p++) {
        if (*p >= '0' && *p <= '9') {
            dig[n++] = *p;
        }
    }
    int exp = *p == 'e' ? atoi(p + 1) : 0;
    while (n > 1 && dig[n - 1] == '0') {
        n--;
    }
    dig[n] = '\0';
    *ndig = n;
    return exp;
}

static int format_real(double d, bool is_float, cm_buf *out)
{
    if (isnan(d)) {
        return cm_buf_printf(out, "NaN");
    }
    if (isinf(d)) {
        return cm_buf_printf(out, d < 0 ? "-inf" : "inf");
    }
    if (d == 0) {
        return cm_buf_printf(out, signbit(d) ? "-0" : "0");
    }
    char dig[24];
    int n;
    int rc = 0;
    if (d < 0) {
        rc = cm_buf_append_u8(out, '-');
        d = -d;
    }
    int exp = shortest_digits(d, is_float, dig, &n);
    if (rc != 0) {
        return rc;
    }
    if (exp < -4 || exp >= 15) { /* 1.5e-7, 1e15 */
        rc = cm_buf_append_u8(out, (uint8_t)dig[0]);
        if (rc == 0 && n > 1) {
            rc = cm_buf_printf(out, ".%s", dig + 1);
        }
        return rc != 0 ? rc : cm_buf_printf(out, "e%d", exp);
    }
    if (exp < 0) { /* 0.000ddd */
        rc = cm_buf_printf(out, "0.");
        for (int i = 0; rc == 0 && i < -exp - 1; i++) {
            rc = cm_buf_append_u8(out, '0');
        }
        return rc != 0 ? rc : cm_buf_append(out, dig, (size_t)n);
    }
    /* integer part: exp + 1 digits (padded with zeros), then the rest */
    for (int i = 0; rc == 0 && i <= exp; i++) {
        rc = cm_buf_append_u8(out, (uint8_t)(i < n ? dig[i] : '0'));
    }
    if (rc == 0 && n > exp + 1) {
        rc = cm_buf_append_u8(out, '.');
        if (rc == 0) {
            rc = cm_buf_append(out, dig + exp + 1, (size_t)(n - exp - 1));
        }
    }
    return rc;
}

int sql_num_format_double(double d, cm_buf *out)
{
    return format_real(d, false, out);
}

int sql_num_format_float(float f, cm_buf *out)
{
    return format_real((double)f, true, out);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

void sql_num_prefix(const char *s, size_t n, size_t *start, size_t *used, bool *rest_blank)
{
    size_t i = 0;
    while (i < n && is_space(s[i])) {
        i++;
    }
    *start = i;
    size_t j = i;
    if (j < n && (s[j] == '+' || s[j] == '-')) {
        j++;
    }
    size_t nd = 0;
    while (j < n && is_digit(s[j])) {
        j++;
        nd++;
    }
    if (j < n && s[j] == '.') {
        size_t k = j + 1, fd = 0;
        while (k < n && is_digit(s[k])) {
            k++;
            fd++;
        }
        if (nd + fd > 0) {
            j = k;
            nd += fd;
        }
    }
    if (nd == 0) {
        *used = 0;
        *rest_blank = false;
        return;
    }
    if (j < n && (s[j] == 'e' || s[j] == 'E')) {
        size_t k = j + 1;
        if (k < n && (s[k] == '+' || s[k] == '-')) {
            k++;
        }
        if (k < n && is_digit(s[k])) {
            while (k < n && is_digit(s[k])) {
                k++;
            }
            j = k;
        }
    }
    *used = j;
    size_t k = j;
    while (k < n && is_space(s[k])) {
        k++;
    }
    *rest_blank = k == n;
}
