/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The HTTP layer's common part: object life cycle, dispatch to HTTP/0.9
 * (hq.c) or HTTP/3 (h3.c), the request table, file resolution under the
 * www root and the client's output files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qburst/conn.h"
#include "qburst/error.h"
#include "qburst/stream.h"
#include "http_internal.h"

static void maps_reap(struct qb_http *h, bool all);

static enum qb_http_proto
proto_of(const char *alpn)
{
	if (alpn == NULL)
		return 0;
	if (strcmp(alpn, "h3") == 0)
		return QB_HTTP_H3;
	if (strcmp(alpn, "hq-interop") == 0)
		return QB_HTTP_HQ;
	return 0;
}

static struct qb_http *
http_alloc(struct qb_conn *conn, const char *alpn, bool server)
{
	if (conn == NULL || (alpn != NULL && proto_of(alpn) == 0))
		return NULL;
	struct qb_http *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->conn = conn;
	h->server = server;
	h->proto = proto_of(alpn);
	return h;
}

struct qb_http *
qb_http_server_new(struct qb_conn *conn, const char *www_root, const char *alpn)
{
	struct stat st;

	if (www_root == NULL)
		return NULL;
	struct qb_http *h = http_alloc(conn, alpn, true);
	if (h == NULL)
		return NULL;
	if (realpath(www_root, h->root) == NULL || stat(h->root, &st) != 0 ||
	    !S_ISDIR(st.st_mode)) {
		free(h);
		return NULL;
	}
	h->root_len = strlen(h->root);
	/* "/" as the root: every resolved path is inside; keep the check simple. */
	if (h->root_len == 1)
		h->root_len = 0;
	return h;
}

struct qb_http *
qb_http_client_new(struct qb_conn *conn, const char *alpn, const char *authority,
                   const char *const *paths, size_t n, const char *downloads_dir)
{
	if (downloads_dir == NULL || (n > 0 && paths == NULL))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (paths[i] == NULL || paths[i][0] != '/' || strlen(paths[i]) > QB_HTTP_PATH_MAX)
			return NULL;
	struct qb_http *h = http_alloc(conn, alpn, false);
	if (h == NULL)
		return NULL;
	h->authority = strdup(authority != NULL ? authority : "localhost");
	h->downloads = strdup(downloads_dir);
	h->results = calloc(n ? n : 1, sizeof(*h->results));
	if (h->authority == NULL || h->downloads == NULL || h->results == NULL)
		goto fail;
	h->nresults = n;
	for (size_t i = 0; i < n; i++) {
		h->results[i].path = strdup(paths[i]);
		if (h->results[i].path == NULL)
			goto fail;
	}
	return h;
fail:
	qb_http_free(h);
	return NULL;
}

int
qb_http_client_add(struct qb_http *h, const char *path)
{
	if (h == NULL || h->server || path == NULL || path[0] != '/' ||
	    strlen(path) > QB_HTTP_PATH_MAX)
		return QB_ERR_ARG;
	struct qb_http_client_req *t = realloc(h->results, (h->nresults + 1) * sizeof(*t));
	if (t == NULL)
		return QB_ERR_NOMEM;
	h->results = t;
	struct qb_http_client_req *c = &t[h->nresults];
	memset(c, 0, sizeof(*c));
	c->path = strdup(path);
	if (c->path == NULL)
		return QB_ERR_NOMEM;
	h->nresults++;
	return 0;
}

void
qb_http_free(struct qb_http *h)
{
	if (h == NULL)
		return;
	qb_h3_free(h);
	for (size_t i = 0; i < h->nreqs; i++)
		if (h->reqs[i].used)
			qb_http_req_drop(h, &h->reqs[i]);
	maps_reap(h, true);
	free(h->maps);
	for (size_t i = 0; i < h->nresults; i++) {
		qb_http_out_close(h->results[i].out, false);
		free(h->results[i].path);
	}
	free(h->results);
	free(h->reqs);
	free(h->authority);
	free(h->downloads);
	free(h->h3_blocked);
	free(h);
}

/* ---- Request table ---------------------------------------------------------- */

struct qb_http_req *
qb_http_req_find(struct qb_http *h, uint64_t id)
{
	for (size_t i = 0; i < h->nreqs; i++)
		if (h->reqs[i].used && h->reqs[i].id == id)
			return &h->reqs[i];
	return NULL;
}

