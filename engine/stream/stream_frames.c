/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frames from the peer that concern streams (RFC 9000 §19.4-19.5,
 * §19.8-19.14), the application's receive side and receive-window updates.
 */
#include <string.h>

#include "qburst/error.h"
#include "stream_internal.h"

static int
proto_err(uint64_t *terr, uint64_t code)
{
	*terr = code;
	return QB_ERR_PROTO;
}

void
qb_streams_autotune(uint64_t *window, uint64_t *last, uint64_t cap, uint64_t now, uint64_t srtt)
{
	/* If half a window was consumed in under two RTTs, the window is what
	 * limits the transfer: double it, up to the cap (the bandwidth-delay
	 * product grows the window, as quiche and ngtcp2 do). */
	if (*last != UINT64_MAX && srtt != 0 && now >= *last && now - *last < 2 * srtt &&
	    *window < cap)
		*window = *window > cap / 2 ? cap : *window * 2;
	*last = now;
}

void
qb_streams_conn_consumed(struct qb_streams *m, uint64_t n, uint64_t now, bool tune)
{
	m->rx.consumed += n;
	/* RFC 9000 §4.2: advertise more credit once half the window is used. */
	if (m->rx.max - m->rx.consumed >= m->rx.window / 2 || m->rx.max == QB_STREAM_MAX_OFFSET)
		return;
	if (tune)
		qb_streams_autotune(&m->rx.window, &m->rx.last_update, m->rx.cap, now, m->srtt);
	m->rx.max = m->rx.consumed + m->rx.window;
	if (m->rx.max > QB_STREAM_MAX_OFFSET)
		m->rx.max = QB_STREAM_MAX_OFFSET;
	m->ctrl |= QB_MC_MAX_DATA;
}

static void
stream_window_update(struct qb_streams *m, struct qb_stream *s, uint64_t now)
{
	/* Only while the final size is unknown does the peer need credit. */
	if (s->rx_state != QB_RECV_RECV || s->rx_max - s->rb.read >= s->rx_window / 2 ||
	    s->rx_max == QB_STREAM_MAX_OFFSET)
		return;
	qb_streams_autotune(&s->rx_window, &s->rx_last_update, m->cfg.max_stream_window, now,
	                    m->srtt);
	/* Keep the connection window at least 1.5 stream windows, or a single
	 * fast stream would be held back by the connection limit. */
	if (m->rx.window < s->rx_window + s->rx_window / 2) {
		m->rx.window = s->rx_window + s->rx_window / 2;
		if (m->rx.window > m->rx.cap)
			m->rx.window = m->rx.cap;
	}
	s->rx_max = s->rb.read + s->rx_window;
	if (s->rx_max > QB_STREAM_MAX_OFFSET)
		s->rx_max = QB_STREAM_MAX_OFFSET;
	qb_streams_ctrl_set(m, s, QB_SC_MAX_STREAM_DATA);
}

/* The application stopped reading: count everything received as consumed,
 * hold nothing, and finish the receive side once the final size is known. */
static void
rx_discard(struct qb_streams *m, struct qb_stream *s)
{
	qb_streams_conn_consumed(m, s->rx_highest - s->rb.read, 0, false);
	qb_rbuf_free(&s->rb, m->pools);
	s->rb.read = s->rb.contig = s->rb.hi = s->rx_highest;
	if (s->rx_final == UINT64_MAX || s->rx_highest != s->rx_final)
		return;
	s->rx_state = QB_RECV_DATA_READ;
	qb_streams_ctrl_clear(m, s, QB_SC_STOP_SENDING | QB_SC_MAX_STREAM_DATA);
	qb_streams_maybe_close(m, s);
}

/* Credit checks shared by STREAM and RESET_STREAM (RFC 9000 §4.1, §4.5), then
 * the accounting once they pass. */
static int
rx_credit(struct qb_streams *m, struct qb_stream *s, uint64_t end, uint64_t *terr)
{
	if (end > s->rx_max)
		return proto_err(terr, QB_TE_FLOW_CONTROL_ERROR);
	if (end > s->rx_highest) {
		uint64_t delta = end - s->rx_highest;
		if (delta > m->rx.max - m->rx.highest)
			return proto_err(terr, QB_TE_FLOW_CONTROL_ERROR);
		m->rx.highest += delta;
		s->rx_highest = end;
	}
	return 0;
}

