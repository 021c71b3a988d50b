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

static uint64_t
take_u64(const uint8_t *p, size_t n, size_t at)
{
	uint64_t v = 0;
	for (size_t i = 0; i < 8; i++)
		v = (v << 8) | (at + i < n ? p[at + i] : 0);
	return v;
}

/*
 * The packet encoder's fitting, driven by the input: a capacity, a stream
 * id, offset and length chosen from its bytes, into an exact-size heap
 * buffer (ASan sees any overrun); what was written must decode back.
 */
static void
fit_check(const uint8_t *p, size_t n)
{
	static uint8_t src[1 << 16];
	size_t cap = 21 + (size_t)(take_u64(p, n, 0) % 1500);
	uint64_t id = take_u64(p, n, 8) & QB_VARINT_MAX;
	uint64_t off = take_u64(p, n, 16) >> (p[n > 24 ? 24 : 0] % 64);
	off &= QB_VARINT_MAX;
	size_t len = (size_t)(take_u64(p, n, 4) % sizeof(src));
	if (len > QB_VARINT_MAX - off)
		len = 0;
	bool fin = n && (p[0] & 1);
	uint8_t *buf = malloc(cap);
	struct qb_pkt_enc e;
	struct qb_pkt_layout L;
	qb_pkt_enc_init(&e, buf, cap);
	if (qb_pkt_enc_begin_short(&e, p, n < 20 ? n : 20, false, false, 1, 1 + (cap & 3)) < 0) {
		free(buf);
		return;
	}
	size_t taken = 0, ctaken = 0;
	int rs = qb_pkt_enc_stream(&e, id, off, src, len, fin, &taken);
	int rc = rs == 0 && qb_pkt_enc_room(&e)
	                 ? qb_pkt_enc_crypto(&e, off, src, len ? len : 1, &ctaken)
	                 : -1;
	if (qb_pkt_enc_finish(&e, &L) < 0)
		abort();
	if (qb_pkt_enc_len(&e) > cap)
		abort();
	const uint8_t *q = buf + L.hdr_len;
	size_t left = L.payload_len;
	if (rs == 0) {
		struct qb_frame f;
		uint64_t terr;
		int k = qb_frame_decode(q, left, &f, &terr);
		if (k <= 0 || f.stream.stream_id != id || f.stream.offset != off ||
		    f.stream.len != taken || f.stream.fin != (fin && taken == len))
			abort();
		q += k;
		left -= (size_t)k;
		if (rc == 0) {
			k = qb_frame_decode(q, left, &f, &terr);
			if (k <= 0 || f.type != QB_FT_CRYPTO || f.crypto.len != ctaken)
				abort();
		}
	}
	free(buf);
}

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
	fit_check(p, len);
	free(p);
	return 0;
}
