/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frame encoding (RFC 9000 §19, RFC 9221 §4). Each encoder computes the
 * frame's exact size first, checks it against the room, then writes without
 * further checks: no partial frame is ever left in the buffer.
 */
#include <string.h>

#include "qburst/frame.h"

#define VL(x) qb_varint_len(x)

/* Any of the values above QB_VARINT_MAX: they cannot be encoded. */
#define TOO_BIG(x) ((x) > QB_VARINT_MAX)

static inline size_t
stream_type_len(const struct qb_frame *f)
{
	size_t n = 1 + VL(f->stream.stream_id);
	if (f->type & QB_STREAM_OFF)
		n += VL(f->stream.offset);
	if (f->type & QB_STREAM_LEN)
		n += VL(f->stream.len);
	return n + f->stream.len;
}

size_t
qb_frame_len(const struct qb_frame *f)
{
	uint64_t t = f->type;
	switch (t) {
	case QB_FT_PADDING:
		return f->padding.len;
	case QB_FT_PING:
	case QB_FT_HANDSHAKE_DONE:
		return 1;
	case QB_FT_ACK:
	case QB_FT_ACK_ECN: {
		const struct qb_frame_ack *a = &f->ack;
		if (TOO_BIG(a->largest | a->delay | a->range_count | a->first_range))
			return 0;
		size_t n = 1 + VL(a->largest) + VL(a->delay) + VL(a->range_count) +
		           VL(a->first_range) + a->ranges_len;
		if (t == QB_FT_ACK_ECN) {
			if (TOO_BIG(a->ect0 | a->ect1 | a->ce))
				return 0;
			n += VL(a->ect0) + VL(a->ect1) + VL(a->ce);
		}
		return n;
	}
	case QB_FT_RESET_STREAM:
		if (TOO_BIG(f->reset_stream.stream_id | f->reset_stream.error_code |
		            f->reset_stream.final_size))
			return 0;
		return 1 + VL(f->reset_stream.stream_id) + VL(f->reset_stream.error_code) +
		       VL(f->reset_stream.final_size);
	case QB_FT_STOP_SENDING:
		if (TOO_BIG(f->stop_sending.stream_id | f->stop_sending.error_code))
			return 0;
		return 1 + VL(f->stop_sending.stream_id) + VL(f->stop_sending.error_code);
	case QB_FT_CRYPTO:
		if (TOO_BIG(f->crypto.offset) || f->crypto.len > QB_VARINT_MAX - f->crypto.offset)
			return 0;
		return 1 + VL(f->crypto.offset) + VL(f->crypto.len) + f->crypto.len;
	case QB_FT_NEW_TOKEN:
		if (f->new_token.len == 0)
			return 0;
		return 1 + VL(f->new_token.len) + f->new_token.len;
	case 0x08:
	case 0x09:
	case 0x0a:
	case 0x0b:
	case 0x0c:
	case 0x0d:
	case 0x0e:
	case 0x0f:
		if (TOO_BIG(f->stream.stream_id | f->stream.offset) ||
		    f->stream.len > QB_VARINT_MAX - f->stream.offset)
			return 0;
		if (!(t & QB_STREAM_OFF) && f->stream.offset != 0)
			return 0;
		return stream_type_len(f);
	case QB_FT_MAX_DATA:
	case QB_FT_DATA_BLOCKED:
	case QB_FT_RETIRE_CONNECTION_ID:
		/* max_data.max, data_blocked.limit and retire_cid.seq share one layout. */
		if (TOO_BIG(f->max_data.max))
			return 0;
		return 1 + VL(f->max_data.max);
	case QB_FT_MAX_STREAMS_BIDI:
	case QB_FT_MAX_STREAMS_UNI:
	case QB_FT_STREAMS_BLOCKED_BIDI:
	case QB_FT_STREAMS_BLOCKED_UNI:
		if (f->max_streams.max > QB_MAX_STREAMS_LIMIT)
			return 0;
		return 1 + VL(f->max_streams.max);
	case QB_FT_MAX_STREAM_DATA:
	case QB_FT_STREAM_DATA_BLOCKED:
		if (TOO_BIG(f->max_stream_data.stream_id | f->max_stream_data.max))
			return 0;
		return 1 + VL(f->max_stream_data.stream_id) + VL(f->max_stream_data.max);
	case QB_FT_NEW_CONNECTION_ID:
		if (TOO_BIG(f->new_cid.seq) || f->new_cid.retire_prior_to > f->new_cid.seq ||
		    f->new_cid.cid_len < 1 || f->new_cid.cid_len > QB_MAX_CID_LEN)
			return 0;
		return 1 + VL(f->new_cid.seq) + VL(f->new_cid.retire_prior_to) + 1 +
		       f->new_cid.cid_len + QB_STATELESS_RESET_TOKEN_LEN;
	case QB_FT_PATH_CHALLENGE:
	case QB_FT_PATH_RESPONSE:
		return 1 + QB_PATH_DATA_LEN;
	case QB_FT_CONNECTION_CLOSE:
	case QB_FT_CONNECTION_CLOSE_APP: {
		uint64_t ft = t == QB_FT_CONNECTION_CLOSE ? f->close.frame_type : 0;
		if (TOO_BIG(f->close.error_code | ft))
			return 0;
		size_t n =
		        1 + VL(f->close.error_code) + VL(f->close.reason_len) + f->close.reason_len;
		return t == QB_FT_CONNECTION_CLOSE ? n + VL(ft) : n;
	}
	case QB_FT_DATAGRAM:
		return 1 + f->datagram.len;
	case QB_FT_DATAGRAM_LEN:
		return 1 + VL(f->datagram.len) + f->datagram.len;
	}
	return 0;
}

