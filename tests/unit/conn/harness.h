/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_TEST_CONN_HARNESS_H
#define QB_TEST_CONN_HARNESS_H

/*
 * A client and a server connection in one process on a fake clock, joined
 * by a small deterministic link per direction (one-way delay, bandwidth,
 * random and burst loss from a seeded PRNG, a drop-tail queue). Every step
 * jumps the clock to the next event: a datagram arrival or a connection
 * deadline.
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

#define H_MTU   1500
#define H_QUEUE 4096
#define H_MS    1000000ull
#define H_ALPN  "hq-interop"

struct h_dgram {
	uint64_t at; /* arrival time */
	uint16_t len;
	uint8_t data[H_MTU];
};

struct h_link {
	struct h_dgram *q; /* ring of H_QUEUE */
	uint32_t head, n;
	uint64_t delay;                              /* one way, ns */
	uint64_t bps;                                /* bits per second; 0: infinite */
	uint64_t busy_until;                         /* serialisation */
	double loss;                                 /* random loss probability */
	uint32_t burst_every, burst_len, burst_left; /* burst loss: burst_len in a row */
	uint64_t jitter;                             /* extra random delay 0..jitter ns: reorders */
	double dup;                                  /* duplication probability */
	double corrupt;                              /* probability of one flipped byte */
	uint64_t sent, lost, dropped;
	bool (*drop_hook)(void *ctx, uint8_t *d, size_t len); /* test filter, may modify */
	void *hook_ctx;
};

struct h_pair {
	struct qb_tls_ctx *ctx_c, *ctx_s;
	struct qb_stream_pools pool_c, pool_s;
	struct qb_conn_config cfg_c, cfg_s;
	struct qb_conn *c, *s;
	struct h_link to_s, to_c;
	uint64_t now;
	uint64_t rng;
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
	struct h_link *l[2] = {&p->to_s, &p->to_c};
	for (int i = 0; i < 2; i++) {
		l[i]->q = calloc(H_QUEUE, sizeof(struct h_dgram));
		cr_assert_not_null(l[i]->q);
		l[i]->delay = 10 * H_MS;
		l[i]->bps = 100000000ull;
	}
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
	free(p->to_s.q);
	free(p->to_c.q);
}

static inline double h_unit(struct h_pair *p);

static inline bool
h_lose(struct h_pair *p, struct h_link *l)
{
	if (l->burst_left > 0) {
		l->burst_left--;
		return true;
	}
	if (l->burst_every && h_rand(p) % l->burst_every == 0) {
		l->burst_left = l->burst_len - 1;
		return true;
	}
	return l->loss > 0 && h_unit(p) < l->loss;
}

static inline double
h_unit(struct h_pair *p)
{
	return (double)(h_rand(p) >> 11) / 9007199254740992.0;
}

static inline void
h_enqueue(struct h_pair *p, struct h_link *l, const uint8_t *d, size_t len, uint64_t at)
{
	if (l->n == H_QUEUE) {
		l->dropped++;
		return;
	}
	/* Kept sorted by arrival time: jitter reorders. */
	uint32_t i = l->n++;
	while (i > 0 && l->q[(l->head + i - 1) % H_QUEUE].at > at) {
		l->q[(l->head + i) % H_QUEUE] = l->q[(l->head + i - 1) % H_QUEUE];
		i--;
	}
	struct h_dgram *g = &l->q[(l->head + i) % H_QUEUE];
	g->at = at;
	g->len = (uint16_t)len;
	memcpy(g->data, d, len);
	if (l->corrupt > 0 && h_unit(p) < l->corrupt)
		g->data[h_rand(p) % len] ^= (uint8_t)(1u << (h_rand(p) % 8));
}

static inline void
h_put(struct h_pair *p, struct h_link *l, const uint8_t *d, size_t len)
{
	l->sent++;
	if (h_lose(p, l)) {
		l->lost++;
		return;
	}
	uint64_t start = l->busy_until > p->now ? l->busy_until : p->now;
	uint64_t tx = l->bps ? (uint64_t)len * 8 * 1000000000ull / l->bps : 0;
	l->busy_until = start + tx;
	uint64_t at = start + tx + l->delay;
	if (l->jitter)
		at += h_rand(p) % l->jitter;
	h_enqueue(p, l, d, len, at);
	if (l->dup > 0 && h_unit(p) < l->dup)
		h_enqueue(p, l, d, len, at + (l->jitter ? h_rand(p) % l->jitter : 0));
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
	while (l->n > 0 && l->q[l->head].at <= p->now) {
		struct h_dgram *g = &l->q[l->head];
		bool drop = l->drop_hook != NULL && l->drop_hook(l->hook_ctx, g->data, g->len);
		if (!drop) {
			if (to_server && p->s == NULL && g->len >= 1200) {
				p->s = qb_conn_server_new(&p->cfg_s, g->data, g->len, p->now);
				cr_assert_not_null(p->s);
			}
			struct qb_conn *c = to_server ? p->s : p->c;
			if (c != NULL && qb_conn_state(c) != QB_CONN_CLOSED)
				qb_conn_recv(c, 0, g->data, g->len, p->now);
		}
		l->head = (l->head + 1) % H_QUEUE;
		l->n--;
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
	h_flush(p, p->c, &p->to_s);
	h_flush(p, p->s, &p->to_c);
	uint64_t t = UINT64_MAX;
	if (p->to_s.n)
		t = h_min(t, p->to_s.q[p->to_s.head].at);
	if (p->to_c.n)
		t = h_min(t, p->to_c.q[p->to_c.head].at);
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
