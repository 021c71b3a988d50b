/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The HTTP layer end to end over the simulated link of tests/unit/conn: a
 * qb_http client fetching files from a qb_http server on one connection,
 * for HTTP/0.9 (hq-interop) and HTTP/3 (h3), the downloads compared byte
 * for byte with the served files.
 */
#include "http_env.h"

static const char *const three[] = {"/small.bin", "/medium.bin", "/large.bin", "/empty.bin"};

static void
t_parallel(const char *alpn, double loss, uint64_t seed)
{
	struct h_pair p;
	struct t_env e;
	bool ok;
	const char *why;

	t_start(&p, &e, alpn, three, 4, seed);
	p.to_s.loss = p.to_c.loss = loss;
	t_fetch(&p, &e);
	cr_assert(qb_http_client_done(e.hc, &ok, &why));
	cr_assert(ok, "fetch failed: %s", why);
	t_same(&e, "small.bin");
	t_same(&e, "medium.bin");
	t_same(&e, "large.bin");
	t_same(&e, "empty.bin");
	for (size_t i = 0; i < 4; i++)
		t_expect_result(&e, i, true, strcmp(alpn, "h3") == 0 ? 200 : 0, NULL);
	/* Parallel: every request had its own stream on the one connection. */
	struct qb_http_server_stats st;
	qb_http_server_stats(e.hs, &st);
	cr_assert_eq(st.requests, 4);
	cr_assert_eq(st.responses, 4);
	cr_assert_geq(st.bytes, 1024 + (1u << 20) + (5u << 20));
	if (loss > 0)
		cr_assert_gt(h_lost(&p, &p.to_c), 0, "the link lost nothing");
	cr_assert_eq(qb_conn_state(p.c), QB_CONN_OPEN);
	t_env_fini(&e);
	h_fini(&p);
}

/* A missing file and escapes fail one request each; the connection lives on
 * and serves the next request. */
static void
t_refusals(const char *alpn, uint64_t seed)
{
	static const char *const bad[] = {"/missing.bin", "/../secret.txt", "/link.txt",
	                                  "/small.bin"};
	struct h_pair p;
	struct t_env e;
	bool ok;
	const char *why;
	bool h3 = strcmp(alpn, "h3") == 0;

	t_start(&p, &e, alpn, bad, 1, seed);
	t_fetch(&p, &e);
	cr_assert(qb_http_client_done(e.hc, &ok, &why));
	cr_assert(!ok);
	t_expect_result(&e, 0, false, h3 ? 404 : 0, h3 ? "404" : "not found");
	cr_assert_eq(qb_conn_state(p.c), QB_CONN_OPEN);
	cr_assert_eq(qb_conn_state(p.s), QB_CONN_OPEN);

	/* Next: the two escapes, then a good file, on the same connection. */
	for (size_t i = 1; i < 4; i++)
		cr_assert_eq(qb_http_client_add(e.hc, bad[i]), 0);
	t_fetch(&p, &e);
	t_expect_result(&e, 1, false, h3 ? 403 : 0, h3 ? "403" : "forbidden");
	t_expect_result(&e, 2, false, h3 ? 403 : 0, h3 ? "403" : "forbidden");
	t_expect_result(&e, 3, true, h3 ? 200 : 0, NULL);
	t_same(&e, "small.bin");
	/* Nothing of the secret leaked into downloads. */
	char path[192];
	struct stat st;
	snprintf(path, sizeof(path), "%s/secret.txt", e.dl);
	cr_assert(stat(path, &st) != 0 || st.st_size == 0, "secret.txt downloaded");
	snprintf(path, sizeof(path), "%s/link.txt", e.dl);
	cr_assert(stat(path, &st) != 0 || st.st_size == 0, "link.txt downloaded");
	cr_assert_eq(qb_conn_state(p.c), QB_CONN_OPEN);
	cr_assert_eq(qb_conn_state(p.s), QB_CONN_OPEN);
	t_env_fini(&e);
	h_fini(&p);
}

Test(http, hq_parallel)
{
	t_parallel("hq-interop", 0, 11);
}

Test(http, hq_parallel_loss)
{
	t_parallel("hq-interop", 0.02, 12);
}

Test(http, hq_refusals)
{
	t_refusals("hq-interop", 13);
}

Test(http, bad_args)
{
	cr_assert_null(qb_http_server_new(NULL, "/tmp", "h3"));
	cr_assert_null(qb_http_client_new(NULL, "h3", NULL, NULL, 0, "/tmp"));
	const char *rel[] = {"relative"};
	struct h_pair p;
	h_init(&p, 5);
	h_start(&p);
	cr_assert_null(qb_http_server_new(p.c, "/nonexistent-qb-dir", "h3"));
	cr_assert_null(qb_http_server_new(p.c, "/tmp", "spdy"));
	cr_assert_null(qb_http_client_new(p.c, "h3", NULL, rel, 1, "/tmp"));
	struct qb_http *h = qb_http_client_new(p.c, "hq-interop", NULL, NULL, 0, "/tmp");
	cr_assert_not_null(h);
	cr_assert_eq(qb_http_client_add(h, "nope"), QB_ERR_ARG);
	qb_http_free(h);
	h_fini(&p);
}

