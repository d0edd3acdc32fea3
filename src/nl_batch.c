/* The netlink socket to nf_tables: plain requests and dumps, and the one
 * batch an apply sends, with each kernel answer matched back to the
 * message it is about. */
#include "egressd.h"
#include "nl.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/batch.h>
#include <libnftnl/common.h>

/* A nested attribute holds at most 64 KiB, so no message we build or
 * datagram a dump sends is larger than this. */
#define NL_BUF_LEN (65536 + 4096)
#define BATCH_PAGE (1024 * 1024)
/* Roughly what one queued answer costs the receive buffer (skb truesize),
 * so that a batch's answers never overflow it. */
#define ANSWER_COST 1024
/* How long to wait for answers the kernel owes after sendmsg returned;
 * nfnetlink answers synchronously, so this is a safety net only. */
#define ANSWER_WAIT_MS 2000

struct nl_sock {
	struct mnl_socket *mnl;
	uint32_t portid;
	uint32_t seq;
	char *buf;
};

struct nl_batch {
	struct nl_sock *nl;
	struct nftnl_batch *nb;
	uint32_t first_seq;
	struct nl_msgref *refs;
	size_t n_refs, cap_refs;
	size_t n_acks;
};

const char *nl_err_str(const struct nl_err *e, char *buf, size_t len)
{
	snprintf(buf, len, "%s: %s%s%s%s", e->what[0] ? e->what : "netlink",
		 strerror(e->code), e->kmsg[0] ? " (" : "", e->kmsg,
		 e->kmsg[0] ? ")" : "");
	return buf;
}

static void err_set(struct nl_err *err, int code, const char *what)
{
	err->code = code;
	snprintf(err->what, sizeof(err->what), "%s", what);
	err->kmsg[0] = '\0';
	errno = code;
}

struct nl_sock *nl_open(struct nl_err *err)
{
	struct nl_sock *nl = xcalloc(1, sizeof(*nl));
	int one = 1;

	nl->mnl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl->mnl || mnl_socket_bind(nl->mnl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err_set(err, errno, "opening the nf_tables netlink socket");
		nl_close(nl);
		return NULL;
	}
	/* Answers carry only the header of the message they are about, and
	 * the kernel's own words and the offending attribute's offset. */
	mnl_socket_setsockopt(nl->mnl, NETLINK_CAP_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->mnl, NETLINK_EXT_ACK, &one, sizeof(one));
	nl->portid = mnl_socket_get_portid(nl->mnl);
	nl->seq = (uint32_t)time(NULL);
	nl->buf = xmalloc(NL_BUF_LEN);
	return nl;
}

void nl_close(struct nl_sock *nl)
{
	if (!nl)
		return;
	if (nl->mnl)
		mnl_socket_close(nl->mnl);
	free(nl->buf);
	free(nl);
}

uint32_t nl_next_seq(struct nl_sock *nl)
{
	return ++nl->seq;
}

/* An NLMSG_ERROR: the error code, and with ext-ack the kernel's message
 * and the offset of the attribute at fault. */
struct answer {
	uint32_t seq;
	int code;
	uint32_t offset;
	char kmsg[128];
};

static int ext_ack_attr(const struct nlattr *a, void *data)
{
	struct answer *ans = data;

	switch (mnl_attr_get_type(a)) {
	case NLMSGERR_ATTR_MSG:
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			snprintf(ans->kmsg, sizeof(ans->kmsg), "%s",
				 mnl_attr_get_str(a));
		break;
	case NLMSGERR_ATTR_OFFS:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			ans->offset = mnl_attr_get_u32(a);
		break;
	}
	return MNL_CB_OK;
}

static int parse_answer(const struct nlmsghdr *nlh, struct answer *ans)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	size_t off = sizeof(*e);

	memset(ans, 0, sizeof(*ans));
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
		errno = EBADMSG;
		return -1;
	}
	ans->seq = nlh->nlmsg_seq;
	ans->code = -e->error;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return 0;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	if (mnl_nlmsg_size(off) > nlh->nlmsg_len)
		return 0;
	mnl_attr_parse(nlh, off, ext_ack_attr, ans);
	return 0;
}

/* Plain requests and dumps. */

struct request {
	nl_cb_fn cb;
	void *data;
	struct nl_err *err;
};

static int request_data(const struct nlmsghdr *nlh, void *data)
{
	struct request *rq = data;

	return rq->cb ? rq->cb(nlh, rq->data) : MNL_CB_OK;
}

static int request_error(const struct nlmsghdr *nlh, void *data)
{
	struct request *rq = data;
	struct answer ans;

	if (parse_answer(nlh, &ans) < 0)
		return MNL_CB_ERROR;
	if (ans.code == 0)
		return MNL_CB_STOP;
	rq->err->code = ans.code;
	snprintf(rq->err->kmsg, sizeof(rq->err->kmsg), "%s", ans.kmsg);
	errno = ans.code;
	return MNL_CB_ERROR;
}

