/* SPDX-License-Identifier: BSD-3-Clause */
/* The simulated link: every impairment measured against its configuration. */
#include <criterion/criterion.h>
#include <string.h>

#include "qb_sim.h"

#define MS 1000000ull
#define S  1000000000ull

static struct qb_sim_link *
mk(const struct qb_sim_dir_cfg *ab, uint64_t seed)
{
	struct qb_sim_cfg cfg = {.seed = seed, .pool_size = 1 << 16};
	if (ab != NULL)
		cfg.dir[QB_SIM_A_TO_B] = *ab;
	struct qb_sim_link *l = qb_sim_create(&cfg);
	cr_assert_not_null(l);
	return l;
}

/* A datagram of len bytes carrying seq in its first 4 bytes and a pattern after. */
static void
fill(uint8_t *b, size_t len, uint32_t seq)
{
	/* Every byte depends on all of seq, so a flipped seq bit changes the pattern. */
	uint64_t h = ((uint64_t)seq + 1) * 0x9e3779b97f4a7c15ull;
	h ^= h >> 29;
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)((h >> ((i & 7) * 8)) + i);
	if (len >= 4)
		memcpy(b, &seq, 4);
}

static uint32_t
seq_of(const uint8_t *b)
{
	uint32_t s;
	memcpy(&s, b, 4);
	return s;
}

/* Drains everything due by now in A->B; calls fn per datagram. */
static size_t
drain(struct qb_sim_link *l, uint64_t now, void (*fn)(void *, const uint8_t *, size_t), void *arg)
{
	uint8_t buf[2048];
	size_t n, count = 0;
	while ((n = qb_sim_recv(l, QB_SIM_A_TO_B, now, buf, sizeof(buf))) > 0) {
		count++;
		if (fn != NULL)
			fn(arg, buf, n);
	}
	return count;
}

/* ---- determinism ---- */

struct hash {
	uint64_t h;
	uint64_t events;
};

static void
hash_bytes(struct hash *h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h->h = (h->h ^ b[i]) * 0x100000001b3ull;
}

static void
trace_hash(void *arg, enum qb_sim_dir dir, enum qb_sim_event ev, uint64_t t, const uint8_t *d,
           size_t len)
{
	struct hash *h = arg;
	uint32_t hdr[2] = {dir, ev};
	hash_bytes(h, hdr, sizeof(hdr));
	hash_bytes(h, &t, sizeof(t));
	hash_bytes(h, &len, sizeof(len));
	hash_bytes(h, d, len);
	h->events++;
}

static uint64_t
run_trace(uint64_t seed, uint64_t *events)
{
	struct hash h = {.h = 0xcbf29ce484222325ull};
	struct qb_sim_cfg cfg = {
	        .seed = seed,
	        .pool_size = 512,
	        .trace = trace_hash,
	        .trace_arg = &h,
	};
	struct qb_sim_dir_cfg d = {
	        .delay_ns = 7 * MS,
	        .bandwidth = 10000000,
	        .queue_limit = 60000,
	        .loss = 0.05,
	        .ge_p_good_bad = 0.01,
	        .ge_p_bad_good = 0.3,
	        .ge_loss_bad = 0.8,
	        .reorder = 0.05,
	        .reorder_delay_ns = 3 * MS,
	        .dup = 0.03,
	        .corrupt = 0.03,
	        .mtu = 1400,
	};
	cfg.dir[0] = d;
	cfg.dir[1] = d;
	struct qb_sim_link *l = qb_sim_create(&cfg);
	cr_assert_not_null(l);
	uint8_t b[1500], out[1500];
	for (uint32_t i = 0; i < 20000; i++) {
		uint64_t now = (uint64_t)i * 50000;
		size_t len = 100 + (i * 37) % 1350;
		fill(b, len, i);
		qb_sim_send(l, i % 3 == 0 ? QB_SIM_B_TO_A : QB_SIM_A_TO_B, b, len, now);
		while (qb_sim_recv(l, QB_SIM_A_TO_B, now, out, sizeof(out)) > 0)
			;
		while (qb_sim_recv(l, QB_SIM_B_TO_A, now, out, sizeof(out)) > 0)
			;
	}
	*events = h.events;
	qb_sim_destroy(l);
	return h.h;
}

