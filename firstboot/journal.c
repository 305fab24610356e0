/* Stage records as small key=value files: stages/NAME under the state dir.
 * A stage's record changes only by an atomic rename, so a power cut leaves
 * either the old record or the new one. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "journal.h"
#include "parse-util.h"

const char *stage_state_to_string(enum stage_state s) {
	return s == STAGE_DONE ? "done" : s == STAGE_FAILED ? "failed" : "pending";
}

void stage_record_release(struct stage_record *r) {
	free(r->note);
	free(r->error);
	r->note = r->error = NULL;
}

int journal_open(struct agent *a) {
	static const char *const dirs[] = { "var", "var/lib", AGENT_STATE_DIR, AGENT_STATE_DIR "/stages" };
	int r;

	for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
		/* report.json is for everyone; the stage records may quote tool output, root only */
		r = agent_mkdir(a, dirs[i], i < 3 ? 0755 : 0700, 0, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

int journal_get(struct agent *a, const char *stage, struct stage_record *ret) {
	_cleanup_free_ char *text = NULL, *path = NULL;
	struct stage_record rec = {};
	int r;

	if (asprintf(&path, AGENT_STATE_DIR "/stages/%s", stage) < 0)
		return -ENOMEM;
	r = agent_read(a, path, &text, NULL);
	if (r == -ENOENT) {
		*ret = rec;
		return 0;
	}
	if (r < 0)
		return r;
	for (char *l = text, *next; l && *l; l = next) {
		char *eq;
		uint64_t v;

		next = strchr(l, '\n');
		if (next)
			*next++ = 0;
		eq = strchr(l, '=');
		if (!eq)
			continue;
		*eq++ = 0;
		if (strcmp(l, "state") == 0)
			rec.state = strcmp(eq, "done") == 0 ? STAGE_DONE : strcmp(eq, "failed") == 0 ? STAGE_FAILED : STAGE_PENDING;
		else if (strcmp(l, "milliseconds") == 0 && safe_atou64(eq, &v) >= 0)
			rec.seconds = (double)v / 1000.0;
		else if (strcmp(l, "finished") == 0 && safe_atou64(eq, &v) >= 0)
			rec.finished = v;
		else if (strcmp(l, "attempts") == 0 && safe_atou64(eq, &v) >= 0)
			rec.attempts = (unsigned)v;
		else if (strcmp(l, "note") == 0)
			free(rec.note), rec.note = strdup(eq);
		else if (strcmp(l, "error") == 0)
			free(rec.error), rec.error = strdup(eq);
	}
	*ret = rec;
	return 0;
}

static void put_line(FILE *f, const char *key, const char *value) {
	if (!value)
		return;
	fprintf(f, "%s=", key);
	for (const char *c = value; *c; c++)
		fputc(*c == '\n' ? ' ' : *c, f);
	fputc('\n', f);
}

int journal_put(struct agent *a, const char *stage, const struct stage_record *rec) {
	_cleanup_free_ char *text = NULL, *path = NULL;
	size_t size = 0;
	FILE *f;

	if (asprintf(&path, AGENT_STATE_DIR "/stages/%s", stage) < 0)
		return -ENOMEM;
	f = open_memstream(&text, &size);
	if (!f)
		return -ENOMEM;
	fprintf(f, "state=%s\nmilliseconds=%llu\nfinished=%llu\nattempts=%u\n", stage_state_to_string(rec->state),
		(unsigned long long)(rec->seconds * 1000.0 + 0.5), (unsigned long long)rec->finished, rec->attempts);
	put_line(f, "note", rec->note);
	put_line(f, "error", rec->error);
	if (fclose(f) != 0)
		return -ENOMEM;
	return agent_write(a, path, text, size, 0600, 0, 0);
}
