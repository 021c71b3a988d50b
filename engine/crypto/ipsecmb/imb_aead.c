/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AES-GCM packet protection on Intel ipsec-mb's direct GCM API (RFC 9001
 * §5.3). The manager is made once per process; each key is expanded once
 * (round keys and the GHASH table) when it is installed, so sealing and
 * opening a packet is one call into ipsec-mb with its state on our stack.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/mem.h>

#include "qburst/error.h"
#include "crypto/ipsecmb/imb_aead.h"

static struct {
	IMB_MGR *mgr;
	IMB_ARCH arch;
	int err;
	int probed;
	const char *why; /* why ipsec-mb cannot be used, or "" */
} g_imb;

static pthread_once_t g_imb_once = PTHREAD_ONCE_INIT;

const char *
qb_imb_arch_name(int arch)
{
	switch (arch) {
	case IMB_ARCH_NOAESNI:
		return "noaesni";
	case IMB_ARCH_SSE:
		return "sse";
	case IMB_ARCH_AVX:
		return "avx";
	case IMB_ARCH_AVX2:
		return "avx2";
	case IMB_ARCH_AVX512:
		return "avx512";
	default:
		return "none";
	}
}

/* Makes g_imb.mgr with at most max_arch (IMB_ARCH_NONE: ipsec-mb's choice). */
static int
imb_setup(int max_arch, uint64_t flags)
{
	IMB_MGR *mgr = alloc_mb_mgr(flags);
	IMB_ARCH arch = IMB_ARCH_NONE;

	g_imb.probed = 1;
	g_imb.arch = IMB_ARCH_NONE;
	g_imb.why = "";
	if (mgr == NULL) {
		/* Debian's build has no emulated AES: no AES-NI, no manager. */
		int e = imb_get_errno(NULL);

		g_imb.why = imb_get_strerror(e);
		if (e == IMB_ERR_NO_AESNI_EMU) {
			g_imb.arch = IMB_ARCH_NOAESNI;
			return QB_ERR_UNSUPPORTED;
		}
		return QB_ERR_NOMEM;
	}
	init_mb_mgr_auto(mgr, &arch);
	if (max_arch != IMB_ARCH_NONE && (int)arch > max_arch) {
		/* A test asks for an older code path than the CPU's best. */
		switch (max_arch) {
		case IMB_ARCH_AVX2:
			init_mb_mgr_avx2(mgr);
			break;
		case IMB_ARCH_AVX:
			init_mb_mgr_avx(mgr);
			break;
		default:
			init_mb_mgr_sse(mgr);
			break;
		}
		arch = (IMB_ARCH)max_arch;
	}
	g_imb.arch = arch;
	if (imb_get_errno(mgr) != 0) {
		g_imb.why = imb_get_strerror(imb_get_errno(mgr));
		free_mb_mgr(mgr);
		return QB_ERR_UNSUPPORTED;
	}
	/*
	 * Without AES-NI ipsec-mb runs an emulated AES that is slower than
	 * BoringSSL, and our header-protection mask uses AES-NI directly.
	 */
	if (arch == IMB_ARCH_NOAESNI || !(mgr->features & IMB_FEATURE_AESNI)) {
		g_imb.why = "the CPU has no AES-NI";
		free_mb_mgr(mgr);
		return QB_ERR_UNSUPPORTED;
	}
	g_imb.mgr = mgr;
	return 0;
}

static void
imb_once(void)
{
	g_imb.err = imb_setup(IMB_ARCH_NONE, 0);
}

int
qb_imb_init(void)
{
	pthread_once(&g_imb_once, imb_once);
	return g_imb.err;
}

int
qb_imb_test_reinit(int max_arch, int aesni_off)
{
	pthread_once(&g_imb_once, imb_once);
	if (g_imb.mgr != NULL)
		free_mb_mgr(g_imb.mgr);
	memset(&g_imb, 0, sizeof(g_imb));
	g_imb.err = imb_setup(max_arch, aesni_off ? IMB_FLAG_AESNI_OFF : 0);
	return g_imb.err;
}

int
qb_imb_get_info(struct qb_imb_info *info)
{
	if (!g_imb.probed)
		return QB_ERR_STATE;
	info->arch = g_imb.arch;
	info->name = qb_imb_arch_name(g_imb.arch);
	info->features = g_imb.mgr != NULL ? g_imb.mgr->features : 0;
	info->why = g_imb.why;
	return g_imb.err;
}

