/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The BoringSSL backend: EVP_AEAD for the three AEADs, AES_encrypt and
 * CRYPTO_chacha_20 for header protection (RFC 9001 §5.4). Every context is
 * set up once per key in init(); the per-packet calls allocate nothing.
 */
#include <string.h>

#include <openssl/aead.h>
#include <openssl/aes.h>
#include <openssl/chacha.h>
#include <openssl/mem.h>

#include "crypto/aead_backend.h"

struct qb_bssl_state {
	EVP_AEAD_CTX aead;
	union {
		AES_KEY aes;        /* AES-ECB header protection */
		uint8_t chacha[32]; /* ChaCha20 header protection key */
	} hp;
};

_Static_assert(sizeof(struct qb_bssl_state) <= QB_CRYPTO_STATE_SIZE,
               "BoringSSL state does not fit in struct qb_crypto_key");

/*
 * EVP_AEAD_CTX_open zeroes its output when the tag does not match, which
 * would break the promise that a failed open leaves the packet as received
 * (aead_backend.h). So open first copies the ciphertext here, per thread,
 * and puts it back on failure. Measured, this costs less than decrypting
 * out of place into the scratch and copying the plaintext back.
 */
static _Thread_local uint8_t qb_bssl_scratch[QB_CRYPTO_RETRY_MAX];

static const EVP_AEAD *
qb_bssl_aead(enum qb_aead_alg alg)
{
	switch (alg) {
	case QB_AEAD_AES128GCM:
		return EVP_aead_aes_128_gcm();
	case QB_AEAD_AES256GCM:
		return EVP_aead_aes_256_gcm();
	case QB_AEAD_CHACHA20POLY1305:
		return EVP_aead_chacha20_poly1305();
	}
	return NULL;
}

static int
qb_bssl_init(struct qb_crypto_key *key, const uint8_t *aead_key, const uint8_t *hp_key)
{
	struct qb_bssl_state *st = qb_aead_state(key);
	const EVP_AEAD *aead = qb_bssl_aead(key->alg);

	if (aead == NULL || EVP_AEAD_key_length(aead) != key->key_len)
		return QB_ERR_UNSUPPORTED;
	if (!EVP_AEAD_CTX_init(&st->aead, aead, aead_key, key->key_len, QB_CRYPTO_TAG_LEN, NULL))
		return QB_ERR_CRYPTO;
	if (key->alg == QB_AEAD_CHACHA20POLY1305) {
		memcpy(st->hp.chacha, hp_key, 32);
	} else if (AES_set_encrypt_key(hp_key, key->key_len * 8, &st->hp.aes) != 0) {
		EVP_AEAD_CTX_cleanup(&st->aead);
		return QB_ERR_CRYPTO;
	}
	return 0;
}

static void
qb_bssl_clear(struct qb_crypto_key *key)
{
	struct qb_bssl_state *st = qb_aead_state(key);

	EVP_AEAD_CTX_cleanup(&st->aead);
}

static int
qb_bssl_seal(const struct qb_crypto_key *key, const uint8_t *nonce, const uint8_t *aad,
             size_t aad_len, uint8_t *buf, size_t len)
{
	const struct qb_bssl_state *st = qb_aead_state_const(key);
	size_t tag_len;

	/* The scatter form writes the tag straight after the ciphertext with
	 * no length bookkeeping beyond the tag. */
	if (!EVP_AEAD_CTX_seal_scatter(&st->aead, buf, buf + len, &tag_len, QB_CRYPTO_TAG_LEN,
	                               nonce, QB_CRYPTO_IV_LEN, buf, len, NULL, 0, aad, aad_len))
		return QB_ERR_CRYPTO;
	return 0;
}

/*
 * Two-piece seal: BoringSSL's scatter form takes a second plaintext
 * ("extra_in") whose ciphertext it writes before the tag at out_tag, so
 * the head is sealed in place and src straight into the packet after it.
 */
static int
qb_bssl_seal_from(const struct qb_crypto_key *key, const uint8_t *nonce, const uint8_t *aad,
                  size_t aad_len, uint8_t *buf, size_t head_len, const uint8_t *src, size_t src_len)
{
	const struct qb_bssl_state *st = qb_aead_state_const(key);
	size_t tag_len;

	if (!EVP_AEAD_CTX_seal_scatter(&st->aead, buf, buf + head_len, &tag_len,
	                               src_len + QB_CRYPTO_TAG_LEN, nonce, QB_CRYPTO_IV_LEN, buf,
	                               head_len, src, src_len, aad, aad_len))
		return QB_ERR_CRYPTO;
	return 0;
}

static int
qb_bssl_seal_to(const struct qb_crypto_key *key, const uint8_t *nonce, const uint8_t *aad,
                size_t aad_len, uint8_t *out, const uint8_t *in, size_t len)
{
	const struct qb_bssl_state *st = qb_aead_state_const(key);
	size_t tag_len;

	if (!EVP_AEAD_CTX_seal_scatter(&st->aead, out, out + len, &tag_len, QB_CRYPTO_TAG_LEN,
	                               nonce, QB_CRYPTO_IV_LEN, in, len, NULL, 0, aad, aad_len))
		return QB_ERR_CRYPTO;
	return 0;
}

static int
qb_bssl_open(const struct qb_crypto_key *key, const uint8_t *nonce, const uint8_t *aad,
             size_t aad_len, uint8_t *buf, size_t len)
{
	const struct qb_bssl_state *st = qb_aead_state_const(key);
	uint8_t *backup = qb_bssl_scratch;

	if (len > sizeof(qb_bssl_scratch))
		return QB_ERR_CRYPTO;
	memcpy(backup, buf, len);
	if (!EVP_AEAD_CTX_open_gather(&st->aead, buf, nonce, QB_CRYPTO_IV_LEN, buf, len, buf + len,
	                              QB_CRYPTO_TAG_LEN, aad, aad_len)) {
		memcpy(buf, backup, len);
		return QB_ERR_CRYPTO;
	}
	return 0;
}

static void
qb_bssl_hp_mask(const struct qb_crypto_key *key, const uint8_t *sample, uint8_t *mask)
{
	const struct qb_bssl_state *st = qb_aead_state_const(key);

	if (key->alg == QB_AEAD_CHACHA20POLY1305) {
		/* RFC 9001 §5.4.4: counter = sample[0..3] little-endian,
		 * nonce = sample[4..15]; mask = ChaCha20 of five zero bytes. */
		static const uint8_t zeros[QB_CRYPTO_HP_MASK_LEN];
		uint32_t counter = (uint32_t)sample[0] | (uint32_t)sample[1] << 8 |
		                   (uint32_t)sample[2] << 16 | (uint32_t)sample[3] << 24;
		CRYPTO_chacha_20(mask, zeros, QB_CRYPTO_HP_MASK_LEN, st->hp.chacha, sample + 4,
		                 counter);
	} else {
		/* RFC 9001 §5.4.3: mask = AES-ECB(hp_key, sample). */
		AES_encrypt(sample, mask, &st->hp.aes);
	}
}

const struct qb_aead_ops qb_aead_boringssl_ops = {
        .id = QB_CRYPTO_BORINGSSL,
        .name = "boringssl",
        .state_size = sizeof(struct qb_bssl_state),
        .init = qb_bssl_init,
        .clear = qb_bssl_clear,
        .seal = qb_bssl_seal,
        .seal_from = qb_bssl_seal_from,
        .seal_to = qb_bssl_seal_to,
        .open = qb_bssl_open,
        .hp_mask = qb_bssl_hp_mask,
};