Test(sim, determinism)
{
	uint64_t e1, e2, e3;
	uint64_t h1 = run_trace(42, &e1);
	uint64_t h2 = run_trace(42, &e2);
	uint64_t h3 = run_trace(43, &e3);
	cr_assert_gt(e1, 20000);
	cr_assert_eq(e1, e2);
	cr_assert_eq(h1, h2, "same seed, different traces");
	cr_assert_neq(h1, h3, "different seeds, same trace");
}

/* ---- random loss ---- */

Test(sim, loss_rate)
{
	struct qb_sim_dir_cfg d = {.loss = 0.1, .delay_ns = MS};
	struct qb_sim_link *l = mk(&d, 1);
	uint8_t b[100];
	const uint64_t n = 100000;
	for (uint64_t i = 0; i < n; i++) {
		fill(b, sizeof(b), (uint32_t)i);
		cr_assert(qb_sim_send(l, QB_SIM_A_TO_B, b, sizeof(b), i * 1000));
		drain(l, i * 1000, NULL, NULL);
	}
	drain(l, UINT64_MAX - 1, NULL, NULL);
	const struct qb_sim_stats *st = qb_sim_stats(l, QB_SIM_A_TO_B);
	double rate = (double)st->lost / (double)n;
	/* sigma = sqrt(0.09 / 1e5) ~ 0.00095: 0.005 is over 5 sigma. */
	cr_assert(rate > 0.095 && rate < 0.105, "loss rate %f", rate);
	cr_assert_eq(st->sent, n);
	cr_assert_eq(st->delivered + st->lost, n);
	cr_assert_eq(st->burst_lost, 0);
	cr_assert_eq(qb_sim_stats(l, QB_SIM_B_TO_A)->sent, 0);
	qb_sim_destroy(l);
}

/* ---- burst loss ---- */

struct runs {
	uint32_t expect;
	uint64_t runs, lost, max_run;
};

static void
count_runs(void *arg, const uint8_t *b, size_t len)
{
	struct runs *r = arg;
	(void)len;
	uint32_t s = seq_of(b);
	cr_assert_geq(s, r->expect, "no reordering configured");
	uint64_t gap = s - r->expect;
	if (gap > 0) {
		r->runs++;
		r->lost += gap;
		if (gap > r->max_run)
			r->max_run = gap;
	}
	r->expect = s + 1;
}

static struct runs
loss_runs(const struct qb_sim_dir_cfg *d)
{
	struct qb_sim_link *l = mk(d, 7);
	struct runs r = {0};
	uint8_t b[64];
	for (uint32_t i = 0; i < 100000; i++) {
		fill(b, sizeof(b), i);
		qb_sim_send(l, QB_SIM_A_TO_B, b, sizeof(b), (uint64_t)i * 1000);
		drain(l, (uint64_t)i * 1000, count_runs, &r);
	}
	drain(l, UINT64_MAX - 1, count_runs, &r);
	const struct qb_sim_stats *st = qb_sim_stats(l, QB_SIM_A_TO_B);
	/* Losses at the very end leave no gap behind them; allow for that. */
	cr_assert_leq(r.lost, st->lost + st->burst_lost);
	cr_assert_geq(r.lost + 200, st->lost + st->burst_lost);
	qb_sim_destroy(l);
	return r;
}

Test(sim, burst_loss_runs)
{
	/* Bad state 1/(1+20) of the time, mean stay 1/0.2 = 5 datagrams, all lost. */
	struct qb_sim_dir_cfg ge = {.ge_p_good_bad = 0.01, .ge_p_bad_good = 0.2, .ge_loss_bad = 1};
	struct runs b = loss_runs(&ge);
	double frac = (double)b.lost / 100000.0;
	cr_assert(frac > 0.035 && frac < 0.062, "burst loss fraction %f", frac);
	double mean = (double)b.lost / (double)b.runs;
	cr_assert(mean > 4.0 && mean < 6.0, "mean burst length %f", mean);
	cr_assert_geq(b.max_run, 15);

	/* The same loss rate at random gives runs barely above 1. */
	struct qb_sim_dir_cfg rnd = {.loss = frac};
	struct runs r = loss_runs(&rnd);
	double rmean = (double)r.lost / (double)r.runs;
	cr_assert(rmean < 1.2, "random loss mean run %f", rmean);
	cr_assert_lt(r.max_run, 8);
}

/* ---- bandwidth and delay ---- */

