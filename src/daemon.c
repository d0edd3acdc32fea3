/* The refresh loop: re-resolve each host when its TTL runs out, fold the
 * answer into the host's state, compile, and send only the difference to
 * the kernel in one transaction.  If the table changes behind our back,
 * the next refresh notices and puts it back whole. */
#include "egressd.h"
#include "daemon.h"
#include "state.h"
#include "sync.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

struct refresh_tally {
	size_t resolved, failed, expired, evicted;
};

time_t daemon_now(void)
{
	return (time_t)(daemon_now_ms() / 1000);
}

uint64_t daemon_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void log_nl(const char *what, const struct nl_err *err)
{
	char buf[600];

	log_warnx("%s: %s", what, nl_err_str(err, buf, sizeof(buf)));
}

static struct ruleset *compile_now(const struct daemon *d, time_t now)
{
	struct resolution res;
	struct ruleset *rs;

	refresh_to_resolution(d->hosts, d->n_hosts, now, &d->policy->defaults, &res);
	rs = ruleset_compile(d->policy, &res);
	resolution_free(&res);
	return rs;
}

static void remember_genid(struct daemon *d)
{
	struct nl_err err;

	if (nl_genid(d->nl, &d->genid, &err) < 0)
		log_nl("refresh: reading the ruleset generation", &err);
}

/* Replace the whole table with want; on success want becomes the
 * committed state. */
static int full_apply(struct daemon *d, struct ruleset *want, uint64_t now_ms)
{
	struct nl_apply_info info;
	struct nl_err err;

	/* The time in the table's comment is when this policy first went
	 * in; restoring a flushed table or a refresh does not change it. */
	if (!d->applied_at)
		d->applied_at = time(NULL);
	ruleset_stamp(want, d->applied_at);
	if (nl_apply(d->nl, want, 0, &info, &err) < 0) {
		log_nl("apply", &err);
		ruleset_free(want);
		return -1;
	}
	sync_absolute(want, now_ms);
	ruleset_free(d->committed);
	d->committed = want;
	remember_genid(d);
	return 0;
}

/* Each difference goes to the log, at most a few, then the count. */
static size_t count_drift(const struct nl_live *live, const struct ruleset *committed)
{
	char *buf = NULL, *line, *save;
	size_t len = 0, n, shown = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		fatalx("refresh: out of memory");
	n = nl_diff(live, committed, &(struct nl_diff_opts){ 0 }, f);
	fclose(f);
	if (n)
		log_warnx("refresh: table inet egressd was changed behind our back "
			  "(%zu difference%s); restoring it", n, n == 1 ? "" : "s");
	for (line = strtok_r(buf, "\n", &save); line && shown < 5;
	     line = strtok_r(NULL, "\n", &save), shown++)
		log_warnx("refresh: %s", line);
	free(buf);
	return n;
}

/* Something else committed to nf_tables since we did.  Usually another
 * table (Docker, firewalld); when it was ours, say what and restore. */
static bool table_drifted(struct daemon *d)
{
	struct nl_live *live = NULL;
	struct nl_err err;
	uint32_t gen;
	size_t n;

	if (nl_genid(d->nl, &gen, &err) < 0 || gen == d->genid)
		return false;
	if (nl_read(d->nl, &live, &err) < 0) {
		log_nl("refresh: reading the egressd table", &err);
		return true;
	}
	if (!live) {
		log_warnx("refresh: table inet egressd was removed behind our back; restoring it");
		return true;
	}
	n = count_drift(live, d->committed);
	nl_live_free(live);
	if (!n)
		d->genid = gen;
	return n > 0;
}

/* Kernels before 6.12 keep an element's old timeout when it is added
 * again.  After the first extension, read one back to learn which kind
 * this is.  On an old kernel the extensions just sent did nothing, so the
 * caller replaces the table whole, and from then on extends by delete +
 * add.  Returns true when that replacement is needed. */
