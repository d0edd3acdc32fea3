/* apply and flush: the one batch that replaces table inet egressd in a
 * single transaction, and the words naming whatever the kernel refuses. */
#include "egressd.h"
#include "nl.h"
#include "sync.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

/* Element messages stop growing here, half of what one nested attribute
 * can hold, so that no element can push one past it. */
#define CHUNK_BYTES 32768
#define ELEM_MAX_BYTES 512
/* Everything is new in the replacement table: an object that exists
 * already is a bug to report, not to paper over. */
#define CREATE_EXCL (NLM_F_CREATE | NLM_F_EXCL)

struct builder {
	struct nl_batch *b;
	const struct ruleset *rs;
	size_t n_msgs;			/* after batch begin */
	size_t n_elems;
	unsigned long fail_at;		/* EGRESSD_TEST_FAIL_AT, 0: off */
};

static unsigned long test_fail_at(void)
{
	const char *s = getenv("EGRESSD_TEST_FAIL_AT");

	return s ? strtoul(s, NULL, 10) : 0;
}

static bool spoil_next(const struct builder *bd)
{
	return bd->fail_at && bd->n_msgs + 1 == bd->fail_at;
}

static struct nlmsghdr *msg_begin(struct builder *bd, uint16_t type,
				  uint16_t flags, bool ack, enum nl_obj kind,
				  const void *obj)
{
	struct nl_msgref ref = { .kind = kind, .obj = obj };

	return nl_batch_msg(bd->b, type, flags, ack, &ref);
}

static void msg_end(struct builder *bd, struct nlmsghdr *nlh)
{
	/* A message type nf_tables has no handler for: refused, EINVAL. */
	if (spoil_next(bd) && nl_batch_last(bd->b)->kind != NL_OBJ_ELEMS)
		nlh->nlmsg_type = NFNL_SUBSYS_NFTABLES << 8 | 0xff;
	bd->n_msgs++;
	nl_batch_next(bd->b);
}

/* add (a no-op when it exists), delete, add: the replacement works the
 * same on every kernel whether or not the table is there. */
static void add_table(struct builder *bd)
{
	struct nftnl_table *t = nl_build_table(bd->rs);
	struct nlmsghdr *nlh;

	nlh = msg_begin(bd, NFT_MSG_NEWTABLE, NLM_F_CREATE, true,
			NL_OBJ_TABLE_PROBE, NULL);
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, bd->rs->table);
	msg_end(bd, nlh);

	nlh = msg_begin(bd, NFT_MSG_DELTABLE, 0, true, NL_OBJ_TABLE_DEL, NULL);
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, bd->rs->table);
	msg_end(bd, nlh);

	nlh = msg_begin(bd, NFT_MSG_NEWTABLE, CREATE_EXCL, true, NL_OBJ_TABLE,
			NULL);
	nftnl_table_nlmsg_build_payload(nlh, t);
	msg_end(bd, nlh);
	nftnl_table_free(t);
}

static void add_set(struct builder *bd, const struct rs_set *s)
{
	uint32_t id = (uint32_t)(s - bd->rs->sets) + 1;
	struct nftnl_set *ns = nl_build_set(bd->rs, s, id);
	struct nlmsghdr *nlh;

	nlh = msg_begin(bd, NFT_MSG_NEWSET, CREATE_EXCL, true, NL_OBJ_SET, s);
	nftnl_set_nlmsg_build_payload(nlh, ns);
	msg_end(bd, nlh);
	nftnl_set_free(ns);
}

static void put_elem(struct nlmsghdr *nlh, const struct rs_set *s,
		     const struct rs_elem *e, int i)
{
	struct nftnl_set_elem *ne = nl_build_elem(s, e);

	nftnl_set_elem_nlmsg_build(nlh, ne, i);
	nftnl_set_elem_free(ne);
}

static bool same_key(const struct rs_set *s, const struct rs_elem *a,
		     const struct rs_elem *b)
{
	uint8_t ka[NL_KEY_MAX], kb[NL_KEY_MAX], ea[NL_KEY_MAX], eb[NL_KEY_MAX];
	size_t len = nl_elem_key(s, a, ka, ea);

	nl_elem_key(s, b, kb, eb);
	return !memcmp(ka, kb, len) && !memcmp(ea, eb, len);
}

/* One NEWSETELEM message from element first on; returns where the next
 * starts.  No ack: a failing message answers anyway, and 100,000
 * elements must not queue hundreds of acks. */
