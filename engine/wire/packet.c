/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet header parsing (RFC 8999, RFC 9000 §17, RFC 9369 §3.2), before
 * header protection is removed: only what is visible is read. Every read is
 * checked against the datagram's end.
 */
#include <string.h>

#include "qburst/packet.h"

/* A protected packet must contain the HP sample: pn field + 4 + 16 bytes. */
#define SAMPLE_SPAN (QB_HP_SAMPLE_OFFSET + QB_HP_SAMPLE_LEN)

static int
parse_vn(const uint8_t *p, const uint8_t *end, struct qb_pkt_hdr *h)
{
	/* RFC 9000 §17.2.1: the rest of the datagram lists versions. */
	size_t n = (size_t)(end - p);
	if (n % 4 != 0)
		return QB_ERR_INVALID;
	h->type = QB_PKT_VN;
	h->versions = p;
	h->versions_len = n;
	return 0;
}

static int
parse_long(const uint8_t *d, size_t len, size_t off, unsigned flags, struct qb_pkt_hdr *h)
{
	const uint8_t *start = d + off, *end = d + len, *p = start + 1;
	if (end - p < 5)
		return QB_ERR_TRUNCATED;
	h->version = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	p += 4;
	/* RFC 8999 §5.1: CID lengths up to 255 in any version; v1/v2 cap at 20. */
	h->dcid_len = *p++;
	if ((size_t)(end - p) < (size_t)h->dcid_len + 1)
		return QB_ERR_TRUNCATED;
	h->dcid = p;
	p += h->dcid_len;
	h->scid_len = *p++;
	if ((size_t)(end - p) < h->scid_len)
		return QB_ERR_TRUNCATED;
	h->scid = p;
	p += h->scid_len;
	h->end = len;
	h->len = len - off;

	if (h->version == QB_VERSION_NEGOTIATION)
		return parse_vn(p, end, h);
	if (!qb_version_supported(h->version)) {
		/* The caller may answer with Version Negotiation (RFC 9000 §6.1). */
		h->type = QB_PKT_UNKNOWN_VERSION;
		return 0;
	}
	if (h->dcid_len > QB_MAX_CID_LEN || h->scid_len > QB_MAX_CID_LEN)
		return QB_ERR_INVALID;
	if (!(h->first & 0x40) && !(flags & QB_PARSE_GREASE_OK))
		return QB_ERR_INVALID; /* RFC 9000 §17.2: fixed bit */
	h->type = qb_long_type_of(h->version, (h->first >> 4) & 3);

	if (h->type == QB_PKT_RETRY) {
		/* RFC 9000 §17.2.5: token then a 16-byte tag; an empty token is invalid. */
		size_t n = (size_t)(end - p);
		if (n < QB_RETRY_TAG_LEN + 1)
			return n < QB_RETRY_TAG_LEN ? QB_ERR_TRUNCATED : QB_ERR_INVALID;
		h->token = p;
		h->token_len = n - QB_RETRY_TAG_LEN;
		h->retry_tag = end - QB_RETRY_TAG_LEN;
		return 0;
	}

	uint64_t v;
	if (h->type == QB_PKT_INITIAL) {
		if (qb_varint_get(&p, end, &v) < 0)
			return QB_ERR_TRUNCATED;
		if (v > (uint64_t)(end - p))
			return QB_ERR_TRUNCATED;
		h->token = p;
		h->token_len = (size_t)v;
		p += v;
	}
	if (qb_varint_get(&p, end, &v) < 0)
		return QB_ERR_TRUNCATED;
	if (v > (uint64_t)(end - p))
		return QB_ERR_TRUNCATED;
	if (v < SAMPLE_SPAN)
		return QB_ERR_INVALID; /* RFC 9001 §5.4.2 */
	h->pn_offset = (size_t)(p - start);
	h->len = h->pn_offset + (size_t)v;
	h->end = off + h->len;
	return 0;
}

int
qb_pkt_parse(const uint8_t *dgram, size_t len, size_t offset, size_t short_dcid_len, unsigned flags,
             struct qb_pkt_hdr *h)
{
	memset(h, 0, sizeof(*h));
	if (offset >= len)
		return QB_ERR_TRUNCATED;
	h->offset = offset;
	h->first = dgram[offset];
	if (h->first & 0x80)
		return parse_long(dgram, len, offset, flags, h);

	/* Short header, RFC 9000 §17.3.1. */
	if (!(h->first & 0x40) && !(flags & QB_PARSE_GREASE_OK))
		return QB_ERR_INVALID;
	if (short_dcid_len > QB_MAX_CID_LEN)
		return QB_ERR_ARG;
	size_t n = len - offset;
	if (n < 1 + short_dcid_len)
		return QB_ERR_TRUNCATED;
	if (n < 1 + short_dcid_len + SAMPLE_SPAN)
		return QB_ERR_INVALID;
	h->type = QB_PKT_1RTT;
	h->spin = (h->first & 0x20) != 0;
	h->dcid_len = (uint8_t)short_dcid_len;
	h->dcid = dgram + offset + 1;
	h->pn_offset = 1 + short_dcid_len;
	h->len = n;
	h->end = len;
	return 0;
}

int
qb_dgram_parse(const uint8_t *dgram, size_t len, size_t short_dcid_len, unsigned flags,
               struct qb_pkt_hdr *h, size_t max)
{
	if (max == 0)
		return QB_ERR_ARG;
	int rc = qb_pkt_parse(dgram, len, 0, short_dcid_len, flags, &h[0]);
	if (rc < 0)
		return rc;
	size_t n = 1;
	size_t off = h[0].end;
	while (off < len && n < max) {
		struct qb_pkt_hdr *x = &h[n];
		if (qb_pkt_parse(dgram, len, off, short_dcid_len, flags, x) < 0)
			break;
		/* RFC 9000 §12.2: ignore packets for another connection ID. */
		if (x->dcid_len != h[0].dcid_len || memcmp(x->dcid, h[0].dcid, x->dcid_len) != 0)
			break;
		off = x->end;
		n++;
	}
	return (int)n;
}
