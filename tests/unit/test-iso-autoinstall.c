/* Unit tests for builder/iso-autoinstall.c: the user-data parsed back with libyaml, the preseed. */
#include <errno.h>
#include <yaml.h>

#include "iso-autoinstall.h"
#include "macro.h"
#include "test.h"

/* Flattens a YAML document into "path=value" lines ("a.b[0]=x"), for assertions. */
static void flatten(yaml_document_t *d, yaml_node_t *n, const char *prefix, FILE *f) {
	if (n->type == YAML_SCALAR_NODE)
		fprintf(f, "%s=%s%s\n", prefix, (char *)n->data.scalar.value,
			n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? "" : " (quoted)");
	else if (n->type == YAML_SEQUENCE_NODE) {
		int i = 0;
		for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++, i++) {
			char p[256];
			snprintf(p, sizeof(p), "%s[%d]", prefix, i);
			flatten(d, yaml_document_get_node(d, *it), p, f);
		}
		if (i == 0)
			fprintf(f, "%s=[]\n", prefix);
	} else
		for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
			char p[256];
			snprintf(p, sizeof(p), "%s%s%s", prefix, *prefix ? "." : "",
				 (char *)yaml_document_get_node(d, pr->key)->data.scalar.value);
			flatten(d, yaml_document_get_node(d, pr->value), p, f);
		}
}

static char *parse_back(const char *text) {
	yaml_parser_t parser;
	yaml_document_t doc;
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
	if (!yaml_parser_load(&parser, &doc) || !yaml_document_get_root_node(&doc)) {
		yaml_parser_delete(&parser);
		fclose(f);
		free(out);
		return NULL;
	}
	flatten(&doc, yaml_document_get_root_node(&doc), "", f);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(f);
	return out;
}

TEST(user_data_interactive_storage) {
	char *keys[] = { "ssh-ed25519 AAAA key: with colon", NULL };
	char *pkgs[] = { "htop", "no", NULL };
	struct autoinstall_config c = {
		.hostname = "rig", .username = "me", .authorized_keys = keys, .packages = pkgs,
	};
	char *text = NULL, *flat;

	ASSERT_OK(autoinstall_user_data(&c, &text));
	ASSERT_TRUE(strncmp(text, "#cloud-config\n", 14) == 0);
	flat = parse_back(text);
	ASSERT_TRUE(flat != NULL);
	ASSERT_CONTAINS(flat, "autoinstall.version=1\n");
	ASSERT_CONTAINS(flat, "autoinstall.identity.hostname=rig (quoted)\n");
	/* locked: "!" must come back as a string, not a tag */
	ASSERT_CONTAINS(flat, "autoinstall.identity.password=! (quoted)\n");
	ASSERT_CONTAINS(flat, "autoinstall.ssh.install-server=true\n");
	ASSERT_CONTAINS(flat, "autoinstall.ssh.allow-pw=false\n");
	ASSERT_CONTAINS(flat, "autoinstall.ssh.authorized-keys[0]=ssh-ed25519 AAAA key: with colon (quoted)\n");
	/* "no" stays the package name, not a boolean */
	ASSERT_CONTAINS(flat, "autoinstall.packages[1]=no (quoted)\n");
	ASSERT_CONTAINS(flat, "autoinstall.late-commands[0]=" MEDIA_INSTALL_COMMAND " (quoted)\n");
	ASSERT_CONTAINS(flat, "autoinstall.interactive-sections[0]=storage (quoted)\n");
	ASSERT_TRUE(!strstr(flat, "autoinstall.storage"));
	free(flat);
	free(text);
}

TEST(user_data_wipe) {
	struct autoinstall_config c = {
		.hostname = "rig", .username = "me", .password_hash = "$6$salt$hash", .disk = "/dev/nvme0n1", .wipe = true,
	};
	char *text = NULL, *flat;

	ASSERT_OK(autoinstall_user_data(&c, &text));
	flat = parse_back(text);
	ASSERT_TRUE(flat != NULL);
	ASSERT_CONTAINS(flat, "autoinstall.identity.password=$6$salt$hash (quoted)\n");
	ASSERT_CONTAINS(flat, "autoinstall.storage.layout.name=direct (quoted)\n");
	ASSERT_CONTAINS(flat, "autoinstall.storage.layout.match.path=/dev/nvme0n1 (quoted)\n");
	ASSERT_CONTAINS(flat, "autoinstall.packages=[]\n");
	ASSERT_TRUE(!strstr(flat, "interactive-sections"));
	free(flat);
	free(text);
	/* Disk= without Wipe=yes: still interactive */
	c.wipe = false;
	ASSERT_OK(autoinstall_user_data(&c, &text));
	ASSERT_CONTAINS(text, "interactive-sections");
	free(text);
}

TEST(preseed) {
	struct autoinstall_config c = { .hostname = "rig", .username = "me" };
	char *text = NULL;

	ASSERT_OK(autoinstall_preseed(&c, "d-i apt-setup/extras boolean true", &text));
	ASSERT_TRUE(strncmp(text, "# The medium's own defaults:\nd-i apt-setup/extras boolean true\n", 62) == 0);
	ASSERT_CONTAINS(text, "\nubiquity ubiquity/success_command string sh /cdrom/mlrig/install.sh /cdrom /target\n");
	ASSERT_CONTAINS(text, "d-i passwd/user-password-crypted password !\n");
	ASSERT_TRUE(!strstr(text, "partman"));
	free(text);
	c.disk = "/dev/sda";
	c.wipe = true;
	ASSERT_OK(autoinstall_preseed(&c, NULL, &text));
	ASSERT_CONTAINS(text, "d-i partman-auto/disk string /dev/sda\n");
	free(text);
	/* a newline would smuggle in another answer */
	c.hostname = "rig\nd-i partman/confirm boolean true";
	ASSERT_EQ(autoinstall_preseed(&c, NULL, &text), -EINVAL);
}
