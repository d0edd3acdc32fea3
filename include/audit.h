/* Building blocks of the reports egressd writes for people and scripts,
 * shared by audit and status: a JSON writer, UTC times, aligned text
 * columns, the apply time in the table's comment, and the daemon's state
 * file read back for display. */
#ifndef EGRESSD_AUDIT_H
#define EGRESSD_AUDIT_H

#include "egressd.h"
#include "addr.h"

#include <time.h>

/* JSON */

#define JSON_MAX_DEPTH 16

/* Pretty-printed, two spaces a level, members in the order written: the
 * same calls give the same bytes. */
struct json {
	FILE *f;
	unsigned int depth;
	bool more[JSON_MAX_DEPTH];	/* a value is already at this level */
};

void json_init(struct json *j, FILE *f);
/* key names the member inside an object; NULL inside an array or at the
 * top.  bracket is '{' or '['; json_close() takes the closing one. */
void json_open(struct json *j, const char *key, char bracket);
void json_close(struct json *j, char bracket);
/* v NULL writes null. */
void json_str(struct json *j, const char *key, const char *v);
void json_uint(struct json *j, const char *key, uint64_t v);
void json_int(struct json *j, const char *key, int64_t v);
void json_bool(struct json *j, const char *key, bool v);
void json_null(struct json *j, const char *key);

/* s as one JSON string: quote, backslash and control characters escaped,
 * bytes that are not UTF-8 replaced by U+FFFD; NULL writes null. */
void json_escape(FILE *f, const char *s);

/* Times */

#define UTC_STRLEN 21

/* "2026-12-03T17:30:00Z" */
const char *utc_fmt(time_t t, char buf[UTC_STRLEN]);

/* The apply time of a table comment "egressd VERSION policy sha256:HEX
 * applied 2026-12-03T17:30:00Z"; false when the comment carries none. */
bool table_comment_applied(const char *comment, char buf[UTC_STRLEN]);

/* Text columns, each as wide as its widest cell, two spaces apart. */

struct cols {
	size_t n_cols;
	char **cells;			/* row after row */
	size_t n_cells, cap_cells;
};

void cols_init(struct cols *c, size_t n_cols);
/* The same, with a first row of column names. */
void cols_init_head(struct cols *c, const char *const *head, size_t n_cols);
/* The next cell, left to right, row after row.  Control characters are
 * shown as '?' so a comment read from the kernel can't drive a terminal. */
void cols_add(struct cols *c, const char *fmt, ...) PRINTF_LIKE(2, 3);
void cols_print(const struct cols *c, FILE *f, unsigned int indent);
void cols_free(struct cols *c);

/* The daemon's state file (state.h), read for display: nothing in it is
 * trusted or acted on. */

struct saved_addr {
	char addr[ADDR_STRLEN];
	time_t expires;
};

struct saved_host {
	char *name;
	time_t last_ok;			/* 0: never answered */
	time_t last_attempt;		/* 0: not in the file */
	char *status;			/* "ok", "timeout", ...; or NULL */
	char *error;			/* the last failure's text, or NULL */
	struct saved_addr *addrs;
	size_t n_addrs, cap_addrs;
};

struct saved_state {
	struct saved_host *hosts;
	size_t n_hosts, cap_hosts;
};

/* Where `egressd run` keeps it: EGRESSD_STATE, $STATE_DIRECTORY/state
 * under systemd, else /var/lib/egressd/state. */
const char *saved_state_path(void);
/* -1 with errno when the file can't be opened or read; lines it does not
 * understand are skipped. */
int saved_state_read(const char *path, struct saved_state *st);
void saved_state_free(struct saved_state *st);

#endif