/* The end of a dump; a dump that failed part way says why in it. */
static int request_done(const struct nlmsghdr *nlh, void *data)
{
	struct request *rq = data;
	int code;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(code))
		return MNL_CB_STOP;
	memcpy(&code, mnl_nlmsg_get_payload(nlh), sizeof(code));
	if (code >= 0)
		return MNL_CB_STOP;
	rq->err->code = -code;
	errno = -code;
	return MNL_CB_ERROR;
}

int nl_request(struct nl_sock *nl, struct nlmsghdr *nlh, nl_cb_fn cb,
	       void *data, struct nl_err *err)
{
	static mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_ERROR] = request_error,
		[NLMSG_DONE] = request_done,
	};
	struct request rq = { cb, data, err };
	ssize_t n;
	int ret;

	err->code = 0;
	err->kmsg[0] = '\0';
	if (mnl_socket_sendto(nl->mnl, nlh, nlh->nlmsg_len) < 0)
		goto fail;
	do {
		n = mnl_socket_recvfrom(nl->mnl, nl->buf, NL_BUF_LEN);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		ret = mnl_cb_run2(nl->buf, n, nlh->nlmsg_seq, nl->portid,
				  request_data, &rq, ctl, ARRAY_SIZE(ctl));
	} while (ret > 0);
	if (ret == 0)
		return 0;
fail:
	if (!err->code)
		err->code = errno;
	errno = err->code;
	return -1;
}

/* The batch. */

/* libmnl leaves attribute padding unwritten, and libnftnl's batch pages
 * come from malloc: zero each page as it starts, so no stale heap bytes
 * go to the kernel. */
static void zero_fresh_page(struct nl_batch *b)
{
	if (nftnl_batch_buffer_len(b->nb) == 0)
		memset(nftnl_batch_buffer(b->nb), 0, BATCH_PAGE + NL_BUF_LEN);
}

struct nl_batch *nl_batch_new(struct nl_sock *nl)
{
	struct nl_batch *b = xcalloc(1, sizeof(*b));

	b->nl = nl;
	b->nb = nftnl_batch_alloc(BATCH_PAGE, NL_BUF_LEN);
	if (!b->nb)
		fatalx("out of memory allocating a batch");
	zero_fresh_page(b);
	b->first_seq = nl_next_seq(nl);
	nftnl_batch_begin(nftnl_batch_buffer(b->nb), b->first_seq);
	grow(&b->refs, &b->cap_refs, b->n_refs, sizeof(*b->refs));
	b->refs[b->n_refs++] = (struct nl_msgref){ .kind = NL_OBJ_COMMIT };
	nl_batch_next(b);
	return b;
}

void nl_batch_free(struct nl_batch *b)
{
	if (!b)
		return;
	nftnl_batch_free(b->nb);
	free(b->refs);
	free(b);
}

struct nlmsghdr *nl_batch_msg(struct nl_batch *b, uint16_t type,
			      uint16_t flags, bool ack,
			      const struct nl_msgref *ref)
{
	uint32_t seq = nl_next_seq(b->nl);
	struct nlmsghdr *nlh;

	if (ack) {
		flags |= NLM_F_ACK;
		b->n_acks++;
	}
	nlh = nftnl_nlmsg_build_hdr(nftnl_batch_buffer(b->nb), type,
				    NFPROTO_INET, flags, seq);
	grow(&b->refs, &b->cap_refs, b->n_refs, sizeof(*b->refs));
	b->refs[b->n_refs] = *ref;
	b->refs[b->n_refs++].nlh = nlh;
	return nlh;
}

struct nl_msgref *nl_batch_last(struct nl_batch *b)
{
	return &b->refs[b->n_refs - 1];
}

void nl_batch_next(struct nl_batch *b)
{
	if (nftnl_batch_update(b->nb) < 0)
		fatalx("out of memory growing a batch");
	zero_fresh_page(b);
}

void nl_batch_close(struct nl_batch *b, bool commit)
{
	/* Without batch end the kernel checks everything, then aborts:
	 * that is the dry run, the way `nft -c` does it. */
	if (!commit)
		return;
	nftnl_batch_end(nftnl_batch_buffer(b->nb), nl_next_seq(b->nl));
	nl_batch_next(b);
}

const struct nl_msgref *nl_batch_ref(const struct nl_batch *b, uint32_t seq)
{
	uint32_t i = seq - b->first_seq;

	return i < b->n_refs ? &b->refs[i] : NULL;
}