Test(sim, bandwidth_exact)
{
	/* 1 MB/s, 1000 x 1000 B at t=0: the last one arrives after exactly 1 s + delay. */
	struct qb_sim_dir_cfg d = {.bandwidth = 1000000, .delay_ns = 5 * MS};
	struct qb_sim_link *l = mk(&d, 1);
	uint8_t b[1000] = {0};
	for (int i = 0; i < 1000; i++)
		cr_assert(qb_sim_send(l, QB_SIM_A_TO_B, b, sizeof(b), 0));
	/* The first after 1 ms of serialisation. */
	cr_assert_eq(qb_sim_next_delivery(l), 1 * MS + 5 * MS);
	cr_assert_eq(drain(l, S + 5 * MS - 1, NULL, NULL), 999);
	cr_assert_eq(drain(l, S + 5 * MS, NULL, NULL), 1);
	qb_sim_destroy(l);

	/*
	 * A rate that does not divide: 1234-byte datagrams at 3,000,007 B/s.
	 * The carried remainder keeps the total exact: floor(N * 1e9 / bw).
	 */
	struct qb_sim_dir_cfg o = {.bandwidth = 3000007};
	l = mk(&o, 1);
	uint8_t c[1234] = {0};
	const uint64_t n = 5000;
	for (uint64_t i = 0; i < n; i++)
		cr_assert(qb_sim_send(l, QB_SIM_A_TO_B, c, sizeof(c), 0));
	uint64_t last = 0;
	uint8_t out[2048];
	for (;;) {
		uint64_t t = qb_sim_next_delivery(l);
		if (t == UINT64_MAX)
			break;
		cr_assert_geq(t, last);
		last = t;
		cr_assert_eq(qb_sim_recv(l, QB_SIM_A_TO_B, t, out, sizeof(out)), sizeof(c));
	}
	uint64_t want = (uint64_t)((unsigned __int128)(n * sizeof(c)) * S / 3000007);
	cr_assert_eq(last, want, "last arrival %lu, want %lu", last, want);
	qb_sim_destroy(l);
}

Test(sim, bandwidth_idle_gap)
{
	/* After the link went idle, serialisation starts from the new send time. */
	struct qb_sim_dir_cfg d = {.bandwidth = 1000000};
	struct qb_sim_link *l = mk(&d, 1);
	uint8_t b[500] = {0};
	cr_assert(qb_sim_send(l, QB_SIM_A_TO_B, b, sizeof(b), 0));
	cr_assert_eq(qb_sim_next_delivery(l), 500000);
	cr_assert_eq(drain(l, 500000, NULL, NULL), 1);
	cr_assert(qb_sim_send(l, QB_SIM_A_TO_B, b, sizeof(b), 10 * MS));
	cr_assert_eq(qb_sim_next_delivery(l), 10 * MS + 500000);
	qb_sim_destroy(l);
}

Test(sim, delay_exact)
{
	struct qb_sim_dir_cfg d = {.delay_ns = 25 * MS};
	struct qb_sim_cfg cfg = {.seed = 3};
	cfg.dir[QB_SIM_A_TO_B] = d;
	cfg.dir[QB_SIM_B_TO_A].delay_ns = 40 * MS;
	struct qb_sim_link *l = qb_sim_create(&cfg);
	cr_assert_not_null(l);
	uint8_t b[10], out[10];
	fill(b, sizeof(b), 9);
	cr_assert_eq(qb_sim_next_delivery(l), UINT64_MAX);
	cr_assert(qb_sim_send(l, QB_SIM_A_TO_B, b, sizeof(b), 1234));
	cr_assert(qb_sim_send(l, QB_SIM_B_TO_A, b, sizeof(b), 1234));
	cr_assert_eq(qb_sim_in_flight(l), 2);
	cr_assert_eq(qb_sim_next_delivery(l), 1234 + 25 * MS);
	cr_assert_eq(qb_sim_next_delivery_dir(l, QB_SIM_B_TO_A), 1234 + 40 * MS);
	cr_assert_eq(qb_sim_recv(l, QB_SIM_A_TO_B, 1233 + 25 * MS, out, sizeof(out)), 0);
	cr_assert_eq(qb_sim_recv(l, QB_SIM_B_TO_A, 1234 + 25 * MS, out, sizeof(out)), 0);
	cr_assert_eq(qb_sim_recv(l, QB_SIM_A_TO_B, 1234 + 25 * MS, out, sizeof(out)), 10);
	cr_assert_arr_eq(out, b, 10);
	cr_assert_eq(qb_sim_recv(l, QB_SIM_B_TO_A, 1234 + 40 * MS, out, sizeof(out)), 10);
	cr_assert_eq(qb_sim_in_flight(l), 0);
	/* Truncation to the caller's capacity. */
	cr_assert(qb_sim_send(l, QB_SIM_A_TO_B, b, sizeof(b), 0));
	cr_assert_eq(qb_sim_recv(l, QB_SIM_A_TO_B, S, out, 4), 4);
	qb_sim_destroy(l);
}

