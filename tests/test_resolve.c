/* Unit tests for resolution: DNS answers built byte by byte and fed to the
 * address intake, hosts(5) files, and the bookkeeping around results. */
#include "egressd.h"
#include "resolve.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

/* ---- a DNS response builder ---- */

struct msg {
	unsigned char b[4096];
	size_t n;
};

static void put8(struct msg *m, unsigned int v)
{
	assert_true(m->n < sizeof(m->b));
	m->b[m->n++] = v & 0xff;
}

static void put16(struct msg *m, unsigned int v)
{
	put8(m, v >> 8);
	put8(m, v);
}

static void put32(struct msg *m, uint32_t v)
{
	put16(m, v >> 16);
	put16(m, v);
}

static void put_name(struct msg *m, const char *name)
{
	while (*name) {
		size_t len = strcspn(name, ".");

		put8(m, len);
		for (size_t i = 0; i < len; i++)
			put8(m, name[i]);
		name += len;
		if (*name == '.')
			name++;
	}
	put8(m, 0);
}

/* A response header with one question; records are added after it. */
static void msg_start(struct msg *m, const char *qname, int qtype, int rcode)
{
	m->n = 0;
	put16(m, 0x4567);
	put8(m, 0x81);			/* QR, RD */
	put8(m, 0x80 | rcode);		/* RA */
	put16(m, 1);
	put16(m, 0);
	put16(m, 0);
	put16(m, 0);
	put_name(m, qname);
	put16(m, qtype);
	put16(m, ns_c_in);
}

static void rr_start(struct msg *m, const char *name, int type, uint32_t ttl)
{
	put_name(m, name);
	put16(m, type);
	put16(m, ns_c_in);
	put32(m, ttl);
	m->b[7]++;			/* ANCOUNT, low byte */
}

static void add_a(struct msg *m, const char *name, uint32_t ttl, const char *ip)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, ip, &a), 1);
	rr_start(m, name, ns_t_a, ttl);
	put16(m, 4);
	memcpy(&m->b[m->n], &a, 4);
	m->n += 4;
}

static void add_aaaa(struct msg *m, const char *name, uint32_t ttl,
		     const char *ip)
{
	struct in6_addr a;

	assert_int_equal(inet_pton(AF_INET6, ip, &a), 1);
	rr_start(m, name, ns_t_aaaa, ttl);
	put16(m, 16);
	memcpy(&m->b[m->n], &a, 16);
	m->n += 16;
}

static void add_cname(struct msg *m, const char *name, uint32_t ttl,
		      const char *target)
{
	size_t at;

	rr_start(m, name, ns_t_cname, ttl);
	at = m->n;
	put16(m, 0);
	put_name(m, target);
	m->b[at] = (m->n - at - 2) >> 8;
	m->b[at + 1] = (m->n - at - 2) & 0xff;
}

/* ---- helpers ---- */

static const struct policy_defaults defaults = {
	.ttl_floor = 30,
	.ttl_ceiling = 3600,
	.max_addrs = 16,
};

static enum res_status feed(const struct msg *m, int family,
			    const struct policy_defaults *d,
			    struct host_result *hr)
{
	return dns_answer_intake(m->b, m->n, family, d, hr);
}

static void hr_clear(struct host_result *hr)
{
	free(hr->addrs);
	free(hr->detail);
	memset(hr, 0, sizeof(*hr));
	hr->host = (char *)"www.example.com";
}

static void assert_addr(const struct resolved_addr *ra, const char *ip,
			uint32_t ttl)
{
	char buf[ADDR_STRLEN];

	assert_string_equal(addr_fmt(&ra->addr, buf), ip);
	assert_int_equal(ra->ttl, ttl);
}

/* A policy whose allow entries name these hosts; NULL makes a CIDR entry. */
static struct policy *policy_with(const char *const *hosts, size_t n)
{
	struct policy *p = xcalloc(1, sizeof(*p));

	p->defaults = defaults;
	p->allow = xcalloc(n, sizeof(*p->allow));
	p->n_allow = n;
	for (size_t i = 0; i < n; i++)
		p->allow[i].host = (char *)hosts[i];
	return p;
}

static void policy_drop(struct policy *p)
{
	free(p->allow);
	free(p->resolvers);
	free(p);
}

/* ---- addresses and TTLs ---- */