Test(http, h3_parallel)
{
	t_parallel("h3", 0, 21);
}

Test(http, h3_parallel_loss)
{
	t_parallel("h3", 0.02, 22);
}

Test(http, h3_refusals)
{
	t_refusals("h3", 23);
}

/* ---- The hq server against hand-made requests --------------------------------- */

struct t_raw {
	struct t_env *e;
	uint64_t id;
	bool done, reset;
	uint64_t code, bytes;
	bool stop_after; /* STOP_SENDING after the first bytes */
};

/* Serves with e->hs; the client side reads stream raw->id by hand. */
static bool
t_raw_drive(struct h_pair *p, void *arg)
{
	struct t_raw *raw = arg;
	struct t_env *e = raw->e;
	static uint8_t b[65536];
	uint64_t id;
	unsigned ev;

	if (e->hs == NULL && p->s != NULL) {
		e->hs = qb_http_server_new(p->s, e->www, NULL);
		cr_assert_not_null(e->hs);
	}
	if (e->hs != NULL) {
		cr_assert_geq(qb_http_on_stream_events(e->hs, p->now), 0);
		cr_assert_geq(qb_http_pump(e->hs, p->now), 0);
	}
	while (qb_conn_stream_next_event(p->c, &id, &ev)) {
		if (id != raw->id || !(ev & QB_STREAM_EV_READABLE) || raw->done)
			continue;
		for (;;) {
			bool fin = false;
			int64_t n = qb_conn_stream_read(p->c, id, b, sizeof(b), &fin, &raw->code,
			                                p->now);
			if (n < 0) {
				raw->reset = n == QB_ERR_PROTO;
				raw->done = true;
				break;
			}
			raw->bytes += (uint64_t)n;
			if (raw->stop_after && raw->bytes > 0) {
				qb_conn_stream_stop_sending(p->c, id, 0x77);
				raw->done = true;
				break;
			}
			if (fin) {
				raw->done = true;
				break;
			}
			if (n == 0)
				break;
		}
	}
	return raw->done;
}

static void
t_raw_request(struct h_pair *p, struct t_raw *raw, const char *req, bool fin)
{
	raw->done = raw->reset = false;
	raw->bytes = raw->code = 0;
	cr_assert_eq(qb_conn_stream_open(p->c, true, &raw->id), 0);
	cr_assert_eq(qb_conn_stream_write(p->c, raw->id, (const uint8_t *)req, strlen(req), fin),
	             (int64_t)strlen(req));
	cr_assert(h_run(p, SIM_LIMIT, t_raw_drive, raw), "no answer to '%s'", req);
}

Test(http, hq_malformed)
{
	struct h_pair p;
	struct t_env e;
	struct t_raw raw = {.e = &e};

	t_env_init(&e);
	h_init(&p, 31);
	h_start(&p);
	cr_assert(h_run(&p, SIM_LIMIT, h_confirmed, NULL));

	t_raw_request(&p, &raw, "POST /small.bin\r\n", true);
	cr_assert(raw.reset);
	cr_assert_eq(raw.code, QB_HQ_ERR_BAD_REQUEST);

	t_raw_request(&p, &raw, "GET small.bin\r\n", true);
	cr_assert(raw.reset);
	cr_assert_eq(raw.code, QB_HQ_ERR_BAD_REQUEST);

	t_raw_request(&p, &raw, "GET /nope/../../secret.txt\r\n", true);
	cr_assert(raw.reset);
	cr_assert(raw.code == QB_HQ_ERR_FORBIDDEN || raw.code == QB_HQ_ERR_NOT_FOUND);

	/* No line end, only the FIN: still a request. */
	t_raw_request(&p, &raw, "GET /small.bin", true);
	cr_assert(!raw.reset);
	cr_assert_eq(raw.bytes, 1024);

	/* A directory is not a file. */
	t_raw_request(&p, &raw, "GET /\r\n", true);
	cr_assert(raw.reset);
	cr_assert_eq(raw.code, QB_HQ_ERR_NOT_FOUND);

	/* The client gives up on a large body: the server stops, lives on. */
	raw.stop_after = true;
	t_raw_request(&p, &raw, "GET /large.bin\r\n", true);
	raw.stop_after = false;
	cr_assert_lt(raw.bytes, 5u << 20);
	t_raw_request(&p, &raw, "GET /medium.bin\r\n", true);
	cr_assert(!raw.reset);
	cr_assert_eq(raw.bytes, 1u << 20);

	struct qb_http_server_stats st;
	qb_http_server_stats(e.hs, &st);
	cr_assert_eq(st.requests, 7);
	cr_assert_eq(st.errors, 4);
	cr_assert_eq(qb_conn_state(p.s), QB_CONN_OPEN);
	/* Let the server send what it still had (the reset), then count its
	 * request records: all gone. */
	h_run(&p, 2000 * H_MS, NULL, NULL);
	t_env_fini(&e);
	h_fini(&p);
}

