/* Reading table inet egressd back over netlink: its comment, its sets with
 * their elements and counters, its chains and rules, all taken at one
 * ruleset generation. */
#include "egressd.h"
#include "nl.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

/* Reads that a concurrent change keeps spoiling are given up after this
 * many tries. */
#define READ_TRIES 5

/* The string a userdata blob holds under type, or NULL.  The blob is a
 * run of (type, length, value) triples that the kernel stores unread, so
 * every length is checked here. */
static char *udata_string(const void *data, uint32_t len, uint8_t type)
{
	const uint8_t *p = data;
	uint32_t off = 0;

	while (p && off + 2 <= len) {
		uint8_t t = p[off], n = p[off + 1];
		const char *v = (const char *)p + off + 2;

		if (off + 2 + n > len)
			break;
		if (t == type && n && v[n - 1] == '\0')
			return xstrdup(v);
		off += 2 + n;
	}
	return NULL;
}

/* buf is MNL_SOCKET_BUFFER_SIZE bytes; zeroed because libmnl leaves the
 * padding of attributes unwritten, and it goes to the kernel. */
static struct nlmsghdr *request_hdr(struct nl_sock *nl, char *buf,
				    uint16_t type, uint16_t flags)
{
	memset(buf, 0, MNL_SOCKET_BUFFER_SIZE);
	return nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, flags,
				     nl_next_seq(nl));
}

/* The generation */

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_gen *gen = nftnl_gen_alloc();
	uint32_t *id = data;

	if (!gen)
		fatalx("out of memory reading the ruleset generation");
	if (nftnl_gen_nlmsg_parse(nlh, gen) == 0)
		*id = nftnl_gen_get_u32(gen, NFTNL_GEN_ID);
	nftnl_gen_free(gen);
	return MNL_CB_OK;
}

int nl_genid(struct nl_sock *nl, uint32_t *id, struct nl_err *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = request_hdr(nl, buf, NFT_MSG_GETGEN, NLM_F_ACK);

	if (nl_request(nl, nlh, gen_cb, id, err) < 0) {
		snprintf(err->what, sizeof(err->what),
			 "reading the ruleset generation");
		return -1;
	}
	return 0;
}

/* The table */

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nl_live *live = data;
	const void *ud;
	uint32_t len;

	if (!t)
		fatalx("out of memory reading the table");
	if (nftnl_table_nlmsg_parse(nlh, t) == 0 && live) {
		ud = nftnl_table_get_data(t, NFTNL_TABLE_USERDATA, &len);
		free(live->comment);
		live->comment = udata_string(ud, len,
					     NFTNL_UDATA_TABLE_COMMENT);
	}
	nftnl_table_free(t);
	return MNL_CB_OK;
}

/* 1: there, 0: absent, -1: error. */
static int read_table(struct nl_sock *nl, struct nl_live *live,
		      struct nl_err *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = request_hdr(nl, buf, NFT_MSG_GETTABLE,
					   NLM_F_ACK);

	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, EGRESSD_TABLE);
	if (nl_request(nl, nlh, table_cb, live, err) == 0)
		return 1;
	if (err->code == ENOENT)
		return 0;
	snprintf(err->what, sizeof(err->what), "reading table inet %s",
		 EGRESSD_TABLE);
	return -1;
}

int nl_table_exists(struct nl_sock *nl, bool *exists, struct nl_err *err)
{
	int ret = read_table(nl, NULL, err);

	*exists = ret == 1;
	return ret < 0 ? -1 : 0;
}

/* Sets and elements */

static int set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nl_live *live = data;
	struct nl_live_set *ls;
	const void *ud;
	uint32_t len;

	if (!s)
		fatalx("out of memory reading sets");
	if (nftnl_set_nlmsg_parse(nlh, s) < 0 ||
	    strcmp(nftnl_set_get_str(s, NFTNL_SET_TABLE), EGRESSD_TABLE)) {
		nftnl_set_free(s);
		return MNL_CB_OK;
	}
	grow(&live->sets, &live->cap_sets, live->n_sets, sizeof(*ls));
	ls = &live->sets[live->n_sets++];
	memset(ls, 0, sizeof(*ls));
	ls->nls = s;
	ls->name = nftnl_set_get_str(s, NFTNL_SET_NAME);
	ud = nftnl_set_get_data(s, NFTNL_SET_USERDATA, &len);
	ls->comment = udata_string(ud, len, NFTNL_UDATA_SET_COMMENT);
	return MNL_CB_OK;
}

