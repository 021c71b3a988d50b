/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet protection beyond the RFC vectors: failed opens leave the packet as
 * received, argument checks, round trips of every AEAD against a second,
 * independent computation (bare BoringSSL calls), packet-number decoding and
 * key update against a manual HKDF.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include <openssl/aead.h>
#include <openssl/aes.h>
#include <openssl/chacha.h>
#include <openssl/digest.h>
#include <openssl/hmac.h>

#include "qburst/crypto.h"

#include "hex.h"
#include "rfc_vectors.h"

static const enum qb_aead_alg algs[] = {QB_AEAD_AES128GCM, QB_AEAD_AES256GCM,
                                        QB_AEAD_CHACHA20POLY1305};

/* A deterministic byte stream so failures reproduce. */
static uint32_t rng_state = 0x12345678;

static uint8_t
rng_byte(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return (uint8_t)(rng_state >> 16);
}

static void
rng_fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = rng_byte();
}

static void
make_key(struct qb_crypto_key *key, enum qb_aead_alg alg, uint32_t version, uint8_t *secret)
{
	rng_fill(secret, qb_crypto_secret_len(alg));
	cr_assert_eq(qb_crypto_key_init(key, alg, version, secret, qb_crypto_secret_len(alg),
	                                QB_CRYPTO_BORINGSSL),
	             0);
}

/* The RFC 9001 client Initial, protected, and its key. */
static size_t
rfc_client_packet(uint8_t *pkt, struct qb_crypto_key *ck, struct qb_crypto_key *sk)
{
	uint8_t dcid[8];
	size_t n = qb_test_unhex(qb_rfc9001.client_packet, pkt, 1500);

	cr_assert_eq(n, 1200);
	qb_test_unhex(qb_rfc9001.dcid, dcid, sizeof(dcid));
	cr_assert_eq(qb_crypto_initial_keys(QB_CRYPTO_QUIC_V1, dcid, 8, ck, sk), 0);
	return n;
}

Test(crypto_protect, forged_packet_fails_and_is_left_as_received)
{
	uint8_t pkt[1500], orig[1500];
	struct qb_crypto_key ck, sk;
	struct qb_crypto_hdr hdr;
	size_t n = rfc_client_packet(orig, &ck, &sk);
	/* A tag byte, a ciphertext byte, a header (AAD) byte, the masked pn,
	 * the masked first-byte bits. */
	const size_t flips[] = {n - 1, n - 16, 200, 7, 19, 0};

	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		memcpy(pkt, orig, n);
		pkt[flips[i]] ^= 0x01;
		uint8_t forged[1500];
		memcpy(forged, pkt, n);
		cr_assert_eq(qb_crypto_unprotect(&ck, pkt, n, 18, UINT64_MAX, &hdr), QB_ERR_CRYPTO,
		             "flip at %zu opened", flips[i]);
		cr_assert_arr_eq(pkt, forged, n, "flip at %zu: packet modified", flips[i]);
	}
	/* Wrong key: the server's. */
	memcpy(pkt, orig, n);
	cr_assert_eq(qb_crypto_unprotect(&sk, pkt, n, 18, UINT64_MAX, &hdr), QB_ERR_CRYPTO);
	cr_assert_arr_eq(pkt, orig, n);
	/* The right key still opens it afterwards. */
	cr_assert_eq(qb_crypto_unprotect(&ck, pkt, n, 18, UINT64_MAX, &hdr), 0);
	cr_assert_eq(hdr.pn, 2);
	qb_crypto_key_clear(&ck);
	qb_crypto_key_clear(&sk);
}

Test(crypto_protect, two_step_unprotect_and_restore)
{
	uint8_t pkt[1500], orig[1500];
	struct qb_crypto_key ck, sk;
	struct qb_crypto_hdr hdr;
	size_t n = rfc_client_packet(orig, &ck, &sk);

	memcpy(pkt, orig, n);
	cr_assert_eq(qb_crypto_unprotect_header(&ck, pkt, n, 18, UINT64_MAX, &hdr), 0);
	cr_assert_eq(hdr.first_byte, 0xc3);
	cr_assert_eq(pkt[0], 0xc3);
	cr_assert_eq(hdr.pn_len, 4);
	cr_assert_eq(hdr.payload_len, 1162);
	qb_crypto_unprotect_restore(pkt, &hdr);
	cr_assert_arr_eq(pkt, orig, n);

	/* Header removed, then the open fails with another key: restored. */
	cr_assert_eq(qb_crypto_unprotect_header(&ck, pkt, n, 18, UINT64_MAX, &hdr), 0);
	cr_assert_eq(qb_crypto_unprotect_payload(&sk, pkt, &hdr), QB_ERR_CRYPTO);
	cr_assert_arr_eq(pkt, orig, n);
	qb_crypto_key_clear(&ck);
	qb_crypto_key_clear(&sk);
}

