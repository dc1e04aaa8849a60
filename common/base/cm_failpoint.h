/*
 * cm_failpoint.h — named failpoints for tests: an integer value per name, 0 when unset.
 *
 * Compiled in only with -Dfailpoints=true (CM_FAILPOINTS; build-asan has it, the release build
 * never does): without it CM_FP(name) is the constant 0 and the compiler drops the code a
 * failpoint guards. Values come from the environment at the first use
 * (TESSERA_FAILPOINTS="name=value,name=value") and change at run time through cm_fp_set
 * (the sqlnode's `ADMIN FAILPOINT` statement). Names are at most 63 bytes; at most 64 names.
 *
 * The failpoints of the code base are listed in docs/building-and-testing.md "Failpoints".
 */
#ifndef CM_FAILPOINT_H
#define CM_FAILPOINT_H

#include <stdbool.h>
#include <stdint.h>

/* Whether failpoints are compiled into this build. */
bool cm_fp_enabled(void);
/* Sets name to v (0 clears it). -1 when failpoints are not compiled in or the table is full. */
int cm_fp_set(const char *name, int64_t v);
/* The value of name (0 when unset or not compiled in). Thread-safe; cheap (one mutex). */
int64_t cm_fp_get(const char *name);

#ifdef CM_FAILPOINTS
#define CM_FP(name) cm_fp_get(name)
#else
#define CM_FP(name) ((int64_t)0)
#endif

#endif