int
qb_imb_gcm_init(struct qb_imb_gcm *g, const uint8_t *key, size_t key_len)
{
	IMB_MGR *mgr = g_imb.mgr;

	if (g_imb.err != 0 || mgr == NULL)
		return QB_ERR_STATE;
	/* ipsec-mb documents 16-byte alignment for its key data. */
	if (((uintptr_t)g & 15) != 0)
		return QB_ERR_ARG;
	if (key_len == 16) {
		IMB_AES128_GCM_PRE(mgr, key, &g->gcm);
		g->enc = mgr->gcm128_enc;
		g->dec = mgr->gcm128_dec;
		g->init = mgr->gcm128_init;
		g->enc_update = mgr->gcm128_enc_update;
		g->enc_finalize = mgr->gcm128_enc_finalize;
	} else if (key_len == 32) {
		IMB_AES256_GCM_PRE(mgr, key, &g->gcm);
		g->enc = mgr->gcm256_enc;
		g->dec = mgr->gcm256_dec;
		g->init = mgr->gcm256_init;
		g->enc_update = mgr->gcm256_enc_update;
		g->enc_finalize = mgr->gcm256_enc_finalize;
	} else {
		return QB_ERR_ARG;
	}
	return 0;
}

int
qb_imb_aead_init(struct qb_imb_aead *k, const uint8_t *key, size_t key_len, const uint8_t *iv)
{
	int rc = qb_imb_gcm_init(&k->g, key, key_len);

	if (rc != 0)
		return rc;
	memcpy(k->iv, iv, QB_IMB_IV_LEN);
	k->key_len = (uint8_t)key_len;
	return 0;
}

void
qb_imb_gcm_wipe(struct qb_imb_gcm *g)
{
	OPENSSL_cleanse(g, sizeof(*g));
}

void
qb_imb_aead_wipe(struct qb_imb_aead *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

int
qb_imb_hp_init(struct qb_imb_hp *hp, const uint8_t *key, size_t key_len)
{
	IMB_MGR *mgr = g_imb.mgr;
	/* ipsec-mb writes the decryption schedule too; we never use it. */
	uint8_t dec[15][16] __attribute__((aligned(16)));

	if (g_imb.err != 0 || mgr == NULL)
		return QB_ERR_STATE;
	if (key_len == 16) {
		IMB_AES_KEYEXP_128(mgr, key, hp->rk, dec);
		hp->rounds = 10;
	} else if (key_len == 32) {
		IMB_AES_KEYEXP_256(mgr, key, hp->rk, dec);
		hp->rounds = 14;
	} else {
		return QB_ERR_ARG;
	}
	OPENSSL_cleanse(dec, sizeof(dec));
	return 0;
}

void
qb_imb_hp_wipe(struct qb_imb_hp *hp)
{
	OPENSSL_cleanse(hp, sizeof(*hp));
}

/* RFC 9001 §5.3: the 62-bit packet number, big endian, XORed into the IV's tail. */
static inline void
make_nonce(uint8_t nonce[QB_IMB_IV_LEN], const uint8_t iv[QB_IMB_IV_LEN], uint64_t pn)
{
	uint64_t tail;

	memcpy(nonce, iv, 4);
	memcpy(&tail, iv + 4, 8);
	tail ^= __builtin_bswap64(pn);
	memcpy(nonce + 4, &tail, 8);
}

int
qb_imb_gcm_open(const struct qb_imb_gcm *g, const uint8_t *nonce, const uint8_t *ad, size_t ad_len,
                uint8_t *buf, size_t len)
{
	uint8_t tag[QB_IMB_TAG_LEN];
	struct gcm_context_data ctx;

	g->dec(&g->gcm, &ctx, buf, buf, len, nonce, ad, ad_len, tag, QB_IMB_TAG_LEN);
	if (CRYPTO_memcmp(tag, buf + len, QB_IMB_TAG_LEN) != 0) {
		/*
		 * Decrypting first and checking afterwards keeps the good path
		 * to one pass. On a forgery the keystream is applied again
		 * (GCM's CTR mode is its own inverse), so the caller gets its
		 * ciphertext back and no unauthenticated plaintext is left; QUIC
		 * still needs the datagram (RFC 9000 §10.3.1, stateless reset).
		 */
		g->enc(&g->gcm, &ctx, buf, buf, len, nonce, ad, ad_len, tag, QB_IMB_TAG_LEN);
		return QB_ERR_CRYPTO;
	}
	return 0;
}

int
qb_imb_seal(const struct qb_imb_aead *k, uint64_t pn, const uint8_t *ad, size_t ad_len,
            uint8_t *buf, size_t len)
{
	uint8_t nonce[QB_IMB_IV_LEN];

	make_nonce(nonce, k->iv, pn);
	qb_imb_gcm_seal(&k->g, nonce, ad, ad_len, buf, len);
	return 0;
}

int
qb_imb_open(const struct qb_imb_aead *k, uint64_t pn, const uint8_t *ad, size_t ad_len,
            uint8_t *buf, size_t len)
{
	uint8_t nonce[QB_IMB_IV_LEN];
	int rc;

	if (len < QB_IMB_TAG_LEN)
		return QB_ERR_TRUNCATED;
	make_nonce(nonce, k->iv, pn);
	rc = qb_imb_gcm_open(&k->g, nonce, ad, ad_len, buf, len - QB_IMB_TAG_LEN);
	return rc != 0 ? rc : (int)(len - QB_IMB_TAG_LEN);
}
