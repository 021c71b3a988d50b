/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine tests' application, shared: the client opens a stream and sends
 * `request` (hq-interop style); the server answers with XFER_BYTES bytes of a
 * position-dependent pattern; the client checks every byte. The including
 * file defines ALPN, XFER_BYTES (a constant or a variable), `request[]` and
 * `done`, and may define XFER_ON_FIN(now) (run when the FIN
 * arrives) before including this.
 */
#ifndef QB_TEST_XFER_APP_H
#define QB_TEST_XFER_APP_H

#include <criterion/criterion.h>

#include "qb_engine.h"
#include "ring_node.h"

#ifndef XFER_ON_FIN
#define XFER_ON_FIN(now) ((void)(now))
#endif

struct app_conn {
	bool requested; /* client: request sent; server: request read */
	uint64_t sid;
	uint64_t off; /* bytes sent (server) or received and checked (client) */
	uint64_t bad;
	bool fin;
	bool closed; /* QB_ENGINE_EV_CLOSED seen */
};
static struct app_conn app_s, app_c;

static inline uint8_t
pat(uint64_t off)
{
	uint64_t x = off * 0x9e3779b1u;

	return (uint8_t)(x ^ (x >> 13) ^ (off >> 8));
}

static void
server_event(void *arg, struct qb_engine_worker *w, struct qb_engine_conn *ec, unsigned int ev,
             uint64_t now)
{
	static uint8_t chunk[16384];
	struct app_conn *a = ec->user;
	uint64_t id;
	unsigned int sev;

	(void)arg;
	(void)w;
	if (ev & QB_ENGINE_EV_NEW) {
		ec->user = &app_s;
		return;
	}
	if (a == NULL)
		return;
	if (ev & QB_ENGINE_EV_CLOSED) {
		a->closed = true;
		return;
	}
	while (qb_conn_stream_next_event(ec->conn, &id, &sev)) {
		if (!(sev & QB_STREAM_EV_READABLE) || a->requested)
			continue;
		uint8_t req[64];
		bool fin = false;
		int64_t n = qb_conn_stream_read(ec->conn, id, req, sizeof(req), &fin, NULL, now);

		if (n > 0 && fin) {
			cr_assert_eq((size_t)n, sizeof(request) - 1);
			cr_assert_eq(memcmp(req, request, (size_t)n), 0);
			a->requested = true;
			a->sid = id;
		}
	}
	while (a->requested && !a->fin) {
		uint64_t left = XFER_BYTES - a->off;
		size_t len = left < sizeof(chunk) ? (size_t)left : sizeof(chunk);
		int64_t k;

		for (size_t i = 0; i < len; i++)
			chunk[i] = pat(a->off + i);
		k = qb_conn_stream_write(ec->conn, a->sid, chunk, len, len == left);
		if (k <= 0)
			break;
		a->off += (uint64_t)k;
		if (a->off == XFER_BYTES && (size_t)k == len)
			a->fin = true;
		if ((size_t)k < len)
			break;
	}
}

static void
client_event(void *arg, struct qb_engine_worker *w, struct qb_engine_conn *ec, unsigned int ev,
             uint64_t now)
{
	static uint8_t buf[65536];
	struct app_conn *a = ec->user;
	uint64_t id;
	unsigned int sev;

	(void)arg;
	(void)w;
	if (a == NULL)
		return;
	if (ev & QB_ENGINE_EV_CLOSED) {
		a->closed = true;
		return;
	}
	if (!a->requested && qb_conn_handshake_complete(ec->conn)) {
		cr_assert_eq(qb_conn_stream_open(ec->conn, true, &a->sid), 0);
		cr_assert_eq(qb_conn_stream_write(ec->conn, a->sid, (const uint8_t *)request,
		                                  sizeof(request) - 1, true),
		             (int64_t)sizeof(request) - 1);
		a->requested = true;
	}
	while (qb_conn_stream_next_event(ec->conn, &id, &sev)) {
		if (!(sev & QB_STREAM_EV_READABLE) || id != a->sid)
			continue;
		for (;;) {
			bool fin = false;
			int64_t n = qb_conn_stream_read(ec->conn, id, buf, sizeof(buf), &fin, NULL,
			                                now);

			if (n < 0)
				break;
			for (int64_t i = 0; i < n; i++)
				if (buf[i] != pat(a->off + (uint64_t)i))
					a->bad++;
			a->off += (uint64_t)n;
			if (fin) {
				a->fin = true;
				XFER_ON_FIN(now);
				done = true;
				break;
			}
			if (n == 0)
				break;
		}
	}
}

#endif
