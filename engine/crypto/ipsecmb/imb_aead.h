/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_CRYPTO_IPSECMB_IMB_AEAD_H
#define QB_CRYPTO_IPSECMB_IMB_AEAD_H

/*
 * Internal: the Intel ipsec-mb AES-GCM packet-protection backend (RFC 9001
 * §5.3, §5.4.3). Compiled only when ipsec-mb is installed (QB_HAVE_IPSECMB).
 *
 * One ipsec-mb manager per process, made once by qb_imb_init(); it only
 * selects the code path (SSE, AVX, AVX2, AVX-512/VAES) through function
 * pointers. The direct GCM API keeps its per-call state on the caller's
 * stack, so any number of threads may seal and open at once with keys
 * installed beforehand. Nothing here allocates after qb_imb_init().
 */

#include <stddef.h>
#include <stdint.h>

#include <string.h>

#include <immintrin.h>
#include <intel-ipsec-mb.h>

#define QB_IMB_TAG_LEN 16 /* AEAD_AES_*_GCM tag, bytes */
#define QB_IMB_IV_LEN  12 /* RFC 9001 §5.3: the IV is as long as the nonce */

/* What qb_imb_init() found: the code path ipsec-mb picked and its features. */
struct qb_imb_info {
	int arch;          /* IMB_ARCH_* */
	const char *name;  /* "avx512", "avx2", "avx", "sse", "noaesni"; never NULL */
	uint64_t features; /* IMB_FEATURE_* bits of the manager; 0 without one */
	const char *why;   /* why ipsec-mb is unusable ("" when it is usable) */
};

/*
 * Makes the process-wide manager once (thread-safe; later calls return the
 * first result). Returns 0, QB_ERR_NOMEM when the manager cannot be allocated,
 * or QB_ERR_UNSUPPORTED when the CPU lacks AES-NI (ipsec-mb would only offer
 * its slow emulated path, which is not worth having over BoringSSL).
 */
int qb_imb_init(void);

/*
 * Fills *info once qb_imb_init() has run and returns its result (so also
 * after a failure, to report why); QB_ERR_STATE before it ran.
 */
int qb_imb_get_info(struct qb_imb_info *info);

/* A name for an IMB_ARCH_* value: "avx512", "avx2", ...; never NULL. */
const char *qb_imb_arch_name(int arch);

/*
 * Test hook: drops the manager and makes a new one limited to max_arch
 * (IMB_ARCH_SSE .. IMB_ARCH_AVX512; IMB_ARCH_NONE = no limit) and, when
 * aesni_off, with AES-NI hidden from ipsec-mb (Debian's build has no AES
 * emulation, so that fails as on a CPU without AES-NI: QB_ERR_UNSUPPORTED,
 * arch "noaesni").
 * Keys installed before are invalid afterwards. Not thread-safe; tests only.
 */
int qb_imb_test_reinit(int max_arch, int aesni_off);

typedef void (*qb_imb_gcm_fn)(const struct gcm_key_data *, struct gcm_context_data *, uint8_t *,
                              const uint8_t *, uint64_t, const uint8_t *, const uint8_t *, uint64_t,
                              uint8_t *, uint64_t);

/*
 * An AES-GCM key for ipsec-mb: the expanded AES round keys and GHASH table
 * (computed once at install) and the code path chosen for this key size.
 * Must be 16-byte aligned, which malloc and _Alignas(16) storage give and
 * which is all ipsec-mb asks (its header's 64-byte alignment is a
 * preference; a test checks a 16-but-not-64-aligned key), so a key copied
 * to another 16-aligned place stays valid. About 1 KiB.
 */
struct qb_imb_gcm {
	struct gcm_key_data gcm __attribute__((aligned(16)));
	qb_imb_gcm_fn enc;
	qb_imb_gcm_fn dec;
	/* The incremental calls, for a plaintext in two pieces (qb_imb_gcm_seal_from). */
	aes_gcm_init_t init;
	aes_gcm_enc_dec_update_t enc_update;
	aes_gcm_enc_dec_finalize_t enc_finalize;
} __attribute__((aligned(16)));

