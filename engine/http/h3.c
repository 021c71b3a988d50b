/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HTTP/3 (RFC 9114) through libnghttp3 0.8, over qb_conn streams. nghttp3
 * does the framing and QPACK (RFC 9204; no dynamic table: we advertise a
 * capacity of 0, so no stream ever blocks on the encoder stream); this file
 * moves bytes between it and the QUIC streams:
 *   - received bytes of every stream go to nghttp3_conn_read_stream (the
 *     core returns flow-control credit as we read: the HTTP layer does not
 *     hold data back);
 *   - nghttp3_conn_writev_stream's output is copied into the streams by
 *     qb_conn_stream_write. The core keeps the bytes until they are
 *     acknowledged and retransmits them itself, so they count as
 *     acknowledged for nghttp3 as soon as the core took them: that lets
 *     nghttp3 free its frames at once and releases our body buffers early;
 *   - a stream that takes fewer bytes than offered is blocked in nghttp3
 *     until its WRITABLE event (or a short retry delay, for a pool that ran
 *     dry, which raises no event).
 * A response body is read from its file in QB_H3_BODY_BUF chunks, one
 * outstanding per stream, as nghttp3 asks for it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nghttp3/nghttp3.h>

#include "qburst/conn.h"
#include "qburst/error.h"
#include "qburst/stream.h"
#include "http_internal.h"

#define QB_H3_BODY_BUF 32768
/* Bytes of a mapped file per DATA frame: nghttp3 asks again as the stream drains. */
#define QB_H3_MAP_STEP 65536u
#define QB_H3_RETRY_NS 1000000ull /* retry of a blocked stream without event */
#define QB_H3_VECS     16

/* A fatal HTTP/3 error: close the connection with its code (RFC 9114 §8). */
static int
h3_fatal(struct qb_http *h, int rv)
{
	if (!h->failed) {
		h->failed = true;
		snprintf(h->reason, sizeof(h->reason), "HTTP/3 error: %s", nghttp3_strerror(rv));
		qb_conn_close(h->conn, nghttp3_err_infer_quic_app_error_code(rv), "h3", h->now);
	}
	return QB_ERR_PROTO;
}

/* STOP_SENDING for stream id, held while nghttp3 reads that stream's bytes in place. */
static void
h3_stop_sending(struct qb_http *h, int64_t id, uint64_t code)
{
	if (id == h->reading) {
		h->stop_pending = true;
		h->stop_code = code;
		return;
	}
	qb_conn_stream_stop_sending(h->conn, (uint64_t)id, code);
}

static struct qb_http_req *
req_of(struct qb_http *h, int64_t id)
{
	return id < 0 ? NULL : qb_http_req_find(h, (uint64_t)id);
}

/* Both halves of a request stream are over: let nghttp3 forget it. */
static void
h3_maybe_close(struct qb_http *h, struct qb_http_req *r)
{
	if (r->rx_done && r->tx_done) {
		uint64_t id = r->id;
		qb_http_req_drop(h, r);
		nghttp3_conn_close_stream(h->h3, (int64_t)id, NGHTTP3_H3_NO_ERROR);
	}
}

/* ---- nghttp3 callbacks ------------------------------------------------------- */

static int
cb_acked(nghttp3_conn *c, int64_t id, uint64_t n, void *uh, void *us)
{
	struct qb_http *h = uh;
	struct qb_http_req *r = req_of(h, id);

	(void)c;
	(void)us;
	if (r == NULL)
		return 0;
	r->acked += n;
	if (r->acked == r->given && r->waiting) {
		r->waiting = false;
		r->resume = true;
		h->h3_todo = true;
	}
	return 0;
}

static int
cb_stream_close(nghttp3_conn *c, int64_t id, uint64_t code, void *uh, void *us)
{
	struct qb_http *h = uh;
	struct qb_http_req *r = req_of(h, id);

	(void)c;
	(void)us;
	if (r == NULL)
		return 0;
	if (!h->server)
		qb_http_client_finish(h, r->index, false, "%s: stream closed (code %#" PRIx64 ")",
		                      h->results[r->index].path, code);
	qb_http_req_drop(h, r);
	return 0;
}

