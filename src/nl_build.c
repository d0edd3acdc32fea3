/* The ruleset model as libnftnl objects: table, sets, elements, chains and
 * rules, built with the expressions nft 1.0.6 generates for the same nft
 * text, so `nft list` prints an applied table as it prints a loaded one. */
#include "egressd.h"
#include "nl.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>
#include <net/if.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

/* nft's datatype ids (datatype.h); a concatenation's key type is their
 * ids packed 6 bits apiece, first field highest.  nft reads them back to
 * print "type ipv4_addr . inet_proto . inet_service". */
enum {
	DT_IPADDR = 7,
	DT_IP6ADDR = 8,
	DT_INET_PROTOCOL = 12,
	DT_INET_SERVICE = 13,
	DT_ICMP6_TYPE = 29,
	DT_BITS = 6,
};

/* nft's enum byteorder, kept in set userdata for printing elements. */
enum { BYTEORDER_INVALID = 0, BYTEORDER_BIG_ENDIAN = 2 };

#define USERDATA_MAX 256		/* NFT_USERDATA_MAXLEN */

struct field_info {
	uint32_t dtype;
	uint32_t len;			/* bytes before padding */
};

static const struct field_info fields[] = {
	[RS_F_IP_DADDR] = { DT_IPADDR, 4 },
	[RS_F_IP6_DADDR] = { DT_IP6ADDR, 16 },
	[RS_F_L4PROTO] = { DT_INET_PROTOCOL, 1 },
	[RS_F_TH_DPORT] = { DT_INET_SERVICE, 2 },
	[RS_F_ICMPV6_TYPE] = { DT_ICMP6_TYPE, 1 },
};

static uint32_t pad4(uint32_t n)
{
	return (n + 3) & ~3u;
}

static uint32_t field_len(const struct rs_set *s, size_t i)
{
	uint32_t len = fields[s->key[i]].len;

	return s->key_len > 1 ? pad4(len) : len;
}

size_t nl_key_len(const struct rs_set *s)
{
	size_t len = 0;

	for (size_t i = 0; i < s->key_len; i++)
		len += field_len(s, i);
	return len;
}

static size_t put_field(const struct rs_set *s, size_t i,
			const struct rs_elem *e, bool end, uint8_t *p)
{
	uint16_t port = htons(end ? e->port_hi : e->port_lo);
	const struct addr *a = end ? &e->addr_end : &e->addr;

	switch (s->key[i]) {
	case RS_F_IP_DADDR:
	case RS_F_IP6_DADDR:
		memcpy(p, a->bytes, fields[s->key[i]].len);
		break;
	case RS_F_L4PROTO:
		p[0] = e->l4proto;
		break;
	case RS_F_TH_DPORT:
		memcpy(p, &port, 2);
		break;
	case RS_F_ICMPV6_TYPE:
		p[0] = e->icmp_type;
		break;
	}
	return field_len(s, i);
}

size_t nl_elem_key(const struct rs_set *s, const struct rs_elem *e,
		   uint8_t key[NL_KEY_MAX], uint8_t key_end[NL_KEY_MAX])
{
	size_t off = 0;

	memset(key, 0, NL_KEY_MAX);
	memset(key_end, 0, NL_KEY_MAX);
	for (size_t i = 0; i < s->key_len; i++) {
		put_field(s, i, e, true, key_end + off);
		off += put_field(s, i, e, false, key + off);
	}
	return off;
}

/* The prefix length of first..last, or the full length when the range is
 * not a prefix; only for printing. */
static unsigned int range_prefix(const struct addr *first,
				 const struct addr *last)
{
	size_t n = addr_len(first);
	unsigned int bits = 0;

	while (bits < n * 8) {
		unsigned int byte = bits / 8, bit = 7 - bits % 8;
		int a = first->bytes[byte] >> bit & 1;
		int b = last->bytes[byte] >> bit & 1;

		if (a != b)
			break;
		bits++;
	}
	for (unsigned int i = bits; i < n * 8; i++) {
		unsigned int byte = i / 8, bit = 7 - i % 8;

		if ((first->bytes[byte] >> bit & 1) ||
		    !(last->bytes[byte] >> bit & 1))
			return n * 8;
	}
	return bits;
}

