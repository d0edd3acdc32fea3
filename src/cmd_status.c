/* egressd status: what the live table holds: its policy hash, version and
 * apply time, the elements of each set, the traffic each allowed host has
 * had, and the packets blocked; with what the daemon last learnt of each
 * host when its state file is there; as text or as JSON. */
#include "egressd.h"
#include "audit.h"
#include "state.h"
#include "cmd.h"
#include "nl.h"
#include "priv.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>

#define STATUS_USAGE "usage: egressd status [--json] [--state FILE]"
#define BLOCKED_CHAIN "blocked"

/* Traffic per allowed host: every counted element whose comment names it. */
struct host_stat {
	const char *name;
	size_t n_elems;
	uint64_t packets, bytes;
};

struct status {
	const struct nl_live *live;
	char version[64], hash[80], applied[UTC_STRLEN];
	bool parsed, stamped;
	const char *state_path;
	struct saved_state saved;
	bool has_saved;
	time_t now;
	struct host_stat *hosts;
	size_t n_hosts;
	uint64_t blocked_packets, blocked_bytes;
};

static int host_cmp(const void *a, const void *b)
{
	return strcmp(((const struct host_stat *)a)->name,
		      ((const struct host_stat *)b)->name);
}

/* One entry per element first, then sorted and folded by host. */
static void collect_hosts(struct status *st)
{
	const struct nl_live *live = st->live;
	size_t n = 0, cap = 0, out = 0;

	for (size_t i = 0; i < live->n_sets; i++) {
		for (size_t j = 0; j < live->sets[i].n_elems; j++) {
			const struct nl_live_elem *e = &live->sets[i].elems[j];

			if (!e->counted || !e->comment)
				continue;
			grow(&st->hosts, &cap, n, sizeof(*st->hosts));
			st->hosts[n++] = (struct host_stat){ e->comment, 1,
							     e->packets,
							     e->bytes };
		}
	}
	qsort(st->hosts, n, sizeof(*st->hosts), host_cmp);
	for (size_t i = 0; i < n; i++) {
		struct host_stat *last = out ? &st->hosts[out - 1] : NULL;

		if (last && !strcmp(last->name, st->hosts[i].name)) {
			last->n_elems++;
			last->packets += st->hosts[i].packets;
			last->bytes += st->hosts[i].bytes;
		} else {
			st->hosts[out++] = st->hosts[i];
		}
	}
	st->n_hosts = out;
}

static void collect_blocked(struct status *st)
{
	const struct nl_live_chain *c = nl_live_find_chain(st->live,
							   BLOCKED_CHAIN);

	for (size_t i = 0; c && i < c->n_rules; i++) {
		if (!c->rules[i].counted)
			continue;
		st->blocked_packets += c->rules[i].packets;
		st->blocked_bytes += c->rules[i].bytes;
	}
}

/* The daemon's state file is optional: absent, status says nothing of it. */
static void read_saved(struct status *st)
{
	st->now = time(NULL);
	if (saved_state_read(st->state_path, &st->saved) == 0)
		st->has_saved = true;
	else if (errno != ENOENT)
		log_warn("status: cannot read the daemon's state %s",
			 st->state_path);
}

/* "2026-12-03T18:40:00Z (in 1h9m58s)", or "(expired)" when past. */
static const char *expiry_text(time_t when, time_t now, char *buf, size_t len)
{
	char at[UTC_STRLEN], dur[32];

	utc_fmt(when, at);
	if (when <= now)
		snprintf(buf, len, "%s (expired)", at);
	else
		snprintf(buf, len, "%s (in %s)", at,
			 render_duration((uint64_t)(when - now) * 1000, dur,
					 sizeof(dur)));
	return buf;
}

/* One row per address; the host's own columns on the first. */
static void saved_host_rows(const struct saved_host *h, time_t now,
			    struct cols *c)
{
	char when[UTC_STRLEN], exp[64];
	size_t rows = h->n_addrs ? h->n_addrs : 1;

	for (size_t i = 0; i < rows; i++) {
		const struct saved_addr *sa = h->n_addrs ? &h->addrs[i] : NULL;

		cols_add(c, "%s", i ? "" : h->name);
		cols_add(c, "%s", sa ? sa->addr : "-");
		cols_add(c, "%s", sa ? expiry_text(sa->expires, now, exp,
						   sizeof(exp)) : "");
		if (i) {
			cols_add(c, "%s", "");
			cols_add(c, "%s", "");
			continue;
		}
		cols_add(c, "%s", h->last_ok ? utc_fmt(h->last_ok, when)
					     : "never");
		cols_add(c, "%s%s%s", h->status ? h->status : "",
			 h->error ? ": " : "", h->error ? h->error : "");
	}
}

static void print_saved_text(const struct status *st)
{
	static const char *const head[] = { "host", "address", "expires",
		"last resolved", "last answer" };
	struct cols c;

	printf("daemon state %s:\n", st->state_path);
	cols_init_head(&c, head, ARRAY_SIZE(head));
	for (size_t i = 0; i < st->saved.n_hosts; i++)
		saved_host_rows(&st->saved.hosts[i], st->now, &c);
	cols_print(&c, stdout, 2);
	cols_free(&c);
}

static void json_time(time_t t)
{
	char when[UTC_STRLEN];

	json_escape(stdout, t ? utc_fmt(t, when) : NULL);
}

