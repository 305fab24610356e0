/* mlrig-firstboot: finalises a rig on its first boot, stage by stage, and
 * resumes after a power cut at the stage that did not finish. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "cli.h"
#include "ddns.h"
#include "gpu-check.h"
#include "journal.h"
#include "json.h"
#include "log.h"
#include "process.h"
#include "stages.h"
#include "time-util.h"

#define DONE_MARKER AGENT_STATE_DIR "/done"

static const char *arg_root = "/";
static bool arg_json;
static const char *arg_stage;
static bool arg_force;
static struct agent agent;

static void help(void) {
	printf("Usage:\n"
	       " mlrig-firstboot [--root DIR] run\n"
	       " mlrig-firstboot [--root DIR] status [--json]\n"
	       " mlrig-firstboot [--root DIR] stage NAME\n"
	       " mlrig-firstboot [--root DIR] ddns [--force]\n"
	       " mlrig-firstboot [--root DIR] gpu-check [--json]\n"
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
	       " ddns         one DDNS check-and-update cycle (mlrig-ddns.timer runs it);\n"
	       "              --force sends an update even when nothing changed or a failure holds\n"
	       " gpu-check    NVML, the CUDA driver running a SAXPY, cuDNN and the venv's TensorFlow;\n"
	       "              exit 0 when what the rig's profile asks for works (no rig: all of it)\n"
	       "\n"
	       "Options:\n"
	       "     --root DIR   work on the tree at DIR instead of this system, for tests\n"
	       "     --json       status, gpu-check: as JSON\n"
	       "     --force      ddns: ignore the hold and the unchanged address\n"
	       " -h, --help       display this help\n"
	       " -V, --version    display version\n"
	       "\n"
	       "Stages:");
	for (size_t i = 0; i < agent_n_stages; i++)
		printf("%s %s", i ? "," : "", agent_stages[i].name);
	printf("\nConfig: /etc/mlrig/rig.conf, written by mlrig from the rig profile.\n"
	       "Exit status: 0 ok, 1 failure, 2 usage or bad input.\n");
}

enum { ARG_ROOT = 0x100, ARG_JSON, ARG_FORCE };

/* --root and --json are taken before the command and after it. */
#define COMMON_OPTIONS                                        \
	{ "root", required_argument, NULL, ARG_ROOT },        \
	{ "help", no_argument, NULL, 'h' }

static bool parse_common(int c) {
	if (c == ARG_ROOT) {
		arg_root = optarg;
		return true;
	}
	return false;
}

/* The options a verb takes besides the common ones. */
enum { VERB_JSON = 1 << 0, VERB_FORCE = 1 << 1 };

/* A verb's options: the common ones and those in extra; <0 usage error, 0 help shown, >0 go on. */
static int parse_verb(int argc, char **argv, unsigned extra, const char *const *names, int n_args) {
	static const struct option options[] = {
		COMMON_OPTIONS,
		{ "json", no_argument, NULL, ARG_JSON },
		{ "force", no_argument, NULL, ARG_FORCE },
		{}
	};
	const char *verb = argv[0];
	int c, r;

	while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
		if (parse_common(c))
			continue;
		if (c == 'h') {
			help();
			return 0;
		}
		if (c == ARG_JSON && (extra & VERB_JSON)) {
			arg_json = true;
			continue;
		}
		if (c == ARG_FORCE && (extra & VERB_FORCE)) {
			arg_force = true;
			continue;
		}
		if (c == ARG_JSON || c == ARG_FORCE)
			return cli_usage_error(verb, "unrecognized option '%s'", c == ARG_JSON ? "--json" : "--force");
		return cli_option_error(verb, c, argv);
	}
	r = cli_positional(verb, argc, argv, names, n_args, n_args);
	return r < 0 ? r : 1;
}

static int load_config(struct agent *a) {
	_cleanup_free_ char *path = NULL, *error = NULL;
	int r;

	if (asprintf(&path, "%s/%s", a->live ? "" : a->root, AGENT_CONFIG) < 0)
		return log_oom();
	r = profile_load_root(path, a->live ? NULL : a->root, &a->p, &error);
	if (r < 0)
		return log_error_errno(r, "Cannot load the rig config: %s", error ?: strerror(-r));
	return 0;
}

/* Opens the root every verb works in; exit 2 (said) when it is not a directory we can use. */
static int open_root(struct agent *a) {
	a->root = arg_root;
	a->live = strcmp(arg_root, "/") == 0;
	a->root_fd = open(arg_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->root_fd < 0)
		return cli_input_error_errno(errno, "Cannot open --root %s: %m", arg_root);
	return 0;
}

