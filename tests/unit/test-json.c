/* The JSON writer and checker: structure, escaping, UTF-8, misuse; python3's json module as the referee. */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "fileio.h"
#include "json.h"
#include "macro.h"
#include "process.h"
#include "test.h"

/* Writes with fn into memory; returns the text. */
static char *render(void (*fn)(JsonWriter *w), int *ret_r) {
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	JsonWriter w;

	json_init(&w, f);
	fn(&w);
	*ret_r = json_finish(&w);
	fclose(f);
	return text;
}

/* python3 -m json.tool must accept it; its re-encoding is returned for comparisons */
static char *python_parse(const char *text) {
	struct process_result res = {};
	char *argv[] = { "python3", "-c",
			 "import json,sys; d=json.loads(sys.stdin.buffer.read().decode('utf-8')); print(json.dumps(d, sort_keys=True))",
			 NULL };
	int r = process_run(&(struct process_options){ .argv = argv, .input = text, .stdout_mode = PROCESS_CAPTURE,
						       .stderr_mode = PROCESS_TO_STDOUT },
			    &res);

	if (r == -ENOENT)
		test_skip("python3 is not installed");
	if (r != 0)
		fprintf(stderr, "python3 refused:\n%s\n---\n%s\n", text, res.out ? res.out : "");
	ASSERT_EQ(r, 0);
	return res.out;
}

static void nested(JsonWriter *w) {
	json_object_begin(w);
	json_field_string(w, "name", "rig");
	json_field_uint(w, "big", UINT64_MAX);
	json_key(w, "neg");
	json_int(w, INT64_MIN);
	json_field_bool(w, "yes", true);
	json_key(w, "nothing");
	json_null(w);
	json_field_string(w, "null_string", NULL);
	json_key(w, "seconds");
	json_fixed(w, 1.25, 3);
	json_key(w, "nan");
	json_fixed(w, NAN, 3);
	json_key(w, "empty_array");
	json_array_begin(w);
	json_array_end(w);
	json_key(w, "empty_object");
	json_object_begin(w);
	json_object_end(w);
	json_key(w, "list");
	json_array_begin(w);
	for (int i = 0; i < 3; i++) {
		json_object_begin(w);
		json_field_uint(w, "i", (uint64_t)i);
		json_object_end(w);
	}
	json_array_end(w);
	json_key(w, "raw");
	json_raw(w, "{\"a\": [1, 2]}");
	json_object_end(w);
}

TEST(structure) {
	int r;
	_cleanup_free_ char *text = render(nested, &r), *back = NULL;

	ASSERT_OK(r);
	ASSERT_TRUE(json_valid(text));
	back = python_parse(text);
	ASSERT_STREQ(back, "{\"big\": 18446744073709551615, \"empty_array\": [], \"empty_object\": {}, "
			   "\"list\": [{\"i\": 0}, {\"i\": 1}, {\"i\": 2}], \"name\": \"rig\", \"nan\": null, "
			   "\"neg\": -9223372036854775808, \"nothing\": null, \"null_string\": null, "
			   "\"raw\": {\"a\": [1, 2]}, \"seconds\": 1.25, \"yes\": true}\n");
	/* two-space indents, one item a line */
	ASSERT_CONTAINS(text, "{\n  \"name\": \"rig\",\n  \"big\": 18446744073709551615,\n");
	ASSERT_CONTAINS(text, "  \"empty_array\": [],\n");
}

static const char *hostile;

static void one_string(JsonWriter *w) {
	json_object_begin(w);
	json_field_string(w, hostile, hostile); /* as a key and as a value */
	json_object_end(w);
}

