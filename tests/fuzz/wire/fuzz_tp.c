/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transport parameters: decode, re-encode, decode again; the two decodings
 * must encode to the same bytes. Input: one byte (bit 0: the peer is a
 * server), then the extension body.
 */
#include <stdlib.h>
#include <string.h>

#include "qburst/tp.h"

static uint8_t a[1 << 12], b[1 << 12];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool from_server = data[0] & 1;
	size_t len = size - 1;
	uint8_t *in = malloc(len ? len : 1);
	memcpy(in, data + 1, len);

	struct qb_tp t1, t2;
	uint64_t terr = 1;
	int rc = qb_tp_decode(in, len, from_server, &t1, &terr);
	if (rc < 0) {
		if (terr != QB_TE_TRANSPORT_PARAMETER_ERROR)
			abort();
		free(in);
		return 0;
	}
	if (terr != QB_TE_NO_ERROR)
		abort();
	int n1 = qb_tp_encode(a, sizeof(a), &t1, from_server);
	if (n1 < 0)
		abort();
	rc = qb_tp_decode(a, (size_t)n1, from_server, &t2, &terr);
	if (rc < 0) {
		/* Only a chosen version beyond the kept available list is lost. */
		if (t1.version_info.n_available != QB_TP_MAX_VERSIONS)
			abort();
		free(in);
		return 0;
	}
	int n2 = qb_tp_encode(b, sizeof(b), &t2, from_server);
	if (n2 != n1 || memcmp(a, b, (size_t)n1) != 0 || t1.present != t2.present)
		abort();
	free(in);
	return 0;
}
