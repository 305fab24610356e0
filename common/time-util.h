/* The one monotonic clock: durations, deadlines, progress rates. */
#pragma once

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds; never goes back, not the time of day. */
uint64_t now_ms(void);
/* The same clock in seconds, for durations shown to people. */
double now_seconds(void);
/* Sleeps for ms milliseconds (resumed after signals). */
void sleep_ms(uint64_t ms);
