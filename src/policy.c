/* The policy loader: reads a version 1 allowlist from YAML, refuses anything
 * docs/policy.md does not describe, and reports every problem at once, each
 * with the line and column where it was written. */
#include "egressd.h"
#include "policy.h"
#include "hash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#define MINUTE 60
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)
#define VALUE_MAX 256		/* bytes of a value quoted in a message */
#define RESOLV_CONF "/etc/resolv.conf"

enum node_kind { NODE_SCALAR, NODE_SEQ, NODE_MAP, NODE_BAD };

/* A YAML node as the loader keeps it.  A mapping's kids alternate key and
 * value.  NODE_BAD stands for something already reported (an alias), so
 * the checks skip it without a second message. */
struct node {
	enum node_kind kind;
	unsigned int line, col;
	char *str;			/* scalar text */
	bool plain;			/* scalar written without quotes */
	struct node **kids;
	size_t n, cap;
};

struct loader {
	const char *name;
	const char *buf;
	size_t len;
	struct policy_errors *errs;
	struct policy *p;
	const struct node **entry_keys;	/* each entry's host or cidr node */
};

/* Where the event reader is: the open collections, outermost first. */
struct tree {
	struct node *root;
	struct node *open[POLICY_MAX_DEPTH];
	size_t depth;
	unsigned int docs;
};

enum step { STEP_ON, STEP_DONE, STEP_STOP };

/* Keys of one mapping.  Typed rules store straight into the target at off;
 * the others run check. */
enum rule_type { RULE_FUNC, RULE_BOOL, RULE_SECONDS, RULE_U32, RULE_U16 };

struct rule {
	const char *key;
	enum rule_type type;
	bool required;
	size_t off;
	uint32_t min, max;
	bool (*check)(struct loader *ld, const struct node *v, const char *what,
		      void *target);
};

struct section {
	const char *name;		/* "defaults", for messages */
	const char *prefix;		/* "defaults.", before key names */
	const struct rule *rules;
	size_t n_rules;
};

/* What walk_map() saw of each rule's key. */
struct seen {
	const struct node *key, *val;
	bool ok;
};

/* An allow entry while it is checked. */
struct entry_draft {
	struct allow_entry *e;
	bool any_address;
};

/* Errors */

/* Quotes a value for a message: control characters are escaped so a
 * message stays one line, and long values are cut at a character edge. */
static void quote_value(char *out, size_t size, const char *s)
{
	size_t o = 0, i;

	for (i = 0; s[i] && o + 8 < size; i++) {
		unsigned char c = s[i];

		if (i >= VALUE_MAX && (c & 0xc0) != 0x80) {
			o += snprintf(out + o, size - o, "...");
			break;
		}
		if (c == '\n')
			o += snprintf(out + o, size - o, "\\n");
		else if (c == '\t')
			o += snprintf(out + o, size - o, "\\t");
		else if (c < 0x20 || c == 0x7f)
			o += snprintf(out + o, size - o, "\\x%02x", c);
		else
			out[o++] = c;
	}
	out[o] = '\0';
}

static char *vformat(const struct loader *ld, unsigned int line,
		     unsigned int col, const char *value, const char *fmt,
		     va_list ap)
{
	char what[512], quoted[VALUE_MAX * 4 + 16];

	vsnprintf(what, sizeof(what), fmt, ap);
	if (!value)
		return xasprintf("%s:%u:%u: %s", ld->name, line, col, what);
	quote_value(quoted, sizeof(quoted), value);
	return xasprintf("%s:%u:%u: %s: '%s'", ld->name, line, col, what,
			 quoted);
}

/* Past POLICY_MAX_ERRORS only a count is kept: a file of aliases alone
 * must not turn into megabytes of messages. */
static void push_error(struct policy_errors *errs, char *msg,
		       unsigned int line, unsigned int col)
{
	if (errs->n >= POLICY_MAX_ERRORS) {
		errs->dropped++;
		free(msg);
		return;
	}
	grow(&errs->v, &errs->cap, errs->n, sizeof(*errs->v));
	errs->v[errs->n++] = (struct policy_error){ msg, line, col };
}

static void PRINTF_LIKE(5, 6)
error_at(struct loader *ld, unsigned int line, unsigned int col,
	 const char *value, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	push_error(ld->errs, vformat(ld, line, col, value, fmt, ap), line, col);
	va_end(ap);
}

/* An error about node n, quoting it when it is a scalar. */
static void PRINTF_LIKE(3, 4)
bad(struct loader *ld, const struct node *n, const char *fmt, ...)
{
	const char *value = n->kind == NODE_SCALAR ? n->str : NULL;
	va_list ap;

	va_start(ap, fmt);
	push_error(ld->errs, vformat(ld, n->line, n->col, value, fmt, ap),
		   n->line, n->col);
	va_end(ap);
}

static void PRINTF_LIKE(3, 4)
warn(struct loader *ld, const struct node *n, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = vformat(ld, n->line, n->col, n->str, fmt, ap);
	va_end(ap);
	log_warnx("%s", msg);
	free(msg);
}

/* Where a byte offset falls, counting columns in characters as libyaml
 * does. */
