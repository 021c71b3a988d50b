/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The streams of one connection: the stream table, stream IDs and limits
 * (RFC 9000 §2.1, §4.6), transmit scheduling, control frames, flow-control
 * credit and closing. Frame handlers and the application receive side are in
 * stream_frames.c.
 */
#include <stdlib.h>
#include <string.h>

#include "qburst/error.h"
#include "stream_internal.h"

static inline bool
id_is_local(const struct qb_streams *m, uint64_t id)
{
	return (id & QB_STREAM_SERVER_INITIATED) == (m->cfg.is_server ? 1u : 0u);
}

static inline int
id_dir(uint64_t id)
{
	return (id & QB_STREAM_UNIDIRECTIONAL) ? QB_DIR_UNI : QB_DIR_BIDI;
}

static inline uint64_t
min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* --- Stream table: open addressing, never more than half full ------------ */

static inline uint32_t
id_hash(uint64_t id)
{
	return (uint32_t)((id * UINT64_C(0x9E3779B97F4A7C15)) >> 32);
}

struct qb_stream *
qb_streams_lookup(const struct qb_streams *m, uint64_t id)
{
	if (m->last != NULL && m->last->id == id)
		return m->last;
	for (uint32_t i = id_hash(id) & m->mask;; i = (i + 1) & m->mask) {
		struct qb_stream *s = m->table[i];
		if (s == NULL || s->id == id) {
			if (s != NULL)
				((struct qb_streams *)m)->last = s; /* a cache, not state */
			return s;
		}
	}
}

/*
 * The table of a manager with no stream: one empty slot (mask 0), shared
 * and never written, so lookups need no special case and a connection that
 * has no stream open holds no table (qb_streams_trim() comes back to it).
 */
static struct qb_stream *table_none[1];

static void
table_free(struct qb_stream **t)
{
	if (t != table_none)
		free(t);
}

/* Place s in a table known to have a free slot (no count change). */
static void
table_place(struct qb_stream **table, uint32_t mask, struct qb_stream *s)
{
	uint32_t i = id_hash(s->id) & mask;

	while (table[i] != NULL)
		i = (i + 1) & mask;
	table[i] = s;
}

/* Rehash every stream into a new table of size slots (a power of two). */
static int
table_resize(struct qb_streams *m, uint32_t size)
{
	struct qb_stream **t = calloc(size, sizeof(*t)), **old = m->table;
	uint32_t n = m->mask + 1;

	if (t == NULL)
		return QB_ERR_NOMEM;
	for (uint32_t i = 0; i < n; i++)
		if (old[i] != NULL)
			table_place(t, size - 1, old[i]);
	m->table = t;
	m->mask = size - 1;
	table_free(old);
	return 0;
}

/*
 * Room for one more stream, the table kept at most half full: doubled when
 * a new stream would pass that, up to table_max (which holds every stream
 * the limits allow at half load). Allocates only when a stream is opened
 * past the capacity the connection has needed so far: log2(max / start)
 * times at most, never per packet.
 */
static int
table_reserve(struct qb_streams *m)
{
	uint32_t size = m->mask + 1;

	if (2 * (m->count + 1) <= size)
		return 0;
	if (size < QB_STREAMS_TABLE_START)
		return table_resize(m, QB_STREAMS_TABLE_START);
	if (size < m->table_max)
		return table_resize(m, size * 2);
	/* At the bound the limits keep us at half load; never fill the last slot. */
	return m->count + 1 < size ? 0 : QB_ERR_NOMEM;
}

static void
table_insert(struct qb_streams *m, struct qb_stream *s)
{
	table_place(m->table, m->mask, s);
	m->count++;
}

static void
table_remove(struct qb_streams *m, struct qb_stream *s)
{
	uint32_t i = id_hash(s->id) & m->mask, j;

	while (m->table[i] != s)
		i = (i + 1) & m->mask;
	m->table[i] = NULL;
	m->count--;
	if (m->last == s)
		m->last = NULL;
	/* Backward-shift deletion keeps every probe chain unbroken. */
	for (j = (i + 1) & m->mask; m->table[j] != NULL; j = (j + 1) & m->mask) {
		uint32_t k = id_hash(m->table[j]->id) & m->mask;
		bool movable = (i <= j) ? (k <= i || k > j) : (k <= i && k > j);
		if (movable) {
			m->table[i] = m->table[j];
			m->table[j] = NULL;
			i = j;
		}
	}
}

