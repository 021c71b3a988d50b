/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The QUIC key schedule on top of TLS 1.3's HKDF-Expand-Label: Initial
 * secrets (RFC 9001 §5.2, RFC 9369 §3.3.1), packet-protection keys from a
 * traffic secret (RFC 9001 §5.1, RFC 9369 §3.3.2) and key update (RFC 9001
 * §6.1). None of this runs per packet.
 *
 * Keys come embedded (the caller's whole struct) or sized (allocated here
 * with just the state their backend uses, see qburst/crypto.h): every write
 * and wipe below covers qb_key_span() bytes, never sizeof beyond a sized
 * key's end.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/digest.h>
#include <openssl/hkdf.h>
#include <openssl/mem.h>

#include "crypto/aead_backend.h"

/* RFC 9001 §5.2 */
static const uint8_t qb_initial_salt_v1[20] = {
        0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
        0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
};

/* RFC 9369 §3.3.1 */
static const uint8_t qb_initial_salt_v2[20] = {
        0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
        0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9,
};

/* The labels that differ between versions (RFC 9369 §3.3.2). */
struct qb_labels {
	const char *key, *iv, *hp, *ku;
};

static const struct qb_labels qb_labels_v1 = {"quic key", "quic iv", "quic hp", "quic ku"};
static const struct qb_labels qb_labels_v2 = {"quicv2 key", "quicv2 iv", "quicv2 hp", "quicv2 ku"};

static const struct qb_labels *
qb_labels_of(uint32_t version)
{
	switch (version) {
	case QB_CRYPTO_QUIC_V1:
		return &qb_labels_v1;
	case QB_CRYPTO_QUIC_V2:
		return &qb_labels_v2;
	}
	return NULL;
}

static const EVP_MD *
qb_md_of(enum qb_aead_alg alg)
{
	return alg == QB_AEAD_AES256GCM ? EVP_sha384() : EVP_sha256();
}

int
qb_crypto_alg_from_cipher_suite(uint16_t suite)
{
	switch (suite) {
	case 0x1301:
		return QB_AEAD_AES128GCM;
	case 0x1302:
		return QB_AEAD_AES256GCM;
	case 0x1303:
		return QB_AEAD_CHACHA20POLY1305;
	}
	return QB_ERR_UNSUPPORTED;
}

size_t
qb_crypto_secret_len(enum qb_aead_alg alg)
{
	return alg == QB_AEAD_AES256GCM ? 48 : 32;
}

static size_t
qb_key_len_of(enum qb_aead_alg alg)
{
	return alg == QB_AEAD_AES128GCM ? 16 : 32;
}

static int
qb_alg_valid(int alg)
{
	return alg == QB_AEAD_AES128GCM || alg == QB_AEAD_AES256GCM ||
	       alg == QB_AEAD_CHACHA20POLY1305;
}

int
qb_crypto_hkdf_expand_label(enum qb_aead_alg alg, const uint8_t *secret, size_t secret_len,
                            const char *label, uint8_t *out, size_t out_len)
{
	/* RFC 8446 §7.1: HkdfLabel = length(2) || label<7..255> || context<0..255>,
	 * the label being "tls13 " || Label; QUIC always uses an empty context. */
	static const char prefix[] = "tls13 ";
	uint8_t info[2 + 1 + 255 + 1];
	size_t label_len = strlen(label);
	size_t full_len = sizeof(prefix) - 1 + label_len;
	size_t n = 0;

	if (out_len > 255 || full_len > 255 || !qb_alg_valid(alg))
		return QB_ERR_ARG;
	info[n++] = (uint8_t)(out_len >> 8);
	info[n++] = (uint8_t)out_len;
	info[n++] = (uint8_t)full_len;
	memcpy(info + n, prefix, sizeof(prefix) - 1);
	n += sizeof(prefix) - 1;
	memcpy(info + n, label, label_len);
	n += label_len;
	info[n++] = 0;
	if (!HKDF_expand(out, out_len, qb_md_of(alg), secret, secret_len, info, n))
		return QB_ERR_CRYPTO;
	return 0;
}

