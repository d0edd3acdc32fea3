/* Policy loader: placeholder, replaced by the strict YAML loader. */
#include "egressd.h"
#include "policy.h"

void policy_defaults_init(struct policy_defaults *d)
{
	memset(d, 0, sizeof(*d));
}

struct policy *policy_load(const char *path, struct policy_errors *errs)
{
	return NULL;
}

void policy_free(struct policy *p)
{
	free(p);
}

void policy_errors_print(const struct policy_errors *errs, FILE *f)
{
}

void policy_errors_clear(struct policy_errors *errs)
{
}
