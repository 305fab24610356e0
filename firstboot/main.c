/* mlrig-firstboot: finalises a rig on its first boot, stage by stage, and
 * resumes after a power cut at the stage that did not finish. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "journal.h"
#include "json.h"
#include "log.h"
#include "stages.h"

#define DONE_MARKER AGENT_STATE_DIR "/done"

static const char *arg_root = "/";
static bool arg_json;
static const char *arg_verb;
static const char *arg_stage;

static void help(void) {
	printf("Usage:\n"
	       " mlrig-firstboot [--root DIR] run\n"
	       " mlrig-firstboot [--root DIR] [--json] status\n"
	       " mlrig-firstboot [--root DIR] stage NAME\n"
	       "\n"
	       "Finalise a rig on its first boot: host name, user and keys, sshd, root\n"
	       "partition, Wake-on-LAN, DDNS, GPU, Python venv, boot order. Each stage is\n"
	       "recorded in /var/lib/mlrig only after it succeeded; a failed or interrupted\n"
	       "stage is retried on the next run.\n"
	       "\n"
	       "Commands:\n"
	       " run          run the stages not done yet, in order; stop at a failure\n"
	       " status       each stage's state, time and last error\n"
	       " stage NAME   run one stage again\n"
	       "\n"
	       "Options:\n"
	       "     --root DIR   work on the tree at DIR instead of this system, for tests\n"
	       "     --json       status as JSON\n"
	       " -h, --help       display this help\n"
	       " -V, --version    display version\n"
	       "\n"
	       "Stages:");
	for (size_t i = 0; i < agent_n_stages; i++)
		printf("%s %s", i ? "," : "", agent_stages[i].name);
	printf("\nConfig: /etc/mlrig/rig.conf, written by mlrig from the rig profile.\n");
}

static int parse_argv(int argc, char **argv) {
	enum { ARG_ROOT = 0x100, ARG_JSON };
	static const struct option options[] = {
		{ "root", required_argument, NULL, ARG_ROOT },
		{ "json", no_argument, NULL, ARG_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "hV", options, NULL)) >= 0)
		switch (c) {
		case ARG_ROOT: arg_root = optarg; break;
		case ARG_JSON: arg_json = true; break;
		case 'h': help(); return 0;
		case 'V': printf("mlrig-firstboot %s\n", MLRIG_VERSION); return 0;
		default: goto usage;
		}
	if (optind >= argc)
		goto usage;
	arg_verb = argv[optind++];
	if (strcmp(arg_verb, "stage") == 0) {
		if (optind >= argc)
			goto usage;
		arg_stage = argv[optind++];
		if (!stage_find(arg_stage)) {
			fprintf(stderr, "mlrig-firstboot: unknown stage '%s'\nTry 'mlrig-firstboot --help'.\n", arg_stage);
			return -2;
		}
	} else if (strcmp(arg_verb, "run") != 0 && strcmp(arg_verb, "status") != 0)
		goto usage;
	if (optind < argc)
		goto usage;
	return 1;
usage:
	fprintf(stderr, "mlrig-firstboot: expected run, status or stage NAME\nTry 'mlrig-firstboot --help'.\n");
	return -2;
}

static double now_mono(void) {
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int load_config(struct agent *a) {
	_cleanup_free_ char *path = NULL, *error = NULL;
	int r;

	if (asprintf(&path, "%s/%s", a->live ? "" : a->root, AGENT_CONFIG) < 0)
		return -ENOMEM;
	r = profile_load_root(path, a->live ? NULL : a->root, &a->p, &error);
	if (r < 0)
		log_error("Cannot load the rig config: %s", error ? error : strerror(-r));
	return r;
}

/* Runs one stage and journals the outcome; the record changes only after the stage returned. */
static int run_stage(struct agent *a, const struct stage *s) {
	struct stage_record rec = {};
	double t0 = now_mono();
	int r, k;

	(void)journal_get(a, s->name, &rec);
	free(a->error), a->error = NULL;
	free(a->note), a->note = NULL;
	r = s->run(a);
	rec.seconds = now_mono() - t0;
	rec.finished = (uint64_t)time(NULL);
	rec.attempts++;
	rec.state = r < 0 ? STAGE_FAILED : STAGE_DONE;
	free(rec.error);
	rec.error = r < 0 ? (a->error ? strdup(a->error) : strdup(strerror(-r))) : NULL;
	free(rec.note);
	rec.note = a->note ? strdup(a->note) : NULL;
	k = journal_put(a, s->name, &rec);
	if (r < 0)
		agent_say("stage %s FAILED after %.1f s: %s (the next boot retries it; see 'mlrig-firstboot status')",
			  s->name, rec.seconds, rec.error ? rec.error : "?");
	else if (k < 0)
		log_error_errno(k, "Cannot record stage %s as done: %m", s->name);
	else
		agent_say("stage %s ok (%.1f s)%s%s", s->name, rec.seconds, rec.note ? ": " : "", rec.note ? rec.note : "");
	stage_record_release(&rec);
	return r < 0 ? r : k;
}

