/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_TEST_CONN_XFER_H
#define QB_TEST_CONN_XFER_H

/*
 * Bulk transfers over the harness: the client writes a known pattern on
 * one or more bidirectional streams, the server reads and checks every byte
 * (position-dependent pattern, so a reordered or misplaced byte is caught).
 */

#include "harness.h"

#define X_MAX_STREAMS 1024

struct x_stream {
	uint64_t id;
	uint64_t written, received;
	bool fin_sent, fin_recv;
};

struct xfer {
	uint64_t size; /* bytes per stream */
	uint32_t nstreams;
	bool nocheck; /* bench: constant data, only lengths checked */
	uint32_t opened, finished;
	uint64_t bad; /* bytes that differ from the pattern */
	uint64_t total_recv;
	struct x_stream st[X_MAX_STREAMS];
};

static inline uint8_t
x_byte(uint64_t id, uint64_t off)
{
	uint64_t x = off * 0x9e3779b1u + id * 0x85ebca6bu;
	return (uint8_t)(x ^ (x >> 13) ^ (off >> 8));
}

static inline struct x_stream *
x_find(struct xfer *x, uint64_t id)
{
	for (uint32_t i = 0; i < x->opened; i++)
		if (x->st[i].id == id)
			return &x->st[i];
	return NULL;
}

static inline void
x_write(struct h_pair *p, struct xfer *x)
{
	static uint8_t chunk[16384];
	static uint64_t chunk_id = UINT64_MAX, chunk_off, chunk_len;

	while (x->opened < x->nstreams) {
		uint64_t id;
		if (qb_conn_stream_open(p->c, true, &id) != 0)
			break;
		x->st[x->opened++] = (struct x_stream){.id = id};
	}
	for (uint32_t i = 0; i < x->opened; i++) {
		struct x_stream *s = &x->st[i];
		while (!s->fin_sent) {
			uint64_t left = x->size - s->written;
			size_t n = left < sizeof(chunk) ? (size_t)left : sizeof(chunk);
			/* The pattern is made once per position, not per attempt. */
			if (!x->nocheck &&
			    (chunk_id != s->id || chunk_off != s->written || chunk_len != n)) {
				for (size_t k = 0; k < n; k++)
					chunk[k] = x_byte(s->id, s->written + k);
				chunk_id = s->id;
				chunk_off = s->written;
				chunk_len = n;
			}
			int64_t w = qb_conn_stream_write(p->c, s->id, chunk, n, n == left);
			if (w <= 0 && n > 0)
				break;
			s->written += (uint64_t)w;
			if (s->written == x->size && (size_t)w == n)
				s->fin_sent = true;
			if ((size_t)w < n)
				break;
		}
	}
}

static inline void
x_read(struct h_pair *p, struct xfer *x)
{
	static uint8_t buf[65536];
	uint64_t id;
	unsigned ev;

	if (p->s == NULL)
		return;
	while (qb_conn_stream_next_event(p->s, &id, &ev)) {
		if (!(ev & QB_STREAM_EV_READABLE))
			continue;
		struct x_stream *s = x_find(x, id);
		cr_assert_not_null(s, "data on unknown stream %lu", (unsigned long)id);
		for (;;) {
			bool fin = false;
			int64_t n =
			        qb_conn_stream_read(p->s, id, buf, sizeof(buf), &fin, NULL, p->now);
			if (n < 0)
				break;
			for (int64_t k = 0; k < n && !x->nocheck; k++)
				if (buf[k] != x_byte(id, s->received + (uint64_t)k))
					x->bad++;
			s->received += (uint64_t)n;
			x->total_recv += (uint64_t)n;
			if (fin) {
				s->fin_recv = true;
				x->finished++;
				break;
			}
			if (n == 0)
				break;
		}
	}
}

static inline bool
x_step(struct h_pair *p, void *arg)
{
	struct xfer *x = arg;
	if (p->s == NULL || !qb_conn_handshake_complete(p->c))
		return false;
	x_write(p, x);
	x_read(p, x);
	return x->finished == x->nstreams;
}

/* Runs a transfer of size bytes on each of n streams; asserts it arrived exact. */
static inline void
x_run(struct h_pair *p, struct xfer *x, uint64_t size, uint32_t n, uint64_t limit_ns)
{
	bool nocheck = x->nocheck;
	memset(x, 0, sizeof(*x));
	x->nocheck = nocheck;
	x->size = size;
	x->nstreams = n;
	bool ok = h_run(p, limit_ns, x_step, x);
	if (!ok) {
		struct qb_conn_stats a, b;
		struct qb_conn_close_info ca, cb;
		qb_conn_stats(p->c, &a);
		qb_conn_stats(p->s, &b);
		qb_conn_close_info(p->c, &ca);
		qb_conn_close_info(p->s, &cb);
		cr_log_info(
		        "stuck at %lu ms: client state %d (code %#lx %s idle %d) dl %lu inflight %lu cwnd %lu; server state %d (code %#lx %s) dl %lu",
		        (unsigned long)(p->now / H_MS), qb_conn_state(p->c), (unsigned long)ca.code,
		        ca.reason, ca.idle, (unsigned long)qb_conn_deadline(p->c),
		        (unsigned long)a.bytes_in_flight, (unsigned long)a.cwnd,
		        qb_conn_state(p->s), (unsigned long)cb.code, cb.reason,
		        (unsigned long)qb_conn_deadline(p->s));
	}
	cr_assert(ok, "transfer incomplete: %u/%u streams, %lu bytes received", x->finished, n,
	          (unsigned long)x->total_recv);
	cr_assert_eq(x->bad, 0, "%lu bytes differ", (unsigned long)x->bad);
	for (uint32_t i = 0; i < n; i++)
		cr_assert_eq(x->st[i].received, size, "stream %u: %lu bytes", i,
		             (unsigned long)x->st[i].received);
}

#endif
