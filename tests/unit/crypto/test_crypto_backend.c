/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The backend registry and default selection, with a stand-in second
 * backend that ciphers through BoringSSL but, like ipsec-mb, lacks
 * ChaCha20-Poly1305 (so the per-key fallback is exercised).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "crypto/aead_backend.h"
#include "qburst/crypto.h"

static int fake_seals, fake_opens;

static int
fake_init(struct qb_crypto_key *key, const uint8_t *aead_key, const uint8_t *hp_key)
{
	if (key->alg == QB_AEAD_CHACHA20POLY1305)
		return QB_ERR_UNSUPPORTED;
	return qb_aead_boringssl_ops.init(key, aead_key, hp_key);
}

static int
fake_seal(const struct qb_crypto_key *key, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
          uint8_t *buf, size_t len)
{
	fake_seals++;
	return qb_aead_boringssl_ops.seal(key, nonce, aad, aad_len, buf, len);
}

static int
fake_open(const struct qb_crypto_key *key, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
          uint8_t *buf, size_t len)
{
	fake_opens++;
	return qb_aead_boringssl_ops.open(key, nonce, aad, aad_len, buf, len);
}

static const struct qb_aead_ops fake_ops = {
        .id = QB_CRYPTO_IPSECMB,
        .name = "ipsecmb",
        .init = fake_init,
        .clear = NULL,
        .seal = fake_seal,
        .open = fake_open,
        .hp_mask = NULL, /* set below: must be non-NULL to register */
};

static void
fake_hp(const struct qb_crypto_key *key, const uint8_t *sample, uint8_t *mask)
{
	qb_aead_boringssl_ops.hp_mask(key, sample, mask);
}

Test(crypto_backend, boringssl_is_the_default)
{
	cr_assert_eq(qb_crypto_default_backend(), QB_CRYPTO_BORINGSSL);
	cr_assert(qb_crypto_backend_available(QB_CRYPTO_BORINGSSL));
	cr_assert(!qb_crypto_backend_available(QB_CRYPTO_AUTO));
	cr_assert_str_eq(qb_crypto_backend_name(QB_CRYPTO_BORINGSSL), "boringssl");
	cr_assert_str_eq(qb_crypto_backend_name(QB_CRYPTO_IPSECMB), "ipsecmb");
	cr_assert_str_eq(qb_crypto_backend_name(QB_CRYPTO_AUTO), "auto");
	cr_assert_str_eq(qb_crypto_backend_name((enum qb_crypto_backend)9), "unknown");
	cr_assert_eq(qb_crypto_set_default_backend((enum qb_crypto_backend)9), QB_ERR_ARG);
	/* Nothing registered the fast backend in this process. */
	cr_assert(!qb_crypto_backend_available(QB_CRYPTO_IPSECMB));
	cr_assert_eq(qb_crypto_set_default_backend(QB_CRYPTO_IPSECMB), QB_ERR_UNSUPPORTED);
	cr_assert_eq(qb_crypto_default_backend(), QB_CRYPTO_BORINGSSL);
	cr_assert_eq(qb_crypto_set_default_backend(QB_CRYPTO_AUTO), 0);
	cr_assert_eq(qb_crypto_default_backend(), QB_CRYPTO_BORINGSSL);
}

Test(crypto_backend, registered_backend_is_chosen_with_fallback)
{
	struct qb_aead_ops ops = fake_ops;
	uint8_t secret[48], pkt[128];
	struct qb_crypto_key aes, cc, forced;
	struct qb_crypto_hdr hdr;

	/* Incomplete tables and mismatched ids are refused. */
	cr_assert_eq(qb_aead_backend_register(QB_CRYPTO_IPSECMB, &ops), QB_ERR_ARG);
	ops.hp_mask = fake_hp;
	cr_assert_eq(qb_aead_backend_register(QB_CRYPTO_BORINGSSL, &ops), QB_ERR_ARG);
	cr_assert_eq(qb_aead_backend_register(QB_CRYPTO_AUTO, &ops), QB_ERR_ARG);
	cr_assert_eq(qb_aead_backend_register(QB_CRYPTO_IPSECMB, &ops), 0);
	cr_assert_eq(qb_aead_backend_get(QB_CRYPTO_IPSECMB), &ops);

	cr_assert_eq(qb_crypto_set_default_backend(QB_CRYPTO_AUTO), 0);
	cr_assert_eq(qb_crypto_default_backend(), QB_CRYPTO_IPSECMB);

	memset(secret, 7, sizeof(secret));
	cr_assert_eq(qb_crypto_key_init(&aes, QB_AEAD_AES256GCM, QB_CRYPTO_QUIC_V1, secret, 48,
	                                QB_CRYPTO_AUTO),
	             0);
	cr_assert_eq(qb_crypto_key_backend(&aes), QB_CRYPTO_IPSECMB);
	cr_assert_eq(qb_crypto_key_init(&cc, QB_AEAD_CHACHA20POLY1305, QB_CRYPTO_QUIC_V1, secret,
	                                32, QB_CRYPTO_AUTO),
	             0);
	cr_assert_eq(qb_crypto_key_backend(&cc), QB_CRYPTO_BORINGSSL);
	cr_assert_eq(qb_crypto_key_init(&forced, QB_AEAD_AES256GCM, QB_CRYPTO_QUIC_V1, secret, 48,
	                                QB_CRYPTO_BORINGSSL),
	             0);
	cr_assert_eq(qb_crypto_key_backend(&forced), QB_CRYPTO_BORINGSSL);

	/* Per-packet calls go through the key's own backend. */
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x40;
	int n = qb_crypto_protect(&aes, pkt, 9, 1, 5, 40);
	cr_assert_eq(fake_seals, 1);
	cr_assert_eq(qb_crypto_unprotect(&forced, pkt, (size_t)n, 9, 4, &hdr), 0);
	cr_assert_eq(fake_opens, 0);
	cr_assert_eq(qb_crypto_protect(&cc, pkt, 9, 1, 5, 40), n);
	cr_assert_eq(fake_seals, 1);

	/* A key update stays on its backend. */
	struct qb_crypto_key next;
	cr_assert_eq(qb_crypto_key_update(&next, &aes), 0);
	cr_assert_eq(qb_crypto_key_backend(&next), QB_CRYPTO_IPSECMB);

	/* Unregistering reverts the default. */
	cr_assert_eq(qb_aead_backend_register(QB_CRYPTO_IPSECMB, NULL), 0);
	cr_assert_eq(qb_crypto_default_backend(), QB_CRYPTO_BORINGSSL);
	cr_assert_eq(qb_crypto_key_init(&forced, QB_AEAD_AES128GCM, QB_CRYPTO_QUIC_V1, secret, 32,
	                                QB_CRYPTO_IPSECMB),
	             QB_ERR_UNSUPPORTED);
	qb_crypto_key_clear(&aes);
	qb_crypto_key_clear(&cc);
	qb_crypto_key_clear(&next);
	cr_assert_eq(qb_crypto_key_backend(&aes), QB_CRYPTO_AUTO);
}
