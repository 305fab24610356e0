/* Template rendering: only @UPPER_CASE@ names are placeholders; anything else passes through. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "template.h"

static size_t placeholder_len(const char *p) {
	size_t n = 1;

	while (isupper((unsigned char)p[n]) || isdigit((unsigned char)p[n]) || p[n] == '_')
		n++;
	return (n > 1 && p[n] == '@') ? n + 1 : 0;
}

int template_render(const char *source, const char *text, const struct template_var *vars, unsigned n_vars,
		    char **ret, char **ret_error) {
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);
	unsigned line = 1;

	*ret_error = NULL;
	if (!f)
		return -ENOMEM;
	for (const char *p = text; *p; p++) {
		size_t n;

		if (*p == '\n')
			line++;
		if (*p != '@' || !(n = placeholder_len(p))) {
			fputc(*p, f);
			continue;
		}
		unsigned i;
		for (i = 0; i < n_vars; i++)
			if (strlen(vars[i].name) == n - 2 && strncmp(vars[i].name, p + 1, n - 2) == 0)
				break;
		if (i == n_vars) {
			fclose(f);
			free(out);
			if (asprintf(ret_error, "%s:%u: unknown placeholder %.*s", source, line, (int)n, p) < 0)
				*ret_error = NULL;
			return -EINVAL;
		}
		fputs(vars[i].value, f);
		p += n - 1;
	}
	if (fclose(f) != 0) {
		free(out);
		return -ENOMEM;
	}
	*ret = out;
	return 0;
}
