/* The nft-syntax back end: prints the ruleset model the way `nft list`
 * would, so plan output reads like the live table and loads with
 * `nft -f`.  Output is deterministic: sets and elements are sorted. */
#include "egressd.h"
#include "ruleset.h"

#include <netinet/in.h>
#include <sys/socket.h>

static const char *const field_type[] = {
	[RS_F_IP_DADDR] = "ipv4_addr",
	[RS_F_IP6_DADDR] = "ipv6_addr",
	[RS_F_L4PROTO] = "inet_proto",
	[RS_F_TH_DPORT] = "inet_service",
	[RS_F_ICMPV6_TYPE] = "icmpv6_type",
};

static const char *const field_expr[] = {
	[RS_F_IP_DADDR] = "ip daddr",
	[RS_F_IP6_DADDR] = "ip6 daddr",
	[RS_F_L4PROTO] = "meta l4proto",
	[RS_F_TH_DPORT] = "th dport",
	[RS_F_ICMPV6_TYPE] = "icmpv6 type",
};

static const char *icmpv6_type_name(uint8_t t)
{
	switch (t) {
	case 133: return "nd-router-solicit";
	case 134: return "nd-router-advert";
	case 135: return "nd-neighbor-solicit";
	case 136: return "nd-neighbor-advert";
	}
	return NULL;
}

static const char *l4proto_name(uint8_t p)
{
	switch (p) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMPV6: return "ipv6-icmp";
	}
	return NULL;
}

const char *render_duration(uint64_t ms, char *buf, size_t len)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 },
		{ "s", 1000 }, { "ms", 1 },
	};
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(units) && off < len; i++) {
		uint64_t n = ms / units[i].ms;

		if (!n)
			continue;
		ms -= n * units[i].ms;
		off += snprintf(buf + off, len - off, "%llu%s",
				(unsigned long long)n, units[i].unit);
	}
	if (!buf[0])
		snprintf(buf, len, "0s");
	return buf;
}

static size_t fmt_addr_field(const struct rs_elem *e, char *buf, size_t len)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN];
	unsigned int full = addr_len(&e->addr) * 8;

	addr_fmt(&e->addr, a);
	if (!addr_cmp(&e->addr, &e->addr_end))
		return snprintf(buf, len, "%s", a);
	if (e->prefix_len < full)
		return snprintf(buf, len, "%s/%u", a, e->prefix_len);
	return snprintf(buf, len, "%s-%s", a, addr_fmt(&e->addr_end, b));
}

static size_t fmt_field(enum rs_field f, const struct rs_elem *e, char *buf, size_t len)
{
	const char *name;

	switch (f) {
	case RS_F_IP_DADDR:
	case RS_F_IP6_DADDR:
		return fmt_addr_field(e, buf, len);
	case RS_F_L4PROTO:
		name = l4proto_name(e->l4proto);
		if (name)
			return snprintf(buf, len, "%s", name);
		return snprintf(buf, len, "%u", e->l4proto);
	case RS_F_TH_DPORT:
		if (e->port_lo == e->port_hi)
			return snprintf(buf, len, "%u", e->port_lo);
		return snprintf(buf, len, "%u-%u", e->port_lo, e->port_hi);
	case RS_F_ICMPV6_TYPE:
		name = icmpv6_type_name(e->icmp_type);
		if (name)
			return snprintf(buf, len, "%s", name);
		return snprintf(buf, len, "%u", e->icmp_type);
	}
	return snprintf(buf, len, "?");
}

const char *render_elem_key(const struct rs_set *s, const struct rs_elem *e,
			    char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->key_len && off < len; i++) {
		if (i)
			off += snprintf(buf + off, len - off, " . ");
		if (off < len)
			off += fmt_field(s->key[i], e, buf + off, len - off);
	}
	return buf;
}

/* Comments come from host names and prefixes, which cannot hold quotes,
 * but a stray one would break the file for nft, so it is replaced. */
static void put_quoted(const char *s, FILE *out)
{
	fputc('"', out);
	for (; *s; s++)
		fputc(*s == '"' || *s == '\\' ? '\'' : *s, out);
	fputc('"', out);
}

static void render_elem(const struct rs_set *s, const struct rs_elem *e, FILE *out)
{
	char key[160], dur[32];

	fputs(render_elem_key(s, e, key, sizeof(key)), out);
	if (e->timeout_ms)
		fprintf(out, " timeout %s", render_duration(e->timeout_ms, dur, sizeof(dur)));
	if (e->comment) {
		fputs(" comment ", out);
		put_quoted(e->comment, out);
	}
}

static void render_set_flags(const struct rs_set *s, FILE *out)
{
	const char *sep = "";

	if (!(s->flags & (RS_SET_CONSTANT | RS_SET_INTERVAL | RS_SET_TIMEOUT)))
		return;
	fputs("\t\tflags ", out);
	if (s->flags & RS_SET_CONSTANT) {
		fputs("constant", out);
		sep = ",";
	}
	if (s->flags & RS_SET_INTERVAL) {
		fprintf(out, "%sinterval", sep);
		sep = ",";
	}
	if (s->flags & RS_SET_TIMEOUT)
		fprintf(out, "%stimeout", sep);
	fputc('\n', out);
}

