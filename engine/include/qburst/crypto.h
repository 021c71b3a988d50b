/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QBURST_CRYPTO_H
#define QBURST_CRYPTO_H

/*
 * QUIC packet protection (RFC 9001 §5, RFC 9369 §3.3): initial secrets, the
 * packet-protection keys derived from a traffic secret, AEAD seal/open in
 * place, header protection, key update and the Retry integrity tag.
 *
 * A struct qb_crypto_key holds everything for one direction of one
 * encryption level and key phase: the IV, the AEAD key and the header
 * protection key, expanded once by a backend (BoringSSL, or the ipsec-mb fast
 * AES-GCM backend when it is registered). The per-packet functions allocate
 * nothing, take no lock and may be called concurrently on the same key (the
 * key is read-only once initialised).
 *
 * All functions return 0 (or a non-negative length) on success and a negative
 * enum qb_err (qburst/error.h) on failure.
 */

#include <stddef.h>
#include <stdint.h>

#include "qburst/error.h"

/* The AEAD of a TLS 1.3 cipher suite; each fixes its hash and HP cipher. */
enum qb_aead_alg {
	QB_AEAD_AES128GCM = 0,        /* TLS_AES_128_GCM_SHA256, AES-128 HP */
	QB_AEAD_AES256GCM = 1,        /* TLS_AES_256_GCM_SHA384, AES-256 HP */
	QB_AEAD_CHACHA20POLY1305 = 2, /* TLS_CHACHA20_POLY1305_SHA256, ChaCha20 HP */
};

/* Implementations of the AEAD and header protection. */
enum qb_crypto_backend {
	QB_CRYPTO_AUTO = 0,      /* the process default (qb_crypto_set_default_backend) */
	QB_CRYPTO_BORINGSSL = 1, /* always present; every algorithm */
	QB_CRYPTO_IPSECMB = 2,   /* present once registered; AES-GCM only */
	QB_CRYPTO_BACKEND_COUNT,
};

/* QUIC versions whose key derivation this module knows. */
#define QB_CRYPTO_QUIC_V1 0x00000001u /* RFC 9000 */
#define QB_CRYPTO_QUIC_V2 0x6b3343cfu /* RFC 9369 */

#define QB_CRYPTO_TAG_LEN            16    /* AEAD tag appended to every payload */
#define QB_CRYPTO_IV_LEN             12    /* AEAD nonce length */
#define QB_CRYPTO_SAMPLE_LEN         16    /* header-protection sample (RFC 9001 §5.4.2) */
#define QB_CRYPTO_HP_MASK_LEN        5     /* mask bytes used: first byte + up to 4 pn bytes */
#define QB_CRYPTO_SECRET_MAX         48    /* SHA-384 output */
#define QB_CRYPTO_KEY_MAX            32    /* AES-256 / ChaCha20 key length */
#define QB_CRYPTO_INITIAL_SECRET_LEN 32    /* SHA-256 output (RFC 9001 §5.2) */
#define QB_CRYPTO_RETRY_MAX          65536 /* longest Retry packet accepted (bytes) */

/* Bytes of backend state in each key: enough for ipsec-mb's 1008-byte
 * struct gcm_key_data plus an expanded AES key, with 64 bytes of slack for
 * a backend that aligns its data to 64 bytes inside the array. */
#define QB_CRYPTO_STATE_SIZE 1344

struct qb_aead_ops;

/*
 * One packet-protection key (one direction, one level, one key phase).
 * Fields are private to engine/crypto and its backends. Two kinds of
 * storage:
 *   - embedded: the caller owns a whole struct (sizeof is the largest any
 *     backend needs) and installs with qb_crypto_key_init() /
 *     qb_crypto_key_update(); no allocation happens here;
 *   - sized: qb_crypto_key_new() / qb_crypto_key_new_update() allocate a
 *     key with only the state its backend uses (about 960 bytes for
 *     BoringSSL, 1,424 for ipsec-mb, against sizeof 1,456), which a
 *     connection frees when it discards the key (RFC 9001 §4.9, §6). Such a
 *     key is released with qb_crypto_key_free() and never passed to
 *     qb_crypto_key_init() or qb_crypto_key_update() as the key to fill,
 *     nor dereferenced as a whole struct.
 * The per-packet functions take either kind. A zeroed embedded key is
 * "absent"; qb_crypto_key_clear() returns a key to that state and wipes its
 * secrets. Do not copy an installed key (assignment or memcpy): a backend's
 * expanded state is not promised to survive a move. To switch keys at a key
 * update, switch pointers or indexes.
 */
