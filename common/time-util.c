/* One monotonic clock for the builder and the agent, so every duration and deadline reads the same source. */
#include <errno.h>
#include <time.h>

#include "time-util.h"

static struct timespec monotonic(void) {
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

uint64_t now_ms(void) {
	struct timespec ts = monotonic();

	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

double now_seconds(void) {
	struct timespec ts = monotonic();

	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sleep_ms(uint64_t ms) {
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
