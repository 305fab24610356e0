/* mlrig fetch: download Ubuntu media (by URL or known name), resumable, checked against SHA256SUMS. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fetch.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "verbs.h"

static const char *arg_target;
static const char *arg_output_dir = ".";
static const char *arg_sha256;
static const char *arg_sums;
static const char *arg_keyring;
static bool arg_quiet;
static bool arg_list;

static void help(void) {
	printf("Usage:\n"
	       " mlrig fetch URL|NAME [-o DIR] [--sha256 HEX | --sums URL] [--keyring FILE]\n"
	       " mlrig fetch --list\n"
	       "\n"
	       "Download Ubuntu media. A partial download (FILE.part) is resumed; the sha256 is\n"
	       "checked before the file gets its final name; transient errors are retried.\n"
	       "NAME is one of --list; it brings its release's SHA256SUMS.\n"
	       "\n"
	       "Options:\n"
	       " -o, --output-dir DIR  where to put the file (default: the current directory)\n"
	       "     --sha256 HEX      the expected sha256 of a URL\n"
	       "     --sums URL        a SHA256SUMS file listing the URL's file name\n"
	       "     --keyring FILE    check SHA256SUMS against its signature (SHA256SUMS.gpg) with gpgv\n"
	       "     --list            print the known names and where they come from\n"
	       " -q, --quiet           no progress line\n"
	       " -h, --help            display this help\n"
	       "\n"
	       "Environment: MLRIG_FETCH_MIRROR=URL replaces the scheme and host of known names.\n");
}

static int parse_argv(int argc, char **argv) {
	enum { ARG_SHA256 = 0x100, ARG_SUMS, ARG_KEYRING, ARG_LIST };
	static const struct option options[] = {
		{ "output-dir", required_argument, NULL, 'o' },
		{ "sha256", required_argument, NULL, ARG_SHA256 },
		{ "sums", required_argument, NULL, ARG_SUMS },
		{ "keyring", required_argument, NULL, ARG_KEYRING },
		{ "list", no_argument, NULL, ARG_LIST },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c, r;

	while ((c = getopt_long(argc, argv, ":o:qh", options, NULL)) >= 0)
		switch (c) {
		case 'o': arg_output_dir = optarg; break;
		case ARG_SHA256: arg_sha256 = optarg; break;
		case ARG_SUMS: arg_sums = optarg; break;
		case ARG_KEYRING: arg_keyring = optarg; break;
		case ARG_LIST: arg_list = true; break;
		case 'q': arg_quiet = true; break;
		case 'h': help(); return 0;
		default: return cli_option_error("fetch", c, argv);
		}
	if (arg_list)
		return cli_positional("fetch", argc, argv, NULL, 0, 0) < 0 ? -EINVAL : 1;
	r = cli_positional("fetch", argc, argv, (const char *const[]){ "URL or NAME" }, 1, 1);
	if (r < 0)
		return r;
	arg_target = argv[optind];
	if (arg_sha256 && arg_sums)
		return cli_usage_error("fetch", "--sha256 and --sums exclude each other");
	if (!strstr(arg_target, "://")) {
		if (!fetch_known_lookup(arg_target))
			return cli_usage_error("fetch", "'%s' is neither a URL nor a known name (see 'mlrig fetch --list')",
					       arg_target);
		if (arg_sha256 || arg_sums)
			return cli_usage_error("fetch", "%s brings its own SHA256SUMS; --sha256 and --sums are for URLs",
					       arg_target);
	} else if (arg_keyring && !arg_sums)
		return cli_usage_error("fetch", "--keyring checks the signature of --sums; give both");
	if (arg_sha256 && fetch_parse_sha256(arg_sha256, NULL) < 0)
		return cli_usage_error("fetch", "--sha256 %s: not 64 hex digits", arg_sha256);
	return 1;
}

static void on_notify(bool warning, const char *message) {
	if (warning)
		log_warning("%s", message);
	else
		log_info("%s", message);
}

static int list(void) {
	size_t n;
	const struct fetch_known *k = fetch_known_list(&n);

	for (size_t i = 0; i < n; i++)
		printf("%-48s %s%s%s%s%s\n", k[i].name, k[i].host, k[i].dir, k[i].prefix,
		       k[i].suffix[0] ? "[.N]" : "", k[i].suffix);
	return EXIT_OK;
}

static int fetch(void) {
	_cleanup_free_ char *dir_url = NULL, *sums_url = NULL, *sums = NULL, *sig = NULL, *url = NULL,
			    *filename = NULL, *path = NULL, *gpg_output = NULL, *sig_url = NULL, *error = NULL;
	const struct fetch_known *k = fetch_known_lookup(arg_target);
	struct fetch_options opts = { .quiet = arg_quiet, .retries = 5, .backoff_ms = 1000, .notify = on_notify };
	const char *backoff = getenv("MLRIG_FETCH_BACKOFF_MS");
	char expected[65], hex[65];
	bool have_expected = false;
	size_t sums_size = 0, sig_size = 0;
	struct stat st;
	int r;

	if (backoff) {
		uint32_t ms;

		if (safe_atou32(backoff, &ms) < 0)
			return cli_input_error("MLRIG_FETCH_BACKOFF_MS=%s is not a number of milliseconds", backoff);
		opts.backoff_ms = ms;
	}
	if (arg_sha256) {
		(void)fetch_parse_sha256(arg_sha256, expected); /* checked in parse_argv() */
		have_expected = true;
	}
	if (stat(arg_output_dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return cli_input_error("Output directory '%s' does not exist.", arg_output_dir);
	if (arg_keyring && access(arg_keyring, R_OK) < 0)
		return cli_input_error_errno(errno, "Cannot read keyring '%s': %m", arg_keyring);

	if (k) {
		r = fetch_known_dir_url(k, getenv("MLRIG_FETCH_MIRROR"), &dir_url);
		if (r < 0 || asprintf(&sums_url, "%sSHA256SUMS", dir_url) < 0)
			return log_oom();
	} else {
		url = strdup(arg_target);
		sums_url = arg_sums ? strdup(arg_sums) : NULL;
		if (!url || (arg_sums && !sums_url))
			return log_oom();
	}

	if (sums_url) {
		r = fetch_memory(sums_url, 4 * MiB, &opts, &sums, &sums_size, &error);
		if (r < 0)
			return log_error_errno(r, "%s", error ?: strerror(-r));
		if (arg_keyring) {
			if (asprintf(&sig_url, "%s.gpg", sums_url) < 0)
				return log_oom();
			r = fetch_memory(sig_url, MiB, &opts, &sig, &sig_size, &error);
			if (r < 0)
				return log_error_errno(r, "%s", error ?: strerror(-r));
			r = fetch_check_signature(arg_keyring, sums, sums_size, sig, sig_size, &gpg_output);
			if (r == -EBADMSG)
				return log_error_errno(r, "The signature of %s does not check out with keyring %s:\n%s", sums_url,
						       arg_keyring, gpg_output ?: "");
			if (r < 0)
				return log_error_errno(r, "Cannot check the signature of %s with keyring %s: %m", sums_url,
						       arg_keyring);
			log_info("%s: good signature (keyring %s).", sums_url, arg_keyring);
		}
		if (k) {
			r = fetch_sums_find_point_release(sums, k->prefix, k->suffix, &filename, expected);
			if (r < 0)
				return log_error_errno(r, "%s lists no %s*%s: has the release moved?", sums_url, k->prefix,
						       k->suffix);
			if (asprintf(&url, "%s%s", dir_url, filename) < 0)
				return log_oom();
		} else {
			r = fetch_url_basename(url, &filename);
			if (r < 0)
				return cli_input_error("%s does not end in a file name", url);
			r = fetch_sums_find(sums, filename, expected);
			if (r < 0)
				return log_error_errno(r, "%s has no entry for %s.", sums_url, filename);
		}
		have_expected = true;
	} else {
		r = fetch_url_basename(url, &filename);
		if (r < 0)
			return cli_input_error("%s does not end in a file name", url);
		if (!have_expected)
			log_warning("No --sha256 or --sums: %s will not be verified.", filename);
	}

	if (asprintf(&path, "%s/%s", arg_output_dir, filename) < 0)
		return log_oom();
	r = fetch_file(url, path, have_expected ? expected : NULL, &opts, hex, &error);
	if (r < 0)
		return log_error_errno(r, "%s", error ?: strerror(-r));
	printf("%s: sha256 %s (%s)\n", path, hex,
	       have_expected ? (sums_url ? (arg_keyring ? "verified, SHA256SUMS signed" : "verified against SHA256SUMS")
					 : "verified")
			     : "not verified");
	return EXIT_OK;
}

static int run(void) {
	return arg_list ? list() : fetch();
}

const struct cli_verb verb_fetch = { "fetch", parse_argv, run };
