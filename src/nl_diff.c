/* Comparing the live egressd table with the table a policy compiles to:
 * each difference on one line, in verify's words ("missing element ...")
 * or plan's ("+ element ..."). */
#include "egressd.h"
#include "nl.h"

#include <errno.h>
#include <stdarg.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>

enum change { ADD, DEL, CHG };

struct diff {
	FILE *out;
	const struct nl_diff_opts *o;
	size_t n;
};

/* One difference.  ADD is what the policy has and the table lacks. */
static void PRINTF_LIKE(3, 4) say(struct diff *d, enum change c,
				  const char *fmt, ...)
{
	static const char *const verify[] = { "missing ", "unexpected ",
					      "changed " };
	static const char *const plan[] = { "+ ", "- ", "~ " };
	va_list ap;

	fputs(d->o->plan ? plan[c] : verify[c], d->out);
	va_start(ap, fmt);
	vfprintf(d->out, fmt, ap);
	va_end(ap);
	fputc('\n', d->out);
	d->n++;
}

/* A line that is not an object coming or going ("policy hash differs"). */
static void PRINTF_LIKE(2, 3) note(struct diff *d, const char *fmt, ...)
{
	va_list ap;

	if (d->o->plan)
		fputs("~ ", d->out);
	va_start(ap, fmt);
	vfprintf(d->out, fmt, ap);
	va_end(ap);
	fputc('\n', d->out);
	d->n++;
}

/* The table */

static void diff_comment(struct diff *d, const char *live, const char *want)
{
	char lv[64], lh[80], wv[64], wh[80];

	if (live && want && !strcmp(live, want))
		return;
	if (!nl_parse_table_comment(live, lv, sizeof(lv), lh, sizeof(lh)) ||
	    !nl_parse_table_comment(want, wv, sizeof(wv), wh, sizeof(wh))) {
		say(d, CHG, "table comment: live \"%s\", wanted \"%s\"",
		    live ? live : "", want ? want : "");
		return;
	}
	if (strcmp(lh, wh))
		note(d, "policy hash differs: live %s, policy %s", lh, wh);
	if (strcmp(lv, wv))
		note(d, "egressd version differs: live %s, this %s", lv, wv);
}

/* Sets */

static int find_counter(struct nftnl_expr *e, void *data)
{
	if (!strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "counter"))
		*(bool *)data = true;
	return 0;
}

static bool set_counts(const struct nftnl_set *s)
{
	bool found = false;

	nftnl_set_expr_foreach(s, find_counter, &found);
	return found;
}

static uint32_t set_u32(const struct nftnl_set *s, uint16_t attr)
{
	return nftnl_set_is_set(s, attr) ? nftnl_set_get_u32(s, attr) : 0;
}

static bool same_concat(const struct nftnl_set *a, const struct nftnl_set *b)
{
	uint32_t la = 0, lb = 0;
	const void *fa = NULL, *fb = NULL;

	if (nftnl_set_is_set(a, NFTNL_SET_DESC_CONCAT))
		fa = nftnl_set_get_data(a, NFTNL_SET_DESC_CONCAT, &la);
	if (nftnl_set_is_set(b, NFTNL_SET_DESC_CONCAT))
		fb = nftnl_set_get_data(b, NFTNL_SET_DESC_CONCAT, &lb);
	return la == lb && (!la || !memcmp(fa, fb, la));
}

static void diff_set_u32(struct diff *d, const char *set, const char *what,
			 const struct nftnl_set *live,
			 const struct nftnl_set *want, uint16_t attr)
{
	uint32_t l = set_u32(live, attr), w = set_u32(want, attr);

	if (l != w)
		say(d, CHG, "set %s: %s 0x%x, wanted 0x%x", set, what, l, w);
}

static void diff_set_def(struct diff *d, const struct nl_live_set *ls,
			 const struct ruleset *rs, const struct rs_set *s)
{
	struct nftnl_set *want = nl_build_set(rs, s, 0);
	const char *lc = ls->comment ? ls->comment : "";

	diff_set_u32(d, s->name, "flags", ls->nls, want, NFTNL_SET_FLAGS);
	diff_set_u32(d, s->name, "key type", ls->nls, want,
		     NFTNL_SET_KEY_TYPE);
	diff_set_u32(d, s->name, "key length", ls->nls, want,
		     NFTNL_SET_KEY_LEN);
	diff_set_u32(d, s->name, "size", ls->nls, want, NFTNL_SET_DESC_SIZE);
	if (!same_concat(ls->nls, want))
		say(d, CHG, "set %s: field lengths", s->name);
	if (set_counts(ls->nls) != set_counts(want))
		say(d, CHG, "set %s: counter %s, wanted %s", s->name,
		    set_counts(ls->nls) ? "on" : "off",
		    set_counts(want) ? "on" : "off");
	if (strcmp(lc, s->comment ? s->comment : ""))
		say(d, CHG, "set %s: comment \"%s\", wanted \"%s\"", s->name,
		    lc, s->comment ? s->comment : "");
	nftnl_set_free(want);
}

