/* builder/deb-version.c, deb-control.c, deb-depends.c, deb-resolve.c: versions against dpkg's own answers, stanzas, relations, the resolver. */
#include "deb-control.h"
#include "deb-depends.h"
#include "deb-file.h"
#include "deb-resolve.h"
#include "deb-version.h"
#include "macro.h"
#include "test-deb.h"
#include "test.h"

static int sign(int x) {
	return (x > 0) - (x < 0);
}

/* ---- versions ---- */

TEST(version_table_from_dpkg) {
	char *table = read_source_file("tests/data/dpkg-versions.txt"), *p = table, *line;
	unsigned n = 0, lineno = 0;

	while ((line = next_line(&p))) {
		char a[128], op[4], b[128];
		const char *sp1, *sp2;
		int want;

		lineno++;
		if (line[0] == '#')
			continue;
		sp1 = strchr(line, ' ');
		sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
		ASSERT_TRUE(sp1 && sp2 && (size_t)(sp1 - line) < sizeof(a) && strlen(sp2 + 1) < sizeof(b));
		snprintf(a, sizeof(a), "%.*s", (int)(sp1 - line), line);
		snprintf(op, sizeof(op), "%.*s", (int)(sp2 - sp1 - 1), sp1 + 1);
		snprintf(b, sizeof(b), "%s", sp2 + 1);
		want = strcmp(op, "lt") == 0 ? -1 : strcmp(op, "eq") == 0 ? 0 : 1;
		ASSERT_TRUE(strcmp(op, "lt") == 0 || strcmp(op, "eq") == 0 || strcmp(op, "gt") == 0);
		ASSERT_OK(deb_version_parse(a, NULL, NULL));
		ASSERT_OK(deb_version_parse(b, NULL, NULL));
		if (sign(deb_version_compare(a, b)) != want || sign(deb_version_compare(b, a)) != -want)
			test_fail(__FILE__, __LINE__, "dpkg-versions.txt:%u: %s %s %s, but compare says %d / %d", lineno, a,
				  op, b, deb_version_compare(a, b), deb_version_compare(b, a));
		ASSERT_EQ(deb_version_compare(a, a), 0);
		n++;
	}
	ASSERT_TRUE(n >= 200);
	free(table);
}

TEST(version_refused_as_dpkg_refuses) {
	char *table = read_source_file("tests/data/dpkg-bad-versions.txt"), *p = table, *line, *error = NULL;
	unsigned n = 0;

	while ((line = next_line(&p))) {
		if (line[0] == '#')
			continue;
		if (deb_version_parse(line, NULL, &error) != -EINVAL)
			test_fail(__FILE__, __LINE__, "'%s' was accepted; dpkg refuses it", line);
		ASSERT_CONTAINS(error, line);
		n++;
	}
	ASSERT_TRUE(n >= 20);
	free(table);
	free(error);
}

TEST(version_parse_parts_and_messages) {
	struct deb_version v;
	char *error = NULL;

	ASSERT_OK(deb_version_parse(" 2:8.2.3995-1ubuntu2.13\t", &v, NULL));
	ASSERT_EQ(v.epoch, 2);
	ASSERT_TRUE(v.upstream_len == 8 && strncmp(v.upstream, "8.2.3995", 8) == 0);
	ASSERT_TRUE(v.revision_len == 11 && strncmp(v.revision, "1ubuntu2.13", 11) == 0);
	ASSERT_OK(deb_version_parse("1:2.0-1-2", &v, NULL)); /* upstream may hold hyphens, the revision follows the last */
	ASSERT_TRUE(v.upstream_len == 5 && strncmp(v.upstream, "2.0-1", 5) == 0 && v.revision_len == 1);
	ASSERT_OK(deb_version_parse("3.0", &v, NULL));
	ASSERT_TRUE(v.epoch == 0 && v.revision_len == 0);

	ASSERT_EQ(deb_version_parse("", &v, &error), -EINVAL);
	ASSERT_STREQ(error, "invalid version '': version string is empty");
	ASSERT_EQ(deb_version_parse("1:", &v, &error), -EINVAL);
	ASSERT_STREQ(error, "invalid version '1:': nothing after colon in version number");
	ASSERT_EQ(deb_version_parse("1.0-", &v, &error), -EINVAL);
	ASSERT_STREQ(error, "invalid version '1.0-': revision number is empty");
	ASSERT_EQ(deb_version_parse("x1", &v, &error), -EINVAL);
	ASSERT_STREQ(error, "invalid version 'x1': version number does not start with digit");
	ASSERT_EQ(deb_version_parse("2147483648:1", &v, &error), -EINVAL);
	ASSERT_STREQ(error, "invalid version '2147483648:1': epoch in version is too big");
	ASSERT_EQ(deb_version_parse("1 2", &v, &error), -EINVAL);
	ASSERT_STREQ(error, "invalid version '1 2': version string has embedded spaces");
	free(error);
}

