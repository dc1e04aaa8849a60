/*
 * cm_log.h — leveled, structured logging.
 *
 * One line per event: `2026-11-22T10:00:00.123456Z INFO  pd  tso.c:42  message key=value …`.
 * Structured fields are written as key=value pairs inside the message by convention
 * (component, region, txn, store …). The level check is an inline comparison, so a disabled
 * level costs one branch and its arguments are never evaluated.
 */
#ifndef CM_LOG_H
#define CM_LOG_H

#include <stdio.h>

typedef enum cm_log_level {
    CM_LOG_TRACE = 0,
    CM_LOG_DEBUG = 1,
    CM_LOG_INFO = 2,
    CM_LOG_WARN = 3,
    CM_LOG_ERROR = 4,
    CM_LOG_OFF = 5,
} cm_log_level;

extern volatile int cm_log_level_min;

/* Sets the minimum level printed. */
void cm_log_set_level(cm_log_level level);
/* Parses "trace|debug|info|warn|error|off"; returns -1 when the name is unknown. */
int cm_log_level_parse(const char *name);
const char *cm_log_level_name(cm_log_level level);
/* Sends log lines to path (appending), or to stderr when path is NULL or empty.
 * Returns 0 or CM_E_IO. */
int cm_log_set_file(const char *path);
/* Writes one line; use the macros below instead. */
void cm_log_write(cm_log_level level, const char *component, const char *file, int line,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define CM_LOG(level, component, ...)                                                              \
    do {                                                                                           \
        if ((int)(level) >= cm_log_level_min) {                                                    \
            cm_log_write((level), (component), __FILE__, __LINE__, __VA_ARGS__);                   \
        }                                                                                          \
    } while (0)
#define CM_TRACE(component, ...) CM_LOG(CM_LOG_TRACE, component, __VA_ARGS__)
#define CM_DEBUG(component, ...) CM_LOG(CM_LOG_DEBUG, component, __VA_ARGS__)
#define CM_INFO(component, ...)  CM_LOG(CM_LOG_INFO, component, __VA_ARGS__)
#define CM_WARN(component, ...)  CM_LOG(CM_LOG_WARN, component, __VA_ARGS__)
#define CM_ERROR(component, ...) CM_LOG(CM_LOG_ERROR, component, __VA_ARGS__)

#endif