TEST(escaping_and_utf8) {
	static const char *const cases[] = {
		"quote \" and backslash \\ and slash /",
		"newline\n tab\t cr\r bell\a escape\x1b del\x7f",
		"\x01\x02\x1f",
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80",  /* valid UTF-8 passes through */
		"latin-1 caf\xe9 here",                     /* not UTF-8 */
		"\xff\xfe\xc0\xaf overlong \xe0\x80\xaf",    /* bytes and overlong forms */
		"surrogate \xed\xa0\x80 and cut \xe2\x82",   /* UTF-16 surrogate, truncated sequence */
		"",
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		int r;
		_cleanup_free_ char *text = NULL, *back = NULL;

		hostile = cases[i];
		text = render(one_string, &r);
		ASSERT_OK(r);
		ASSERT_TRUE(json_valid(text));
		back = python_parse(text);
		ASSERT_TRUE(back != NULL);
	}
	/* what python reads back for the ones that are text */
	{
		int r;
		_cleanup_free_ char *text = NULL, *back = NULL;

		hostile = "a\"b\\c\nd\x01";
		text = render(one_string, &r);
		ASSERT_CONTAINS(text, "\"a\\\"b\\\\c\\nd\\u0001\"");
		back = python_parse(text);
		ASSERT_STREQ(back, "{\"a\\\"b\\\\c\\nd\\u0001\": \"a\\\"b\\\\c\\nd\\u0001\"}\n");
		free(text);
		hostile = "caf\xe9";
		text = render(one_string, &r);
		ASSERT_CONTAINS(text, "\"caf\\ufffd\"");
	}
}

static void unbalanced(JsonWriter *w) {
	json_object_begin(w);
	json_field_uint(w, "a", 1);
}

static void value_without_key(JsonWriter *w) {
	json_object_begin(w);
	json_key(w, "a");
	json_object_end(w);
}

static void two_documents(JsonWriter *w) {
	json_uint(w, 1);
	json_uint(w, 2);
}

static void too_deep(JsonWriter *w) {
	for (int i = 0; i < JSON_MAX_DEPTH + 2; i++)
		json_array_begin(w);
	for (int i = 0; i < JSON_MAX_DEPTH + 2; i++)
		json_array_end(w);
}

TEST(misuse_is_reported) {
	void (*const bad[])(JsonWriter *) = { unbalanced, value_without_key, two_documents, too_deep };

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		int r;
		_cleanup_free_ char *text = render(bad[i], &r);

		ASSERT_EQ(r, -EINVAL);
	}
}

TEST(valid_checker) {
	static const char *const good[] = {
		"{}", "[]", " {\"a\": [1, -2.5e+3, true, false, null, \"x\\u00e9\\n\"]} \n", "0", "\"\"",
		"{\"nested\": {\"deep\": [[[]]]}}",
	};
	static const char *const bad[] = {
		"", "{", "[1,]", "{\"a\" 1}", "{\"a\": 1,}", "01", "1.", "-", "tru", "\"unterminated",
		"\"raw\ncontrol\"", "\"bad \\x escape\"", "\"\\u12g4\"", "{} {}", "[1] x", "'single'",
		"\"caf\xe9\"", "{\"a\": NaN}",
	};
	char deep[2 * JSON_MAX_DEPTH + 10];
	size_t n = 0;

	for (size_t i = 0; i < ELEMENTSOF(good); i++)
		ASSERT_TRUE(json_valid(good[i]));
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		if (json_valid(bad[i]))
			test_fail(__FILE__, __LINE__, "json_valid accepted %s", bad[i]);
	for (int i = 0; i < JSON_MAX_DEPTH + 3; i++)
		deep[n++] = '[';
	for (int i = 0; i < JSON_MAX_DEPTH + 3; i++)
		deep[n++] = ']';
	deep[n] = 0;
	ASSERT_TRUE(!json_valid(deep));
	ASSERT_TRUE(!json_valid(NULL));
}