static int
cb_recv_data(nghttp3_conn *c, int64_t id, const uint8_t *data, size_t len, void *uh, void *us)
{
	struct qb_http *h = uh;
	struct qb_http_req *r = req_of(h, id);

	(void)c;
	(void)us;
	if (h->server || r == NULL)
		return 0; /* a request body: not used */
	struct qb_http_client_req *cr = &h->results[r->index];
	if (cr->status != 200 || cr->done)
		return 0; /* an error page is not the file */
	if (!qb_http_client_body(h, r->index, data, len)) {
		nghttp3_conn_shutdown_stream_read(h->h3, id);
		h3_stop_sending(h, id, NGHTTP3_H3_REQUEST_CANCELLED);
	}
	return 0;
}

static int
cb_begin_headers(nghttp3_conn *c, int64_t id, void *uh, void *us)
{
	struct qb_http *h = uh;

	(void)c;
	(void)us;
	if (h->server && req_of(h, id) == NULL && qb_http_req_add(h, (uint64_t)id) == NULL)
		return NGHTTP3_ERR_CALLBACK_FAILURE;
	return 0;
}

static int
cb_recv_header(nghttp3_conn *c, int64_t id, int32_t token, nghttp3_rcbuf *name,
               nghttp3_rcbuf *value, uint8_t flags, void *uh, void *us)
{
	struct qb_http *h = uh;
	struct qb_http_req *r = req_of(h, id);
	nghttp3_vec v = nghttp3_rcbuf_get_buf(value);

	(void)c;
	(void)name;
	(void)flags;
	(void)us;
	if (r == NULL)
		return 0;
	if (h->server && token == NGHTTP3_QPACK_TOKEN__PATH) {
		/* Too long: keep nothing, answered 400 by qb_http_open_file. */
		size_t n = v.len < sizeof(r->line) - 1 ? v.len : 0;
		memcpy(r->line, v.base, n);
		r->line[n] = '\0';
		r->line_len = n;
	} else if (h->server && token == NGHTTP3_QPACK_TOKEN__METHOD) {
		if (v.len == 3 && memcmp(v.base, "GET", 3) == 0)
			r->method = 1;
		else if (v.len == 4 && memcmp(v.base, "HEAD", 4) == 0)
			r->method = 2;
		else
			r->method = 3;
	} else if (!h->server && token == NGHTTP3_QPACK_TOKEN__STATUS) {
		int st = 0;
		for (size_t i = 0; i < v.len && i < 3; i++)
			st = st * 10 + (v.base[i] - '0');
		h->results[r->index].status = st;
	}
	return 0;
}

static nghttp3_ssize
cb_read_body(nghttp3_conn *c, int64_t id, nghttp3_vec *vec, size_t veccnt, uint32_t *pflags,
             void *uh, void *us)
{
	struct qb_http *h = uh;
	struct qb_http_req *r = req_of(h, id);

	(void)c;
	(void)us;
	if (r == NULL || veccnt == 0 || r->fd < 0 || r->failed) {
		*pflags |= NGHTTP3_DATA_FLAG_EOF;
		return 0;
	}
	if (r->map != NULL) {
		/* Mapped: nghttp3 may hold any part of it until the stream ends. */
		uint64_t left = r->size - r->off;
		size_t n = left < QB_H3_MAP_STEP ? (size_t)left : QB_H3_MAP_STEP;
		vec[0].base = (uint8_t *)r->map + r->off;
		vec[0].len = n;
		r->off += n;
		h->stats.bytes += n;
		if (r->off == r->size) {
			*pflags |= NGHTTP3_DATA_FLAG_EOF;
			close(r->fd);
			r->fd = -1;
			h->stats.responses++;
		}
		return 1;
	}
	if (r->acked != r->given) {
		/* The one body buffer is still in nghttp3's hands. */
		r->waiting = true;
		return NGHTTP3_ERR_WOULDBLOCK;
	}
	uint64_t left = r->size - r->off;
	size_t want = left < QB_H3_BODY_BUF ? (size_t)left : QB_H3_BODY_BUF;
	ssize_t n;
	do
		n = pread(r->fd, r->body, want, (off_t)r->off);
	while (n < 0 && errno == EINTR);
	if (n <= 0 && want > 0) {
		/* The length promised in content-length cannot be kept: the
		 * stream is reset at the next flush. */
		r->failed = true;
		r->waiting = true;
		h->h3_todo = true;
		return NGHTTP3_ERR_WOULDBLOCK;
	}
	r->off += (uint64_t)n;
	r->given += (uint64_t)n;
	h->stats.bytes += (uint64_t)n;
	vec[0].base = r->body;
	vec[0].len = (size_t)n;
	if (r->off == r->size) {
		*pflags |= NGHTTP3_DATA_FLAG_EOF;
		close(r->fd);
		r->fd = -1;
		h->stats.responses++;
	}
	return 1;
}

