/* Refresh arithmetic: how one DNS answer changes what a host may reach and
 * for how long.  No I/O here; the daemon calls it and sends the result. */
#include "egressd.h"
#include "refresh.h"

static time_t max_t(time_t a, time_t b)
{
	return a > b ? a : b;
}

static time_t min_t(time_t a, time_t b)
{
	return a < b ? a : b;
}

static struct known_addr *find_addr(struct host_state *hs, const struct addr *a)
{
	size_t lo = 0, hi = hs->n_addrs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = addr_cmp(&hs->addrs[mid].addr, a);

		if (!c)
			return &hs->addrs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int known_cmp(const void *a, const void *b)
{
	return addr_cmp(&((const struct known_addr *)a)->addr,
			&((const struct known_addr *)b)->addr);
}

static void insert_addr(struct host_state *hs, const struct addr *a, time_t expires,
			time_t now)
{
	struct known_addr *k;

	grow(&hs->addrs, &hs->cap_addrs, hs->n_addrs, sizeof(*hs->addrs));
	k = &hs->addrs[hs->n_addrs++];
	k->addr = *a;
	k->expires = expires;
	k->last_seen = now;
	qsort(hs->addrs, hs->n_addrs, sizeof(*hs->addrs), known_cmp);
}

static size_t family_count(const struct host_state *hs, int family)
{
	size_t n = 0;

	for (size_t i = 0; i < hs->n_addrs; i++)
		n += hs->addrs[i].addr.family == family;
	return n;
}

/* Make room for one more address of this family when the cap is reached:
 * drop the one nearest its expiry among those this answer did not return.
 * False when every address was just returned, so the newcomer waits. */
static bool make_room(struct host_state *hs, int family, time_t now,
		      const struct policy_defaults *d, struct refresh_delta *delta)
{
	size_t victim = SIZE_MAX;

	if (family_count(hs, family) < d->max_addrs)
		return true;
	for (size_t i = 0; i < hs->n_addrs; i++) {
		const struct known_addr *k = &hs->addrs[i];

		if (k->addr.family != family || k->last_seen == now)
			continue;
		if (victim == SIZE_MAX || k->expires < hs->addrs[victim].expires)
			victim = i;
	}
	if (victim == SIZE_MAX)
		return false;
	memmove(&hs->addrs[victim], &hs->addrs[victim + 1],
		(hs->n_addrs - victim - 1) * sizeof(*hs->addrs));
	hs->n_addrs--;
	delta->evicted++;
	return true;
}

static bool is_failure(enum res_status s)
{
	return s == RES_TIMEOUT || s == RES_SERVFAIL || s == RES_REFUSED ||
	       s == RES_ERROR;
}

/* Two passes: first everything the answer confirms, so that the cap's
 * eviction in the second pass only ever picks addresses the answer left
 * out. */
static void apply_ok(struct host_state *hs, const struct host_result *hr, time_t now,
		     const struct policy_defaults *d, struct refresh_delta *delta)
{
	uint32_t min_ttl = d->refresh;

	for (size_t i = 0; i < hr->n_addrs; i++) {
		const struct resolved_addr *ra = &hr->addrs[i];
		struct known_addr *k = find_addr(hs, &ra->addr);

		if (ra->ttl < min_ttl)
			min_ttl = ra->ttl;
		if (!k)
			continue;
		k->expires = max_t(k->expires, now + (time_t)ra->ttl + d->grace);
		k->last_seen = now;
		delta->kept++;
	}
	for (size_t i = 0; i < hr->n_addrs; i++) {
		const struct resolved_addr *ra = &hr->addrs[i];

		if (find_addr(hs, &ra->addr) ||
		    !make_room(hs, ra->addr.family, now, d, delta))
			continue;
		insert_addr(hs, &ra->addr, now + (time_t)ra->ttl + d->grace, now);
		delta->added++;
	}
	hs->last_ok = now;
	hs->failures = 0;
	hs->next_resolve = now + max_t(min_ttl, 1);
}

/* Last-known-good survives a failing resolver for the stale period after
 * the last good answer; never longer, so a dead resolver cannot keep an
 * address open for ever. */
static void apply_failure(struct host_state *hs, time_t now,
			  const struct policy_defaults *d)
{
	time_t keep = hs->last_ok ? hs->last_ok + d->stale : 0;
	time_t backoff;

	for (size_t i = 0; i < hs->n_addrs; i++)
		if (keep > now)
			hs->addrs[i].expires = max_t(hs->addrs[i].expires, keep);
	hs->failures++;
	backoff = (time_t)d->ttl_floor << min_t(hs->failures - 1, 10);
	hs->next_resolve = now + max_t(min_t(backoff, d->refresh), 1);
}

void refresh_apply(struct host_state *hs, const struct host_result *hr, time_t now,
		   const struct policy_defaults *d, struct refresh_delta *delta)
{
	memset(delta, 0, sizeof(*delta));
	delta->status_changed = hs->last_attempt && hs->last_status != hr->status;
	hs->last_attempt = now;
	hs->last_status = hr->status;
	free(hs->last_error);
	hs->last_error = hr->detail ? xstrdup(hr->detail) : NULL;

	if (hr->status == RES_OK) {
		apply_ok(hs, hr, now, d, delta);
	} else if (is_failure(hr->status)) {
		delta->failed = true;
		apply_failure(hs, now, d);
	} else {
		/* NXDOMAIN or NODATA: an answer, not a failure.  Ask again at
		 * the floor; what the host had runs out on its own timers. */
		hs->failures = 0;
		hs->next_resolve = now + max_t(min_t(d->ttl_floor, d->refresh), 1);
	}
	delta->expired = refresh_expire(hs, now);
}

size_t refresh_expire(struct host_state *hs, time_t now)
{
	size_t kept = 0, n = hs->n_addrs;

	for (size_t i = 0; i < n; i++)
		if (hs->addrs[i].expires > now)
			hs->addrs[kept++] = hs->addrs[i];
	hs->n_addrs = kept;
	return n - kept;
}

time_t refresh_next_event(const struct host_state *hs, size_t n, time_t now)
{
	time_t next = 0;
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		time_t t = hs[i].next_resolve;

		for (size_t j = 0; j < hs[i].n_addrs; j++)
			t = min_t(t, hs[i].addrs[j].expires);
		next = any ? min_t(next, t) : t;
		any = true;
	}
	if (!any)
		return 3600;
	return max_t(next - now, 0);
}