static void get_field(const struct rs_set *s, size_t i, const uint8_t *p,
		      bool end, struct rs_elem *e)
{
	struct addr *a = end ? &e->addr_end : &e->addr;
	uint16_t port;

	switch (s->key[i]) {
	case RS_F_IP_DADDR:
	case RS_F_IP6_DADDR:
		a->family = s->key[i] == RS_F_IP_DADDR ? AF_INET : AF_INET6;
		memcpy(a->bytes, p, fields[s->key[i]].len);
		break;
	case RS_F_L4PROTO:
		e->l4proto = p[0];
		break;
	case RS_F_TH_DPORT:
		memcpy(&port, p, 2);
		*(end ? &e->port_hi : &e->port_lo) = ntohs(port);
		break;
	case RS_F_ICMPV6_TYPE:
		e->icmp_type = p[0];
		break;
	}
}

bool nl_elem_decode(const struct rs_set *s, const uint8_t *key,
		    const uint8_t *key_end, size_t len, struct rs_elem *e)
{
	size_t off = 0;

	if (len != nl_key_len(s))
		return false;
	memset(e, 0, sizeof(*e));
	for (size_t i = 0; i < s->key_len; i++) {
		get_field(s, i, key + off, false, e);
		get_field(s, i, key_end ? key_end + off : key + off, true, e);
		off += field_len(s, i);
	}
	e->prefix_len = e->addr.family ? range_prefix(&e->addr, &e->addr_end)
				       : 0;
	return true;
}

/* Userdata holding one comment, in the TLV layout nft reads back.  nft
 * takes comments of at most 128 characters; a longer one (names merged
 * for one address) is cut there rather than refused. */
static void set_comment(void *obj, uint8_t type, const char *comment,
			int (*setter)(void *, uint16_t, const void *, uint32_t),
			uint16_t attr)
{
	char cut[NFTNL_UDATA_COMMENT_MAXLEN + 1];
	struct nftnl_udata_buf *ud;

	if (!comment)
		return;
	snprintf(cut, sizeof(cut), "%s", comment);
	ud = nftnl_udata_buf_alloc(USERDATA_MAX);
	if (!ud || !nftnl_udata_put_strz(ud, type, cut))
		fatalx("out of memory building userdata");
	setter(obj, attr, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
	nftnl_udata_buf_free(ud);
}

static int table_set_data(void *t, uint16_t attr, const void *d, uint32_t len)
{
	return nftnl_table_set_data(t, attr, d, len);
}

static int elem_set_data(void *e, uint16_t attr, const void *d, uint32_t len)
{
	return nftnl_set_elem_set(e, attr, d, len);
}

static int rule_set_data(void *r, uint16_t attr, const void *d, uint32_t len)
{
	return nftnl_rule_set_data(r, attr, d, len);
}

struct nftnl_table *nl_build_table(const struct ruleset *rs)
{
	struct nftnl_table *t = nftnl_table_alloc();

	if (!t)
		fatalx("out of memory building table");
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, rs->table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, 0);
	set_comment(t, NFTNL_UDATA_TABLE_COMMENT, rs->comment, table_set_data,
		    NFTNL_TABLE_USERDATA);
	return t;
}

static uint32_t key_type(const struct rs_set *s)
{
	uint32_t type = 0;

	for (size_t i = 0; i < s->key_len; i++)
		type = type << DT_BITS | fields[s->key[i]].dtype;
	return type;
}

static bool set_is_concat(const struct rs_set *s)
{
	return s->key_len > 1;
}

