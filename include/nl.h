/* The netlink back end: the ruleset model sent to nf_tables as one batch,
 * the live egressd table read back over netlink, and the two compared.
 * Nothing here prints to stderr: functions return -1 with errno set and
 * describe the failure in a struct nl_err for the command to report. */
#ifndef EGRESSD_NL_H
#define EGRESSD_NL_H

#include "egressd.h"
#include "ruleset.h"

struct nftnl_table;
struct nftnl_set;
struct nftnl_set_elem;
struct nftnl_chain;
struct nftnl_rule;

/* A failure in words naming the object: what = "set allow4: element
 * 192.0.2.10 . tcp . 443 (api.polygon.io)", code = EEXIST, kmsg = the
 * kernel's extended-ack text when it sent one. */
struct nl_err {
	int code;
	char what[384];
	char kmsg[128];
};

/* "what: strerror(code) (kmsg)" in buf, for one log line. */
const char *nl_err_str(const struct nl_err *e, char *buf, size_t len);

struct nl_sock;

struct nl_sock *nl_open(struct nl_err *err);
void nl_close(struct nl_sock *nl);

/* apply */

enum {
	/* Send, let the kernel check everything, then abort. */
	NL_APPLY_DRY_RUN = 1 << 0,
};

struct nl_apply_info {
	bool replaced;			/* a table existed before */
	size_t n_elems;
	size_t n_msgs;
	size_t n_acks;			/* messages asking for an ack */
	size_t bytes;			/* of the whole batch */
	bool unconfirmed;		/* sent, but the answers were lost */
};

/* Replace table inet egressd with rs in one transaction: add (a no-op
 * when it exists), delete, add with everything in it.  Other tables are
 * never touched; on any error the kernel aborts the whole batch and the
 * previous table stays as it was.
 *
 * Test hook: with EGRESSD_TEST_FAIL_AT=N in the environment, message N of
 * the batch (1 = the first after batch begin) is spoiled on purpose: an
 * element message repeats its first element at its end, so the kernel
 * refuses it with EEXIST; any other message gets a message type nf_tables
 * does not know.  The netns tests use it to prove a refused batch changes
 * nothing. */
int nl_apply(struct nl_sock *nl, const struct ruleset *rs, unsigned int flags,
	     struct nl_apply_info *info, struct nl_err *err);

/* The daemon's refresh: the element changes of a sync plan (sync.h),
 * sent in one transaction: additions (a re-add refreshes the timeout on
 * kernels from 6.12 on) and deletions.  rs names the table. */
struct elem_change;
int nl_update(struct nl_sock *nl, const struct ruleset *rs,
	      const struct elem_change *v, size_t n, struct nl_err *err);

/* Whether the kernel took the timeout of e, just re-added: e->timeout_ms
 * holds the absolute expiry asked for, in the clock of now_ms.  Reads the
 * table back; -1 when it cannot tell. */
int nl_elem_refreshed(struct nl_sock *nl, const struct rs_set *s,
		      const struct rs_elem *e, uint64_t now_ms, bool *refreshed,
		      struct nl_err *err);

/* Delete table inet egressd.  *existed tells whether there was one; an
 * absent table is not an error. */
int nl_flush(struct nl_sock *nl, bool *existed, struct nl_err *err);

/* The live table, as read back. */

#define NL_KEY_MAX 64			/* NFT_DATA_VALUE_MAXLEN */

struct nl_live_elem {
	uint8_t key[NL_KEY_MAX];
	uint8_t key_end[NL_KEY_MAX];
	uint32_t len;			/* of key and key_end */
	bool has_end;
	char *comment;
	bool counted;			/* carries a counter */
	uint64_t packets, bytes;
	uint64_t timeout_ms, expires_ms;
};

struct nl_live_set {
	struct nftnl_set *nls;		/* the definition as dumped */
	const char *name;
	char *comment;
	struct nl_live_elem *elems;
	size_t n_elems, cap_elems;
};

struct nl_live_rule {
	struct nftnl_rule *nlr;
	char *canon;			/* see nl_rule_canon() */
	char *comment;
	bool counted;
	uint64_t packets, bytes;	/* of its counter, if any */
};

struct nl_live_chain {
	struct nftnl_chain *nlc;
	const char *name;
	struct nl_live_rule *rules;
	size_t n_rules, cap_rules;
};

struct nl_live {
	/* "egressd VERSION policy sha256:HEX" */
	char *comment;
	struct nl_live_set *sets;
	size_t n_sets, cap_sets;
	struct nl_live_chain *chains;
	size_t n_chains, cap_chains;
};

/* The ruleset generation now; every commit, by anyone, bumps it. */
int nl_genid(struct nl_sock *nl, uint32_t *id, struct nl_err *err);

/* Read table inet egressd with its sets, elements, chains and rules, at
 * one ruleset generation (retried when a change lands mid-read).  Returns
 * 0 with *out == NULL when there is no such table. */
int nl_read(struct nl_sock *nl, struct nl_live **out, struct nl_err *err);
void nl_live_free(struct nl_live *live);

const struct nl_live_set *nl_live_find_set(const struct nl_live *live,
					   const char *name);
const struct nl_live_chain *nl_live_find_chain(const struct nl_live *live,
					       const char *name);

/* Split "egressd VERSION policy sha256:HEX"; false if it is not one. */
bool nl_parse_table_comment(const char *comment, char *version, size_t vlen,
			    char *hash, size_t hlen);

/* compare */

struct nl_diff_opts {
	bool plan;			/* "+ element", not "missing ..." */
	/* Elements whose comment is one of these host names are not compared
	 * (verify --offline knows no addresses for them). */
	const char *const *skip_hosts;
	size_t n_skip_hosts;
};