static int
h3_respond(struct qb_http *h, struct qb_http_req *r)
{
	char status[4], clen[24];
	int st;

	h->stats.requests++;
	if (r->method != 1 && r->method != 2)
		st = 405;
	else
		st = qb_http_open_file(h, r, r->line, r->line_len);
	if (st == 200 && r->size > 0 && r->method == 1 && r->map == NULL) {
		r->body = malloc(QB_H3_BODY_BUF);
		if (r->body == NULL) {
			close(r->fd);
			r->fd = -1;
			st = 500;
		}
	}
	snprintf(status, sizeof(status), "%d", st);
	snprintf(clen, sizeof(clen), "%" PRIu64, st == 200 ? r->size : 0);
	const nghttp3_nv nv[] = {
	        {(uint8_t *)":status", (uint8_t *)status, 7, strlen(status), 0},
	        {(uint8_t *)"server", (uint8_t *)"qburst", 6, 6, 0},
	        {(uint8_t *)"content-length", (uint8_t *)clen, 14, strlen(clen), 0},
	};
	static const nghttp3_data_reader dr = {.read_data = cb_read_body};
	bool body = st == 200 && (r->body != NULL || r->map != NULL);
	if (st != 200)
		h->stats.errors++;
	else if (!body) {
		h->stats.responses++;
		if (r->fd >= 0) {
			close(r->fd);
			r->fd = -1;
		}
	}
	int rv = nghttp3_conn_submit_response(h->h3, (int64_t)r->id, nv, 3, body ? &dr : NULL);
	if (rv != 0)
		return nghttp3_err_is_fatal(rv) ? h3_fatal(h, rv) : 0;
	return 0;
}

static int
cb_end_stream(nghttp3_conn *c, int64_t id, void *uh, void *us)
{
	struct qb_http *h = uh;
	struct qb_http_req *r = req_of(h, id);

	(void)c;
	(void)us;
	if (r == NULL)
		return 0;
	if (h->server)
		return h3_respond(h, r) < 0 ? NGHTTP3_ERR_CALLBACK_FAILURE : 0;
	struct qb_http_client_req *cr = &h->results[r->index];
	if (cr->status == 200)
		qb_http_client_finish(h, r->index, true, "%s", "");
	else
		qb_http_client_finish(h, r->index, false, "%s: HTTP %d", cr->path, cr->status);
	return 0;
}

static int
cb_stop_sending(nghttp3_conn *c, int64_t id, uint64_t code, void *uh, void *us)
{
	struct qb_http *h = uh;

	(void)c;
	(void)us;
	h3_stop_sending(h, id, code);
	return 0;
}

static int
cb_reset_stream(nghttp3_conn *c, int64_t id, uint64_t code, void *uh, void *us)
{
	struct qb_http *h = uh;

	(void)c;
	(void)us;
	qb_conn_stream_reset(h->conn, (uint64_t)id, code);
	return 0;
}

/* ---- Set-up ------------------------------------------------------------------- */

