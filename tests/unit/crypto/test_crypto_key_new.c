/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sized keys (qb_crypto_key_new and friends): allocated with only the state
 * their backend uses, they must protect byte for byte as embedded keys do,
 * on the RFCs' Initial vectors, after a key update (the RFC 9001 A.5 "quic
 * ku" secret) and through the BoringSSL fallback of an algorithm ipsec-mb
 * lacks; and be smaller than an embedded key.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "qburst/crypto.h"
#include "qburst/crypto_select.h"

#include "hex.h"
#include "rfc_vectors.h"

static const struct qb_rfc_vectors *const versions[] = {&qb_rfc9001, &qb_rfc9369};

/* The backends to run on: BoringSSL always, ipsec-mb when it runs here. */
static int
backends(enum qb_crypto_backend *out)
{
	int n = 0;

	out[n++] = QB_CRYPTO_BORINGSSL;
	if (qb_crypto_select(QB_CRYPTO_IPSECMB, NULL) == 0)
		out[n++] = QB_CRYPTO_IPSECMB;
	else
		cr_log_warn("ipsec-mb cannot run here: sized keys tested on BoringSSL only");
	cr_assert_eq(qb_crypto_set_default_backend(QB_CRYPTO_BORINGSSL), 0);
	return n;
}

/* The client Initial of RFC 9001 / RFC 9369 Appendix A.2, sealed with k. */
static void
check_client_initial(const struct qb_rfc_vectors *v, const struct qb_crypto_key *k)
{
	uint8_t buf[1500], want[1500];
	size_t hlen = qb_test_unhex_ok(v->client_header, buf, sizeof(buf));
	size_t want_len = qb_test_unhex_ok(v->client_packet, want, sizeof(want));
	struct qb_crypto_hdr hdr;

	memset(buf + hlen, 0, sizeof(buf) - hlen);
	qb_test_unhex_ok(v->client_crypto, buf + hlen, sizeof(buf) - hlen);
	int n = qb_crypto_protect(k, buf, hlen - 4, 4, 2, 1162);
	cr_assert_eq((size_t)n, want_len, "%s: length %d", v->name, n);
	cr_assert_arr_eq(buf, want, want_len, "%s: protected packet differs", v->name);
	cr_assert_eq(qb_crypto_unprotect(k, buf, want_len, hlen - 4, UINT64_MAX, &hdr), 0);
	cr_assert_eq(hdr.pn, 2);
}

Test(crypto_key_new, initial_keys_match_rfc_vectors_and_are_smaller)
{
	enum qb_crypto_backend be[2];
	int nb = backends(be);

	for (int b = 0; b < nb; b++) {
		cr_assert_eq(qb_crypto_set_default_backend(be[b]), 0);
		for (size_t i = 0; i < 2; i++) {
			const struct qb_rfc_vectors *v = versions[i];
			struct qb_crypto_key *ck, *sk;
			uint8_t dcid[8];

			qb_test_unhex_ok(v->dcid, dcid, sizeof(dcid));
			cr_assert_eq(qb_crypto_initial_keys_new(v->version, dcid, 8, &ck, &sk), 0);
			cr_assert(qb_crypto_key_present(ck) && qb_crypto_key_present(sk));
			cr_assert_eq(qb_crypto_key_backend(ck), be[b]);
			size_t fp = qb_crypto_key_footprint(ck);
			cr_assert_lt(fp, sizeof(struct qb_crypto_key), "%s: %zu B", v->name, fp);
			cr_assert_gt(fp, offsetof(struct qb_crypto_key, state));
			cr_assert_eq(fp % 16, 0);
			cr_assert_eq(qb_crypto_key_footprint(sk), fp);
			check_client_initial(v, ck);
			qb_crypto_key_free(ck);
			qb_crypto_key_free(sk);
		}
	}
	cr_assert_eq(qb_crypto_set_default_backend(QB_CRYPTO_BORINGSSL), 0);
}

/* Seal the same random packet with a and b: the bytes must agree. */
static void
check_same_output(const struct qb_crypto_key *a, const struct qb_crypto_key *b)
{
	uint8_t pa[1300], pb[1300];

	for (size_t i = 0; i < sizeof(pa); i++)
		pa[i] = (uint8_t)(i * 131 + 7);
	pa[0] = 0x41; /* short header, 2-byte pn */
	memcpy(pb, pa, sizeof(pa));
	int na = qb_crypto_protect(a, pa, 9, 2, 0x1234, 1200);
	int nb = qb_crypto_protect(b, pb, 9, 2, 0x1234, 1200);
	cr_assert_gt(na, 0);
	cr_assert_eq(na, nb);
	cr_assert_arr_eq(pa, pb, (size_t)na, "sized and embedded keys disagree");
}

