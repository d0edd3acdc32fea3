/* libFuzzer target for the address intake: a raw DNS response, as an
 * upstream resolver (or anyone spoofing one) could send it, goes through
 * dns_answer_intake() and what comes out must still be fit for a set.
 *
 * Input: one control byte, then the response.  Bit 0 picks the family
 * asked for (AAAA when set); bit 1 feeds the response a second time for
 * the other family, as the resolver merges A and AAAA into one host; bits
 * 2-7, when not zero, are max_addresses, so the cap is reached often. */
#include "egressd.h"
#include "resolve.h"

#include <sys/socket.h>

static struct policy_defaults defaults;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	policy_defaults_init(&defaults);
	return 0;
}

/* What dns_answer_intake() promises of hr, whatever the bytes were. */
static void check_host(const struct host_result *hr,
		       const struct policy_defaults *d)
{
	size_t n[2] = { 0, 0 };

	for (size_t i = 0; i < hr->n_addrs; i++) {
		const struct resolved_addr *ra = &hr->addrs[i];

		if (addr_refusal(&ra->addr))
			abort();
		if (i && addr_cmp(&hr->addrs[i - 1].addr, &ra->addr) >= 0)
			abort();
		if (ra->ttl < d->ttl_floor || ra->ttl > d->ttl_ceiling)
			abort();
		n[ra->addr.family == AF_INET6]++;
	}
	if (n[0] > d->max_addrs || n[1] > d->max_addrs)
		abort();
}

/* Only an answer that added an address may say RES_OK, and a failed one
 * leaves the host as it was. */
static void feed(const uint8_t *msg, size_t len, int family,
		 const struct policy_defaults *d, struct host_result *hr)
{
	size_t before = hr->n_addrs;
	enum res_status st;

	st = dns_answer_intake(msg, (int)len, family, d, hr);
	if (st == RES_OK && !hr->n_addrs)
		abort();
	if (st != RES_OK && hr->n_addrs != before)
		abort();
	check_host(hr, d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct host_result hr = { .host = (char *)"fuzz.example.com" };
	struct policy_defaults d = defaults;
	int family;

	if (size < 1 || size - 1 > 65535)
		return 0;
	family = data[0] & 1 ? AF_INET6 : AF_INET;
	if (data[0] >> 2)
		d.max_addrs = data[0] >> 2;

	feed(data + 1, size - 1, family, &d, &hr);
	if (data[0] & 2)
		feed(data + 1, size - 1, family == AF_INET ? AF_INET6 : AF_INET,
		     &d, &hr);

	free(hr.addrs);
	free(hr.detail);
	return 0;
}