static inline uint8_t *
put_bytes(uint8_t *p, const uint8_t *src, size_t n)
{
	if (n)
		memcpy(p, src, n);
	return p + n;
}

int
qb_frame_encode(uint8_t *buf, size_t room, const struct qb_frame *f)
{
	size_t n = qb_frame_len(f);
	if (n == 0)
		return QB_ERR_ARG;
	if (n > room)
		return QB_ERR_NOBUF;
	uint8_t *p = buf;
	uint64_t t = f->type;
	if (t == QB_FT_PADDING) {
		memset(p, 0, n);
		return (int)n;
	}
	*p++ = (uint8_t)t; /* every known type is one byte (minimal, §12.4) */
	switch (t) {
	case QB_FT_ACK:
	case QB_FT_ACK_ECN:
		p = qb_varint_put(p, f->ack.largest);
		p = qb_varint_put(p, f->ack.delay);
		p = qb_varint_put(p, f->ack.range_count);
		p = qb_varint_put(p, f->ack.first_range);
		p = put_bytes(p, f->ack.ranges, f->ack.ranges_len);
		if (t == QB_FT_ACK_ECN) {
			p = qb_varint_put(p, f->ack.ect0);
			p = qb_varint_put(p, f->ack.ect1);
			p = qb_varint_put(p, f->ack.ce);
		}
		break;
	case QB_FT_RESET_STREAM:
		p = qb_varint_put(p, f->reset_stream.stream_id);
		p = qb_varint_put(p, f->reset_stream.error_code);
		p = qb_varint_put(p, f->reset_stream.final_size);
		break;
	case QB_FT_STOP_SENDING:
		p = qb_varint_put(p, f->stop_sending.stream_id);
		p = qb_varint_put(p, f->stop_sending.error_code);
		break;
	case QB_FT_CRYPTO:
		p = qb_varint_put(p, f->crypto.offset);
		p = qb_varint_put(p, f->crypto.len);
		p = put_bytes(p, f->crypto.data, f->crypto.len);
		break;
	case QB_FT_NEW_TOKEN:
		p = qb_varint_put(p, f->new_token.len);
		p = put_bytes(p, f->new_token.token, f->new_token.len);
		break;
	case 0x08:
	case 0x09:
	case 0x0a:
	case 0x0b:
	case 0x0c:
	case 0x0d:
	case 0x0e:
	case 0x0f:
		p = qb_varint_put(p, f->stream.stream_id);
		if (t & QB_STREAM_OFF)
			p = qb_varint_put(p, f->stream.offset);
		if (t & QB_STREAM_LEN)
			p = qb_varint_put(p, f->stream.len);
		p = put_bytes(p, f->stream.data, f->stream.len);
		break;
	case QB_FT_MAX_DATA:
	case QB_FT_DATA_BLOCKED:
	case QB_FT_RETIRE_CONNECTION_ID:
		p = qb_varint_put(p, f->max_data.max);
		break;
	case QB_FT_MAX_STREAMS_BIDI:
	case QB_FT_MAX_STREAMS_UNI:
	case QB_FT_STREAMS_BLOCKED_BIDI:
	case QB_FT_STREAMS_BLOCKED_UNI:
		p = qb_varint_put(p, f->max_streams.max);
		break;
	case QB_FT_MAX_STREAM_DATA:
	case QB_FT_STREAM_DATA_BLOCKED:
		p = qb_varint_put(p, f->max_stream_data.stream_id);
		p = qb_varint_put(p, f->max_stream_data.max);
		break;
	case QB_FT_NEW_CONNECTION_ID:
		p = qb_varint_put(p, f->new_cid.seq);
		p = qb_varint_put(p, f->new_cid.retire_prior_to);
		*p++ = f->new_cid.cid_len;
		p = put_bytes(p, f->new_cid.cid, f->new_cid.cid_len);
		p = put_bytes(p, f->new_cid.reset_token, QB_STATELESS_RESET_TOKEN_LEN);
		break;
	case QB_FT_PATH_CHALLENGE:
	case QB_FT_PATH_RESPONSE:
		p = put_bytes(p, f->path.data, QB_PATH_DATA_LEN);
		break;
	case QB_FT_CONNECTION_CLOSE:
	case QB_FT_CONNECTION_CLOSE_APP:
		p = qb_varint_put(p, f->close.error_code);
		if (t == QB_FT_CONNECTION_CLOSE)
			p = qb_varint_put(p, f->close.frame_type);
		p = qb_varint_put(p, f->close.reason_len);
		p = put_bytes(p, f->close.reason, f->close.reason_len);
		break;
	case QB_FT_DATAGRAM:
		p = put_bytes(p, f->datagram.data, f->datagram.len);
		break;
	case QB_FT_DATAGRAM_LEN:
		p = qb_varint_put(p, f->datagram.len);
		p = put_bytes(p, f->datagram.data, f->datagram.len);
		break;
	default: /* PING, HANDSHAKE_DONE: the type byte only */
		break;
	}
	return (int)(p - buf);
}

