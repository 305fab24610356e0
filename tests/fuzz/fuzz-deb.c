/* The .deb control and Packages parsing, the relation fields and the Debian version order. The
 * input is deb822 text: every stanza parsed as a Packages file and as dpkg's status file, as
 * one control file, each relation field parsed and formatted; every Version compared with the
 * next (antisymmetric and reflexive, as dpkg's order is). */
#include "deb-control.h"
#include "deb-depends.h"
#include "deb-version.h"
#include "fuzz.h"

static void check_relations(const struct deb_stanza *s) {
	static const char *const fields[] = { "Depends", "Pre-Depends", "Provides", "Recommends" };

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *v = deb_stanza_get(s, fields[i]);
		struct deb_relations rel = { 0 };
		char *error = NULL;

		if (v && deb_relations_parse(fields[i], v, &rel, &error) >= 0)
			for (size_t g = 0; g < rel.n_groups; g++) {
				char *text = NULL;

				if (deb_alternatives_format(&rel.groups[g], &text) >= 0)
					free(text);
			}
		deb_relations_release(&rel);
		free(error);
	}
}

static void check_versions(const char *a, const char *b) {
	struct deb_version va, vb;
	char *error = NULL;
	int ab, ba;

	if (deb_version_parse(a, &va, &error) < 0) {
		free(error);
		return;
	}
	if (deb_version_cmp(&va, &va) != 0)
		abort();
	if (!b || deb_version_parse(b, &vb, NULL) < 0)
		return;
	ab = deb_version_compare(a, b);
	ba = deb_version_compare(b, a);
	if ((ab < 0) != (ba > 0) || (ab == 0) != (ba == 0))
		abort();
	(void)deb_version_satisfies(a, DEB_RELOP_GE, b);
	(void)deb_version_satisfies(a, DEB_RELOP_LT, b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	struct deb_stanza *st = NULL, one = { 0 };
	size_t n = 0;
	char *error = NULL;
	const char *text = (const char *)data;

	if (deb_control_parse(text, size, "Packages", &st, &n, &error) >= 0) {
		const char *prev = NULL;

		for (size_t i = 0; i < n; i++) {
			const char *v = deb_stanza_get(&st[i], "Version");
			const char *name = deb_stanza_get(&st[i], "Package");

			check_relations(&st[i]);
			if (name)
				free(error), error = NULL, (void)deb_name_check(name, &error);
			if (v)
				check_versions(v, prev);
			if (v)
				prev = v;
		}
	}
	deb_stanzas_free(st, n);
	free(error), error = NULL;
	st = NULL, n = 0;
	if (deb_status_parse(text, size, "status", &st, &n, &error) >= 0)
		for (size_t i = 0; i < n; i++)
			(void)deb_status_is_installed(deb_stanza_get(&st[i], "Status"));
	deb_stanzas_free(st, n);
	free(error), error = NULL;
	if (deb_control_parse_one(text, size, "control", &one, &error) >= 0)
		deb_stanza_release(&one);
	free(error);
	return 0;
}