static uint32_t set_flags(const struct rs_set *s)
{
	uint32_t f = 0;

	/* RS_SET_CONSTANT stays a promise of the compiler's: nft gives named
	 * sets no kernel flag for it, and neither do we. */
	if (s->flags & RS_SET_INTERVAL)
		f |= NFT_SET_INTERVAL;
	if (s->flags & RS_SET_TIMEOUT)
		f |= NFT_SET_TIMEOUT;
	/* The pipapo back end, the only one matching ranges of
	 * concatenations, is picked by this flag. */
	if ((s->flags & RS_SET_INTERVAL) && set_is_concat(s))
		f |= NFT_SET_CONCAT;
	return f;
}

static void set_userdata(struct nftnl_set *ns, const struct rs_set *s)
{
	uint32_t order = set_is_concat(s) ? BYTEORDER_INVALID
					  : BYTEORDER_BIG_ENDIAN;
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(USERDATA_MAX);

	if (!ud ||
	    !nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, order))
		fatalx("out of memory building set userdata");
	if (s->comment &&
	    !nftnl_udata_put_strz(ud, NFTNL_UDATA_SET_COMMENT, s->comment))
		fatalx("out of memory building set userdata");
	nftnl_set_set_data(ns, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud),
			   nftnl_udata_buf_len(ud));
	nftnl_udata_buf_free(ud);
}

/* The length of each field before padding; libnftnl takes them as bytes
 * and counts them up to the first zero. */
static void set_concat_desc(struct nftnl_set *ns, const struct rs_set *s)
{
	uint8_t len[RS_KEY_MAX + 1] = { 0 };

	for (size_t i = 0; i < s->key_len; i++)
		len[i] = fields[s->key[i]].len;
	nftnl_set_set_data(ns, NFTNL_SET_DESC_CONCAT, len, s->key_len);
}

