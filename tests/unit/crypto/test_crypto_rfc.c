/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RFC 9001 Appendix A and RFC 9369 Appendix A, byte for byte, in both
 * directions: keys, client Initial, server Initial, Retry, ChaCha20 short
 * header, and the key-update secret the ChaCha20 example gives.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "qburst/crypto.h"

#include "hex.h"
#include "rfc_vectors.h"

static const struct qb_rfc_vectors *const versions[] = {&qb_rfc9001, &qb_rfc9369};

#define FOR_EACH_VERSION(v)                  \
	for (size_t vi_ = 0; vi_ < 2; vi_++) \
		for (const struct qb_rfc_vectors *v = versions[vi_]; v != NULL; v = NULL)

static void
check_hex(const uint8_t *got, size_t got_len, const char *hex, const char *what, const char *name)
{
	uint8_t want[1500];
	size_t n = qb_test_unhex_ok(hex, want, sizeof(want));

	cr_assert_eq(got_len, n, "%s %s: length %zu, want %zu", name, what, got_len, n);
	cr_assert_arr_eq(got, want, n, "%s %s differs", name, what);
}

static void
check_key(const struct qb_rfc_vectors *v, struct qb_crypto_key *key, const uint8_t *secret,
          const char *key_hex, const char *iv_hex, const char *hp_hex)
{
	uint8_t aead_key[16];

	check_hex(key->iv, sizeof(key->iv), iv_hex, "iv", v->name);
	check_hex(key->hp_key, key->key_len, hp_hex, "hp", v->name);
	cr_assert_eq(qb_crypto_hkdf_expand_label(QB_AEAD_AES128GCM, secret, 32,
	                                         v->version == QB_CRYPTO_QUIC_V1 ? "quic key"
	                                                                         : "quicv2 key",
	                                         aead_key, sizeof(aead_key)),
	             0);
	check_hex(aead_key, sizeof(aead_key), key_hex, "key", v->name);
}

Test(crypto_rfc, initial_keys)
{
	FOR_EACH_VERSION(v)
	{
		uint8_t dcid[8], cs[32], ss[32];
		struct qb_crypto_key ck, sk;

		qb_test_unhex_ok(v->dcid, dcid, sizeof(dcid));
		cr_assert_eq(qb_crypto_initial_secrets(v->version, dcid, 8, cs, ss), 0);
		check_hex(cs, 32, v->client_secret, "client_initial_secret", v->name);
		check_hex(ss, 32, v->server_secret, "server_initial_secret", v->name);
		cr_assert_eq(qb_crypto_initial_keys(v->version, dcid, 8, &ck, &sk), 0);
		cr_assert(qb_crypto_key_present(&ck) && qb_crypto_key_present(&sk));
		cr_assert_eq(ck.version, v->version);
		check_key(v, &ck, cs, v->client_key, v->client_iv, v->client_hp);
		check_key(v, &sk, ss, v->server_key, v->server_iv, v->server_hp);
		qb_crypto_key_clear(&ck);
		qb_crypto_key_clear(&sk);
		cr_assert(!qb_crypto_key_present(&ck));
	}
}

/* Protect header || payload (padded with zeros to payload_len) and compare
 * with the RFC's packet; then unprotect that packet back. */
