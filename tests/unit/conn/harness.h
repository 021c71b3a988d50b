/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_TEST_CONN_HARNESS_H
#define QB_TEST_CONN_HARNESS_H

/*
 * A client and a server connection in one process on a fake clock, joined
 * by the deterministic simulated link of tests/sim (delay, bandwidth, random
 * and burst loss, reordering, duplication, corruption, a drop-tail queue;
 * seeded). Every step jumps the clock to the next event: a datagram arrival
 * or a connection deadline.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "qburst/conn.h"
#include "qburst/packet.h"
#include "qburst/stream.h"
#include "qburst/tls.h"
#include "qb_sim.h"

#define H_MTU   1500
#define H_QUEUE 4096 /* datagrams the bottleneck may hold */
#define H_MS    1000000ull
#define H_ALPN  "hq-interop"

/*
 * One direction's impairments, applied to the qb_sim link at every step
 * (tests change them between phases). to_s is A->B (client to server).
 */
struct h_link {
	uint64_t delay; /* one way, ns */
	uint64_t bps;   /* bits per second; 0: infinite */
	double loss;    /* random loss probability */
	uint32_t burst_every,
	        burst_len; /* bad states of ~burst_len datagrams, one per ~burst_every */
	double burst_loss; /* loss probability in the bad state (0: 1.0) */
	uint64_t jitter;   /* reorder: 30% of datagrams get `jitter` ns extra */
	double dup;        /* duplication probability */
	double corrupt;    /* probability of one flipped bit */
	enum qb_sim_dir dir;
	bool (*drop_hook)(void *ctx, uint8_t *d, size_t len); /* test filter, may modify */
	void *hook_ctx;
};

struct h_pair {
	struct qb_tls_ctx *ctx_c, *ctx_s;
	struct qb_stream_pools pool_c, pool_s;
	struct qb_conn_config cfg_c, cfg_s;
	struct qb_conn *c, *s;
	struct h_link to_s, to_c;
	struct qb_sim_link *sim;
	uint64_t now;
	uint64_t rng;
	unsigned burst; /* 0: qb_conn_send; else bursts of this many (qb_conn_burst_*) */
	uint8_t buf[H_MTU];
};