static size_t add_elem_chunk(struct builder *bd, const struct rs_set *s,
			     size_t first)
{
	bool spoil = spoil_next(bd);
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	size_t i = first;
	int n = 0;

	nlh = msg_begin(bd, NFT_MSG_NEWSETELEM, CREATE_EXCL, false,
			NL_OBJ_ELEMS, s);
	nl_batch_last(bd->b)->index = first;
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, bd->rs->table);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, s->name);
	mnl_attr_put_u32(nlh, NFTA_SET_ELEM_LIST_SET_ID,
			 htonl((uint32_t)(s - bd->rs->sets) + 1));
	nest = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	for (; i < s->n_elems; i++) {
		if (nlh->nlmsg_len + ELEM_MAX_BYTES > CHUNK_BYTES)
			break;
		/* Two names on one address give one element, the first
		 * name's; the kernel would refuse the second. */
		if (i > 0 && same_key(s, &s->elems[i - 1], &s->elems[i]))
			continue;
		put_elem(nlh, s, &s->elems[i], ++n);
		bd->n_elems++;
	}
	if (spoil)
		put_elem(nlh, s, &s->elems[first], ++n);
	mnl_attr_nest_end(nlh, nest);
	nl_batch_last(bd->b)->count = i - first;
	msg_end(bd, nlh);
	return i;
}

static void add_chain(struct builder *bd, const struct rs_chain *c)
{
	struct nftnl_chain *nc = nl_build_chain(bd->rs, c);
	struct nlmsghdr *nlh;

	nlh = msg_begin(bd, NFT_MSG_NEWCHAIN, CREATE_EXCL, true, NL_OBJ_CHAIN,
			c);
	nftnl_chain_nlmsg_build_payload(nlh, nc);
	msg_end(bd, nlh);
	nftnl_chain_free(nc);
}

static void add_rules(struct builder *bd, const struct rs_chain *c)
{
	for (size_t i = 0; i < c->n_rules; i++) {
		struct nftnl_rule *r = nl_build_rule(bd->rs, c, &c->rules[i]);
		struct nlmsghdr *nlh;

		nlh = msg_begin(bd, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND,
				true, NL_OBJ_RULE, c);
		nl_batch_last(bd->b)->index = i;
		nftnl_rule_nlmsg_build_payload(nlh, r);
		msg_end(bd, nlh);
		nftnl_rule_free(r);
	}
}

static void build_batch(struct builder *bd)
{
	const struct ruleset *rs = bd->rs;

	add_table(bd);
	for (size_t i = 0; i < rs->n_sets; i++)
		add_set(bd, &rs->sets[i]);
	for (size_t i = 0; i < rs->n_sets; i++) {
		size_t next = 0;

		while (next < rs->sets[i].n_elems)
			next = add_elem_chunk(bd, &rs->sets[i], next);
	}
	/* Regular chains come first in the model, so a goto always names
	 * a chain the batch already made. */
	for (size_t i = 0; i < rs->n_chains; i++)
		add_chain(bd, &rs->chains[i]);
	for (size_t i = 0; i < rs->n_chains; i++)
		add_rules(bd, &rs->chains[i]);
}

/* Naming what the kernel refused. */

static const struct nlattr *elem_at(const struct nlmsghdr *nlh,
				    uint32_t offset)
{
	const struct nlattr *a, *e;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		mnl_attr_for_each_nested(e, a) {
			if ((const char *)e - (const char *)nlh == offset)
				return e;
		}
	}
	return NULL;
}

static const void *key_of(const struct nlattr *elem, uint16_t type,
			  size_t *len)
{
	const struct nlattr *a, *v;

	mnl_attr_for_each_nested(a, elem) {
		if (mnl_attr_get_type(a) != type)
			continue;
		mnl_attr_for_each_nested(v, a) {
			if (mnl_attr_get_type(v) != NFTA_DATA_VALUE)
				continue;
			*len = mnl_attr_get_payload_len(v);
			return mnl_attr_get_payload(v);
		}
	}
	return NULL;
}

static const char *elem_comment(const struct rs_set *s, const uint8_t *key,
				size_t len)
{
	uint8_t k[NL_KEY_MAX], end[NL_KEY_MAX];

	for (size_t i = 0; i < s->n_elems; i++) {
		if (nl_elem_key(s, &s->elems[i], k, end) == len &&
		    !memcmp(k, key, len))
			return s->elems[i].comment;
	}
	return NULL;
}

