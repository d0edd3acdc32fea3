/* Reading a live rule back into the ruleset model, so a rule someone added
 * by hand is reported in nft words ("ip daddr 203.0.113.9 accept") rather
 * than as raw expressions.  Only the shapes nl_build.c emits are known;
 * anything else is left to the caller to print raw. */
#include "egressd.h"
#include "nl.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#define EXPRS_MAX 32
#define TH NFT_PAYLOAD_TRANSPORT_HEADER

struct cursor {
	struct nftnl_expr *e[EXPRS_MAX];
	size_t n, i;
	const struct ruleset *rs;
	struct rs_rule *out;
};

static int collect(struct nftnl_expr *e, void *data)
{
	struct cursor *c = data;

	if (c->n == EXPRS_MAX)
		return -1;
	c->e[c->n++] = e;
	return 0;
}

/* The next expression if it is called name, without consuming it. */
static struct nftnl_expr *peek(const struct cursor *c, size_t ahead,
			       const char *name)
{
	struct nftnl_expr *e;

	if (c->i + ahead >= c->n)
		return NULL;
	e = c->e[c->i + ahead];
	return strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), name) ? NULL : e;
}

static bool is_meta(const struct cursor *c, size_t ahead, uint32_t key)
{
	struct nftnl_expr *e = peek(c, ahead, "meta");

	return e && nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY) == key;
}

/* cmp op on reg 1 against len bytes; returns them or NULL. */
static const uint8_t *cmp_data(const struct cursor *c, size_t ahead,
			       uint32_t op, uint32_t len)
{
	struct nftnl_expr *e = peek(c, ahead, "cmp");
	const void *d;
	uint32_t n = 0;

	if (!e || nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP) != op)
		return NULL;
	d = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &n);
	return n == len ? d : NULL;
}

static bool is_payload(const struct cursor *c, size_t ahead, uint32_t base,
		       uint32_t off, uint32_t len)
{
	struct nftnl_expr *e = peek(c, ahead, "payload");

	return e && nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE) == base &&
	       nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET) == off &&
	       nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN) == len;
}

static struct rs_stmt *add(struct cursor *c, enum rs_stmt_kind kind)
{
	struct rs_stmt *st;

	if (c->out->n_stmts == RS_STMT_MAX)
		return NULL;
	st = &c->out->stmts[c->out->n_stmts++];
	memset(st, 0, sizeof(*st));
	st->kind = kind;
	return st;
}

static bool take_lookup(struct cursor *c)
{
	struct nftnl_expr *e;
	struct rs_stmt *st;
	const char *name;

	while (c->i < c->n && !peek(c, 0, "lookup")) {
		if (!peek(c, 0, "payload") && !peek(c, 0, "meta") &&
		    !peek(c, 0, "byteorder"))
			return false;
		c->i++;
	}
	e = peek(c, 0, "lookup");
	if (!e)
		return false;
	name = nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);
	st = add(c, RS_MATCH_LOOKUP);
	if (!st || !(st->set = ruleset_find_set(c->rs, name)))
		return false;
	c->i++;
	return true;
}

/* After "meta nfproto": a destination prefix, or a lookup whose first
 * field is an address. */
static bool take_daddr(struct cursor *c, int family)
{
	uint32_t off = family == AF_INET ? 16 : 24;
	uint32_t alen = family == AF_INET ? 4 : 16;
	struct nftnl_expr *p = peek(c, 0, "payload");
	const uint8_t *net, *mask = NULL;
	struct rs_stmt *st;
	uint32_t len = 0, n = 0;

	if (!p || nftnl_expr_get_u32(p, NFTNL_EXPR_PAYLOAD_OFFSET) != off)
		return take_lookup(c);
	len = nftnl_expr_get_u32(p, NFTNL_EXPR_PAYLOAD_LEN);
	if (peek(c, 1, "bitwise"))
		mask = nftnl_expr_get(c->e[c->i + 1],
				      NFTNL_EXPR_BITWISE_MASK, &n);
	net = cmp_data(c, mask ? 2 : 1, NFT_CMP_EQ, len);
	if (!net || len > alen || (mask && n != alen))
		return take_lookup(c);
	st = add(c, RS_MATCH_NFPROTO_DADDR);
	if (!st)
		return false;
	st->prefix.addr.family = family;
	memcpy(st->prefix.addr.bytes, net, len);
	st->prefix.len = len * 8;
	if (mask) {
		st->prefix.len = 0;
		for (uint32_t i = 0; i < alen * 8; i++)
			st->prefix.len += mask[i / 8] >> (7 - i % 8) & 1;
	}
	c->i += mask ? 3 : 2;
	return true;
}

static bool take_ports(struct cursor *c)
{
	const uint8_t *d;
	uint16_t be[2];

	if (is_payload(c, 0, TH, 0, 4) &&
	    (d = cmp_data(c, 1, NFT_CMP_EQ, 4))) {
		memcpy(be, d, 4);
		if (!add(c, RS_MATCH_SPORT) || !add(c, RS_MATCH_DPORT))
			return false;
		c->out->stmts[c->out->n_stmts - 2].port = ntohs(be[0]);
		c->out->stmts[c->out->n_stmts - 1].port = ntohs(be[1]);
		c->i += 2;
		return true;
	}
	while (c->i < c->n) {
		bool sport = is_payload(c, 0, TH, 0, 2);
		bool dport = is_payload(c, 0, TH, 2, 2);
		struct rs_stmt *st;

		if ((!sport && !dport) || !(d = cmp_data(c, 1, NFT_CMP_EQ, 2)))
			break;
		st = add(c, sport ? RS_MATCH_SPORT : RS_MATCH_DPORT);
		if (!st)
			return false;
		memcpy(be, d, 2);
		st->port = ntohs(be[0]);
		c->i += 2;
	}
	return true;
}

