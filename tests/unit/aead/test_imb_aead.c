/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ipsec-mb AES-GCM backend against the RFCs' Initial packets (RFC 9001
 * Appendix A.2-A.3, RFC 9369 Appendix A.2-A.3) and against BoringSSL's
 * EVP_AEAD and AES_encrypt for random keys, nonces, AAD and payloads, on
 * every ipsec-mb code path this CPU runs.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/aead.h>
#include <openssl/aes.h>
#include <openssl/digest.h>
#include <openssl/hkdf.h>

#include "qburst/error.h"
#include "crypto/ipsecmb/imb_aead.h"
#include "hex.h"
#include "rfc_vectors.h"
#include "rng.h"

/* HKDF-Expand-Label of TLS 1.3 (RFC 8446 §7.1) with an empty context. */
static void
expand_label(uint8_t *out, size_t out_len, const uint8_t *secret, const char *label)
{
	uint8_t info[2 + 1 + 255 + 1];
	size_t l = strlen(label), n = 0;

	info[n++] = (uint8_t)(out_len >> 8);
	info[n++] = (uint8_t)out_len;
	info[n++] = (uint8_t)(6 + l);
	memcpy(info + n, "tls13 ", 6);
	memcpy(info + n + 6, label, l);
	n += 6 + l;
	info[n++] = 0;
	cr_assert(HKDF_expand(out, out_len, EVP_sha256(), secret, 32, info, n));
}

struct initial_keys {
	uint8_t key[16], iv[12], hp[16];
};

/* RFC 9001 §5.2 and RFC 9369 §3.3.1-3.3.2: the Initial keys of one side. */
static void
derive_initial(struct initial_keys *k, int v2, int server)
{
	static const uint8_t cid[] = {0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08};
	uint8_t salt[20], initial[32], secret[32];
	size_t len;

	qb_test_unhex_ok(v2 ? "0dede3def700a6db819381be6e269dcbf9bd2ed9"
	                    : "38762cf7f55934b34d179ae6a4c80cadccbb7f0a",
	                 salt, sizeof(salt));
	cr_assert(HKDF_extract(initial, &len, EVP_sha256(), cid, sizeof(cid), salt, sizeof(salt)));
	expand_label(secret, 32, initial, server ? "server in" : "client in");
	expand_label(k->key, 16, secret, v2 ? "quicv2 key" : "quic key");
	expand_label(k->iv, 12, secret, v2 ? "quicv2 iv" : "quic iv");
	expand_label(k->hp, 16, secret, v2 ? "quicv2 hp" : "quic hp");
}

struct vector {
	const char *key, *iv, *hp;
	const char *header, *payload, *sample, *mask, *packet;
	size_t payload_len; /* padded with PADDING (0x00) up to this */
	uint64_t pn;
	int v2, server;
};

/*
 * The RFC 9001 and RFC 9369 Initials of rfc_vectors.h, client then server.
 * Built at run time: a member of a const struct is no constant initializer.
 */
static struct vector
rfc_vector(size_t i)
{
	const struct qb_rfc_vectors *a = &qb_rfc9001, *b = &qb_rfc9369;
	const struct vector all[] = {
	        {a->client_key, a->client_iv, a->client_hp, a->client_header, a->client_crypto,
	         a->client_sample, a->client_mask, a->client_packet, 1162, 2, 0, 0},
	        {a->server_key, a->server_iv, a->server_hp, a->server_header, a->server_payload,
	         a->server_sample, a->server_mask, a->server_packet, 99, 1, 0, 1},
	        {b->client_key, b->client_iv, b->client_hp, b->client_header, b->client_crypto,
	         b->client_sample, b->client_mask, b->client_packet, 1162, 2, 1, 0},
	        {b->server_key, b->server_iv, b->server_hp, b->server_header, b->server_payload,
	         b->server_sample, b->server_mask, b->server_packet, 99, 1, 1, 1},
	};

	cr_assert_lt(i, sizeof(all) / sizeof(all[0]));
	return all[i];
}

static struct qb_imb_aead aead_key;
static struct qb_imb_hp hp_key;

static void
setup(void)
{
	cr_assert_eq(qb_imb_init(), 0, "ipsec-mb manager did not initialise");
}

