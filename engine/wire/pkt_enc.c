/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The checked packet encoder: a cursor over a caller's datagram buffer that
 * writes headers, reserves the long header's Length and the AEAD tag, pads
 * on request and never writes past the buffer.
 */
#include <string.h>

#include "qburst/frame.h"
#include "qburst/packet.h"

/*
 * RFC 9001 §5.4.2: pn + protected payload (frames + tag) must be at least
 * 4 + 16 bytes, so the sample lies inside the packet: with the 16-byte tag
 * that is pn_len + frames >= 4 (3 bytes of frames for a 1-byte pn).
 */
#define SAMPLE_SPAN       (QB_HP_SAMPLE_OFFSET + QB_HP_SAMPLE_LEN)
#define MIN_PN_AND_FRAMES (SAMPLE_SPAN - QB_AEAD_TAG_LEN)
/* The reserved Length is a 2-byte varint: at most 16383. */
#define LENGTH_MAX        16383

void
qb_pkt_enc_init(struct qb_pkt_enc *e, uint8_t *buf, size_t cap)
{
	memset(e, 0, sizeof(*e));
	e->buf = buf;
	e->cap = cap;
}

/*
 * Copies a CID of n <= 20 bytes with fixed-size moves (two overlapping ones
 * cover any length in a range) instead of a call to memcpy: this runs once
 * or twice per packet. Reads and writes stay within [0, n).
 */
static inline void
copy_cid(uint8_t *d, const uint8_t *s, size_t n)
{
	if (n >= 8) {
		uint64_t a, b;
		if (n > 16) {
			uint64_t c;
			memcpy(&a, s, 8);
			memcpy(&b, s + 8, 8);
			memcpy(&c, s + n - 8, 8);
			memcpy(d, &a, 8);
			memcpy(d + 8, &b, 8);
			memcpy(d + n - 8, &c, 8);
			return;
		}
		memcpy(&a, s, 8);
		memcpy(&b, s + n - 8, 8);
		memcpy(d, &a, 8);
		memcpy(d + n - 8, &b, 8);
	} else if (n >= 4) {
		uint32_t a, b;
		memcpy(&a, s, 4);
		memcpy(&b, s + n - 4, 4);
		memcpy(d, &a, 4);
		memcpy(d + n - 4, &b, 4);
	} else {
		for (size_t i = 0; i < n; i++)
			d[i] = s[i];
	}
}

static inline uint8_t *
put_cid(uint8_t *p, const uint8_t *cid, size_t n)
{
	*p++ = (uint8_t)n;
	copy_cid(p, cid, n);
	return p + n;
}

static inline uint8_t *
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

/* Room check shared by both header kinds: header + sample padding + tag. */
static inline int
fits(const struct qb_pkt_enc *e, size_t hdr_len, size_t pn_len)
{
	size_t min_frames = pn_len < MIN_PN_AND_FRAMES ? MIN_PN_AND_FRAMES - pn_len : 0;
	return e->off + hdr_len + min_frames + QB_AEAD_TAG_LEN <= e->cap;
}

static inline void
start_payload(struct qb_pkt_enc *e, uint8_t *p, uint64_t pn, size_t pn_len)
{
	e->pn_off = (size_t)(p - e->buf);
	qb_pn_put(p, pn, pn_len);
	e->off = e->pn_off + pn_len;
	e->limit = e->cap - QB_AEAD_TAG_LEN;
	if (e->len_off && e->limit > e->pn_off + LENGTH_MAX - QB_AEAD_TAG_LEN)
		e->limit = e->pn_off + LENGTH_MAX - QB_AEAD_TAG_LEN;
	e->pn = pn;
	e->pn_len = (uint8_t)pn_len;
	e->open = true;
	e->closed = false;
}