/* Elements, compared by key alone. */

struct ekey {
	const uint8_t *key, *end;
	uint32_t len;
	const char *comment;
};

struct wanted {
	uint8_t key[NL_KEY_MAX], end[NL_KEY_MAX];
};

static int ekey_cmp(const void *pa, const void *pb)
{
	const struct ekey *a = pa, *b = pb;
	int c;

	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	c = memcmp(a->key, b->key, a->len);
	return c ? c : memcmp(a->end, b->end, a->len);
}

static bool skipped(const struct diff *d, const char *comment)
{
	for (size_t i = 0; comment && i < d->o->n_skip_hosts; i++) {
		if (!strcmp(d->o->skip_hosts[i], comment))
			return true;
	}
	return false;
}

static size_t want_keys(const struct diff *d, const struct rs_set *s,
			struct wanted *buf, struct ekey *k)
{
	bool interval = s->flags & RS_SET_INTERVAL;
	size_t n = 0;

	for (size_t i = 0; i < s->n_elems; i++) {
		const struct rs_elem *e = &s->elems[i];

		if (skipped(d, e->comment))
			continue;
		k[n].len = nl_elem_key(s, e, buf[n].key, buf[n].end);
		k[n].key = buf[n].key;
		k[n].end = interval ? buf[n].end : buf[n].key;
		k[n].comment = e->comment;
		n++;
	}
	return n;
}

static size_t live_keys(const struct diff *d, const struct nl_live_set *ls,
			struct ekey *k)
{
	size_t n = 0;

	for (size_t i = 0; i < ls->n_elems; i++) {
		const struct nl_live_elem *le = &ls->elems[i];

		if (skipped(d, le->comment))
			continue;
		k[n].len = le->len;
		k[n].key = le->key;
		k[n].end = le->has_end ? le->key_end : le->key;
		k[n].comment = le->comment;
		n++;
	}
	return n;
}

static void say_elem(struct diff *d, enum change c, const struct rs_set *s,
		     const struct ekey *k)
{
	char text[256];
	struct rs_elem e;

	if (nl_elem_decode(s, k->key, k->end, k->len, &e)) {
		render_elem_key(s, &e, text, sizeof(text));
	} else {
		size_t o = 0;

		for (uint32_t i = 0; i < k->len && o + 3 < sizeof(text); i++)
			o += snprintf(text + o, sizeof(text) - o, "%02x",
				      k->key[i]);
	}
	if (k->comment)
		say(d, c, "element %s %s (%s)", s->name, text, k->comment);
	else
		say(d, c, "element %s %s", s->name, text);
}

static void diff_elems(struct diff *d, const struct nl_live_set *ls,
		       const struct rs_set *s)
{
	struct wanted *buf = xcalloc(s->n_elems, sizeof(*buf));
	struct ekey *w = xcalloc(s->n_elems, sizeof(*w));
	struct ekey *l = xcalloc(ls->n_elems, sizeof(*l));
	size_t nw = want_keys(d, s, buf, w), nl = live_keys(d, ls, l);
	size_t i = 0, j = 0;

	qsort(w, nw, sizeof(*w), ekey_cmp);
	qsort(l, nl, sizeof(*l), ekey_cmp);
	while (i < nw || j < nl) {
		int c;

		/* The same key twice in the policy is one element. */
		if (i > 0 && i < nw && !ekey_cmp(&w[i - 1], &w[i])) {
			i++;
			continue;
		}
		c = i == nw ? 1 : j == nl ? -1 : ekey_cmp(&w[i], &l[j]);
		if (c < 0)
			say_elem(d, ADD, s, &w[i++]);
		else if (c > 0)
			say_elem(d, DEL, s, &l[j++]);
		else
			i++, j++;
	}
	free(buf);
	free(w);
	free(l);
}

