/* The compiler: a checked policy plus the addresses its hosts resolved to
 * become one ruleset model.  The rule count is fixed by the policy's
 * options; hosts and networks only ever add set elements. */
#include "egressd.h"
#include "ruleset.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

/* Set names; the order is the rendering order. */
enum {
	SET_DNS4, SET_DNS6, SET_ND6,
	SET_ALLOW4, SET_ALLOW6, SET_ALLOW4_NET, SET_ALLOW6_NET,
	N_SETS
};

struct set_def {
	const char *name;
	int family;
	unsigned int flags;
	const char *comment;
};

static const struct set_def set_defs[N_SETS] = {
	[SET_DNS4] = { "dns4", AF_INET, 0, "the policy's resolvers, port 53" },
	[SET_DNS6] = { "dns6", AF_INET6, 0, "the policy's resolvers, port 53" },
	[SET_ND6] = { "nd6", 0, 0, "IPv6 neighbour and router discovery" },
	[SET_ALLOW4] = { "allow4", AF_INET, RS_SET_TIMEOUT | RS_SET_COUNTER,
			 "resolved hosts: address . protocol . port" },
	[SET_ALLOW6] = { "allow6", AF_INET6, RS_SET_TIMEOUT | RS_SET_COUNTER,
			 "resolved hosts: address . protocol . port" },
	[SET_ALLOW4_NET] = { "allow4_net", AF_INET,
			     RS_SET_INTERVAL | RS_SET_TIMEOUT | RS_SET_COUNTER,
			     "networks and port ranges" },
	[SET_ALLOW6_NET] = { "allow6_net", AF_INET6,
			     RS_SET_INTERVAL | RS_SET_TIMEOUT | RS_SET_COUNTER,
			     "networks and port ranges" },
};

static const uint8_t nd6_types[] = { 133, 134, 135, 136 };

static void set_init(struct rs_set *s, const struct set_def *d)
{
	s->name = xstrdup(d->name);
	s->flags = d->flags;
	s->comment = xstrdup(d->comment);
	if (!d->family) {
		s->key[0] = RS_F_ICMPV6_TYPE;
		s->key_len = 1;
		return;
	}
	s->key[0] = d->family == AF_INET ? RS_F_IP_DADDR : RS_F_IP6_DADDR;
	s->key[1] = RS_F_L4PROTO;
	s->key[2] = RS_F_TH_DPORT;
	s->key_len = 3;
}

/* A host name may be 253 characters, nft comments only 127. */
static char *clip_comment(const char *s)
{
	if (strlen(s) < RS_COMMENT_MAX)
		return xstrdup(s);
	return xasprintf("%.*s...", RS_COMMENT_MAX - 4, s);
}

static void add_addr_elem(struct rs_set *s, const struct addr *first,
			  const struct addr *last, unsigned int plen, uint8_t l4proto,
			  const struct port_range *pr, uint64_t timeout_ms,
			  const char *comment)
{
	struct rs_elem *e = rs_set_add(s);

	e->addr = *first;
	e->addr_end = *last;
	e->prefix_len = plen;
	e->l4proto = l4proto;
	e->port_lo = pr->lo;
	e->port_hi = pr->hi;
	e->timeout_ms = timeout_ms;
	e->comment = comment;
}

static void compile_resolvers(struct ruleset *rs, const struct policy *p)
{
	static const struct port_range dns = { 53, 53 };

	for (size_t i = 0; i < p->n_resolvers; i++) {
		const struct addr *a = &p->resolvers[i];
		struct rs_set *s = &rs->sets[a->family == AF_INET ? SET_DNS4 : SET_DNS6];

		add_addr_elem(s, a, a, addr_len(a) * 8, IPPROTO_UDP, &dns, 0, NULL);
		add_addr_elem(s, a, a, addr_len(a) * 8, IPPROTO_TCP, &dns, 0, NULL);
	}
}

