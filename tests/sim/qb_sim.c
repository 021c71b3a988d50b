/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The deterministic simulated link (see qb_sim.h). One pool of datagram
 * buffers shared by both directions, and per direction a binary min-heap of
 * the datagrams in flight ordered by (arrival time, send order), so delivery
 * is deterministic even when arrival times tie.
 */
#include "qb_sim.h"

#include <stdlib.h>
#include <string.h>

#define QB_SIM_DEFAULT_POOL  4096
#define QB_SIM_DEFAULT_BUF   2048
#define QB_SIM_DEFAULT_STEPS 10000000ull
/* Datagrams one endpoint may send in one step before the driver moves on. */
#define QB_SIM_MAX_BURST     100000

struct qb_sim_slot {
	uint64_t arrival; /* ns */
	uint64_t order;   /* send order, breaks ties */
	uint32_t len;
	uint32_t next_free;
};

struct qb_sim_side {
	struct qb_sim_dir_cfg cfg;
	uint64_t rng[4];     /* xoshiro256** state, one stream per direction */
	uint64_t busy_until; /* ns at which the serialiser is free */
	uint64_t busy_rem;   /* remainder of busy_until, in units of 1/bandwidth ns */
	bool ge_bad;         /* Gilbert-Elliott state */
	uint32_t *heap;      /* slot indices */
	size_t heap_len;
	struct qb_sim_stats st;
};

struct qb_sim_link {
	struct qb_sim_cfg cfg;
	struct qb_sim_side side[2];
	struct qb_sim_slot *slots;
	uint8_t *bufs;
	uint32_t free_head; /* UINT32_MAX: empty */
	size_t n_free;
	uint64_t order;
	uint64_t now;
	uint64_t steps;
	uint8_t *scratch; /* buf_size bytes for qb_sim_run() */
};

