/* Addresses and prefixes: parsing, printing, ordering, and the checks an
 * address passes before egressd lets it into an allow set. */
#include "egressd.h"
#include "addr.h"

#include <arpa/inet.h>
#include <sys/socket.h>

bool addr_parse(const char *s, struct addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, &out->v4) == 1) {
		out->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, &out->v6) == 1) {
		out->family = AF_INET6;
		return true;
	}
	return false;
}

size_t addr_len(const struct addr *a)
{
	return a->family == AF_INET ? 4 : 16;
}

const char *addr_fmt(const struct addr *a, char buf[ADDR_STRLEN])
{
	if (!inet_ntop(a->family, a->bytes, buf, ADDR_STRLEN))
		snprintf(buf, ADDR_STRLEN, "?");
	return buf;
}

int addr_cmp(const struct addr *a, const struct addr *b)
{
	if (a->family != b->family)
		return a->family == AF_INET ? -1 : 1;
	return memcmp(a->bytes, b->bytes, addr_len(a));
}

static bool all_zero(const uint8_t *b, size_t n)
{
	while (n--)
		if (*b++)
			return false;
	return true;
}

const char *addr_refusal(const struct addr *a)
{
	if (a->family != AF_INET && a->family != AF_INET6)
		return "not an IPv4 or IPv6 address";
	if (all_zero(a->bytes, addr_len(a)))
		return "unspecified address";
	if (a->family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&a->v6))
		return "IPv4-mapped IPv6 address";
	return NULL;
}

const char *addr_oddity(const struct addr *a)
{
	const uint8_t *b = a->bytes;

	if (a->family == AF_INET) {
		if (b[0] == 127)
			return "loopback address";
		if (b[0] == 169 && b[1] == 254)
			return "link-local address";
		if (b[0] >= 224 && b[0] <= 239)
			return "multicast address";
		return NULL;
	}
	if (IN6_IS_ADDR_LOOPBACK(&a->v6))
		return "loopback address";
	if (IN6_IS_ADDR_LINKLOCAL(&a->v6))
		return "link-local address";
	if (IN6_IS_ADDR_MULTICAST(&a->v6))
		return "multicast address";
	return NULL;
}

static bool host_bits_clear(const struct addr *a, unsigned int len)
{
	size_t n = addr_len(a);

	for (size_t i = 0; i < n; i++) {
		unsigned int bit = i * 8;
		uint8_t mask;

		if (bit + 8 <= len)
			continue;
		mask = bit >= len ? 0xff : (uint8_t)(0xff >> (len - bit));
		if (a->bytes[i] & mask)
			return false;
	}
	return true;
}

bool prefix_parse(const char *s, struct prefix *out, const char **why)
{
	char buf[PREFIX_STRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long len;
	char *end;

	*why = "not an IPv4 or IPv6 prefix";
	if (alen >= sizeof(buf))
		return false;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (!addr_parse(buf, &out->addr))
		return false;
	out->len = out->addr.family == AF_INET ? 32 : 128;
	if (slash) {
		if (slash[1] < '0' || slash[1] > '9') {
			*why = "prefix length is not a number";
			return false;
		}
		len = strtoul(slash + 1, &end, 10);
		if (*end || len > out->len || (slash[1] == '0' && slash[2])) {
			*why = "prefix length out of range";
			return false;
		}
		out->len = len;
	}
	if (!host_bits_clear(&out->addr, out->len)) {
		*why = "prefix has host bits set";
		return false;
	}
	return true;
}

const char *prefix_fmt(const struct prefix *p, char buf[PREFIX_STRLEN])
{
	char a[ADDR_STRLEN];

	snprintf(buf, PREFIX_STRLEN, "%s/%u", addr_fmt(&p->addr, a), p->len);
	return buf;
}

void prefix_last(const struct prefix *p, struct addr *out)
{
	size_t n = addr_len(&p->addr);

	*out = p->addr;
	for (size_t i = 0; i < n; i++) {
		unsigned int bit = i * 8;

		if (bit + 8 <= p->len)
			continue;
		out->bytes[i] |= bit >= p->len ? 0xff : (uint8_t)(0xff >> (p->len - bit));
	}
}

int prefix_cmp(const struct prefix *a, const struct prefix *b)
{
	int c = addr_cmp(&a->addr, &b->addr);

	if (c)
		return c;
	return (a->len > b->len) - (a->len < b->len);
}
