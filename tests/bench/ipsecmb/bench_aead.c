/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Protect and unprotect rates of the AEAD backends, side by side in one
 * process. For 1-RTT packets of 1200 and 1452 bytes (short header, 8-byte
 * DCID, 2-byte packet number), AES-128-GCM, RFC 9001 §5.3-5.4:
 *
 * Protect (seal plus header protection) through
 *   - bare ipsec-mb: the direct GCM call, and ipsec-mb's one-block AES-CFB
 *     over zeros for the mask (that is AES-ECB of the sample);
 *   - bare BoringSSL: EVP_AEAD_CTX_seal and AES_encrypt;
 *   - imb core: qb_imb_seal and qb_imb_hp_mask, the backend's own calls;
 *   - ours on each backend: qb_crypto_protect() with a key installed on
 *     ipsec-mb and one on BoringSSL (the path the engine uses).
 * Unprotect (header-protection removal plus open) of a protected packet,
 * restored from a pristine copy before each: the same bare calls and
 * qb_crypto_unprotect() on each backend, with the copy alone as a baseline.
 *
 * Rounds interleave the variants, the order rotating; each figure is the
 * median over rounds. Usage: bench_aead [rounds] [packets-per-round]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/aead.h>
#include <openssl/aes.h>
#include <openssl/mem.h>

#include "qburst/crypto.h"
#include "crypto/ipsecmb/imb_aead.h"
#include "qburst/crypto_select.h"

#define HDR_LEN    11 /* first byte, DCID (8), packet number (2) */
#define PN_OFF     9
#define PN_LEN     2
#define MAX_PKT    1500
#define FIRST_BYTE (0x40 | (PN_LEN - 1))
#define OPEN_PN    0x1234 /* packet number of the packets the unprotect rows open */

static const uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t hp_key[16] = {16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
static const uint8_t iv[12] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5,
                               0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab};

static IMB_MGR *bare_mgr;
static struct gcm_key_data bare_gcm __attribute__((aligned(64)));
static uint8_t bare_hp_rk[15 * 16] __attribute__((aligned(16)));
static EVP_AEAD_CTX ssl_ctx;
static AES_KEY ssl_hp;
static struct qb_imb_aead core_aead;
static struct qb_imb_hp core_hp;
static struct qb_crypto_key qb_key_imb, qb_key_ssl;

static uint8_t pkt[MAX_PKT] __attribute__((aligned(64)));
/* Protected packets for the unprotect rows: bare keys, and our keys. */
static uint8_t pristine_bare[MAX_PKT], pristine_ours[MAX_PKT];

static inline void
nonce_of(uint8_t nonce[12], uint64_t pn)
{
	int i;

	memcpy(nonce, iv, 12);
	for (i = 0; i < 8; i++)
		nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
}

/* RFC 9001 §5.4.1: a short header masks 5 bits of byte 0 and the pn bytes. */
static inline void
apply_mask(uint8_t *p, const uint8_t *mask)
{
	p[0] ^= mask[0] & 0x1f;
	p[PN_OFF] ^= mask[1];
	p[PN_OFF + 1] ^= mask[2];
}

/* ---- protect ---- */

static void
bare_imb_seal(size_t len, uint64_t pn)
{
	static const uint8_t zero[16];
	uint8_t nonce[12], mask[16];
	struct gcm_context_data ctx;
	size_t plen = len - HDR_LEN - 16;

	pkt[0] = FIRST_BYTE;
	nonce_of(nonce, pn);
	IMB_AES128_GCM_ENC(bare_mgr, &bare_gcm, &ctx, pkt + HDR_LEN, pkt + HDR_LEN, plen, nonce,
	                   pkt, HDR_LEN, pkt + HDR_LEN + plen, 16);
	IMB_AES128_CFB_ONE(bare_mgr, mask, zero, pkt + PN_OFF + 4, bare_hp_rk, 16);
	apply_mask(pkt, mask);
}

static void
bare_ssl_seal(size_t len, uint64_t pn)
{
	uint8_t nonce[12], mask[16];
	size_t plen = len - HDR_LEN - 16, out_len;

	pkt[0] = FIRST_BYTE;
	nonce_of(nonce, pn);
	if (!EVP_AEAD_CTX_seal(&ssl_ctx, pkt + HDR_LEN, &out_len, plen + 16, nonce, 12,
	                       pkt + HDR_LEN, plen, pkt, HDR_LEN))
		abort();
	AES_encrypt(pkt + PN_OFF + 4, mask, &ssl_hp);
	apply_mask(pkt, mask);
}

