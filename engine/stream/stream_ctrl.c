/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control frames of the stream layer (RFC 9000 §19.4-19.5, §19.9-19.14):
 * what is due, with the newest values, and what to do when one is lost or
 * acknowledged; and the application event queue.
 */
#include <string.h>

#include "stream_internal.h"

/* --- Application events -------------------------------------------------- */

void
qb_streams_event(struct qb_streams *m, struct qb_stream *s, uint8_t ev)
{
	if (s->events == 0)
		TAILQ_INSERT_TAIL(&m->ev_q, s, ev_link);
	s->events |= ev;
}

bool
qb_streams_next_event(struct qb_streams *m, uint64_t *id, unsigned *events)
{
	struct qb_stream *s = TAILQ_FIRST(&m->ev_q);

	if (s == NULL)
		return false;
	TAILQ_REMOVE(&m->ev_q, s, ev_link);
	*id = s->id;
	*events = s->events;
	s->events = 0;
	return true;
}

/* --- Control frames ------------------------------------------------------ */

void
qb_streams_ctrl_set(struct qb_streams *m, struct qb_stream *s, uint8_t flag)
{
	if (s->ctrl == 0)
		TAILQ_INSERT_TAIL(&m->ctrl_q, s, ctrl_link);
	s->ctrl |= flag;
}

void
qb_streams_ctrl_clear(struct qb_streams *m, struct qb_stream *s, uint8_t flag)
{
	if (s->ctrl == 0)
		return;
	s->ctrl &= (uint8_t)~flag;
	if (s->ctrl == 0)
		TAILQ_REMOVE(&m->ctrl_q, s, ctrl_link);
}

/* A BLOCKED frame whose limit has moved since it was queued says nothing. */
static bool
conn_ctrl_stale(const struct qb_streams *m, uint8_t bit)
{
	switch (bit) {
	case QB_MC_DATA_BLOCKED:
		return m->tx.blocked_at != m->tx.max;
	case QB_MC_SBLOCKED_BIDI:
		return m->local_blocked_at[QB_DIR_BIDI] != m->local_limit[QB_DIR_BIDI];
	case QB_MC_SBLOCKED_UNI:
		return m->local_blocked_at[QB_DIR_UNI] != m->local_limit[QB_DIR_UNI];
	}
	return false;
}

static void
conn_ctrl_fill(const struct qb_streams *m, uint8_t bit, struct qb_ctrl_frame *f)
{
	switch (bit) {
	case QB_MC_MAX_DATA:
		f->type = QB_FT_MAX_DATA;
		f->value = m->rx.max;
		break;
	case QB_MC_DATA_BLOCKED:
		f->type = QB_FT_DATA_BLOCKED;
		f->value = m->tx.blocked_at;
		break;
	case QB_MC_MAX_STREAMS_BIDI:
		f->type = QB_FT_MAX_STREAMS_BIDI;
		f->value = m->remote_limit[QB_DIR_BIDI];
		break;
	case QB_MC_MAX_STREAMS_UNI:
		f->type = QB_FT_MAX_STREAMS_UNI;
		f->value = m->remote_limit[QB_DIR_UNI];
		break;
	case QB_MC_SBLOCKED_BIDI:
		f->type = QB_FT_STREAMS_BLOCKED_BIDI;
		f->value = m->local_blocked_at[QB_DIR_BIDI];
		break;
	default:
		f->type = QB_FT_STREAMS_BLOCKED_UNI;
		f->value = m->local_blocked_at[QB_DIR_UNI];
		break;
	}
}

static void
stream_ctrl_fill(const struct qb_stream *s, uint8_t bit, struct qb_ctrl_frame *f)
{
	f->stream_id = s->id;
	switch (bit) {
	case QB_SC_RESET_STREAM:
		f->type = QB_FT_RESET_STREAM;
		f->value = s->tx_final;
		f->error_code = s->tx_err;
		break;
	case QB_SC_STOP_SENDING:
		f->type = QB_FT_STOP_SENDING;
		f->error_code = s->stop_err;
		break;
	case QB_SC_MAX_STREAM_DATA:
		f->type = QB_FT_MAX_STREAM_DATA;
		f->value = s->rx_max;
		break;
	default:
		f->type = QB_FT_STREAM_DATA_BLOCKED;
		f->value = s->tx_blocked_at;
		break;
	}
}

bool
qb_streams_ctrl_peek(struct qb_streams *m, struct qb_ctrl_frame *f)
{
	struct qb_stream *s;

	memset(f, 0, sizeof(*f));
	while (m->ctrl != 0) {
		uint8_t bit = m->ctrl & (uint8_t)-m->ctrl;
		if (conn_ctrl_stale(m, bit)) {
			m->ctrl &= (uint8_t)~bit;
			continue;
		}
		conn_ctrl_fill(m, bit, f);
		return true;
	}
	while ((s = TAILQ_FIRST(&m->ctrl_q)) != NULL) {
		uint8_t bit = s->ctrl & (uint8_t)-s->ctrl;
		if (bit == QB_SC_STREAM_DATA_BLOCKED && s->tx_blocked_at != s->tx_max) {
			qb_streams_ctrl_clear(m, s, bit);
			continue;
		}
		stream_ctrl_fill(s, bit, f);
		return true;
	}
	return false;
}