static void
check_initial(const struct qb_rfc_vectors *v, int server, const char *hdr_hex,
              const char *payload_hex, size_t payload_len, const char *packet_hex, size_t pn_len,
              uint64_t pn)
{
	uint8_t dcid[8], buf[1500], plain[1500], want[1500];
	struct qb_crypto_key ck, sk;
	struct qb_crypto_hdr hdr;
	size_t hlen, want_len;
	const size_t pn_offset = 18; /* both sample headers put the pn there */
	int n;

	qb_test_unhex_ok(v->dcid, dcid, sizeof(dcid));
	cr_assert_eq(qb_crypto_initial_keys(v->version, dcid, 8, &ck, &sk), 0);
	const struct qb_crypto_key *key = server ? &sk : &ck;

	memset(plain, 0, sizeof(plain));
	hlen = qb_test_unhex_ok(hdr_hex, plain, sizeof(plain));
	cr_assert_eq(hlen, pn_offset + pn_len);
	qb_test_unhex_ok(payload_hex, plain + hlen, sizeof(plain) - hlen);
	want_len = qb_test_unhex_ok(packet_hex, want, sizeof(want));

	/* Protect: the RFC's protected packet, byte for byte. */
	memcpy(buf, plain, sizeof(buf));
	n = qb_crypto_protect(key, buf, pn_offset, pn_len, pn, payload_len);
	cr_assert_eq(n, (int)want_len, "%s protect returned %d", v->name, n);
	cr_assert_arr_eq(buf, want, want_len, "%s %s Initial differs", v->name,
	                 server ? "server" : "client");

	/* Unprotect: the header and plaintext back, pn decoded. */
	memcpy(buf, want, want_len);
	cr_assert_eq(qb_crypto_unprotect(key, buf, want_len, pn_offset, UINT64_MAX, &hdr), 0);
	cr_assert_eq(hdr.pn, pn);
	cr_assert_eq(hdr.pn_len, pn_len);
	cr_assert_eq(hdr.payload_len, payload_len);
	cr_assert_eq(hdr.first_byte, plain[0]);
	cr_assert_arr_eq(buf, plain, hlen + payload_len);

	/* The other side's key does not open it, and leaves it untouched. */
	memcpy(buf, want, want_len);
	cr_assert_eq(
	        qb_crypto_unprotect(server ? &ck : &sk, buf, want_len, pn_offset, UINT64_MAX, &hdr),
	        QB_ERR_CRYPTO);
	cr_assert_arr_eq(buf, want, want_len);
	qb_crypto_key_clear(&ck);
	qb_crypto_key_clear(&sk);
}

Test(crypto_rfc, client_initial)
{
	FOR_EACH_VERSION(v)
	{
		check_initial(v, 0, v->client_header, v->client_crypto, 1162, v->client_packet, 4,
		              2);
	}
}

Test(crypto_rfc, server_initial)
{
	FOR_EACH_VERSION(v)
	{
		check_initial(v, 1, v->server_header, v->server_payload, 99, v->server_packet, 2,
		              1);
	}
}

Test(crypto_rfc, retry_tag)
{
	FOR_EACH_VERSION(v)
	{
		uint8_t dcid[8], pkt[64], tag[16];
		size_t n;

		qb_test_unhex_ok(v->dcid, dcid, sizeof(dcid));
		n = qb_test_unhex_ok(v->retry, pkt, sizeof(pkt));
		cr_assert_eq(qb_crypto_retry_tag(v->version, dcid, 8, pkt, n - 16, tag), 0);
		cr_assert_arr_eq(tag, pkt + n - 16, 16, "%s Retry tag differs", v->name);
		cr_assert_eq(qb_crypto_retry_verify(v->version, dcid, 8, pkt, n), 0);

		/* Another ODCID, the other version's key, or any flipped bit fails. */
		dcid[7] ^= 1;
		cr_assert_eq(qb_crypto_retry_verify(v->version, dcid, 8, pkt, n), QB_ERR_CRYPTO);
		dcid[7] ^= 1;
		cr_assert_eq(qb_crypto_retry_verify(v->version == QB_CRYPTO_QUIC_V1
		                                            ? QB_CRYPTO_QUIC_V2
		                                            : QB_CRYPTO_QUIC_V1,
		                                    dcid, 8, pkt, n),
		             QB_ERR_CRYPTO);
		for (size_t i = 0; i < n; i++) {
			pkt[i] ^= 0x40;
			cr_assert_eq(qb_crypto_retry_verify(v->version, dcid, 8, pkt, n),
			             QB_ERR_CRYPTO, "%s byte %zu", v->name, i);
			pkt[i] ^= 0x40;
		}
		cr_assert_eq(qb_crypto_retry_verify(v->version, dcid, 8, pkt, 15),
		             QB_ERR_TRUNCATED);
		cr_assert_eq(qb_crypto_retry_verify(0xff00001d, dcid, 8, pkt, n),
		             QB_ERR_UNSUPPORTED);
		cr_assert_eq(qb_crypto_retry_tag(v->version, dcid, 21, pkt, n - 16, tag),
		             QB_ERR_ARG);
	}
}