static void offset_position(const char *buf, size_t off, unsigned int *line,
			    unsigned int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		unsigned char c = buf[i];
		bool crlf = c == '\r' && i + 1 < off && buf[i + 1] == '\n';

		if (c == '\n' || (c == '\r' && !crlf)) {
			(*line)++;
			*col = 1;
		} else if ((c & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

struct error_pos {
	unsigned int line, col;
	size_t i;
};

static int error_pos_cmp(const void *a, const void *b)
{
	const struct error_pos *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return (x->i > y->i) - (x->i < y->i);
}

/* Sorts the errors from first on by position, keeping the order in which
 * errors at the same position were found. */
static void sort_errors(struct policy_errors *errs, size_t first)
{
	size_t n = errs->n - first;
	struct policy_error *v, *sorted;
	struct error_pos *pos;

	if (n < 2)
		return;
	v = errs->v + first;
	pos = xcalloc(n, sizeof(*pos));
	for (size_t i = 0; i < n; i++)
		pos[i] = (struct error_pos){ v[i].line, v[i].col, i };
	qsort(pos, n, sizeof(*pos), error_pos_cmp);
	sorted = xcalloc(n, sizeof(*sorted));
	for (size_t i = 0; i < n; i++)
		sorted[i] = v[pos[i].i];
	memcpy(v, sorted, n * sizeof(*v));
	free(sorted);
	free(pos);
}

/* The raw bytes */

/* Problems that make the bytes unfit to hand to the YAML parser at all. */
static bool check_bytes(struct loader *ld, const char *buf, size_t len)
{
	const char *nul;
	unsigned int line, col;

	if (len == 0) {
		error_at(ld, 1, 1, NULL, "the policy is empty");
		return false;
	}
	if (len > POLICY_MAX_BYTES) {
		error_at(ld, 1, 1, NULL, "the policy is larger than %d bytes",
			 POLICY_MAX_BYTES);
		return false;
	}
	/* libyaml would honour a byte-order mark, even a UTF-16 one; one
	 * encoding and no invisible prefix keeps every reader agreeing. */
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3)) {
		error_at(ld, 1, 1, NULL, "the file starts with a byte-order "
			 "mark, save it as UTF-8 without one");
		return false;
	}
	if (len >= 2 && (!memcmp(buf, "\xff\xfe", 2) ||
			 !memcmp(buf, "\xfe\xff", 2))) {
		error_at(ld, 1, 1, NULL, "the file starts with a UTF-16 "
			 "byte-order mark, save it as UTF-8 without one");
		return false;
	}
	nul = memchr(buf, '\0', len);
	if (nul) {
		offset_position(buf, nul - buf, &line, &col);
		error_at(ld, line, col, NULL, "NUL byte in the policy");
		return false;
	}
	return true;
}

/* The YAML tree */

static struct node *node_new(enum node_kind kind, const yaml_mark_t *m)
{
	struct node *n = xcalloc(1, sizeof(*n));

	n->kind = kind;
	n->line = m->line + 1;
	n->col = m->column + 1;
	return n;
}

static void node_free(struct node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->str);
	free(n);
}

static void tree_attach(struct tree *t, struct node *n)
{
	struct node *parent;

	if (t->depth == 0) {
		t->root = n;
		return;
	}
	parent = t->open[t->depth - 1];
	grow(&parent->kids, &parent->cap, parent->n, sizeof(*parent->kids));
	parent->kids[parent->n++] = n;
}

/* Anchors, aliases and tags are refused: they let one place of the file
 * change the meaning of another, and the policy language needs none. */
static void check_props(struct loader *ld, const yaml_mark_t *m,
			const yaml_char_t *anchor, const yaml_char_t *tag)
{
	static const char yaml_tag[] = "tag:yaml.org,2002:";
	const size_t yaml_tag_len = sizeof(yaml_tag) - 1;
	unsigned int line = m->line + 1, col = m->column + 1;
	const char *t = (const char *)tag;
	char *v;

	if (anchor) {
		v = xasprintf("&%s", (const char *)anchor);
		error_at(ld, line, col, v, "YAML anchors are not allowed");
		free(v);
	}
	if (tag) {
		if (!strncmp(t, yaml_tag, yaml_tag_len))
			v = xasprintf("!!%s", t + yaml_tag_len);
		else
			v = xstrdup(t);
		error_at(ld, line, col, v, "YAML tags are not allowed");
		free(v);
	}
}

static enum step on_scalar(struct loader *ld, struct tree *t,
			   const yaml_event_t *ev)
{
	struct node *n = node_new(NODE_SCALAR, &ev->start_mark);

	check_props(ld, &ev->start_mark, ev->data.scalar.anchor,
		    ev->data.scalar.tag);
	n->str = xstrndup((const char *)ev->data.scalar.value,
			  ev->data.scalar.length);
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	tree_attach(t, n);
	return STEP_ON;
}

static enum step on_open(struct loader *ld, struct tree *t,
			 const yaml_event_t *ev, enum node_kind kind)
{
	struct node *n = node_new(kind, &ev->start_mark);

	if (kind == NODE_SEQ)
		check_props(ld, &ev->start_mark, ev->data.sequence_start.anchor,
			    ev->data.sequence_start.tag);
	else
		check_props(ld, &ev->start_mark, ev->data.mapping_start.anchor,
			    ev->data.mapping_start.tag);
	tree_attach(t, n);
	if (t->depth == POLICY_MAX_DEPTH) {
		bad(ld, n, "nesting deeper than %d levels", POLICY_MAX_DEPTH);
		return STEP_STOP;
	}
	t->open[t->depth++] = n;
	return STEP_ON;
}

static enum step on_alias(struct loader *ld, struct tree *t,
			  const yaml_event_t *ev)
{
	char *v = xasprintf("*%s", (const char *)ev->data.alias.anchor);

	error_at(ld, ev->start_mark.line + 1, ev->start_mark.column + 1, v,
		 "YAML aliases are not allowed");
	free(v);
	tree_attach(t, node_new(NODE_BAD, &ev->start_mark));
	return STEP_ON;
}

