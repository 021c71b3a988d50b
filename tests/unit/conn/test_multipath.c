/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The multi-path handshake (BRIEF §2): a client opens one connection on two
 * paths at once, each a simulated link of its own; client path k and server
 * path k are the two ends of link k (the ids a DPDK worker would give per
 * peer address). Checked: both paths' first datagrams, where the server
 * answers, the validation of the second path after the handshake (RFC 9000
 * §8.2, §9.5), data on both paths, the fallback when a path is dead, and
 * that nothing of it happens without the opt-in.
 */
#include "conn/conn_internal.h"
#include "xfer.h"

#define NP 2

struct mp {
	struct h_pair h; /* contexts, pools, configs, connections, clock */
	struct qb_sim_link *link[NP];
	bool server_multipath; /* the server's config opts in */
	/* What the client sent first on each path. */
	uint64_t first_len[NP];
	struct qb_pkt_hdr first_hdr[NP];
	uint8_t first_dcid[NP][QB_MAX_CID_LEN];
	/* Per path and sender (0 client, 1 server). */
	uint64_t dgrams[2][NP];
	uint64_t long_hdr[2][NP];   /* datagrams starting with a long header */
	uint64_t probing[2][NP];    /* sent while the sender's path was PROBING */
	uint64_t probing_short[2];  /* ... of them shorter than 1200 bytes */
	uint64_t short_dcid_same;   /* client 1-RTT on path 1 with path 0's DCID */
	uint64_t short_on_1;        /* client 1-RTT datagrams on path 1 */
	uint32_t drop_probe[2][NP]; /* validation datagrams to lose at send */
	unsigned rr[2];             /* the path each side's next flush starts with */
	unsigned s_paths;           /* path ids the server's flush tries (>= NP) */
	uint64_t s_sent_no_link;    /* server datagrams on a path id >= NP */
};

static struct xfer x;

/* max_sent: both ends' bound on 1-RTT sent records (0: the default). */
static void
mp_init_sent(struct mp *m, uint64_t seed, bool client_mp, bool server_mp, uint32_t max_sent)
{
	memset(m, 0, sizeof(*m));
	h_init(&m->h, seed);
	m->h.cfg_c.multipath_handshake = client_mp;
	m->h.cfg_s.multipath_handshake = server_mp;
	m->h.cfg_c.max_sent_packets = m->h.cfg_s.max_sent_packets = max_sent;
	m->server_multipath = server_mp;
	m->s_paths = NP;
	for (int k = 0; k < NP; k++) {
		struct qb_sim_cfg sc = {.seed = seed * 7 + (uint64_t)k,
		                        .pool_size = 2 * H_QUEUE + 64,
		                        .buf_size = 2048};
		m->link[k] = qb_sim_create(&sc);
		cr_assert_not_null(m->link[k]);
		struct qb_sim_dir_cfg d = {.delay_ns = 10 * H_MS,
		                           .bandwidth = 100000000ull / 8,
		                           .queue_limit = (uint64_t)H_QUEUE * H_MTU};
		qb_sim_set_dir(m->link[k], QB_SIM_A_TO_B, &d);
		qb_sim_set_dir(m->link[k], QB_SIM_B_TO_A, &d);
	}
	h_start(&m->h);
}

static void
mp_init(struct mp *m, uint64_t seed, bool client_mp, bool server_mp)
{
	mp_init_sent(m, seed, client_mp, server_mp, 0);
}

static void
mp_fini(struct mp *m)
{
	for (int k = 0; k < NP; k++)
		qb_sim_destroy(m->link[k]);
	h_fini(&m->h);
}

/* Every datagram of link k, both ways, is lost from now on. */
static void
mp_kill(struct mp *m, int k)
{
	struct qb_sim_dir_cfg d = {.delay_ns = 10 * H_MS, .loss = 1.0};
	qb_sim_set_dir(m->link[k], QB_SIM_A_TO_B, &d);
	qb_sim_set_dir(m->link[k], QB_SIM_B_TO_A, &d);
}

static enum qb_conn_path_state
path_state(struct qb_conn *c, uint32_t id)
{
	struct qb_conn_path_info pi;
	cr_assert_eq(qb_conn_path_info(c, id, &pi), 0);
	return pi.state;
}

/* Looks at a datagram side (0 client, 1 server) sends on path k. */
static void
inspect(struct mp *m, int side, int k, const uint8_t *d, size_t len, bool probing)
{
	m->dgrams[side][k]++;
	if (d[0] & 0x80)
		m->long_hdr[side][k]++;
	if (probing) {
		m->probing[side][k]++;
		if (len < QB_MIN_INITIAL_DGRAM)
			m->probing_short[side]++;
	}
	if (side == 0 && m->dgrams[0][k] == 1) {
		m->first_len[k] = len;
		cr_assert_eq(qb_pkt_parse(d, len, 0, 8, 0, &m->first_hdr[k]), 0);
		memcpy(m->first_dcid[k], m->first_hdr[k].dcid, m->first_hdr[k].dcid_len);
	}
	if (side == 0 && k == 1 && !(d[0] & 0x80)) {
		struct qb_pkt_hdr h;
		cr_assert_eq(qb_pkt_parse(d, len, 0, 8, 0, &h), 0);
		size_t n;
		const uint8_t *d0 = qb_conn_dcid(m->h.c, &n);
		m->short_on_1++;
		if (h.dcid_len == n && memcmp(h.dcid, d0, n) == 0)
			m->short_dcid_same++;
	}
}

/*
 * Sends what conn has, one datagram per path in turn (one cwnd and pacer
 * for all), starting with the next path each time so that a pacer that
 * frees one datagram per wakeup does not always pick the same path.
 */