size_t nl_batch_count(const struct nl_batch *b, size_t *n_acks,
		      size_t *bytes)
{
	int n_iov = nftnl_batch_iovec_len(b->nb);
	struct iovec iov[n_iov];

	nftnl_batch_iovec(b->nb, iov, n_iov);
	*bytes = 0;
	for (int i = 0; i < n_iov; i++)
		*bytes += iov[i].iov_len;
	*n_acks = b->n_acks;
	return b->n_refs - 1;
}

/* Grow a socket buffer to want bytes; the FORCE option (CAP_NET_ADMIN)
 * passes the rmem_max/wmem_max ceiling, the plain one is the fallback. */
static void size_buffer(int fd, int opt, int force_opt, size_t want)
{
	int cur = 0, val = want > INT32_MAX / 2 ? INT32_MAX / 2 : (int)want;
	socklen_t len = sizeof(cur);

	if (getsockopt(fd, SOL_SOCKET, opt, &cur, &len) == 0 &&
	    (size_t)cur >= want)
		return;
	if (setsockopt(fd, SOL_SOCKET, force_opt, &val, sizeof(val)) < 0)
		setsockopt(fd, SOL_SOCKET, opt, &val, sizeof(val));
}

/* The whole batch goes in one sendmsg(), so the send buffer must hold it;
 * the receive buffer must hold an answer per message in the worst case. */
static void size_buffers(struct nl_sock *nl, const struct nl_batch *b)
{
	int fd = mnl_socket_get_fd(nl->mnl);
	size_t n_acks, bytes;

	nl_batch_count(b, &n_acks, &bytes);
	size_buffer(fd, SO_SNDBUF, SO_SNDBUFFORCE, bytes + NL_BUF_LEN);
	size_buffer(fd, SO_RCVBUF, SO_RCVBUFFORCE,
		    b->n_refs * ANSWER_COST + NL_BUF_LEN);
}

static int send_batch(struct nl_sock *nl, struct nl_batch *b)
{
	int n_iov = nftnl_batch_iovec_len(b->nb);
	struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
	struct iovec iov[n_iov];
	struct msghdr msg = {
		.msg_name = &snl,
		.msg_namelen = sizeof(snl),
		.msg_iov = iov,
		.msg_iovlen = n_iov,
	};

	size_buffers(nl, b);
	nftnl_batch_iovec(b->nb, iov, n_iov);
	while (sendmsg(mnl_socket_get_fd(nl->mnl), &msg, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

struct tally {
	size_t acks;
	struct nl_batch_fail *fail;
};

static void tally_answer(const struct answer *ans, struct tally *t)
{
	struct nl_batch_fail *f = t->fail;

	if (ans->code == 0) {
		t->acks++;
		return;
	}
	/* The kernel answers in batch order; keep the first error, later
	 * ones are most often its consequences. */
	if (f->n_errors++)
		return;
	f->seq = ans->seq;
	f->code = ans->code;
	f->offset = ans->offset;
	snprintf(f->kmsg, sizeof(f->kmsg), "%s", ans->kmsg);
}

static int read_datagram(struct nl_sock *nl, struct tally *t, int flags)
{
	ssize_t got = recv(mnl_socket_get_fd(nl->mnl), nl->buf, NL_BUF_LEN,
			   flags);
	const struct nlmsghdr *nlh = (const void *)nl->buf;
	struct answer ans;
	int n = got;

	if (got < 0)
		return -1;
	for (; mnl_nlmsg_ok(nlh, n); nlh = mnl_nlmsg_next(nlh, &n)) {
		if (nlh->nlmsg_type != NLMSG_ERROR)
			continue;
		if (parse_answer(nlh, &ans) < 0)
			return -1;
		tally_answer(&ans, t);
	}
	return 0;
}

/* nfnetlink handles the whole batch inside sendmsg(), so every answer is
 * queued by now: read until none is left, and wait only if the acks we
 * asked for are not all there. */
static int read_answers(struct nl_sock *nl, struct nl_batch *b,
			struct tally *t)
{
	struct pollfd pfd = { mnl_socket_get_fd(nl->mnl), POLLIN, 0 };

	for (;;) {
		if (read_datagram(nl, t, MSG_DONTWAIT) == 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (t->fail->n_errors || t->acks >= b->n_acks)
			return 0;
		if (poll(&pfd, 1, ANSWER_WAIT_MS) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
}

int nl_batch_send(struct nl_sock *nl, struct nl_batch *b,
		  struct nl_batch_fail *fail)
{
	struct tally t = { 0, fail };

	memset(fail, 0, sizeof(*fail));
	if (send_batch(nl, b) < 0)
		return -1;
	fail->sent = true;
	if (read_answers(nl, b, &t) < 0)
		return -1;
	if (fail->n_errors) {
		errno = fail->code;
		return -1;
	}
	return 0;
}