struct qb_crypto_key {
	const struct qb_aead_ops *ops; /* the backend; NULL when no key is installed */
	uint8_t iv[QB_CRYPTO_IV_LEN];  /* "quic iv" (RFC 9001 §5.1) */
	uint8_t alg;                   /* enum qb_aead_alg */
	uint8_t key_len;               /* AEAD key (= HP key) length in bytes */
	uint8_t secret_len;            /* traffic secret length in bytes */
	uint8_t reserved;
	uint32_t version;                     /* QUIC version of the labels */
	uint8_t secret[QB_CRYPTO_SECRET_MAX]; /* traffic secret, for key update */
	uint8_t hp_key[QB_CRYPTO_KEY_MAX];    /* kept: key update keeps HP (§6.1) */
	uint16_t storage; /* bytes allocated for a sized key; 0: embedded (sizeof) */
	_Alignas(16) uint8_t state[QB_CRYPTO_STATE_SIZE]; /* the backend's expanded keys */
};

/*
 * What qb_crypto_unprotect_header() recovered from a packet, and the
 * protected bytes it replaced (so a failed open can put them back).
 */
struct qb_crypto_hdr {
	uint64_t pn;                    /* full packet number (RFC 9000 §A.3) */
	size_t pn_offset;               /* offset of the packet number in the packet */
	size_t pn_len;                  /* 1..4 */
	size_t payload_len;             /* ciphertext length without the tag (after header
	                                 * removal); plaintext length after the open */
	uint8_t first_byte;             /* unprotected first byte (reserved, key-phase, pn
	                                 * length bits readable) */
	uint8_t protected_bytes[1 + 4]; /* first byte and pn bytes as received */
};

/* ---- Process-wide backend choice (call at start-up, before workers). ---- */

/*
 * Make `backend` the default used by keys initialised with QB_CRYPTO_AUTO.
 * QB_CRYPTO_AUTO picks the fastest registered backend (ipsec-mb if
 * registered, else BoringSSL). Returns 0, or QB_ERR_UNSUPPORTED when the
 * backend is not registered (the default is then left unchanged), or
 * QB_ERR_ARG for an unknown value. Not thread-safe: call before any key is
 * initialised on another thread.
 */
int qb_crypto_set_default_backend(enum qb_crypto_backend backend);

/* The current default backend (never QB_CRYPTO_AUTO; BoringSSL at start). */
enum qb_crypto_backend qb_crypto_default_backend(void);

/* "boringssl", "ipsecmb", "auto"; "unknown" otherwise. Never NULL. */
const char *qb_crypto_backend_name(enum qb_crypto_backend backend);

/* Non-zero when `backend` is registered and usable in this process. */
int qb_crypto_backend_available(enum qb_crypto_backend backend);

/* The backend that `key` was initialised with (QB_CRYPTO_AUTO if absent). */
enum qb_crypto_backend qb_crypto_key_backend(const struct qb_crypto_key *key);

/* ---- Key schedule. ---- */

/*
 * The AEAD of a TLS 1.3 cipher suite id (0x1301, 0x1302, 0x1303, as
 * SSL_CIPHER_get_protocol_id() returns it). Returns the enum qb_aead_alg
 * value (>= 0) or QB_ERR_UNSUPPORTED.
 */
int qb_crypto_alg_from_cipher_suite(uint16_t suite);

/* Hash output length of alg's cipher suite: 32 or 48. */
size_t qb_crypto_secret_len(enum qb_aead_alg alg);

