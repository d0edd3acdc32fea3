/* egressd audit: a report a reviewer can keep: the policy and its hash,
 * every allow entry, every set element with the answer it came from,
 * every rule in nft words, and whether the live table matches; as text or
 * as JSON (docs/audit.md).  Left without its live part, the report of the
 * same inputs is the same bytes. */
#include "egressd.h"
#include "audit.h"
#include "cmd.h"
#include "nl.h"
#include "pipeline.h"
#include "priv.h"

#include <getopt.h>
#include <netinet/in.h>
#include <sys/capability.h>
#include <sys/socket.h>
#include <time.h>

#define AUDIT_USAGE "usage: egressd audit POLICY [--hosts FILE | --offline] " \
	"[--json] [--live | --no-live]"

enum live_mode { LIVE_AUTO, LIVE_ON, LIVE_OFF };

struct audit_opts {
	struct pipeline_opts po;
	bool json;
	enum live_mode live;
};

/* One allow entry's part in an element; for a host, the answer too. */
struct source {
	size_t entry;			/* index into policy->allow */
	const struct host_result *hr;	/* NULL for a cidr */
	uint32_t ttl;			/* of this address, clamped */
};

struct sources {
	struct source *v;
	size_t n, cap;
};

/* An entry's keys that are elements, and those the compiler dropped for
 * overlapping an element already in an interval set: wholly covered, or
 * partly, when it warned and less is allowed than the entry asks. */
struct entry_count {
	size_t elems, dropped;
};

struct live_report {
	bool read;
	struct nl_live *live;		/* NULL: there is no table */
	char *diff_text;
	char **diffs;			/* lines of diff_text */
	size_t n_diffs;
	char version[64], hash[80], applied[UTC_STRLEN];
	bool parsed, stamped;
	time_t read_at;
};

struct audit {
	const struct audit_opts *o;
	const struct pipeline *pl;
	struct sources **src;		/* [set][element], as in pl->rs */
	struct entry_count *entries;
	struct live_report lv;
};

/* Where the sources come from */

static int elem_key_cmp(const void *key, const void *elem)
{
	return rs_elem_cmp(key, elem);
}

/* The set compile_ports() puts a key in: a host with one port in the
 * exact-match set, ranges and networks in the interval set.  Should the
 * two ever disagree, the key shows up as dropped, never as allowed. */
static const char *entry_set(const struct allow_entry *en, int family,
			     const struct port_range *pr)
{
	bool exact = en->host && pr->lo == pr->hi;

	if (family == AF_INET)
		return exact ? "allow4" : "allow4_net";
	return exact ? "allow6" : "allow6_net";
}

static void place(struct audit *a, const struct source *src,
		  const struct rs_elem *key, const char *set_name)
{
	const struct ruleset *rs = a->pl->rs;
	const struct rs_set *s = ruleset_find_set(rs, set_name);
	const struct rs_elem *e = NULL;
	struct sources *ss;

	if (s)
		e = bsearch(key, s->elems, s->n_elems, sizeof(*s->elems),
			    elem_key_cmp);
	if (!e) {
		a->entries[src->entry].dropped++;
		return;
	}
	a->entries[src->entry].elems++;
	ss = &a->src[s - rs->sets][e - s->elems];
	grow(&ss->v, &ss->cap, ss->n, sizeof(*ss->v));
	ss->v[ss->n++] = *src;
}

/* Every protocol and port range of an entry, over one address range. */
static void place_entry(struct audit *a, const struct source *src,
			const struct addr *first, const struct addr *last)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	const struct allow_entry *en = &a->pl->policy->allow[src->entry];
	struct rs_elem key = { .addr = *first, .addr_end = *last };

	for (size_t pi = 0; pi < ARRAY_SIZE(protos); pi++) {
		if (!(en->proto & (1u << pi)))
			continue;
		key.l4proto = protos[pi];
		for (size_t i = 0; i < en->n_ports; i++) {
			key.port_lo = en->ports[i].lo;
			key.port_hi = en->ports[i].hi;
			place(a, src, &key,
			      entry_set(en, first->family, &en->ports[i]));
		}
	}
}

static void collect_entry(struct audit *a, size_t i)
{
	const struct allow_entry *en = &a->pl->policy->allow[i];
	const struct host_result *hr;
	struct source src = { .entry = i };
	struct addr last;

	if (!en->host) {
		prefix_last(&en->cidr, &last);
		place_entry(a, &src, &en->cidr.addr, &last);
		return;
	}
	hr = resolution_find(&a->pl->res, en->host);
	for (size_t k = 0; hr && k < hr->n_addrs; k++) {
		src.hr = hr;
		src.ttl = hr->addrs[k].ttl;
		place_entry(a, &src, &hr->addrs[k].addr, &hr->addrs[k].addr);
	}
}