static void
mp_flush(struct mp *m, int side)
{
	struct qb_conn *c = side == 0 ? m->h.c : m->h.s;
	bool more = c != NULL;

	unsigned np = side == 1 ? m->s_paths : NP;
	m->rr[side] = (m->rr[side] + 1) % np;
	for (int i = 0; more && i < 200000; i++) {
		more = false;
		for (unsigned j = 0; j < np; j++) {
			int k = (int)((m->rr[side] + j) % np);
			uint32_t why = 0;
			struct qb_conn_path_info pi;
			qb_conn_path_info(c, (uint32_t)k, &pi);
			int n = qb_conn_send(c, (uint32_t)k, m->h.buf, H_MTU - 28, m->h.now, &why);
			if (n == QB_ERR_ARG)
				continue; /* a path this side does not have */
			cr_assert_geq(n, 0, "qb_conn_send: %d", n);
			if (n == 0)
				continue;
			if (k >= NP) {
				m->s_sent_no_link++; /* a path with no link: nothing to send on */
				continue;
			}
			/* Validation under way at either end of the path. */
			struct qb_conn *peer = side == 0 ? m->h.s : m->h.c;
			bool probing =
			        pi.state == QB_PATH_PROBING ||
			        (peer != NULL && path_state(peer, (uint32_t)k) == QB_PATH_PROBING);
			inspect(m, side, k, m->h.buf, (size_t)n, probing);
			if (side == 1 && pi.state != QB_PATH_ACTIVE) {
				/* RFC 9000 §8.1: 3x what came on the path, never more. */
				qb_conn_path_info(c, (uint32_t)k, &pi);
				cr_assert_leq(pi.bytes_sent, 3 * pi.bytes_recv, "path %d", k);
			}
			if (probing && m->drop_probe[side][k] > 0) {
				m->drop_probe[side][k]--;
				more = true;
				continue;
			}
			qb_sim_send(m->link[k], side == 0 ? QB_SIM_A_TO_B : QB_SIM_B_TO_A, m->h.buf,
			            (size_t)n, m->h.now);
			more = true;
		}
	}
	cr_assert(!more, "send loop did not end");
}

static void
mp_deliver(struct mp *m, int k, bool to_server)
{
	uint8_t d[2048];
	size_t len;
	enum qb_sim_dir dir = to_server ? QB_SIM_A_TO_B : QB_SIM_B_TO_A;

	while ((len = qb_sim_recv(m->link[k], dir, m->h.now, d, sizeof(d))) > 0) {
		if (to_server && m->h.s == NULL && len >= 1200) {
			m->h.s = qb_conn_server_new(&m->h.cfg_s, d, len, m->h.now);
			cr_assert_not_null(m->h.s);
		}
		struct qb_conn *c = to_server ? m->h.s : m->h.c;
		if (c == NULL || qb_conn_state(c) == QB_CONN_CLOSED)
			continue;
		int rc = qb_conn_recv(c, (uint32_t)k, d, len, m->h.now);
		/* Only a server without the opt-in refuses a second path. */
		if (rc == QB_ERR_ARG)
			cr_assert(to_server && !m->server_multipath && k != 0, "recv path %d", k);
		else
			cr_assert_eq(rc, 0);
	}
}

static bool
mp_step(struct mp *m)
{
	mp_flush(m, 0);
	mp_flush(m, 1);
	uint64_t t = UINT64_MAX;
	for (int k = 0; k < NP; k++)
		t = h_min(t, qb_sim_next_delivery(m->link[k]));
	t = h_min(t, qb_conn_deadline(m->h.c));
	if (m->h.s)
		t = h_min(t, qb_conn_deadline(m->h.s));
	if (t == UINT64_MAX)
		return false;
	if (t > m->h.now)
		m->h.now = t;
	for (int k = 0; k < NP; k++) {
		mp_deliver(m, k, true);
		mp_deliver(m, k, false);
	}
	if (qb_conn_deadline(m->h.c) <= m->h.now)
		qb_conn_on_timeout(m->h.c, m->h.now);
	if (m->h.s && qb_conn_deadline(m->h.s) <= m->h.now)
		qb_conn_on_timeout(m->h.s, m->h.now);
	return true;
}

static bool
mp_run(struct mp *m, uint64_t limit_ns, bool (*done)(struct mp *, void *), void *arg)
{
	uint64_t end = m->h.now + limit_ns;
	for (long i = 0; i < 20000000 && m->h.now < end; i++) {
		if (done(m, arg))
			return true;
		if (!mp_step(m))
			break;
	}
	return done(m, arg);
}

static bool
confirmed(struct mp *m, void *arg)
{
	(void)arg;
	return h_confirmed(&m->h, NULL);
}

/* Client and server both see path k in state *arg. */
static bool
path_is(struct mp *m, void *arg)
{
	const uint32_t *want = arg; /* {path, state} */
	return m->h.s != NULL && path_state(m->h.c, want[0]) == want[1] &&
	       path_state(m->h.s, want[0]) == want[1];
}

static bool
client_path0_failed(struct mp *m, void *arg)
{
	(void)arg;
	return path_state(m->h.c, 0) == QB_PATH_FAILED;
}

static bool
client_path1_failed(struct mp *m, void *arg)
{
	(void)arg;
	return path_state(m->h.c, 1) == QB_PATH_FAILED;
}

static bool
xfer_step(struct mp *m, void *arg)
{
	return x_step(&m->h, arg);
}

/* Transfers size bytes on one stream; asserts it arrived byte for byte. */
static void
mp_xfer(struct mp *m, uint64_t size, uint64_t limit_ns)
{
	memset(&x, 0, sizeof(x));
	x.size = size;
	x.nstreams = 1;
	cr_assert(mp_run(m, limit_ns, xfer_step, &x), "transfer incomplete: %lu bytes",
	          (unsigned long)x.total_recv);
	cr_assert_eq(x.bad, 0, "%lu bytes differ", (unsigned long)x.bad);
	cr_assert_eq(x.st[0].received, size);
}

