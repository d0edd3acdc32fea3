/* Tests of the policy loader: each file in tests/policy/bad/ is one test that
 * must fail with exactly the messages of the .err file beside it; the good
 * policies, and the ones shipped in policy/, must load with their values. */
#include "egressd.h"
#include "policy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <unistd.h>

#include <cmocka.h>

#define BAD_DIR "policy/bad"
#define SYSTEM_RESOLV "policy/good/resolv.conf"

static char *read_text(const char *path)
{
	char *buf = NULL;
	size_t len = 0, r;
	char chunk[4096];
	FILE *f = fopen(path, "re");

	if (!f)
		return NULL;
	while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf = xrealloc(buf, len + r + 1);
		memcpy(buf + len, chunk, r);
		len += r;
	}
	fclose(f);
	if (!buf)
		buf = xcalloc(1, 1);
	buf[len] = '\0';
	return buf;
}

static char *errors_text(const struct policy_errors *errs)
{
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	policy_errors_print(errs, f);
	fclose(f);
	return text;
}

/* A bad policy may bring its own system resolver file, NAME.resolv.conf;
 * the others use the good one so that they fail for one reason only. */
static void use_resolv_conf_of(const char *yaml)
{
	size_t n = strlen(yaml) - strlen(".yaml");
	char *conf = xasprintf("%.*s.resolv.conf", (int)n, yaml);

	setenv("EGRESSD_RESOLV_CONF", access(conf, F_OK) ? SYSTEM_RESOLV : conf, 1);
	free(conf);
}

static void test_bad_file(void **state)
{
	const char *path = *state;
	struct policy_errors errs = { 0 };
	struct policy *p;
	char *want, *got, *err_path;

	use_resolv_conf_of(path);
	p = policy_load(path, &errs);
	setenv("EGRESSD_RESOLV_CONF", SYSTEM_RESOLV, 1);
	got = errors_text(&errs);
	if (p)
		fail_msg("%s loaded, but must be refused", path);

	err_path = xasprintf("%.*s.err", (int)(strlen(path) - 5), path);
	want = read_text(err_path);
	if (!want)
		fail_msg("%s is missing; the loader said:\n%s", err_path, got);
	assert_string_equal(got, want);

	free(want);
	free(err_path);
	free(got);
	policy_errors_clear(&errs);
}

static struct policy *load_good(const char *path)
{
	struct policy_errors errs = { 0 };
	struct policy *p = policy_load(path, &errs);
	char *got = errors_text(&errs);

	if (!p)
		fail_msg("%s was refused:\n%s", path, got);
	assert_int_equal(errs.n, 0);
	free(got);
	policy_errors_clear(&errs);
	return p;
}

static void assert_ports(const struct allow_entry *e, const char *want)
{
	char got[256] = "";
	size_t o = 0;

	for (size_t i = 0; i < e->n_ports; i++)
		o += snprintf(got + o, sizeof(got) - o, "%s%u-%u", i ? " " : "",
			      e->ports[i].lo, e->ports[i].hi);
	assert_string_equal(got, want);
}

static void assert_addr(const struct addr *a, const char *want)
{
	char buf[ADDR_STRLEN];

	assert_string_equal(addr_fmt(a, buf), want);
}

static void assert_prefix(const struct prefix *pf, const char *want)
{
	char buf[PREFIX_STRLEN];

	assert_string_equal(prefix_fmt(pf, buf), want);
}

static void test_minimal_defaults(void **state)
{
	struct policy *p = load_good("policy/good/minimal.yaml");
	const struct policy_defaults *d = &p->defaults;
	const struct allow_entry *e = &p->allow[0];

	assert_string_equal(p->path, "policy/good/minimal.yaml");
	assert_int_equal(p->version, 1);
	assert_int_equal(d->refresh, 300);
	assert_int_equal(d->ttl_floor, 30);
	assert_int_equal(d->ttl_ceiling, 3600);
	assert_int_equal(d->grace, 600);
	assert_int_equal(d->stale, 3600);
	assert_int_equal(d->blocked, BLOCK_REJECT);
	assert_false(d->log);
	assert_int_equal(d->log_group, 0);
	assert_int_equal(d->max_addrs, 64);
	assert_false(p->forward || p->allow_dhcp || p->allow_ntp);
	assert_false(p->remove_on_exit || p->resolvers_from_system);

	assert_int_equal(p->n_resolvers, 1);
	assert_addr(&p->resolvers[0], "192.0.2.53");
	assert_int_equal(p->n_allow, 1);
	assert_string_equal(e->host, "api.example.com");
	assert_int_equal(e->proto, PROTO_TCP);
	assert_ports(e, "443-443");
	assert_string_equal(e->purpose, "Example API");
	assert_int_equal(e->line, 5);
	assert_int_equal(e->col, 5);
	assert_int_equal(strlen(p->sha256_hex), 64);
	policy_free(p);
}