static enum step on_document(struct loader *ld, struct tree *t,
			     const yaml_event_t *ev)
{
	const yaml_tag_directive_t *td, *end;

	td = ev->data.document_start.tag_directives.start;
	end = ev->data.document_start.tag_directives.end;
	if (t->docs++) {
		error_at(ld, ev->start_mark.line + 1, ev->start_mark.column + 1,
			 NULL, "more than one YAML document, a policy is one");
		return STEP_STOP;
	}
	if (td != end)
		error_at(ld, ev->start_mark.line + 1, ev->start_mark.column + 1,
			 (const char *)td->handle, "YAML tags are not allowed");
	return STEP_ON;
}

static enum step on_event(struct loader *ld, struct tree *t,
			  const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		return on_document(ld, t, ev);
	case YAML_SCALAR_EVENT:
		return on_scalar(ld, t, ev);
	case YAML_SEQUENCE_START_EVENT:
		return on_open(ld, t, ev, NODE_SEQ);
	case YAML_MAPPING_START_EVENT:
		return on_open(ld, t, ev, NODE_MAP);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		t->depth--;
		return STEP_ON;
	case YAML_ALIAS_EVENT:
		return on_alias(ld, t, ev);
	case YAML_STREAM_END_EVENT:
		return STEP_DONE;
	default:
		return STEP_ON;
	}
}

static void yaml_failure(struct loader *ld, const yaml_parser_t *yp)
{
	unsigned int line, col, c = yp->problem_value;
	char v[16];

	if (yp->error == YAML_MEMORY_ERROR)
		fatalx("out of memory reading YAML");
	if (yp->error == YAML_READER_ERROR) {
		offset_position(ld->buf, yp->problem_offset, &line, &col);
		if (c > 0xff)
			snprintf(v, sizeof(v), "U+%04X", c);
		else
			snprintf(v, sizeof(v), "\\x%02x", c);
		error_at(ld, line, col, yp->problem_value >= 0 ? v : NULL, "%s",
			 yp->problem);
		return;
	}
	line = yp->problem_mark.line + 1;
	col = yp->problem_mark.column + 1;
	if (yp->context)
		error_at(ld, line, col, NULL, "invalid YAML, %s %s at %zu:%zu",
			 yp->problem, yp->context, yp->context_mark.line + 1,
			 yp->context_mark.column + 1);
	else
		error_at(ld, line, col, NULL, "invalid YAML, %s", yp->problem);
}

/* Reads the one YAML document into a tree.  False when there is nothing
 * fit to check: a syntax error, an empty stream, too deep a nesting, or a
 * second document. */
static bool read_tree(struct loader *ld, struct node **root)
{
	enum step step = STEP_ON;
	struct tree t = { 0 };
	yaml_parser_t yp;
	yaml_event_t ev;

	if (!yaml_parser_initialize(&yp))
		fatalx("out of memory starting the YAML parser");
	yaml_parser_set_input_string(&yp, (const unsigned char *)ld->buf,
				     ld->len);
	yaml_parser_set_encoding(&yp, YAML_UTF8_ENCODING);
	while (step == STEP_ON) {
		if (!yaml_parser_parse(&yp, &ev)) {
			yaml_failure(ld, &yp);
			step = STEP_STOP;
			continue;
		}
		step = on_event(ld, &t, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&yp);

	*root = t.root;
	if (step == STEP_DONE && !t.root)
		error_at(ld, 1, 1, NULL, "the policy is empty");
	return step == STEP_DONE && t.root;
}

/* Scalars */

static const char *kind_name(enum node_kind kind)
{
	switch (kind) {
	case NODE_SEQ:
		return "a list";
	case NODE_MAP:
		return "a mapping";
	default:
		return "a single value";
	}
}

/* Checks that v is of the kind wanted, reporting it when not.  A NODE_BAD
 * was reported already and fails quietly. */
static bool want(struct loader *ld, const struct node *v, enum node_kind kind,
		 const char *what)
{
	if (v->kind == NODE_BAD)
		return false;
	if (v->kind == kind)
		return true;
	if (v->kind == NODE_SCALAR)
		bad(ld, v, "%s must be %s", what, kind_name(kind));
	else
		bad(ld, v, "%s must be %s, not %s", what, kind_name(kind),
		    kind_name(v->kind));
	return false;
}

/* A decimal number without sign or leading zeros: a YAML 1.1 reader would
 * take 010 as octal, and the policy should mean the same to every reader. */
static bool parse_number(const char *s, uint64_t *out)
{
	size_t n = strspn(s, "0123456789");

	if (n == 0 || s[n] || (s[0] == '0' && n > 1) || n > 12)
		return false;
	*out = strtoull(s, NULL, 10);
	return true;
}

static bool get_bool(struct loader *ld, const struct node *v, const char *what,
		     bool *out)
{
	if (!want(ld, v, NODE_SCALAR, what))
		return false;
	if (strcmp(v->str, "true") && strcmp(v->str, "false")) {
		bad(ld, v, "%s is not a boolean, use true or false", what);
		return false;
	}
	if (!v->plain) {
		bad(ld, v, "%s is not a boolean, write true or false without "
		    "quotes", what);
		return false;
	}
	*out = v->str[0] == 't';
	return true;
}

static bool get_uint(struct loader *ld, const struct node *v, const char *what,
		     const struct rule *r, uint32_t *out)
{
	uint64_t n;

	if (!want(ld, v, NODE_SCALAR, what))
		return false;
	if (!parse_number(v->str, &n)) {
		bad(ld, v, "%s must be a whole number", what);
		return false;
	}
	if (!v->plain) {
		bad(ld, v, "%s must be a number, without quotes", what);
		return false;
	}
	if (n < r->min || n > r->max) {
		bad(ld, v, "%s is out of range (%u to %u)", what, r->min,
		    r->max);
		return false;
	}
	*out = n;
	return true;
}

static void fmt_duration(char *buf, size_t size, uint32_t s)
{
	if (s && s % DAY == 0)
		snprintf(buf, size, "%ud", s / DAY);
	else if (s && s % HOUR == 0)
		snprintf(buf, size, "%uh", s / HOUR);
	else if (s && s % MINUTE == 0)
		snprintf(buf, size, "%um", s / MINUTE);
	else
		snprintf(buf, size, "%us", s);
}

/* "90", "90s", "5m", "1h" or "1d", in seconds. */
static bool parse_duration(const char *s, uint64_t *out)
{
	static const struct { char unit; uint32_t secs; } units[] = {
		{ 's', 1 }, { 'm', MINUTE }, { 'h', HOUR }, { 'd', DAY },
	};
	size_t len = strlen(s);
	char num[16];

	if (parse_number(s, out))
		return true;
	if (len < 2 || len >= sizeof(num))
		return false;
	memcpy(num, s, len - 1);
	num[len - 1] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (s[len - 1] != units[i].unit)
			continue;
		if (!parse_number(num, out))
			return false;
		*out *= units[i].secs;
		return true;
	}
	return false;
}

