/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QBURST_HTTP_H
#define QBURST_HTTP_H

/*
 * The application protocol of one QUIC connection, sans-IO over the stream
 * API of qburst/conn.h: a file server or a fetcher speaking HTTP/3 (ALPN
 * "h3", RFC 9114, through libnghttp3) or HTTP/0.9 (ALPN "hq-interop": the
 * client sends "GET /path\r\n" on a bidirectional stream and ends it; the
 * server answers with the file's bytes and FIN).
 *
 * Driving it (the app's worker, or a test), for each connection:
 *   - after feeding datagrams (qb_conn_recv) or timers, call
 *     qb_http_on_stream_events(): it drains the connection's stream event
 *     queue (qb_conn_stream_next_event) itself, so nobody else may;
 *   - then qb_http_pump(): opens requests, moves response data into the
 *     streams as their send buffers accept it;
 *   - then qb_conn_send() as usual.
 * Both are cheap when nothing is pending. The protocol starts by itself once
 * the handshake is complete and the ALPN is known (HTTP/3 opens its control
 * and QPACK streams then, RFC 9114 §6.2).
 *
 * Server: files are served from www_root. The request path is taken
 * literally (no percent-decoding; a query "?..." is cut off), joined to the
 * root and resolved with realpath(3): a path that resolves outside the root
 * (through "..", or a symlink pointing out) is refused with 403, a missing
 * file or anything but a regular file is 404, a path not starting with '/'
 * is 400. None of these closes the connection. A file is read in chunks
 * (QB_HTTP_CHUNK bytes) as the stream takes them, never whole.
 *   - h3: :status 200 with content-length, 404/403/400 with no body; only
 *     GET and HEAD are served (405 otherwise).
 *   - hq-interop: HTTP/0.9 has no status, so an error resets the stream's
 *     send side (RESET_STREAM, RFC 9000 §19.4) with an application error
 *     code QB_HQ_ERR_* below (the status in hex), and the client reports
 *     it. An empty FIN would be indistinguishable from an empty file.
 *
 * Client: one bidirectional stream per path, all in parallel (as many as
 * the peer's MAX_STREAMS allows at once; the rest follow). Each response
 * body is written to downloads_dir/<last component of the path> (created or
 * truncated; "index.html" when the path ends in '/'). A request fails with
 * a reason on: an h3 status other than 200, a stream reset by the peer, a
 * file that cannot be written, or the connection closing first.
 *
 * Memory: allocation at creation, per request (a small record; h3 also
 * inside nghttp3), and an output buffer of QB_HTTP_CHUNK bytes per
 * connection. File I/O (open, pread, write) happens in these calls: the app
 * calls them from its worker, outside the per-packet path of the engine.
 *
 * Errors: negative enum qb_err. A peer's HTTP/3 protocol error closes the
 * QUIC connection with the RFC 9114 §8.1 code (qb_conn_close), which is not
 * an error of the call.
 *
 * Not thread-safe: one object per connection, on the connection's thread.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct qb_conn;
struct qb_http;

/* Bytes read from a file (and written to a stream) at a time. */
#define QB_HTTP_CHUNK 65536

/* hq-interop: RESET_STREAM application error codes of a refused request. */
#define QB_HQ_ERR_BAD_REQUEST 0x190 /* 400: not "GET /..." or too long */
#define QB_HQ_ERR_FORBIDDEN   0x193 /* 403: escapes the www root */
#define QB_HQ_ERR_NOT_FOUND   0x194 /* 404: missing or not a regular file */
#define QB_HQ_ERR_INTERNAL    0x1f4 /* 500: read error */

/* Longest request path accepted (bytes). */
#define QB_HTTP_PATH_MAX 1024

/*
 * A server for conn (not owned; must outlive the object). www_root must
 * exist (it is resolved once here). alpn: "h3", "hq-interop", or NULL to
 * take the connection's negotiated ALPN once the handshake completes.
 * NULL on a bad argument (unknown alpn, www_root not a directory) or
 * allocation failure.
 */