static void diff_sets(struct diff *d, const struct nl_live *live,
		      const struct ruleset *rs)
{
	for (size_t i = 0; i < rs->n_sets; i++) {
		const struct rs_set *s = &rs->sets[i];
		const struct nl_live_set *ls = nl_live_find_set(live, s->name);

		if (!ls) {
			say(d, ADD, "set %s (%zu elements)", s->name,
			    s->n_elems);
			continue;
		}
		diff_set_def(d, ls, rs, s);
		diff_elems(d, ls, s);
	}
	for (size_t i = 0; i < live->n_sets; i++) {
		if (!ruleset_find_set(rs, live->sets[i].name))
			say(d, DEL, "set %s (%zu elements)", live->sets[i].name,
			    live->sets[i].n_elems);
	}
}

/* Chains */

static const char *hook_name(uint32_t hook)
{
	switch (hook) {
	case NF_INET_LOCAL_OUT:
		return "output";
	case NF_INET_FORWARD:
		return "forward";
	case NF_INET_LOCAL_IN:
		return "input";
	case NF_INET_PRE_ROUTING:
		return "prerouting";
	case NF_INET_POST_ROUTING:
		return "postrouting";
	}
	return "?";
}

/* "type filter hook output priority 0 policy drop", or "regular". */
static void chain_def(const struct nftnl_chain *c, char *buf, size_t len)
{
	if (!nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) {
		snprintf(buf, len, "regular");
		return;
	}
	snprintf(buf, len, "type %s hook %s priority %d policy %s",
		 nftnl_chain_is_set(c, NFTNL_CHAIN_TYPE) ?
		 nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE) : "?",
		 hook_name(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM)),
		 nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO),
		 nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY) &&
		 nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) == NF_DROP ?
		 "drop" : "accept");
}

static void diff_chain_def(struct diff *d, const struct nl_live_chain *lc,
			   const struct ruleset *rs, const struct rs_chain *c)
{
	struct nftnl_chain *want = nl_build_chain(rs, c);
	char l[128], w[128];

	chain_def(lc->nlc, l, sizeof(l));
	chain_def(want, w, sizeof(w));
	if (strcmp(l, w))
		say(d, CHG, "chain %s: %s, wanted %s", c->name, l, w);
	nftnl_chain_free(want);
}

/* Rules: the longest common subsequence of the two lists of canonical
 * texts; what is left over on either side is missing or unexpected. */

struct rules {
	char **want;
	size_t n_want;
	char *const *live;
	size_t n_live;
	size_t *lcs;			/* (n_want + 1) * (n_live + 1) */
};

static size_t *lcs_at(const struct rules *r, size_t i, size_t j)
{
	return &r->lcs[i * (r->n_live + 1) + j];
}

static void lcs_fill(struct rules *r)
{
	for (size_t i = r->n_want; i-- > 0;) {
		for (size_t j = r->n_live; j-- > 0;) {
			size_t a = *lcs_at(r, i + 1, j);
			size_t b = *lcs_at(r, i, j + 1);

			if (!strcmp(r->want[i], r->live[j]))
				*lcs_at(r, i, j) = *lcs_at(r, i + 1, j + 1) + 1;
			else
				*lcs_at(r, i, j) = a > b ? a : b;
		}
	}
}

static char *want_text(const struct rs_rule *r)
{
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		fatalx("out of memory describing a rule");
	render_rule(r, f);
	if (fclose(f) != 0)
		fatalx("out of memory describing a rule");
	return text;
}

/* In nft words when it has a shape egressd knows, else its expressions. */
static char *live_text(const struct ruleset *rs, const struct nl_live_rule *lr)
{
	struct rs_rule r;

	if (!nl_rule_decode(lr->nlr, rs, &r))
		return xstrdup(lr->canon);
	r.comment = lr->comment;
	return want_text(&r);
}

struct run {
	const struct ruleset *rs;
	const struct rs_chain *ch;
	const struct nl_live_chain *lc;
	size_t i0, i1;			/* policy rules [i0, i1) */
	size_t j0, j1;			/* live rules [j0, j1) */
};

/* The live rule of the run that says the same comment, not yet taken. */
static size_t partner(const struct run *u, const bool *taken, const char *c)
{
	for (size_t j = u->j0; c && j < u->j1; j++) {
		const char *lc = u->lc->rules[j].comment;

		if (!taken[j - u->j0] && lc && !strcmp(lc, c))
			return j;
	}
	return u->j1;
}

/* Rules that differ between two that match.  For plan, a policy rule and
 * a live one with the same comment are one rule changed ("~"). */