/* Every (protocol, port range) pair of an entry, for one address range. */
static void compile_ports(struct ruleset *rs, const struct allow_entry *en,
			  const struct addr *first, const struct addr *last,
			  unsigned int plen, uint64_t timeout_ms, const char *comment)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	bool v4 = first->family == AF_INET;

	for (size_t pi = 0; pi < ARRAY_SIZE(protos); pi++) {
		if (!(en->proto & (1u << pi)))
			continue;
		for (size_t i = 0; i < en->n_ports; i++) {
			const struct port_range *pr = &en->ports[i];
			bool exact = en->host && pr->lo == pr->hi;
			int idx = exact ? (v4 ? SET_ALLOW4 : SET_ALLOW6)
					: (v4 ? SET_ALLOW4_NET : SET_ALLOW6_NET);

			add_addr_elem(&rs->sets[idx], first, last, plen, protos[pi],
				      pr, timeout_ms, comment);
		}
	}
}

static void compile_entry(struct ruleset *rs, const struct policy *p,
			  const struct allow_entry *en, const struct resolution *res)
{
	const struct host_result *hr;
	char buf[PREFIX_STRLEN];
	const char *comment;
	struct addr last;

	if (!en->host) {
		prefix_last(&en->cidr, &last);
		prefix_fmt(&en->cidr, buf);
		compile_ports(rs, en, &en->cidr.addr, &last, en->cidr.len, 0,
			      ruleset_keep(rs, xstrdup(buf)));
		return;
	}
	hr = res ? resolution_find(res, en->host) : NULL;
	if (!hr || !hr->n_addrs)
		return;
	comment = ruleset_keep(rs, clip_comment(en->host));
	for (size_t i = 0; i < hr->n_addrs; i++) {
		const struct resolved_addr *ra = &hr->addrs[i];
		uint64_t t = ra->life_ms ? ra->life_ms
					 : ((uint64_t)ra->ttl + p->defaults.grace) * 1000;

		compile_ports(rs, en, &ra->addr, &ra->addr, addr_len(&ra->addr) * 8,
			      t, comment);
	}
}

static bool ranges_overlap(const struct rs_elem *a, const struct rs_elem *b)
{
	return a->l4proto == b->l4proto &&
	       addr_cmp(&a->addr, &b->addr_end) <= 0 &&
	       addr_cmp(&b->addr, &a->addr_end) <= 0 &&
	       a->port_lo <= b->port_hi && b->port_lo <= a->port_hi;
}

static bool covers(const struct rs_elem *a, const struct rs_elem *b)
{
	return addr_cmp(&a->addr, &b->addr) <= 0 &&
	       addr_cmp(&a->addr_end, &b->addr_end) >= 0 &&
	       a->port_lo <= b->port_lo && a->port_hi >= b->port_hi;
}


/* The kernel refuses overlapping intervals in one set.  An element wholly
 * covered by an earlier one adds nothing and is dropped quietly; a partial
 * overlap cannot be expressed, so the later element is dropped with a
 * warning (fail closed: less is allowed, never more). */
static void drop_overlaps(struct rs_set *s)
{
	size_t kept = 0;

	for (size_t j = 0; j < s->n_elems; j++) {
		struct rs_elem *e = &s->elems[j];
		bool drop = false;

		for (size_t i = 0; i < kept && !drop; i++) {
			const struct rs_elem *k = &s->elems[i];
			char a[128], b[128];

			if (!ranges_overlap(k, e))
				continue;
			drop = true;
			if (covers(k, e))
				continue;
			log_warnx("compile: set %s: %s (%s) overlaps %s (%s); dropping the former",
				  s->name, render_elem_key(s, e, a, sizeof(a)), e->comment,
				  render_elem_key(s, k, b, sizeof(b)), k->comment);
		}
		if (!drop)
			s->elems[kept++] = *e;
	}
	s->n_elems = kept;
}

/* Names joined by ", " up to what nft accepts in a comment; past it the
 * list ends with "..." so a reader knows it is cut. */
static void join_comment(struct ruleset *rs, struct rs_elem *k, const char *more)
{
	size_t len = strlen(k->comment);
	char *c;

	if (len >= 3 && !strcmp(k->comment + len - 3, "..."))
		return;
	if (len + 2 + strlen(more) < RS_COMMENT_MAX)
		c = xasprintf("%s, %s", k->comment, more);
	else if (len + 5 < RS_COMMENT_MAX)
		c = xasprintf("%s, ...", k->comment);
	else
		return;
	k->comment = ruleset_keep(rs, c);
}

/* The same key from two entries (two names for one CDN address) becomes
 * one element that lives as long as the longer timeout and names both. */
