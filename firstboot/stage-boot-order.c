/* Stage boot-order: GRUB defaults for dual boot (default entry, timeout,
 * os-prober), update-grub, and the EFI BootOrder with this OS's entry first.
 * It also runs on every later boot (mlrig-bootorder.service), since Windows
 * updates put Windows Boot Manager back on top. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "efi-util.h"
#include "parse-util.h"
#include "stages.h"

#define GRUB_DEFAULTS "etc/default/grub.d/50-mlrig.cfg"
#define GRUB_APPLIED "var/lib/mlrig/grub-defaults.applied"

static bool contains_ci(const char *hay, const char *needle) {
	size_t n = strlen(needle);

	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return true;
	return false;
}

/* The title of the first GRUB menu entry whose title mentions Windows. */
static char *windows_entry(struct agent *a) {
	_cleanup_free_ char *cfg = NULL;

	if (agent_read(a, "boot/grub/grub.cfg", &cfg, NULL) < 0)
		return NULL;
	for (char *l = strstr(cfg, "menuentry '"); l; l = strstr(l + 1, "menuentry '")) {
		char *t = l + strlen("menuentry '"), *e = strchr(t, '\'');
		if (e && contains_ci(strndupa(t, (size_t)(e - t)), "windows"))
			return strndup(t, (size_t)(e - t));
	}
	return NULL;
}

static int grub_defaults(struct agent *a, const char *default_entry, char **ret) {
	const Profile *p = a->p;
	const char *def = default_entry ? default_entry : p->boot_default == BOOT_DEFAULT_SAVED ? "saved" : "0";

	/* the console arguments and terminal keep update-grub's config showing the
	 * boot on the serial console, as the builder's grub.cfg did */
	return asprintf(ret,
			"# Written by mlrig-firstboot from the profile's [Boot] section.\n"
			"GRUB_DEFAULT=\"%s\"\n%s"
			"GRUB_TIMEOUT=%u\nGRUB_TIMEOUT_STYLE=menu\nGRUB_RECORDFAIL_TIMEOUT=%u\n"
			"GRUB_DISABLE_OS_PROBER=%s\n"
			"GRUB_CMDLINE_LINUX=\"" RIG_CONSOLE_ARGS "%s%s\"\n"
			"GRUB_TERMINAL=\"console serial\"\n"
			"GRUB_SERIAL_COMMAND=\"serial --unit=0 --speed=115200\"\n",
			def, p->boot_default == BOOT_DEFAULT_SAVED ? "GRUB_SAVEDEFAULT=true\n" : "", p->timeout, p->timeout,
			p->dual_boot ? "false" : "true", p->kernel_command_line ? " " : "",
			p->kernel_command_line ? p->kernel_command_line : "") < 0 ? -ENOMEM : 0;
}

static int update_grub(struct agent *a, const char *text) {
	_cleanup_free_ char *applied = NULL;
	char *argv[] = { "update-grub", NULL };
	int r;

	/* run it only when the defaults changed since the last successful run */
	if (agent_read(a, GRUB_APPLIED, &applied, NULL) >= 0 && strcmp(applied, text) == 0)
		return 0;
	r = agent_run(a, "update-grub", argv, NULL);
	if (r < 0)
		return r;
	r = agent_write(a, GRUB_APPLIED, text, strlen(text), 0600, 0, 0);
	return r < 0 ? agent_fail(a, r, "cannot write /%s: %s", GRUB_APPLIED, strerror(-r)) : 1;
}