TEST(version_satisfies) {
	ASSERT_TRUE(deb_version_satisfies("1.0~rc1-1", DEB_RELOP_LT, "1.0-1"));
	ASSERT_TRUE(!deb_version_satisfies("1.0-1", DEB_RELOP_LT, "1.0-1"));
	ASSERT_TRUE(deb_version_satisfies("1.0-1", DEB_RELOP_LE, "1.0-1"));
	ASSERT_TRUE(deb_version_satisfies("0:1.0-1", DEB_RELOP_EQ, "1.0-1"));
	ASSERT_TRUE(deb_version_satisfies("1:0.1", DEB_RELOP_GE, "9.9"));
	ASSERT_TRUE(deb_version_satisfies("470.199.02-0ubuntu0.20.04.1", DEB_RELOP_GT, "470.182.03-0ubuntu0.20.04.1"));
	ASSERT_TRUE(deb_version_satisfies("anything", DEB_RELOP_NONE, NULL));
	ASSERT_STREQ(deb_relop_to_string(DEB_RELOP_GE), ">=");
	ASSERT_STREQ(deb_relop_to_string(DEB_RELOP_LT), "<<");
	/* strings no parser accepted still order totally and the same way each time */
	ASSERT_EQ(sign(deb_version_compare("a", "b")), -sign(deb_version_compare("b", "a")));
	ASSERT_EQ(deb_version_compare("x:y", "x:y"), 0);
}

/* ---- control stanzas ---- */

TEST(control_stanzas_fields_continuations) {
	static const char text[] =
		"\n\n# a comment line\n"
		"Package: htop\n"
		"version:  3.0.5-7 \t\n"
		"Description: interactive processes viewer\r\n"
		" Htop is an ncursed-based process viewer.\n"
		" .\n"
		"\tsecond paragraph, tab-indented  \n"
		"Depends: libc6 (>= 2.15),\n"
		"  libncursesw6 (>= 6)\n"
		"Empty:\n"
		"\n\n\n"
		"Package: tmux\n"
		"X-Odd-Name_1.2: value: with colons";
	struct deb_stanza *s = NULL;
	size_t n = 0;

	ASSERT_OK(deb_control_parse(text, sizeof(text) - 1, "t", &s, &n, NULL));
	ASSERT_EQ(n, 2);
	ASSERT_EQ(s[0].n_fields, 5);
	ASSERT_EQ(s[0].line, 4);
	ASSERT_EQ(s[1].line, 16);
	ASSERT_STREQ(s[0].fields[1].name, "version"); /* as written */
	ASSERT_STREQ(deb_stanza_get(&s[0], "VERSION"), "3.0.5-7");
	ASSERT_STREQ(deb_stanza_get(&s[0], "description"),
		     "interactive processes viewer\nHtop is an ncursed-based process viewer.\n.\nsecond paragraph, tab-indented");
	ASSERT_STREQ(deb_stanza_get(&s[0], "Depends"), "libc6 (>= 2.15),\n libncursesw6 (>= 6)");
	ASSERT_STREQ(deb_stanza_get(&s[0], "Empty"), "");
	ASSERT_TRUE(!deb_stanza_get(&s[0], "Missing"));
	ASSERT_STREQ(deb_stanza_get(&s[1], "x-odd-name_1.2"), "value: with colons");
	deb_stanzas_free(s, n);

	/* nothing but blank lines and comments: no stanza, which is fine */
	ASSERT_OK(deb_control_parse("\n# x\n \n", 7, "t", &s, &n, NULL));
	ASSERT_EQ(n, 0);
	deb_stanzas_free(s, n);
}

static void expect_control_error(const char *text, const char *message) {
	struct deb_stanza *s = NULL;
	size_t n = 0;
	char *error = NULL;

	if (deb_control_parse(text, strlen(text), "status", &s, &n, &error) != -EINVAL)
		test_fail(__FILE__, __LINE__, "'%s' parsed; wanted \"%s\"", text, message);
	ASSERT_STREQ(error, message);
	free(error);
}