int
qb_pkt_enc_begin_long(struct qb_pkt_enc *e, uint32_t version, enum qb_pkt_type type,
                      const uint8_t *dcid, size_t dcid_len, const uint8_t *scid, size_t scid_len,
                      const uint8_t *token, size_t token_len, uint64_t pn, size_t pn_len)
{
	if (e->open)
		return QB_ERR_STATE;
	if (!qb_version_supported(version) || dcid_len > QB_MAX_CID_LEN ||
	    scid_len > QB_MAX_CID_LEN || pn_len < 1 || pn_len > 4)
		return QB_ERR_ARG;
	if (type != QB_PKT_INITIAL && type != QB_PKT_0RTT && type != QB_PKT_HANDSHAKE)
		return QB_ERR_ARG;
	if (type != QB_PKT_INITIAL)
		token_len = 0;
	size_t hdr = 1 + 4 + 1 + dcid_len + 1 + scid_len + 2 + pn_len;
	if (type == QB_PKT_INITIAL) {
		if (token_len > QB_VARINT_MAX)
			return QB_ERR_ARG;
		hdr += qb_varint_len(token_len) + token_len;
	}
	if (!fits(e, hdr, pn_len))
		return QB_ERR_NOBUF;

	/* RFC 9000 §17.2: form, fixed bit, type, reserved 0, pn length - 1. */
	uint8_t *p = e->buf + e->off;
	e->pkt = e->off;
	*p++ = (uint8_t)(0xc0 | qb_long_type_bits(version, type) << 4 | (pn_len - 1));
	p = put_u32(p, version);
	p = put_cid(p, dcid, dcid_len);
	p = put_cid(p, scid, scid_len);
	if (type == QB_PKT_INITIAL) {
		p = qb_varint_put(p, token_len);
		if (token_len)
			memcpy(p, token, token_len);
		p += token_len;
	}
	e->len_off = (size_t)(p - e->buf);
	p += 2;
	e->type = (uint8_t)type;
	start_payload(e, p, pn, pn_len);
	return 0;
}

int
qb_pkt_enc_begin_short(struct qb_pkt_enc *e, const uint8_t *dcid, size_t dcid_len, bool spin,
                       bool key_phase, uint64_t pn, size_t pn_len)
{
	if (e->open)
		return QB_ERR_STATE;
	if (dcid_len > QB_MAX_CID_LEN || pn_len < 1 || pn_len > 4)
		return QB_ERR_ARG;
	if (!fits(e, 1 + dcid_len + pn_len, pn_len))
		return QB_ERR_NOBUF;
	/* RFC 9000 §17.3.1: form 0, fixed 1, spin, reserved 0, key phase, pn len. */
	uint8_t *p = e->buf + e->off;
	e->pkt = e->off;
	*p++ = (uint8_t)(0x40 | (spin ? 0x20 : 0) | (key_phase ? 0x04 : 0) | (pn_len - 1));
	copy_cid(p, dcid, dcid_len);
	p += dcid_len;
	e->len_off = 0;
	e->type = QB_PKT_1RTT;
	start_payload(e, p, pn, pn_len);
	return 0;
}

int
qb_pkt_enc_pad(struct qb_pkt_enc *e, size_t n)
{
	if (!e->open)
		return QB_ERR_STATE;
	if (n > qb_pkt_enc_room(e))
		return QB_ERR_NOBUF;
	memset(e->buf + e->off, 0, n); /* PADDING frames, RFC 9000 §19.1 */
	e->off += n;
	return 0;
}

int
qb_pkt_enc_pad_to(struct qb_pkt_enc *e, size_t dgram_len)
{
	if (!e->open)
		return QB_ERR_STATE;
	size_t with_tag = e->off + QB_AEAD_TAG_LEN;
	if (with_tag >= dgram_len)
		return 0;
	return qb_pkt_enc_pad(e, dgram_len - with_tag);
}

int
qb_pkt_enc_pad_for_sample(struct qb_pkt_enc *e)
{
	if (!e->open)
		return QB_ERR_STATE;
	size_t have = e->pn_len + qb_pkt_enc_payload_len(e);
	if (have >= MIN_PN_AND_FRAMES)
		return 0;
	return qb_pkt_enc_pad(e, MIN_PN_AND_FRAMES - have);
}

/* Closes the open packet: tag room zeroed, layout reported (as finish). */
static inline void
close_packet(struct qb_pkt_enc *e, struct qb_pkt_layout *info)
{
	size_t payload = qb_pkt_enc_payload_len(e);

	if (e->len_off)
		qb_varint_put_n(e->buf + e->len_off, e->pn_len + payload + QB_AEAD_TAG_LEN, 2);
	memset(e->buf + e->off, 0, QB_AEAD_TAG_LEN);
	e->off += QB_AEAD_TAG_LEN;
	if (info) {
		info->offset = e->pkt;
		info->pn_offset = e->pn_off - e->pkt;
		info->pn_len = e->pn_len;
		info->hdr_len = info->pn_offset + e->pn_len;
		info->payload_len = payload;
		info->len = e->off - e->pkt;
		info->pn = e->pn;
		info->type = e->type;
	}
	e->open = false;
	e->closed = false;
}

int
qb_pkt_enc_finish(struct qb_pkt_enc *e, struct qb_pkt_layout *info)
{
	if (!e->open)
		return QB_ERR_STATE;
	/* Cannot fail: begin checked that the sample padding fits. */
	int rc = qb_pkt_enc_pad_for_sample(e);
	if (rc < 0)
		return rc;
	close_packet(e, info);
	return 0;
}

