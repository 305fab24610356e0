/* The agent's journal under /var/lib/mlrig: one record per stage, written
 * atomically, and only after the stage has succeeded (or failed). */
#pragma once

#include <stdint.h>

#include "agent.h"

enum stage_state { STAGE_PENDING, STAGE_DONE, STAGE_FAILED };

struct stage_record {
	enum stage_state state;
	double seconds;     /* time the last attempt took */
	uint64_t finished;  /* wall clock, seconds since 1970 */
	unsigned attempts;
	char *note;         /* remark from the stage, may be NULL */
	char *error;        /* last error, may be NULL */
};

int journal_open(struct agent *a);  /* creates var/lib/mlrig/stages */
int journal_get(struct agent *a, const char *stage, struct stage_record *ret);
int journal_put(struct agent *a, const char *stage, const struct stage_record *rec);
void stage_record_release(struct stage_record *r);
const char *stage_state_to_string(enum stage_state s);