/* ---- reordering ---- */

struct order {
	uint32_t max_seen;
	uint64_t out_of_order, count;
	bool any;
};

static void
check_order(void *arg, const uint8_t *b, size_t len)
{
	struct order *o = arg;
	(void)len;
	uint32_t s = seq_of(b);
	if (o->any && s < o->max_seen)
		o->out_of_order++;
	if (!o->any || s > o->max_seen)
		o->max_seen = s;
	o->any = true;
	o->count++;
}

Test(sim, reorder)
{
	struct qb_sim_dir_cfg d = {.delay_ns = 10 * MS, .reorder = 0.1, .reorder_delay_ns = 2 * MS};
	struct qb_sim_link *l = mk(&d, 11);
	struct order o = {0};
	uint8_t b[64];
	const uint32_t n = 20000;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t now = (uint64_t)i * 100000; /* every 100 us */
		fill(b, sizeof(b), i);
		qb_sim_send(l, QB_SIM_A_TO_B, b, sizeof(b), now);
		drain(l, now, check_order, &o);
	}
	drain(l, UINT64_MAX - 1, check_order, &o);
	const struct qb_sim_stats *st = qb_sim_stats(l, QB_SIM_A_TO_B);
	cr_assert_eq(o.count, n, "reordering loses nothing");
	cr_assert(st->reordered > 1700 && st->reordered < 2300, "reordered %lu", st->reordered);
	/* A delayed datagram is overtaken by the next 20; it arrives out of order. */
	cr_assert_geq(o.out_of_order, st->reordered * 9 / 10);
	cr_assert_leq(o.out_of_order, st->reordered);
	qb_sim_destroy(l);

	/* Without reordering, none. */
	struct qb_sim_dir_cfg z = {.delay_ns = 10 * MS};
	l = mk(&z, 11);
	struct order p = {0};
	for (uint32_t i = 0; i < 1000; i++) {
		fill(b, sizeof(b), i);
		qb_sim_send(l, QB_SIM_A_TO_B, b, sizeof(b), (uint64_t)i * 1000);
	}
	drain(l, UINT64_MAX - 1, check_order, &p);
	cr_assert_eq(p.out_of_order, 0);
	cr_assert_eq(p.count, 1000);
	qb_sim_destroy(l);
}

/* ---- duplication and corruption ---- */

struct dupc {
	uint64_t count, corrupt, dups;
	uint32_t last;
	bool any;
};

static void
check_dup_corrupt(void *arg, const uint8_t *b, size_t len)
{
	struct dupc *c = arg;
	uint8_t want[256];
	/* seq is in the first 4 bytes, but those can be the corrupted ones. */
	uint32_t s = seq_of(b);
	fill(want, len, s);
	int bits = 0;
	for (size_t i = 0; i < len; i++)
		bits += __builtin_popcount(want[i] ^ b[i]);
	if (bits != 0) {
		/* The flipped bit may be in the sequence number: find it from the pattern. */
		c->corrupt++;
		if (bits != 1) {
			uint32_t exp = c->last + 1;
			fill(want, len, exp);
			bits = 0;
			for (size_t i = 0; i < len; i++)
				bits += __builtin_popcount(want[i] ^ b[i]);
			cr_assert_eq(bits, 1, "exactly one bit flipped");
			s = exp;
		}
	}
	if (c->any && s == c->last)
		c->dups++;
	c->last = s;
	c->any = true;
	c->count++;
}

