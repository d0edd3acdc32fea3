/* egressd status: what the live table holds: its policy hash and version,
 * the elements of each set, the traffic each allowed host has had, and
 * the packets blocked; as text or as JSON. */
#include "egressd.h"
#include "cmd.h"
#include "nl.h"
#include "priv.h"

#include <getopt.h>
#include <inttypes.h>

#define STATUS_USAGE "usage: egressd status [--json]"
#define BLOCKED_CHAIN "blocked"

/* Traffic per allowed host: every counted element whose comment names it. */
struct host_stat {
	const char *name;
	size_t n_elems;
	uint64_t packets, bytes;
};

struct status {
	const struct nl_live *live;
	char version[64], hash[80];
	bool parsed;
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

static void print_text(const struct status *st)
{
	const struct nl_live *live = st->live;

	printf("table inet %s: %s%s, policy sha256:%s\n", EGRESSD_TABLE,
	       st->parsed ? "egressd " : "comment ",
	       st->parsed ? st->version : live->comment ? live->comment : "",
	       st->parsed ? st->hash : "unknown");
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
}

static void json_string(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void print_json(const struct status *st)
{
	const struct nl_live *live = st->live;

	printf("{\"table\":\"inet %s\",\"present\":true,\"version\":",
	       EGRESSD_TABLE);
	json_string(st->parsed ? st->version : NULL);
	printf(",\"policy_sha256\":");
	json_string(st->parsed ? st->hash : NULL);
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
	       "}}\n", st->blocked_packets, st->blocked_bytes);
}

static int show(const struct nl_live *live, bool json)
{
	struct status st = { .live = live };

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
	collect_hosts(&st);
	collect_blocked(&st);
	if (json)
		print_json(&st);
	else
		print_text(&st);
	free(st.hosts);
	return EXIT_OK;
}

static int parse_args(int argc, char **argv, bool *json)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'j') {
			fprintf(stderr, "%s\n", STATUS_USAGE);
			return EXIT_USAGE;
		}
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
	struct nl_sock *nl;
	bool json = false;
	char msg[640];
	int ret;

	ret = parse_args(argc, argv, &json);
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
	ret = show(live, json);
	nl_live_free(live);
	return ret;
}
