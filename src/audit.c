/* Building blocks of the reports that audit and status write: JSON that
 * any parser takes, text columns that line up, and the two records of the
 * past a report quotes (the table's apply time, the daemon's state file). */
#include "egressd.h"
#include "audit.h"
#include "state.h"

#include <errno.h>
#include <stdarg.h>

/* JSON */

void json_init(struct json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

/* The length of the UTF-8 sequence at s, 0 if it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	static const uint32_t least[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t n;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms and surrogates would not survive a strict parser. */
	if (cp < least[n] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

void json_escape(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	while (*p) {
		size_t n = utf8_len(p);

		if (!n) {
			fputs("\\ufffd", f);
			n = 1;
		} else if (*p == '"' || *p == '\\') {
			fprintf(f, "\\%c", *p);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(f, "\\u%04x", *p);
		} else {
			fwrite(p, 1, n, f);
		}
		p += n;
	}
	fputc('"', f);
}

/* The separator, indentation and member name before a value. */
static void json_lead(struct json *j, const char *key)
{
	if (j->depth)
		fprintf(j->f, "%s%*s", j->more[j->depth] ? ",\n" : "\n",
			(int)(2 * j->depth), "");
	j->more[j->depth] = true;
	if (key) {
		json_escape(j->f, key);
		fputs(": ", j->f);
	}
}

void json_open(struct json *j, const char *key, char bracket)
{
	if (j->depth + 1 >= JSON_MAX_DEPTH)
		fatalx("json: nested deeper than %d levels", JSON_MAX_DEPTH);
	json_lead(j, key);
	fputc(bracket, j->f);
	j->more[++j->depth] = false;
}

void json_close(struct json *j, char bracket)
{
	if (j->more[j->depth])
		fprintf(j->f, "\n%*s", (int)(2 * (j->depth - 1)), "");
	j->depth--;
	fputc(bracket, j->f);
	if (!j->depth)
		fputc('\n', j->f);
}

void json_str(struct json *j, const char *key, const char *v)
{
	json_lead(j, key);
	json_escape(j->f, v);
}

void json_uint(struct json *j, const char *key, uint64_t v)
{
	json_lead(j, key);
	fprintf(j->f, "%llu", (unsigned long long)v);
}

void json_int(struct json *j, const char *key, int64_t v)
{
	json_lead(j, key);
	fprintf(j->f, "%lld", (long long)v);
}

void json_bool(struct json *j, const char *key, bool v)
{
	json_lead(j, key);
	fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j, const char *key)
{
	json_lead(j, key);
	fputs("null", j->f);
}

/* Times */

const char *utc_fmt(time_t t, char buf[UTC_STRLEN])
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) ||
	    !strftime(buf, UTC_STRLEN, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, UTC_STRLEN, "?");
	return buf;
}

bool table_comment_applied(const char *comment, char buf[UTC_STRLEN])
{
	const char *p = comment ? strstr(comment, " applied ") : NULL;
	struct tm tm = { 0 };
	const char *end;

	if (!p)
		return false;
	p += strlen(" applied ");
	end = strptime(p, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || (*end && *end != ' ') || end - p >= UTC_STRLEN)
		return false;
	snprintf(buf, UTC_STRLEN, "%.*s", (int)(end - p), p);
	return true;
}

/* Text columns */

void cols_init(struct cols *c, size_t n_cols)
{
	memset(c, 0, sizeof(*c));
	c->n_cols = n_cols;
}

void cols_init_head(struct cols *c, const char *const *head, size_t n_cols)
{
	cols_init(c, n_cols);
	for (size_t i = 0; i < n_cols; i++)
		cols_add(c, "%s", head[i]);
}