int
qb_streams_on_stream(struct qb_streams *m, uint64_t id, uint64_t offset, const uint8_t *data,
                     size_t len, bool fin, uint64_t *terr)
{
	struct qb_stream *s;
	uint64_t end;
	int rc;

	/* RFC 9000 §19.8: offset + length beyond 2^62 - 1. */
	if (offset > QB_STREAM_MAX_OFFSET || len > QB_STREAM_MAX_OFFSET - offset)
		return proto_err(terr, QB_TE_FRAME_ENCODING_ERROR);
	rc = qb_streams_frame_stream(m, id, true, &s, terr);
	if (rc < 0 || s == NULL)
		return rc;
	end = offset + len;
	/* RFC 9000 §4.5: the final size cannot change, and no data may lie
	 * beyond it. */
	if (s->rx_final != UINT64_MAX) {
		if (end > s->rx_final || (fin && end != s->rx_final))
			return proto_err(terr, QB_TE_FINAL_SIZE_ERROR);
	} else if (fin && end < s->rx_highest) {
		return proto_err(terr, QB_TE_FINAL_SIZE_ERROR);
	}
	rc = rx_credit(m, s, end, terr);
	if (rc < 0)
		return rc;
	if (fin && s->rx_final == UINT64_MAX) {
		s->rx_final = end;
		if (s->rx_state == QB_RECV_RECV)
			s->rx_state = QB_RECV_SIZE_KNOWN; /* RFC 9000 §3.2 */
		qb_streams_ctrl_clear(m, s, QB_SC_MAX_STREAM_DATA);
	}
	if (s->rx_state != QB_RECV_RECV && s->rx_state != QB_RECV_SIZE_KNOWN)
		return 0; /* all data already here, or reset: nothing to keep */
	if (s->rx_discard) {
		rx_discard(m, s);
		return 0;
	}
	uint64_t contig = s->rb.contig;
	rc = qb_rbuf_write(&s->rb, m->pools, offset, data, len);
	if (s->rx_state == QB_RECV_SIZE_KNOWN && s->rb.contig == s->rx_final) {
		s->rx_state = QB_RECV_DATA_RECVD;
		qb_streams_event(m, s, QB_STREAM_EV_READABLE); /* the FIN is readable */
	} else if (s->rb.contig > contig) {
		qb_streams_event(m, s, QB_STREAM_EV_READABLE);
	}
	return rc;
}

int
qb_streams_on_reset_stream(struct qb_streams *m, uint64_t id, uint64_t error_code,
                           uint64_t final_size, uint64_t *terr)
{
	struct qb_stream *s;
	int rc;

	if (final_size > QB_STREAM_MAX_OFFSET)
		return proto_err(terr, QB_TE_FRAME_ENCODING_ERROR);
	rc = qb_streams_frame_stream(m, id, true, &s, terr);
	if (rc < 0 || s == NULL)
		return rc;
	/* RFC 9000 §4.5: a changed final size, or one below data received. */
	if ((s->rx_final != UINT64_MAX && final_size != s->rx_final) || final_size < s->rx_highest)
		return proto_err(terr, QB_TE_FINAL_SIZE_ERROR);
	rc = rx_credit(m, s, final_size, terr);
	if (rc < 0)
		return rc;
	s->rx_final = final_size;
	/* In Data Recvd every byte is here already: deliver it (§3.2 allows
	 * either); a reset after the data was read changes nothing. */
	if (s->rx_state != QB_RECV_RECV && s->rx_state != QB_RECV_SIZE_KNOWN)
		return 0;
	s->rx_state = QB_RECV_RESET_RECVD;
	s->rx_err = error_code;
	/* RFC 9000 §4.5: the whole final size counts as consumed for the
	 * connection, so the credit comes back even for bytes never read. */
	qb_streams_conn_consumed(m, final_size - s->rb.read, 0, false);
	qb_rbuf_free(&s->rb, m->pools);
	qb_streams_ctrl_clear(m, s, QB_SC_MAX_STREAM_DATA | QB_SC_STOP_SENDING);
	if (s->rx_discard) {
		/* The application stopped reading: nobody to tell. */
		s->rx_state = QB_RECV_RESET_READ;
		qb_streams_maybe_close(m, s);
		return 0;
	}
	qb_streams_event(m, s, QB_STREAM_EV_READABLE);
	return 0;
}

int
qb_streams_on_stop_sending(struct qb_streams *m, uint64_t id, uint64_t error_code, uint64_t *terr)
{
	struct qb_stream *s;
	int rc = qb_streams_frame_stream(m, id, false, &s, terr);

	if (rc < 0 || s == NULL)
		return rc;
	if (!s->stop_received) {
		s->stop_received = true;
		s->peer_stop_err = error_code;
		qb_streams_event(m, s, QB_STREAM_EV_STOPPED);
	}
	/* RFC 9000 §3.5: answer with RESET_STREAM, copying the error code,
	 * unless all data was already acknowledged or the stream is reset. */
	if (s->tx_state == QB_SEND_READY || s->tx_state == QB_SEND_SEND ||
	    s->tx_state == QB_SEND_DATA_SENT)
		qb_streams_do_reset(m, s, error_code);
	return 0;
}

int
qb_streams_on_max_data(struct qb_streams *m, uint64_t max)
{
	struct qb_stream *s;

	if (max <= m->tx.max)
		return 0; /* RFC 9000 §19.9: a smaller value is ignored */
	m->tx.max = max;
	/* The streams that waited for connection credit may go again. */
	while ((s = TAILQ_FIRST(&m->blocked_q)) != NULL) {
		qb_streams_sched(m, s);
		if (TAILQ_FIRST(&m->blocked_q) == s)
			break; /* still blocked: no more credit than it used */
	}
	return 0;
}

