/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Walks the coalesced packets of one datagram, then removes packet protection
 * from its Initial packets with the Initial keys of their DCID (RFC 9001
 * §5.2) and decodes the frames of any that open. Input: one selector byte
 * (low 5 bits: our short-header CID length mod 21; bit 5: grease flag; bit 6:
 * try the server's keys), then the datagram.
 */
#include <stdlib.h>
#include <string.h>

#include "qburst/crypto.h"
#include "qburst/frame.h"
#include "qburst/packet.h"

static volatile unsigned sink;

static void
touch(const uint8_t *p, size_t n)
{
	/* Reading every byte a parsed pointer claims makes ASan check it. */
	unsigned s = 0;
	for (size_t i = 0; i < n; i++)
		s += p[i];
	sink += s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t cid_len = (data[0] & 0x1f) % 21;
	unsigned flags = (data[0] & 0x20) ? QB_PARSE_GREASE_OK : 0;
	size_t len = size - 1;
	/* An exact-size copy: any read past the datagram is an ASan report. */
	uint8_t *d = malloc(len ? len : 1);
	memcpy(d, data + 1, len);

	struct qb_pkt_hdr h[8];
	int n = qb_dgram_parse(d, len, cid_len, flags, h, 8);
	size_t prev_end = 0;
	for (int i = 0; i < n; i++) {
		if (h[i].offset != prev_end || h[i].end > len || h[i].end <= h[i].offset ||
		    h[i].len != h[i].end - h[i].offset)
			abort();
		if (h[i].pn_offset && h[i].offset + h[i].pn_offset + 20 > h[i].end)
			abort(); /* the HP sample must be inside the packet */
		touch(h[i].dcid, h[i].dcid_len);
		touch(h[i].scid, h[i].scid_len);
		if (h[i].token)
			touch(h[i].token, h[i].token_len);
		if (h[i].retry_tag)
			touch(h[i].retry_tag, QB_RETRY_TAG_LEN);
		if (h[i].versions)
			touch(h[i].versions, h[i].versions_len);
		prev_end = h[i].end;
	}
	/* Unprotect Initials in place (a mutable copy), then decode the frames. */
	for (int i = 0; i < n; i++) {
		if (h[i].type != QB_PKT_INITIAL)
			continue;
		struct qb_crypto_key ck, sk;
		if (qb_crypto_initial_keys(h[i].version, h[i].dcid, h[i].dcid_len, &ck, &sk) < 0)
			continue;
		struct qb_crypto_hdr ch;
		uint8_t *pkt = d + h[i].offset;
		if (qb_crypto_unprotect((data[0] & 0x40) ? &sk : &ck, pkt, h[i].len, h[i].pn_offset,
		                        QB_PN_NONE, &ch) == 0) {
			const uint8_t *p = pkt + ch.pn_offset + ch.pn_len;
			size_t left = ch.payload_len;
			while (left) {
				struct qb_frame f;
				uint64_t terr;
				int k = qb_frame_decode(p, left, &f, &terr);
				if (k <= 0)
					break;
				(void)qb_frame_check(f.type, QB_PKT_INITIAL, false);
				p += k;
				left -= (size_t)k;
			}
		}
		qb_crypto_key_clear(&ck);
		qb_crypto_key_clear(&sk);
	}
	/* The same walk by hand, past DCID changes. */
	size_t off = 0;
	while (off < len) {
		struct qb_pkt_hdr x;
		if (qb_pkt_parse(d, len, off, cid_len, flags, &x) < 0)
			break;
		if (x.end <= off || x.end > len)
			abort();
		off = x.end;
	}
	free(d);
	return 0;
}
