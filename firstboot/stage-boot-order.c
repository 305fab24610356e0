/* Stage boot-order: GRUB defaults for dual boot (default entry, timeout,
 * os-prober), update-grub, and the EFI BootOrder with this OS's entry first.
 * It also runs on every later boot (mlrig-bootorder.service), since Windows
 * updates put Windows Boot Manager back on top. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "efi-util.h"
#include "journal.h"
#include "parse-util.h"
#include "stages.h"

#define GRUB_DEFAULTS "etc/default/grub.d/50-mlrig.cfg"
#define GRUB_APPLIED "var/lib/mlrig/grub-defaults.applied"
#define OS_PROBER "usr/bin/os-prober"

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
	/* a server rootfs may lack it; update-grub then quietly lists no other OS */
	if (a->p->dual_boot && agent_exists(a, OS_PROBER) < 0)
		agent_say("warning: [Boot] DualBoot=yes but os-prober is not installed: GRUB's menu lists no other OS (apt install os-prober)");
	if ((r = agent_mkdir(a, "etc/default/grub.d", 0755, 0, 0)) < 0 || (r = grub_defaults(a, NULL, &text)) < 0)
		return agent_fail(a, r, "cannot prepare /%s: %s", GRUB_DEFAULTS, strerror(-r));
	/* the Windows entry of the menu update-grub last wrote (with --root, the tree's grub.cfg) */
	if (a->p->boot_default == BOOT_DEFAULT_WINDOWS && (win = windows_entry(a))) {
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

#define EFIVARS "/sys/firmware/efi/efivars"
#define ESP_DIR "boot/efi"

/* The rig's loader on its ESP, as the firmware names files: an installer's shim or GRUB in
 * the distribution's own directory, else the removable path mlrig's images boot from
 * (the rootfs's signed shim, or GRUB when the rootfs had no signed pair). */
static int find_loader(struct agent *a, const char *os_id, char **ret) {
	static const char *const names[] = { "shimx64.efi", "grubx64.efi" };

	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		_cleanup_free_ char *path = NULL;

		if (asprintf(&path, ESP_DIR "/EFI/%s/%s", os_id, names[i]) < 0)
			return -ENOMEM;
		if (agent_exists(a, path) >= 0)
			return asprintf(ret, "\\EFI\\%s\\%s", os_id, names[i]) < 0 ? -ENOMEM : 0;
	}
	if (agent_exists(a, ESP_DIR "/EFI/BOOT/BOOTX64.EFI") >= 0)
		return (*ret = strdup("\\EFI\\BOOT\\BOOTX64.EFI")) ? 0 : -ENOMEM;
	return -ENOENT;
}

/* Which Boot#### is the rig's: the one with our device path, else one with our label (an
 * older entry of ours whose path changed); -1 for none. */
static int find_rig_entry(const char *efivars, const uint16_t *nums, size_t n, const uint8_t *opt,
			  const struct efi_boot_entry *mine, uint8_t **ret_old, size_t *ret_old_size) {
	int by_label = -1, found = -1;

	for (size_t i = 0; i < n && found < 0; i++) {
		_cleanup_free_ uint8_t *data = NULL;
		struct efi_boot_entry e;
		size_t size;

		if (efi_get_boot_option(efivars, nums[i], &data, &size) < 0 || efi_parse_load_option(data, size, &e) < 0)
			continue;
		if (e.path_size == mine->path_size && memcmp(data + e.path_offset, opt + mine->path_offset, e.path_size) == 0)
			found = (int)i;
		else if (by_label < 0 && strcmp(e.description, mine->description) == 0)
			by_label = (int)i;
		if (found >= 0 || by_label == (int)i) {
			free(*ret_old);
			*ret_old = TAKE_PTR(data);
			*ret_old_size = size;
		}
	}
	return found >= 0 ? found : by_label;
}

/* Creates or repairs the rig's own Boot#### for the ESP it booted from. Returns 1 with its
 * number, or 0 when it was skipped (a rig without libefiboot, no ESP mounted): *ret_what says
 * what was done or skipped. */