struct qb_http_req *
qb_http_req_add(struct qb_http *h, uint64_t id)
{
	struct qb_http_req *r = NULL;

	for (size_t i = 0; i < h->nreqs && r == NULL; i++)
		if (!h->reqs[i].used)
			r = &h->reqs[i];
	if (r == NULL) {
		size_t n = h->nreqs ? 2 * h->nreqs : 16;
		struct qb_http_req *t = realloc(h->reqs, n * sizeof(*t));
		if (t == NULL)
			return NULL;
		memset(t + h->nreqs, 0, (n - h->nreqs) * sizeof(*t));
		h->reqs = t;
		r = &h->reqs[h->nreqs];
		h->nreqs = n;
	}
	memset(r, 0, sizeof(*r));
	r->used = true;
	r->id = id;
	r->fd = -1;
	return r;
}

/* The stream's send side may still read (resend) from its buffer. */
static bool
send_needs_buffer(struct qb_http *h, uint64_t id)
{
	enum qb_send_state st = qb_streams_send_state(qb_conn_streams(h->conn), id);

	return st == QB_SEND_READY || st == QB_SEND_SEND || st == QB_SEND_DATA_SENT;
}

/* Unmaps the files no stream points into any more (all: reset the streams that still do). */
static void
maps_reap(struct qb_http *h, bool all)
{
	for (size_t i = 0; i < h->nmaps;) {
		struct qb_http_map *e = &h->maps[i];
		if (send_needs_buffer(h, e->id)) {
			if (!all) {
				i++;
				continue;
			}
			/* RFC 9000 §19.4: the stream ends here; its buffer is freed. */
			qb_streams_reset(qb_conn_streams(h->conn), e->id,
			                 h->proto == QB_HTTP_H3 ? 0x10c /* H3_REQUEST_CANCELLED */
			                                        : QB_HQ_ERR_INTERNAL);
		}
		munmap((void *)e->map, (size_t)e->size);
		*e = h->maps[--h->nmaps];
	}
}

/* r's mapping: unmapped now, or kept until its stream is done with it. */
static void
map_retire(struct qb_http *h, struct qb_http_req *r)
{
	if (send_needs_buffer(h, r->id)) {
		if (h->nmaps == h->cap_maps) {
			size_t n = h->cap_maps ? 2 * h->cap_maps : 4;
			struct qb_http_map *t = realloc(h->maps, n * sizeof(*t));
			if (t == NULL) {
				/* Cannot keep it: end the stream rather than let it read
				 * unmapped memory. */
				qb_streams_reset(qb_conn_streams(h->conn), r->id,
				                 QB_HQ_ERR_INTERNAL);
				munmap((void *)r->map, (size_t)r->size);
				return;
			}
			h->maps = t;
			h->cap_maps = n;
		}
		h->maps[h->nmaps++] = (struct qb_http_map){r->map, r->size, r->id};
		return;
	}
	munmap((void *)r->map, (size_t)r->size);
}

int64_t
qb_http_stream_write(struct qb_http *h, const struct qb_http_req *r, uint64_t id,
                     const uint8_t *data, size_t len, bool fin)
{
	if (r != NULL && r->map != NULL && len > 0 && data >= r->map &&
	    (uint64_t)(data - r->map) + len <= r->size && qb_conn_state(h->conn) < QB_CONN_CLOSING)
		return qb_streams_write_ref(qb_conn_streams(h->conn), id, data, len, fin);
	return qb_conn_stream_write(h->conn, id, data, len, fin);
}

void
qb_http_req_drop(struct qb_http *h, struct qb_http_req *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	free(r->body);
	r->body = NULL;
	if (r->map != NULL)
		map_retire(h, r);
	r->map = NULL;
	r->used = false;
}

/* ---- Server: files under the root ------------------------------------------- */

int
qb_http_open_file(struct qb_http *h, struct qb_http_req *r, const char *path, size_t len)
{
	char joined[PATH_MAX], real[PATH_MAX];
	struct stat st;

	r->fd = -1;
	/* The path ends at a query (RFC 9110 §4.2.1); it must be absolute. */
	const char *q = memchr(path, '?', len);
	if (q != NULL)
		len = (size_t)(q - path);
	if (len == 0 || path[0] != '/' || len > QB_HTTP_PATH_MAX || memchr(path, '\0', len))
		return 400;
	int n = snprintf(joined, sizeof(joined), "%s%.*s", h->root, (int)len, path);
	if (n < 0 || (size_t)n >= sizeof(joined))
		return 400;
	/* realpath follows every ".." and symlink: what it names is what would
	 * be read, so the containment check is made on it. */
	if (realpath(joined, real) == NULL)
		return 404;
	/* Inside means the root itself or below it ("/www2" is not in "/www"). */
	if (h->root_len > 0 && (strncmp(real, h->root, h->root_len) != 0 ||
	                        (real[h->root_len] != '/' && real[h->root_len] != '\0')))
		return 403;
	int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == EACCES ? 403 : 404;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 404;
	}
	r->fd = fd;
	r->off = 0;
	r->size = (uint64_t)st.st_size;
	/* The body is written into the stream straight from the page cache
	 * through a mapping: no pread copy, no bounce buffer (pread stays the
	 * fallback). Caveat of any mapping: a file truncated while served
	 * faults (SIGBUS); serve files that are replaced, not rewritten. */
	if (r->size >= QB_HTTP_MAP_MIN && r->size <= SIZE_MAX) {
		void *m = mmap(NULL, (size_t)r->size, PROT_READ, MAP_SHARED, fd, 0);
		if (m != MAP_FAILED) {
			madvise(m, (size_t)r->size, MADV_SEQUENTIAL);
			r->map = m;
		}
	}
	return 200;
}

