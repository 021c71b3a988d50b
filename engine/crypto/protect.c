/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Whole-packet protection (RFC 9001 §5.3, §5.4): the per-packet path. The
 * backend ciphers; this file builds the nonce, applies and removes header
 * protection, decodes the packet number and guarantees that a failed
 * unprotect leaves the packet exactly as received.
 */
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "crypto/aead_backend.h"
#include "qburst/varint.h"

/* The most head bytes qb_crypto_protect_gap borrows (frame headers). */

/*
 * nonce = iv XOR the packet number left-padded to 12 bytes (RFC 9001 §5.3).
 * The pn only reaches the last 8 bytes. Built in two registers from the
 * key's IV and written with one 16-byte store (nonce has 16 bytes of room):
 * the backend reads it back at once, and a load spanning several smaller
 * recent stores cannot be forwarded from them (it waits for them to reach
 * the cache, which cost ~5 ns per packet when this copied then XORed).
 */
static inline void
qb_nonce(uint8_t nonce[16], const uint8_t *iv, uint64_t pn)
{
	uint64_t lo, hi = 0, be;

	memcpy(&lo, iv, 8);
	memcpy(&hi, iv + 8, 4);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	be = __builtin_bswap64(pn); /* its bytes in memory order: nonce[4..12) */
	lo ^= be << 32;
	hi ^= be >> 32;
#else
	be = pn;
	lo ^= be >> 32;
	hi ^= be << 32;
#endif
#ifdef __SSE2__
	_mm_storeu_si128((__m128i *)nonce, _mm_set_epi64x((long long)hi, (long long)lo));
#else
	memcpy(nonce, &lo, 8);
	memcpy(nonce + 8, &hi, 8);
#endif
}

/* Header protection covers the low 4 bits of a long header's first byte
 * and the low 5 of a short header's (RFC 9001 §5.4.1). */
static inline uint8_t
qb_first_byte_mask(uint8_t first)
{
	return (first & 0x80) ? 0x0f : 0x1f;
}

/* Checks a protect call's arguments and writes the pn bytes (big endian). */
static inline int
qb_protect_begin(const struct qb_crypto_key *key, uint8_t *pkt, size_t pn_offset, size_t pn_len,
                 uint64_t pn, size_t payload_len)
{
	uint8_t *pnp = pkt + pn_offset;

	/* The sample starts 4 bytes after the pn and needs 16 bytes, tag
	 * included: pn_len + payload_len >= 4 (RFC 9001 §5.4.2). The first
	 * byte's pn-length bits must agree with pn_len. */
	if (key->ops == NULL || pn_len < 1 || pn_len > 4 || pn_len + payload_len < 4 ||
	    pn_offset < 1 || (size_t)(pkt[0] & 0x03) + 1 != pn_len)
		return QB_ERR_ARG;
	switch (pn_len) {
	case 4:
		*pnp++ = (uint8_t)(pn >> 24);
		/* fall through */
	case 3:
		*pnp++ = (uint8_t)(pn >> 16);
		/* fall through */
	case 2:
		*pnp++ = (uint8_t)(pn >> 8);
		/* fall through */
	default:
		*pnp = (uint8_t)pn;
	}
	return 0;
}

/*
 * Applies a header-protection mask to a sealed packet (RFC 9001 §5.4.1).
 * The pn bytes are masked with one 4-byte XOR whose bytes past pn_len are
 * zero: the 4 bytes after pn_offset are inside the packet (the sample
 * starts there), and those past the pn are left as they are.
 */
static inline void
qb_apply_mask(uint8_t *pkt, size_t pn_offset, size_t pn_len, const uint8_t *mask)
{
	uint8_t *pnp = pkt + pn_offset;
	uint32_t m, v;

	pkt[0] ^= mask[0] & qb_first_byte_mask(pkt[0]);
	memcpy(&m, mask + 1, 4);
	memcpy(&v, pnp, 4);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	m &= UINT32_MAX >> (8 * (4 - pn_len)); /* the first pn_len bytes in memory */
#else
	m &= UINT32_MAX << (8 * (4 - pn_len));
#endif
	v ^= m;
	memcpy(pnp, &v, 4);
}

/* Header protection of a sealed packet (RFC 9001 §5.4.1). */
static inline void
qb_protect_header(const struct qb_crypto_key *key, uint8_t *pkt, size_t pn_offset, size_t pn_len)
{
	uint8_t mask[QB_CRYPTO_SAMPLE_LEN];

	key->ops->hp_mask(key, pkt + pn_offset + 4, mask);
	qb_apply_mask(pkt, pn_offset, pn_len, mask);
}

