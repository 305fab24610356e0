/* Progress line for long work, redrawn at most 5 times a second. */
#include <stdio.h>
#include <unistd.h>

#include "progress.h"
#include "time-util.h"

void progress_init(struct progress *p, const char *what, bool quiet) {
	p->what = what;
	p->enabled = !quiet && isatty(STDERR_FILENO);
	p->start = now_seconds();
	p->last = 0;
}

void progress_update(struct progress *p, uint64_t done, uint64_t total) {
	double t = now_seconds(), rate;

	if (!p->enabled || t - p->last < 0.2)
		return;
	p->last = t;
	rate = (double)done / (t - p->start > 0.001 ? t - p->start : 0.001);
	if (total > 0 && done <= total && rate > 0)
		fprintf(stderr, "\r%s: %llu/%llu MiB, %.0f MiB/s, ETA %.0f s\033[K", p->what,
			(unsigned long long)(done >> 20), (unsigned long long)(total >> 20), rate / 1048576.0,
			(double)(total - done) / rate);
	else if (total > 0 && done <= total) /* nothing done yet: no rate to give */
		fprintf(stderr, "\r%s: %llu/%llu MiB\033[K", p->what, (unsigned long long)(done >> 20),
			(unsigned long long)(total >> 20));
	else
		fprintf(stderr, "\r%s: %llu MiB, %.0f MiB/s\033[K", p->what, (unsigned long long)(done >> 20),
			rate / 1048576.0);
	fflush(stderr);
}

void progress_done(struct progress *p) {
	if (p->enabled && p->last > 0)
		fputs("\r\033[K", stderr);
}