/* ---- Client: output files and outcomes --------------------------------------- */

bool
qb_http_client_open_out(struct qb_http *h, size_t i)
{
	char name[PATH_MAX];
	struct qb_http_client_req *c = &h->results[i];
	const char *base = strrchr(c->path, '/');

	base = base != NULL ? base + 1 : c->path;
	size_t blen = strcspn(base, "?");
	if (blen == 0) {
		base = "index.html";
		blen = strlen(base);
	}
	/* The last component cannot contain '/', and "." or ".." would name a
	 * directory: refuse those rather than write outside downloads. */
	if ((blen == 1 && base[0] == '.') || (blen == 2 && base[0] == '.' && base[1] == '.')) {
		qb_http_client_finish(h, i, false, "%s: bad file name", c->path);
		return false;
	}
	int n = snprintf(name, sizeof(name), "%s/%.*s", h->downloads, (int)blen, base);
	if (n < 0 || (size_t)n >= sizeof(name)) {
		qb_http_client_finish(h, i, false, "%s: file name too long", c->path);
		return false;
	}
	int err = 0;
	c->out = qb_http_out_open(name, &err);
	if (c->out == NULL) {
		qb_http_client_finish(h, i, false, "%s: cannot create %s: %s", c->path, name,
		                      strerror(err));
		return false;
	}
	return true;
}

void
qb_http_client_finish(struct qb_http *h, size_t i, bool ok, const char *fmt, ...)
{
	struct qb_http_client_req *c = &h->results[i];
	va_list ap;

	if (c->done)
		return;
	c->done = true;
	/* A success only once the whole body is on file. */
	int err = qb_http_out_close(c->out, ok);
	c->out = NULL;
	if (ok && err != 0) {
		ok = false;
		snprintf(c->reason, sizeof(c->reason), "%s: write: %s", c->path, strerror(err));
	} else {
		va_start(ap, fmt);
		vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
		va_end(ap);
	}
	c->ok = ok;
}

bool
qb_http_client_body(struct qb_http *h, size_t i, const uint8_t *data, size_t len)
{
	struct qb_http_client_req *c = &h->results[i];

	if (c->done || c->out == NULL)
		return false;
	int err = qb_http_out_write(c->out, data, len);
	if (err != 0) {
		qb_http_client_finish(h, i, false, "%s: write: %s", c->path, strerror(err));
		return false;
	}
	c->bytes += len;
	return true;
}

/* ---- Driving ------------------------------------------------------------------ */

/* Sets the protocol up once the handshake gave an ALPN. false: not yet. */
static bool
http_start(struct qb_http *h)
{
	if (h->started)
		return true;
	if (h->failed || !qb_conn_handshake_complete(h->conn))
		return false;
	if (h->proto == 0) {
		h->proto = proto_of(qb_conn_alpn(h->conn));
		if (h->proto == 0) {
			/* TLS let an ALPN through that we do not speak. */
			h->failed = true;
			snprintf(h->reason, sizeof(h->reason), "unsupported ALPN %s",
			         qb_conn_alpn(h->conn) ? qb_conn_alpn(h->conn) : "(none)");
			return false;
		}
	}
	if (h->proto == QB_HTTP_H3 && qb_h3_start(h) != 0) {
		h->failed = true;
		snprintf(h->reason, sizeof(h->reason), "HTTP/3 setup failed");
		return false;
	}
	h->started = true;
	return true;
}

int
qb_http_on_stream_events(struct qb_http *h, uint64_t now)
{
	uint64_t id;
	unsigned ev;

	if (h == NULL)
		return QB_ERR_ARG;
	h->now = now;
	if (!http_start(h))
		return h->failed ? QB_ERR_STATE : 0;
	while (qb_conn_stream_next_event(h->conn, &id, &ev)) {
		int rc = h->proto == QB_HTTP_H3 ? qb_h3_on_stream(h, id, ev)
		                                : qb_hq_on_stream(h, id, ev);
		if (rc < 0) {
			h->failed = true;
			return rc;
		}
	}
	return 0;
}