static void test_a_answer(void **state)
{
	struct host_result hr = { .host = (char *)"www.example.com" };
	struct msg m;

	msg_start(&m, "www.example.com", ns_t_a, ns_r_noerror);
	add_a(&m, "www.example.com", 300, "192.0.2.10");
	assert_int_equal(feed(&m, AF_INET, &defaults, &hr), RES_OK);
	assert_int_equal(hr.n_addrs, 1);
	assert_addr(&hr.addrs[0], "192.0.2.10", 300);
	assert_false(hr.capped);
	hr_clear(&hr);
}

static void test_aaaa_answer(void **state)
{
	struct host_result hr = { .host = (char *)"www.example.com" };
	struct msg m;

	msg_start(&m, "www.example.com", ns_t_aaaa, ns_r_noerror);
	add_aaaa(&m, "www.example.com", 120, "2001:db8::10");
	assert_int_equal(feed(&m, AF_INET6, &defaults, &hr), RES_OK);
	assert_int_equal(hr.n_addrs, 1);
	assert_addr(&hr.addrs[0], "2001:db8::10", 120);
	hr_clear(&hr);
}

/* c-ares 1.18 folds the lowest CNAME TTL into each address's TTL. */
static void test_cname_ttl(void **state)
{
	struct host_result hr = { .host = (char *)"www.example.com" };
	struct msg m;

	msg_start(&m, "www.example.com", ns_t_a, ns_r_noerror);
	add_cname(&m, "www.example.com", 40, "edge.example.net");
	add_a(&m, "edge.example.net", 300, "198.51.100.7");
	assert_int_equal(feed(&m, AF_INET, &defaults, &hr), RES_OK);
	assert_int_equal(hr.n_addrs, 1);
	assert_addr(&hr.addrs[0], "198.51.100.7", 40);
	hr_clear(&hr);

	/* The lowest link anywhere along a longer chain. */
	msg_start(&m, "www.example.com", ns_t_aaaa, ns_r_noerror);
	add_cname(&m, "www.example.com", 600, "a.example.net");
	add_cname(&m, "a.example.net", 90, "b.example.org");
	add_aaaa(&m, "b.example.org", 300, "2001:db8::7");
	assert_int_equal(feed(&m, AF_INET6, &defaults, &hr), RES_OK);
	assert_addr(&hr.addrs[0], "2001:db8::7", 90);
	hr_clear(&hr);

	/* And the address's own TTL when that is the lowest. */
	msg_start(&m, "www.example.com", ns_t_a, ns_r_noerror);
	add_cname(&m, "www.example.com", 300, "edge.example.net");
	add_a(&m, "edge.example.net", 45, "198.51.100.8");
	assert_int_equal(feed(&m, AF_INET, &defaults, &hr), RES_OK);
	assert_addr(&hr.addrs[0], "198.51.100.8", 45);
	hr_clear(&hr);
}

static void test_ttl_clamped(void **state)
{
	struct host_result hr = { .host = (char *)"www.example.com" };
	struct msg m;

	msg_start(&m, "www.example.com", ns_t_a, ns_r_noerror);
	add_a(&m, "www.example.com", 5, "192.0.2.1");
	add_a(&m, "www.example.com", 86400, "192.0.2.2");
	add_a(&m, "www.example.com", 0, "192.0.2.3");
	/* Top bit set: zero, by RFC 2181. */
	add_a(&m, "www.example.com", 0x80000001u, "192.0.2.4");
	assert_int_equal(feed(&m, AF_INET, &defaults, &hr), RES_OK);
	assert_int_equal(hr.n_addrs, 4);
	assert_addr(&hr.addrs[0], "192.0.2.1", 30);
	assert_addr(&hr.addrs[1], "192.0.2.2", 3600);
	assert_addr(&hr.addrs[2], "192.0.2.3", 30);
	assert_addr(&hr.addrs[3], "192.0.2.4", 30);
	hr_clear(&hr);

	assert_int_equal(ttl_clamp(29, &defaults), 30);
	assert_int_equal(ttl_clamp(30, &defaults), 30);
	assert_int_equal(ttl_clamp(1000, &defaults), 1000);
	assert_int_equal(ttl_clamp(3600, &defaults), 3600);
	assert_int_equal(ttl_clamp(UINT32_MAX, &defaults), 3600);
}

