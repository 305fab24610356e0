/* The one way code below the verbs hands a message up with its -errno: the
 * caller passes `char **ret_error`, the callee fills it; only the program
 * (a verb, the agent's stage runner) logs it. */
#pragma once

#include <stdarg.h>

#include "macro.h"

/* Replaces *ret_error with the formatted message (%m is strerror(-r)) and
 * returns r, so a function can `return set_error(ret_error, -EINVAL, "...")`.
 * ret_error may be NULL: then only r is returned. */
int set_error(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);
int set_errorv(char **ret_error, int r, const char *fmt, va_list ap) _printf_(3, 0);
/* Puts the formatted text and ": " before the message in *error, when there is
 * one; returns r. For adding where it happened ("rootfs.tar: ") on the way up. */
int prefix_error(char **error, int r, const char *fmt, ...) _printf_(3, 4);
