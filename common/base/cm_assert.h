/*
 * cm_assert.h — assertions for broken invariants only (never for bad input or OOM, which return
 * errors). CM_ASSERT is compiled in when CM_ENABLE_ASSERT is set (debug, test and simulation
 * builds; the default build too, see meson_options.txt). CM_ALWAYS/CM_NEVER mark defensive checks,
 * as SQLite's ALWAYS()/NEVER() do: they assert in checked builds and are plain conditions
 * otherwise.
 */
#ifndef CM_ASSERT_H
#define CM_ASSERT_H

/* Prints file, line and message, then aborts. For programmer errors only. */
_Noreturn void cm_panic(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define CM_PANIC(...) cm_panic(__FILE__, __LINE__, __VA_ARGS__)

#if defined(CM_ENABLE_ASSERT) && CM_ENABLE_ASSERT
#define CM_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            cm_panic(__FILE__, __LINE__, "assertion failed: %s", #cond);                           \
        }                                                                                          \
    } while (0)
#define CM_ALWAYS(x) ((x) ? 1 : (cm_panic(__FILE__, __LINE__, "ALWAYS failed: %s", #x), 0))
#define CM_NEVER(x)  ((x) ? (cm_panic(__FILE__, __LINE__, "NEVER failed: %s", #x), 1) : 0)
#else
#define CM_ASSERT(cond) ((void)0)
#define CM_ALWAYS(x)    (x)
#define CM_NEVER(x)     (x)
#endif

#define CM_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#define CM_ARRAY_LEN(a)             (sizeof(a) / sizeof((a)[0]))

#endif
