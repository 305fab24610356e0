/* The spawner: exit statuses, capture, input, environment, descriptors, timeouts, missing programs, PDEATHSIG. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "fs-util.h"
#include "macro.h"
#include "process.h"
#include "test.h"
#include "time-util.h"

/* sh -c SCRIPT, with stdout (and stderr merged) captured */
static int sh(const char *script, struct process_result *res) {
	char *argv[] = { "sh", "-c", (char *)script, NULL };

	return process_run(&(struct process_options){ .argv = argv, .stdin_mode = PROCESS_NULL,
						      .stdout_mode = PROCESS_CAPTURE, .stderr_mode = PROCESS_TO_STDOUT },
			   res);
}

TEST(exit_status_and_signals) {
	struct process_result res = {};
	char buf[64];

	ASSERT_EQ(sh("exit 0", &res), 0);
	process_result_release(&res);
	ASSERT_EQ(sh("exit 3", &res), 3);
	ASSERT_EQ(res.status, 3);
	process_result_release(&res);
	ASSERT_EQ(sh("kill -TERM $$", &res), 128 + SIGTERM);
	ASSERT_CONTAINS(process_status_to_string(res.status, buf, sizeof(buf)), "signal 15");
	process_result_release(&res);
	ASSERT_STREQ(process_status_to_string(3, buf, sizeof(buf)), "exited with status 3");
}

TEST(capture_stdout_stderr) {
	struct process_result res = {};
	char *argv[] = { "sh", "-c", "echo out; echo err >&2; echo out2", NULL };

	/* merged: in the order written */
	ASSERT_EQ(sh("echo out; echo err >&2; echo out2", &res), 0);
	ASSERT_STREQ(res.out, "out\nerr\nout2\n");
	ASSERT_TRUE(res.err == NULL);
	process_result_release(&res);

	/* apart */
	ASSERT_EQ(process_run(&(struct process_options){ .argv = argv, .stdout_mode = PROCESS_CAPTURE,
							 .stderr_mode = PROCESS_CAPTURE },
			      &res),
		  0);
	ASSERT_STREQ(res.out, "out\nout2\n");
	ASSERT_STREQ(res.err, "err\n");
	process_result_release(&res);

	/* more than a pipe holds, while the child still runs */
	ASSERT_EQ(sh("head -c 3000000 /dev/zero | tr '\\0' x", &res), 0);
	ASSERT_EQ(strlen(res.out), 3000000);
	process_result_release(&res);
}

TEST(input_and_stdin_modes) {
	struct process_result res = {};
	char *cat[] = { "cat", NULL };

	ASSERT_EQ(process_run(&(struct process_options){ .argv = cat, .input = "line one\nline two\n",
							 .stdout_mode = PROCESS_CAPTURE },
			      &res),
		  0);
	ASSERT_STREQ(res.out, "line one\nline two\n");
	process_result_release(&res);
	/* /dev/null: cat ends at once, with nothing */
	ASSERT_EQ(process_run(&(struct process_options){ .argv = cat, .stdin_mode = PROCESS_NULL,
							 .stdout_mode = PROCESS_CAPTURE },
			      &res),
		  0);
	ASSERT_STREQ(res.out, "");
	process_result_release(&res);
}

TEST(environment_set_and_unset) {
	struct process_result res = {};
	char *argv[] = { "sh", "-c", "echo \"A=$MLRIG_T_A B=${MLRIG_T_B-unset} C=$MLRIG_T_C\"", NULL };
	char *set[] = { "MLRIG_T_A=new", NULL };
	const char *const unset[] = { "MLRIG_T_B", NULL };

	setenv("MLRIG_T_A", "old", 1);
	setenv("MLRIG_T_B", "gone", 1);
	setenv("MLRIG_T_C", "kept", 1);
	ASSERT_EQ(process_run(&(struct process_options){ .argv = argv, .env_set = set, .env_unset = unset,
							 .stdout_mode = PROCESS_CAPTURE },
			      &res),
		  0);
	ASSERT_STREQ(res.out, "A=new B=unset C=kept\n");
	process_result_release(&res);
	unsetenv("MLRIG_T_A");
	unsetenv("MLRIG_T_B");
	unsetenv("MLRIG_T_C");
}

