/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The 1-RTT stream packet from a per-path template (the build-rate fast
 * path, BRIEF §6): the short header's first byte and DCID are fixed for a
 * path and key phase, so they are prepared once and copied with a few wide
 * stores; the packet number and each varint of the STREAM frame header are
 * one big-endian store. No encoder state: the caller gets the layout. The
 * per-packet function is inline in qburst/frame.h (a call and the layout
 * passed through memory cost more than its work); the template is made here.
 */
#include <string.h>

#include "qburst/frame.h"
#include "qburst/packet.h"

_Static_assert(sizeof(((struct qb_pkt_short_tmpl *)0)->hdr) >= 1 + QB_MAX_CID_LEN + 3,
               "the template holds the first byte and the longest DCID, 8-byte rounded");

int
qb_pkt_short_tmpl_init(struct qb_pkt_short_tmpl *t, const uint8_t *dcid, size_t dcid_len, bool spin,
                       bool key_phase)
{
	if (t == NULL || dcid_len > QB_MAX_CID_LEN || (dcid == NULL && dcid_len != 0))
		return QB_ERR_ARG;
	memset(t, 0, sizeof(*t));
	/* RFC 9000 §17.3.1: form 0, fixed 1, spin, reserved 0, key phase; pn length later. */
	t->hdr[0] = (uint8_t)(0x40 | (spin ? 0x20 : 0) | (key_phase ? 0x04 : 0));
	if (dcid_len != 0)
		memcpy(t->hdr + 1, dcid, dcid_len);
	t->dcid_len = (uint8_t)dcid_len;
	return 0;
}
