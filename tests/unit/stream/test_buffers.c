/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reassembly and send-buffer bookkeeping, through the crypto stream (the same
 * buffers as streams, without flow control).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "qburst/error.h"
#include "qburst/stream.h"

#define CRYPTO_BUFFER_EXCEEDED 0xd

static uint64_t rng_state;

static uint64_t
rng(void)
{
	/* xorshift64*: deterministic across runs and platforms */
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

struct seg {
	uint64_t off, len;
};

static void
shuffle(struct seg *s, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)rnd(i);
		struct seg t = s[i - 1];
		s[i - 1] = s[j];
		s[j] = t;
	}
}

/* Cut [0, size) into segments, add overlapping and duplicate ones, shuffle. */
static size_t
make_segments(struct seg *segs, size_t cap, uint64_t size, uint64_t max_seg)
{
	size_t n = 0;
	uint64_t off = 0;

	while (off < size && n < cap) {
		uint64_t len = 1 + rnd(max_seg);
		if (len > size - off)
			len = size - off;
		segs[n++] = (struct seg){off, len};
		off += len;
	}
	cr_assert_eq(off, size, "segments do not cover the data");
	size_t base = n;
	for (size_t i = 0; i < base / 2 && n < cap; i++) {
		/* Overlaps spanning segment boundaries, and exact duplicates. */
		uint64_t o = rnd(size), len = 1 + rnd(2 * max_seg);
		if (len > size - o)
			len = size - o;
		segs[n++] = rnd(2) ? (struct seg){o, len} : segs[rnd(base)];
	}
	shuffle(segs, n);
	return n;
}

Test(buffers, reassembly_random_orders_byte_exact)
{
	struct qb_stream_pools p;
	static uint8_t src[40000], dst[40000];
	static struct seg segs[4000];

	cr_assert_eq(qb_stream_pools_init(&p, 256, 400, 4), 0);
	for (int iter = 0; iter < 300; iter++) {
		struct qb_crypto_stream cs;
		uint64_t size, got = 0, terr = 0;
		size_t n;

		rng_state = 0x9E3779B97F4A7C15ull + (uint64_t)iter;
		size = 1 + rnd(sizeof(src));
		for (uint64_t i = 0; i < size; i++)
			src[i] = (uint8_t)rng();
		/* Small segments too, but never more than segs[] holds. */
		n = make_segments(segs, 4000, size, size / 1000 + 1 + rnd(1500));
		qb_crypto_stream_init(&cs);
		for (size_t i = 0; i < n; i++) {
			int rc = qb_crypto_stream_on_frame(&cs, &p, segs[i].off, src + segs[i].off,
			                                   (size_t)segs[i].len, UINT64_MAX / 4,
			                                   &terr);
			cr_assert_eq(rc, 0, "iter %d seg %zu rc %d", iter, i, rc);
			/* Read part of what is contiguous now and then. */
			if (rnd(4) == 0) {
				const uint8_t *d;
				size_t l = qb_crypto_stream_peek(&cs, &p, &d);
				l = (size_t)rnd(l + 1);
				memcpy(dst + got, d, l);
				qb_crypto_stream_consume(&cs, &p, l);
				got += l;
			}
		}
		for (;;) {
			const uint8_t *d;
			size_t l = qb_crypto_stream_peek(&cs, &p, &d);
			if (l == 0)
				break;
			cr_assert_leq(got + l, size);
			memcpy(dst + got, d, l);
			qb_crypto_stream_consume(&cs, &p, l);
			got += l;
		}
		cr_assert_eq(got, size, "iter %d: read %lu of %lu", iter, (unsigned long)got,
		             (unsigned long)size);
		cr_assert_arr_eq(dst, src, size, "iter %d: bytes differ", iter);
		cr_assert_eq(p.chunks.in_use, 0, "iter %d: chunks leaked", iter);
		qb_crypto_stream_free(&cs, &p);
	}
	qb_stream_pools_fini(&p);
}

Test(buffers, crypto_buffer_exceeded)
{
	struct qb_stream_pools p;
	struct qb_crypto_stream cs;
	uint8_t data[100] = {0};
	uint64_t terr = 0;

	cr_assert_eq(qb_stream_pools_init(&p, 1024, 16, 4), 0);
	qb_crypto_stream_init(&cs);
	/* RFC 9000 §7.5: out-of-order data within the bound is kept... */
	cr_assert_eq(qb_crypto_stream_on_frame(&cs, &p, 4000, data, 96, 4096, &terr), 0);
	/* ...beyond it the connection closes with CRYPTO_BUFFER_EXCEEDED. */
	cr_assert_eq(qb_crypto_stream_on_frame(&cs, &p, 4000, data, 97, 4096, &terr), QB_ERR_PROTO);
	cr_assert_eq(terr, CRYPTO_BUFFER_EXCEEDED);
	/* The bound moves with the read point. */
	cr_assert_eq(qb_crypto_stream_on_frame(&cs, &p, 0, data, 100, 4096, &terr), 0);
	qb_crypto_stream_consume(&cs, &p, 100);
	cr_assert_eq(qb_crypto_stream_on_frame(&cs, &p, 4000, data, 100, 4096, &terr), 0);
	qb_crypto_stream_free(&cs, &p);
	cr_assert_eq(p.chunks.in_use, 0);
	qb_stream_pools_fini(&p);
}

