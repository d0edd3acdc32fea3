/* Memory helpers that never return NULL: running out of memory ends the
 * process with one clear line instead of a crash later. */
#include "egressd.h"

#include <errno.h>
#include <stdarg.h>

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		fatalx("out of memory allocating %zu bytes", n);
	return p;
}

void *xcalloc(size_t nmemb, size_t n)
{
	void *p = calloc(nmemb ? nmemb : 1, n ? n : 1);

	if (!p)
		fatalx("out of memory allocating %zu x %zu bytes", nmemb, n);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		fatalx("out of memory allocating %zu bytes", n);
	return p;
}

void *xreallocarray(void *p, size_t nmemb, size_t n)
{
	p = reallocarray(p, nmemb ? nmemb : 1, n ? n : 1);
	if (!p)
		fatalx("out of memory allocating %zu x %zu bytes", nmemb, n);
	return p;
}

char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		fatalx("out of memory copying a string");
	return d;
}

char *xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);

	if (!d)
		fatalx("out of memory copying a string");
	return d;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		fatalx("out of memory formatting a string");
	return s;
}

void grow(void *vp, size_t *cap, size_t n, size_t sz)
{
	void **v = vp;

	if (n < *cap)
		return;
	*cap = *cap ? *cap * 2 : 8;
	*v = xreallocarray(*v, *cap, sz);
}