struct nftnl_set *nl_build_set(const struct ruleset *rs, const struct rs_set *s,
			       uint32_t set_id)
{
	struct nftnl_set *ns = nftnl_set_alloc();

	if (!ns)
		fatalx("out of memory building set %s", s->name);
	nftnl_set_set_u32(ns, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_str(ns, NFTNL_SET_TABLE, rs->table);
	nftnl_set_set_str(ns, NFTNL_SET_NAME, s->name);
	nftnl_set_set_u32(ns, NFTNL_SET_ID, set_id);
	nftnl_set_set_u32(ns, NFTNL_SET_FLAGS, set_flags(s));
	nftnl_set_set_u32(ns, NFTNL_SET_KEY_TYPE, key_type(s));
	nftnl_set_set_u32(ns, NFTNL_SET_KEY_LEN, nl_key_len(s));
	if (s->size)
		nftnl_set_set_u32(ns, NFTNL_SET_DESC_SIZE, s->size);
	if (set_flags(s) & NFT_SET_CONCAT)
		set_concat_desc(ns, s);
	if (s->flags & RS_SET_COUNTER) {
		struct nftnl_expr *ctr = nftnl_expr_alloc("counter");

		if (!ctr)
			fatalx("out of memory building set %s", s->name);
		nftnl_set_add_expr(ns, ctr);
	}
	set_userdata(ns, s);
	return ns;
}

struct nftnl_set_elem *nl_build_elem_key(const struct rs_set *s,
					 const struct rs_elem *e)
{
	struct nftnl_set_elem *ne = nftnl_set_elem_alloc();
	uint8_t key[NL_KEY_MAX], key_end[NL_KEY_MAX];
	size_t len = nl_elem_key(s, e, key, key_end);

	if (!ne)
		fatalx("out of memory building an element of set %s", s->name);
	nftnl_set_elem_set(ne, NFTNL_SET_ELEM_KEY, key, len);
	if (s->flags & RS_SET_INTERVAL)
		nftnl_set_elem_set(ne, NFTNL_SET_ELEM_KEY_END, key_end, len);
	return ne;
}

struct nftnl_set_elem *nl_build_elem(const struct rs_set *s,
				     const struct rs_elem *e)
{
	struct nftnl_set_elem *ne = nl_build_elem_key(s, e);

	/* The expiration goes with the timeout: a kernel that updates an
	 * element on re-add restarts its clock only when the add says
	 * when it expires. */
	if ((s->flags & RS_SET_TIMEOUT) && e->timeout_ms) {
		nftnl_set_elem_set_u64(ne, NFTNL_SET_ELEM_TIMEOUT,
				       e->timeout_ms);
		nftnl_set_elem_set_u64(ne, NFTNL_SET_ELEM_EXPIRATION,
				       e->timeout_ms);
	}
	set_comment(ne, NFTNL_UDATA_SET_ELEM_COMMENT, e->comment,
		    elem_set_data, NFTNL_SET_ELEM_USERDATA);
	return ne;
}

struct nftnl_chain *nl_build_chain(const struct ruleset *rs,
				   const struct rs_chain *c)
{
	struct nftnl_chain *nc = nftnl_chain_alloc();

	if (!nc)
		fatalx("out of memory building chain %s", c->name);
	nftnl_chain_set_u32(nc, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(nc, NFTNL_CHAIN_TABLE, rs->table);
	nftnl_chain_set_str(nc, NFTNL_CHAIN_NAME, c->name);
	if (c->hook == RS_HOOK_NONE)
		return nc;
	nftnl_chain_set_u32(nc, NFTNL_CHAIN_HOOKNUM,
			    c->hook == RS_HOOK_OUTPUT ? NF_INET_LOCAL_OUT
						      : NF_INET_FORWARD);
	nftnl_chain_set_s32(nc, NFTNL_CHAIN_PRIO, c->priority);
	nftnl_chain_set_u32(nc, NFTNL_CHAIN_POLICY,
			    c->policy_drop ? NF_DROP : NF_ACCEPT);
	nftnl_chain_set_str(nc, NFTNL_CHAIN_TYPE, "filter");
	return nc;
}

/* Rules: one small helper per expression, then one per model statement. */

static struct nftnl_expr *expr_new(struct nftnl_rule *r, const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);

	if (!e)
		fatalx("out of memory building a %s expression", name);
	nftnl_rule_add_expr(r, e);
	return e;
}

/* The register holding byte offset off of the key area.  The kernel dumps
 * a 16-byte aligned 32-bit register under its old 128-bit name, so using
 * the same names keeps built and dumped rules equal. */
static uint32_t reg_at(uint32_t off)
{
	uint32_t idx = off / NFT_REG32_SIZE;

	if (idx % 4 == 0)
		return NFT_REG_1 + idx / 4;
	return NFT_REG32_00 + idx;
}

static void put_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = expr_new(r, "meta");

	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
}

static void put_payload(struct nftnl_rule *r, uint32_t base, uint32_t off,
			uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = expr_new(r, "payload");

	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
}

static void put_cmp(struct nftnl_rule *r, uint32_t op, const void *data,
		    uint32_t len)
{
	struct nftnl_expr *e = expr_new(r, "cmp");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
}

static void put_cmp_u8(struct nftnl_rule *r, uint8_t v)
{
	put_cmp(r, NFT_CMP_EQ, &v, 1);
}

static void put_bitwise(struct nftnl_rule *r, const void *mask, uint32_t len)
{
	struct nftnl_expr *e = expr_new(r, "bitwise");
	uint8_t zero[16] = { 0 };

	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
}

static void put_verdict(struct nftnl_rule *r, int verdict, const char *chain)
{
	struct nftnl_expr *e = expr_new(r, "immediate");

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, verdict);
	if (chain)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
}

static void put_nfproto(struct nftnl_rule *r, uint8_t nfproto)
{
	put_meta(r, NFT_META_NFPROTO, NFT_REG_1);
	put_cmp_u8(r, nfproto);
}