static void
check_vector(const struct vector *v)
{
	struct initial_keys k, want;
	uint8_t pkt[1300], expect[1300], sample[16], mask[16], want_sample[16], want_mask[5];
	size_t hlen, plen, total, pn_len, pn_off, i;
	int n;

	/* The keys from the RFC's own salt and labels, checked against its listing. */
	derive_initial(&k, v->v2, v->server);
	qb_test_unhex_ok(v->key, want.key, 16);
	qb_test_unhex_ok(v->iv, want.iv, 12);
	qb_test_unhex_ok(v->hp, want.hp, 16);
	cr_assert_arr_eq(k.key, want.key, 16);
	cr_assert_arr_eq(k.iv, want.iv, 12);
	cr_assert_arr_eq(k.hp, want.hp, 16);
	cr_assert_eq(qb_imb_aead_init(&aead_key, k.key, 16, k.iv), 0);
	cr_assert_eq(qb_imb_hp_init(&hp_key, k.hp, 16), 0);

	/* Protect: seal the padded payload, then mask the header (RFC 9001 §5.4.1). */
	memset(pkt, 0, sizeof(pkt));
	hlen = qb_test_unhex_ok(v->header, pkt, sizeof(pkt));
	qb_test_unhex_ok(v->payload, pkt + hlen, sizeof(pkt) - hlen);
	plen = v->payload_len;
	total = qb_test_unhex_ok(v->packet, expect, sizeof(expect));
	cr_assert_eq(total, hlen + plen + QB_IMB_TAG_LEN);
	cr_assert_eq(qb_imb_seal(&aead_key, v->pn, pkt, hlen, pkt + hlen, plen), 0);
	pn_len = (pkt[0] & 0x03) + 1;
	pn_off = hlen - pn_len;
	qb_test_unhex_ok(v->sample, want_sample, 16);
	cr_assert_arr_eq(pkt + pn_off + 4, want_sample, 16); /* §5.4.2 sample offset */
	qb_imb_hp_mask(&hp_key, pkt + pn_off + 4, mask);
	qb_test_unhex_ok(v->mask, want_mask, 5);
	cr_assert_arr_eq(mask, want_mask, 5);
	pkt[0] ^= mask[0] & 0x0f; /* long header: 4 bits */
	for (i = 0; i < pn_len; i++)
		pkt[pn_off + i] ^= mask[1 + i];
	cr_assert_arr_eq(pkt, expect, total, "protected packet differs from the RFC's bytes");

	/* Unprotect the RFC's bytes: unmask, then open in place. */
	memcpy(sample, pkt + pn_off + 4, 16);
	qb_imb_hp_mask(&hp_key, sample, mask);
	pkt[0] ^= mask[0] & 0x0f;
	cr_assert_eq((size_t)(pkt[0] & 0x03) + 1, pn_len);
	for (i = 0; i < pn_len; i++)
		pkt[pn_off + i] ^= mask[1 + i];
	n = qb_imb_open(&aead_key, v->pn, pkt, hlen, pkt + hlen, plen + QB_IMB_TAG_LEN);
	cr_assert_eq(n, (int)plen);
	memset(expect, 0, sizeof(expect));
	hlen = qb_test_unhex_ok(v->header, expect, sizeof(expect));
	qb_test_unhex_ok(v->payload, expect + hlen, sizeof(expect) - hlen);
	cr_assert_arr_eq(pkt, expect, hlen + plen);
}

Test(imb_rfc, v1_client_initial, .init = setup)
{
	struct vector v = rfc_vector(0);

	check_vector(&v);
}

Test(imb_rfc, v1_server_initial, .init = setup)
{
	struct vector v = rfc_vector(1);

	check_vector(&v);
}

Test(imb_rfc, v2_client_initial, .init = setup)
{
	struct vector v = rfc_vector(2);

	check_vector(&v);
}

Test(imb_rfc, v2_server_initial, .init = setup)
{
	struct vector v = rfc_vector(3);

	check_vector(&v);
}