static int read_sets(struct nl_sock *nl, struct nl_live *live,
		     struct nl_err *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = request_hdr(nl, buf, NFT_MSG_GETSET,
					   NLM_F_DUMP);

	mnl_attr_put_strz(nlh, NFTA_SET_TABLE, EGRESSD_TABLE);
	if (nl_request(nl, nlh, set_cb, live, err) < 0) {
		snprintf(err->what, sizeof(err->what), "reading the sets");
		return -1;
	}
	return 0;
}

static int counter_cb(struct nftnl_expr *e, void *data)
{
	struct nl_live_elem *le = data;

	if (strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "counter"))
		return 0;
	le->counted = true;
	le->packets = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
	le->bytes = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
	return 0;
}

static bool copy_key(struct nftnl_set_elem *ne, uint16_t attr, uint8_t *dst,
		     uint32_t *len)
{
	const void *key;
	uint32_t n = 0;

	if (!nftnl_set_elem_is_set(ne, attr))
		return false;
	key = nftnl_set_elem_get(ne, attr, &n);
	if (!key || n > NL_KEY_MAX)
		return false;
	memcpy(dst, key, n);
	*len = n;
	return true;
}

static int add_elem(struct nftnl_set_elem *ne, void *data)
{
	struct nl_live_set *ls = data;
	struct nl_live_elem *le;
	uint32_t len = 0, end_len = 0;
	const void *ud;

	/* Interval ends come as elements of their own only from sets that
	 * egressd does not make; the pipapo sets it makes carry KEY_END. */
	if (nftnl_set_elem_is_set(ne, NFTNL_SET_ELEM_FLAGS) &&
	    nftnl_set_elem_get_u32(ne, NFTNL_SET_ELEM_FLAGS) &
	    NFT_SET_ELEM_INTERVAL_END)
		return 0;
	grow(&ls->elems, &ls->cap_elems, ls->n_elems, sizeof(*le));
	le = &ls->elems[ls->n_elems];
	memset(le, 0, sizeof(*le));
	if (!copy_key(ne, NFTNL_SET_ELEM_KEY, le->key, &len))
		return 0;
	le->len = len;
	le->has_end = copy_key(ne, NFTNL_SET_ELEM_KEY_END, le->key_end,
			       &end_len) && end_len == len;
	if (nftnl_set_elem_is_set(ne, NFTNL_SET_ELEM_TIMEOUT))
		le->timeout_ms = nftnl_set_elem_get_u64(ne,
							NFTNL_SET_ELEM_TIMEOUT);
	if (nftnl_set_elem_is_set(ne, NFTNL_SET_ELEM_EXPIRATION))
		le->expires_ms = nftnl_set_elem_get_u64(ne,
						NFTNL_SET_ELEM_EXPIRATION);
	ud = nftnl_set_elem_get(ne, NFTNL_SET_ELEM_USERDATA, &len);
	le->comment = udata_string(ud, len, NFTNL_UDATA_SET_ELEM_COMMENT);
	nftnl_set_elem_expr_foreach(ne, counter_cb, le);
	ls->n_elems++;
	return 0;
}

static int elems_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		fatalx("out of memory reading elements");
	if (nftnl_set_elems_nlmsg_parse(nlh, s) == 0)
		nftnl_set_elem_foreach(s, add_elem, data);
	nftnl_set_free(s);
	return MNL_CB_OK;
}

static int read_elems(struct nl_sock *nl, struct nl_live_set *ls,
		      struct nl_err *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = request_hdr(nl, buf, NFT_MSG_GETSETELEM,
					   NLM_F_DUMP);

	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, EGRESSD_TABLE);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, ls->name);
	if (nl_request(nl, nlh, elems_cb, ls, err) < 0) {
		snprintf(err->what, sizeof(err->what),
			 "reading the elements of set %s", ls->name);
		return -1;
	}
	return 0;
}