static void describe_elems(const struct nl_msgref *ref, uint32_t offset,
			   char *buf, size_t len)
{
	const struct rs_set *s = ref->obj;
	const struct nlattr *elem = offset ? elem_at(ref->nlh, offset) : NULL;
	const uint8_t *key = NULL, *end = NULL;
	size_t klen = 0, elen = 0;
	const char *comment;
	char text[256];
	struct rs_elem e;

	if (elem) {
		key = key_of(elem, NFTA_SET_ELEM_KEY, &klen);
		end = key_of(elem, NFTA_SET_ELEM_KEY_END, &elen);
	}
	if (!key || (end && elen != klen) ||
	    !nl_elem_decode(s, key, end, klen, &e)) {
		snprintf(buf, len, "set %s: elements %zu to %zu", s->name,
			 ref->index + 1, ref->index + ref->count);
		return;
	}
	comment = elem_comment(s, key, klen);
	snprintf(buf, len, "set %s: element %s%s%s%s", s->name,
		 render_elem_key(s, &e, text, sizeof(text)),
		 comment ? " (" : "", comment ? comment : "",
		 comment ? ")" : "");
}

static void describe_rule(const struct nl_msgref *ref, char *buf, size_t len)
{
	const struct rs_chain *c = ref->obj;
	char text[256] = "";
	FILE *f = fmemopen(text, sizeof(text) - 1, "w");

	if (f) {
		render_rule(&c->rules[ref->index], f);
		fclose(f);
	}
	snprintf(buf, len, "chain %s: rule %zu (%s)", c->name, ref->index + 1,
		 text);
}

static void describe(const struct nl_batch *b, const struct nl_batch_fail *f,
		     struct nl_err *err)
{
	const struct nl_msgref *ref = nl_batch_ref(b, f->seq);
	char *w = err->what;
	size_t n = sizeof(err->what);

	switch (ref ? ref->kind : NL_OBJ_COMMIT) {
	case NL_OBJ_COMMIT:
		snprintf(w, n, "committing the transaction");
		break;
	case NL_OBJ_TABLE_PROBE:
	case NL_OBJ_TABLE:
		snprintf(w, n, "table inet %s", EGRESSD_TABLE);
		break;
	case NL_OBJ_TABLE_DEL:
		snprintf(w, n, "removing the old table inet %s", EGRESSD_TABLE);
		break;
	case NL_OBJ_SET:
		snprintf(w, n, "set %s",
			 ((const struct rs_set *)ref->obj)->name);
		break;
	case NL_OBJ_ELEMS:
		describe_elems(ref, f->offset, w, n);
		break;
	case NL_OBJ_CHAIN:
		snprintf(w, n, "chain %s",
			 ((const struct rs_chain *)ref->obj)->name);
		break;
	case NL_OBJ_RULE:
		describe_rule(ref, w, n);
		break;
	}
	err->code = f->code;
	snprintf(err->kmsg, sizeof(err->kmsg), "%s", f->kmsg);
}

static void describe_send(const struct nl_batch *b, int code, bool sent,
			  struct nl_err *err)
{
	size_t acks, bytes, n = nl_batch_count(b, &acks, &bytes);

	err->code = code;
	err->kmsg[0] = '\0';
	if (sent)
		snprintf(err->what, sizeof(err->what),
			 "reading the answers to %zu messages (%zu acks)", n,
			 acks);
	else
		snprintf(err->what, sizeof(err->what),
			 "sending a batch of %zu messages, %zu bytes", n,
			 bytes);
}

int nl_apply(struct nl_sock *nl, const struct ruleset *rs, unsigned int flags,
	     struct nl_apply_info *info, struct nl_err *err)
{
	struct builder bd = { .rs = rs, .fail_at = test_fail_at() };
	struct nl_batch_fail fail;
	int ret = -1;

	memset(info, 0, sizeof(*info));
	if (nl_table_exists(nl, &info->replaced, err) < 0)
		return -1;
	bd.b = nl_batch_new(nl);
	build_batch(&bd);
	nl_batch_close(bd.b, !(flags & NL_APPLY_DRY_RUN));
	info->n_elems = bd.n_elems;
	info->n_msgs = nl_batch_count(bd.b, &info->n_acks, &info->bytes);

	if (nl_batch_send(nl, bd.b, &fail) < 0) {
		if (fail.n_errors)
			describe(bd.b, &fail, err);
		else
			describe_send(bd.b, errno, fail.sent, err);
		info->unconfirmed = fail.sent && !fail.n_errors;
		errno = err->code;
		goto out;
	}
	ret = 0;
out:
	nl_batch_free(bd.b);
	return ret;
}