/* splitmix64: expands the one seed into the generators' states. */
static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (public-domain algorithm by Blackman and Vigna). */
static uint64_t
rng_next(uint64_t s[4])
{
	uint64_t r = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

/* Uniform in [0, 1) with 53 random bits. */
static double
rng_unit(uint64_t s[4])
{
	return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* True with probability p. No draw is made when p is 0 (an impairment that is off costs nothing).
 */
static bool
chance(uint64_t s[4], double p)
{
	if (p <= 0)
		return false;
	return rng_unit(s) < p;
}

/* Uniform in [0, n), n > 0 (bias negligible for the sizes used here). */
static uint64_t
rng_below(uint64_t s[4], uint64_t n)
{
	return (uint64_t)(((unsigned __int128)rng_next(s) * n) >> 64);
}

static bool
prob_ok(double p)
{
	return p >= 0.0 && p <= 1.0;
}

static bool
dir_cfg_ok(const struct qb_sim_dir_cfg *d, size_t buf_size)
{
	return prob_ok(d->loss) && prob_ok(d->ge_p_good_bad) && prob_ok(d->ge_p_bad_good) &&
	       prob_ok(d->ge_loss_bad) && prob_ok(d->reorder) && prob_ok(d->dup) &&
	       prob_ok(d->corrupt) && d->mtu <= buf_size;
}

struct qb_sim_link *
qb_sim_create(const struct qb_sim_cfg *cfg)
{
	struct qb_sim_link *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->cfg = *cfg;
	if (l->cfg.pool_size == 0)
		l->cfg.pool_size = QB_SIM_DEFAULT_POOL;
	if (l->cfg.buf_size == 0)
		l->cfg.buf_size = QB_SIM_DEFAULT_BUF;
	if (l->cfg.max_steps == 0)
		l->cfg.max_steps = QB_SIM_DEFAULT_STEPS;
	size_t n = l->cfg.pool_size;
	if (n >= UINT32_MAX || l->cfg.buf_size > UINT32_MAX ||
	    !dir_cfg_ok(&cfg->dir[0], l->cfg.buf_size) ||
	    !dir_cfg_ok(&cfg->dir[1], l->cfg.buf_size)) {
		free(l);
		return NULL;
	}
	l->slots = calloc(n, sizeof(*l->slots));
	l->bufs = malloc(n * l->cfg.buf_size);
	l->scratch = malloc(l->cfg.buf_size);
	l->side[0].heap = calloc(n, sizeof(uint32_t));
	l->side[1].heap = calloc(n, sizeof(uint32_t));
	if (l->slots == NULL || l->bufs == NULL || l->scratch == NULL || l->side[0].heap == NULL ||
	    l->side[1].heap == NULL) {
		qb_sim_destroy(l);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		l->slots[i].next_free = i + 1 < n ? (uint32_t)(i + 1) : UINT32_MAX;
	l->free_head = 0;
	l->n_free = n;
	uint64_t x = cfg->seed;
	for (int d = 0; d < 2; d++) {
		l->side[d].cfg = cfg->dir[d];
		for (int i = 0; i < 4; i++)
			l->side[d].rng[i] = splitmix64(&x);
	}
	return l;
}

void
qb_sim_destroy(struct qb_sim_link *l)
{
	if (l == NULL)
		return;
	free(l->side[0].heap);
	free(l->side[1].heap);
	free(l->bufs);
	free(l->scratch);
	free(l->slots);
	free(l);
}

static uint8_t *
slot_buf(struct qb_sim_link *l, uint32_t i)
{
	return l->bufs + (size_t)i * l->cfg.buf_size;
}

static uint32_t
slot_get(struct qb_sim_link *l)
{
	uint32_t i = l->free_head;
	if (i == UINT32_MAX)
		return i;
	l->free_head = l->slots[i].next_free;
	l->n_free--;
	return i;
}

static void
slot_put(struct qb_sim_link *l, uint32_t i)
{
	l->slots[i].next_free = l->free_head;
	l->free_head = i;
	l->n_free++;
}

static bool
slot_before(const struct qb_sim_link *l, uint32_t a, uint32_t b)
{
	const struct qb_sim_slot *x = &l->slots[a], *y = &l->slots[b];
	return x->arrival < y->arrival || (x->arrival == y->arrival && x->order < y->order);
}

static void
heap_push(struct qb_sim_link *l, struct qb_sim_side *s, uint32_t slot)
{
	size_t i = s->heap_len++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!slot_before(l, slot, s->heap[p]))
			break;
		s->heap[i] = s->heap[p];
		i = p;
	}
	s->heap[i] = slot;
}

static uint32_t
heap_pop(struct qb_sim_link *l, struct qb_sim_side *s)
{
	uint32_t top = s->heap[0];
	uint32_t last = s->heap[--s->heap_len];
	size_t i = 0, n = s->heap_len;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && slot_before(l, s->heap[c + 1], s->heap[c]))
			c++;
		if (!slot_before(l, s->heap[c], last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (n > 0)
		s->heap[i] = last;
	return top;
}

static void
trace(struct qb_sim_link *l, enum qb_sim_dir dir, enum qb_sim_event ev, uint64_t t,
      const uint8_t *d, size_t len)
{
	if (l->cfg.trace != NULL)
		l->cfg.trace(l->cfg.trace_arg, dir, ev, t, d, len);
}

/* Bytes still waiting for (or in) the serialiser at now. */
static uint64_t
backlog_bytes(const struct qb_sim_side *s, uint64_t now)
{
	if (s->cfg.bandwidth == 0 || s->busy_until <= now)
		return 0;
	unsigned __int128 b = (unsigned __int128)(s->busy_until - now) * s->cfg.bandwidth;
	b /= 1000000000u;
	return b > UINT64_MAX ? UINT64_MAX : (uint64_t)b;
}

/*
 * Serialise len bytes starting no earlier than now; returns the time the last
 * bit leaves. busy_rem carries the fraction of a nanosecond (in units of
 * 1/bandwidth ns) so N bytes always take exactly N/bandwidth seconds, however
 * they are split into datagrams.
 */
static uint64_t
serialise(struct qb_sim_side *s, size_t len, uint64_t now)
{
	uint64_t bw = s->cfg.bandwidth;
	if (bw == 0)
		return now;
	if (s->busy_until <= now) {
		/* The link went idle: time resumes from now, no fraction carried. */
		s->busy_until = now;
		s->busy_rem = 0;
	}
	unsigned __int128 t = (unsigned __int128)len * 1000000000u + s->busy_rem;
	s->busy_until += (uint64_t)(t / bw);
	s->busy_rem = (uint64_t)(t % bw);
	return s->busy_until;
}

/* Steps the Gilbert-Elliott chain; true if this datagram is lost to it. */
static bool
ge_lost(struct qb_sim_side *s)
{
	const struct qb_sim_dir_cfg *c = &s->cfg;
	if (c->ge_p_good_bad <= 0 && !s->ge_bad)
		return false;
	if (s->ge_bad) {
		if (chance(s->rng, c->ge_p_bad_good))
			s->ge_bad = false;
	} else if (chance(s->rng, c->ge_p_good_bad)) {
		s->ge_bad = true;
	}
	return s->ge_bad && chance(s->rng, c->ge_loss_bad);
}

bool
qb_sim_send(struct qb_sim_link *l, enum qb_sim_dir dir, const uint8_t *dgram, size_t len,
            uint64_t now)
{
	struct qb_sim_side *s = &l->side[dir];
	const struct qb_sim_dir_cfg *c = &s->cfg;
	size_t mtu = c->mtu != 0 ? c->mtu : l->cfg.buf_size;

	s->st.sent++;
	s->st.sent_bytes += len;
	if (len > mtu) {
		s->st.mtu_drops++;
		trace(l, dir, QB_SIM_EV_MTU, now, dgram, len);
		return false;
	}
	if (c->queue_limit != 0 && backlog_bytes(s, now) + len > c->queue_limit) {
		s->st.queue_drops++;
		trace(l, dir, QB_SIM_EV_QUEUE, now, dgram, len);
		return false;
	}
	uint32_t slot = slot_get(l);
	if (slot == UINT32_MAX) {
		s->st.pool_drops++;
		trace(l, dir, QB_SIM_EV_POOL, now, dgram, len);
		return false;
	}
	uint64_t out = serialise(s, len, now);

	/* Loss on the wire, after the bottleneck. Both draws always happen. */
	bool lost = chance(s->rng, c->loss);
	bool burst = ge_lost(s);
	if (lost || burst) {
		if (lost) {
			s->st.lost++;
			trace(l, dir, QB_SIM_EV_LOSS, now, dgram, len);
		} else {
			s->st.burst_lost++;
			trace(l, dir, QB_SIM_EV_BURST, now, dgram, len);
		}
		slot_put(l, slot);
		return true;
	}

	struct qb_sim_slot *sl = &l->slots[slot];
	uint8_t *buf = slot_buf(l, slot);
	memcpy(buf, dgram, len);
	sl->len = (uint32_t)len;
	sl->arrival = out + c->delay_ns;
	sl->order = l->order++;
	if (chance(s->rng, c->reorder)) {
		sl->arrival += c->reorder_delay_ns;
		s->st.reordered++;
		trace(l, dir, QB_SIM_EV_REORDER, sl->arrival, buf, len);
	}
	bool dup = chance(s->rng, c->dup);
	if (len > 0 && chance(s->rng, c->corrupt)) {
		uint64_t byte = rng_below(s->rng, len);
		buf[byte] ^= (uint8_t)(1u << rng_below(s->rng, 8));
		s->st.corrupted++;
		trace(l, dir, QB_SIM_EV_CORRUPT, now, buf, len);
	}
	heap_push(l, s, slot);
	trace(l, dir, QB_SIM_EV_SEND, sl->arrival, buf, len);

	if (dup) {
		uint32_t d = slot_get(l);
		if (d == UINT32_MAX) {
			s->st.pool_drops++;
			trace(l, dir, QB_SIM_EV_POOL, now, dgram, len);
		} else {
			struct qb_sim_slot *ds = &l->slots[d];
			memcpy(slot_buf(l, d), dgram, len);
			ds->len = (uint32_t)len;
			ds->arrival = sl->arrival + 1;
			ds->order = l->order++;
			heap_push(l, s, d);
			s->st.dup++;
			trace(l, dir, QB_SIM_EV_DUP, ds->arrival, dgram, len);
		}
	}
	return true;
}

uint64_t
qb_sim_next_delivery_dir(const struct qb_sim_link *l, enum qb_sim_dir dir)
{
	const struct qb_sim_side *s = &l->side[dir];
	return s->heap_len == 0 ? UINT64_MAX : l->slots[s->heap[0]].arrival;
}

uint64_t
qb_sim_next_delivery(const struct qb_sim_link *l)
{
	uint64_t a = qb_sim_next_delivery_dir(l, QB_SIM_A_TO_B);
	uint64_t b = qb_sim_next_delivery_dir(l, QB_SIM_B_TO_A);
	return a < b ? a : b;
}

size_t
qb_sim_recv(struct qb_sim_link *l, enum qb_sim_dir dir, uint64_t now, uint8_t *out, size_t cap)
{
	struct qb_sim_side *s = &l->side[dir];
	if (s->heap_len == 0 || l->slots[s->heap[0]].arrival > now)
		return 0;
	uint32_t slot = heap_pop(l, s);
	size_t len = l->slots[slot].len;
	if (len > cap)
		len = cap;
	memcpy(out, slot_buf(l, slot), len);
	s->st.delivered++;
	s->st.delivered_bytes += len;
	trace(l, dir, QB_SIM_EV_DELIVER, now, out, len);
	slot_put(l, slot);
	return len;
}

const struct qb_sim_stats *
qb_sim_stats(const struct qb_sim_link *l, enum qb_sim_dir dir)
{
	return &l->side[dir].st;
}

void
qb_sim_set_dir(struct qb_sim_link *l, enum qb_sim_dir dir, const struct qb_sim_dir_cfg *dcfg)
{
	l->side[dir].cfg = *dcfg;
	if (l->side[dir].cfg.mtu > l->cfg.buf_size)
		l->side[dir].cfg.mtu = l->cfg.buf_size;
}

size_t
qb_sim_in_flight(const struct qb_sim_link *l)
{
	return l->side[0].heap_len + l->side[1].heap_len;
}

uint64_t
qb_sim_now(const struct qb_sim_link *l)
{
	return l->now;
}

uint64_t
qb_sim_steps(const struct qb_sim_link *l)
{
	return l->steps;
}

static uint64_t
ep_deadline(const struct qb_sim_endpoint *e)
{
	return e->deadline != NULL ? e->deadline(e->arg) : UINT64_MAX;
}

/* Polls e to send until it has nothing more, each datagram into dir. */
static void
ep_drain(struct qb_sim_link *l, const struct qb_sim_endpoint *e, enum qb_sim_dir dir, uint8_t *buf)
{
	if (e->send == NULL)
		return;
	for (int i = 0; i < QB_SIM_MAX_BURST; i++) {
		int n = e->send(e->arg, buf, l->cfg.buf_size, l->now);
		if (n <= 0)
			return;
		qb_sim_send(l, dir, buf, (size_t)n, l->now);
	}
}

uint64_t
qb_sim_run(struct qb_sim_link *l, const struct qb_sim_endpoint *a, const struct qb_sim_endpoint *b,
           uint64_t until_ns, bool (*stop)(void *, uint64_t), void *stop_arg)
{
	/* One scratch buffer for both ways: the callbacks copy what they keep. */
	uint8_t *buf = l->scratch;
	while (l->steps < l->cfg.max_steps) {
		l->steps++;
		size_t n;
		while ((n = qb_sim_recv(l, QB_SIM_A_TO_B, l->now, buf, l->cfg.buf_size)) > 0)
			if (b->recv != NULL)
				b->recv(b->arg, buf, n, l->now);
		while ((n = qb_sim_recv(l, QB_SIM_B_TO_A, l->now, buf, l->cfg.buf_size)) > 0)
			if (a->recv != NULL)
				a->recv(a->arg, buf, n, l->now);
		if (a->on_timeout != NULL && ep_deadline(a) <= l->now)
			a->on_timeout(a->arg, l->now);
		if (b->on_timeout != NULL && ep_deadline(b) <= l->now)
			b->on_timeout(b->arg, l->now);
		ep_drain(l, a, QB_SIM_A_TO_B, buf);
		ep_drain(l, b, QB_SIM_B_TO_A, buf);
		if (stop != NULL && stop(stop_arg, l->now))
			break;
		uint64_t next = qb_sim_next_delivery(l);
		uint64_t da = ep_deadline(a), db = ep_deadline(b);
		if (da < next)
			next = da;
		if (db < next)
			next = db;
		if (next >= until_ns) {
			/* Nothing more before the horizon: stop there. */
			if (until_ns > l->now)
				l->now = until_ns;
			break;
		}
		/*
		 * A deadline already in the past (an endpoint that did not move
		 * its timer) leaves the clock where it is; max_steps bounds that.
		 */
		if (next > l->now)
			l->now = next;
	}
	return l->now;
}
