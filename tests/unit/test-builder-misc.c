/* Builder pieces without I/O of their own: templates, the ELF reader and the payload. */
#include <fcntl.h>
#include <sys/stat.h>

#include "elf-check.h"
#include "fileio.h"
#include "macro.h"
#include "payload.h"
#include "profile.h"
#include "template.h"
#include "test.h"

TEST(template_render) {
	const struct template_var vars[] = { { "HOST", "rig" }, { "PORT", "22" } };
	char *out = NULL, *err = NULL;

	ASSERT_OK(template_render("t", "Port @PORT@\n# mail@example.com @lower@ @@\nHost @HOST@@PORT@\n", vars, 2, &out, &err));
	ASSERT_STREQ(out, "Port 22\n# mail@example.com @lower@ @@\nHost rig22\n");
	free(out);
	ASSERT_EQ(template_render("overlays/x.in", "a\nb @NOPE@\n", vars, 2, &out, &err), -EINVAL);
	ASSERT_STREQ(err, "overlays/x.in:2: unknown placeholder @NOPE@");
	free(err);
}

TEST(elf_needs_of_this_test) {
	char *data = NULL;
	size_t size;
	struct elf_needs n = {};
	bool libc = false, glibc = false;

	ASSERT_OK(read_full_file("/proc/self/exe", &data, &size));
	ASSERT_OK(elf_read_needs(data, size, &n));
	for (char **l = n.libraries; l && *l; l++)
		libc = libc || strcmp(*l, "libc.so.6") == 0;
	for (char **v = n.versions; v && *v; v++)
		glibc = glibc || strncmp(*v, "GLIBC_2.", 8) == 0;
	ASSERT_TRUE(libc);
	ASSERT_TRUE(glibc);
	elf_needs_release(&n);
	/* not an ELF, and a truncated one */
	ASSERT_EQ(elf_read_needs("hello", 5, &n), -ENOEXEC);
	ASSERT_TRUE(elf_read_needs(data, 200, &n) < 0);
	free(data);
}

TEST(glibc_version_cmp) {
	ASSERT_EQ(glibc_version_cmp("GLIBC_2.31", "GLIBC_2.31"), 0);
	ASSERT_EQ(glibc_version_cmp("GLIBC_2.9", "GLIBC_2.31"), -1);
	ASSERT_EQ(glibc_version_cmp("GLIBC_2.34", "GLIBC_2.3.4"), 1);
	ASSERT_EQ(glibc_version_cmp("GLIBC_2.3.4", "GLIBC_2.3"), 1);
}

TEST(ubuntu_release_glibc) {
	const char *g = NULL;

	ASSERT_OK(ubuntu_release_glibc("20.04.6", &g));
	ASSERT_STREQ(g, "2.31");
	ASSERT_OK(ubuntu_release_glibc("22.04", &g));
	ASSERT_STREQ(g, "2.35");
	ASSERT_OK(ubuntu_release_glibc("24.04.1", &g));
	ASSERT_STREQ(g, "2.39");
	/* newer than the table: at least the newest known */
	ASSERT_OK(ubuntu_release_glibc("30.04", &g));
	ASSERT_STREQ(g, "2.41");
	ASSERT_EQ(ubuntu_release_glibc("16.04", &g), -ENOENT);
	ASSERT_EQ(ubuntu_release_glibc("22.05", &g), -ENOENT);
	ASSERT_EQ(ubuntu_release_glibc("bookworm", &g), -EINVAL);
	ASSERT_EQ(ubuntu_release_glibc("22.13", &g), -EINVAL);
	ASSERT_EQ(ubuntu_release_glibc("22.04x", &g), -EINVAL);
	ASSERT_EQ(ubuntu_release_glibc("", &g), -EINVAL);
}

TEST(agent_check_release) {
	char *error = NULL;

	/* this test binary is built against the host's glibc (2.36 on Debian 12), which needs more than 20.04's */
	ASSERT_EQ(agent_check_release("/proc/self/exe", "20.04.6", &error), -ENOEXEC);
	ASSERT_CONTAINS(error, "Ubuntu 20.04.6 (glibc 2.31) cannot run the agent /proc/self/exe: it needs GLIBC_2.");
	free(error), error = NULL;
	ASSERT_OK(agent_check_release("/proc/self/exe", "30.04", &error));
	ASSERT_EQ(agent_check_release("/proc/self/exe", "16.04", &error), -ENOEXEC);
	ASSERT_CONTAINS(error, "cannot tell which glibc Ubuntu 16.04 has (known: 18.04 to 25.04)");
	free(error), error = NULL;
	ASSERT_EQ(agent_check_release("/nonexistent", "22.04", &error), -ENOENT);
	free(error);
}

static void write_text(const char *path, const char *text, mode_t mode) {
	ASSERT_OK(write_file_atomic(path, text, strlen(text), mode));
}

