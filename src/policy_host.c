/* The host name rule of the policy: a host must be an exact, fully qualified
 * DNS name, because egressd allows only what resolving that name returns. */
#include "egressd.h"
#include "policy.h"

#define NAME_MAX_LEN 253
#define LABEL_MAX_LEN 63

static bool is_ascii_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static bool has_non_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/* One label, from s for n characters. */
static const char *label_refusal(const char *s, size_t n)
{
	if (n == 0)
		return "empty label";
	if (n > LABEL_MAX_LEN)
		return "label longer than 63 characters";
	if (s[0] == '-' || s[n - 1] == '-')
		return "label starts or ends with a hyphen";
	for (size_t i = 0; i < n; i++)
		if (!is_ascii_alnum(s[i]) && s[i] != '-')
			return "only letters, digits, hyphens and dots are allowed";
	return NULL;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static const char *labels_refusal(const char *name)
{
	const char *label = name, *dot;
	unsigned int labels = 0;
	const char *why;
	size_t n;

	for (;;) {
		dot = strchr(label, '.');
		n = dot ? (size_t)(dot - label) : strlen(label);
		why = label_refusal(label, n);
		if (why)
			return why;
		labels++;
		if (!dot)
			break;
		label = dot + 1;
	}
	if (labels < 2)
		return "not fully qualified, a host name needs at least two labels";
	/* No top-level domain is numeric; such a name is a mistyped address. */
	if (all_digits(label, n))
		return "the last label is all digits";
	return NULL;
}

const char *hostname_refusal(const char *name)
{
	size_t len = strlen(name);
	struct addr a;

	if (len == 0)
		return "the name is empty";
	if (has_non_ascii(name))
		return "write internationalised names in punycode (xn--)";
	if (strchr(name, '*'))
		return "wildcards cannot be honoured by resolving names, "
		       "list each host";
	if (addr_parse(name, &a))
		return "an address is not a host name, use cidr";
	if (name[len - 1] == '.')
		return "write the name without the trailing dot";
	if (len > NAME_MAX_LEN)
		return "longer than 253 characters";
	return labels_refusal(name);
}
