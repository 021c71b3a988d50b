/* SPDX-License-Identifier: BSD-3-Clause */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "qb_net.h"
#include "helpers.h"

/* The raw (memory-order) sum equals the big-endian reference once byte-swapped on little endian. */
static uint16_t
ref_raw(const uint8_t *p, size_t len)
{
	return rte_cpu_to_be_16(ref_sum(p, len, 0));
}

Test(cksum, known_rfc1071_example)
{
	/* RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (folded). */
	static const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};

	cr_assert_eq(rte_be_to_cpu_16(qb_cksum_raw_scalar(b, sizeof(b))), 0xddf2);
	cr_assert_eq(rte_be_to_cpu_16(qb_cksum_raw(b, sizeof(b))), 0xddf2);
}

Test(cksum, scalar_and_avx2_agree_on_random_odd_buffers)
{
	static uint8_t buf[9100];
	unsigned int i, len, off;

	srand(12345);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rand();
	for (i = 0; i < 3000; i++) {
		len = (unsigned int)rand() % 9000;
		if (i < 300)
			len = i;                 /* every small length, odd ones included */
		off = (unsigned int)rand() % 64; /* any alignment */
		uint16_t ref = ref_raw(buf + off, len);

		cr_assert_eq(qb_cksum_raw_scalar(buf + off, len), ref, "scalar len %u off %u", len,
		             off);
		cr_assert_eq(qb_cksum_raw(buf + off, len), ref, "dispatch len %u off %u", len, off);
		if (qb_cksum_have_avx2())
			cr_assert_eq(qb_cksum_raw_avx2(buf + off, len), ref, "avx2 len %u off %u",
			             len, off);
	}
}

Test(cksum, all_ones_buffers_do_not_overflow)
{
	static uint8_t buf[65536];

	memset(buf, 0xff, sizeof(buf));
	cr_assert_eq(qb_cksum_raw_scalar(buf, sizeof(buf)), 0xffff);
	if (qb_cksum_have_avx2())
		cr_assert_eq(qb_cksum_raw_avx2(buf, sizeof(buf)), 0xffff);
	cr_assert_eq(qb_cksum_raw(buf, sizeof(buf) - 1), ref_raw(buf, sizeof(buf) - 1));
}

Test(cksum, mbuf_chain_with_odd_segments)
{
	static struct test_mbuf a, b, c;
	uint8_t data[301];
	struct rte_mbuf *m;
	unsigned int i, off, len;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	/* Segments of 101 (odd), 100 and 100 bytes. */
	m = tmbuf(&a, 0, data, 101);
	tmbuf(&b, 0, data + 101, 100);
	tmbuf(&c, 0, data + 201, 100);
	tchain(m, &b.m);
	b.m.next = &c.m;
	m->nb_segs = 3;
	m->pkt_len += 100;
	for (off = 0; off < 120; off += 13)
		for (len = 0; off + len <= sizeof(data); len += 37)
			cr_assert_eq(qb_cksum_mbuf(m, off, len), ref_raw(data + off, len),
			             "off %u len %u", off, len);
}

Test(cksum, large_buffers_cross_the_avx2_block_size)
{
	/* Larger than the 256 KiB AVX2 block, all ones (the worst case for lane overflow). */
	static uint8_t buf[600 * 1024 + 77];
	unsigned int i;

	memset(buf, 0xff, sizeof(buf));
	cr_assert_eq(qb_cksum_raw(buf, sizeof(buf)), ref_raw(buf, sizeof(buf)));
	if (qb_cksum_have_avx2())
		cr_assert_eq(qb_cksum_raw_avx2(buf, sizeof(buf)), ref_raw(buf, sizeof(buf)));
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 2654435761u >> 13);
	cr_assert_eq(qb_cksum_raw_scalar(buf, sizeof(buf)), ref_raw(buf, sizeof(buf)));
	if (qb_cksum_have_avx2())
		cr_assert_eq(qb_cksum_raw_avx2(buf + 1, sizeof(buf) - 1),
		             ref_raw(buf + 1, sizeof(buf) - 1));
}