static int grub_stage(struct agent *a) {
	_cleanup_free_ char *text = NULL, *old = NULL, *win = NULL;
	int r;

	if (agent_exists(a, "usr/sbin/update-grub") < 0) {
		if (a->p->dual_boot)
			return agent_fail(a, -ENOENT, "[Boot] DualBoot=yes needs update-grub and os-prober in the rig (packages grub-efi-amd64 and os-prober)");
		return 0; /* keep the builder's grub.cfg */
	}
	if ((r = agent_mkdir(a, "etc/default/grub.d", 0755, 0, 0)) < 0 || (r = grub_defaults(a, NULL, &text)) < 0)
		return agent_fail(a, r, "cannot prepare /%s: %s", GRUB_DEFAULTS, strerror(-r));
	if (a->p->boot_default == BOOT_DEFAULT_WINDOWS && a->live && (win = windows_entry(a))) {
		free(text), text = NULL;
		if (grub_defaults(a, win, &text) < 0)
			return -ENOMEM;
	}
	if (agent_read(a, GRUB_DEFAULTS, &old, NULL) < 0 || strcmp(old, text) != 0) {
		r = agent_write(a, GRUB_DEFAULTS, text, strlen(text), 0644, 0, 0);
		if (r < 0)
			return agent_fail(a, r, "cannot write /%s: %s", GRUB_DEFAULTS, strerror(-r));
	}
	if (!a->live)
		return 0;
	r = update_grub(a, text);
	if (r < 0)
		return r;
	/* the first run generates the os-prober entries the Windows default needs */
	if (a->p->boot_default == BOOT_DEFAULT_WINDOWS && !win && (win = windows_entry(a))) {
		free(text), text = NULL;
		if (grub_defaults(a, win, &text) < 0)
			return -ENOMEM;
		r = agent_write(a, GRUB_DEFAULTS, text, strlen(text), 0644, 0, 0);
		if (r >= 0)
			r = update_grub(a, text);
		if (r < 0)
			return r;
	}
	if (a->p->boot_default == BOOT_DEFAULT_WINDOWS && !win)
		agent_say("warning: [Boot] Default=windows but os-prober found no Windows; GRUB boots Linux first");
	return 0;
}

static int efi_stage(struct agent *a, char **ret_what) {
	_cleanup_free_ char *osr = NULL, *id = NULL;
	_cleanup_free_ uint16_t *order = NULL;
	const char *dir = "/sys/firmware/efi/efivars";
	size_t n;
	int r;

	if (!a->live || !efi_available(dir)) {
		*ret_what = strdup("no EFI variables (BIOS boot or not the running system)");
		return 0;
	}
	if (agent_read(a, "etc/os-release", &osr, NULL) < 0 && agent_read(a, "usr/lib/os-release", &osr, NULL) < 0)
		return agent_fail(a, -ENOENT, "no os-release to name this OS's EFI boot entry");
	for (char *l = osr; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l, "ID=", 3) == 0)
			id = strndup(l + 3, strcspn(l + 3, "\n"));
	if (!id)
		return agent_fail(a, -EINVAL, "os-release has no ID=");
	r = efi_get_boot_order(dir, &order, &n);
	if (r < 0)
		return agent_fail(a, r, "cannot read the EFI BootOrder: %s", strerror(-r));
	for (size_t i = 0; i < n; i++) {
		struct efi_boot_entry e;

		if (efi_get_boot_entry(dir, order[i], &e) < 0 || !contains_ci(e.description, id))
			continue;
		if (i == 0)
			return asprintf(ret_what, "EFI Boot%04X (%s) already first", e.num, e.description) < 0 ? -ENOMEM : 0;
		memmove(order + 1, order, i * sizeof(uint16_t));
		order[0] = e.num;
		r = efi_set_boot_order(dir, order, n);
		if (r < 0)
			return agent_fail(a, r, "cannot write the EFI BootOrder: %s", strerror(-r));
		return asprintf(ret_what, "EFI Boot%04X (%s) moved first", e.num, e.description) < 0 ? -ENOMEM : 0;
	}
	return asprintf(ret_what, "no EFI boot entry names %s; the firmware boots the removable path", id) < 0 ? -ENOMEM : 0;
}

int stage_boot_order(struct agent *a) {
	_cleanup_free_ char *efi = NULL;
	int r;

	r = grub_stage(a);
	if (r < 0)
		return r;
	agent_test_hold(a, "boot-order");
	r = efi_stage(a, &efi);
	if (r < 0)
		return r;
	agent_note(a, "GRUB default %s, timeout %u s%s; %s", boot_default_to_string(a->p->boot_default), a->p->timeout,
		   a->p->dual_boot ? ", os-prober on" : "", efi ? efi : "");
	return 0;
}
