/* The dependency closure of the packages asked for, over the rootfs's installed set and the given .debs, as apt would choose it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "deb-depends.h"
#include "deb-resolve.h"
#include "deb-version.h"
#include "error.h"
#include "macro.h"

#define NONE SIZE_MAX

/* The fields followed, in the order dpkg needs them satisfied. */
static const char *const dep_fields[] = { "Pre-Depends", "Depends" };

/* A package of the rootfs (deb == NONE) or of the debs. */
struct pkg {
	const char *name, *version, *arch;
	bool ma_allowed, ma_foreign;
	struct deb_relations deps[ELEMENTSOF(dep_fields)]; /* debs only: the rootfs's are its own business */
	struct deb_relations provides;
	size_t deb;
	bool selected; /* debs: to be installed */
	bool replaced; /* rootfs: a selected deb of its name takes its place */
	char *chain;   /* selected: "sshfs: Depends fuse3", how it was pulled in */
};

/* One name a package provides. */
struct provider {
	const char *name;
	size_t pkg;
	const struct deb_relation *rel;
};

struct resolver {
	const struct deb_resolve_input *in;
	const char *label;
	struct deb_stanza *status;
	size_t n_status;
	struct pkg *pkgs; /* the rootfs's, then the debs' */
	size_t n_pkgs;
	size_t *by_name;  /* pkgs by name (in any case, as dpkg looks names up), then version, highest first */
	struct provider *provided;
	size_t n_provided;
	size_t *queue;    /* selected pkgs, in the order chosen */
	size_t n_queue;
	char **missing;
	size_t n_missing;
};

static bool is_native(const char *arch) {
	return !*arch || strcmp(arch, "amd64") == 0 || strcmp(arch, "all") == 0;
}

/* dpkg's archsatisfied(): which packages an arch qualifier lets satisfy a relation. */
static bool arch_matches(const struct deb_relation *rel, const struct pkg *p) {
	if (!rel->arch || strcmp(rel->arch, "native") == 0)
		return is_native(p->arch) || p->ma_foreign;
	if (strcmp(rel->arch, "any") == 0)
		return p->ma_allowed;
	if (strcmp(rel->arch, "amd64") == 0 || strcmp(rel->arch, "all") == 0)
		return is_native(p->arch);
	return strcasecmp(rel->arch, p->arch) == 0;
}

static bool effective(const struct pkg *p) {
	return p->deb == NONE ? !p->replaced : p->selected;
}

static bool real_satisfies(const struct deb_relation *rel, const struct pkg *p) {
	return strcasecmp(p->name, rel->name) == 0 && arch_matches(rel, p) &&
	       deb_version_satisfies(p->version, rel->op, rel->version);
}

/* A versioned relation needs a versioned Provides ("Provides: x (= 2)") that satisfies it. */
static bool provide_satisfies(const struct deb_relation *rel, const struct provider *pv, const struct pkg *p) {
	if (!arch_matches(rel, p))
		return false;
	if (rel->op == DEB_RELOP_NONE)
		return true;
	return pv->rel->op == DEB_RELOP_EQ && deb_version_satisfies(pv->rel->version, rel->op, rel->version);
}

static int cmp_by_name(const void *a, const void *b, void *userdata) {
	const struct pkg *pkgs = userdata, *pa = &pkgs[*(const size_t *)a], *pb = &pkgs[*(const size_t *)b];
	int c = strcasecmp(pa->name, pb->name);

	if (c == 0)
		c = -deb_version_compare(pa->version, pb->version);
	if (c == 0)
		c = (pa->deb != NONE) - (pb->deb != NONE);
	return c ?: (*(const size_t *)a > *(const size_t *)b) - (*(const size_t *)a < *(const size_t *)b);
}

static int cmp_provider(const void *a, const void *b, void *userdata) {
	const struct provider *x = a, *y = b;
	size_t ix = x->pkg, iy = y->pkg;
	int c = strcasecmp(x->name, y->name);

	return c ?: cmp_by_name(&ix, &iy, userdata);
}