/* After "meta l4proto P": ports, the reset reject, a lookup, or nothing. */
static bool take_l4proto(struct cursor *c, uint8_t proto)
{
	struct nftnl_expr *rej = peek(c, 0, "reject");

	if (rej && proto == IPPROTO_TCP &&
	    nftnl_expr_get_u32(rej, NFTNL_EXPR_REJECT_TYPE) ==
	    NFT_REJECT_TCP_RST) {
		c->i++;
		return add(c, RS_REJECT_TCP_RESET) != NULL;
	}
	if (peek(c, 0, "payload") && proto == IPPROTO_ICMPV6)
		return take_lookup(c);
	if (!add(c, RS_MATCH_L4PROTO))
		return false;
	c->out->stmts[c->out->n_stmts - 1].l4proto = proto;
	return take_ports(c);
}

static bool is_ct_state(const struct cursor *c)
{
	struct nftnl_expr *e = peek(c, 0, "ct");

	return e && nftnl_expr_get_u32(e, NFTNL_EXPR_CT_KEY) == NFT_CT_STATE;
}

static bool take_match(struct cursor *c)
{
	const uint8_t *d;
	struct rs_stmt *st;
	uint32_t mask;

	if (is_meta(c, 0, NFT_META_OIFNAME) &&
	    (d = cmp_data(c, 1, NFT_CMP_EQ, 16))) {
		st = add(c, RS_MATCH_OIFNAME);
		if (!st || !memchr(d, '\0', 16))
			return false;
		st->str = (const char *)d;
		c->i += 2;
		return true;
	}
	if (is_meta(c, 0, NFT_META_NFPROTO) &&
	    (d = cmp_data(c, 1, NFT_CMP_EQ, 1))) {
		c->i += 2;
		if (d[0] != NFPROTO_IPV4 && d[0] != NFPROTO_IPV6)
			return false;
		if (d[0] == NFPROTO_IPV6 && is_meta(c, 0, NFT_META_L4PROTO))
			return true;	/* icmpv6: l4proto comes next */
		return take_daddr(c, d[0] == NFPROTO_IPV4 ? AF_INET : AF_INET6);
	}
	if (is_meta(c, 0, NFT_META_L4PROTO) &&
	    (d = cmp_data(c, 1, NFT_CMP_EQ, 1))) {
		c->i += 2;
		return take_l4proto(c, d[0]);
	}
	if (is_ct_state(c) && peek(c, 1, "bitwise") &&
	    cmp_data(c, 2, NFT_CMP_NEQ, 4)) {
		d = nftnl_expr_get(c->e[c->i + 1], NFTNL_EXPR_BITWISE_MASK,
				   &mask);
		if (!d || mask != 4 || !(st = add(c, RS_MATCH_CT_STATE)))
			return false;
		memcpy(&st->mask, d, 4);
		c->i += 3;
		return true;
	}
	return take_lookup(c);
}

static bool take_verdict(struct cursor *c, struct nftnl_expr *e)
{
	int v = nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT);
	struct rs_stmt *st;

	if (v == NF_ACCEPT)
		return add(c, RS_ACCEPT) != NULL;
	if (v == NF_DROP)
		return add(c, RS_DROP) != NULL;
	if (v != NFT_GOTO || !(st = add(c, RS_GOTO)))
		return false;
	st->str = nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN);
	return st->str != NULL;
}

/* Statements that are not matches; false if the next one is none. */
static bool take_action(struct cursor *c, bool *ok)
{
	struct nftnl_expr *e;
	struct rs_stmt *st;

	*ok = true;
	if (peek(c, 0, "counter")) {
		*ok = add(c, RS_COUNTER) != NULL;
	} else if ((e = peek(c, 0, "log"))) {
		st = add(c, RS_LOG);
		*ok = st != NULL;
		if (st && nftnl_expr_is_set(e, NFTNL_EXPR_LOG_PREFIX))
			st->str = nftnl_expr_get_str(e, NFTNL_EXPR_LOG_PREFIX);
		if (st)
			st->group = nftnl_expr_get_u16(e, NFTNL_EXPR_LOG_GROUP);
	} else if ((e = peek(c, 0, "reject"))) {
		*ok = nftnl_expr_get_u32(e, NFTNL_EXPR_REJECT_TYPE) ==
		      NFT_REJECT_ICMPX_UNREACH && add(c, RS_REJECT_ADMIN);
	} else if ((e = peek(c, 0, "immediate"))) {
		*ok = take_verdict(c, e);
	} else {
		return false;
	}
	c->i++;
	return true;
}

bool nl_rule_decode(struct nftnl_rule *r, const struct ruleset *rs,
		    struct rs_rule *out)
{
	struct cursor c = { .rs = rs, .out = out };
	bool ok = true;

	memset(out, 0, sizeof(*out));
	if (nftnl_expr_foreach(r, collect, &c) < 0)
		return false;
	while (ok && c.i < c.n) {
		if (!take_action(&c, &ok))
			ok = take_match(&c);
	}
	return ok;
}
