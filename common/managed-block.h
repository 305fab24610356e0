/* Marked blocks in files that belong to someone else (~/.bash_aliases,
 * ~/.ssh/config, ~/.bashrc): mlrig rewrites only what lies between its markers. */
#pragma once

/* Replaces the block between "COMMENT >>> mlrig >>>" and "COMMENT <<< mlrig <<<"
 * in text (appending one when absent) with body. */
int managed_block(const char *text, const char *comment, const char *body, char **ret);
/* The same with markers of their own ("# >>> mlrig NAME >>>"), so one file can
 * hold a block per rig. */
int managed_block_named(const char *text, const char *comment, const char *name, const char *body, char **ret);
