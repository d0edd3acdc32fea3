/* Unit tests of the refresh arithmetic: TTL and grace, rotation, the stale
 * period on resolver failure, negative answers, the per-host cap, back-off,
 * and the hand-over to the compiler. */
#include "egressd.h"
#include "refresh.h"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#define T0 1000000

static struct policy_defaults defaults(void)
{
	struct policy_defaults d = {
		.refresh = 300, .ttl_floor = 30, .ttl_ceiling = 3600,
		.grace = 600, .stale = 3600, .max_addrs = 4,
	};
	return d;
}

static struct host_result answer(enum res_status st, const char *a1, uint32_t t1,
				 const char *a2, uint32_t t2)
{
	struct host_result hr = { .host = "api.polygon.io", .status = st };
	static struct resolved_addr ra[2];

	hr.addrs = ra;
	if (a1) {
		assert_true(addr_parse(a1, &ra[hr.n_addrs].addr));
		ra[hr.n_addrs++].ttl = t1;
	}
	if (a2) {
		assert_true(addr_parse(a2, &ra[hr.n_addrs].addr));
		ra[hr.n_addrs++].ttl = t2;
	}
	return hr;
}

static const struct known_addr *lookup(const struct host_state *hs, const char *s)
{
	struct addr a;

	assert_true(addr_parse(s, &a));
	for (size_t i = 0; i < hs->n_addrs; i++)
		if (!addr_cmp(&hs->addrs[i].addr, &a))
			return &hs->addrs[i];
	return NULL;
}

static void test_first_answer(void **state)
{
	struct policy_defaults d = defaults();
	struct host_state hs = { 0 };
	struct refresh_delta delta;
	struct host_result hr = answer(RES_OK, "198.51.100.1", 60, "2001:db8::1", 120);

	refresh_apply(&hs, &hr, T0, &d, &delta);
	assert_int_equal(delta.added, 2);
	assert_int_equal(delta.kept, 0);
	assert_int_equal(lookup(&hs, "198.51.100.1")->expires, T0 + 60 + 600);
	assert_int_equal(lookup(&hs, "2001:db8::1")->expires, T0 + 120 + 600);
	/* re-resolved when the shortest TTL runs out */
	assert_int_equal(hs.next_resolve, T0 + 60);
	assert_int_equal(hs.last_ok, T0);
	host_state_free(&hs);
}

static void test_refresh_bounded_by_interval(void **state)
{
	struct policy_defaults d = defaults();
	struct host_state hs = { 0 };
	struct refresh_delta delta;
	struct host_result hr = answer(RES_OK, "198.51.100.1", 3600, NULL, 0);

	refresh_apply(&hs, &hr, T0, &d, &delta);
	assert_int_equal(hs.next_resolve, T0 + d.refresh);
	host_state_free(&hs);
}

static void test_kept_address_is_extended_never_shortened(void **state)
{
	struct policy_defaults d = defaults();
	struct host_state hs = { 0 };
	struct refresh_delta delta;
	struct host_result hr = answer(RES_OK, "198.51.100.1", 300, NULL, 0);

	refresh_apply(&hs, &hr, T0, &d, &delta);
	hr = answer(RES_OK, "198.51.100.1", 30, NULL, 0);
	refresh_apply(&hs, &hr, T0 + 100, &d, &delta);
	assert_int_equal(delta.kept, 1);
	assert_int_equal(delta.added, 0);
	/* T0+300+600 is later than T0+100+30+600: the longer promise holds */
	assert_int_equal(lookup(&hs, "198.51.100.1")->expires, T0 + 900);
	hr = answer(RES_OK, "198.51.100.1", 300, NULL, 0);
	refresh_apply(&hs, &hr, T0 + 200, &d, &delta);
	assert_int_equal(lookup(&hs, "198.51.100.1")->expires, T0 + 200 + 900);
	host_state_free(&hs);
}

