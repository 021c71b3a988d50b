/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Cost of one full QUIC-TLS handshake (qburst/tls.h) between an in-memory
 * client and server, ECDSA P-256 certificate, X25519, no packets: the TLS
 * share of a QUIC handshake, to set against ngtcp2 0.12's 165 us per
 * server-side handshake (BRIEF §6). Also the server's heap per connection
 * while the SSL object lives and after qb_tls_release.
 *
 * Beside it, the public-key floor of the same libcrypto: what a server cannot
 * avoid (one X25519 key pair and shared secret, one ECDSA P-256 signature)
 * and what a client cannot (X25519 likewise, one P-256 verification).
 *
 * Usage: bench_handshake [HANDSHAKES]   (default 2000). Prints, never asserts.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/curve25519.h>
#include <openssl/ec_key.h>
#include <openssl/ecdsa.h>
#include <openssl/nid.h>

#include "qburst/tls.h"

#define BLOCKS 10

static const char *const alpn[] = {"h3", "hq-interop"};
static const uint8_t tp[48] = {0x04, 0x04, 0x80, 0x10, 0x00, 0x00};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of this thread, ns: immune to preemption on a shared machine,
 * but a system call, so read once per block only. */
static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Account the time of one call to *acc (ns). */
#define ON(acc, call)                     \
	do {                              \
		uint64_t t0_ = now_ns();  \
		call;                     \
		*(acc) += now_ns() - t0_; \
	} while (0)

/* Deliver from's pending bytes at every level to `to`, timing the receiver. */
static size_t
deliver(struct qb_tls *from, struct qb_tls *to, uint64_t *rx_ns)
{
	static const enum qb_tls_level lv[] = {QB_TLS_LEVEL_INITIAL, QB_TLS_LEVEL_HANDSHAKE,
	                                       QB_TLS_LEVEL_APP};
	size_t moved = 0;

	for (int i = 0; i < 3; i++) {
		const uint8_t *p;
		size_t n = qb_tls_out(from, lv[i], &p);
		int rc = 0;

		if (n == 0)
			continue;
		ON(rx_ns, rc = qb_tls_provide(to, lv[i], p, n));
		qb_tls_out_consume(from, lv[i], n);
		if (rc != 0) {
			fprintf(stderr, "handshake failed: %d, code %#llx\n", rc,
			        (unsigned long long)qb_tls_error_code(to));
			exit(1);
		}
		moved += n;
	}
	return moved;
}

/* One handshake; both handles are returned complete. */
static void
handshake(struct qb_tls_ctx *cctx, struct qb_tls_ctx *sctx, uint64_t *c_ns, uint64_t *s_ns,
          struct qb_tls **client, struct qb_tls **server)
{
	struct qb_tls *ct, *st;

	ON(c_ns, ct = qb_tls_new(cctx, "localhost", tp, sizeof(tp)));
	ON(s_ns, st = qb_tls_new(sctx, NULL, tp, sizeof(tp)));
	if (ct == NULL || st == NULL) {
		fprintf(stderr, "qb_tls_new failed\n");
		exit(1);
	}
	for (int round = 0; round < 10; round++) {
		size_t a = deliver(ct, st, s_ns);
		size_t b = deliver(st, ct, c_ns);

		if (a == 0 && b == 0)
			break;
	}
	if (!qb_tls_is_complete(ct) || !qb_tls_is_complete(st)) {
		fprintf(stderr, "handshake incomplete\n");
		exit(1);
	}
	*client = ct;
	*server = st;
}

/* Per-handshake public-key floor, in ns: server (X25519 + sign) and client
 * (X25519 + verify), n of each. */
static void
floor_ns(int n, double *server, double *client)
{
	uint8_t pub[32], priv[32], peer_pub[32], peer_priv[32], shared[32];
	uint8_t digest[32] = {0x5a}, sig[80];
	EC_KEY *key = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
	unsigned sig_len = sizeof(sig);
	uint64_t t0, x, sign, verify;
	int ok = 1;

	if (key == NULL || !EC_KEY_generate_key(key)) {
		fprintf(stderr, "P-256 key generation failed\n");
		exit(1);
	}
	X25519_keypair(peer_pub, peer_priv);
	t0 = now_ns();
	for (int i = 0; i < n; i++) {
		X25519_keypair(pub, priv);
		ok &= X25519(shared, priv, peer_pub);
	}
	x = now_ns() - t0;
	t0 = now_ns();
	for (int i = 0; i < n; i++) {
		sig_len = sizeof(sig);
		ok &= ECDSA_sign(0, digest, sizeof(digest), sig, &sig_len, key);
	}
	sign = now_ns() - t0;
	t0 = now_ns();
	for (int i = 0; i < n; i++)
		ok &= ECDSA_verify(0, digest, sizeof(digest), sig, sig_len, key);
	verify = now_ns() - t0;
	EC_KEY_free(key);
	if (!ok) {
		fprintf(stderr, "floor primitives failed\n");
		exit(1);
	}
	*server = (double)(x + sign) / n;
	*client = (double)(x + verify) / n;
}

/* Heap held per server connection: K complete handshakes are kept and the
 * clients freed, then the servers released. Bytes per connection. */