int
qb_crypto_initial_secrets(uint32_t version, const uint8_t *dcid, size_t dcid_len, uint8_t *client,
                          uint8_t *server)
{
	const uint8_t *salt;
	uint8_t initial[QB_CRYPTO_INITIAL_SECRET_LEN];
	size_t initial_len;
	int rc = 0;

	if (version == QB_CRYPTO_QUIC_V1)
		salt = qb_initial_salt_v1;
	else if (version == QB_CRYPTO_QUIC_V2)
		salt = qb_initial_salt_v2;
	else
		return QB_ERR_UNSUPPORTED;
	if (dcid_len > 20)
		return QB_ERR_ARG;
	/* initial_secret = HKDF-Extract(salt, client DCID) with SHA-256. */
	if (!HKDF_extract(initial, &initial_len, EVP_sha256(), dcid, dcid_len, salt, 20))
		return QB_ERR_CRYPTO;
	/* The "client in"/"server in" labels are the same in v2. */
	if (client != NULL)
		rc = qb_crypto_hkdf_expand_label(QB_AEAD_AES128GCM, initial, initial_len,
		                                 "client in", client, QB_CRYPTO_INITIAL_SECRET_LEN);
	if (rc == 0 && server != NULL)
		rc = qb_crypto_hkdf_expand_label(QB_AEAD_AES128GCM, initial, initial_len,
		                                 "server in", server, QB_CRYPTO_INITIAL_SECRET_LEN);
	OPENSSL_cleanse(initial, sizeof(initial));
	return rc;
}

int
qb_crypto_initial_keys(uint32_t version, const uint8_t *dcid, size_t dcid_len,
                       struct qb_crypto_key *client, struct qb_crypto_key *server)
{
	uint8_t cs[QB_CRYPTO_INITIAL_SECRET_LEN], ss[QB_CRYPTO_INITIAL_SECRET_LEN];
	int rc = qb_crypto_initial_secrets(version, dcid, dcid_len, cs, ss);

	if (rc == 0 && client != NULL)
		rc = qb_crypto_key_init(client, QB_AEAD_AES128GCM, version, cs, sizeof(cs),
		                        QB_CRYPTO_AUTO);
	if (rc == 0 && server != NULL) {
		rc = qb_crypto_key_init(server, QB_AEAD_AES128GCM, version, ss, sizeof(ss),
		                        QB_CRYPTO_AUTO);
		if (rc != 0 && client != NULL)
			qb_crypto_key_clear(client);
	}
	OPENSSL_cleanse(cs, sizeof(cs));
	OPENSSL_cleanse(ss, sizeof(ss));
	return rc;
}

#define QB_KEY_HDR offsetof(struct qb_crypto_key, state)

_Static_assert(QB_KEY_HDR % 16 == 0, "key state must stay 16-byte aligned");

/* Bytes of storage behind key: all of it for an embedded key. */
static size_t
qb_key_span(const struct qb_crypto_key *key)
{
	return key->storage != 0 ? key->storage : sizeof(*key);
}

/* State bytes ops uses (0 in its table: all of them). */
static size_t
qb_state_size(const struct qb_aead_ops *ops)
{
	return ops->state_size != 0 ? ops->state_size : QB_CRYPTO_STATE_SIZE;
}

/* Wipe a key that failed to install, keeping what kind of storage it is. */
static void
qb_key_wipe(struct qb_crypto_key *key)
{
	uint16_t storage = key->storage;

	OPENSSL_cleanse(key, qb_key_span(key));
	key->storage = storage;
}

/*
 * Derive key and iv from key->secret into key (whose hp_key is set) and let
 * the backend expand them; fall back to BoringSSL when the backend lacks
 * the algorithm. A sized key was allocated with room for either.
 */
static int
qb_key_install(struct qb_crypto_key *key, const struct qb_labels *labels,
               const struct qb_aead_ops *ops)
{
	uint8_t aead_key[QB_CRYPTO_KEY_MAX];
	int rc;

	rc = qb_crypto_hkdf_expand_label(key->alg, key->secret, key->secret_len, labels->key,
	                                 aead_key, key->key_len);
	if (rc == 0)
		rc = qb_crypto_hkdf_expand_label(key->alg, key->secret, key->secret_len, labels->iv,
		                                 key->iv, QB_CRYPTO_IV_LEN);
	if (rc == 0) {
		rc = ops->init(key, aead_key, key->hp_key);
		if (rc == QB_ERR_UNSUPPORTED && ops != &qb_aead_boringssl_ops) {
			ops = &qb_aead_boringssl_ops;
			rc = ops->init(key, aead_key, key->hp_key);
		}
	}
	OPENSSL_cleanse(aead_key, sizeof(aead_key));
	if (rc != 0) {
		qb_key_wipe(key);
		return rc;
	}
	key->ops = ops;
	return 0;
}