TEST(control_errors_name_the_line) {
	expect_control_error(" continued\nPackage: a\n", "status:1: continuation line outside a field");
	expect_control_error("Package: a\n\n continued\n", "status:3: continuation line outside a field");
	expect_control_error("Package: a\nno colon here\n", "status:2: 'no colon here' is no field (no colon)");
	expect_control_error("Package: a\npackage: b\n", "status:2: duplicate field 'package'");
	expect_control_error("Package: a\n: v\n", "status:2: empty field name");
	expect_control_error("Package: a\n-X: v\n", "status:2: field name '-X' starts with a hyphen");
	expect_control_error("Package: a\nBad Name: v\n", "status:2: field name 'Bad Name' must be followed by a colon");
	expect_control_error("Package : a\n", "status:1: field name 'Package ' must be followed by a colon");
	{
		static const char nul[] = "Package: a\nVersion: 1\0x\n";
		char *error = NULL;
		struct deb_stanza *s = NULL;
		size_t n = 0;

		ASSERT_EQ(deb_control_parse(nul, sizeof(nul) - 1, "status", &s, &n, &error), -EINVAL);
		ASSERT_STREQ(error, "status:2: NUL byte");
		free(error);
	}
}

TEST(control_one_stanza) {
	struct deb_stanza s;
	char *error = NULL;

	ASSERT_OK(deb_control_parse_one("Package: a\nVersion: 1\n\n\n", 24, "x.deb: control", &s, NULL));
	ASSERT_EQ(s.n_fields, 2);
	deb_stanza_release(&s);
	ASSERT_EQ(deb_control_parse_one("\n\n", 2, "x.deb: control", &s, &error), -EINVAL);
	ASSERT_STREQ(error, "x.deb: control: no fields");
	ASSERT_EQ(deb_control_parse_one("Package: a\n\nPackage: b\n", 23, "x.deb: control", &s, &error), -EINVAL);
	ASSERT_STREQ(error, "x.deb: control:3: a second stanza");
	free(error);
}

TEST(status_only_installed_packages) {
	static const char status[] =
		"Package: a\nStatus: install ok installed\nVersion: 1\n\n"
		"Package: b\nStatus: deinstall ok config-files\nVersion: 1\n\n"
		"Package: c\nStatus: install ok half-configured\nVersion: 1\n\n"
		"Package: d\nStatus: hold ok installed\nVersion: 1\n\n"
		"Package: e\nStatus: install reinstreq half-installed\nVersion: 1\n\n"
		"Package: f\nStatus: install ok unpacked\nVersion: 1\n\n"
		"Package: g\nStatus: purge ok not-installed\n\n"
		"Package: h\nStatus: install ok installed\nVersion: 2\n";
	struct deb_stanza *s = NULL;
	size_t n = 0;
	char *error = NULL;

	ASSERT_OK(deb_status_parse(status, sizeof(status) - 1, "status", &s, &n, NULL));
	ASSERT_EQ(n, 3);
	ASSERT_STREQ(deb_stanza_get(&s[0], "Package"), "a");
	ASSERT_STREQ(deb_stanza_get(&s[1], "Package"), "d");
	ASSERT_STREQ(deb_stanza_get(&s[2], "Package"), "h");
	deb_stanzas_free(s, n);

	ASSERT_TRUE(deb_status_is_installed("install ok installed"));
	ASSERT_TRUE(deb_status_is_installed("  install  ok\tinstalled "));
	ASSERT_TRUE(!deb_status_is_installed("install ok installed extra"));
	ASSERT_TRUE(!deb_status_is_installed("install ok"));
	ASSERT_TRUE(!deb_status_is_installed("install reinstreq installed"));
	ASSERT_TRUE(!deb_status_is_installed(""));

	ASSERT_EQ(deb_status_parse("Package: a\nVersion: 1\n", 22, "status", &s, &n, &error), -EINVAL);
	ASSERT_STREQ(error, "status:1: stanza without Status");
	ASSERT_EQ(deb_status_parse("Package: a\nStatus: install ok installed\n\nStatus: x y z\n", 55, "status", &s, &n, &error), -EINVAL);
	ASSERT_STREQ(error, "status:4: stanza without Package");
	free(error);
}

/* ---- relations ---- */

static char *format_group(const struct deb_alternatives *g) {
	char *s = NULL;

	ASSERT_OK(deb_alternatives_format(g, &s));
	return s;
}

