/* cm_err.c — look-ups in the error table of cm_err.h and error context helpers. */
#include "cm_err.h"

#include <stdio.h>
#include <string.h>

typedef struct err_row {
    int code;
    const char *name;
    int mysql_errno;
    const char *sqlstate;
    const char *message;
} err_row;

static const err_row err_rows[] = {
#define CM_ERR_ROW_(name, code, my, st, msg) {code, #name, my, st, msg},
    CM_ERROR_TABLE(CM_ERR_ROW_)
#undef CM_ERR_ROW_
};

static const err_row *find_row(int code)
{
    for (size_t i = 0; i < sizeof(err_rows) / sizeof(err_rows[0]); i++) {
        if (err_rows[i].code == code) {
            return &err_rows[i];
        }
    }
    return NULL;
}

static const err_row *row_or_internal(int code)
{
    const err_row *r = find_row(code);
    return r ? r : find_row(CM_E_INTERNAL);
}

int cm_err_vset(cm_err *err, int code, const char *fmt, va_list ap)
{
    if (err == NULL) {
        return code;
    }
    err->code = code;
    if (fmt == NULL || fmt[0] == '\0') {
        snprintf(err->msg, sizeof(err->msg), "%s", cm_err_message(code));
    } else {
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    }
    return code;
}

int cm_err_set(cm_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cm_err_vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

void cm_err_clear(cm_err *err)
{
    if (err != NULL) {
        err->code = CM_OK;
        err->msg[0] = '\0';
    }
}

const char *cm_err_name(int code)
{
    return row_or_internal(code)->name;
}

const char *cm_err_message(int code)
{
    return row_or_internal(code)->message;
}

int cm_err_mysql_errno(int code)
{
    return row_or_internal(code)->mysql_errno;
}

const char *cm_err_sqlstate(int code)
{
    return row_or_internal(code)->sqlstate;
}

int cm_err_known(int code)
{
    return find_row(code) != NULL;
}
