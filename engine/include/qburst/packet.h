/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QBURST_PACKET_H
#define QBURST_PACKET_H

/*
 * QUIC packet headers (RFC 8999, RFC 9000 §17, RFC 9369 §3): parsing of the
 * coalesced packets of one datagram before header protection is removed, and
 * a checked encoder (a cursor over the caller's datagram buffer) that writes
 * packets for the crypto layer to seal in place.
 *
 * Offsets are in bytes. Nothing here allocates or copies: parsed pointers
 * point into the caller's datagram.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qburst/varint.h"
#include "qburst/wire_common.h"

/* qb_pkt_parse() flags. */
#define QB_PARSE_GREASE_OK 0x1 /* fixed bit may be 0: grease_quic_bit sent (RFC 9287) */

/* One packet of a datagram, as visible before header protection removal. */
struct qb_pkt_hdr {
	uint8_t type;     /* enum qb_pkt_type */
	uint8_t first;    /* first byte as received (low bits still protected) */
	uint8_t dcid_len; /* bytes; <= 20 for v1/v2, <= 255 for VN/unknown */
	uint8_t scid_len; /* bytes; 0 for a short header */
	bool spin;        /* short header: the spin bit (not protected) */
	uint32_t version; /* 0 for a short header and for VN */
	const uint8_t *dcid;
	const uint8_t *scid;
	const uint8_t *token; /* Initial: token (may be empty); Retry: retry token */
	size_t token_len;
	const uint8_t *retry_tag; /* Retry: the 16-byte integrity tag */
	const uint8_t *versions;  /* VN: the supported versions, 4 bytes each */
	size_t versions_len;      /* VN: bytes (a multiple of 4) */
	size_t offset;            /* first byte of the packet in the datagram */
	size_t pn_offset;         /* pn field, from the packet start (0 if none) */
	size_t len;               /* packet bytes, header to the AEAD tag inclusive */
	size_t end;               /* offset + len: where the next packet starts */
};

/*
 * Parses the packet starting at dgram[offset] (the datagram is len bytes).
 * short_dcid_len is the length of the connection IDs we issue (a short header
 * does not carry its DCID length). A long header's Length bounds the packet;
 * short headers, Retry, VN and unknown versions take the rest of the datagram.
 * Protected packets (Initial, 0-RTT, Handshake, 1-RTT) must be long enough for
 * the header-protection sample (RFC 9001 §5.4.2).
 *
 * Returns 0 with *h filled, QB_ERR_TRUNCATED when a field runs past the end,
 * QB_ERR_INVALID when a field is malformed (CID > 20 bytes in v1/v2, fixed
 * bit 0 without QB_PARSE_GREASE_OK, empty Retry token, VN list not a multiple
 * of 4, packet too short for the HP sample). Never reads out of bounds.
 */
int qb_pkt_parse(const uint8_t *dgram, size_t len, size_t offset, size_t short_dcid_len,
                 unsigned flags, struct qb_pkt_hdr *h);

/*
 * Walks the coalesced packets of a datagram (RFC 9000 §12.2) into h[0..max).
 * Packets after the first whose DCID differs from the first one's are ignored
 * (§12.2 SHOULD), as is anything after max packets. Returns the number of
 * packets parsed (>= 1), or the error of the first packet if it fails to
 * parse; a later malformed packet ends the walk (the packets before it are
 * kept and counted).
 */
int qb_dgram_parse(const uint8_t *dgram, size_t len, size_t short_dcid_len, unsigned flags,
                   struct qb_pkt_hdr *h, size_t max);

/* ---- After header protection is removed ----------------------------------- */

/* Packet number length (1..4) from the unprotected first byte. */
static inline size_t
qb_pkt_pn_len(uint8_t first)
{
	return (size_t)(first & 0x03) + 1;
}

/* Short header: the key phase bit of the unprotected first byte (RFC 9001 §6). */
static inline bool
qb_pkt_key_phase(uint8_t first)
{
	return (first & 0x04) != 0;
}

/*
 * The reserved bits of the unprotected first byte are zero: 0x0c in a long
 * header, 0x18 in a short one. If not, after successful removal of packet
 * protection, the connection closes with PROTOCOL_VIOLATION (RFC 9000 §17.2,
 * §17.3.1).
 */
static inline bool
qb_pkt_reserved_ok(uint8_t first)
{
	return (first & ((first & 0x80) ? 0x0c : 0x18)) == 0;
}

/* The truncated packet number at p (pn_len 1..4 bytes, big-endian). */
static inline uint64_t
qb_pkt_get_pn(const uint8_t *p, size_t pn_len)
{
	uint64_t v = 0;
	for (size_t i = 0; i < pn_len; i++)
		v = (v << 8) | p[i];
	return v;
}