/* More requests than the peer's stream limit (100): the rest follow as
 * MAX_STREAMS raises it. */
static void
t_many(const char *alpn, uint64_t seed)
{
	enum { N = 150 };
	static char names[N][32];
	const char *paths[N];
	struct h_pair p;
	struct t_env e;
	bool ok;
	const char *why;

	t_env_init(&e);
	for (int i = 0; i < N; i++) {
		char f[192];
		snprintf(names[i], sizeof(names[i]), "/f%03d.bin", i);
		snprintf(f, sizeof(f), "%s%s", e.www, names[i]);
		t_write_file(f, 3000 + (uint64_t)i * 7, (uint64_t)i + 100);
		paths[i] = names[i];
	}
	h_init(&p, seed);
	t_alpn(&p, alpn);
	h_start(&p);
	e.hc = qb_http_client_new(p.c, alpn, NULL, paths, N, e.dl);
	cr_assert_not_null(e.hc);
	t_fetch(&p, &e);
	cr_assert(qb_http_client_done(e.hc, &ok, &why));
	cr_assert(ok, "fetch failed: %s", why);
	for (int i = 0; i < N; i++)
		t_same(&e, names[i] + 1);
	t_env_fini(&e);
	h_fini(&p);
}

Test(http, hq_many)
{
	t_many("hq-interop", 41);
}

Test(http, h3_many)
{
	t_many("h3", 42);
}

/* The server closes the connection in the middle of a body: the client's
 * job ends, failed, with the peer's code. */
static void
t_closed(const char *alpn, uint64_t seed)
{
	static const char *const one[] = {"/large.bin", "/medium.bin"};
	struct h_pair p;
	struct t_env e;
	bool ok = true;
	const char *why = NULL;

	t_start(&p, &e, alpn, one, 2, seed);
	e.close_after = 100000;
	t_fetch(&p, &e);
	cr_assert(qb_http_client_done(e.hc, &ok, &why));
	cr_assert(!ok);
	cr_assert_not_null(strstr(why, "connection closed"), "reason: %s", why);
	cr_assert_not_null(strstr(why, "0x10c"), "reason: %s", why);
	struct qb_http_result r;
	cr_assert_eq(qb_http_client_result(e.hc, 0, &r), 0);
	cr_assert(r.done);
	cr_assert(!r.ok);
	cr_assert_lt(r.bytes, 5u << 20);
	cr_assert_not_null(strstr(r.reason, "connection closed"), "reason: %s", r.reason);
	cr_assert_eq(qb_http_close_code(e.hc), strcmp(alpn, "h3") == 0 ? 0x100 : 0);
	t_env_fini(&e);
	h_fini(&p);
}

Test(http, hq_conn_closed)
{
	t_closed("hq-interop", 51);
}

Test(http, h3_conn_closed)
{
	t_closed("h3", 52);
}

/* The client abandons a large body: the others complete, the server drops
 * the response, and the connection serves a request made afterwards. */
static void
t_cancel(const char *alpn, uint64_t seed)
{
	static const char *const two[] = {"/large.bin", "/medium.bin", "/small.bin"};
	struct h_pair p;
	struct t_env e;
	bool ok = true;
	const char *why = NULL;

	t_start(&p, &e, alpn, two, 3, seed);
	e.cancel_after = 200000;
	/* A slow link, so the cancel lands long before the end of the body. */
	p.to_c.bps = 20000000;
	t_fetch(&p, &e);
	cr_assert(qb_http_client_done(e.hc, &ok, &why));
	cr_assert(!ok);
	t_expect_result(&e, 0, false, 0, "cancelled");
	t_expect_result(&e, 1, true, 0, NULL);
	t_same(&e, "medium.bin");
	cr_assert_eq(qb_http_client_cancel(e.hc, 0), QB_ERR_STATE);
	/* The server stopped short of the whole 5 MB. */
	struct qb_http_server_stats st;
	qb_http_server_stats(e.hs, &st);
	cr_assert_lt(st.bytes, (5u << 20) + (1u << 20) + 1024, "server sent %lu",
	             (unsigned long)st.bytes);
	e.cancel_after = 0;
	cr_assert_eq(qb_http_client_add(e.hc, "/small.bin"), 0);
	t_fetch(&p, &e);
	t_expect_result(&e, 3, true, 0, NULL);
	t_same(&e, "small.bin");
	cr_assert_eq(qb_conn_state(p.c), QB_CONN_OPEN);
	cr_assert_eq(qb_conn_state(p.s), QB_CONN_OPEN);
	/* Quiet down: every record on both sides ends freed (h_fini checks the
	 * stream pools). */
	h_run(&p, 2000 * H_MS, NULL, NULL);
	t_env_fini(&e);
	h_fini(&p);
}

Test(http, hq_cancel)
{
	t_cancel("hq-interop", 61);
}

Test(http, h3_cancel)
{
	t_cancel("h3", 62);
}
