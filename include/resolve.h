/* Turning the policy's host names into addresses: through DNS with c-ares,
 * from a hosts(5) file for reproducible plans, or not at all (offline). */
#ifndef EGRESSD_RESOLVE_H
#define EGRESSD_RESOLVE_H

#include "egressd.h"
#include "addr.h"
#include "policy.h"
#include <time.h>

enum res_status {
	RES_OK,			/* at least one address */
	RES_NXDOMAIN,		/* the name does not exist */
	RES_NODATA,		/* the name exists but has no A/AAAA */
	RES_TIMEOUT,
	RES_SERVFAIL,
	RES_REFUSED,
	RES_ERROR,		/* anything else: malformed answer, no servers */
	RES_SKIPPED,		/* offline: not asked */
};

struct resolved_addr {
	struct addr addr;
	uint32_t ttl;		/* seconds, already clamped to floor/ceiling */
	/* The daemon's exact remaining life in ms, which the compiler then
	 * uses as the element's timeout instead of TTL + grace; 0: unset. */
	uint64_t life_ms;
};

struct host_result {
	char *host;
	enum res_status status;	/* of the last answer, A and AAAA combined */
	char *detail;		/* c-ares's words for a failure, or NULL */
	struct addr resolver;	/* the server that answered; family 0 if none */
	struct resolved_addr *addrs;	/* sorted, unique */
	size_t n_addrs;
	bool capped;		/* more addresses than max_addrs were returned */
	time_t resolved_at;
};

struct resolution {
	struct host_result *hosts;	/* sorted by host, one per distinct name */
	size_t n_hosts;
	const char *source;		/* "dns", "hosts file PATH", "offline" */
};

/* The distinct host names of a policy, resolved.  Never fails as a whole:
 * per-host failures are recorded in each host_result.  The caller decides
 * whether a failure matters. */
int resolve_dns(const struct policy *p, struct resolution *out);
/* The same for the named hosts only, with the policy's resolvers and
 * limits: the daemon re-resolves the hosts whose TTL ran out. */
int resolve_dns_hosts(const struct policy *p, const char *const *hosts, size_t n,
		      struct resolution *out);
/* From a hosts(5) file; names absent from it get RES_NXDOMAIN.  Every
 * address gets ttl_ceiling as its TTL.  -1 with errno if it can't be read. */
int resolve_hosts_file(const struct policy *p, const char *path,
		       struct resolution *out);
/* Every host RES_SKIPPED with no addresses. */
void resolve_offline(const struct policy *p, struct resolution *out);

const struct host_result *resolution_find(const struct resolution *r,
					  const char *host);
void resolution_free(struct resolution *r);

const char *res_status_str(enum res_status s);

/* Clamp a TTL into [floor, ceiling]. */
uint32_t ttl_clamp(uint32_t ttl, const struct policy_defaults *d);

/* Parse one raw DNS response (as c-ares hands it to a query callback) for
 * the given family, and append the addresses that pass addr_refusal() to
 * hr, merging duplicates and keeping at most max_addrs.  The TTL of each is
 * the minimum along the CNAME chain, clamped.  Returns the status the
 * answer means.  This is the address intake path, and a fuzz target. */
enum res_status dns_answer_intake(const unsigned char *abuf, int alen, int family,
				  const struct policy_defaults *d,
				  struct host_result *hr);

#endif