/*
 * True if the datagram's last 16 bytes equal token: a Stateless Reset (RFC
 * 9000 §10.3.1). Compared in constant time. False if len < 21.
 */
bool qb_stateless_reset_match(const uint8_t *dgram, size_t len, const uint8_t *token);

/* ---- Encoder -------------------------------------------------------------- */

/*
 * The packet encoder: a cursor over one datagram buffer. Packets are written
 * one after another (coalesced); each is begun, filled with frames, optionally
 * padded, and finished. Every call checks the buffer and returns QB_ERR_NOBUF
 * rather than overrun; room always keeps the AEAD tag's 16 bytes free.
 * All fields are private to the encoder. Typical use, per datagram:
 *   qb_pkt_enc_init(&e, buf, max_size);
 *   qb_pkt_enc_begin_long(&e, v, QB_PKT_INITIAL, ...);  ACK, CRYPTO frames;
 *   qb_pkt_enc_finish(&e, &l0);                         seal l0;
 *   qb_pkt_enc_begin_short(&e, ...);  frames;  qb_pkt_enc_pad_to(&e, 1200);
 *   qb_pkt_enc_finish(&e, &l1);                         seal l1;
 *   send qb_pkt_enc_len(&e) bytes.
 */
struct qb_pkt_enc {
	uint8_t *buf;   /* datagram start */
	size_t cap;     /* datagram capacity */
	size_t off;     /* write cursor */
	size_t pkt;     /* current packet start */
	size_t len_off; /* current packet's 2-byte Length field; 0 if short header */
	size_t pn_off;  /* current packet's pn field */
	size_t limit;   /* last payload byte + 1 of the current packet (before tag) */
	uint64_t pn;    /* current packet number */
	uint8_t pn_len; /* 1..4 */
	uint8_t type;   /* enum qb_pkt_type of the current packet */
	bool open;      /* a packet is begun and not finished */
	bool closed;    /* a frame extends to the packet end: nothing may follow */
};

/* What the crypto layer needs to seal and protect a finished packet. */
struct qb_pkt_layout {
	size_t offset;      /* packet start in the datagram */
	size_t pn_offset;   /* pn field, from the packet start */
	size_t pn_len;      /* 1..4 */
	size_t hdr_len;     /* header incl. pn: the AEAD associated data */
	size_t payload_len; /* plaintext payload (frames), after the header */
	size_t len;         /* whole packet incl. the 16-byte tag */
	uint64_t pn;
	uint8_t type; /* enum qb_pkt_type */
};

/*
 * Bytes a packet costs beyond its frames: header, pn and AEAD tag (what
 * qb_pkt_enc_begin_*() + qb_pkt_enc_finish() add). For a long header the
 * token counts only for an Initial. Lets a caller size a datagram's budget.
 */
static inline size_t
qb_pkt_overhead_long(enum qb_pkt_type type, size_t dcid_len, size_t scid_len, size_t token_len,
                     size_t pn_len)
{
	size_t n = 1 + 4 + 1 + dcid_len + 1 + scid_len + 2 + pn_len + QB_AEAD_TAG_LEN;
	return type == QB_PKT_INITIAL ? n + qb_varint_len(token_len) + token_len : n;
}

static inline size_t
qb_pkt_overhead_short(size_t dcid_len, size_t pn_len)
{
	return 1 + dcid_len + pn_len + QB_AEAD_TAG_LEN;
}

/* Starts an encoder over buf (cap bytes: the datagram's maximum size). */
void qb_pkt_enc_init(struct qb_pkt_enc *e, uint8_t *buf, size_t cap);

/*
 * Begins a long-header packet (Initial, 0-RTT or Handshake) of version v:
 * writes the header, the token (Initial only; ignored otherwise), a 2-byte
 * Length to back-fill, and pn in pn_len bytes (1..4). The reserved bits are 0.
 * Returns 0, QB_ERR_NOBUF (nothing written) if the header, a minimal payload
 * and the tag do not fit, QB_ERR_ARG for a CID > 20 bytes, a bad type or
 * pn_len, QB_ERR_STATE if a packet is open.
 */
int qb_pkt_enc_begin_long(struct qb_pkt_enc *e, uint32_t version, enum qb_pkt_type type,
                          const uint8_t *dcid, size_t dcid_len, const uint8_t *scid,
                          size_t scid_len, const uint8_t *token, size_t token_len, uint64_t pn,
                          size_t pn_len);

/* Begins a short-header (1-RTT) packet; same errors as qb_pkt_enc_begin_long(). */
int qb_pkt_enc_begin_short(struct qb_pkt_enc *e, const uint8_t *dcid, size_t dcid_len, bool spin,
                           bool key_phase, uint64_t pn, size_t pn_len);

