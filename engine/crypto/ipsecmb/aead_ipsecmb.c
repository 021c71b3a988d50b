/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ipsec-mb backend's ops table (engine/crypto/aead_backend.h): AES-128-
 * GCM and AES-256-GCM with keys expanded once at install, AES-NI header
 * protection; ChaCha20-Poly1305 is refused so the generic code keeps it on
 * BoringSSL. The generic code builds nonces and applies masks; these calls
 * only cipher.
 */
#include <string.h>

#include "crypto/aead_backend.h"
#include "crypto/ipsecmb/imb_aead.h"
#include "qburst/crypto_select.h"

/*
 * Lives at the start of key->state: _Alignas(16) there, which is all
 * ipsec-mb needs, and a key copied elsewhere stays usable.
 */
struct qb_imb_state {
	struct qb_imb_gcm gcm;
	struct qb_imb_hp hp;
};

_Static_assert(sizeof(struct qb_imb_state) <= QB_CRYPTO_STATE_SIZE,
               "ipsec-mb state does not fit in struct qb_crypto_key");
_Static_assert(_Alignof(struct qb_imb_state) <= 16, "key->state is only 16-byte aligned");
_Static_assert(QB_CRYPTO_TAG_LEN == QB_IMB_TAG_LEN && QB_CRYPTO_IV_LEN == QB_IMB_IV_LEN,
               "AEAD sizes disagree");

static int
imb_init(struct qb_crypto_key *key, const uint8_t *aead_key, const uint8_t *hp_key)
{
	struct qb_imb_state *st = qb_aead_state(key);

	if (key->alg != QB_AEAD_AES128GCM && key->alg != QB_AEAD_AES256GCM)
		return QB_ERR_UNSUPPORTED;
	if (qb_imb_gcm_init(&st->gcm, aead_key, key->key_len) != 0 ||
	    qb_imb_hp_init(&st->hp, hp_key, key->key_len) != 0) {
		qb_imb_gcm_wipe(&st->gcm);
		return QB_ERR_CRYPTO;
	}
	return 0;
}

static void
imb_clear(struct qb_crypto_key *key)
{
	struct qb_imb_state *st = qb_aead_state(key);

	/* Nothing was acquired; wipe anyway in case the caller does not. */
	qb_imb_gcm_wipe(&st->gcm);
	qb_imb_hp_wipe(&st->hp);
}

static int
imb_seal(const struct qb_crypto_key *key, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
         uint8_t *buf, size_t len)
{
	const struct qb_imb_state *st = qb_aead_state_const(key);

	qb_imb_gcm_seal(&st->gcm, nonce, aad, aad_len, buf, len);
	return 0;
}

/*
 * Up to this many source bytes, copying them behind the head and sealing in
 * place with the one-shot call beats ipsec-mb's incremental calls (init,
 * two updates, finalize): build-rate bench, read-only references (cref),
 * 1200 / 1452-byte packets: 193 -> 183 and 211 -> 208 ns. The copy grows
 * with the size and the calls' cost does not: larger plaintexts take them.
 */
#define IMB_FROM_COPY_MAX 1536

static int
imb_seal_from(const struct qb_crypto_key *key, const uint8_t *nonce, const uint8_t *aad,
              size_t aad_len, uint8_t *buf, size_t head_len, const uint8_t *src, size_t src_len)
{
	const struct qb_imb_state *st = qb_aead_state_const(key);

	if (src_len <= IMB_FROM_COPY_MAX) {
		memcpy(buf + head_len, src, src_len);
		qb_imb_gcm_seal(&st->gcm, nonce, aad, aad_len, buf, head_len + src_len);
	} else {
		qb_imb_gcm_seal_from(&st->gcm, nonce, aad, aad_len, buf, head_len, src, src_len);
	}
	return 0;
}

static int
imb_seal_to(const struct qb_crypto_key *key, const uint8_t *nonce, const uint8_t *aad,
            size_t aad_len, uint8_t *out, const uint8_t *in, size_t len)
{
	const struct qb_imb_state *st = qb_aead_state_const(key);
	struct gcm_context_data ctx;

	/* The one-shot call reads in and writes out: no copy, one pass. */
	st->gcm.enc(&st->gcm.gcm, &ctx, out, in, len, nonce, aad, aad_len, out + len,
	            QB_IMB_TAG_LEN);
	return 0;
}

/*
 * The fast path's seal and header-protection mask in one call: the mask's
 * AES block runs inline on the round keys (no second call through the ops
 * table, no loop over a round count) right after the one-shot seal.
 */
__attribute__((target("aes,sse2"))) static int
imb_seal_to_hp(const struct qb_crypto_key *key, const uint8_t *nonce, const uint8_t *aad,
               size_t aad_len, uint8_t *out, const uint8_t *in, size_t len, const uint8_t *sample,
               uint8_t *mask)
{
	const struct qb_imb_state *st = qb_aead_state_const(key);
	struct gcm_context_data ctx;

	st->gcm.enc(&st->gcm.gcm, &ctx, out, in, len, nonce, aad, aad_len, out + len,
	            QB_IMB_TAG_LEN);
	if (st->hp.rounds == 10)
		qb_imb_hp_mask128(&st->hp, sample, mask);
	else
		qb_imb_hp_mask(&st->hp, sample, mask);
	return 0;
}

static int
imb_open(const struct qb_crypto_key *key, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
         uint8_t *buf, size_t len)
{
	const struct qb_imb_state *st = qb_aead_state_const(key);

	return qb_imb_gcm_open(&st->gcm, nonce, aad, aad_len, buf, len);
}

static void
imb_hp_mask(const struct qb_crypto_key *key, const uint8_t *sample, uint8_t *mask)
{
	const struct qb_imb_state *st = qb_aead_state_const(key);

	qb_imb_hp_mask(&st->hp, sample, mask);
}

const struct qb_aead_ops qb_aead_ipsecmb_ops = {
        .id = QB_CRYPTO_IPSECMB,
        .name = "ipsecmb",
        .state_size = sizeof(struct qb_imb_state),
        .init = imb_init,
        .clear = imb_clear,
        .seal = imb_seal,
        .seal_from = imb_seal_from,
        .seal_to = imb_seal_to,
        .seal_to_hp = imb_seal_to_hp,
        .open = imb_open,
        .hp_mask = imb_hp_mask,
};
