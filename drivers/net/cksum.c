/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One's-complement sums (RFC 1071). Summing 32-bit words into a 64-bit
 * accumulator and folding at the end gives the same 16-bit result as summing
 * 16-bit words, because 2^16 = 1 modulo 0xffff; it halves the additions. The
 * AVX2 version widens 32-bit words to 64-bit lanes, so it never overflows and
 * needs no periodic folding. Selected once at start-up by CPU feature (never
 * by -march: DPDK's pkg-config flags force -march=corei7).
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

/* Memory-order sum of the tail or a short buffer, into the 64-bit sum. */
static inline uint64_t
sum_words(const uint8_t *p, size_t len, uint64_t sum)
{
	uint32_t w0, w1, w2, w3;
	uint16_t h;

	while (len >= 16) {
		memcpy(&w0, p, 4);
		memcpy(&w1, p + 4, 4);
		memcpy(&w2, p + 8, 4);
		memcpy(&w3, p + 12, 4);
		sum += (uint64_t)w0 + w1 + w2 + w3;
		p += 16;
		len -= 16;
	}
	while (len >= 4) {
		memcpy(&w0, p, 4);
		sum += w0;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&h, p, 2);
		sum += h;
		p += 2;
		len -= 2;
	}
	if (len > 0) {
		/* The odd last byte is the first byte of a zero-padded word. */
		h = 0;
		memcpy(&h, p, 1);
		sum += h;
	}
	return sum;
}

uint16_t
qb_cksum_raw_scalar(const void *buf, size_t len)
{
	return fold64(sum_words(buf, len, 0));
}

__attribute__((target("avx2"))) uint16_t
qb_cksum_raw_avx2(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	const __m256i zero = _mm256_setzero_si256();
	__m256i acc0 = zero, acc1 = zero;
	uint64_t lanes[4];
	uint64_t sum;

	while (len >= 64) {
		__m256i a = _mm256_loadu_si256((const __m256i *)p);
		__m256i b = _mm256_loadu_si256((const __m256i *)(p + 32));

		/* Zero-extend each 32-bit word into a 64-bit lane. */
		acc0 = _mm256_add_epi64(acc0, _mm256_unpacklo_epi32(a, zero));
		acc1 = _mm256_add_epi64(acc1, _mm256_unpackhi_epi32(a, zero));
		acc0 = _mm256_add_epi64(acc0, _mm256_unpacklo_epi32(b, zero));
		acc1 = _mm256_add_epi64(acc1, _mm256_unpackhi_epi32(b, zero));
		p += 64;
		len -= 64;
	}
	if (len >= 32) {
		__m256i a = _mm256_loadu_si256((const __m256i *)p);

		acc0 = _mm256_add_epi64(acc0, _mm256_unpacklo_epi32(a, zero));
		acc1 = _mm256_add_epi64(acc1, _mm256_unpackhi_epi32(a, zero));
		p += 32;
		len -= 32;
	}
	/* Each lane holds at most len/8 words below 2^32: no overflow. */
	_mm256_storeu_si256((__m256i *)lanes, _mm256_add_epi64(acc0, acc1));
	sum = fold64(lanes[0]) + (uint64_t)fold64(lanes[1]) + fold64(lanes[2]) + fold64(lanes[3]);
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