int
qb_http_pump(struct qb_http *h, uint64_t now)
{
	if (h == NULL)
		return QB_ERR_ARG;
	h->now = now;
	if (!http_start(h))
		return h->failed ? QB_ERR_STATE : 0;
	int rc = h->proto == QB_HTTP_H3 ? qb_h3_pump(h) : qb_hq_pump(h);
	if (rc < 0)
		h->failed = true;
	if (h->nmaps > 0)
		maps_reap(h, false);
	return rc;
}

bool
qb_http_client_done(struct qb_http *h, bool *ok, const char **reason)
{
	bool all = true, good = true;
	const char *why = "";

	if (h == NULL || h->server)
		return false;
	for (size_t i = 0; i < h->nresults; i++) {
		struct qb_http_client_req *c = &h->results[i];
		all = all && c->done;
		if (c->done && !c->ok && good) {
			good = false;
			why = c->reason;
		}
	}
	if (!all && (h->failed || qb_conn_state(h->conn) >= QB_CONN_CLOSING)) {
		struct qb_conn_close_info ci;
		if (h->reason[0] == '\0') {
			qb_conn_close_info(h->conn, &ci);
			snprintf(h->reason, sizeof(h->reason),
			         "connection closed (%s%s error %#llx%s%s)",
			         ci.by_peer ? "by peer, " : "",
			         ci.app ? "application" : "transport", (unsigned long long)ci.code,
			         ci.reason[0] ? ": " : "", ci.reason);
		}
		for (size_t i = 0; i < h->nresults; i++)
			qb_http_client_finish(h, i, false, "%s: %s", h->results[i].path, h->reason);
		all = true;
		good = false;
		why = h->reason;
	}
	if (!all)
		return false;
	if (ok != NULL)
		*ok = good;
	if (reason != NULL)
		*reason = why;
	return true;
}

int
qb_http_client_cancel(struct qb_http *h, size_t i)
{
	if (h == NULL || h->server || i >= h->nresults)
		return QB_ERR_ARG;
	struct qb_http_client_req *c = &h->results[i];
	if (c->done)
		return QB_ERR_STATE;
	if (c->started) {
		struct qb_http_req *r = qb_http_req_find(h, c->stream_id);
		if (r != NULL && h->proto == QB_HTTP_H3) {
			qb_h3_cancel(h, r);
		} else if (r != NULL) {
			qb_conn_stream_stop_sending(h->conn, r->id, 0x10c);
			qb_http_req_drop(h, r);
		}
	}
	qb_http_client_finish(h, i, false, "%s: cancelled", c->path);
	return 0;
}

uint64_t
qb_http_close_code(const struct qb_http *h)
{
	return h != NULL && h->proto == QB_HTTP_H3 ? 0x100 : 0;
}

int
qb_http_client_result(const struct qb_http *h, size_t i, struct qb_http_result *out)
{
	if (h == NULL || h->server || i >= h->nresults || out == NULL)
		return QB_ERR_ARG;
	const struct qb_http_client_req *c = &h->results[i];
	*out = (struct qb_http_result){
	        .path = c->path,
	        .done = c->done,
	        .ok = c->ok,
	        .status = c->status,
	        .bytes = c->bytes,
	        .reason = c->reason,
	};
	return 0;
}

void
qb_http_server_stats(const struct qb_http *h, struct qb_http_server_stats *out)
{
	if (h == NULL || out == NULL)
		return;
	*out = h->stats;
}

int
qb_http_client_open_next(struct qb_http *h, uint64_t err_internal, uint64_t err_cancel,
                         struct qb_http_req **out, size_t *idx)
{
	size_t i = h->next_start;
	struct qb_http_client_req *c = &h->results[i];
	uint64_t id;

	if (c->done) { /* cancelled before it started */
		h->next_start++;
		return -1;
	}
	if (qb_conn_stream_open(h->conn, true, &id) != 0)
		return 0;
	h->next_start++;
	struct qb_http_req *r = qb_http_req_add(h, id);
	if (r == NULL) {
		qb_conn_stream_reset(h->conn, id, err_internal);
		qb_http_client_finish(h, i, false, "%s: out of memory", c->path);
		return -1;
	}
	r->index = i;
	r->opened = true;
	c->started = true;
	c->stream_id = id;
	if (!qb_http_client_open_out(h, i)) {
		qb_conn_stream_reset(h->conn, id, err_cancel);
		qb_conn_stream_stop_sending(h->conn, id, err_cancel);
		qb_http_req_drop(h, r);
		return -1;
	}
	*out = r;
	*idx = i;
	return 1;
}
