/* Turns the policy's host names into addresses: by asking the policy's own
 * resolvers with c-ares, from a hosts(5) file, or not at all (offline). */
#include "egressd.h"
#include "resolve.h"

#include <ares.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

/* Each resolver is asked in turn, for RESOLVE_TRIES rounds, so a host whose
 * resolvers are all silent is given up on after 2 s x tries x resolvers. */
#define RESOLVE_TIMEOUT_MS 2000
#define RESOLVE_TRIES 2
#define DNS_PORT 53
/* Answers arrive in bursts on one socket per resolver; the kernel trims
 * this to net.core.rmem_max. */
#define RESOLVE_RCVBUF (4 * 1024 * 1024)

/* Queries go out in a window: sent all at once, 2,000 queries overflowed
 * dnsmasq's socket buffer and it dropped half of them, and forwarders cap
 * the queries they relay at once (dnsmasq at 150).  The window is counted
 * per RESOLVE_PACE_MS interval, so silence does not stall it; 1,000 hosts
 * take a few round trips. */
#define RESOLVE_WINDOW 128
#define RESOLVE_PACE_MS 200

/* The smallest A and AAAA records: a one-byte owner name, type, class, TTL,
 * length and the address. */
#define A_RR_MIN (1 + 10 + 4)
#define AAAA_RR_MIN (1 + 10 + 16)

static const char *const status_words[] = {
	[RES_OK] = "ok",
	[RES_NXDOMAIN] = "nxdomain",
	[RES_NODATA] = "nodata",
	[RES_TIMEOUT] = "timeout",
	[RES_SERVFAIL] = "servfail",
	[RES_REFUSED] = "refused",
	[RES_ERROR] = "error",
	[RES_SKIPPED] = "skipped",
};

const char *res_status_str(enum res_status s)
{
	if ((size_t)s >= ARRAY_SIZE(status_words))
		return "unknown";
	return status_words[s];
}

uint32_t ttl_clamp(uint32_t ttl, const struct policy_defaults *d)
{
	if (ttl < d->ttl_floor)
		ttl = d->ttl_floor;
	if (ttl > d->ttl_ceiling)
		ttl = d->ttl_ceiling;
	return ttl;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One empty host_result per distinct name, sorted.  The source text is
 * stored after the array, in the same allocation, so resolution_free()
 * releases it with the hosts and a caller may still point it at a literal.
 * names is sorted in place. */
static void resolution_init_names(const char **names, size_t n, const char *source,
				  struct resolution *out)
{
	size_t srclen = strlen(source) + 1;
	char *tail;

	qsort(names, n, sizeof(*names), cmp_name);
	memset(out, 0, sizeof(*out));
	out->hosts = xcalloc(1, n * sizeof(*out->hosts) + srclen);
	for (size_t i = 0; i < n; i++) {
		if (i && !strcmp(names[i - 1], names[i]))
			continue;
		out->hosts[out->n_hosts++].host = xstrdup(names[i]);
	}
	tail = (char *)(out->hosts + n);
	memcpy(tail, source, srclen);
	out->source = tail;
}

static void resolution_init(const struct policy *p, const char *source,
			    struct resolution *out)
{
	const char **names = xcalloc(p->n_allow, sizeof(*names));
	size_t n = 0;

	for (size_t i = 0; i < p->n_allow; i++)
		if (p->allow[i].host)
			names[n++] = p->allow[i].host;
	resolution_init_names(names, n, source, out);
	free(names);
}

/* Forgets what a host resolved to, keeping its name. */
static void host_result_reset(struct host_result *hr)
{
	char *host = hr->host;

	free(hr->detail);
	free(hr->addrs);
	memset(hr, 0, sizeof(*hr));
	hr->host = host;
}

void resolution_free(struct resolution *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n_hosts; i++) {
		host_result_reset(&r->hosts[i]);
		free(r->hosts[i].host);
	}
	free(r->hosts);
	memset(r, 0, sizeof(*r));
}

static int cmp_host_key(const void *key, const void *elem)
{
	const struct host_result *hr = elem;

	return strcmp(key, hr->host);
}

