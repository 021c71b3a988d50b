/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-packet cost of the stream layer (not a test; run by hand):
 * build/tests/unit/stream/bench_stream [packets]
 * send: write + peek + commit + ack of 1200-byte spans on one stream;
 * recv: STREAM frame in order + peek + consume; recv-ooo: the same with each
 * group of 16 frames delivered in reverse order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qburst/stream.h"

static uint64_t
ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct qb_streams *
make(struct qb_stream_pools *p, bool server)
{
	struct qb_streams_config cfg = {
	        .is_server = server,
	        .local = {.max_data = 1ull << 40,
	                  .max_stream_data_bidi_local = 1ull << 40,
	                  .max_stream_data_bidi_remote = 1ull << 40,
	                  .max_stream_data_uni = 1ull << 40,
	                  .max_streams_bidi = 16,
	                  .max_streams_uni = 16},
	        .max_local_streams = 16,
	};
	struct qb_streams *m = qb_streams_create(p, &cfg);
	uint64_t terr;
	if (m == NULL || qb_streams_set_peer_params(m, &cfg.local, &terr) != 0)
		exit(1);
	return m;
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	static uint8_t data[1200 * 16];
	struct qb_stream_pools p;
	struct qb_streams *c, *s;
	struct qb_send_span x;
	struct qb_read_span r;
	uint64_t id, terr, t0, t1;

	if (qb_stream_pools_init(&p, 2048, 4096, 64) != 0)
		return 1;
	/* Baseline in the same run: the one 1200-byte copy each path makes. */
	static uint8_t ring[1 << 16];
	t0 = ns();
	for (long i = 0; i < n; i++) {
		memcpy(ring + (i * 1200) % (sizeof(ring) - 1200), data, 1200);
		__asm__ volatile("" ::: "memory");
	}
	t1 = ns();
	printf("baseline memcpy of 1200 B: %.1f ns/packet\n", (double)(t1 - t0) / n);
	c = make(&p, false);
	if (qb_streams_open(c, false, &id) != 0)
		return 1;
	t0 = ns();
	for (long i = 0; i < n; i++) {
		if (qb_streams_write(c, id, data, 1200, false) != 1200)
			return 1;
		/* A 1200-byte span may end at a chunk boundary: take two then. */
		size_t left = 1200;
		while (left > 0 && qb_streams_send_peek(c, left, &x)) {
			qb_streams_send_commit(c, &x);
			qb_streams_on_data_acked(c, x.stream_id, x.offset, x.len, false);
			left -= x.len;
		}
	}
	t1 = ns();
	printf("send (write+peek+commit+ack, 1200 B): %.1f ns/packet\n", (double)(t1 - t0) / n);

	s = make(&p, true);
	t0 = ns();
	for (long i = 0; i < n; i++) {
		if (qb_streams_on_stream(s, 2, (uint64_t)i * 1200, data, 1200, false, &terr) != 0)
			return 1;
		while (qb_streams_read_peek(s, 2, &r) == 0 && r.len > 0)
			qb_streams_read_consume(s, 2, r.len, 0);
	}
	t1 = ns();
	printf("recv in order (frame+peek+consume, 1200 B): %.1f ns/packet\n",
	       (double)(t1 - t0) / n);

	n -= n % 16;
	t0 = ns();
	for (long g = 0; g < n; g += 16) {
		for (int k = 15; k >= 0; k--)
			if (qb_streams_on_stream(s, 6, (uint64_t)(g + k) * 1200, data, 1200, false,
			                         &terr) != 0)
				return 1;
		while (qb_streams_read_peek(s, 6, &r) == 0 && r.len > 0)
			qb_streams_read_consume(s, 6, r.len, 0);
	}
	t1 = ns();
	printf("recv reversed groups of 16 (1200 B): %.1f ns/packet\n", (double)(t1 - t0) / n);
	printf("chunks in use %u, high water %u\n", p.chunks.in_use, p.chunks.high_water);
	qb_streams_destroy(c);
	qb_streams_destroy(s);
	qb_stream_pools_fini(&p);
	return 0;
}
