/* Unit tests of the daemon's element diff: additions, extensions (re-add
 * or delete + add), removals, and leaving near-expired elements to the
 * kernel. */
#include "egressd.h"
#include "sync.h"

#include <netinet/in.h>
#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#define NOW 5000000ULL

static struct ruleset *one_set(void)
{
	struct ruleset *rs = xcalloc(1, sizeof(*rs));

	rs->n_sets = 1;
	rs->sets = xcalloc(1, sizeof(*rs->sets));
	rs->sets[0].name = xstrdup("allow4");
	rs->sets[0].key[0] = RS_F_IP_DADDR;
	rs->sets[0].key[1] = RS_F_L4PROTO;
	rs->sets[0].key[2] = RS_F_TH_DPORT;
	rs->sets[0].key_len = 3;
	rs->sets[0].flags = RS_SET_TIMEOUT;
	return rs;
}

static void add(struct ruleset *rs, const char *a, uint64_t timeout_ms)
{
	struct rs_elem *e = rs_set_add(&rs->sets[0]);

	assert_true(addr_parse(a, &e->addr));
	e->addr_end = e->addr;
	e->prefix_len = 32;
	e->l4proto = IPPROTO_TCP;
	e->port_lo = e->port_hi = 443;
	e->timeout_ms = timeout_ms;
	e->comment = "api.polygon.io";
	rs_set_sort(&rs->sets[0]);
}

static const char *addr_of(const struct elem_change *c, char *buf)
{
	return addr_fmt(&c->elem->addr, buf);
}

static void test_add_extend_remove(void **state)
{
	struct ruleset *want = one_set(), *committed = one_set();
	struct sync_plan plan;
	char buf[ADDR_STRLEN];

	/* committed: .1 expires soon, .2 far away, .3 in a second */
	add(committed, "198.51.100.1", NOW + 60000);
	add(committed, "198.51.100.2", NOW + 900000);
	add(committed, "198.51.100.3", NOW + 500);
	/* want: .1 extended to 15 min, .2 the same, .4 new */
	add(want, "198.51.100.1", 900000);
	add(want, "198.51.100.2", 900000 - 10000);
	add(want, "198.51.100.4", 900000);

	sync_diff(want, committed, NOW, true, &plan);
	assert_int_equal(plan.added, 1);
	assert_int_equal(plan.extended, 1);
	assert_int_equal(plan.kept, 1);
	/* .3 runs out on its own within the slack: no delete */
	assert_int_equal(plan.removed, 0);
	assert_int_equal(plan.n, 2);
	assert_false(plan.v[0].del);
	assert_string_equal(addr_of(&plan.v[0], buf), "198.51.100.1");
	assert_string_equal(addr_of(&plan.v[1], buf), "198.51.100.4");
	sync_plan_free(&plan);

	/* an older kernel: the extension is a delete then an add */
	sync_diff(want, committed, NOW, false, &plan);
	assert_int_equal(plan.n, 3);
	assert_true(plan.v[0].del);
	assert_false(plan.v[1].del);
	assert_string_equal(addr_of(&plan.v[0], buf), "198.51.100.1");
	assert_string_equal(addr_of(&plan.v[1], buf), "198.51.100.1");
	sync_plan_free(&plan);

	ruleset_free(want);
	ruleset_free(committed);
}

static void test_evicted_element_is_deleted(void **state)
{
	struct ruleset *want = one_set(), *committed = one_set();
	struct sync_plan plan;

	add(committed, "198.51.100.1", NOW + 600000);
	sync_diff(want, committed, NOW, true, &plan);
	assert_int_equal(plan.removed, 1);
	assert_int_equal(plan.n, 1);
	assert_true(plan.v[0].del);
	sync_plan_free(&plan);
	ruleset_free(want);
	ruleset_free(committed);
}

static void test_nothing_changed_sends_nothing(void **state)
{
	struct ruleset *want = one_set(), *committed = one_set();
	struct sync_plan plan;

	add(committed, "198.51.100.1", NOW + 600000);
	add(want, "198.51.100.1", 600000);
	sync_diff(want, committed, NOW, true, &plan);
	assert_int_equal(plan.n, 0);
	assert_int_equal(plan.kept, 1);
	sync_plan_free(&plan);
	ruleset_free(want);
	ruleset_free(committed);
}

static void test_new_comment_replaces_element(void **state)
{
	struct ruleset *want = one_set(), *committed = one_set();
	struct sync_plan plan;

	add(committed, "198.51.100.1", NOW + 600000);
	add(want, "198.51.100.1", 600000);
	want->sets[0].elems[0].comment = "api.polygon.io, www.alphavantage.co";
	sync_diff(want, committed, NOW, true, &plan);
	assert_int_equal(plan.n, 2);
	assert_true(plan.v[0].del);
	assert_false(plan.v[1].del);
	assert_string_equal(plan.v[1].elem->comment, "api.polygon.io, www.alphavantage.co");
	sync_plan_free(&plan);
	ruleset_free(want);
	ruleset_free(committed);
}

static void test_commit_keeps_unextended_expiry(void **state)
{
	struct ruleset *want = one_set(), *committed = one_set();

	add(committed, "198.51.100.1", NOW + 600000);
	add(committed, "198.51.100.2", NOW + 1000);
	add(want, "198.51.100.1", 600000 - 500);	/* within slack */
	add(want, "198.51.100.2", 600000);		/* extended */
	add(want, "198.51.100.3", 0);			/* static */
	sync_commit(want, committed, NOW);
	assert_int_equal(want->sets[0].elems[0].timeout_ms, NOW + 600000);
	assert_int_equal(want->sets[0].elems[1].timeout_ms, NOW + 600000);
	assert_int_equal(want->sets[0].elems[2].timeout_ms, 0);
	ruleset_free(want);
	ruleset_free(committed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_extend_remove),
		cmocka_unit_test(test_evicted_element_is_deleted),
		cmocka_unit_test(test_nothing_changed_sends_nothing),
		cmocka_unit_test(test_new_comment_replaces_element),
		cmocka_unit_test(test_commit_keeps_unextended_expiry),
	};

	log_init(-1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