Test(sim, duplication_and_corruption)
{
	struct qb_sim_dir_cfg d = {.delay_ns = MS, .dup = 0.05, .corrupt = 0.05};
	struct qb_sim_link *l = mk(&d, 5);
	struct dupc c = {0};
	uint8_t b[200];
	const uint32_t n = 50000;
	for (uint32_t i = 0; i < n; i++) {
		fill(b, sizeof(b), i);
		/* Spaced more than the delay apart: deliveries come in send order. */
		qb_sim_send(l, QB_SIM_A_TO_B, b, sizeof(b), (uint64_t)i * 2 * MS);
		drain(l, (uint64_t)i * 2 * MS + MS + 1, check_dup_corrupt, &c);
	}
	const struct qb_sim_stats *st = qb_sim_stats(l, QB_SIM_A_TO_B);
	cr_assert_eq(c.count, n + st->dup);
	cr_assert_eq(st->delivered, n + st->dup);
	cr_assert_eq(c.dups, st->dup);
	cr_assert_eq(c.corrupt, st->corrupted);
	cr_assert(st->dup > 2200 && st->dup < 2800, "dup %lu", st->dup);
	cr_assert(st->corrupted > 2200 && st->corrupted < 2800, "corrupted %lu", st->corrupted);
	qb_sim_destroy(l);
}

/* ---- MTU, queue, pool ---- */

Test(sim, mtu_drop)
{
	struct qb_sim_dir_cfg d = {.mtu = 1200};
	struct qb_sim_link *l = mk(&d, 1);
	uint8_t b[1500] = {0};
	cr_assert(qb_sim_send(l, QB_SIM_A_TO_B, b, 1200, 0));
	cr_assert_not(qb_sim_send(l, QB_SIM_A_TO_B, b, 1201, 0));
	cr_assert_eq(qb_sim_stats(l, QB_SIM_A_TO_B)->mtu_drops, 1);
	cr_assert_eq(drain(l, 0, NULL, NULL), 1);
	/* B->A has no MTU set: the pool's buffer size (2048) bounds it. */
	cr_assert(qb_sim_send(l, QB_SIM_B_TO_A, b, 1500, 0));
	qb_sim_destroy(l);

	/* An MTU above the buffer size is refused. */
	struct qb_sim_cfg bad = {.buf_size = 1000};
	bad.dir[0].mtu = 1001;
	cr_assert_null(qb_sim_create(&bad));
	struct qb_sim_cfg badp = {0};
	badp.dir[1].loss = 1.5;
	cr_assert_null(qb_sim_create(&badp));
}

Test(sim, queue_tail_drop)
{
	/* 1 MB/s, a 10,000-byte queue: 10 of 20 back-to-back 1000 B datagrams fit. */
	struct qb_sim_dir_cfg d = {.bandwidth = 1000000, .queue_limit = 10000};
	struct qb_sim_link *l = mk(&d, 1);
	uint8_t b[1000] = {0};
	int ok = 0;
	for (int i = 0; i < 20; i++)
		ok += qb_sim_send(l, QB_SIM_A_TO_B, b, sizeof(b), 0);
	cr_assert_eq(ok, 10);
	cr_assert_eq(qb_sim_stats(l, QB_SIM_A_TO_B)->queue_drops, 10);
	/* 5 ms later 5000 bytes have left: room for 5 more. */
	ok = 0;
	for (int i = 0; i < 10; i++)
		ok += qb_sim_send(l, QB_SIM_A_TO_B, b, sizeof(b), 5 * MS);
	cr_assert_eq(ok, 5);
	cr_assert_eq(qb_sim_stats(l, QB_SIM_A_TO_B)->queue_drops, 15);
	cr_assert_eq(drain(l, UINT64_MAX - 1, NULL, NULL), 15);
	cr_assert_eq(qb_sim_stats(l, QB_SIM_A_TO_B)->delivered_bytes, 15000);
	qb_sim_destroy(l);
}

