/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One's-complement sums (RFC 1071). Summing 32-bit words into a 64-bit
 * accumulator and folding at the end gives the same 16-bit result as summing
 * 16-bit words, because 2^16 = 1 modulo 0xffff; it halves the additions. The
 * AVX2 version sums 16-bit halves in 32-bit lanes and folds per block. It is
 * selected once at start-up by CPU feature (never by -march: DPDK's
 * pkg-config flags force -march=corei7).
 */
#include <immintrin.h>

#include <rte_common.h>

#include "qb_net.h"

static inline uint16_t
fold64(uint64_t s)
{
	s = (s >> 32) + (s & 0xffffffffu);
	s = (s >> 32) + (s & 0xffffffffu);
	return qb_cksum_fold((uint32_t)(s >> 16) + (uint32_t)(s & 0xffff));
}

/*
 * Memory-order sum of a buffer (or a tail) added to sum: 64-bit words into a
 * 128-bit accumulator, folded back to 64 bits with an end-around carry
 * (2^64 = 1 modulo 0xffff, so the 16-bit result is unchanged).
 */
static inline uint64_t
sum_words(const uint8_t *p, size_t len, uint64_t sum)
{
	unsigned __int128 acc = sum;
	uint64_t w0, w1, w2, w3, lo, hi;
	uint32_t w;
	uint16_t h;

	while (len >= 32) {
		memcpy(&w0, p, 8);
		memcpy(&w1, p + 8, 8);
		memcpy(&w2, p + 16, 8);
		memcpy(&w3, p + 24, 8);
		acc += w0;
		acc += w1;
		acc += w2;
		acc += w3;
		p += 32;
		len -= 32;
	}
	while (len >= 8) {
		memcpy(&w0, p, 8);
		acc += w0;
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		memcpy(&w, p, 4);
		acc += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&h, p, 2);
		acc += h;
		p += 2;
		len -= 2;
	}
	if (len > 0) {
		/* The odd last byte is the first byte of a zero-padded word. */
		h = 0;
		memcpy(&h, p, 1);
		acc += h;
	}
	lo = (uint64_t)acc;
	hi = (uint64_t)(acc >> 64);
	lo += hi;
	return lo + (lo < hi);
}

uint16_t
qb_cksum_raw_scalar(const void *buf, size_t len)
{
	return fold64(sum_words(buf, len, 0));
}

/* 16-bit halves of each 32-bit lane, added: a lane sum of two words. */
__attribute__((target("avx2"))) static inline __m256i
halves(__m256i v)
{
	return _mm256_add_epi32(_mm256_and_si256(v, _mm256_set1_epi32(0xffff)),
	                        _mm256_srli_epi32(v, 16));
}

/* Horizontal sum of the eight 32-bit lanes of v (each small enough not to overflow). */
__attribute__((target("avx2"))) static inline uint32_t
hsum32(__m256i v)
{
	__m128i h = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));

	h = _mm_add_epi32(h, _mm_srli_si128(h, 8));
	h = _mm_add_epi32(h, _mm_srli_si128(h, 4));
	return (uint32_t)_mm_cvtsi128_si32(h);
}

/*
 * Four independent 32-bit accumulators, each taking the two 16-bit halves of
 * every lane of one 32-byte vector per 128-byte step (AND, shift and adds run
 * on any ALU port, unlike widening shuffles). A lane gains at most 2 * 0xffff
 * per step, so a block of 256 KiB (2048 steps) cannot overflow 32 bits;
 * blocks are folded into the 64-bit total.
 */
#define AVX2_BLOCK (256 * 1024)

__attribute__((target("avx2"))) uint16_t
qb_cksum_raw_avx2(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t sum = 0;
	size_t blk;

	while (len >= 128) {
		__m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;

		blk = RTE_MIN(len & ~(size_t)127, (size_t)AVX2_BLOCK);
		len -= blk;
		for (; blk > 0; blk -= 128, p += 128) {
			a0 = _mm256_add_epi32(a0, halves(_mm256_loadu_si256((const __m256i *)p)));
			a1 = _mm256_add_epi32(
			        a1, halves(_mm256_loadu_si256((const __m256i *)(p + 32))));
			a2 = _mm256_add_epi32(
			        a2, halves(_mm256_loadu_si256((const __m256i *)(p + 64))));
			a3 = _mm256_add_epi32(
			        a3, halves(_mm256_loadu_si256((const __m256i *)(p + 96))));
		}
		/* Fold each accumulator to 17 bits before adding them: no overflow. */
		sum += hsum32(_mm256_add_epi32(_mm256_add_epi32(halves(a0), halves(a1)),
		                               _mm256_add_epi32(halves(a2), halves(a3))));
	}
	while (len >= 32) {
		sum += hsum32(halves(_mm256_loadu_si256((const __m256i *)p)));
		p += 32;
		len -= 32;
	}
	return fold64(sum_words(p, len, sum));
}

static bool have_avx2;

RTE_INIT(qb_cksum_select)
{
	__builtin_cpu_init();
	have_avx2 = __builtin_cpu_supports("avx2");
}

bool
qb_cksum_have_avx2(void)
{
	return have_avx2;
}

uint16_t
qb_cksum_raw(const void *buf, size_t len)
{
	/* Below two vectors the set-up costs more than the scalar loop. */
	if (len >= 128 && have_avx2)
		return qb_cksum_raw_avx2(buf, len);
	return fold64(sum_words(buf, len, 0));
}

uint16_t
qb_cksum_mbuf(const struct rte_mbuf *m, uint32_t off, uint32_t len)
{
	uint32_t sum = 0, done = 0, n;
	uint16_t s;

	while (m != NULL && off >= m->data_len) {
		off -= m->data_len;
		m = m->next;
	}
	while (m != NULL && len > 0) {
		n = RTE_MIN(len, (uint32_t)m->data_len - off);
		s = qb_cksum_raw(rte_pktmbuf_mtod_offset(m, const uint8_t *, off), n);
		/* A segment starting at an odd byte position has its words shifted by one byte. */
		if (done & 1)
			s = (uint16_t)(s << 8 | s >> 8);
		sum += s;
		done += n;
		len -= n;
		off = 0;
		m = m->next;
	}
	return qb_cksum_fold(sum);
}
