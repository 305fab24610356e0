/* What DDNS remembers between cycles, under /var/lib/mlrig: ddns.state (what the provider
 * confirmed, written only after a success answer) and ddns.hold (why no request may go out).
 * Both are replaced by atomic renames; neither holds a secret or a hash of one. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ddns.h"
#include "parse-util.h"
#include "sha256.h"

int ddns_config_hash(struct agent *a, char ret[17]) {
	const Profile *p = a->p;
	struct sha256_ctx ctx;
	struct stat st = {};
	uint8_t digest[32];
	char hex[65];
	const char *fields[] = {
		ddns_provider_to_string(p->ddns_provider), p->ddns_hostname, p->ddns_username, p->ddns_server,
		p->ddns_zone, p->ddns_check_ip, p->ddns_ipv6 ? "ipv6" : "ipv4", p->ddns_password_file,
	};
	char id[96];

	sha256_init(&ctx);
	for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
		const char *f = fields[i] ? fields[i] : "";
		sha256_update(&ctx, f, strlen(f) + 1);
	}
	/* the secret changes: a new inode, size or change time (editors and cp both change one) */
	if (p->ddns_password_file && stat(p->ddns_password_file, &st) < 0)
		return -errno;
	snprintf(id, sizeof(id), "%llu %llu %lld.%09ld", (unsigned long long)st.st_ino, (unsigned long long)st.st_size,
		 (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
	sha256_update(&ctx, id, strlen(id));
	sha256_final(&ctx, digest);
	sha256_hex(digest, hex);
	memcpy(ret, hex, 16);
	ret[16] = 0;
	return 0;
}

static void entry_release(struct ddns_entry *e) {
	free(e->provider);
	free(e->host);
	free(e->family);
	free(e->config);
	free(e->address);
	*e = (struct ddns_entry){};
}

void ddns_state_release(struct ddns_state *s) {
	for (size_t i = 0; i < s->n; i++)
		entry_release(&s->entries[i]);
	free(s->entries);
	*s = (struct ddns_state){};
}

/* "key=value" words; a value has no spaces (names, addresses, hex, numbers). */
static int parse_entry(char *line, struct ddns_entry *ret) {
	struct ddns_entry e = {};

	for (char *w = line, *next; w && *w; w = next) {
		char *eq, **field = NULL;
		uint64_t *num = NULL;

		next = strchr(w, ' ');
		if (next)
			*next++ = 0;
		eq = strchr(w, '=');
		if (!eq)
			continue;
		*eq++ = 0;
		if (strcmp(w, "provider") == 0) field = &e.provider;
		else if (strcmp(w, "host") == 0) field = &e.host;
		else if (strcmp(w, "family") == 0) field = &e.family;
		else if (strcmp(w, "config") == 0) field = &e.config;
		else if (strcmp(w, "address") == 0) field = &e.address;
		else if (strcmp(w, "updated") == 0) num = &e.updated;
		else if (strcmp(w, "checked") == 0) num = &e.checked;
		if (field) {
			free(*field);
			if (!(*field = strdup(eq))) {
				entry_release(&e);
				return -ENOMEM;
			}
		} else if (num)
			(void)safe_atou64(eq, num);
	}
	if (!e.provider || !e.host || !e.family || !e.config || !e.address) {
		entry_release(&e);
		return 0; /* a line this version does not understand: dropped at the next save */
	}
	*ret = e;
	return 1;
}

int ddns_state_load(struct agent *a, struct ddns_state *ret) {
	_cleanup_free_ char *text = NULL;
	struct ddns_state s = {};
	int r = agent_read(a, DDNS_STATE, &text, NULL);

	if (r == -ENOENT) {
		*ret = s;
		return 0;
	}
	if (r < 0)
		return r;
	for (char *l = text, *next; l && *l; l = next) {
		struct ddns_entry e;
		struct ddns_entry *n;

		next = strchr(l, '\n');
		if (next)
			*next++ = 0;
		if (l[0] == '#')
			continue;
		r = parse_entry(l, &e);
		if (r <= 0) {
			if (r < 0)
				goto fail;
			continue;
		}
		n = realloc(s.entries, (s.n + 1) * sizeof(*n));
		if (!n) {
			entry_release(&e);
			r = -ENOMEM;
			goto fail;
		}
		s.entries = n;
		s.entries[s.n++] = e;
	}
	*ret = s;
	return 0;
fail:
	ddns_state_release(&s);
	return r;
}

struct ddns_entry *ddns_state_find(struct ddns_state *s, const char *provider, const char *host, const char *family,
				   const char *config) {
	for (size_t i = 0; i < s->n; i++) {
		struct ddns_entry *e = &s->entries[i];

		if (strcmp(e->provider, provider) == 0 && strcasecmp(e->host, host) == 0 &&
		    strcmp(e->family, family) == 0 && (!config || strcmp(e->config, config) == 0))
			return e;
	}
	return NULL;
}

int ddns_state_set(struct ddns_state *s, const struct ddns_entry *e) {
	struct ddns_entry c = { .updated = e->updated, .checked = e->checked };
	struct ddns_entry *old = ddns_state_find(s, e->provider, e->host, e->family, NULL);

	if (!(c.provider = strdup(e->provider)) || !(c.host = strdup(e->host)) || !(c.family = strdup(e->family)) ||
	    !(c.config = strdup(e->config)) || !(c.address = strdup(e->address))) {
		entry_release(&c);
		return -ENOMEM;
	}
	if (old) {
		entry_release(old);
		*old = c;
		return 0;
	}
	old = realloc(s->entries, (s->n + 1) * sizeof(*old));
	if (!old) {
		entry_release(&c);
		return -ENOMEM;
	}
	s->entries = old;
	s->entries[s->n++] = c;
	return 0;
}

int ddns_state_save(struct agent *a, const struct ddns_state *s) {
	_cleanup_free_ char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	if (!f)
		return -ENOMEM;
	fputs("# mlrig-firstboot: what the DDNS provider last confirmed; written only after a success answer.\n", f);
	for (size_t i = 0; i < s->n; i++) {
		const struct ddns_entry *e = &s->entries[i];

		fprintf(f, "provider=%s host=%s family=%s config=%s address=%s updated=%llu checked=%llu\n", e->provider,
			e->host, e->family, e->config, e->address, (unsigned long long)e->updated,
			(unsigned long long)e->checked);
	}
	if (fclose(f) != 0)
		return -ENOMEM;
	return agent_write(a, DDNS_STATE, text, size, 0600, 0, 0);
}

void ddns_hold_release(struct ddns_hold *h) {
	free(h->config);
	free(h->reason);
	free(h->fix);
	*h = (struct ddns_hold){};
}

int ddns_hold_load(struct agent *a, struct ddns_hold *ret) {
	_cleanup_free_ char *text = NULL;
	struct ddns_hold h = {};
	int r = agent_read(a, DDNS_HOLD, &text, NULL);

	if (r == -ENOENT) {
		*ret = h;
		return 0;
	}
	if (r < 0)
		return r;
	for (char *l = text, *next; l && *l; l = next) {
		char *eq, **field = NULL;

		next = strchr(l, '\n');
		if (next)
			*next++ = 0;
		eq = strchr(l, '=');
		if (l[0] == '#' || !eq)
			continue;
		*eq++ = 0;
		if (strcmp(l, "config") == 0) field = &h.config;
		else if (strcmp(l, "reason") == 0) field = &h.reason;
		else if (strcmp(l, "fix") == 0) field = &h.fix;
		else if (strcmp(l, "fatal") == 0) h.fatal = parse_boolean(eq) > 0;
		else if (strcmp(l, "since") == 0) (void)safe_atou64(eq, &h.since);
		else if (strcmp(l, "until") == 0) (void)safe_atou64(eq, &h.until);
		if (field) {
			free(*field);
			if (!(*field = strdup(eq))) {
				ddns_hold_release(&h);
				return -ENOMEM;
			}
		}
	}
	*ret = h;
	return 0;
}

int ddns_hold_save(struct agent *a, const struct ddns_hold *h) {
	_cleanup_free_ char *text = NULL;
	int r;

	r = asprintf(&text, "# mlrig-firstboot: no DDNS request goes out while this holds (mlrig-firstboot ddns --force ignores it).\n"
			    "config=%s\nfatal=%s\nsince=%llu\nuntil=%llu\nreason=%s\nfix=%s\n",
		     h->config, h->fatal ? "yes" : "no", (unsigned long long)h->since, (unsigned long long)h->until,
		     h->reason ? h->reason : "", h->fix ? h->fix : "");
	if (r < 0)
		return -ENOMEM;
	return agent_write(a, DDNS_HOLD, text, strlen(text), 0600, 0, 0);
}

int ddns_hold_clear(struct agent *a) {
	if (unlinkat(a->root_fd, DDNS_HOLD, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}