TEST(payload_collect) {
	Profile *p = NULL;
	char *error = NULL;
	struct payload pl = {};
	const struct payload_file *conf = NULL, *dir = NULL, *agent = NULL, *dropin = NULL;

	ASSERT_OK(mkdir("overlays", 0755));
	ASSERT_OK(mkdir("overlays/rig", 0755));
	ASSERT_OK(mkdir("overlays/rig/etc", 0755));
	ASSERT_OK(mkdir("overlays/rig/etc/ssh", 0755));
	write_text("overlays/rig/etc/ssh/drop.conf.in", "AllowUsers @USER@\nPort @SSH_PORT@\n", 0644);
	write_text("overlays/rig/etc/run.sh", "#!/bin/sh\n", 0755);
	write_text("keys.pub", "ssh-ed25519 AAAA k\n", 0644);
	write_text("agent", "\177ELF-not-really", 0755);
	write_text("rig.conf", "[Rig]\nHostname=h\nUser=u\nAuthorizedKeys=keys.pub\n[SSH]\nPort=2222\n", 0644);
	ASSERT_OK(profile_load("rig.conf", &p, &error));
	ASSERT_OK(payload_collect(p, ".", "agent", &pl, &error));
	for (size_t i = 0; i < pl.n_files; i++) {
		if (i > 0)
			ASSERT_TRUE(strcmp(pl.files[i - 1].path, pl.files[i].path) < 0);
		if (strcmp(pl.files[i].path, RIG_CONFIG) == 0)
			conf = &pl.files[i];
		if (strcmp(pl.files[i].path, RIG_CONFIG_DIR) == 0)
			dir = &pl.files[i];
		if (strcmp(pl.files[i].path, RIG_AGENT) == 0)
			agent = &pl.files[i];
		if (strcmp(pl.files[i].path, "/etc/ssh/drop.conf") == 0)
			dropin = &pl.files[i];
	}
	ASSERT_TRUE(conf && dir && agent && dropin);
	ASSERT_EQ(conf->mode, 0600);
	ASSERT_EQ(dir->mode, 0700);
	ASSERT_TRUE(dir->data == NULL);
	ASSERT_EQ(agent->mode, 0755);
	ASSERT_CONTAINS(conf->data, "AuthorizedKeys=" RIG_AUTHORIZED_KEYS "\n");
	ASSERT_EQ(dropin->size, strlen("AllowUsers u\nPort 2222\n"));
	ASSERT_TRUE(memcmp(dropin->data, "AllowUsers u\nPort 2222\n", dropin->size) == 0);
	ASSERT_TRUE(pl.n_units >= 2);
	payload_release(&pl);

	ASSERT_EQ(payload_collect(p, ".", "missing-agent", &pl, &error), -ENOENT);
	ASSERT_CONTAINS(error, "missing-agent is missing");
	free(error);
	profile_free(p);
}

static const struct payload_file *payload_find(const struct payload *pl, const char *path) {
	for (size_t i = 0; i < pl->n_files; i++)
		if (strcmp(pl->files[i].path, path) == 0)
			return &pl->files[i];
	return NULL;
}

static bool unit_enabled(const struct payload *pl, const char *unit) {
	for (size_t i = 0; i < pl->n_units; i++)
		if (strcmp(pl->units[i].unit, unit) == 0)
			return true;
	return false;
}

/* The Jupyter unit from the real overlay: enabled only with Service=yes; the
 * venv's Python when the venv gets the app, else the system's; 127.0.0.1 only. */
TEST(payload_jupyter_unit) {
	static const struct {
		const char *extra, *exec;
		bool enabled;
	} cases[] = {
		{ "[Python]\nVenv=~/ml\nRequirements=jupyterlab numpy\n[Jupyter]\nPort=8899\n",
		  "ExecStart=/home/u/ml/bin/python -m jupyterlab --no-browser --ip=127.0.0.1 --port=8899 --port-retries=0\n", true },
		{ "[Jupyter]\nService=yes\nApp=notebook\n",
		  "ExecStart=/usr/bin/python3 -m notebook --no-browser --ip=127.0.0.1 --port=8888 --port-retries=0\n", true },
		{ "[Python]\nVenv=/opt/venv\nRequirements=notebook\n",
		  "ExecStart=/opt/venv/bin/python -m notebook --no-browser", true },
		{ "[Python]\nVenv=~/ml\nRequirements=numpy\n", "ExecStart=/usr/bin/python3 -m jupyterlab", false },
	};
	_cleanup_free_ char *datadir = NULL;

	ASSERT_OK(find_datadir(&datadir));
	write_text("keys.pub", "ssh-ed25519 AAAA k\n", 0644);
	write_text("agent", "\177ELF-not-really", 0755);
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *text = NULL, *unit = NULL;
		const struct payload_file *f;
		struct payload pl = {};
		Profile *p = NULL;
		char *error = NULL;

		ASSERT_TRUE(asprintf(&text, "[Rig]\nHostname=h\nUser=u\nAuthorizedKeys=keys.pub\n%s", cases[i].extra) > 0);
		write_text("rig.conf", text, 0644);
		ASSERT_OK(profile_load("rig.conf", &p, &error));
		ASSERT_OK(payload_collect(p, datadir, "agent", &pl, &error));
		f = payload_find(&pl, "/etc/systemd/system/mlrig-jupyter.service");
		ASSERT_TRUE(f != NULL); /* on every rig, for 'systemctl enable' later */
		ASSERT_TRUE((unit = strndup(f->data, f->size)) != NULL);
		ASSERT_CONTAINS(unit, cases[i].exec);
		ASSERT_CONTAINS(unit, "\nUser=u\n");
		ASSERT_CONTAINS(unit, "\nEnvironment=JUPYTER_TOKEN_FILE=/home/u/.local/share/mlrig/jupyter-token\n");
		ASSERT_CONTAINS(unit, "\nConditionPathExists=/home/u/.local/share/mlrig/jupyter-token\n");
		ASSERT_EQ(unit_enabled(&pl, "mlrig-jupyter.service"), cases[i].enabled);
		ASSERT_TRUE(unit_enabled(&pl, "mlrig-firstboot.service"));
		payload_release(&pl);
		profile_free(p);
	}
}