static void put_l4proto(struct nftnl_rule *r, uint8_t proto)
{
	put_meta(r, NFT_META_L4PROTO, NFT_REG_1);
	put_cmp_u8(r, proto);
}

static void build_oifname(struct nftnl_rule *r, const char *name)
{
	char buf[IFNAMSIZ] = { 0 };

	strncpy(buf, name, sizeof(buf) - 1);
	put_meta(r, NFT_META_OIFNAME, NFT_REG_1);
	put_cmp(r, NFT_CMP_EQ, buf, sizeof(buf));
}

static void build_ct_state(struct nftnl_rule *r, uint32_t mask)
{
	struct nftnl_expr *e = expr_new(r, "ct");
	uint32_t zero = 0;

	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	put_bitwise(r, &mask, sizeof(mask));
	put_cmp(r, NFT_CMP_NEQ, &zero, sizeof(zero));
}

/* A byte-aligned prefix loads and compares only its own bytes; any other
 * loads the whole address and masks it, as nft does. */
static void build_daddr(struct nftnl_rule *r, const struct prefix *p)
{
	bool v4 = p->addr.family == AF_INET;
	uint32_t alen = v4 ? 4 : 16, off = v4 ? 16 : 24;
	uint8_t mask[16] = { 0 }, net[16];

	put_nfproto(r, v4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
	if (p->len && p->len % 8 == 0) {
		put_payload(r, NFT_PAYLOAD_NETWORK_HEADER, off, p->len / 8,
			    NFT_REG_1);
		put_cmp(r, NFT_CMP_EQ, p->addr.bytes, p->len / 8);
		return;
	}
	for (unsigned int i = 0; i < p->len; i++)
		mask[i / 8] |= 0x80 >> i % 8;
	for (uint32_t i = 0; i < alen; i++)
		net[i] = p->addr.bytes[i] & mask[i];
	put_payload(r, NFT_PAYLOAD_NETWORK_HEADER, off, alen, NFT_REG_1);
	put_bitwise(r, mask, alen);
	put_cmp(r, NFT_CMP_EQ, net, alen);
}

static void build_port(struct nftnl_rule *r, uint32_t off, uint16_t port)
{
	uint16_t be = htons(port);

	put_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, off, 2, NFT_REG_1);
	put_cmp(r, NFT_CMP_EQ, &be, 2);
}

/* "udp sport 68 udp dport 67": nft merges the two adjacent loads. */
static void build_ports(struct nftnl_rule *r, uint16_t sport, uint16_t dport)
{
	uint16_t be[2] = { htons(sport), htons(dport) };

	put_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 4, NFT_REG_1);
	put_cmp(r, NFT_CMP_EQ, be, sizeof(be));
}

/* The dependency nft inserts before the set's first field. */
static void lookup_deps(struct nftnl_rule *r, enum rs_field first)
{
	switch (first) {
	case RS_F_IP_DADDR:
		put_nfproto(r, NFPROTO_IPV4);
		break;
	case RS_F_IP6_DADDR:
		put_nfproto(r, NFPROTO_IPV6);
		break;
	case RS_F_ICMPV6_TYPE:
		put_nfproto(r, NFPROTO_IPV6);
		put_l4proto(r, IPPROTO_ICMPV6);
		break;
	case RS_F_L4PROTO:
	case RS_F_TH_DPORT:
		break;
	}
}

static void load_field(struct nftnl_rule *r, const struct rs_set *s,
		       size_t i, uint32_t reg)
{
	struct nftnl_expr *e;

	switch (s->key[i]) {
	case RS_F_IP_DADDR:
		put_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, reg);
		break;
	case RS_F_IP6_DADDR:
		put_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 24, 16, reg);
		break;
	case RS_F_L4PROTO:
		put_meta(r, NFT_META_L4PROTO, reg);
		if (!(s->flags & RS_SET_INTERVAL) || !set_is_concat(s))
			break;
		/* nft converts the one-byte protocol for ranged lookups;
		 * mirrored so both print the same. */
		e = expr_new(r, "byteorder");
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, reg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, reg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP,
				   NFT_BYTEORDER_HTON);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, 1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, 2);
		break;
	case RS_F_TH_DPORT:
		put_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg);
		break;
	case RS_F_ICMPV6_TYPE:
		put_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, reg);
		break;
	}
}