static void test_full_values(void **state)
{
	struct policy *p = load_good("policy/good/full.yaml");
	const struct policy_defaults *d = &p->defaults;
	const struct allow_entry *e = p->allow;

	assert_int_equal(p->n_resolvers, 2);
	assert_addr(&p->resolvers[1], "2001:db8::53");
	assert_int_equal(d->refresh, 90);
	assert_int_equal(d->ttl_floor, 45);
	assert_int_equal(d->ttl_ceiling, 7200);
	assert_int_equal(d->grace, 0);
	assert_int_equal(d->stale, 7 * 86400);
	assert_int_equal(d->blocked, BLOCK_DROP);
	assert_true(d->log);
	assert_int_equal(d->log_group, 5);
	assert_int_equal(d->max_addrs, 4096);
	assert_true(p->forward && p->allow_dhcp && p->allow_ntp);
	assert_true(p->remove_on_exit);

	assert_int_equal(p->n_allow, 5);
	assert_int_equal(e[0].proto, PROTO_TCP | PROTO_UDP);
	assert_ports(&e[0], "80-90 443-443 8000-8100 8443-8443");
	assert_null(e[1].host);
	assert_prefix(&e[1].cidr, "203.0.113.0/24");
	assert_int_equal(e[1].proto, PROTO_UDP);
	assert_prefix(&e[2].cidr, "2001:db8:1::/48");
	assert_ports(&e[2], "1-65535");
	assert_string_equal(e[2].purpose, "Example IPv6 network");
	assert_prefix(&e[3].cidr, "0.0.0.0/0");
	assert_prefix(&e[4].cidr, "198.51.100.7/32");
	policy_free(p);
}

static void test_system_resolvers(void **state)
{
	struct policy *p = load_good("policy/good/system-resolvers.yaml");

	/* fe80::1%eth0 names an interface, which an address cannot carry. */
	assert_true(p->resolvers_from_system);
	assert_int_equal(p->n_resolvers, 2);
	assert_addr(&p->resolvers[0], "192.0.2.53");
	assert_addr(&p->resolvers[1], "2001:db8::53");
	policy_free(p);
}

static void test_system_resolvers_unreadable(void **state)
{
	struct policy_errors errs = { 0 };
	struct policy *p;
	char *got;

	setenv("EGRESSD_RESOLV_CONF", "policy/good/no-such-resolv.conf", 1);
	p = policy_load("policy/good/system-resolvers.yaml", &errs);
	setenv("EGRESSD_RESOLV_CONF", SYSTEM_RESOLV, 1);
	assert_null(p);
	got = errors_text(&errs);
	assert_string_equal(got, "policy/good/system-resolvers.yaml:2:1: "
			    "no resolvers key, and the system resolver file "
			    "cannot be read (No such file or directory): "
			    "'policy/good/no-such-resolv.conf'\n");
	free(got);
	policy_errors_clear(&errs);
}

static void test_not_duplicates(void **state)
{
	struct policy *p = load_good("policy/good/not-duplicates.yaml");

	assert_int_equal(p->n_allow, 6);
	policy_free(p);
}

/* Runs a load with stderr sent to a file, and returns what was logged. */
static char *logged_while_loading(const char *path, struct policy **p)
{
	char tmpl[] = "/tmp/egressd-test-XXXXXX";
	int fd = mkstemp(tmpl), saved = dup(STDERR_FILENO);
	char *text;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	*p = load_good(path);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	text = read_text(tmpl);
	unlink(tmpl);
	return text;
}

static void test_odd_cidr_warnings(void **state)
{
	struct policy *p;
	char *log = logged_while_loading("policy/good/odd-cidrs.yaml", &p);

	assert_non_null(log);
	assert_non_null(strstr(log, "policy/good/odd-cidrs.yaml:6:11: cidr "
			       "covers a loopback address, allowed anyway: "
			       "'127.0.0.0/8'"));
	assert_non_null(strstr(log, "odd-cidrs.yaml:9:11: cidr covers a "
			       "link-local address"));
	assert_non_null(strstr(log, "odd-cidrs.yaml:13:11: cidr covers a "
			       "multicast address"));
	assert_int_equal(p->n_allow, 3);
	free(log);
	policy_free(p);

	log = logged_while_loading("policy/good/odd-cidrs-more.yaml", &p);
	assert_non_null(log);
	assert_non_null(strstr(log, "odd-cidrs-more.yaml:7:11: cidr covers a loopback"));
	assert_non_null(strstr(log, "odd-cidrs-more.yaml:10:11: cidr covers a link-local"));
	assert_non_null(strstr(log, "odd-cidrs-more.yaml:13:11: cidr covers a link-local"));
	free(log);
	policy_free(p);
}