static int rig_entry(struct agent *a, const char *efivars, const struct efi_partition *found_esp, const char *os_id,
		     const char *label, uint16_t *ret_num, char **ret_what) {
	_cleanup_free_ uint8_t *opt = NULL, *old = NULL;
	_cleanup_free_ uint16_t *nums = NULL;
	_cleanup_free_ char *loader = NULL, *error = NULL, *path = NULL;
	struct efi_partition esp;
	struct efi_boot_entry mine;
	size_t size, old_size = 0, n;
	const char *done;
	uint16_t num = 0;
	int i, r;

	if (found_esp)
		esp = *found_esp, r = 0;
	else
		r = efi_find_esp("/" ESP_DIR, &esp, &error);
	if (r == -ENOENT || r == -ENODEV)
		return asprintf(ret_what, "no rig entry: %s", error) < 0 ? -ENOMEM : 0;
	if (r < 0)
		return agent_fail(a, r, "cannot find the ESP: %s", error ? error : strerror(-r));
	r = find_loader(a, os_id, &loader);
	if (r == -ENOENT)
		return asprintf(ret_what, "no rig entry: the ESP has no loader (/" ESP_DIR "/EFI/BOOT/BOOTX64.EFI)") < 0 ? -ENOMEM : 0;
	if (r < 0)
		return r;
	r = efi_make_load_option(&esp, loader, label, &opt, &size, &error);
	if (r == -ELIBACC)
		return asprintf(ret_what, "skipped the rig's own boot entry: %s (install libefiboot1)", error) < 0 ? -ENOMEM : 0;
	if (r >= 0)
		r = efi_parse_load_option(opt, size, &mine);
	if (r < 0)
		return agent_fail(a, r, "cannot build the rig's EFI boot entry: %s", error ? error : strerror(-r));
	r = efi_list_boot_entries(efivars, &nums, &n);
	if (r < 0)
		return agent_fail(a, r, "cannot list the EFI boot entries: %s", strerror(-r));

	i = find_rig_entry(efivars, nums, n, opt, &mine, &old, &old_size);
	if (i >= 0)
		num = nums[i];
	else /* the first free number; nums is sorted */
		for (size_t k = 0; k < n && nums[k] <= num; k++)
			if (nums[k] == num)
				num++;
	if (i >= 0 && old_size == size && memcmp(old, opt, size) == 0)
		done = "kept";
	else {
		r = efi_set_boot_option(efivars, num, opt, size);
		if (r < 0)
			return agent_fail(a, r, "cannot write EFI Boot%04X: %s", num, strerror(-r));
		done = i >= 0 ? "repaired" : "created";
	}
	*ret_num = num;
	path = efi_format_device_path(opt + mine.path_offset, mine.path_size);
	return asprintf(ret_what, "Boot%04X \"%s\" %s %s", num, label, path ? path : loader, done) < 0 ? -ENOMEM : 1;
}

/* Without libefiboot: the first BootOrder entry whose description names the OS, as an
 * installer's entry does ("ubuntu"); -1 for none. */
static int find_named(const char *efivars, const uint16_t *order, size_t n, const char *os_id, uint16_t *ret_num) {
	for (size_t i = 0; i < n; i++) {
		struct efi_boot_entry e;

		if (efi_get_boot_entry(efivars, order[i], &e) >= 0 && contains_ci(e.description, os_id)) {
			*ret_num = e.num;
			return (int)i;
		}
	}
	return -1;
}

static char *order_text(const uint16_t *order, size_t n) {
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		return NULL;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%04X", i ? "," : "", order[i]);
	if (n == 0)
		fputs("empty", f);
	return fclose(f) == 0 ? s : NULL;
}

/* The rig's entry first in BootOrder, every other entry kept in its order: always on the first
 * run (GRUB's menu then decides), and on every later boot unless [Boot] Default=windows, where
 * a Windows update may leave Windows Boot Manager first. */
