/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QBURST_WIRE_COMMON_H
#define QBURST_WIRE_COMMON_H

/*
 * What every part of the QUIC wire format shares: versions, limits, wire
 * error codes and packet types. Include qburst/wire.h for everything.
 */

#include <stddef.h>
#include <stdint.h>

#include "qburst/error.h"

/* Versions (RFC 9000 §15, RFC 9369 §3.1). */
#define QB_VERSION_NEGOTIATION 0x00000000u
#define QB_VERSION_1           0x00000001u
#define QB_VERSION_2           0x6b3343cfu

/* Limits of this version of the protocol. */
#define QB_MAX_CID_LEN               20   /* v1/v2 connection ID, bytes (RFC 9000 §17.2) */
#define QB_MAX_CID_LEN_ANY           255  /* any version's invariant limit (RFC 8999 §5.1) */
#define QB_AEAD_TAG_LEN              16   /* every QUIC v1/v2 AEAD (RFC 9001 §5.3) */
#define QB_HP_SAMPLE_LEN             16   /* header-protection sample (RFC 9001 §5.4.2) */
#define QB_HP_SAMPLE_OFFSET          4    /* sample starts this far after the pn field */
#define QB_MIN_INITIAL_DGRAM         1200 /* RFC 9000 §14.1 */
#define QB_STATELESS_RESET_TOKEN_LEN 16
#define QB_RETRY_TAG_LEN             16 /* RFC 9001 §5.8 */
#define QB_PATH_DATA_LEN             8  /* PATH_CHALLENGE/RESPONSE payload */

/* True if v is a version this library speaks. */
static inline int
qb_version_supported(uint32_t v)
{
	return v == QB_VERSION_1 || v == QB_VERSION_2;
}

/*
 * Transport error codes carried in CONNECTION_CLOSE 0x1c (RFC 9000 §20.1);
 * not to be confused with the library's enum qb_err.
 */
enum qb_transport_error {
	QB_TE_NO_ERROR = 0x00,
	QB_TE_INTERNAL_ERROR = 0x01,
	QB_TE_CONNECTION_REFUSED = 0x02,
	QB_TE_FLOW_CONTROL_ERROR = 0x03,
	QB_TE_STREAM_LIMIT_ERROR = 0x04,
	QB_TE_STREAM_STATE_ERROR = 0x05,
	QB_TE_FINAL_SIZE_ERROR = 0x06,
	QB_TE_FRAME_ENCODING_ERROR = 0x07,
	QB_TE_TRANSPORT_PARAMETER_ERROR = 0x08,
	QB_TE_CONNECTION_ID_LIMIT_ERROR = 0x09,
	QB_TE_PROTOCOL_VIOLATION = 0x0a,
	QB_TE_INVALID_TOKEN = 0x0b,
	QB_TE_APPLICATION_ERROR = 0x0c,
	QB_TE_CRYPTO_BUFFER_EXCEEDED = 0x0d,
	QB_TE_KEY_UPDATE_ERROR = 0x0e,
	QB_TE_AEAD_LIMIT_REACHED = 0x0f,
	QB_TE_NO_VIABLE_PATH = 0x10,
	QB_TE_VERSION_NEGOTIATION_ERROR = 0x11, /* RFC 9368 §10.2 */
	QB_TE_CRYPTO_ERROR = 0x100,             /* + TLS alert (0x100-0x1ff) */
};

/* CRYPTO_ERROR code for a TLS alert (RFC 9001 §4.8). */
static inline uint64_t
qb_te_crypto_error(uint8_t tls_alert)
{
	return QB_TE_CRYPTO_ERROR + tls_alert;
}

/*
 * Packet types, independent of the version's long-header type codes (which
 * differ between v1 and v2, RFC 9369 §3.2).
 */
enum qb_pkt_type {
	QB_PKT_INITIAL = 0,
	QB_PKT_0RTT = 1,
	QB_PKT_HANDSHAKE = 2,
	QB_PKT_RETRY = 3,
	QB_PKT_1RTT = 4,            /* short header */
	QB_PKT_VN = 5,              /* Version Negotiation */
	QB_PKT_UNKNOWN_VERSION = 6, /* long header of a version we do not speak */
};

/*
 * Long-header type bits (0..3, the value of (byte0 >> 4) & 3) of type t in
 * version v (QB_VERSION_1 or QB_VERSION_2); t must be a long-header type.
 */
static inline uint8_t
qb_long_type_bits(uint32_t v, enum qb_pkt_type t)
{
	/* v1: Initial 0, 0-RTT 1, Handshake 2, Retry 3; v2 rotates by one. */
	return v == QB_VERSION_2 ? (uint8_t)((t + 1) & 3) : (uint8_t)t;
}

/* Inverse of qb_long_type_bits(). */
static inline enum qb_pkt_type
qb_long_type_of(uint32_t v, uint8_t bits)
{
	return v == QB_VERSION_2 ? (enum qb_pkt_type)((bits + 3) & 3)
	                         : (enum qb_pkt_type)(bits & 3);
}

#endif
