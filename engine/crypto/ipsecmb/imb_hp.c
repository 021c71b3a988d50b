/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AES header-protection mask (RFC 9001 §5.4.3): one AES block, the sample,
 * under the header-protection key. ipsec-mb has no single-block ECB call in
 * its direct API, so the block goes through AES-NI here, with the round keys
 * ipsec-mb expanded at install. The target attribute keeps AES-NI to this
 * function: the build sets no global -march (BRIEF §9), and qb_imb_init()
 * refuses CPUs without AES-NI before any key reaches this code.
 */
#include <immintrin.h>

#include "crypto/ipsecmb/imb_aead.h"

__attribute__((target("aes,sse2"))) void
qb_imb_hp_mask(const struct qb_imb_hp *hp, const uint8_t sample[16], uint8_t mask[16])
{
	const __m128i *rk = (const __m128i *)hp->rk;
	__m128i b = _mm_loadu_si128((const __m128i *)sample);
	uint32_t i;

	b = _mm_xor_si128(b, _mm_load_si128(&rk[0]));
	for (i = 1; i < hp->rounds; i++)
		b = _mm_aesenc_si128(b, _mm_load_si128(&rk[i]));
	b = _mm_aesenclast_si128(b, _mm_load_si128(&rk[hp->rounds]));
	_mm_storeu_si128((__m128i *)mask, b);
}
