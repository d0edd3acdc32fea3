/* Unit tests of the netlink back end's pure parts: the kernel's key layout
 * of set elements, the set attributes nft would send, the expressions of
 * rules (against what `nft --debug=netlink` shows for the same text), and
 * reading built rules back into the model.  No socket is opened. */
#include "egressd.h"
#include "nl.h"
#include "policy.h"
#include "resolve.h"
#include "ruleset.h"

#include <stdarg.h>
#include <setjmp.h>
#include <unistd.h>
#include <cmocka.h>

#include <linux/netfilter/nf_tables.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>

static const char policy_text[] =
	"version: 1\n"
	"resolvers: [192.0.2.53, \"2001:db8::53\"]\n"
	"defaults:\n"
	"  blocked: %s\n"
	"  log: true\n"
	"  log_group: 7\n"
	"forward: true\n"
	"system:\n"
	"  dhcp: true\n"
	"  ntp: true\n"
	"allow:\n"
	"  - host: api.polygon.io\n"
	"    ports: [443, 8443]\n"
	"    purpose: \"market data\"\n"
	"  - cidr: 198.51.100.0/24\n"
	"    ports: [\"8000-8100\"]\n"
	"    purpose: \"a network\"\n"
	"  - cidr: \"2001:db8:8000::/33\"\n"
	"    ports: [53]\n"
	"    proto: udp\n"
	"    purpose: \"an odd prefix\"\n";

static const char hosts_text[] =
	"192.0.2.10 api.polygon.io\n"
	"2001:db8::10 api.polygon.io\n";

struct fixture {
	struct policy *p;
	struct resolution res;
	struct ruleset *rs;
};

static struct fixture *compile(const char *blocked)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));
	struct policy_errors errs = { 0 };
	char path[] = "/tmp/egressd-test-nl.XXXXXX";
	char *text = xasprintf(policy_text, blocked);
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, hosts_text, strlen(hosts_text)),
			 (ssize_t)strlen(hosts_text));
	close(fd);
	fx->p = policy_load_buffer("test.yaml", text, strlen(text), &errs);
	if (!fx->p)
		policy_errors_print(&errs, stderr);
	assert_non_null(fx->p);
	assert_int_equal(resolve_hosts_file(fx->p, path, &fx->res), 0);
	fx->rs = ruleset_compile(fx->p, &fx->res);
	unlink(path);
	free(text);
	return fx;
}

static void fixture_free(struct fixture *fx)
{
	ruleset_free(fx->rs);
	resolution_free(&fx->res);
	policy_free(fx->p);
	free(fx);
}

static void test_key_layout(void **state)
{
	struct fixture *fx = compile("reject");
	const struct rs_set *a4 = ruleset_find_set(fx->rs, "allow4");
	const struct rs_set *a6 = ruleset_find_set(fx->rs, "allow6");
	const struct rs_set *nd6 = ruleset_find_set(fx->rs, "nd6");
	static const uint8_t want[12] = {
		192, 0, 2, 10, 6, 0, 0, 0, 0x01, 0xbb, 0, 0,
	};
	uint8_t key[NL_KEY_MAX], end[NL_KEY_MAX];

	assert_int_equal(nl_key_len(a4), 12);
	assert_int_equal(nl_key_len(a6), 24);
	assert_int_equal(nl_key_len(nd6), 1);
	/* 192.0.2.10 . tcp . 443: each field padded to four bytes. */
	assert_int_equal(nl_elem_key(a4, &a4->elems[0], key, end), 12);
	assert_memory_equal(key, want, sizeof(want));
	assert_int_equal(nl_elem_key(nd6, &nd6->elems[0], key, end), 1);
	assert_int_equal(key[0], 133);
	fixture_free(fx);
}

/* Every element encodes and decodes to the same nft text. */
static void test_key_round_trip(void **state)
{
	struct fixture *fx = compile("reject");
	uint8_t key[NL_KEY_MAX], end[NL_KEY_MAX];
	char a[160], b[160];
	struct rs_elem e;

	for (size_t i = 0; i < fx->rs->n_sets; i++) {
		const struct rs_set *s = &fx->rs->sets[i];

		for (size_t j = 0; j < s->n_elems; j++) {
			size_t len = nl_elem_key(s, &s->elems[j], key, end);

			assert_true(nl_elem_decode(s, key, end, len, &e));
			assert_string_equal(render_elem_key(s, &e, a, sizeof(a)),
					    render_elem_key(s, &s->elems[j], b,
							    sizeof(b)));
		}
	}
	fixture_free(fx);
}

/* The attributes nft 1.0.6 sends for the same sets (nft --debug=mnl). */
static void test_set_attributes(void **state)
{
	struct fixture *fx = compile("reject");
	const struct rs_set *net = ruleset_find_set(fx->rs, "allow4_net");
	const struct rs_set *nd6 = ruleset_find_set(fx->rs, "nd6");
	struct nftnl_set *s = nl_build_set(fx->rs, net, 1);
	const uint8_t want_fields[] = { 4, 1, 2 };
	const void *fields;
	uint32_t len;

	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE), 0x730d);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN), 12);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_FLAGS),
			 NFT_SET_INTERVAL | NFT_SET_TIMEOUT | NFT_SET_CONCAT);
	fields = nftnl_set_get_data(s, NFTNL_SET_DESC_CONCAT, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(fields, want_fields, 3);
	nftnl_set_free(s);

	s = nl_build_set(fx->rs, nd6, 3);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE), 29);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN), 1);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_FLAGS), 0);
	nftnl_set_free(s);
	fixture_free(fx);
}

