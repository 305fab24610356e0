/* Running reference tools (mke2fs, mkfs.vfat, mcopy, ...) with argument vectors, never a shell. */
#pragma once

/* Runs argv[0] (looked up in PATH) with extra_env ("NAME=value", NULL-terminated,
 * may be NULL) added to the environment. stdout and stderr are collected into
 * *ret_output when it is non-NULL (else discarded). Returns the exit status
 * (0..255), 128+signal when killed, or -errno when it could not be started. */
int run_command(char *const argv[], char *const extra_env[], char **ret_output);

/* The same, with input (a NUL-terminated text) on the tool's stdin. */
int run_command_input(char *const argv[], char *const extra_env[], const char *input, char **ret_output);