static void render_set(const struct rs_set *s, FILE *out)
{
	fprintf(out, "\tset %s {\n\t\ttype ", s->name);
	for (size_t i = 0; i < s->key_len; i++)
		fprintf(out, "%s%s", i ? " . " : "", field_type[s->key[i]]);
	fputc('\n', out);
	if (s->size)
		fprintf(out, "\t\tsize %u\n", s->size);
	render_set_flags(s, out);
	if (s->flags & RS_SET_COUNTER)
		fputs("\t\tcounter\n", out);
	if (s->comment) {
		fputs("\t\tcomment ", out);
		put_quoted(s->comment, out);
		fputc('\n', out);
	}
	if (s->n_elems) {
		fputs("\t\telements = { ", out);
		for (size_t i = 0; i < s->n_elems; i++) {
			if (i)
				fputs(",\n\t\t\t     ", out);
			render_elem(s, &s->elems[i], out);
		}
		fputs(" }\n", out);
	}
	fputs("\t}\n", out);
}

static void render_lookup(const struct rs_set *s, FILE *out)
{
	for (size_t i = 0; i < s->key_len; i++)
		fprintf(out, "%s%s", i ? " . " : "", field_expr[s->key[i]]);
	fprintf(out, " @%s", s->name);
}

static void render_ct_state(uint32_t mask, FILE *out)
{
	static const char *const names[] = { "invalid", "established", "related", "new" };
	const char *sep = "ct state ";

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!(mask & (1u << i)))
			continue;
		fprintf(out, "%s%s", sep, names[i]);
		sep = ",";
	}
}

/* A port match is written after its protocol ("udp dport 123"), so the
 * protocol match alone prints nothing when a port follows it. */
static bool stmt_silent(const struct rs_rule *r, size_t i)
{
	return r->stmts[i].kind == RS_MATCH_L4PROTO && i + 1 < r->n_stmts &&
	       (r->stmts[i + 1].kind == RS_MATCH_SPORT ||
		r->stmts[i + 1].kind == RS_MATCH_DPORT);
}

static void render_stmt(const struct rs_rule *r, size_t i, FILE *out)
{
	const struct rs_stmt *st = &r->stmts[i];
	const char *proto = "th";
	char buf[PREFIX_STRLEN];

	if (i > 0 && r->stmts[0].kind == RS_MATCH_L4PROTO)
		proto = l4proto_name(r->stmts[0].l4proto);
	switch (st->kind) {
	case RS_MATCH_OIFNAME:
		fputs("oifname ", out);
		put_quoted(st->str, out);
		break;
	case RS_MATCH_CT_STATE:
		render_ct_state(st->mask, out);
		break;
	case RS_MATCH_NFPROTO_DADDR:
		fprintf(out, "%s daddr %s", st->prefix.addr.family == AF_INET ? "ip" : "ip6",
			prefix_fmt(&st->prefix, buf));
		break;
	case RS_MATCH_L4PROTO:
		fprintf(out, "meta l4proto %s", l4proto_name(st->l4proto));
		break;
	case RS_MATCH_SPORT:
	case RS_MATCH_DPORT:
		fprintf(out, "%s %s %u", proto, st->kind == RS_MATCH_SPORT ? "sport" : "dport",
			st->port);
		break;
	case RS_MATCH_LOOKUP:
		render_lookup(st->set, out);
		break;
	case RS_COUNTER:
		fputs("counter", out);
		break;
	case RS_LOG:
		fputs("log prefix ", out);
		put_quoted(st->str, out);
		fprintf(out, " group %u", st->group);
		break;
	case RS_REJECT_TCP_RESET:
		fputs("meta l4proto tcp reject with tcp reset", out);
		break;
	case RS_REJECT_ADMIN:
		fputs("reject with icmpx admin-prohibited", out);
		break;
	case RS_ACCEPT:
		fputs("accept", out);
		break;
	case RS_DROP:
		fputs("drop", out);
		break;
	case RS_GOTO:
		fprintf(out, "goto %s", st->str);
		break;
	}
}

void render_rule(const struct rs_rule *r, FILE *out)
{
	const char *sep = "";

	for (size_t i = 0; i < r->n_stmts; i++) {
		if (stmt_silent(r, i))
			continue;
		fputs(sep, out);
		render_stmt(r, i, out);
		sep = " ";
	}
	if (r->comment) {
		fprintf(out, "%scomment ", sep);
		put_quoted(r->comment, out);
	}
}

static const char *hook_name(enum rs_hook h)
{
	return h == RS_HOOK_OUTPUT ? "output" : "forward";
}

static void render_chain(const struct rs_chain *c, FILE *out)
{
	fprintf(out, "\tchain %s {\n", c->name);
	if (c->hook != RS_HOOK_NONE)
		fprintf(out, "\t\ttype filter hook %s priority filter; policy %s;\n",
			hook_name(c->hook), c->policy_drop ? "drop" : "accept");
	for (size_t i = 0; i < c->n_rules; i++) {
		fputs("\t\t", out);
		render_rule(&c->rules[i], out);
		fputc('\n', out);
	}
	fputs("\t}\n", out);
}

void render_ruleset(const struct ruleset *rs, FILE *out)
{
	for (size_t i = 0; i < rs->n_notes; i++)
		fprintf(out, "# %s\n", rs->notes[i]);
	fprintf(out, "table inet %s {\n\tcomment ", rs->table);
	put_quoted(rs->comment, out);
	fputc('\n', out);
	for (size_t i = 0; i < rs->n_sets; i++) {
		fputc('\n', out);
		render_set(&rs->sets[i], out);
	}
	for (size_t i = 0; i < rs->n_chains; i++) {
		fputc('\n', out);
		render_chain(&rs->chains[i], out);
	}
	fputs("}\n", out);
}