static uint8_t
stream_ctrl_flag(uint8_t type)
{
	switch (type) {
	case QB_FT_RESET_STREAM:
		return QB_SC_RESET_STREAM;
	case QB_FT_STOP_SENDING:
		return QB_SC_STOP_SENDING;
	case QB_FT_MAX_STREAM_DATA:
		return QB_SC_MAX_STREAM_DATA;
	case QB_FT_STREAM_DATA_BLOCKED:
		return QB_SC_STREAM_DATA_BLOCKED;
	}
	return 0;
}

static uint8_t
conn_ctrl_flag(uint8_t type)
{
	switch (type) {
	case QB_FT_MAX_DATA:
		return QB_MC_MAX_DATA;
	case QB_FT_DATA_BLOCKED:
		return QB_MC_DATA_BLOCKED;
	case QB_FT_MAX_STREAMS_BIDI:
		return QB_MC_MAX_STREAMS_BIDI;
	case QB_FT_MAX_STREAMS_UNI:
		return QB_MC_MAX_STREAMS_UNI;
	case QB_FT_STREAMS_BLOCKED_BIDI:
		return QB_MC_SBLOCKED_BIDI;
	case QB_FT_STREAMS_BLOCKED_UNI:
		return QB_MC_SBLOCKED_UNI;
	}
	return 0;
}

void
qb_streams_ctrl_sent(struct qb_streams *m, const struct qb_ctrl_frame *f)
{
	uint8_t flag = conn_ctrl_flag(f->type);
	struct qb_stream *s;

	if (flag != 0) {
		m->ctrl &= (uint8_t)~flag;
		return;
	}
	s = qb_streams_lookup(m, f->stream_id);
	if (s != NULL)
		qb_streams_ctrl_clear(m, s, stream_ctrl_flag(f->type));
}

void
qb_streams_ctrl_lost(struct qb_streams *m, const struct qb_ctrl_frame *f)
{
	uint8_t flag = conn_ctrl_flag(f->type);
	int d = (f->type & 1) ? QB_DIR_UNI : QB_DIR_BIDI;
	struct qb_stream *s;
	bool again = false;

	/* RFC 9000 §13.3: resend only what is still current. */
	switch (f->type) {
	case QB_FT_MAX_DATA:
		again = f->value == m->rx.max;
		break;
	case QB_FT_DATA_BLOCKED:
		again = f->value == m->tx.max && m->tx.used >= m->tx.max;
		break;
	case QB_FT_MAX_STREAMS_BIDI:
	case QB_FT_MAX_STREAMS_UNI:
		again = f->value == m->remote_limit[d];
		break;
	case QB_FT_STREAMS_BLOCKED_BIDI:
	case QB_FT_STREAMS_BLOCKED_UNI:
		again = f->value == m->local_limit[d] && m->local_opened[d] >= m->local_limit[d];
		break;
	}
	if (flag != 0) {
		if (again)
			m->ctrl |= flag;
		return;
	}
	s = qb_streams_lookup(m, f->stream_id);
	if (s == NULL)
		return;
	switch (f->type) {
	case QB_FT_RESET_STREAM:
		again = s->tx_state == QB_SEND_RESET_SENT;
		break;
	case QB_FT_STOP_SENDING:
		again = s->rx_state == QB_RECV_RECV || s->rx_state == QB_RECV_SIZE_KNOWN;
		break;
	case QB_FT_MAX_STREAM_DATA:
		again = s->rx_state == QB_RECV_RECV && f->value == s->rx_max;
		break;
	case QB_FT_STREAM_DATA_BLOCKED:
		again = qb_stream_tx_active(s) && f->value == s->tx_max &&
		        s->sb.sent >= s->tx_max && s->sb.end > s->sb.sent;
		break;
	}
	if (again)
		qb_streams_ctrl_set(m, s, stream_ctrl_flag(f->type));
}

void
qb_streams_ctrl_acked(struct qb_streams *m, const struct qb_ctrl_frame *f)
{
	struct qb_stream *s;

	if (f->type != QB_FT_RESET_STREAM)
		return;
	s = qb_streams_lookup(m, f->stream_id);
	if (s == NULL || s->tx_state != QB_SEND_RESET_SENT)
		return;
	s->tx_state = QB_SEND_RESET_RECVD; /* RFC 9000 §3.1 */
	qb_streams_ctrl_clear(m, s, QB_SC_RESET_STREAM);
	qb_streams_maybe_close(m, s);
}
