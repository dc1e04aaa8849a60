/*
 * cm_time.h — the process's real clocks. Only process edges (servers, tools) call these: the
 * Raft core and anything that runs under simulation gets time injected instead.
 */
#ifndef CM_TIME_H
#define CM_TIME_H

#include <stdint.h>

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC). */
uint64_t cm_time_mono_ns(void);
/* Monotonic clock in milliseconds. */
uint64_t cm_time_mono_ms(void);
/* Wall clock in milliseconds since the Unix epoch (CLOCK_REALTIME; may step). */
uint64_t cm_time_wall_ms(void);
/* Sleeps for ms milliseconds (restarting on EINTR). */
void cm_time_sleep_ms(uint64_t ms);

#endif
