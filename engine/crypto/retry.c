/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Retry Integrity Tag (RFC 9001 §5.8, RFC 9369 §3.3.3): AES-128-GCM with a
 * fixed key and nonce over an empty plaintext, the AAD being the Retry
 * pseudo-packet (ODCID length, ODCID, the Retry packet without its tag).
 * Always BoringSSL: it is per Retry, not per data packet.
 */
#include <string.h>

#include <openssl/aead.h>
#include <openssl/mem.h>

#include "qburst/crypto.h"

struct qb_retry_secret {
	uint8_t key[16];
	uint8_t nonce[12];
};

static const struct qb_retry_secret qb_retry_v1 = {
        {0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a, 0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8,
         0x4e},
        {0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb},
};

static const struct qb_retry_secret qb_retry_v2 = {
        {0x8f, 0xb4, 0xb0, 0x1b, 0x56, 0xac, 0x48, 0xe2, 0x60, 0xfb, 0xcb, 0xce, 0xad, 0x7c, 0xcc,
         0x92},
        {0xd8, 0x69, 0x69, 0xbc, 0x2d, 0x7c, 0x6d, 0x99, 0x90, 0xef, 0xb0, 0x4a},
};

/* The pseudo-packet is built here: a Retry can be as long as a datagram. */
static _Thread_local uint8_t qb_retry_pseudo[1 + 20 + QB_CRYPTO_RETRY_MAX];

int
qb_crypto_retry_tag(uint32_t version, const uint8_t *odcid, size_t odcid_len, const uint8_t *retry,
                    size_t retry_len, uint8_t *tag)
{
	const struct qb_retry_secret *rs;
	EVP_AEAD_CTX ctx;
	size_t tag_len = 0;
	int ok;

	if (version == QB_CRYPTO_QUIC_V1)
		rs = &qb_retry_v1;
	else if (version == QB_CRYPTO_QUIC_V2)
		rs = &qb_retry_v2;
	else
		return QB_ERR_UNSUPPORTED;
	if (odcid_len > 20 || retry_len > QB_CRYPTO_RETRY_MAX)
		return QB_ERR_ARG;
	qb_retry_pseudo[0] = (uint8_t)odcid_len;
	if (odcid_len > 0)
		memcpy(qb_retry_pseudo + 1, odcid, odcid_len);
	if (retry_len > 0)
		memcpy(qb_retry_pseudo + 1 + odcid_len, retry, retry_len);
	if (!EVP_AEAD_CTX_init(&ctx, EVP_aead_aes_128_gcm(), rs->key, sizeof(rs->key),
	                       QB_CRYPTO_TAG_LEN, NULL))
		return QB_ERR_CRYPTO;
	ok = EVP_AEAD_CTX_seal_scatter(&ctx, NULL, tag, &tag_len, QB_CRYPTO_TAG_LEN, rs->nonce,
	                               sizeof(rs->nonce), NULL, 0, NULL, 0, qb_retry_pseudo,
	                               1 + odcid_len + retry_len);
	EVP_AEAD_CTX_cleanup(&ctx);
	return ok && tag_len == QB_CRYPTO_TAG_LEN ? 0 : QB_ERR_CRYPTO;
}

int
qb_crypto_retry_verify(uint32_t version, const uint8_t *odcid, size_t odcid_len, const uint8_t *pkt,
                       size_t pkt_len)
{
	uint8_t tag[QB_CRYPTO_TAG_LEN];
	int rc;

	if (pkt_len < QB_CRYPTO_TAG_LEN)
		return QB_ERR_TRUNCATED;
	rc = qb_crypto_retry_tag(version, odcid, odcid_len, pkt, pkt_len - QB_CRYPTO_TAG_LEN, tag);
	if (rc != 0)
		return rc;
	/* Constant time, as any tag comparison. */
	return CRYPTO_memcmp(tag, pkt + pkt_len - QB_CRYPTO_TAG_LEN, QB_CRYPTO_TAG_LEN) == 0
	               ? 0
	               : QB_ERR_CRYPTO;
}