/* Chains and rules */

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nl_live *live = data;
	struct nl_live_chain *lc;

	if (!c)
		fatalx("out of memory reading chains");
	if (nftnl_chain_nlmsg_parse(nlh, c) < 0 ||
	    nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY) != NFPROTO_INET ||
	    strcmp(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), EGRESSD_TABLE)) {
		nftnl_chain_free(c);
		return MNL_CB_OK;
	}
	grow(&live->chains, &live->cap_chains, live->n_chains, sizeof(*lc));
	lc = &live->chains[live->n_chains++];
	memset(lc, 0, sizeof(*lc));
	lc->nlc = c;
	lc->name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
	return MNL_CB_OK;
}

static int read_chains(struct nl_sock *nl, struct nl_live *live,
		       struct nl_err *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = request_hdr(nl, buf, NFT_MSG_GETCHAIN,
					   NLM_F_DUMP);

	mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, EGRESSD_TABLE);
	if (nl_request(nl, nlh, chain_cb, live, err) < 0) {
		snprintf(err->what, sizeof(err->what), "reading the chains");
		return -1;
	}
	return 0;
}

struct canon {
	FILE *f;
	struct nl_live_rule *lr;	/* collects counter values, or NULL */
};

static int canon_expr(struct nftnl_expr *e, void *data)
{
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	struct canon *c = data;
	char buf[512];

	/* A counter's values are state, not policy. */
	if (!strcmp(name, "counter")) {
		fputs("[ counter ] ", c->f);
		if (c->lr) {
			c->lr->counted = true;
			c->lr->packets = nftnl_expr_get_u64(e,
							NFTNL_EXPR_CTR_PACKETS);
			c->lr->bytes = nftnl_expr_get_u64(e,
							NFTNL_EXPR_CTR_BYTES);
		}
		return 0;
	}
	nftnl_expr_snprintf(buf, sizeof(buf), e, NFTNL_OUTPUT_DEFAULT, 0);
	fprintf(c->f, "[ %s %s] ", name, buf);
	return 0;
}

static char *rule_comment(struct nftnl_rule *r)
{
	uint32_t len = 0;
	const void *ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);

	return udata_string(ud, len, NFTNL_UDATA_RULE_COMMENT);
}

static char *canon_text(struct nftnl_rule *r, struct nl_live_rule *lr)
{
	struct canon c = { NULL, lr };
	char *text = NULL, *comment = rule_comment(r);
	size_t len;

	c.f = open_memstream(&text, &len);
	if (!c.f)
		fatalx("out of memory describing a rule");
	nftnl_expr_foreach(r, canon_expr, &c);
	if (comment)
		fprintf(c.f, "comment \"%s\"", comment);
	if (fclose(c.f) != 0)
		fatalx("out of memory describing a rule");
	free(comment);
	return text;
}

char *nl_rule_canon(struct nftnl_rule *r)
{
	return canon_text(r, NULL);
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nl_live *live = data;
	struct nl_live_chain *lc;
	struct nl_live_rule *lr;

	if (!r)
		fatalx("out of memory reading rules");
	if (nftnl_rule_nlmsg_parse(nlh, r) < 0 ||
	    strcmp(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), EGRESSD_TABLE))
		goto skip;
	lc = (struct nl_live_chain *)nl_live_find_chain(live,
				nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
	if (!lc)
		goto skip;
	grow(&lc->rules, &lc->cap_rules, lc->n_rules, sizeof(*lr));
	lr = &lc->rules[lc->n_rules++];
	memset(lr, 0, sizeof(*lr));
	lr->nlr = r;
	lr->comment = rule_comment(r);
	lr->canon = canon_text(r, lr);
	return MNL_CB_OK;
skip:
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

static int read_rules(struct nl_sock *nl, struct nl_live *live,
		      struct nl_err *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = request_hdr(nl, buf, NFT_MSG_GETRULE,
					   NLM_F_DUMP);

	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, EGRESSD_TABLE);
	if (nl_request(nl, nlh, rule_cb, live, err) < 0) {
		snprintf(err->what, sizeof(err->what), "reading the rules");
		return -1;
	}
	return 0;
}

