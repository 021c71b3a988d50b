/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The frame decode loop over one packet payload, with the packet type's
 * frame check, ACK range expansion and an encode/decode consistency check.
 * Input: one byte selecting the packet type (mod 5) and the sender's role
 * (bit 7), then the payload.
 */
#include <stdlib.h>
#include <string.h>

#include "qburst/frame.h"

static uint8_t re[1 << 17], re2[1 << 17];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > sizeof(re) - 64)
		return 0;
	enum qb_pkt_type pt = (enum qb_pkt_type)((data[0] & 0x7f) % 5);
	if (pt == QB_PKT_RETRY)
		pt = QB_PKT_1RTT;
	bool from_server = data[0] & 0x80;
	size_t len = size - 1;
	uint8_t *p = malloc(len ? len : 1);
	memcpy(p, data + 1, len);

	size_t off = 0;
	while (off < len) {
		struct qb_frame f;
		uint64_t terr = 12345;
		int n = qb_frame_decode(p + off, len - off, &f, &terr);
		if (n < 0) {
			if (terr != QB_TE_FRAME_ENCODING_ERROR && terr != QB_TE_PROTOCOL_VIOLATION)
				abort();
			break;
		}
		if (n == 0 || (size_t)n > len - off || terr != QB_TE_NO_ERROR)
			abort();
		if (qb_frame_check(f.type, pt, from_server) != QB_TE_NO_ERROR) {
			/* The connection would close here; keep decoding for coverage. */
		}
		if (f.type == QB_FT_ACK || f.type == QB_FT_ACK_ECN) {
			struct qb_ack_range r[16];
			size_t k = qb_ack_ranges(&f.ack, r, 16);
			if (k == 0 || r[k - 1].smallest < f.ack.smallest)
				abort();
			for (size_t i = 0; i < k; i++)
				if (r[i].smallest > r[i].largest ||
				    (i && r[i].largest + 1 >= r[i - 1].smallest))
					abort();
			/* Re-encoding the ranges gives a frame that decodes to them. */
			if (k == f.ack.range_count + 1) {
				const uint64_t ecn[3] = {f.ack.ect0, f.ack.ect1, f.ack.ce};
				int m = qb_frame_enc_ack(re, sizeof(re), r, k, f.ack.delay,
				                         f.ack.ecn ? ecn : NULL, NULL);
				if (m <= 0)
					abort();
			}
		}
		/* encode(decode(x)) is a fixed point of decode-then-encode. */
		int m = qb_frame_encode(re, sizeof(re), &f);
		if (m <= 0)
			abort();
		struct qb_frame g;
		int m2 = qb_frame_decode(re, (size_t)m, &g, &terr);
		if (m2 != m || g.type != f.type)
			abort();
		int m3 = qb_frame_encode(re2, sizeof(re2), &g);
		if (m3 != m || memcmp(re, re2, (size_t)m) != 0)
			abort();
		off += (size_t)n;
	}
	free(p);
	return 0;
}
