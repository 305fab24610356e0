/* Ubuntu install media's text files, as text (pure): .disk/info's flavour, mlrig's menu entry, md5sum.txt. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso-autoinstall.h"
#include "iso-media.h"
#include "macro.h"
#include "parse-util.h"

const char *media_installer_to_string(enum media_installer i) {
	return i == MEDIA_INSTALLER_UBIQUITY ? "ubiquity (preseed)" : "subiquity (autoinstall)";
}

int media_detect_flavour(const char *disk_info, bool has_preseed, struct media_flavour *ret) {
	struct media_flavour f = {};
	const char *p = disk_info, *sp;

	if (!disk_info)
		return -EINVAL;
	while (*p == ' ')
		p++;
	/* "Ubuntu-Server 20.04.6 LTS "Focal Fossa" - Release amd64 (20230316)" */
	if (!string_has_prefix(p, "Ubuntu") && !string_has_prefix(p, "Kubuntu") && !string_has_prefix(p, "Xubuntu") &&
	    !string_has_prefix(p, "Lubuntu"))
		return -EMEDIUMTYPE;
	sp = strchr(p, ' ');
	if (!sp || (size_t)(sp - p) >= sizeof(f.product))
		return -EMEDIUMTYPE;
	memcpy(f.product, p, (size_t)(sp - p));
	p = sp + 1;
	if (!isdigit((unsigned char)*p))
		return -EMEDIUMTYPE;
	for (size_t i = 0; i < sizeof(f.release) - 1 && (isdigit((unsigned char)p[i]) || p[i] == '.'); i++)
		f.release[i] = p[i];
	if (strstr(f.product, "Server") || !has_preseed)
		f.installer = MEDIA_INSTALLER_SUBIQUITY;
	else
		f.installer = MEDIA_INSTALLER_UBIQUITY;
	*ret = f;
	return 0;
}
/* ---- boot menus ---- */

static bool drop_arg(const char *a, enum media_installer inst) {
	if (strcmp(a, "autoinstall") == 0 || string_has_prefix(a, "ds=") || strcmp(a, "automatic-ubiquity") == 0)
		return true;
	if (inst == MEDIA_INSTALLER_UBIQUITY)
		return string_has_prefix(a, "file=" MEDIA_MOUNT "/preseed/") || strcmp(a, "only-ubiquity") == 0 ||
		       strcmp(a, "maybe-ubiquity") == 0;
	return false;
}

int menu_kernel_args(const char *args, enum media_installer inst, bool grub, char **ret) {
	_cleanup_free_ char *out = NULL, *copy = strdup(args ? args : "");
	const char *ours;
	size_t size = 0;
	bool added = false;
	FILE *f;

	/* the seed iso-autoinstall writes, where the installer finds it */
	if (inst == MEDIA_INSTALLER_UBIQUITY)
		ours = "file=" MEDIA_MOUNT MEDIA_PRESEED " automatic-ubiquity";
	else if (grub) /* an unescaped ';' ends GRUB's linux command */
		ours = "autoinstall ds=nocloud\\;s=" MEDIA_MOUNT MEDIA_NOCLOUD_DIR "/";
	else
		ours = "autoinstall ds=nocloud;s=" MEDIA_MOUNT MEDIA_NOCLOUD_DIR "/";

	if (!copy)
		return -ENOMEM;
	f = open_memstream(&out, &size);
	if (!f)
		return -ENOMEM;
	for (char *s = copy, *tok; (tok = strsep(&s, " \t\n"));) {
		if (!*tok || drop_arg(tok, inst))
			continue;
		if (!added && strcmp(tok, "---") == 0) {
			fprintf(f, "%s%s", size ? " " : "", ours);
			added = true;
		}
		fprintf(f, "%s%s", size ? " " : "", tok);
		fflush(f);
	}
	fflush(f);
	if (!added)
		fprintf(f, "%s%s", size ? " " : "", ours);
	if (fclose(f) != 0)
		return -ENOMEM;
	*ret = TAKE_PTR(out);
	return 0;
}

/* A copy of text cut into lines, each without its newline; the lines point into the copy. */
static int split_lines(const char *text, char **ret_copy, char ***ret_lines, size_t *ret_n) {
	_cleanup_free_ char *copy = strdup(text);
	char **v = NULL;
	size_t n = 0;

	if (!copy)
		return -ENOMEM;
	for (char *s = copy; s && *s;) {
		char *nl = strchr(s, '\n'), **nv;

		if (nl)
			*nl = 0;
		nv = realloc(v, (n + 1) * sizeof(char *));
		if (!nv) {
			free(v);
			return -ENOMEM;
		}
		v = nv;
		v[n++] = s;
		s = nl ? nl + 1 : NULL;
	}
	*ret_copy = TAKE_PTR(copy);
	*ret_lines = v;
	*ret_n = n;
	return 0;
}