int
qb_pkt_enc_stream_final(struct qb_pkt_enc *e, uint64_t stream_id, uint64_t offset, size_t len,
                        bool fin, size_t *taken, struct qb_pkt_layout *info)
{
	if (!e->open || e->closed)
		return QB_ERR_STATE;
	if ((stream_id | offset) > QB_VARINT_MAX || len > QB_VARINT_MAX - offset ||
	    (len == 0 && !fin))
		return QB_ERR_ARG;
	size_t room = e->limit - e->off;
	size_t id_len = qb_varint_len(stream_id), off_len = offset ? qb_varint_len(offset) : 0;
	size_t h0 = 1 + id_len + off_len, pad = 0, take;
	uint8_t type = (uint8_t)(QB_FT_STREAM | (offset ? QB_STREAM_OFF : 0));

	if (room < h0 || (room == h0 && len != 0))
		return QB_ERR_NOBUF;
	/*
	 * The frame is the packet's last, so it never needs a Length: it runs
	 * to the end of the packet, which ends with the data (RFC 9000 §19.8).
	 */
	take = len < room - h0 ? len : room - h0;
	/* pn + frames must reach the sample's end (RFC 9001 §5.4.2): PADDING
	 * before the frame (RFC 9000 §19.1) when the data is that short. */
	size_t have = e->pn_len + qb_pkt_enc_payload_len(e) + h0 + take;
	if (have < MIN_PN_AND_FRAMES)
		pad = MIN_PN_AND_FRAMES - have;
	if (fin && take == len)
		type |= QB_STREAM_FIN;

	uint8_t *p = e->buf + e->off;
	if (pad)
		memset(p, 0, pad); /* begin reserved room for it (fits()) */
	p += pad;
	*p++ = type;
	p = qb_varint_put_n(p, stream_id, id_len);
	if (off_len)
		p = qb_varint_put_n(p, offset, off_len);
	e->off = (size_t)(p - e->buf) + take;
	*taken = take;
	close_packet(e, info);
	return 0;
}

int
qb_pkt_enc_short_stream(struct qb_pkt_enc *e, const uint8_t *dcid, size_t dcid_len, bool spin,
                        bool key_phase, uint64_t pn, size_t pn_len, uint64_t stream_id,
                        uint64_t offset, size_t len, bool fin, size_t *taken,
                        struct qb_pkt_layout *info)
{
	/* The checks of qb_pkt_enc_begin_short, then qb_pkt_enc_stream_final's. */
	if (e->open)
		return QB_ERR_STATE;
	if (dcid_len > QB_MAX_CID_LEN || pn_len < 1 || pn_len > 4)
		return QB_ERR_ARG;
	size_t hdr = 1 + dcid_len + pn_len;
	if (!fits(e, hdr, pn_len))
		return QB_ERR_NOBUF;
	if ((stream_id | offset) > QB_VARINT_MAX || len > QB_VARINT_MAX - offset ||
	    (len == 0 && !fin))
		return QB_ERR_ARG;
	size_t start = e->off, limit = e->cap - QB_AEAD_TAG_LEN;
	size_t room = limit - start - hdr; /* fits() keeps this positive */
	size_t id_len = qb_varint_len(stream_id), off_len = offset ? qb_varint_len(offset) : 0;
	size_t h0 = 1 + id_len + off_len, pad = 0, take;
	if (room < h0 || (room == h0 && len != 0))
		return QB_ERR_NOBUF;
	take = len < room - h0 ? len : room - h0;
	/* RFC 9001 §5.4.2: pn + frames >= 4; fits() reserved room for it. */
	if (pn_len + h0 + take < MIN_PN_AND_FRAMES)
		pad = MIN_PN_AND_FRAMES - (pn_len + h0 + take);

	/* RFC 9000 §17.3.1: form 0, fixed 1, spin, reserved 0, key phase, pn len. */
	uint8_t *p = e->buf + start;
	*p++ = (uint8_t)(0x40 | (spin ? 0x20 : 0) | (key_phase ? 0x04 : 0) | (pn_len - 1));
	copy_cid(p, dcid, dcid_len);
	p += dcid_len;
	qb_pn_put(p, pn, pn_len);
	p += pn_len;
	if (pad)
		memset(p, 0, pad); /* PADDING frames, RFC 9000 §19.1 */
	p += pad;
	/* RFC 9000 §19.8: no Length, the data runs to the packet's end. */
	*p++ = (uint8_t)(QB_FT_STREAM | (offset ? QB_STREAM_OFF : 0) |
	                 (fin && take == len ? QB_STREAM_FIN : 0));
	p = qb_varint_put_n(p, stream_id, id_len);
	if (off_len)
		p = qb_varint_put_n(p, offset, off_len);
	p += take;
	memset(p, 0, QB_AEAD_TAG_LEN); /* as qb_pkt_enc_finish: nothing stale */