static void test_refused_addresses(void **state)
{
	struct host_result hr = { .host = (char *)"www.example.com" };
	struct msg m;

	msg_start(&m, "www.example.com", ns_t_a, ns_r_noerror);
	add_a(&m, "www.example.com", 300, "0.0.0.0");
	add_a(&m, "www.example.com", 300, "203.0.113.5");
	assert_int_equal(feed(&m, AF_INET, &defaults, &hr), RES_OK);
	assert_int_equal(hr.n_addrs, 1);
	assert_addr(&hr.addrs[0], "203.0.113.5", 300);
	hr_clear(&hr);

	msg_start(&m, "www.example.com", ns_t_aaaa, ns_r_noerror);
	add_aaaa(&m, "www.example.com", 300, "::ffff:192.0.2.1");
	add_aaaa(&m, "www.example.com", 300, "::");
	add_aaaa(&m, "www.example.com", 300, "2001:db8::5");
	assert_int_equal(feed(&m, AF_INET6, &defaults, &hr), RES_OK);
	assert_int_equal(hr.n_addrs, 1);
	assert_addr(&hr.addrs[0], "2001:db8::5", 300);
	hr_clear(&hr);

	/* Nothing usable left: the name has no data that may be used. */
	msg_start(&m, "www.example.com", ns_t_aaaa, ns_r_noerror);
	add_aaaa(&m, "www.example.com", 300, "::ffff:198.51.100.1");
	assert_int_equal(feed(&m, AF_INET6, &defaults, &hr), RES_NODATA);
	assert_int_equal(hr.n_addrs, 0);
	hr_clear(&hr);
}

static void test_merge_sorted_unique(void **state)
{
	struct host_result hr = { .host = (char *)"www.example.com" };
	struct msg m;

	msg_start(&m, "www.example.com", ns_t_aaaa, ns_r_noerror);
	add_aaaa(&m, "www.example.com", 300, "2001:db8::2");
	add_aaaa(&m, "www.example.com", 300, "2001:db8::1");
	assert_int_equal(feed(&m, AF_INET6, &defaults, &hr), RES_OK);

	msg_start(&m, "www.example.com", ns_t_a, ns_r_noerror);
	add_a(&m, "www.example.com", 100, "203.0.113.9");
	add_a(&m, "www.example.com", 50, "192.0.2.5");
	add_a(&m, "www.example.com", 200, "203.0.113.9");
	assert_int_equal(feed(&m, AF_INET, &defaults, &hr), RES_OK);

	/* A later answer vouching longer for a known address. */
	msg_start(&m, "www.example.com", ns_t_a, ns_r_noerror);
	add_a(&m, "www.example.com", 900, "192.0.2.5");
	assert_int_equal(feed(&m, AF_INET, &defaults, &hr), RES_OK);

	assert_int_equal(hr.n_addrs, 4);
	assert_addr(&hr.addrs[0], "192.0.2.5", 900);
	assert_addr(&hr.addrs[1], "203.0.113.9", 200);
	assert_addr(&hr.addrs[2], "2001:db8::1", 300);
	assert_addr(&hr.addrs[3], "2001:db8::2", 300);
	hr_clear(&hr);
}