/* Send everything in spans of at most max; return the number of spans. */
static size_t
send_all(struct qb_crypto_stream *cs, struct qb_stream_pools *p, size_t max,
         struct qb_send_span *spans, size_t cap)
{
	size_t n = 0;
	struct qb_send_span s;

	while (n < cap && qb_crypto_stream_send_peek(cs, p, max, &s)) {
		qb_crypto_stream_send_commit(cs, p, s.offset, s.len);
		spans[n++] = s;
	}
	return n;
}

Test(buffers, send_acks_free_and_losses_come_first)
{
	struct qb_stream_pools p;
	struct qb_crypto_stream cs;
	static uint8_t src[5000];
	struct qb_send_span spans[64], s;
	size_t n;

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 3);
	cr_assert_eq(qb_stream_pools_init(&p, 1024, 16, 4), 0);
	qb_crypto_stream_init(&cs);
	cr_assert_eq(qb_crypto_stream_write(&cs, &p, src, 3000), 3000);
	cr_assert_eq(p.chunks.in_use, 3);
	n = send_all(&cs, &p, 700, spans, 64);
	/* Spans stop at chunk boundaries and at max: 700,324, 700,324, 700,252. */
	cr_assert_eq(n, 6);
	uint64_t off = 0;
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(spans[i].offset, off);
		cr_assert_arr_eq(spans[i].data, src + off, spans[i].len);
		cr_assert_not(spans[i].retransmit);
		off += spans[i].len;
	}
	cr_assert_eq(off, 3000);
	/* More data is written, then spans 1 and 3 are lost. */
	cr_assert_eq(qb_crypto_stream_write(&cs, &p, src + 3000, 2000), 2000);
	qb_crypto_stream_on_lost(&cs, &p, spans[1].offset, spans[1].len);
	qb_crypto_stream_on_lost(&cs, &p, spans[3].offset, spans[3].len);
	/* Retransmissions come before new data, with the same bytes. */
	cr_assert(qb_crypto_stream_send_peek(&cs, &p, 2000, &s));
	cr_assert(s.retransmit);
	cr_assert_eq(s.offset, spans[1].offset);
	cr_assert_eq(s.len, spans[1].len);
	cr_assert_arr_eq(s.data, src + s.offset, s.len);
	/* A shorter frame than offered: the rest stays queued. */
	qb_crypto_stream_send_commit(&cs, &p, s.offset, 100);
	cr_assert(qb_crypto_stream_send_peek(&cs, &p, 2000, &s));
	cr_assert(s.retransmit);
	cr_assert_eq(s.offset, spans[1].offset + 100);
	cr_assert_eq(s.len, spans[1].len - 100);
	qb_crypto_stream_send_commit(&cs, &p, s.offset, s.len);
	/* Span 3 lost but acknowledged through another packet meanwhile:
	 * acknowledged bytes are not sent again. */
	qb_crypto_stream_on_acked(&cs, &p, spans[3].offset, 200);
	cr_assert(qb_crypto_stream_send_peek(&cs, &p, 2000, &s));
	cr_assert(s.retransmit);
	cr_assert_eq(s.offset, spans[3].offset + 200);
	cr_assert_eq(s.len, spans[3].len - 200);
	qb_crypto_stream_send_commit(&cs, &p, s.offset, s.len);
	/* Then new data. */
	cr_assert(qb_crypto_stream_send_peek(&cs, &p, 2000, &s));
	cr_assert_not(s.retransmit);
	cr_assert_eq(s.offset, 3000);
	cr_assert_arr_eq(s.data, src + 3000, s.len);
	qb_crypto_stream_send_commit(&cs, &p, s.offset, s.len);
	n = send_all(&cs, &p, 2000, spans, 64);
	cr_assert_eq(spans[n - 1].offset + spans[n - 1].len, 5000);
	/* Acks out of order: chunks are freed only once their prefix is acked. */
	qb_crypto_stream_on_acked(&cs, &p, 1024, 4000);
	cr_assert_eq(p.chunks.in_use, 5);
	cr_assert(qb_crypto_stream_pending(&cs));
	qb_crypto_stream_on_acked(&cs, &p, 0, 1024);
	cr_assert_eq(p.chunks.in_use, 0);
	cr_assert_not(qb_crypto_stream_pending(&cs));
	cr_assert_not(qb_crypto_stream_send_peek(&cs, &p, 2000, &s));
	/* Loss reported after the ack changes nothing. */
	qb_crypto_stream_on_lost(&cs, &p, 0, 5000);
	cr_assert_not(qb_crypto_stream_send_peek(&cs, &p, 2000, &s));
	qb_crypto_stream_free(&cs, &p);
	qb_stream_pools_fini(&p);
}

