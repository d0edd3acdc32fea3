/* Helpers on the ruleset model shared by the compiler and every back end:
 * element order, look-ups, key sizes. */
#include "egressd.h"
#include "ruleset.h"

struct rs_elem *rs_set_add(struct rs_set *s)
{
	struct rs_elem *e;

	grow(&s->elems, &s->cap_elems, s->n_elems, sizeof(*s->elems));
	e = &s->elems[s->n_elems++];
	memset(e, 0, sizeof(*e));
	return e;
}

static int cmp_u(unsigned int a, unsigned int b)
{
	return (a > b) - (a < b);
}

/* Address first so a reviewer reads a host's ports together; wider ranges
 * before the narrower ones they contain, which drop_overlaps() relies on. */
int rs_elem_cmp(const struct rs_elem *a, const struct rs_elem *b)
{
	int c;

	if (a->addr.family || b->addr.family) {
		c = addr_cmp(&a->addr, &b->addr);
		if (c)
			return c;
		c = addr_cmp(&b->addr_end, &a->addr_end);
		if (c)
			return c;
	}
	c = cmp_u(a->l4proto, b->l4proto);
	if (c)
		return c;
	c = cmp_u(a->port_lo, b->port_lo);
	if (c)
		return c;
	c = cmp_u(b->port_hi, a->port_hi);
	if (c)
		return c;
	return cmp_u(a->icmp_type, b->icmp_type);
}

static int elem_qsort_cmp(const void *a, const void *b)
{
	return rs_elem_cmp(a, b);
}

void rs_set_sort(struct rs_set *s)
{
	if (s->n_elems > 1)
		qsort(s->elems, s->n_elems, sizeof(*s->elems), elem_qsort_cmp);
}

struct rs_set *ruleset_find_set(const struct ruleset *rs, const char *name)
{
	for (size_t i = 0; i < rs->n_sets; i++)
		if (!strcmp(rs->sets[i].name, name))
			return &rs->sets[i];
	return NULL;
}

const struct rs_chain *ruleset_find_chain(const struct ruleset *rs, const char *name)
{
	for (size_t i = 0; i < rs->n_chains; i++)
		if (!strcmp(rs->chains[i].name, name))
			return &rs->chains[i];
	return NULL;
}

static size_t field_bytes(enum rs_field f)
{
	switch (f) {
	case RS_F_IP_DADDR:
		return 4;
	case RS_F_IP6_DADDR:
		return 16;
	case RS_F_TH_DPORT:
		return 2;
	case RS_F_L4PROTO:
	case RS_F_ICMPV6_TYPE:
		return 1;
	}
	return 4;
}

/* A lone field keeps its own size; in a concatenation each field takes a
 * whole number of 32-bit registers. */
size_t rs_set_key_bytes(const struct rs_set *s)
{
	size_t n = 0;

	if (s->key_len == 1)
		return field_bytes(s->key[0]);
	for (size_t i = 0; i < s->key_len; i++)
		n += (field_bytes(s->key[i]) + 3) & ~(size_t)3;
	return n;
}

size_t ruleset_n_elems(const struct ruleset *rs)
{
	size_t n = 0;

	for (size_t i = 0; i < rs->n_sets; i++)
		n += rs->sets[i].n_elems;
	return n;
}
