/* libFuzzer target for the compiler and the nft-syntax renderer: a policy,
 * then made-up DNS results for its hosts, compiled and printed.  Checks
 * what the kernel and a reader rely on: sorted unique elements, no
 * overlapping intervals, no refused address in a set, the same text twice.
 *
 * Input: policy YAML, then optionally a NUL byte and the bytes the
 * addresses are made from; without a NUL the whole input serves for both,
 * so a plain policy file is a useful seed. */
#include "egressd.h"
#include "resolve.h"
#include "ruleset.h"

#include <netinet/in.h>
#include <sys/socket.h>

/* Past this, the pairwise overlap check would cost more than the run. */
#define CHECK_MAX_ELEMS 2048
#define ADDRS_PER_HOST_MAX 8

struct pool {
	const uint8_t *p;
	size_t n;
};

static bool take(struct pool *pl, void *out, size_t n)
{
	if (pl->n < n)
		return false;
	memcpy(out, pl->p, n);
	pl->p += n;
	pl->n -= n;
	return true;
}

/* The CIDR entries' networks make good addresses: inside one, a host's
 * element overlaps an interval, which the compiler must sort out. */
static const struct prefix *pick_cidr(const struct policy *p, uint8_t k)
{
	size_t n = 0, i;

	for (i = 0; i < p->n_allow; i++)
		n += !p->allow[i].host;
	if (!n)
		return NULL;
	k %= n;
	for (i = 0; i < p->n_allow; i++)
		if (!p->allow[i].host && !k--)
			return &p->allow[i].cidr;
	return NULL;
}

/* Host bits from the pool under the network's bits. */
static void inside_cidr(struct addr *a, const struct prefix *pf)
{
	size_t len = addr_len(&pf->addr);

	a->family = pf->addr.family;
	for (size_t i = 0; i < len; i++) {
		unsigned int bits = pf->len > i * 8 ? pf->len - i * 8 : 0;
		uint8_t net = bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits);

		a->bytes[i] = (pf->addr.bytes[i] & net) | (a->bytes[i] & ~net);
	}
}

static bool make_addr(struct pool *pl, const struct policy *p,
		      struct resolved_addr *ra)
{
	uint8_t how, k = 0;
	uint16_t ttl;
	const struct prefix *pf;

	memset(ra, 0, sizeof(*ra));
	if (!take(pl, &how, 1))
		return false;
	ra->addr.family = how & 1 ? AF_INET6 : AF_INET;
	if (!take(pl, ra->addr.bytes, addr_len(&ra->addr)) || !take(pl, &ttl, 2))
		return false;
	pf = how & 2 && take(pl, &k, 1) ? pick_cidr(p, k) : NULL;
	if (pf)
		inside_cidr(&ra->addr, pf);
	ra->ttl = ttl_clamp(ttl, &p->defaults);
	return true;
}

static int ra_cmp(const void *a, const void *b)
{
	const struct resolved_addr *x = a, *y = b;

	return addr_cmp(&x->addr, &y->addr);
}

/* What the resolver promises of a host_result: no refused address,
 * sorted, unique, and at most max_addrs of each family (the lowest). */
static void normalise(struct host_result *hr, uint32_t cap)
{
	size_t kept = 0, n4 = 0, n6 = 0;

	qsort(hr->addrs, hr->n_addrs, sizeof(*hr->addrs), ra_cmp);
	for (size_t i = 0; i < hr->n_addrs; i++) {
		const struct resolved_addr *ra = &hr->addrs[i];
		size_t *nf = ra->addr.family == AF_INET ? &n4 : &n6;

		if (addr_refusal(&ra->addr))
			continue;
		if (kept && !addr_cmp(&hr->addrs[kept - 1].addr, &ra->addr))
			continue;
		if (cap && *nf >= cap) {
			hr->capped = true;
			continue;
		}
		(*nf)++;
		hr->addrs[kept++] = *ra;
	}
	hr->n_addrs = kept;
}

static void fake_host(struct pool *pl, const struct policy *p,
		      struct host_result *hr)
{
	static const enum res_status failures[] = {
		RES_NXDOMAIN, RES_NODATA, RES_TIMEOUT, RES_SERVFAIL, RES_ERROR,
	};
	uint8_t c = 0;
	size_t want;

	take(pl, &c, 1);
	want = c % (ADDRS_PER_HOST_MAX + 1);
	hr->addrs = xcalloc(want ? want : 1, sizeof(*hr->addrs));
	while (hr->n_addrs < want && make_addr(pl, p, &hr->addrs[hr->n_addrs]))
		hr->n_addrs++;
	normalise(hr, p->defaults.max_addrs);
	hr->status = hr->n_addrs ? RES_OK : failures[(c >> 4) % ARRAY_SIZE(failures)];
	hr->resolved_at = 1700000000;
}

/* resolve_offline() lays out the hosts the way every resolver does;
 * only the addresses are made up. */
static void fake_resolution(const struct policy *p, struct pool *pl,
			    struct resolution *res)
{
	resolve_offline(p, res);
	for (size_t i = 0; i < res->n_hosts; i++)
		fake_host(pl, p, &res->hosts[i]);
}

static bool overlap(const struct rs_elem *a, const struct rs_elem *b)
{
	return a->l4proto == b->l4proto &&
	       addr_cmp(&a->addr, &b->addr_end) <= 0 &&
	       addr_cmp(&b->addr, &a->addr_end) <= 0 &&
	       a->port_lo <= b->port_hi && b->port_lo <= a->port_hi;
}

static void check_set(const struct rs_set *s)
{
	bool interval = s->flags & RS_SET_INTERVAL;

	for (size_t i = 0; i < s->n_elems; i++) {
		const struct rs_elem *e = &s->elems[i];

		if (i && rs_elem_cmp(&s->elems[i - 1], e) >= 0)
			abort();
		if (e->addr.family && !interval && addr_refusal(&e->addr))
			abort();
		if (e->port_lo > e->port_hi)
			abort();
		if (!interval || s->n_elems > CHECK_MAX_ELEMS)
			continue;
		for (size_t j = 0; j < i; j++)
			if (overlap(&s->elems[j], e))
				abort();
	}
}

static char *render(const struct ruleset *rs, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	if (!f)
		abort();
	render_ruleset(rs, f);
	fclose(f);
	return text;
}

static void check_ruleset(const struct ruleset *rs)
{
	size_t len1, len2;
	char *t1, *t2;

	for (size_t i = 0; i < rs->n_sets; i++)
		check_set(&rs->sets[i]);
	t1 = render(rs, &len1);
	t2 = render(rs, &len2);
	if (len1 != len2 || memcmp(t1, t2, len1))
		abort();
	free(t1);
	free(t2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t ylen = nul ? (size_t)(nul - data) : size;
	struct pool pl = { data, size };
	struct policy_errors errs = { 0 };
	struct resolution res;
	struct ruleset *rs;
	struct policy *p;

	if (nul)
		pl = (struct pool){ nul + 1, size - ylen - 1 };
	p = policy_load_buffer("fuzz.yaml", (const char *)data, ylen, &errs);
	policy_errors_clear(&errs);
	if (!p)
		return 0;
	fake_resolution(p, &pl, &res);
	rs = ruleset_compile(p, &res);
	check_ruleset(rs);
	ruleset_free(rs);
	resolution_free(&res);
	policy_free(p);
	return 0;
}
