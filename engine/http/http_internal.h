/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_HTTP_INTERNAL_H
#define QB_HTTP_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qburst/http.h"

struct nghttp3_conn;

enum qb_http_proto {
	QB_HTTP_HQ = 1,
	QB_HTTP_H3 = 2,
};

#define QB_HTTP_REASON_MAX 128
/* Files from this size on are sent from a read-only mapping (http.c). */
#define QB_HTTP_MAP_MIN    65536

/* One request: a stream of the connection, on either side. */
struct qb_http_req {
	bool used;
	bool opened; /* client: the stream exists */
	uint64_t id;
	/* Server. */
	char line[QB_HTTP_PATH_MAX + 16]; /* hq request line so far */
	size_t line_len;
	bool parsed;  /* request understood (or refused) */
	bool rx_done; /* request side read to its end (or reset) */
	bool tx_done; /* response FIN written, or the stream reset */
	bool is_get;  /* h3: GET (else HEAD) */
	int method;   /* h3: 0 none, 1 GET, 2 HEAD, 3 other */
	int fd;       /* file being sent (-1: none) */
	uint64_t off, size;
	/* h3 server data reader: bytes handed to nghttp3 and acked back; the
	 * handed bytes live in body until acked. hq: given is the time of the
	 * last short write. */
	uint64_t given, acked;
	uint8_t *body;
	const uint8_t *map; /* the whole file mapped (size bytes), or NULL: pread */
	bool waiting;       /* the reader said WOULDBLOCK: resume once acked */
	bool resume;        /* resume the stream at the next flush */
	bool failed;        /* reading the file failed: reset the stream */
	/* Client. */
	size_t index; /* in h->results */
};

struct qb_http_out;

struct qb_http_client_req {
	char *path;
	struct qb_http_out *out; /* the output file while open */
	bool started, done, ok;
	int status;
	uint64_t bytes;
	uint64_t stream_id;
	char reason[QB_HTTP_REASON_MAX];
};

/* An HTTP/3 stream that the core refused bytes on (nghttp3_conn_block_stream). */
struct qb_h3_blocked {
	uint64_t id;
	uint64_t since; /* ns */
};

struct qb_http {
	struct qb_conn *conn;
	bool server;
	enum qb_http_proto proto; /* 0 until known */
	bool started;             /* protocol set up (h3 streams bound) */
	bool failed;
	uint64_t now;
	/* Server. */
	char root[PATH_MAX]; /* realpath of www_root */
	size_t root_len;
	struct qb_http_server_stats stats;
	/* Requests by stream (both sides). */
	struct qb_http_req *reqs;
	size_t nreqs;
	/* Client. */
	char *authority;
	char *downloads;
	struct qb_http_client_req *results;
	size_t nresults, next_start;
	char reason[QB_HTTP_REASON_MAX + 64];
	/* HTTP/3. */
	struct nghttp3_conn *h3;
	bool h3_todo; /* some request wants a resume or a reset (h3_resume) */
	/* The stream nghttp3 is reading in place (-1: none), and a STOP_SENDING
	 * for it held until that read returns (h3.c). */
	int64_t reading;
	bool stop_pending;
	uint64_t stop_code;
	struct qb_h3_blocked *h3_blocked;
	size_t nblocked, cap_blocked;
	/* Server: mapped files of dropped requests whose stream may still
	 * resend from them (qb_http_stream_write), unmapped once it cannot. */
	struct qb_http_map *maps;
	size_t nmaps, cap_maps;
	/* Scratch: file chunks (server), stream reads (both). */
	uint8_t buf[QB_HTTP_CHUNK];
};

struct qb_http_map {
	const uint8_t *map;
	uint64_t size;
	uint64_t id; /* the stream that may point into it */
};

/* http.c */
/*
 * Writes into stream id (of request r, or NULL): bytes inside r's mapped
 * file by reference (qb_streams_write_ref; the mapping then lives until the
 * stream no longer needs it), others copied. As qb_conn_stream_write.
 */
int64_t qb_http_stream_write(struct qb_http *h, const struct qb_http_req *r, uint64_t id,
                             const uint8_t *data, size_t len, bool fin);
struct qb_http_req *qb_http_req_find(struct qb_http *h, uint64_t id);
struct qb_http_req *qb_http_req_add(struct qb_http *h, uint64_t id);
void qb_http_req_drop(struct qb_http *h, struct qb_http_req *r);
/* Resolves path under the root and opens it: 200 with r->fd and r->size,
 * or 400/403/404 (r->fd stays -1). */
int qb_http_open_file(struct qb_http *h, struct qb_http_req *r, const char *path, size_t len);
/* Client: opens the output file of result i; false with the reason set. */
bool qb_http_client_open_out(struct qb_http *h, size_t i);
void qb_http_client_finish(struct qb_http *h, size_t i, bool ok, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/*
 * Client: opens a bidirectional stream for the next queued request
 * (h->next_start), binds a request record and the output file to it.
 * Returns 1 with *out and *idx set; 0 when the peer's stream limit stops
 * us (MAX_STREAMS lets the rest go later); -1 when that request was skipped
 * or failed (already finished with its reason; the caller goes on). err_internal /
 * err_cancel are the protocol's codes for the resets.
 */
int qb_http_client_open_next(struct qb_http *h, uint64_t err_internal, uint64_t err_cancel,
                             struct qb_http_req **out, size_t *idx);
/* Writes body bytes to result i's file; false (and the request failed) on error. */
bool qb_http_client_body(struct qb_http *h, size_t i, const uint8_t *data, size_t len);

/* out.c: a download's output file (O_DIRECT and native AIO where the
 * filesystem takes them, write(2) elsewhere). Errors are positive errno
 * values. */
struct qb_http_out *qb_http_out_open(const char *name, int *err);
int qb_http_out_write(struct qb_http_out *o, const uint8_t *data, size_t len);
/* Flushes (keep) or abandons the file, closes it and frees o. */
int qb_http_out_close(struct qb_http_out *o, bool keep);

/* hq.c */
int qb_hq_on_stream(struct qb_http *h, uint64_t id, unsigned events);
int qb_hq_pump(struct qb_http *h);

/* h3.c */
int qb_h3_start(struct qb_http *h);
int qb_h3_on_stream(struct qb_http *h, uint64_t id, unsigned events);
int qb_h3_pump(struct qb_http *h);
void qb_h3_free(struct qb_http *h);
/* Client: abandons request r (STOP_SENDING, RESET_STREAM, forgotten). */
void qb_h3_cancel(struct qb_http *h, struct qb_http_req *r);

#endif