size_t
qb_streams_trim(struct qb_streams *m)
{
	uint32_t size = m->mask + 1, want = QB_STREAMS_TABLE_START;

	if (m->count == 0) {
		if (m->table == table_none)
			return 0;
		table_free(m->table);
		m->table = table_none;
		m->mask = 0;
		return (size_t)size * sizeof(*m->table);
	}
	/* Down to a quarter full at most, so the next stream does not regrow it. */
	while (want < size && want < 4 * m->count)
		want <<= 1;
	if (want >= size || table_resize(m, want) != 0)
		return 0;
	return (size_t)(size - want) * sizeof(*m->table);
}

/* --- Creation ------------------------------------------------------------ */

struct qb_streams *
qb_streams_create(struct qb_stream_pools *p, const struct qb_streams_config *cfg)
{
	const struct qb_stream_params *l = &cfg->local;
	uint64_t want, max = QB_STREAMS_TABLE_START;
	struct qb_streams *m;

	if (l->max_streams_bidi > QB_MAX_STREAMS_LIMIT || l->max_streams_uni > QB_MAX_STREAMS_LIMIT)
		return NULL;
	want = 2 * (l->max_streams_bidi + l->max_streams_uni + cfg->max_local_streams);
	if (want > (UINT64_C(1) << 24))
		return NULL;
	while (max < want)
		max <<= 1;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	/* No table until a stream opens; then table_reserve() doubles it. */
	m->table = table_none;
	m->mask = 0;
	m->table_max = (uint32_t)max;
	m->pools = p;
	m->cfg = *cfg;
	if (m->cfg.max_stream_window < l->max_stream_data_bidi_local)
		m->cfg.max_stream_window = l->max_stream_data_bidi_local;
	if (m->cfg.max_stream_window < l->max_stream_data_bidi_remote)
		m->cfg.max_stream_window = l->max_stream_data_bidi_remote;
	if (m->cfg.max_stream_window < l->max_stream_data_uni)
		m->cfg.max_stream_window = l->max_stream_data_uni;
	m->remote_limit[QB_DIR_BIDI] = l->max_streams_bidi;
	m->remote_limit[QB_DIR_UNI] = l->max_streams_uni;
	m->local_blocked_at[0] = m->local_blocked_at[1] = UINT64_MAX;
	m->rx.max = m->rx.window = l->max_data;
	m->rx.cap = cfg->max_conn_window > l->max_data ? cfg->max_conn_window : l->max_data;
	m->rx.last_update = UINT64_MAX;
	m->tx.blocked_at = UINT64_MAX;
	TAILQ_INIT(&m->send_q);
	TAILQ_INIT(&m->blocked_q);
	TAILQ_INIT(&m->ctrl_q);
	TAILQ_INIT(&m->ev_q);
	return m;
}

static void
stream_release(struct qb_streams *m, struct qb_stream *s)
{
	qb_rbuf_free(&s->rb, m->pools);
	qb_sbuf_free(&s->sb, m->pools);
	qb_pool_put(&m->pools->streams, s);
}

void
qb_streams_destroy(struct qb_streams *m)
{
	if (m == NULL)
		return;
	for (uint32_t i = 0; i <= m->mask; i++)
		if (m->table[i] != NULL)
			stream_release(m, m->table[i]);
	table_free(m->table);
	free(m);
}

/* The send limit the peer's transport parameters give a stream. */
static uint64_t
peer_initial_tx_max(const struct qb_streams *m, uint64_t id)
{
	if (id_dir(id) == QB_DIR_UNI)
		return m->peer.uni;
	/* The peer's "local" limit covers streams the peer opened (RFC 9000 §18.2). */
	return id_is_local(m, id) ? m->peer.bidi_remote : m->peer.bidi_local;
}

