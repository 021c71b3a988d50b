/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_TEST_HTTP_ENV_H
#define QB_TEST_HTTP_ENV_H

/*
 * A www root with test files in a temp dir, and the driver that runs a
 * qb_http client and server over the harness of tests/unit/conn.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../conn/harness.h"
#include "qburst/http.h"

/* Fake-clock bound of one fetch; the executable's wall time is bounded by
 * meson's timeout. (No per-test .timeout: Criterion 2.4's runner leaks its
 * timer records under LeakSanitizer when timed tests run in parallel.) */
#define SIM_LIMIT (120000 * H_MS)

struct t_env {
	char dir[64]; /* temp dir holding www/, dl/ and secret.txt */
	char www[96]; /* the served root */
	char dl[96];  /* the client's downloads */
	struct qb_http *hc, *hs;
	const char *alpn;
	const char *const *paths;
	size_t npaths;
	uint64_t close_after;  /* the server closes once result 0 has this many bytes */
	uint64_t cancel_after; /* the client cancels result 0 at this many bytes */
};

static inline uint8_t
t_byte(uint64_t seed, uint64_t off)
{
	uint64_t x = (off + 1) * 0x9e3779b97f4a7c15ull ^ seed;
	x ^= x >> 29;
	return (uint8_t)(x ^ (x >> 17));
}

static inline void
t_write_file(const char *path, uint64_t size, uint64_t seed)
{
	static uint8_t b[65536];
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f, "cannot create %s", path);
	for (uint64_t off = 0; off < size;) {
		size_t n = size - off < sizeof(b) ? (size_t)(size - off) : sizeof(b);
		for (size_t k = 0; k < n; k++)
			b[k] = t_byte(seed, off + k);
		cr_assert_eq(fwrite(b, 1, n, f), n);
		off += n;
	}
	fclose(f);
}

static inline uint8_t *
t_slurp(const char *path, size_t *len)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return NULL;
	uint8_t *d = malloc((size_t)st.st_size + 1);
	FILE *f = fopen(path, "rb");
	cr_assert(d != NULL && f != NULL);
	*len = fread(d, 1, (size_t)st.st_size, f);
	fclose(f);
	return d;
}

static inline void
t_env_init(struct t_env *e)
{
	char p[160];
	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/qb_http_XXXXXX");
	cr_assert_not_null(mkdtemp(e->dir));
	snprintf(e->www, sizeof(e->www), "%s/www", e->dir);
	snprintf(e->dl, sizeof(e->dl), "%s/dl", e->dir);
	cr_assert_eq(mkdir(e->www, 0755), 0);
	cr_assert_eq(mkdir(e->dl, 0755), 0);
	snprintf(p, sizeof(p), "%s/small.bin", e->www);
	t_write_file(p, 1024, 1);
	snprintf(p, sizeof(p), "%s/medium.bin", e->www);
	t_write_file(p, 1u << 20, 2);
	snprintf(p, sizeof(p), "%s/large.bin", e->www);
	t_write_file(p, 5u << 20, 3);
	snprintf(p, sizeof(p), "%s/empty.bin", e->www);
	t_write_file(p, 0, 4);
	/* Outside the root, and a symlink inside pointing at it. */
	snprintf(p, sizeof(p), "%s/secret.txt", e->dir);
	t_write_file(p, 100, 5);
	snprintf(p, sizeof(p), "%s/link.txt", e->www);
	cr_assert_eq(symlink("../secret.txt", p), 0);
}