Test(crypto_protect, truncated_and_bad_arguments)
{
	uint8_t pkt[1500], orig[1500];
	struct qb_crypto_key ck, sk, none;
	struct qb_crypto_hdr hdr;
	size_t n = rfc_client_packet(orig, &ck, &sk);

	/* The sample needs pn_offset + 4 + 16 bytes. */
	memcpy(pkt, orig, n);
	cr_assert_eq(qb_crypto_unprotect(&ck, pkt, 18 + 19, 18, UINT64_MAX, &hdr),
	             QB_ERR_TRUNCATED);
	cr_assert_eq(qb_crypto_unprotect(&ck, pkt, 10, 18, UINT64_MAX, &hdr), QB_ERR_TRUNCATED);
	cr_assert_arr_eq(pkt, orig, n);
	/* Exactly the sample's worth: header removal works, the open fails
	 * (the packet was cut) and restores. */
	cr_assert_eq(qb_crypto_unprotect(&ck, pkt, 18 + 20, 18, UINT64_MAX, &hdr), QB_ERR_CRYPTO);
	cr_assert_arr_eq(pkt, orig, n);

	memset(&none, 0, sizeof(none));
	cr_assert(!qb_crypto_key_present(&none));
	cr_assert_eq(qb_crypto_unprotect(&none, pkt, n, 18, UINT64_MAX, &hdr), QB_ERR_ARG);
	cr_assert_eq(qb_crypto_protect(&none, pkt, 18, 4, 2, 100), QB_ERR_ARG);

	/* pn_len out of range, disagreeing with the first byte, too short. */
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x40; /* short header, pn length 1 */
	cr_assert_eq(qb_crypto_protect(&ck, pkt, 9, 0, 0, 100), QB_ERR_ARG);
	cr_assert_eq(qb_crypto_protect(&ck, pkt, 9, 5, 0, 100), QB_ERR_ARG);
	cr_assert_eq(qb_crypto_protect(&ck, pkt, 9, 2, 0, 100), QB_ERR_ARG);
	cr_assert_eq(qb_crypto_protect(&ck, pkt, 9, 1, 0, 2), QB_ERR_ARG);
	cr_assert_eq(qb_crypto_protect(&ck, pkt, 9, 1, 0, 3), 9 + 1 + 3 + 16);

	cr_assert_eq(
	        qb_crypto_key_init(&none, QB_AEAD_AES128GCM, 0xff00001d, orig, 32, QB_CRYPTO_AUTO),
	        QB_ERR_UNSUPPORTED);
	cr_assert_eq(qb_crypto_key_init(&none, QB_AEAD_AES256GCM, QB_CRYPTO_QUIC_V1, orig, 32,
	                                QB_CRYPTO_AUTO),
	             QB_ERR_ARG);
	cr_assert_eq(qb_crypto_key_init(&none, (enum qb_aead_alg)7, QB_CRYPTO_QUIC_V1, orig, 32,
	                                QB_CRYPTO_AUTO),
	             QB_ERR_UNSUPPORTED);
	cr_assert_eq(qb_crypto_key_update(&none, &none), QB_ERR_ARG);
	cr_assert_eq(qb_crypto_initial_secrets(QB_CRYPTO_QUIC_V1, orig, 21, pkt, NULL), QB_ERR_ARG);
	cr_assert_eq(qb_crypto_initial_secrets(0xff00001d, orig, 8, pkt, NULL), QB_ERR_UNSUPPORTED);
	qb_crypto_key_clear(&ck);
	qb_crypto_key_clear(&sk);
	cr_assert_eq(qb_crypto_key_update(&none, &ck), QB_ERR_STATE);
}