Test(buffers, random_loss_and_ack_delivers_everything)
{
	struct qb_stream_pools p;
	static uint8_t src[30000], dst[30000];
	static struct qb_send_span flight[4096];

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 13 + (i >> 8));
	cr_assert_eq(qb_stream_pools_init(&p, 512, 128, 4), 0);
	for (int iter = 0; iter < 100; iter++) {
		struct qb_crypto_stream tx, rx;
		size_t nflight = 0, rounds = 0;
		uint64_t got = 0, terr;

		rng_state = 1234567u + (uint64_t)iter;
		qb_crypto_stream_init(&tx);
		qb_crypto_stream_init(&rx);
		cr_assert_eq(qb_crypto_stream_write(&tx, &p, src, sizeof(src)), (int)sizeof(src));
		while (qb_crypto_stream_pending(&tx)) {
			struct qb_send_span s;
			cr_assert_lt(rounds++, 100000);
			while (nflight < 4096 &&
			       qb_crypto_stream_send_peek(&tx, &p, 1 + rnd(1300), &s)) {
				qb_crypto_stream_send_commit(&tx, &p, s.offset, s.len);
				flight[nflight++] = s;
			}
			/* Each flight: 20% lost, the rest delivered and acked in random order. */
			for (size_t i = 0; i < nflight; i++) {
				size_t j = i + (size_t)rnd(nflight - i);
				struct qb_send_span f = flight[j];
				flight[j] = flight[i];
				if (rnd(5) == 0) {
					qb_crypto_stream_on_lost(&tx, &p, f.offset, f.len);
					continue;
				}
				cr_assert_eq(qb_crypto_stream_on_frame(&rx, &p, f.offset,
				                                       src + f.offset, f.len,
				                                       UINT64_MAX / 4, &terr),
				             0);
				qb_crypto_stream_on_acked(&tx, &p, f.offset, f.len);
			}
			nflight = 0;
			for (;;) {
				const uint8_t *d;
				size_t l = qb_crypto_stream_peek(&rx, &p, &d);
				if (l == 0)
					break;
				memcpy(dst + got, d, l);
				qb_crypto_stream_consume(&rx, &p, l);
				got += l;
			}
		}
		cr_assert_eq(got, sizeof(src));
		cr_assert_arr_eq(dst, src, sizeof(src));
		cr_assert_eq(p.chunks.in_use, 0);
	}
	qb_stream_pools_fini(&p);
}

Test(buffers, pool_exhaustion_is_survivable)
{
	struct qb_stream_pools p;
	struct qb_crypto_stream cs;
	static uint8_t src[4096];
	uint64_t terr;
	const uint8_t *d;
	size_t got = 0;
	static uint8_t dst[4096];

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i ^ 0x5a);
	cr_assert_eq(qb_stream_pools_init(&p, 1024, 2, 4), 0);
	qb_crypto_stream_init(&cs);
	/* Chunks at 2048 and 3072 take the whole pool... */
	cr_assert_eq(qb_crypto_stream_on_frame(&cs, &p, 2048, src + 2048, 2048, 8192, &terr), 0);
	cr_assert_eq(p.chunks.in_use, 2);
	/* ...so the first bytes cannot be stored now. */
	cr_assert_eq(qb_crypto_stream_on_frame(&cs, &p, 0, src, 2048, 8192, &terr), QB_ERR_NOMEM);
	cr_assert_gt(p.chunks.failures, 0);
	cr_assert_eq(qb_crypto_stream_peek(&cs, &p, &d), 0);
	/* Writes are refused whole, not half-taken. */
	struct qb_crypto_stream out;
	qb_crypto_stream_init(&out);
	cr_assert_eq(qb_crypto_stream_write(&out, &p, src, 10), QB_ERR_NOMEM);
	/* Start over with a larger pool: the same frames now get through. */
	qb_crypto_stream_free(&cs, &p);
	cr_assert_eq(p.chunks.in_use, 0);
	qb_stream_pools_fini(&p);
	cr_assert_eq(qb_stream_pools_init(&p, 1024, 3, 4), 0);
	qb_crypto_stream_init(&cs);
	cr_assert_eq(qb_crypto_stream_on_frame(&cs, &p, 2048, src + 2048, 2048, 8192, &terr), 0);
	cr_assert_eq(qb_crypto_stream_on_frame(&cs, &p, 0, src, 2048, 8192, &terr), QB_ERR_NOMEM);
	/* The first chunk made it: reading it frees room for the rest. */
	size_t l = qb_crypto_stream_peek(&cs, &p, &d);
	cr_assert_eq(l, 1024);
	memcpy(dst, d, l);
	qb_crypto_stream_consume(&cs, &p, l);
	got += l;
	cr_assert_eq(qb_crypto_stream_on_frame(&cs, &p, 0, src, 2048, 8192, &terr), 0);
	while ((l = qb_crypto_stream_peek(&cs, &p, &d)) > 0) {
		memcpy(dst + got, d, l);
		qb_crypto_stream_consume(&cs, &p, l);
		got += l;
	}
	cr_assert_eq(got, sizeof(src));
	cr_assert_arr_eq(dst, src, sizeof(src));
	cr_assert_eq(p.chunks.in_use, 0);
	qb_stream_pools_fini(&p);
}