static void collect_sources(struct audit *a)
{
	const struct ruleset *rs = a->pl->rs;
	size_t n_allow = a->pl->policy->n_allow;

	a->src = xcalloc(rs->n_sets + 1, sizeof(*a->src));
	for (size_t i = 0; i < rs->n_sets; i++)
		a->src[i] = xcalloc(rs->sets[i].n_elems + 1, sizeof(**a->src));
	a->entries = xcalloc(n_allow + 1, sizeof(*a->entries));
	for (size_t i = 0; i < n_allow; i++)
		collect_entry(a, i);
}

/* What a report says of one source; NULL where it knows nothing. */
struct source_view {
	const char *from;		/* the host, or the cidr */
	const char *resolver;
	uint64_t timeout_ms;		/* TTL + grace; 0: none */
	const char *resolved, *expires;
	char cidr[PREFIX_STRLEN], rbuf[ADDR_STRLEN];
	char rtime[UTC_STRLEN], etime[UTC_STRLEN];
};

static const char *addresses_from(const struct audit *a)
{
	return a->pl->res.source ? a->pl->res.source : "dns";
}

static void source_view(const struct audit *a, const struct source *s,
			struct source_view *v)
{
	const struct allow_entry *en = &a->pl->policy->allow[s->entry];
	uint32_t grace = a->pl->policy->defaults.grace;

	memset(v, 0, sizeof(*v));
	if (!s->hr) {
		v->from = prefix_fmt(&en->cidr, v->cidr);
		return;
	}
	v->from = en->host;
	v->timeout_ms = ((uint64_t)s->ttl + grace) * 1000;
	/* A hosts file is read, not asked: its times would only make two
	 * reports of the same inputs differ. */
	if (a->o->po.hosts_file) {
		v->resolver = addresses_from(a);
		return;
	}
	if (s->hr->resolver.family)
		v->resolver = addr_fmt(&s->hr->resolver, v->rbuf);
	v->resolved = utc_fmt(s->hr->resolved_at, v->rtime);
	v->expires = utc_fmt(s->hr->resolved_at + s->ttl + grace, v->etime);
}

/* The live table */

/* Offline, host names have no addresses, so their elements can't be
 * compared and are left out, as verify --offline does. */
static void split_lines(struct live_report *lv)
{
	char *save = NULL, *line;

	for (line = strtok_r(lv->diff_text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		lv->diffs = xreallocarray(lv->diffs, lv->n_diffs + 1,
					  sizeof(*lv->diffs));
		lv->diffs[lv->n_diffs++] = line;
	}
}

static void compare_live(struct audit *a)
{
	struct live_report *lv = &a->lv;
	struct nl_diff_opts o = { 0 };
	const char **hosts = NULL;
	size_t len = 0;
	FILE *f;

	if (a->o->po.offline) {
		hosts = policy_host_names(a->pl->policy, &o.n_skip_hosts);
		o.skip_hosts = hosts;
	}
	f = open_memstream(&lv->diff_text, &len);
	if (!f)
		fatalx("audit: out of memory");
	nl_diff(lv->live, a->pl->rs, &o, f);
	if (fclose(f) == EOF)
		fatalx("audit: out of memory");
	split_lines(lv);
	free(hosts);

	lv->parsed = nl_parse_table_comment(lv->live->comment, lv->version,
					    sizeof(lv->version), lv->hash,
					    sizeof(lv->hash));
	lv->stamped = table_comment_applied(lv->live->comment, lv->applied);
}

static int read_live(struct audit *a)
{
	struct nl_err err = { 0 };
	struct nl_sock *nl;
	char msg[640];

	nl = nl_open(&err);
	if (!nl || nl_read(nl, &a->lv.live, &err) < 0) {
		log_warnx("audit: %s", nl_err_str(&err, msg, sizeof(msg)));
		nl_close(nl);
		return EXIT_KERNEL;
	}
	nl_close(nl);
	a->lv.read = true;
	a->lv.read_at = time(NULL);
	if (a->lv.live)
		compare_live(a);
	return EXIT_OK;
}

static const char *verdict(const struct live_report *lv)
{
	if (!lv->live)
		return "no table";
	return lv->n_diffs ? "drift" : "match";
}

/* One live element, named through the policy's set of the same name. */
struct live_view {
	const struct nl_live_elem *le;
	struct rs_elem e;
	bool decoded;
};

static int live_view_cmp(const void *pa, const void *pb)
{
	const struct live_view *a = pa, *b = pb;

	if (a->decoded != b->decoded)
		return a->decoded ? -1 : 1;
	if (a->decoded)
		return rs_elem_cmp(&a->e, &b->e);
	if (a->le->len != b->le->len)
		return a->le->len < b->le->len ? -1 : 1;
	return memcmp(a->le->key, b->le->key, a->le->len);
}

/* The elements of ls sorted, since the kernel dumps a hash set in no
 * particular order and two reports of one table should read the same. */
static struct live_view *live_elems(const struct audit *a,
				    const struct nl_live_set *ls)
{
	const struct rs_set *s = ruleset_find_set(a->pl->rs, ls->name);
	struct live_view *v = xcalloc(ls->n_elems + 1, sizeof(*v));

	for (size_t i = 0; i < ls->n_elems; i++) {
		const struct nl_live_elem *le = &ls->elems[i];

		v[i].le = le;
		v[i].decoded = s && nl_elem_decode(s, le->key,
						   le->has_end ? le->key_end
							       : NULL,
						   le->len, &v[i].e);
	}
	qsort(v, ls->n_elems, sizeof(*v), live_view_cmp);
	return v;
}

static const char *live_key(const struct audit *a,
			    const struct nl_live_set *ls,
			    const struct live_view *v, char *buf, size_t len)
{
	const struct rs_set *s = ruleset_find_set(a->pl->rs, ls->name);
	size_t off = 0;

	if (v->decoded)
		return render_elem_key(s, &v->e, buf, len);
	/* A key egressd would not have made: its bytes, for the record. */
	off = snprintf(buf, len, "0x");
	for (size_t i = 0; i < v->le->len && off + 3 <= len; i++)
		off += snprintf(buf + off, len - off, "%02x", v->le->key[i]);
	return buf;
}

/* When a live element expires, by the clock of the moment it was read;
 * NULL for one without a timeout. */
static const char *live_expiry(const struct audit *a,
			       const struct nl_live_elem *le,
			       char buf[UTC_STRLEN])
{
	if (!le->timeout_ms)
		return NULL;
	return utc_fmt(a->lv.read_at + (time_t)(le->expires_ms / 1000), buf);
}

/* Text */

static const char *or_dash(const char *s)
{
	return s ? s : "-";
}

/* "443,8000-8100", as long as the entry's list. */
static char *ports_text(const struct allow_entry *en)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		fatalx("audit: out of memory");
	for (size_t i = 0; i < en->n_ports; i++) {
		fprintf(f, "%s%u", i ? "," : "", en->ports[i].lo);
		if (en->ports[i].hi != en->ports[i].lo)
			fprintf(f, "-%u", en->ports[i].hi);
	}
	if (fclose(f) == EOF)
		fatalx("audit: out of memory");
	return text;
}