/* One direction's AEAD key for the packet-number API: the GCM key and the IV. */
struct qb_imb_aead {
	struct qb_imb_gcm g;
	uint8_t iv[QB_IMB_IV_LEN];
	uint8_t key_len; /* 16 (AES-128-GCM) or 32 (AES-256-GCM) */
};

/* Header-protection key: the AES encryption round keys (RFC 9001 §5.4.3). */
struct qb_imb_hp {
	uint8_t rk[15][16] __attribute__((aligned(16)));
	uint32_t rounds; /* 10 (AES-128) or 14 (AES-256) */
};

/*
 * Installs a GCM key of key_len 16 or 32 bytes (copied; the caller may wipe
 * its copy). Returns 0, QB_ERR_ARG for another key length or a g not 16-byte aligned,
 * QB_ERR_STATE when qb_imb_init() has not succeeded.
 */
int qb_imb_gcm_init(struct qb_imb_gcm *g, const uint8_t *key, size_t key_len);

/* As qb_imb_gcm_init(), and the static IV (QB_IMB_IV_LEN bytes, copied). */
int qb_imb_aead_init(struct qb_imb_aead *k, const uint8_t *key, size_t key_len, const uint8_t *iv);

/* Installs a header-protection key (16 or 32 bytes). Same errors. */
int qb_imb_hp_init(struct qb_imb_hp *hp, const uint8_t *key, size_t key_len);

/* Overwrite key material with zeros (keys discarded, RFC 9001 §4.9, §6). */
void qb_imb_gcm_wipe(struct qb_imb_gcm *g);
void qb_imb_aead_wipe(struct qb_imb_aead *k);
void qb_imb_hp_wipe(struct qb_imb_hp *hp);

/*
 * Seals len bytes at buf in place with a ready nonce (QB_IMB_IV_LEN bytes)
 * and ad_len bytes of associated data at ad (not overlapping buf); writes
 * the tag at buf + len. Inline: the per-packet path is one indirect call
 * into ipsec-mb with its context on our stack.
 */
static inline void
qb_imb_gcm_seal(const struct qb_imb_gcm *g, const uint8_t *nonce, const uint8_t *ad, size_t ad_len,
                uint8_t *buf, size_t len)
{
	struct gcm_context_data ctx;

	g->enc(&g->gcm, &ctx, buf, buf, len, nonce, ad, ad_len, buf + len, QB_IMB_TAG_LEN);
}

/*
 * Seals a plaintext in two pieces: head_len bytes at buf (in place), then
 * src_len bytes read from src, whose ciphertext goes to buf + head_len; the
 * tag follows at buf + head_len + src_len. src must not overlap that area.
 * Byte for byte what qb_imb_gcm_seal() gives on the pieces copied together.
 * Inline: the per-packet path, four calls into ipsec-mb (init, two
 * updates, finalize) with their context on our stack.
 */
static inline void
qb_imb_gcm_seal_from(const struct qb_imb_gcm *g, const uint8_t *nonce, const uint8_t *ad,
                     size_t ad_len, uint8_t *buf, size_t head_len, const uint8_t *src,
                     size_t src_len)
{
	struct gcm_context_data ctx;
	size_t whole = head_len & ~(size_t)15, part = head_len - whole;
	uint8_t *out = buf + whole;
	uint8_t *tag = buf + head_len + src_len;

	g->init(&g->gcm, &ctx, nonce, ad, ad_len);
	if (whole != 0)
		g->enc_update(&g->gcm, &ctx, buf, buf, whole);
	if (part != 0) {
		/*
		 * The head ends inside a 16-byte block. An update that stops
		 * mid-block leaves the next one to finish that block byte by
		 * byte, so complete it here from src's first bytes (a stack
		 * block) and keep every update block-aligned.
		 */
		size_t need = 16 - part;

		if (src_len >= need) {
			uint8_t blk[16];

			memcpy(blk, out, part);
			memcpy(blk + part, src, need);
			g->enc_update(&g->gcm, &ctx, out, blk, 16);
			out += 16;
			src += need;
			src_len -= need;
		} else {
			g->enc_update(&g->gcm, &ctx, out, out, part);
			out += part;
		}
	}
	if (src_len != 0)
		g->enc_update(&g->gcm, &ctx, out, src, src_len);
	g->enc_finalize(&g->gcm, &ctx, tag, QB_IMB_TAG_LEN);
}