static void
server_heap(struct qb_tls_ctx *cctx, struct qb_tls_ctx *sctx, long *live, long *released)
{
	enum { K = 256 };
	static struct qb_tls *srv[K], *cli[K];
	uint64_t ignore = 0;
	long h0, h1, h2;

	h0 = (long)mallinfo2().uordblks;
	for (int i = 0; i < K; i++)
		handshake(cctx, sctx, &ignore, &ignore, &cli[i], &srv[i]);
	for (int i = 0; i < K; i++)
		qb_tls_free(cli[i]);
	h1 = (long)mallinfo2().uordblks;
	for (int i = 0; i < K; i++)
		qb_tls_release(srv[i]);
	h2 = (long)mallinfo2().uordblks;
	for (int i = 0; i < K; i++)
		qb_tls_free(srv[i]);
	*live = (h1 - h0) / K;
	*released = (h2 - h0) / K;
}

/* One line per side: the mean over all blocks and the best block, each with
 * the floor measured beside it and the share of the time it accounts for. */
static void
report(const char *side, double mean_ns, double floor, double best_ns, double best_floor)
{
	printf("  %s side  mean %6.1f us (%5.0f /s per core; floor %5.1f us = %3.0f%%)"
	       "   best block %6.1f us (%5.0f /s; floor %5.1f us = %3.0f%%)\n",
	       side, mean_ns / 1e3, 1e9 / mean_ns, floor / 1e3, 100 * floor / mean_ns,
	       best_ns / 1e3, 1e9 / best_ns, best_floor / 1e3, 100 * best_floor / best_ns);
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	int per_block;
	char err[256];
	struct qb_tls_ctx_config scfg = {
	        .role = QB_TLS_SERVER,
	        .alpn = alpn,
	        .alpn_count = 2,
	        .selfsigned_name = "localhost",
	};
	struct qb_tls_ctx_config ccfg = {.role = QB_TLS_CLIENT, .alpn = alpn, .alpn_count = 2};
	struct qb_tls_ctx *sctx, *cctx;
	uint64_t c_ns = 0, s_ns = 0, wall = 0, cpu = 0, ignore = 0;
	double floor_s = 0, floor_c = 0;
	double best_s = 0, best_c = 0, best_floor_s = 0, best_floor_c = 0;
	struct qb_tls_secret sec = {0};
	struct qb_tls *ct, *st;
	long live, released;

	if (n < BLOCKS)
		n = 2000;
	per_block = n / BLOCKS;
	n = per_block * BLOCKS;
	sctx = qb_tls_ctx_new(&scfg, err, sizeof(err));
	cctx = sctx ? qb_tls_ctx_new(&ccfg, err, sizeof(err)) : NULL;
	if (cctx == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	/* Warm-up: first-use allocations (EC tables, error strings); and the
	 * negotiated suite for the report. */
	for (int i = 0; i < 50; i++) {
		handshake(cctx, sctx, &ignore, &ignore, &ct, &st);
		qb_tls_secret(st, QB_TLS_LEVEL_APP, true, &sec);
		qb_tls_free(ct);
		qb_tls_free(st);
	}

	/* The machine is shared: interleave handshakes and the floor in blocks
	 * so both see the same load, and keep the best block of each side. */
	for (int b = 0; b < BLOCKS; b++) {
		uint64_t bc = 0, bs = 0, t0 = now_ns(), c0 = cpu_ns();
		double fs, fc;

		for (int i = 0; i < per_block; i++) {
			handshake(cctx, sctx, &bc, &bs, &ct, &st);
			ON(&bc, qb_tls_free(ct));
			ON(&bs, qb_tls_free(st));
		}
		wall += now_ns() - t0;
		cpu += cpu_ns() - c0;
		floor_ns(per_block, &fs, &fc);
		c_ns += bc;
		s_ns += bs;
		floor_s += fs / BLOCKS;
		floor_c += fc / BLOCKS;
		if (b == 0 || (double)bs / per_block < best_s) {
			best_s = (double)bs / per_block;
			best_floor_s = fs;
		}
		if (b == 0 || (double)bc / per_block < best_c) {
			best_c = (double)bc / per_block;
			best_floor_c = fc;
		}
	}
	server_heap(cctx, sctx, &live, &released);

	printf("bench_handshake: %d in-memory QUIC-TLS handshakes in %d blocks (X25519, "
	       "ECDSA P-256, suite %#x)\n",
	       n, BLOCKS, sec.cipher);
	printf("  pair (client+server) wall %6.1f us (%5.0f pairs/s), thread CPU %6.1f us\n",
	       wall / 1e3 / n, n / (wall / 1e9), cpu / 1e3 / n);
	/* The per-call split is wall time; scaled to the block CPU time it
	 * gives each side's CPU cost without preemption. */
	printf("  server share of the pair's CPU: %.1f us (%.0f /s per core); client %.1f us\n",
	       cpu / 1e3 / n * s_ns / (double)(s_ns + c_ns),
	       1e9 * n / (cpu * s_ns / (double)(s_ns + c_ns)),
	       cpu / 1e3 / n * c_ns / (double)(s_ns + c_ns));
	report("server", (double)s_ns / n, floor_s, best_s, best_floor_s);
	report("client", (double)c_ns / n, floor_c, best_c, best_floor_c);
	printf("  (ngtcp2 0.12 server side, BRIEF §6: 165 us, 6000/s per core)\n");
	printf("  server heap per connection: %ld B with the SSL object, %ld B after "
	       "qb_tls_release\n",
	       live, released);
	qb_tls_ctx_free(cctx);
	qb_tls_ctx_free(sctx);
	return 0;
}