static void
core_seal(size_t len, uint64_t pn)
{
	uint8_t mask[16];

	pkt[0] = FIRST_BYTE;
	qb_imb_seal(&core_aead, pn, pkt, HDR_LEN, pkt + HDR_LEN, len - HDR_LEN - 16);
	qb_imb_hp_mask(&core_hp, pkt + PN_OFF + 4, mask);
	apply_mask(pkt, mask);
}

static void
ours_protect(const struct qb_crypto_key *k, size_t len, uint64_t pn)
{
	pkt[0] = FIRST_BYTE; /* protect checks the pn-length bits */
	if (qb_crypto_protect(k, pkt, PN_OFF, PN_LEN, pn, len - HDR_LEN - 16) < 0)
		abort();
}

static void
ours_imb_protect(size_t len, uint64_t pn)
{
	ours_protect(&qb_key_imb, len, pn);
}

static void
ours_ssl_protect(size_t len, uint64_t pn)
{
	ours_protect(&qb_key_ssl, len, pn);
}

/* ---- unprotect: each starts from a copy of the protected packet ---- */

static void
copy_only(size_t len, uint64_t pn)
{
	(void)pn;
	memcpy(pkt, pristine_bare, len);
	__asm__ volatile("" : : "r"(pkt) : "memory"); /* keep the copy */
}

static void
bare_imb_open(size_t len, uint64_t pn)
{
	static const uint8_t zero[16];
	uint8_t nonce[12], mask[16], tag[16];
	struct gcm_context_data ctx;
	size_t plen = len - HDR_LEN - 16;

	(void)pn;
	memcpy(pkt, pristine_bare, len);
	IMB_AES128_CFB_ONE(bare_mgr, mask, zero, pkt + PN_OFF + 4, bare_hp_rk, 16);
	apply_mask(pkt, mask);
	nonce_of(nonce, OPEN_PN);
	IMB_AES128_GCM_DEC(bare_mgr, &bare_gcm, &ctx, pkt + HDR_LEN, pkt + HDR_LEN, plen, nonce,
	                   pkt, HDR_LEN, tag, 16);
	if (CRYPTO_memcmp(tag, pkt + HDR_LEN + plen, 16) != 0)
		abort();
}

static void
bare_ssl_open(size_t len, uint64_t pn)
{
	uint8_t nonce[12], mask[16];
	size_t out_len;

	(void)pn;
	memcpy(pkt, pristine_bare, len);
	AES_encrypt(pkt + PN_OFF + 4, mask, &ssl_hp);
	apply_mask(pkt, mask);
	nonce_of(nonce, OPEN_PN);
	if (!EVP_AEAD_CTX_open(&ssl_ctx, pkt + HDR_LEN, &out_len, len - HDR_LEN, nonce, 12,
	                       pkt + HDR_LEN, len - HDR_LEN, pkt, HDR_LEN))
		abort();
}

static void
ours_unprotect(const struct qb_crypto_key *k, size_t len)
{
	struct qb_crypto_hdr hdr;

	memcpy(pkt, pristine_ours, len);
	if (qb_crypto_unprotect(k, pkt, len, PN_OFF, OPEN_PN - 1, &hdr) != 0)
		abort();
}

static void
ours_imb_unprotect(size_t len, uint64_t pn)
{
	(void)pn;
	ours_unprotect(&qb_key_imb, len);
}

static void
ours_ssl_unprotect(size_t len, uint64_t pn)
{
	(void)pn;
	ours_unprotect(&qb_key_ssl, len);
}

struct variant {
	const char *name;
	void (*fn)(size_t len, uint64_t pn);
};

#define NVARS 5

static const struct variant seal_vars[NVARS] = {
        {"bare ipsec-mb", bare_imb_seal},
        {"bare BoringSSL", bare_ssl_seal},
        {"imb core", core_seal},
        {"ours ipsec-mb", ours_imb_protect},
        {"ours BoringSSL", ours_ssl_protect},
};

static const struct variant open_vars[NVARS] = {
        {"bare ipsec-mb", bare_imb_open},
        {"bare BoringSSL", bare_ssl_open},
        {"copy only", copy_only},
        {"ours ipsec-mb", ours_imb_unprotect},
        {"ours BoringSSL", ours_ssl_unprotect},
};

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
run(const struct variant *vars, size_t len, int rounds, int per_round, double med[NVARS])
{
	double *t = calloc((size_t)rounds * NVARS, sizeof(double));
	uint64_t pn = 0;
	int r, i;
	size_t v;

	if (t == NULL)
		abort();
	for (r = 0; r < rounds; r++) {
		for (v = 0; v < NVARS; v++) {
			/* Rotate the order so no variant always runs first. */
			size_t which = (v + (size_t)r) % NVARS;
			uint64_t t0 = now_ns();

			for (i = 0; i < per_round; i++)
				vars[which].fn(len, pn++);
			t[which * (size_t)rounds + (size_t)r] = (double)(now_ns() - t0) / per_round;
		}
	}
	for (v = 0; v < NVARS; v++) {
		qsort(t + v * (size_t)rounds, (size_t)rounds, sizeof(double), cmp_double);
		med[v] = t[v * (size_t)rounds + (size_t)rounds / 2];
	}
	free(t);
}

