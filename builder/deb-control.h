/* deb822 control stanzas: a .deb's control file, dpkg's status file and Packages files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct deb_field {
	char *name;  /* as written */
	/* The first line without the blanks around it, then "\n" and each continuation line without
	 * its first blank and its trailing blanks; a " ." line stays ".". */
	char *value;
};

struct deb_stanza {
	struct deb_field *fields; /* in the order written */
	size_t n_fields;
	unsigned line;            /* of its first field, for messages */
};

/* Parses every stanza of text (size bytes; blank lines between stanzas, '#' lines skipped as
 * Dpkg::Control does, trailing blanks and a CR before a newline ignored). -EINVAL with
 * "ORIGIN:LINE: ..." for a line that is no field, a continuation line before any field, a
 * duplicate field (names compare case-insensitively), a NUL byte; -ENOMEM. No stanza is fine. */
int deb_control_parse(const char *text, size_t size, const char *origin, struct deb_stanza **ret,
		      size_t *ret_n, char **ret_error);

/* Exactly one stanza, as a .deb's control file holds: -EINVAL "ORIGIN: no fields" or
 * "ORIGIN:LINE: a second stanza" besides deb_control_parse()'s. */
int deb_control_parse_one(const char *text, size_t size, const char *origin, struct deb_stanza *ret,
			  char **ret_error);

/* dpkg's status file: only the stanzas of packages that are installed (Status "... ok installed";
 * whether wanted as install, hold or deinstall, they are on disk and configured). -EINVAL for a
 * stanza without Package or Status, besides deb_control_parse()'s. */
int deb_status_parse(const char *text, size_t size, const char *origin, struct deb_stanza **ret,
		     size_t *ret_n, char **ret_error);

/* Whether a Status value says "installed": three words, the second "ok", the third "installed". */
bool deb_status_is_installed(const char *status);

/* The value of the field called name (any case), or NULL. */
const char *deb_stanza_get(const struct deb_stanza *s, const char *name);

void deb_stanza_release(struct deb_stanza *s);
/* Releases n stanzas and frees the array; NULL is fine. */
void deb_stanzas_free(struct deb_stanza *s, size_t n);