static inline int
t_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void
t_env_fini(struct t_env *e)
{
	qb_http_free(e->hc);
	qb_http_free(e->hs);
	cr_expect_eq(nftw(e->dir, t_rm, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* Replaces the harness's hq-interop TLS contexts with ones offering alpn. */
static inline void
t_alpn(struct h_pair *p, const char *alpn)
{
	const char *const list[] = {alpn};
	for (int role = 0; role < 2; role++) {
		struct qb_tls_ctx_config cfg = {
		        .role = role == 0 ? QB_TLS_CLIENT : QB_TLS_SERVER,
		        .alpn = list,
		        .alpn_count = 1,
		        .selfsigned_name = "localhost",
		};
		char err[256] = "";
		struct qb_tls_ctx *ctx = qb_tls_ctx_new(&cfg, err, sizeof(err));
		cr_assert_not_null(ctx, "qb_tls_ctx_new: %s", err);
		if (role == 0) {
			qb_tls_ctx_free(p->ctx_c);
			p->ctx_c = ctx;
			p->cfg_c.tls = ctx;
		} else {
			qb_tls_ctx_free(p->ctx_s);
			p->ctx_s = ctx;
			p->cfg_s.tls = ctx;
		}
	}
}

/* The driver run before every harness step: the app's part of the loop. */
static inline bool
t_drive(struct h_pair *p, void *arg)
{
	struct t_env *e = arg;
	bool ok;
	const char *why;

	if (e->hs == NULL && p->s != NULL) {
		e->hs = qb_http_server_new(p->s, e->www, NULL);
		cr_assert_not_null(e->hs);
	}
	cr_assert_geq(qb_http_on_stream_events(e->hc, p->now), 0);
	cr_assert_geq(qb_http_pump(e->hc, p->now), 0);
	if (e->hs != NULL) {
		cr_assert_geq(qb_http_on_stream_events(e->hs, p->now), 0);
		cr_assert_geq(qb_http_pump(e->hs, p->now), 0);
	}
	struct qb_http_result r;
	if (e->close_after > 0 && qb_http_client_result(e->hc, 0, &r) == 0 &&
	    r.bytes >= e->close_after && qb_conn_state(p->s) == QB_CONN_OPEN)
		cr_assert_eq(qb_conn_close(p->s, 0x10c, "going away", p->now), 0);
	if (e->cancel_after > 0 && qb_http_client_result(e->hc, 0, &r) == 0 && !r.done &&
	    r.bytes >= e->cancel_after)
		cr_assert_eq(qb_http_client_cancel(e->hc, 0), 0);
	return qb_http_client_done(e->hc, &ok, &why);
}

static inline void
t_start(struct h_pair *p, struct t_env *e, const char *alpn, const char *const *paths, size_t n,
        uint64_t seed)
{
	t_env_init(e);
	h_init(p, seed);
	t_alpn(p, alpn);
	h_start(p);
	e->alpn = alpn;
	e->hc = qb_http_client_new(p->c, alpn, "localhost:443", paths, n, e->dl);
	cr_assert_not_null(e->hc);
}

static inline void
t_fetch(struct h_pair *p, struct t_env *e)
{
	bool ok = false;
	const char *why = NULL;
	cr_assert(h_run(p, SIM_LIMIT, t_drive, e), "fetch did not finish by %lu ms",
	          (unsigned long)(p->now / H_MS));
	cr_assert(qb_http_client_done(e->hc, &ok, &why));
}

/* The downloaded copy of path equals the served file, byte for byte. */
static inline void
t_same(struct t_env *e, const char *name)
{
	char a[192], b[192];
	size_t la = 0, lb = 0;
	snprintf(a, sizeof(a), "%s/%s", e->www, name);
	snprintf(b, sizeof(b), "%s/%s", e->dl, name);
	uint8_t *da = t_slurp(a, &la), *db = t_slurp(b, &lb);
	cr_assert_not_null(da);
	cr_assert_not_null(db, "%s was not downloaded", name);
	cr_assert_eq(lb, la, "%s: %zu bytes downloaded, %zu served", name, lb, la);
	cr_assert(memcmp(da, db, la) == 0, "%s: contents differ", name);
	free(da);
	free(db);
}

static inline void
t_expect_result(struct t_env *e, size_t i, bool ok, int status, const char *reason_part)
{
	struct qb_http_result r;
	cr_assert_eq(qb_http_client_result(e->hc, i, &r), 0);
	cr_assert(r.done, "%s not done", r.path);
	cr_assert_eq(r.ok, ok, "%s: ok %d (%s)", r.path, r.ok, r.reason);
	if (status != 0)
		cr_assert_eq(r.status, status, "%s: status %d", r.path, r.status);
	if (reason_part != NULL)
		cr_assert_not_null(strstr(r.reason, reason_part), "%s: reason '%s'", r.path,
		                   r.reason);
}

#endif