int
qb_frame_enc_ack(uint8_t *buf, size_t room, const struct qb_ack_range *r, size_t n,
                 uint64_t ack_delay, const uint64_t *ecn, size_t *n_done)
{
	if (n == 0 || r[0].smallest > r[0].largest || TOO_BIG(r[0].largest | ack_delay))
		return QB_ERR_ARG;
	if (ecn && TOO_BIG(ecn[0] | ecn[1] | ecn[2]))
		return QB_ERR_ARG;
	/* Fixed part, with the Range Count sized for every range. */
	size_t fixed = 1 + VL(r[0].largest) + VL(ack_delay) + VL(r[0].largest - r[0].smallest);
	if (ecn)
		fixed += VL(ecn[0]) + VL(ecn[1]) + VL(ecn[2]);
	size_t total = fixed + VL(n - 1);
	if (total > room)
		return QB_ERR_NOBUF;
	/* Add ranges while they fit (RFC 9000 §19.3.1: Gap and ACK Range Length). */
	size_t k = 1;
	for (; k < n; k++) {
		if (r[k].smallest > r[k].largest || r[k].largest + 1 >= r[k - 1].smallest)
			return QB_ERR_ARG;
		uint64_t gap = r[k - 1].smallest - r[k].largest - 2;
		size_t add = VL(gap) + VL(r[k].largest - r[k].smallest);
		if (total + add > room)
			break;
		total += add;
	}
	uint8_t *p = buf;
	*p++ = ecn ? QB_FT_ACK_ECN : QB_FT_ACK;
	p = qb_varint_put(p, r[0].largest);
	p = qb_varint_put(p, ack_delay);
	p = qb_varint_put(p, k - 1);
	p = qb_varint_put(p, r[0].largest - r[0].smallest);
	for (size_t i = 1; i < k; i++) {
		p = qb_varint_put(p, r[i - 1].smallest - r[i].largest - 2);
		p = qb_varint_put(p, r[i].largest - r[i].smallest);
	}
	if (ecn) {
		p = qb_varint_put(p, ecn[0]);
		p = qb_varint_put(p, ecn[1]);
		p = qb_varint_put(p, ecn[2]);
	}
	if (n_done)
		*n_done = k;
	return (int)(p - buf);
}

int
qb_pkt_enc_frame(struct qb_pkt_enc *e, const struct qb_frame *f)
{
	/* STREAM without LEN and DATAGRAM 0x30 run to the packet's end. */
	bool open_ended = f->type == QB_FT_DATAGRAM ||
	                  (f->type >= 0x08 && f->type <= 0x0f && !(f->type & QB_STREAM_LEN));
	int n = qb_frame_encode(qb_pkt_enc_ptr(e), qb_pkt_enc_room(e), f);
	if (n < 0)
		return n;
	/* Nothing can follow it, so not even sample padding: it must reach it. */
	if (open_ended && e->pn_len + qb_pkt_enc_payload_len(e) + (size_t)n < 4)
		return QB_ERR_ARG;
	qb_pkt_enc_advance(e, (size_t)n);
	e->closed = open_ended;
	return 0;
}