TEST(read_in_place) {
	const char *doc = "{ \"success\": false, \"errors\": [ {\"code\": 10000, \"message\": \"Auth\\u00e9 \\ud83d\\ude00 \\\"x\\\"\"} ],"
			  " \"result\": [ {\"id\": \"abc\", \"nested\": {\"id\": \"no\"}, \"content\": \"203.0.113.5\"}, [1, 2] ],"
			  " \"esc\\u0061ped\": 1, \"nul\": \"a\\u0000b\" }";
	const char *errors, *e0, *result;
	char *s = NULL;
	bool b = true;
	int64_t code = 0;

	ASSERT_TRUE(json_valid(doc));
	ASSERT_OK(json_read_bool(json_member(doc, "success"), &b));
	ASSERT_EQ(b, 0);
	errors = json_member(doc, "errors");
	e0 = json_element(errors, 0);
	ASSERT_OK(json_read_int(json_member(e0, "code"), &code));
	ASSERT_EQ(code, 10000);
	ASSERT_OK(json_read_string(json_member(e0, "message"), &s));
	ASSERT_STREQ(s, "Auth\xc3\xa9 \xf0\x9f\x98\x80 \"x\"");
	free(s);
	ASSERT_TRUE(json_element(errors, 1) == NULL);
	result = json_member(doc, "result");
	ASSERT_OK(json_read_string(json_member(json_element(result, 0), "id"), &s));
	ASSERT_STREQ(s, "abc"); /* the nested object's id is passed over */
	free(s);
	ASSERT_OK(json_read_string(json_member(json_element(result, 0), "content"), &s));
	ASSERT_STREQ(s, "203.0.113.5");
	free(s);
	ASSERT_TRUE(json_member(json_element(result, 1), "id") == NULL); /* an array has no members */
	ASSERT_TRUE(json_member(doc, "escaped") != NULL);
	ASSERT_TRUE(json_member(doc, "missing") == NULL);
	ASSERT_EQ(json_read_string(json_member(doc, "nul"), &s), -EBADMSG);
	ASSERT_EQ(json_read_string(json_member(doc, "success"), &s), -EINVAL);
	ASSERT_EQ(json_read_int(json_member(doc, "success"), &code), -EINVAL);
}

/* A manifest's top-level member, not a nested one of the same name (mlrig inspect's loader line). */
TEST(read_top_level_member) {
	static const char manifest[] = "{\n  \"image\": {\"efi_loader\": \"nested\"},\n"
				       "  \"efi_loader\": \"GRUB from grub-mkimage\",\n  \"efi_loader_signed\": false,\n  \"n\": 1\n}\n";
	char *s = NULL;
	bool b = true;

	ASSERT_TRUE(json_valid(manifest));
	ASSERT_OK(json_read_string(json_member(manifest, "efi_loader"), &s));
	ASSERT_STREQ(s, "GRUB from grub-mkimage");
	free(s);
	ASSERT_OK(json_read_bool(json_member(manifest, "efi_loader_signed"), &b));
	ASSERT_EQ(b, false);
	ASSERT_EQ(json_read_bool(json_member(manifest, "n"), &b), -EINVAL);
	ASSERT_EQ(json_read_string(json_member(manifest, "n"), &s), -EINVAL);
	ASSERT_EQ(json_read_string(json_member(manifest, "efi"), &s), -EINVAL);
}

TEST(memory_writer) {
	char *text = NULL;
	size_t size = 0;
	JsonWriter w;

	ASSERT_OK(json_memory_open(&w, &text, &size));
	json_object_begin(&w);
	json_field_string(&w, "content", "203.0.113.5\"");
	json_object_end(&w);
	ASSERT_OK(json_memory_close(&w));
	ASSERT_TRUE(json_valid(text));
	ASSERT_EQ(size, strlen(text));
	ASSERT_CONTAINS(text, "\"content\": \"203.0.113.5\\\"\"");
	free(text);

	/* an unbalanced document is an error, and the buffer is still the caller's to free */
	text = NULL;
	ASSERT_OK(json_memory_open(&w, &text, &size));
	json_object_begin(&w);
	ASSERT_EQ(json_memory_close(&w), -EINVAL);
	free(text);
}