/*
 * HKDF-Expand-Label (RFC 8446 §7.1) with an empty context and the hash of
 * alg's cipher suite: writes out_len (<= 255) bytes to out. label is given
 * without the "tls13 " prefix (e.g. "quic key"). Returns 0 or QB_ERR_CRYPTO.
 */
int qb_crypto_hkdf_expand_label(enum qb_aead_alg alg, const uint8_t *secret, size_t secret_len,
                                const char *label, uint8_t *out, size_t out_len);

/*
 * Initial secrets (RFC 9001 §5.2, RFC 9369 §3.3.1) from the client's first
 * Destination Connection ID (0..20 bytes): 32 bytes each to client and
 * server (either may be NULL). Returns 0, QB_ERR_UNSUPPORTED for an unknown
 * version, QB_ERR_ARG for a DCID over 20 bytes.
 */
int qb_crypto_initial_secrets(uint32_t version, const uint8_t *dcid, size_t dcid_len,
                              uint8_t *client, uint8_t *server);

/*
 * Both Initial keys (AES-128-GCM) of a connection from the client's first
 * DCID. Either key may be NULL. The Initial keys use the process default
 * backend. Returns as qb_crypto_initial_secrets() or qb_crypto_key_init().
 */
int qb_crypto_initial_keys(uint32_t version, const uint8_t *dcid, size_t dcid_len,
                           struct qb_crypto_key *client, struct qb_crypto_key *server);

/*
 * Install a key from a traffic secret (secret_len = qb_crypto_secret_len(alg)):
 * key/iv/hp by HKDF-Expand-Label "quic key"/"quic iv"/"quic hp" for v1,
 * "quicv2 key"/"quicv2 iv"/"quicv2 hp" for v2 (RFC 9001 §5.1, RFC 9369
 * §3.3.2). backend QB_CRYPTO_AUTO uses the process default; a backend that
 * lacks alg (ipsec-mb and ChaCha20) falls back to BoringSSL. Any previous
 * content of key is overwritten (clear it first if it held a key).
 * Returns 0, QB_ERR_UNSUPPORTED (version, alg or an unregistered forced
 * backend), QB_ERR_ARG (secret length) or QB_ERR_CRYPTO.
 */
int qb_crypto_key_init(struct qb_crypto_key *key, enum qb_aead_alg alg, uint32_t version,
                       const uint8_t *secret, size_t secret_len, enum qb_crypto_backend backend);

/*
 * Key update (RFC 9001 §6.1, RFC 9369 §3.3.2): install in next the key of the
 * next key phase: secret = HKDF-Expand-Label(cur secret, "quic ku" or
 * "quicv2 ku"), new AEAD key and IV from it, header-protection key unchanged,
 * same backend. next must not alias cur. Returns 0, QB_ERR_STATE if cur is
 * absent, or as qb_crypto_key_init().
 */
int qb_crypto_key_update(struct qb_crypto_key *next, const struct qb_crypto_key *cur);

/*
 * AEAD usage limits (RFC 9001 §6.6): packets that may be sealed with one key
 * (the confidentiality limit; UINT64_MAX when it can be disregarded, as for
 * ChaCha20-Poly1305), and packets that may fail to open, over all keys of a
 * connection, before the connection must close with AEAD_LIMIT_REACHED (the
 * integrity limit). Counting is the caller's (the connection's) job.
 */
uint64_t qb_crypto_confidentiality_limit(enum qb_aead_alg alg);
uint64_t qb_crypto_integrity_limit(enum qb_aead_alg alg);

/* Release a key's backend state and wipe its secrets; the key becomes absent.
 * NULL is ignored. */
void qb_crypto_key_clear(struct qb_crypto_key *key);

/*
 * As qb_crypto_key_init(), into a sized key allocated here (malloc) with
 * room for the state of the backend that takes it (the fallback to BoringSSL
 * included) and no more. On success *out is the key (free it with
 * qb_crypto_key_free()); on failure *out is NULL. Returns as
 * qb_crypto_key_init(), or QB_ERR_NOMEM.
 */
int qb_crypto_key_new(struct qb_crypto_key **out, enum qb_aead_alg alg, uint32_t version,
                      const uint8_t *secret, size_t secret_len, enum qb_crypto_backend backend);