int
qb_crypto_protect(const struct qb_crypto_key *key, uint8_t *pkt, size_t pn_offset, size_t pn_len,
                  uint64_t pn, size_t payload_len)
{
	size_t hdr_len = pn_offset + pn_len;
	uint8_t nonce[16];
	int rc = qb_protect_begin(key, pkt, pn_offset, pn_len, pn, payload_len);

	if (rc != 0)
		return rc;
	qb_nonce(nonce, key->iv, pn);
	if (key->ops->seal(key, nonce, pkt, hdr_len, pkt + hdr_len, payload_len) != 0)
		return QB_ERR_CRYPTO;
	qb_protect_header(key, pkt, pn_offset, pn_len);
	return (int)(hdr_len + payload_len + QB_CRYPTO_TAG_LEN);
}

int
qb_crypto_protect_from(const struct qb_crypto_key *key, uint8_t *pkt, size_t pn_offset,
                       size_t pn_len, uint64_t pn, size_t head_len, const uint8_t *src,
                       size_t src_len)
{
	size_t hdr_len = pn_offset + pn_len;
	uint8_t nonce[16];
	uint8_t *payload = pkt + hdr_len;
	int rc = qb_protect_begin(key, pkt, pn_offset, pn_len, pn, head_len + src_len);

	if (rc != 0)
		return rc;
	qb_nonce(nonce, key->iv, pn);
	if (key->ops->seal_from != NULL && src_len != 0) {
		rc = key->ops->seal_from(key, nonce, pkt, hdr_len, payload, head_len, src, src_len);
	} else {
		/* A backend without a two-piece seal: copy, then seal in place. */
		if (src_len != 0)
			memcpy(payload + head_len, src, src_len);
		rc = key->ops->seal(key, nonce, pkt, hdr_len, payload, head_len + src_len);
	}
	if (rc != 0)
		return QB_ERR_CRYPTO;
	qb_protect_header(key, pkt, pn_offset, pn_len);
	return (int)(hdr_len + head_len + src_len + QB_CRYPTO_TAG_LEN);
}

/*
 * Copies n <= QB_CRYPTO_GAP_MAX bytes (a few frame-header bytes, usually
 * 2-10) with fixed-size overlapping moves instead of a call to memcpy:
 * this runs three times per packet. Reads and writes stay within [0, n).
 */
static inline void
qb_copy_small(uint8_t *d, const uint8_t *s, size_t n)
{
	if (n >= 8) {
		uint64_t x;
		size_t i;

		for (i = 0; i + 8 < n; i += 8) {
			memcpy(&x, s + i, 8);
			memcpy(d + i, &x, 8);
		}
		memcpy(&x, s + n - 8, 8);
		memcpy(d + n - 8, &x, 8);
	} else if (n >= 4) {
		uint32_t a, b;

		memcpy(&a, s, 4);
		memcpy(&b, s + n - 4, 4);
		memcpy(d, &a, 4);
		memcpy(d + n - 4, &b, 4);
	} else {
		for (size_t i = 0; i < n; i++)
			d[i] = s[i];
	}
}

int
qb_crypto_protect_gap(const struct qb_crypto_key *key, uint8_t *pkt, size_t pn_offset,
                      size_t pn_len, uint64_t pn, size_t head_len, uint8_t *src, size_t src_len)
{
	size_t hdr_len = pn_offset + pn_len;
	uint8_t nonce[16];
	uint8_t saved[QB_CRYPTO_GAP_MAX];
	uint8_t *payload = pkt + hdr_len;
	int rc;

	if (head_len > sizeof(saved))
		return QB_ERR_ARG;
	if (key->ops == NULL || key->ops->seal_to == NULL || head_len == 0)
		return qb_crypto_protect_from(key, pkt, pn_offset, pn_len, pn, head_len, src,
		                              src_len);
	rc = qb_protect_begin(key, pkt, pn_offset, pn_len, pn, head_len + src_len);
	if (rc != 0)
		return rc;
	qb_nonce(nonce, key->iv, pn);
	/* Borrow the gap: the head goes right before the data, then back. */
	qb_copy_small(saved, src - head_len, head_len);
	qb_copy_small(src - head_len, payload, head_len);
	if (key->ops->seal_to_hp != NULL) {
		/* Seal and mask in one backend call (RFC 9001 §5.4.1, §5.4.2). */
		uint8_t mask[QB_CRYPTO_SAMPLE_LEN];

		rc = key->ops->seal_to_hp(key, nonce, pkt, hdr_len, payload, src - head_len,
		                          head_len + src_len, pkt + pn_offset + 4, mask);
		qb_copy_small(src - head_len, saved, head_len);
		if (rc != 0)
			return QB_ERR_CRYPTO;
		qb_apply_mask(pkt, pn_offset, pn_len, mask);
		return (int)(hdr_len + head_len + src_len + QB_CRYPTO_TAG_LEN);
	}
	rc = key->ops->seal_to(key, nonce, pkt, hdr_len, payload, src - head_len,
	                       head_len + src_len);
	qb_copy_small(src - head_len, saved, head_len);
	if (rc != 0)
		return QB_ERR_CRYPTO;
	qb_protect_header(key, pkt, pn_offset, pn_len);
	return (int)(hdr_len + head_len + src_len + QB_CRYPTO_TAG_LEN);
}