int
qb_h3_start(struct qb_http *h)
{
	nghttp3_callbacks cb = {
	        .acked_stream_data = cb_acked,
	        .stream_close = cb_stream_close,
	        .recv_data = cb_recv_data,
	        .begin_headers = cb_begin_headers,
	        .recv_header = cb_recv_header,
	        .stop_sending = cb_stop_sending,
	        .end_stream = cb_end_stream,
	        .reset_stream = cb_reset_stream,
	};
	nghttp3_settings s;
	uint64_t ctrl, qenc, qdec;
	int rv;

	nghttp3_settings_default(&s);
	h->reading = -1;
	if (h->server)
		rv = nghttp3_conn_server_new(&h->h3, &cb, &s, NULL, h);
	else
		rv = nghttp3_conn_client_new(&h->h3, &cb, &s, NULL, h);
	if (rv != 0)
		return QB_ERR_NOMEM;
	if (h->server) {
		/* The core enforces MAX_STREAMS itself (RFC 9000 §4.6). */
		nghttp3_conn_set_max_client_streams_bidi(h->h3, UINT64_C(1) << 50);
	}
	/* RFC 9114 §6.2.1, RFC 9204 §4.2: our control and QPACK streams. */
	if (qb_conn_stream_open(h->conn, false, &ctrl) != 0 ||
	    qb_conn_stream_open(h->conn, false, &qenc) != 0 ||
	    qb_conn_stream_open(h->conn, false, &qdec) != 0)
		return QB_ERR_STATE;
	if (nghttp3_conn_bind_control_stream(h->h3, (int64_t)ctrl) != 0 ||
	    nghttp3_conn_bind_qpack_streams(h->h3, (int64_t)qenc, (int64_t)qdec) != 0)
		return QB_ERR_STATE;
	return 0;
}

void
qb_h3_free(struct qb_http *h)
{
	nghttp3_conn_del(h->h3);
	h->h3 = NULL;
}

/* ---- Receiving ------------------------------------------------------------------ */

int
qb_h3_on_stream(struct qb_http *h, uint64_t id, unsigned events)
{
	struct qb_http_req *r;

	if (events & QB_STREAM_EV_WRITABLE) {
		for (size_t i = 0; i < h->nblocked; i++)
			if (h->h3_blocked[i].id == id)
				h->h3_blocked[i].since = 0; /* unblocked at the next flush */
	}
	if (events & QB_STREAM_EV_STOPPED) {
		/* The peer's STOP_SENDING: the core reset our side already. */
		nghttp3_conn_shutdown_stream_write(h->h3, (int64_t)id);
		r = qb_http_req_find(h, id);
		if (r != NULL) {
			r->tx_done = true;
			h3_maybe_close(h, r);
		}
	}
	if (!(events & QB_STREAM_EV_READABLE))
		return 0;
	if (!h->server && (id & 2) == 0 && qb_http_req_find(h, id) == NULL) {
		/* A request we cancelled (nghttp3 forgot it): drain and drop. */
		bool fin = false;
		while (qb_conn_stream_read(h->conn, id, h->buf, sizeof(h->buf), &fin, NULL,
		                           h->now) > 0)
			;
		return 0;
	}
	/*
	 * Zero-copy: nghttp3 parses the bytes where the core reassembled them
	 * (qb_streams_read_peek), then they are consumed. A STOP_SENDING for
	 * this stream asked from inside nghttp3 would free those bytes under
	 * it: h3_stop_sending holds it until nghttp3 returns.
	 */
	struct qb_streams *m = qb_conn_streams(h->conn);
	for (;;) {
		struct qb_read_span sp;
		if (qb_streams_read_peek(m, id, &sp) != 0)
			return 0; /* no such stream (any more) */
		uint64_t code = sp.error_code;
		bool fin = sp.fin;
		if (sp.reset) {
			/* RFC 9114 §4.1.1: a reset request or response. */
			nghttp3_conn_shutdown_stream_read(h->h3, (int64_t)id);
			r = qb_http_req_find(h, id);
			if (r != NULL && !h->server)
				qb_http_client_finish(h, r->index, false,
				                      "%s: stream reset by server (code %#" PRIx64
				                      ")",
				                      h->results[r->index].path, code);
			if (r != NULL && h->server && !r->tx_done) {
				qb_conn_stream_reset(h->conn, id, NGHTTP3_H3_REQUEST_CANCELLED);
				nghttp3_conn_shutdown_stream_write(h->h3, (int64_t)id);
			}
			int rv = nghttp3_conn_close_stream(h->h3, (int64_t)id, code);
			if (rv != 0 && rv != NGHTTP3_ERR_STREAM_NOT_FOUND)
				return h3_fatal(h, rv); /* e.g. a critical stream */
			r = qb_http_req_find(h, id);
			if (r != NULL)
				qb_http_req_drop(h, r);
			return 0;
		}
		if (sp.len == 0 && !fin)
			return 0;
		h->reading = (int64_t)id;
		h->stop_pending = false;
		nghttp3_ssize rv =
		        nghttp3_conn_read_stream(h->h3, (int64_t)id, sp.data, sp.len, fin);
		h->reading = -1;
		if (h->stop_pending) {
			/* Discards the rest: nothing more to read here. */
			qb_conn_stream_stop_sending(h->conn, id, h->stop_code);
			return rv < 0 ? h3_fatal(h, (int)rv) : 0;
		}
		if (rv < 0)
			return h3_fatal(h, (int)rv);
		/* Consuming the fin span finishes the stream, which may free it. */
		qb_streams_read_consume(m, id, sp.len, h->now);
		if (fin) {
			r = qb_http_req_find(h, id);
			if (r != NULL) {
				r->rx_done = true;
				h3_maybe_close(h, r);
			}
			return 0;
		}
	}
}