static struct qb_stream *
stream_new(struct qb_streams *m, uint64_t id)
{
	struct qb_stream *s = qb_pool_get(&m->pools->streams);
	bool local = id_is_local(m, id), uni = id_dir(id) == QB_DIR_UNI;
	const struct qb_stream_params *l = &m->cfg.local;

	if (s == NULL)
		return NULL;
	if (table_reserve(m) != 0) {
		qb_pool_put(&m->pools->streams, s);
		return NULL;
	}
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->rx_final = UINT64_MAX;
	s->rx_last_update = UINT64_MAX;
	s->tx_blocked_at = UINT64_MAX;
	s->rx_state = (local && uni) ? QB_RECV_NONE : QB_RECV_RECV;
	s->tx_state = (!local && uni) ? QB_SEND_NONE : QB_SEND_READY;
	if (uni)
		s->rx_window = l->max_stream_data_uni;
	else
		s->rx_window =
		        local ? l->max_stream_data_bidi_local : l->max_stream_data_bidi_remote;
	s->rx_max = s->rx_window;
	s->tx_max = peer_initial_tx_max(m, id);
	table_insert(m, s);
	return s;
}

int
qb_streams_set_peer_params(struct qb_streams *m, const struct qb_stream_params *peer,
                           uint64_t *terr)
{
	/* RFC 9000 §4.6: a max_streams above 2^60 is a TRANSPORT_PARAMETER_ERROR. */
	if (peer->max_streams_bidi > QB_MAX_STREAMS_LIMIT ||
	    peer->max_streams_uni > QB_MAX_STREAMS_LIMIT) {
		*terr = QB_TE_TRANSPORT_PARAMETER_ERROR;
		return QB_ERR_PROTO;
	}
	m->peer.bidi_local = peer->max_stream_data_bidi_local;
	m->peer.bidi_remote = peer->max_stream_data_bidi_remote;
	m->peer.uni = peer->max_stream_data_uni;
	if (peer->max_data > m->tx.max)
		m->tx.max = peer->max_data;
	if (peer->max_streams_bidi > m->local_limit[QB_DIR_BIDI])
		m->local_limit[QB_DIR_BIDI] = peer->max_streams_bidi;
	if (peer->max_streams_uni > m->local_limit[QB_DIR_UNI])
		m->local_limit[QB_DIR_UNI] = peer->max_streams_uni;
	/* Streams opened before the parameters arrived (0-RTT) get the credit. */
	for (uint32_t i = 0; i <= m->mask; i++) {
		struct qb_stream *s = m->table[i];
		uint64_t max;
		if (s == NULL || s->tx_state == QB_SEND_NONE)
			continue;
		max = peer_initial_tx_max(m, s->id);
		if (max > s->tx_max)
			s->tx_max = max;
		qb_streams_sched(m, s);
	}
	return 0;
}

void
qb_streams_set_rtt(struct qb_streams *m, uint64_t srtt_ns)
{
	m->srtt = srtt_ns;
}

int
qb_streams_open(struct qb_streams *m, bool bidi, uint64_t *id)
{
	int d = bidi ? QB_DIR_BIDI : QB_DIR_UNI;
	struct qb_stream *s;
	uint64_t sid;

	if (m->local_opened[d] >= m->local_limit[d]) {
		/* RFC 9000 §4.6, §19.14: say so once per limit value. */
		if (m->local_blocked_at[d] != m->local_limit[d]) {
			m->local_blocked_at[d] = m->local_limit[d];
			m->ctrl |= bidi ? QB_MC_SBLOCKED_BIDI : QB_MC_SBLOCKED_UNI;
		}
		return QB_ERR_STATE;
	}
	if (m->local_count >= m->cfg.max_local_streams)
		return QB_ERR_NOMEM;
	sid = m->local_opened[d] << 2 | (m->cfg.is_server ? QB_STREAM_SERVER_INITIATED : 0) |
	      (bidi ? 0 : QB_STREAM_UNIDIRECTIONAL);
	s = stream_new(m, sid);
	if (s == NULL)
		return QB_ERR_NOMEM;
	m->local_opened[d]++;
	m->local_count++;
	*id = sid;
	return 0;
}

