/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Two stream managers over a simulated lossy, reordering, duplicating link
 * with small flow-control windows: data arrives byte-exact, resets and
 * STOP_SENDING complete, and every stream and chunk is freed at the end.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "qburst/error.h"
#include "qburst/stream.h"

#define FT_RESET_STREAM     0x04
#define FT_STOP_SENDING     0x05
#define FT_MAX_DATA         0x10
#define FT_MAX_STREAM_DATA  0x11
#define FT_MAX_STREAMS_BIDI 0x12
#define FT_MAX_STREAMS_UNI  0x13

#define NSTREAMS   12
#define STREAM_LEN 40000
#define MAX_ITEMS  2048
#define MAX_FRAME  1200

static uint64_t rng_state;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static uint64_t
rnd(uint64_t n)
{
	return n == 0 ? 0 : rng() % n;
}

static uint8_t
pattern(uint64_t id, uint64_t off)
{
	return (uint8_t)(off * 7 + id * 13 + (off >> 10));
}

/* A frame in flight: the copy of a stream span or a control frame. */
struct item {
	bool used, is_data, to_server;
	uint64_t due;
	int fate; /* 0 delivered, 1 lost, 2 delivered but declared lost, 3 duplicated */
	struct qb_send_span sp;
	struct qb_ctrl_frame f;
	uint8_t data[MAX_FRAME];
};

static struct item items[MAX_ITEMS];
static struct qb_stream_pools pools;

struct side {
	struct qb_streams *m;
	bool server;
};

static struct item *
slot(void)
{
	for (int i = 0; i < MAX_ITEMS; i++)
		if (!items[i].used)
			return &items[i];
	return NULL;
}

static void
launch(struct item *it, bool to_server, uint64_t now, int loss_pct)
{
	uint64_t r = rnd(100);

	it->used = true;
	it->to_server = to_server;
	it->due = now + 1 + rnd(8); /* reordering by random delay */
	it->fate = r < (uint64_t)loss_pct ? 1 : r < (uint64_t)loss_pct + 3 ? 2 : r < 98 ? 0 : 3;
}

static void
send_side(struct side *a, uint64_t now, int budget, int loss_pct)
{
	struct item *it;
	struct qb_ctrl_frame f;
	struct qb_send_span sp;

	while ((it = slot()) != NULL && qb_streams_ctrl_peek(a->m, &f)) {
		qb_streams_ctrl_sent(a->m, &f);
		it->is_data = false;
		it->f = f;
		launch(it, !a->server, now, loss_pct);
	}
	while (budget-- > 0 && (it = slot()) != NULL &&
	       qb_streams_send_peek(a->m, 1 + rnd(MAX_FRAME), &sp)) {
		/* Sometimes the packet has less room than offered. */
		if (sp.len > 1 && rnd(4) == 0) {
			sp.len /= 2;
			sp.fin = false; /* the FIN goes with the last byte */
		}
		qb_streams_send_commit(a->m, &sp);
		it->is_data = true;
		it->sp = sp;
		if (sp.len > 0)
			memcpy(it->data, sp.data, sp.len);
		it->sp.data = it->data;
		launch(it, !a->server, now, loss_pct);
	}
}

static void
apply(struct qb_streams *b, struct item *it)
{
	uint64_t terr = 0;
	int rc = 0;

	if (it->is_data) {
		rc = qb_streams_on_stream(b, it->sp.stream_id, it->sp.offset, it->sp.data,
		                          it->sp.len, it->sp.fin, &terr);
	} else {
		const struct qb_ctrl_frame *f = &it->f;
		switch (f->type) {
		case FT_MAX_DATA:
			rc = qb_streams_on_max_data(b, f->value);
			break;
		case FT_MAX_STREAM_DATA:
			rc = qb_streams_on_max_stream_data(b, f->stream_id, f->value, &terr);
			break;
		case FT_MAX_STREAMS_BIDI:
		case FT_MAX_STREAMS_UNI:
			rc = qb_streams_on_max_streams(b, f->type == FT_MAX_STREAMS_BIDI, f->value,
			                               &terr);
			break;
		case FT_RESET_STREAM:
			rc = qb_streams_on_reset_stream(b, f->stream_id, f->error_code, f->value,
			                                &terr);
			break;
		case FT_STOP_SENDING:
			rc = qb_streams_on_stop_sending(b, f->stream_id, f->error_code, &terr);
			break;
		}
	}
	cr_assert_eq(rc, 0, "frame 0x%x on stream %lu: rc %d terr 0x%lx",
	             it->is_data ? 8 : it->f.type,
	             (unsigned long)(it->is_data ? it->sp.stream_id : it->f.stream_id), rc,
	             (unsigned long)terr);
}

