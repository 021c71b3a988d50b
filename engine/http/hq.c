/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HTTP/0.9 as the QUIC interop runner uses it (ALPN "hq-interop"): the
 * client sends "GET /path\r\n" on a bidirectional stream and ends it; the
 * server answers with the file's bytes and FIN. There is no status: a
 * refused request gets RESET_STREAM with a QB_HQ_ERR_* code (qburst/http.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "qburst/conn.h"
#include "qburst/error.h"
#include "qburst/stream.h"
#include "http_internal.h"

/* Retry a stream whose last write came up short at most this often (ns),
 * besides on its WRITABLE event: a short write for lack of pool chunks
 * gets no event (qburst/stream.h). */
#define HQ_RETRY_NS    1000000ull
/* Bytes of a mapped file offered per write (the stream takes what fits). */
#define QB_HQ_MAP_STEP (1u << 20)

/* RFC 9000 §2.1: the two low bits of a stream ID. */
static bool
client_bidi(uint64_t id)
{
	return (id & 3) == 0;
}

static void
hq_server_refuse(struct qb_http *h, struct qb_http_req *r, uint64_t code)
{
	qb_conn_stream_reset(h->conn, r->id, code);
	r->tx_done = true;
	h->stats.errors++;
}

/* The request line is complete (or the stream ended): answer it. */
static void
hq_server_parse(struct qb_http *h, struct qb_http_req *r)
{
	static const char get[] = "GET ";
	const char *l = r->line;
	size_t len = r->line_len;

	r->parsed = true;
	h->stats.requests++;
	if (len < sizeof(get) - 1 || memcmp(l, get, sizeof(get) - 1) != 0) {
		hq_server_refuse(h, r, QB_HQ_ERR_BAD_REQUEST);
		return;
	}
	const char *path = l + sizeof(get) - 1;
	size_t plen = strcspn(path, " \r\n");
	if (path + plen > l + len)
		plen = (size_t)(l + len - path);
	switch (qb_http_open_file(h, r, path, plen)) {
	case 200:
		return; /* qb_hq_pump() sends it */
	case 403:
		hq_server_refuse(h, r, QB_HQ_ERR_FORBIDDEN);
		return;
	case 404:
		hq_server_refuse(h, r, QB_HQ_ERR_NOT_FOUND);
		return;
	default:
		hq_server_refuse(h, r, QB_HQ_ERR_BAD_REQUEST);
		return;
	}
}

static void
hq_server_read(struct qb_http *h, uint64_t id)
{
	struct qb_http_req *r = qb_http_req_find(h, id);

	if (r == NULL) {
		if (!client_bidi(id)) {
			/* HTTP/0.9 uses no unidirectional streams: ignore them. */
			qb_conn_stream_stop_sending(h->conn, id, 0);
			return;
		}
		r = qb_http_req_add(h, id);
		if (r == NULL) {
			qb_conn_stream_reset(h->conn, id, QB_HQ_ERR_INTERNAL);
			qb_conn_stream_stop_sending(h->conn, id, QB_HQ_ERR_INTERNAL);
			return;
		}
	}
	while (!r->rx_done) {
		bool fin = false;
		int64_t n;
		if (!r->parsed) {
			/* Keep one byte for the NUL that strcspn relies on. */
			size_t cap = sizeof(r->line) - 1 - r->line_len;
			if (cap == 0) {
				hq_server_refuse(h, r, QB_HQ_ERR_BAD_REQUEST);
				r->parsed = true;
				h->stats.requests++;
				qb_conn_stream_stop_sending(h->conn, id, QB_HQ_ERR_BAD_REQUEST);
				r->rx_done = true;
				break;
			}
			n = qb_conn_stream_read(h->conn, id, (uint8_t *)r->line + r->line_len, cap,
			                        &fin, NULL, h->now);
			if (n > 0) {
				r->line_len += (size_t)n;
				r->line[r->line_len] = '\0';
			}
		} else {
			/* Anything after the request line is not ours to use. */
			n = qb_conn_stream_read(h->conn, id, h->buf, sizeof(h->buf), &fin, NULL,
			                        h->now);
		}
		if (n < 0) {
			/* Reset by the client (QB_ERR_PROTO) or gone: the request is
			 * abandoned, so is the answer. */
			r->rx_done = true;
			if (!r->tx_done) {
				qb_conn_stream_reset(h->conn, id, 0);
				r->tx_done = true;
			}
			break;
		}
		if (fin)
			r->rx_done = true;
		if (!r->parsed && (memchr(r->line, '\n', r->line_len) != NULL || fin))
			hq_server_parse(h, r);
		if (n == 0)
			break;
	}
}

/* The client's side of a response stream. */
static void
hq_client_read(struct qb_http *h, struct qb_http_req *r)
{
	size_t i = r->index;

	for (;;) {
		bool fin = false;
		uint64_t code = 0;
		int64_t n = qb_conn_stream_read(h->conn, r->id, h->buf, sizeof(h->buf), &fin, &code,
		                                h->now);
		if (n < 0) {
			if (n == QB_ERR_PROTO)
				qb_http_client_finish(h, i, false,
				                      "%s: stream reset by server (%s%#llx)",
				                      h->results[i].path,
				                      code == QB_HQ_ERR_NOT_FOUND   ? "not found, "
				                      : code == QB_HQ_ERR_FORBIDDEN ? "forbidden, "
				                                                    : "",
				                      (unsigned long long)code);
			else
				qb_http_client_finish(h, i, false, "%s: stream lost",
				                      h->results[i].path);
			r->rx_done = true;
			break;
		}
		if (n > 0 && !qb_http_client_body(h, i, h->buf, (size_t)n)) {
			qb_conn_stream_stop_sending(h->conn, r->id, QB_HQ_ERR_INTERNAL);
			r->rx_done = true;
			break;
		}
		if (fin) {
			qb_http_client_finish(h, i, true, "%s", "");
			r->rx_done = true;
			break;
		}
		if (n == 0)
			break;
	}
	if (r->rx_done)
		qb_http_req_drop(h, r);
}

int
qb_hq_on_stream(struct qb_http *h, uint64_t id, unsigned events)
{
	struct qb_http_req *r;

	if (!h->server) {
		r = qb_http_req_find(h, id);
		if (r != NULL && (events & QB_STREAM_EV_READABLE))
			hq_client_read(h, r);
		return 0;
	}
	if (events & QB_STREAM_EV_READABLE)
		hq_server_read(h, id);
	r = qb_http_req_find(h, id);
	if (r == NULL)
		return 0;
	if (events & QB_STREAM_EV_STOPPED) {
		/* The client no longer wants the body; the core reset our side. */
		r->tx_done = true;
	}
	if (events & QB_STREAM_EV_WRITABLE)
		r->given = 0; /* the retry time gate: write at the next pump */
	if (r->rx_done && r->tx_done)
		qb_http_req_drop(h, r);
	return 0;
}

/* Writes r's file into its stream until the stream stops taking it. */
static void
hq_server_send(struct qb_http *h, struct qb_http_req *r)
{
	/* r->given holds the time of the last short write (0: none). */
	if (r->given != 0 && h->now - r->given < HQ_RETRY_NS)
		return;
	r->given = 0;
	for (;;) {
		uint64_t left = r->size - r->off;
		size_t want = left < sizeof(h->buf) ? (size_t)left : sizeof(h->buf);
		ssize_t n = 0;
		const uint8_t *src = h->buf;
		if (r->map != NULL) {
			/* Mapped: the stream copies straight from the page cache. */
			src = r->map + r->off;
			n = (ssize_t)(left < QB_HQ_MAP_STEP ? left : QB_HQ_MAP_STEP);
		} else if (want > 0) {
			n = pread(r->fd, h->buf, want, (off_t)r->off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				/* Read error, or the file shrank under us: the body can
				 * no longer match its length; abandon the stream. */
				hq_server_refuse(h, r, QB_HQ_ERR_INTERNAL);
				break;
			}
		}
		bool last = r->off + (uint64_t)n == r->size;
		int64_t w = qb_http_stream_write(h, r, r->id, src, (size_t)n, last);
		if (w == QB_ERR_NOMEM)
			w = 0;
		if (w < 0) {
			/* The stream is gone (reset by a STOP_SENDING, closed). */
			r->tx_done = true;
			break;
		}
		r->off += (uint64_t)w;
		h->stats.bytes += (uint64_t)w;
		if (last && w == n) {
			r->tx_done = true;
			h->stats.responses++;
			break;
		}
		if (w < n) {
			r->given = h->now ? h->now : 1;
			break;
		}
	}
	if (r->tx_done && r->fd >= 0) {
		close(r->fd);
		r->fd = -1;
	}
}

/* Client: opens the streams of requests not yet started and sends them. */
static void
hq_client_start(struct qb_http *h)
{
	char line[QB_HTTP_PATH_MAX + 8];

	while (h->next_start < h->nresults) {
		struct qb_http_req *r;
		size_t i;
		int o = qb_http_client_open_next(h, QB_HQ_ERR_INTERNAL, QB_HQ_ERR_INTERNAL, &r, &i);
		if (o == 0)
			return; /* stream limit: MAX_STREAMS lets the rest go */
		if (o < 0)
			continue;
		struct qb_http_client_req *c = &h->results[i];
		uint64_t id = c->stream_id;
		int n = snprintf(line, sizeof(line), "GET %s\r\n", c->path);
		/* A fresh stream takes a short line whole; the pool being dry is
		 * the only way it does not, and then the request fails. */
		int64_t w =
		        qb_conn_stream_write(h->conn, id, (const uint8_t *)line, (size_t)n, true);
		if (w != n) {
			qb_conn_stream_reset(h->conn, id, QB_HQ_ERR_INTERNAL);
			qb_http_client_finish(h, i, false, "%s: request not sent", c->path);
			qb_http_req_drop(h, r);
		}
	}
}

int
qb_hq_pump(struct qb_http *h)
{
	if (!h->server) {
		hq_client_start(h);
		return 0;
	}
	for (size_t i = 0; i < h->nreqs; i++) {
		struct qb_http_req *r = &h->reqs[i];
		if (!r->used)
			continue;
		if (r->parsed && !r->tx_done && r->fd >= 0)
			hq_server_send(h, r);
		if (r->rx_done && r->tx_done)
			qb_http_req_drop(h, r);
	}
	return 0;
}