int
qb_streams_frame_stream(struct qb_streams *m, uint64_t id, bool recv_frame, struct qb_stream **out,
                        uint64_t *terr)
{
	bool local = id_is_local(m, id), uni = id_dir(id) == QB_DIR_UNI;
	int d = id_dir(id);
	uint64_t n = id >> 2;

	*out = NULL;
	/* RFC 9000 §19.4, §19.5, §19.8, §19.10, §19.13: a receive-side frame on
	 * our send-only stream, or a send-side frame on the peer's send-only
	 * stream, is a STREAM_STATE_ERROR. */
	if (uni && local == recv_frame) {
		*terr = QB_TE_STREAM_STATE_ERROR;
		return QB_ERR_PROTO;
	}
	if (local) {
		/* A frame for a local stream we have not opened yet. */
		if (n >= m->local_opened[d]) {
			*terr = QB_TE_STREAM_STATE_ERROR;
			return QB_ERR_PROTO;
		}
		*out = qb_streams_lookup(m, id); /* NULL: closed, ignore the frame */
		return 0;
	}
	if (n >= m->remote_limit[d]) {
		*terr = QB_TE_STREAM_LIMIT_ERROR; /* RFC 9000 §4.6 */
		return QB_ERR_PROTO;
	}
	if (n < m->remote_opened[d]) {
		*out = qb_streams_lookup(m, id);
		return 0;
	}
	/* RFC 9000 §3.2: opening a stream opens every lower-numbered stream of
	 * its type. The count is bounded by our limit; on pool exhaustion the
	 * ones made so far stay open and the frame is retried later. */
	while (m->remote_opened[d] <= n) {
		uint64_t sid = m->remote_opened[d] << 2 | (id & 3);
		*out = stream_new(m, sid);
		if (*out == NULL)
			return QB_ERR_NOMEM;
		m->remote_opened[d]++;
	}
	return 0;
}

uint32_t
qb_streams_count(const struct qb_streams *m)
{
	return m->count;
}

enum qb_send_state
qb_streams_send_state(const struct qb_streams *m, uint64_t id)
{
	const struct qb_stream *s = qb_streams_lookup(m, id);
	return s != NULL ? (enum qb_send_state)s->tx_state : QB_SEND_NONE;
}

enum qb_recv_state
qb_streams_recv_state(const struct qb_streams *m, uint64_t id)
{
	const struct qb_stream *s = qb_streams_lookup(m, id);
	return s != NULL ? (enum qb_recv_state)s->rx_state : QB_RECV_NONE;
}

/* --- Closing ------------------------------------------------------------- */

bool
qb_streams_maybe_close(struct qb_streams *m, struct qb_stream *s)
{
	bool tx_done = s->tx_state == QB_SEND_NONE || s->tx_state == QB_SEND_DATA_RECVD ||
	               s->tx_state == QB_SEND_RESET_RECVD;
	bool rx_done = s->rx_state == QB_RECV_NONE || s->rx_state == QB_RECV_DATA_READ ||
	               s->rx_state == QB_RECV_RESET_READ;
	uint64_t id = s->id;

	if (!tx_done || !rx_done)
		return false;
	if (s->sq == QB_SQ_SEND)
		TAILQ_REMOVE(&m->send_q, s, sq_link);
	else if (s->sq == QB_SQ_BLOCKED)
		TAILQ_REMOVE(&m->blocked_q, s, sq_link);
	if (s->ctrl != 0)
		TAILQ_REMOVE(&m->ctrl_q, s, ctrl_link);
	if (s->events != 0)
		TAILQ_REMOVE(&m->ev_q, s, ev_link);
	table_remove(m, s);
	stream_release(m, s);
	if (id_is_local(m, id)) {
		m->local_count--;
	} else {
		/* RFC 9000 §4.6: keep the peer's concurrency constant by raising
		 * the limit as its streams close, in steps of half the window. */
		int d = id_dir(id);
		uint64_t initial = d == QB_DIR_BIDI ? m->cfg.local.max_streams_bidi
		                                    : m->cfg.local.max_streams_uni;
		uint64_t next = ++m->remote_closed[d] + initial, step = initial / 2;
		if (step == 0)
			step = 1;
		if (next > QB_MAX_STREAMS_LIMIT)
			next = QB_MAX_STREAMS_LIMIT;
		if (next >= m->remote_limit[d] + step) {
			m->remote_limit[d] = next;
			m->ctrl |=
			        d == QB_DIR_BIDI ? QB_MC_MAX_STREAMS_BIDI : QB_MC_MAX_STREAMS_UNI;
		}
	}
	return true;
}