Test(sim, pool_exhaustion)
{
	struct qb_sim_cfg cfg = {.seed = 1, .pool_size = 8};
	cfg.dir[0].delay_ns = MS;
	cfg.dir[1].delay_ns = MS;
	struct qb_sim_link *l = qb_sim_create(&cfg);
	cr_assert_not_null(l);
	uint8_t b[100] = {0};
	int ok = 0;
	for (int i = 0; i < 20; i++)
		ok += qb_sim_send(l, i % 2 ? QB_SIM_B_TO_A : QB_SIM_A_TO_B, b, sizeof(b), 0);
	cr_assert_eq(ok, 8, "the pool is shared by both directions");
	cr_assert_eq(qb_sim_stats(l, QB_SIM_A_TO_B)->pool_drops +
	                     qb_sim_stats(l, QB_SIM_B_TO_A)->pool_drops,
	             12);
	cr_assert_eq(qb_sim_in_flight(l), 8);
	uint8_t out[100];
	int got = 0;
	while (qb_sim_recv(l, QB_SIM_A_TO_B, MS, out, sizeof(out)) > 0)
		got++;
	while (qb_sim_recv(l, QB_SIM_B_TO_A, MS, out, sizeof(out)) > 0)
		got++;
	cr_assert_eq(got, 8);
	/* Buffers came back: the link works again. */
	for (int i = 0; i < 8; i++)
		cr_assert(qb_sim_send(l, QB_SIM_A_TO_B, b, sizeof(b), 2 * MS));
	cr_assert_not(qb_sim_send(l, QB_SIM_A_TO_B, b, sizeof(b), 2 * MS));
	qb_sim_destroy(l);

	/* A duplicate that finds no buffer is counted as a pool drop, the original goes. */
	struct qb_sim_cfg c1 = {.seed = 1, .pool_size = 1};
	c1.dir[0].dup = 1.0;
	l = qb_sim_create(&c1);
	cr_assert_not_null(l);
	cr_assert(qb_sim_send(l, QB_SIM_A_TO_B, b, sizeof(b), 0));
	cr_assert_eq(qb_sim_stats(l, QB_SIM_A_TO_B)->pool_drops, 1);
	cr_assert_eq(qb_sim_stats(l, QB_SIM_A_TO_B)->dup, 0);
	cr_assert_eq(qb_sim_in_flight(l), 1);
	qb_sim_destroy(l);
}

/* ---- the driver ---- */

/* A pings n times, one at a time; B echoes; A's timer fires a retransmit. */
struct pinger {
	int to_send, got, timeouts;
	uint64_t deadline, last_rx;
	bool pending;
};

static int
ping_send(void *arg, uint8_t *buf, size_t cap, uint64_t now)
{
	struct pinger *p = arg;
	(void)now;
	if (!p->pending || cap < 8)
		return 0;
	p->pending = false;
	memset(buf, 0xab, 8);
	p->deadline = now + 100 * MS; /* give up on this ping after 100 ms */
	return 8;
}

static void
ping_recv(void *arg, const uint8_t *buf, size_t len, uint64_t now)
{
	struct pinger *p = arg;
	cr_assert_eq(len, 8);
	cr_assert_eq(buf[0], 0xab);
	p->got++;
	p->last_rx = now;
	p->deadline = UINT64_MAX;
	if (--p->to_send > 0)
		p->pending = true;
}

static uint64_t
ping_deadline(void *arg)
{
	return ((struct pinger *)arg)->deadline;
}

static void
ping_timeout(void *arg, uint64_t now)
{
	struct pinger *p = arg;
	(void)now;
	p->timeouts++;
	p->deadline = UINT64_MAX;
	p->pending = true; /* send it again */
}

struct echo {
	uint8_t buf[16];
	size_t len;
	int n;
};

static int
echo_send(void *arg, uint8_t *buf, size_t cap, uint64_t now)
{
	struct echo *e = arg;
	(void)now;
	if (e->len == 0 || cap < e->len)
		return 0;
	memcpy(buf, e->buf, e->len);
	int n = (int)e->len;
	e->len = 0;
	return n;
}

static void
echo_recv(void *arg, const uint8_t *buf, size_t len, uint64_t now)
{
	struct echo *e = arg;
	(void)now;
	cr_assert_leq(len, sizeof(e->buf));
	memcpy(e->buf, buf, len);
	e->len = len;
	e->n++;
}

static bool
ping_done(void *arg, uint64_t now)
{
	(void)now;
	return ((struct pinger *)arg)->to_send == 0;
}