/*
 * As qb_crypto_key_update(), into a sized key allocated here (same backend
 * as cur). *out is NULL on failure. Returns as qb_crypto_key_update(), or
 * QB_ERR_NOMEM.
 */
int qb_crypto_key_new_update(struct qb_crypto_key **out, const struct qb_crypto_key *cur);

/*
 * As qb_crypto_initial_keys(), into sized keys allocated here; client or
 * server may be NULL. On failure neither is allocated (both NULL). Returns
 * as qb_crypto_initial_keys(), or QB_ERR_NOMEM.
 */
int qb_crypto_initial_keys_new(uint32_t version, const uint8_t *dcid, size_t dcid_len,
                               struct qb_crypto_key **client, struct qb_crypto_key **server);

/* Clear and free a key from qb_crypto_key_new*(); NULL is ignored. */
void qb_crypto_key_free(struct qb_crypto_key *key);

/* Bytes of memory key occupies: its allocation for a sized key, sizeof for
 * an embedded one, 0 for NULL. For accounting (bench_mem). */
size_t qb_crypto_key_footprint(const struct qb_crypto_key *key);

/* Non-zero when key holds an installed key (NULL: no key). */
static inline int
qb_crypto_key_present(const struct qb_crypto_key *key)
{
	return key != NULL && key->ops != NULL;
}

/* ---- Per-packet protection. ---- */

/*
 * Protect one packet in place (RFC 9001 §5.3, §5.4). The buffer pkt holds: the
 * header [0, pn_offset + pn_len) with its Length field already final, then
 * payload_len bytes of plaintext, and must have QB_CRYPTO_TAG_LEN more bytes
 * of room after them. protect writes the low pn_len bytes of pn big-endian at
 * pn_offset, seals the payload with the header as AAD and nonce = iv XOR pn,
 * appends the tag, then applies header protection to the first byte (low 4
 * bits for a long header, 5 for a short one) and the pn bytes. The first
 * byte's low two bits must already say pn_len - 1, and pn_len + payload_len
 * must be at least 4 so the 16-byte sample exists (pad the payload otherwise).
 * Returns the protected packet length (pn_offset + pn_len + payload_len + 16),
 * QB_ERR_ARG (pn_len not 1..4, payload too short, no key) or QB_ERR_CRYPTO.
 */
int qb_crypto_protect(const struct qb_crypto_key *key, uint8_t *pkt, size_t pn_offset,
                      size_t pn_len, uint64_t pn, size_t payload_len);

/*
 * As qb_crypto_protect(), but the payload is in two pieces: its first
 * head_len bytes are already in pkt after the header (the frame headers the
 * encoder wrote, e.g. a STREAM frame's type, id and offset), and the
 * src_len bytes that follow are read from src (e.g. the application's send
 * buffer) and only their ciphertext is written into pkt, at
 * pn_offset + pn_len + head_len: the plaintext is never copied into the
 * packet. pkt needs room for the header, head_len + src_len bytes and the
 * 16-byte tag. src must not overlap that room. The result is byte for byte
 * what qb_crypto_protect() gives on the same bytes copied in place. Returns
 * the protected packet length or the errors of qb_crypto_protect() (with
 * payload_len = head_len + src_len).
 */
int qb_crypto_protect_from(const struct qb_crypto_key *key, uint8_t *pkt, size_t pn_offset,
                           size_t pn_len, uint64_t pn, size_t head_len, const uint8_t *src,
                           size_t src_len);

/*
 * As qb_crypto_protect_from(), for a source with room before it: the
 * head_len bytes just before src, [src - head_len, src), must be writable
 * memory of the caller (a send buffer's headroom, or bytes already sent).
 * They are borrowed during the call: saved, overwritten with the head, and
 * restored before it returns, so that head and data are one contiguous
 * plaintext and the backend seals it in one pass straight into the packet
 * (the incremental AEAD calls a split plaintext needs cost more than the
 * copy on ipsec-mb). Nothing else may read those bytes meanwhile. Same
 * result, bytes and errors as qb_crypto_protect_from(); head_len <= QB_CRYPTO_GAP_MAX.
 */