/* --- Transmit scheduling ------------------------------------------------- */

/* 0: nothing to send; 1: something; 2: only new data and no connection credit. */
static int
stream_want(struct qb_streams *m, struct qb_stream *s)
{
	if (!qb_stream_tx_active(s))
		return 0;
	if (s->sb.lost > 0)
		return 1;
	if (s->sb.end > s->sb.sent) {
		if (s->sb.sent < s->tx_max)
			return m->tx.used < m->tx.max ? 1 : 2;
		/* RFC 9000 §4.1, §19.13: blocked by the stream limit, once per value. */
		if (s->tx_blocked_at != s->tx_max) {
			s->tx_blocked_at = s->tx_max;
			qb_streams_ctrl_set(m, s, QB_SC_STREAM_DATA_BLOCKED);
		}
		return 0;
	}
	return s->fin_pending ? 1 : 0;
}

void
qb_streams_sched(struct qb_streams *m, struct qb_stream *s)
{
	int want = stream_want(m, s);
	enum qb_sq to = want == 1 ? QB_SQ_SEND : want == 2 ? QB_SQ_BLOCKED : QB_SQ_NONE;

	if (want == 2 && m->tx.blocked_at != m->tx.max) {
		m->tx.blocked_at = m->tx.max; /* RFC 9000 §19.12 */
		m->ctrl |= QB_MC_DATA_BLOCKED;
	}
	if (to == s->sq)
		return;
	if (s->sq == QB_SQ_SEND)
		TAILQ_REMOVE(&m->send_q, s, sq_link);
	else if (s->sq == QB_SQ_BLOCKED)
		TAILQ_REMOVE(&m->blocked_q, s, sq_link);
	if (to == QB_SQ_SEND)
		TAILQ_INSERT_TAIL(&m->send_q, s, sq_link);
	else if (to == QB_SQ_BLOCKED)
		TAILQ_INSERT_TAIL(&m->blocked_q, s, sq_link);
	s->sq = (uint8_t)to;
}

/* stream_write's ref: copy, reference, reference with a writable gap. */
#define STREAM_REF     1
#define STREAM_REF_GAP 2

static bool
stream_span(struct qb_streams *m, struct qb_stream *s, size_t max_len, struct qb_send_span *out)
{
	const uint32_t cs = m->pools->chunk_size;
	struct qb_sbuf *sb = &s->sb;
	uint64_t limit;

	memset(out, 0, sizeof(*out));
	out->stream_id = s->id;
	/* Lost data first: it was within the limits when first sent (none, mostly). */
	if (sb->lost > 0 &&
	    qb_sbuf_peek_lost(sb, cs, max_len, &out->offset, &out->data, &out->len, &out->gap)) {
		out->retransmit = true;
		out->fin =
		        s->fin_pending && sb->sent == sb->end && out->offset + out->len == sb->end;
		return true;
	}
	limit = min_u64(s->tx_max, sb->sent + (m->tx.max - m->tx.used));
	out->offset = sb->sent;
	out->len = qb_sbuf_peek_new(sb, cs, limit, max_len, &out->data, &out->gap);
	if (out->len > 0) {
		out->fin = s->fin_pending && out->offset + out->len == sb->end;
		return true;
	}
	if (s->fin_pending && sb->sent == sb->end) {
		out->fin = true; /* a FIN-only frame */
		out->data = NULL;
		return true;
	}
	return false;
}

unsigned
qb_streams_tx_status(const struct qb_streams *m)
{
	unsigned st = 0;

	if (!TAILQ_EMPTY(&m->send_q))
		st |= QB_STREAMS_TX_DATA;
	if (m->ctrl != 0 || !TAILQ_EMPTY(&m->ctrl_q))
		st |= QB_STREAMS_TX_CTRL;
	if (!TAILQ_EMPTY(&m->blocked_q))
		st |= QB_STREAMS_TX_BLOCKED;
	return st;
}