void cols_add(struct cols *c, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("out of memory");
	for (char *p = s; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	grow(&c->cells, &c->cap_cells, c->n_cells, sizeof(*c->cells));
	c->cells[c->n_cells++] = s;
}

/* Columns a terminal gives the text: UTF-8 continuation bytes take none. */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* Empty cells at the end of a row leave no trailing blanks. */
static void print_row(char *const *row, const size_t *w, size_t n, FILE *f,
		      unsigned int indent)
{
	while (n > 0 && !row[n - 1][0])
		n--;
	fprintf(f, "%*s", (int)indent, "");
	for (size_t k = 0; k < n; k++) {
		fputs(row[k], f);
		if (k + 1 < n)
			fprintf(f, "%*s", (int)(w[k] - text_width(row[k]) + 2),
				"");
	}
	fputc('\n', f);
}

void cols_print(const struct cols *c, FILE *f, unsigned int indent)
{
	size_t rows = c->n_cols ? c->n_cells / c->n_cols : 0;
	size_t *w = xcalloc(c->n_cols + 1, sizeof(*w));

	for (size_t i = 0; i < rows * c->n_cols; i++) {
		size_t k = i % c->n_cols, tw = text_width(c->cells[i]);

		if (tw > w[k])
			w[k] = tw;
	}
	for (size_t r = 0; r < rows; r++)
		print_row(&c->cells[r * c->n_cols], w, c->n_cols, f, indent);
	free(w);
}

void cols_free(struct cols *c)
{
	for (size_t i = 0; i < c->n_cells; i++)
		free(c->cells[i]);
	free(c->cells);
	memset(c, 0, sizeof(*c));
}

/* The daemon's state file */

static struct saved_host *saved_host(struct saved_state *st, const char *name)
{
	struct saved_host *h;

	for (size_t i = st->n_hosts; i-- > 0;) {
		if (!strcmp(st->hosts[i].name, name))
			return &st->hosts[i];
	}
	grow(&st->hosts, &st->cap_hosts, st->n_hosts, sizeof(*h));
	h = &st->hosts[st->n_hosts++];
	memset(h, 0, sizeof(*h));
	h->name = xstrdup(name);
	return h;
}

/* "host NAME LAST_OK LAST_ATTEMPT STATUS [ERROR TEXT]"; files of older
 * daemons end after LAST_OK.  The first %n counts for the short form,
 * the second overwrites it for the long one. */
static bool read_host(struct saved_state *st, const char *line)
{
	char name[256], status[32];
	long long ok, attempt;
	struct saved_host *h;
	int n = 0, m;

	m = sscanf(line, "host %255s %lld%n %lld %31s%n", name, &ok, &n,
		   &attempt, status, &n);
	if (m != 2 && m != 4)
		return false;
	h = saved_host(st, name);
	h->last_ok = (time_t)ok;
	if (m == 2)
		return true;
	h->last_attempt = (time_t)attempt;
	free(h->status);
	h->status = xstrdup(status);
	line += n + strspn(line + n, " ");
	free(h->error);
	h->error = *line ? xstrdup(line) : NULL;
	return true;
}

/* "addr NAME ADDRESS EXPIRES" */
static bool read_addr(struct saved_state *st, const char *line)
{
	char name[256], a[ADDR_STRLEN];
	struct saved_addr *sa;
	struct saved_host *h;
	long long exp;

	if (sscanf(line, "addr %255s %45s %lld", name, a, &exp) != 3)
		return false;
	h = saved_host(st, name);
	grow(&h->addrs, &h->cap_addrs, h->n_addrs, sizeof(*sa));
	sa = &h->addrs[h->n_addrs++];
	snprintf(sa->addr, sizeof(sa->addr), "%s", a);
	sa->expires = (time_t)exp;
	return true;
}

int saved_state_read(const char *path, struct saved_state *st)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	int err = 0;

	memset(st, 0, sizeof(*st));
	if (!f)
		return -1;
	errno = 0;
	while (getline(&line, &cap, f) >= 0) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] != '#' && line[0] && !read_host(st, line))
			read_addr(st, line);
		errno = 0;
	}
	if (ferror(f)) {
		err = errno ? errno : EIO;
		saved_state_free(st);
	}
	free(line);
	fclose(f);
	errno = err;
	return err ? -1 : 0;
}

void saved_state_free(struct saved_state *st)
{
	for (size_t i = 0; i < st->n_hosts; i++) {
		free(st->hosts[i].name);
		free(st->hosts[i].status);
		free(st->hosts[i].error);
		free(st->hosts[i].addrs);
	}
	free(st->hosts);
	memset(st, 0, sizeof(*st));
}
