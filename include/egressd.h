/* Prelude included first by every egressd source file: version, exit codes,
 * memory helpers and the one log API. */
#ifndef EGRESSD_H
#define EGRESSD_H

#define _GNU_SOURCE
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#ifndef EGRESSD_VERSION
#define EGRESSD_VERSION "0.1.0"
#endif

#define EGRESSD_TABLE "egressd"

/* Exit codes, documented in docs/egressd.8.md; scripts rely on them. */
enum exit_code {
	EXIT_OK = 0,
	EXIT_DRIFT = 1,		/* verify: the live table differs from the policy */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_POLICY = 3,	/* the policy is invalid */
	EXIT_KERNEL = 4,	/* the kernel refused or netlink failed */
	EXIT_PERM = 5,		/* missing CAP_NET_ADMIN or not permitted */
	EXIT_LOCKED = 6,	/* another egressd writer holds the lock */
	EXIT_ABSENT = 7,	/* verify/status: there is no egressd table */
	EXIT_RESOLVE = 8,	/* resolution failed where it was required */
	EXIT_INTERNAL = 9,	/* out of memory or an internal error */
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))

/* Allocation failures are not recoverable in a tool this size: these never
 * return NULL, they end the process through fatalx(). */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t nmemb, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* Grow *v (holding *n items of size sz, capacity *cap) to fit one more. */
void grow(void *vp, size_t *cap, size_t n, size_t sz);

/* Logging, in the manner of OpenNTPD: log_warn() appends strerror(errno),
 * log_warnx() does not; fatal()/fatalx() exit.  Messages are lower case
 * without a full stop.  Output is stderr; when stderr is the journal,
 * lines carry syslog priority prefixes. */
enum log_level { LOG_LEVEL_ERR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

void log_init(int verbosity);
void log_set_verbosity(int verbosity);
int log_get_verbosity(void);
void log_warn(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_warnx(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_info(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_debug(const char *fmt, ...) PRINTF_LIKE(1, 2);
void fatal(const char *fmt, ...) PRINTF_LIKE(1, 2) NORETURN;
void fatalx(const char *fmt, ...) PRINTF_LIKE(1, 2) NORETURN;

#endif