static bool check_readd(struct daemon *d, const struct sync_plan *plan, uint64_t now_ms)
{
	struct nl_err err;
	bool refreshed;

	if (d->readd_checked || !plan->extended)
		return false;
	for (size_t i = 0; i < plan->n; i++) {
		const struct elem_change *c = &plan->v[i];

		if (c->del || !c->elem->timeout_ms)
			continue;
		if (nl_elem_refreshed(d->nl, c->set, c->elem, now_ms, &refreshed,
				      &err) < 0)
			continue;
		d->readd_checked = true;
		d->readd_refreshes = refreshed;
		if (refreshed)
			return false;
		log_info("refresh: this kernel keeps old timeouts on re-add; "
			 "extending by delete and add from now on");
		return true;
	}
	return false;
}

static int send_diff(struct daemon *d, struct ruleset *want, uint64_t now_ms,
		     struct sync_plan *plan)
{
	struct nl_err err;

	sync_diff(want, d->committed, now_ms, d->readd_refreshes, plan);
	if (plan->n && nl_update(d->nl, d->committed, plan->v, plan->n, &err) < 0) {
		log_nl("refresh", &err);
		return -1;
	}
	sync_commit(want, d->committed, now_ms);
	ruleset_free(d->committed);
	d->committed = want;
	if (plan->n)
		remember_genid(d);
	return 0;
}

/* Bring the kernel in line with the host states, as a diff when the table
 * is as we left it, whole otherwise. */
static int sync_kernel(struct daemon *d, struct sync_plan *plan)
{
	uint64_t now_ms = daemon_now_ms();
	struct ruleset *want = compile_now(d, (time_t)(now_ms / 1000));

	memset(plan, 0, sizeof(*plan));
	if (table_drifted(d))
		return full_apply(d, want, now_ms);
	if (send_diff(d, want, now_ms, plan) == 0) {
		if (!check_readd(d, plan, now_ms))
			return 0;
		return full_apply(d, compile_now(d, (time_t)(now_ms / 1000)), now_ms);
	}
	/* A refused diff leaves the old table; try once to replace it whole
	 * from the same state, so the sets cannot stay stale. */
	want = compile_now(d, (time_t)(now_ms / 1000));
	return full_apply(d, want, now_ms);
}

static void log_expired(const struct host_state *hs, size_t n)
{
	log_warnx("resolve: %s: %zu last-known-good address%s expired after the "
		  "stale period", hs->host, n, n == 1 ? "" : "es");
}

static void log_answer(const struct host_state *hs, const struct refresh_delta *dl,
		       size_t had, uint32_t cap)
{
	const char *what = res_status_str(hs->last_status);

	if (dl->failed && (dl->status_changed || hs->failures == 1))
		log_warnx("resolve: %s: %s; keeping %zu last-known-good address%s",
			  hs->host, hs->last_error ? hs->last_error : what, had,
			  had == 1 ? "" : "es");
	else if (!dl->failed && hs->last_status != RES_OK && dl->status_changed)
		log_info("resolve: %s: %s, no addresses", hs->host, what);
	else if (hs->last_status == RES_OK && dl->status_changed)
		log_info("resolve: %s: answering again", hs->host);
	if (dl->evicted)
		log_warnx("resolve: %s: address cap of %u reached; %zu older address%s dropped",
			  hs->host, cap, dl->evicted, dl->evicted == 1 ? "" : "es");
	if (dl->expired && hs->failures)
		log_expired(hs, dl->expired);
}

static int cmp_state(const void *a, const void *b)
{
	return strcmp(((const struct host_state *)a)->host,
		      ((const struct host_state *)b)->host);
}

static void fold(struct daemon *d, const struct host_result *hr, time_t now,
		 struct refresh_tally *t)
{
	struct host_state key = { .host = hr->host };
	struct host_state *hs;
	struct refresh_delta dl;
	size_t had;

	hs = bsearch(&key, d->hosts, d->n_hosts, sizeof(*d->hosts), cmp_state);
	if (!hs)
		return;
	had = hs->n_addrs;
	refresh_apply(hs, hr, now, &d->policy->defaults, &dl);
	log_answer(hs, &dl, had, d->policy->defaults.max_addrs);
	t->resolved++;
	t->failed += dl.failed;
	t->expired += dl.expired;
	t->evicted += dl.evicted;
}