int
qb_pkt_enc_ack(struct qb_pkt_enc *e, const struct qb_ack_range *r, size_t n, uint64_t ack_delay,
               const uint64_t *ecn, size_t *n_done)
{
	int len = qb_frame_enc_ack(qb_pkt_enc_ptr(e), qb_pkt_enc_room(e), r, n, ack_delay, ecn,
	                           n_done);
	if (len < 0)
		return len;
	qb_pkt_enc_advance(e, (size_t)len);
	return 0;
}

int
qb_pkt_enc_stream_hdr(struct qb_pkt_enc *e, uint64_t stream_id, uint64_t offset, size_t len,
                      bool fin, size_t *taken)
{
	if (TOO_BIG(stream_id | offset) || len > QB_VARINT_MAX - offset || (len == 0 && !fin))
		return QB_ERR_ARG;
	size_t room = qb_pkt_enc_room(e);
	size_t id_len = VL(stream_id), off_len = offset ? VL(offset) : 0;
	size_t h0 = 1 + id_len + off_len;
	size_t len_len = VL(len);
	uint8_t type = QB_FT_STREAM | (offset ? QB_STREAM_OFF : 0);
	size_t take;
	bool close = false;
	if (h0 + len_len + len <= room) {
		/* Whole: with a Length, so frames may follow. */
		take = len;
		type |= QB_STREAM_LEN | (fin ? QB_STREAM_FIN : 0);
	} else if (room > h0 && len >= room - h0) {
		/* Fills the packet to its end: no Length needed (RFC 9000 §19.8). */
		take = room - h0;
		len_len = 0;
		close = true;
		if (fin && take == len)
			type |= QB_STREAM_FIN;
	} else {
		/* Fits without a Length but not with one: a shorter frame with one. */
		size_t a = room > h0 ? room - h0 : 0;
		if (a <= VL(a))
			return QB_ERR_NOBUF;
		take = a - VL(a);
		len_len = VL(take);
		type |= QB_STREAM_LEN;
	}
	uint8_t *p = qb_pkt_enc_ptr(e);
	*p++ = type;
	p = qb_varint_put_n(p, stream_id, id_len);
	if (off_len)
		p = qb_varint_put_n(p, offset, off_len);
	if (len_len)
		p = qb_varint_put_n(p, take, len_len);
	qb_pkt_enc_advance(e, h0 + len_len);
	/* The data runs to the packet's limit: nothing may follow it. */
	e->closed = close;
	*taken = take;
	return 0;
}

int
qb_pkt_enc_stream(struct qb_pkt_enc *e, uint64_t stream_id, uint64_t offset, const uint8_t *data,
                  size_t len, bool fin, size_t *taken)
{
	int rc = qb_pkt_enc_stream_hdr(e, stream_id, offset, len, fin, taken);
	if (rc < 0)
		return rc;
	if (*taken)
		memcpy(qb_pkt_enc_ptr(e), data, *taken);
	qb_pkt_enc_advance(e, *taken);
	return 0;
}

int
qb_pkt_enc_crypto(struct qb_pkt_enc *e, uint64_t offset, const uint8_t *data, size_t len,
                  size_t *taken)
{
	if (TOO_BIG(offset) || len > QB_VARINT_MAX - offset || len == 0)
		return QB_ERR_ARG;
	size_t room = qb_pkt_enc_room(e);
	size_t h0 = 1 + VL(offset);
	size_t take = len;
	if (h0 + VL(len) + len > room) {
		size_t a = room > h0 ? room - h0 : 0;
		if (a <= VL(a))
			return QB_ERR_NOBUF;
		take = a - VL(a);
	}
	uint8_t *p = qb_pkt_enc_ptr(e);
	*p++ = QB_FT_CRYPTO;
	p = qb_varint_put(p, offset);
	p = qb_varint_put(p, take);
	memcpy(p, data, take);
	p += take;
	qb_pkt_enc_advance(e, (size_t)(p - qb_pkt_enc_ptr(e)));
	*taken = take;
	return 0;
}

int
qb_pkt_enc_datagram(struct qb_pkt_enc *e, const uint8_t *data, size_t len)
{
	size_t n = 1 + VL(len) + len;
	if (n > qb_pkt_enc_room(e))
		return QB_ERR_NOBUF;
	uint8_t *p = qb_pkt_enc_ptr(e);
	*p++ = QB_FT_DATAGRAM_LEN;
	p = qb_varint_put(p, len);
	if (len)
		memcpy(p, data, len);
	qb_pkt_enc_advance(e, n);
	return 0;
}