Test(conn_multipath, two_paths_handshake_validate_and_carry_data)
{
	struct mp m;
	uint32_t id = 0;

	mp_init(&m, 501, true, true);
	cr_assert_eq(qb_conn_path_add(m.h.c, &id), 0);
	cr_assert_eq(id, 1);

	cr_assert(mp_run(&m, 10000 * H_MS, confirmed, NULL), "handshake");
	/* Both paths' first datagrams: >= 1200 bytes (RFC 9000 §14.1), an Initial
	 * to the same original DCID. */
	for (int k = 0; k < NP; k++) {
		cr_assert_geq(m.first_len[k], 1200, "path %d: %lu bytes", k,
		              (unsigned long)m.first_len[k]);
		cr_assert_eq(m.first_hdr[k].type, QB_PKT_INITIAL, "path %d", k);
	}
	cr_assert_eq(m.first_hdr[0].dcid_len, m.first_hdr[1].dcid_len);
	cr_assert_geq(m.first_hdr[0].dcid_len, 8);
	cr_assert_arr_eq(m.first_dcid[0], m.first_dcid[1], m.first_hdr[0].dcid_len);
	/* The server processed path 0 first and answered only there. */
	struct qb_conn_path_info ci[NP], si[NP];
	for (uint32_t k = 0; k < NP; k++) {
		cr_assert_eq(qb_conn_path_info(m.h.c, k, &ci[k]), 0);
		cr_assert_eq(qb_conn_path_info(m.h.s, k, &si[k]), 0);
	}
	cr_assert(ci[0].handshake_path && si[0].handshake_path);
	cr_assert(!ci[1].handshake_path && !si[1].handshake_path);
	cr_assert_gt(si[1].dgrams_recv, 0, "the server did get path 1's Initial");
	cr_assert_eq(m.dgrams[1][1], 0, "the server sent on path 1 during the handshake");
	cr_assert_eq(m.long_hdr[1][1], 0, "server Initial/Handshake on path 1");
	cr_assert_gt(m.long_hdr[1][0], 0);

	/* Path 1 is validated both ways by PATH_CHALLENGE/PATH_RESPONSE. */
	uint32_t want[2] = {1, QB_PATH_ACTIVE};
	cr_assert(mp_run(&m, 10000 * H_MS, path_is, want), "path 1 not validated: %d / %d",
	          path_state(m.h.c, 1), path_state(m.h.s, 1));
	cr_assert_eq(qb_conn_path_info(m.h.c, 1, &ci[1]), 0);
	cr_assert_eq(qb_conn_path_info(m.h.s, 1, &si[1]), 0);
	cr_assert_geq(ci[1].challenges_sent, 1);
	cr_assert_geq(si[1].challenges_sent, 1, "the server validates the client's address too");
	cr_assert_gt(m.probing[0][1], 0);
	cr_assert_gt(m.probing[1][1], 0);
	cr_assert_eq(m.probing_short[0] + m.probing_short[1], 0,
	             "a validation datagram under 1200 bytes (RFC 9000 §8.2.1)");

	/* 10 MB byte-exact, with datagrams on both paths both ways. */
	qb_conn_path_info(m.h.c, 0, &ci[0]);
	qb_conn_path_info(m.h.c, 1, &ci[1]);
	uint64_t sent0 = ci[0].dgrams_sent, sent1 = ci[1].dgrams_sent;
	uint64_t t0 = m.h.now;
	mp_xfer(&m, 10u << 20, 60000 * H_MS);
	struct qb_conn_path_info a[NP], b[NP];
	for (uint32_t k = 0; k < NP; k++) {
		qb_conn_path_info(m.h.c, k, &a[k]);
		qb_conn_path_info(m.h.s, k, &b[k]);
	}
	uint64_t d0 = a[0].dgrams_sent - sent0, d1 = a[1].dgrams_sent - sent1;
	cr_log_info("10 MB on two paths: %.3f s simulated; client datagrams %lu / %lu, "
	            "server datagrams %lu / %lu",
	            (double)(m.h.now - t0) / 1e9, (unsigned long)d0, (unsigned long)d1,
	            (unsigned long)b[0].dgrams_sent, (unsigned long)b[1].dgrams_sent);
	/* ~7400 full datagrams carry 10 MB: each path took a good share
	 * (the driver alternates, one congestion window for both). */
	cr_assert_gt(d0, 2000);
	cr_assert_gt(d1, 2000);
	cr_assert_gt(b[1].dgrams_sent, 100, "ACKs on path 1 too");
	cr_assert_gt(b[0].dgrams_recv, 1000);
	cr_assert_gt(b[1].dgrams_recv, 1000);
	/* §9.5: path 1 used its own DCID, never path 0's. */
	cr_assert_gt(m.short_on_1, 1000);
	cr_assert_eq(m.short_dcid_same, 0);
	cr_assert_eq(qb_conn_state(m.h.c), QB_CONN_OPEN);
	cr_assert_eq(qb_conn_state(m.h.s), QB_CONN_OPEN);
	mp_fini(&m);
}