static void test_cap(void **state)
{
	struct policy_defaults d = defaults;
	struct host_result hr = { .host = (char *)"www.example.com" };
	struct msg m;

	d.max_addrs = 3;
	msg_start(&m, "www.example.com", ns_t_a, ns_r_noerror);
	add_a(&m, "www.example.com", 300, "203.0.113.5");
	add_a(&m, "www.example.com", 300, "192.0.2.9");
	add_a(&m, "www.example.com", 300, "203.0.113.1");
	add_a(&m, "www.example.com", 300, "198.51.100.3");
	add_a(&m, "www.example.com", 300, "192.0.2.1");
	assert_int_equal(feed(&m, AF_INET, &d, &hr), RES_OK);
	assert_true(hr.capped);
	assert_int_equal(hr.n_addrs, 3);
	assert_addr(&hr.addrs[0], "192.0.2.1", 300);
	assert_addr(&hr.addrs[1], "192.0.2.9", 300);
	assert_addr(&hr.addrs[2], "198.51.100.3", 300);

	/* The cap is per family. */
	msg_start(&m, "www.example.com", ns_t_aaaa, ns_r_noerror);
	add_aaaa(&m, "www.example.com", 300, "2001:db8::3");
	add_aaaa(&m, "www.example.com", 300, "2001:db8::2");
	add_aaaa(&m, "www.example.com", 300, "2001:db8::1");
	assert_int_equal(feed(&m, AF_INET6, &d, &hr), RES_OK);
	assert_int_equal(hr.n_addrs, 6);
	assert_addr(&hr.addrs[3], "2001:db8::1", 300);
	hr_clear(&hr);

	/* Exactly at the cap is not capped. */
	msg_start(&m, "www.example.com", ns_t_a, ns_r_noerror);
	add_a(&m, "www.example.com", 300, "192.0.2.1");
	add_a(&m, "www.example.com", 300, "192.0.2.2");
	add_a(&m, "www.example.com", 300, "192.0.2.3");
	add_a(&m, "www.example.com", 300, "192.0.2.2");
	assert_int_equal(feed(&m, AF_INET, &d, &hr), RES_OK);
	assert_int_equal(hr.n_addrs, 3);
	assert_false(hr.capped);
	hr_clear(&hr);
}

/* ---- status ---- */

static void test_status_codes(void **state)
{
	static const struct {
		int rcode;
		enum res_status want;
	} cases[] = {
		{ ns_r_nxdomain, RES_NXDOMAIN },
		{ ns_r_servfail, RES_SERVFAIL },
		{ ns_r_refused, RES_REFUSED },
		{ ns_r_formerr, RES_ERROR },
		{ ns_r_notimpl, RES_ERROR },
		{ 9, RES_ERROR },
		{ ns_r_noerror, RES_NODATA },
	};
	struct host_result hr = { .host = (char *)"www.example.com" };
	struct msg m;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		msg_start(&m, "www.example.com", ns_t_a, cases[i].rcode);
		assert_int_equal(feed(&m, AF_INET, &defaults, &hr),
				 cases[i].want);
		assert_int_equal(hr.n_addrs, 0);
	}

	/* An NXDOMAIN with stray records still yields nothing. */
	msg_start(&m, "www.example.com", ns_t_a, ns_r_nxdomain);
	add_a(&m, "www.example.com", 300, "192.0.2.1");
	assert_int_equal(feed(&m, AF_INET, &defaults, &hr), RES_NXDOMAIN);
	assert_int_equal(hr.n_addrs, 0);

	/* A CNAME to a name without addresses of this family. */
	msg_start(&m, "www.example.com", ns_t_a, ns_r_noerror);
	add_cname(&m, "www.example.com", 300, "edge.example.net");
	assert_int_equal(feed(&m, AF_INET, &defaults, &hr), RES_NODATA);
	assert_int_equal(hr.n_addrs, 0);
	hr_clear(&hr);
}

static void test_family_must_match(void **state)
{
	struct host_result hr = { .host = (char *)"www.example.com" };
	struct msg m;

	msg_start(&m, "www.example.com", ns_t_a, ns_r_noerror);
	add_a(&m, "www.example.com", 300, "192.0.2.1");
	assert_int_equal(feed(&m, AF_INET6, &defaults, &hr), RES_NODATA);
	assert_int_equal(hr.n_addrs, 0);
	assert_int_equal(feed(&m, AF_UNIX, &defaults, &hr), RES_ERROR);
	assert_int_equal(hr.n_addrs, 0);

	msg_start(&m, "www.example.com", ns_t_aaaa, ns_r_noerror);
	add_aaaa(&m, "www.example.com", 300, "2001:db8::1");
	assert_int_equal(feed(&m, AF_INET, &defaults, &hr), RES_NODATA);
	assert_int_equal(hr.n_addrs, 0);
	hr_clear(&hr);
}

/* Records for names off the CNAME chain are not the answer. */
static void test_unrelated_records(void **state)
{
	struct host_result hr = { .host = (char *)"www.example.com" };
	struct msg m;

	msg_start(&m, "www.example.com", ns_t_a, ns_r_noerror);
	add_a(&m, "evil.example.org", 300, "203.0.113.66");
	assert_int_equal(feed(&m, AF_INET, &defaults, &hr), RES_NODATA);
	assert_int_equal(hr.n_addrs, 0);

	msg_start(&m, "www.example.com", ns_t_a, ns_r_noerror);
	add_cname(&m, "www.example.com", 300, "edge.example.net");
	add_a(&m, "evil.example.org", 300, "203.0.113.66");
	add_a(&m, "edge.example.net", 300, "198.51.100.1");
	assert_int_equal(feed(&m, AF_INET, &defaults, &hr), RES_OK);
	assert_int_equal(hr.n_addrs, 1);
	assert_addr(&hr.addrs[0], "198.51.100.1", 300);
	hr_clear(&hr);
}