TEST(relations_parse) {
	struct deb_relations r = {};
	char *s;

	ASSERT_OK(deb_relations_parse("Depends", "libc6 (>= 2.15), libncursesw6 (>= 6),\n libnl-3-200 (>= 3.2.7) |\n  libnl-genl,python3:any, Foo:AMD64 (<<1:2.0~rc1-1),"
				      "a(>=1),b (1), c (< 1), d (> 1), e (= 2), f (<= 3), g (>> 4)", &r, NULL));
	ASSERT_EQ(r.n_groups, 12);
	ASSERT_STREQ(r.groups[0].alts[0].name, "libc6");
	ASSERT_EQ(r.groups[0].alts[0].op, DEB_RELOP_GE);
	ASSERT_STREQ(r.groups[0].alts[0].version, "2.15");
	ASSERT_EQ(r.groups[2].n_alts, 2);
	ASSERT_STREQ(r.groups[2].alts[1].name, "libnl-genl");
	ASSERT_TRUE(!r.groups[2].alts[1].version && r.groups[2].alts[1].op == DEB_RELOP_NONE);
	ASSERT_STREQ(r.groups[3].alts[0].arch, "any");
	ASSERT_STREQ(r.groups[4].alts[0].name, "foo"); /* names and arches compare lower-cased, as dpkg does */
	ASSERT_STREQ(r.groups[4].alts[0].arch, "amd64");
	ASSERT_EQ(r.groups[4].alts[0].op, DEB_RELOP_LT);
	ASSERT_STREQ(r.groups[4].alts[0].version, "1:2.0~rc1-1");
	ASSERT_EQ(r.groups[5].alts[0].op, DEB_RELOP_GE);
	ASSERT_EQ(r.groups[6].alts[0].op, DEB_RELOP_EQ); /* "(1)" */
	ASSERT_EQ(r.groups[7].alts[0].op, DEB_RELOP_LE); /* the obsolete '<' */
	ASSERT_EQ(r.groups[8].alts[0].op, DEB_RELOP_GE); /* the obsolete '>' */
	ASSERT_EQ(r.groups[11].alts[0].op, DEB_RELOP_GT);
	s = format_group(&r.groups[2]);
	ASSERT_STREQ(s, "libnl-3-200 (>= 3.2.7) | libnl-genl");
	free(s);
	s = format_group(&r.groups[4]);
	ASSERT_STREQ(s, "foo:amd64 (<< 1:2.0~rc1-1)");
	free(s);
	deb_relations_release(&r);

	ASSERT_OK(deb_relations_parse("Depends", "  \n ", &r, NULL));
	ASSERT_EQ(r.n_groups, 0);
	deb_relations_release(&r);

	ASSERT_OK(deb_relations_parse("Provides", "awk, libfuse3-3-abi (= 3.10.3), mail-transport-agent", &r, NULL));
	ASSERT_EQ(r.n_groups, 3);
	ASSERT_EQ(r.groups[1].alts[0].op, DEB_RELOP_EQ);
	deb_relations_release(&r);
}

static void expect_relations_error(const char *field, const char *value, const char *message) {
	struct deb_relations r = {};
	char *error = NULL;

	if (deb_relations_parse(field, value, &r, &error) != -EINVAL)
		test_fail(__FILE__, __LINE__, "%s: '%s' parsed; wanted \"%s\"", field, value, message);
	ASSERT_STREQ(error, message);
	free(error);
}

TEST(relations_errors_as_dpkg) {
	expect_relations_error("Depends", "a, , b", "Depends: missing package name, or garbage where package name expected at ', b'");
	expect_relations_error("Depends", "a,", "Depends: missing package name, or garbage where package name expected at the end");
	expect_relations_error("Depends", ",a", "Depends: missing package name, or garbage where package name expected at ',a'");
	expect_relations_error("Depends", "a |", "Depends: missing package name, or garbage where package name expected at ''");
	expect_relations_error("Depends", "a (>= 1", "Depends: reference to 'a': version unterminated");
	expect_relations_error("Depends", "a (>= 1 2)", "Depends: reference to 'a': version contains '2' instead of ')'");
	expect_relations_error("Depends", "a (>= )", "Depends: reference to 'a': invalid version '': version string is empty");
	expect_relations_error("Depends", "a (>= a1)", "Depends: reference to 'a': invalid version 'a1': version number does not start with digit");
	expect_relations_error("Depends", "a (=> 1)", "Depends: reference to 'a': version contains '1' instead of ')'");
	expect_relations_error("Pre-Depends", "a [amd64]", "Pre-Depends: syntax error after reference to package 'a'");
	expect_relations_error("Depends", "a <!nocheck>", "Depends: syntax error after reference to package 'a'");
	expect_relations_error("Depends", "a b", "Depends: syntax error after reference to package 'a'");
	expect_relations_error("Depends", "a : any", "Depends: syntax error after reference to package 'a'");
	expect_relations_error("Depends", "a:", "Depends: reference to 'a': missing architecture name, or garbage where architecture name expected");
	expect_relations_error("Depends", "a:x_y", "Depends: reference to 'a': missing architecture name, or garbage where architecture name expected");
	expect_relations_error("Depends", "-a", "Depends: invalid package name '-a': must start with a letter or digit");
	expect_relations_error("Depends", "a/b", "Depends: invalid package name 'a/b': character '/' not allowed (only letters, digits and '-+._')");
	expect_relations_error("Provides", "a | b", "Provides: alternatives ('|') not allowed");
	expect_relations_error("Provides", "a (>= 1)", "Provides: 'a (>= 1)': only exact versions (=) may be provided");
	expect_relations_error("Provides", "a:any", "Provides: 'a:any': no arch qualifier allowed here");
}

