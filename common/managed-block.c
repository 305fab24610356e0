/* Marked blocks: find the markers, replace what is between them, keep the rest of the file as it was. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "managed-block.h"

int managed_block_named(const char *text, const char *comment, const char *name, const char *body, char **ret) {
	_cleanup_free_ char *begin = NULL, *end = NULL;
	const char *b, *e;
	char *out;

	if (asprintf(&begin, "%s >>> %s >>>\n", comment, name) < 0 || asprintf(&end, "%s <<< %s <<<\n", comment, name) < 0)
		return -ENOMEM;
	text = text ? text : "";
	b = strstr(text, begin);
	e = b ? strstr(b, end) : NULL;
	if (b && e) {
		if (asprintf(&out, "%.*s%s%s%s%s", (int)(b - text), text, begin, body, end, e + strlen(end)) < 0)
			return -ENOMEM;
	} else {
		size_t n = strlen(text);
		if (asprintf(&out, "%s%s%s%s%s", text, n && text[n - 1] != '\n' ? "\n" : "", begin, body, end) < 0)
			return -ENOMEM;
	}
	*ret = out;
	return 0;
}

int managed_block(const char *text, const char *comment, const char *body, char **ret) {
	return managed_block_named(text, comment, "mlrig", body, ret);
}