static bool get_seconds(struct loader *ld, const struct node *v,
			const char *what, const struct rule *r, uint32_t *out)
{
	char lo[16], hi[16];
	uint64_t n;

	if (!want(ld, v, NODE_SCALAR, what))
		return false;
	if (!parse_duration(v->str, &n)) {
		bad(ld, v, "%s is not a duration (seconds, or a number "
		    "followed by s, m, h or d)", what);
		return false;
	}
	if (n < r->min || n > r->max) {
		fmt_duration(lo, sizeof(lo), r->min);
		fmt_duration(hi, sizeof(hi), r->max);
		bad(ld, v, "%s is out of range (%s to %s)", what, lo, hi);
		return false;
	}
	*out = n;
	return true;
}

/* Mappings */

static bool apply_rule(struct loader *ld, const struct rule *r,
		       const struct node *v, const char *what, void *target)
{
	char *field = (char *)target + r->off;
	uint32_t n;

	switch (r->type) {
	case RULE_BOOL:
		return get_bool(ld, v, what, (bool *)field);
	case RULE_SECONDS:
		return get_seconds(ld, v, what, r, (uint32_t *)field);
	case RULE_U32:
		return get_uint(ld, v, what, r, (uint32_t *)field);
	case RULE_U16:
		if (!get_uint(ld, v, what, r, &n))
			return false;
		*(uint16_t *)field = n;
		return true;
	default:
		return r->check(ld, v, what, target);
	}
}

static const struct rule *find_rule(const struct section *s, const char *key)
{
	for (size_t i = 0; i < s->n_rules; i++)
		if (!strcmp(s->rules[i].key, key))
			return &s->rules[i];
	return NULL;
}

static void walk_pair(struct loader *ld, const struct section *s,
		      const struct node *k, const struct node *v,
		      void *target, struct seen *seen)
{
	const struct rule *r;
	struct seen *sn;
	char what[64];

	if (k->kind == NODE_BAD)
		return;
	if (k->kind != NODE_SCALAR) {
		bad(ld, k, "a key must be a single word, not %s",
		    kind_name(k->kind));
		return;
	}
	r = find_rule(s, k->str);
	if (!r) {
		bad(ld, k, "unknown key in %s", s->name);
		return;
	}
	sn = &seen[r - s->rules];
	if (sn->key) {
		bad(ld, k, "duplicate key, first at line %u", sn->key->line);
		return;
	}
	snprintf(what, sizeof(what), "%s%s", s->prefix, r->key);
	sn->key = k;
	sn->val = v;
	sn->ok = apply_rule(ld, r, v, what, target);
}

/* Checks every key of map against the section's rules, storing values in
 * target.  seen (one per rule) says which keys were there and passed. */
static void walk_map(struct loader *ld, const struct node *map,
		     const struct section *s, void *target, struct seen *seen)
{
	memset(seen, 0, s->n_rules * sizeof(*seen));
	for (size_t i = 0; i + 1 < map->n; i += 2)
		walk_pair(ld, s, map->kids[i], map->kids[i + 1], target, seen);
	for (size_t i = 0; i < s->n_rules; i++)
		if (s->rules[i].required && !seen[i].key)
			error_at(ld, map->line, map->col, s->rules[i].key,
				 "%s is missing a required key", s->name);
}

static const struct seen *seen_of(const struct section *s,
				  const struct seen *seen, const char *key)
{
	return &seen[find_rule(s, key) - s->rules];
}

/* Allow entries */