/* ---- the resolver ---- */

/* A package as deb_file_read() would hand it, straight from a control text. */
static void fake_deb(struct deb_package *p, const char *control) {
	*p = (struct deb_package){};
	ASSERT_OK(deb_control_parse_one(control, strlen(control), "fake", &p->control, NULL));
	p->name = deb_stanza_get(&p->control, "Package");
	p->version = deb_stanza_get(&p->control, "Version");
	p->arch = deb_stanza_get(&p->control, "Architecture");
	ASSERT_TRUE(p->name && p->version && p->arch);
	ASSERT_TRUE(asprintf(&p->path, "debs/%s_%s_%s.deb", p->name, p->version, p->arch) >= 0);
}

struct world {
	struct deb_package debs[16];
	size_t n_debs;
	const char *status;
};

static void world_deb(struct world *w, const char *control) {
	ASSERT_TRUE(w->n_debs < ELEMENTSOF(w->debs));
	fake_deb(&w->debs[w->n_debs++], control);
}

static void world_release(struct world *w) {
	for (size_t i = 0; i < w->n_debs; i++)
		deb_package_release(&w->debs[i]);
}

/* Resolves names (NULL-terminated); returns "name name ..." of what to install and the misses, one a line. */
static void resolve(const struct world *w, char **names, char **ret_install, char **ret_missing) {
	struct deb_resolve_input in = { .status = w->status, .status_size = w->status ? strlen(w->status) : 0,
					.debs = w->debs, .n_debs = w->n_debs, .names = names };
	struct deb_resolution res = {};
	char *install = NULL, *missing = NULL;
	size_t si = 0, sm = 0;
	FILE *fi, *fm;

	while (names[in.n_names])
		in.n_names++;
	ASSERT_OK(deb_resolve(&in, &res, NULL));
	fi = open_memstream(&install, &si);
	fm = open_memstream(&missing, &sm);
	ASSERT_TRUE(fi && fm);
	for (size_t i = 0; i < res.n_install; i++)
		fprintf(fi, "%s%s", i ? " " : "", w->debs[res.install[i]].name);
	for (size_t i = 0; i < res.n_missing; i++)
		fprintf(fm, "%s\n", res.missing[i]);
	fclose(fi);
	fclose(fm);
	deb_resolution_release(&res);
	*ret_install = install;
	*ret_missing = missing;
}

static void expect_resolve(const struct world *w, char **names, const char *install, const char *missing) {
	char *i = NULL, *m = NULL, *i2 = NULL, *m2 = NULL;

	resolve(w, names, &i, &m);
	ASSERT_STREQ(i, install);
	ASSERT_STREQ(m, missing);
	/* the same inputs, the same answer */
	resolve(w, names, &i2, &m2);
	ASSERT_STREQ(i2, i);
	ASSERT_STREQ(m2, m);
	free(i);
	free(m);
	free(i2);
	free(m2);
}

#define INSTALLED(name, version, extra) \
	"Package: " name "\nStatus: install ok installed\nArchitecture: amd64\nVersion: " version "\n" extra "\n"