TEST(descriptors) {
	struct process_result res = {};
	char *readlink3[] = { "readlink", "/proc/self/fd/3", NULL };
	char *cat3[] = { "sh", "-c", "cat <&3", NULL };
	_cleanup_close_ int fd = -1, out = -1;
	char *data = NULL;
	int p[2];

	ASSERT_OK(write_file_atomic("three", "via fd 3\n", 9, 0644));
	fd = open("three", O_RDONLY | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	/* a close-on-exec descriptor passed on arrives as fd 3, whatever its number here */
	ASSERT_EQ(process_run(&(struct process_options){ .argv = readlink3, .stdout_mode = PROCESS_CAPTURE,
							 .pass_fds = &fd, .n_pass_fds = 1 },
			      &res),
		  0);
	ASSERT_CONTAINS(res.out, "/three");
	process_result_release(&res);
	ASSERT_EQ(process_run(&(struct process_options){ .argv = cat3, .stdout_mode = PROCESS_CAPTURE,
							 .pass_fds = &fd, .n_pass_fds = 1 },
			      &res),
		  0);
	ASSERT_STREQ(res.out, "via fd 3\n");
	process_result_release(&res);

	/* stdout to a descriptor of ours; stderr follows it */
	out = open("out", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_TRUE(out >= 0);
	ASSERT_EQ(process_run(&(struct process_options){ .argv = (char *[]){ "sh", "-c", "echo a; echo b >&2", NULL },
							 .stdout_mode = PROCESS_FD, .stdout_fd = out,
							 .stderr_mode = PROCESS_TO_STDOUT },
			      NULL),
		  0);
	ASSERT_OK(read_full_file("out", &data, NULL));
	ASSERT_STREQ(data, "a\nb\n");
	free(data);

	/* nothing of ours leaks: our close-on-exec pipe is not among the child's descriptors */
	ASSERT_TRUE(pipe2(p, O_CLOEXEC) == 0);
	ASSERT_EQ(process_run(&(struct process_options){ .argv = (char *[]){ "sh", "-c", "ls /proc/$$/fd", NULL },
							 .stdin_mode = PROCESS_NULL, .stdout_mode = PROCESS_CAPTURE,
							 .stderr_mode = PROCESS_NULL },
			      &res),
		  0);
	for (char *l = res.out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		int n = (int)strtol(l, NULL, 10);

		ASSERT_TRUE(n != p[0] && n != p[1]);
	}
	close(p[0]);
	close(p[1]);
	process_result_release(&res);
}

TEST(missing_program) {
	struct process_result res = {};
	char *argv[] = { "mlrig-no-such-program-xyz", NULL };
	char *abs[] = { "/nonexistent/bin/tool", NULL };
	uint64_t t0 = now_ms();

	ASSERT_EQ(process_run(&(struct process_options){ .argv = argv }, &res), -ENOENT);
	ASSERT_EQ(process_run(&(struct process_options){ .argv = abs }, &res), -ENOENT);
	/* not executable: the exec fails in the child and the errno comes back */
	ASSERT_OK(write_file_atomic("script", "#!/bin/sh\necho hi\n", 18, 0644));
	ASSERT_EQ(process_run(&(struct process_options){ .argv = (char *[]){ "./script", NULL } }, &res), -EACCES);
	ASSERT_TRUE(now_ms() - t0 < 5000);
}

TEST(timeout_kills) {
	struct process_result res = {};
	uint64_t t0 = now_ms();
	char *argv[] = { "sh", "-c", "echo started; exec sleep 30", NULL };

	ASSERT_EQ(process_run(&(struct process_options){ .argv = argv, .stdout_mode = PROCESS_CAPTURE,
							 .timeout_ms = 300 },
			      &res),
		  -ETIME);
	ASSERT_TRUE(now_ms() - t0 < 3000);
	ASSERT_STREQ(res.out, "started\n"); /* what it wrote until then, for the message */
	process_result_release(&res);
	/* fast enough: the timeout changes nothing */
	ASSERT_EQ(process_run(&(struct process_options){ .argv = (char *[]){ "true", NULL }, .timeout_ms = 5000 }, NULL),
		  0);
}

TEST(spawn_wait_kill) {
	pid_t pid;
	int status = -1;

	ASSERT_OK(process_spawn(&(struct process_options){ .argv = (char *[]){ "sh", "-c", "exit 7", NULL } }, &pid));
	ASSERT_OK(process_wait(pid, &status));
	ASSERT_EQ(status, 7);

	ASSERT_OK(process_spawn(&(struct process_options){ .argv = (char *[]){ "sleep", "30", NULL },
							   .new_process_group = true },
				&pid));
	ASSERT_EQ(process_try_wait(pid, &status), 0);
	ASSERT_EQ(getpgid(pid), pid);
	process_kill_and_wait(pid, 1000);
	ASSERT_TRUE(kill(pid, 0) < 0 && errno == ESRCH);
	/* capture needs process_run */
	ASSERT_EQ(process_spawn(&(struct process_options){ .argv = (char *[]){ "true", NULL },
							   .stdout_mode = PROCESS_CAPTURE },
				&pid),
		  -EINVAL);
}

/* The child goes when its parent does (PR_SET_PDEATHSIG), even while it ignores SIGTERM. */
TEST(child_dies_with_parent) {
	int p[2];
	pid_t middle, grandchild = 0;

	ASSERT_TRUE(pipe(p) == 0);
	middle = fork();
	ASSERT_TRUE(middle >= 0);
	if (middle == 0) {
		pid_t pid;

		close(p[0]);
		if (process_spawn(&(struct process_options){ .argv = (char *[]){ "sh", "-c", "trap '' TERM; sleep 30", NULL } },
				  &pid) < 0)
			_exit(1);
		if (write(p[1], &pid, sizeof(pid)) != sizeof(pid))
			_exit(1);
		_exit(0); /* dies without reaping or killing its child */
	}
	close(p[1]);
	ASSERT_EQ(read(p[0], &grandchild, sizeof(grandchild)), sizeof(grandchild));
	close(p[0]);
	ASSERT_TRUE(waitpid(middle, NULL, 0) == middle);
	for (int i = 0; i < 200 && kill(grandchild, 0) == 0; i++)
		sleep_ms(10);
	ASSERT_TRUE(kill(grandchild, 0) < 0 && errno == ESRCH);
}

TEST(rm_rf_tree) {
	struct stat st;

	ASSERT_TRUE(mkdir("t", 0755) == 0 && mkdir("t/a", 0755) == 0 && mkdir("t/a/b", 0700) == 0);
	ASSERT_OK(write_file_atomic("t/a/b/f", "x", 1, 0400));
	ASSERT_OK(write_file_atomic("outside", "keep", 4, 0644));
	ASSERT_TRUE(symlink("../../outside", "t/a/link") == 0);
	ASSERT_TRUE(symlink("/", "t/root-link") == 0);
	ASSERT_OK(rm_rf("t"));
	ASSERT_TRUE(lstat("t", &st) < 0 && errno == ENOENT);
	ASSERT_TRUE(stat("outside", &st) == 0); /* links removed, never followed */
	ASSERT_OK(rm_rf("t"));                   /* already gone is fine */
	ASSERT_OK(rm_rf("outside"));
	ASSERT_TRUE(stat("outside", &st) < 0);
}

TEST(tmpdir_honours_TMPDIR) {
	char *dir = NULL, *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
	char here[4096];

	ASSERT_TRUE(getcwd(here, sizeof(here)) != NULL);
	setenv("TMPDIR", here, 1);
	ASSERT_STREQ(tmp_dir(), here);
	ASSERT_OK(make_tmpdir("mlrig-x", &dir));
	ASSERT_TRUE(strncmp(dir, here, strlen(here)) == 0);
	ASSERT_CONTAINS(dir, "/mlrig-x.");
	ASSERT_OK(rm_rf(dir));
	free(dir);
	setenv("TMPDIR", "", 1);
	ASSERT_STREQ(tmp_dir(), "/tmp");
	if (old)
		setenv("TMPDIR", old, 1);
	else
		unsetenv("TMPDIR");
	free(old);
}