Test(conn_multipath, dead_first_path_hands_the_handshake_to_the_second)
{
	struct mp m;
	uint32_t id;

	mp_init(&m, 502, true, true);
	cr_assert_eq(qb_conn_path_add(m.h.c, &id), 0);
	mp_kill(&m, 0);
	uint64_t t0 = m.h.now;
	cr_assert(mp_run(&m, 10000 * H_MS, confirmed, NULL), "handshake");
	/* Path 1's first Initial carried the whole ClientHello too: no PTO
	 * (the first is 1 s away, RFC 9002 §6.2.2) was needed. */
	cr_assert_lt(m.h.now - t0, 200 * H_MS, "handshake took %lu ms",
	             (unsigned long)((m.h.now - t0) / H_MS));
	struct qb_conn_path_info ci[NP], si[NP];
	for (uint32_t k = 0; k < NP; k++) {
		qb_conn_path_info(m.h.c, k, &ci[k]);
		qb_conn_path_info(m.h.s, k, &si[k]);
	}
	cr_assert(ci[1].handshake_path, "client: path 1 is the handshake path");
	cr_assert(si[1].handshake_path, "server: path 1 is the handshake path");
	cr_assert(!ci[0].handshake_path);
	cr_assert_eq(si[0].state, QB_PATH_UNKNOWN, "nothing came on path 0");
	cr_assert_gt(m.dgrams[0][0], 0, "the client did try path 0");
	cr_assert_eq(m.dgrams[1][0], 0, "the server never sent on path 0");

	/* Path 0 tries validation, gets nothing back and is given up (§8.2.4). */
	cr_assert(mp_run(&m, 30000 * H_MS, client_path0_failed, NULL), "path 0: state %d",
	          path_state(m.h.c, 0));
	qb_conn_path_info(m.h.c, 0, &ci[0]);
	cr_assert_geq(ci[0].challenges_sent, 2, "challenges are sent again");
	uint64_t tried = m.dgrams[0][0];
	uint32_t why = 0;
	cr_assert_eq(qb_conn_send(m.h.c, 0, m.h.buf, H_MTU - 28, m.h.now, &why), 0);
	cr_assert(why & QB_WHY_PATH_UNVALIDATED, "why %#x", why);

	/* The data goes on path 1 alone. */
	mp_xfer(&m, 1u << 20, 30000 * H_MS);
	cr_assert_eq(m.dgrams[0][0], tried, "nothing more on the failed path");
	cr_assert_eq(qb_conn_state(m.h.c), QB_CONN_OPEN);
	mp_fini(&m);
}

Test(conn_multipath, no_opt_in_no_second_path)
{
	struct mp m;
	uint32_t id = 77, why = 0;
	uint8_t d[H_MTU];

	mp_init(&m, 503, false, false);
	cr_assert_eq(qb_conn_path_add(m.h.c, &id), QB_ERR_UNSUPPORTED);
	cr_assert_eq(id, 77);
	cr_assert_eq(qb_conn_send(m.h.c, 1, d, sizeof(d), m.h.now, &why), QB_ERR_ARG);
	memset(d, 0, sizeof(d));
	cr_assert_eq(qb_conn_recv(m.h.c, 1, d, 1200, m.h.now), QB_ERR_ARG);
	struct qb_conn_path_info pi;
	cr_assert_eq(qb_conn_path_info(m.h.c, 1, &pi), 0);
	cr_assert_eq(pi.state, QB_PATH_UNKNOWN);
	cr_assert_eq(qb_conn_path_info(m.h.c, QB_CONN_MAX_PATHS, &pi), QB_ERR_ARG);
	cr_assert(mp_run(&m, 10000 * H_MS, confirmed, NULL), "handshake");
	/* Single path as before: path 0 only; a server refuses a second one. */
	cr_assert_eq(m.dgrams[0][1] + m.dgrams[1][1], 0);
	cr_assert(path_state(m.h.s, 0) == QB_PATH_ACTIVE);
	memset(d, 0, sizeof(d));
	cr_assert_eq(qb_conn_recv(m.h.s, 1, d, 1200, m.h.now), QB_ERR_ARG);
	cr_assert_eq(qb_conn_send(m.h.s, 1, d, sizeof(d), m.h.now, &why), QB_ERR_ARG);
	mp_xfer(&m, 256u << 10, 30000 * H_MS);
	mp_fini(&m);
}

Test(conn_multipath, path_add_only_by_an_opted_in_client_before_sending)
{
	struct mp m;
	uint32_t id, why;
	uint8_t d[H_MTU];

	mp_init(&m, 504, true, true);
	for (uint32_t k = 1; k < QB_CONN_MAX_PATHS; k++) {
		cr_assert_eq(qb_conn_path_add(m.h.c, &id), 0);
		cr_assert_eq(id, k);
	}
	cr_assert_eq(qb_conn_path_add(m.h.c, &id), QB_ERR_NOMEM);
	cr_assert_gt(qb_conn_send(m.h.c, 0, d, sizeof(d), m.h.now, &why), 0);
	mp_fini(&m);

	mp_init(&m, 505, true, true);
	cr_assert_gt(qb_conn_send(m.h.c, 0, d, sizeof(d), m.h.now, &why), 0);
	cr_assert_eq(qb_conn_path_add(m.h.c, &id), QB_ERR_STATE, "after the first send");
	cr_assert(mp_run(&m, 10000 * H_MS, confirmed, NULL), "handshake");
	cr_assert_eq(qb_conn_path_add(m.h.s, &id), QB_ERR_UNSUPPORTED, "a server adds none");
	mp_fini(&m);
}

Test(conn_multipath, server_without_opt_in_leaves_the_client_on_one_path)
{
	struct mp m;
	uint32_t id;

	mp_init(&m, 506, true, false);
	cr_assert_eq(qb_conn_path_add(m.h.c, &id), 0);
	cr_assert(mp_run(&m, 10000 * H_MS, confirmed, NULL), "handshake");
	cr_assert(mp_run(&m, 30000 * H_MS, client_path1_failed, NULL), "path 1: state %d",
	          path_state(m.h.c, 1));
	mp_xfer(&m, 1u << 20, 30000 * H_MS);
	cr_assert_eq(m.dgrams[1][1], 0);
	mp_fini(&m);
}

Test(conn_multipath, opted_in_server_serves_a_single_path_client)
{
	struct mp m;

	mp_init(&m, 508, false, true);
	cr_assert(mp_run(&m, 10000 * H_MS, confirmed, NULL), "handshake");
	struct qb_conn_path_info si;
	cr_assert_eq(qb_conn_path_info(m.h.s, 0, &si), 0);
	cr_assert(si.handshake_path);
	cr_assert_eq(path_state(m.h.s, 1), QB_PATH_UNKNOWN);
	mp_xfer(&m, 1u << 20, 30000 * H_MS);
	cr_assert_eq(m.dgrams[0][1] + m.dgrams[1][1], 0);
	mp_fini(&m);
}

