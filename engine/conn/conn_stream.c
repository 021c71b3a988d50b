/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The application's stream API: thin checks over the stream layer
 * (qburst/stream.h), which holds the state machines and flow control.
 */
#include <string.h>

#include "conn/conn_internal.h"

static bool
usable(const struct qb_conn *c)
{
	return !conn_closing(c) && c->peer_tp_done;
}

int
qb_conn_stream_open(struct qb_conn *c, bool bidi, uint64_t *id)
{
	if (!usable(c))
		return QB_ERR_STATE;
	return qb_streams_open(c->streams, bidi, id);
}

int64_t
qb_conn_stream_write(struct qb_conn *c, uint64_t id, const uint8_t *data, size_t len, bool fin)
{
	if (conn_closing(c))
		return QB_ERR_STATE;
	return qb_streams_write(c->streams, id, data, len, fin);
}

int64_t
qb_conn_stream_read(struct qb_conn *c, uint64_t id, uint8_t *buf, size_t cap, bool *fin,
                    uint64_t *err_code, uint64_t now)
{
	size_t got = 0;

	if (fin != NULL)
		*fin = false;
	while (got < cap) {
		struct qb_read_span sp;
		int rc = qb_streams_read_peek(c->streams, id, &sp);
		if (rc != 0)
			return got > 0 ? (int64_t)got : rc;
		if (sp.reset) {
			if (err_code != NULL)
				*err_code = sp.error_code;
			return got > 0 ? (int64_t)got : QB_ERR_PROTO;
		}
		size_t n = sp.len < cap - got ? sp.len : cap - got;
		if (n > 0)
			memcpy(buf + got, sp.data, n);
		bool at_end = sp.fin && n == sp.len;
		if (n == 0 && !at_end)
			break;
		/* Consuming the fin span finishes the stream, which may free it. */
		qb_streams_read_consume(c->streams, id, n, now);
		got += n;
		if (at_end) {
			if (fin != NULL)
				*fin = true;
			break;
		}
	}
	return (int64_t)got;
}

int
qb_conn_stream_reset(struct qb_conn *c, uint64_t id, uint64_t app_error)
{
	if (conn_closing(c))
		return QB_ERR_STATE;
	return qb_streams_reset(c->streams, id, app_error);
}

int
qb_conn_stream_stop_sending(struct qb_conn *c, uint64_t id, uint64_t app_error)
{
	if (conn_closing(c))
		return QB_ERR_STATE;
	return qb_streams_stop_sending(c->streams, id, app_error);
}

bool
qb_conn_stream_next_event(struct qb_conn *c, uint64_t *id, unsigned *events)
{
	return qb_streams_next_event(c->streams, id, events);
}