Test(crypto_key_new, update_matches_embedded_and_rfc_ku_secret)
{
	enum qb_crypto_backend be[2];
	int nb = backends(be);

	for (int b = 0; b < nb; b++)
		for (size_t i = 0; i < 2; i++) {
			const struct qb_rfc_vectors *v = versions[i];
			static const enum qb_aead_alg algs[] = {
			        QB_AEAD_AES128GCM, QB_AEAD_AES256GCM, QB_AEAD_CHACHA20POLY1305};
			uint8_t secret[48], ku[32];

			for (size_t a = 0; a < 3; a++) {
				struct qb_crypto_key emb, emb_next, *k, *next;
				size_t sl = qb_crypto_secret_len(algs[a]);

				memset(secret, 0, sizeof(secret));
				qb_test_unhex_ok(v->cc_secret, secret, sizeof(secret));
				cr_assert_eq(qb_crypto_key_new(&k, algs[a], v->version, secret, sl,
				                               be[b]),
				             0);
				cr_assert_eq(qb_crypto_key_init(&emb, algs[a], v->version, secret,
				                                sl, be[b]),
				             0);
				/* ChaCha20 on ipsec-mb falls back to BoringSSL, in the
				 * room the sized key was given. */
				cr_assert_eq(qb_crypto_key_backend(k), qb_crypto_key_backend(&emb));
				check_same_output(k, &emb);
				cr_assert_eq(qb_crypto_key_new_update(&next, k), 0);
				cr_assert_eq(qb_crypto_key_update(&emb_next, &emb), 0);
				/* Sized for the backend that took it (BoringSSL after
				 * a fallback: smaller than the room first given). */
				cr_assert_leq(qb_crypto_key_footprint(next),
				              qb_crypto_key_footprint(k));
				check_same_output(next, &emb_next);
				if (algs[a] == QB_AEAD_CHACHA20POLY1305) {
					qb_test_unhex_ok(v->cc_ku, ku, sizeof(ku));
					cr_assert_arr_eq(next->secret, ku, 32, "%s: ku secret",
					                 v->name);
				}
				qb_crypto_key_free(next);
				qb_crypto_key_free(k);
				qb_crypto_key_clear(&emb);
				qb_crypto_key_clear(&emb_next);
			}
		}
}

Test(crypto_key_new, errors_and_null)
{
	struct qb_crypto_key *k = (struct qb_crypto_key *)1, emb;
	uint8_t secret[32] = {1};

	cr_assert_eq(qb_crypto_key_new(&k, QB_AEAD_AES128GCM, 1, secret, 31, QB_CRYPTO_BORINGSSL),
	             QB_ERR_ARG);
	cr_assert_null(k);
	cr_assert_eq(
	        qb_crypto_key_new(&k, QB_AEAD_AES128GCM, 0xbad, secret, 32, QB_CRYPTO_BORINGSSL),
	        QB_ERR_UNSUPPORTED);
	cr_assert_null(k);
	cr_assert_eq(qb_crypto_key_new_update(&k, NULL), QB_ERR_STATE);
	cr_assert_null(k);
	memset(&emb, 0, sizeof(emb));
	cr_assert_eq(qb_crypto_key_new_update(&k, &emb), QB_ERR_STATE);
	cr_assert(!qb_crypto_key_present(NULL));
	cr_assert_eq(qb_crypto_key_footprint(NULL), 0);
	cr_assert_eq(qb_crypto_key_footprint(&emb), sizeof(emb));
	qb_crypto_key_free(NULL);
	qb_crypto_key_clear(NULL);
	/* A cleared sized key is absent and can still be freed. */
	cr_assert_eq(qb_crypto_key_new(&k, QB_AEAD_AES128GCM, 1, secret, 32, QB_CRYPTO_BORINGSSL),
	             0);
	size_t fp = qb_crypto_key_footprint(k);
	qb_crypto_key_clear(k);
	cr_assert(!qb_crypto_key_present(k));
	cr_assert_eq(qb_crypto_key_footprint(k), fp);
	qb_crypto_key_free(k);
}