bool
qb_streams_send_peek(struct qb_streams *m, size_t max_len, struct qb_send_span *out)
{
	struct qb_stream *s;

	if (max_len == 0)
		return false;
	while ((s = TAILQ_FIRST(&m->send_q)) != NULL) {
		if (stream_span(m, s, max_len, out))
			return true;
		qb_streams_sched(m, s);
		if (TAILQ_FIRST(&m->send_q) == s) {
			/* Defensive: never spin on a stream that yields nothing. */
			TAILQ_REMOVE(&m->send_q, s, sq_link);
			s->sq = QB_SQ_NONE;
		}
	}
	return false;
}

void
qb_streams_send_commit(struct qb_streams *m, const struct qb_send_span *sent)
{
	struct qb_stream *s = qb_streams_lookup(m, sent->stream_id);
	struct qb_sbuf *sb;
	bool fin;

	if (s == NULL || !qb_stream_tx_active(s))
		return;
	sb = &s->sb;
	fin = sent->fin && s->fin_set && sent->offset + sent->len == sb->end;
	if (sent->offset < sb->sent) {
		qb_sbuf_commit(sb, m->pools->chunk_size, sent->offset, sent->len);
	} else if (sent->offset == sb->sent) {
		uint64_t credit = min_u64(s->tx_max - sb->sent, m->tx.max - m->tx.used);
		if (sent->len > credit || sent->len > sb->end - sb->sent)
			return; /* not what peek offered: refuse rather than overrun */
		qb_sbuf_commit(sb, m->pools->chunk_size, sent->offset, sent->len);
		m->tx.used += sent->len;
	} else {
		return;
	}
	if (fin) {
		s->fin_pending = false;
		s->tx_state = QB_SEND_DATA_SENT; /* RFC 9000 §3.1 */
	} else if (s->tx_state == QB_SEND_READY) {
		s->tx_state = QB_SEND_SEND;
	}
	qb_streams_sched(m, s);
	if (s->sq == QB_SQ_SEND && TAILQ_NEXT(s, sq_link) != NULL) {
		/* Round robin between streams. */
		TAILQ_REMOVE(&m->send_q, s, sq_link);
		TAILQ_INSERT_TAIL(&m->send_q, s, sq_link);
	}
}

void
qb_streams_on_data_acked(struct qb_streams *m, uint64_t id, uint64_t offset, uint64_t len, bool fin)
{
	struct qb_stream *s = qb_streams_lookup(m, id);

	if (s == NULL || !qb_stream_tx_active(s))
		return; /* closed or reset: nothing to keep */
	qb_sbuf_on_acked(&s->sb, m->pools, offset, len);
	if (s->write_blocked && s->sb.end - s->sb.acked < m->cfg.send_buffer_max) {
		s->write_blocked = false;
		qb_streams_event(m, s, QB_STREAM_EV_WRITABLE);
	}
	if (fin && s->fin_set) {
		s->fin_acked = true;
		s->fin_pending = false;
	}
	if (s->fin_acked && s->sb.acked == s->sb.end) {
		/* RFC 9000 §3.1: every byte and the FIN acknowledged. */
		s->tx_state = QB_SEND_DATA_RECVD;
		qb_sbuf_free(&s->sb, m->pools);
		qb_streams_ctrl_clear(m, s, QB_SC_STREAM_DATA_BLOCKED);
		qb_streams_sched(m, s);
		qb_streams_maybe_close(m, s);
		return;
	}
	qb_streams_sched(m, s);
}

void
qb_streams_on_data_lost(struct qb_streams *m, uint64_t id, uint64_t offset, uint64_t len, bool fin)
{
	struct qb_stream *s = qb_streams_lookup(m, id);

	if (s == NULL || !qb_stream_tx_active(s))
		return; /* RFC 9000 §19.4: no retransmission after RESET_STREAM */
	qb_sbuf_on_lost(&s->sb, m->pools->chunk_size, offset, len);
	if (fin && s->fin_set && !s->fin_acked)
		s->fin_pending = true;
	qb_streams_sched(m, s);
}

/* --- Application send side ----------------------------------------------- */

