/* One monotonic clock for the builder and the agent, so every duration and deadline reads the same source,
 * and one wall clock, which tests can set. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "parse-util.h"
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

static int wall_override(uint64_t *ret) {
	const char *env = getenv("MLRIG_NOW");

	if (!env)
		return 0;
	return safe_atou64(env, ret) < 0 ? -EINVAL : 1;
}

uint64_t now_wall(void) {
	uint64_t t;

	if (wall_override(&t) > 0)
		return t;
	return (uint64_t)time(NULL);
}

int now_wall_check(void) {
	uint64_t t;

	return wall_override(&t) < 0 ? -EINVAL : 0;
}
