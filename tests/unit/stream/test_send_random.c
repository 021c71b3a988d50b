/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The send buffer under random use: one stream written in pieces by copy, by
 * reference to read-only memory and by reference to lent writable memory
 * (qb_streams_write_ref_gap), adjacent in memory or not, sent in spans of
 * random sizes, each in-flight span acknowledged or lost at random. Every
 * span must carry the right bytes, its gap must be writable (ASan checks the
 * borrow), the lent memory must come back unchanged, and every chunk must go
 * back to the pool.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "qburst/error.h"
#include "qburst/stream.h"

#define R_SIZE   (192u * 1024)
#define R_FLIGHT 4096

static struct qb_stream_pools pools;
static uint8_t src[R_SIZE], src2[R_SIZE];       /* read-only use */
static uint8_t room[QB_SEND_GAP + R_SIZE + 64]; /* lent use */
static uint8_t *const lent = room + QB_SEND_GAP;

static uint8_t
pattern(uint64_t off)
{
	return (uint8_t)(off * 131 + (off >> 7));
}

static void
setup(void)
{
	cr_assert_eq(qb_stream_pools_init(&pools, 1024, 4096, 4096), 0);
	for (uint64_t i = 0; i < R_SIZE; i++)
		src[i] = src2[i] = lent[i] = pattern(i);
	memset(room, 0x5a, QB_SEND_GAP);
	memset(lent + R_SIZE, 0x5a, 64);
}

static void
teardown(void)
{
	qb_stream_pools_fini(&pools);
}

static uint64_t rng;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

/* Where each stream byte was written from: the same bytes lie in three
 * places, so only the pointers tell a wrong reference apart. */
enum { K_COPY, K_SRC, K_SRC2, K_LENT };
static uint8_t kind[R_SIZE];

struct flight {
	uint64_t off, len;
	bool fin;
};

static void
check_span(const struct qb_send_span *sp)
{
	uint8_t saved[QB_SEND_GAP];

	for (size_t k = 0; k < sp->len; k++)
		cr_assert_eq(sp->data[k], pattern(sp->offset + k), "byte %lu",
		             (unsigned long)(sp->offset + k));
	cr_assert_leq(sp->gap, QB_SEND_GAP);
	if (sp->gap > 0 && sp->len > 0) {
		/* Borrow it as qb_crypto_protect_gap does. */
		uint8_t *g = (uint8_t *)(uintptr_t)sp->data - sp->gap;
		memcpy(saved, g, sp->gap);
		memset(g, 0xee, sp->gap);
		memcpy(g, saved, sp->gap);
	}
	/* Referenced bytes are read where they were written from. */
	static const uint8_t *const base[] = {[K_SRC] = src, [K_SRC2] = src2, [K_LENT] = lent};
	for (int k = K_SRC; k <= K_LENT; k++) {
		if (sp->len == 0 || sp->data < base[k] || sp->data >= base[k] + R_SIZE)
			continue;
		cr_assert_eq(sp->data, base[k] + sp->offset, "span at %lu misplaced",
		             (unsigned long)sp->offset);
		for (size_t i = 0; i < sp->len; i++)
			cr_assert_eq(kind[sp->offset + i], k, "byte %lu read from the wrong buffer",
			             (unsigned long)(sp->offset + i));
		cr_assert_eq(sp->gap, k == K_LENT ? QB_SEND_GAP : 0, "gap of %d", k);
	}
}

static void
run(uint64_t seed)
{
	struct qb_streams_config cfg = {
	        .local = {.max_data = 1u << 30,
	                  .max_stream_data_bidi_local = 1u << 30,
	                  .max_stream_data_bidi_remote = 1u << 30,
	                  .max_streams_bidi = 4,
	                  .max_streams_uni = 4},
	        .max_stream_window = 1u << 30,
	        .max_conn_window = 1u << 30,
	        .max_local_streams = 4,
	        .send_buffer_max = 64 * 1024,
	};
	struct qb_streams *m = qb_streams_create(&pools, &cfg);
	static struct flight fl[R_FLIGHT];
	unsigned nfl = 0, spans = 0, direct_gap = 0;
	uint64_t id, terr, written = 0;
	bool fin_written = false;

	cr_assert_not_null(m);
	cr_assert_eq(qb_streams_set_peer_params(m, &cfg.local, &terr), 0);
	cr_assert_eq(qb_streams_open(m, true, &id), 0);
	rng = seed * 0x9e3779b97f4a7c15ull + 1;
	for (long step = 0; step < 2000000; step++) {
		if (fin_written && qb_streams_send_state(m, id) == QB_SEND_DATA_RECVD)
			break;
		uint32_t what = rnd(10);
		if (what < 3 && !fin_written) {
			size_t len = 1 + rnd(5000);
			if (len > R_SIZE - written)
				len = (size_t)(R_SIZE - written);
			bool fin = written + len == R_SIZE;
			int64_t took;
			int k = (int)rnd(4);
			switch (k) {
			case K_COPY:
				took = qb_streams_write(m, id, src + written, len, fin);
				break;
			case K_SRC:
				took = qb_streams_write_ref(m, id, src + written, len, fin);
				break;
			case K_SRC2:
				took = qb_streams_write_ref(m, id, src2 + written, len, fin);
				break;
			default:
				took = qb_streams_write_ref_gap(m, id, lent + written, len, fin);
				break;
			}
			cr_assert_geq(took, 0);
			memset(kind + written, k, (size_t)took);
			written += (uint64_t)took;
			fin_written = fin && (size_t)took == len;
		} else if (what < 7 && nfl < R_FLIGHT) {
			struct qb_send_span sp;
			if (!qb_streams_send_peek(m, 1 + rnd(1500), &sp))
				continue;
			check_span(&sp);
			qb_streams_send_commit(m, &sp);
			fl[nfl++] = (struct flight){sp.offset, sp.len, sp.fin};
			spans++;
			direct_gap += sp.gap > 0;
		} else if (nfl > 0) {
			uint32_t i = rnd(nfl);
			if (what < 9)
				qb_streams_on_data_acked(m, id, fl[i].off, fl[i].len, fl[i].fin);
			else
				qb_streams_on_data_lost(m, id, fl[i].off, fl[i].len, fl[i].fin);
			fl[i] = fl[--nfl];
		}
	}
	cr_assert_eq(qb_streams_send_state(m, id), QB_SEND_DATA_RECVD, "seed %lu: not finished",
	             (unsigned long)seed);
	cr_assert_gt(direct_gap, 0);
	for (uint64_t i = 0; i < R_SIZE; i++)
		cr_assert_eq(lent[i], pattern(i), "lent byte %lu changed", (unsigned long)i);
	for (size_t i = 0; i < QB_SEND_GAP; i++)
		cr_assert_eq(room[i], 0x5a);
	for (size_t i = 0; i < 64; i++)
		cr_assert_eq(lent[R_SIZE + i], 0x5a);
	qb_streams_destroy(m);
	cr_assert_eq(pools.chunks.in_use, 0, "seed %lu: chunks leaked", (unsigned long)seed);
	cr_log_info("seed %lu: %u spans, %u with a gap", (unsigned long)seed, spans, direct_gap);
}

Test(send_random, mixed_writes_spans_acks_and_losses, .init = setup, .fini = teardown)
{
	for (uint64_t seed = 1; seed <= 40; seed++)
		run(seed);
}