/* Protected packets of len bytes at OPEN_PN for the unprotect rows. */
static void
make_pristine(size_t len)
{
	memset(pkt, 0x5a, sizeof(pkt));
	bare_imb_seal(len, OPEN_PN);
	memcpy(pristine_bare, pkt, len);
	memset(pkt, 0x5a, sizeof(pkt));
	ours_imb_protect(len, OPEN_PN);
	memcpy(pristine_ours, pkt, len);
}

static void
table(const char *title, const struct variant *vars, int rounds, int per_round)
{
	static const size_t sizes[] = {1200, 1452};
	size_t s, v;

	printf("%s\n%-6s", title, "bytes");
	for (v = 0; v < NVARS; v++)
		printf(" %15s", vars[v].name);
	printf(" %14s %14s %14s\n", "ours/bare imb", "ours/bare ssl", "ours imb/ssl");
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		double med[NVARS];

		make_pristine(sizes[s]);
		memset(pkt, 0x5a, sizeof(pkt));
		run(vars, sizes[s], rounds, per_round, med);
		printf("%-6zu", sizes[s]);
		for (v = 0; v < NVARS; v++)
			printf(" %15.1f", med[v]);
		/*
		 * Rate ratios (the reference's time over ours). Goals: ours on
		 * a backend at 0.95 of that backend bare or better, and ours on
		 * ipsec-mb at 2x ours on BoringSSL or better.
		 */
		printf(" %14.2f %14.2f %14.2f\n", med[0] / med[3], med[1] / med[4],
		       med[4] / med[3]);
	}
}

int
main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 101;
	int per_round = argc > 2 ? atoi(argv[2]) : 1000;
	uint8_t dec[15 * 16] __attribute__((aligned(16)));
	struct qb_crypto_choice choice;
	uint8_t secret[32];
	char title[160];

	if (rounds < 1 || per_round < 1) {
		fprintf(stderr, "usage: bench_aead [rounds] [packets-per-round]\n");
		return 2;
	}
	if (qb_crypto_select(QB_CRYPTO_IPSECMB, &choice) != 0) {
		fprintf(stderr, "bench_aead: ipsec-mb unusable: %s\n", choice.reason);
		return 1;
	}
	memset(secret, 0x3c, sizeof(secret));
	if (qb_crypto_key_init(&qb_key_imb, QB_AEAD_AES128GCM, QB_CRYPTO_QUIC_V1, secret,
	                       sizeof(secret), QB_CRYPTO_IPSECMB) != 0 ||
	    qb_crypto_key_init(&qb_key_ssl, QB_AEAD_AES128GCM, QB_CRYPTO_QUIC_V1, secret,
	                       sizeof(secret), QB_CRYPTO_BORINGSSL) != 0)
		return 1;
	bare_mgr = alloc_mb_mgr(0);
	if (bare_mgr == NULL)
		return 1;
	init_mb_mgr_auto(bare_mgr, NULL);
	IMB_AES128_GCM_PRE(bare_mgr, key, &bare_gcm);
	IMB_AES_KEYEXP_128(bare_mgr, hp_key, bare_hp_rk, dec);
	if (!EVP_AEAD_CTX_init(&ssl_ctx, EVP_aead_aes_128_gcm(), key, 16, 16, NULL) ||
	    AES_set_encrypt_key(hp_key, 128, &ssl_hp) != 0)
		return 1;
	if (qb_imb_aead_init(&core_aead, key, 16, iv) != 0 ||
	    qb_imb_hp_init(&core_hp, hp_key, 16) != 0)
		return 1;

	snprintf(title, sizeof(title),
	         "AES-128-GCM, ns/packet, median of %d rounds x %d packets; ipsec-mb arch %s",
	         rounds, per_round, choice.arch);
	printf("%s\n\n", title);
	table("protect: seal + header protection", seal_vars, rounds, per_round);
	printf("\n");
	table("unprotect: copy + header-protection removal + open", open_vars, rounds, per_round);
	EVP_AEAD_CTX_cleanup(&ssl_ctx);
	free_mb_mgr(bare_mgr);
	return 0;
}
