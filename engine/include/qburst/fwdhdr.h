/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QBURST_FWDHDR_H
#define QBURST_FWDHDR_H

/*
 * The forward header (BRIEF §2; dquic's NAT-traversal relay header),
 * prepended before the QUIC packets of a datagram whose path goes through a
 * relay:
 *   byte 0: 0x60 | (first byte of the protected QUIC packet & 0x1f)
 *   byte 1: version << 4 | 0x08 | 0x04 (IPv6) | 0x02 (source relayed)
 *           | 0x01 (destination relayed)
 *   source endpoint, then destination endpoint, each either
 *     direct:  port (u16 big-endian), address (4 or 16 bytes)
 *     relayed: relay port, relay address, then outer port, outer address
 * 14/20/26 bytes over IPv4 (no/one/both endpoints relayed), 38/56/74 over IPv6.
 * Absent on a direct path.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qburst/error.h"

#define QB_FWD_VERSION 0
#define QB_FWD_MAX_LEN 74

/* A UDP endpoint: port in host order, address in network order (IPv4 in addr[0..4)). */
struct qb_fwd_addr {
	uint16_t port;
	uint8_t addr[16];
};

struct qb_fwd_endpoint {
	bool relayed;
	struct qb_fwd_addr addr;  /* direct: the endpoint; relayed: the relay */
	struct qb_fwd_addr outer; /* relayed: the endpoint's outer address */
};

struct qb_fwd_hdr {
	uint8_t version;   /* 0..15; this library speaks QB_FWD_VERSION */
	bool ipv6;         /* every address is IPv6 (else IPv4) */
	uint8_t quic_bits; /* decode: byte 0's low 5 bits */
	struct qb_fwd_endpoint src, dst;
};

/* Header length for this shape. */
static inline size_t
qb_fwd_hdr_len(bool ipv6, bool src_relayed, bool dst_relayed)
{
	size_t ep = 2 + (ipv6 ? 16 : 4);
	return 2 + ep * (src_relayed ? 2 : 1) + ep * (dst_relayed ? 2 : 1);
}

/*
 * Writes h's header into buf (cap bytes); byte 0 takes the low 5 bits of
 * quic_first, the first byte of the protected QUIC packet that follows.
 * Returns the length, QB_ERR_NOBUF, or QB_ERR_ARG (version > 15).
 */
int qb_fwd_hdr_encode(uint8_t *buf, size_t cap, const struct qb_fwd_hdr *h, uint8_t quic_first);

/*
 * Reads a forward header at buf (len bytes). Returns its length (the QUIC
 * packets start there), QB_ERR_TRUNCATED, QB_ERR_INVALID (byte 0 not 0x60
 * form, 0x08 bit clear), or QB_ERR_UNSUPPORTED (a version other than 0).
 */
int qb_fwd_hdr_decode(const uint8_t *buf, size_t len, struct qb_fwd_hdr *h);

/* What a relay listener received. */
enum qb_dgram_class {
	QB_DGRAM_QUIC = 0,      /* a QUIC datagram for us (or for no one we know) */
	QB_DGRAM_FORWARDED = 1, /* a forward header, then QUIC packets */
	QB_DGRAM_STUN = 2,      /* STUN (RFC 8489 magic cookie) or dquic's variant */
	QB_DGRAM_INVALID = 3,   /* empty */
};

/* Says whether cid (len bytes) is one of the connection IDs we issued. */
typedef bool (*qb_cid_is_ours_fn)(void *ctx, const uint8_t *cid, size_t len);

/*
 * Classifies a datagram that arrived on a listener configured for relaying
 * (BRIEF §2). cid_len is the length of the CIDs we issue. dquic's rule
 * (byte0 & 0xe0 == 0x60: forwarded; 0xc2/0xc3 then a zero u32: its STUN)
 * collides with QUIC: a 1-RTT packet with the spin bit set, and Version
 * Negotiation. So a datagram that parses as a short header carrying one of
 * our CIDs is QUIC, as is a VN packet whose DCID is ours; a forwarded
 * datagram must also carry a valid header whose inner packet repeats byte 0's
 * low bits. Listeners not configured for relaying never call this.
 */
enum qb_dgram_class qb_dgram_classify(const uint8_t *d, size_t len, size_t cid_len,
                                      qb_cid_is_ours_fn is_ours, void *ctx);

#endif