static int64_t
stream_write(struct qb_streams *m, uint64_t id, const uint8_t *data, size_t len, bool fin, int ref)
{
	struct qb_stream *s = qb_streams_lookup(m, id);
	uint64_t room = len;
	size_t took;

	if (s == NULL || (s->tx_state != QB_SEND_READY && s->tx_state != QB_SEND_SEND) ||
	    s->fin_set)
		return QB_ERR_STATE;
	if (m->cfg.send_buffer_max != 0) {
		uint64_t held = s->sb.end - s->sb.acked;
		room = held >= m->cfg.send_buffer_max ? 0 : m->cfg.send_buffer_max - held;
	}
	if (s->sb.end + min_u64(len, room) > QB_STREAM_MAX_OFFSET)
		return QB_ERR_ARG;
	if (ref)
		took = qb_sbuf_append_ref(&s->sb, m->pools, data, (size_t)min_u64(len, room),
		                          ref == STREAM_REF_GAP);
	else
		took = qb_sbuf_append(&s->sb, m->pools, data, (size_t)min_u64(len, room));
	/* Short of the buffer limit: say when acks make room. (Short of pool
	 * chunks is a global condition the application retries on its own.) */
	if (took < len && took == room)
		s->write_blocked = true;
	if (took == 0 && len > 0) {
		qb_streams_sched(m, s);
		return room == 0 ? 0 : QB_ERR_NOMEM;
	}
	if (fin && took == len) {
		s->fin_set = true;
		s->fin_pending = true;
	}
	qb_streams_sched(m, s);
	return (int64_t)took;
}

int64_t
qb_streams_write(struct qb_streams *m, uint64_t id, const uint8_t *data, size_t len, bool fin)
{
	return stream_write(m, id, data, len, fin, 0);
}

int64_t
qb_streams_write_ref(struct qb_streams *m, uint64_t id, const uint8_t *data, size_t len, bool fin)
{
	return stream_write(m, id, data, len, fin, STREAM_REF);
}

int64_t
qb_streams_write_ref_gap(struct qb_streams *m, uint64_t id, uint8_t *data, size_t len, bool fin)
{
	return stream_write(m, id, data, len, fin, STREAM_REF_GAP);
}

void
qb_streams_do_reset(struct qb_streams *m, struct qb_stream *s, uint64_t error_code)
{
	/* RFC 9000 §3.1, §19.4: the final size is all the credit we used. */
	s->tx_state = QB_SEND_RESET_SENT;
	s->tx_err = error_code;
	s->tx_final = s->sb.sent;
	s->fin_pending = false;
	qb_sbuf_free(&s->sb, m->pools);
	qb_streams_ctrl_clear(m, s, QB_SC_STREAM_DATA_BLOCKED);
	qb_streams_ctrl_set(m, s, QB_SC_RESET_STREAM);
	qb_streams_sched(m, s);
}

int
qb_streams_reset(struct qb_streams *m, uint64_t id, uint64_t error_code)
{
	struct qb_stream *s = qb_streams_lookup(m, id);

	if (s == NULL || !qb_stream_tx_active(s))
		return QB_ERR_STATE;
	qb_streams_do_reset(m, s, error_code);
	return 0;
}

bool
qb_streams_stop_requested(const struct qb_streams *m, uint64_t id, uint64_t *error_code)
{
	const struct qb_stream *s = qb_streams_lookup(m, id);

	if (s == NULL || !s->stop_received)
		return false;
	if (error_code != NULL)
		*error_code = s->peer_stop_err;
	return true;
}

/* --- Flow-control figures ------------------------------------------------ */

void
qb_streams_get_fc(const struct qb_streams *m, struct qb_streams_fc *fc)
{
	fc->rx_max = m->rx.max;
	fc->rx_window = m->rx.window;
	fc->rx_highest = m->rx.highest;
	fc->rx_consumed = m->rx.consumed;
	fc->tx_max = m->tx.max;
	fc->tx_used = m->tx.used;
}

uint64_t
qb_streams_rx_window(const struct qb_streams *m, uint64_t id)
{
	const struct qb_stream *s = qb_streams_lookup(m, id);
	return s != NULL ? s->rx_window : 0;
}

uint64_t
qb_streams_rx_max(const struct qb_streams *m, uint64_t id)
{
	const struct qb_stream *s = qb_streams_lookup(m, id);
	return s != NULL ? s->rx_max : 0;
}