static char *canon_of(const struct ruleset *rs, const char *chain,
		      const char *comment)
{
	const struct rs_chain *c = ruleset_find_chain(rs, chain);

	for (size_t i = 0; i < c->n_rules; i++) {
		const struct rs_rule *r = &c->rules[i];

		if (r->comment && !strcmp(r->comment, comment)) {
			struct nftnl_rule *nr = nl_build_rule(rs, c, r);
			char *text = nl_rule_canon(nr);

			nftnl_rule_free(nr);
			return text;
		}
	}
	fail_msg("no rule '%s' in chain %s", comment, chain);
	return NULL;
}

/* What `nft --debug=netlink` prints for the same rules loaded with nft:
 * the nfproto dependency, the register numbering, the byteorder nft puts
 * before a ranged lookup, the merged DHCP port load, the masked prefix. */
static void test_rule_expressions(void **state)
{
	struct fixture *fx = compile("reject");
	static const struct {
		const char *comment, *want;
	} cases[] = {
		{ "allowed networks and port ranges",
		  "[ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x00000002 ] "
		  "[ payload load 4b @ network header + 16 => reg 1 ] "
		  "[ meta load l4proto => reg 9 ] "
		  "[ byteorder reg 9 = hton(reg 9, 2, 1) ] "
		  "[ payload load 2b @ transport header + 2 => reg 10 ] "
		  "[ lookup reg 1 set allow4_net 0x0 ] "
		  "[ immediate reg 0 accept ] "
		  "comment \"allowed networks and port ranges\"" },
		{ "IPv4-mapped IPv6 is never allowed",
		  "[ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x0000000a ] "
		  "[ payload load 12b @ network header + 24 => reg 1 ] "
		  "[ cmp eq reg 1 0x00000000 0x00000000 0xffff0000 ] "
		  "[ immediate reg 0 goto -> blocked ] "
		  "comment \"IPv4-mapped IPv6 is never allowed\"" },
		{ "DHCP client",
		  "[ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x00000011 ] "
		  "[ payload load 4b @ transport header + 0 => reg 1 ] "
		  "[ cmp eq reg 1 0x43004400 ] [ immediate reg 0 accept ] "
		  "comment \"DHCP client\"" },
		{ "IPv6 neighbour discovery",
		  "[ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x0000000a ] "
		  "[ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x0000003a ] "
		  "[ payload load 1b @ transport header + 0 => reg 1 ] "
		  "[ lookup reg 1 set nd6 0x0 ] [ immediate reg 0 accept ] "
		  "comment \"IPv6 neighbour discovery\"" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *text = canon_of(fx->rs, "output", cases[i].comment);

		assert_string_equal(text, cases[i].want);
		free(text);
	}
	fixture_free(fx);
}

/* Every rule egressd builds reads back into the same model rule. */
static void decode_all(const char *blocked)
{
	struct fixture *fx = compile(blocked);

	for (size_t i = 0; i < fx->rs->n_chains; i++) {
		const struct rs_chain *c = &fx->rs->chains[i];

		for (size_t j = 0; j < c->n_rules; j++) {
			struct nftnl_rule *nr = nl_build_rule(fx->rs, c,
							      &c->rules[j]);
			char a[512] = "", b[512] = "";
			FILE *fa = fmemopen(a, sizeof(a) - 1, "w");
			FILE *fb = fmemopen(b, sizeof(b) - 1, "w");
			struct rs_rule back;

			assert_true(nl_rule_decode(nr, fx->rs, &back));
			back.comment = c->rules[j].comment;
			render_rule(&back, fa);
			render_rule(&c->rules[j], fb);
			fclose(fa);
			fclose(fb);
			assert_string_equal(a, b);
			nftnl_rule_free(nr);
		}
	}
	fixture_free(fx);
}

static void test_decode_reject(void **state)
{
	decode_all("reject");
}

static void test_decode_drop(void **state)
{
	decode_all("drop");
}

static void test_table_comment(void **state)
{
	char v[16], h[80];

	assert_true(nl_parse_table_comment("egressd 0.1.0 policy sha256:ab12",
					   v, sizeof(v), h, sizeof(h)));
	assert_string_equal(v, "0.1.0");
	assert_string_equal(h, "ab12");
	assert_false(nl_parse_table_comment("made by hand", v, sizeof(v), h,
					    sizeof(h)));
	assert_false(nl_parse_table_comment(NULL, v, sizeof(v), h, sizeof(h)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_layout),
		cmocka_unit_test(test_key_round_trip),
		cmocka_unit_test(test_set_attributes),
		cmocka_unit_test(test_rule_expressions),
		cmocka_unit_test(test_decode_reject),
		cmocka_unit_test(test_decode_drop),
		cmocka_unit_test(test_table_comment),
	};

	log_init(-1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