static void assert_sane(enum res_status st, const struct host_result *hr,
			size_t max)
{
	assert_true(st <= RES_SKIPPED);
	assert_true(hr->n_addrs <= max);
	for (size_t i = 0; i < hr->n_addrs; i++) {
		assert_null(addr_refusal(&hr->addrs[i].addr));
		if (i)
			assert_true(addr_cmp(&hr->addrs[i - 1].addr,
					     &hr->addrs[i].addr) < 0);
	}
}

static void test_garbage(void **state)
{
	struct host_result hr = { .host = (char *)"www.example.com" };
	struct msg m, cut;
	unsigned int seed = 1;
	enum res_status st;

	assert_int_equal(dns_answer_intake(NULL, 0, AF_INET, &defaults, &hr),
			 RES_ERROR);
	assert_int_equal(dns_answer_intake((unsigned char *)"", 0, AF_INET,
					   &defaults, &hr), RES_ERROR);
	assert_int_equal(dns_answer_intake((unsigned char *)"\x45\x67\x81", 3,
					   AF_INET, &defaults, &hr), RES_ERROR);

	msg_start(&m, "www.example.com", ns_t_a, ns_r_noerror);
	add_cname(&m, "www.example.com", 40, "edge.example.net");
	add_a(&m, "edge.example.net", 300, "198.51.100.7");
	add_a(&m, "edge.example.net", 300, "198.51.100.8");

	/* Every truncation: an error, or the records that were whole. */
	for (cut.n = 0; cut.n < m.n; cut.n++) {
		memcpy(cut.b, m.b, cut.n);
		st = feed(&cut, AF_INET, &defaults, &hr);
		assert_sane(st, &hr, 2);
		if (cut.n < 12 + 21)
			assert_int_equal(st, RES_ERROR);
		hr_clear(&hr);
	}

	/* Random bytes, and the answer with random bytes changed. */
	for (int round = 0; round < 20000; round++) {
		cut = m;
		if (round % 2) {
			cut.n = rand_r(&seed) % 300;
			for (size_t i = 0; i < cut.n; i++)
				cut.b[i] = rand_r(&seed);
		} else {
			for (int k = rand_r(&seed) % 4; k >= 0; k--)
				cut.b[rand_r(&seed) % m.n] = rand_r(&seed);
		}
		st = feed(&cut, round % 4 < 2 ? AF_INET : AF_INET6,
			  &defaults, &hr);
		assert_sane(st, &hr, defaults.max_addrs);
		hr_clear(&hr);
	}
}

/* ---- raw answers kept in tests/dns, which also seed the fuzzer ----
 *
 * Most were captured from dnsmasq 2.90 serving documentation addresses;
 * servfail.bin and mapped-aaaa.bin were written by hand, and truncated.bin
 * is cname-a.bin cut off inside the CNAME's target name. */

struct fixture {
	const char *file;
	int family;
	enum res_status want;
	const char *first;		/* first address, or NULL */
	uint32_t ttl;
};

static const struct fixture fixtures[] = {
	{ "a.bin", AF_INET, RES_OK, "192.0.2.10", 300 },
	{ "aaaa.bin", AF_INET6, RES_OK, "2001:db8::10", 300 },
	{ "cname-a.bin", AF_INET, RES_OK, "198.51.100.7", 40 },
	{ "cname-aaaa.bin", AF_INET6, RES_OK, "2001:db8:1::7", 40 },
	{ "many-a.bin", AF_INET, RES_OK, "203.0.113.1", 120 },
	{ "nxdomain.bin", AF_INET, RES_NXDOMAIN, NULL, 0 },
	{ "nodata-aaaa.bin", AF_INET6, RES_NODATA, NULL, 0 },
	{ "servfail.bin", AF_INET, RES_SERVFAIL, NULL, 0 },
	{ "refused.bin", AF_INET, RES_REFUSED, NULL, 0 },
	{ "mapped-aaaa.bin", AF_INET6, RES_NODATA, NULL, 0 },
	{ "truncated.bin", AF_INET, RES_ERROR, NULL, 0 },
};

