/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_CRYPTO_AEAD_BACKEND_H
#define QB_CRYPTO_AEAD_BACKEND_H

/*
 * The contract between engine/crypto's packet protection (qburst/crypto.h)
 * and an AEAD backend. A backend fills key->state (state_size bytes, at most
 * QB_CRYPTO_STATE_SIZE, 16-byte aligned) in init() and reads it in the
 * per-packet calls; it must not touch key->state beyond state_size.
 * The generic code derives keys, builds nonces (iv XOR pn), applies the
 * header-protection mask and restores headers; a backend only ciphers.
 *
 * Registration: BoringSSL's table is built in. Another backend (ipsec-mb,
 * engine/crypto/ipsecmb/, compiled when QB_HAVE_IPSECMB is defined) probes
 * the library and CPU at start-up and, when usable, calls
 * qb_aead_backend_register(QB_CRYPTO_IPSECMB, &its_ops); then the app calls
 * qb_crypto_set_default_backend(). Both happen before workers start.
 */

#include <stddef.h>
#include <stdint.h>

#include "qburst/crypto.h"

struct qb_aead_ops {
	enum qb_crypto_backend id;
	const char *name; /* as qb_crypto_backend_name() */
	/* Bytes of key->state this backend uses (<= QB_CRYPTO_STATE_SIZE):
	 * a key from qb_crypto_key_new() has only that much after its header.
	 * 0 means all of QB_CRYPTO_STATE_SIZE. */
	size_t state_size;

	/*
	 * Expand the AEAD key (key->key_len bytes) and the header-protection
	 * key (same length) for key->alg into key->state. key->iv, alg,
	 * key_len and version are already set. Returns 0, QB_ERR_UNSUPPORTED
	 * when this backend lacks key->alg (the caller then falls back to
	 * BoringSSL) or QB_ERR_CRYPTO.
	 */
	int (*init)(struct qb_crypto_key *key, const uint8_t *aead_key, const uint8_t *hp_key);

	/* Release anything init() acquired (the caller wipes key->state). */
	void (*clear)(struct qb_crypto_key *key);

	/*
	 * Encrypt len bytes at buf in place and write the 16-byte tag at
	 * buf + len. nonce is QB_CRYPTO_IV_LEN bytes, aad is aad_len bytes
	 * and does not overlap [buf, buf + len + 16). Returns 0 or
	 * QB_ERR_CRYPTO. No allocation, lock or syscall.
	 */
	int (*seal)(const struct qb_crypto_key *key, const uint8_t *nonce, const uint8_t *aad,
	            size_t aad_len, uint8_t *buf, size_t len);

	/*
	 * Optional (NULL: the generic code copies src after the head and calls
	 * seal). Seal a plaintext in two pieces: head_len bytes at buf, then
	 * src_len bytes at src (not overlapping buf's head_len + src_len + 16
	 * bytes). Writes the ciphertext of both, contiguous, at buf, then the
	 * tag: exactly what seal() writes on the two pieces copied together.
	 * Returns 0 or QB_ERR_CRYPTO. No allocation, lock or syscall.
	 */
	int (*seal_from)(const struct qb_crypto_key *key, const uint8_t *nonce, const uint8_t *aad,
	                 size_t aad_len, uint8_t *buf, size_t head_len, const uint8_t *src,
	                 size_t src_len);

	/*
	 * Optional (NULL: qb_crypto_protect_gap copies, then seals in place).
	 * Encrypt len bytes from in to out (the two do not overlap) and write
	 * the tag at out + len: one-shot, as seal() but out of place. Returns
	 * 0 or QB_ERR_CRYPTO. No allocation, lock or syscall.
	 */
	int (*seal_to)(const struct qb_crypto_key *key, const uint8_t *nonce, const uint8_t *aad,
	               size_t aad_len, uint8_t *out, const uint8_t *in, size_t len);

	/*
	 * Optional (NULL: seal_to, then hp_mask). seal_to(), then the
	 * header-protection mask of the 16-byte sample at sample (read after
	 * the seal, which may have just written it) into mask (16 bytes
	 * written): the per-packet fast path (qb_crypto_protect_gap) in one
	 * call. Returns 0 or QB_ERR_CRYPTO. No allocation, lock or syscall.
	 */
	int (*seal_to_hp)(const struct qb_crypto_key *key, const uint8_t *nonce, const uint8_t *aad,
	                  size_t aad_len, uint8_t *out, const uint8_t *in, size_t len,
	                  const uint8_t *sample, uint8_t *mask);

	/*
	 * Decrypt len bytes at buf in place, the 16-byte tag following them
	 * at buf + len. Returns 0 on success. On failure returns QB_ERR_CRYPTO
	 * and [buf, buf + len + 16) MUST hold exactly what it held before the
	 * call (QUIC needs the datagram intact: RFC 9000 §10.3.1 checks the
	 * stateless-reset token after a failed open).
	 */
	int (*open)(const struct qb_crypto_key *key, const uint8_t *nonce, const uint8_t *aad,
	            size_t aad_len, uint8_t *buf, size_t len);

	/*
	 * Header-protection mask (RFC 9001 §5.4.3 AES-ECB, §5.4.4 ChaCha20):
	 * write the first QB_CRYPTO_HP_MASK_LEN bytes of the mask of the
	 * 16-byte sample to mask (which may be written up to 16 bytes).
	 */
	void (*hp_mask)(const struct qb_crypto_key *key, const uint8_t *sample, uint8_t *mask);
};

/* BoringSSL: every enum qb_aead_alg (engine/crypto/aead_boringssl.c). */
extern const struct qb_aead_ops qb_aead_boringssl_ops;

/*
 * Register ops as the implementation of backend id (not QB_CRYPTO_AUTO,
 * not QB_CRYPTO_BORINGSSL). ops->id must equal id. NULL unregisters (the
 * default falls back to BoringSSL if it was id). Returns 0 or QB_ERR_ARG.
 * Not thread-safe: call at start-up.
 */
int qb_aead_backend_register(enum qb_crypto_backend id, const struct qb_aead_ops *ops);

/* The ops of a backend id, or NULL when it is not registered (or AUTO). */
const struct qb_aead_ops *qb_aead_backend_get(enum qb_crypto_backend id);

/* Typed access to the backend's state area of a key. */
static inline void *
qb_aead_state(struct qb_crypto_key *key)
{
	return key->state;
}

static inline const void *
qb_aead_state_const(const struct qb_crypto_key *key)
{
	return key->state;
}

#endif
