/* IPv4/IPv6 addresses and prefixes as egressd stores them: parsing,
 * printing, ordering, and the checks an address passes before it may enter
 * a set. */
#ifndef EGRESSD_ADDR_H
#define EGRESSD_ADDR_H

#include "egressd.h"
#include <netinet/in.h>

struct addr {
	int family;			/* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
		uint8_t bytes[16];
	};
};

struct prefix {
	struct addr addr;
	unsigned int len;		/* 0..32 or 0..128 */
};

#define ADDR_STRLEN 46			/* INET6_ADDRSTRLEN */
#define PREFIX_STRLEN (ADDR_STRLEN + 4)

/* Parse a literal address; false on anything else. */
bool addr_parse(const char *s, struct addr *out);
size_t addr_len(const struct addr *a);
const char *addr_fmt(const struct addr *a, char buf[ADDR_STRLEN]);
int addr_cmp(const struct addr *a, const struct addr *b);

/* Why an address may not enter an allow set; NULL when it may.  Refuses
 * the unspecified address and IPv4-mapped IPv6 addresses. */
const char *addr_refusal(const struct addr *a);
/* Loopback, link-local or multicast: allowed, but worth a warning. */
const char *addr_oddity(const struct addr *a);

/* Parse "ADDR/LEN" (a bare address is a host prefix).  On failure returns
 * false and sets *why to a short description of the problem. */
bool prefix_parse(const char *s, struct prefix *out, const char **why);
const char *prefix_fmt(const struct prefix *p, char buf[PREFIX_STRLEN]);
/* The last address covered by the prefix, for interval sets. */
void prefix_last(const struct prefix *p, struct addr *out);
int prefix_cmp(const struct prefix *a, const struct prefix *b);

#endif
