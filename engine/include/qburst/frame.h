/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QBURST_FRAME_H
#define QBURST_FRAME_H

/*
 * QUIC frames (RFC 9000 §19) and DATAGRAM (RFC 9221 §4): a decoded-frame
 * struct whose data pointers point into the packet (no copies), a generic
 * encoder and decoder, and the per-packet encoders the burst assembler uses
 * (STREAM, CRYPTO, ACK, DATAGRAM) that write through a struct qb_pkt_enc and
 * fit what they can into its room.
 *
 * Errors: encoders return QB_ERR_NOBUF (nothing written) when the frame does
 * not fit, QB_ERR_ARG for a value the wire cannot carry. qb_frame_decode()
 * returns a negative qb_err and sets the QUIC transport error code to close
 * the connection with (enum qb_transport_error).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "qburst/packet.h"
#include "qburst/varint.h"
#include "qburst/wire_common.h"

enum qb_frame_type {
	QB_FT_PADDING = 0x00,
	QB_FT_PING = 0x01,
	QB_FT_ACK = 0x02,
	QB_FT_ACK_ECN = 0x03,
	QB_FT_RESET_STREAM = 0x04,
	QB_FT_STOP_SENDING = 0x05,
	QB_FT_CRYPTO = 0x06,
	QB_FT_NEW_TOKEN = 0x07,
	QB_FT_STREAM = 0x08, /* 0x08-0x0f: | QB_STREAM_OFF | QB_STREAM_LEN | QB_STREAM_FIN */
	QB_FT_MAX_DATA = 0x10,
	QB_FT_MAX_STREAM_DATA = 0x11,
	QB_FT_MAX_STREAMS_BIDI = 0x12,
	QB_FT_MAX_STREAMS_UNI = 0x13,
	QB_FT_DATA_BLOCKED = 0x14,
	QB_FT_STREAM_DATA_BLOCKED = 0x15,
	QB_FT_STREAMS_BLOCKED_BIDI = 0x16,
	QB_FT_STREAMS_BLOCKED_UNI = 0x17,
	QB_FT_NEW_CONNECTION_ID = 0x18,
	QB_FT_RETIRE_CONNECTION_ID = 0x19,
	QB_FT_PATH_CHALLENGE = 0x1a,
	QB_FT_PATH_RESPONSE = 0x1b,
	QB_FT_CONNECTION_CLOSE = 0x1c,     /* transport error */
	QB_FT_CONNECTION_CLOSE_APP = 0x1d, /* application error */
	QB_FT_HANDSHAKE_DONE = 0x1e,
	QB_FT_DATAGRAM = 0x30,     /* RFC 9221: data to the packet end */
	QB_FT_DATAGRAM_LEN = 0x31, /* RFC 9221: with a Length */
};

/* STREAM type bits (RFC 9000 §19.8). */
#define QB_STREAM_FIN 0x01
#define QB_STREAM_LEN 0x02
#define QB_STREAM_OFF 0x04

/* MAX_STREAMS and STREAMS_BLOCKED cannot exceed 2^60 (RFC 9000 §19.11, §19.14). */
#define QB_MAX_STREAMS_LIMIT (UINT64_C(1) << 60)

/* One ACK range, inclusive packet numbers. */
struct qb_ack_range {
	uint64_t smallest;
	uint64_t largest;
};

/* A decoded ACK frame; the Gap/Range pairs stay in the packet (validated). */
struct qb_frame_ack {
	uint64_t largest;      /* Largest Acknowledged */
	uint64_t delay;        /* ACK Delay as sent: scale by 2^ack_delay_exponent */
	uint64_t first_range;  /* First ACK Range */
	uint64_t range_count;  /* ACK Range Count: ranges after the first */
	uint64_t smallest;     /* smallest packet number acknowledged by the frame */
	const uint8_t *ranges; /* raw Gap/ACK Range pairs */
	size_t ranges_len;     /* bytes */
	bool ecn;              /* type 0x03: the counts below are present */
	uint64_t ect0, ect1, ce;
};

/*
 * A decoded frame. type is the frame type as on the wire (STREAM keeps its
 * OFF/LEN/FIN bits; MAX_STREAMS, STREAMS_BLOCKED and CONNECTION_CLOSE say
 * bidi/uni and transport/app by type). Pointers point into the packet.
 */