/* The ops a key of `backend` starts with (before any fallback), or NULL. */
static const struct qb_aead_ops *
qb_ops_for(enum qb_crypto_backend backend)
{
	return qb_aead_backend_get(backend == QB_CRYPTO_AUTO ? qb_crypto_default_backend()
	                                                     : backend);
}

/* qb_crypto_key_init() into key, whose storage field says its size. */
static int
qb_key_setup(struct qb_crypto_key *key, uint16_t storage, enum qb_aead_alg alg, uint32_t version,
             const uint8_t *secret, size_t secret_len, const struct qb_aead_ops *ops)
{
	const struct qb_labels *labels = qb_labels_of(version);
	int rc;

	memset(key, 0, QB_KEY_HDR);
	key->storage = storage;
	if (labels == NULL || !qb_alg_valid(alg))
		return QB_ERR_UNSUPPORTED;
	if (secret_len != qb_crypto_secret_len(alg))
		return QB_ERR_ARG;
	if (ops == NULL)
		return QB_ERR_UNSUPPORTED;
	key->alg = (uint8_t)alg;
	key->key_len = (uint8_t)qb_key_len_of(alg);
	key->secret_len = (uint8_t)secret_len;
	key->version = version;
	memcpy(key->secret, secret, secret_len);
	rc = qb_crypto_hkdf_expand_label(alg, secret, secret_len, labels->hp, key->hp_key,
	                                 key->key_len);
	if (rc != 0) {
		qb_key_wipe(key);
		return rc;
	}
	return qb_key_install(key, labels, ops);
}

int
qb_crypto_key_init(struct qb_crypto_key *key, enum qb_aead_alg alg, uint32_t version,
                   const uint8_t *secret, size_t secret_len, enum qb_crypto_backend backend)
{
	return qb_key_setup(key, 0, alg, version, secret, secret_len, qb_ops_for(backend));
}

/* qb_crypto_key_update() into next, whose storage field says its size. */
static int
qb_key_derive_next(struct qb_crypto_key *next, uint16_t storage, const struct qb_crypto_key *cur)
{
	const struct qb_labels *labels;
	int rc;

	labels = qb_labels_of(cur->version);
	memset(next, 0, QB_KEY_HDR);
	next->storage = storage;
	next->alg = cur->alg;
	next->key_len = cur->key_len;
	next->secret_len = cur->secret_len;
	next->version = cur->version;
	/* RFC 9001 §6.1: the header-protection key is not updated. */
	memcpy(next->hp_key, cur->hp_key, sizeof(next->hp_key));
	rc = qb_crypto_hkdf_expand_label(cur->alg, cur->secret, cur->secret_len, labels->ku,
	                                 next->secret, cur->secret_len);
	if (rc != 0) {
		qb_key_wipe(next);
		return rc;
	}
	return qb_key_install(next, labels, cur->ops);
}

int
qb_crypto_key_update(struct qb_crypto_key *next, const struct qb_crypto_key *cur)
{
	if (next == cur)
		return QB_ERR_ARG;
	if (cur->ops == NULL)
		return QB_ERR_STATE;
	return qb_key_derive_next(next, 0, cur);
}

/*
 * Storage for a sized key whose backend starts as ops: its state, or
 * BoringSSL's if that is larger (the fallback for an algorithm ops lacks).
 * Kept out of line so that the compiler, seeing a smaller allocation than
 * sizeof(struct qb_crypto_key), does not reason about the whole struct
 * (UBSan's object-size check would flag every member access).
 */
__attribute__((noinline)) static struct qb_crypto_key *
qb_key_alloc(const struct qb_aead_ops *ops, uint16_t *storage)
{
	size_t st = qb_state_size(ops), bssl = qb_state_size(&qb_aead_boringssl_ops);
	size_t n = QB_KEY_HDR + (st > bssl ? st : bssl);

	n = (n + 15) & ~(size_t)15;
	*storage = (uint16_t)n;
	return aligned_alloc(_Alignof(struct qb_crypto_key), n);
}

