/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The forward header (BRIEF §2) and the relay listener's datagram classifier.
 */
#include <string.h>

#include "qburst/fwdhdr.h"
#include "qburst/wire_common.h"

#define B1_MARK   0x08
#define B1_IPV6   0x04
#define B1_SRC_RL 0x02
#define B1_DST_RL 0x01

static uint8_t *
put_addr(uint8_t *p, const struct qb_fwd_addr *a, size_t alen)
{
	p[0] = (uint8_t)(a->port >> 8);
	p[1] = (uint8_t)a->port;
	memcpy(p + 2, a->addr, alen);
	return p + 2 + alen;
}

static const uint8_t *
get_addr(const uint8_t *p, struct qb_fwd_addr *a, size_t alen)
{
	a->port = (uint16_t)(p[0] << 8 | p[1]);
	memset(a->addr, 0, sizeof(a->addr));
	memcpy(a->addr, p + 2, alen);
	return p + 2 + alen;
}

static uint8_t *
put_endpoint(uint8_t *p, const struct qb_fwd_endpoint *e, size_t alen)
{
	p = put_addr(p, &e->addr, alen);
	if (e->relayed)
		p = put_addr(p, &e->outer, alen);
	return p;
}

static const uint8_t *
get_endpoint(const uint8_t *p, struct qb_fwd_endpoint *e, size_t alen)
{
	p = get_addr(p, &e->addr, alen);
	if (e->relayed)
		p = get_addr(p, &e->outer, alen);
	else
		memset(&e->outer, 0, sizeof(e->outer));
	return p;
}

int
qb_fwd_hdr_encode(uint8_t *buf, size_t cap, const struct qb_fwd_hdr *h, uint8_t quic_first)
{
	if (h->version > 15)
		return QB_ERR_ARG;
	size_t n = qb_fwd_hdr_len(h->ipv6, h->src.relayed, h->dst.relayed);
	if (n > cap)
		return QB_ERR_NOBUF;
	size_t alen = h->ipv6 ? 16 : 4;
	uint8_t *p = buf;
	*p++ = (uint8_t)(0x60 | (quic_first & 0x1f));
	*p++ = (uint8_t)(h->version << 4 | B1_MARK | (h->ipv6 ? B1_IPV6 : 0) |
	                 (h->src.relayed ? B1_SRC_RL : 0) | (h->dst.relayed ? B1_DST_RL : 0));
	p = put_endpoint(p, &h->src, alen);
	put_endpoint(p, &h->dst, alen);
	return (int)n;
}

int
qb_fwd_hdr_decode(const uint8_t *buf, size_t len, struct qb_fwd_hdr *h)
{
	if (len < 2)
		return QB_ERR_TRUNCATED;
	if ((buf[0] & 0xe0) != 0x60 || !(buf[1] & B1_MARK))
		return QB_ERR_INVALID;
	h->version = buf[1] >> 4;
	if (h->version != QB_FWD_VERSION)
		return QB_ERR_UNSUPPORTED;
	h->quic_bits = buf[0] & 0x1f;
	h->ipv6 = (buf[1] & B1_IPV6) != 0;
	h->src.relayed = (buf[1] & B1_SRC_RL) != 0;
	h->dst.relayed = (buf[1] & B1_DST_RL) != 0;
	size_t n = qb_fwd_hdr_len(h->ipv6, h->src.relayed, h->dst.relayed);
	if (len < n)
		return QB_ERR_TRUNCATED;
	size_t alen = h->ipv6 ? 16 : 4;
	const uint8_t *p = get_endpoint(buf + 2, &h->src, alen);
	get_endpoint(p, &h->dst, alen);
	return (int)n;
}

/* dquic's STUN variant: 0xc2 or 0xc3, then a zero u32. */
static bool
dquic_stun(const uint8_t *d, size_t len)
{
	return len >= 5 && (d[0] == 0xc2 || d[0] == 0xc3) && d[1] == 0 && d[2] == 0 && d[3] == 0 &&
	       d[4] == 0;
}

/* RFC 8489 §5: two zero bits, then the magic cookie at bytes 4..7. */
static bool
rfc_stun(const uint8_t *d, size_t len)
{
	return len >= 20 && (d[0] & 0xc0) == 0 && d[4] == 0x21 && d[5] == 0x12 && d[6] == 0xa4 &&
	       d[7] == 0x42;
}

/* A Version Negotiation packet (RFC 9000 §17.2.1) addressed to one of our CIDs. */
static bool
vn_for_us(const uint8_t *d, size_t len, qb_cid_is_ours_fn is_ours, void *ctx)
{
	if (len < 7)
		return false;
	size_t dl = d[5];
	if (len < 6 + dl + 1)
		return false;
	size_t sl = d[6 + dl];
	size_t rest = len - (7 + dl);
	if (rest < sl || (rest - sl) % 4 != 0 || rest == sl)
		return false;
	return is_ours(ctx, d + 6, dl);
}

enum qb_dgram_class
qb_dgram_classify(const uint8_t *d, size_t len, size_t cid_len, qb_cid_is_ours_fn is_ours,
                  void *ctx)
{
	if (len == 0)
		return QB_DGRAM_INVALID;
	if (d[0] & 0x80) {
		if (dquic_stun(d, len) && !vn_for_us(d, len, is_ours, ctx))
			return QB_DGRAM_STUN;
		return QB_DGRAM_QUIC;
	}
	if ((d[0] & 0xe0) == 0x60) {
		/* A 1-RTT packet with the spin bit set, for one of our connections? */
		if (len >= 1 + cid_len && is_ours(ctx, d + 1, cid_len))
			return QB_DGRAM_QUIC;
		struct qb_fwd_hdr h;
		int n = qb_fwd_hdr_decode(d, len, &h);
		/* The inner packet's first byte repeats byte 0's low 5 bits. */
		if (n > 0 && (size_t)n < len && (d[n] & 0x1f) == h.quic_bits)
			return QB_DGRAM_FORWARDED;
		return QB_DGRAM_QUIC;
	}
	if (rfc_stun(d, len))
		return QB_DGRAM_STUN;
	return QB_DGRAM_QUIC;
}
