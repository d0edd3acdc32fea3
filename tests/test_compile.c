/* Unit tests of the compiler and the nft-syntax renderer: golden files for
 * whole tables, and the properties a reviewer relies on (constant rule
 * count, the IPv4-mapped guard, timeouts, overlap handling).
 * UPDATE_GOLDEN=1 rewrites the golden files instead of comparing. */
#include "egressd.h"
#include "ruleset.h"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <sys/socket.h>

struct fixture {
	struct policy p;
	struct resolution res;
};

static void add_resolver(struct policy *p, const char *s)
{
	p->resolvers = xreallocarray(p->resolvers, p->n_resolvers + 1, sizeof(struct addr));
	assert_true(addr_parse(s, &p->resolvers[p->n_resolvers++]));
}

static struct allow_entry *add_entry(struct policy *p, const char *host, const char *cidr,
				     unsigned int proto, const char *ports)
{
	struct allow_entry *en;
	const char *why;
	char *list = xstrdup(ports), *tok, *save;

	p->allow = xreallocarray(p->allow, p->n_allow + 1, sizeof(*p->allow));
	en = &p->allow[p->n_allow++];
	memset(en, 0, sizeof(*en));
	en->host = host ? xstrdup(host) : NULL;
	if (cidr)
		assert_true(prefix_parse(cidr, &en->cidr, &why));
	en->proto = proto;
	en->purpose = xstrdup("test");
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct port_range pr;
		unsigned int lo, hi;

		if (sscanf(tok, "%u-%u", &lo, &hi) != 2)
			hi = lo;
		pr.lo = lo;
		pr.hi = hi;
		en->ports = xreallocarray(en->ports, en->n_ports + 1, sizeof(pr));
		en->ports[en->n_ports++] = pr;
	}
	free(list);
	return en;
}

static struct host_result *add_host(struct resolution *r, const char *host)
{
	struct host_result *hr;

	r->hosts = xreallocarray(r->hosts, r->n_hosts + 1, sizeof(*r->hosts));
	hr = &r->hosts[r->n_hosts++];
	memset(hr, 0, sizeof(*hr));
	hr->host = xstrdup(host);
	hr->status = RES_OK;
	return hr;
}

static void add_addr(struct host_result *hr, const char *a, uint32_t ttl)
{
	hr->addrs = xreallocarray(hr->addrs, hr->n_addrs + 1, sizeof(*hr->addrs));
	hr->addrs[hr->n_addrs] = (struct resolved_addr){ .ttl = ttl };
	assert_true(addr_parse(a, &hr->addrs[hr->n_addrs++].addr));
}

static void base_policy(struct policy *p)
{
	memset(p, 0, sizeof(*p));
	p->version = 1;
	p->defaults.refresh = 300;
	p->defaults.ttl_floor = 30;
	p->defaults.ttl_ceiling = 3600;
	p->defaults.grace = 600;
	p->defaults.stale = 3600;
	p->defaults.blocked = BLOCK_REJECT;
	p->defaults.max_addrs = 64;
	memset(p->sha256_hex, 'a', 64);
}

/* The shipped market-data policy, resolved the way the test DNS answers. */
static void market_data(struct fixture *f)
{
	struct host_result *hr;

	base_policy(&f->p);
	add_resolver(&f->p, "192.0.2.53");
	add_resolver(&f->p, "2001:db8::53");
	add_entry(&f->p, "api.polygon.io", NULL, PROTO_TCP, "443");
	add_entry(&f->p, "www.alphavantage.co", NULL, PROTO_TCP, "443");
	add_entry(&f->p, "query1.finance.yahoo.com", NULL, PROTO_TCP, "443");

	/* resolution_find() binary-searches, so hosts go in sorted. */
	hr = add_host(&f->res, "api.polygon.io");
	add_addr(hr, "198.51.100.10", 300);
	add_addr(hr, "2001:db8:10::10", 300);
	hr = add_host(&f->res, "query1.finance.yahoo.com");
	add_addr(hr, "198.51.100.30", 60);
	add_addr(hr, "198.51.100.31", 60);
	add_addr(hr, "2001:db8:30::30", 60);
	hr = add_host(&f->res, "www.alphavantage.co");
	add_addr(hr, "198.51.100.20", 3600);
}

/* Every option on, CIDRs, ranges, a shared CDN address and an overlap. */
static void kitchen_sink(struct fixture *f)
{
	struct host_result *hr;

	base_policy(&f->p);
	f->p.defaults.blocked = BLOCK_DROP;
	f->p.defaults.log = true;
	f->p.defaults.log_group = 7;
	f->p.forward = true;
	f->p.allow_dhcp = true;
	f->p.allow_ntp = true;
	add_resolver(&f->p, "192.0.2.53");
	add_entry(&f->p, "a.example.com", NULL, PROTO_TCP | PROTO_UDP, "443,8000-8100");
	add_entry(&f->p, "b.example.com", NULL, PROTO_TCP, "443");
	add_entry(&f->p, NULL, "203.0.113.0/24", PROTO_TCP, "22,443");
	add_entry(&f->p, NULL, "203.0.113.128/25", PROTO_TCP, "443");
	add_entry(&f->p, NULL, "2001:db8:99::/48", PROTO_UDP, "5000-5100");

	hr = add_host(&f->res, "a.example.com");
	add_addr(hr, "198.51.100.7", 120);
	hr = add_host(&f->res, "b.example.com");
	add_addr(hr, "198.51.100.7", 900);
	add_addr(hr, "2001:db8::7", 900);
}