struct qb_frame {
	uint64_t type;
	union {
		struct {
			size_t len; /* consecutive PADDING bytes consumed as one frame */
		} padding;
		struct qb_frame_ack ack;
		struct {
			uint64_t stream_id, error_code, final_size;
		} reset_stream;
		struct {
			uint64_t stream_id, error_code;
		} stop_sending;
		struct {
			uint64_t offset;
			const uint8_t *data;
			size_t len;
		} crypto;
		struct {
			const uint8_t *token;
			size_t len; /* >= 1 */
		} new_token;
		struct {
			uint64_t stream_id, offset;
			const uint8_t *data;
			size_t len;
			bool fin;
		} stream;
		struct {
			uint64_t max;
		} max_data;
		struct {
			uint64_t stream_id, max;
		} max_stream_data;
		struct {
			uint64_t max; /* <= 2^60 */
		} max_streams;
		struct {
			uint64_t limit;
		} data_blocked;
		struct {
			uint64_t stream_id, limit;
		} stream_data_blocked;
		struct {
			uint64_t limit; /* <= 2^60 */
		} streams_blocked;
		struct {
			uint64_t seq, retire_prior_to;
			const uint8_t *cid;
			uint8_t cid_len;            /* 1..20 */
			const uint8_t *reset_token; /* 16 bytes */
		} new_cid;
		struct {
			uint64_t seq;
		} retire_cid;
		struct {
			const uint8_t *data; /* 8 bytes */
		} path;                      /* PATH_CHALLENGE, PATH_RESPONSE */
		struct {
			uint64_t error_code;
			uint64_t frame_type; /* 0x1c only */
			const uint8_t *reason;
			size_t reason_len;
		} close;
		struct {
			const uint8_t *data;
			size_t len;
		} datagram;
	};
};

/*
 * Decodes one frame at p (len > 0 bytes to the end of the packet payload).
 * Returns the bytes consumed (> 0), or a negative qb_err with *terr set:
 * QB_ERR_TRUNCATED / QB_ERR_INVALID with FRAME_ENCODING_ERROR (truncated,
 * unknown type, value out of range: stream offset + length > 2^62-1, MAX_STREAMS
 * or STREAMS_BLOCKED > 2^60, NEW_CONNECTION_ID length 0 or > 20 or
 * retire_prior_to > seq, empty NEW_TOKEN, ACK range below 0), QB_ERR_PROTO with
 * PROTOCOL_VIOLATION (a frame type not minimally encoded, RFC 9000 §12.4).
 * f->type is set as soon as it is read (for CONNECTION_CLOSE's frame_type).
 * Runs of PADDING are consumed as one frame.
 */
int qb_frame_decode(const uint8_t *p, size_t len, struct qb_frame *f, uint64_t *terr);

/*
 * The ACK ranges of a decoded ACK frame into out[0..max), largest first.
 * Returns the number written: min(max, range_count + 1).
 */
size_t qb_ack_ranges(const struct qb_frame_ack *a, struct qb_ack_range *out, size_t max);

/*
 * Checks that a frame of this type may arrive in a packet of type pt (RFC 9000
 * §12.4 Table 3, §17.2.3 for 0-RTT) from a peer of the given role
 * (NEW_TOKEN and HANDSHAKE_DONE only from a server, §19.7, §19.20). Returns
 * QB_TE_NO_ERROR (0), QB_TE_PROTOCOL_VIOLATION, or QB_TE_FRAME_ENCODING_ERROR
 * for an unknown type.
 */
uint64_t qb_frame_check(uint64_t type, enum qb_pkt_type pt, bool from_server);

/* Frames other than PADDING, ACK and CONNECTION_CLOSE elicit an ACK (RFC 9002 §2). */
static inline bool
qb_frame_ack_eliciting(uint64_t type)
{
	return type != QB_FT_PADDING && type != QB_FT_ACK && type != QB_FT_ACK_ECN &&
	       type != QB_FT_CONNECTION_CLOSE && type != QB_FT_CONNECTION_CLOSE_APP;
}

/* Probing frames (RFC 9000 §9.1): PADDING, NEW_CONNECTION_ID, PATH_CHALLENGE/RESPONSE. */
static inline bool
qb_frame_probing(uint64_t type)
{
	return type == QB_FT_PADDING || type == QB_FT_NEW_CONNECTION_ID ||
	       type == QB_FT_PATH_CHALLENGE || type == QB_FT_PATH_RESPONSE;
}