static const char *proto_text(unsigned int proto)
{
	if ((proto & PROTO_TCP) && (proto & PROTO_UDP))
		return "tcp,udp";
	return proto & PROTO_TCP ? "tcp" : "udp";
}

static void text_resolvers(const struct policy *p, struct cols *c)
{
	char buf[ADDR_STRLEN];
	char *list = xstrdup("");

	for (size_t i = 0; i < p->n_resolvers; i++) {
		char *more = xasprintf("%s%s%s", list, i ? ", " : "",
				       addr_fmt(&p->resolvers[i], buf));

		free(list);
		list = more;
	}
	cols_add(c, "resolvers");
	cols_add(c, "%s%s", p->n_resolvers ? list : "none",
		 p->resolvers_from_system ? " (from resolv.conf)" : "");
	free(list);
}

/* The options that shape the rules rather than the sets. */
static void text_options(const struct policy *p, struct cols *c)
{
	const struct policy_defaults *d = &p->defaults;
	const char *blocked = d->blocked == BLOCK_DROP ? "drop" : "reject";

	cols_add(c, "dns ttl");
	cols_add(c, "floor %u s, ceiling %u s, grace %u s", d->ttl_floor,
		 d->ttl_ceiling, d->grace);
	cols_add(c, "blocked traffic");
	if (d->log)
		cols_add(c, "%s, logged to NFLOG group %u", blocked,
			 d->log_group);
	else
		cols_add(c, "%s, not logged", blocked);
	cols_add(c, "guarded hooks");
	cols_add(c, "output%s", p->forward ? ", forward" : "");
	cols_add(c, "also allowed");
	cols_add(c, "%s%s%s", p->allow_dhcp ? "DHCP client" : "",
		 p->allow_dhcp && p->allow_ntp ? ", " : "",
		 p->allow_ntp ? "NTP client" : p->allow_dhcp ? "" : "nothing");
}

static void text_header(const struct audit *a)
{
	const struct policy *p = a->pl->policy;
	struct cols c;

	cols_init(&c, 2);
	cols_add(&c, "egressd version");
	cols_add(&c, "%s", EGRESSD_VERSION);
	cols_add(&c, "policy");
	cols_add(&c, "%s", p->path);
	cols_add(&c, "policy sha256");
	cols_add(&c, "%s", p->sha256_hex);
	cols_add(&c, "addresses from");
	cols_add(&c, "%s", addresses_from(a));
	text_resolvers(p, &c);
	text_options(p, &c);
	printf("egressd audit\n");
	cols_print(&c, stdout, 2);
	cols_free(&c);
}