Test(crypto_protect, cipher_suites)
{
	cr_assert_eq(qb_crypto_alg_from_cipher_suite(0x1301), QB_AEAD_AES128GCM);
	cr_assert_eq(qb_crypto_alg_from_cipher_suite(0x1302), QB_AEAD_AES256GCM);
	cr_assert_eq(qb_crypto_alg_from_cipher_suite(0x1303), QB_AEAD_CHACHA20POLY1305);
	cr_assert_eq(qb_crypto_alg_from_cipher_suite(0x1304), QB_ERR_UNSUPPORTED);
	cr_assert_eq(qb_crypto_secret_len(QB_AEAD_AES256GCM), 48);
	cr_assert_eq(qb_crypto_secret_len(QB_AEAD_AES128GCM), 32);
	cr_assert_eq(qb_crypto_secret_len(QB_AEAD_CHACHA20POLY1305), 32);
	/* RFC 9001 §6.6 */
	cr_assert_eq(qb_crypto_confidentiality_limit(QB_AEAD_AES128GCM), 1ull << 23);
	cr_assert_eq(qb_crypto_confidentiality_limit(QB_AEAD_AES256GCM), 1ull << 23);
	cr_assert_eq(qb_crypto_confidentiality_limit(QB_AEAD_CHACHA20POLY1305), UINT64_MAX);
	cr_assert_eq(qb_crypto_integrity_limit(QB_AEAD_AES128GCM), 1ull << 52);
	cr_assert_eq(qb_crypto_integrity_limit(QB_AEAD_CHACHA20POLY1305), 1ull << 36);
}

/*
 * HKDF-Expand-Label done by hand with HMAC (RFC 5869 §2.3, one block is
 * enough for every QUIC output): the second path the key schedule is
 * checked against.
 */
static void
manual_expand_label(enum qb_aead_alg alg, const uint8_t *secret, const char *label, uint8_t *out,
                    size_t out_len)
{
	const EVP_MD *md = alg == QB_AEAD_AES256GCM ? EVP_sha384() : EVP_sha256();
	size_t secret_len = qb_crypto_secret_len(alg);
	uint8_t info[64], t[64];
	unsigned t_len = 0;
	size_t n = 0, l = strlen(label);

	info[n++] = 0;
	info[n++] = (uint8_t)out_len;
	info[n++] = (uint8_t)(6 + l);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, l);
	n += l;
	info[n++] = 0;    /* empty context */
	info[n++] = 0x01; /* T(1) counter */
	cr_assert_not_null(HMAC(md, secret, secret_len, info, n, t, &t_len));
	cr_assert_geq(t_len, out_len);
	memcpy(out, t, out_len);
}

/* Seal + HP by bare BoringSSL calls from manually derived keys. */
static size_t
reference_protect(enum qb_aead_alg alg, uint32_t version, const uint8_t *secret, uint8_t *pkt,
                  size_t pn_offset, size_t pn_len, uint64_t pn, size_t len,
                  const uint8_t *hp_secret)
{
	const int v2 = version == QB_CRYPTO_QUIC_V2;
	size_t klen = alg == QB_AEAD_AES128GCM ? 16 : 32, hlen = pn_offset + pn_len, out_len;
	uint8_t key[32], iv[12], hp[32], nonce[12], mask[16];
	const EVP_AEAD *aead = alg == QB_AEAD_AES128GCM   ? EVP_aead_aes_128_gcm()
	                       : alg == QB_AEAD_AES256GCM ? EVP_aead_aes_256_gcm()
	                                                  : EVP_aead_chacha20_poly1305();
	EVP_AEAD_CTX ctx;

	manual_expand_label(alg, secret, v2 ? "quicv2 key" : "quic key", key, klen);
	manual_expand_label(alg, secret, v2 ? "quicv2 iv" : "quic iv", iv, 12);
	manual_expand_label(alg, hp_secret, v2 ? "quicv2 hp" : "quic hp", hp, klen);
	for (size_t i = 0; i < pn_len; i++)
		pkt[pn_offset + i] = (uint8_t)(pn >> (8 * (pn_len - 1 - i)));
	memcpy(nonce, iv, 12);
	for (int i = 0; i < 8; i++)
		nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
	cr_assert(EVP_AEAD_CTX_init(&ctx, aead, key, klen, 16, NULL));
	cr_assert(EVP_AEAD_CTX_seal(&ctx, pkt + hlen, &out_len, len + 16, nonce, 12, pkt + hlen,
	                            len, pkt, hlen));
	EVP_AEAD_CTX_cleanup(&ctx);
	if (alg == QB_AEAD_CHACHA20POLY1305) {
		const uint8_t *s = pkt + pn_offset + 4;
		uint32_t ctr = s[0] | s[1] << 8 | s[2] << 16 | (uint32_t)s[3] << 24;
		memset(mask, 0, 5);
		CRYPTO_chacha_20(mask, mask, 5, hp, s + 4, ctr);
	} else {
		AES_KEY aes;
		AES_set_encrypt_key(hp, (unsigned)klen * 8, &aes);
		AES_encrypt(pkt + pn_offset + 4, mask, &aes);
	}
	pkt[0] ^= mask[0] & ((pkt[0] & 0x80) ? 0x0f : 0x1f);
	for (size_t i = 0; i < pn_len; i++)
		pkt[pn_offset + i] ^= mask[1 + i];
	return hlen + len + 16;
}

