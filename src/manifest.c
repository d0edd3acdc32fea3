/* Reads the provenance manifest strictly: comment lines, then one entry a
 * line; anything else is an error that names the line, because a manifest
 * read loosely could hide the very file it was meant to vouch for. */
#include "egressd.h"
#include "manifest.h"

#include <errno.h>
#include <stdarg.h>

#define DIGEST_PREFIX "sha256:"
#define DIGEST_HEX (2 * SHA256_LEN)

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Lower case only, as sha256sum writes it, so a digest has one spelling. */
static bool parse_digest(const char *s, uint8_t out[SHA256_LEN])
{
	for (size_t i = 0; i < DIGEST_HEX; i++) {
		int v = hex_value(s[i]);

		if (v < 0)
			return false;
		if (i % 2 == 0)
			out[i / 2] = v << 4;
		else
			out[i / 2] |= v;
	}
	return true;
}

/* Absolute, without empty, "." or ".." components: with EGRESSD_ROOT in
 * front it stays inside that root, and a file has one spelling. */
static const char *path_problem(const char *p)
{
	const char *c, *end;
	size_t len;

	if (p[0] != '/')
		return "path is not absolute";
	for (c = p; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return "path holds a control character";
	for (c = p; *c; c = end) {
		end = strchrnul(c + 1, '/');
		len = end - c - 1;
		if (len == 0 || (len == 1 && c[1] == '.') ||
		    (len == 2 && c[1] == '.' && c[2] == '.'))
			return "path has an empty, '.' or '..' component";
	}
	return NULL;
}

/* NULL when line is a good entry, else why not, with *at set to the text
 * the problem starts at so the message can quote it. */
static const char *parse_entry(const char *line, struct manifest_entry *e,
			       const char **at)
{
	const char *why;

	*at = line;
	if (strncmp(line, DIGEST_PREFIX, strlen(DIGEST_PREFIX)))
		return "expected \"sha256:HEX  PATH\"";
	line += strlen(DIGEST_PREFIX);
	if (!parse_digest(line, e->sha256))
		return "digest is not 64 lower-case hex digits";
	line += DIGEST_HEX;
	*at = line;
	if (strncmp(line, "  ", 2))
		return "expected two spaces between digest and path";
	line += 2;
	*at = line;
	why = path_problem(line);
	if (why)
		return why;
	e->path = xstrdup(line);
	return NULL;
}

/* Where reading stands, so every error can name the file and the line. */
struct reader {
	const char *path;
	size_t line;
	char *err;
	size_t errlen;
};

static bool fail(struct reader *r, const char *fmt, ...) PRINTF_LIKE(2, 3);

static bool fail(struct reader *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->line)
		n = snprintf(r->err, r->errlen, "%s:%zu: ", r->path, r->line);
	else
		n = snprintf(r->err, r->errlen, "%s: ", r->path);
	if (n < 0 || (size_t)n >= r->errlen)
		return false;
	va_start(ap, fmt);
	vsnprintf(r->err + n, r->errlen - n, fmt, ap);
	va_end(ap);
	return false;
}

/* One line without its newline: a comment, or an entry appended to m. */
static bool parse_line(struct reader *r, const char *line, size_t len, struct manifest *m)
{
	struct manifest_entry e = { .line = r->line };
	const char *why, *at = line;

	if (line[0] == '#')
		return true;
	if (len == 0)
		why = "empty line";
	else if (strlen(line) != len)
		why = "line holds a NUL byte";
	else if (len > MANIFEST_LINE_MAX)
		why = "line too long";
	else
		why = parse_entry(line, &e, &at);
	if (why)
		return fail(r, "%s: \"%.72s\"", why, at);
	grow(&m->v, &m->cap, m->n, sizeof(*m->v));
	m->v[m->n++] = e;
	return true;
}

static bool read_lines(struct reader *r, FILE *f, struct manifest *m)
{
	char *line = NULL;
	size_t cap = 0;
	bool ok = true;
	ssize_t len;

	while (ok && (len = getline(&line, &cap, f)) >= 0) {
		r->line++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		ok = parse_line(r, line, len, m);
	}
	if (ok && ferror(f))
		ok = fail(r, "%s", strerror(errno));
	free(line);
	return ok;
}

/* The manifests this reads list a handful of files: pairs are cheap. */
static bool check_duplicates(struct reader *r, const struct manifest *m)
{
	for (size_t i = 0; i < m->n; i++) {
		for (size_t j = i + 1; j < m->n; j++) {
			if (strcmp(m->v[i].path, m->v[j].path))
				continue;
			r->line = m->v[j].line;
			return fail(r, "%s already listed on line %zu",
				    m->v[j].path, m->v[i].line);
		}
	}
	return true;
}

bool manifest_load(const char *path, struct manifest *m, char *err, size_t errlen)
{
	struct reader r = { .path = path, .err = err, .errlen = errlen };
	bool ok = false;
	FILE *f;

	memset(m, 0, sizeof(*m));
	f = fopen(path, "re");
	if (!f)
		return fail(&r, "%s", strerror(errno));
	if (!read_lines(&r, f, m) || !check_duplicates(&r, m))
		goto out;
	r.line = 0;
	if (m->n == 0) {
		fail(&r, "lists no files");
		goto out;
	}
	ok = true;
out:
	fclose(f);
	if (!ok)
		manifest_free(m);
	return ok;
}

void manifest_free(struct manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].path);
	free(m->v);
	memset(m, 0, sizeof(*m));
}