/* Both directions of link k: one-way delay and rate. */
static void
mp_link(struct mp *m, int k, uint64_t delay_ns, uint64_t bits_per_s)
{
	struct qb_sim_dir_cfg d = {.delay_ns = delay_ns,
	                           .bandwidth = bits_per_s / 8,
	                           .queue_limit = (uint64_t)H_QUEUE * H_MTU};
	qb_sim_set_dir(m->link[k], QB_SIM_A_TO_B, &d);
	qb_sim_set_dir(m->link[k], QB_SIM_B_TO_A, &d);
}

/* What a 4 MB upload cost: simulated time, losses declared, losses real. */
struct mp_cost {
	double secs;
	uint64_t pkts, lost, dropped;
	uint64_t refused; /* packets the server dropped (undecryptable, duplicate...) */
};

/* 4 MB client to server after the handshake (and path 1's validation). */
static void
mp_xfer_4mb(struct mp *m, bool two_paths, struct mp_cost *out)
{
	uint32_t id;
	if (two_paths)
		cr_assert_eq(qb_conn_path_add(m->h.c, &id), 0);
	cr_assert(mp_run(m, 10000 * H_MS, confirmed, NULL), "handshake");
	if (two_paths) {
		uint32_t want[2] = {1, QB_PATH_ACTIVE};
		cr_assert(mp_run(m, 10000 * H_MS, path_is, want), "path 1 not validated");
	}
	struct qb_conn_stats s0, s1;
	qb_conn_stats(m->h.c, &s0);
	uint64_t drop0 = 0, drop1 = 0;
	for (int k = 0; k < NP; k++) {
		const struct qb_sim_stats *st = qb_sim_stats(m->link[k], QB_SIM_A_TO_B);
		drop0 += st->lost + st->burst_lost + st->queue_drops + st->pool_drops;
	}
	uint64_t t0 = m->h.now;
	mp_xfer(m, 4u << 20, 60000 * H_MS);
	qb_conn_stats(m->h.c, &s1);
	for (int k = 0; k < NP; k++) {
		const struct qb_sim_stats *st = qb_sim_stats(m->link[k], QB_SIM_A_TO_B);
		drop1 += st->lost + st->burst_lost + st->queue_drops + st->pool_drops;
	}
	out->secs = (double)(m->h.now - t0) / 1e9;
	out->pkts = s1.pkts_sent - s0.pkts_sent;
	out->lost = s1.pkts_lost - s0.pkts_lost;
	out->dropped = drop1 - drop0;
	struct qb_conn_stats ss;
	qb_conn_stats(m->h.s, &ss);
	out->refused = ss.pkts_dropped;
}

/*
 * One packet number space over paths of different delays (10 and 25 ms one
 * way): loss detection per path (recovery.h) keeps the faster path's ACKs
 * from condemning the slower path's packets in flight. Before it, 4 MB took
 * about 45 s simulated here with some 700 packets falsely declared lost.
 */
Test(conn_multipath, unequal_paths_no_spurious_losses)
{
	struct mp m;
	struct mp_cost one, two;

	/* Reference: the same 4 MB on the 10 ms path alone. */
	mp_init(&m, 511, false, false);
	mp_link(&m, 0, 10 * H_MS, 100000000ull);
	mp_xfer_4mb(&m, false, &one);
	mp_fini(&m);

	mp_init(&m, 507, true, true);
	mp_link(&m, 0, 10 * H_MS, 100000000ull);
	mp_link(&m, 1, 25 * H_MS, 100000000ull);
	mp_xfer_4mb(&m, true, &two);
	struct qb_conn_path_info a[NP];
	for (uint32_t k = 0; k < NP; k++)
		qb_conn_path_info(m.h.c, k, &a[k]);
	cr_log_info("4 MB: one 10 ms path %.3f s (pkts %lu, lost %lu, dropped %lu); "
	            "10/25 ms paths %.3f s (pkts %lu, lost %lu, dropped %lu, refused %lu), "
	            "dgrams %lu / %lu",
	            one.secs, (unsigned long)one.pkts, (unsigned long)one.lost,
	            (unsigned long)one.dropped, two.secs, (unsigned long)two.pkts,
	            (unsigned long)two.lost, (unsigned long)two.dropped, (unsigned long)two.refused,
	            (unsigned long)a[0].dgrams_sent, (unsigned long)a[1].dgrams_sent);
	cr_assert_lt(two.secs, 3.0, "4 MB over 10/25 ms paths took %.3f s", two.secs);
	cr_assert_lt(two.secs, 2 * one.secs + 0.5, "%.3f s vs %.3f s on one path", two.secs,
	             one.secs);
	/* Few losses declared beyond what the links really dropped. */
	uint64_t spurious = two.lost > two.dropped ? two.lost - two.dropped : 0;
	cr_assert_lt(spurious, 30, "%lu spurious losses", (unsigned long)spurious);
	/* The slower path's packets are neither misdecoded (packet number
	 * length, RFC 9000 §17.1) nor refused below the duplicate floor. */
	cr_assert_lt(two.refused, 5, "the server refused %lu packets", (unsigned long)two.refused);
	cr_assert_gt(a[1].dgrams_sent, 500, "the slow path carried its share");
	mp_fini(&m);
}

/*
 * Other shapes: the handshake path is the slower one (its RTT is the
 * connection's estimator), a 2 ms difference, a slower path with half the
 * rate. Each: 4 MB within 3 s simulated, few spurious losses.
 */
