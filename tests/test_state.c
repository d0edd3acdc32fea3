/* Unit tests of the last-known-good state file: a round trip, and the
 * checks that keep a stale or tampered file from opening anything. */
#include "egressd.h"
#include "state.h"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

static const struct policy_defaults d = {
	.refresh = 300, .ttl_floor = 30, .ttl_ceiling = 3600,
	.grace = 600, .stale = 3600, .max_addrs = 64,
};

static void host_init(struct host_state *h, const char *name)
{
	memset(h, 0, sizeof(*h));
	h->host = xstrdup(name);
}

static void add_known(struct host_state *h, const char *a, time_t expires)
{
	grow(&h->addrs, &h->cap_addrs, h->n_addrs, sizeof(*h->addrs));
	assert_true(addr_parse(a, &h->addrs[h->n_addrs].addr));
	h->addrs[h->n_addrs++].expires = expires;
}

static char *tmp_path(void)
{
	char *p = xstrdup("/tmp/egressd-test-state.XXXXXX");
	int fd = mkstemp(p);

	assert_true(fd >= 0);
	close(fd);
	return p;
}

static void test_round_trip(void **state)
{
	struct state_clock c = { .mono_now = 1000, .wall_now = 1800000000 };
	struct host_state out[2], in[3];
	char *path = tmp_path();

	host_init(&out[0], "api.polygon.io");
	out[0].last_ok = out[0].last_attempt = 990;
	add_known(&out[0], "198.51.100.10", 1500);
	add_known(&out[0], "2001:db8::10", 1200);
	host_init(&out[1], "www.alphavantage.co");	/* never resolved */
	out[1].last_attempt = 995;
	out[1].last_status = RES_TIMEOUT;
	out[1].last_error = xstrdup("Timeout while contacting DNS servers");
	assert_int_equal(state_save(path, out, 2, &c), 0);

	/* later, after a reboot: another monotonic clock, 100 s on */
	c.mono_now = 50;
	c.wall_now += 100;
	host_init(&in[0], "api.polygon.io");
	host_init(&in[1], "query1.finance.yahoo.com");
	host_init(&in[2], "www.alphavantage.co");
	assert_int_equal(state_load(path, in, 3, &c, &d), 2);
	assert_int_equal(in[0].n_addrs, 2);
	/* 1500 - 1000 = 500 s left at save, 400 s now */
	assert_int_equal(in[0].addrs[0].expires, 50 + 400);
	assert_int_equal(in[0].last_ok, 50 - 110);
	assert_int_equal(in[1].n_addrs, 0);
	assert_int_equal(in[2].n_addrs, 0);
	assert_int_equal(in[2].last_ok, 0);

	for (int i = 0; i < 2; i++)
		host_state_free(&out[i]);
	for (int i = 0; i < 3; i++)
		host_state_free(&in[i]);
	unlink(path);
	free(path);
}

static void load_text(const char *text, struct host_state *h, int want)
{
	struct state_clock c = { .mono_now = 100, .wall_now = 1800000000 };
	char *path = tmp_path();
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	host_init(h, "api.polygon.io");
	assert_int_equal(state_load(path, h, 1, &c, &d), want);
	unlink(path);
	free(path);
}

static void test_refuses_what_it_should(void **state)
{
	struct host_state h;

	/* last good answer older than stale */
	load_text("# egressd state 1\nhost api.polygon.io 1799990000 1799990000 ok\n"
		  "addr api.polygon.io 198.51.100.10 1800000500\n", &h, 0);
	host_state_free(&h);
	/* expired, too far in the future, refused addresses, garbage */
	load_text("# egressd state 1\nhost api.polygon.io 1799999990 1799999990 ok\n"
		  "addr api.polygon.io 198.51.100.10 1799999999\n"
		  "addr api.polygon.io 198.51.100.11 1900000000\n"
		  "addr api.polygon.io ::ffff:198.51.100.12 1800000500\n"
		  "addr api.polygon.io 0.0.0.0 1800000500\n"
		  "nonsense line\n"
		  "addr api.polygon.io 198.51.100.13 1800000500\n", &h, 1);
	assert_int_equal(h.n_addrs, 1);
	host_state_free(&h);
	/* not a state file at all */
	load_text("198.51.100.10 api.polygon.io\n", &h, 0);
	host_state_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refuses_what_it_should),
	};

	log_init(-1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