/* Payload bytes still free in the open packet (the tag already accounted for). */
static inline size_t
qb_pkt_enc_room(const struct qb_pkt_enc *e)
{
	return e->open && !e->closed ? e->limit - e->off : 0;
}

/* Payload bytes written so far in the open packet. */
static inline size_t
qb_pkt_enc_payload_len(const struct qb_pkt_enc *e)
{
	return e->open ? e->off - (e->pn_off + e->pn_len) : 0;
}

/*
 * Direct access for frame writers: a pointer to the cursor; after writing n
 * (<= qb_pkt_enc_room()) bytes call qb_pkt_enc_advance(). The frame writers
 * of frame.h (qb_pkt_enc_frame/ack/stream/crypto/datagram) use these.
 */
static inline uint8_t *
qb_pkt_enc_ptr(struct qb_pkt_enc *e)
{
	return e->buf + e->off;
}
static inline void
qb_pkt_enc_advance(struct qb_pkt_enc *e, size_t n)
{
	e->off += n;
}

/* Appends n PADDING bytes. QB_ERR_NOBUF (nothing written) if they do not fit. */
int qb_pkt_enc_pad(struct qb_pkt_enc *e, size_t n);

/*
 * Pads the open packet with PADDING so that the datagram, with this packet's
 * tag, is at least dgram_len bytes (RFC 9000 §14.1: 1200 for an Initial).
 * QB_ERR_NOBUF (nothing written) if the buffer is too small.
 */
int qb_pkt_enc_pad_to(struct qb_pkt_enc *e, size_t dgram_len);

/*
 * Pads so that pn_len + protected payload (frames + the 16-byte tag) >= 4 + 16,
 * i.e. pn_len + frames >= 4: the header-protection sample then lies inside
 * the packet (RFC 9001 §5.4.2). QB_ERR_NOBUF if it cannot.
 */
int qb_pkt_enc_pad_for_sample(struct qb_pkt_enc *e);

/*
 * Finishes the open packet: pads for the HP sample if needed, back-fills the
 * Length (pn + payload + tag), reserves the tag's 16 bytes (left for the
 * crypto layer to write) and fills *info. Returns 0, QB_ERR_STATE if no
 * packet is open, QB_ERR_NOBUF if the sample padding does not fit.
 */
int qb_pkt_enc_finish(struct qb_pkt_enc *e, struct qb_pkt_layout *info);

/* Drops the open packet: the cursor goes back to its start. */
void qb_pkt_enc_abort(struct qb_pkt_enc *e);

/* Datagram bytes used by finished packets (and the open one, without its tag). */
static inline size_t
qb_pkt_enc_len(const struct qb_pkt_enc *e)
{
	return e->off;
}

/*
 * Writes a Retry packet (RFC 9000 §17.2.5) of version v into buf: header,
 * token, and QB_RETRY_TAG_LEN bytes for the integrity tag, which the crypto
 * layer computes over the pseudo-packet and writes at the returned length
 * minus 16. unused4 is the 4 low bits of the first byte (random).
 * Returns the packet length, QB_ERR_NOBUF or QB_ERR_ARG (CID > 20, token empty).
 */
int qb_pkt_enc_retry(uint8_t *buf, size_t cap, uint32_t version, uint8_t unused4,
                     const uint8_t *dcid, size_t dcid_len, const uint8_t *scid, size_t scid_len,
                     const uint8_t *token, size_t token_len);

/*
 * Writes a Version Negotiation packet (RFC 9000 §17.2.1, RFC 8999 §6): first
 * byte 0x80 | (unused7 & 0x7f) with the fixed bit set (RFC 9000 leaves it
 * free; setting it keeps it clear of other protocols), version 0, the CIDs
 * (here dcid is the client's SCID and scid the client's DCID, echoed; each
 * <= 255 bytes) and the versions. Returns the length, QB_ERR_NOBUF or QB_ERR_ARG.
 */
int qb_pkt_enc_vn(uint8_t *buf, size_t cap, uint8_t unused7, const uint8_t *dcid, size_t dcid_len,
                  const uint8_t *scid, size_t scid_len, const uint32_t *versions,
                  size_t n_versions);

/*
 * Writes a Stateless Reset of exactly len bytes (>= 21; RFC 9000 §10.3): a
 * short-header-looking first byte (0x40 | random 6 bits), len - 17 further
 * unpredictable bytes, then the 16-byte token. unpredictable supplies
 * len - 16 random bytes (the caller's generator; this layer draws none).
 * Returns len, or QB_ERR_ARG if len < 21.
 */
int qb_pkt_enc_stateless_reset(uint8_t *buf, size_t len, const uint8_t *unpredictable,
                               const uint8_t *token);

#endif
