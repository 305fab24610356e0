/* Stage summary: report.json (every stage's state, time and remark) and a
 * short motd block telling the user how to use the rig. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gpu-check.h"
#include "journal.h"
#include "json.h"
#include "stages.h"

/* report.json: every stage's state, time and remark, for people and for tests. */
static int write_report(struct agent *a) {
	_cleanup_(gpu_report_release) struct gpu_report gpu = {};
	_cleanup_free_ char *report = NULL;
	size_t size = 0;
	double total = 0;
	JsonWriter w;
	int r = json_memory_open(&w, &report, &size);

	if (r < 0)
		return r;
	json_object_begin(&w);
	json_field_string(&w, "hostname", a->p->hostname);
	json_key(&w, "stages");
	json_array_begin(&w);
	for (size_t i = 0; i < agent_n_stages; i++) {
		struct stage_record rec = {};
		bool self = strcmp(agent_stages[i].name, "summary") == 0;

		if (journal_get(a, agent_stages[i].name, &rec) < 0)
			rec.state = STAGE_PENDING;
		if (self)
			rec.state = STAGE_DONE; /* this report is the stage's last act */
		total += rec.seconds;
		json_object_begin(&w);
		json_field_string(&w, "name", agent_stages[i].name);
		json_field_string(&w, "state", rec.state == STAGE_DONE ? "ok" : stage_state_to_string(rec.state));
		json_field_bool(&w, "ok", rec.state == STAGE_DONE);
		json_key(&w, "seconds");
		json_fixed(&w, rec.seconds, 3);
		json_field_uint(&w, "attempts", rec.attempts + self);
		if (rec.note)
			json_field_string(&w, "note", rec.note);
		json_object_end(&w);
		stage_record_release(&rec);
	}
	json_array_end(&w);
	json_key(&w, "total_seconds");
	json_fixed(&w, total, 3);
	/* what gpu-check says, so the report shows whether the GPU stack works (its verdict as on this rig) */
	gpu_check_collect(a, &gpu);
	json_key(&w, "gpu");
	gpu_report_json(&w, &gpu, gpu_check_ok(a->p, &gpu));
	json_object_end(&w);
	r = json_memory_close(&w);
	if (r < 0)
		return r;
	r = agent_write(a, AGENT_STATE_DIR "/report.json", report, size, 0644, 0, 0);
	if (r < 0)
		return agent_fail(a, r, "cannot write /" AGENT_STATE_DIR "/report.json: %m");
	return 0;
}

int stage_summary(struct agent *a) {
	_cleanup_free_ char *block = NULL;
	int r;

	r = write_report(a);
	if (r < 0)
		return r;

	if (asprintf(&block,
		     "This is %s, a machine-learning rig set up by mlrig.\n"
		     "  log in:      ssh -p %u %s@%s\n"
		     "%s%s%s"
		     "  first boot:  mlrig-firstboot status  (report: /var/lib/mlrig/report.json)\n",
		     a->p->hostname, a->p->ssh_port, a->p->user, a->p->ddns_hostname ? a->p->ddns_hostname : a->p->hostname,
		     a->p->venv ? "  python:      venv  (activates " : "", a->p->venv ? a->p->venv : "",
		     a->p->venv ? "); jlab starts JupyterLab\n" : "") < 0)
		return -ENOMEM;
	/* pam_motd shows /etc/motd.d/ on Ubuntu 20.04 and Debian 11: a file of our own, no editing */
	r = agent_mkdir(a, "etc/motd.d", 0755, 0, 0);
	if (r >= 0)
		r = agent_write(a, "etc/motd.d/50-mlrig", block, strlen(block), 0644, 0, 0);
	if (r < 0)
		return agent_fail(a, r, "cannot write /etc/motd.d/50-mlrig: %s", strerror(-r));
	agent_note(a, "report.json and motd written");
	return 0;
}