Test(conn_multipath, unequal_paths_other_shapes)
{
	static const struct {
		uint64_t d0, d1, bw0, bw1;
	} shape[] = {
	        {25 * H_MS, 10 * H_MS, 100000000ull, 100000000ull},
	        {10 * H_MS, 12 * H_MS, 100000000ull, 100000000ull},
	        {10 * H_MS, 25 * H_MS, 100000000ull, 50000000ull},
	};
	for (unsigned i = 0; i < sizeof(shape) / sizeof(shape[0]); i++) {
		struct mp m;
		struct mp_cost c;

		mp_init(&m, 520 + i, true, true);
		mp_link(&m, 0, shape[i].d0, shape[i].bw0);
		mp_link(&m, 1, shape[i].d1, shape[i].bw1);
		mp_xfer_4mb(&m, true, &c);
		cr_log_info(
		        "4 MB, %lu/%lu ms, %lu/%lu Mbit/s: %.3f s (pkts %lu, lost %lu, "
		        "dropped %lu, refused %lu)",
		        (unsigned long)(shape[i].d0 / H_MS), (unsigned long)(shape[i].d1 / H_MS),
		        (unsigned long)(shape[i].bw0 / 1000000),
		        (unsigned long)(shape[i].bw1 / 1000000), c.secs, (unsigned long)c.pkts,
		        (unsigned long)c.lost, (unsigned long)c.dropped, (unsigned long)c.refused);
		cr_assert_lt(c.secs, 3.0, "shape %u: %.3f s", i, c.secs);
		uint64_t spurious = c.lost > c.dropped ? c.lost - c.dropped : 0;
		cr_assert_lt(spurious, 30, "shape %u: %lu spurious losses", i,
		             (unsigned long)spurious);
		cr_assert_lt(c.refused, 5, "shape %u: refused %lu", i, (unsigned long)c.refused);
		mp_fini(&m);
	}
}

/* §8.2.1: a lost challenge or response is made up by a new challenge. */
Test(conn_multipath, lost_validation_datagrams_are_made_up)
{
	struct mp m;
	uint32_t id;

	mp_init(&m, 509, true, true);
	cr_assert_eq(qb_conn_path_add(m.h.c, &id), 0);
	cr_assert(mp_run(&m, 10000 * H_MS, confirmed, NULL), "handshake");
	m.drop_probe[0][1] = 1; /* the client's first PATH_CHALLENGE */
	m.drop_probe[1][1] = 1; /* the server's first PATH_RESPONSE + PATH_CHALLENGE */
	uint32_t want[2] = {1, QB_PATH_ACTIVE};
	cr_assert(mp_run(&m, 20000 * H_MS, path_is, want), "path 1 not validated: %d / %d",
	          path_state(m.h.c, 1), path_state(m.h.s, 1));
	struct qb_conn_path_info ci, si;
	qb_conn_path_info(m.h.c, 1, &ci);
	qb_conn_path_info(m.h.s, 1, &si);
	cr_assert_eq(m.drop_probe[0][1] + m.drop_probe[1][1], 0, "both were dropped");
	cr_assert_geq(ci.challenges_sent, 2, "the client challenged again");
	cr_assert_leq(ci.challenges_sent, 3);
	cr_assert_geq(si.challenges_sent, 1);
	mp_xfer(&m, 1u << 20, 30000 * H_MS);
	qb_conn_path_info(m.h.c, 1, &ci);
	cr_assert_gt(ci.dgrams_sent, 100);
	mp_fini(&m);
}

/* Random loss on both paths: frames lost on one path come back on either. */
Test(conn_multipath, lossy_paths_deliver_exactly)
{
	struct mp m;
	uint32_t id;

	mp_init(&m, 510, true, true);
	for (int k = 0; k < NP; k++) {
		struct qb_sim_dir_cfg d = {.delay_ns = 10 * H_MS,
		                           .bandwidth = 100000000ull / 8,
		                           .queue_limit = (uint64_t)H_QUEUE * H_MTU,
		                           .loss = 0.02};
		qb_sim_set_dir(m.link[k], QB_SIM_A_TO_B, &d);
		qb_sim_set_dir(m.link[k], QB_SIM_B_TO_A, &d);
	}
	cr_assert_eq(qb_conn_path_add(m.h.c, &id), 0);
	cr_assert(mp_run(&m, 20000 * H_MS, confirmed, NULL), "handshake");
	uint32_t want[2] = {1, QB_PATH_ACTIVE};
	cr_assert(mp_run(&m, 20000 * H_MS, path_is, want), "path 1 not validated");
	mp_xfer(&m, 2u << 20, 60000 * H_MS);
	for (int k = 0; k < NP; k++) {
		const struct qb_sim_stats *st = qb_sim_stats(m.link[k], QB_SIM_A_TO_B);
		cr_assert_gt(st->lost, 0, "path %d lost nothing", k);
	}
	struct qb_conn_path_info a[NP];
	for (uint32_t k = 0; k < NP; k++)
		qb_conn_path_info(m.h.c, k, &a[k]);
	cr_assert_gt(a[0].dgrams_sent, 300);
	cr_assert_gt(a[1].dgrams_sent, 300);
	mp_fini(&m);
}

/*
 * A path probe grows a 1-RTT ring that qb_conn_trim() shrank: with the
 * trimmed ring full of records not yet acknowledged, the next challenge
 * still goes out (it is sent on path 1 alone, so no send on the handshake
 * path grows the ring first).
 */
