/* builder/deb-*.c: versions against dpkg's own answers, control stanzas, .debs made by dpkg-deb, relations, the resolver, Packages. */
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "deb-version.h"
#include "fileio.h"
#include "macro.h"
#include "test.h"

/* The source tree: the binary is BUILD/test-deb inside it (build/ or build-asan/). */
static const char *source_dir(void) {
	static char dir[PATH_MAX];
	char *slash;

	if (dir[0])
		return dir;
	if (!realpath("/proc/self/exe", dir))
		test_fail(__FILE__, __LINE__, "realpath(/proc/self/exe): %m");
	for (int i = 0; i < 2; i++) {
		slash = strrchr(dir, '/');
		if (!slash)
			test_fail(__FILE__, __LINE__, "no source dir above the binary");
		*slash = 0;
	}
	return dir;
}

static char *read_source_file(const char *rel) {
	char *path = NULL, *data = NULL;
	size_t size;

	ASSERT_TRUE(asprintf(&path, "%s/%s", source_dir(), rel) >= 0);
	ASSERT_OK(read_full_file(path, &data, &size));
	free(path);
	return data;
}

/* The next line of *p (cut at its newline, which is dropped), or NULL at the end. */
static char *next_line(char **p) {
	char *line = *p, *nl;

	if (!line || !*line)
		return NULL;
	nl = strchr(line, '\n');
	if (nl)
		*nl++ = 0;
	*p = nl;
	return line;
}

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