static void test_rotated_out_stays_for_ttl_plus_grace(void **state)
{
	struct policy_defaults d = defaults();
	struct host_state hs = { 0 };
	struct refresh_delta delta;
	struct host_result hr = answer(RES_OK, "198.51.100.1", 60, NULL, 0);

	refresh_apply(&hs, &hr, T0, &d, &delta);
	hr = answer(RES_OK, "198.51.100.2", 60, NULL, 0);
	refresh_apply(&hs, &hr, T0 + 60, &d, &delta);
	assert_int_equal(delta.added, 1);
	assert_int_equal(delta.expired, 0);
	assert_non_null(lookup(&hs, "198.51.100.1"));
	/* one second before TTL + grace: still there */
	assert_int_equal(refresh_expire(&hs, T0 + 659), 0);
	assert_non_null(lookup(&hs, "198.51.100.1"));
	assert_int_equal(refresh_expire(&hs, T0 + 660), 1);
	assert_null(lookup(&hs, "198.51.100.1"));
	assert_non_null(lookup(&hs, "198.51.100.2"));
	host_state_free(&hs);
}

static void test_failure_keeps_last_known_good_for_stale(void **state)
{
	struct policy_defaults d = defaults();
	struct host_state hs = { 0 };
	struct refresh_delta delta;
	struct host_result hr = answer(RES_OK, "198.51.100.1", 60, NULL, 0);

	refresh_apply(&hs, &hr, T0, &d, &delta);
	hr = answer(RES_TIMEOUT, NULL, 0, NULL, 0);
	refresh_apply(&hs, &hr, T0 + 60, &d, &delta);
	assert_true(delta.failed);
	assert_int_equal(lookup(&hs, "198.51.100.1")->expires, T0 + d.stale);
	/* still failing at the end of the stale period: it goes */
	hr = answer(RES_SERVFAIL, NULL, 0, NULL, 0);
	refresh_apply(&hs, &hr, T0 + d.stale - 1, &d, &delta);
	assert_non_null(lookup(&hs, "198.51.100.1"));
	refresh_apply(&hs, &hr, T0 + d.stale, &d, &delta);
	assert_int_equal(delta.expired, 1);
	assert_int_equal(hs.n_addrs, 0);
	/* and a later failure does not bring it back */
	refresh_apply(&hs, &hr, T0 + d.stale + 10, &d, &delta);
	assert_int_equal(hs.n_addrs, 0);
	host_state_free(&hs);
}

static void test_failure_backoff_doubles_up_to_refresh(void **state)
{
	struct policy_defaults d = defaults();
	struct host_state hs = { 0 };
	struct refresh_delta delta;
	struct host_result hr = answer(RES_REFUSED, NULL, 0, NULL, 0);
	time_t now = T0;
	const time_t want[] = { 30, 60, 120, 240, 300, 300 };

	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		refresh_apply(&hs, &hr, now, &d, &delta);
		assert_int_equal(hs.next_resolve - now, want[i]);
		now = hs.next_resolve;
	}
	assert_int_equal(hs.failures, ARRAY_SIZE(want));
	hr = answer(RES_OK, "198.51.100.1", 60, NULL, 0);
	refresh_apply(&hs, &hr, now, &d, &delta);
	assert_int_equal(hs.failures, 0);
	host_state_free(&hs);
}

static void test_nxdomain_keeps_nothing_alive(void **state)
{
	struct policy_defaults d = defaults();
	struct host_state hs = { 0 };
	struct refresh_delta delta;
	struct host_result hr = answer(RES_OK, "198.51.100.1", 60, NULL, 0);

	refresh_apply(&hs, &hr, T0, &d, &delta);
	hr = answer(RES_NXDOMAIN, NULL, 0, NULL, 0);
	refresh_apply(&hs, &hr, T0 + 60, &d, &delta);
	assert_false(delta.failed);
	assert_true(delta.status_changed);
	assert_int_equal(lookup(&hs, "198.51.100.1")->expires, T0 + 660);
	assert_int_equal(hs.next_resolve, T0 + 60 + d.ttl_floor);
	host_state_free(&hs);
}

