/* Runs every registered test in its own temp dir; prints a summary line. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static struct test *tests;
static jmp_buf fail_jump;
static char dir[4096];

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

static void remove_tree(const char *path) {
	char *argv[] = { "rm", "-rf", (char *)path, NULL };
	pid_t pid = fork();

	if (pid == 0) {
		execvp("rm", argv);
		_exit(127);
	}
	if (pid > 0) {
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	}
}

int main(int argc, char **argv) {
	/* static: setjmp may clobber automatic variables */
	static int passed, failed;
	static struct test *t;
	char cwd[4096];
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	if (!getcwd(cwd, sizeof(cwd)))
		return 1;
	for (t = tests; t; t = t->next) {
		if (argc > 1 && strcmp(argv[1], t->name) != 0)
			continue;
		snprintf(dir, sizeof(dir), "%s/mlrig-test-%s-XXXXXX", tmp, t->name);
		if (!mkdtemp(dir) || chdir(dir) < 0) {
			perror("mkdtemp");
			return 1;
		}
		if (setjmp(fail_jump) == 0) {
			t->fn();
			printf("PASS %s\n", t->name);
			passed++;
			if (chdir(cwd) < 0)
				return 1;
			remove_tree(dir);
		} else {
			printf("FAIL %s (kept %s)\n", t->name, dir);
			failed++;
			if (chdir(cwd) < 0)
				return 1;
		}
	}
	printf("%s: %d passed, %d failed\n", argv[0], passed, failed);
	return failed ? 1 : 0;
}