/*
 * Opens len bytes at buf in place, the tag following them at buf + len.
 * Returns 0, or QB_ERR_CRYPTO when the tag does not verify (compared in
 * constant time); then [buf, buf + len + QB_IMB_TAG_LEN) holds exactly its
 * bytes from before the call.
 */
int qb_imb_gcm_open(const struct qb_imb_gcm *g, const uint8_t *nonce, const uint8_t *ad,
                    size_t ad_len, uint8_t *buf, size_t len);

/*
 * Seals in place (RFC 9001 §5.3): nonce = iv XOR pn (left-padded, big
 * endian), associated data = the header, ad_len bytes at ad (must not
 * overlap buf). buf holds len bytes of plaintext and has room for
 * QB_IMB_TAG_LEN more, where the tag is written. Returns 0.
 */
int qb_imb_seal(const struct qb_imb_aead *k, uint64_t pn, const uint8_t *ad, size_t ad_len,
                uint8_t *buf, size_t len);

/*
 * Opens in place: buf holds len bytes of ciphertext followed by the tag
 * (len >= QB_IMB_TAG_LEN). On success the plaintext is at buf and
 * len - QB_IMB_TAG_LEN is returned. When the tag does not verify (compared
 * in constant time) QB_ERR_CRYPTO is returned and buf holds its original
 * bytes again; QB_ERR_TRUNCATED when len < QB_IMB_TAG_LEN.
 */
int qb_imb_open(const struct qb_imb_aead *k, uint64_t pn, const uint8_t *ad, size_t ad_len,
                uint8_t *buf, size_t len);

/*
 * Header-protection mask (RFC 9001 §5.4.3): mask = AES-ECB(hp_key, sample),
 * all 16 bytes written (the caller uses the first 5). Needs AES-NI, which
 * qb_imb_init() checked.
 */
void qb_imb_hp_mask(const struct qb_imb_hp *hp, const uint8_t sample[16], uint8_t mask[16]);

/*
 * As qb_imb_hp_mask() for a 16-byte key (10 rounds), straight-line with no
 * call: for the seal-and-mask fast path. Inline, so its caller must be
 * compiled for AES-NI too (__attribute__((target("aes,sse2")))).
 */
__attribute__((target("aes,sse2"))) static inline void
qb_imb_hp_mask128(const struct qb_imb_hp *hp, const uint8_t sample[16], uint8_t mask[16])
{
	const __m128i *rk = (const __m128i *)hp->rk;
	__m128i b = _mm_xor_si128(_mm_loadu_si128((const __m128i *)sample), _mm_load_si128(&rk[0]));

	b = _mm_aesenc_si128(b, _mm_load_si128(&rk[1]));
	b = _mm_aesenc_si128(b, _mm_load_si128(&rk[2]));
	b = _mm_aesenc_si128(b, _mm_load_si128(&rk[3]));
	b = _mm_aesenc_si128(b, _mm_load_si128(&rk[4]));
	b = _mm_aesenc_si128(b, _mm_load_si128(&rk[5]));
	b = _mm_aesenc_si128(b, _mm_load_si128(&rk[6]));
	b = _mm_aesenc_si128(b, _mm_load_si128(&rk[7]));
	b = _mm_aesenc_si128(b, _mm_load_si128(&rk[8]));
	b = _mm_aesenc_si128(b, _mm_load_si128(&rk[9]));
	b = _mm_aesenclast_si128(b, _mm_load_si128(&rk[10]));
	_mm_storeu_si128((__m128i *)mask, b);
}

#endif