Test(crypto_protect, every_aead_round_trips_and_matches_bare_boringssl, .timeout = 60)
{
	static uint8_t plain[1600], pkt[1600], ref[1600];
	const uint32_t vers[] = {QB_CRYPTO_QUIC_V1, QB_CRYPTO_QUIC_V2};

	for (size_t a = 0; a < 3; a++) {
		for (size_t vi = 0; vi < 2; vi++) {
			uint8_t secret[48];
			struct qb_crypto_key key;
			make_key(&key, algs[a], vers[vi], secret);
			for (size_t len = 0; len <= 1500; len++) {
				/* Short header, 8-byte DCID: pn at offset 9. */
				size_t pn_len = len < 4 ? 4 : 1 + len % 4, pn_off = 9;
				uint64_t pn = 0x1234567ull * len + a;
				struct qb_crypto_hdr hdr;
				int n;

				rng_fill(plain, pn_off + pn_len + len);
				plain[0] = (uint8_t)(0x40 | (plain[0] & 0x1c) | (pn_len - 1));
				memcpy(pkt, plain, pn_off + pn_len + len);
				memcpy(ref, plain, pn_off + pn_len + len);
				n = qb_crypto_protect(&key, pkt, pn_off, pn_len, pn, len);
				cr_assert_eq(n, (int)(pn_off + pn_len + len + 16));
				cr_assert_eq(reference_protect(algs[a], vers[vi], secret, ref,
				                               pn_off, pn_len, pn, len, secret),
				             (size_t)n);
				cr_assert_arr_eq(pkt, ref, (size_t)n, "alg %zu v%zu len %zu", a,
				                 vi + 1, len);
				/* Decode against a nearby largest pn. */
				cr_assert_eq(qb_crypto_unprotect(&key, pkt, (size_t)n, pn_off,
				                                 pn - 1, &hdr),
				             0);
				cr_assert_eq(hdr.pn, pn, "alg %zu len %zu", a, len);
				cr_assert_eq(hdr.payload_len, len);
				cr_assert_arr_eq(pkt + pn_off + pn_len, plain + pn_off + pn_len,
				                 len, "alg %zu len %zu", a, len);
				cr_assert_eq(pkt[0], plain[0]);
			}
			qb_crypto_key_clear(&key);
		}
	}
}

Test(crypto_protect, long_header_protects_four_bits_short_five)
{
	uint8_t secret[32], pkt[64];
	struct qb_crypto_key key;
	int seen_long = 0, seen_short = 0;

	make_key(&key, QB_AEAD_AES128GCM, QB_CRYPTO_QUIC_V1, secret);
	for (uint64_t pn = 0; pn < 64; pn++) {
		memset(pkt, 0, sizeof(pkt));
		pkt[0] = 0xc0;
		cr_assert_gt(qb_crypto_protect(&key, pkt, 8, 1, pn, 20), 0);
		cr_assert_eq(pkt[0] & 0xf0, 0xc0);
		seen_long |= pkt[0] & 0x0f;
		memset(pkt, 0, sizeof(pkt));
		pkt[0] = 0x40;
		cr_assert_gt(qb_crypto_protect(&key, pkt, 8, 1, pn, 20), 0);
		cr_assert_eq(pkt[0] & 0xe0, 0x40);
		seen_short |= pkt[0] & 0x1f;
	}
	/* Every maskable bit got flipped at least once over 64 packets. */
	cr_assert_eq(seen_long, 0x0f);
	cr_assert_eq(seen_short, 0x1f);
	qb_crypto_key_clear(&key);
}