/* rng.h's xorshift64* state: reproducible inputs, so a failure can be replayed. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static void
nonce_of(uint8_t nonce[12], const uint8_t iv[12], uint64_t pn)
{
	int i;

	memcpy(nonce, iv, 12);
	for (i = 0; i < 8; i++)
		nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
}

/*
 * For every payload length 0..1500 with AAD lengths cycling 1..64: both
 * backends produce identical ciphertext and tag, each opens the other's
 * output, and a forged tag, ciphertext or AAD fails on both, leaving our
 * buffer as it was.
 */
static void
cross_check(size_t key_len)
{
	const EVP_AEAD *alg = key_len == 16 ? EVP_aead_aes_128_gcm() : EVP_aead_aes_256_gcm();
	static uint8_t a[1600], b[1600], c[1600], plain[1600], saved[1600];
	uint8_t key[32], iv[12], nonce[12], ad[64];
	EVP_AEAD_CTX ctx;
	size_t len, ad_len, out_len;
	int forgeries = 0;

	for (len = 0; len <= 1500; len++) {
		uint64_t pn = qb_test_rng(&rng_state) & ((1ull << 62) - 1);

		if (len % 97 == 0) { /* a fresh key every so often */
			qb_test_rng_fill(&rng_state, key, sizeof(key));
			qb_test_rng_fill(&rng_state, iv, sizeof(iv));
			cr_assert_eq(qb_imb_aead_init(&aead_key, key, key_len, iv), 0);
		}
		cr_assert(EVP_AEAD_CTX_init(&ctx, alg, key, key_len, 16, NULL));
		ad_len = len % 64 + 1;
		qb_test_rng_fill(&rng_state, ad, ad_len);
		qb_test_rng_fill(&rng_state, plain, len);
		nonce_of(nonce, iv, pn);

		memcpy(a, plain, len);
		cr_assert_eq(qb_imb_seal(&aead_key, pn, ad, ad_len, a, len), 0);
		cr_assert(EVP_AEAD_CTX_seal(&ctx, b, &out_len, sizeof(b), nonce, 12, plain, len, ad,
		                            ad_len));
		cr_assert_eq(out_len, len + 16);
		cr_assert_arr_eq(a, b, len + 16, "ciphertext+tag differ at len %zu ad %zu", len,
		                 ad_len);

		/* BoringSSL opens ours; we open BoringSSL's in place. */
		cr_assert(EVP_AEAD_CTX_open(&ctx, c, &out_len, sizeof(c), nonce, 12, a, len + 16,
		                            ad, ad_len));
		cr_assert_eq(out_len, len);
		cr_assert_arr_eq(c, plain, len);
		cr_assert_eq(qb_imb_open(&aead_key, pn, ad, ad_len, b, len + 16), (int)len);
		cr_assert_arr_eq(b, plain, len);

		/* Forge one bit of the tag, the ciphertext or the AAD, in turn. */
		if (len % 7 == 0) {
			int what = forgeries++ % 3;
			size_t at;

			/* The wrong packet number (so nonce) fails and changes nothing. */
			memcpy(saved, a, len + 16);
			cr_assert_eq(qb_imb_open(&aead_key, pn ^ 1, ad, ad_len, a, len + 16),
			             QB_ERR_CRYPTO);
			cr_assert_arr_eq(a, saved, len + 16);
			if (what == 0 || len == 0)
				at = len + qb_test_rng(&rng_state) % 16;
			else
				at = qb_test_rng(&rng_state) % len;
			if (what == 2)
				ad[qb_test_rng(&rng_state) % ad_len] ^=
				        (uint8_t)(1u << (qb_test_rng(&rng_state) % 8));
			else
				a[at] ^= (uint8_t)(1u << (qb_test_rng(&rng_state) % 8));
			memcpy(saved, a, len + 16);
			cr_assert_eq(qb_imb_open(&aead_key, pn, ad, ad_len, a, len + 16),
			             QB_ERR_CRYPTO);
			cr_assert_arr_eq(a, saved, len + 16, "forged open changed the buffer");
			cr_assert_not(EVP_AEAD_CTX_open(&ctx, c, &out_len, sizeof(c), nonce, 12, a,
			                                len + 16, ad, ad_len));
		}
		EVP_AEAD_CTX_cleanup(&ctx);
	}
	cr_assert_gt(forgeries, 200);
}

