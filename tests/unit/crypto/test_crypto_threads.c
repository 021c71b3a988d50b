/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One key used by several threads at once (workers share nothing but may
 * share a read-only key, and the BoringSSL backend keeps a per-thread
 * scratch): every thread's packets must still protect and open correctly,
 * and its failed opens must leave its packets intact.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "qburst/crypto.h"

#define THREADS 4
#define ROUNDS  2000

static struct qb_crypto_key shared_key;

static void *
worker(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	uint8_t pkt[1300], plain[1300], forged[1300];
	struct qb_crypto_hdr hdr;

	for (int r = 0; r < ROUNDS; r++) {
		size_t len = 100 + (size_t)((r * 7 + id * 13) % 1100);
		uint64_t pn = id << 32 | (uint64_t)r;

		memset(plain, (int)(id * 31 + (uintptr_t)r), sizeof(plain));
		plain[0] = 0x43; /* short header, 4-byte pn */
		memcpy(pkt, plain, sizeof(pkt));
		int n = qb_crypto_protect(&shared_key, pkt, 9, 4, pn, len);
		if (n != (int)(9 + 4 + len + 16))
			return (void *)1;
		/* A forged copy fails and stays as it was. */
		memcpy(forged, pkt, (size_t)n);
		forged[n - 1] ^= 0x80;
		uint8_t before[1300];
		memcpy(before, forged, (size_t)n);
		if (qb_crypto_unprotect(&shared_key, forged, (size_t)n, 9, pn - 1, &hdr) !=
		            QB_ERR_CRYPTO ||
		    memcmp(before, forged, (size_t)n) != 0)
			return (void *)2;
		if (qb_crypto_unprotect(&shared_key, pkt, (size_t)n, 9, pn - 1, &hdr) != 0 ||
		    hdr.pn != pn || hdr.payload_len != len ||
		    memcmp(pkt + 13, plain + 13, len) != 0)
			return (void *)3;
	}
	return NULL;
}

Test(crypto_threads, one_key_many_threads, .timeout = 60)
{
	const enum qb_aead_alg algs[] = {QB_AEAD_AES128GCM, QB_AEAD_CHACHA20POLY1305};
	uint8_t secret[32];

	for (size_t a = 0; a < 2; a++) {
		pthread_t t[THREADS];

		memset(secret, 0x11 * (int)(a + 1), sizeof(secret));
		cr_assert_eq(qb_crypto_key_init(&shared_key, algs[a], QB_CRYPTO_QUIC_V1, secret, 32,
		                                QB_CRYPTO_AUTO),
		             0);
		for (uintptr_t i = 0; i < THREADS; i++)
			cr_assert_eq(pthread_create(&t[i], NULL, worker, (void *)(i + 1)), 0);
		for (int i = 0; i < THREADS; i++) {
			void *rc;
			cr_assert_eq(pthread_join(t[i], &rc), 0);
			cr_assert_null(rc, "thread %d failed with %p", i, rc);
		}
		qb_crypto_key_clear(&shared_key);
	}
}