Test(sim, run_ping_pong)
{
	struct qb_sim_cfg cfg = {.seed = 1};
	cfg.dir[0].delay_ns = 10 * MS;
	cfg.dir[1].delay_ns = 15 * MS;
	struct qb_sim_link *l = qb_sim_create(&cfg);
	cr_assert_not_null(l);
	struct pinger p = {.to_send = 10, .deadline = UINT64_MAX, .pending = true};
	struct echo e = {0};
	struct qb_sim_endpoint a = {&p, ping_send, ping_recv, ping_deadline, ping_timeout};
	struct qb_sim_endpoint b = {&e, echo_send, echo_recv, NULL, NULL};
	uint64_t t = qb_sim_run(l, &a, &b, 10 * S, ping_done, &p);
	/* Ten round trips of 25 ms, no time lost between them. */
	cr_assert_eq(t, 250 * MS);
	cr_assert_eq(p.got, 10);
	cr_assert_eq(e.n, 10);
	cr_assert_eq(p.timeouts, 0);
	cr_assert_eq(qb_sim_now(l), t);
	qb_sim_destroy(l);
}

Test(sim, run_timeouts_and_horizon)
{
	/* Everything A sends is lost: only A's 100 ms timer moves the clock. */
	struct qb_sim_cfg cfg = {.seed = 1};
	cfg.dir[0].loss = 1.0;
	struct qb_sim_link *l = qb_sim_create(&cfg);
	cr_assert_not_null(l);
	struct pinger p = {.to_send = 1, .deadline = UINT64_MAX, .pending = true};
	struct echo e = {0};
	struct qb_sim_endpoint a = {&p, ping_send, ping_recv, ping_deadline, ping_timeout};
	struct qb_sim_endpoint b = {&e, echo_send, echo_recv, NULL, NULL};
	uint64_t t = qb_sim_run(l, &a, &b, 1050 * MS, ping_done, &p);
	cr_assert_eq(t, 1050 * MS, "the run stops at the horizon");
	cr_assert_eq(p.timeouts, 10, "timers at 100, 200, ... 1000 ms");
	cr_assert_eq(qb_sim_stats(l, QB_SIM_A_TO_B)->sent, 11);
	cr_assert_eq(qb_sim_stats(l, QB_SIM_A_TO_B)->lost, 11);
	cr_assert_eq(e.n, 0);
	/* The run resumes from where it stopped. */
	t = qb_sim_run(l, &a, &b, 1250 * MS, NULL, NULL);
	cr_assert_eq(t, 1250 * MS);
	cr_assert_eq(p.timeouts, 12);
	qb_sim_destroy(l);
}

/* An endpoint whose deadline never moves: the step bound ends the run. */
static uint64_t
stuck_deadline(void *arg)
{
	(void)arg;
	return 0;
}

static void
stuck_timeout(void *arg, uint64_t now)
{
	(void)now;
	(*(int *)arg)++;
}

Test(sim, run_step_bound)
{
	struct qb_sim_cfg cfg = {.seed = 1, .max_steps = 1000};
	struct qb_sim_link *l = qb_sim_create(&cfg);
	cr_assert_not_null(l);
	int fired = 0;
	struct qb_sim_endpoint a = {&fired, NULL, NULL, stuck_deadline, stuck_timeout};
	struct qb_sim_endpoint b = {0};
	uint64_t t = qb_sim_run(l, &a, &b, S, NULL, NULL);
	cr_assert_eq(t, 0);
	cr_assert_eq(qb_sim_steps(l), 1000);
	cr_assert_eq(fired, 1000);
	qb_sim_destroy(l);
}

/*
 * A stop-and-wait transfer through a bad link, driven by qb_sim_run(): the
 * sender numbers its messages and retransmits on a 50 ms timer, the receiver
 * acknowledges each and checks a CRC-like sum, so loss, duplication,
 * reordering and corruption in both directions are all survived.
 */
struct arq {
	uint32_t next;  /* sender: message being sent; receiver: next expected */
	uint32_t total; /* sender: messages to send */
	uint64_t deadline;
	bool want_send;
	uint32_t ack_pending; /* receiver: ack to send, 0: none */
	uint32_t delivered;   /* receiver: messages accepted in order */
	uint64_t rejected;    /* receiver: corrupted ones dropped */
};