static void load_fixture(const char *file, struct msg *m)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/dns/%s", TESTS_DIR, file);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	m->n = fread(m->b, 1, sizeof(m->b), f);
	fclose(f);
	assert_true(m->n > 0);
}

static void test_fixtures(void **state)
{
	struct host_result hr = { .host = (char *)"www.example.com" };

	for (size_t i = 0; i < ARRAY_SIZE(fixtures); i++) {
		const struct fixture *fx = &fixtures[i];
		struct msg m;

		load_fixture(fx->file, &m);
		print_message("%s\n", fx->file);
		assert_int_equal(feed(&m, fx->family, &defaults, &hr), fx->want);
		if (fx->first) {
			assert_true(hr.n_addrs > 0);
			assert_addr(&hr.addrs[0], fx->first, fx->ttl);
		} else {
			assert_int_equal(hr.n_addrs, 0);
		}
		hr_clear(&hr);
	}
}

/* ---- hosts files ---- */

static const char hosts_text[] =
	"# a hosts file for egressd's tests\n"
	"\n"
	"192.0.2.10\tapi.example.com api\n"
	"2001:db8::10 API.Example.COM   # upper case still matches\n"
	"   198.51.100.20 other.example.com cdn.example.com.\n"
	"198.51.100.21 cdn.example.com\n"
	"198.51.100.20 cdn.example.com\n"
	"0.0.0.0 bad.example.com\n"
	"::ffff:192.0.2.1 bad.example.com\n"
	"fe80::1%eth0 api.example.com\n"
	"not-an-address api.example.com\n"
	"#192.0.2.99 api.example.com\n"
	"203.0.113.1 many.example.com\n"
	"203.0.113.4 many.example.com\n"
	"203.0.113.3 many.example.com\n"
	"203.0.113.2 many.example.com\n"
	"2001:db8::1 many.example.com";	/* no final newline */