/* RFC 9000 §A.3's example, and the window edges, through unprotect. */
Test(crypto_protect, packet_number_decoding)
{
	const struct {
		uint64_t largest, pn;
		size_t pn_len;
	} cases[] = {
	        {0xa82f30ea, 0xa82f9b32, 2}, /* the RFC's example */
	        {UINT64_MAX, 0, 1},          /* nothing received yet */
	        {UINT64_MAX, 0xff, 1},
	        {0x1ff, 0x200, 1},
	        {0x17e, 0x100, 1}, /* just inside the window's low edge */
	        {0x17f, 0x100, 2}, /* one further: needs two bytes */
	        {0x17f, 0x1ff, 1}, /* the window's high edge */
	        {0x17f, 0x200, 2},
	        {0xffff, 0x10000, 2},
	        {(1ull << 62) - 2, (1ull << 62) - 1, 4}, /* no wrap past 2^62 */
	        {1000, 900, 2},
	};
	uint8_t secret[32], pkt[64];
	struct qb_crypto_key key;
	struct qb_crypto_hdr hdr;

	make_key(&key, QB_AEAD_AES128GCM, QB_CRYPTO_QUIC_V1, secret);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(pkt, 0, sizeof(pkt));
		pkt[0] = (uint8_t)(0x40 | (cases[i].pn_len - 1));
		int n = qb_crypto_protect(&key, pkt, 5, cases[i].pn_len, cases[i].pn, 20);
		cr_assert_gt(n, 0);
		cr_assert_eq(qb_crypto_unprotect(&key, pkt, (size_t)n, 5, cases[i].largest, &hdr),
		             0, "case %zu", i);
		cr_assert_eq(hdr.pn, cases[i].pn, "case %zu: got %#llx", i,
		             (unsigned long long)hdr.pn);
	}
	qb_crypto_key_clear(&key);
}

Test(crypto_protect, key_update_matches_manual_hkdf)
{
	const uint32_t vers[] = {QB_CRYPTO_QUIC_V1, QB_CRYPTO_QUIC_V2};

	for (size_t a = 0; a < 3; a++) {
		for (size_t vi = 0; vi < 2; vi++) {
			const int v2 = vers[vi] == QB_CRYPTO_QUIC_V2;
			size_t slen = qb_crypto_secret_len(algs[a]);
			uint8_t secret[48], ku1[48], ku2[48], pkt[128], ref[128], m1[5], m2[5];
			uint8_t sample[16] = {1, 2,  3,  4,  5,  6,  7,  8,
			                      9, 10, 11, 12, 13, 14, 15, 16};
			struct qb_crypto_key k0, k1, k2;

			make_key(&k0, algs[a], vers[vi], secret);
			cr_assert_eq(qb_crypto_key_update(&k1, &k0), 0);
			cr_assert_eq(qb_crypto_key_update(&k2, &k1), 0);
			manual_expand_label(algs[a], secret, v2 ? "quicv2 ku" : "quic ku", ku1,
			                    slen);
			manual_expand_label(algs[a], ku1, v2 ? "quicv2 ku" : "quic ku", ku2, slen);
			cr_assert_arr_eq(k1.secret, ku1, slen);
			cr_assert_arr_eq(k2.secret, ku2, slen);
			cr_assert_eq(qb_crypto_key_backend(&k1), QB_CRYPTO_BORINGSSL);

			/* HP unchanged: the same mask from every generation. */
			qb_crypto_hp_mask(&k0, sample, m1);
			qb_crypto_hp_mask(&k2, sample, m2);
			cr_assert_arr_eq(m1, m2, 5);

			/* k2 protects as bare BoringSSL with ku2's key/iv and the
			 * original secret's HP key. */
			memset(pkt, 0xab, sizeof(pkt));
			pkt[0] = 0x43;
			memcpy(ref, pkt, sizeof(ref));
			int n = qb_crypto_protect(&k2, pkt, 9, 4, 77, 50);
			cr_assert_eq(reference_protect(algs[a], vers[vi], ku2, ref, 9, 4, 77, 50,
			                               secret),
			             (size_t)n);
			cr_assert_arr_eq(pkt, ref, (size_t)n);
			qb_crypto_key_clear(&k0);
			qb_crypto_key_clear(&k1);
			qb_crypto_key_clear(&k2);
		}
	}
}
