/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The stream API through the connection: RESET_STREAM and STOP_SENDING end
 * to end, what qb_conn_send() says when it cannot send, and the closing
 * state answering a peer that did not hear our CONNECTION_CLOSE.
 */
#include "harness.h"

static void
setup_pair(struct h_pair *p, uint64_t seed)
{
	h_init(p, seed);
	h_start(p);
	cr_assert(h_run(p, 10000 * H_MS, h_confirmed, NULL), "handshake");
}

struct reset_state {
	uint64_t id;
	uint64_t got;
	int rc;
	uint64_t code;
};

static bool
reset_seen(struct h_pair *p, void *arg)
{
	struct reset_state *r = arg;
	static uint8_t buf[65536];
	uint64_t id;
	unsigned ev;

	while (qb_conn_stream_next_event(p->s, &id, &ev)) {
		cr_assert_eq(id, r->id);
		for (;;) {
			int64_t n = qb_conn_stream_read(p->s, id, buf, sizeof(buf), NULL, &r->code,
			                                p->now);
			if (n < 0) {
				r->rc = (int)n;
				return true;
			}
			if (n == 0)
				break;
			r->got += (uint64_t)n;
		}
	}
	return false;
}

Test(conn_streams, reset_reaches_the_reader)
{
	struct h_pair p;
	static uint8_t data[100000];
	struct reset_state r = {0};

	setup_pair(&p, 300);
	cr_assert_eq(qb_conn_stream_open(p.c, true, &r.id), 0);
	cr_assert_eq(qb_conn_stream_write(p.c, r.id, data, sizeof(data), false), sizeof(data));
	/* Let part of it travel, then abandon the stream. */
	for (int i = 0; i < 5; i++)
		h_step(&p);
	cr_assert_eq(qb_conn_stream_reset(p.c, r.id, 7), 0);
	cr_assert(h_run(&p, 5000 * H_MS, reset_seen, &r), "reset not seen");
	cr_assert_eq(r.rc, QB_ERR_PROTO);
	cr_assert_eq(r.code, 7);
	cr_assert_leq(r.got, sizeof(data));
	h_fini(&p);
}

struct stop_state {
	uint64_t id;
	bool asked, stopped;
};

static bool
stop_seen(struct h_pair *p, void *arg)
{
	struct stop_state *s = arg;
	static uint8_t chunk[4096];
	uint64_t id;
	unsigned ev;

	while (!s->asked && qb_conn_stream_next_event(p->s, &id, &ev))
		if (ev & QB_STREAM_EV_READABLE) {
			cr_assert_eq(qb_conn_stream_stop_sending(p->s, id, 9), 0);
			s->asked = true;
		}
	while (qb_conn_stream_next_event(p->c, &id, &ev))
		if (ev & QB_STREAM_EV_STOPPED)
			s->stopped = true;
	if (!s->stopped)
		qb_conn_stream_write(p->c, s->id, chunk, sizeof(chunk), false);
	return s->stopped;
}

Test(conn_streams, stop_sending_stops_the_writer)
{
	struct h_pair p;
	struct stop_state s = {0};
	uint64_t code = 0;

	setup_pair(&p, 301);
	cr_assert_eq(qb_conn_stream_open(p.c, true, &s.id), 0);
	cr_assert(h_run(&p, 5000 * H_MS, stop_seen, &s), "STOP_SENDING not seen");
	cr_assert(qb_streams_stop_requested(qb_conn_streams(p.c), s.id, &code));
	cr_assert_eq(code, 9);
	h_fini(&p);
}

Test(conn_streams, send_says_why_it_stops)
{
	struct h_pair p;
	static uint8_t data[1 << 20];
	uint8_t d[H_MTU];
	uint32_t why = 0;
	uint64_t id;

	h_init(&p, 302);
	h_start(&p);
	/* No stream before the peer's transport parameters. */
	cr_assert_eq(qb_conn_stream_open(p.c, true, &id), QB_ERR_STATE);
	cr_assert(h_run(&p, 10000 * H_MS, h_confirmed, NULL));
	while (h_step(&p) && qb_conn_deadline(p.c) < p.now + 1000 * H_MS)
		; /* let the last ACKs settle */
	cr_assert_eq(qb_conn_stream_open(p.c, true, &id), 0);
	cr_assert_eq(qb_conn_stream_write(p.c, id, data, sizeof(data), true), sizeof(data));
	/* Without ACKs coming back, the congestion window runs out. */
	size_t sent = 0;
	int n;
	while ((n = qb_conn_send(p.c, 0, d, sizeof(d), p.now, &why)) > 0)
		sent += (size_t)n;
	cr_assert_eq(n, 0);
	cr_assert(why & (QB_WHY_CONGESTION | QB_WHY_PACING), "why %#x", why);
	struct qb_conn_stats st;
	qb_conn_stats(p.c, &st);
	cr_assert_lt(sent, sizeof(data));
	cr_assert_geq(st.bytes_in_flight, 1200);
	/* A closed connection says so. */
	qb_conn_close(p.c, 0, NULL, p.now);
	cr_assert_gt(qb_conn_send(p.c, 0, d, sizeof(d), p.now, &why), 0, "the CONNECTION_CLOSE");
	cr_assert_eq(qb_conn_send(p.c, 0, d, sizeof(d), p.now, &why), 0);
	cr_assert_eq(why, QB_WHY_CLOSED);
	h_fini(&p);
}

static int drops_left;

static bool
drop_n(void *ctx, uint8_t *d, size_t len)
{
	(void)ctx;
	(void)d;
	(void)len;
	if (drops_left > 0) {
		drops_left--;
		return true;
	}
	return false;
}

static bool
both_closed(struct h_pair *p, void *arg)
{
	(void)arg;
	return qb_conn_state(p->c) == QB_CONN_CLOSED && qb_conn_state(p->s) == QB_CONN_CLOSED;
}

Test(conn_streams, closing_resends_close_to_a_peer_that_missed_it)
{
	struct h_pair p;
	static uint8_t data[20000];
	uint64_t id;

	setup_pair(&p, 303);
	/* The server has data in flight so it keeps sending (and probing). */
	cr_assert_eq(qb_conn_stream_open(p.c, true, &id), 0);
	cr_assert_eq(qb_conn_stream_write(p.c, id, data, 10, false), 10);
	h_step(&p);
	cr_assert_eq(qb_conn_close(p.c, 3, "done", p.now), 0);
	drops_left = 1; /* the first CONNECTION_CLOSE is lost */
	p.to_s.drop_hook = drop_n;
	cr_assert(h_run(&p, 20000 * H_MS, both_closed, NULL), "client %d server %d",
	          qb_conn_state(p.c), qb_conn_state(p.s));
	struct qb_conn_close_info ci;
	qb_conn_close_info(p.s, &ci);
	cr_assert(ci.by_peer && !ci.idle, "the server heard the resent CLOSE");
	cr_assert_eq(ci.code, 3);
	h_fini(&p);
}