static void test_shipped_policies(void **state)
{
	glob_t g;

	assert_int_equal(glob("../policy/*.yaml", 0, NULL, &g), 0);
	assert_true(g.gl_pathc >= 3);
	for (size_t i = 0; i < g.gl_pathc; i++)
		policy_free(load_good(g.gl_pathv[i]));
	globfree(&g);
}

static void test_quantracore_apex(void **state)
{
	static const char *const want[][2] = {
		{ "api.polygon.io", "Market data: Polygon" },
		{ "www.alphavantage.co", "Market data: Alpha Vantage" },
		{ "query1.finance.yahoo.com", "Market data: Yahoo" },
	};
	struct policy *p = load_good("../policy/quantracore-apex.yaml");

	assert_true(p->resolvers_from_system);
	assert_int_equal(p->defaults.blocked, BLOCK_REJECT);
	assert_int_equal(p->n_allow, ARRAY_SIZE(want));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		assert_string_equal(p->allow[i].host, want[i][0]);
		assert_string_equal(p->allow[i].purpose, want[i][1]);
		assert_int_equal(p->allow[i].proto, PROTO_TCP);
		assert_ports(&p->allow[i], "443-443");
	}
	policy_free(p);
}

/* Every error of a file is reported, in file order. */
static void test_all_errors_reported(void **state)
{
	struct policy_errors errs = { 0 };

	assert_null(policy_load(BAD_DIR "/many-errors.yaml", &errs));
	assert_int_equal(errs.n, 12);
	for (size_t i = 1; i < errs.n; i++)
		assert_true(errs.v[i - 1].line < errs.v[i].line ||
			    (errs.v[i - 1].line == errs.v[i].line &&
			     errs.v[i - 1].col <= errs.v[i].col));
	policy_errors_clear(&errs);
}

static const char small_policy[] =
	"version: 1\n"
	"resolvers: [192.0.2.53]\n"
	"allow:\n"
	"  - host: api.example.com\n"
	"    ports: [443]\n"
	"    purpose: \"Example API\"\n";

/* A buffer with no terminating NUL, so an over-read shows under ASan. */
static char *exact_copy(const char *s, size_t len)
{
	char *b = xmalloc(len);

	memcpy(b, s, len);
	return b;
}

static void test_buffer_hash(void **state)
{
	size_t len = strlen(small_policy);
	char *buf = exact_copy(small_policy, len);
	struct policy_errors errs = { 0 };
	struct policy *p = policy_load_buffer("fuzz", buf, len, &errs);

	assert_non_null(p);
	assert_string_equal(p->path, "fuzz");
	/* sha256sum of small_policy */
	assert_string_equal(p->sha256_hex, "6e160c72e79d08de66c8cab2648cc466"
			    "b8b01ecc462aa2e8162156f57761309e");
	assert_int_equal(p->sha256[0], 0x6e);
	assert_int_equal(p->sha256[31], 0x9e);
	policy_free(p);
	free(buf);
}

/* A buffer of exactly len bytes: the small policy, padded with comments. */
static char *padded_policy(size_t len)
{
	size_t head = strlen(small_policy);
	char *buf = xmalloc(len);

	memset(buf, '#', len);
	memcpy(buf, small_policy, head);
	for (size_t i = head + 100; i < len; i += 100)
		buf[i] = '\n';
	buf[len - 1] = '\n';
	return buf;
}

static void test_size_limit(void **state)
{
	struct policy_errors errs = { 0 };
	char *buf = padded_policy(POLICY_MAX_BYTES + 1), *got;
	struct policy *p;

	p = policy_load_buffer("big.yaml", buf, POLICY_MAX_BYTES, &errs);
	assert_non_null(p);
	policy_free(p);

	buf[POLICY_MAX_BYTES - 1] = '#';
	p = policy_load_buffer("big.yaml", buf, POLICY_MAX_BYTES + 1, &errs);
	assert_null(p);
	got = errors_text(&errs);
	assert_string_equal(got, "big.yaml:1:1: the policy is larger than "
			    "1048576 bytes\n");
	free(got);
	free(buf);
	policy_errors_clear(&errs);
}

static void test_size_limit_file(void **state)
{
	char tmpl[] = "/tmp/egressd-test-XXXXXX";
	struct policy_errors errs = { 0 };
	char *buf = padded_policy(POLICY_MAX_BYTES + 2), *got, *want;
	int fd = mkstemp(tmpl);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, POLICY_MAX_BYTES + 2), POLICY_MAX_BYTES + 2);
	close(fd);
	assert_null(policy_load(tmpl, &errs));
	unlink(tmpl);
	got = errors_text(&errs);
	want = xasprintf("%s:1:1: the policy is larger than 1048576 bytes\n", tmpl);
	assert_string_equal(got, want);
	free(want);
	free(got);
	free(buf);
	policy_errors_clear(&errs);
}