static void resolve_due(struct daemon *d, time_t now, bool all, struct refresh_tally *t)
{
	const char **due = xcalloc(d->n_hosts, sizeof(*due));
	struct resolution res;
	size_t n = 0;

	for (size_t i = 0; i < d->n_hosts; i++)
		if (all || d->hosts[i].next_resolve <= now)
			due[n++] = d->hosts[i].host;
	if (n) {
		resolve_dns_hosts(d->policy, due, n, &res);
		now = daemon_now();
		for (size_t i = 0; i < res.n_hosts; i++)
			fold(d, &res.hosts[i], now, t);
		resolution_free(&res);
	}
	free(due);
}

static void save_state(const struct daemon *d)
{
	struct state_clock c = { .mono_now = daemon_now(), .wall_now = time(NULL) };

	if (d->state_path && state_save(d->state_path, d->hosts, d->n_hosts, &c) < 0)
		log_warn("state: cannot write %s", d->state_path);
}

/* One refresh: resolve what is due, expire what ran out, send the diff,
 * and say so in one line. */
static void refresh(struct daemon *d, bool all)
{
	struct refresh_tally t = { 0 };
	struct sync_plan plan;
	time_t now = daemon_now();

	resolve_due(d, now, all, &t);
	now = daemon_now();
	for (size_t i = 0; i < d->n_hosts; i++) {
		size_t n = refresh_expire(&d->hosts[i], now);

		if (n && d->hosts[i].failures)
			log_expired(&d->hosts[i], n);
		t.expired += n;
	}
	if (sync_kernel(d, &plan) < 0)
		log_warnx("refresh: the table could not be updated; trying again at "
			  "the next refresh");
	if (t.resolved || plan.n || t.expired)
		log_info("refresh: %zu host%s resolved, %zu added, %zu extended, %zu kept, "
			 "%zu removed, %zu expired, %zu failed", t.resolved,
			 t.resolved == 1 ? "" : "s", plan.added, plan.extended, plan.kept,
			 plan.removed, t.expired, t.failed);
	sync_plan_free(&plan);
	if (t.resolved)
		save_state(d);
}

/* One state per distinct host of the policy; states of hosts the old
 * policy also had are carried over, so a reload keeps what DNS said. */
static void hosts_from_policy(struct daemon *d, time_t now)
{
	struct host_state *old = d->hosts;
	size_t n_old = d->n_hosts, n = 0;

	d->hosts = xcalloc(d->policy->n_allow, sizeof(*d->hosts));
	for (size_t i = 0; i < d->policy->n_allow; i++)
		if (d->policy->allow[i].host)
			d->hosts[n++].host = d->policy->allow[i].host;
	qsort(d->hosts, n, sizeof(*d->hosts), cmp_state);
	d->n_hosts = 0;
	for (size_t i = 0; i < n; i++) {
		if (d->n_hosts && !strcmp(d->hosts[d->n_hosts - 1].host, d->hosts[i].host))
			continue;
		d->hosts[d->n_hosts].host = xstrdup(d->hosts[i].host);
		d->hosts[d->n_hosts++].next_resolve = now;
	}
	n = d->n_hosts;
	for (size_t i = 0; i < n_old; i++) {
		struct host_state *hs = bsearch(&old[i], d->hosts, n, sizeof(*d->hosts),
						cmp_state);

		if (hs) {
			free(hs->host);
			*hs = old[i];
			hs->next_resolve = now;
			continue;
		}
		host_state_free(&old[i]);
	}
	free(old);
}

int daemon_signals(struct daemon *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	d->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return d->sigfd < 0 ? -1 : 0;
}

/* Fail closed: the table with its rules and DNS, and no allowed address
 * but the last-known-good ones, is in the kernel before anything is
 * resolved. */
static int apply_skeleton(struct daemon *d)
{
	struct ruleset *skel = compile_now(d, daemon_now());

	if (full_apply(d, skel, daemon_now_ms()) < 0)
		return EXIT_KERNEL;
	log_info("run: deny skeleton in place for policy sha256 %.12s",
		 d->policy->sha256_hex);
	return EXIT_OK;
}

/* Last-known-good addresses go in with the skeleton, in the same
 * transaction: a restart never leaves the allowed sets empty, and never
 * holds more than the state file vouches for. */
