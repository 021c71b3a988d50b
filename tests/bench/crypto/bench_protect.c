/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Protect rate (BRIEF §6): seal plus header protection of 1200- and
 * 1452-byte short-header packets through qb_crypto_protect() against the
 * same work done by bare BoringSSL calls (EVP_AEAD_CTX_seal, then
 * AES_encrypt or CRYPTO_chacha_20 of the sample and the XOR). The two are
 * interleaved in rounds (A, B, A, B, ...) in one process and the median
 * ns/packet of each is reported, so a noisy shared machine hits both alike.
 *
 * It also times the receive side (header-protection removal and open),
 * for information.
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

/* What one timed loop works on. */
struct job {
	const struct bare *bare;
	const struct qb_crypto_key *key;
	uint8_t *pkt;       /* the packet being protected / opened */
	const uint8_t *src; /* unprotect: the protected packet, copied in each time */
	size_t payload_len;
	size_t pkt_len;
	uint64_t pn;
};

static void
fail(const char *what)
{
	fprintf(stderr, "%s failed\n", what);
	exit(1);
}

static double
run_bare(struct job *j, int count)
{
	uint64_t t0 = now_ns();

	for (int i = 0; i < count; i++)
		if (bare_protect(j->bare, j->pkt, j->pn++, j->payload_len) < 0)
			fail("bare seal");
	return (double)(now_ns() - t0) / count;
}

static double
run_ours(struct job *j, int count)
{
	uint64_t t0 = now_ns();

	for (int i = 0; i < count; i++) {
		/* The encoder writes the first byte of each new packet. */
		j->pkt[0] = 0x40 | (PN_LEN - 1);
		if (qb_crypto_protect(j->key, j->pkt, PN_OFFSET, PN_LEN, j->pn++, j->payload_len) <
		    0)
			fail("qb_crypto_protect");
	}
	return (double)(now_ns() - t0) / count;
}

/* Bare receive path: HP removal, then EVP_AEAD_CTX_open in place (which,
 * unlike ours, zeroes the payload when the tag is wrong). */
static double
run_bare_open(struct job *j, int count)
{
	const size_t hdr_len = PN_OFFSET + PN_LEN;
	uint64_t t0 = now_ns();

	for (int i = 0; i < count; i++) {
		uint8_t *pkt = j->pkt, nonce[12], mask[16];
		size_t out_len;
		uint64_t pn;

		memcpy(pkt, j->src, j->pkt_len);
		if (j->bare->is_chacha) {
			const uint8_t *s = pkt + PN_OFFSET + 4;
			uint32_t ctr = s[0] | s[1] << 8 | s[2] << 16 | (uint32_t)s[3] << 24;
			static const uint8_t zeros[5];
			CRYPTO_chacha_20(mask, zeros, 5, j->bare->chacha, s + 4, ctr);
		} else {
			AES_encrypt(pkt + PN_OFFSET + 4, mask, &j->bare->aes);
		}
		pkt[0] ^= mask[0] & 0x1f;
		pkt[PN_OFFSET] ^= mask[1];
		pkt[PN_OFFSET + 1] ^= mask[2];
		pn = (uint64_t)pkt[PN_OFFSET] << 8 | pkt[PN_OFFSET + 1];
		memcpy(nonce, j->bare->iv, 12);
		for (int k = 0; k < 8; k++)
			nonce[11 - k] ^= (uint8_t)(pn >> (8 * k));
		if (!EVP_AEAD_CTX_open(&j->bare->aead, pkt + hdr_len, &out_len, j->payload_len,
		                       nonce, 12, pkt + hdr_len, j->payload_len + 16, pkt, hdr_len))
			fail("bare open");
	}
	return (double)(now_ns() - t0) / count;
}

static double
run_ours_open(struct job *j, int count)
{
	uint64_t t0 = now_ns();
	struct qb_crypto_hdr hdr;

	for (int i = 0; i < count; i++) {
		memcpy(j->pkt, j->src, j->pkt_len);
		if (qb_crypto_unprotect(j->key, j->pkt, j->pkt_len, PN_OFFSET, j->pn, &hdr) != 0)
			fail("qb_crypto_unprotect");
	}
	return (double)(now_ns() - t0) / count;
}

typedef double (*runner)(struct job *, int);

/* A and B alternately (A B B A A B ...), medians of each. */
static void
interleave(runner fa, struct job *ja, runner fb, struct job *jb, int rounds, int count, double *ta,
           double *tb, double *ma, double *mb)
{
	/* Warm up both paths (caches, branch predictors, clocks). */
	fa(ja, count / 4 + 1);
	fb(jb, count / 4 + 1);
	for (int r = 0; r < rounds; r++) {
		if (r % 2 == 0) {
			ta[r] = fa(ja, count);
			tb[r] = fb(jb, count);
		} else {
			tb[r] = fb(jb, count);
			ta[r] = fa(ja, count);
		}
	}
	*ma = median(ta, rounds);
	*mb = median(tb, rounds);
}

