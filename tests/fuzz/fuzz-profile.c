/* The profile parser and validator: the input is a profile file, next to the files a profile
 * may name (a key, a password file, a directory), so that valid file keys get past the parser;
 * a profile that loads is rendered back and the rendering loaded again. */
#include <sys/stat.h>

#include "fuzz.h"
#include "profile.h"

static void setup(void) {
	static int done;
	char path[4096];

	if (done++)
		return;
	fuzz_write("key.pub", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFuzz fuzz\n", 48, path, sizeof(path));
	fuzz_write("password", "secret\n", 7, path, sizeof(path));
	fuzz_write("cudnn.tar.xz", "", 0, path, sizeof(path));
	fuzz_write("debconf", "d-i foo/bar string x\n", 21, path, sizeof(path));
	snprintf(path, sizeof(path), "%s/dir", fuzz_dir());
	mkdir(path, 0755);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	char path[4096];
	Profile *p = NULL, *q = NULL;
	char *error = NULL, *text = NULL;

	setup();
	fuzz_write("rig.conf", data, size, path, sizeof(path));
	if (profile_load(path, &p, &error) >= 0) {
		struct profile_paths paths = { 0 };

		if (profile_render(p, &paths, &text) >= 0) {
			fuzz_write("rendered.conf", text, strlen(text), path, sizeof(path));
			free(error);
			error = NULL;
			/* what render wrote, load reads */
			if (profile_load(path, &q, &error) < 0) {
				fprintf(stderr, "rendered profile does not load: %s\n", error ? error : "?");
				abort();
			}
		}
	}
	free(text);
	free(error);
	profile_free(q);
	profile_free(p);
	return 0;
}