int
qb_crypto_unprotect_header(const struct qb_crypto_key *key, uint8_t *pkt, size_t pkt_len,
                           size_t pn_offset, uint64_t largest_pn, struct qb_crypto_hdr *hdr)
{
	uint8_t mask[QB_CRYPTO_SAMPLE_LEN];
	uint8_t *pnp = pkt + pn_offset;
	uint64_t truncated = 0;
	uint8_t first;
	size_t pn_len;

	if (key->ops == NULL || pn_offset < 1)
		return QB_ERR_ARG;
	/* The sample is taken as if the pn were 4 bytes long; with the tag
	 * it must fit (RFC 9001 §5.4.2). That also bounds every pn byte. */
	if (pkt_len < pn_offset || pkt_len - pn_offset < 4 + QB_CRYPTO_SAMPLE_LEN)
		return QB_ERR_TRUNCATED;
	key->ops->hp_mask(key, pnp + 4, mask);
	hdr->protected_bytes[0] = pkt[0];
	memcpy(hdr->protected_bytes + 1, pnp, 4);
	first = pkt[0] ^ (mask[0] & qb_first_byte_mask(pkt[0]));
	pn_len = (size_t)(first & 0x03) + 1;
	pkt[0] = first;
	for (size_t i = 0; i < pn_len; i++) {
		pnp[i] ^= mask[1 + i];
		truncated = truncated << 8 | pnp[i];
	}
	hdr->first_byte = first;
	hdr->pn_offset = pn_offset;
	hdr->pn_len = pn_len;
	hdr->pn = qb_pn_decode(largest_pn, truncated, pn_len); /* RFC 9000 §A.3 */
	/* pn_offset + 20 <= pkt_len, so this cannot underflow. */
	hdr->payload_len = pkt_len - pn_offset - pn_len - QB_CRYPTO_TAG_LEN;
	return 0;
}

void
qb_crypto_unprotect_restore(uint8_t *pkt, const struct qb_crypto_hdr *hdr)
{
	pkt[0] = hdr->protected_bytes[0];
	memcpy(pkt + hdr->pn_offset, hdr->protected_bytes + 1, hdr->pn_len);
}

int
qb_crypto_unprotect_payload(const struct qb_crypto_key *key, uint8_t *pkt,
                            struct qb_crypto_hdr *hdr)
{
	size_t hdr_len = hdr->pn_offset + hdr->pn_len;
	uint8_t nonce[16];

	if (key->ops == NULL) {
		qb_crypto_unprotect_restore(pkt, hdr);
		return QB_ERR_ARG;
	}
	qb_nonce(nonce, key->iv, hdr->pn);
	if (key->ops->open(key, nonce, pkt, hdr_len, pkt + hdr_len, hdr->payload_len) != 0) {
		/* The backend left the payload intact; put the header back. */
		qb_crypto_unprotect_restore(pkt, hdr);
		return QB_ERR_CRYPTO;
	}
	return 0;
}

int
qb_crypto_unprotect(const struct qb_crypto_key *key, uint8_t *pkt, size_t pkt_len, size_t pn_offset,
                    uint64_t largest_pn, struct qb_crypto_hdr *hdr)
{
	int rc = qb_crypto_unprotect_header(key, pkt, pkt_len, pn_offset, largest_pn, hdr);

	if (rc != 0)
		return rc;
	return qb_crypto_unprotect_payload(key, pkt, hdr);
}

void
qb_crypto_hp_mask(const struct qb_crypto_key *key, const uint8_t *sample, uint8_t *mask)
{
	uint8_t full[QB_CRYPTO_SAMPLE_LEN];

	key->ops->hp_mask(key, sample, full);
	memcpy(mask, full, QB_CRYPTO_HP_MASK_LEN);
}