static bool check_host(struct loader *ld, const struct node *v,
		       const char *what, void *target)
{
	struct entry_draft *d = target;
	const char *why;

	if (!want(ld, v, NODE_SCALAR, what))
		return false;
	why = hostname_refusal(v->str);
	if (why) {
		bad(ld, v, "bad host name, %s", why);
		return false;
	}
	d->e->host = xstrdup(v->str);
	for (char *c = d->e->host; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c += 'a' - 'A';
	return true;
}

/* Why a prefix may not be allowed, beyond its syntax.  An all-zero network
 * address is fine as the start of a shorter prefix (::/0); only as a whole
 * address is it the unspecified one. */
static const char *cidr_refusal(const struct prefix *pf)
{
	static const uint8_t zero[16];
	size_t n = addr_len(&pf->addr);

	if (pf->len < n * 8 && !memcmp(pf->addr.bytes, zero, n))
		return NULL;
	return addr_refusal(&pf->addr);
}

/* Loopback, link-local or multicast: the prefix starts inside such a
 * range, or covers one of these sample addresses of them. */
static const char *cidr_oddity(const struct prefix *pf)
{
	static const char *const samples[] = {
		"127.0.0.1", "169.254.0.1", "224.0.0.1",
		"::1", "fe80::1", "ff02::1",
	};
	struct addr a, last;
	const char *odd = addr_oddity(&pf->addr);

	prefix_last(pf, &last);
	for (size_t i = 0; !odd && i < ARRAY_SIZE(samples); i++) {
		addr_parse(samples[i], &a);
		if (addr_cmp(&a, &pf->addr) >= 0 && addr_cmp(&a, &last) <= 0)
			odd = addr_oddity(&a);
	}
	return odd;
}

static bool check_cidr(struct loader *ld, const struct node *v,
		       const char *what, void *target)
{
	struct entry_draft *d = target;
	const char *why, *odd;
	struct prefix pf;

	if (!want(ld, v, NODE_SCALAR, what))
		return false;
	if (!prefix_parse(v->str, &pf, &why) || (why = cidr_refusal(&pf))) {
		bad(ld, v, "bad cidr, %s", why);
		return false;
	}
	odd = pf.len ? cidr_oddity(&pf) : NULL;
	if (odd)
		warn(ld, v, "cidr covers a %s, allowed anyway", odd);
	d->e->cidr = pf;
	return true;
}

/* One item of a ports list: 443 or "8000-8100". */
static bool parse_port_item(struct loader *ld, const struct node *v,
			    struct port_range *r)
{
	char *dash, lo[16];
	int lo_len;
	uint64_t a, b;

	if (!want(ld, v, NODE_SCALAR, "a port"))
		return false;
	dash = strchr(v->str, '-');
	if (!dash) {
		if (!parse_number(v->str, &a)) {
			bad(ld, v, "not a port number or a \"LO-HI\" range");
			return false;
		}
		if (!v->plain) {
			bad(ld, v, "write a single port as a number, without "
			    "quotes");
			return false;
		}
		b = a;
	} else {
		lo_len = dash - v->str < (int)sizeof(lo) ? dash - v->str : 0;
		snprintf(lo, sizeof(lo), "%.*s", lo_len, v->str);
		if (!parse_number(lo, &a) || !parse_number(dash + 1, &b)) {
			bad(ld, v, "not a port range, write \"LO-HI\"");
			return false;
		}
	}
	if (a < 1 || a > 65535 || b < 1 || b > 65535) {
		bad(ld, v, "port out of range (1 to 65535)");
		return false;
	}
	if (a > b) {
		bad(ld, v, "port range is backwards, LO is above HI");
		return false;
	}
	*r = (struct port_range){ a, b };
	return true;
}

static int port_range_cmp(const void *a, const void *b)
{
	const struct port_range *x = a, *y = b;

	return (x->lo > y->lo) - (x->lo < y->lo);
}

/* Sorts ranges and merges those that overlap or touch; returns the count. */
static size_t merge_ports(struct port_range *r, size_t n)
{
	size_t out = 0;

	qsort(r, n, sizeof(*r), port_range_cmp);
	for (size_t i = 0; i < n; i++) {
		if (out && r[i].lo <= (uint32_t)r[out - 1].hi + 1) {
			if (r[i].hi > r[out - 1].hi)
				r[out - 1].hi = r[i].hi;
			continue;
		}
		r[out++] = r[i];
	}
	return out;
}

static bool check_ports(struct loader *ld, const struct node *v,
			const char *what, void *target)
{
	struct entry_draft *d = target;
	struct port_range *r;
	bool ok = true;

	if (!want(ld, v, NODE_SEQ, what))
		return false;
	if (v->n == 0) {
		bad(ld, v, "%s is an empty list", what);
		return false;
	}
	r = xcalloc(v->n, sizeof(*r));
	for (size_t i = 0; i < v->n; i++)
		ok &= parse_port_item(ld, v->kids[i], &r[i]);
	if (!ok) {
		free(r);
		return false;
	}
	d->e->ports = r;
	d->e->n_ports = merge_ports(r, v->n);
	return true;
}

static bool check_proto(struct loader *ld, const struct node *v,
			const char *what, void *target)
{
	struct entry_draft *d = target;

	if (!want(ld, v, NODE_SCALAR, what))
		return false;
	if (!strcmp(v->str, "tcp"))
		d->e->proto = PROTO_TCP;
	else if (!strcmp(v->str, "udp"))
		d->e->proto = PROTO_UDP;
	else if (!strcmp(v->str, "both"))
		d->e->proto = PROTO_TCP | PROTO_UDP;
	else {
		bad(ld, v, "%s must be tcp, udp or both", what);
		return false;
	}
	return true;
}

static bool check_purpose(struct loader *ld, const struct node *v,
			  const char *what, void *target)
{
	struct entry_draft *d = target;
	const char *s;

	if (!want(ld, v, NODE_SCALAR, what))
		return false;
	if (!v->str[strspn(v->str, " \t\n")]) {
		bad(ld, v, "%s must not be empty", what);
		return false;
	}
	/* The purpose is echoed in logs and rule comments, one line each. */
	for (s = v->str; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			bad(ld, v, "%s must be one line of text", what);
			return false;
		}
	}
	d->e->purpose = xstrdup(v->str);
	return true;
}

static const struct rule entry_rules[] = {
	{ "host", RULE_FUNC, .check = check_host },
	{ "cidr", RULE_FUNC, .check = check_cidr },
	{ "ports", RULE_FUNC, true, .check = check_ports },
	{ "proto", RULE_FUNC, .check = check_proto },
	{ "purpose", RULE_FUNC, true, .check = check_purpose },
	{ "any_address", RULE_BOOL,
	  .off = offsetof(struct entry_draft, any_address) },
};