static void merge_duplicates(struct ruleset *rs, struct rs_set *s)
{
	size_t kept = 0;

	for (size_t j = 0; j < s->n_elems; j++) {
		struct rs_elem *e = &s->elems[j];
		struct rs_elem *k = kept ? &s->elems[kept - 1] : NULL;

		if (!k || rs_elem_cmp(k, e)) {
			s->elems[kept++] = *e;
			continue;
		}
		if (e->timeout_ms > k->timeout_ms || !e->timeout_ms)
			k->timeout_ms = e->timeout_ms;
		if (k->comment && e->comment && strcmp(k->comment, e->comment))
			join_comment(rs, k, e->comment);
	}
	s->n_elems = kept;
}

static void compile_sets(struct ruleset *rs, const struct policy *p,
			 const struct resolution *res)
{
	rs->n_sets = N_SETS;
	rs->sets = xcalloc(N_SETS, sizeof(*rs->sets));
	for (size_t i = 0; i < N_SETS; i++)
		set_init(&rs->sets[i], &set_defs[i]);

	compile_resolvers(rs, p);
	for (size_t i = 0; i < ARRAY_SIZE(nd6_types); i++)
		rs_set_add(&rs->sets[SET_ND6])->icmp_type = nd6_types[i];
	for (size_t i = 0; i < p->n_allow; i++)
		compile_entry(rs, p, &p->allow[i], res);

	for (size_t i = 0; i < N_SETS; i++) {
		struct rs_set *s = &rs->sets[i];

		rs_set_sort(s);
		merge_duplicates(rs, s);
		if (s->flags & RS_SET_INTERVAL)
			drop_overlaps(s);
		/* Give back what doubling grew beyond need: at 100,000
		 * elements that is megabytes while the batch is built. */
		if (s->n_elems && s->n_elems < s->cap_elems) {
			s->elems = xreallocarray(s->elems, s->n_elems, sizeof(*s->elems));
			s->cap_elems = s->n_elems;
		}
	}
}

static struct rs_rule *chain_add_rule(struct rs_chain *c, const char *comment)
{
	struct rs_rule *r;

	grow(&c->rules, &c->cap_rules, c->n_rules, sizeof(*c->rules));
	r = &c->rules[c->n_rules++];
	memset(r, 0, sizeof(*r));
	r->comment = comment;
	return r;
}

static struct rs_stmt *rule_add(struct rs_rule *r, enum rs_stmt_kind kind)
{
	struct rs_stmt *st;

	if (r->n_stmts == RS_STMT_MAX)
		fatalx("compile: rule has more than %d statements", RS_STMT_MAX);
	st = &r->stmts[r->n_stmts++];
	memset(st, 0, sizeof(*st));
	st->kind = kind;
	return st;
}

static void add_lookup_rule(struct rs_chain *c, const struct rs_set *s,
			    const char *comment)
{
	struct rs_rule *r = chain_add_rule(c, comment);

	rule_add(r, RS_MATCH_LOOKUP)->set = s;
	rule_add(r, RS_ACCEPT);
}

static void add_udp_rule(struct rs_chain *c, uint16_t sport, uint16_t dport,
			 const char *comment)
{
	struct rs_rule *r = chain_add_rule(c, comment);

	rule_add(r, RS_MATCH_L4PROTO)->l4proto = IPPROTO_UDP;
	if (sport)
		rule_add(r, RS_MATCH_SPORT)->port = sport;
	rule_add(r, RS_MATCH_DPORT)->port = dport;
	rule_add(r, RS_ACCEPT);
}

static void compile_blocked_chain(struct rs_chain *c, const struct policy *p)
{
	struct rs_rule *r;

	c->name = "blocked";
	c->hook = RS_HOOK_NONE;

	r = chain_add_rule(c, NULL);
	rule_add(r, RS_COUNTER);
	if (p->defaults.log) {
		struct rs_stmt *st = rule_add(r, RS_LOG);

		st->str = "egressd blocked: ";
		st->group = p->defaults.log_group;
	}
	if (p->defaults.blocked == BLOCK_DROP) {
		rule_add(r, RS_DROP);
		return;
	}
	r = chain_add_rule(c, NULL);
	rule_add(r, RS_REJECT_TCP_RESET);
	r = chain_add_rule(c, NULL);
	rule_add(r, RS_REJECT_ADMIN);
}

