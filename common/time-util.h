/* The one monotonic clock (durations, deadlines, progress rates) and the one wall clock the agent reads. */
#pragma once

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds; never goes back, not the time of day. */
uint64_t now_ms(void);
/* The same clock in seconds, for durations shown to people. */
double now_seconds(void);
/* Sleeps for ms milliseconds (resumed after signals). */
void sleep_ms(uint64_t ms);

/* The time of day in seconds since 1970, or $MLRIG_NOW when set: tests move the agent's
 * clock with it (DDNS back-off, daily checks, the journal's times). */
uint64_t now_wall(void);
/* -EINVAL when $MLRIG_NOW is set but is not a number of seconds, so a program can refuse
 * to start rather than run on the real clock by mistake; 0 otherwise. */
int now_wall_check(void);