/* The whole table */

static int read_all(struct nl_sock *nl, struct nl_live *live,
		    struct nl_err *err)
{
	int ret = read_table(nl, live, err);

	if (ret <= 0)
		return ret;
	if (read_sets(nl, live, err) < 0)
		return -1;
	for (size_t i = 0; i < live->n_sets; i++) {
		if (read_elems(nl, &live->sets[i], err) < 0)
			return -1;
	}
	if (read_chains(nl, live, err) < 0 || read_rules(nl, live, err) < 0)
		return -1;
	return 1;
}

/* One try: 1 read, 0 absent, -1 error, -2 the ruleset changed meanwhile. */
static int read_once(struct nl_sock *nl, struct nl_live **out,
		     struct nl_err *err)
{
	struct nl_live *live = xcalloc(1, sizeof(*live));
	uint32_t gen_before = 0, gen_after = 0;
	int ret = -1;

	if (nl_genid(nl, &gen_before, err) < 0)
		goto out;
	ret = read_all(nl, live, err);
	/* A dump that a change interrupted says so with EINTR. */
	if (ret < 0 && err->code == EINTR)
		ret = -2;
	if (ret < 0)
		goto out;
	if (nl_genid(nl, &gen_after, err) < 0) {
		ret = -1;
		goto out;
	}
	if (gen_after != gen_before)
		ret = -2;
out:
	if (ret == 1)
		*out = live;
	else
		nl_live_free(live);
	return ret;
}

int nl_read(struct nl_sock *nl, struct nl_live **out, struct nl_err *err)
{
	int ret = -2;

	*out = NULL;
	for (int i = 0; i < READ_TRIES && ret == -2; i++)
		ret = read_once(nl, out, err);
	if (ret == -2) {
		snprintf(err->what, sizeof(err->what),
			 "reading table inet %s: the ruleset kept changing",
			 EGRESSD_TABLE);
		err->code = EAGAIN;
	}
	if (ret < 0) {
		errno = err->code;
		return -1;
	}
	return 0;
}

void nl_live_free(struct nl_live *live)
{
	if (!live)
		return;
	for (size_t i = 0; i < live->n_sets; i++) {
		struct nl_live_set *ls = &live->sets[i];

		for (size_t j = 0; j < ls->n_elems; j++)
			free(ls->elems[j].comment);
		free(ls->elems);
		free(ls->comment);
		nftnl_set_free(ls->nls);
	}
	for (size_t i = 0; i < live->n_chains; i++) {
		struct nl_live_chain *lc = &live->chains[i];

		for (size_t j = 0; j < lc->n_rules; j++) {
			free(lc->rules[j].canon);
			free(lc->rules[j].comment);
			nftnl_rule_free(lc->rules[j].nlr);
		}
		free(lc->rules);
		nftnl_chain_free(lc->nlc);
	}
	free(live->sets);
	free(live->chains);
	free(live->comment);
	free(live);
}

const struct nl_live_set *nl_live_find_set(const struct nl_live *live,
					   const char *name)
{
	for (size_t i = 0; live && i < live->n_sets; i++) {
		if (!strcmp(live->sets[i].name, name))
			return &live->sets[i];
	}
	return NULL;
}

const struct nl_live_chain *nl_live_find_chain(const struct nl_live *live,
					       const char *name)
{
	for (size_t i = 0; live && i < live->n_chains; i++) {
		if (!strcmp(live->chains[i].name, name))
			return &live->chains[i];
	}
	return NULL;
}

bool nl_parse_table_comment(const char *comment, char *version, size_t vlen,
			    char *hash, size_t hlen)
{
	const char *v, *p;

	if (!comment || strncmp(comment, "egressd ", 8))
		return false;
	v = comment + 8;
	p = strstr(v, " policy sha256:");
	if (!p || (size_t)(p - v) >= vlen)
		return false;
	snprintf(version, vlen, "%.*s", (int)(p - v), v);
	p += strlen(" policy sha256:");
	snprintf(hash, hlen, "%.*s", (int)strcspn(p, " "), p);
	return true;
}
