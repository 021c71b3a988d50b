/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Protect rate of the AEAD backends, side by side in one process: for 1-RTT
 * packets of 1200 and 1452 bytes (short header, 8-byte DCID, 2-byte packet
 * number), seal plus header protection (RFC 9001 §5.3, §5.4) through
 *   - bare ipsec-mb: the direct GCM call and ipsec-mb's one-block AES-CFB
 *     (AES-ECB of the sample, XORed into zeros),
 *   - bare BoringSSL: EVP_AEAD_CTX_seal and AES_encrypt,
 *   - ours on ipsec-mb: qb_imb_seal and qb_imb_hp_mask.
 * Rounds interleave the variants; each figure is the median over rounds.
 * Usage: bench_aead [rounds] [packets-per-round]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/aead.h>
#include <openssl/aes.h>

#include "crypto/ipsecmb/imb_aead.h"

#define HDR_LEN  11 /* 0x40 | pn_len-1, DCID (8), packet number (2) */
#define PN_OFF   9
#define PN_LEN   2
#define MAX_PKT  1500
#define MAX_VARS 8

static uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static uint8_t hp_key[16] = {16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
static uint8_t iv[12] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab};

static IMB_MGR *bare_mgr;
static struct gcm_key_data bare_gcm __attribute__((aligned(64)));
static uint8_t bare_hp_rk[15 * 16] __attribute__((aligned(16)));
static EVP_AEAD_CTX ssl_ctx;
static AES_KEY ssl_hp;
static struct qb_imb_aead our_aead;
static struct qb_imb_hp our_hp;

static uint8_t pkt[MAX_PKT] __attribute__((aligned(64)));

static inline void
nonce_of(uint8_t nonce[12], uint64_t pn)
{
	int i;

	memcpy(nonce, iv, 12);
	for (i = 0; i < 8; i++)
		nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
}

/* RFC 9001 §5.4.1: short header, 5 bits of byte 0 and the packet number. */
static inline void
apply_mask(uint8_t *p, const uint8_t *mask)
{
	p[0] ^= mask[0] & 0x1f;
	p[PN_OFF] ^= mask[1];
	p[PN_OFF + 1] ^= mask[2];
}

static void
bare_imb(size_t len, uint64_t pn)
{
	static const uint8_t zero[16];
	uint8_t nonce[12], mask[16];
	struct gcm_context_data ctx;
	size_t plen = len - HDR_LEN - 16;

	nonce_of(nonce, pn);
	IMB_AES128_GCM_ENC(bare_mgr, &bare_gcm, &ctx, pkt + HDR_LEN, pkt + HDR_LEN, plen, nonce,
	                   pkt, HDR_LEN, pkt + HDR_LEN + plen, 16);
	IMB_AES128_CFB_ONE(bare_mgr, mask, zero, pkt + PN_OFF + 4, bare_hp_rk, 16);
	apply_mask(pkt, mask);
}

static void
bare_ssl(size_t len, uint64_t pn)
{
	uint8_t nonce[12], mask[16];
	size_t plen = len - HDR_LEN - 16, out_len;

	nonce_of(nonce, pn);
	if (!EVP_AEAD_CTX_seal(&ssl_ctx, pkt + HDR_LEN, &out_len, plen + 16, nonce, 12,
	                       pkt + HDR_LEN, plen, pkt, HDR_LEN))
		abort();
	AES_encrypt(pkt + PN_OFF + 4, mask, &ssl_hp);
	apply_mask(pkt, mask);
}

static void
ours_imb(size_t len, uint64_t pn)
{
	uint8_t mask[16];
	size_t plen = len - HDR_LEN - 16;

	qb_imb_seal(&our_aead, pn, pkt, HDR_LEN, pkt + HDR_LEN, plen);
	qb_imb_hp_mask(&our_hp, pkt + PN_OFF + 4, mask);
	apply_mask(pkt, mask);
}

struct variant {
	const char *name;
	void (*fn)(size_t len, uint64_t pn);
};

