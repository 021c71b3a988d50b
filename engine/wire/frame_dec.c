/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frame decoding (RFC 9000 §19, RFC 9221 §4) and the per-packet-type frame
 * check (RFC 9000 §12.4). Every read is checked against the payload's end;
 * data fields point into the packet.
 */
#include <string.h>

#include "qburst/frame.h"

#define GET(v)                                        \
	do {                                          \
		if (qb_varint_get(&p, end, &(v)) < 0) \
			goto truncated;               \
	} while (0)

/* Validates the Gap/Range pairs of an ACK frame (RFC 9000 §19.3.1). */
static int
ack_ranges_check(const uint8_t **pp, const uint8_t *end, struct qb_frame_ack *a)
{
	const uint8_t *p = *pp;
	uint64_t smallest = a->largest - a->first_range;
	/* Each pair takes at least 2 bytes: a count beyond that is truncation. */
	if (a->range_count > (uint64_t)(end - p) / 2)
		return QB_ERR_TRUNCATED;
	a->ranges = p;
	for (uint64_t i = 0; i < a->range_count; i++) {
		uint64_t gap, len;
		if (qb_varint_get(&p, end, &gap) < 0 || qb_varint_get(&p, end, &len) < 0)
			return QB_ERR_TRUNCATED;
		/* next largest = smallest - gap - 2; next smallest = that - len. */
		if (smallest < gap + 2 || smallest - gap - 2 < len)
			return QB_ERR_INVALID;
		smallest = smallest - gap - 2 - len;
	}
	a->ranges_len = (size_t)(p - a->ranges);
	a->smallest = smallest;
	*pp = p;
	return 0;
}

size_t
qb_ack_ranges(const struct qb_frame_ack *a, struct qb_ack_range *out, size_t max)
{
	if (max == 0)
		return 0;
	const uint8_t *p = a->ranges, *end = a->ranges + a->ranges_len;
	out[0].largest = a->largest;
	out[0].smallest = a->largest - a->first_range;
	size_t n = 1;
	/* The pairs were validated by the decoder: no underflow, no truncation. */
	for (uint64_t i = 0; i < a->range_count && n < max; i++, n++) {
		uint64_t gap = 0, len = 0;
		qb_varint_get(&p, end, &gap);
		qb_varint_get(&p, end, &len);
		out[n].largest = out[n - 1].smallest - gap - 2;
		out[n].smallest = out[n].largest - len;
	}
	return n;
}