static void
report(struct qb_streams *a, struct item *it, bool acked)
{
	if (it->is_data) {
		if (acked)
			qb_streams_on_data_acked(a, it->sp.stream_id, it->sp.offset, it->sp.len,
			                         it->sp.fin);
		else
			qb_streams_on_data_lost(a, it->sp.stream_id, it->sp.offset, it->sp.len,
			                        it->sp.fin);
	} else if (acked) {
		qb_streams_ctrl_acked(a, &it->f);
	} else {
		qb_streams_ctrl_lost(a, &it->f);
	}
}

static void
deliver(struct side *c, struct side *s, uint64_t now)
{
	for (int i = 0; i < MAX_ITEMS; i++) {
		struct item *it = &items[i];
		struct qb_streams *from, *to;
		if (!it->used || it->due > now)
			continue;
		from = it->to_server ? c->m : s->m;
		to = it->to_server ? s->m : c->m;
		if (it->fate != 1)
			apply(to, it);
		if (it->fate == 3)
			apply(to, it);
		report(from, it, it->fate == 0 || it->fate == 3);
		it->used = false;
	}
}

static void
run_transfer(uint64_t seed, int loss_pct)
{
	struct qb_streams_config cc = {
	        .is_server = false,
	        .local = {.max_data = 10000,
	                  .max_stream_data_bidi_local = 4000,
	                  .max_stream_data_bidi_remote = 4000,
	                  .max_stream_data_uni = 4000,
	                  .max_streams_bidi = 4,
	                  .max_streams_uni = 4},
	        .max_stream_window = 8000,
	        .max_conn_window = 20000,
	        .send_buffer_max = 6000,
	        .max_local_streams = NSTREAMS,
	};
	struct qb_streams_config sc = cc;
	struct side c = {0}, s = {.server = true};
	uint64_t ids[NSTREAMS], written[NSTREAMS] = {0}, got[NSTREAMS] = {0}, terr;
	bool fin_seen[NSTREAMS] = {0}, reset_seen[NSTREAMS] = {0}, stop_sent[NSTREAMS] = {0};
	bool gone[NSTREAMS] = {0};
	uint64_t reset_code[NSTREAMS] = {0};
	static uint8_t chunk[8000];
	uint64_t now;

	rng_state = seed;
	memset(items, 0, sizeof(items));
	sc.is_server = true;
	sc.local.max_streams_uni = 5; /* fewer than we open: MAX_STREAMS must flow */
	c.m = qb_streams_create(&pools, &cc);
	s.m = qb_streams_create(&pools, &sc);
	cr_assert(c.m != NULL && s.m != NULL);
	qb_streams_set_rtt(c.m, 5);
	qb_streams_set_rtt(s.m, 5);
	cr_assert_eq(qb_streams_set_peer_params(c.m, &sc.local, &terr), 0);
	cr_assert_eq(qb_streams_set_peer_params(s.m, &cc.local, &terr), 0);
	int opened = 0;
	for (now = 1; now < 200000; now++) {
		/* Client: open streams as the limit allows, write, reset some. */
		while (opened < NSTREAMS && qb_streams_open(c.m, false, &ids[opened]) == 0)
			opened++;
		for (int i = 0; i < opened; i++) {
			uint64_t id = ids[i];
			enum qb_send_state st = qb_streams_send_state(c.m, id);
			if ((st != QB_SEND_READY && st != QB_SEND_SEND) || written[i] == STREAM_LEN)
				continue;
			if (i % 5 == 3 && written[i] >= 15000) {
				cr_assert_eq(qb_streams_reset(c.m, id, 1000 + (uint64_t)i), 0);
				continue;
			}
			size_t n = (size_t)(STREAM_LEN - written[i]);
			if (n > sizeof(chunk))
				n = sizeof(chunk);
			for (size_t k = 0; k < n; k++)
				chunk[k] = pattern(id, written[i] + k);
			int64_t w =
			        qb_streams_write(c.m, id, chunk, n, written[i] + n == STREAM_LEN);
			cr_assert_geq(w, 0, "write %ld stream %d written %lu n %zu", (long)w, i,
			              (unsigned long)written[i], n);
			written[i] += (uint64_t)w;
		}
		send_side(&c, now, 6, loss_pct);
		/* Server: read everything, ask some streams to stop. */
		for (int i = 0; i < opened; i++) {
			struct qb_read_span r;
			uint64_t id = ids[i];
			if (fin_seen[i] || reset_seen[i] || gone[i])
				continue;
			if (stop_sent[i] && qb_streams_read_peek(s.m, id, &r) == QB_ERR_STATE) {
				gone[i] = true; /* discarded up to its FIN and closed */
				continue;
			}
			while (qb_streams_read_peek(s.m, id, &r) == 0) {
				if (r.reset) {
					reset_seen[i] = true;
					reset_code[i] = r.error_code;
					break;
				}
				for (size_t k = 0; k < r.len; k++)
					cr_assert_eq(r.data[k], pattern(id, got[i] + k),
					             "stream %lu byte %lu", (unsigned long)id,
					             (unsigned long)(got[i] + k));
				cr_assert_eq(qb_streams_read_consume(s.m, id, r.len, now), 0);
				got[i] += r.len;
				if (r.fin) {
					fin_seen[i] = true;
					break;
				}
				if (r.len == 0)
					break;
			}
			if (i % 5 == 4 && got[i] >= 10000 && !stop_sent[i] && !fin_seen[i] &&
			    !reset_seen[i]) {
				cr_assert_eq(qb_streams_stop_sending(s.m, id, 2000 + (uint64_t)i),
				             0);
				stop_sent[i] = true;
			}
		}
		send_side(&s, now, 6, loss_pct);
		deliver(&c, &s, now);
		bool idle = true;
		for (int i = 0; i < MAX_ITEMS && idle; i++)
			idle = !items[i].used;
		if (idle && opened == NSTREAMS && qb_streams_count(c.m) == 0 &&
		    qb_streams_count(s.m) == 0)
			break;
	}
	cr_assert_lt(now, 200000, "transfer did not finish (client %u, server %u streams)",
	             qb_streams_count(c.m), qb_streams_count(s.m));
	for (int i = 0; i < NSTREAMS; i++) {
		if (i % 5 == 3) {
			cr_assert(reset_seen[i], "stream %d: no reset", i);
			cr_assert_eq(reset_code[i], 1000 + (uint64_t)i);
		} else if (i % 5 == 4) {
			cr_assert(reset_seen[i] || gone[i] ||
			          (fin_seen[i] && got[i] == STREAM_LEN));
			if (reset_seen[i])
				cr_assert_eq(reset_code[i], 2000 + (uint64_t)i);
		} else {
			cr_assert(fin_seen[i], "stream %d: no fin", i);
			cr_assert_eq(got[i], STREAM_LEN);
		}
	}
	qb_streams_destroy(c.m);
	qb_streams_destroy(s.m);
	cr_assert_eq(pools.chunks.in_use, 0);
	cr_assert_eq(pools.streams.in_use, 0);
}

static void
setup(void)
{
	cr_assert_eq(qb_stream_pools_init(&pools, 1024, 1024, 256), 0);
}

static void
teardown(void)
{
	qb_stream_pools_fini(&pools);
}

TestSuite(transfer, .init = setup, .fini = teardown, .timeout = 60);

Test(transfer, no_loss)
{
	run_transfer(1, 0);
}

Test(transfer, loss_10_percent_with_reordering)
{
	for (uint64_t seed = 1; seed <= 5; seed++)
		run_transfer(seed * 7919, 10);
}

Test(transfer, loss_30_percent)
{
	run_transfer(424242, 30);
}