static inline uint64_t
h_rand(struct h_pair *p)
{
	uint64_t z = (p->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline struct qb_tls_ctx *
h_ctx(enum qb_tls_role role)
{
	static const char *const alpn[] = {H_ALPN};
	struct qb_tls_ctx_config cfg = {
	        .role = role,
	        .alpn = alpn,
	        .alpn_count = 1,
	        .selfsigned_name = "localhost",
	};
	char err[256] = "";
	struct qb_tls_ctx *ctx = qb_tls_ctx_new(&cfg, err, sizeof(err));
	cr_assert_not_null(ctx, "qb_tls_ctx_new: %s", err);
	return ctx;
}

/* Sets up both configs and links; the caller may tune them, then h_start(). */
static inline void
h_init(struct h_pair *p, uint64_t seed)
{
	memset(p, 0, sizeof(*p));
	p->rng = seed;
	p->now = 1000 * H_MS;
	p->ctx_c = h_ctx(QB_TLS_CLIENT);
	p->ctx_s = h_ctx(QB_TLS_SERVER);
	cr_assert_eq(qb_stream_pools_init(&p->pool_c, 4096, 8192, 4096), 0);
	cr_assert_eq(qb_stream_pools_init(&p->pool_s, 4096, 8192, 4096), 0);
	p->cfg_c = (struct qb_conn_config){
	        .tls = p->ctx_c, .pools = &p->pool_c, .server_name = "localhost", .seed = seed};
	p->cfg_s = (struct qb_conn_config){.tls = p->ctx_s, .pools = &p->pool_s, .seed = seed + 1};
	p->cfg_c.send_buffer_max = p->cfg_s.send_buffer_max = 4u << 20;
	p->to_s.dir = QB_SIM_A_TO_B;
	p->to_c.dir = QB_SIM_B_TO_A;
	struct h_link *l[2] = {&p->to_s, &p->to_c};
	for (int i = 0; i < 2; i++) {
		l[i]->delay = 10 * H_MS;
		l[i]->bps = 100000000ull;
	}
	struct qb_sim_cfg sc = {.seed = seed, .pool_size = 2 * H_QUEUE + 64, .buf_size = 2048};
	p->sim = qb_sim_create(&sc);
	cr_assert_not_null(p->sim);
}

/* The h_link settings in the sim's terms. */
static inline void
h_apply(struct h_pair *p, const struct h_link *l)
{
	struct qb_sim_dir_cfg d = {
	        .delay_ns = l->delay,
	        .bandwidth = l->bps / 8,
	        .queue_limit = (uint64_t)H_QUEUE * H_MTU,
	        .loss = l->loss,
	        .reorder = l->jitter ? 0.3 : 0,
	        .reorder_delay_ns = l->jitter,
	        .dup = l->dup,
	        .corrupt = l->corrupt,
	};
	if (l->burst_every) {
		/* Gilbert-Elliott: enter a bad state once per ~burst_every datagrams and
		 * stay ~burst_len datagrams, losing burst_loss of them. The chain
		 * steps per datagram, not per second: a long bad state also eats
		 * the exponentially spaced PTO probes of a stalled sender. */
		d.ge_p_good_bad = 1.0 / l->burst_every;
		d.ge_p_bad_good = 1.0 / l->burst_len;
		d.ge_loss_bad = l->burst_loss > 0 ? l->burst_loss : 1.0;
	}
	qb_sim_set_dir(p->sim, l->dir, &d);
}

static inline void
h_start(struct h_pair *p)
{
	p->c = qb_conn_client_new(&p->cfg_c, p->now);
	cr_assert_not_null(p->c);
}

static inline void
h_fini(struct h_pair *p)
{
	qb_conn_free(p->c);
	qb_conn_free(p->s);
	/* Every chunk and stream went back to the pools. */
	cr_expect_eq(p->pool_c.chunks.in_use, 0, "client chunks leaked: %u",
	             p->pool_c.chunks.in_use);
	cr_expect_eq(p->pool_s.chunks.in_use, 0, "server chunks leaked: %u",
	             p->pool_s.chunks.in_use);
	qb_stream_pools_fini(&p->pool_c);
	qb_stream_pools_fini(&p->pool_s);
	qb_tls_ctx_free(p->ctx_c);
	qb_tls_ctx_free(p->ctx_s);
	qb_sim_destroy(p->sim);
}

/* Datagrams a direction lost (random and burst). */
static inline uint64_t
h_lost(struct h_pair *p, const struct h_link *l)
{
	const struct qb_sim_stats *st = qb_sim_stats(p->sim, l->dir);
	return st->lost + st->burst_lost;
}

static inline void
h_put(struct h_pair *p, struct h_link *l, const uint8_t *d, size_t len)
{
	qb_sim_send(p->sim, l->dir, d, len, p->now);
}

/* Sends everything c has to send now into link l. */
static inline void
h_flush(struct h_pair *p, struct qb_conn *c, struct h_link *l)
{
	uint32_t why;
	int n;

	if (c == NULL)
		return;
	for (int i = 0; i < 100000; i++) {
		if (p->burst != 0) {
			/* As qb_burst_tx drives it: each datagram's cap is the
			 * size of the one before, and a shorter one ends it. */
			struct qb_conn_burst b;
			size_t cap = H_MTU - 28;
			unsigned k;

			qb_conn_burst_begin(&b, c, 0, p->burst, p->now);
			for (k = 0; k < p->burst; k++) {
				if (cap < QB_MIN_INITIAL_DGRAM)
					break; /* after a short first one (the engine's fill) */
				n = qb_conn_burst_send(&b, p->buf, cap, &why);
				cr_assert_geq(n, 0, "qb_conn_burst_send: %d", n);
				cr_assert_leq((size_t)n, cap);
				if (n == 0)
					break;
				h_put(p, l, p->buf, (size_t)n);
				if (k > 0 && (size_t)n < cap) {
					k++;
					break;
				}
				cap = (size_t)n;
			}
			qb_conn_burst_end(&b);
			if (k == 0)
				return;
			continue;
		}
		n = qb_conn_send(c, 0, p->buf, H_MTU - 28, p->now, &why);
		cr_assert_geq(n, 0, "qb_conn_send: %d", n);
		if (n == 0)
			return;
		h_put(p, l, p->buf, (size_t)n);
	}
	cr_assert_fail("send loop did not end");
}

static inline void
h_deliver(struct h_pair *p, struct h_link *l, bool to_server)
{
	uint8_t d[2048];
	size_t len;

	while ((len = qb_sim_recv(p->sim, l->dir, p->now, d, sizeof(d))) > 0) {
		if (l->drop_hook != NULL && l->drop_hook(l->hook_ctx, d, len))
			continue;
		if (to_server && p->s == NULL && len >= 1200) {
			p->s = qb_conn_server_new(&p->cfg_s, d, len, p->now);
			cr_assert_not_null(p->s);
		}
		struct qb_conn *c = to_server ? p->s : p->c;
		if (c != NULL && qb_conn_state(c) != QB_CONN_CLOSED)
			qb_conn_recv(c, 0, d, len, p->now);
	}
}

static inline uint64_t
h_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* One event: advance the clock, deliver, fire timers, send. false: nothing left. */
static inline bool
h_step(struct h_pair *p)
{
	h_apply(p, &p->to_s);
	h_apply(p, &p->to_c);
	h_flush(p, p->c, &p->to_s);
	h_flush(p, p->s, &p->to_c);
	uint64_t t = qb_sim_next_delivery(p->sim);
	if (p->c)
		t = h_min(t, qb_conn_deadline(p->c));
	if (p->s)
		t = h_min(t, qb_conn_deadline(p->s));
	if (t == UINT64_MAX)
		return false;
	if (t > p->now)
		p->now = t;
	h_deliver(p, &p->to_s, true);
	h_deliver(p, &p->to_c, false);
	if (p->c && qb_conn_deadline(p->c) <= p->now)
		qb_conn_on_timeout(p->c, p->now);
	if (p->s && qb_conn_deadline(p->s) <= p->now)
		qb_conn_on_timeout(p->s, p->now);
	return true;
}

/* Runs until done(p) or the fake clock passes limit_ns from now. */
static inline bool
h_run(struct h_pair *p, uint64_t limit_ns, bool (*done)(struct h_pair *, void *), void *arg)
{
	uint64_t end = p->now + limit_ns;
	for (long i = 0; i < 20000000 && p->now < end; i++) {
		if (done != NULL && done(p, arg))
			return true;
		if (!h_step(p))
			return done != NULL && done(p, arg);
	}
	return done != NULL && done(p, arg);
}

static inline bool
h_confirmed(struct h_pair *p, void *arg)
{
	(void)arg;
	return p->s != NULL && qb_conn_handshake_confirmed(p->c) &&
	       qb_conn_handshake_confirmed(p->s);
}

#endif