static void test_unreadable(void **state)
{
	struct policy_errors errs = { 0 };
	char *got;

	assert_null(policy_load("policy/no-such-policy.yaml", &errs));
	assert_null(policy_load("policy", &errs));
	got = errors_text(&errs);
	assert_string_equal(got,
		"policy/no-such-policy.yaml: cannot read the policy: "
		"No such file or directory\n"
		"policy: cannot read the policy: Is a directory\n");
	free(got);
	policy_errors_clear(&errs);
}

static void test_hostname_refusal(void **state)
{
	static const char *const good[] = {
		"api.polygon.io", "Query1.Finance.Yahoo.com", "xn--bcher-kva.example",
		"a.b", "1.example.com", "a-b.c-d.example",
	};
	static const char *const bad[][2] = {
		{ "", "the name is empty" },
		{ "localhost", "needs at least two labels" },
		{ "*.example.com", "wildcards cannot be honoured" },
		{ "api.*.com", "wildcards cannot be honoured" },
		{ "example.com.", "without the trailing dot" },
		{ "192.0.2.1", "an address is not a host name" },
		{ "::1", "an address is not a host name" },
		{ "b\xc3\xbc" "cher.example", "punycode" },
		{ ".example.com", "empty label" },
		{ "a..example.com", "empty label" },
		{ "a-.example.com", "hyphen" },
		{ "a.-example.com", "hyphen" },
		{ "a b.example.com", "only letters, digits" },
		{ "a_b.example.com", "only letters, digits" },
		{ "example.123", "all digits" },
		{ "1.2.3", "all digits" },
	};
	char label64[80], name254[300];
	const char *why;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		assert_null(hostname_refusal(good[i]));
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		why = hostname_refusal(bad[i][0]);
		if (!why || !strstr(why, bad[i][1]))
			fail_msg("'%s': got '%s', want '%s'", bad[i][0],
				 why ? why : "(accepted)", bad[i][1]);
	}

	memset(label64, 'a', 64);
	strcpy(label64 + 64, ".example.com");
	assert_string_equal(hostname_refusal(label64),
			    "label longer than 63 characters");
	label64[1] = '.';
	assert_null(hostname_refusal(label64));

	/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253, the longest name allowed */
	memset(name254, 'a', 253);
	name254[63] = name254[127] = name254[191] = '.';
	name254[253] = '\0';
	assert_null(hostname_refusal(name254));
	strcpy(name254 + 253, "a");
	assert_string_equal(hostname_refusal(name254), "longer than 253 characters");
}

static int bad_file_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && !strcmp(d->d_name + n - 5, ".yaml");
}

/* One cmocka test per file in tests/policy/bad/, named after the file. */
static int run_bad_files(void)
{
	struct CMUnitTest *tests;
	struct dirent **names;
	int n, failed;

	n = scandir(BAD_DIR, &names, bad_file_filter, alphasort);
	if (n <= 0) {
		fprintf(stderr, "test_policy: no bad policies in %s/%s\n",
			TESTS_DIR, BAD_DIR);
		return 1;
	}
	tests = xcalloc(n, sizeof(*tests));
	for (int i = 0; i < n; i++) {
		tests[i].name = xstrdup(names[i]->d_name);
		tests[i].test_func = test_bad_file;
		tests[i].initial_state = xasprintf(BAD_DIR "/%s", names[i]->d_name);
	}
	failed = _cmocka_run_group_tests("policy_bad", tests, n, NULL, NULL);
	for (int i = 0; i < n; i++) {
		free((char *)tests[i].name);
		free(tests[i].initial_state);
		free(names[i]);
	}
	free(tests);
	free(names);
	return failed;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_full_values),
		cmocka_unit_test(test_system_resolvers),
		cmocka_unit_test(test_system_resolvers_unreadable),
		cmocka_unit_test(test_not_duplicates),
		cmocka_unit_test(test_odd_cidr_warnings),
		cmocka_unit_test(test_shipped_policies),
		cmocka_unit_test(test_quantracore_apex),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_buffer_hash),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_size_limit_file),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_hostname_refusal),
	};
	int failed;

	/* Messages name files relative to tests/, as the .err files do. */
	if (chdir(TESTS_DIR) < 0) {
		fprintf(stderr, "test_policy: %s: %s\n", TESTS_DIR, strerror(errno));
		return 1;
	}
	setenv("EGRESSD_RESOLV_CONF", SYSTEM_RESOLV, 1);
	failed = cmocka_run_group_tests_name("policy", tests, NULL, NULL);
	failed += run_bad_files();
	return failed ? 1 : 0;
}