static char *write_temp(const char *text)
{
	char *path = xstrdup("/tmp/egressd-test-hosts.XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_hosts_file(void **state)
{
	static const char *const hosts[] = {
		"cdn.example.com", "api.example.com", "absent.example.com",
		NULL, "bad.example.com", "many.example.com", "api.example.com",
	};
	struct policy *p = policy_with(hosts, ARRAY_SIZE(hosts));
	char *path = write_temp(hosts_text), *source;
	const struct host_result *hr;
	struct resolution r;

	p->defaults.max_addrs = 3;
	assert_int_equal(resolve_hosts_file(p, path, &r), 0);
	source = xasprintf("hosts file %s", path);
	assert_string_equal(r.source, source);
	assert_int_equal(r.n_hosts, 5);

	hr = resolution_find(&r, "api.example.com");
	assert_non_null(hr);
	assert_int_equal(hr->status, RES_OK);
	assert_null(hr->detail);
	assert_int_equal(hr->n_addrs, 2);
	assert_addr(&hr->addrs[0], "192.0.2.10", 3600);
	assert_addr(&hr->addrs[1], "2001:db8::10", 3600);

	hr = resolution_find(&r, "cdn.example.com");
	assert_int_equal(hr->n_addrs, 2);
	assert_addr(&hr->addrs[0], "198.51.100.20", 3600);
	assert_addr(&hr->addrs[1], "198.51.100.21", 3600);

	hr = resolution_find(&r, "absent.example.com");
	assert_int_equal(hr->status, RES_NXDOMAIN);
	assert_string_equal(hr->detail, "not in hosts file");
	assert_int_equal(hr->n_addrs, 0);

	hr = resolution_find(&r, "bad.example.com");
	assert_int_equal(hr->status, RES_NODATA);
	assert_int_equal(hr->n_addrs, 0);

	hr = resolution_find(&r, "many.example.com");
	assert_int_equal(hr->status, RES_OK);
	assert_true(hr->capped);
	assert_int_equal(hr->n_addrs, 4);
	assert_addr(&hr->addrs[2], "203.0.113.3", 3600);
	assert_addr(&hr->addrs[3], "2001:db8::1", 3600);
	assert_true(hr->resolved_at > 0);

	resolution_free(&r);
	unlink(path);
	free(path);
	free(source);
	policy_drop(p);
}

static void test_hosts_file_unreadable(void **state)
{
	static const char *const hosts[] = { "api.example.com" };
	struct policy *p = policy_with(hosts, 1);
	struct resolution r;

	errno = 0;
	assert_int_equal(resolve_hosts_file(p, "/nonexistent/hosts", &r), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(r.n_hosts, 0);
	assert_null(r.hosts);

	errno = 0;
	assert_int_equal(resolve_hosts_file(p, "/", &r), -1);
	assert_int_equal(errno, EISDIR);
	assert_int_equal(r.n_hosts, 0);
	policy_drop(p);
}

/* ---- the resolution itself ---- */

static void test_offline(void **state)
{
	static const char *const hosts[] = {
		"b.example.com", NULL, "a.example.com", "c.example.com",
		"a.example.com", NULL, "b.example.com",
	};
	struct policy *p = policy_with(hosts, ARRAY_SIZE(hosts));
	struct resolution r;

	resolve_offline(p, &r);
	assert_string_equal(r.source, "offline");
	assert_int_equal(r.n_hosts, 3);
	assert_string_equal(r.hosts[0].host, "a.example.com");
	assert_string_equal(r.hosts[1].host, "b.example.com");
	assert_string_equal(r.hosts[2].host, "c.example.com");
	for (size_t i = 0; i < r.n_hosts; i++) {
		assert_int_equal(r.hosts[i].status, RES_SKIPPED);
		assert_int_equal(r.hosts[i].n_addrs, 0);
	}
	assert_ptr_equal(resolution_find(&r, "c.example.com"), &r.hosts[2]);
	assert_ptr_equal(resolution_find(&r, "a.example.com"), &r.hosts[0]);
	assert_null(resolution_find(&r, "d.example.com"));
	assert_null(resolution_find(&r, ""));
	resolution_free(&r);
	assert_int_equal(r.n_hosts, 0);
	resolution_free(&r);
	resolution_free(NULL);
	policy_drop(p);
}

static void test_dns_without_resolvers(void **state)
{
	static const char *const hosts[] = { "api.example.com" };
	struct policy *p = policy_with(hosts, 1);
	struct resolution r;

	assert_int_equal(resolve_dns(p, &r), 0);
	assert_string_equal(r.source, "dns");
	assert_int_equal(r.n_hosts, 1);
	assert_int_equal(r.hosts[0].status, RES_ERROR);
	assert_non_null(r.hosts[0].detail);
	resolution_free(&r);

	p->n_allow = 0;
	assert_int_equal(resolve_dns(p, &r), 0);
	assert_int_equal(r.n_hosts, 0);
	assert_null(resolution_find(&r, "api.example.com"));
	resolution_free(&r);
	policy_drop(p);
}

static void test_status_words(void **state)
{
	assert_string_equal(res_status_str(RES_OK), "ok");
	assert_string_equal(res_status_str(RES_NXDOMAIN), "nxdomain");
	assert_string_equal(res_status_str(RES_NODATA), "nodata");
	assert_string_equal(res_status_str(RES_TIMEOUT), "timeout");
	assert_string_equal(res_status_str(RES_SERVFAIL), "servfail");
	assert_string_equal(res_status_str(RES_REFUSED), "refused");
	assert_string_equal(res_status_str(RES_ERROR), "error");
	assert_string_equal(res_status_str(RES_SKIPPED), "skipped");
	assert_string_equal(res_status_str((enum res_status)42), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_answer),
		cmocka_unit_test(test_aaaa_answer),
		cmocka_unit_test(test_cname_ttl),
		cmocka_unit_test(test_ttl_clamped),
		cmocka_unit_test(test_refused_addresses),
		cmocka_unit_test(test_merge_sorted_unique),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_status_codes),
		cmocka_unit_test(test_family_must_match),
		cmocka_unit_test(test_unrelated_records),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_hosts_file),
		cmocka_unit_test(test_hosts_file_unreadable),
		cmocka_unit_test(test_offline),
		cmocka_unit_test(test_dns_without_resolvers),
		cmocka_unit_test(test_status_words),
	};

	log_init(-1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