/* ---- Sending --------------------------------------------------------------------- */

static void
h3_block(struct qb_http *h, int64_t id)
{
	for (size_t i = 0; i < h->nblocked; i++)
		if (h->h3_blocked[i].id == (uint64_t)id)
			return;
	if (h->nblocked == h->cap_blocked) {
		size_t n = h->cap_blocked ? 2 * h->cap_blocked : 8;
		struct qb_h3_blocked *t = realloc(h->h3_blocked, n * sizeof(*t));
		if (t == NULL)
			return; /* not blocked: nghttp3 offers it again at once */
		h->h3_blocked = t;
		h->cap_blocked = n;
	}
	nghttp3_conn_block_stream(h->h3, id);
	h->h3_blocked[h->nblocked++] = (struct qb_h3_blocked){(uint64_t)id, h->now ? h->now : 1};
}

/* Unblocks the streams that had their WRITABLE event or waited long enough. */
static void
h3_unblock(struct qb_http *h)
{
	for (size_t i = 0; i < h->nblocked;) {
		struct qb_h3_blocked *b = &h->h3_blocked[i];
		if (b->since != 0 && h->now - b->since < QB_H3_RETRY_NS) {
			i++;
			continue;
		}
		nghttp3_conn_unblock_stream(h->h3, (int64_t)b->id);
		*b = h->h3_blocked[--h->nblocked];
	}
}

/* Resumes readers whose buffer came back, resets streams whose file failed. */
static int
h3_resume(struct qb_http *h)
{
	if (!h->h3_todo)
		return 0;
	h->h3_todo = false;
	for (size_t i = 0; i < h->nreqs; i++) {
		struct qb_http_req *r = &h->reqs[i];
		if (!r->used)
			continue;
		if (r->failed && !r->tx_done) {
			qb_conn_stream_reset(h->conn, r->id, NGHTTP3_H3_INTERNAL_ERROR);
			nghttp3_conn_shutdown_stream_write(h->h3, (int64_t)r->id);
			r->tx_done = true;
			h->stats.errors++;
			h3_maybe_close(h, r);
			continue;
		}
		if (r->resume) {
			r->resume = false;
			int rv = nghttp3_conn_resume_stream(h->h3, (int64_t)r->id);
			if (rv != 0 && nghttp3_err_is_fatal(rv))
				return h3_fatal(h, rv);
		}
	}
	return 0;
}