const struct host_result *resolution_find(const struct resolution *r,
					  const char *host)
{
	if (!r->n_hosts)
		return NULL;
	return bsearch(host, r->hosts, r->n_hosts, sizeof(*r->hosts),
		       cmp_host_key);
}

void resolve_offline(const struct policy *p, struct resolution *out)
{
	size_t i;

	resolution_init(p, "offline", out);
	for (i = 0; i < out->n_hosts; i++)
		out->hosts[i].status = RES_SKIPPED;
}

static void host_fail(struct host_result *hr, enum res_status st,
		      const char *detail)
{
	host_result_reset(hr);
	hr->status = st;
	hr->detail = xstrdup(detail);
	hr->resolved_at = time(NULL);
}

/* ---- address intake, shared by DNS answers and the hosts file ---- */

static const char *family_name(int family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

/* addr_cmp() puts every IPv4 address before every IPv6 one, so each family
 * is one run of hr->addrs; this finds where the IPv6 run starts. */
static size_t v6_start(const struct host_result *hr)
{
	size_t i = 0;

	while (i < hr->n_addrs && hr->addrs[i].addr.family == AF_INET)
		i++;
	return i;
}

static size_t lower_bound(const struct host_result *hr, const struct addr *a)
{
	size_t lo = 0, hi = hr->n_addrs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr_cmp(&hr->addrs[mid].addr, a) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void note_capped(struct host_result *hr, int family, uint32_t cap)
{
	if (hr->capped)
		return;
	hr->capped = true;
	log_warnx("resolve: %s: more than %u %s addresses, keeping the lowest %u",
		  hr->host, cap, family_name(family), cap);
}

static void addr_remove(struct host_result *hr, size_t i)
{
	memmove(&hr->addrs[i], &hr->addrs[i + 1],
		(hr->n_addrs - i - 1) * sizeof(*hr->addrs));
	hr->n_addrs--;
}

/* Adds an address that passed addr_refusal(), keeping hr->addrs sorted and
 * unique.  Seen twice, an address keeps the larger TTL: each answer vouches
 * for it until its own TTL runs out.  Past the cap the family's highest
 * address goes, so which ones stay does not depend on the order a
 * round-robin server happened to answer in.  A cap of 0 means none. */
static void addr_merge(struct host_result *hr, const struct addr *a,
		       uint32_t ttl, uint32_t cap)
{
	size_t i = lower_bound(hr, a), start, end;

	if (i < hr->n_addrs && !addr_cmp(&hr->addrs[i].addr, a)) {
		if (ttl > hr->addrs[i].ttl)
			hr->addrs[i].ttl = ttl;
		return;
	}

	start = a->family == AF_INET ? 0 : v6_start(hr);
	end = a->family == AF_INET ? v6_start(hr) : hr->n_addrs;
	if (cap && end - start >= cap) {
		note_capped(hr, a->family, cap);
		if (i >= end)
			return;
		addr_remove(hr, end - 1);
	}

	hr->addrs = xreallocarray(hr->addrs, hr->n_addrs + 1, sizeof(*hr->addrs));
	memmove(&hr->addrs[i + 1], &hr->addrs[i],
		(hr->n_addrs - i) * sizeof(*hr->addrs));
	hr->addrs[i] = (struct resolved_addr){ .addr = *a, .ttl = ttl };
	hr->n_addrs++;
}

/* ---- DNS answers ---- */

static enum res_status status_of_ares(int code)
{
	switch (code) {
	case ARES_SUCCESS:
		return RES_OK;
	case ARES_ENODATA:
		return RES_NODATA;
	case ARES_ENOTFOUND:
		return RES_NXDOMAIN;
	case ARES_ETIMEOUT:
		return RES_TIMEOUT;
	case ARES_ESERVFAIL:
		return RES_SERVFAIL;
	case ARES_EREFUSED:
		return RES_REFUSED;
	default:
		return RES_ERROR;
	}
}

/* c-ares's parsers ignore the response code (only its query callback looks
 * at it), so the 4 bits in the fixed header are the one field read here. */
static int ares_code_of_rcode(const unsigned char *abuf)
{
	switch (abuf[3] & 0x0f) {
	case ns_r_noerror:
		return ARES_SUCCESS;
	case ns_r_formerr:
		return ARES_EFORMERR;
	case ns_r_servfail:
		return ARES_ESERVFAIL;
	case ns_r_nxdomain:
		return ARES_ENOTFOUND;
	case ns_r_notimpl:
		return ARES_ENOTIMP;
	case ns_r_refused:
		return ARES_EREFUSED;
	default:
		return ARES_EBADRESP;
	}
}

/* RFC 2181: a TTL with the top bit set is to be taken as zero; c-ares hands
 * those over as negative ints. */
static uint32_t wire_ttl(int ttl)
{
	return ttl < 0 ? 0 : (uint32_t)ttl;
}

/* The arrays are sized for every record the buffer could hold, because
 * c-ares silently drops what doesn't fit and the cap is ours to apply. */
static int parse_a(const unsigned char *abuf, int alen,
		   struct resolved_addr **out, size_t *n)
{
	int i, len = alen / A_RR_MIN + 1;
	struct ares_addrttl *v = xcalloc(len, sizeof(*v));
	int rc = ares_parse_a_reply(abuf, alen, NULL, v, &len);

	if (rc == ARES_SUCCESS) {
		*out = xcalloc(len, sizeof(**out));
		for (i = 0; i < len; i++) {
			(*out)[i].addr.family = AF_INET;
			(*out)[i].addr.v4 = v[i].ipaddr;
			(*out)[i].ttl = wire_ttl(v[i].ttl);
		}
		*n = len;
	}
	free(v);
	return rc;
}

static int parse_aaaa(const unsigned char *abuf, int alen,
		      struct resolved_addr **out, size_t *n)
{
	int i, len = alen / AAAA_RR_MIN + 1;
	struct ares_addr6ttl *v = xcalloc(len, sizeof(*v));
	int rc = ares_parse_aaaa_reply(abuf, alen, NULL, v, &len);

	if (rc == ARES_SUCCESS) {
		*out = xcalloc(len, sizeof(**out));
		for (i = 0; i < len; i++) {
			(*out)[i].addr.family = AF_INET6;
			memcpy((*out)[i].addr.bytes, &v[i].ip6addr, 16);
			(*out)[i].ttl = wire_ttl(v[i].ttl);
		}
		*n = len;
	}
	free(v);
	return rc;
}

static bool dns_addr_take(struct host_result *hr, const struct resolved_addr *ra,
			  const struct policy_defaults *d)
{
	const char *why = addr_refusal(&ra->addr);
	char buf[ADDR_STRLEN];

	if (why) {
		log_debug("resolve: %s: skipping %s: %s", hr->host,
			  addr_fmt(&ra->addr, buf), why);
		return false;
	}
	addr_merge(hr, &ra->addr, ttl_clamp(ra->ttl, d), d->max_addrs);
	return true;
}

/* dns_answer_intake(), also reporting the c-ares code that explains the
 * status, for the host's detail text. */
static enum res_status intake(const unsigned char *abuf, int alen, int family,
			      const struct policy_defaults *d,
			      struct host_result *hr, int *code)
{
	struct resolved_addr *v = NULL;
	size_t i, n = 0, taken = 0;

	if (family != AF_INET && family != AF_INET6) {
		*code = ARES_EBADFAMILY;
		return RES_ERROR;
	}
	if (!abuf || alen < NS_HFIXEDSZ) {
		*code = ARES_EBADRESP;
		return RES_ERROR;
	}
	*code = ares_code_of_rcode(abuf);
	if (*code != ARES_SUCCESS)
		return status_of_ares(*code);

	if (family == AF_INET)
		*code = parse_a(abuf, alen, &v, &n);
	else
		*code = parse_aaaa(abuf, alen, &v, &n);
	for (i = 0; i < n; i++)
		taken += dns_addr_take(hr, &v[i], d);
	free(v);
	if (*code == ARES_SUCCESS && !taken)
		*code = ARES_ENODATA;
	return status_of_ares(*code);
}

enum res_status dns_answer_intake(const unsigned char *abuf, int alen, int family,
				  const struct policy_defaults *d,
				  struct host_result *hr)
{
	int code;

	return intake(abuf, alen, family, d, hr, &code);
}

/* ---- the resolver: many queries in flight on one poll() loop ---- */

/* One c-ares channel per policy resolver, and egressd picks which to ask:
 * c-ares 1.18 neither says which server answered nor reports the SERVFAIL
 * or REFUSED it fails over from (it reports "could not contact" instead). */
struct upstream {
	struct resolver *r;
	ares_channel ch;
	struct addr server;
};

struct resolver_sock {
	struct upstream *up;
	ares_socket_t fd;
	bool rd, wr;
};

struct resolver {
	struct upstream *ups;
	size_t n_ups;
	size_t first;			/* the resolver new queries try first */
	struct policy_defaults defaults;
	struct resolver_sock *socks;	/* what c-ares wants watched */
	size_t n_socks, cap_socks;
	struct pollfd *pfds;
	size_t cap_pfds;
	struct host_query *queue;	/* hosts waiting for room to ask */
	struct host_query **queue_tail;
	size_t inflight;		/* queries asked, not yet finished */
	size_t window;			/* of those, asked in this interval */
	unsigned int interval;
	int64_t interval_ms;		/* when this interval began */
	bool pumping, closing;
};

/* What one attempt came to; code is c-ares's, for the detail text. */
struct outcome {
	enum res_status status;
	int code;
	bool answered;			/* a server answered, whatever it said */
};

struct family_query {
	struct host_query *hq;
	int family;
	unsigned int interval;		/* the pacing interval it was asked in */
	size_t start;			/* the resolver asked first */
	unsigned int attempt;		/* asks ups[(start + attempt) % n_ups] */
	struct outcome got;		/* what stands for this family */
	size_t got_from;		/* the resolver it came from */
};

struct host_query {
	struct resolver *r;
	struct host_result *hr;
	struct family_query fam[2];	/* A, AAAA */
	int left;
	struct host_query *next;	/* in the resolver's queue */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct resolver_sock *sock_find(struct resolver *r, ares_socket_t fd)
{
	size_t i;

	for (i = 0; i < r->n_socks; i++)
		if (r->socks[i].fd == fd)
			return &r->socks[i];
	return NULL;
}

static void sock_state(void *data, ares_socket_t fd, int rd, int wr)
{
	struct upstream *up = data;
	struct resolver *r = up->r;
	struct resolver_sock *s = sock_find(r, fd);

	if (!rd && !wr) {
		if (s)
			*s = r->socks[--r->n_socks];
		return;
	}
	if (!s) {
		grow(&r->socks, &r->cap_socks, r->n_socks, sizeof(*r->socks));
		s = &r->socks[r->n_socks++];
	}
	*s = (struct resolver_sock){ .up = up, .fd = fd, .rd = rd, .wr = wr };
}

/* Every field that resolv.conf or the environment could fill is set, and
 * the one server comes from the policy.  NOCHECKRESP hands every answer to
 * the callback, whatever its response code, and one try each because
 * retrying is done across resolvers, in query_done(). */
static int upstream_channel(struct upstream *up)
{
	struct ares_options o = {
		.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES |
			 ARES_FLAG_EDNS | ARES_FLAG_NOCHECKRESP,
		.timeout = RESOLVE_TIMEOUT_MS,
		.tries = 1,
		.ndots = 1,
		.lookups = (char *)"b",
		.sock_state_cb = sock_state,
		.sock_state_cb_data = up,
		.socket_receive_buffer_size = RESOLVE_RCVBUF,
	};
	int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
		   ARES_OPT_NDOTS | ARES_OPT_SERVERS | ARES_OPT_DOMAINS |
		   ARES_OPT_LOOKUPS | ARES_OPT_SORTLIST | ARES_OPT_SOCK_STATE_CB |
		   ARES_OPT_SOCK_RCVBUF;
	struct ares_addr_port_node node = {
		.family = up->server.family,
		.udp_port = DNS_PORT,
		.tcp_port = DNS_PORT,
	};
	ares_channel ch;
	int rc;

	memcpy(&node.addr, up->server.bytes, addr_len(&up->server));
	rc = ares_init_options(&ch, &o, mask);
	if (rc != ARES_SUCCESS)
		return rc;
	up->ch = ch;
	return ares_set_servers_ports(ch, &node);
}

static void resolver_free(struct resolver *r)
{
	struct host_query *hq;
	size_t i;

	if (!r)
		return;
	/* Destroying a channel ends its pending queries through query_done(),
	 * which must not ask anything more now. */
	r->closing = true;
	for (i = 0; i < r->n_ups; i++)
		if (r->ups[i].ch)
			ares_destroy(r->ups[i].ch);
	while ((hq = r->queue)) {
		r->queue = hq->next;
		host_fail(hq->hr, RES_ERROR, "resolver closed before asking");
		free(hq);
	}
	ares_library_cleanup();
	free(r->ups);
	free(r->socks);
	free(r->pfds);
	free(r);
}

/* NULL with *why set when c-ares can't be set up. */
static struct resolver *resolver_new(const struct policy *p, const char **why)
{
	struct resolver *r;
	int rc = ares_library_init(ARES_LIB_INIT_ALL);

	if (rc != ARES_SUCCESS) {
		*why = ares_strerror(rc);
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	r->defaults = p->defaults;
	r->queue_tail = &r->queue;
	r->ups = xcalloc(p->n_resolvers, sizeof(*r->ups));
	while (r->n_ups < p->n_resolvers && rc == ARES_SUCCESS) {
		struct upstream *up = &r->ups[r->n_ups++];

		up->r = r;
		up->server = p->resolvers[r->n_ups - 1];
		rc = upstream_channel(up);
	}
	if (rc != ARES_SUCCESS) {
		*why = ares_strerror(rc);
		resolver_free(r);
		return NULL;
	}
	return r;
}

static bool is_failure(enum res_status s)
{
	return s != RES_OK && s != RES_NXDOMAIN && s != RES_NODATA;
}

static size_t asked(const struct family_query *fq)
{
	return (fq->start + fq->attempt) % fq->hq->r->n_ups;
}

/* Which family's answer stands for the host: one with addresses, else a
 * failure of either, else NXDOMAIN only when both say so, else NODATA. */
static const struct family_query *verdict(const struct host_query *hq)
{
	const struct family_query *a = &hq->fam[0], *b = &hq->fam[1];

	if (a->got.status == RES_OK)
		return a;
	if (b->got.status == RES_OK)
		return b;
	if (is_failure(a->got.status))
		return a;
	if (is_failure(b->got.status))
		return b;
	if (a->got.status == RES_NODATA)
		return a;
	return b;
}

static void host_done(const struct host_query *hq)
{
	const struct family_query *fq = verdict(hq);
	struct host_result *hr = hq->hr;

	hr->status = fq->got.status;
	hr->resolved_at = time(NULL);
	if (fq->got.answered)
		hr->resolver = hq->r->ups[fq->got_from].server;
	if (hr->status != RES_OK)
		hr->detail = xstrdup(ares_strerror(fq->got.code));

	if (hr->detail)
		log_debug("resolve: %s: %s", hr->host, hr->detail);
	else
		log_debug("resolve: %s: %zu addresses", hr->host, hr->n_addrs);
}

static void query_done(void *arg, int status, int timeouts,
		       unsigned char *abuf, int alen);
static void resolver_pump(struct resolver *r);

static void family_ask(struct family_query *fq)
{
	struct resolver *r = fq->hq->r;
	int type = fq->family == AF_INET ? ns_t_a : ns_t_aaaa;

	ares_query(r->ups[asked(fq)].ch, fq->hq->hr->host, ns_c_in, type,
		   query_done, fq);
}

/* A resolver that did not answer at all is asked last by the queries
 * still to come, so one dead resolver costs one timeout, not one per
 * window of queries. */
static void note_silence(const struct family_query *fq,
			 const struct outcome *o)
{
	struct resolver *r = fq->hq->r;
	char a[ADDR_STRLEN], b[ADDR_STRLEN];
	size_t i = asked(fq);

	if (o->answered || r->n_ups < 2 || i != r->first)
		return;
	if (o->code != ARES_ETIMEOUT && o->code != ARES_ECONNREFUSED)
		return;
	r->first = (i + 1) % r->n_ups;
	log_warnx("resolve: resolver %s: %s, asking %s first",
		  addr_fmt(&r->ups[i].server, a), ares_strerror(o->code),
		  addr_fmt(&r->ups[r->first].server, b));
}

/* No answer, or a server that could not or would not resolve: the next
 * resolver in turn is asked, for RESOLVE_TRIES rounds.  Other failures
 * (a name c-ares won't encode, the channel closing) would recur. */
static bool worth_retry(const struct family_query *fq,
			const struct outcome *o)
{
	const struct resolver *r = fq->hq->r;

	if (r->closing || !is_failure(o->status))
		return false;
	if (!o->answered && o->code != ARES_ETIMEOUT &&
	    o->code != ARES_ECONNREFUSED)
		return false;
	return fq->attempt + 1 < r->n_ups * RESOLVE_TRIES;
}

static void query_done(void *arg, int status, int timeouts,
		       unsigned char *abuf, int alen)
{
	struct family_query *fq = arg;
	struct host_query *hq = fq->hq;
	struct resolver *r = hq->r;
	struct outcome o = { .answered = abuf != NULL };

	if (abuf)
		o.status = intake(abuf, alen, fq->family, &r->defaults,
				  hq->hr, &o.code);
	else
		o.status = status_of_ares(o.code = status);
	note_silence(fq, &o);
	/* One resolver's answer outranks another's silence. */
	if (o.answered || !fq->got.answered) {
		fq->got = o;
		fq->got_from = asked(fq);
	}

	if (worth_retry(fq, &o)) {
		log_debug("resolve: %s: %s, asking again", hq->hr->host,
			  ares_strerror(o.code));
		fq->attempt++;
		family_ask(fq);
		return;
	}
	r->inflight--;
	if (fq->interval == r->interval)
		r->window--;
	if (!--hq->left) {
		host_done(hq);
		free(hq);
	}
	resolver_pump(r);
}

/* Answers free room in the window at once; a query unanswered for a whole
 * interval stops holding its place, so silent resolvers delay the rest by
 * RESOLVE_PACE_MS per window instead of a full timeout. */
static void window_tick(struct resolver *r)
{
	int64_t now = now_ms();

	if (now - r->interval_ms < RESOLVE_PACE_MS)
		return;
	r->interval++;
	r->interval_ms = now;
	r->window = 0;
}

static void host_ask(struct resolver *r, struct host_query *hq)
{
	int i;

	r->inflight += 2;
	r->window += 2;
	for (i = 0; i < 2; i++) {
		hq->fam[i].interval = r->interval;
		hq->fam[i].start = r->first;
	}
	/* The second ask may end the host at once and free hq. */
	family_ask(&hq->fam[0]);
	family_ask(&hq->fam[1]);
}

/* Asks for queued hosts while the window has room.  A query can finish
 * inside ares_query() and pump again; the flag keeps that from recursing
 * once per queued host. */
static void resolver_pump(struct resolver *r)
{
	struct host_query *hq;

	if (r->pumping || r->closing)
		return;
	r->pumping = true;
	window_tick(r);
	while (r->queue && r->window + 2 <= RESOLVE_WINDOW) {
		hq = r->queue;
		r->queue = hq->next;
		if (!r->queue)
			r->queue_tail = &r->queue;
		host_ask(r, hq);
	}
	r->pumping = false;
}

/* Queues the host's A and AAAA queries; hr is reset now and filled in when
 * both answers are in, so it must outlive the query. */
static void resolver_submit(struct resolver *r, struct host_result *hr)
{
	struct host_query *hq = xcalloc(1, sizeof(*hq));

	host_result_reset(hr);
	hq->r = r;
	hq->hr = hr;
	hq->left = 2;
	hq->fam[0] = (struct family_query){ .hq = hq, .family = AF_INET };
	hq->fam[1] = (struct family_query){ .hq = hq, .family = AF_INET6 };
	*r->queue_tail = hq;
	r->queue_tail = &hq->next;
	resolver_pump(r);
}

/* Milliseconds until a channel next needs to run its timeouts, or the
 * window opens again for queued hosts. */
static int resolver_wait_ms(struct resolver *r)
{
	struct timeval best = { .tv_sec = RESOLVE_TIMEOUT_MS / 1000 }, tv;
	int64_t wait;
	size_t i;

	for (i = 0; i < r->n_ups; i++)
		best = *ares_timeout(r->ups[i].ch, &best, &tv);
	wait = best.tv_sec * 1000 + (best.tv_usec + 999) / 1000;
	if (r->queue) {
		int64_t open = r->interval_ms + RESOLVE_PACE_MS - now_ms();

		wait = open < wait ? open : wait;
	}
	return wait > 0 ? (int)wait : 0;
}

/* Fills r->pfds from the sockets c-ares wants watched; returns how many. */
static nfds_t resolver_pollfds(struct resolver *r)
{
	size_t i;

	if (r->n_socks > r->cap_pfds) {
		r->cap_pfds = r->n_socks;
		r->pfds = xreallocarray(r->pfds, r->cap_pfds, sizeof(*r->pfds));
	}
	for (i = 0; i < r->n_socks; i++) {
		r->pfds[i].fd = r->socks[i].fd;
		r->pfds[i].events = (r->socks[i].rd ? POLLIN : 0) |
				    (r->socks[i].wr ? POLLOUT : 0);
		r->pfds[i].revents = 0;
	}
	return r->n_socks;
}

/* Hands ready sockets to their channels, lets every channel expire its
 * timed-out queries, and asks for more hosts if the window has opened.  A
 * socket may close while others are handled, so each is looked up again. */
static void resolver_process(struct resolver *r, nfds_t n)
{
	nfds_t i;

	for (i = 0; i < n; i++) {
		short ev = r->pfds[i].revents;
		ares_socket_t fd = r->pfds[i].fd;
		ares_socket_t rd = ARES_SOCKET_BAD, wr = ARES_SOCKET_BAD;
		struct resolver_sock *s = sock_find(r, fd);

		if (!s)
			continue;
		if (ev & (POLLIN | POLLERR | POLLHUP))
			rd = fd;
		if (ev & POLLOUT)
			wr = fd;
		if (rd != ARES_SOCKET_BAD || wr != ARES_SOCKET_BAD)
			ares_process_fd(s->up->ch, rd, wr);
	}
	for (i = 0; i < r->n_ups; i++)
		ares_process_fd(r->ups[i].ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	resolver_pump(r);
}

/* Until every answer is in or given up on.  -1 when poll() fails; the
 * queries still pending end when the resolver is freed. */
static int resolver_run(struct resolver *r)
{
	while (r->inflight) {
		int wait_ms = resolver_wait_ms(r);
		nfds_t n = resolver_pollfds(r);

		if (poll(r->pfds, n, wait_ms) < 0 && errno != EINTR) {
			log_warn("resolve: poll");
			return -1;
		}
		resolver_process(r, n);
	}
	return 0;
}

static void resolve_all(const struct policy *p, struct resolution *out)
{
	struct resolver *r = NULL;
	const char *why = "no resolvers in the policy";

	if (!out->n_hosts)
		return;
	if (p->n_resolvers)
		r = resolver_new(p, &why);
	if (!r) {
		log_warnx("resolve: cannot ask DNS: %s", why);
		for (size_t i = 0; i < out->n_hosts; i++)
			host_fail(&out->hosts[i], RES_ERROR, why);
		return;
	}
	for (size_t i = 0; i < out->n_hosts; i++)
		resolver_submit(r, &out->hosts[i]);
	resolver_run(r);
	resolver_free(r);
}

int resolve_dns(const struct policy *p, struct resolution *out)
{
	resolution_init(p, "dns", out);
	resolve_all(p, out);
	return 0;
}

int resolve_dns_hosts(const struct policy *p, const char *const *hosts, size_t n,
		      struct resolution *out)
{
	const char **names = xcalloc(n, sizeof(*names));

	memcpy(names, hosts, n * sizeof(*names));
	resolution_init_names(names, n, "dns", out);
	free(names);
	resolve_all(p, out);
	return 0;
}

/* ---- hosts(5) files ---- */

/* Host names in the policy are lower case without a trailing dot. */
static void name_fold(char *s)
{
	size_t n = strlen(s);

	if (n > 1 && s[n - 1] == '.')
		s[n - 1] = '\0';
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
}

static void hosts_take(struct host_result *hr, const struct addr *a,
		       const struct policy_defaults *d, const char *where)
{
	const char *why = addr_refusal(a);
	char buf[ADDR_STRLEN];

	if (why) {
		log_warnx("resolve: %s: %s: skipping %s: %s", where, hr->host,
			  addr_fmt(a, buf), why);
		return;
	}
	addr_merge(hr, a, d->ttl_ceiling, d->max_addrs);
}

/* One "ADDR NAME [ALIAS...]" line; seen[] marks the hosts it names. */
static void hosts_line(struct resolution *r, char *line, const char *where,
		       const struct policy_defaults *d, bool *seen)
{
	const char *ws = " \t\r\n";
	char *save, *tok;
	struct addr a;

	line[strcspn(line, "#")] = '\0';
	tok = strtok_r(line, ws, &save);
	if (!tok)
		return;
	if (!addr_parse(tok, &a)) {
		log_warnx("resolve: %s: not an address '%s', line skipped",
			  where, tok);
		return;
	}
	while ((tok = strtok_r(NULL, ws, &save))) {
		struct host_result *hr;

		name_fold(tok);
		hr = (struct host_result *)resolution_find(r, tok);
		if (!hr)
			continue;
		seen[hr - r->hosts] = true;
		hosts_take(hr, &a, d, where);
	}
}

static void hosts_finish(struct resolution *r, const bool *seen)
{
	time_t now = time(NULL);
	size_t i;

	for (i = 0; i < r->n_hosts; i++) {
		struct host_result *hr = &r->hosts[i];

		if (hr->n_addrs)
			hr->status = RES_OK;
		else if (seen[i])
			host_fail(hr, RES_NODATA, "no usable address in hosts file");
		else
			host_fail(hr, RES_NXDOMAIN, "not in hosts file");
		hr->resolved_at = now;
	}
}

/* Reads every line of f into r; -1 with errno on a read error. */
static int hosts_read(struct resolution *r, FILE *f, const char *path,
		      const struct policy_defaults *d, bool *seen)
{
	char *line = NULL, where[512];
	size_t cap = 0;
	unsigned int lineno = 0;
	int ret = 0;

	errno = 0;
	while (getline(&line, &cap, f) >= 0) {
		snprintf(where, sizeof(where), "%s:%u", path, ++lineno);
		hosts_line(r, line, where, d, seen);
		errno = 0;
	}
	if (ferror(f)) {
		ret = -1;
		if (!errno)
			errno = EIO;
	}
	free(line);
	return ret;
}

int resolve_hosts_file(const struct policy *p, const char *path,
		       struct resolution *out)
{
	char *source = xasprintf("hosts file %s", path);
	bool *seen = NULL;
	FILE *f;
	int ret = -1, err;

	memset(out, 0, sizeof(*out));
	f = fopen(path, "re");
	if (!f)
		goto out;
	resolution_init(p, source, out);
	seen = xcalloc(out->n_hosts, sizeof(*seen));
	if (hosts_read(out, f, path, &p->defaults, seen) < 0)
		goto out;
	hosts_finish(out, seen);
	ret = 0;
out:
	err = errno;
	if (ret < 0)
		resolution_free(out);
	if (f)
		fclose(f);
	free(seen);
	free(source);
	errno = err;
	return ret;
}