int
qb_streams_on_max_stream_data(struct qb_streams *m, uint64_t id, uint64_t max, uint64_t *terr)
{
	struct qb_stream *s;
	int rc = qb_streams_frame_stream(m, id, false, &s, terr);

	if (rc < 0 || s == NULL)
		return rc;
	if (max > s->tx_max) {
		s->tx_max = max;
		qb_streams_sched(m, s);
	}
	return 0;
}

int
qb_streams_on_max_streams(struct qb_streams *m, bool bidi, uint64_t max, uint64_t *terr)
{
	int d = bidi ? QB_DIR_BIDI : QB_DIR_UNI;

	if (max > QB_MAX_STREAMS_LIMIT)
		return proto_err(terr, QB_TE_FRAME_ENCODING_ERROR); /* RFC 9000 §19.11 */
	if (max > m->local_limit[d])
		m->local_limit[d] = max;
	return 0;
}

int
qb_streams_on_data_blocked(struct qb_streams *m, uint64_t limit)
{
	(void)m;
	(void)limit; /* informational (RFC 9000 §19.12): our updates do not wait for it */
	return 0;
}

int
qb_streams_on_stream_data_blocked(struct qb_streams *m, uint64_t id, uint64_t limit, uint64_t *terr)
{
	struct qb_stream *s;

	(void)limit;
	/* RFC 9000 §19.13: on a send-only stream it is a STREAM_STATE_ERROR. */
	return qb_streams_frame_stream(m, id, true, &s, terr);
}

int
qb_streams_on_streams_blocked(struct qb_streams *m, bool bidi, uint64_t limit, uint64_t *terr)
{
	(void)m;
	(void)bidi;
	if (limit > QB_MAX_STREAMS_LIMIT)
		return proto_err(terr, QB_TE_FRAME_ENCODING_ERROR); /* RFC 9000 §19.14 */
	return 0;
}

/* --- Application receive side -------------------------------------------- */

int
qb_streams_read_peek(struct qb_streams *m, uint64_t id, struct qb_read_span *out)
{
	struct qb_stream *s = qb_streams_lookup(m, id);

	memset(out, 0, sizeof(*out));
	if (s == NULL || s->rx_state == QB_RECV_NONE)
		return QB_ERR_STATE;
	switch (s->rx_state) {
	case QB_RECV_RESET_RECVD:
	case QB_RECV_RESET_READ:
		out->reset = true;
		out->error_code = s->rx_err;
		if (s->rx_state == QB_RECV_RESET_RECVD) {
			/* The application has been told: RFC 9000 §3.2 Reset Read. */
			s->rx_state = QB_RECV_RESET_READ;
			qb_streams_maybe_close(m, s);
		}
		return 0;
	case QB_RECV_DATA_READ:
		out->fin = true;
		return 0;
	}
	out->len = qb_rbuf_peek(&s->rb, m->pools->chunk_size, &out->data);
	out->fin = s->rx_final != UINT64_MAX && s->rb.read + out->len == s->rx_final;
	return 0;
}

int
qb_streams_read_consume(struct qb_streams *m, uint64_t id, size_t n, uint64_t now)
{
	struct qb_stream *s = qb_streams_lookup(m, id);

	if (s == NULL || (s->rx_state != QB_RECV_RECV && s->rx_state != QB_RECV_SIZE_KNOWN &&
	                  s->rx_state != QB_RECV_DATA_RECVD))
		return QB_ERR_STATE;
	if (n > s->rb.contig - s->rb.read)
		return QB_ERR_ARG;
	qb_rbuf_consume(&s->rb, m->pools, n);
	qb_streams_conn_consumed(m, n, now, true);
	stream_window_update(m, s, now);
	if (s->rx_state == QB_RECV_DATA_RECVD && s->rb.read == s->rx_final) {
		s->rx_state = QB_RECV_DATA_READ; /* RFC 9000 §3.2 */
		qb_rbuf_free(&s->rb, m->pools);
		qb_streams_ctrl_clear(m, s, QB_SC_STOP_SENDING);
		qb_streams_maybe_close(m, s);
	}
	return 0;
}

int
qb_streams_stop_sending(struct qb_streams *m, uint64_t id, uint64_t error_code)
{
	struct qb_stream *s = qb_streams_lookup(m, id);

	if (s == NULL || s->rx_state == QB_RECV_NONE)
		return QB_ERR_STATE;
	if (s->rx_state != QB_RECV_RECV && s->rx_state != QB_RECV_SIZE_KNOWN &&
	    s->rx_state != QB_RECV_DATA_RECVD)
		return 0; /* read or reset already */
	s->rx_discard = true;
	/* RFC 9000 §3.5: only useful while the peer may still be sending. */
	if (s->rx_state == QB_RECV_RECV) {
		s->stop_err = error_code;
		qb_streams_ctrl_set(m, s, QB_SC_STOP_SENDING);
		qb_streams_ctrl_clear(m, s, QB_SC_MAX_STREAM_DATA);
	}
	rx_discard(m, s); /* may close the stream */
	return 0;
}