static void text_entries(const struct audit *a)
{
	static const char *const head[] = { "#", "line", "host or cidr",
		"proto", "ports", "elements", "purpose" };
	const struct policy *p = a->pl->policy;
	char cidr[PREFIX_STRLEN];
	struct cols c;

	printf("\nallow entries (%zu)\n", p->n_allow);
	cols_init_head(&c, head, ARRAY_SIZE(head));
	for (size_t i = 0; i < p->n_allow; i++) {
		const struct allow_entry *en = &p->allow[i];
		const struct entry_count *n = &a->entries[i];
		char *ports = ports_text(en);

		cols_add(&c, "%zu", i + 1);
		cols_add(&c, "%u", en->line);
		cols_add(&c, "%s", en->host ? en->host
					    : prefix_fmt(&en->cidr, cidr));
		cols_add(&c, "%s", proto_text(en->proto));
		cols_add(&c, "%s", ports);
		free(ports);
		if (n->dropped)
			cols_add(&c, "%zu, %zu dropped (overlap)", n->elems,
				 n->dropped);
		else
			cols_add(&c, "%zu", n->elems);
		cols_add(&c, "%s", en->purpose);
	}
	cols_print(&c, stdout, 2);
	cols_free(&c);
}

static void text_host(const struct audit *a, const struct host_result *hr,
		      struct cols *c)
{
	char buf[ADDR_STRLEN], when[UTC_STRLEN];
	bool asked = !a->o->po.hosts_file && hr->status != RES_SKIPPED;

	cols_add(c, "%s", hr->host);
	cols_add(c, "%s", res_status_str(hr->status));
	cols_add(c, "%zu%s", hr->n_addrs, hr->capped ? " (capped)" : "");
	if (a->o->po.hosts_file)
		cols_add(c, "%s", addresses_from(a));
	else
		cols_add(c, "%s", hr->resolver.family
				  ? addr_fmt(&hr->resolver, buf) : "-");
	cols_add(c, "%s", asked ? utc_fmt(hr->resolved_at, when) : "-");
	cols_add(c, "%s", hr->detail ? hr->detail : "");
}

static void text_hosts(const struct audit *a)
{
	static const char *const head[] = { "host", "status", "addresses",
		"resolver", "resolved", "detail" };
	const struct resolution *res = &a->pl->res;
	struct cols c;

	printf("\nhosts (%zu)\n", res->n_hosts);
	if (!res->n_hosts)
		return;
	cols_init_head(&c, head, ARRAY_SIZE(head));
	for (size_t i = 0; i < res->n_hosts; i++)
		text_host(a, &res->hosts[i], &c);
	cols_print(&c, stdout, 2);
	cols_free(&c);
}

static void text_source(const struct audit *a, const struct source *s,
			struct cols *c)
{
	struct source_view v;
	char dur[32];

	source_view(a, s, &v);
	cols_add(c, "%s", v.from);
	cols_add(c, "%zu", s->entry + 1);
	cols_add(c, "%s", or_dash(v.resolver));
	if (s->hr)
		cols_add(c, "%u s", s->ttl);
	else
		cols_add(c, "-");
	cols_add(c, "%s", or_dash(v.resolved));
	if (v.expires)
		cols_add(c, "%s", v.expires);
	else if (v.timeout_ms)
		cols_add(c, "%s after apply",
			 render_duration(v.timeout_ms, dur, sizeof(dur)));
	else
		cols_add(c, "never");
}

static void text_elem(const struct audit *a, const struct rs_set *s,
		      size_t i, struct cols *c)
{
	const struct sources *ss = &a->src[s - a->pl->rs->sets][i];
	const struct rs_elem *e = &s->elems[i];
	char key[192], dur[32];

	cols_add(c, "%s", render_elem_key(s, e, key, sizeof(key)));
	cols_add(c, "%s", e->timeout_ms ? render_duration(e->timeout_ms, dur,
							  sizeof(dur)) : "-");
	for (size_t k = 0; k < ss->n; k++) {
		if (k) {
			cols_add(c, "%s", "");
			cols_add(c, "%s", "");
		}
		text_source(a, &ss->v[k], c);
	}
	/* In a set whose other elements have sources: blank columns. */
	for (size_t k = ss->n ? 0 : c->n_cols - 2; k > 0; k--)
		cols_add(c, "%s", "");
}

/* The resolvers' and neighbour discovery's sets come from no entry. */
static bool set_has_sources(const struct audit *a, const struct rs_set *s)
{
	const struct sources *ss = a->src[s - a->pl->rs->sets];

	for (size_t i = 0; i < s->n_elems; i++) {
		if (ss[i].n)
			return true;
	}
	return false;
}

