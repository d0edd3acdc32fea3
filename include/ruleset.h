/* The in-memory model of the egressd table.  The compiler builds it from a
 * policy and a resolution; every back end (the nft-syntax renderer, the
 * netlink builder, verify) reads only this.
 *
 * The model is deliberately small: it holds the handful of match kinds the
 * compiler emits, not nftables' whole expression language. */
#ifndef EGRESSD_RULESET_H
#define EGRESSD_RULESET_H

#include "egressd.h"
#include "addr.h"
#include "policy.h"
#include "resolve.h"

/* One field of a set key.  Concatenated keys list several; each field is
 * padded to 4 bytes in the kernel's key layout. */
enum rs_field {
	RS_F_IP_DADDR,		/* ipv4_addr */
	RS_F_IP6_DADDR,		/* ipv6_addr */
	RS_F_L4PROTO,		/* inet_proto */
	RS_F_TH_DPORT,		/* inet_service */
	RS_F_ICMPV6_TYPE,	/* icmpv6_type */
};

#define RS_KEY_MAX 3
/* nft refuses longer comments (NFT_USERDATA_MAXLEN less its framing). */
#define RS_COMMENT_MAX 128

enum {
	RS_SET_CONSTANT = 1 << 0,	/* only the compiler's elements */
	RS_SET_INTERVAL = 1 << 1,	/* prefixes and port ranges */
	RS_SET_TIMEOUT = 1 << 2,	/* elements may carry timeouts */
	RS_SET_COUNTER = 1 << 3,	/* a counter on every element */
};

/* An element gives one value per key field.  Interval sets hold ranges:
 * addr..addr_end and port_lo..port_hi; other sets have addr_end == addr
 * and port_hi == port_lo. */
struct rs_elem {
	struct addr addr, addr_end;
	unsigned int prefix_len;	/* for printing; == full length if exact */
	uint8_t l4proto;		/* IPPROTO_TCP, IPPROTO_UDP */
	uint16_t port_lo, port_hi;
	uint8_t icmp_type;
	uint64_t timeout_ms;		/* 0: never expires */
	const char *comment;		/* the host or CIDR entry it came from;
					 * owned by the ruleset's strings */
};

struct rs_set {
	char *name;
	enum rs_field key[RS_KEY_MAX];
	size_t key_len;
	unsigned int flags;
	uint32_t size;			/* capacity hint and limit; 0: none */
	char *comment;
	struct rs_elem *elems;		/* sorted by rs_elem_cmp() */
	size_t n_elems, cap_elems;
};

enum rs_stmt_kind {
	RS_MATCH_OIFNAME,	/* oifname "str" */
	RS_MATCH_CT_STATE,	/* ct state is one of mask */
	RS_MATCH_NFPROTO_DADDR,	/* ip/ip6 daddr within prefix */
	RS_MATCH_L4PROTO,	/* meta l4proto n */
	RS_MATCH_SPORT,		/* th sport n (after an L4PROTO match) */
	RS_MATCH_DPORT,		/* th dport n (after an L4PROTO match) */
	RS_MATCH_LOOKUP,	/* the set's key fields, looked up in it */
	RS_COUNTER,
	RS_LOG,			/* log to NFLOG group with prefix */
	RS_REJECT_TCP_RESET,	/* meta l4proto tcp reject with tcp reset */
	RS_REJECT_ADMIN,	/* reject with icmpx admin-prohibited */
	RS_ACCEPT,
	RS_DROP,
	RS_GOTO,		/* goto chain */
};

/* ct state bits, as the kernel numbers them. */
enum {
	RS_CT_INVALID = 1 << 0,
	RS_CT_ESTABLISHED = 1 << 1,
	RS_CT_RELATED = 1 << 2,
	RS_CT_NEW = 1 << 3,
};

struct rs_stmt {
	enum rs_stmt_kind kind;
	union {
		const char *str;		/* OIFNAME, LOG prefix, GOTO chain */
		uint32_t mask;			/* CT_STATE */
		struct prefix prefix;		/* NFPROTO_DADDR */
		uint8_t l4proto;		/* L4PROTO */
		uint16_t port;			/* SPORT, DPORT */
		const struct rs_set *set;	/* LOOKUP */
	};
	uint16_t group;				/* LOG */
};

#define RS_STMT_MAX 6

struct rs_rule {
	struct rs_stmt stmts[RS_STMT_MAX];
	size_t n_stmts;
	const char *comment;		/* why the rule is there; NULL for none */
};

enum rs_hook {
	RS_HOOK_NONE,			/* a regular chain */
	RS_HOOK_OUTPUT,
	RS_HOOK_FORWARD,
};

struct rs_chain {
	const char *name;
	enum rs_hook hook;
	int priority;
	bool policy_drop;
	struct rs_rule *rules;
	size_t n_rules, cap_rules;
};

struct ruleset {
	const char *table;		/* "egressd", family inet */
	char *comment;			/* "egressd VERSION policy sha256:HEX" */
	struct rs_set *sets;		/* in rendering order */
	size_t n_sets;
	struct rs_chain *chains;	/* regular chains before base chains */
	size_t n_chains;
	char policy_hash[65];
	char **notes;			/* per-host resolution notes, for readers */
	size_t n_notes, cap_notes;
	/* Element comments, each stored once however many elements name it:
	 * 100,000 elements from a few hosts need a few strings, not 100,000. */
	char **strings;
	size_t n_strings, cap_strings;
};

/* Keep s (allocated by the caller) for the ruleset's lifetime; returns it. */
const char *ruleset_keep(struct ruleset *rs, char *s);

/* Compile a checked policy and a resolution of its hosts into a ruleset.
 * Cannot fail on a valid policy. */
struct ruleset *ruleset_compile(const struct policy *p,
				const struct resolution *res);
void ruleset_free(struct ruleset *rs);
/* Add the time of the apply to the table's comment: "egressd VERSION
 * policy sha256:HEX applied 2026-12-03T17:30:00Z".  plan leaves it out so
 * its output stays reproducible. */
void ruleset_stamp(struct ruleset *rs, time_t applied);

struct rs_set *ruleset_find_set(const struct ruleset *rs, const char *name);
const struct rs_chain *ruleset_find_chain(const struct ruleset *rs,
					  const char *name);
/* Key length in bytes as the kernel lays it out (fields padded to 4). */
size_t rs_set_key_bytes(const struct rs_set *s);
int rs_elem_cmp(const struct rs_elem *a, const struct rs_elem *b);
/* Add an element; the set keeps it sorted only after rs_set_sort(). */
struct rs_elem *rs_set_add(struct rs_set *s);
void rs_set_sort(struct rs_set *s);
size_t ruleset_n_elems(const struct ruleset *rs);

/* Render as nft syntax, accepted by `nft -f`.  Deterministic. */
void render_ruleset(const struct ruleset *rs, FILE *out);
/* One element as nft syntax, e.g. "192.0.2.1 . tcp . 443"; for diffs. */
const char *render_elem_key(const struct rs_set *s, const struct rs_elem *e,
			    char *buf, size_t len);
/* One rule as nft syntax, without indentation or newline. */
void render_rule(const struct rs_rule *r, FILE *out);
/* nft's compact duration: 90061000 ms -> "1d1h1m1s". */
const char *render_duration(uint64_t ms, char *buf, size_t len);

#endif
