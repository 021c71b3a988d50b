/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The forward header: decode, re-encode to the same bytes; and the relay
 * listener's classifier. Input: the datagram.
 */
#include <stdlib.h>
#include <string.h>

#include "qburst/fwdhdr.h"

static bool
ours(void *ctx, const uint8_t *cid, size_t len)
{
	(void)ctx;
	/* Read the whole CID so ASan checks the classifier's bounds. */
	unsigned s = 0;
	for (size_t i = 0; i < len; i++)
		s += cid[i];
	return len > 0 && (s & 3) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *d = malloc(size ? size : 1);
	memcpy(d, data, size);
	struct qb_fwd_hdr h;
	int n = qb_fwd_hdr_decode(d, size, &h);
	if (n > 0) {
		uint8_t out[QB_FWD_MAX_LEN];
		if ((size_t)n > size || n > QB_FWD_MAX_LEN)
			abort();
		int m = qb_fwd_hdr_encode(out, sizeof(out), &h, d[0]);
		if (m != n || memcmp(out, d, (size_t)n) != 0)
			abort();
	}
	size_t cid_len = size ? d[size - 1] % 21 : 8;
	enum qb_dgram_class c = qb_dgram_classify(d, size, cid_len, ours, NULL);
	if (c > QB_DGRAM_INVALID || (c == QB_DGRAM_INVALID) != (size == 0))
		abort();
	if (c == QB_DGRAM_FORWARDED && n <= 0)
		abort();
	free(d);
	return 0;
}
