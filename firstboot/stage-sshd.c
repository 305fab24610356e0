/* Stage sshd: host keys made here (never baked into images, so two rigs from
 * one image differ), the key-only drop-in checked with sshd -t, then a reload. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stages.h"

#define DROP_IN "etc/ssh/sshd_config.d/50-mlrig.conf"

/* A power cut right after ssh-keygen can leave empty key files; sshd would
 * refuse them forever, so remove them and make them again. */
static void drop_empty_keys(struct agent *a) {
	static const char *const keys[] = { "etc/ssh/ssh_host_ed25519_key", "etc/ssh/ssh_host_ecdsa_key",
					    "etc/ssh/ssh_host_rsa_key" };
	struct stat st;

	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		char pub[64];

		snprintf(pub, sizeof(pub), "%s.pub", keys[i]);
		if ((fstatat(a->root_fd, keys[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_size == 0) ||
		    (fstatat(a->root_fd, pub, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_size == 0)) {
			(void)unlinkat(a->root_fd, keys[i], 0);
			(void)unlinkat(a->root_fd, pub, 0);
		}
	}
}

int stage_sshd(struct agent *a) {
	_cleanup_free_ char *prefix = NULL, *out = NULL;
	int r;

	drop_empty_keys(a);
	if (agent_exists(a, "etc/ssh/ssh_host_ed25519_key") < 0 || agent_exists(a, "etc/ssh/ssh_host_rsa_key") < 0) {
		/* ssh-keygen -A makes every missing type; -f puts them under a tree */
		char *live[] = { "ssh-keygen", "-A", NULL };
		char *tree[] = { "ssh-keygen", "-A", "-f", NULL, NULL };

		prefix = strdup(a->root);
		if (!prefix)
			return -ENOMEM;
		tree[3] = prefix;
		r = agent_run(a, "generating SSH host keys", a->live ? live : tree, NULL);
		if (r < 0)
			return r;
		/* on disk before the stage is recorded done */
		if (syncfs(a->root_fd) < 0)
			return agent_fail(a, -errno, "syncfs after making host keys: %m");
	}
	agent_test_hold(a, "sshd");

	if (agent_exists(a, DROP_IN) < 0)
		return agent_fail(a, -ENOENT, "/%s is missing: the image or install did not carry mlrig's sshd settings", DROP_IN);
	if (!a->live) {
		agent_note(a, "host keys present; sshd -t and reload skipped (not the running system)");
		return 0;
	}
	{
		char *test[] = { "sshd", "-t", NULL };
		r = agent_run(a, "sshd -t", test, NULL);
	}
	if (r < 0) {
		/* roll back: an sshd that refuses its config would lock the user out after the next restart */
		if (renameat(a->root_fd, DROP_IN, a->root_fd, DROP_IN ".rejected") < 0)
			return agent_fail(a, -errno, "sshd rejected /%s and it could not be moved aside: %m", DROP_IN);
		agent_say("sshd rejected /%s; moved it to %s.rejected", DROP_IN, DROP_IN);
		return r;
	}
	{
		char *reload[] = { "systemctl", "try-reload-or-restart", "ssh.service", NULL };
		r = agent_run(a, "reloading sshd", reload, &out);
	}
	if (r < 0)
		return r;
	agent_note(a, "host keys present, drop-in accepted by sshd -t, sshd reloaded");
	return 0;
}
