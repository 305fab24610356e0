/* Runs every registered test in its own temp dir; prints a summary line. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-util.h"
#include "test.h"

static struct test *tests;
static jmp_buf fail_jump;
static char dir[4096];
static char skip_reason[512];

void test_register(struct test *t) {
	struct test **p = &tests;

	while (*p)
		p = &(*p)->next;
	*p = t;
}

const char *test_dir(void) {
	return dir;
}

void test_fail(const char *file, int line, const char *fmt, ...) {
	va_list ap;

	fprintf(stderr, "%s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	longjmp(fail_jump, 1);
}

void test_skip(const char *fmt, ...) {
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(skip_reason, sizeof(skip_reason), fmt, ap);
	va_end(ap);
	longjmp(fail_jump, 2);
}

int main(int argc, char **argv) {
	/* static: setjmp may clobber automatic variables */
	static int passed, failed, skipped;
	static struct test *t;
	char cwd[4096];

	if (!getcwd(cwd, sizeof(cwd)))
		return 1;
	for (t = tests; t; t = t->next) {
		if (argc > 1 && strcmp(argv[1], t->name) != 0)
			continue;
		snprintf(dir, sizeof(dir), "%s/mlrig-test-%s-XXXXXX", tmp_dir(), t->name);
		if (!mkdtemp(dir) || chdir(dir) < 0) {
			perror("mkdtemp");
			return 1;
		}
		switch (setjmp(fail_jump)) {
		case 0:
			t->fn();
			printf("PASS %s\n", t->name);
			passed++;
			if (chdir(cwd) < 0)
				return 1;
			(void)rm_rf(dir);
			break;
		case 2:
			printf("SKIP %s: %s\n", t->name, skip_reason);
			skipped++;
			if (chdir(cwd) < 0)
				return 1;
			(void)rm_rf(dir);
			break;
		default:
			printf("FAIL %s (kept %s)\n", t->name, dir);
			failed++;
			if (chdir(cwd) < 0)
				return 1;
		}
	}
	printf("%s: %d passed, %d failed, %d skipped\n", argv[0], passed, failed, skipped);
	/* 77, the automake convention tests/run.sh counts, only when nothing ran at all */
	return failed ? 1 : skipped && !passed ? 77 : 0;
}
