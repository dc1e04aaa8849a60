/* cm_log.c — see cm_log.h. A line is formatted into a stack buffer and written with one
 * write(2), so concurrent threads never interleave within a line. */
#include "cm_log.h"
#include "cm_assert.h"
#include "cm_err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile int cm_log_level_min = CM_LOG_INFO;
static int log_fd = 2;

static const char *const level_names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF"};

void cm_log_set_level(cm_log_level level)
{
    cm_log_level_min = (int)level;
}

int cm_log_level_parse(const char *name)
{
    for (int i = 0; i <= CM_LOG_OFF; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            return i;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        return CM_LOG_WARN;
    }
    return -1;
}

const char *cm_log_level_name(cm_log_level level)
{
    if ((int)level < 0 || level > CM_LOG_OFF) {
        return "?";
    }
    return level_names[level];
}

int cm_log_set_file(const char *path)
{
    if (path == NULL || path[0] == '\0') {
        log_fd = 2;
        return 0;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        return CM_E_IO;
    }
    log_fd = fd;
    return 0;
}

void cm_log_write(cm_log_level level, const char *component, const char *file, int line,
                  const char *fmt, ...)
{
    char buf[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    int n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %-5s %s %s:%d ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000, cm_log_level_name(level), component, base, line);
    if (n < 0 || (size_t)n >= sizeof(buf)) {
        n = 0;
    }
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) {
        m = 0;
    }
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(buf) - 2) {
        len = sizeof(buf) - 2;
    }
    buf[len++] = '\n';
    ssize_t w;
    do {
        w = write(log_fd, buf, len);
    } while (w < 0 && errno == EINTR);
}

_Noreturn void cm_panic(const char *file, int line, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cm_log_write(CM_LOG_ERROR, "panic", file, line, "%s", msg);
    abort();
}
