/* posix_spawn wrapper that collects a tool's output for error messages. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "process.h"

extern char **environ;

static char **env_with(char *const extra[]) {
	size_t n = 0, m = 0;
	char **env;

	while (environ[n])
		n++;
	while (extra && extra[m])
		m++;
	env = calloc(n + m + 1, sizeof(char *));
	if (!env)
		return NULL;
	/* extra entries first: getenv() returns the first match */
	for (size_t i = 0; i < m; i++)
		env[i] = extra[i];
	for (size_t i = 0; i < n; i++)
		env[m + i] = environ[i];
	return env;
}

int run_command(char *const argv[], char *const extra_env[], char **ret_output) {
	return run_command_input(argv, extra_env, NULL, ret_output);
}

int run_command_input(char *const argv[], char *const extra_env[], const char *input, char **ret_output) {
	_cleanup_free_ char **env = env_with(extra_env);
	posix_spawn_file_actions_t fa;
	int pipefd[2] = { -1, -1 }, in_fd = -1, r, status;
	pid_t pid;

	if (!env)
		return -ENOMEM;
	if (input) {
		/* small inputs (sfdisk scripts): a memfd avoids a writer thread */
		in_fd = memfd_create("mlrig-input", MFD_CLOEXEC);
		if (in_fd < 0)
			return negative_errno();
		r = loop_write(in_fd, input, strlen(input));
		if (r < 0 || lseek(in_fd, 0, SEEK_SET) < 0) {
			close(in_fd);
			return r < 0 ? r : negative_errno();
		}
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		if (in_fd >= 0)
			close(in_fd);
		return negative_errno();
	}
	posix_spawn_file_actions_init(&fa);
	if (in_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (in_fd >= 0)
		close(in_fd);
	if (r != 0) {
		close(pipefd[0]);
		return log_debug_errno(r, "cannot start %s: %m", argv[0]);
	}
	{
		char *out = NULL;
		size_t n = 0;

		r = read_full_fd(pipefd[0], &out, &n);
		close(pipefd[0]);
		if (r >= 0 && ret_output)
			*ret_output = out;
		else
			free(out);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return negative_errno();
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	log_debug("%s exited with %d", argv[0], WEXITSTATUS(status));
	return WEXITSTATUS(status);
}