static const char *skip_ws(const char *s) {
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static bool is_word(const char *line, const char *w) {
	const char *s = skip_ws(line);
	size_t n = strlen(w);

	return strncasecmp(s, w, n) == 0 && (s[n] == ' ' || s[n] == '\t' || s[n] == 0);
}

/* The argument of a "KEYWORD ARG" line, in place: "default live" → "live" (length 0: none). */
static const char *keyword_arg(const char *line, const char *keyword, size_t *ret_len) {
	const char *s = skip_ws(skip_ws(line) + strlen(keyword));

	*ret_len = strcspn(s, " \t");
	return s;
}

static int brace_delta(const char *line) {
	int d = 0;
	char quote = 0;

	for (const char *s = line; *s; s++) {
		if (quote) {
			if (*s == quote)
				quote = 0;
		} else if (*s == '"' || *s == '\'')
			quote = *s;
		else if (*s == '#')
			break;
		else if (*s == '{')
			d++;
		else if (*s == '}')
			d--;
	}
	return d;
}

/* Ends the edited copy of cfg written to f, an open_memstream() of *buf and
 * *size, keeping the original's (lack of a) final newline. */
static int cfg_finish(FILE *f, const char *cfg, char **buf, size_t *size, char **ret) {
	if (fclose(f) != 0)
		return -ENOMEM;
	if (*size > 0 && cfg[0] && cfg[strlen(cfg) - 1] != '\n')
		(*buf)[*size - 1] = 0;
	*ret = TAKE_PTR(*buf);
	return 0;
}

int menu_grub_cfg_add_entry(const char *cfg, const char *title, enum media_installer inst, char **ret) {
	_cleanup_free_ char *copy = NULL, *out = NULL;
	_cleanup_free_ char **lines = NULL;
	size_t n, size = 0, first = SIZE_MAX, end = SIZE_MAX;
	int depth = 0, r;
	FILE *f;

	r = split_lines(cfg, &copy, &lines, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && end == SIZE_MAX; i++) {
		if (first == SIZE_MAX && is_word(lines[i], "menuentry"))
			first = i, depth = 0;
		if (first != SIZE_MAX) {
			depth += brace_delta(lines[i]);
			if (depth <= 0 && i > first)
				end = i;
		}
	}
	if (first == SIZE_MAX || end == SIZE_MAX)
		return -ENOENT;

	f = open_memstream(&out, &size);
	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (i == first) {
			fprintf(f, "menuentry \"%s\" {\n", title);
			for (size_t j = first + 1; j < end; j++) {
				const char *s = skip_ws(lines[j]);

				if (is_word(s, "linux") || is_word(s, "linuxefi")) {
					_cleanup_free_ char *args = NULL;
					size_t cmd = strcspn(s, " \t"), kern;
					const char *k = skip_ws(s + cmd);

					kern = strcspn(k, " \t");
					r = menu_kernel_args(k + kern, inst, true, &args);
					if (r < 0) {
						fclose(f);
						return r;
					}
					fprintf(f, "%.*s%.*s\t%.*s\t%s\n", (int)(s - lines[j]), lines[j], (int)cmd, s,
						(int)kern, k, args);
				} else
					fprintf(f, "%s\n", lines[j]);
			}
			fprintf(f, "%s\n", lines[end]);
		}
		/* ours is entry 0: an explicit default would point past it */
		if (is_word(lines[i], "set") && string_has_prefix(skip_ws(skip_ws(lines[i]) + 3), "default="))
			fprintf(f, "%.*sset default=0\n", (int)(skip_ws(lines[i]) - lines[i]), lines[i]);
		else
			fprintf(f, "%s\n", lines[i]);
	}
	return cfg_finish(f, cfg, &out, &size, ret);
}