/* Client: the requests not yet sent, one new bidirectional stream each. */
static int
h3_client_start(struct qb_http *h)
{
	while (h->next_start < h->nresults) {
		struct qb_http_req *r;
		size_t i;
		int o = qb_http_client_open_next(h, NGHTTP3_H3_INTERNAL_ERROR,
		                                 NGHTTP3_H3_REQUEST_CANCELLED, &r, &i);
		if (o == 0)
			return 0; /* stream limit: MAX_STREAMS lets the rest go */
		if (o < 0)
			continue;
		struct qb_http_client_req *c = &h->results[i];
		uint64_t id = c->stream_id;
		/* RFC 9114 §4.3.1: the request pseudo-header fields. */
		const nghttp3_nv nv[] = {
		        {(uint8_t *)":method", (uint8_t *)"GET", 7, 3, 0},
		        {(uint8_t *)":scheme", (uint8_t *)"https", 7, 5, 0},
		        {(uint8_t *)":authority", (uint8_t *)h->authority, 10, strlen(h->authority),
		         0},
		        {(uint8_t *)":path", (uint8_t *)c->path, 5, strlen(c->path), 0},
		        {(uint8_t *)"user-agent", (uint8_t *)"qburst", 10, 6, 0},
		};
		int rv = nghttp3_conn_submit_request(h->h3, (int64_t)id, nv, 5, NULL, NULL);
		if (rv != 0)
			return h3_fatal(h, rv);
	}
	return 0;
}

int
qb_h3_pump(struct qb_http *h)
{
	nghttp3_vec vec[QB_H3_VECS];

	if (h->failed)
		return QB_ERR_STATE;
	if (!h->server && h3_client_start(h) < 0)
		return QB_ERR_PROTO;
	h3_unblock(h);
	for (int iter = 0; iter < 100000; iter++) {
		if (h3_resume(h) < 0)
			return QB_ERR_PROTO;
		int64_t sid = -1;
		int fin = 0;
		nghttp3_ssize nv = nghttp3_conn_writev_stream(h->h3, &sid, &fin, vec, QB_H3_VECS);
		if (nv < 0)
			return h3_fatal(h, (int)nv);
		if (sid < 0)
			break;
		size_t taken = 0;
		bool shortw = false, gone = false;
		const struct qb_http_req *rq = req_of(h, sid);
		for (nghttp3_ssize i = 0; i < nv && !shortw && !gone; i++) {
			bool last = fin && i == nv - 1;
			int64_t w = qb_http_stream_write(h, rq, (uint64_t)sid, vec[i].base,
			                                 vec[i].len, last);
			if (w == QB_ERR_NOMEM)
				w = 0;
			if (w < 0) {
				gone = true;
				break;
			}
			taken += (size_t)w;
			if ((size_t)w < vec[i].len)
				shortw = true;
		}
		if (nv == 0 && fin &&
		    qb_conn_stream_write(h->conn, (uint64_t)sid, NULL, 0, true) < 0)
			gone = true;
		int rv = nghttp3_conn_add_write_offset(h->h3, sid, taken);
		if (rv == 0 && taken > 0)
			rv = nghttp3_conn_add_ack_offset(h->h3, sid, taken);
		if (rv != 0)
			return h3_fatal(h, rv);
		struct qb_http_req *r = req_of(h, sid);
		if (gone) {
			/* Reset under us (STOP_SENDING): nothing more goes there. */
			nghttp3_conn_shutdown_stream_write(h->h3, sid);
			if (r != NULL) {
				r->tx_done = true;
				h3_maybe_close(h, r);
			}
		} else if (shortw) {
			h3_block(h, sid);
		} else if (fin && r != NULL) {
			r->tx_done = true;
			h3_maybe_close(h, r);
		}
	}
	return 0;
}

void
qb_h3_cancel(struct qb_http *h, struct qb_http_req *r)
{
	uint64_t id = r->id;

	nghttp3_conn_shutdown_stream_read(h->h3, (int64_t)id);
	qb_conn_stream_stop_sending(h->conn, id, NGHTTP3_H3_REQUEST_CANCELLED);
	if (!r->tx_done)
		qb_conn_stream_reset(h->conn, id, NGHTTP3_H3_REQUEST_CANCELLED);
	qb_http_req_drop(h, r);
	nghttp3_conn_close_stream(h->h3, (int64_t)id, NGHTTP3_H3_REQUEST_CANCELLED);
}