static void text_set(const struct audit *a, const struct rs_set *s)
{
	static const char *const head[] = { "element", "timeout", "from",
		"entry", "resolver", "ttl", "resolved", "expires" };
	size_t n_head = set_has_sources(a, s) ? ARRAY_SIZE(head) : 2;
	struct cols c;

	printf("\nset %s: %s (%zu element%s)\n", s->name,
	       s->comment ? s->comment : "", s->n_elems,
	       s->n_elems == 1 ? "" : "s");
	if (!s->n_elems)
		return;
	cols_init_head(&c, head, n_head);
	for (size_t i = 0; i < s->n_elems; i++)
		text_elem(a, s, i, &c);
	cols_print(&c, stdout, 2);
	cols_free(&c);
}

static char *rule_text(const struct rs_rule *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		fatalx("audit: out of memory");
	render_rule(r, f);
	if (fclose(f) == EOF)
		fatalx("audit: out of memory");
	return text;
}

static const char *hook_name(enum rs_hook h)
{
	switch (h) {
	case RS_HOOK_OUTPUT:
		return "output";
	case RS_HOOK_FORWARD:
		return "forward";
	case RS_HOOK_NONE:
		break;
	}
	return NULL;
}

static void text_chain(const struct rs_chain *ch)
{
	struct cols c;

	if (ch->hook == RS_HOOK_NONE)
		printf("\nchain %s: regular chain", ch->name);
	else
		printf("\nchain %s: hook %s priority %d, policy %s", ch->name,
		       hook_name(ch->hook), ch->priority,
		       ch->policy_drop ? "drop" : "accept");
	printf(" (%zu rule%s)\n", ch->n_rules, ch->n_rules == 1 ? "" : "s");
	cols_init(&c, 2);
	for (size_t i = 0; i < ch->n_rules; i++) {
		char *rule = rule_text(&ch->rules[i]);

		cols_add(&c, "%zu", i + 1);
		cols_add(&c, "%s", rule);
		free(rule);
	}
	cols_print(&c, stdout, 2);
	cols_free(&c);
}

static void text_live_elem(const struct audit *a,
			   const struct nl_live_set *ls,
			   const struct live_view *v, struct cols *c)
{
	const struct nl_live_elem *le = v->le;
	char key[192], dur[32], when[UTC_STRLEN];
	bool timed = le->timeout_ms != 0;

	cols_add(c, "%s", live_key(a, ls, v, key, sizeof(key)));
	cols_add(c, "%s", or_dash(le->comment));
	cols_add(c, "%s", timed ? render_duration(le->timeout_ms, dur,
						  sizeof(dur)) : "-");
	/* To the second: milliseconds are noise in a report. */
	cols_add(c, "%s", timed ? render_duration(le->expires_ms / 1000 * 1000,
						  dur, sizeof(dur)) : "-");
	cols_add(c, "%s", timed ? live_expiry(a, le, when) : "never");
	if (le->counted)
		cols_add(c, "%llu", (unsigned long long)le->packets);
	else
		cols_add(c, "-");
}

static void text_live_set(const struct audit *a, const struct nl_live_set *ls)
{
	static const char *const head[] = { "element", "comment", "timeout",
		"expires in", "expires at", "packets" };
	struct live_view *v;
	struct cols c;

	printf("\nlive set %s (%zu element%s)\n", ls->name, ls->n_elems,
	       ls->n_elems == 1 ? "" : "s");
	if (!ls->n_elems)
		return;
	v = live_elems(a, ls);
	cols_init_head(&c, head, ARRAY_SIZE(head));
	for (size_t i = 0; i < ls->n_elems; i++)
		text_live_elem(a, ls, &v[i], &c);
	cols_print(&c, stdout, 2);
	cols_free(&c);
	free(v);
}

static void text_live_table(const struct live_report *lv,
			    const struct policy *p)
{
	struct cols c;

	cols_init(&c, 2);
	cols_add(&c, "comment");
	cols_add(&c, "%s", or_dash(lv->live->comment));
	cols_add(&c, "egressd version");
	cols_add(&c, "%s", lv->parsed ? lv->version : "unknown");
	cols_add(&c, "policy sha256");
	cols_add(&c, "%s%s", lv->parsed ? lv->hash : "unknown",
		 lv->parsed && !strcmp(lv->hash, p->sha256_hex)
		 ? " (this policy)" : " (not this policy)");
	cols_add(&c, "applied");
	cols_add(&c, "%s", lv->stamped ? lv->applied : "unknown");
	cols_print(&c, stdout, 2);
	cols_free(&c);
}

/* Through cols, which masks control characters: a difference quotes
 * element comments as the kernel holds them, written by anyone. */
static void text_diffs(const struct live_report *lv)
{
	struct cols c;

	cols_init(&c, 1);
	for (size_t i = 0; i < lv->n_diffs; i++)
		cols_add(&c, "%s", lv->diffs[i]);
	cols_print(&c, stdout, 4);
	cols_free(&c);
}