TEST(resolve_closure_and_direct_misses) {
	struct world w = { .status = INSTALLED("libc6", "2.31-13+deb11u5", "Multi-Arch: same\n")
					 INSTALLED("libtinfo6", "6.2+20201114-2", "")
				"Package: libncursesw6\nStatus: deinstall ok config-files\nVersion: 6.1\n\n" };

	world_deb(&w, "Package: htop\nVersion: 3.0.5-7\nArchitecture: amd64\n"
		      "Depends: libc6 (>= 2.15), libncursesw6 (>= 6), libtinfo6 (>= 6)\nSuggests: lsof\nRecommends: strace\n");
	world_deb(&w, "Package: libncursesw6\nVersion: 6.2+20201114-2\nArchitecture: amd64\nDepends: libtinfo6 (= 6.2+20201114-2)\n");
	world_deb(&w, "Package: libncursesw6\nVersion: 6.1-1\nArchitecture: amd64\n"); /* older: not chosen */
	expect_resolve(&w, (char *[]){ "htop", NULL }, "htop libncursesw6", "");
	{
		struct deb_resolve_input in = { .status = w.status, .status_size = strlen(w.status), .debs = w.debs,
						.n_debs = w.n_debs, .names = (char *[]){ "htop" }, .n_names = 1 };
		struct deb_resolution res = {};

		ASSERT_OK(deb_resolve(&in, &res, NULL));
		ASSERT_EQ(res.n_install, 2);
		ASSERT_STREQ(w.debs[res.install[1]].version, "6.2+20201114-2"); /* the highest version */
		deb_resolution_release(&res);
	}
	/* names in any case are one name, as in dpkg */
	world_deb(&w, "Package: Upper\nVersion: 1\nArchitecture: all\n");
	world_deb(&w, "Package: needs-upper\nVersion: 1\nArchitecture: all\nDepends: upper (>= 1)\n");
	expect_resolve(&w, (char *[]){ "needs-upper", NULL }, "Upper needs-upper", "");
	/* asked for directly: nowhere, already installed, twice */
	expect_resolve(&w, (char *[]){ "nosuch", "libc6", "htop", "htop", "vim", NULL }, "htop libncursesw6",
		       "nosuch: not in the rootfs nor in [Packages] Debs=\nvim: not in the rootfs nor in [Packages] Debs=\n");
	world_release(&w);
}

TEST(resolve_alternatives_first_satisfiable) {
	struct world w = { .status = INSTALLED("mawk", "1.3.4.20200120-2", "Provides: awk\n") };

	world_deb(&w, "Package: x1\nVersion: 1\nArchitecture: all\nDepends: a | b\n");
	world_deb(&w, "Package: x2\nVersion: 1\nArchitecture: all\nDepends: nope | b\n");
	world_deb(&w, "Package: x3\nVersion: 1\nArchitecture: all\nDepends: gawk | awk\n");
	world_deb(&w, "Package: x4\nVersion: 1\nArchitecture: all\nDepends: a (>= 2) | b\n");
	world_deb(&w, "Package: x5\nVersion: 1\nArchitecture: all\nDepends: a (>= 2) | nope (>= 1)\n");
	world_deb(&w, "Package: a\nVersion: 1.0\nArchitecture: all\n");
	world_deb(&w, "Package: b\nVersion: 1.0\nArchitecture: all\n");
	world_deb(&w, "Package: gawk\nVersion: 1:5.1.0-1\nArchitecture: amd64\nProvides: awk\n");
	expect_resolve(&w, (char *[]){ "x1", NULL }, "a x1", "");
	expect_resolve(&w, (char *[]){ "x2", NULL }, "b x2", "");
	/* awk is there already (mawk provides it): gawk, first but not needed, stays out */
	expect_resolve(&w, (char *[]){ "x3", NULL }, "x3", "");
	expect_resolve(&w, (char *[]){ "x4", NULL }, "b x4", "");
	expect_resolve(&w, (char *[]){ "x5", NULL }, "x5",
		       "x5: Depends a (>= 2) | nope (>= 1): the rootfs has none; [Packages] Debs= has a 1.0\n");
	/* b chosen for x4 satisfies x1 too: nothing more */
	expect_resolve(&w, (char *[]){ "x4", "x1", NULL }, "b x1 x4", "");
	world_release(&w);
}

TEST(resolve_versions_epochs_tilde_and_too_old) {
	struct world w = { .status = INSTALLED("libx", "1.0", "") INSTALLED("liby", "2.0~rc1", "")
					 INSTALLED("libevent-2.1-7", "2.1.7-1", "") };

	world_deb(&w, "Package: app\nVersion: 1\nArchitecture: amd64\nDepends: libx (>= 1:1.0~rc1), liby (<< 2.0)\n");
	world_deb(&w, "Package: libx\nVersion: 1:1.0~rc1-1\nArchitecture: amd64\n");
	world_deb(&w, "Package: tmux\nVersion: 3.1c-1\nArchitecture: amd64\nDepends: libevent-2.1-7 (>= 2.1.8-stable)\n");
	/* the rootfs's libx 1.0 has epoch 0: too old; the .deb's 1:1.0~rc1-1 takes its place */
	expect_resolve(&w, (char *[]){ "app", NULL }, "app libx", "");
	/* installed at too old a version, and no .deb to upgrade it */
	expect_resolve(&w, (char *[]){ "tmux", NULL }, "tmux",
		       "tmux: Depends libevent-2.1-7 (>= 2.1.8-stable): the rootfs has libevent-2.1-7 2.1.7-1; [Packages] Debs= has none\n");
	world_release(&w);
}

