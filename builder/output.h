/* An output file that appears whole or not at all: written to a temp file next
 * to it, removed on failure or SIGINT/SIGTERM/SIGHUP, renamed into place at the end. */
#pragma once

/* Creates the temp file (mode 0644, locked while the fd is open) and arms the signal cleanup;
 * returns the fd. */
int output_open(const char *path, char **ret_tmp);
/* fsync, rename over path, fsync the directory; disarms the cleanup. */
int output_commit(int fd, const char *tmp, const char *path);
/* Removes the temp file (NULL is fine) and disarms the cleanup. */
void output_discard(const char *tmp);
/* Removes the temp files a killed run left next to path (those no run holds locked); their
 * paths in *ret_removed (a NULL-terminated strv, NULL when none), for the verb to say. */
int output_remove_stale(const char *path, char ***ret_removed);