Test(buffers, loss_below_an_ack_that_freed_chunks)
{
	struct qb_stream_pools p;
	struct qb_crypto_stream cs;
	static uint8_t src[3000];
	struct qb_send_span s;

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 3);
	cr_assert_eq(qb_stream_pools_init(&p, 1024, 8, 4), 0);
	qb_crypto_stream_init(&cs);
	cr_assert_eq(qb_crypto_stream_write(&cs, &p, src, sizeof(src)), (int)sizeof(src));
	while (qb_crypto_stream_send_peek(&cs, &p, 1200, &s))
		qb_crypto_stream_send_commit(&cs, &p, s.offset, s.len);
	qb_crypto_stream_on_lost(&cs, &p, 100, 100);
	qb_crypto_stream_on_lost(&cs, &p, 2500, 100);
	/* The first loss is then acknowledged (spuriously lost), with the
	 * chunks below 2048: only the second range is resent. */
	qb_crypto_stream_on_acked(&cs, &p, 0, 2048);
	cr_assert_eq(p.chunks.in_use, 1);
	cr_assert(qb_crypto_stream_send_peek(&cs, &p, 1200, &s));
	cr_assert(s.retransmit);
	cr_assert_eq(s.offset, 2500);
	cr_assert_eq(s.len, 100);
	cr_assert_arr_eq(s.data, src + 2500, 100);
	qb_crypto_stream_send_commit(&cs, &p, s.offset, s.len);
	cr_assert_not(qb_crypto_stream_send_peek(&cs, &p, 1200, &s));
	qb_crypto_stream_on_acked(&cs, &p, 2048, 952);
	cr_assert_eq(p.chunks.in_use, 0);
	qb_crypto_stream_free(&cs, &p);
	qb_stream_pools_fini(&p);
}

Test(buffers, crypto_write_is_all_or_nothing)
{
	struct qb_stream_pools p;
	struct qb_crypto_stream cs;
	static uint8_t src[3000];
	struct qb_send_span s;

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 5);
	cr_assert_eq(qb_stream_pools_init(&p, 1024, 2, 4), 0);
	qb_crypto_stream_init(&cs);
	/* 1000 bytes sent and acknowledged: the buffer is empty mid-chunk. */
	cr_assert_eq(qb_crypto_stream_write(&cs, &p, src, 1000), 1000);
	cr_assert(qb_crypto_stream_send_peek(&cs, &p, 2000, &s));
	qb_crypto_stream_send_commit(&cs, &p, s.offset, s.len);
	qb_crypto_stream_on_acked(&cs, &p, 0, 1000);
	cr_assert_eq(p.chunks.in_use, 0);
	/* 1100 bytes would need three chunks (0-1023, 1024-2047, 2048-), 1024 two. */
	cr_assert_eq(qb_crypto_stream_write(&cs, &p, src + 1000, 1100), QB_ERR_NOMEM);
	cr_assert_eq(p.chunks.in_use, 0); /* nothing half-taken */
	cr_assert_eq(qb_crypto_stream_write(&cs, &p, src + 1000, 1024), 1024);
	cr_assert_eq(p.chunks.in_use, 2);
	cr_assert_eq(qb_crypto_stream_write(&cs, &p, src + 2024, 24), 24); /* fits the tail */
	cr_assert_eq(qb_crypto_stream_write(&cs, &p, src + 2048, 1), QB_ERR_NOMEM);
	size_t got = 0;
	while (qb_crypto_stream_send_peek(&cs, &p, 2000, &s)) {
		cr_assert_eq(s.offset, 1000 + got);
		cr_assert_arr_eq(s.data, src + s.offset, s.len);
		qb_crypto_stream_send_commit(&cs, &p, s.offset, s.len);
		got += s.len;
	}
	cr_assert_eq(got, 1048);
	qb_crypto_stream_free(&cs, &p);
	cr_assert_eq(p.chunks.in_use, 0);
	qb_stream_pools_fini(&p);
}