TEST(resolve_arch_qualifiers) {
	struct world w = { .status = INSTALLED("python3", "3.9.2-3", "Multi-Arch: allowed\n")
					 INSTALLED("perl", "5.32.1-4", "")
				"Package: libfoo\nStatus: install ok installed\nArchitecture: i386\nVersion: 1.0\n\n"
				"Package: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2021a\n\n"
				"Package: make\nStatus: install ok installed\nArchitecture: i386\nMulti-Arch: foreign\nVersion: 4.3\n\n" };

	world_deb(&w, "Package: app\nVersion: 1\nArchitecture: amd64\n"
		      "Depends: python3:any (>= 3.9), tzdata:amd64, make, libfoo:i386, python3:native\n");
	world_deb(&w, "Package: bad1\nVersion: 1\nArchitecture: amd64\nDepends: perl:any\n");
	world_deb(&w, "Package: bad2\nVersion: 1\nArchitecture: amd64\nDepends: libfoo\n");
	world_deb(&w, "Package: bad3\nVersion: 1\nArchitecture: amd64\nDepends: python3:arm64\n");
	expect_resolve(&w, (char *[]){ "app", NULL }, "app", "");
	expect_resolve(&w, (char *[]){ "bad1", "bad2", "bad3", NULL }, "bad1 bad2 bad3",
		       "bad1: Depends perl:any: the rootfs has perl 5.32.1-4 (not Multi-Arch: allowed); [Packages] Debs= has none\n"
		       "bad2: Depends libfoo: the rootfs has libfoo:i386 1.0; [Packages] Debs= has none\n"
		       "bad3: Depends python3:arm64: the rootfs has python3 3.9.2-3; [Packages] Debs= has none\n");
	world_release(&w);
}

TEST(resolve_provides_and_versioned_provides) {
	struct world w = { .status = INSTALLED("libfoo1", "1.0-1", "Provides: libfoo-abi (= 1), foo-any\n") };

	world_deb(&w, "Package: mailer\nVersion: 1\nArchitecture: all\nDepends: mail-transport-agent\n");
	world_deb(&w, "Package: exim4-daemon-light\nVersion: 4.94.2-7\nArchitecture: amd64\n"
		      "Provides: mail-transport-agent\nDepends: exim4-base (>= 4.94.2-7)\n");
	world_deb(&w, "Package: exim4-base\nVersion: 4.94.2-7\nArchitecture: amd64\n");
	world_deb(&w, "Package: app1\nVersion: 1\nArchitecture: amd64\nDepends: libfoo-abi (>= 1), foo-any\n");
	world_deb(&w, "Package: app2\nVersion: 1\nArchitecture: amd64\nDepends: libfoo-abi (>= 2)\n");
	world_deb(&w, "Package: libfoo2\nVersion: 2.0-1\nArchitecture: amd64\nProvides: libfoo-abi (= 2)\n");
	world_deb(&w, "Package: app3\nVersion: 1\nArchitecture: amd64\nDepends: foo-any (>= 1)\n");
	/* a virtual name: its provider comes in, named in the chain */
	expect_resolve(&w, (char *[]){ "mailer", NULL }, "exim4-base exim4-daemon-light mailer", "");
	/* the rootfs's versioned Provides satisfies >= 1 ... */
	expect_resolve(&w, (char *[]){ "app1", NULL }, "app1", "");
	/* ... but not >= 2: the .deb that provides version 2 comes in */
	expect_resolve(&w, (char *[]){ "app2", NULL }, "app2 libfoo2", "");
	/* an unversioned Provides never satisfies a versioned relation */
	expect_resolve(&w, (char *[]){ "app3", NULL }, "app3",
		       "app3: Depends foo-any (>= 1): the rootfs has libfoo1 1.0-1 (Provides foo-any); [Packages] Debs= has none\n");
	world_release(&w);
	/* a miss under a virtual name shows the provider in the chain */
	{
		struct world v = { .status = NULL };

		world_deb(&v, "Package: mailer\nVersion: 1\nArchitecture: all\nDepends: mail-transport-agent\n");
		world_deb(&v, "Package: exim4-daemon-light\nVersion: 4.94.2-7\nArchitecture: amd64\n"
			      "Provides: mail-transport-agent\nPre-Depends: exim4-base (>= 4.94.2-7)\n");
		expect_resolve(&v, (char *[]){ "mailer", NULL }, "exim4-daemon-light mailer",
			       "mailer: Depends mail-transport-agent via exim4-daemon-light: Pre-Depends exim4-base (>= 4.94.2-7): "
			       "not in the rootfs nor in [Packages] Debs=\n");
		world_release(&v);
	}
}

