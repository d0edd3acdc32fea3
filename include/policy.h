/* The allowlist policy, version 1: what docs/policy.md describes, loaded
 * strictly from YAML into plain structures. */
#ifndef EGRESSD_POLICY_H
#define EGRESSD_POLICY_H

#include "egressd.h"
#include "addr.h"

/* Protocol bits; an entry's proto is a mask of these. */
enum {
	PROTO_TCP = 1 << 0,
	PROTO_UDP = 1 << 1,
};

enum blocked_action {
	BLOCK_REJECT,
	BLOCK_DROP,
};

/* Limits, documented in docs/policy.md. */
#define POLICY_MAX_BYTES (1024 * 1024)
#define POLICY_MAX_DEPTH 16
#define POLICY_MAX_ENTRIES 100000
#define POLICY_MAX_ERRORS 100		/* reported; the rest are counted */

struct port_range {
	uint16_t lo, hi;		/* lo == hi for one port */
};

struct allow_entry {
	char *host;			/* lower case, no trailing dot; NULL for cidr */
	struct prefix cidr;		/* valid when host == NULL */
	struct port_range *ports;	/* sorted, non-overlapping */
	size_t n_ports;
	unsigned int proto;		/* PROTO_TCP | PROTO_UDP */
	char *purpose;			/* free text, never NULL after load */
	unsigned int line, col;		/* where the entry starts */
};

struct policy_defaults {
	uint32_t refresh;		/* seconds: upper bound between resolutions */
	uint32_t ttl_floor;		/* seconds */
	uint32_t ttl_ceiling;		/* seconds */
	uint32_t grace;			/* seconds an address outlives its TTL */
	uint32_t stale;			/* seconds last-known-good survives failures */
	enum blocked_action blocked;
	bool log;			/* log blocked packets to NFLOG */
	uint16_t log_group;
	uint32_t max_addrs;		/* per host and family */
};

struct policy {
	char *path;
	uint8_t sha256[32];		/* of the file's bytes */
	char sha256_hex[65];
	int version;

	struct addr *resolvers;
	size_t n_resolvers;
	bool resolvers_from_system;	/* taken from /etc/resolv.conf */

	struct policy_defaults defaults;
	bool forward;			/* also guard the forward hook */
	bool allow_dhcp;
	bool allow_ntp;
	bool remove_on_exit;		/* daemon: delete the table on SIGTERM */

	struct allow_entry *allow;
	size_t n_allow;
};

/* One problem found in a policy, already formatted as
 * "FILE:LINE:COL: what is wrong: 'the value'". */
struct policy_error {
	char *msg;
	unsigned int line, col;
};

struct policy_errors {
	struct policy_error *v;
	size_t n, cap;
	size_t dropped;			/* found past POLICY_MAX_ERRORS */
};

void policy_defaults_init(struct policy_defaults *d);

/* Load and check a policy file.  Returns NULL when the policy is invalid,
 * with every problem found added to errs (sorted by position).  Warnings
 * (for example a loopback CIDR) are logged with log_warnx(). */
struct policy *policy_load(const char *path, struct policy_errors *errs);
/* The same from memory; name is used in messages. */
struct policy *policy_load_buffer(const char *name, const char *buf, size_t len,
				  struct policy_errors *errs);
void policy_free(struct policy *p);

void policy_errors_print(const struct policy_errors *errs, FILE *f);
void policy_errors_clear(struct policy_errors *errs);

/* Checks a name as an exact fully qualified host name; NULL if good, else
 * a short reason ("label longer than 63 characters"). */
const char *hostname_refusal(const char *name);

#endif
