/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Both backends behind qburst/crypto.h: the RFC 9001 and RFC 9369 Initial
 * packets through each, and for random secrets, packet numbers and lengths
 * the two backends' protected packets are byte-identical, each unprotects
 * the other's, forgeries fail on both leaving the packet as received, and
 * key updates and AES-256 keys stay identical. ChaCha20 stays on BoringSSL.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "qburst/crypto.h"
#include "qburst/crypto_select.h"
#include "hex.h"
#include "rfc_vectors.h"
#include "rng.h"

static void
use_ipsecmb(void)
{
	struct qb_crypto_choice c;

	cr_assert_eq(qb_crypto_select(QB_CRYPTO_IPSECMB, &c), 0, "ipsec-mb unusable: %s", c.reason);
}

struct vector {
	const char *header, *payload, *packet;
	size_t payload_len; /* padded with PADDING (0x00) up to this */
	uint64_t pn;
	uint32_t version;
	int server;
};

static struct qb_crypto_key k_client, k_server, k_a, k_b, k_a2, k_b2;

static void
rfc_through(enum qb_crypto_backend backend)
{
	static const uint8_t dcid[] = {0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08};
	/* rfc_vectors.h's Initials; local, since a member of a const struct is
	 * no constant initializer. */
	const struct qb_rfc_vectors *a = &qb_rfc9001, *b = &qb_rfc9369;
	const struct vector vectors[] = {
	        {a->client_header, a->client_crypto, a->client_packet, 1162, 2, QB_CRYPTO_QUIC_V1,
	         0},
	        {a->server_header, a->server_payload, a->server_packet, 99, 1, QB_CRYPTO_QUIC_V1,
	         1},
	        {b->client_header, b->client_crypto, b->client_packet, 1162, 2, QB_CRYPTO_QUIC_V2,
	         0},
	        {b->server_header, b->server_payload, b->server_packet, 99, 1, QB_CRYPTO_QUIC_V2,
	         1},
	};
	uint8_t pkt[1300], expect[1300], plain[1300];
	struct qb_crypto_choice c;
	struct qb_crypto_hdr hdr;
	size_t i, hlen, total, pn_len;

	cr_assert_eq(qb_crypto_select(backend, &c), 0);
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];
		struct qb_crypto_key *k = v->server ? &k_server : &k_client;

		cr_assert_eq(qb_crypto_initial_keys(v->version, dcid, sizeof(dcid), &k_client,
		                                    &k_server),
		             0);
		cr_assert_eq(qb_crypto_key_backend(k), backend);
		memset(pkt, 0, sizeof(pkt));
		hlen = qb_test_unhex_ok(v->header, pkt, sizeof(pkt));
		qb_test_unhex_ok(v->payload, pkt + hlen, sizeof(pkt) - hlen);
		memcpy(plain, pkt, sizeof(plain));
		total = qb_test_unhex_ok(v->packet, expect, sizeof(expect));
		pn_len = (pkt[0] & 0x03) + 1;
		cr_assert_eq(
		        qb_crypto_protect(k, pkt, hlen - pn_len, pn_len, v->pn, v->payload_len),
		        (int)total);
		cr_assert_arr_eq(pkt, expect, total, "%s: vector %zu differs", c.name, i);
		cr_assert_eq(qb_crypto_unprotect(k, pkt, total, hlen - pn_len, v->pn - 1, &hdr), 0);
		cr_assert_eq(hdr.pn, v->pn);
		cr_assert_eq(hdr.payload_len, v->payload_len);
		cr_assert_arr_eq(pkt, plain, hlen + v->payload_len);
		qb_crypto_key_clear(&k_client);
		qb_crypto_key_clear(&k_server);
	}
}

Test(backends, rfc_initial_vectors_boringssl)
{
	rfc_through(QB_CRYPTO_BORINGSSL);
}

Test(backends, rfc_initial_vectors_ipsecmb)
{
	use_ipsecmb();
	rfc_through(QB_CRYPTO_IPSECMB);
}

static uint64_t rng_state = 0x0123456789abcdefull;

/* A short-header packet of payload_len bytes with pn_len packet-number bytes. */
static size_t
make_packet(uint8_t *pkt, size_t pn_len, size_t payload_len)
{
	qb_test_rng_fill(&rng_state, pkt, 1 + 8 + pn_len + payload_len);
	pkt[0] = (uint8_t)(0x40 | (pn_len - 1));
	return 1 + 8; /* pn_offset */
}

/*
 * Protect with a, compare with b's output, and unprotect each with the other
 * backend's key; then forge and check both refuse and leave the packet.
 */
