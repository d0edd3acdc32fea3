/* Last-known-good cache: a small text file of host, address and expiry,
 * written atomically after each refresh and read once at start-up. */
#include "egressd.h"
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#define STATE_MAGIC "# egressd state 1"

static FILE *open_tmp(const char *path, char **tmp)
{
	int fd;
	FILE *f;

	*tmp = xasprintf("%s.tmp", path);
	fd = open(*tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return NULL;
	f = fdopen(fd, "w");
	if (!f)
		close(fd);
	return f;
}

static void write_host(FILE *f, const struct host_state *h, const struct state_clock *c)
{
	char buf[ADDR_STRLEN];

	if (!h->last_attempt)
		return;
	/* host NAME LAST_OK LAST_ATTEMPT STATUS [LAST ERROR TEXT]; LAST_OK 0
	 * when DNS never answered.  status reads the tail, the daemon only
	 * the first two fields. */
	fprintf(f, "host %s %lld %lld %s%s%s\n", h->host,
		h->last_ok ? (long long)(h->last_ok - c->mono_now + c->wall_now) : 0LL,
		(long long)(h->last_attempt - c->mono_now + c->wall_now),
		res_status_str(h->last_status), h->last_error ? " " : "",
		h->last_error ? h->last_error : "");
	for (size_t j = 0; j < h->n_addrs; j++)
		fprintf(f, "addr %s %s %lld\n", h->host, addr_fmt(&h->addrs[j].addr, buf),
			(long long)(h->addrs[j].expires - c->mono_now + c->wall_now));
}

int state_save(const char *path, const struct host_state *hs, size_t n,
	       const struct state_clock *c)
{
	char *tmp = NULL;
	FILE *f = open_tmp(path, &tmp);
	int ret = -1, saved;

	if (!f)
		goto out;
	fprintf(f, "%s\n", STATE_MAGIC);
	for (size_t i = 0; i < n; i++)
		write_host(f, &hs[i], c);
	if (fflush(f) == EOF || fsync(fileno(f)) < 0) {
		saved = errno;
		fclose(f);
		errno = saved;
		goto out;
	}
	if (fclose(f) == EOF || rename(tmp, path) < 0)
		goto out;
	ret = 0;
out:
	if (ret < 0) {
		saved = errno;
		unlink(tmp);
		errno = saved;
	}
	free(tmp);
	return ret;
}

static struct host_state *find_host(struct host_state *hs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(hs[i].host, name))
			return &hs[i];
	return NULL;
}

/* An address is restored only if its host is still in the policy, its
 * last good answer is within the stale period, it has not expired, and
 * its expiry is no further away than a fresh answer could have set it. */
static bool restore_addr(struct host_state *h, const char *a, long long wall_exp,
			 const struct state_clock *c, const struct policy_defaults *d)
{
	time_t left = (time_t)(wall_exp - c->wall_now);
	struct known_addr *k;
	struct addr addr;

	if (!h->last_ok || left <= 0 || left > (time_t)d->ttl_ceiling + d->grace + d->stale)
		return false;
	if (!addr_parse(a, &addr) || addr_refusal(&addr))
		return false;
	for (size_t i = 0; i < h->n_addrs; i++)
		if (!addr_cmp(&h->addrs[i].addr, &addr))
			return false;
	grow(&h->addrs, &h->cap_addrs, h->n_addrs, sizeof(*h->addrs));
	k = &h->addrs[h->n_addrs++];
	k->addr = addr;
	k->expires = c->mono_now + left;
	k->last_seen = h->last_ok;
	return true;
}

static int cmp_known(const void *a, const void *b)
{
	return addr_cmp(&((const struct known_addr *)a)->addr,
			&((const struct known_addr *)b)->addr);
}

static bool load_line(char *line, struct host_state *hs, size_t n,
		      const struct state_clock *c, const struct policy_defaults *d,
		      int *restored)
{
	char name[256], a[ADDR_STRLEN];
	struct host_state *h;
	long long t;

	if (sscanf(line, "host %255s %lld", name, &t) == 2) {
		h = find_host(hs, n, name);
		if (h && t > 0 && c->wall_now - t < (time_t)d->stale && t <= c->wall_now)
			h->last_ok = c->mono_now - (time_t)(c->wall_now - t);
		return true;
	}
	if (sscanf(line, "addr %255s %45s %lld", name, a, &t) == 3) {
		h = find_host(hs, n, name);
		if (h && restore_addr(h, a, t, c, d))
			(*restored)++;
		return true;
	}
	return false;
}

int state_load(const char *path, struct host_state *hs, size_t n,
	       const struct state_clock *c, const struct policy_defaults *d)
{
	FILE *f = fopen(path, "re");
	char line[512];
	int restored = 0;
	unsigned int lineno = 0;

	if (!f)
		return errno == ENOENT ? 0 : -1;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (lineno == 1 && strncmp(line, STATE_MAGIC, strlen(STATE_MAGIC))) {
			log_warnx("state: %s: not an egressd state file, ignored", path);
			break;
		}
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (!load_line(line, hs, n, c, d, &restored))
			log_warnx("state: %s:%u: malformed line skipped", path, lineno);
	}
	fclose(f);
	for (size_t i = 0; i < n; i++)
		if (hs[i].n_addrs > 1)
			qsort(hs[i].addrs, hs[i].n_addrs, sizeof(*hs[i].addrs), cmp_known);
	return restored;
}

/* systemd's StateDirectory= names the directory; else the default.
 * EGRESSD_STATE overrides both. */
const char *state_default_path(void)
{
	static char buf[4096];
	const char *env = getenv("EGRESSD_STATE");
	const char *dir = getenv("STATE_DIRECTORY");

	if (env && *env)
		return env;
	if (dir && *dir && !strchr(dir, ':') &&
	    (size_t)snprintf(buf, sizeof(buf), "%s/state", dir) < sizeof(buf))
		return buf;
	return STATE_DEFAULT_DIR "/state";
}