int menu_isolinux_cfg_add_entry(const char *cfg, const char *title, enum media_installer inst, char **ret) {
	_cleanup_free_ char *copy = NULL, *out = NULL, *def = NULL;
	_cleanup_free_ char **lines = NULL;
	size_t n, size = 0, first = SIZE_MAX, src = SIZE_MAX;
	bool have_default = false;
	int r;
	FILE *f;

	r = split_lines(cfg, &copy, &lines, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (is_word(lines[i], "default") && !def) {
			size_t len;
			const char *a = keyword_arg(lines[i], "default", &len);

			have_default = true;
			if (len > 0 && !(def = strndup(a, len)))
				return -ENOMEM;
		}
	for (size_t i = 0; i < n; i++)
		if (is_word(lines[i], "label")) {
			size_t len;
			const char *a = keyword_arg(lines[i], "label", &len);

			if (first == SIZE_MAX)
				first = i;
			if (src == SIZE_MAX && (!def || (len == strlen(def) && memcmp(a, def, len) == 0)))
				src = i;
		}
	if (src == SIZE_MAX)
		src = first;
	if (first == SIZE_MAX)
		return -ENOENT;

	f = open_memstream(&out, &size);
	if (!f)
		return -ENOMEM;
	if (!have_default)
		fputs("default mlrig\n", f);
	for (size_t i = 0; i < n; i++) {
		if (i == first) {
			fprintf(f, "label mlrig\n  menu label ^%s\n  menu default\n", title);
			for (size_t j = src + 1; j < n && !is_word(lines[j], "label"); j++) {
				const char *s = skip_ws(lines[j]);

				if (is_word(s, "append")) {
					_cleanup_free_ char *args = NULL;

					r = menu_kernel_args(s + 6, inst, false, &args);
					if (r < 0) {
						fclose(f);
						return r;
					}
					fprintf(f, "%.*sappend  %s\n", (int)(s - lines[j]), lines[j], args);
				} else if (is_word(s, "kernel") || is_word(s, "linux") || is_word(s, "initrd"))
					fprintf(f, "%s\n", lines[j]);
			}
		}
		if (is_word(lines[i], "default"))
			fprintf(f, "%.*sdefault mlrig\n", (int)(skip_ws(lines[i]) - lines[i]), lines[i]);
		else if (is_word(lines[i], "menu") && strcasecmp(skip_ws(skip_ws(lines[i]) + 4), "default") == 0)
			continue; /* ours is the menu's default now */
		else
			fprintf(f, "%s\n", lines[i]);
	}
	return cfg_finish(f, cfg, &out, &size, ret);
}

/* ---- md5sum.txt ---- */

static int entry_cmp(const void *a, const void *b) {
	return strcmp(((const struct md5sum_txt_entry *)a)->path, ((const struct md5sum_txt_entry *)b)->path);
}

int md5sum_txt_update(const char *text, const struct md5sum_txt_entry *e, size_t n, char **ret) {
	_cleanup_free_ char *copy = NULL, *out = NULL;
	_cleanup_free_ char **lines = NULL;
	_cleanup_free_ bool *used = calloc(n + 1, sizeof(bool));
	_cleanup_free_ struct md5sum_txt_entry *rest = NULL;
	const char *prefix = "./", *sep = "  ";
	size_t nl, size = 0, n_rest = 0;
	bool seen_first = false;
	int r;
	FILE *f;

	if (!used)
		return -ENOMEM;
	r = split_lines(text ?: "", &copy, &lines, &nl);
	if (r < 0)
		return r;
	f = open_memstream(&out, &size);
	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < nl; i++) {
		char *line = lines[i];
		size_t hl = strspn(line, "0123456789abcdefABCDEF");
		const char *p = line + hl, *path;
		bool done = false;

		if (hl == 32 && (p[0] == ' ' && (p[1] == ' ' || p[1] == '*'))) {
			path = p + 2;
			if (!seen_first) {
				/* new lines follow the first line's style */
				prefix = string_has_prefix(path, "./") ? "./" : "";
				sep = p[1] == '*' ? " *" : "  ";
				seen_first = true;
			}
			if (string_has_prefix(path, "./"))
				path += 2;
			for (size_t j = 0; j < n && !done; j++)
				if (strcmp(e[j].path, path) == 0) {
					fprintf(f, "%s%.*s\n", e[j].md5, (int)(strlen(line) - hl), p);
					used[j] = done = true;
				}
		}
		if (!done)
			fprintf(f, "%s\n", line);
	}
	rest = calloc(n + 1, sizeof(*rest));
	if (!rest) {
		fclose(f);
		return -ENOMEM;
	}
	for (size_t j = 0; j < n; j++)
		if (!used[j])
			rest[n_rest++] = e[j];
	qsort(rest, n_rest, sizeof(*rest), entry_cmp);
	for (size_t j = 0; j < n_rest; j++)
		fprintf(f, "%s%s%s%s\n", rest[j].md5, sep, prefix, rest[j].path);
	if (fclose(f) != 0)
		return -ENOMEM;
	*ret = TAKE_PTR(out);
	return 0;
}