int
qb_frame_decode(const uint8_t *buf, size_t len, struct qb_frame *f, uint64_t *terr)
{
	const uint8_t *p = buf, *end = buf + len;
	uint64_t t, v;
	int rc;

	*terr = QB_TE_FRAME_ENCODING_ERROR;
	if (len == 0)
		return QB_ERR_TRUNCATED;
	/* Every frame type we know fits in one byte; longer is unknown or non-minimal. */
	if (p[0] < 0x40) {
		t = *p++;
	} else {
		GET(t);
		f->type = t;
		if (qb_varint_len(t) != (size_t)(p - buf)) {
			*terr = QB_TE_PROTOCOL_VIOLATION; /* RFC 9000 §12.4 */
			return QB_ERR_PROTO;
		}
		return QB_ERR_INVALID; /* unknown frame type */
	}
	f->type = t;

	switch (t) {
	case QB_FT_PADDING:
		while (p < end && *p == 0)
			p++;
		f->padding.len = (size_t)(p - buf);
		break;
	case QB_FT_PING:
	case QB_FT_HANDSHAKE_DONE:
		break;
	case QB_FT_ACK:
	case QB_FT_ACK_ECN: {
		struct qb_frame_ack *a = &f->ack;
		GET(a->largest);
		GET(a->delay);
		GET(a->range_count);
		GET(a->first_range);
		if (a->first_range > a->largest)
			goto invalid;
		rc = ack_ranges_check(&p, end, a);
		if (rc == QB_ERR_TRUNCATED)
			goto truncated;
		if (rc < 0)
			goto invalid;
		a->ecn = t == QB_FT_ACK_ECN;
		a->ect0 = a->ect1 = a->ce = 0;
		if (a->ecn) {
			GET(a->ect0);
			GET(a->ect1);
			GET(a->ce);
		}
		break;
	}
	case QB_FT_RESET_STREAM:
		GET(f->reset_stream.stream_id);
		GET(f->reset_stream.error_code);
		GET(f->reset_stream.final_size);
		break;
	case QB_FT_STOP_SENDING:
		GET(f->stop_sending.stream_id);
		GET(f->stop_sending.error_code);
		break;
	case QB_FT_CRYPTO:
		GET(f->crypto.offset);
		GET(v);
		if (v > (uint64_t)(end - p))
			goto truncated;
		/* RFC 9000 §19.6: offset + length cannot exceed 2^62-1. */
		if (v > QB_VARINT_MAX - f->crypto.offset)
			goto invalid;
		f->crypto.data = p;
		f->crypto.len = (size_t)v;
		p += v;
		break;
	case QB_FT_NEW_TOKEN:
		GET(v);
		if (v > (uint64_t)(end - p))
			goto truncated;
		if (v == 0)
			goto invalid; /* RFC 9000 §19.7 */
		f->new_token.token = p;
		f->new_token.len = (size_t)v;
		p += v;
		break;
	case 0x08:
	case 0x09:
	case 0x0a:
	case 0x0b:
	case 0x0c:
	case 0x0d:
	case 0x0e:
	case 0x0f:
		GET(f->stream.stream_id);
		f->stream.offset = 0;
		if (t & QB_STREAM_OFF)
			GET(f->stream.offset);
		if (t & QB_STREAM_LEN) {
			GET(v);
			if (v > (uint64_t)(end - p))
				goto truncated;
		} else {
			v = (uint64_t)(end - p); /* to the end of the packet */
		}
		/* RFC 9000 §19.8: offset + length cannot exceed 2^62-1. */
		if (v > QB_VARINT_MAX - f->stream.offset)
			goto invalid;
		f->stream.data = p;
		f->stream.len = (size_t)v;
		f->stream.fin = (t & QB_STREAM_FIN) != 0;
		p += v;
		break;
	case QB_FT_MAX_DATA:
		GET(f->max_data.max);
		break;
	case QB_FT_MAX_STREAM_DATA:
		GET(f->max_stream_data.stream_id);
		GET(f->max_stream_data.max);
		break;
	case QB_FT_MAX_STREAMS_BIDI:
	case QB_FT_MAX_STREAMS_UNI:
		GET(f->max_streams.max);
		if (f->max_streams.max > QB_MAX_STREAMS_LIMIT)
			goto invalid; /* RFC 9000 §19.11 */
		break;
	case QB_FT_DATA_BLOCKED:
		GET(f->data_blocked.limit);
		break;
	case QB_FT_STREAM_DATA_BLOCKED:
		GET(f->stream_data_blocked.stream_id);
		GET(f->stream_data_blocked.limit);
		break;
	case QB_FT_STREAMS_BLOCKED_BIDI:
	case QB_FT_STREAMS_BLOCKED_UNI:
		GET(f->streams_blocked.limit);
		if (f->streams_blocked.limit > QB_MAX_STREAMS_LIMIT)
			goto invalid; /* RFC 9000 §19.14 */
		break;
	case QB_FT_NEW_CONNECTION_ID:
		GET(f->new_cid.seq);
		GET(f->new_cid.retire_prior_to);
		if (p >= end)
			goto truncated;
		f->new_cid.cid_len = *p++;
		if ((size_t)(end - p) < (size_t)f->new_cid.cid_len + QB_STATELESS_RESET_TOKEN_LEN)
			goto truncated;
		/* RFC 9000 §19.15: length 1..20, retire_prior_to <= seq. */
		if (f->new_cid.cid_len < 1 || f->new_cid.cid_len > QB_MAX_CID_LEN ||
		    f->new_cid.retire_prior_to > f->new_cid.seq)
			goto invalid;
		f->new_cid.cid = p;
		p += f->new_cid.cid_len;
		f->new_cid.reset_token = p;
		p += QB_STATELESS_RESET_TOKEN_LEN;
		break;
	case QB_FT_RETIRE_CONNECTION_ID:
		GET(f->retire_cid.seq);
		break;
	case QB_FT_PATH_CHALLENGE:
	case QB_FT_PATH_RESPONSE:
		if ((size_t)(end - p) < QB_PATH_DATA_LEN)
			goto truncated;
		f->path.data = p;
		p += QB_PATH_DATA_LEN;
		break;
	case QB_FT_CONNECTION_CLOSE:
	case QB_FT_CONNECTION_CLOSE_APP:
		GET(f->close.error_code);
		f->close.frame_type = 0;
		if (t == QB_FT_CONNECTION_CLOSE)
			GET(f->close.frame_type);
		GET(v);
		if (v > (uint64_t)(end - p))
			goto truncated;
		f->close.reason = p;
		f->close.reason_len = (size_t)v;
		p += v;
		break;
	case QB_FT_DATAGRAM:
		f->datagram.data = p;
		f->datagram.len = (size_t)(end - p);
		p = end;
		break;
	case QB_FT_DATAGRAM_LEN:
		GET(v);
		if (v > (uint64_t)(end - p))
			goto truncated;
		f->datagram.data = p;
		f->datagram.len = (size_t)v;
		p += v;
		break;
	default:
		goto invalid; /* RFC 9000 §12.4: unknown type */
	}
	*terr = QB_TE_NO_ERROR;
	return (int)(p - buf);

truncated:
	return QB_ERR_TRUNCATED;
invalid:
	return QB_ERR_INVALID;
}