int
qb_crypto_key_new(struct qb_crypto_key **out, enum qb_aead_alg alg, uint32_t version,
                  const uint8_t *secret, size_t secret_len, enum qb_crypto_backend backend)
{
	const struct qb_aead_ops *ops = qb_ops_for(backend);
	struct qb_crypto_key *key;
	uint16_t storage;
	int rc;

	*out = NULL;
	if (ops == NULL)
		return QB_ERR_UNSUPPORTED;
	key = qb_key_alloc(ops, &storage);
	if (key == NULL)
		return QB_ERR_NOMEM;
	rc = qb_key_setup(key, storage, alg, version, secret, secret_len, ops);
	if (rc != 0) {
		qb_crypto_key_free(key);
		return rc;
	}
	*out = key;
	return 0;
}

/*
 * Test-only fault injection (tests/unit/conn): when set to n > 0, the n-th
 * qb_crypto_key_new_update() from now fails as if out of memory and the
 * hook turns itself off. Never set outside tests; one load per key update.
 */
extern unsigned qb_crypto_test_fail_key_update;
unsigned qb_crypto_test_fail_key_update;

int
qb_crypto_key_new_update(struct qb_crypto_key **out, const struct qb_crypto_key *cur)
{
	struct qb_crypto_key *next;
	uint16_t storage;
	int rc;

	*out = NULL;
	if (!qb_crypto_key_present(cur))
		return QB_ERR_STATE;
	if (qb_crypto_test_fail_key_update != 0 && --qb_crypto_test_fail_key_update == 0)
		return QB_ERR_NOMEM;
	next = qb_key_alloc(cur->ops, &storage);
	if (next == NULL)
		return QB_ERR_NOMEM;
	rc = qb_key_derive_next(next, storage, cur);
	if (rc != 0) {
		qb_crypto_key_free(next);
		return rc;
	}
	*out = next;
	return 0;
}

int
qb_crypto_initial_keys_new(uint32_t version, const uint8_t *dcid, size_t dcid_len,
                           struct qb_crypto_key **client, struct qb_crypto_key **server)
{
	uint8_t cs[QB_CRYPTO_INITIAL_SECRET_LEN], ss[QB_CRYPTO_INITIAL_SECRET_LEN];
	struct qb_crypto_key *c = NULL, *s = NULL;
	int rc = qb_crypto_initial_secrets(version, dcid, dcid_len, cs, ss);

	if (rc == 0 && client != NULL)
		rc = qb_crypto_key_new(&c, QB_AEAD_AES128GCM, version, cs, sizeof(cs),
		                       QB_CRYPTO_AUTO);
	if (rc == 0 && server != NULL)
		rc = qb_crypto_key_new(&s, QB_AEAD_AES128GCM, version, ss, sizeof(ss),
		                       QB_CRYPTO_AUTO);
	OPENSSL_cleanse(cs, sizeof(cs));
	OPENSSL_cleanse(ss, sizeof(ss));
	if (rc != 0) {
		qb_crypto_key_free(c);
		qb_crypto_key_free(s);
		c = s = NULL;
	}
	if (client != NULL)
		*client = c;
	if (server != NULL)
		*server = s;
	return rc;
}

void
qb_crypto_key_clear(struct qb_crypto_key *key)
{
	if (key == NULL)
		return;
	if (key->ops != NULL && key->ops->clear != NULL)
		key->ops->clear(key);
	qb_key_wipe(key);
}

void
qb_crypto_key_free(struct qb_crypto_key *key)
{
	qb_crypto_key_clear(key);
	free(key);
}

size_t
qb_crypto_key_footprint(const struct qb_crypto_key *key)
{
	return key != NULL ? qb_key_span(key) : 0;
}

uint64_t
qb_crypto_confidentiality_limit(enum qb_aead_alg alg)
{
	/* RFC 9001 §6.6: 2^23 packets for AES-GCM; ChaCha20-Poly1305's limit
	 * exceeds 2^62, the number of possible packets. */
	return alg == QB_AEAD_CHACHA20POLY1305 ? UINT64_MAX : (uint64_t)1 << 23;
}

uint64_t
qb_crypto_integrity_limit(enum qb_aead_alg alg)
{
	/* RFC 9001 §6.6: 2^52 invalid packets for AES-GCM, 2^36 for
	 * ChaCha20-Poly1305. */
	return alg == QB_AEAD_CHACHA20POLY1305 ? (uint64_t)1 << 36 : (uint64_t)1 << 52;
}
