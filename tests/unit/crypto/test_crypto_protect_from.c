/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * qb_crypto_protect_from() and qb_crypto_protect_gap(): the payload sealed from two pieces (frame
 * headers in the packet, data read from the sender's buffer) must give the
 * very bytes qb_crypto_protect() gives on the same payload copied in place,
 * for every backend, AEAD, header, pn length and split, and must write
 * nothing outside the packet nor touch the source.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "crypto/aead_backend.h"
#include "qburst/crypto.h"
#include "qburst/crypto_select.h"

#define MAX_HDR  (1 + 20 + 4)
#define MAX_HEAD 48
#define MAX_SRC  2400 /* past ipsec-mb's copy limit (1536): both of its ways */
#define PKT_ROOM (MAX_HDR + MAX_HEAD + MAX_SRC + QB_CRYPTO_TAG_LEN)
#define CANARY   32
#define ITER     400
#define GAP      64 /* the room qb_crypto_protect_gap may borrow */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t
rnd(void)
{
	/* xorshift64*: reproducible, no libc state. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1du;
}

static void
fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static void
make_key(struct qb_crypto_key *key, enum qb_aead_alg alg, enum qb_crypto_backend be)
{
	uint8_t secret[48];

	fill(secret, sizeof(secret));
	cr_assert_eq(qb_crypto_key_init(key, alg, QB_CRYPTO_QUIC_V1, secret,
	                                qb_crypto_secret_len(alg), be),
	             0);
}

/*
 * ITER random packets: short or long-looking header, pn length 1-4, a head
 * of 0..MAX_HEAD bytes and a source of 0..MAX_SRC bytes (small sizes
 * favoured, where block boundaries are). Both ways must agree byte for
 * byte, open again to the plaintext, and leave the canaries alone.
 */
static void
check_same(const struct qb_crypto_key *key)
{
	static uint8_t a[PKT_ROOM + CANARY], b[PKT_ROOM + CANARY], c[PKT_ROOM + CANARY],
	        src[MAX_SRC + CANARY], src_copy[MAX_SRC + CANARY], gap[GAP + MAX_SRC + CANARY],
	        gap_copy[GAP + MAX_SRC + CANARY];

	for (int it = 0; it < ITER; it++) {
		size_t pn_len = 1 + rnd() % 4;
		size_t pn_offset = 1 + rnd() % 21;
		size_t head = it % 3 == 0 ? rnd() % 17 : rnd() % (MAX_HEAD + 1);
		size_t n = it % 4 == 0 ? rnd() % 40 : rnd() % (MAX_SRC + 1);
		uint64_t pn = 1 + (rnd() & 0x1fffffffffffffffu);
		size_t hdr = pn_offset + pn_len, total = hdr + head + n + QB_CRYPTO_TAG_LEN;
		struct qb_crypto_hdr ch;
		int ra, rb;

		if (pn_len + head + n < 4)
			n = 4;
		total = hdr + head + n + QB_CRYPTO_TAG_LEN;
		fill(a, sizeof(a));
		a[0] = (uint8_t)((rnd() & 1 ? 0xc0 : 0x40) | (pn_len - 1));
		fill(src, sizeof(src));
		memcpy(src_copy, src, sizeof(src));
		memcpy(b, a, sizeof(b));
		memcpy(c, a, sizeof(c));
		fill(gap, sizeof(gap));
		memcpy(gap + GAP, src, n);
		memcpy(gap_copy, gap, sizeof(gap));
		/* a: the payload copied in place; b and c: only the head is. */
		memcpy(a + hdr + head, src, n);

		ra = qb_crypto_protect(key, a, pn_offset, pn_len, pn, head + n);
		rb = qb_crypto_protect_from(key, b, pn_offset, pn_len, pn, head, src, n);
		cr_assert_eq(ra, (int)total, "iter %d: protect %d", it, ra);
		cr_assert_eq(rb, ra, "iter %d: head %zu src %zu pn_len %zu: %d != %d", it, head, n,
		             pn_len, rb, ra);
		cr_assert(memcmp(a, b, sizeof(a)) == 0, "iter %d: head %zu src %zu: bytes differ",
		          it, head, n);
		cr_assert(memcmp(src, src_copy, sizeof(src)) == 0, "iter %d: source written", it);
		/* The gap variant: same bytes, and the borrowed bytes are back. */
		int rc = qb_crypto_protect_gap(key, c, pn_offset, pn_len, pn, head, gap + GAP, n);
		cr_assert_eq(rc, ra, "iter %d: gap %d != %d", it, rc, ra);
		cr_assert(memcmp(a, c, sizeof(a)) == 0,
		          "iter %d: head %zu src %zu: gap bytes differ", it, head, n);
		cr_assert(memcmp(gap, gap_copy, sizeof(gap)) == 0, "iter %d: gap not restored", it);

		/* And it is a real packet: it opens to the head and the source. */
		cr_assert_eq(qb_crypto_unprotect(key, b, total, pn_offset, pn - 1, &ch), 0);
		cr_assert_eq(ch.pn_len, pn_len);
		cr_assert_eq(ch.pn, pn);
		cr_assert_eq(ch.payload_len, head + n);
		cr_assert(memcmp(b + hdr + head, src, n) == 0, "iter %d: plaintext", it);
	}
}

static void
check_backend(enum qb_crypto_backend be)
{
	static const enum qb_aead_alg algs[] = {QB_AEAD_AES128GCM, QB_AEAD_AES256GCM,
	                                        QB_AEAD_CHACHA20POLY1305};

	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		struct qb_crypto_key key;

		make_key(&key, algs[i], be);
		check_same(&key);
		qb_crypto_key_clear(&key);
	}
}

Test(crypto_protect_from, boringssl_same_bytes_as_in_place)
{
	check_backend(QB_CRYPTO_BORINGSSL);
}

Test(crypto_protect_from, ipsecmb_same_bytes_as_in_place)
{
	struct qb_crypto_choice c;

	if (qb_crypto_select(QB_CRYPTO_IPSECMB, &c) != 0)
		cr_skip_test("ipsec-mb not usable here: %s", c.reason);
	/* ipsec-mb keys for AES; ChaCha20 falls back to BoringSSL per key. */
	check_backend(QB_CRYPTO_IPSECMB);
	{
		struct qb_crypto_key key;

		make_key(&key, QB_AEAD_AES128GCM, QB_CRYPTO_IPSECMB);
		cr_assert_eq(qb_crypto_key_backend(&key), QB_CRYPTO_IPSECMB);
		qb_crypto_key_clear(&key);
	}
}

/* A backend without seal_from: the generic code copies, then seals. */
static int plain_seals;

static int
plain_seal(const struct qb_crypto_key *key, const uint8_t *nonce, const uint8_t *aad,
           size_t aad_len, uint8_t *buf, size_t len)
{
	plain_seals++;
	return qb_aead_boringssl_ops.seal(key, nonce, aad, aad_len, buf, len);
}

Test(crypto_protect_from, backend_without_it_falls_back_to_copy)
{
	struct qb_aead_ops ops = qb_aead_boringssl_ops;

	ops.id = QB_CRYPTO_IPSECMB;
	ops.seal = plain_seal;
	ops.seal_from = NULL;
	ops.seal_to = NULL;
	cr_assert_eq(qb_aead_backend_register(QB_CRYPTO_IPSECMB, &ops), 0);
	{
		struct qb_crypto_key key;

		make_key(&key, QB_AEAD_AES128GCM, QB_CRYPTO_IPSECMB);
		cr_assert_eq(qb_crypto_key_backend(&key), QB_CRYPTO_IPSECMB);
		check_same(&key);
		/* Every path went through seal: in place, and after a copy twice
		 * (protect_from, and protect_gap without seal_to). */
		cr_assert_eq(plain_seals, 3 * ITER);
		qb_crypto_key_clear(&key);
	}
	cr_assert_eq(qb_aead_backend_register(QB_CRYPTO_IPSECMB, NULL), 0);
}

Test(crypto_protect_from, refuses_what_protect_refuses)
{
	struct qb_crypto_key key, none;
	uint8_t pkt[64] = {0x41}, src[8] = {0};

	memset(&none, 0, sizeof(none));
	make_key(&key, QB_AEAD_AES128GCM, QB_CRYPTO_BORINGSSL);
	/* 2-byte pn + 1 + 0 bytes of payload: no room for the sample. */
	cr_assert_eq(qb_crypto_protect_from(&key, pkt, 9, 2, 7, 1, src, 0), QB_ERR_ARG);
	/* First byte says a 2-byte pn, the call a 3-byte one. */
	cr_assert_eq(qb_crypto_protect_from(&key, pkt, 9, 3, 7, 4, src, 8), QB_ERR_ARG);
	cr_assert_eq(qb_crypto_protect_from(&none, pkt, 9, 2, 7, 4, src, 8), QB_ERR_ARG);
	/* protect_gap borrows at most 64 bytes of head room. */
	static uint8_t room[128];
	cr_assert_eq(qb_crypto_protect_gap(&key, pkt, 9, 2, 7, 65, room + 65, 8), QB_ERR_ARG);
	/* The smallest that fits: 2 + 2 bytes. */
	cr_assert_eq(qb_crypto_protect_from(&key, pkt, 9, 2, 7, 0, src, 2), 9 + 2 + 2 + 16);
	qb_crypto_key_clear(&key);
}