static const struct section entry_section = {
	"allow entry", "", entry_rules, ARRAY_SIZE(entry_rules),
};

static bool node_before(const struct node *a, const struct node *b)
{
	return a->line < b->line || (a->line == b->line && a->col < b->col);
}

/* The rules that tie an entry's keys together. */
static void check_entry_keys(struct loader *ld, const struct node *map,
			     const struct entry_draft *d,
			     const struct seen *seen)
{
	const struct seen *host = seen_of(&entry_section, seen, "host");
	const struct seen *cidr = seen_of(&entry_section, seen, "cidr");
	const struct seen *any = seen_of(&entry_section, seen, "any_address");
	bool slash0 = cidr->ok && d->e->cidr.len == 0;
	const struct node *second;

	if (!host->key && !cidr->key)
		error_at(ld, map->line, map->col, NULL,
			 "allow entry needs a host or a cidr");
	if (host->key && cidr->key) {
		second = node_before(host->key, cidr->key) ? cidr->val : host->val;
		bad(ld, second, "an entry has a host or a cidr, not both");
	}
	if (slash0 && !d->any_address)
		bad(ld, cidr->val, "a /0 cidr allows every address, "
		    "add any_address: true if that is meant");
	if (d->any_address && cidr->key && !cidr->ok)
		return;
	if (d->any_address && !slash0)
		bad(ld, any->val, "any_address is only allowed with a /0 cidr");
}

static void check_entry(struct loader *ld, const struct node *map, size_t i)
{
	struct allow_entry *e = &ld->p->allow[i];
	struct entry_draft d = { e, false };
	struct seen seen[ARRAY_SIZE(entry_rules)];
	const struct seen *host, *cidr;

	e->line = map->line;
	e->col = map->col;
	e->proto = PROTO_TCP;
	walk_map(ld, map, &entry_section, &d, seen);
	check_entry_keys(ld, map, &d, seen);

	host = seen_of(&entry_section, seen, "host");
	cidr = seen_of(&entry_section, seen, "cidr");
	ld->entry_keys[i] = host->ok ? host->val : cidr->ok ? cidr->val : NULL;
}

static bool check_allow(struct loader *ld, const struct node *v,
			const char *what, void *target)
{
	struct policy *p = target;
	size_t n;

	if (!want(ld, v, NODE_SEQ, what))
		return false;
	if (v->n == 0) {
		bad(ld, v, "%s is an empty list", what);
		return false;
	}
	n = v->n;
	if (n > POLICY_MAX_ENTRIES) {
		bad(ld, v->kids[POLICY_MAX_ENTRIES],
		    "more than %d allow entries", POLICY_MAX_ENTRIES);
		n = POLICY_MAX_ENTRIES;
	}
	p->allow = xcalloc(n, sizeof(*p->allow));
	ld->entry_keys = xcalloc(n, sizeof(*ld->entry_keys));
	p->n_allow = n;
	for (size_t i = 0; i < n; i++)
		if (want(ld, v->kids[i], NODE_MAP, "an allow entry"))
			check_entry(ld, v->kids[i], i);
	return true;
}

/* Duplicate entries */

/* Entries sort by what they allow (host or prefix), then by position. */
static int entry_index_cmp(const void *a, const void *b, void *policy)
{
	const struct policy *p = policy;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	const struct allow_entry *x = &p->allow[i], *y = &p->allow[j];
	int c;

	if (!x->host != !y->host)
		return x->host ? -1 : 1;
	c = x->host ? strcmp(x->host, y->host) : prefix_cmp(&x->cidr, &y->cidr);
	if (c)
		return c;
	return (i > j) - (i < j);
}

static bool same_target(const struct allow_entry *x,
			const struct allow_entry *y)
{
	if (!x->host != !y->host)
		return false;
	if (x->host)
		return !strcmp(x->host, y->host);
	return !prefix_cmp(&x->cidr, &y->cidr);
}

static bool ports_overlap(const struct allow_entry *x,
			  const struct allow_entry *y)
{
	size_t i = 0, j = 0;

	while (i < x->n_ports && j < y->n_ports) {
		if (x->ports[i].hi < y->ports[j].lo)
			i++;
		else if (y->ports[j].hi < x->ports[i].lo)
			j++;
		else
			return true;
	}
	return false;
}

/* Compares entry idx[k] with the earlier ones of its group, idx[from..k). */
static void check_duplicate(struct loader *ld, const size_t *idx, size_t from,
			    size_t k)
{
	const struct allow_entry *e = &ld->p->allow[idx[k]], *o;

	for (size_t m = from; m < k; m++) {
		o = &ld->p->allow[idx[m]];
		if ((o->proto & e->proto) && ports_overlap(o, e)) {
			bad(ld, ld->entry_keys[idx[k]],
			    "duplicate of the entry at line %u", o->line);
			return;
		}
	}
}

static void check_duplicates(struct loader *ld)
{
	const struct policy *p = ld->p;
	size_t *idx = xcalloc(p->n_allow, sizeof(*idx));
	size_t n = 0, from = 0;

	for (size_t i = 0; i < p->n_allow; i++)
		if (ld->entry_keys[i])
			idx[n++] = i;
	qsort_r(idx, n, sizeof(*idx), entry_index_cmp, (void *)p);
	for (size_t k = 1; k < n; k++) {
		if (!same_target(&p->allow[idx[from]], &p->allow[idx[k]]))
			from = k;
		else
			check_duplicate(ld, idx, from, k);
	}
	free(idx);
}

/* Resolvers */

static bool check_resolver(struct loader *ld, const struct node *v,
			   struct addr *a)
{
	const char *why;