static void text_live(const struct audit *a)
{
	const struct live_report *lv = &a->lv;
	char when[UTC_STRLEN];

	if (!lv->read) {
		printf("\nlive table: not read; this report covers the policy "
		       "alone\n");
		return;
	}
	printf("\nlive table inet %s, read %s\n", EGRESSD_TABLE,
	       utc_fmt(lv->read_at, when));
	printf("  verdict: %s", verdict(lv));
	if (lv->n_diffs)
		printf(" (%zu difference%s)", lv->n_diffs,
		       lv->n_diffs == 1 ? "" : "s");
	printf("%s\n", a->o->po.offline && lv->live
		       ? " (elements of host names not compared)" : "");
	text_diffs(lv);
	if (!lv->live)
		return;
	text_live_table(lv, a->pl->policy);
	for (size_t i = 0; i < lv->live->n_sets; i++)
		text_live_set(a, &lv->live->sets[i]);
}

static void print_text(const struct audit *a)
{
	const struct ruleset *rs = a->pl->rs;

	text_header(a);
	text_entries(a);
	text_hosts(a);
	for (size_t i = 0; i < rs->n_sets; i++)
		text_set(a, &rs->sets[i]);
	for (size_t i = 0; i < rs->n_chains; i++)
		text_chain(&rs->chains[i]);
	text_live(a);
}

/* JSON: the schema is in docs/audit.md; members come in a fixed order. */

static void json_options(struct json *j, const struct policy *p)
{
	const struct policy_defaults *d = &p->defaults;
	char buf[ADDR_STRLEN];

	json_open(j, "resolvers", '{');
	json_bool(j, "from_system", p->resolvers_from_system);
	json_open(j, "addresses", '[');
	for (size_t i = 0; i < p->n_resolvers; i++)
		json_str(j, NULL, addr_fmt(&p->resolvers[i], buf));
	json_close(j, ']');
	json_close(j, '}');
	json_open(j, "defaults", '{');
	json_uint(j, "refresh_s", d->refresh);
	json_uint(j, "ttl_floor_s", d->ttl_floor);
	json_uint(j, "ttl_ceiling_s", d->ttl_ceiling);
	json_uint(j, "grace_s", d->grace);
	json_uint(j, "stale_s", d->stale);
	json_uint(j, "max_addrs", d->max_addrs);
	json_str(j, "blocked", d->blocked == BLOCK_DROP ? "drop" : "reject");
	json_bool(j, "log", d->log);
	json_uint(j, "log_group", d->log_group);
	json_close(j, '}');
	json_bool(j, "forward", p->forward);
	json_bool(j, "allow_dhcp", p->allow_dhcp);
	json_bool(j, "allow_ntp", p->allow_ntp);
}

static void json_entry(struct json *j, const struct audit *a, size_t i)
{
	const struct allow_entry *en = &a->pl->policy->allow[i];
	char buf[PREFIX_STRLEN];

	json_open(j, NULL, '{');
	json_uint(j, "entry", i + 1);
	json_uint(j, "line", en->line);
	json_str(j, "host", en->host);
	json_str(j, "cidr", en->host ? NULL : prefix_fmt(&en->cidr, buf));
	json_open(j, "proto", '[');
	if (en->proto & PROTO_TCP)
		json_str(j, NULL, "tcp");
	if (en->proto & PROTO_UDP)
		json_str(j, NULL, "udp");
	json_close(j, ']');
	json_open(j, "ports", '[');
	for (size_t k = 0; k < en->n_ports; k++) {
		json_open(j, NULL, '{');
		json_uint(j, "from", en->ports[k].lo);
		json_uint(j, "to", en->ports[k].hi);
		json_close(j, '}');
	}
	json_close(j, ']');
	json_str(j, "purpose", en->purpose);
	json_uint(j, "elements", a->entries[i].elems);
	json_uint(j, "dropped_overlaps", a->entries[i].dropped);
	json_close(j, '}');
}

static void json_host(struct json *j, const struct audit *a,
		      const struct host_result *hr)
{
	char buf[ADDR_STRLEN], when[UTC_STRLEN];
	bool asked = !a->o->po.hosts_file && hr->status != RES_SKIPPED;

	json_open(j, NULL, '{');
	json_str(j, "host", hr->host);
	json_str(j, "status", res_status_str(hr->status));
	json_str(j, "detail", hr->detail);
	if (a->o->po.hosts_file)
		json_str(j, "resolver", addresses_from(a));
	else
		json_str(j, "resolver", hr->resolver.family
					? addr_fmt(&hr->resolver, buf) : NULL);
	json_str(j, "resolved_at", asked ? utc_fmt(hr->resolved_at, when)
					 : NULL);
	json_bool(j, "capped", hr->capped);
	json_open(j, "addresses", '[');
	for (size_t i = 0; i < hr->n_addrs; i++) {
		json_open(j, NULL, '{');
		json_str(j, "address", addr_fmt(&hr->addrs[i].addr, buf));
		json_uint(j, "ttl_s", hr->addrs[i].ttl);
		json_close(j, '}');
	}
	json_close(j, ']');
	json_close(j, '}');
}