static void
bare_init(struct bare *b, enum qb_aead_alg alg, const uint8_t *secret, size_t secret_len)
{
	uint8_t key[32], hp[32];
	size_t klen = alg == QB_AEAD_AES128GCM ? 16 : 32;
	const EVP_AEAD *aead = alg == QB_AEAD_AES128GCM   ? EVP_aead_aes_128_gcm()
	                       : alg == QB_AEAD_AES256GCM ? EVP_aead_aes_256_gcm()
	                                                  : EVP_aead_chacha20_poly1305();

	/* Same keys as ours, so both paths do identical cipher work (ours is
	 * forced onto BoringSSL: this compares like with like). */
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
	static uint8_t pkt_a[2048], pkt_b[2048], src[2048];
	double *ta, *tb, ma, mb;

	if (rounds < 1 || count < 1) {
		fprintf(stderr, "usage: %s [ROUNDS [PACKETS_PER_ROUND]]\n", argv[0]);
		return 2;
	}
	ta = calloc((size_t)rounds, sizeof(*ta));
	tb = calloc((size_t)rounds, sizeof(*tb));
	if (ta == NULL || tb == NULL)
		return 1;
	printf("protect rate, backend %s, %d rounds x %d packets, median per packet\n",
	       qb_crypto_backend_name(QB_CRYPTO_BORINGSSL), rounds, count);
	printf("%-10s %-18s %6s %12s %10s %12s %10s %8s\n", "op", "aead", "bytes", "bare ns/pkt",
	       "bare Mpps", "ours ns/pkt", "ours Mpps", "ratio");
	for (size_t a = 0; a < sizeof(algs) / sizeof(algs[0]); a++) {
		uint8_t secret[48];
		size_t slen = qb_crypto_secret_len(algs[a].alg);
		struct qb_crypto_key key;
		struct bare bare;

		for (size_t i = 0; i < sizeof(secret); i++)
			secret[i] = (uint8_t)(i * 37 + a);
		if (qb_crypto_key_init(&key, algs[a].alg, QB_CRYPTO_QUIC_V1, secret, slen,
		                       QB_CRYPTO_BORINGSSL) != 0)
			fail("key init");
		bare_init(&bare, algs[a].alg, secret, slen);
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			size_t payload = sizes[s] - PN_OFFSET - PN_LEN - 16;
			struct job ja = {&bare, &key, pkt_a, src, payload, sizes[s], 0};
			struct job jb = ja;

			jb.pkt = pkt_b;
			memset(pkt_a, 0x5a, sizeof(pkt_a));
			memset(pkt_b, 0x5a, sizeof(pkt_b));
			interleave(run_bare, &ja, run_ours, &jb, rounds, count, ta, tb, &ma, &mb);
			printf("%-10s %-18s %6zu %12.1f %10.2f %12.1f %10.2f %8.3f\n", "protect",
			       algs[a].name, sizes[s], ma, 1e3 / ma, mb, 1e3 / mb, ma / mb);
		}
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			size_t payload = sizes[s] - PN_OFFSET - PN_LEN - 16;
			struct job ja = {&bare, &key, pkt_a, src, payload, sizes[s], 1000};
			struct job jb = ja;

			jb.pkt = pkt_b;
			memset(src, 0x5a, sizeof(src));
			src[0] = 0x40 | (PN_LEN - 1);
			if (qb_crypto_protect(&key, src, PN_OFFSET, PN_LEN, 1000, payload) !=
			    (int)sizes[s])
				fail("protect of the unprotect source");
			/* ja.pn/jb.pn stay 1000: ours decodes against largest 1000. */
			interleave(run_bare_open, &ja, run_ours_open, &jb, rounds, count, ta, tb,
			           &ma, &mb);
			printf("%-10s %-18s %6zu %12.1f %10.2f %12.1f %10.2f %8.3f\n", "unprotect",
			       algs[a].name, sizes[s], ma, 1e3 / ma, mb, 1e3 / mb, ma / mb);
		}
		qb_crypto_key_clear(&key);
		EVP_AEAD_CTX_cleanup(&bare.aead);
	}
	printf("ratio = ours throughput / bare throughput (target >= 0.95 for protect);\n"
	       "unprotect includes a copy of the packet into the work buffer on both sides\n");
	free(ta);
	free(tb);
	return 0;
}