Test(crypto_rfc, chacha20_short_header)
{
	FOR_EACH_VERSION(v)
	{
		const uint64_t pn = 654360564;
		uint8_t secret[32], buf[64], want[64], sample[16], mask[5], k[32];
		struct qb_crypto_key key;
		struct qb_crypto_hdr hdr;
		size_t n;

		qb_test_unhex_ok(v->cc_secret, secret, sizeof(secret));
		cr_assert_eq(qb_crypto_key_init(&key, QB_AEAD_CHACHA20POLY1305, v->version, secret,
		                                32, QB_CRYPTO_AUTO),
		             0);
		check_hex(key.iv, 12, v->cc_iv, "iv", v->name);
		check_hex(key.hp_key, key.key_len, v->cc_hp, "hp", v->name);
		cr_assert_eq(qb_crypto_hkdf_expand_label(
		                     QB_AEAD_CHACHA20POLY1305, secret, 32,
		                     v->version == QB_CRYPTO_QUIC_V1 ? "quic key" : "quicv2 key", k,
		                     32),
		             0);
		check_hex(k, 32, v->cc_key, "key", v->name);
		qb_test_unhex_ok(v->cc_sample, sample, sizeof(sample));
		qb_crypto_hp_mask(&key, sample, mask);
		check_hex(mask, 5, v->cc_mask, "mask", v->name);

		/* header 4200bff4, payload 01 (PING); pn on 3 bytes at offset 1. */
		n = qb_test_unhex_ok(v->cc_header, buf, sizeof(buf));
		buf[n] = 0x01;
		cr_assert_eq(qb_crypto_protect(&key, buf, 1, 3, pn, 1), 21);
		check_hex(buf, 21, v->cc_packet, "packet", v->name);
		check_hex(buf + 4, 17, v->cc_ciphertext, "ciphertext", v->name);

		n = qb_test_unhex_ok(v->cc_packet, want, sizeof(want));
		memcpy(buf, want, n);
		cr_assert_eq(qb_crypto_unprotect(&key, buf, n, 1, pn - 1, &hdr), 0);
		cr_assert_eq(hdr.pn, pn);
		cr_assert_eq(hdr.pn_len, 3);
		cr_assert_eq(hdr.payload_len, 1);
		cr_assert_eq(buf[4], 0x01);
		check_hex(buf, 4, v->cc_header, "unprotected header", v->name);
		qb_crypto_key_clear(&key);
	}
}

Test(crypto_rfc, key_update_secret)
{
	FOR_EACH_VERSION(v)
	{
		uint8_t secret[32];
		struct qb_crypto_key cur, next;

		qb_test_unhex_ok(v->cc_secret, secret, sizeof(secret));
		cr_assert_eq(qb_crypto_key_init(&cur, QB_AEAD_CHACHA20POLY1305, v->version, secret,
		                                32, QB_CRYPTO_AUTO),
		             0);
		cr_assert_eq(qb_crypto_key_update(&next, &cur), 0);
		check_hex(next.secret, next.secret_len, v->cc_ku, "ku", v->name);
		/* RFC 9001 §6.1: the header-protection key does not change. */
		check_hex(next.hp_key, next.key_len, v->cc_hp, "hp after update", v->name);
		cr_assert_arr_neq(next.iv, cur.iv, 12);
		qb_crypto_key_clear(&cur);
		qb_crypto_key_clear(&next);
	}
}