static void json_duration(struct json *j, const char *key, uint64_t ms)
{
	char dur[32];

	json_str(j, key, ms ? render_duration(ms, dur, sizeof(dur)) : NULL);
}

static void json_source(struct json *j, const struct audit *a,
			const struct source *s)
{
	struct source_view v;

	source_view(a, s, &v);
	json_open(j, NULL, '{');
	json_uint(j, "entry", s->entry + 1);
	json_str(j, "from", v.from);
	json_str(j, "resolver", v.resolver);
	if (s->hr)
		json_uint(j, "ttl_s", s->ttl);
	else
		json_null(j, "ttl_s");
	json_uint(j, "timeout_ms", v.timeout_ms);
	json_duration(j, "timeout", v.timeout_ms);
	json_str(j, "resolved_at", v.resolved);
	json_str(j, "expires_at", v.expires);
	json_close(j, '}');
}

static void json_elem(struct json *j, const struct audit *a,
		      const struct rs_set *s, size_t i)
{
	const struct sources *ss = &a->src[s - a->pl->rs->sets][i];
	const struct rs_elem *e = &s->elems[i];
	char key[192];

	json_open(j, NULL, '{');
	json_str(j, "key", render_elem_key(s, e, key, sizeof(key)));
	json_str(j, "comment", e->comment);
	json_uint(j, "timeout_ms", e->timeout_ms);
	json_duration(j, "timeout", e->timeout_ms);
	json_open(j, "sources", '[');
	for (size_t k = 0; k < ss->n; k++)
		json_source(j, a, &ss->v[k]);
	json_close(j, ']');
	json_close(j, '}');
}

static void json_set(struct json *j, const struct audit *a,
		     const struct rs_set *s)
{
	json_open(j, NULL, '{');
	json_str(j, "name", s->name);
	json_str(j, "comment", s->comment);
	json_open(j, "elements", '[');
	for (size_t i = 0; i < s->n_elems; i++)
		json_elem(j, a, s, i);
	json_close(j, ']');
	json_close(j, '}');
}

static void json_chain(struct json *j, const struct rs_chain *ch)
{
	bool base = ch->hook != RS_HOOK_NONE;

	json_open(j, NULL, '{');
	json_str(j, "name", ch->name);
	json_str(j, "hook", hook_name(ch->hook));
	if (base)
		json_int(j, "priority", ch->priority);
	else
		json_null(j, "priority");
	json_str(j, "policy", !base ? NULL : ch->policy_drop ? "drop"
							      : "accept");
	json_open(j, "rules", '[');
	for (size_t i = 0; i < ch->n_rules; i++) {
		char *rule = rule_text(&ch->rules[i]);

		json_str(j, NULL, rule);
		free(rule);
	}
	json_close(j, ']');
	json_close(j, '}');
}

static void json_live_elem(struct json *j, const struct audit *a,
			   const struct nl_live_set *ls,
			   const struct live_view *v)
{
	const struct nl_live_elem *le = v->le;
	char key[192], when[UTC_STRLEN];

	json_open(j, NULL, '{');
	json_str(j, "key", live_key(a, ls, v, key, sizeof(key)));
	json_str(j, "comment", le->comment);
	json_uint(j, "timeout_ms", le->timeout_ms);
	json_uint(j, "expires_ms", le->expires_ms);
	json_str(j, "expires_at", live_expiry(a, le, when));
	if (le->counted) {
		json_uint(j, "packets", le->packets);
		json_uint(j, "bytes", le->bytes);
	} else {
		json_null(j, "packets");
		json_null(j, "bytes");
	}
	json_close(j, '}');
}

static void json_live_sets(struct json *j, const struct audit *a)
{
	const struct nl_live *live = a->lv.live;

	json_open(j, "sets", '[');
	for (size_t i = 0; live && i < live->n_sets; i++) {
		const struct nl_live_set *ls = &live->sets[i];
		struct live_view *v = live_elems(a, ls);

		json_open(j, NULL, '{');
		json_str(j, "name", ls->name);
		json_open(j, "elements", '[');
		for (size_t k = 0; k < ls->n_elems; k++)
			json_live_elem(j, a, ls, &v[k]);
		json_close(j, ']');
		json_close(j, '}');
		free(v);
	}
	json_close(j, ']');
}

static void json_live(struct json *j, const struct audit *a)
{
	const struct live_report *lv = &a->lv;
	char when[UTC_STRLEN];

	if (!lv->read) {
		json_null(j, "live");
		return;
	}
	json_open(j, "live", '{');
	json_str(j, "verdict", verdict(lv));
	json_str(j, "read_at", utc_fmt(lv->read_at, when));
	json_bool(j, "host_elements_compared", !a->o->po.offline);
	json_open(j, "differences", '[');
	for (size_t i = 0; i < lv->n_diffs; i++)
		json_str(j, NULL, lv->diffs[i]);
	json_close(j, ']');
	json_str(j, "comment", lv->live ? lv->live->comment : NULL);
	json_str(j, "version", lv->parsed ? lv->version : NULL);
	json_str(j, "policy_sha256", lv->parsed ? lv->hash : NULL);
	json_str(j, "applied_at", lv->stamped ? lv->applied : NULL);
	json_live_sets(j, a);
	json_close(j, '}');
}