static void build_lookup(struct nftnl_rule *r, const struct ruleset *rs,
			 const struct rs_set *s)
{
	struct nftnl_expr *e;
	uint32_t off = 0;

	lookup_deps(r, s->key[0]);
	for (size_t i = 0; i < s->key_len; i++) {
		load_field(r, s, i, reg_at(off));
		off += pad4(field_len(s, i));
	}
	e = expr_new(r, "lookup");
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, s->name);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID,
			   (uint32_t)(s - rs->sets) + 1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, 0);
}

static void build_log(struct nftnl_rule *r, const struct rs_stmt *st)
{
	struct nftnl_expr *e = expr_new(r, "log");

	if (st->str)
		nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, st->str);
	nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, st->group);
}

static void build_reject(struct nftnl_rule *r, uint32_t type, uint8_t code)
{
	struct nftnl_expr *e = expr_new(r, "reject");

	nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
	nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
}

/* Returns how many statements it consumed (two for merged ports). */
static size_t build_stmt(struct nftnl_rule *r, const struct ruleset *rs,
			 const struct rs_stmt *st, const struct rs_stmt *next)
{
	switch (st->kind) {
	case RS_MATCH_OIFNAME:
		build_oifname(r, st->str);
		break;
	case RS_MATCH_CT_STATE:
		build_ct_state(r, st->mask);
		break;
	case RS_MATCH_NFPROTO_DADDR:
		build_daddr(r, &st->prefix);
		break;
	case RS_MATCH_L4PROTO:
		put_l4proto(r, st->l4proto);
		break;
	case RS_MATCH_SPORT:
		if (next && next->kind == RS_MATCH_DPORT) {
			build_ports(r, st->port, next->port);
			return 2;
		}
		build_port(r, 0, st->port);
		break;
	case RS_MATCH_DPORT:
		build_port(r, 2, st->port);
		break;
	case RS_MATCH_LOOKUP:
		build_lookup(r, rs, st->set);
		break;
	case RS_COUNTER:
		expr_new(r, "counter");
		break;
	case RS_LOG:
		build_log(r, st);
		break;
	case RS_REJECT_TCP_RESET:
		put_l4proto(r, IPPROTO_TCP);
		build_reject(r, NFT_REJECT_TCP_RST, 0);
		break;
	case RS_REJECT_ADMIN:
		build_reject(r, NFT_REJECT_ICMPX_UNREACH,
			     NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
		break;
	case RS_ACCEPT:
		put_verdict(r, NF_ACCEPT, NULL);
		break;
	case RS_DROP:
		put_verdict(r, NF_DROP, NULL);
		break;
	case RS_GOTO:
		put_verdict(r, NFT_GOTO, st->str);
		break;
	}
	return 1;
}

struct nftnl_rule *nl_build_rule(const struct ruleset *rs,
				 const struct rs_chain *c,
				 const struct rs_rule *rule)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	size_t i = 0;

	if (!r)
		fatalx("out of memory building a rule of chain %s", c->name);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, rs->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, c->name);
	while (i < rule->n_stmts) {
		const struct rs_stmt *next = i + 1 < rule->n_stmts ?
					     &rule->stmts[i + 1] : NULL;

		i += build_stmt(r, rs, &rule->stmts[i], next);
	}
	set_comment(r, NFTNL_UDATA_RULE_COMMENT, rule->comment, rule_set_data,
		    NFTNL_RULE_USERDATA);
	return r;
}
