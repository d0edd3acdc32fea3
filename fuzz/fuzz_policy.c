/* libFuzzer target for the policy loader: any bytes, as a policy file, must
 * give either a policy or a list of errors, never a crash, leak or hang. */
#include "egressd.h"
#include "policy.h"

#include <stdlib.h>

/* The loader promises errors only when it returns NULL, and a message
 * for each; an error list without a policy must not be empty. */
static void check_outcome(const struct policy *p,
			  const struct policy_errors *errs)
{
	if (!p && !errs->n)
		abort();
	if (p && errs->n)
		abort();
	for (size_t i = 0; i < errs->n; i++)
		if (!errs->v[i].msg || !errs->v[i].msg[0])
			abort();
}

static void print_errors(const struct policy_errors *errs)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		abort();
	policy_errors_print(errs, f);
	fclose(f);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_errors errs = { 0 };
	struct policy *p;

	p = policy_load_buffer("fuzz.yaml", (const char *)data, size, &errs);
	check_outcome(p, &errs);
	print_errors(&errs);
	policy_errors_clear(&errs);
	policy_free(p);
	return 0;
}
