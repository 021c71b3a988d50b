/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: header parse plus unprotect. The input is one UDP
 * datagram. Initial keys (v1 or v2 by the version field, v1 otherwise) are
 * derived from the first packet's Destination Connection ID, as a server
 * does for a client's first datagram; then every coalesced packet (RFC 9000
 * §12.2) is unprotected with the client's and the server's key. Oracles
 * besides the sanitizers: a failed unprotect leaves the bytes exactly as
 * they were, and a successful one re-protects to exactly the input bytes.
 * A Retry packet's integrity tag is checked against the same DCID.
 *
 * The long-header walk here is deliberately minimal (RFC 9000 §17.2): it
 * only finds where each packet's pn starts and where the packet ends.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qburst/crypto.h"

#define MAX_DATAGRAM 4096

/* RFC 9000 §16 */
static int
varint(const uint8_t *p, size_t len, size_t *off, uint64_t *v)
{
	size_t n;

	if (*off >= len)
		return -1;
	n = (size_t)1 << (p[*off] >> 6);
	if (len - *off < n)
		return -1;
	*v = p[*off] & 0x3f;
	for (size_t i = 1; i < n; i++)
		*v = *v << 8 | p[*off + i];
	*off += n;
	return 0;
}

/* Unprotect a copy of pkt[0..len) with key; check the oracles. */
static void
try_key(const struct qb_crypto_key *key, const uint8_t *pkt, size_t len, size_t pn_offset)
{
	static uint8_t buf[MAX_DATAGRAM];
	struct qb_crypto_hdr hdr;
	int rc;

	memcpy(buf, pkt, len);
	rc = qb_crypto_unprotect(key, buf, len, pn_offset, UINT64_MAX, &hdr);
	if (rc != 0) {
		if (memcmp(buf, pkt, len) != 0)
			abort(); /* a failed unprotect modified the packet */
		return;
	}
	if (hdr.pn_offset != pn_offset || hdr.pn_len < 1 || hdr.pn_len > 4 ||
	    pn_offset + hdr.pn_len + hdr.payload_len + QB_CRYPTO_TAG_LEN != len)
		abort();
	/* Our own protect of what we opened gives the packet back. */
	if (qb_crypto_protect(key, buf, pn_offset, hdr.pn_len, hdr.pn, hdr.payload_len) !=
	            (int)len ||
	    memcmp(buf, pkt, len) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qb_crypto_key client, server;
	uint32_t version;
	size_t off = 0;
	int have_keys = 0;

	if (size < 7 || size > MAX_DATAGRAM || !(data[0] & 0x80))
		return 0;
	version = (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 8 |
	          data[4];
	if (data[5] > 20 || size < 6 + (size_t)data[5])
		return 0;
	/* Keys from the first packet's DCID. */
	if (qb_crypto_initial_keys(version == QB_CRYPTO_QUIC_V2 ? version : QB_CRYPTO_QUIC_V1,
	                           data + 6, data[5], &client, &server) != 0)
		return 0;
	have_keys = 1;

	while (off < size) {
		const uint8_t *p = data + off;
		size_t len = size - off, o = 5, pn_offset, dcid_len;
		uint64_t v;
		uint32_t ver;
		unsigned type;

		if (!(p[0] & 0x80)) {
			/* A short header ends the datagram: try it with an
			 * 8-byte DCID, as our own connection IDs are. */
			if (len > 9)
				try_key(&client, p, len, 9);
			break;
		}
		if (len < 7)
			break;
		ver = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
		dcid_len = p[o++];
		if (dcid_len > 20 || len - o < dcid_len + 1)
			break;
		o += dcid_len;
		if (p[o] > 20 || len - o - 1 < p[o])
			break;
		o += 1 + p[o];
		/* v1: Initial 0, 0-RTT 1, Handshake 2, Retry 3; v2 (RFC 9369
		 * §3.2): Initial 1, 0-RTT 2, Handshake 3, Retry 0. */
		type = (p[0] >> 4) & 3;
		if (ver == QB_CRYPTO_QUIC_V2)
			type = (type + 3) & 3;
		if (type == 3) {
			/* Retry: the rest of the datagram, tag last. */
			(void)qb_crypto_retry_verify(ver, data + 6, data[5], p, len);
			break;
		}
		if (type == 0) {
			if (varint(p, len, &o, &v) != 0 || v > len - o)
				break;
			o += (size_t)v; /* token */
		}
		if (varint(p, len, &o, &v) != 0 || v > len - o)
			break;
		pn_offset = o;
		len = o + (size_t)v;
		try_key(&client, p, len, pn_offset);
		try_key(&server, p, len, pn_offset);
		off += len;
	}
	if (have_keys) {
		qb_crypto_key_clear(&client);
		qb_crypto_key_clear(&server);
	}
	return 0;
}