static void fixture_free(struct fixture *f)
{
	for (size_t i = 0; i < f->p.n_allow; i++) {
		free(f->p.allow[i].host);
		free(f->p.allow[i].ports);
		free(f->p.allow[i].purpose);
	}
	free(f->p.allow);
	free(f->p.resolvers);
	for (size_t i = 0; i < f->res.n_hosts; i++) {
		free(f->res.hosts[i].host);
		free(f->res.hosts[i].addrs);
	}
	free(f->res.hosts);
}

static char *render_to_string(const struct ruleset *rs)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	render_ruleset(rs, m);
	fclose(m);
	return buf;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = xmalloc(n + 1);
	buf[fread(buf, 1, n, f)] = '\0';
	fclose(f);
	return buf;
}

static void check_golden(const char *name, const char *got)
{
	char *path = xasprintf("%s/golden/%s.nft", TESTS_DIR, name);
	char *want;

	if (getenv("UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fputs(got, f);
		fclose(f);
	}
	want = slurp(path);
	if (!want)
		fail_msg("missing golden file %s (run with UPDATE_GOLDEN=1)", path);
	if (strcmp(want, got))
		fail_msg("%s differs from the rendering:\n%s", path, got);
	free(want);
	free(path);
}

static void golden_case(void (*setup)(struct fixture *), const char *name)
{
	struct fixture f = { 0 };
	struct ruleset *rs;
	char *got;

	setup(&f);
	rs = ruleset_compile(&f.p, &f.res);
	got = render_to_string(rs);
	check_golden(name, got);
	free(got);
	ruleset_free(rs);
	fixture_free(&f);
}

static void test_golden_market_data(void **state)
{
	golden_case(market_data, "market-data");
}

static void test_golden_kitchen_sink(void **state)
{
	golden_case(kitchen_sink, "kitchen-sink");
}

static size_t total_rules(const struct ruleset *rs)
{
	size_t n = 0;

	for (size_t i = 0; i < rs->n_chains; i++)
		n += rs->chains[i].n_rules;
	return n;
}

static void test_rule_count_constant(void **state)
{
	struct fixture small = { 0 }, big = { 0 };
	struct ruleset *a, *b;
	char name[64], ip[32];

	market_data(&small);
	base_policy(&big.p);
	add_resolver(&big.p, "192.0.2.53");
	for (int i = 0; i < 500; i++) {
		struct host_result *hr;

		snprintf(name, sizeof(name), "h%03d.example.com", i);
		add_entry(&big.p, name, NULL, PROTO_TCP, "443,8443");
		hr = add_host(&big.res, name);
		snprintf(ip, sizeof(ip), "198.51.100.%d", i % 250 + 1);
		add_addr(hr, ip, 60);
	}
	a = ruleset_compile(&small.p, &small.res);
	b = ruleset_compile(&big.p, &big.res);
	assert_int_equal(total_rules(a), total_rules(b));
	assert_true(ruleset_n_elems(b) > ruleset_n_elems(a));
	ruleset_free(a);
	ruleset_free(b);
	fixture_free(&small);
	fixture_free(&big);
}

static void test_mapped_guard_precedes_allows(void **state)
{
	struct fixture f = { 0 };
	const struct rs_chain *out;
	struct ruleset *rs;
	ssize_t guard = -1, first_allow = -1;

	market_data(&f);
	rs = ruleset_compile(&f.p, &f.res);
	out = ruleset_find_chain(rs, "output");
	assert_non_null(out);
	for (size_t i = 0; i < out->n_rules; i++) {
		const struct rs_stmt *st = &out->rules[i].stmts[0];

		if (st->kind == RS_MATCH_NFPROTO_DADDR && st->prefix.len == 96 &&
		    IN6_IS_ADDR_V4MAPPED(&st->prefix.addr.v6))
			guard = i;
		if (st->kind == RS_MATCH_LOOKUP && !strncmp(st->set->name, "allow", 5) &&
		    first_allow < 0)
			first_allow = i;
	}
	assert_true(guard >= 0);
	assert_true(guard < first_allow);
	assert_int_equal(out->rules[out->n_rules - 1].stmts[0].kind, RS_GOTO);
	ruleset_free(rs);
	fixture_free(&f);
}

static void test_timeouts_are_ttl_plus_grace(void **state)
{
	struct fixture f = { 0 };
	struct ruleset *rs;
	struct rs_set *s;

	market_data(&f);
	rs = ruleset_compile(&f.p, &f.res);
	s = ruleset_find_set(rs, "allow4");
	assert_non_null(s);
	assert_int_equal(s->n_elems, 4);
	/* 198.51.100.10 sorts first: api.polygon.io, TTL 300 + grace 600. */
	assert_string_equal(s->elems[0].comment, "api.polygon.io");
	assert_int_equal(s->elems[0].timeout_ms, 900 * 1000);
	assert_int_equal(ruleset_find_set(rs, "dns4")->n_elems, 2);
	assert_int_equal(ruleset_find_set(rs, "dns6")->n_elems, 2);
	ruleset_free(rs);
	fixture_free(&f);
}

static void test_overlap_and_duplicates(void **state)
{
	struct fixture f = { 0 };
	struct ruleset *rs;
	struct rs_set *s;

	kitchen_sink(&f);
	rs = ruleset_compile(&f.p, &f.res);
	/* 203.0.113.128/25 tcp 443 lies inside 203.0.113.0/24 tcp 443. */
	s = ruleset_find_set(rs, "allow4_net");
	for (size_t i = 0; i < s->n_elems; i++)
		assert_false(s->elems[i].prefix_len == 25);
	/* 198.51.100.7 tcp 443 comes from both hosts: one element, both names,
	 * the longer timeout. */
	s = ruleset_find_set(rs, "allow4");
	for (size_t i = 0; i < s->n_elems; i++) {
		const struct rs_elem *e = &s->elems[i];

		if (e->l4proto == IPPROTO_TCP && e->port_lo == 443) {
			assert_string_equal(e->comment, "a.example.com, b.example.com");
			assert_int_equal(e->timeout_ms, (900 + 600) * 1000);
		}
	}
	ruleset_free(rs);
	fixture_free(&f);
}

static void test_unresolved_host_adds_nothing(void **state)
{
	struct fixture f = { 0 };
	struct ruleset *rs;

	market_data(&f);
	f.res.hosts[0].n_addrs = 0;	/* api.polygon.io failed to resolve */
	rs = ruleset_compile(&f.p, &f.res);
	for (size_t i = 0; i < rs->n_sets; i++)
		for (size_t j = 0; j < rs->sets[i].n_elems; j++) {
			const char *c = rs->sets[i].elems[j].comment;

			assert_null(c ? strstr(c, "polygon") : NULL);
		}
	ruleset_free(rs);
	f.res.hosts[0].n_addrs = 2;
	fixture_free(&f);
}

/* Twenty names on one CDN address, and a 200-character name: nft takes
 * comments of at most 127 characters, so both are cut with "...". */
static void test_comments_fit_nft(void **state)
{
	struct fixture f = { 0 };
	struct ruleset *rs;
	struct rs_set *s;
	char name[256];

	base_policy(&f.p);
	/* resolution_find() binary-searches: "aaa..." goes in first */
	memset(name, 'a', 200);
	memcpy(name + 200, ".example.com", 13);
	add_entry(&f.p, name, NULL, PROTO_TCP, "443");
	add_addr(add_host(&f.res, name), "198.51.100.8", 60);
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "host-number-%02d.example.com", i);
		add_entry(&f.p, name, NULL, PROTO_TCP, "443");
		add_addr(add_host(&f.res, name), "198.51.100.7", 60);
	}
	rs = ruleset_compile(&f.p, &f.res);
	s = ruleset_find_set(rs, "allow4");
	assert_int_equal(s->n_elems, 2);
	for (size_t i = 0; i < s->n_elems; i++) {
		const char *c = s->elems[i].comment;

		assert_true(strlen(c) < RS_COMMENT_MAX);
		assert_string_equal(c + strlen(c) - 3, "...");
	}
	ruleset_free(rs);
	fixture_free(&f);
}

static void test_render_duration(void **state)
{
	char buf[32];

	assert_string_equal(render_duration(0, buf, sizeof(buf)), "0s");
	assert_string_equal(render_duration(2400000, buf, sizeof(buf)), "40m");
	assert_string_equal(render_duration(90061000, buf, sizeof(buf)), "1d1h1m1s");
	assert_string_equal(render_duration(1500, buf, sizeof(buf)), "1s500ms");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_market_data),
		cmocka_unit_test(test_golden_kitchen_sink),
		cmocka_unit_test(test_rule_count_constant),
		cmocka_unit_test(test_mapped_guard_precedes_allows),
		cmocka_unit_test(test_timeouts_are_ttl_plus_grace),
		cmocka_unit_test(test_overlap_and_duplicates),
		cmocka_unit_test(test_unresolved_host_adds_nothing),
		cmocka_unit_test(test_comments_fit_nft),
		cmocka_unit_test(test_render_duration),
	};

	log_init(-1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
