/* The one log API.  Lines go to stderr; when stderr is the systemd journal
 * (JOURNAL_STREAM names it) each line starts with a syslog priority such as
 * "<4>" so the journal files it at the right level. */
#include "egressd.h"

#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

static int verbosity;
static bool journal;

static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%lu:%lu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return st.st_dev == dev && st.st_ino == ino;
}

void log_init(int v)
{
	verbosity = v;
	journal = stderr_is_journal();
}

void log_set_verbosity(int v)
{
	verbosity = v;
}

int log_get_verbosity(void)
{
	return verbosity;
}

static void vlog(int prio, const char *errstr, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (journal)
		fprintf(stderr, "<%d>", prio);
	else
		fputs("egressd: ", stderr);
	if (errstr)
		fprintf(stderr, "%s: %s\n", msg, errstr);
	else
		fprintf(stderr, "%s\n", msg);
}

#define LOG_BODY(prio, errstr) do {		\
	va_list ap;				\
	va_start(ap, fmt);			\
	vlog(prio, errstr, fmt, ap);		\
	va_end(ap);				\
} while (0)

void log_warn(const char *fmt, ...)
{
	const char *e = strerror(errno);

	LOG_BODY(LOG_WARNING, e);
}

void log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_WARNING, NULL);
}

void log_info(const char *fmt, ...)
{
	if (verbosity < 0)
		return;
	LOG_BODY(LOG_INFO, NULL);
}

void log_debug(const char *fmt, ...)
{
	if (verbosity < 1)
		return;
	LOG_BODY(LOG_DEBUG, NULL);
}

void fatal(const char *fmt, ...)
{
	const char *e = strerror(errno);

	LOG_BODY(LOG_CRIT, e);
	exit(EXIT_INTERNAL);
}

void fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_CRIT, NULL);
	exit(EXIT_INTERNAL);
}