static void compile_guard_chain(struct rs_chain *c, const struct ruleset *rs,
				const struct policy *p, enum rs_hook hook)
{
	struct rs_rule *r;

	c->name = hook == RS_HOOK_OUTPUT ? "output" : "forward";
	c->hook = hook;
	c->priority = 0;
	c->policy_drop = true;

	if (hook == RS_HOOK_OUTPUT) {
		r = chain_add_rule(c, "loopback");
		rule_add(r, RS_MATCH_OIFNAME)->str = "lo";
		rule_add(r, RS_ACCEPT);
	}
	r = chain_add_rule(c, "replies and related traffic of allowed connections");
	rule_add(r, RS_MATCH_CT_STATE)->mask = RS_CT_ESTABLISHED | RS_CT_RELATED;
	rule_add(r, RS_ACCEPT);
	add_lookup_rule(c, &rs->sets[SET_ND6], "IPv6 neighbour discovery");

	r = chain_add_rule(c, "IPv4-mapped IPv6 is never allowed");
	{
		struct rs_stmt *st = rule_add(r, RS_MATCH_NFPROTO_DADDR);

		st->prefix.addr.family = AF_INET6;
		st->prefix.addr.bytes[10] = 0xff;
		st->prefix.addr.bytes[11] = 0xff;
		st->prefix.len = 96;
	}
	rule_add(r, RS_GOTO)->str = "blocked";

	add_lookup_rule(c, &rs->sets[SET_DNS4], "DNS to the policy's resolvers");
	add_lookup_rule(c, &rs->sets[SET_DNS6], "DNS to the policy's resolvers");
	add_lookup_rule(c, &rs->sets[SET_ALLOW4], "allowed hosts");
	add_lookup_rule(c, &rs->sets[SET_ALLOW6], "allowed hosts");
	add_lookup_rule(c, &rs->sets[SET_ALLOW4_NET], "allowed networks and port ranges");
	add_lookup_rule(c, &rs->sets[SET_ALLOW6_NET], "allowed networks and port ranges");
	if (p->allow_dhcp) {
		add_udp_rule(c, 68, 67, "DHCP client");
		add_udp_rule(c, 546, 547, "DHCPv6 client");
	}
	if (p->allow_ntp)
		add_udp_rule(c, 0, 123, "NTP client");

	r = chain_add_rule(c, "everything else");
	rule_add(r, RS_GOTO)->str = "blocked";
}

struct ruleset *ruleset_compile(const struct policy *p, const struct resolution *res)
{
	struct ruleset *rs = xcalloc(1, sizeof(*rs));

	rs->table = EGRESSD_TABLE;
	memcpy(rs->policy_hash, p->sha256_hex, sizeof(rs->policy_hash));
	rs->comment = xasprintf("egressd %s policy sha256:%s", EGRESSD_VERSION,
				p->sha256_hex);
	compile_sets(rs, p, res);

	rs->n_chains = p->forward ? 3 : 2;
	rs->chains = xcalloc(rs->n_chains, sizeof(*rs->chains));
	compile_blocked_chain(&rs->chains[0], p);
	compile_guard_chain(&rs->chains[1], rs, p, RS_HOOK_OUTPUT);
	if (p->forward)
		compile_guard_chain(&rs->chains[2], rs, p, RS_HOOK_FORWARD);
	return rs;
}

const char *ruleset_keep(struct ruleset *rs, char *s)
{
	grow(&rs->strings, &rs->cap_strings, rs->n_strings, sizeof(*rs->strings));
	rs->strings[rs->n_strings++] = s;
	return s;
}

void ruleset_stamp(struct ruleset *rs, time_t applied)
{
	char when[32];
	struct tm tm;

	gmtime_r(&applied, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	free(rs->comment);
	rs->comment = xasprintf("egressd %s policy sha256:%s applied %s", EGRESSD_VERSION,
				rs->policy_hash, when);
}

void ruleset_free(struct ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n_sets; i++) {
		struct rs_set *s = &rs->sets[i];

		free(s->elems);
		free(s->name);
		free(s->comment);
	}
	for (size_t i = 0; i < rs->n_chains; i++)
		free(rs->chains[i].rules);
	for (size_t i = 0; i < rs->n_notes; i++)
		free(rs->notes[i]);
	free(rs->notes);
	for (size_t i = 0; i < rs->n_strings; i++)
		free(rs->strings[i]);
	free(rs->strings);
	free(rs->sets);
	free(rs->chains);
	free(rs->comment);
	free(rs);
}