/* [*ret_lo, *ret_hi) of by_name holding name. */
static void name_range(const struct resolver *r, const char *name, size_t *ret_lo, size_t *ret_hi) {
	size_t lo = 0, hi = r->n_pkgs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcasecmp(r->pkgs[r->by_name[mid]].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (hi = lo; hi < r->n_pkgs && strcasecmp(r->pkgs[r->by_name[hi]].name, name) == 0; hi++)
		;
	*ret_lo = lo;
	*ret_hi = hi;
}

static void provided_range(const struct resolver *r, const char *name, size_t *ret_lo, size_t *ret_hi) {
	size_t lo = 0, hi = r->n_provided;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcasecmp(r->provided[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (hi = lo; hi < r->n_provided && strcasecmp(r->provided[hi].name, name) == 0; hi++)
		;
	*ret_lo = lo;
	*ret_hi = hi;
}

static bool alt_satisfied(const struct resolver *r, const struct deb_relation *rel) {
	size_t lo, hi;

	name_range(r, rel->name, &lo, &hi);
	for (size_t i = lo; i < hi; i++)
		if (effective(&r->pkgs[r->by_name[i]]) && real_satisfies(rel, &r->pkgs[r->by_name[i]]))
			return true;
	provided_range(r, rel->name, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		const struct pkg *p = &r->pkgs[r->provided[i].pkg];

		if (effective(p) && provide_satisfies(rel, &r->provided[i], p))
			return true;
	}
	return false;
}

static bool group_satisfied(const struct resolver *r, const struct deb_alternatives *g) {
	for (size_t i = 0; i < g->n_alts; i++)
		if (alt_satisfied(r, &g->alts[i]))
			return true;
	return false;
}

/* Whether another .deb of p's name is already chosen: one version of a name at a time. */
static bool name_taken(const struct resolver *r, const struct pkg *p) {
	size_t lo, hi;

	name_range(r, p->name, &lo, &hi);
	for (size_t i = lo; i < hi; i++)
		if (r->pkgs[r->by_name[i]].selected)
			return true;
	return false;
}

/* The .deb that would satisfy rel: a real package (highest version first), else a provider;
 * NONE when there is none. *ret_via is the provider's name when it is one. */
static size_t candidate(const struct resolver *r, const struct deb_relation *rel, const char **ret_via) {
	size_t lo, hi;

	*ret_via = NULL;
	name_range(r, rel->name, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		const struct pkg *p = &r->pkgs[r->by_name[i]];

		if (p->deb != NONE && !name_taken(r, p) && real_satisfies(rel, p))
			return r->by_name[i];
	}
	provided_range(r, rel->name, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		const struct pkg *p = &r->pkgs[r->provided[i].pkg];

		if (p->deb != NONE && !name_taken(r, p) && provide_satisfies(rel, &r->provided[i], p)) {
			*ret_via = p->name;
			return r->provided[i].pkg;
		}
	}
	return NONE;
}

/* Chooses pkg i for installation, taking chain; the rootfs's package of that name makes way. */
static int select_pkg(struct resolver *r, size_t i, char *chain) {
	struct pkg *p = &r->pkgs[i];
	size_t lo, hi, *q;

	q = reallocarray(r->queue, r->n_queue + 1, sizeof(*q));
	if (!q) {
		free(chain);
		return -ENOMEM;
	}
	r->queue = q;
	r->queue[r->n_queue++] = i;
	p->selected = true;
	p->chain = chain;
	name_range(r, p->name, &lo, &hi);
	for (size_t k = lo; k < hi; k++) {
		struct pkg *o = &r->pkgs[r->by_name[k]];

		if (o->deb == NONE && is_native(o->arch))
			o->replaced = true;
	}
	return 0;
}

/* "libfoo 1.0-1", "libfoo:i386 1.0-1", "libfoo-ng 2.0 (Provides libfoo (= 1.5))", with why it does not do. */
static void describe(FILE *f, const struct pkg *p, const struct deb_relation *rel, const struct provider *pv,
		     bool *first) {
	fprintf(f, "%s%s%s%s %s", *first ? "" : ", ", p->name, is_native(p->arch) ? "" : ":",
		is_native(p->arch) ? "" : p->arch, p->version);
	if (pv)
		fprintf(f, " (Provides %s%s%s%s)", pv->rel->name, pv->rel->version ? " (= " : "",
			pv->rel->version ?: "", pv->rel->version ? ")" : "");
	if (rel->arch && strcmp(rel->arch, "any") == 0 && !p->ma_allowed)
		fputs(" (not Multi-Arch: allowed)", f);
	if (p->deb == NONE && p->replaced)
		fputs(" (replaced)", f);
	*first = false;
}

/* Lists what is there under the group's names, on one side (rootfs or debs); the count of them. */
static size_t list_side(const struct resolver *r, const struct deb_alternatives *g, bool debs, FILE *f) {
	bool first = true;
	size_t n = 0, lo, hi;

	for (size_t a = 0; a < g->n_alts; a++) {
		const struct deb_relation *rel = &g->alts[a];

		name_range(r, rel->name, &lo, &hi);
		for (size_t i = lo; i < hi; i++) {
			const struct pkg *p = &r->pkgs[r->by_name[i]];

			if ((p->deb != NONE) == debs) {
				describe(f, p, rel, NULL, &first);
				n++;
			}
		}
		provided_range(r, rel->name, &lo, &hi);
		for (size_t i = lo; i < hi; i++) {
			const struct pkg *p = &r->pkgs[r->provided[i].pkg];

			if ((p->deb != NONE) == debs) {
				describe(f, p, rel, &r->provided[i], &first);
				n++;
			}
		}
	}
	return n;
}

/* list_side() into a string; *ret_n is the count. */
static int side_text(const struct resolver *r, const struct deb_alternatives *g, bool debs, char **ret, size_t *ret_n) {
	size_t size;
	FILE *f = open_memstream(ret, &size);

	if (!f)
		return -ENOMEM;
	*ret_n = list_side(r, g, debs, f);
	return fclose(f) == 0 ? 0 : -ENOMEM;
}

/* Why nothing satisfies g: "not in the rootfs nor in [Packages] Debs=" when nothing has its
 * names, else what each side has. */
static int reason(const struct resolver *r, const struct deb_alternatives *g, char **ret) {
	_cleanup_free_ char *rootfs = NULL, *debs = NULL;
	size_t nr = 0, nd = 0;
	int k;

	k = side_text(r, g, false, &rootfs, &nr);
	if (k >= 0)
		k = side_text(r, g, true, &debs, &nd);
	if (k < 0)
		return k;
	if (nr == 0 && nd == 0)
		k = asprintf(ret, "not in the rootfs nor in %s", r->label);
	else
		k = asprintf(ret, "the rootfs has %s; %s has %s", nr ? rootfs : "none", r->label, nd ? debs : "none");
	return k < 0 ? -ENOMEM : 0;
}

/* Records "CHAIN: REASON" once, however many ways lead to it. */
static int add_missing(struct resolver *r, const char *chain, const struct deb_alternatives *g) {
	_cleanup_free_ char *why = NULL, *line = NULL;
	char **n;
	int k;

	k = reason(r, g, &why);
	if (k < 0)
		return k;
	if (asprintf(&line, "%s: %s", chain, why) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < r->n_missing; i++)
		if (strcmp(r->missing[i], line) == 0)
			return 0;
	n = reallocarray(r->missing, r->n_missing + 1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	r->missing = n;
	r->missing[r->n_missing++] = TAKE_PTR(line);
	return 0;
}

/* "CHAIN: Depends a | b (>= 1)" */
static int step(const char *chain, const char *field, const struct deb_alternatives *g, const struct deb_relation *alt,
		const char *via, char **ret) {
	_cleanup_free_ char *text = NULL;
	int k;

	k = alt ? deb_relation_format(alt, &text) : deb_alternatives_format(g, &text);
	if (k < 0)
		return k;
	k = asprintf(ret, "%s: %s %s%s%s", chain, field, text, via ? " via " : "", via ?: "");
	return k < 0 ? -ENOMEM : 0;
}

/* Satisfies one group of pkg i's relations, choosing a .deb if it must. */
static int follow_group(struct resolver *r, size_t i, const char *field, const struct deb_alternatives *g) {
	_cleanup_free_ char *chain = NULL;
	int k;

	if (group_satisfied(r, g))
		return 0;
	for (size_t a = 0; a < g->n_alts; a++) {
		const char *via;
		size_t c = candidate(r, &g->alts[a], &via);

		if (c == NONE)
			continue;
		k = step(r->pkgs[i].chain, field, g, &g->alts[a], via, &chain);
		return k < 0 ? k : select_pkg(r, c, TAKE_PTR(chain));
	}
	k = step(r->pkgs[i].chain, field, g, NULL, NULL, &chain);
	return k < 0 ? k : add_missing(r, chain, g);
}

/* Every relation of the chosen packages once more, against the final set. */
static int check_chosen(struct resolver *r) {
	for (size_t q = 0; q < r->n_queue; q++) {
		const struct pkg *p = &r->pkgs[r->queue[q]];

		for (size_t f = 0; f < ELEMENTSOF(dep_fields); f++)
			for (size_t g = 0; g < p->deps[f].n_groups; g++) {
				_cleanup_free_ char *chain = NULL;
				int k;

				if (group_satisfied(r, &p->deps[f].groups[g]))
					continue;
				k = step(p->chain, dep_fields[f], &p->deps[f].groups[g], NULL, NULL, &chain);
				if (k >= 0)
					k = add_missing(r, chain, &p->deps[f].groups[g]);
				if (k < 0)
					return k;
			}
	}
	return 0;
}

/* A name asked for: its own .deb when that is newer than the rootfs's, else whatever satisfies it. */
static int ask(struct resolver *r, const char *name, char **ret_error) {
	struct deb_relation rel = { .name = (char *)name };
	struct deb_alternatives g = { &rel, 1 };
	const struct pkg *best = NULL, *inst = NULL;
	_cleanup_free_ char *chain = NULL;
	const char *via = NULL;
	size_t lo, hi, c = NONE;
	int k;

	k = deb_name_check(name, ret_error);
	if (k < 0)
		return k;
	name_range(r, name, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		const struct pkg *p = &r->pkgs[r->by_name[i]];

		if (p->selected)
			return 0; /* asked twice */
		if (p->deb != NONE && !best) {
			best = p;
			c = r->by_name[i];
		}
		if (p->deb == NONE && !inst && effective(p) && is_native(p->arch))
			inst = p;
	}
	if (best && inst && deb_version_compare(best->version, inst->version) <= 0)
		best = NULL;
	if (!best) {
		if (alt_satisfied(r, &rel))
			return 0;
		c = candidate(r, &rel, &via);
		if (c == NONE)
			return add_missing(r, name, &g);
	}
	if (asprintf(&chain, "%s%s%s", name, best || !via ? "" : " via ", best || !via ? "" : via) < 0)
		return -ENOMEM;
	return select_pkg(r, c, TAKE_PTR(chain));
}

/* One package from its stanza: Provides always, Pre-Depends and Depends for debs only. where
 * prefixes messages ("var/lib/dpkg/status:12: htop" or a .deb's path). */
static int pkg_init(struct pkg *p, const struct deb_stanza *s, size_t deb, const char *where, char **ret_error) {
	_cleanup_free_ char *error = NULL;
	const char *ma = deb_stanza_get(s, "Multi-Arch"), *v;
	int k;

	p->deb = deb;
	p->name = deb_stanza_get(s, "Package");
	p->version = deb_stanza_get(s, "Version");
	p->arch = deb_stanza_get(s, "Architecture") ?: "";
	if (!p->name || !p->version)
		return set_error(ret_error, -EINVAL, "%s: no %s field", where, p->name ? "Version" : "Package");
	p->ma_allowed = ma && strcmp(ma, "allowed") == 0;
	p->ma_foreign = ma && strcmp(ma, "foreign") == 0;
	k = deb_version_parse(p->version, NULL, &error);
	v = deb_stanza_get(s, "Provides");
	if (k >= 0 && v)
		k = deb_relations_parse("Provides", v, &p->provides, &error);
	for (size_t f = 0; k >= 0 && deb != NONE && f < ELEMENTSOF(dep_fields); f++) {
		v = deb_stanza_get(s, dep_fields[f]);
		if (v)
			k = deb_relations_parse(dep_fields[f], v, &p->deps[f], &error);
	}
	if (k < 0)
		return set_error(ret_error, k, "%s: %s", where, error);
	return 0;
}

static int load(struct resolver *r, char **ret_error) {
	const struct deb_resolve_input *in = r->in;
	const char *origin = in->status_origin ?: "var/lib/dpkg/status";
	size_t n = 0;
	int k;

	if (in->status) {
		k = deb_status_parse(in->status, in->status_size, origin, &r->status, &r->n_status, ret_error);
		if (k < 0)
			return k;
	}
	r->pkgs = calloc(r->n_status + in->n_debs, sizeof(*r->pkgs));
	r->by_name = calloc(r->n_status + in->n_debs, sizeof(*r->by_name));
	if (!r->pkgs || !r->by_name)
		return -ENOMEM;
	for (size_t i = 0; i < r->n_status + in->n_debs; i++) {
		_cleanup_free_ char *where = NULL;
		const struct deb_stanza *s = i < r->n_status ? &r->status[i] : &in->debs[i - r->n_status].control;

		if (i < r->n_status)
			k = asprintf(&where, "%s:%u: %s", origin, s->line, deb_stanza_get(s, "Package"));
		else
			k = asprintf(&where, "%s", in->debs[i - r->n_status].path ?: "(.deb)");
		if (k < 0)
			return -ENOMEM;
		r->n_pkgs = i + 1;
		r->by_name[i] = i;
		k = pkg_init(&r->pkgs[i], s, i < r->n_status ? NONE : i - r->n_status, where, ret_error);
		if (k < 0)
			return k;
		n += r->pkgs[i].provides.n_groups;
	}
	qsort_r(r->by_name, r->n_pkgs, sizeof(*r->by_name), cmp_by_name, r->pkgs);

	r->provided = calloc(n ?: 1, sizeof(*r->provided));
	if (!r->provided)
		return -ENOMEM;
	for (size_t i = 0; i < r->n_pkgs; i++)
		for (size_t g = 0; g < r->pkgs[i].provides.n_groups; g++) {
			const struct deb_relation *rel = &r->pkgs[i].provides.groups[g].alts[0];

			r->provided[r->n_provided++] = (struct provider){ rel->name, i, rel };
		}
	qsort_r(r->provided, r->n_provided, sizeof(*r->provided), cmp_provider, r->pkgs);
	return 0;
}

static void resolver_release(struct resolver *r) {
	for (size_t i = 0; i < r->n_pkgs; i++) {
		for (size_t f = 0; f < ELEMENTSOF(dep_fields); f++)
			deb_relations_release(&r->pkgs[i].deps[f]);
		deb_relations_release(&r->pkgs[i].provides);
		free(r->pkgs[i].chain);
	}
	free(r->pkgs);
	free(r->by_name);
	free(r->provided);
	free(r->queue);
	for (size_t i = 0; i < r->n_missing; i++)
		free(r->missing[i]);
	free(r->missing);
	deb_stanzas_free(r->status, r->n_status);
}

static int cmp_install(const void *a, const void *b, void *userdata) {
	const struct deb_package *debs = userdata, *x = &debs[*(const size_t *)a], *y = &debs[*(const size_t *)b];

	return strcmp(x->name, y->name) ?: deb_version_compare(x->version, y->version);
}

void deb_resolution_release(struct deb_resolution *r) {
	if (!r)
		return;
	free(r->install);
	for (size_t i = 0; i < r->n_missing; i++)
		free(r->missing[i]);
	free(r->missing);
	*r = (struct deb_resolution){};
}

int deb_resolve(const struct deb_resolve_input *in, struct deb_resolution *ret, char **ret_error) {
	struct resolver r = { .in = in, .label = in->debs_label ?: "[Packages] Debs=" };
	struct deb_resolution res = {};
	int k;

	k = load(&r, ret_error);
	for (size_t i = 0; k >= 0 && i < in->n_names; i++)
		k = ask(&r, in->names[i], ret_error);
	/* the queue grows while it is walked: breadth first, so each chain is a shortest one */
	for (size_t q = 0; k >= 0 && q < r.n_queue; q++) {
		size_t i = r.queue[q];

		for (size_t f = 0; k >= 0 && f < ELEMENTSOF(dep_fields); f++)
			for (size_t g = 0; k >= 0 && g < r.pkgs[i].deps[f].n_groups; g++)
				k = follow_group(&r, i, dep_fields[f], &r.pkgs[i].deps[f].groups[g]);
	}
	if (k >= 0)
		k = check_chosen(&r);
	if (k < 0) {
		resolver_release(&r);
		return k;
	}
	res.install = calloc(r.n_queue ?: 1, sizeof(*res.install));
	if (!res.install) {
		resolver_release(&r);
		return -ENOMEM;
	}
	for (size_t q = 0; q < r.n_queue; q++)
		res.install[q] = r.pkgs[r.queue[q]].deb;
	res.n_install = r.n_queue;
	qsort_r(res.install, res.n_install, sizeof(*res.install), cmp_install, (void *)in->debs);
	res.missing = TAKE_PTR(r.missing);
	res.n_missing = r.n_missing;
	r.n_missing = 0;
	resolver_release(&r);
	*ret = res;
	return 0;
}
