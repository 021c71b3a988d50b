/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Memory held per idle connection (BRIEF §6, issue 5 item 6): N client and
 * server connections are made in process, in pairs, each pair handed its
 * datagrams directly (as bench_bulk does, no DPDK, no link); each pair runs
 * its handshake until both sides have it confirmed and then until nothing
 * is left to send and no timer is due within half a second (every ACK
 * delivered, Initial and Handshake keys discarded, the TLS object
 * released). Then the pairs are left idle, all at once, and measured
 * ("idle 0.5 s"); then each connection's next deadline, its own memory
 * trim a quiet second after its last activity (qburst/conn.h
 * qb_conn_trim()), is run as a driver following qb_conn_deadline() would,
 * a send attempt after it, and they are measured again ("idle 1 s+").
 *
 * The heap is read with mallinfo2() (bytes in use in the arenas plus
 * mmap'ed chunks, malloc's chunk headers included) at six points: before,
 * once every pair is idle, after the clients' and the servers' trims,
 * after freeing every client, after freeing every server. What freeing the
 * servers gives back, divided by N, is the heap one idle (trimmed) server
 * connection holds; before its trim it held that plus what the trim gave
 * back. The clients likewise. What is still in use at the end (the TLS
 * contexts' session caches, BoringSSL's per-thread state) was not held by
 * the connections.
 *
 * The heap figure is broken down by component from the connections' own
 * state (conn/conn_internal.h: this bench reads the connection's private
 * layout on purpose, to say where the bytes are). The stream pools are a
 * worker's preallocated slabs (qb_stream_pools): what the idle servers hold
 * of them is read from the pools' in_use counters.
 *
 * Mbufs: the engine links no DPDK (engine/meson.build has no DPDK
 * dependency), so a connection cannot hold an mbuf; the driver
 * (drivers/engine/engine.c, deliver()) frees each received mbuf once
 * qb_conn_recv() returns and hands TX mbufs to the PMD within the burst.
 * An idle connection therefore holds none, and this bench says so by
 * construction rather than by measurement.
 *
 * Usage: bench_mem [N ...]   (default 1000), for each packet-protection
 * backend there is (the keys' size depends on it). The environment variable
 * BENCH_MEM_CRYPTO=boringssl|ipsecmb limits the run to one backend;
 * BENCH_MEM_SENT_PACKETS sets qb_conn_config.max_sent_packets (default:
 * the engine's, 8192). Prints, never asserts (but exits 1 when a handshake
 * fails).
 */
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn/conn_internal.h"
#include "qburst/conn.h"
#include "qburst/crypto.h"
#include "qburst/crypto_select.h"
#include "qburst/stream.h"
#include "qburst/tls.h"
#include "stream/stream_internal.h"

#define MTU     1472
#define BURST   32
#define STEP_NS 1000
#define MS      1000000ull

static const char *const alpn[] = {"hq-interop"};

/* The datagrams one side sent, for the other to take. */
static struct {
	uint8_t d[BURST][MTU];
	size_t len[BURST];
	int n;
} q;

struct pair {
	struct qb_conn *c, *s;
	uint64_t now;
};

static struct qb_conn_config cfg_c, cfg_s;
static struct qb_stream_pools pool_c, pool_s;

static void
die(const char *what)
{
	fprintf(stderr, "bench_mem: %s\n", what);
	exit(1);
}

/* Heap bytes in use: arenas plus mmap'ed chunks. */
static uint64_t
heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();

	return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
}