void refresh_to_resolution(const struct host_state *hs, size_t n, time_t now,
			   const struct policy_defaults *d, struct resolution *out)
{
	memset(out, 0, sizeof(*out));
	out->hosts = xcalloc(n, sizeof(*out->hosts));
	out->n_hosts = n;
	out->source = "dns";
	for (size_t i = 0; i < n; i++) {
		struct host_result *hr = &out->hosts[i];

		hr->host = xstrdup(hs[i].host);
		hr->status = hs[i].n_addrs ? RES_OK : hs[i].last_status;
		hr->resolved_at = hs[i].last_ok;
		hr->addrs = xcalloc(hs[i].n_addrs, sizeof(*hr->addrs));
		for (size_t j = 0; j < hs[i].n_addrs; j++) {
			time_t left = hs[i].addrs[j].expires - now;
			struct resolved_addr *ra = &hr->addrs[hr->n_addrs];

			if (left <= 0)
				continue;
			ra->addr = hs[i].addrs[j].addr;
			ra->ttl = left > (time_t)d->grace ? (uint32_t)(left - d->grace) : 0;
			ra->life_ms = (uint64_t)left * 1000;
			hr->n_addrs++;
		}
	}
}

void host_state_free(struct host_state *hs)
{
	if (!hs)
		return;
	free(hs->host);
	free(hs->addrs);
	free(hs->last_error);
	memset(hs, 0, sizeof(*hs));
}
