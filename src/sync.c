/* Element diff between the ruleset the daemon wants now and the one the
 * kernel holds.  Both sides are sorted by rs_elem_cmp(), so one merge walk
 * per set finds every addition, extension and removal. */
#include "egressd.h"
#include "sync.h"

static void plan_add(struct sync_plan *p, bool del, const struct rs_set *s,
		     const struct rs_elem *e)
{
	grow(&p->v, &p->cap, p->n, sizeof(*p->v));
	p->v[p->n++] = (struct elem_change){ .del = del, .set = s, .elem = e };
}

static uint64_t expiry(const struct rs_elem *e, uint64_t now_ms)
{
	return e->timeout_ms ? now_ms + e->timeout_ms : 0;
}

static bool same_comment(const struct rs_elem *a, const struct rs_elem *b)
{
	if (!a->comment || !b->comment)
		return a->comment == b->comment;
	return !strcmp(a->comment, b->comment);
}

static void both(struct sync_plan *p, const struct rs_set *s, const struct rs_elem *w,
		 const struct rs_elem *c, uint64_t now_ms, bool readd)
{
	uint64_t want = expiry(w, now_ms);

	/* Another host now shares the address (or no longer does): the
	 * comment an auditor reads must say so, and only a fresh element
	 * carries new user data. */
	if (!same_comment(w, c)) {
		plan_add(p, true, s, c);
		plan_add(p, false, s, w);
		p->extended++;
		return;
	}

	/* A static element (no timeout) never needs refreshing; a timed one
	 * only when it would otherwise run out noticeably earlier. */
	if (!w->timeout_ms || !c->timeout_ms || want <= c->timeout_ms + SYNC_EXTEND_SLACK_MS) {
		p->kept += w->timeout_ms != 0;
		return;
	}
	if (!readd)
		plan_add(p, true, s, c);
	plan_add(p, false, s, w);
	p->extended++;
}

/* Deleting an element the kernel is about to expire itself could race its
 * garbage collection into an ENOENT that aborts the whole transaction. */
static void gone(struct sync_plan *p, const struct rs_set *s, const struct rs_elem *c,
		 uint64_t now_ms)
{
	if (c->timeout_ms && c->timeout_ms <= now_ms + SYNC_EXTEND_SLACK_MS)
		return;
	plan_add(p, true, s, c);
	p->removed++;
}

static void diff_set(struct sync_plan *p, const struct rs_set *w, const struct rs_set *c,
		     uint64_t now_ms, bool readd)
{
	size_t i = 0, j = 0;

	while (i < w->n_elems || j < c->n_elems) {
		int cmp = i == w->n_elems ? 1 : j == c->n_elems ? -1 :
			  rs_elem_cmp(&w->elems[i], &c->elems[j]);

		if (cmp < 0) {
			plan_add(p, false, w, &w->elems[i++]);
			p->added++;
		} else if (cmp > 0) {
			gone(p, w, &c->elems[j++], now_ms);
		} else {
			both(p, w, &w->elems[i++], &c->elems[j++], now_ms, readd);
		}
	}
}

void sync_diff(const struct ruleset *want, const struct ruleset *committed,
	       uint64_t now_ms, bool readd_refreshes, struct sync_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	for (size_t i = 0; i < want->n_sets && i < committed->n_sets; i++)
		diff_set(plan, &want->sets[i], &committed->sets[i], now_ms, readd_refreshes);
}

void sync_absolute(struct ruleset *rs, uint64_t now_ms)
{
	for (size_t i = 0; i < rs->n_sets; i++)
		for (size_t j = 0; j < rs->sets[i].n_elems; j++) {
			struct rs_elem *e = &rs->sets[i].elems[j];

			e->timeout_ms = expiry(e, now_ms);
		}
}

static void commit_set(struct rs_set *w, const struct rs_set *c, uint64_t now_ms)
{
	size_t j = 0;

	for (size_t i = 0; i < w->n_elems; i++) {
		struct rs_elem *e = &w->elems[i];
		uint64_t want = expiry(e, now_ms);
		int cmp = 1;

		while (j < c->n_elems && (cmp = rs_elem_cmp(&c->elems[j], e)) < 0)
			j++;
		e->timeout_ms = want;
		if (j < c->n_elems && !cmp && want && c->elems[j].timeout_ms &&
		    same_comment(e, &c->elems[j]) &&
		    want <= c->elems[j].timeout_ms + SYNC_EXTEND_SLACK_MS)
			e->timeout_ms = c->elems[j].timeout_ms;
	}
}

void sync_commit(struct ruleset *want, const struct ruleset *committed, uint64_t now_ms)
{
	for (size_t i = 0; i < want->n_sets && i < committed->n_sets; i++)
		commit_set(&want->sets[i], &committed->sets[i], now_ms);
}

void sync_plan_free(struct sync_plan *plan)
{
	free(plan->v);
	memset(plan, 0, sizeof(*plan));
}