static void test_cap_evicts_oldest_not_answered(void **state)
{
	struct policy_defaults d = defaults();
	struct host_state hs = { 0 };
	struct refresh_delta delta;
	char a[32];

	/* four addresses, one per answer, expiring in order */
	for (int i = 1; i <= 4; i++) {
		struct host_result hr;

		snprintf(a, sizeof(a), "198.51.100.%d", i);
		hr = answer(RES_OK, a, 60, NULL, 0);
		refresh_apply(&hs, &hr, T0 + i, &d, &delta);
	}
	assert_int_equal(hs.n_addrs, 4);
	{
		struct host_result hr = answer(RES_OK, "198.51.100.9", 60,
					       "198.51.100.1", 60);

		refresh_apply(&hs, &hr, T0 + 10, &d, &delta);
	}
	/* .1 was answered again, so .2 (the nearest expiry) made room */
	assert_int_equal(delta.evicted, 1);
	assert_int_equal(hs.n_addrs, 4);
	assert_null(lookup(&hs, "198.51.100.2"));
	assert_non_null(lookup(&hs, "198.51.100.1"));
	assert_non_null(lookup(&hs, "198.51.100.9"));
	/* IPv6 has its own allowance */
	{
		struct host_result hr = answer(RES_OK, "2001:db8::1", 60, NULL, 0);

		refresh_apply(&hs, &hr, T0 + 11, &d, &delta);
	}
	assert_int_equal(delta.evicted, 0);
	assert_non_null(lookup(&hs, "2001:db8::1"));
	host_state_free(&hs);
}

static void test_to_resolution_matches_expiry(void **state)
{
	struct policy_defaults d = defaults();
	struct host_state hs = { 0 };
	struct refresh_delta delta;
	struct resolution res;
	struct host_result hr = answer(RES_OK, "198.51.100.1", 300, NULL, 0);

	hs.host = xstrdup("api.polygon.io");
	refresh_apply(&hs, &hr, T0, &d, &delta);
	refresh_to_resolution(&hs, 1, T0 + 100, &d, &res);
	assert_int_equal(res.n_hosts, 1);
	assert_int_equal(res.hosts[0].n_addrs, 1);
	/* the element's life ends exactly at the expiry */
	assert_int_equal(res.hosts[0].addrs[0].life_ms, (900 - 100) * 1000);
	assert_int_equal(T0 + 100 + res.hosts[0].addrs[0].ttl + d.grace, T0 + 900);
	resolution_free(&res);
	/* less life left than grace: TTL 0, but the life is still exact, so
	 * the kernel does not keep it a full grace longer */
	refresh_to_resolution(&hs, 1, T0 + 800, &d, &res);
	assert_int_equal(res.hosts[0].addrs[0].ttl, 0);
	assert_int_equal(res.hosts[0].addrs[0].life_ms, 100 * 1000);
	resolution_free(&res);
	host_state_free(&hs);
}

static void test_next_event(void **state)
{
	struct policy_defaults d = defaults();
	struct host_state hs[2] = { 0 };
	struct refresh_delta delta;
	struct host_result hr = answer(RES_OK, "198.51.100.1", 60, NULL, 0);

	refresh_apply(&hs[0], &hr, T0, &d, &delta);
	hr = answer(RES_OK, "198.51.100.2", 200, NULL, 0);
	refresh_apply(&hs[1], &hr, T0, &d, &delta);
	assert_int_equal(refresh_next_event(hs, 2, T0), 60);
	assert_int_equal(refresh_next_event(hs, 2, T0 + 100), 0);
	host_state_free(&hs[0]);
	host_state_free(&hs[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_answer),
		cmocka_unit_test(test_refresh_bounded_by_interval),
		cmocka_unit_test(test_kept_address_is_extended_never_shortened),
		cmocka_unit_test(test_rotated_out_stays_for_ttl_plus_grace),
		cmocka_unit_test(test_failure_keeps_last_known_good_for_stale),
		cmocka_unit_test(test_failure_backoff_doubles_up_to_refresh),
		cmocka_unit_test(test_nxdomain_keeps_nothing_alive),
		cmocka_unit_test(test_cap_evicts_oldest_not_answered),
		cmocka_unit_test(test_to_resolution_matches_expiry),
		cmocka_unit_test(test_next_event),
	};

	log_init(-1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