static void seed_from_state(struct daemon *d)
{
	struct state_clock c = { .mono_now = daemon_now(), .wall_now = time(NULL) };
	int n;

	if (!d->state_path)
		return;
	n = state_load(d->state_path, d->hosts, d->n_hosts, &c, &d->policy->defaults);
	if (n < 0)
		log_warn("state: cannot read %s; starting without it", d->state_path);
	else if (n > 0)
		log_info("run: %d last-known-good address%s restored from %s", n,
			 n == 1 ? "" : "es", d->state_path);
}

int daemon_start(struct daemon *d)
{
	struct nl_err err;
	int rc;

	d->readd_refreshes = true;
	d->nl = nl_open(&err);
	if (!d->nl) {
		log_nl("run", &err);
		return EXIT_KERNEL;
	}
	hosts_from_policy(d, daemon_now());
	seed_from_state(d);
	rc = apply_skeleton(d);
	if (rc != EXIT_OK)
		return rc;
	refresh(d, true);
	notify_systemd("READY=1");
	return EXIT_OK;
}

/* SIGHUP: a new policy replaces the table whole, atomically; an invalid
 * one is reported and the running policy stays in force. */
static void reload(struct daemon *d)
{
	struct policy_errors errs = { 0 };
	struct policy *p, *old = d->policy;
	time_t old_applied = d->applied_at;

	notify_systemd("RELOADING=1");
	p = policy_load(d->policy_path, &errs);
	if (!p) {
		policy_errors_print(&errs, stderr);
		policy_errors_clear(&errs);
		log_warnx("reload: %s is invalid; the running policy stays in force",
			  d->policy_path);
		notify_systemd("READY=1");
		return;
	}
	d->policy = p;
	d->applied_at = 0;
	hosts_from_policy(d, daemon_now());
	if (full_apply(d, compile_now(d, daemon_now()), daemon_now_ms()) < 0) {
		log_warnx("reload: the kernel refused the new policy; the old table stays");
		d->policy = old;
		d->applied_at = old_applied;
		hosts_from_policy(d, daemon_now());
		policy_free(p);
	} else {
		log_info("reload: policy sha256 %.12s in force", p->sha256_hex);
		policy_free(old);
		refresh(d, true);
	}
	notify_systemd("READY=1");
}

/* Returns the signal that ended the wait, or 0 on time-out. */
static int wait_event(struct daemon *d)
{
	struct pollfd pfd = { .fd = d->sigfd, .events = POLLIN };
	time_t next = refresh_next_event(d->hosts, d->n_hosts, daemon_now());
	struct signalfd_siginfo si;
	int ms;

	if (next > (time_t)d->policy->defaults.refresh)
		next = d->policy->defaults.refresh;
	ms = next > 0 ? (int)(next * 1000) : 200;
	if (poll(&pfd, 1, ms) <= 0)
		return 0;
	if (read(d->sigfd, &si, sizeof(si)) != sizeof(si))
		return 0;
	return (int)si.ssi_signo;
}

int daemon_loop(struct daemon *d)
{
	struct nl_err err;
	bool existed;

	for (;;) {
		int sig = wait_event(d);

		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGHUP)
			reload(d);
		else
			refresh(d, false);
	}
	notify_systemd("STOPPING=1");
	save_state(d);
	if (!d->remove_on_exit && !d->policy->remove_on_exit) {
		log_info("run: stopping; table inet egressd stays in force");
		return EXIT_OK;
	}
	if (nl_flush(d->nl, &existed, &err) < 0) {
		log_nl("run: removing the table on exit", &err);
		return EXIT_KERNEL;
	}
	log_info("run: stopping; table inet egressd removed as the policy asks");
	return EXIT_OK;
}

void daemon_free(struct daemon *d)
{
	for (size_t i = 0; i < d->n_hosts; i++)
		host_state_free(&d->hosts[i]);
	free(d->hosts);
	ruleset_free(d->committed);
	policy_free(d->policy);
	if (d->nl)
		nl_close(d->nl);
	if (d->sigfd >= 0)
		close(d->sigfd);
}
