/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A tool, not a test (built on demand: ninja -C build
 * tests/unit/conn/trace_conn_xfer): deterministic transfers on the
 * simulated link, each printed as one TRACE line (a hash of every
 * datagram's delivery time and size, both ways, and the final statistics).
 * Two builds print the same lines when they send the same datagrams at the
 * same times: scripts/trace-compare.sh REV diffs this tree against REV, to
 * show a change to the send path changes no behaviour. The cases: copied
 * data on three streams, lent and read-only references on one, loss 0-2%,
 * key updates, single sends and bursts, a pacer bucket larger than the
 * window after qb_conn_trim().
 */
#include <stdio.h>

#include "harness.h"
#include "xfer.h"

#define REF_SIZE (4u << 20)

static uint8_t ref_room[QB_SEND_GAP + REF_SIZE + 64];
static uint64_t ref_written;
static bool ref_read_only;
static uint64_t trace_hash;

/* The data of stream 0 referenced (lent, or read-only) as the app writes. */
static bool
ref_step(struct h_pair *p, void *arg)
{
	struct xfer *x = arg;
	struct x_stream *s = &x->st[0];
	uint8_t *data = ref_room + QB_SEND_GAP;
	struct qb_streams *m;
	int64_t w;

	if (p->s == NULL || !qb_conn_handshake_complete(p->c))
		return false;
	m = qb_conn_streams(p->c);
	if (x->opened == 0) {
		cr_assert_eq(qb_conn_stream_open(p->c, true, &s->id), 0);
		x->opened = 1;
		for (uint64_t k = 0; k < x->size; k++)
			data[k] = x_byte(s->id, k);
	}
	if (ref_written < x->size) {
		w = ref_read_only ? qb_streams_write_ref(m, s->id, data + ref_written,
		                                         x->size - ref_written, true)
		                  : qb_streams_write_ref_gap(m, s->id, data + ref_written,
		                                             x->size - ref_written, true);
		if (w > 0)
			ref_written += (uint64_t)w;
	}
	x_read(p, x);
	return x->finished == 1;
}

/* Every delivered datagram: its time and size into the hash (FNV-1a style). */
static bool
tap(void *ctx, uint8_t *d, size_t len)
{
	struct h_pair *p = ctx;

	(void)d;
	trace_hash = (trace_hash ^ (p->now * 31 + len)) * 0x100000001b3ull;
	return false;
}

enum source { COPIED, LENT, READ_ONLY };

static void
one(uint64_t seed, unsigned burst, double loss, uint64_t key_update, enum source src,
    bool big_pacer)
{
	static struct xfer x;
	struct qb_conn_stats c, s;
	struct h_pair p;

	trace_hash = 1469598103934665603ull;
	h_init(&p, seed);
	p.burst = burst;
	if (key_update != 0)
		p.cfg_c.key_update_packets = key_update;
	if (big_pacer)
		p.cfg_c.pacer_burst = 1000;
	p.to_s.loss = p.to_c.loss = loss;
	p.to_s.drop_hook = p.to_c.drop_hook = tap;
	p.to_s.hook_ctx = p.to_c.hook_ctx = &p;
	h_start(&p);
	cr_assert(h_run(&p, 10000 * H_MS, h_confirmed, NULL), "handshake");
	if (big_pacer) {
		h_run(&p, 500 * H_MS, NULL, NULL);
		qb_conn_trim(p.c, p.now); /* the ring and records regrow */
	}
	memset(&x, 0, sizeof(x));
	if (src != COPIED) {
		ref_written = 0;
		ref_read_only = src == READ_ONLY;
		x.size = REF_SIZE;
		x.nstreams = 1;
		cr_assert(h_run(&p, 300000 * H_MS, ref_step, &x), "referenced transfer");
		cr_assert_eq(x.bad, 0);
	} else {
		x_run(&p, &x, 2u << 20, 3, 120000 * H_MS);
	}
	qb_conn_stats(p.c, &c);
	qb_conn_stats(p.s, &s);
	printf("TRACE seed %lu burst %u loss %.2f key_update %lu source %d big_pacer %d: hash "
	       "%016lx now %lu sent %lu direct %lu lost %lu bytes %lu dgrams %lu | server sent "
	       "%lu recv %lu\n",
	       (unsigned long)seed, burst, loss, (unsigned long)key_update, (int)src,
	       (int)big_pacer, (unsigned long)trace_hash, (unsigned long)p.now,
	       (unsigned long)c.pkts_sent, (unsigned long)c.pkts_sent_direct,
	       (unsigned long)c.pkts_lost, (unsigned long)c.bytes_sent,
	       (unsigned long)c.dgrams_sent, (unsigned long)s.pkts_sent,
	       (unsigned long)s.pkts_recv);
	fflush(stdout);
	h_fini(&p);
}

Test(trace, transfers, .timeout = 600)
{
	for (uint64_t seed = 1; seed <= 3; seed++) {
		one(seed, 16, 0, 0, COPIED, false);
		one(seed, 64, 0.02, 0, COPIED, false);
		one(seed, 32, 0.01, 200, COPIED, false);
		one(seed, 64, 0, 0, LENT, false);
		one(seed, 64, 0.02, 0, LENT, false);
		one(seed, 32, 0.01, 300, READ_ONLY, false);
		one(seed, 0, 0.02, 0, LENT, false);
		one(seed, 64, 0, 0, LENT, true);
		one(seed, 64, 0.01, 0, LENT, true);
		one(seed, 64, 0.01, 0, COPIED, true);
	}
}