static void say_run(struct diff *d, const struct run *u)
{
	bool *taken = xcalloc(u->j1 - u->j0 + 1, sizeof(*taken));
	char *w, *l;

	for (size_t i = u->i0; i < u->i1; i++) {
		const struct rs_rule *r = &u->ch->rules[i];
		size_t j = d->o->plan ? partner(u, taken, r->comment) : u->j1;

		w = want_text(r);
		if (j < u->j1) {
			taken[j - u->j0] = true;
			l = live_text(u->rs, &u->lc->rules[j]);
			say(d, CHG, "rule %s: %s (live: %s)", u->ch->name, w,
			    l);
			free(l);
		} else {
			say(d, ADD, "rule %s: %s", u->ch->name, w);
		}
		free(w);
	}
	for (size_t j = u->j0; j < u->j1; j++) {
		if (taken[j - u->j0])
			continue;
		l = live_text(u->rs, &u->lc->rules[j]);
		say(d, DEL, "rule %s: %s", u->ch->name, l);
		free(l);
	}
	free(taken);
}

static void walk_rules(struct diff *d, const struct rules *r, struct run *u)
{
	size_t i = 0, j = 0;

	for (;;) {
		bool end = i == r->n_want && j == r->n_live;

		if (end || (i < r->n_want && j < r->n_live &&
			    !strcmp(r->want[i], r->live[j]))) {
			u->i1 = i;
			u->j1 = j;
			say_run(d, u);
			if (end)
				return;
			u->i0 = ++i;
			u->j0 = ++j;
		} else if (j == r->n_live || (i < r->n_want &&
			   *lcs_at(r, i + 1, j) >= *lcs_at(r, i, j + 1))) {
			i++;
		} else {
			j++;
		}
	}
}

static void diff_rules(struct diff *d, const struct nl_live_chain *lc,
		       const struct ruleset *rs, const struct rs_chain *ch)
{
	struct rules r = { .n_want = ch->n_rules, .n_live = lc->n_rules };
	char **live = xcalloc(lc->n_rules + 1, sizeof(*live));

	r.want = xcalloc(ch->n_rules + 1, sizeof(*r.want));
	for (size_t i = 0; i < ch->n_rules; i++) {
		struct nftnl_rule *nr = nl_build_rule(rs, ch, &ch->rules[i]);

		r.want[i] = nl_rule_canon(nr);
		nftnl_rule_free(nr);
	}
	for (size_t j = 0; j < lc->n_rules; j++)
		live[j] = lc->rules[j].canon;
	r.live = live;
	r.lcs = xcalloc((r.n_want + 1) * (r.n_live + 1), sizeof(*r.lcs));
	lcs_fill(&r);
	walk_rules(d, &r, &(struct run){ .rs = rs, .ch = ch, .lc = lc });
	for (size_t i = 0; i < ch->n_rules; i++)
		free(r.want[i]);
	free(r.want);
	free(live);
	free(r.lcs);
}

static void diff_chains(struct diff *d, const struct nl_live *live,
			const struct ruleset *rs)
{
	for (size_t i = 0; i < rs->n_chains; i++) {
		const struct rs_chain *c = &rs->chains[i];
		const struct nl_live_chain *lc = nl_live_find_chain(live,
								    c->name);

		if (!lc) {
			say(d, ADD, "chain %s (%zu rules)", c->name,
			    c->n_rules);
			continue;
		}
		diff_chain_def(d, lc, rs, c);
		diff_rules(d, lc, rs, c);
	}
	for (size_t i = 0; i < live->n_chains; i++) {
		if (!ruleset_find_chain(rs, live->chains[i].name))
			say(d, DEL, "chain %s (%zu rules)",
			    live->chains[i].name, live->chains[i].n_rules);
	}
}

size_t nl_diff(const struct nl_live *live, const struct ruleset *want,
	       const struct nl_diff_opts *o, FILE *out)
{
	struct diff d = { out, o, 0 };

	if (!live) {
		say(&d, ADD, "table inet %s (%zu sets, %zu elements)",
		    want->table, want->n_sets, ruleset_n_elems(want));
		return d.n;
	}
	diff_comment(&d, live->comment, want->comment);
	diff_sets(&d, live, want);
	diff_chains(&d, live, want);
	return d.n;
}

int nl_plan_diff_err(const struct ruleset *want, FILE *out,
		     struct nl_err *err)
{
	struct nl_diff_opts o = { .plan = true };
	struct nl_live *live = NULL;
	struct nl_sock *nl = nl_open(err);
	int ret = -1;

	if (!nl)
		return -1;
	if (nl_read(nl, &live, err) == 0)
		ret = nl_diff(live, want, &o, out) ? 1 : 0;
	nl_live_free(live);
	nl_close(nl);
	if (ret < 0)
		errno = err->code;
	return ret;
}

int nl_plan_diff(const struct ruleset *want, FILE *out)
{
	struct nl_err err = { 0 };

	return nl_plan_diff_err(want, out, &err);
}