/*
 * RFC 9000 §12.4 Table 3 as bit masks over packet types: I(nitial),
 * 0(-RTT), H(andshake), 1(-RTT).
 */
#define I     (1u << QB_PKT_INITIAL)
#define Z     (1u << QB_PKT_0RTT)
#define H     (1u << QB_PKT_HANDSHAKE)
#define O     (1u << QB_PKT_1RTT)
#define KNOWN 0x8000u

static const uint16_t allowed[0x20] = {
        [QB_FT_PADDING] = KNOWN | I | H | Z | O,
        [QB_FT_PING] = KNOWN | I | H | Z | O,
        [QB_FT_ACK] = KNOWN | I | H | O,
        [QB_FT_ACK_ECN] = KNOWN | I | H | O,
        [QB_FT_RESET_STREAM] = KNOWN | Z | O,
        [QB_FT_STOP_SENDING] = KNOWN | Z | O,
        [QB_FT_CRYPTO] = KNOWN | I | H | O,
        [QB_FT_NEW_TOKEN] = KNOWN | O,
        [0x08] = KNOWN | Z | O,
        [0x09] = KNOWN | Z | O,
        [0x0a] = KNOWN | Z | O,
        [0x0b] = KNOWN | Z | O,
        [0x0c] = KNOWN | Z | O,
        [0x0d] = KNOWN | Z | O,
        [0x0e] = KNOWN | Z | O,
        [0x0f] = KNOWN | Z | O,
        [QB_FT_MAX_DATA] = KNOWN | Z | O,
        [QB_FT_MAX_STREAM_DATA] = KNOWN | Z | O,
        [QB_FT_MAX_STREAMS_BIDI] = KNOWN | Z | O,
        [QB_FT_MAX_STREAMS_UNI] = KNOWN | Z | O,
        [QB_FT_DATA_BLOCKED] = KNOWN | Z | O,
        [QB_FT_STREAM_DATA_BLOCKED] = KNOWN | Z | O,
        [QB_FT_STREAMS_BLOCKED_BIDI] = KNOWN | Z | O,
        [QB_FT_STREAMS_BLOCKED_UNI] = KNOWN | Z | O,
        [QB_FT_NEW_CONNECTION_ID] = KNOWN | Z | O,
        [QB_FT_RETIRE_CONNECTION_ID] = KNOWN | Z | O,
        [QB_FT_PATH_CHALLENGE] = KNOWN | Z | O,
        [QB_FT_PATH_RESPONSE] = KNOWN | O,
        /* "ih": only the transport CONNECTION_CLOSE in Initial/Handshake. */
        [QB_FT_CONNECTION_CLOSE] = KNOWN | I | H | Z | O,
        [QB_FT_CONNECTION_CLOSE_APP] = KNOWN | Z | O,
        [QB_FT_HANDSHAKE_DONE] = KNOWN | O,
};

uint64_t
qb_frame_check(uint64_t type, enum qb_pkt_type pt, bool from_server)
{
	unsigned mask;
	if (type < 0x20)
		mask = allowed[type];
	else if (type == QB_FT_DATAGRAM || type == QB_FT_DATAGRAM_LEN)
		mask = KNOWN | Z | O; /* RFC 9221 §4 */
	else
		mask = 0;
	if (!(mask & KNOWN))
		return QB_TE_FRAME_ENCODING_ERROR;
	if ((unsigned)pt > QB_PKT_1RTT || !(mask & (1u << pt)))
		return QB_TE_PROTOCOL_VIOLATION;
	/* RFC 9000 §19.7, §19.20: only servers send NEW_TOKEN and HANDSHAKE_DONE. */
	if (!from_server && (type == QB_FT_NEW_TOKEN || type == QB_FT_HANDSHAKE_DONE))
		return QB_TE_PROTOCOL_VIOLATION;
	return QB_TE_NO_ERROR;
}