Test(conn_multipath, probe_grows_a_trimmed_ring)
{
	struct mp m;
	uint32_t id, why = 0;

	mp_init(&m, 511, true, true);
	cr_assert_eq(qb_conn_path_add(m.h.c, &id), 0);
	cr_assert(mp_run(&m, 10000 * H_MS, confirmed, NULL), "handshake");
	struct qb_conn *c = m.h.c;
	cr_assert(qb_conn_trim(c, m.h.now) > 0, "nothing trimmed");
	cr_assert_leq(c->rec.space[CONN_EP_APP].sent.mask + 1, CONN_SENT_IDLE);
	/* ACK-only packets the peer has not acknowledged yet fill the ring. */
	while (qb_recovery_can_send(&c->rec, QB_PN_APP)) {
		struct qb_sent_info info = {.pn = c->next_pn[CONN_EP_APP]++, .size = 50};
		cr_assert_eq(qb_recovery_on_packet_sent(&c->rec, QB_PN_APP, &info, m.h.now), 0);
	}
	uint32_t full = c->rec.space[CONN_EP_APP].sent.mask + 1;
	struct qb_conn_path_info pi;
	qb_conn_path_info(c, 1, &pi);
	cr_assert_eq(pi.state, QB_PATH_PROBING);
	int n = qb_conn_send(c, 1, m.h.buf, H_MTU - 28, m.h.now, &why);
	cr_assert_geq(n, QB_MIN_INITIAL_DGRAM, "no probe: %d, why %#x", n, why);
	qb_conn_path_info(c, 1, &pi);
	cr_assert_eq(pi.challenges_sent, 1);
	cr_assert_gt(c->rec.space[CONN_EP_APP].sent.mask + 1, full, "the ring did not grow");
	mp_fini(&m);
}

/* Peer CIDs of conn's peer claimed as a DCID (the handshake path's and one per path). */
static unsigned
peer_cids_used(const struct qb_conn *c)
{
	unsigned n = 0;
	for (size_t i = 0; i < QB_CID_PEER_MAX; i++)
		n += c->pcid.e[i].live && c->pcid.e[i].used;
	return n;
}

/*
 * RFC 9000 §9.3: anyone can send a datagram with our CID from any address.
 * Undecryptable datagrams on new path ids 2 and 3 (a 1-RTT header with the
 * server's CID and random bytes, and a truncated long header) open no path
 * and claim none of the peer's CIDs, although the server's driver tries to
 * send on every path id; the real second path still validates.
 */
Test(conn_multipath, junk_datagrams_take_no_path_and_no_cid)
{
	struct mp m;
	uint32_t id, why = 0;
	uint8_t junk[1200];

	mp_init(&m, 512, true, true);
	m.s_paths = QB_CONN_MAX_PATHS;
	cr_assert_eq(qb_conn_path_add(m.h.c, &id), 0);
	cr_assert(mp_run(&m, 10000 * H_MS, confirmed, NULL), "handshake");
	struct qb_conn *s = m.h.s;
	/* Path 1 (known to the server from the client's Initial copy) has
	 * nothing to send until the client's challenge comes: no CID for it yet
	 * (the client's spare CIDs did arrive). */
	cr_assert_geq(qb_cid_peer_unused(&s->pcid), 1);
	cr_assert_eq(peer_cids_used(s), 1, "the server claimed %u CIDs", peer_cids_used(s));
	size_t dl;
	const uint8_t *dcid = qb_conn_dcid(m.h.c, &dl); /* one of the server's CIDs */
	for (uint32_t k = 2; k < QB_CONN_MAX_PATHS; k++) {
		for (int rep = 0; rep < 3; rep++) {
			for (size_t i = 0; i < sizeof(junk); i++)
				junk[i] = (uint8_t)h_rand(&m.h);
			junk[0] = 0x40 | (junk[0] & 0x07);
			memcpy(junk + 1, dcid, dl);
			cr_assert_eq(qb_conn_recv(s, k, junk, sizeof(junk), m.h.now), 0);
		}
		junk[0] = 0xc0; /* a long header cut short */
		cr_assert_eq(qb_conn_recv(s, k, junk, 7, m.h.now), 0);
		cr_assert_eq(path_state(s, k), QB_PATH_UNKNOWN, "path %u", k);
		cr_assert_eq(qb_conn_send(s, k, m.h.buf, H_MTU - 28, m.h.now, &why), QB_ERR_ARG);
	}
	uint32_t want[2] = {1, QB_PATH_ACTIVE};
	cr_assert(mp_run(&m, 10000 * H_MS, path_is, want), "path 1 not validated: %d / %d",
	          path_state(m.h.c, 1), path_state(s, 1));
	for (uint32_t k = 2; k < QB_CONN_MAX_PATHS; k++)
		cr_assert_eq(path_state(s, k), QB_PATH_UNKNOWN, "path %u", k);
	cr_assert_eq(m.s_sent_no_link, 0);
	cr_assert_eq(peer_cids_used(s), 2, "the server claimed %u CIDs", peer_cids_used(s));
	cr_assert_eq(s->aead_failures, 6);
	mp_xfer(&m, 256u << 10, 30000 * H_MS);
	mp_fini(&m);
}

/*
 * RFC 9000 §5.1.2: a path whose validation failed gives its peer CID back:
 * RETIRE_CONNECTION_ID goes out (on the handshake path), the server
 * forgets it and issues another.
 */
Test(conn_multipath, failed_path_retires_its_cid)
{
	struct mp m;
	uint32_t id;

	mp_init(&m, 513, true, true);
	cr_assert_eq(qb_conn_path_add(m.h.c, &id), 0);
	cr_assert(mp_run(&m, 10000 * H_MS, confirmed, NULL), "handshake");
	mp_kill(&m, 1);
	cr_assert(mp_run(&m, 30000 * H_MS, client_path1_failed, NULL), "path 1: state %d",
	          path_state(m.h.c, 1));
	struct qb_conn *c = m.h.c;
	struct qb_conn_path_info ci;
	qb_conn_path_info(c, 1, &ci);
	cr_assert_geq(ci.challenges_sent, 1);
	cr_assert(!c->path[1].has_dcid, "the failed path still holds a peer CID");
	uint64_t seq = c->path[1].dcid_seq;
	cr_assert_geq(seq, 1);
	bool queued = false;
	for (size_t i = 0; i < QB_CID_RETIRE_MAX; i++)
		queued |= c->pcid.r[i].state != QB_CID_FRAME_NONE && c->pcid.r[i].seq == seq;
	cr_assert(queued, "no RETIRE_CONNECTION_ID for seq %lu", (unsigned long)seq);
	cr_assert_eq(peer_cids_used(c), 1);
	/* The frame reaches the server, which forgets the CID and issues another. */
	mp_xfer(&m, 64u << 10, 30000 * H_MS);
	cr_assert_null(qb_cid_local_get(qb_conn_local_cids(m.h.s), seq), "seq %lu still live",
	               (unsigned long)seq);
	cr_assert_geq(qb_cid_peer_unused(&c->pcid), 1, "no replacement CID");
	cr_assert_eq(qb_conn_state(c), QB_CONN_OPEN);
	mp_fini(&m);
}