TEST(resolve_chain_miss) {
	struct world w = { .status = INSTALLED("libc6", "2.31-13+deb11u5", "") INSTALLED("adduser", "3.118", "") };

	world_deb(&w, "Package: sshfs\nVersion: 3.7.1+repack-2\nArchitecture: amd64\n"
		      "Depends: fuse3, libc6 (>= 2.14), libfuse3-3 (>= 3.2.3), libglib2.0-0 (>= 2.56.0)\n");
	world_deb(&w, "Package: fuse3\nVersion: 3.10.3-2\nArchitecture: amd64\n"
		      "Depends: libc6 (>= 2.28), libfuse3-3 (= 3.10.3-2), adduser, mount (>= 2.19.1), sed (>= 4)\n");
	world_deb(&w, "Package: libglib2.0-0\nVersion: 2.66.8-1\nArchitecture: amd64\n");
	expect_resolve(&w, (char *[]){ "sshfs", NULL }, "fuse3 libglib2.0-0 sshfs",
		       "sshfs: Depends libfuse3-3 (>= 3.2.3): not in the rootfs nor in [Packages] Debs=\n"
		       "sshfs: Depends fuse3: Depends libfuse3-3 (= 3.10.3-2): not in the rootfs nor in [Packages] Debs=\n"
		       "sshfs: Depends fuse3: Depends mount (>= 2.19.1): not in the rootfs nor in [Packages] Debs=\n"
		       "sshfs: Depends fuse3: Depends sed (>= 4): not in the rootfs nor in [Packages] Debs=\n");
	world_release(&w);
}

TEST(resolve_replaced_rootfs_package_and_upgrades) {
	struct world w = { .status = INSTALLED("libz", "1.0", "") INSTALLED("htop", "3.0.5-7", "") };

	world_deb(&w, "Package: libz\nVersion: 2.0\nArchitecture: amd64\n");
	world_deb(&w, "Package: old\nVersion: 1\nArchitecture: amd64\nDepends: libz (<< 2)\n");
	world_deb(&w, "Package: htop\nVersion: 3.0.5-7\nArchitecture: amd64\n");
	world_deb(&w, "Package: htop\nVersion: 3.0.4-1\nArchitecture: amd64\n");
	/* asked for: the newer .deb replaces the rootfs's libz, which old relied on */
	expect_resolve(&w, (char *[]){ "old", "libz", NULL }, "libz old",
		       "old: Depends libz (<< 2): the rootfs has libz 1.0 (replaced); [Packages] Debs= has libz 2.0\n");
	/* the same version as the rootfs's, or older: nothing to install */
	expect_resolve(&w, (char *[]){ "htop", NULL }, "", "");
	world_release(&w);
}

TEST(resolve_errors_and_label) {
	struct world w = { .status = "Package: a\nStatus: install ok installed\nVersion: 1.0-\n" };
	struct deb_resolve_input in = { .status = w.status, .status_size = strlen(w.status), .status_origin = "rootfs:/var/lib/dpkg/status",
					.names = (char *[]){ "x" }, .n_names = 1, .debs_label = "Debs=" };
	struct deb_resolution res = {};
	char *error = NULL;

	ASSERT_EQ(deb_resolve(&in, &res, &error), -EINVAL);
	ASSERT_STREQ(error, "rootfs:/var/lib/dpkg/status:1: a: invalid version '1.0-': revision number is empty");
	in.status = "Package: a\nStatus: install ok installed\nVersion: 1\nProvides: b | c\n";
	in.status_size = strlen(in.status);
	ASSERT_EQ(deb_resolve(&in, &res, &error), -EINVAL);
	ASSERT_STREQ(error, "rootfs:/var/lib/dpkg/status:1: a: Provides: alternatives ('|') not allowed");
	in.status = NULL;
	in.names = (char *[]){ "Bad Name" };
	ASSERT_EQ(deb_resolve(&in, &res, &error), -EINVAL);
	ASSERT_STREQ(error, "invalid package name 'Bad Name': character ' ' not allowed (only letters, digits and '-+._')");
	in.names = (char *[]){ "x" };
	ASSERT_OK(deb_resolve(&in, &res, NULL));
	ASSERT_EQ(res.n_missing, 1);
	ASSERT_STREQ(res.missing[0], "x: not in the rootfs nor in Debs=");
	deb_resolution_release(&res);
	free(error);
}