	if (!want(ld, v, NODE_SCALAR, "a resolver"))
		return false;
	if (!addr_parse(v->str, a)) {
		bad(ld, v, "bad resolver, not an IPv4 or IPv6 address");
		return false;
	}
	why = addr_refusal(a);
	if (why) {
		bad(ld, v, "bad resolver, %s", why);
		return false;
	}
	return true;
}

static bool check_resolvers(struct loader *ld, const struct node *v,
			    const char *what, void *target)
{
	struct policy *p = target;
	bool ok = true;

	if (!want(ld, v, NODE_SEQ, what))
		return false;
	if (v->n == 0) {
		bad(ld, v, "%s is an empty list", what);
		return false;
	}
	p->resolvers = xcalloc(v->n, sizeof(*p->resolvers));
	for (size_t i = 0; i < v->n; i++) {
		if (check_resolver(ld, v->kids[i], &p->resolvers[p->n_resolvers]))
			p->n_resolvers++;
		else
			ok = false;
	}
	return ok;
}

/* The address of a "nameserver ADDR" line, or NULL for any other line. */
static char *nameserver_of(char *line)
{
	char *s = line + strspn(line, " \t");

	if (strncmp(s, "nameserver", 10) || !strchr(" \t", s[10]) || !s[10])
		return NULL;
	s += 10;
	s += strspn(s, " \t");
	s[strcspn(s, " \t\r\n#;")] = '\0';
	return *s ? s : NULL;
}

static void add_system_resolver(struct policy *p, const char *path,
				const char *s)
{
	struct addr a;

	if (!addr_parse(s, &a) || addr_refusal(&a)) {
		log_warnx("%s: skipping nameserver '%s', not an address egressd "
			  "can allow", path, s);
		return;
	}
	p->resolvers = xreallocarray(p->resolvers, p->n_resolvers + 1,
				     sizeof(*p->resolvers));
	p->resolvers[p->n_resolvers++] = a;
}

/* Without a resolvers key the policy uses the host's own name servers. */
static void load_system_resolvers(struct loader *ld, const struct node *root)
{
	const char *path = secure_getenv("EGRESSD_RESOLV_CONF");
	char *line = NULL, *ns;
	size_t cap = 0;
	FILE *f;

	if (!path || !*path)
		path = RESOLV_CONF;
	ld->p->resolvers_from_system = true;
	f = fopen(path, "re");
	if (!f) {
		error_at(ld, root->line, root->col, path, "no resolvers key, "
			 "and the system resolver file cannot be read (%s)",
			 strerror(errno));
		return;
	}
	while (getline(&line, &cap, f) > 0)
		if ((ns = nameserver_of(line)))
			add_system_resolver(ld->p, path, ns);
	free(line);
	fclose(f);
	if (!ld->p->n_resolvers)
		error_at(ld, root->line, root->col, path, "no resolvers key, "
			 "and no nameserver in the system resolver file");
}

/* The top level */

static bool check_version(struct loader *ld, const struct node *v,
			  const char *what, void *target)
{
	struct policy *p = target;
	uint64_t n;

	if (!want(ld, v, NODE_SCALAR, what))
		return false;
	if (!parse_number(v->str, &n)) {
		bad(ld, v, "version must be the number 1");
		return false;
	}
	if (!v->plain) {
		bad(ld, v, "version must be the number 1, without quotes");
		return false;
	}
	if (n != 1) {
		bad(ld, v, "unsupported policy version, this egressd reads "
		    "version 1");
		return false;
	}
	p->version = 1;
	return true;
}

static bool check_blocked(struct loader *ld, const struct node *v,
			  const char *what, void *target)
{
	struct policy_defaults *d = target;

	if (!want(ld, v, NODE_SCALAR, what))
		return false;
	if (!strcmp(v->str, "reject"))
		d->blocked = BLOCK_REJECT;
	else if (!strcmp(v->str, "drop"))
		d->blocked = BLOCK_DROP;
	else {
		bad(ld, v, "%s must be reject or drop", what);
		return false;
	}
	return true;
}

#define DEFAULT(name, type, field, lo, hi) \
	{ name, type, .off = offsetof(struct policy_defaults, field), \
	  .min = lo, .max = hi }

static const struct rule defaults_rules[] = {
	DEFAULT("refresh", RULE_SECONDS, refresh, 10, DAY),
	DEFAULT("ttl_floor", RULE_SECONDS, ttl_floor, 1, DAY),
	DEFAULT("ttl_ceiling", RULE_SECONDS, ttl_ceiling, 1, DAY),
	DEFAULT("grace", RULE_SECONDS, grace, 0, DAY),
	DEFAULT("stale", RULE_SECONDS, stale, 0, 7 * DAY),
	{ "blocked", RULE_FUNC, .check = check_blocked },
	DEFAULT("log", RULE_BOOL, log, 0, 0),
	DEFAULT("log_group", RULE_U16, log_group, 0, 65535),
	DEFAULT("max_addresses", RULE_U32, max_addrs, 1, 4096),
};

static const struct section defaults_section = {
	"defaults", "defaults.", defaults_rules, ARRAY_SIZE(defaults_rules),
};

static bool check_defaults(struct loader *ld, const struct node *v,
			   const char *what, void *target)
{
	struct policy_defaults *d = &((struct policy *)target)->defaults;
	struct seen seen[ARRAY_SIZE(defaults_rules)];
	const struct seen *lo, *hi;
	char buf[16];

	if (!want(ld, v, NODE_MAP, what))
		return false;
	walk_map(ld, v, &defaults_section, d, seen);

	lo = seen_of(&defaults_section, seen, "ttl_floor");
	hi = seen_of(&defaults_section, seen, "ttl_ceiling");
	if ((lo->key && !lo->ok) || (hi->key && !hi->ok))
		return true;
	if (d->ttl_floor > d->ttl_ceiling) {
		fmt_duration(buf, sizeof(buf), d->ttl_ceiling);
		bad(ld, lo->key ? lo->val : hi->val, "defaults.ttl_floor is above "
		    "defaults.ttl_ceiling (%s)", buf);
	}
	return true;
}