static uint32_t
sum32(const uint8_t *b, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static int
arq_tx_send(void *arg, uint8_t *buf, size_t cap, uint64_t now)
{
	struct arq *s = arg;
	if (!s->want_send || s->next >= s->total || cap < 300)
		return 0;
	s->want_send = false;
	s->deadline = now + 50 * MS;
	fill(buf + 4, 296, s->next);
	uint32_t h = sum32(buf + 4, 296);
	memcpy(buf, &h, 4);
	return 300;
}

static void
arq_tx_recv(void *arg, const uint8_t *buf, size_t len, uint64_t now)
{
	struct arq *s = arg;
	(void)now;
	if (len != 8 || sum32(buf + 4, 4) != seq_of(buf))
		return; /* a corrupted ack */
	if (seq_of(buf + 4) == s->next + 1) {
		s->next++;
		s->want_send = true;
		s->deadline = UINT64_MAX;
	}
}

static uint64_t
arq_deadline(void *arg)
{
	return ((struct arq *)arg)->deadline;
}

static void
arq_tx_timeout(void *arg, uint64_t now)
{
	struct arq *s = arg;
	(void)now;
	s->want_send = true;
	s->deadline = UINT64_MAX;
}

static void
arq_rx_recv(void *arg, const uint8_t *buf, size_t len, uint64_t now)
{
	struct arq *r = arg;
	(void)now;
	if (len != 300 || sum32(buf + 4, 296) != seq_of(buf)) {
		r->rejected++;
		return;
	}
	uint32_t seq = seq_of(buf + 4);
	if (seq == r->next) {
		r->next++;
		r->delivered++;
	}
	r->ack_pending = r->next; /* cumulative: acks duplicates too */
}

static int
arq_rx_send(void *arg, uint8_t *buf, size_t cap, uint64_t now)
{
	struct arq *r = arg;
	(void)now;
	if (r->ack_pending == 0 || cap < 8)
		return 0;
	memcpy(buf + 4, &r->ack_pending, 4);
	uint32_t h = sum32(buf + 4, 4);
	memcpy(buf, &h, 4);
	r->ack_pending = 0;
	return 8;
}

static bool
arq_done(void *arg, uint64_t now)
{
	(void)now;
	struct arq *s = arg;
	return s->next >= s->total;
}

static uint64_t
arq_run(uint64_t seed, struct arq *rx_out)
{
	struct qb_sim_dir_cfg d = {
	        .delay_ns = 10 * MS,
	        .bandwidth = 1000000,
	        .loss = 0.2,
	        .ge_p_good_bad = 0.02,
	        .ge_p_bad_good = 0.3,
	        .ge_loss_bad = 1,
	        .reorder = 0.1,
	        .reorder_delay_ns = 5 * MS,
	        .dup = 0.1,
	        .corrupt = 0.1,
	};
	struct qb_sim_cfg cfg = {.seed = seed, .dir = {d, d}};
	struct qb_sim_link *l = qb_sim_create(&cfg);
	cr_assert_not_null(l);
	struct arq tx = {.total = 300, .deadline = UINT64_MAX, .want_send = true};
	struct arq rx = {.deadline = UINT64_MAX};
	struct qb_sim_endpoint a = {&tx, arq_tx_send, arq_tx_recv, arq_deadline, arq_tx_timeout};
	struct qb_sim_endpoint b = {&rx, arq_rx_send, arq_rx_recv, arq_deadline, NULL};
	uint64_t t = qb_sim_run(l, &a, &b, 3600 * S, arq_done, &tx);
	cr_assert_eq(tx.next, 300, "all acknowledged");
	cr_assert_eq(rx.delivered, 300, "all delivered, in order, once");
	const struct qb_sim_stats *ab = qb_sim_stats(l, QB_SIM_A_TO_B);
	cr_assert_gt(ab->lost, 0);
	cr_assert_gt(ab->burst_lost, 0);
	cr_assert_gt(ab->dup, 0);
	cr_assert_gt(ab->reordered, 0);
	cr_assert_gt(ab->corrupted, 0);
	cr_assert_gt(rx.rejected, 0, "corruption reached the receiver");
	*rx_out = rx;
	qb_sim_destroy(l);
	return t;
}

Test(sim, run_lossy_transfer)
{
	struct arq r1, r2, r3;
	uint64_t t1 = arq_run(77, &r1);
	uint64_t t2 = arq_run(77, &r2);
	uint64_t t3 = arq_run(78, &r3);
	cr_assert_eq(t1, t2, "same seed, same finishing time");
	cr_assert_eq(r1.rejected, r2.rejected);
	cr_assert_neq(t1, t3);
	/* 300 round trips of >= 20.3 ms each, more with the retransmissions. */
	cr_assert_gt(t1, 300 * 20 * MS);
}
