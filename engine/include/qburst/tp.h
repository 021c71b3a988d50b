/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QBURST_TP_H
#define QBURST_TP_H

/*
 * QUIC transport parameters (RFC 9000 §18): every parameter of §18.2, plus
 * version_information (RFC 9368 §3), max_datagram_frame_size (RFC 9221 §3)
 * and grease_quic_bit (RFC 9287 §3). Encoded into and decoded from the TLS
 * quic_transport_parameters extension's body. No allocation.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qburst/wire_common.h"

/* Parameter identifiers. */
enum qb_tp_id {
	QB_TP_ORIGINAL_DCID = 0x00,
	QB_TP_MAX_IDLE_TIMEOUT = 0x01,
	QB_TP_STATELESS_RESET_TOKEN = 0x02,
	QB_TP_MAX_UDP_PAYLOAD_SIZE = 0x03,
	QB_TP_INITIAL_MAX_DATA = 0x04,
	QB_TP_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL = 0x05,
	QB_TP_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE = 0x06,
	QB_TP_INITIAL_MAX_STREAM_DATA_UNI = 0x07,
	QB_TP_INITIAL_MAX_STREAMS_BIDI = 0x08,
	QB_TP_INITIAL_MAX_STREAMS_UNI = 0x09,
	QB_TP_ACK_DELAY_EXPONENT = 0x0a,
	QB_TP_MAX_ACK_DELAY = 0x0b,
	QB_TP_DISABLE_ACTIVE_MIGRATION = 0x0c,
	QB_TP_PREFERRED_ADDRESS = 0x0d,
	QB_TP_ACTIVE_CONNECTION_ID_LIMIT = 0x0e,
	QB_TP_INITIAL_SCID = 0x0f,
	QB_TP_RETRY_SCID = 0x10,
	QB_TP_VERSION_INFORMATION = 0x11,
	QB_TP_MAX_DATAGRAM_FRAME_SIZE = 0x20,
	QB_TP_GREASE_QUIC_BIT = 0x2ab2,
};

/* Bits of struct qb_tp's present mask: one per known parameter. */
#define QB_TP_BIT(id)                                                \
	((id) == QB_TP_MAX_DATAGRAM_FRAME_SIZE ? (UINT32_C(1) << 18) \
	 : (id) == QB_TP_GREASE_QUIC_BIT       ? (UINT32_C(1) << 19) \
	                                       : (UINT32_C(1) << (id)))

/* Available versions kept from a peer's version_information (more are checked, not kept). */
#define QB_TP_MAX_VERSIONS 8

struct qb_tp_cid {
	uint8_t len; /* 0..20 */
	uint8_t id[QB_MAX_CID_LEN];
};

struct qb_tp_preferred_address {
	uint8_t ipv4[4]; /* network order; all zero: none */
	uint16_t ipv4_port;
	uint8_t ipv6[16];
	uint16_t ipv6_port;
	struct qb_tp_cid cid; /* 1..20 bytes */
	uint8_t reset_token[QB_STATELESS_RESET_TOKEN_LEN];
};

/*
 * A set of transport parameters. qb_tp_default() gives the RFC defaults (what
 * an absent parameter means). present has QB_TP_BIT(id) for each parameter
 * received (decode) or to send (encode); the encoder also sends any integer
 * parameter whose value differs from its default.
 */
struct qb_tp {
	uint32_t present;
	struct qb_tp_cid original_dcid; /* server only */
	struct qb_tp_cid initial_scid;
	struct qb_tp_cid retry_scid;                                 /* server only */
	uint8_t stateless_reset_token[QB_STATELESS_RESET_TOKEN_LEN]; /* server only */
	uint64_t max_idle_timeout;                                   /* ms; 0: none (default) */
	uint64_t max_udp_payload_size; /* bytes; 1200..65527 (default 65527) */
	uint64_t initial_max_data;     /* bytes; default 0 */
	uint64_t initial_max_stream_data_bidi_local;
	uint64_t initial_max_stream_data_bidi_remote;
	uint64_t initial_max_stream_data_uni;
	uint64_t initial_max_streams_bidi;   /* <= 2^60 */
	uint64_t initial_max_streams_uni;    /* <= 2^60 */
	uint64_t ack_delay_exponent;         /* <= 20 (default 3) */
	uint64_t max_ack_delay;              /* ms; < 2^14 (default 25) */
	uint64_t active_connection_id_limit; /* >= 2 (default 2) */
	uint64_t max_datagram_frame_size;    /* bytes; 0: DATAGRAM not supported */
	bool disable_active_migration;
	bool grease_quic_bit;
	struct qb_tp_preferred_address preferred_address; /* server only */
	struct {
		uint32_t chosen;
		uint8_t n_available; /* <= QB_TP_MAX_VERSIONS kept */
		uint32_t available[QB_TP_MAX_VERSIONS];
	} version_info;
};

/* Fills *tp with the defaults of RFC 9000 §18.2 and present = 0. */
void qb_tp_default(struct qb_tp *tp);

/*
 * Encodes tp into buf (cap bytes) as sent by a server (is_server) or client.
 * Returns the length, QB_ERR_NOBUF, or QB_ERR_ARG when tp holds a value the
 * peer would have to reject (out of range, a server-only parameter from a
 * client, a preferred address with an empty CID).
 */
int qb_tp_encode(uint8_t *buf, size_t cap, const struct qb_tp *tp, bool is_server);

/*
 * Decodes the peer's parameters (from_server: the peer is a server) into *tp
 * (defaults first, then what is present). Unknown parameters, including the
 * reserved 31*N+27 ones (RFC 9000 §18.1), are skipped. Returns 0, or
 * QB_ERR_INVALID / QB_ERR_TRUNCATED with *terr = TRANSPORT_PARAMETER_ERROR
 * for: truncation, a value whose length does not match, a value out of range
 * (§18.2), a server-only parameter from a client, a duplicate (§7.4), or a
 * malformed version_information (RFC 9368 §4).
 */
int qb_tp_decode(const uint8_t *buf, size_t len, bool from_server, struct qb_tp *tp,
                 uint64_t *terr);

#endif