static const struct rule system_rules[] = {
	{ "dhcp", RULE_BOOL, .off = offsetof(struct policy, allow_dhcp) },
	{ "ntp", RULE_BOOL, .off = offsetof(struct policy, allow_ntp) },
};

static const struct section system_section = {
	"system", "system.", system_rules, ARRAY_SIZE(system_rules),
};

static bool check_system(struct loader *ld, const struct node *v,
			 const char *what, void *target)
{
	struct seen seen[ARRAY_SIZE(system_rules)];

	if (!want(ld, v, NODE_MAP, what))
		return false;
	walk_map(ld, v, &system_section, target, seen);
	return true;
}

static const struct rule top_rules[] = {
	{ "version", RULE_FUNC, true, .check = check_version },
	{ "resolvers", RULE_FUNC, .check = check_resolvers },
	{ "defaults", RULE_FUNC, .check = check_defaults },
	{ "forward", RULE_BOOL, .off = offsetof(struct policy, forward) },
	{ "system", RULE_FUNC, .check = check_system },
	{ "remove_on_exit", RULE_BOOL,
	  .off = offsetof(struct policy, remove_on_exit) },
	{ "allow", RULE_FUNC, true, .check = check_allow },
};

static const struct section top_section = {
	"the policy", "", top_rules, ARRAY_SIZE(top_rules),
};

static void check_policy(struct loader *ld, const struct node *root)
{
	struct seen seen[ARRAY_SIZE(top_rules)];

	if (root->kind != NODE_MAP) {
		if (root->kind != NODE_BAD)
			bad(ld, root, "the top level must be a mapping of policy keys");
		return;
	}
	walk_map(ld, root, &top_section, ld->p, seen);
	if (!seen_of(&top_section, seen, "resolvers")->key)
		load_system_resolvers(ld, root);
	if (ld->p->n_allow)
		check_duplicates(ld);
}

/* Loading */

void policy_defaults_init(struct policy_defaults *d)
{
	*d = (struct policy_defaults){
		.refresh = 5 * MINUTE,
		.ttl_floor = 30,
		.ttl_ceiling = HOUR,
		.grace = 10 * MINUTE,
		.stale = HOUR,
		.blocked = BLOCK_REJECT,
		.log = false,
		.log_group = 0,
		.max_addrs = 64,
	};
}

static void hash_bytes(struct policy *p, const char *buf, size_t len)
{
	sha256_buf(buf, len, p->sha256);
	sha256_hex(p->sha256, p->sha256_hex);
}

struct policy *policy_load_buffer(const char *name, const char *buf, size_t len,
				  struct policy_errors *errs)
{
	struct loader ld = { name, buf, len, errs, NULL, NULL };
	size_t first = errs->n;
	struct node *root = NULL;
	struct policy *p;

	p = xcalloc(1, sizeof(*p));
	p->path = xstrdup(name);
	hash_bytes(p, buf, len);
	policy_defaults_init(&p->defaults);
	ld.p = p;

	if (check_bytes(&ld, buf, len) && read_tree(&ld, &root))
		check_policy(&ld, root);
	node_free(root);
	free(ld.entry_keys);

	sort_errors(errs, first);
	if (errs->n > first) {
		policy_free(p);
		p = NULL;
	}
	return p;
}

/* Reads a policy file whole, or POLICY_MAX_BYTES + 1 bytes of it: enough
 * to tell that it is too large.  False with errno set when it cannot. */
static bool read_policy_file(const char *path, char **bufp, size_t *lenp)
{
	char *buf = NULL;
	size_t len = 0;
	bool ok = false;
	struct stat st;
	int fd, saved;
	ssize_t r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) < 0)
		goto out;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto out;
	}
	buf = xmalloc(POLICY_MAX_BYTES + 1);
	while (len <= POLICY_MAX_BYTES) {
		r = read(fd, buf + len, POLICY_MAX_BYTES + 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ok = r == 0;
			goto out;
		}
		len += r;
	}
	ok = true;
out:
	saved = errno;
	close(fd);
	if (ok) {
		*bufp = buf;
		*lenp = len;
	} else {
		free(buf);
	}
	errno = saved;
	return ok;
}

struct policy *policy_load(const char *path, struct policy_errors *errs)
{
	struct policy *p;
	char *buf;
	size_t len;

	if (!read_policy_file(path, &buf, &len)) {
		push_error(errs, xasprintf("%s: cannot read the policy: %s", path,
					   strerror(errno)), 0, 0);
		return NULL;
	}
	p = policy_load_buffer(path, buf, len, errs);
	free(buf);
	return p;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_allow; i++) {
		free(p->allow[i].host);
		free(p->allow[i].ports);
		free(p->allow[i].purpose);
	}
	free(p->allow);
	free(p->resolvers);
	free(p->path);
	free(p);
}

void policy_errors_print(const struct policy_errors *errs, FILE *f)
{
	for (size_t i = 0; i < errs->n; i++)
		fprintf(f, "%s\n", errs->v[i].msg);
	if (errs->dropped)
		fprintf(f, "... and %zu more error%s\n", errs->dropped,
			errs->dropped == 1 ? "" : "s");
}

void policy_errors_clear(struct policy_errors *errs)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->v[i].msg);
	free(errs->v);
	memset(errs, 0, sizeof(*errs));
}