static const struct variant variants[] = {
        {"bare ipsec-mb", bare_imb},
        {"bare BoringSSL", bare_ssl},
        {"ours ipsec-mb", ours_imb},
};
#define NVARS (sizeof(variants) / sizeof(variants[0]))

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void
run(size_t len, int rounds, int per_round, double med[NVARS])
{
	double *t = calloc((size_t)rounds * NVARS, sizeof(double));
	uint64_t pn = 0;
	int r, i;
	size_t v;

	if (t == NULL)
		abort();
	memset(pkt, 0x5a, sizeof(pkt));
	pkt[0] = 0x40 | (PN_LEN - 1);
	for (r = 0; r < rounds; r++) {
		for (v = 0; v < NVARS; v++) {
			/* Rotate the order so no variant always runs first. */
			const struct variant *var = &variants[(v + (size_t)r) % NVARS];
			uint64_t t0 = now_ns();

			for (i = 0; i < per_round; i++)
				var->fn(len, pn++);
			t[((v + (size_t)r) % NVARS) * (size_t)rounds + (size_t)r] =
			        (double)(now_ns() - t0) / per_round;
		}
	}
	for (v = 0; v < NVARS; v++) {
		qsort(t + v * (size_t)rounds, (size_t)rounds, sizeof(double), cmp_double);
		med[v] = t[v * (size_t)rounds + (size_t)rounds / 2];
	}
	free(t);
}

int
main(int argc, char **argv)
{
	static const size_t sizes[] = {1200, 1452};
	int rounds = argc > 1 ? atoi(argv[1]) : 31;
	int per_round = argc > 2 ? atoi(argv[2]) : 4000;
	struct qb_imb_info info;
	uint8_t dec[15 * 16] __attribute__((aligned(16)));
	size_t s, v;

	if (rounds < 1 || per_round < 1) {
		fprintf(stderr, "usage: bench_aead [rounds] [packets-per-round]\n");
		return 2;
	}
	if (qb_imb_init() != 0) {
		qb_imb_get_info(&info);
		fprintf(stderr, "bench_aead: ipsec-mb unusable: %s\n", info.why);
		return 1;
	}
	qb_imb_get_info(&info);
	bare_mgr = alloc_mb_mgr(0);
	if (bare_mgr == NULL)
		return 1;
	init_mb_mgr_auto(bare_mgr, NULL);
	IMB_AES128_GCM_PRE(bare_mgr, key, &bare_gcm);
	IMB_AES_KEYEXP_128(bare_mgr, hp_key, bare_hp_rk, dec);
	if (!EVP_AEAD_CTX_init(&ssl_ctx, EVP_aead_aes_128_gcm(), key, 16, 16, NULL) ||
	    AES_set_encrypt_key(hp_key, 128, &ssl_hp) != 0)
		return 1;
	if (qb_imb_aead_init(&our_aead, key, 16, iv) != 0 || qb_imb_hp_init(&our_hp, hp_key, 16))
		return 1;

	printf("AES-128-GCM seal + header protection, ns/packet (median of %d rounds x %d "
	       "packets); ipsec-mb arch %s\n",
	       rounds, per_round, info.name);
	printf("%-6s", "bytes");
	for (v = 0; v < NVARS; v++)
		printf(" %16s", variants[v].name);
	printf(" %14s %14s\n", "ours/bare-imb", "imb/BoringSSL");
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		double med[NVARS];

		run(sizes[s], rounds, per_round, med);
		printf("%-6zu", sizes[s]);
		for (v = 0; v < NVARS; v++)
			printf(" %16.1f", med[v]);
		/* Rates, not times: ours at 0.95 of bare or better is the goal. */
		printf(" %14.2f %14.2f\n", med[0] / med[2], med[1] / med[2]);
	}
	EVP_AEAD_CTX_cleanup(&ssl_ctx);
	free_mb_mgr(bare_mgr);
	return 0;
}