	/* The encoder as begin + stream_final would leave it: packet closed. */
	size_t pn_off = start + 1 + dcid_len, end = (size_t)(p - e->buf);
	e->pkt = start;
	e->pn_off = pn_off;
	e->len_off = 0;
	e->limit = limit;
	e->pn = pn;
	e->pn_len = (uint8_t)pn_len;
	e->type = QB_PKT_1RTT;
	e->off = end + QB_AEAD_TAG_LEN;
	e->open = false;
	e->closed = false;
	*taken = take;
	if (info) {
		info->offset = start;
		info->pn_offset = pn_off - start;
		info->pn_len = pn_len;
		info->hdr_len = hdr;
		info->payload_len = end - pn_off - pn_len;
		info->len = end + QB_AEAD_TAG_LEN - start;
		info->pn = pn;
		info->type = QB_PKT_1RTT;
	}
	return 0;
}

void
qb_pkt_enc_abort(struct qb_pkt_enc *e)
{
	if (e->open)
		e->off = e->pkt;
	e->open = false;
	e->closed = false;
}

int
qb_pkt_enc_retry(uint8_t *buf, size_t cap, uint32_t version, uint8_t unused4, const uint8_t *dcid,
                 size_t dcid_len, const uint8_t *scid, size_t scid_len, const uint8_t *token,
                 size_t token_len)
{
	if (!qb_version_supported(version) || dcid_len > QB_MAX_CID_LEN ||
	    scid_len > QB_MAX_CID_LEN || token_len == 0)
		return QB_ERR_ARG;
	size_t n = 1 + 4 + 1 + dcid_len + 1 + scid_len + token_len + QB_RETRY_TAG_LEN;
	if (n > cap)
		return QB_ERR_NOBUF;
	uint8_t *p = buf;
	*p++ = (uint8_t)(0xc0 | qb_long_type_bits(version, QB_PKT_RETRY) << 4 | (unused4 & 0x0f));
	p = put_u32(p, version);
	p = put_cid(p, dcid, dcid_len);
	p = put_cid(p, scid, scid_len);
	memcpy(p, token, token_len);
	p += token_len;
	memset(p, 0, QB_RETRY_TAG_LEN);
	return (int)n;
}

int
qb_pkt_enc_vn(uint8_t *buf, size_t cap, uint8_t unused7, const uint8_t *dcid, size_t dcid_len,
              const uint8_t *scid, size_t scid_len, const uint32_t *versions, size_t n_versions)
{
	if (dcid_len > QB_MAX_CID_LEN_ANY || scid_len > QB_MAX_CID_LEN_ANY)
		return QB_ERR_ARG;
	size_t n = 1 + 4 + 1 + dcid_len + 1 + scid_len + 4 * n_versions;
	if (n > cap)
		return QB_ERR_NOBUF;
	uint8_t *p = buf;
	/* RFC 9000 §17.2.1: 0x40 set so VN looks like QUIC to demultiplexers. */
	*p++ = (uint8_t)(0xc0 | (unused7 & 0x3f));
	p = put_u32(p, QB_VERSION_NEGOTIATION);
	p = put_cid(p, dcid, dcid_len);
	p = put_cid(p, scid, scid_len);
	for (size_t i = 0; i < n_versions; i++)
		p = put_u32(p, versions[i]);
	return (int)n;
}

int
qb_pkt_enc_stateless_reset(uint8_t *buf, size_t len, const uint8_t *unpredictable,
                           const uint8_t *token)
{
	/* 5 bytes (38 unpredictable bits + the 2 fixed ones) and the token. */
	if (len < 5 + QB_STATELESS_RESET_TOKEN_LEN)
		return QB_ERR_ARG;
	size_t r = len - QB_STATELESS_RESET_TOKEN_LEN;
	memcpy(buf, unpredictable, r);
	buf[0] = (uint8_t)(0x40 | (buf[0] & 0x3f));
	memcpy(buf + r, token, QB_STATELESS_RESET_TOKEN_LEN);
	return (int)len;
}

bool
qb_stateless_reset_match(const uint8_t *dgram, size_t len, const uint8_t *token)
{
	if (len < 5 + QB_STATELESS_RESET_TOKEN_LEN)
		return false;
	/* Constant time: no early exit on the first differing byte (§10.3.1). */
	const uint8_t *t = dgram + len - QB_STATELESS_RESET_TOKEN_LEN;
	uint8_t diff = 0;
	for (size_t i = 0; i < QB_STATELESS_RESET_TOKEN_LEN; i++)
		diff |= (uint8_t)(t[i] ^ token[i]);
	return diff == 0;
}
