/* Resolution: placeholder, replaced by the c-ares resolver. */
#include "egressd.h"
#include "resolve.h"

int resolve_dns(const struct policy *p, struct resolution *out)
{
	memset(out, 0, sizeof(*out));
	return 0;
}

int resolve_hosts_file(const struct policy *p, const char *path, struct resolution *out)
{
	memset(out, 0, sizeof(*out));
	return 0;
}

void resolve_offline(const struct policy *p, struct resolution *out)
{
	memset(out, 0, sizeof(*out));
}

const struct host_result *resolution_find(const struct resolution *r, const char *host)
{
	return NULL;
}

void resolution_free(struct resolution *r)
{
}

const char *res_status_str(enum res_status s)
{
	return "?";
}