/*
 * Encoded size of f (as qb_frame_encode() would write it), or 0 if a value
 * cannot be encoded. PADDING's size is padding.len.
 */
size_t qb_frame_len(const struct qb_frame *f);

/*
 * Encodes f at p (room bytes). STREAM uses f->type's OFF/LEN/FIN bits as given
 * (without LEN the data must end the packet); ACK copies the raw ranges of a
 * decoded frame (use qb_frame_enc_ack() to encode from a range list).
 * Returns the bytes written, QB_ERR_NOBUF or QB_ERR_ARG.
 */
int qb_frame_encode(uint8_t *p, size_t room, const struct qb_frame *f);

/*
 * Encodes an ACK frame from ranges r[0..n) (largest first, each disjoint and
 * not adjacent to the next: r[i+1].largest + 1 < r[i].smallest), ack_delay
 * already scaled down by the exponent, ECN counts ecn[3] (ECT0, ECT1, CE) or
 * NULL for type 0x02. As many ranges as fit are written (the oldest are
 * dropped); *n_done (if not NULL) gets their number. Returns the bytes written,
 * QB_ERR_NOBUF (not even the first range fits) or QB_ERR_ARG.
 */
int qb_frame_enc_ack(uint8_t *p, size_t room, const struct qb_ack_range *r, size_t n,
                     uint64_t ack_delay, const uint64_t *ecn, size_t *n_done);

/* ---- Writing frames into the open packet of a packet encoder -------------- */

/*
 * Appends f (qb_frame_encode()); 0, QB_ERR_NOBUF or QB_ERR_ARG. A frame that
 * runs to the packet's end (STREAM without LEN, DATAGRAM 0x30) closes the
 * packet to further frames and padding; it is refused (QB_ERR_ARG) if the
 * packet would then be too short for the header-protection sample.
 */
int qb_pkt_enc_frame(struct qb_pkt_enc *e, const struct qb_frame *f);

/* Appends an ACK frame (qb_frame_enc_ack()); returns 0 or the error. */
int qb_pkt_enc_ack(struct qb_pkt_enc *e, const struct qb_ack_range *r, size_t n, uint64_t ack_delay,
                   const uint64_t *ecn, size_t *n_done);

/*
 * Writes a STREAM frame header for up to len bytes of stream_id at offset,
 * choosing the shortest form: with a Length when the data fits whole, without
 * one when the data fills the packet to its end (the packet is then closed to
 * further frames). FIN is set only if fin and all len bytes fit. *taken gets
 * the data bytes the frame carries: the caller writes exactly that many at
 * qb_pkt_enc_ptr() and calls qb_pkt_enc_advance(). len 0 with fin is a FIN-only
 * frame. Returns 0, QB_ERR_NOBUF (not one byte fits), QB_ERR_ARG (a value
 * above 2^62-1, or len 0 without fin).
 */
int qb_pkt_enc_stream_hdr(struct qb_pkt_enc *e, uint64_t stream_id, uint64_t offset, size_t len,
                          bool fin, size_t *taken);

/* qb_pkt_enc_stream_hdr() plus the copy of data's first *taken bytes. */
int qb_pkt_enc_stream(struct qb_pkt_enc *e, uint64_t stream_id, uint64_t offset,
                      const uint8_t *data, size_t len, bool fin, size_t *taken);

/*
 * The last frame of a data packet, and the packet's end, in one call (the
 * 1-RTT fast path: begin_short, optional ACK, this, then seal with
 * qb_crypto_protect_from() straight from the send buffer). Writes a STREAM
 * frame header for up to len bytes of stream_id at offset and reserves the
 * *taken data bytes after it, WITHOUT writing them: the data is always the
 * last *taken bytes of the payload, so the caller either copies them there
 * or seals them from its buffer with head_len = info->payload_len - *taken.
 * Then finishes the packet as qb_pkt_enc_finish() does (tag room, *info).
 *
 * The frame never carries a Length: it is the packet's last, so it runs to
 * the packet's end, which comes right after the data (RFC 9000 §19.8);
 * shorter data makes a shorter packet. When the packet would be too short
 * for the header-protection sample (RFC 9001 §5.4.2), PADDING frames
 * (RFC 9000 §19.1) go before the STREAM frame. FIN is set when fin and all
 * len bytes fit. len 0 with fin is a FIN-only frame.
 *
 * Returns 0; QB_ERR_STATE (no open packet, or a frame already closed it);
 * QB_ERR_ARG (a value above 2^62-1, or len 0 without fin); QB_ERR_NOBUF
 * (not one data byte fits; the packet stays open and unchanged).
 */
