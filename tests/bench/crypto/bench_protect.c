/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Protect rate (BRIEF §6): seal plus header protection of 1200- and
 * 1452-byte short-header packets through qb_crypto_protect() against the
 * same work done by bare BoringSSL calls (EVP_AEAD_CTX_seal, then
 * AES_encrypt or CRYPTO_chacha_20 of the sample and the XOR). The two are
 * interleaved in rounds (A, B, A, B, ...) in one process and the median
 * ns/packet of each is reported, so a noisy shared machine hits both alike.
 *
 * Usage: bench_protect [ROUNDS [PACKETS_PER_ROUND]]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/aead.h>
#include <openssl/aes.h>
#include <openssl/chacha.h>

#include "qburst/crypto.h"

#define PN_OFFSET 9 /* short header with an 8-byte DCID */
#define PN_LEN    2

struct bare {
	EVP_AEAD_CTX aead;
	AES_KEY aes;
	uint8_t chacha[32];
	uint8_t iv[12];
	int is_chacha;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The bare path: what any QUIC stack must do per packet, no more. */
static int
bare_protect(const struct bare *b, uint8_t *pkt, uint64_t pn, size_t payload_len)
{
	const size_t hdr_len = PN_OFFSET + PN_LEN;
	uint8_t nonce[12], mask[16];
	size_t out_len;

	pkt[0] = 0x40 | (PN_LEN - 1);
	pkt[PN_OFFSET] = (uint8_t)(pn >> 8);
	pkt[PN_OFFSET + 1] = (uint8_t)pn;
	memcpy(nonce, b->iv, 12);
	for (int i = 0; i < 8; i++)
		nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
	if (!EVP_AEAD_CTX_seal(&b->aead, pkt + hdr_len, &out_len, payload_len + 16, nonce, 12,
	                       pkt + hdr_len, payload_len, pkt, hdr_len))
		return -1;
	if (b->is_chacha) {
		const uint8_t *s = pkt + PN_OFFSET + 4;
		uint32_t ctr = s[0] | s[1] << 8 | s[2] << 16 | (uint32_t)s[3] << 24;
		static const uint8_t zeros[5];
		CRYPTO_chacha_20(mask, zeros, 5, b->chacha, s + 4, ctr);
	} else {
		AES_encrypt(pkt + PN_OFFSET + 4, mask, &b->aes);
	}
	pkt[0] ^= mask[0] & 0x1f;
	pkt[PN_OFFSET] ^= mask[1];
	pkt[PN_OFFSET + 1] ^= mask[2];
	return (int)(hdr_len + out_len);
}

static double
run_bare(const struct bare *b, uint8_t *pkt, size_t payload_len, int count, uint64_t *pn)
{
	uint64_t t0 = now_ns();

	for (int i = 0; i < count; i++) {
		if (bare_protect(b, pkt, (*pn)++, payload_len) < 0) {
			fprintf(stderr, "bare seal failed\n");
			exit(1);
		}
	}
	return (double)(now_ns() - t0) / count;
}

static double
run_ours(const struct qb_crypto_key *key, uint8_t *pkt, size_t payload_len, int count, uint64_t *pn)
{
	uint64_t t0 = now_ns();

	for (int i = 0; i < count; i++) {
		/* The encoder writes the first byte of each new packet. */
		pkt[0] = 0x40 | (PN_LEN - 1);
		if (qb_crypto_protect(key, pkt, PN_OFFSET, PN_LEN, (*pn)++, payload_len) < 0) {
			fprintf(stderr, "qb_crypto_protect failed\n");
			exit(1);
		}
	}
	return (double)(now_ns() - t0) / count;
}

static void
bare_init(struct bare *b, enum qb_aead_alg alg, const uint8_t *secret, size_t secret_len)
{
	uint8_t key[32], hp[32];
	size_t klen = alg == QB_AEAD_AES128GCM ? 16 : 32;
	const EVP_AEAD *aead = alg == QB_AEAD_AES128GCM   ? EVP_aead_aes_128_gcm()
	                       : alg == QB_AEAD_AES256GCM ? EVP_aead_aes_256_gcm()
	                                                  : EVP_aead_chacha20_poly1305();

	/* Same keys as ours, so both paths do identical cipher work. */
	if (qb_crypto_hkdf_expand_label(alg, secret, secret_len, "quic key", key, klen) != 0 ||
	    qb_crypto_hkdf_expand_label(alg, secret, secret_len, "quic iv", b->iv, 12) != 0 ||
	    qb_crypto_hkdf_expand_label(alg, secret, secret_len, "quic hp", hp, klen) != 0 ||
	    !EVP_AEAD_CTX_init(&b->aead, aead, key, klen, 16, NULL)) {
		fprintf(stderr, "bare key setup failed\n");
		exit(1);
	}
	b->is_chacha = alg == QB_AEAD_CHACHA20POLY1305;
	if (b->is_chacha)
		memcpy(b->chacha, hp, 32);
	else
		AES_set_encrypt_key(hp, (unsigned)klen * 8, &b->aes);
}

int
main(int argc, char **argv)
{
	static const struct {
		enum qb_aead_alg alg;
		const char *name;
	} algs[] = {
	        {QB_AEAD_AES128GCM, "AES-128-GCM"},
	        {QB_AEAD_AES256GCM, "AES-256-GCM"},
	        {QB_AEAD_CHACHA20POLY1305, "ChaCha20-Poly1305"},
	};
	static const size_t sizes[] = {1200, 1452};
	int rounds = argc > 1 ? atoi(argv[1]) : 201;
	int count = argc > 2 ? atoi(argv[2]) : 1000;
	static uint8_t pkt_a[2048], pkt_b[2048];
	double *ta, *tb;

	if (rounds < 1 || count < 1) {
		fprintf(stderr, "usage: %s [ROUNDS [PACKETS_PER_ROUND]]\n", argv[0]);
		return 2;
	}
	ta = calloc((size_t)rounds, sizeof(*ta));
	tb = calloc((size_t)rounds, sizeof(*tb));
	if (ta == NULL || tb == NULL)
		return 1;
	printf("protect rate, backend %s, %d rounds x %d packets, median per packet\n",
	       qb_crypto_backend_name(qb_crypto_default_backend()), rounds, count);
	printf("%-18s %6s %12s %10s %12s %10s %8s\n", "aead", "bytes", "bare ns/pkt", "bare Mpps",
	       "ours ns/pkt", "ours Mpps", "ratio");
	for (size_t a = 0; a < sizeof(algs) / sizeof(algs[0]); a++) {
		uint8_t secret[48];
		size_t slen = qb_crypto_secret_len(algs[a].alg);
		struct qb_crypto_key key;
		struct bare bare;

		for (size_t i = 0; i < sizeof(secret); i++)
			secret[i] = (uint8_t)(i * 37 + a);
		if (qb_crypto_key_init(&key, algs[a].alg, QB_CRYPTO_QUIC_V1, secret, slen,
		                       QB_CRYPTO_AUTO) != 0) {
			fprintf(stderr, "key init failed\n");
			return 1;
		}
		bare_init(&bare, algs[a].alg, secret, slen);
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			size_t payload = sizes[s] - PN_OFFSET - PN_LEN - 16;
			uint64_t pn_a = 0, pn_b = 0;

			memset(pkt_a, 0x5a, sizeof(pkt_a));
			memset(pkt_b, 0x5a, sizeof(pkt_b));
			/* Warm up both paths (caches, branch predictors, clocks). */
			run_bare(&bare, pkt_a, payload, count / 4 + 1, &pn_a);
			run_ours(&key, pkt_b, payload, count / 4 + 1, &pn_b);
			for (int r = 0; r < rounds; r++) {
				/* Alternate which goes first so drift hits both. */
				if (r % 2 == 0) {
					ta[r] = run_bare(&bare, pkt_a, payload, count, &pn_a);
					tb[r] = run_ours(&key, pkt_b, payload, count, &pn_b);
				} else {
					tb[r] = run_ours(&key, pkt_b, payload, count, &pn_b);
					ta[r] = run_bare(&bare, pkt_a, payload, count, &pn_a);
				}
			}
			double ma = median(ta, rounds), mb = median(tb, rounds);
			printf("%-18s %6zu %12.1f %10.2f %12.1f %10.2f %8.3f\n", algs[a].name,
			       sizes[s], ma, 1e3 / ma, mb, 1e3 / mb, ma / mb);
		}
		qb_crypto_key_clear(&key);
		EVP_AEAD_CTX_cleanup(&bare.aead);
	}
	printf("ratio = ours throughput / bare throughput (target >= 0.95)\n");
	free(ta);
	free(tb);
	return 0;
}