static void
compare_keys(const struct qb_crypto_key *a, const struct qb_crypto_key *b, int rounds)
{
	static uint8_t pa[1600], pb[1600], plain[1600], saved[1600];
	struct qb_crypto_hdr hdr;
	int r;

	for (r = 0; r < rounds; r++) {
		size_t pn_len = 1 + (size_t)(qb_test_rng(&rng_state) % 4);
		size_t payload_len = 4 + (size_t)(qb_test_rng(&rng_state) % 1450);
		uint64_t pn = qb_test_rng(&rng_state) & ((1ull << 62) - 1);
		size_t off = make_packet(plain, pn_len, payload_len);
		size_t i;
		int len;

		/* protect writes the packet number's low bytes; the plaintext has them. */
		for (i = 0; i < pn_len; i++)
			plain[off + i] = (uint8_t)(pn >> (8 * (pn_len - 1 - i)));
		memcpy(pa, plain, sizeof(pa));
		memcpy(pb, plain, sizeof(pb));
		len = qb_crypto_protect(a, pa, off, pn_len, pn, payload_len);
		cr_assert_eq(len, (int)(off + pn_len + payload_len + QB_CRYPTO_TAG_LEN));
		cr_assert_eq(qb_crypto_protect(b, pb, off, pn_len, pn, payload_len), len);
		cr_assert_arr_eq(pa, pb, (size_t)len, "round %d: backends differ", r);

		/* Forge one bit anywhere after the header; both refuse, nothing moves. */
		if (r % 4 == 0) {
			size_t at = off + pn_len +
			            (size_t)(qb_test_rng(&rng_state) % (payload_len + 16));

			pa[at] ^= (uint8_t)(1u << (qb_test_rng(&rng_state) % 8));
			memcpy(pb, pa, (size_t)len);
			memcpy(saved, pa, (size_t)len);
			cr_assert_eq(qb_crypto_unprotect(a, pa, (size_t)len, off, pn - 1, &hdr),
			             QB_ERR_CRYPTO);
			cr_assert_arr_eq(pa, saved, (size_t)len);
			cr_assert_eq(qb_crypto_unprotect(b, pb, (size_t)len, off, pn - 1, &hdr),
			             QB_ERR_CRYPTO);
			cr_assert_arr_eq(pb, saved, (size_t)len);
			continue;
		}
		cr_assert_eq(qb_crypto_unprotect(b, pa, (size_t)len, off, pn - 1, &hdr), 0);
		cr_assert_eq(hdr.pn, pn);
		cr_assert_arr_eq(pa, plain, off + pn_len + payload_len);
		cr_assert_eq(qb_crypto_unprotect(a, pb, (size_t)len, off, pn - 1, &hdr), 0);
		cr_assert_arr_eq(pb, plain, off + pn_len + payload_len);
	}
}

static void
cross(enum qb_aead_alg alg, uint32_t version)
{
	uint8_t secret[48];
	size_t slen = qb_crypto_secret_len(alg);
	int i;

	use_ipsecmb();
	for (i = 0; i < 8; i++) {
		qb_test_rng_fill(&rng_state, secret, sizeof(secret));
		cr_assert_eq(
		        qb_crypto_key_init(&k_a, alg, version, secret, slen, QB_CRYPTO_IPSECMB), 0);
		cr_assert_eq(
		        qb_crypto_key_init(&k_b, alg, version, secret, slen, QB_CRYPTO_BORINGSSL),
		        0);
		cr_assert_eq(qb_crypto_key_backend(&k_a), QB_CRYPTO_IPSECMB);
		cr_assert_eq(qb_crypto_key_backend(&k_b), QB_CRYPTO_BORINGSSL);
		compare_keys(&k_a, &k_b, 200);

		/* Key update (RFC 9001 §6): the new ipsec-mb key matches too. */
		cr_assert_eq(qb_crypto_key_update(&k_a2, &k_a), 0);
		cr_assert_eq(qb_crypto_key_update(&k_b2, &k_b), 0);
		cr_assert_eq(qb_crypto_key_backend(&k_a2), QB_CRYPTO_IPSECMB);
		compare_keys(&k_a2, &k_b2, 50);
		qb_crypto_key_clear(&k_a);
		qb_crypto_key_clear(&k_b);
		qb_crypto_key_clear(&k_a2);
		qb_crypto_key_clear(&k_b2);
	}
}

Test(backends, identical_aes128gcm_v1)
{
	cross(QB_AEAD_AES128GCM, QB_CRYPTO_QUIC_V1);
}

Test(backends, identical_aes256gcm_v1)
{
	cross(QB_AEAD_AES256GCM, QB_CRYPTO_QUIC_V1);
}

Test(backends, identical_aes128gcm_v2)
{
	cross(QB_AEAD_AES128GCM, QB_CRYPTO_QUIC_V2);
}

Test(backends, chacha20_stays_on_boringssl)
{
	uint8_t secret[32] = {7};

	use_ipsecmb();
	cr_assert_eq(qb_crypto_key_init(&k_a, QB_AEAD_CHACHA20POLY1305, QB_CRYPTO_QUIC_V1, secret,
	                                sizeof(secret), QB_CRYPTO_AUTO),
	             0);
	cr_assert_eq(qb_crypto_key_backend(&k_a), QB_CRYPTO_BORINGSSL);
	qb_crypto_key_clear(&k_a);
}