/* Runs one stage and journals the outcome; the record changes only after the stage returned. */
static int run_stage(struct agent *a, const struct stage *s) {
	struct stage_record rec = {};
	double t0 = now_seconds();
	int r, k;

	(void)journal_get(a, s->name, &rec);
	free(a->error), a->error = NULL;
	free(a->note), a->note = NULL;
	r = s->run(a);
	rec.seconds = now_seconds() - t0;
	rec.finished = now_wall();
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

/* A stage asked for it (once at most: it keeps its own marker); the next boot runs the stages after it. */
static int reboot_now(struct agent *a, const char *stage) {
	char *argv[] = { "systemctl", "--no-block", "reboot", NULL };
	struct process_options o = { .argv = argv, .stdin_mode = PROCESS_NULL };
	int r;

	agent_say("rebooting once, as stage %s asked; the next boot runs the stages after it", stage);
	if (!a->live)
		return 0;
	r = process_run(&o, NULL);
	if (r != 0)
		return log_error_errno(r < 0 ? r : -EIO, "Cannot reboot (systemctl reboot); reboot by hand to go on");
	return 0;
}

static int parse_none(int argc, char **argv) {
	return parse_verb(argc, argv, 0, NULL, 0);
}

static int run_run(void) {
	struct agent *a = &agent;
	double total = 0;
	int r;

	r = open_root(a);
	if (r != 0)
		return r;
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
			if (a->reboot)
				return reboot_now(a, agent_stages[i].name);
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

static int parse_status(int argc, char **argv) {
	return parse_verb(argc, argv, VERB_JSON, NULL, 0);
}

/* The DDNS line of status, or NULL (no provider, or no config to read: status works without one). */
static char *ddns_line(struct agent *a) {
	_cleanup_free_ char *path = NULL, *error = NULL;
	char *line = NULL;

	if (asprintf(&path, "%s/%s", a->live ? "" : a->root, AGENT_CONFIG) < 0)
		return NULL;
	if (!a->p && profile_load_root(path, a->live ? NULL : a->root, &a->p, &error) < 0)
		return NULL;
	(void)ddns_status(a, &line);
	return line;
}

static int status_json(struct agent *a, bool done) {
	_cleanup_free_ char *ddns = ddns_line(a);
	JsonWriter w;

	json_init(&w, stdout);
	json_object_begin(&w);
	json_field_bool(&w, "complete", done);
	json_field_string(&w, "ddns", ddns);
	json_key(&w, "stages");
	json_array_begin(&w);
	for (size_t i = 0; i < agent_n_stages; i++) {
		struct stage_record rec = {};

		(void)journal_get(a, agent_stages[i].name, &rec);
		json_object_begin(&w);
		json_field_string(&w, "name", agent_stages[i].name);
		json_field_string(&w, "state", stage_state_to_string(rec.state));
		json_key(&w, "seconds");
		json_fixed(&w, rec.seconds, 3);
		json_field_uint(&w, "attempts", rec.attempts);
		json_field_string(&w, "error", rec.state == STAGE_FAILED ? rec.error : NULL);
		json_field_string(&w, "note", rec.note);
		json_object_end(&w);
		stage_record_release(&rec);
	}
	json_array_end(&w);
	json_object_end(&w);
	return json_finish(&w);
}

static int run_status(void) {
	struct agent *a = &agent;
	bool done;
	int r;

	r = open_root(a);
	if (r != 0)
		return r;
	done = agent_exists(a, DONE_MARKER) >= 0;
	if (arg_json)
		r = status_json(a, done);
	else {
		printf("%-12s %-8s %8s  %s\n", "STAGE", "STATE", "SECONDS", "DETAIL");
		for (size_t i = 0; i < agent_n_stages; i++) {
			struct stage_record rec = {};
			const char *detail;

			(void)journal_get(a, agent_stages[i].name, &rec);
			detail = rec.state == STAGE_FAILED && rec.error ? rec.error : rec.note ? rec.note : "";
			printf("%-12s %-8s %8.1f  %s\n", agent_stages[i].name, stage_state_to_string(rec.state), rec.seconds,
			       detail);
			stage_record_release(&rec);
		}
		_cleanup_free_ char *ddns = ddns_line(a);

		if (ddns)
			printf("ddns: %s\n", ddns);
		printf("%s\n", done ? "complete" : "not complete");
	}
	if (r < 0 || fflush(stdout) != 0)
		return log_error_errno(r < 0 ? r : negative_errno(), "Cannot write the status: %m");
	return 0;
}

static int parse_stage(int argc, char **argv) {
	int r = parse_verb(argc, argv, 0, (const char *const[]){ "NAME" }, 1);

	if (r <= 0)
		return r;
	arg_stage = argv[optind];
	if (!stage_find(arg_stage))
		return cli_usage_error("stage", "unknown stage '%s'", arg_stage);
	return 1;
}

static int run_one_stage(void) {
	struct agent *a = &agent;
	int r;

	r = open_root(a);
	if (r != 0)
		return r;
	if ((r = load_config(a)) < 0)
		return r;
	r = journal_open(a);
	if (r < 0)
		return log_error_errno(r, "Cannot create /%s: %m", AGENT_STATE_DIR);
	r = run_stage(a, stage_find(arg_stage));
	if (r >= 0 && a->reboot) /* one stage run by hand: the user reboots when it suits */
		agent_say("stage %s needs a reboot to take effect", arg_stage);
	return r;
}

static int parse_ddns(int argc, char **argv) {
	return parse_verb(argc, argv, VERB_FORCE, NULL, 0);
}

/* One DDNS cycle; exit 1 when an update failed or a failure answer stops DDNS. */
static int run_ddns(void) {
	_cleanup_(ddns_report_release) struct ddns_report rep = {};
	struct agent *a = &agent;
	struct stage_record rec = {};
	int r;

	r = open_root(a);
	if (r != 0)
		return r;
	if ((r = load_config(a)) < 0)
		return r;
	if (a->p->ddns_provider == DDNS_NONE) {
		agent_say("ddns: no [DDNS] Provider in /%s; nothing to do", AGENT_CONFIG);
		return 0;
	}
	(void)journal_get(a, "ddns", &rec);
	r = rec.state;
	stage_record_release(&rec);
	if (r != STAGE_DONE && !arg_force) {
		/* the first boot's stage makes the first update; the timer only follows it */
		agent_say("ddns: the first boot has not reached its ddns stage yet; nothing to do");
		return 0;
	}
	r = journal_open(a);
	if (r < 0)
		return log_error_errno(r, "Cannot create /%s: %m", AGENT_STATE_DIR);
	r = ddns_cycle(a, arg_force, &rep);
	if (r < 0)
		return log_error_errno(r, "DDNS for %s failed: %m", a->p->ddns_hostname);
	agent_say("ddns: %s: %s (%u request%s)", a->p->ddns_hostname, rep.summary ? rep.summary : "nothing to do",
		  rep.requests, rep.requests == 1 ? "" : "s");
	return rep.failed ? EXIT_FAIL : EXIT_OK;
}

static int parse_gpu_check(int argc, char **argv) {
	return parse_verb(argc, argv, VERB_JSON, NULL, 0);
}

/* Runs anywhere: a rig is a root with /etc/mlrig/rig.conf, and then its profile says what must work. */
static int run_gpu_check(void) {
	_cleanup_(gpu_report_release) struct gpu_report rep = {};
	struct agent *a = &agent;
	bool ok;
	int r;

	r = open_root(a);
	if (r != 0)
		return r;
	if (agent_exists(a, AGENT_CONFIG) >= 0 && (r = load_config(a)) < 0)
		return r;
	gpu_check_collect(a, &rep);
	ok = gpu_check_ok(a->p, &rep);
	if (arg_json) {
		JsonWriter w;

		json_init(&w, stdout);
		gpu_report_json(&w, &rep, ok);
		r = json_finish(&w);
	} else
		gpu_report_print(&rep, ok);
	if (r < 0 || fflush(stdout) != 0)
		return log_error_errno(r < 0 ? r : negative_errno(), "Cannot write the report: %m");
	return ok ? EXIT_OK : EXIT_FAIL;
}

static const struct cli_verb verb_run = { "run", parse_none, run_run };
static const struct cli_verb verb_status = { "status", parse_status, run_status };
static const struct cli_verb verb_stage = { "stage", parse_stage, run_one_stage };
static const struct cli_verb verb_ddns = { "ddns", parse_ddns, run_ddns };
static const struct cli_verb verb_gpu_check = { "gpu-check", parse_gpu_check, run_gpu_check };
static const struct cli_verb *const verbs[] = { &verb_run, &verb_status, &verb_stage, &verb_ddns, &verb_gpu_check };

/* The options before the command; <0 usage error, 0 done, >0 go on. */
static int parse_argv(int argc, char **argv) {
	static const struct option options[] = {
		COMMON_OPTIONS,
		{ "json", no_argument, NULL, ARG_JSON },
		{ "version", no_argument, NULL, 'V' },
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "+:hV", options, NULL)) >= 0) {
		if (parse_common(c))
			continue;
		switch (c) {
		case ARG_JSON: arg_json = true; break; /* before the command, as 0.1 took it */
		case 'h': help(); return 0;
		case 'V': printf("mlrig-firstboot %s\n", MLRIG_VERSION); return 0;
		default: return cli_option_error(NULL, c, argv);
		}
	}
	if (optind >= argc)
		return cli_usage_error(NULL, "no command given (run, status, stage NAME, ddns or gpu-check)");
	return 1;
}

int main(int argc, char **argv) {
	int r;

	cli_init("mlrig-firstboot");
	agent.root_fd = -1;
	r = parse_argv(argc, argv);
	if (r <= 0)
		return r < 0 ? EXIT_USAGE : EXIT_OK;
	if (now_wall_check() < 0)
		return cli_input_error("MLRIG_NOW=%s: not a time in seconds since 1970", getenv("MLRIG_NOW"));
	r = cli_dispatch(verbs, ELEMENTSOF(verbs), argc - optind, argv + optind);
	profile_free(agent.p);
	free(agent.error);
	free(agent.note);
	if (agent.root_fd >= 0)
		close(agent.root_fd);
	return r;
}
