/* SPDX-License-Identifier: BSD-3-Clause */
#include "qburst/error.h"
#include "http_internal.h"

int
qb_h3_start(struct qb_http *h)
{
	(void)h;
	return QB_ERR_UNSUPPORTED;
}

int
qb_h3_on_stream(struct qb_http *h, uint64_t id, unsigned events)
{
	(void)h;
	(void)id;
	(void)events;
	return QB_ERR_UNSUPPORTED;
}

int
qb_h3_pump(struct qb_http *h)
{
	(void)h;
	return QB_ERR_UNSUPPORTED;
}

void
qb_h3_free(struct qb_http *h)
{
	(void)h;
}
