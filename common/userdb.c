/* Colon-file editing for users, groups and passwords; text in, text out, so
 * it is the same code whether the files live in an image or a directory. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "parse-util.h"
#include "userdb.h"

void userdb_release(struct userdb *db) {
	free(db->passwd);
	free(db->group);
	free(db->shadow);
	free(db->gshadow);
	db->passwd = db->group = db->shadow = db->gshadow = NULL;
}

static const char *next_line(const char *l) {
	const char *n = strchr(l, '\n');
	return n ? n + 1 : NULL;
}

/* The line "name:..." of a colon file, or NULL. */
static const char *find_entry(const char *text, const char *name) {
	size_t n = strlen(name);

	for (const char *l = text; l && *l; l = next_line(l))
		if (strncmp(l, name, n) == 0 && l[n] == ':')
			return l;
	return NULL;
}

/* The field'th (0-based) colon-separated field of line as a number. */
static int entry_id(const char *line, unsigned field, uint32_t *ret) {
	char buf[16];
	size_t n;

	for (unsigned i = 0; i < field; i++) {
		line = strchr(line, ':');
		if (!line)
			return -EINVAL;
		line++;
	}
	n = strcspn(line, ":\n");
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, line, n);
	buf[n] = 0;
	return safe_atou32(buf, ret);
}

static bool id_used(const char *text, uint32_t id) {
	for (const char *l = text; l && *l; l = next_line(l)) {
		uint32_t v;
		if (entry_id(l, 2, &v) >= 0 && v == id)
			return true;
	}
	return false;
}

static int append_line(char **text, const char *fmt, ...) _printf_(2, 3);
static int append_line(char **text, const char *fmt, ...) {
	_cleanup_free_ char *line = NULL;
	size_t len = *text ? strlen(*text) : 0;
	va_list ap;
	char *n;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	if (asprintf(&n, "%s%s%s\n", *text ? *text : "", len && (*text)[len - 1] != '\n' ? "\n" : "", line) < 0)
		return -ENOMEM;
	free(*text);
	*text = n;
	return 0;
}

/* Replaces the line starting at line (up to its newline) in *text with repl. */
static int replace_line(char **text, const char *line, const char *repl) {
	const char *end = line + strcspn(line, "\n");
	char *n;

	if (asprintf(&n, "%.*s%s%s", (int)(line - *text), *text, repl, end) < 0)
		return -ENOMEM;
	free(*text);
	*text = n;
	return 0;
}

int userdb_gid(const struct userdb *db, const char *group, uint32_t *ret_gid) {
	const char *l = find_entry(db->group, group);

	if (!l)
		return -ENOENT;
	return entry_id(l, 2, ret_gid);
}

int userdb_user_ids(const char *passwd, const char *user, uint32_t *ret_uid, uint32_t *ret_gid) {
	const char *l = find_entry(passwd, user);
	uint32_t uid, gid;

	if (!l)
		return -ENOENT;
	if (entry_id(l, 2, &uid) < 0 || entry_id(l, 3, &gid) < 0)
		return -EINVAL;
	*ret_uid = uid;
	*ret_gid = gid;
	return 0;
}

int userdb_add_user(struct userdb *db, const char *user, uint32_t *ret_uid, uint32_t *ret_gid, bool *ret_created) {
	const char *existing = find_entry(db->passwd, user);
	uint32_t uid = 1000, gid;
	int r;

	if (existing) {
		if (entry_id(existing, 2, &uid) < 0 || entry_id(existing, 3, &gid) < 0)
			return -EUCLEAN;
		*ret_uid = uid;
		*ret_gid = gid;
		*ret_created = false;
		return 0;
	}
	while (id_used(db->passwd, uid) || id_used(db->group, uid))
		uid++;
	if (userdb_gid(db, user, &gid) < 0) {
		gid = uid;
		if ((r = append_line(&db->group, "%s:x:%u:", user, gid)) < 0)
			return r;
		if (db->gshadow && (r = append_line(&db->gshadow, "%s:!::", user)) < 0)
			return r;
	}
	r = append_line(&db->passwd, "%s:x:%u:%u:mlrig rig user,,,:/home/%s:/bin/bash", user, uid, gid, user);
	if (r < 0)
		return r;
	*ret_uid = uid;
	*ret_gid = gid;
	*ret_created = true;
	return 0;
}

static int add_member_to(char **text, const char *group, const char *user) {
	const char *line = find_entry(*text, group), *end, *members;
	_cleanup_free_ char *repl = NULL;

	if (!line)
		return 0;
	end = line + strcspn(line, "\n");
	members = end;
	while (members > line && members[-1] != ':')
		members--;
	for (const char *m = members; m < end;) {
		size_t len = strcspn(m, ",\n");
		if (len == strlen(user) && strncmp(m, user, len) == 0)
			return 0;
		m += len + 1;
	}
	if (asprintf(&repl, "%.*s%s%s", (int)(end - line), line, members < end ? "," : "", user) < 0)
		return -ENOMEM;
	return replace_line(text, line, repl);
}

int userdb_add_member(struct userdb *db, const char *group, const char *user) {
	int r = add_member_to(&db->group, group, user);

	if (r >= 0 && db->gshadow)
		r = add_member_to(&db->gshadow, group, user);
	return r;
}

int userdb_set_password(struct userdb *db, const char *user, const char *hash, uint64_t days) {
	const char *line = find_entry(db->shadow, user);
	_cleanup_free_ char *repl = NULL;
	const char *want = hash ? hash : "!";

	if (!line)
		return append_line(&db->shadow, "%s:%s:%llu:0:99999:7:::", user, want, (unsigned long long)days);
	{
		const char *f = line + strlen(user) + 1;
		size_t n = strcspn(f, ":\n");

		if (n == strlen(want) && strncmp(f, want, n) == 0)
			return 0; /* unchanged: keep the line, and its date, as it is */
		if (asprintf(&repl, "%s:%s:%llu%s", user, want, (unsigned long long)days,
			     f[n] == ':' ? strchr(f + n + 1, ':') ? strchr(f + n + 1, ':') : "" : "") < 0)
			return -ENOMEM;
	}
	return replace_line(&db->shadow, line, repl);
}

static bool has_line(const char *text, const char *line, size_t n) {
	for (const char *l = text; l && *l; l = next_line(l)) {
		const char *s = l;
		size_t len = strcspn(l, "\n");

		while (len > 0 && (*s == ' ' || *s == '\t'))
			s++, len--;
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
			len--;
		if (len == n && strncmp(s, line, n) == 0)
			return true;
	}
	return false;
}

int authorized_keys_merge(const char *existing, const char *add, char **ret, unsigned *ret_added) {
	char *out = existing ? strdup(existing) : strdup("");
	unsigned added = 0;

	if (!out)
		return -ENOMEM;
	for (const char *l = add; l && *l; l = next_line(l)) {
		const char *s = l;
		size_t n = strcspn(l, "\n");
		int r;

		while (n > 0 && (*s == ' ' || *s == '\t'))
			s++, n--;
		while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
			n--;
		if (n == 0 || *s == '#' || has_line(out, s, n))
			continue;
		r = append_line(&out, "%.*s", (int)n, s);
		if (r < 0) {
			free(out);
			return r;
		}
		added++;
	}
	*ret = out;
	if (ret_added)
		*ret_added = added;
	return 0;
}