static void print_json(const struct audit *a)
{
	const struct policy *p = a->pl->policy;
	const struct ruleset *rs = a->pl->rs;
	struct json j;

	json_init(&j, stdout);
	json_open(&j, NULL, '{');
	json_uint(&j, "audit_schema", 1);
	json_str(&j, "egressd_version", EGRESSD_VERSION);
	json_open(&j, "policy", '{');
	json_str(&j, "path", p->path);
	json_str(&j, "sha256", p->sha256_hex);
	json_close(&j, '}');
	json_str(&j, "addresses_from", addresses_from(a));
	json_options(&j, p);
	json_open(&j, "allow", '[');
	for (size_t i = 0; i < p->n_allow; i++)
		json_entry(&j, a, i);
	json_close(&j, ']');
	json_open(&j, "hosts", '[');
	for (size_t i = 0; i < a->pl->res.n_hosts; i++)
		json_host(&j, a, &a->pl->res.hosts[i]);
	json_close(&j, ']');
	json_open(&j, "sets", '[');
	for (size_t i = 0; i < rs->n_sets; i++)
		json_set(&j, a, &rs->sets[i]);
	json_close(&j, ']');
	json_open(&j, "chains", '[');
	for (size_t i = 0; i < rs->n_chains; i++)
		json_chain(&j, &rs->chains[i]);
	json_close(&j, ']');
	json_live(&j, a);
	json_close(&j, '}');
}

/* The command */

static int parse_args(int argc, char **argv, struct audit_opts *o)
{
	static const struct option longopts[] = {
		{ "hosts", required_argument, NULL, 'H' },
		{ "offline", no_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "live", no_argument, NULL, 'l' },
		{ "no-live", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	bool live = false, no_live = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'H':
			o->po.hosts_file = optarg;
			break;
		case 'o':
			o->po.offline = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'l':
			live = true;
			break;
		case 'n':
			no_live = true;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || (o->po.hosts_file && o->po.offline) ||
	    (live && no_live))
		goto usage;
	o->po.policy_path = argv[optind];
	o->live = live ? LIVE_ON : no_live ? LIVE_OFF : LIVE_AUTO;
	return EXIT_OK;
usage:
	fprintf(stderr, "%s\n", AUDIT_USAGE);
	return EXIT_USAGE;
}

static int live_privilege(struct audit_opts *o)
{
	if (o->live == LIVE_AUTO) {
		o->live = priv_net_admin_permitted() ? LIVE_ON : LIVE_OFF;
		if (o->live == LIVE_OFF)
			log_info("audit: no CAP_NET_ADMIN, so the live table "
				 "is left out of the report (--live asks for "
				 "it)");
	}
	if (o->live == LIVE_OFF)
		return EXIT_OK;
	return priv_restrict("audit", PRIV_READ);
}

static void audit_free(struct audit *a)
{
	const struct ruleset *rs = a->pl->rs;

	for (size_t i = 0; a->src && i < rs->n_sets; i++) {
		for (size_t k = 0; k < rs->sets[i].n_elems; k++)
			free(a->src[i][k].v);
		free(a->src[i]);
	}
	free(a->src);
	free(a->entries);
	free(a->lv.diffs);
	free(a->lv.diff_text);
	nl_live_free(a->lv.live);
}

static int report(struct audit *a)
{
	int ret = EXIT_OK;

	collect_sources(a);
	if (a->o->live == LIVE_ON)
		ret = read_live(a);
	if (ret != EXIT_OK)
		return ret;
	if (a->o->json)
		print_json(a);
	else
		print_text(a);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		log_warn("audit: writing the report");
		return EXIT_INTERNAL;
	}
	if (!a->lv.read)
		return EXIT_OK;
	if (!a->lv.live)
		return EXIT_ABSENT;
	return a->lv.n_diffs ? EXIT_DRIFT : EXIT_OK;
}

int cmd_audit(int argc, char **argv)
{
	struct audit_opts o = { 0 };
	struct audit a = { .o = &o };
	struct pipeline pl;
	int ret;

	ret = parse_args(argc, argv, &o);
	if (ret != EXIT_OK)
		return ret;
	ret = live_privilege(&o);
	if (ret != EXIT_OK)
		return ret;
	ret = pipeline_build(&o.po, &pl);
	if (ret != EXIT_OK)
		return ret;
	a.pl = &pl;
	ret = report(&a);
	audit_free(&a);
	pipeline_free(&pl);
	return ret;
}
