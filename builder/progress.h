/* One-line progress on a TTY (bytes, rate, ETA); silent otherwise or with --quiet. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct progress {
	const char *what;
	bool enabled;
	double start, last;
};

void progress_init(struct progress *p, const char *what, bool quiet);
void progress_update(struct progress *p, uint64_t done, uint64_t total);
void progress_done(struct progress *p);