/* Print each difference between the live table (NULL: none) and want on
 * one line of out; returns how many there were. */
size_t nl_diff(const struct nl_live *live, const struct ruleset *want,
	       const struct nl_diff_opts *o, FILE *out);

/* For `egressd plan --diff`: read the live table and print what an apply
 * would change, "+ element allow4 192.0.2.11 . tcp . 443 (api.polygon.io)",
 * "- element ...", "~ rule ...", or "+ table inet egressd" when there is
 * none.  Returns 0 when nothing would change, 1 when something would, -1
 * with errno on error (nl_plan_diff_err() says which object, too).  Needs
 * CAP_NET_ADMIN in the namespace, like every nf_tables request. */
int nl_plan_diff(const struct ruleset *want, FILE *out);
int nl_plan_diff_err(const struct ruleset *want, FILE *out,
		     struct nl_err *err);

/* Building blocks shared by apply and compare (nl_build.c). */

/* Bytes of a key as the kernel lays it out: a lone field at its own
 * length, concatenated fields each padded to 4. */
size_t nl_key_len(const struct rs_set *s);
/* key and (interval sets) key_end of e; returns the key length. */
size_t nl_elem_key(const struct rs_set *s, const struct rs_elem *e,
		   uint8_t key[NL_KEY_MAX], uint8_t key_end[NL_KEY_MAX]);
/* The reverse, for naming live elements; false if the bytes can't be one
 * of s's elements. */
bool nl_elem_decode(const struct rs_set *s, const uint8_t *key,
		    const uint8_t *key_end, size_t len, struct rs_elem *e);

struct nftnl_table *nl_build_table(const struct ruleset *rs);
struct nftnl_set *nl_build_set(const struct ruleset *rs, const struct rs_set *s,
			       uint32_t set_id);
struct nftnl_set_elem *nl_build_elem(const struct rs_set *s,
				     const struct rs_elem *e);
/* The key alone (and key end for intervals): what a deletion names. */
struct nftnl_set_elem *nl_build_elem_key(const struct rs_set *s,
					 const struct rs_elem *e);
struct nftnl_chain *nl_build_chain(const struct ruleset *rs,
				   const struct rs_chain *c);
struct nftnl_rule *nl_build_rule(const struct ruleset *rs,
				 const struct rs_chain *c,
				 const struct rs_rule *r);

/* A live rule read back into the model (lookups name rs's sets), for
 * printing it in nft words; false when it has a shape egressd never
 * builds.  The statements point into r. */
bool nl_rule_decode(struct nftnl_rule *r, const struct ruleset *rs,
		    struct rs_rule *out);

/* The canonical text of a rule: its expressions as libnftnl prints them,
 * counter values left out, then its comment.  Equal text, equal rule. */
char *nl_rule_canon(struct nftnl_rule *r);

/* Internal to src/nl_*.c: the socket, plain requests, and the batch. */

struct nlmsghdr;
typedef int (*nl_cb_fn)(const struct nlmsghdr *nlh, void *data);

uint32_t nl_next_seq(struct nl_sock *nl);
/* Send the request at nlh and feed each answer to cb until the kernel is
 * done; a kernel error fills err->code and err->kmsg (not err->what). */
int nl_request(struct nl_sock *nl, struct nlmsghdr *nlh, nl_cb_fn cb,
	       void *data, struct nl_err *err);

enum nl_obj {
	NL_OBJ_COMMIT,			/* batch begin: commit errors */
	NL_OBJ_TABLE_PROBE,
	NL_OBJ_TABLE_DEL,
	NL_OBJ_TABLE,
	NL_OBJ_SET,
	NL_OBJ_ELEMS,
	NL_OBJ_CHAIN,
	NL_OBJ_RULE,
};

/* What one batch message does, so a kernel error can name it. */
struct nl_msgref {
	enum nl_obj kind;
	const void *obj;		/* struct rs_set or rs_chain */
	size_t index;			/* rule number, or first element */
	size_t count;			/* elements in the message */
	const struct nlmsghdr *nlh;	/* our copy, for ext-ack offsets */
};

struct nl_batch;

/* The first kernel error of a batch; seq names the message. */
struct nl_batch_fail {
	uint32_t seq;
	uint32_t offset;		/* of the attribute at fault, or 0 */
	int code;
	size_t n_errors;
	bool sent;			/* the kernel has the batch */
	char kmsg[128];
};

struct nl_batch *nl_batch_new(struct nl_sock *nl);
void nl_batch_free(struct nl_batch *b);
/* Room for the next message, its header written; ack asks the kernel to
 * confirm it.  Call nl_batch_next() once the message is complete. */
struct nlmsghdr *nl_batch_msg(struct nl_batch *b, uint16_t type,
			      uint16_t flags, bool ack,
			      const struct nl_msgref *ref);
void nl_batch_next(struct nl_batch *b);
/* The record of the message last started, to complete it. */
struct nl_msgref *nl_batch_last(struct nl_batch *b);
/* End the batch, commit or not. */
void nl_batch_close(struct nl_batch *b, bool commit);
const struct nl_msgref *nl_batch_ref(const struct nl_batch *b, uint32_t seq);
size_t nl_batch_count(const struct nl_batch *b, size_t *n_acks,
		      size_t *bytes);
/* Send and collect every answer.  0: all done; -1: errno, and *fail when
 * the kernel refused a message (then nothing was committed). */
int nl_batch_send(struct nl_sock *nl, struct nl_batch *b,
		  struct nl_batch_fail *fail);

/* Whether table inet egressd exists now (nl_read.c). */
int nl_table_exists(struct nl_sock *nl, bool *exists, struct nl_err *err);

#endif