int qb_pkt_enc_stream_final(struct qb_pkt_enc *e, uint64_t stream_id, uint64_t offset, size_t len,
                            bool fin, size_t *taken, struct qb_pkt_layout *info);

/*
 * The common 1-RTT data packet, whole, in one call: exactly
 * qb_pkt_enc_begin_short() followed by qb_pkt_enc_stream_final() (same
 * bytes, same *taken and *info, same encoder state after, same errors in
 * the same order), without the intermediate stores and checks: for a
 * packet with no frame before its STREAM frame (no ACK; use the two calls
 * for one). The data is not written: it is the last *taken bytes of the
 * payload (see qb_pkt_enc_stream_final). On error nothing is written and
 * the encoder is unchanged.
 */
int qb_pkt_enc_short_stream(struct qb_pkt_enc *e, const uint8_t *dcid, size_t dcid_len, bool spin,
                            bool key_phase, uint64_t pn, size_t pn_len, uint64_t stream_id,
                            uint64_t offset, size_t len, bool fin, size_t *taken,
                            struct qb_pkt_layout *info);

/*
 * A path's 1-RTT short header, prepared once (RFC 9000 §17.3.1): the first
 * byte (spin and key-phase bits; the pn length is added per packet) and the
 * DCID, for qb_pkt_enc_short_stream_tmpl. Rebuild it when the DCID, the spin
 * bit or the key phase changes. Fields private.
 */
struct qb_pkt_short_tmpl {
	uint8_t hdr[24]; /* first byte, DCID, zeros */
	uint8_t dcid_len;
};

/* The smallest buffer qb_pkt_enc_short_stream_tmpl writes into (bytes). */
#define QB_PKT_SHORT_TMPL_MIN_CAP 64

/* Fills t for dcid (dcid_len <= 20 bytes, copied). 0 or QB_ERR_ARG. */
int qb_pkt_short_tmpl_init(struct qb_pkt_short_tmpl *t, const uint8_t *dcid, size_t dcid_len,
                           bool spin, bool key_phase);

/* RFC 9001 §5.4.2: pn + frames >= 4 so the sample fits (with the 16-byte tag). */
#define QB_PKT_MIN_PN_AND_FRAMES_ (QB_HP_SAMPLE_OFFSET + QB_HP_SAMPLE_LEN - QB_AEAD_TAG_LEN)

/* log2 of the minimal varint length of v <= QB_VARINT_MAX (RFC 9000 §16). */
static inline unsigned int
qb_varint_lg_(uint64_t v)
{
	return v < 64 ? 0 : v < 16384 ? 1 : v < 1073741824 ? 2 : 3;
}

/*
 * The varint of v in 1 << lg bytes (RFC 9000 §16) as they lie in memory,
 * in the low bytes of the result (little-endian order), the rest zero.
 */
static inline uint64_t
qb_varint_mem_(uint64_t v, unsigned int lg)
{
	unsigned int bits = 8u << lg;

	return __builtin_bswap64((v | (uint64_t)lg << (bits - 2)) << (64 - bits));
}

/*
 * Stores the 16 bytes lo (first 8 in memory), hi at p with one store where
 * the target has one: a load of any part of them right after is forwarded
 * from that store, while a load spanning several smaller stores still in
 * flight waits for all of them to reach the cache.
 */
static inline void
qb_store16_(uint8_t *p, uint64_t lo, uint64_t hi)
{
#ifdef __SSE2__
	_mm_storeu_si128((__m128i *)(void *)p, _mm_set_epi64x((long long)hi, (long long)lo));
#else
	memcpy(p, &lo, 8);
	memcpy(p + 8, &hi, 8);
#endif
}

