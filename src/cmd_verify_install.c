/* egressd verify-install: checks the installed files against the provenance
 * manifest that make install shipped with them.  Needs no privilege. */
#include "egressd.h"
#include "cmd.h"
#include "hash.h"
#include "manifest.h"

#include <errno.h>
#include <sys/stat.h>

/* The Makefile passes the manifest's installed path; this is its default. */
#ifndef EGRESSD_MANIFEST
#define EGRESSD_MANIFEST "/usr/local/share/doc/egressd/PROVENANCE.manifest"
#endif

enum file_state { FILE_OK, FILE_CHANGED, FILE_MISSING, FILE_UNREADABLE, FILE_STATES };

static const char *const state_names[FILE_STATES] = {
	"ok", "changed", "missing", "unreadable",
};

/* The state of one file; why is set when the state alone does not say it. */
static enum file_state check_file(const char *full, const struct manifest_entry *e,
				  const char **why)
{
	char want[SHA256_HEX_LEN], got[SHA256_HEX_LEN];
	uint8_t d[SHA256_LEN];
	struct stat st;

	*why = NULL;
	if (lstat(full, &st) < 0) {
		*why = strerror(errno);
		return errno == ENOENT || errno == ENOTDIR ? FILE_MISSING : FILE_UNREADABLE;
	}
	/* A symlink to an intact copy elsewhere would hash clean. */
	if (!S_ISREG(st.st_mode)) {
		*why = "no longer a regular file";
		return FILE_CHANGED;
	}
	if (sha256_file(full, d) < 0) {
		*why = strerror(errno);
		return FILE_UNREADABLE;
	}
	if (!memcmp(d, e->sha256, SHA256_LEN))
		return FILE_OK;
	log_info("verify-install: %s: sha256 %s, manifest says %s", e->path,
		 sha256_hex(d, got), sha256_hex(e->sha256, want));
	return FILE_CHANGED;
}

static void report_file(const char *root, const struct manifest_entry *e,
			size_t tally[FILE_STATES])
{
	enum file_state s;
	const char *why;
	char *full;

	full = xasprintf("%s%s", root, e->path);
	s = check_file(full, e, &why);
	tally[s]++;
	if (s == FILE_UNREADABLE || (s == FILE_CHANGED && why))
		printf("%s: %s (%s)\n", state_names[s], e->path, why);
	else if (s != FILE_OK)
		printf("%s: %s\n", state_names[s], e->path);
	free(full);
}

static void print_summary(const struct manifest *m, const size_t tally[FILE_STATES])
{
	size_t bad = m->n - tally[FILE_OK];

	if (!bad) {
		printf("verify-install: all %zu files match\n", m->n);
		return;
	}
	printf("verify-install: %zu of %zu files differ: %zu changed, %zu missing, "
	       "%zu unreadable\n", bad, m->n, tally[FILE_CHANGED],
	       tally[FILE_MISSING], tally[FILE_UNREADABLE]);
}

/* The manifest is named so an auditor can compare its hash with the copy
 * published beside the release: one kept on the same disk as the files it
 * vouches for can be rewritten with them. */
static void print_manifest(const char *path, const struct manifest *m)
{
	char hex[SHA256_HEX_LEN];
	uint8_t d[SHA256_LEN];

	if (sha256_file(path, d) < 0)
		printf("manifest %s (%zu files)\n", path, m->n);
	else
		printf("manifest %s (%zu files, sha256 %s)\n", path, m->n, sha256_hex(d, hex));
}

int cmd_verify_install(int argc, char **argv)
{
	size_t tally[FILE_STATES] = { 0 };
	struct manifest m = { 0 };
	const char *root;
	char err[1024];
	char *path;
	int ret = EXIT_INTERNAL;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: egressd verify-install [MANIFEST]\n");
		return EXIT_USAGE;
	}
	/* EGRESSD_ROOT checks a tree installed with DESTDIR, as tests do. */
	root = getenv("EGRESSD_ROOT");
	if (!root)
		root = "";
	path = argc == 2 ? xstrdup(argv[1]) : xasprintf("%s%s", root, EGRESSD_MANIFEST);
	if (!manifest_load(path, &m, err, sizeof(err))) {
		log_warnx("verify-install: %s; no file was checked", err);
		goto out;
	}
	print_manifest(path, &m);
	for (size_t i = 0; i < m.n; i++)
		report_file(root, &m.v[i], tally);
	print_summary(&m, tally);
	ret = tally[FILE_OK] == m.n ? EXIT_OK : EXIT_DRIFT;
out:
	manifest_free(&m);
	free(path);
	return ret;
}