static int verb_run(struct agent *a) {
	double total = 0;
	int r;

	if (agent_exists(a, DONE_MARKER) >= 0) {
		agent_say("already complete (remove /%s to run again)", DONE_MARKER);
		return 0;
	}
	if ((r = load_config(a)) < 0)
		return r;
	r = journal_open(a);
	if (r < 0)
		return log_error_errno(r, "Cannot create /%s: %m", AGENT_STATE_DIR);
	for (size_t i = 0; i < agent_n_stages; i++) {
		struct stage_record rec = {};

		(void)journal_get(a, agent_stages[i].name, &rec);
		if (rec.state != STAGE_DONE) {
			stage_record_release(&rec);
			r = run_stage(a, &agent_stages[i]);
			if (r < 0)
				return r;
			(void)journal_get(a, agent_stages[i].name, &rec);
		}
		total += rec.seconds;
		stage_record_release(&rec);
	}
	r = agent_write(a, DONE_MARKER, "", 0, 0644, 0, 0);
	if (r < 0)
		return log_error_errno(r, "Cannot write /%s: %m", DONE_MARKER);
	agent_say("complete (%zu stages, %.1f s)", agent_n_stages, total);
	return 0;
}

static int verb_status(struct agent *a) {
	bool done = agent_exists(a, DONE_MARKER) >= 0;

	if (arg_json)
		printf("{\"complete\": %s, \"stages\": [", done ? "true" : "false");
	else
		printf("%-12s %-8s %8s  %s\n", "STAGE", "STATE", "SECONDS", "DETAIL");
	for (size_t i = 0; i < agent_n_stages; i++) {
		struct stage_record rec = {};
		const char *detail;

		(void)journal_get(a, agent_stages[i].name, &rec);
		detail = rec.state == STAGE_FAILED && rec.error ? rec.error : rec.note ? rec.note : "";
		if (arg_json) {
			printf("%s\n  {\"name\": \"%s\", \"state\": \"%s\", \"seconds\": %.3f, \"attempts\": %u, \"error\": ",
			       i ? "," : "", agent_stages[i].name, stage_state_to_string(rec.state), rec.seconds, rec.attempts);
			json_string(stdout, rec.state == STAGE_FAILED ? rec.error : NULL);
			fputs(", \"note\": ", stdout);
			json_string(stdout, rec.note);
			fputc('}', stdout);
		} else
			printf("%-12s %-8s %8.1f  %s\n", agent_stages[i].name, stage_state_to_string(rec.state), rec.seconds, detail);
		stage_record_release(&rec);
	}
	if (arg_json)
		printf("\n]}\n");
	else
		printf("%s\n", done ? "complete" : "not complete");
	return 0;
}

int main(int argc, char **argv) {
	struct agent a = { .root = arg_root };
	int r;

	log_set_prefix("mlrig-firstboot");
	r = parse_argv(argc, argv);
	if (r <= 0)
		return -r;
	a.root = arg_root;
	a.live = strcmp(arg_root, "/") == 0;
	a.root_fd = open(arg_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a.root_fd < 0) {
		log_error("Cannot open --root %s: %m", arg_root);
		return 2;
	}
	if (strcmp(arg_verb, "status") == 0)
		r = verb_status(&a);
	else if (strcmp(arg_verb, "run") == 0)
		r = verb_run(&a);
	else {
		r = load_config(&a);
		if (r >= 0)
			r = journal_open(&a);
		if (r >= 0)
			r = run_stage(&a, stage_find(arg_stage));
	}
	profile_free(a.p);
	free(a.error);
	free(a.note);
	close(a.root_fd);
	return r < 0 ? 1 : 0;
}