static bool
server_path1_probing(struct mp *m, void *arg)
{
	(void)arg;
	struct qb_conn_path_info pi;
	return m->h.s != NULL && qb_conn_path_info(m->h.s, 1, &pi) == 0 && pi.challenges_sent >= 1;
}

static bool
server_path1_failed(struct mp *m, void *arg)
{
	(void)arg;
	return path_state(m->h.s, 1) == QB_PATH_FAILED;
}

/*
 * The server's validation of path 1 fails (the client's answers are lost,
 * §8.2.4); once the client's datagrams get through again, the first one
 * that opens takes the failed slot afresh and the path is validated anew.
 */
Test(conn_multipath, failed_server_path_slot_is_reused)
{
	struct mp m;
	uint32_t id;

	mp_init(&m, 514, true, true);
	cr_assert_eq(qb_conn_path_add(m.h.c, &id), 0);
	cr_assert(mp_run(&m, 10000 * H_MS, confirmed, NULL), "handshake");
	cr_assert(mp_run(&m, 10000 * H_MS, server_path1_probing, NULL), "no server challenge");
	struct qb_sim_dir_cfg dead = {.delay_ns = 10 * H_MS, .loss = 1.0};
	qb_sim_set_dir(m.link[1], QB_SIM_A_TO_B, &dead);
	cr_assert(mp_run(&m, 30000 * H_MS, server_path1_failed, NULL), "server path 1: %d",
	          path_state(m.h.s, 1));
	cr_assert(!m.h.s->path[1].has_dcid, "the failed path kept its CID");
	struct qb_sim_dir_cfg live = {.delay_ns = 10 * H_MS,
	                              .bandwidth = 100000000ull / 8,
	                              .queue_limit = (uint64_t)H_QUEUE * H_MTU};
	qb_sim_set_dir(m.link[1], QB_SIM_A_TO_B, &live);
	mp_xfer(&m, 1u << 20, 30000 * H_MS);
	uint32_t want[2] = {1, QB_PATH_ACTIVE};
	cr_assert(mp_run(&m, 10000 * H_MS, path_is, want), "path 1 not validated again: %d / %d",
	          path_state(m.h.c, 1), path_state(m.h.s, 1));
	struct qb_conn_path_info si;
	qb_conn_path_info(m.h.s, 1, &si);
	cr_assert_gt(si.dgrams_recv, 0);
	mp_fini(&m);
}

/*
 * Paths of unequal delay (10 and 25 ms) with seeded random loss, and the
 * data starts at once, while path 1 is still being validated; the client's
 * first PATH_CHALLENGE is lost. Its packet is recorded but never
 * acknowledged, and path 1 has no acknowledged packet of its own to judge
 * it against: it must still leave the sent ring (it is not in flight, so it
 * is judged against every path's acknowledgments, recovery.h), or the ring
 * fills behind it (here 64 records, a few ms of data) and the connection
 * can send nothing, not even the next challenge, with nothing in flight.
 */
Test(conn_multipath, lost_challenge_does_not_pin_the_sent_ring)
{
	for (uint64_t seed = 530; seed < 533; seed++) {
		struct mp m;
		uint32_t id;

		mp_init_sent(&m, seed, true, true, 64);
		for (int k = 0; k < NP; k++) {
			struct qb_sim_dir_cfg d = {.delay_ns = (k ? 25 : 10) * H_MS,
			                           .bandwidth = 100000000ull / 8,
			                           .queue_limit = (uint64_t)H_QUEUE * H_MTU,
			                           .loss = 0.005};
			qb_sim_set_dir(m.link[k], QB_SIM_A_TO_B, &d);
			qb_sim_set_dir(m.link[k], QB_SIM_B_TO_A, &d);
		}
		cr_assert_eq(qb_conn_path_add(m.h.c, &id), 0);
		cr_assert(mp_run(&m, 20000 * H_MS, confirmed, NULL), "handshake");
		m.drop_probe[0][1] = 1; /* the client's first PATH_CHALLENGE */
		uint64_t t0 = m.h.now;
		mp_xfer(&m, 2u << 20, 20000 * H_MS);
		struct qb_conn_path_info ci;
		qb_conn_path_info(m.h.c, 1, &ci);
		struct qb_conn_stats cs;
		qb_conn_stats(m.h.c, &cs);
		cr_log_info("seed %lu: 2 MB in %.3f s, lost %lu, path 1 state %d, dgrams %lu",
		            (unsigned long)seed, (double)(m.h.now - t0) / 1e9,
		            (unsigned long)cs.pkts_lost, (int)ci.state,
		            (unsigned long)ci.dgrams_sent);
		cr_assert_eq(m.drop_probe[0][1], 0, "the challenge was dropped");
		cr_assert_leq(m.h.c->rec.space[CONN_EP_APP].sent.mask + 1, 64);
		cr_assert_lt(m.h.now - t0, 5000 * H_MS, "seed %lu: 2 MB took %.3f s",
		             (unsigned long)seed, (double)(m.h.now - t0) / 1e9);
		uint32_t want[2] = {1, QB_PATH_ACTIVE};
		cr_assert(mp_run(&m, 10000 * H_MS, path_is, want), "path 1 not validated: %d / %d",
		          path_state(m.h.c, 1), path_state(m.h.s, 1));
		mp_fini(&m);
	}
}
