/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The 1-RTT stream packet from a per-path template (the build-rate fast
 * path, BRIEF §6): the short header's first byte and DCID are fixed for a
 * path and key phase, so they are prepared once and copied with a few wide
 * stores; the packet number and each varint of the STREAM frame header are
 * one big-endian store. No encoder state: the caller gets the layout.
 */
#include <string.h>

#include "qburst/frame.h"
#include "qburst/packet.h"

/* RFC 9001 §5.4.2: pn + frames >= 4 so the sample fits (with the 16-byte tag). */
#define MIN_PN_AND_FRAMES (QB_HP_SAMPLE_OFFSET + QB_HP_SAMPLE_LEN - QB_AEAD_TAG_LEN)

_Static_assert(sizeof(((struct qb_pkt_short_tmpl *)0)->hdr) >= 1 + QB_MAX_CID_LEN + 3,
               "the template holds the first byte and the longest DCID, 8-byte rounded");

int
qb_pkt_short_tmpl_init(struct qb_pkt_short_tmpl *t, const uint8_t *dcid, size_t dcid_len, bool spin,
                       bool key_phase)
{
	if (t == NULL || dcid_len > QB_MAX_CID_LEN || (dcid == NULL && dcid_len != 0))
		return QB_ERR_ARG;
	memset(t, 0, sizeof(*t));
	/* RFC 9000 §17.3.1: form 0, fixed 1, spin, reserved 0, key phase; pn length later. */
	t->hdr[0] = (uint8_t)(0x40 | (spin ? 0x20 : 0) | (key_phase ? 0x04 : 0));
	if (dcid_len != 0)
		memcpy(t->hdr + 1, dcid, dcid_len);
	t->dcid_len = (uint8_t)dcid_len;
	return 0;
}

/*
 * Writes v <= QB_VARINT_MAX as its minimal varint (RFC 9000 §16) with one
 * 8-byte big-endian store; the bytes past the varint are scratch (the
 * buffer has room for them). Returns the end of the varint.
 */
static inline uint8_t *
put_varint8(uint8_t *p, uint64_t v)
{
	unsigned int lg = v < 64 ? 0 : v < 16384 ? 1 : v < 1073741824 ? 2 : 3;
	unsigned int bits = 8u << lg;
	uint64_t w = __builtin_bswap64((v | (uint64_t)lg << (bits - 2)) << (64 - bits));

	memcpy(p, &w, 8);
	return p + ((size_t)1 << lg);
}

int
qb_pkt_enc_short_stream_tmpl(const struct qb_pkt_short_tmpl *t, uint8_t *buf, size_t cap,
                             uint64_t pn, size_t pn_len, uint64_t stream_id, uint64_t offset,
                             size_t len, bool fin, size_t *taken, struct qb_pkt_layout *info)
{
	size_t pn_off = (size_t)t->dcid_len + 1, hdr = pn_off + pn_len, h0, room, take;
	uint8_t *f, *p;
	uint64_t x;

	/* The checks of qb_pkt_enc_short_stream, in its order. */
	if (pn_len - 1 > 3)
		return QB_ERR_ARG;
	/* Every store below stays within the first 64 bytes or the packet. */
	if (cap < QB_PKT_SHORT_TMPL_MIN_CAP)
		return QB_ERR_NOBUF;
	if ((stream_id | offset) > QB_VARINT_MAX || len > QB_VARINT_MAX - offset ||
	    (len == 0 && !fin))
		return QB_ERR_ARG;

	/* First byte and DCID: three 8-byte stores of the template. */
	for (size_t i = 0; i < 24; i += 8) {
		memcpy(&x, t->hdr + i, 8);
		memcpy(buf + i, &x, 8);
	}
	buf[0] = (uint8_t)(t->hdr[0] | (pn_len - 1));
	/* RFC 9000 §17.1: the low pn_len bytes of pn, big endian, one store. */
	{
		uint32_t w = __builtin_bswap32((uint32_t)pn << (8 * (4 - pn_len)));

		memcpy(buf + pn_off, &w, 4);
	}
	/* RFC 9000 §19.8: no Length, the data runs to the packet's end. */
	f = buf + hdr;
	f[0] = (uint8_t)(QB_FT_STREAM | (offset ? QB_STREAM_OFF : 0));
	p = put_varint8(f + 1, stream_id);
	if (offset)
		p = put_varint8(p, offset);
	h0 = (size_t)(p - f);
	room = cap - QB_AEAD_TAG_LEN - hdr; /* cap >= 64 > hdr + tag */
	if (room < h0 || (room == h0 && len != 0))
		return QB_ERR_NOBUF;
	take = len < room - h0 ? len : room - h0;
	if (fin && take == len)
		f[0] |= QB_STREAM_FIN;
	if (__builtin_expect(pn_len + h0 + take < MIN_PN_AND_FRAMES, 0)) {
		/* PADDING frames (RFC 9000 §19.1) before the frame so the sample fits. */
		size_t pad = MIN_PN_AND_FRAMES - (pn_len + h0 + take);

		memmove(f + pad, f, h0);
		memset(f, 0, pad);
		p += pad;
	}
	*taken = take;
	size_t payload = (size_t)(p - buf) - hdr + take;
	if (info != NULL) {
		info->offset = 0;
		info->pn_offset = pn_off;
		info->pn_len = pn_len;
		info->hdr_len = hdr;
		info->payload_len = payload;
		info->len = hdr + payload + QB_AEAD_TAG_LEN;
		info->pn = pn;
		info->type = QB_PKT_1RTT;
	}
	return (int)(hdr + payload + QB_AEAD_TAG_LEN);
}