static void
hp_check(size_t key_len)
{
	uint8_t key[32], sample[16], mask[16], want[16];
	AES_KEY ref;
	int i;

	for (i = 0; i < 2000; i++) {
		if (i % 50 == 0) {
			qb_test_rng_fill(&rng_state, key, key_len);
			cr_assert_eq(qb_imb_hp_init(&hp_key, key, key_len), 0);
			cr_assert_eq(AES_set_encrypt_key(key, (unsigned)key_len * 8, &ref), 0);
		}
		qb_test_rng_fill(&rng_state, sample, 16);
		qb_imb_hp_mask(&hp_key, sample, mask);
		AES_encrypt(sample, want, &ref);
		cr_assert_arr_eq(mask, want, 16);
	}
}

static void
all_checks(void)
{
	cross_check(16);
	cross_check(32);
	hp_check(16);
	hp_check(32);
}

Test(imb_cross, boringssl_best_arch, .init = setup)
{
	all_checks();
}

/* The same on each older code path ipsec-mb has, which other CPUs will run. */
Test(imb_cross, boringssl_avx2, .init = setup)
{
	/* No hook can emulate AVX2 instructions: a CPU without them fails this
	 * case by name rather than passing it unrun (BRIEF §7). */
	cr_assert(__builtin_cpu_supports("avx2"),
	          "needs a CPU with AVX2 to run ipsec-mb's AVX2 code path; this one has none");
	cr_assert_eq(qb_imb_test_reinit(IMB_ARCH_AVX2, 0), 0);
	all_checks();
	qb_imb_test_reinit(IMB_ARCH_NONE, 0);
}

Test(imb_cross, boringssl_avx, .init = setup)
{
	cr_assert(__builtin_cpu_supports("avx"),
	          "needs a CPU with AVX to run ipsec-mb's AVX code path; this one has none");
	cr_assert_eq(qb_imb_test_reinit(IMB_ARCH_AVX, 0), 0);
	all_checks();
	qb_imb_test_reinit(IMB_ARCH_NONE, 0);
}

Test(imb_cross, boringssl_sse, .init = setup)
{
	struct qb_imb_info info;

	cr_assert_eq(qb_imb_test_reinit(IMB_ARCH_SSE, 0), 0);
	cr_assert_eq(qb_imb_get_info(&info), 0);
	cr_assert_str_eq(info.name, "sse");
	all_checks();
	qb_imb_test_reinit(IMB_ARCH_NONE, 0);
}

Test(imb_api, rejects_bad_arguments, .init = setup)
{
	static uint8_t raw[sizeof(struct qb_imb_aead) + 64] __attribute__((aligned(64)));
	uint8_t key[32] = {0}, iv[12] = {0}, buf[32] = {0}, ad[4] = {0};

	cr_assert_eq(qb_imb_aead_init(&aead_key, key, 24, iv), QB_ERR_ARG);
	cr_assert_eq(qb_imb_hp_init(&hp_key, key, 24), QB_ERR_ARG);
	cr_assert_eq(qb_imb_gcm_init((struct qb_imb_gcm *)(void *)(raw + 8), key, 16), QB_ERR_ARG);
	cr_assert_eq(qb_imb_aead_init(&aead_key, key, 16, iv), 0);
	cr_assert_eq(qb_imb_open(&aead_key, 0, ad, sizeof(ad), buf, 15), QB_ERR_TRUNCATED);
	/* An empty payload still carries a verifiable tag. */
	cr_assert_eq(qb_imb_seal(&aead_key, 7, ad, sizeof(ad), buf, 0), 0);
	cr_assert_eq(qb_imb_open(&aead_key, 7, ad, sizeof(ad), buf, 16), 0);
	cr_assert_eq(qb_imb_open(&aead_key, 8, ad, sizeof(ad), buf, 16), QB_ERR_CRYPTO);
}

/*
 * A key only 16-byte aligned (as in a malloc'd or copied object) gives
 * BoringSSL's bytes on every code path: ipsec-mb asks no more alignment.
 */