int nl_flush(struct nl_sock *nl, bool *existed, struct nl_err *err)
{
	struct nl_batch_fail fail;
	struct nl_batch *b;
	struct nlmsghdr *nlh;
	int ret = -1;

	*existed = false;
	if (nl_table_exists(nl, existed, err) < 0)
		return -1;
	if (!*existed)
		return 0;
	b = nl_batch_new(nl);
	nlh = nl_batch_msg(b, NFT_MSG_DELTABLE, 0, true,
			   &(struct nl_msgref){ .kind = NL_OBJ_TABLE_DEL });
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, EGRESSD_TABLE);
	nl_batch_next(b);
	nl_batch_close(b, true);
	if (nl_batch_send(nl, b, &fail) == 0) {
		ret = 0;
	} else if (fail.n_errors && fail.code == ENOENT) {
		*existed = false;	/* someone else removed it first */
		ret = 0;
	} else {
		err->code = fail.n_errors ? fail.code : errno;
		snprintf(err->what, sizeof(err->what), "deleting table inet %s",
			 EGRESSD_TABLE);
		snprintf(err->kmsg, sizeof(err->kmsg), "%s", fail.kmsg);
		errno = err->code;
	}
	nl_batch_free(b);
	return ret;
}

/* The daemon's refresh: element additions and deletions only, in one
 * transaction.  Consecutive changes of one kind to one set share a
 * message; the order of the plan is kept, so an extension written as
 * delete + add stays in that order. */

static void put_key_only(struct nlmsghdr *nlh, const struct rs_set *s,
			 const struct rs_elem *e, int i)
{
	struct nftnl_set_elem *ne = nl_build_elem_key(s, e);

	nftnl_set_elem_nlmsg_build(nlh, ne, i);
	nftnl_set_elem_free(ne);
}

static size_t update_chunk(struct nl_batch *b, const struct ruleset *rs,
			   const struct elem_change *v, size_t n, size_t first)
{
	const struct rs_set *s = v[first].set;
	bool del = v[first].del;
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	size_t i = first;
	int k = 0;

	nlh = nl_batch_msg(b, del ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM,
			   del ? 0 : NLM_F_CREATE, false,
			   &(struct nl_msgref){ .kind = NL_OBJ_ELEMS, .obj = s,
						.index = first });
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, rs->table);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, s->name);
	nest = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	for (; i < n && v[i].set == s && v[i].del == del; i++) {
		if (nlh->nlmsg_len + ELEM_MAX_BYTES > CHUNK_BYTES)
			break;
		if (del)
			put_key_only(nlh, s, v[i].elem, ++k);
		else
			put_elem(nlh, s, v[i].elem, ++k);
	}
	mnl_attr_nest_end(nlh, nest);
	nl_batch_last(b)->count = i - first;
	nl_batch_next(b);
	return i;
}

int nl_update(struct nl_sock *nl, const struct ruleset *rs,
	      const struct elem_change *v, size_t n, struct nl_err *err)
{
	struct nl_batch *b = nl_batch_new(nl);
	struct nl_batch_fail fail;
	size_t next = 0;
	int ret = 0;

	while (next < n)
		next = update_chunk(b, rs, v, n, next);
	nl_batch_close(b, true);
	if (nl_batch_send(nl, b, &fail) < 0) {
		if (fail.n_errors)
			describe(b, &fail, err);
		else
			describe_send(b, errno, fail.sent, err);
		errno = err->code;
		ret = -1;
	}
	nl_batch_free(b);
	return ret;
}

int nl_elem_refreshed(struct nl_sock *nl, const struct rs_set *s,
		      const struct rs_elem *e, uint64_t now_ms, bool *refreshed,
		      struct nl_err *err)
{
	uint8_t key[NL_KEY_MAX], key_end[NL_KEY_MAX];
	const struct nl_live_set *ls;
	struct nl_live *live = NULL;
	size_t len = nl_elem_key(s, e, key, key_end);
	int ret = -1;

	if (nl_read(nl, &live, err) < 0 || !live)
		goto out;
	ls = nl_live_find_set(live, s->name);
	for (size_t i = 0; ls && i < ls->n_elems; i++) {
		const struct nl_live_elem *le = &ls->elems[i];

		if (le->len != len || memcmp(le->key, key, len))
			continue;
		/* e's timeout is already the absolute expiry we asked for. */
		*refreshed = now_ms + le->expires_ms + 2000 >= e->timeout_ms;
		ret = 0;
		break;
	}
out:
	nl_live_free(live);
	return ret;
}