static int place_entry(struct agent *a, const char *efivars, uint16_t num, bool first_run, char **ret_what) {
	_cleanup_free_ uint16_t *order = NULL, *next = NULL;
	_cleanup_free_ char *was = NULL, *now = NULL;
	bool reassert = first_run || a->p->boot_default != BOOT_DEFAULT_WINDOWS;
	size_t n = 0, m = 0;
	int pos = -1, r;

	r = efi_get_boot_order(efivars, &order, &n);
	if (r < 0 && r != -ENOENT)
		return agent_fail(a, r, "cannot read the EFI BootOrder: %s", strerror(-r));
	for (size_t i = 0; i < n && pos < 0; i++)
		if (order[i] == num)
			pos = (int)i;
	if (pos == 0 && reassert)
		return asprintf(ret_what, "already first in BootOrder") < 0 ? -ENOMEM : 0;
	if (pos >= 0 && !reassert)
		return asprintf(ret_what, "BootOrder left alone ([Boot] Default=windows)") < 0 ? -ENOMEM : 0;
	next = malloc((n + 1) * sizeof(uint16_t));
	if (!next)
		return -ENOMEM;
	if (reassert)
		next[m++] = num;
	for (size_t i = 0; i < n; i++)
		if (order[i] != num)
			next[m++] = order[i];
	if (!reassert)
		next[m++] = num; /* new: last, the order of the others left alone */
	r = efi_set_boot_order(efivars, next, m);
	if (r < 0)
		return agent_fail(a, r, "cannot write the EFI BootOrder: %s", strerror(-r));
	was = order_text(order, n);
	now = order_text(next, m);
	return asprintf(ret_what, "%s BootOrder (was %s, now %s)", reassert ? "moved first in" : "added last to",
			was ? was : "?", now ? now : "?") < 0 ? -ENOMEM : 0;
}

int stage_boot_order_efi(struct agent *a, const char *efivars, const struct efi_partition *esp, char **ret_what) {
	_cleanup_free_ char *osr = NULL, *id = NULL, *name = NULL, *entry = NULL, *placed = NULL;
	_cleanup_free_ uint16_t *order = NULL;
	struct stage_record rec = {};
	bool first_run, own;
	uint16_t num = 0;
	size_t n = 0;
	int r;

	if (agent_read(a, "etc/os-release", &osr, NULL) < 0 && agent_read(a, "usr/lib/os-release", &osr, NULL) < 0)
		return agent_fail(a, -ENOENT, "no os-release to name this OS's EFI boot entry");
	id = os_release_value(osr, "ID");
	name = os_release_value(osr, "NAME");
	if (!id || !*id)
		return agent_fail(a, -EINVAL, "os-release has no ID=");
	/* the first run is the one that has not recorded this stage done */
	(void)journal_get(a, "boot-order", &rec);
	first_run = rec.state != STAGE_DONE;
	stage_record_release(&rec);

	r = rig_entry(a, efivars, esp, id, a->p->boot_entry_name ? a->p->boot_entry_name : name && *name ? name : id, &num, &entry);
	if (r < 0)
		return r;
	own = r > 0;
	if (!own) {
		r = efi_get_boot_order(efivars, &order, &n);
		if (r < 0 && r != -ENOENT)
			return agent_fail(a, r, "cannot read the EFI BootOrder: %s", strerror(-r));
		if (find_named(efivars, order, n, id, &num) < 0)
			return asprintf(ret_what, "EFI: %s; no boot entry names %s: the firmware boots the removable path",
					entry, id) < 0 ? -ENOMEM : 0;
	}
	r = place_entry(a, efivars, num, first_run, &placed);
	if (r < 0)
		return r;
	if (own)
		return asprintf(ret_what, "EFI: %s, %s", entry, placed) < 0 ? -ENOMEM : 0;
	return asprintf(ret_what, "EFI: %s; Boot%04X (names %s) %s", entry, num, id, placed) < 0 ? -ENOMEM : 0;
}

static int efi_stage(struct agent *a, char **ret_what) {
	if (!a->live || !efi_available(EFIVARS)) {
		*ret_what = strdup("no EFI variables (BIOS boot or not the running system)");
		return *ret_what ? 0 : -ENOMEM;
	}
	return stage_boot_order_efi(a, EFIVARS, NULL, ret_what);
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
		   !a->p->dual_boot ? "" : agent_exists(a, OS_PROBER) >= 0 ? ", os-prober on" : ", os-prober not installed",
		   efi ? efi : "");
	return 0;
}
