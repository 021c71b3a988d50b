/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: header parse plus unprotect. The input is one UDP
 * datagram, walked with the wire module's coalesced-packet parser
 * (qb_dgram_parse, RFC 9000 §12.2). Initial keys (v1 or v2 by the first
 * packet's version, v1 otherwise) are derived from the first packet's
 * Destination Connection ID, as a server does for a client's first
 * datagram; every protected packet is then unprotected with the client's and
 * the server's key. Oracles besides the sanitizers: a failed unprotect leaves
 * the bytes exactly as they were, and a successful one re-protects to exactly
 * the input bytes. A Retry packet's integrity tag is checked too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qburst/crypto.h"
#include "qburst/wire.h"

#define MAX_DATAGRAM 4096
#define MAX_PACKETS  8
#define OUR_CID_LEN  8 /* short headers: the length of the CIDs we issue */

/* Unprotect a copy of pkt[0..len) with key; check the oracles. */
static void
try_key(const struct qb_crypto_key *key, const uint8_t *pkt, size_t len, size_t pn_offset)
{
	static uint8_t buf[MAX_DATAGRAM];
	struct qb_crypto_hdr hdr;
	int rc;

	memcpy(buf, pkt, len);
	rc = qb_crypto_unprotect(key, buf, len, pn_offset, QB_PN_NONE, &hdr);
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
	struct qb_pkt_hdr h[MAX_PACKETS];
	struct qb_crypto_key client, server;
	uint32_t version;
	int n;

	if (size > MAX_DATAGRAM)
		return 0;
	n = qb_dgram_parse(data, size, OUR_CID_LEN, QB_PARSE_GREASE_OK, h, MAX_PACKETS);
	if (n <= 0)
		return 0;
	version = h[0].version == QB_CRYPTO_QUIC_V2 ? QB_CRYPTO_QUIC_V2 : QB_CRYPTO_QUIC_V1;
	if (h[0].dcid_len > 20 ||
	    qb_crypto_initial_keys(version, h[0].dcid, h[0].dcid_len, &client, &server) != 0)
		return 0;
	for (int i = 0; i < n; i++) {
		const uint8_t *p = data + h[i].offset;

		if (h[i].offset + h[i].len > size)
			abort(); /* the parser promised a bounded packet */
		switch (h[i].type) {
		case QB_PKT_INITIAL:
		case QB_PKT_0RTT:
		case QB_PKT_HANDSHAKE:
		case QB_PKT_1RTT:
			/* Only Initials can open here; the others still take
			 * the header removal and the failed-open path. */
			try_key(&client, p, h[i].len, h[i].pn_offset);
			try_key(&server, p, h[i].len, h[i].pn_offset);
			break;
		case QB_PKT_RETRY:
			(void)qb_crypto_retry_verify(h[i].version, h[0].dcid, h[0].dcid_len, p,
			                             h[i].len);
			break;
		default:
			break;
		}
	}
	qb_crypto_key_clear(&client);
	qb_crypto_key_clear(&server);
	return 0;
}