static void json_saved_host(const struct saved_host *h)
{
	printf("{\"host\":");
	json_escape(stdout, h->name);
	printf(",\"status\":");
	json_escape(stdout, h->status);
	printf(",\"error\":");
	json_escape(stdout, h->error);
	printf(",\"last_ok_at\":");
	json_time(h->last_ok);
	printf(",\"last_attempt_at\":");
	json_time(h->last_attempt);
	printf(",\"addresses\":[");
	for (size_t k = 0; k < h->n_addrs; k++) {
		printf("%s{\"address\":", k ? "," : "");
		json_escape(stdout, h->addrs[k].addr);
		printf(",\"expires_at\":");
		json_time(h->addrs[k].expires);
		printf("}");
	}
	printf("]}");
}

static void print_saved_json(const struct status *st)
{
	printf("{\"state_file\":");
	json_escape(stdout, st->state_path);
	printf(",\"hosts\":[");
	for (size_t i = 0; i < st->saved.n_hosts; i++) {
		printf("%s", i ? "," : "");
		json_saved_host(&st->saved.hosts[i]);
	}
	printf("]}");
}

static void print_text(const struct status *st)
{
	const struct nl_live *live = st->live;

	printf("table inet %s: %s%s, policy sha256:%s%s%s\n", EGRESSD_TABLE,
	       st->parsed ? "egressd " : "comment ",
	       st->parsed ? st->version : live->comment ? live->comment : "",
	       st->parsed ? st->hash : "unknown",
	       st->stamped ? ", applied " : "", st->stamped ? st->applied : "");
	printf("sets:\n");
	for (size_t i = 0; i < live->n_sets; i++)
		printf("  %-12s %zu elements\n", live->sets[i].name,
		       live->sets[i].n_elems);
	printf("allowed hosts:\n");
	for (size_t i = 0; i < st->n_hosts; i++)
		printf("  %-40s %zu elements  %" PRIu64 " packets  %" PRIu64
		       " bytes\n", st->hosts[i].name, st->hosts[i].n_elems,
		       st->hosts[i].packets, st->hosts[i].bytes);
	printf("blocked: %" PRIu64 " packets, %" PRIu64 " bytes\n",
	       st->blocked_packets, st->blocked_bytes);
	if (st->has_saved)
		print_saved_text(st);
}

static void json_string(const char *s)
{
	json_escape(stdout, s ? s : "");
}

static void print_json(const struct status *st)
{
	const struct nl_live *live = st->live;

	printf("{\"table\":\"inet %s\",\"present\":true,\"version\":",
	       EGRESSD_TABLE);
	json_string(st->parsed ? st->version : NULL);
	printf(",\"policy_sha256\":");
	json_string(st->parsed ? st->hash : NULL);
	printf(",\"applied_at\":");
	json_escape(stdout, st->stamped ? st->applied : NULL);
	printf(",\"comment\":");
	json_string(live->comment);
	printf(",\"sets\":[");
	for (size_t i = 0; i < live->n_sets; i++) {
		printf("%s{\"name\":", i ? "," : "");
		json_string(live->sets[i].name);
		printf(",\"elements\":%zu}", live->sets[i].n_elems);
	}
	printf("],\"allowed\":[");
	for (size_t i = 0; i < st->n_hosts; i++) {
		printf("%s{\"host\":", i ? "," : "");
		json_string(st->hosts[i].name);
		printf(",\"elements\":%zu,\"packets\":%" PRIu64
		       ",\"bytes\":%" PRIu64 "}", st->hosts[i].n_elems,
		       st->hosts[i].packets, st->hosts[i].bytes);
	}
	printf("],\"blocked\":{\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
	       "},\"daemon\":", st->blocked_packets, st->blocked_bytes);
	if (st->has_saved)
		print_saved_json(st);
	else
		printf("null");
	printf("}\n");
}

static int show(const struct nl_live *live, bool json, const char *state)
{
	struct status st = { .live = live, .state_path = state };

	if (!live) {
		if (json)
			printf("{\"table\":\"inet %s\",\"present\":false}\n",
			       EGRESSD_TABLE);
		else
			printf("table inet %s: absent\n", EGRESSD_TABLE);
		return EXIT_ABSENT;
	}
	st.parsed = nl_parse_table_comment(live->comment, st.version,
					   sizeof(st.version), st.hash,
					   sizeof(st.hash));
	st.stamped = table_comment_applied(live->comment, st.applied);
	collect_hosts(&st);
	collect_blocked(&st);
	read_saved(&st);
	if (json)
		print_json(&st);
	else
		print_text(&st);
	free(st.hosts);
	saved_state_free(&st.saved);
	return EXIT_OK;
}

static int parse_args(int argc, char **argv, bool *json, const char **state)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "state", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'j' && c != 's') {
			fprintf(stderr, "%s\n", STATUS_USAGE);
			return EXIT_USAGE;
		}
		if (c == 's')
			*state = optarg;
		else
			*json = true;
	}
	if (optind != argc) {
		fprintf(stderr, "%s\n", STATUS_USAGE);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

int cmd_status(int argc, char **argv)
{
	struct nl_live *live = NULL;
	struct nl_err err = { 0 };
	const char *state = state_default_path();
	struct nl_sock *nl;
	bool json = false;
	char msg[640];
	int ret;

	ret = parse_args(argc, argv, &json, &state);
	if (ret != EXIT_OK)
		return ret;
	ret = priv_restrict("status", PRIV_READ);
	if (ret != EXIT_OK)
		return ret;
	nl = nl_open(&err);
	if (!nl || nl_read(nl, &live, &err) < 0) {
		log_warnx("status: %s", nl_err_str(&err, msg, sizeof(msg)));
		nl_close(nl);
		return EXIT_KERNEL;
	}
	nl_close(nl);
	ret = show(live, json, state);
	nl_live_free(live);
	return ret;
}