/* The most bytes qb_crypto_protect_gap borrows (its head_len). */
#define QB_CRYPTO_GAP_MAX 64

int qb_crypto_protect_gap(const struct qb_crypto_key *key, uint8_t *pkt, size_t pn_offset,
                          size_t pn_len, uint64_t pn, size_t head_len, uint8_t *src,
                          size_t src_len);

/*
 * First half of unprotect (RFC 9001 §5.4.2): remove header protection in place
 * from a packet of pkt_len bytes (for a long header: up to the end given by
 * its Length field; for a short header: the rest of the datagram) whose packet
 * number starts at pn_offset, and decode the full packet number against
 * largest_pn (the largest pn received in this space, QB_PN_NONE = UINT64_MAX
 * if none; RFC 9000 §A.3, qb_pn_decode()). Fills hdr. The caller may then read
 * the key-phase bit (0x04 of a short header's hdr->first_byte, RFC 9000
 * §17.3.1) to choose the key for the open; the header-protection key is the
 * same for both phases (RFC 9001 §6.1), so either phase's key removes it.
 * Returns 0, QB_ERR_TRUNCATED (no room for the sample and tag; the packet is
 * untouched) or QB_ERR_ARG (no key).
 */
int qb_crypto_unprotect_header(const struct qb_crypto_key *key, uint8_t *pkt, size_t pkt_len,
                               size_t pn_offset, uint64_t largest_pn, struct qb_crypto_hdr *hdr);

/*
 * Second half: open the payload in place with key (AAD = the unprotected
 * header, nonce = iv XOR hdr->pn). On success returns 0; the plaintext is at
 * pkt + hdr->pn_offset + hdr->pn_len, hdr->payload_len bytes long. On
 * failure returns QB_ERR_CRYPTO (or QB_ERR_ARG for an absent key) and puts the
 * header bytes back: the packet is exactly as received.
 */
int qb_crypto_unprotect_payload(const struct qb_crypto_key *key, uint8_t *pkt,
                                struct qb_crypto_hdr *hdr);

/* Put back the protected header bytes saved in hdr (when not opening). */
void qb_crypto_unprotect_restore(uint8_t *pkt, const struct qb_crypto_hdr *hdr);

/*
 * Both halves with one key. Returns 0 or the error of either half; on any
 * failure the packet is exactly as received.
 */
int qb_crypto_unprotect(const struct qb_crypto_key *key, uint8_t *pkt, size_t pkt_len,
                        size_t pn_offset, uint64_t largest_pn, struct qb_crypto_hdr *hdr);

/* The 5-byte header-protection mask of a 16-byte sample (RFC 9001 §5.4.1). */
void qb_crypto_hp_mask(const struct qb_crypto_key *key, const uint8_t *sample, uint8_t *mask);

/* ---- Retry integrity (RFC 9001 §5.8, RFC 9369 §3.3.3). ---- */

/*
 * The 16-byte Retry Integrity Tag of a Retry packet given without its tag
 * (retry, retry_len bytes), for the Original Destination Connection ID odcid
 * (0..20 bytes). Returns 0, QB_ERR_UNSUPPORTED (version), QB_ERR_ARG (odcid
 * over 20 bytes, retry_len over QB_CRYPTO_RETRY_MAX) or QB_ERR_CRYPTO.
 */
int qb_crypto_retry_tag(uint32_t version, const uint8_t *odcid, size_t odcid_len,
                        const uint8_t *retry, size_t retry_len, uint8_t *tag);

/*
 * Verify a whole Retry packet (pkt_len bytes, the tag being its last 16).
 * Returns 0 when the tag matches, QB_ERR_CRYPTO when it does not,
 * QB_ERR_TRUNCATED when pkt_len < 16, else as qb_crypto_retry_tag().
 */
int qb_crypto_retry_verify(uint32_t version, const uint8_t *odcid, size_t odcid_len,
                           const uint8_t *pkt, size_t pkt_len);

#endif