struct qb_http *qb_http_server_new(struct qb_conn *conn, const char *www_root, const char *alpn);

/*
 * A client fetching paths[0..n-1] (each starting with '/'; copied) from
 * conn's server. authority: the :authority of h3 requests ("host:port";
 * copied; NULL: "localhost"). downloads_dir must exist. alpn as above.
 * NULL on a bad argument or allocation failure.
 */
struct qb_http *qb_http_client_new(struct qb_conn *conn, const char *alpn, const char *authority,
                                   const char *const *paths, size_t n, const char *downloads_dir);

/*
 * Handles every pending stream event of the connection (reads requests,
 * responses, HTTP/3 control and QPACK streams). Returns 0, or a negative
 * qb_err when the object failed for good (HTTP/3 layer error; the
 * connection was closed with an H3 code).
 */
int qb_http_on_stream_events(struct qb_http *h, uint64_t now);

/*
 * Moves data: opens pending requests (client), writes response bodies and
 * HTTP/3 frames as the streams take them. Returns 0 or a negative qb_err as
 * above.
 */
int qb_http_pump(struct qb_http *h, uint64_t now);

/*
 * Client: queues one more request on the same connection (path copied, as
 * in qb_http_client_new); it starts at the next qb_http_pump(). Returns 0,
 * QB_ERR_ARG (bad path, or h is a server), QB_ERR_NOMEM.
 */
int qb_http_client_add(struct qb_http *h, const char *path);

/*
 * Client: true once every request finished (or the connection closed);
 * then *ok says whether every file arrived whole and *reason (static to the
 * object, valid until qb_http_free) names the first failure ("" when ok).
 * When the connection closed first, every unfinished request is marked
 * failed with the connection's close reason (code and reason phrase).
 * false while requests are in flight. Server: always false.
 */
bool qb_http_client_done(struct qb_http *h, bool *ok, const char **reason);

/*
 * Client: abandons request i (e.g. at the app's deadline): STOP_SENDING and
 * RESET_STREAM with H3_REQUEST_CANCELLED (0x10c, also used for hq), its file
 * closed as it is, the request failed with reason "cancelled". Other
 * requests and the connection go on. QB_ERR_ARG (bad i, server),
 * QB_ERR_STATE (already finished).
 */
int qb_http_client_cancel(struct qb_http *h, size_t i);

/*
 * The application error code for closing the connection cleanly once the
 * work is done (qb_conn_close): H3_NO_ERROR 0x100 for HTTP/3 (RFC 9114
 * §8.1), 0 for hq-interop (and before the protocol is known).
 */
uint64_t qb_http_close_code(const struct qb_http *h);

/* Per-request outcome (client), i < n of qb_http_client_new. */
struct qb_http_result {
	const char *path;
	bool done;          /* finished, with success or failure */
	bool ok;            /* complete body (h3: status 200) */
	int status;         /* h3 :status (0: none yet / hq) */
	uint64_t bytes;     /* body bytes received */
	const char *reason; /* failure reason, "" when ok */
};
int qb_http_client_result(const struct qb_http *h, size_t i, struct qb_http_result *out);

/* Server statistics. */
struct qb_http_server_stats {
	uint64_t requests;  /* requests parsed */
	uint64_t responses; /* 200 responses fully written */
	uint64_t errors;    /* 4xx/5xx answers (or hq resets) */
	uint64_t bytes;     /* body bytes written into streams */
};
void qb_http_server_stats(const struct qb_http *h, struct qb_http_server_stats *out);

/*
 * Frees the object (closes its files). Call it while its connection still
 * exists: a server's stream whose send buffer still points into a mapped
 * file (qb_streams_write_ref) is reset, so its buffer is freed before the
 * file is unmapped; nothing else of the connection is touched. NULL ok.
 */
void qb_http_free(struct qb_http *h);

#endif
