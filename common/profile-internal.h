/* What the profile parser (profile.c) and its value checks (profile-values.c) share:
 * the key types, the key table's rows and the parser's position for messages. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"
#include "profile.h"

enum key_type {
	T_HOSTNAME,     /* one DNS label */
	T_FQDN,         /* dotted DNS name */
	T_USERNAME,
	T_STRING,
	T_FILE,         /* path relative to the profile; must be a regular file */
	T_SECRET_FILE,  /* same, and holds a secret */
	T_DIR,
	T_FILE_OR_NONE, /* T_FILE, or "none" */
	T_STRING_OR_NONE,
	T_PASSWORD_HASH,
	T_BOOL,
	T_PORT,
	T_UINT32,
	T_SIZE,
	T_UUID,
	T_EPOCH,
	T_LIST,
	T_BOOT_DEFAULT,
	T_DDNS_PROVIDER,
	T_INTERFACE,
	T_RIG_PATH,     /* absolute path on the rig, or ~/... in the user's home */
	T_DEVICE,
	T_CMDLINE,      /* kernel arguments, also written into a shell-sourced GRUB file */
	T_SERVER_URL,   /* https://host[:port], or http:// to a loopback address */
	T_CHECK_IP,     /* a URL like T_SERVER_URL's with a path, or interface:NAME */
	T_ZONE,         /* a DNS name, or a 32-hex-digit zone id */
	T_MINUTES,      /* at least 1 */
	T_PORT_FORWARD,
	T_MAC,          /* a network card's MAC, stored as 52:54:00:12:34:56 */
	T_JUPYTER_APP,
	T_LABEL,        /* a name a firmware boot menu shows */
	T_GPU_DRIVER,   /* nvidia-driver-NNN, auto, or none */
	T_GPU_CUDA,     /* a CUDA local-repo .deb, ubuntu, or none */
	T_GPU_CUDNN,    /* a cuDNN tarball, debs, or none */
	T_SHA256_LIST,  /* FILE:HEX pins, a list */
};

struct key_def {
	const char *section;
	const char *key;
	enum key_type type;
	size_t offset;
	size_t offset_set; /* for values with a separate "was set" flag, else 0 */
	bool required;
};

/* The parser state: where we are, for messages. */
struct parser {
	const char *path;
	const char *root; /* absolute paths in the profile are inside this tree (the agent's --root) */
	unsigned line;
	char *error;
};

/* Fills ps->error with "file:line: [Section] Key=value: <fmt>" (as much of that as is known)
 * and returns -EINVAL. */
int profile_fail(struct parser *ps, const struct key_def *k, const char *value, const char *fmt, ...)
	_printf_(4, 5);

/* A path value checked as T_FILE (dir: T_DIR) is: resolved against the profile's
 * directory (or the --root tree), stat()ed; the full path in *ret. */
int profile_check_path(struct parser *ps, const struct key_def *k, const char *value, bool dir, char **ret);
/* profile-gpu.c: the [GPU] types; 1 when k's type is not one of them. */
int profile_assign_gpu(struct parser *ps, const struct key_def *k, const char *value, void *field);
/* The list types' words added to *l (T_LIST, T_SHA256_LIST). */
int profile_strv_extend_words(char ***l, const char *value);

/* Checks value against k's type and stores it in p; a list key's value adds to the list. */
int profile_assign(struct parser *ps, Profile *p, const struct key_def *k, const char *value);