/* Resident set size, bytes. */
static uint64_t
rss_bytes(void)
{
	unsigned long size = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f != NULL) {
		if (fscanf(f, "%lu %lu", &size, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

static struct qb_tls_ctx *
make_ctx(enum qb_tls_role role)
{
	struct qb_tls_ctx_config cfg = {
	        .role = role,
	        .alpn = alpn,
	        .alpn_count = 1,
	        .selfsigned_name = "localhost",
	};
	char err[256] = "";
	struct qb_tls_ctx *ctx = qb_tls_ctx_new(&cfg, err, sizeof(err));

	if (ctx == NULL) {
		fprintf(stderr, "bench_mem: qb_tls_ctx_new: %s\n", err);
		exit(1);
	}
	return ctx;
}

/* Everything c has to send now into q; returns how many datagrams. */
static int
flush(struct pair *p, struct qb_conn *c)
{
	uint32_t why;

	q.n = 0;
	while (c != NULL && q.n < BURST) {
		int n = qb_conn_send(c, 0, q.d[q.n], MTU, p->now, &why);
		if (n < 0)
			die("qb_conn_send failed");
		if (n == 0)
			break;
		q.len[q.n++] = (size_t)n;
	}
	return q.n;
}

static void
deliver(struct pair *p, bool to_server)
{
	for (int i = 0; i < q.n; i++) {
		p->now += STEP_NS;
		if (to_server && p->s == NULL) {
			p->s = qb_conn_server_new(&cfg_s, q.d[i], q.len[i], p->now);
			if (p->s == NULL)
				die("qb_conn_server_new failed");
		}
		qb_conn_recv(to_server ? p->s : p->c, 0, q.d[i], q.len[i], p->now);
	}
	q.n = 0;
}

static uint64_t
min_deadline(const struct pair *p)
{
	uint64_t t = qb_conn_deadline(p->c);

	if (p->s != NULL && qb_conn_deadline(p->s) < t)
		t = qb_conn_deadline(p->s);
	return t;
}

/*
 * One pair from its first datagram to idle: confirmed on both sides, and
 * then on until a turn moves nothing and no timer is due within half a
 * second, so every ACK timer and PTO has run out (the connections' own
 * memory trim, a quiet second after their last activity, has not).
 */
static void
pair_run(struct pair *p, uint64_t seed)
{
	p->now = 1000 * MS;
	cfg_c.seed = seed;
	cfg_s.seed = seed + 1;
	p->c = qb_conn_client_new(&cfg_c, p->now);
	if (p->c == NULL)
		die("qb_conn_client_new failed");
	for (int i = 0; i < 10000; i++) {
		int moved = flush(p, p->c);
		deliver(p, true);
		moved += flush(p, p->s);
		deliver(p, false);
		bool confirmed = p->s != NULL && qb_conn_handshake_confirmed(p->c) &&
		                 qb_conn_handshake_confirmed(p->s);
		if (moved > 0)
			continue;
		uint64_t t = min_deadline(p);
		if (confirmed && (t == QB_TIME_NONE || t > p->now + 500 * MS))
			return;
		if (t == QB_TIME_NONE)
			break;
		if (t > p->now)
			p->now = t;
		qb_conn_on_timeout(p->c, p->now);
		if (p->s != NULL)
			qb_conn_on_timeout(p->s, p->now);
	}
	die("handshake did not complete or did not go idle");
}

/* What the code says one server connection holds, by component (bytes). */
struct parts {
	uint64_t conn;      /* sizeof(struct qb_conn) */
	uint64_t keys;      /* packet-protection keys, allocated apart */
	uint64_t keys_live; /* keys installed (count) */
	uint64_t sent[CONN_NEP];
	uint64_t frec;
	uint64_t smap;   /* the stream manager and its table */
	uint64_t cid;    /* of which: CID sets (local and peer) inline */
	uint64_t ranges; /* of which: received-range arrays inline */
	uint64_t tls_live;
};

static void
parts_of(const struct qb_conn *c, struct parts *pt)
{
	pt->conn += sizeof(*c);
	pt->keys += qb_crypto_key_footprint(c->rx_next);
	for (int ep = 0; ep < CONN_NEP; ep++) {
		pt->keys_live +=
		        qb_crypto_key_present(c->rxk[ep]) + qb_crypto_key_present(c->txk[ep]);
		pt->keys +=
		        qb_crypto_key_footprint(c->rxk[ep]) + qb_crypto_key_footprint(c->txk[ep]);
		/* A discarded space's ring is freed (its one parked record is
		 * inside struct qb_conn). */
		if (c->sent_store[ep] != NULL)
			pt->sent[ep] += ((uint64_t)c->rec.space[ep].sent.mask + 1) *
			                sizeof(struct qb_sent_pkt);
	}
	pt->frec += (uint64_t)c->frec_cap * sizeof(*c->frec);
	pt->smap += sizeof(*c->streams) + ((uint64_t)c->streams->mask + 1) * sizeof(void *);
	pt->cid += sizeof(c->lcid) + sizeof(c->pcid);
	pt->ranges += sizeof(c->rx_ranges) + sizeof(c->rx_ranges_hs);
	pt->tls_live += c->tls != NULL && !qb_tls_released(c->tls);
}

/*
 * A quiet second later: c's next deadline is its memory trim (conn_mem.c),
 * and a driver following qb_conn_deadline() runs it and then tries to send
 * (nothing goes out). Returns the deadline's distance from the last event.
 */
static uint64_t
self_trim(struct pair *p, struct qb_conn *c)
{
	uint64_t t = qb_conn_deadline(c), was = p->now;

	if (t == QB_TIME_NONE || t > p->now + 2000 * MS)
		die("no trim deadline within 2 s");
	if (t > p->now)
		p->now = t;
	qb_conn_on_timeout(c, p->now);
	if (flush(p, c) != 0)
		die("a trimmed idle connection sent a datagram");
	if (qb_conn_state(c) != QB_CONN_OPEN || qb_conn_deadline(c) < p->now + 10000 * MS)
		die("after its trim, the connection should wait for its idle timeout");
	p->now = was;
	return t - was;
}

/* Two columns: idle half a second, and a quiet second later (trimmed). */
static void
row2(const char *name, double a, double b, const char *note)
{
	printf("    %-44s %8.0f B %8.0f B%s%s\n", name, a, b, note[0] ? "  " : "", note);
}

static void
run(size_t n, bool quiet)
{
	struct pair *p = calloc(n, sizeof(*p));
	struct parts pt[2] = {0};
	uint64_t h0, h1, h1c, h1s, h2, h3, r0, r1, again = 0, wait = 0;
	uint32_t ch_s, st_s;

	if (p == NULL)
		die("out of memory");
	malloc_trim(0);
	h0 = heap_bytes();
	r0 = rss_bytes();
	for (size_t i = 0; i < n; i++)
		pair_run(&p[i], 1 + 2 * (uint64_t)i);
	h1 = heap_bytes();
	r1 = rss_bytes();
	ch_s = pool_s.chunks.in_use;
	st_s = pool_s.streams.in_use;
	for (size_t i = 0; i < n; i++)
		parts_of(p[i].s, &pt[0]);
	/* Each connection's own timer, clients first, then servers. */
	for (size_t i = 0; i < n; i++)
		self_trim(&p[i], p[i].c);
	h1c = heap_bytes();
	for (size_t i = 0; i < n; i++) {
		wait += self_trim(&p[i], p[i].s);
		again += qb_conn_trim(p[i].s, p[i].now + 2000 * MS);
		parts_of(p[i].s, &pt[1]);
	}
	h1s = heap_bytes();
	for (size_t i = 0; i < n; i++)
		qb_conn_free(p[i].c);
	h2 = heap_bytes();
	for (size_t i = 0; i < n; i++)
		qb_conn_free(p[i].s);
	h3 = heap_bytes();
	free(p);

	if (quiet)
		return;
	if (h1 == h0)
		printf("  warning: mallinfo2() saw no allocation (a sanitizer's allocator?): "
		       "run the release build\n");
	double N = (double)n, srv[2], known[2], cli[2];
	/* Freeing the trimmed servers gives back what they hold after the trim;
	 * before it they held that plus what their trim released. */
	srv[1] = (double)(h2 - h3) / N;
	srv[0] = srv[1] + (double)(h1c - h1s) / N;
	cli[1] = (double)(h1s - h2) / N;
	cli[0] = cli[1] + (double)(h1 - h1c) / N;
	for (int k = 0; k < 2; k++)
		known[k] = (double)(pt[k].conn + pt[k].keys + pt[k].frec + pt[k].sent[0] +
		                    pt[k].sent[1] + pt[k].sent[2] + pt[k].smap) /
		           N;
	printf("  %zu idle pairs (handshake confirmed on both sides, all ACKs delivered):\n", n);
	printf("    %-44s %10s %10s\n", "", "idle 0.5 s", "idle 1 s+");
	printf("    %-44s %8.0f B %8.0f B  = %.2f / %.2f KiB (goal < 8 KiB; ngtcp2 0.12: 81 KB)\n",
	       "SERVER heap held per idle connection", srv[0], srv[1], srv[0] / 1024,
	       srv[1] / 1024);
	row2("  struct qb_conn (one calloc)", (double)pt[0].conn / N, (double)pt[1].conn / N, "");
	row2("    of which CID sets (ours + peer's)", (double)pt[0].cid / N, (double)pt[1].cid / N,
	     "");
	row2("    of which received-range arrays", (double)pt[0].ranges / N,
	     (double)pt[1].ranges / N, "");
	row2("  packet-protection keys (sized per backend)", (double)pt[0].keys / N,
	     (double)pt[1].keys / N, "");
	row2("  sent-packet ring, Initial", (double)pt[0].sent[0] / N, (double)pt[1].sent[0] / N,
	     "");
	row2("  sent-packet ring, Handshake", (double)pt[0].sent[1] / N, (double)pt[1].sent[1] / N,
	     "");
	row2("  sent-packet ring, 1-RTT", (double)pt[0].sent[2] / N, (double)pt[1].sent[2] / N, "");
	row2("  frame records (retransmission by frame)", (double)pt[0].frec / N,
	     (double)pt[1].frec / N, "");
	row2("  stream manager + table", (double)pt[0].smap / N, (double)pt[1].smap / N, "");
	row2("  rest: TLS handle, malloc headers", srv[0] - known[0], srv[1] - known[1], "");
	printf("    %-44s %10.2f\n", "  keys installed (count)", (double)pt[0].keys_live / N);
	printf("    %-44s %10.2f\n", "  TLS objects (SSL) still live", (double)pt[0].tls_live / N);
	printf("    %-44s %10.0f ms\n", "  self-trim deadline after the last event",
	       (double)wait / N / 1e6);
	printf("    %-44s %10.0f B\n", "  qb_conn_trim() after it (nothing left)",
	       (double)again / N);
	printf("    %-44s %10.0f B\n", "stream-pool chunks held (server pool)",
	       (double)ch_s * (double)pool_s.chunks.obj_size / N);
	printf("    %-44s %10.0f B\n", "stream objects held (server pool)",
	       (double)st_s * (double)pool_s.streams.obj_size / N);
	printf("    %-44s %10d\n", "mbufs held (engine has no DPDK)", 0);
	row2("client heap held per idle connection", cli[0], cli[1], "");
	printf("    %-44s %10.0f B  RSS\n", "resident memory grown per pair (both sides)",
	       (double)(r1 - r0) / N);
	printf("    %-44s %10.0f B  per pair: TLS session caches etc.\n",
	       "heap still in use after all were freed", (double)(h3 - h0) / N);
}

int
main(int argc, char **argv)
{
	struct qb_tls_ctx *cctx = make_ctx(QB_TLS_CLIENT), *sctx = make_ctx(QB_TLS_SERVER);
	const char *sp = getenv("BENCH_MEM_SENT_PACKETS");

	cfg_c = (struct qb_conn_config){.tls = cctx, .pools = &pool_c, .server_name = "localhost"};
	cfg_s = (struct qb_conn_config){.tls = sctx, .pools = &pool_s};
	if (sp != NULL)
		cfg_c.max_sent_packets = cfg_s.max_sent_packets = (uint32_t)strtoul(sp, NULL, 10);
	if (qb_stream_pools_init(&pool_c, 4096, 8192, 4096) != 0 ||
	    qb_stream_pools_init(&pool_s, 4096, 8192, 4096) != 0)
		die("qb_stream_pools_init failed");
	printf("bench_mem: idle connections, server side measured; sizeof(struct qb_crypto_key) "
	       "%zu B, max_sent_packets %s\n",
	       sizeof(struct qb_crypto_key), sp != NULL ? sp : "8192 (default)");
	for (int b = QB_CRYPTO_BORINGSSL; b < QB_CRYPTO_BACKEND_COUNT; b++) {
		const char *only = getenv("BENCH_MEM_CRYPTO");
		struct qb_crypto_choice ch;

		if (only != NULL && qb_crypto_backend_parse(only) != b)
			continue;
		if (qb_crypto_select((enum qb_crypto_backend)b, &ch) != 0) {
			printf(" backend %s: not available (%s)\n",
			       qb_crypto_backend_name((enum qb_crypto_backend)b), ch.reason);
			continue;
		}
		printf(" backend %s (%s):\n", ch.name, ch.arch);
		/* Warm-up: malloc's first large chunks are mmap'ed (page-rounded)
		 * until frees raise its threshold; measure the steady state. */
		run(16, true);
		for (int i = 1; i < argc || i == 1; i++) {
			size_t n = argc > i ? strtoul(argv[i], NULL, 10) : 1000;
			if (n == 0)
				die("N must be at least 1");
			run(n, false);
		}
	}
	qb_stream_pools_fini(&pool_c);
	qb_stream_pools_fini(&pool_s);
	qb_tls_ctx_free(cctx);
	qb_tls_ctx_free(sctx);
	return 0;
}