/*
 * The build-rate fast path of qb_pkt_enc_short_stream(): the same packet at
 * the start of buf (cap bytes, at least QB_PKT_SHORT_TMPL_MIN_CAP), with the
 * header from t, and no encoder: the same header and STREAM frame header
 * bytes, *taken and *info (may be NULL) as qb_pkt_enc_short_stream() on a
 * fresh encoder over buf, and the same errors (QB_ERR_ARG, QB_ERR_NOBUF;
 * also QB_ERR_NOBUF when cap < QB_PKT_SHORT_TMPL_MIN_CAP). Unlike it, the
 * tag room is not zeroed (the seal writes it) and bytes of buf past the
 * frame header may be overwritten with scratch (the data and tag go there).
 * Returns the packet's length, tag included (info->len). Inline: it is
 * small, and a call with the layout passed through memory cost ~4 ns per
 * packet (a quarter of the engine's share) in the build-rate bench.
 */
static inline int
qb_pkt_enc_short_stream_tmpl(const struct qb_pkt_short_tmpl *t, uint8_t *buf, size_t cap,
                             uint64_t pn, size_t pn_len, uint64_t stream_id, uint64_t offset,
                             size_t len, bool fin, size_t *taken, struct qb_pkt_layout *info)
{
	size_t pn_off = (size_t)t->dcid_len + 1, hdr = pn_off + pn_len, h0, room, take, id_len;
	/* As a word: a bool spilled as one byte and read back as four waits
	 * for the store to reach the cache (perf: ~2 ns per packet). */
	const uint64_t fin_bit = fin ? QB_STREAM_FIN : 0;
	unsigned int id_lg, off_lg;
	uint8_t *f, *p;
	uint64_t x, type;

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
	id_lg = qb_varint_lg_(stream_id);
	off_lg = offset ? qb_varint_lg_(offset) : 0;
	id_len = (size_t)1 << id_lg;
	h0 = 1 + id_len + (offset ? (size_t)1 << off_lg : 0);
	room = cap - QB_AEAD_TAG_LEN - hdr; /* cap >= 64 > hdr + tag */
	if (room < h0 || (room == h0 && len != 0))
		return QB_ERR_NOBUF;
	take = len < room - h0 ? len : room - h0;
	type = (uint64_t)(QB_FT_STREAM | (offset ? QB_STREAM_OFF : 0)) |
	       (take == len ? fin_bit : 0);
	f = buf + hdr;
	p = f + h0;
	if (__builtin_expect(h0 <= 16, 1)) {
		/*
		 * Type, id and offset in one 16-byte store (the bytes past
		 * h0 are scratch): qb_crypto_protect_gap reads them back at
		 * once, and such a load waits for several small stores to
		 * reach the cache (perf: ~2 ns per packet) but is forwarded
		 * from one.
		 */
		uint64_t id = qb_varint_mem_(stream_id, id_lg), lo, hi;
		uint64_t o = offset ? qb_varint_mem_(offset, off_lg) : 0;
		unsigned int sh =
		        8 * (1 + (unsigned int)id_len); /* offset's bit position: 16..72 */

		lo = type | id << 8 | (sh < 64 ? o << sh : 0);
		hi = id >> 56 | (sh < 64 ? (sh > 0 ? o >> (64 - sh) : 0) : o << (sh - 64));
		qb_store16_(f, lo, hi);
	} else {
		uint64_t w = qb_varint_mem_(stream_id, id_lg);

		f[0] = (uint8_t)type;
		memcpy(f + 1, &w, 8);
		w = qb_varint_mem_(offset, off_lg);
		memcpy(f + 1 + id_len, &w, 8);
	}
	if (__builtin_expect(pn_len + h0 + take < QB_PKT_MIN_PN_AND_FRAMES_, 0)) {
		/* PADDING frames (RFC 9000 §19.1) before the frame so the sample fits. */
		size_t pad = QB_PKT_MIN_PN_AND_FRAMES_ - (pn_len + h0 + take);

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

/*
 * A CRYPTO frame with as much of data (len > 0 bytes at offset) as fits;
 * *taken gets the bytes carried. 0, QB_ERR_NOBUF or QB_ERR_ARG.
 */
int qb_pkt_enc_crypto(struct qb_pkt_enc *e, uint64_t offset, const uint8_t *data, size_t len,
                      size_t *taken);

/* A DATAGRAM frame (type 0x31) carrying all of data, or QB_ERR_NOBUF. */
int qb_pkt_enc_datagram(struct qb_pkt_enc *e, const uint8_t *data, size_t len);

#endif