Test(imb_api, key_at_16_byte_alignment, .init = setup)
{
	static const int archs[] = {IMB_ARCH_NONE, IMB_ARCH_AVX2, IMB_ARCH_AVX, IMB_ARCH_SSE};
	/* __builtin_cpu_supports needs literals. */
	const int have[] = {1, __builtin_cpu_supports("avx2"), __builtin_cpu_supports("avx"), 1};
	static uint8_t raw[sizeof(struct qb_imb_gcm) + 64] __attribute__((aligned(64)));
	uint8_t key[32], nonce[12], ad[20], a[1216], b[1216];
	size_t kl, off, out_len, n;
	EVP_AEAD_CTX ctx;

	for (n = 0; n < sizeof(archs) / sizeof(archs[0]); n++) {
		cr_assert(have[n], "needs a CPU with %s to run ipsec-mb's code path for it",
		          qb_imb_arch_name(archs[n]));
		cr_assert_eq(qb_imb_test_reinit(archs[n], 0), 0);
		for (off = 16; off < 64; off += 16) {
			struct qb_imb_gcm *g = (struct qb_imb_gcm *)(void *)(raw + off);

			for (kl = 16; kl <= 32; kl += 16) {
				qb_test_rng_fill(&rng_state, key, sizeof(key));
				qb_test_rng_fill(&rng_state, nonce, sizeof(nonce));
				qb_test_rng_fill(&rng_state, ad, sizeof(ad));
				qb_test_rng_fill(&rng_state, a, sizeof(a));
				cr_assert(EVP_AEAD_CTX_init(&ctx,
				                            kl == 16 ? EVP_aead_aes_128_gcm()
				                                     : EVP_aead_aes_256_gcm(),
				                            key, kl, 16, NULL));
				cr_assert(EVP_AEAD_CTX_seal(&ctx, b, &out_len, sizeof(b), nonce, 12,
				                            a, 1200, ad, sizeof(ad)));
				EVP_AEAD_CTX_cleanup(&ctx);
				cr_assert_eq(qb_imb_gcm_init(g, key, kl), 0);
				qb_imb_gcm_seal(g, nonce, ad, sizeof(ad), a, 1200);
				cr_assert_arr_eq(a, b, sizeof(a), "arch %d offset %zu", archs[n],
				                 off);
				cr_assert_eq(qb_imb_gcm_open(g, nonce, ad, sizeof(ad), a, 1200), 0);
				qb_imb_gcm_wipe(g);
			}
		}
	}
}

Test(imb_api, wipe_clears_keys, .init = setup)
{
	static const uint8_t zero[sizeof(struct qb_imb_hp)];
	uint8_t key[16] = {1, 2, 3};

	cr_assert_eq(qb_imb_hp_init(&hp_key, key, 16), 0);
	cr_assert(memcmp(&hp_key, zero, sizeof(hp_key)) != 0);
	qb_imb_hp_wipe(&hp_key);
	cr_assert_arr_eq(&hp_key, zero, sizeof(hp_key));
}

Test(imb_api, arch_matches_cpu, .init = setup)
{
	struct qb_imb_info info;

	cr_assert_eq(qb_imb_get_info(&info), 0);
	cr_assert_str_eq(info.name, qb_imb_arch_name(info.arch));
	cr_assert(info.features & IMB_FEATURE_AESNI);
	cr_assert_str_eq(info.why, "");
	if (__builtin_cpu_supports("avx2"))
		cr_assert_geq(info.arch, IMB_ARCH_AVX2, "AVX2 CPU but ipsec-mb picked %s",
		              info.name);
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
	    __builtin_cpu_supports("avx512cd"))
		cr_assert_eq(info.arch, IMB_ARCH_AVX512);
}

Test(imb_api, no_aesni_is_refused, .init = setup)
{
	struct qb_imb_info info;
	uint8_t key[16] = {0}, iv[12] = {0};

	cr_assert_eq(qb_imb_test_reinit(IMB_ARCH_NONE, 1), QB_ERR_UNSUPPORTED);
	cr_assert_eq(qb_imb_get_info(&info), QB_ERR_UNSUPPORTED);
	cr_assert_str_eq(info.name, "noaesni");
	cr_assert_str_neq(info.why, "");
	cr_assert_eq(qb_imb_aead_init(&aead_key, key, 16, iv), QB_ERR_STATE);
	cr_assert_eq(qb_imb_test_reinit(IMB_ARCH_NONE, 0), 0);
	cr_assert_eq(qb_imb_aead_init(&aead_key, key, 16, iv), 0);
}
