/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * In-memory bulk transfer through the whole connection core (issue 4 item
 * 8): a client connection uploads MB megabytes on one bidirectional stream
 * to a server connection in the same thread (no DPDK, no sockets, no
 * simulated link). Datagrams are handed over directly: the client sends a
 * burst, the server takes it and answers (ACKs, MAX_DATA), the client takes
 * the answers. The fake clock moves STEP_NS per datagram handed over (about
 * the serialisation time of a 1252-byte datagram at 10 Gbit/s), so RTT, the
 * pacer and the ACK timers see a fast, lossless, uncongested path.
 *
 * For each packet-protection backend (qburst/crypto_select.h), one after the
 * other: ROUNDS transfers, each on a fresh connection pair (handshake not
 * timed), each followed by a timing of the bare per-packet AEAD work at the
 * sizes the transfer produced, so both see the same machine load. Reported:
 * stream payload Gbit/s per core (payload bits / thread CPU seconds), wall
 * time, packets and mean datagram size each way, the AEAD's share of the
 * CPU time and the engine's own cost per packet, medians over the rounds.
 *
 * The AEAD cost is "seal + header protection" per packet sent and "header
 * protection removal + open" per packet received, at each direction's mean
 * datagram size:
 *   - bare BoringSSL: EVP_AEAD_CTX_seal/open and one AES_encrypt (BoringSSL
 *     keys only, the floor any QUIC stack pays with this library);
 *   - our path: qb_crypto_protect/qb_crypto_unprotect with a key of the
 *     backend under test (for ipsec-mb the closest to a bare figure here).
 *
 * Usage: bench_bulk [MB [ROUNDS]]   (defaults 200 and 3). Prints, never asserts
 * (but exits 1 when a transfer stalls or loses bytes). With the environment
 * variable BENCH_BULK_TRANSFER_ONLY set, only the transfers run (no AEAD
 * loops), for a profiler; BENCH_BULK_SNDBUF_KB sets the per-stream send
 * buffer (default 4096).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/aead.h>
#include <openssl/aes.h>

#include "qburst/conn.h"
#include "qburst/crypto.h"
#include "qburst/crypto_select.h"
#include "qburst/stream.h"
#include "qburst/tls.h"

#define MTU       1472 /* UDP payload cap passed to qb_conn_send (1500 - IPv4 - UDP) */
#define BURST     32   /* datagrams a side sends before the other runs */
#define STEP_NS   1000 /* fake clock per datagram handed over */
#define MS        1000000ull
#define MAX_ROUND 15
#define PN_OFFSET 9 /* short header, 8-byte DCID (QB_CONN_CID_LEN_DEFAULT) */
#define PN_LEN    2
#define AEAD_REPS 20000 /* packets per timed AEAD loop */

static const char *const alpn[] = {"hq-interop"};

/* A direction's datagrams in flight: filled by one side, drained by the other. */
struct queue {
	uint8_t d[BURST + 1][MTU];
	size_t len[BURST + 1];
	int n;
};

struct pair {
	struct qb_conn_config cfg_c, cfg_s;
	struct qb_conn *c, *s;
	uint64_t now;
	uint64_t stream; /* the upload stream's id */
	uint64_t written, received;
	bool fin_sent, fin_recv;
	struct queue to_s, to_c;
};

struct round {
	double cpu_s, wall_s;
	struct qb_conn_stats c, s;       /* during the transfer only */
	double seal_c, open_c;           /* our path, ns per packet at the c->s size */
	double seal_s, open_s;           /* our path at the s->c size */
	double bseal_c, bopen_c;         /* bare BoringSSL at the c->s size */
	double bseal_s, bopen_s;         /* bare BoringSSL at the s->c size */
	double aead_ours_s, aead_bare_s; /* AEAD seconds of the transfer */
	double share_ours, share_bare;   /* of the CPU time */
	double gbps_cpu, gbps_wall;      /* stream payload */
	double eng_ns_pkt, eng_ns_bare;  /* (CPU - AEAD) / packets, our path / bare */
};

static void
die(const char *what)
{
	fprintf(stderr, "bench_bulk: %s\n", what);
	exit(1);
}

static uint64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(const double *v, int n)
{
	double t[MAX_ROUND];

	memcpy(t, v, sizeof(*v) * (size_t)n);
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* ---- The negotiated suite, from one bare qb_tls handshake on the same ctxs ---- */

static uint16_t
negotiated_suite(struct qb_tls_ctx *cctx, struct qb_tls_ctx *sctx)
{
	static const uint8_t tp[8] = {0x04, 0x04, 0x80, 0x10, 0x00, 0x00};
	static const enum qb_tls_level lv[] = {QB_TLS_LEVEL_INITIAL, QB_TLS_LEVEL_HANDSHAKE,
	                                       QB_TLS_LEVEL_APP};
	struct qb_tls *t[2] = {qb_tls_new(cctx, "localhost", tp, sizeof(tp)),
	                       qb_tls_new(sctx, NULL, tp, sizeof(tp))};
	struct qb_tls_secret sec = {0};

	if (t[0] == NULL || t[1] == NULL)
		die("qb_tls_new failed");
	for (int round = 0; round < 20; round++) {
		size_t moved = 0;
		for (int dir = 0; dir < 2; dir++)
			for (int i = 0; i < 3; i++) {
				const uint8_t *p;
				size_t n = qb_tls_out(t[dir], lv[i], &p);
				if (n == 0)
					continue;
				if (qb_tls_provide(t[!dir], lv[i], p, n) != 0)
					die("suite check handshake failed");
				qb_tls_out_consume(t[dir], lv[i], n);
				moved += n;
			}
		if (moved == 0)
			break;
	}
	if (qb_tls_secret(t[1], QB_TLS_LEVEL_APP, true, &sec) != 0)
		die("suite check handshake incomplete");
	qb_tls_free(t[0]);
	qb_tls_free(t[1]);
	return (uint16_t)sec.cipher;
}

/* ---- The transfer ---------------------------------------------------------- */

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
		fprintf(stderr, "bench_bulk: qb_tls_ctx_new: %s\n", err);
		exit(1);
	}
	return ctx;
}

/* Each side's stream pools, made once and reused by every round, as a
 * worker reuses its pools for connection after connection (fresh pools
 * would put their first-touch page faults into the timed transfer). */
static struct qb_stream_pools pool_c, pool_s;

/* Per-stream send buffer (BENCH_BULK_SNDBUF_KB; default 4 MiB as in the
 * conn tests' harness). */
static uint64_t sndbuf = 4u << 20;

static void
pair_init(struct pair *p, struct qb_tls_ctx *cctx, struct qb_tls_ctx *sctx, uint64_t seed)
{
	memset(p, 0, sizeof(*p));
	p->now = 1000 * MS;
	p->cfg_c = (struct qb_conn_config){
	        .tls = cctx, .pools = &pool_c, .server_name = "localhost", .seed = seed};
	p->cfg_s = (struct qb_conn_config){.tls = sctx, .pools = &pool_s, .seed = seed + 1};
	p->cfg_c.send_buffer_max = p->cfg_s.send_buffer_max = sndbuf;
	p->cfg_c.max_sent_packets = p->cfg_s.max_sent_packets = 16384;
	p->c = qb_conn_client_new(&p->cfg_c, p->now);
	if (p->c == NULL)
		die("qb_conn_client_new failed");
}

static void
pair_fini(struct pair *p)
{
	qb_conn_free(p->c);
	qb_conn_free(p->s);
	if (pool_c.chunks.in_use != 0 || pool_s.chunks.in_use != 0)
		die("stream chunks leaked");
}

/* Up to BURST datagrams of c into q. Returns how many. */
static int
flush(struct pair *p, struct qb_conn *c, struct queue *q)
{
	uint32_t why;

	q->n = 0;
	while (c != NULL && q->n < BURST) {
		int n = qb_conn_send(c, 0, q->d[q->n], MTU, p->now, &why);
		if (n < 0)
			die("qb_conn_send failed");
		if (n == 0)
			break;
		q->len[q->n++] = (size_t)n;
	}
	return q->n;
}

/* Hands q to the server (to_server) or the client. */
static void
deliver(struct pair *p, struct queue *q, bool to_server)
{
	for (int i = 0; i < q->n; i++) {
		p->now += STEP_NS;
		if (to_server && p->s == NULL) {
			p->s = qb_conn_server_new(&p->cfg_s, q->d[i], q->len[i], p->now);
			if (p->s == NULL)
				die("qb_conn_server_new failed");
		}
		qb_conn_recv(to_server ? p->s : p->c, 0, q->d[i], q->len[i], p->now);
	}
	q->n = 0;
}

/* The client writes constant data as far as the send buffer takes it. */
static void
app_write(struct pair *p, uint64_t size)
{
	static const uint8_t chunk[16384];

	while (!p->fin_sent) {
		uint64_t left = size - p->written;
		size_t n = left < sizeof(chunk) ? (size_t)left : sizeof(chunk);
		int64_t w = qb_conn_stream_write(p->c, p->stream, chunk, n, n == left);
		if (w < 0)
			die("qb_conn_stream_write failed");
		p->written += (uint64_t)w;
		if (p->written == size && (size_t)w == n)
			p->fin_sent = true;
		if ((size_t)w < n)
			break;
	}
}

/* The server reads every byte that arrived (and counts them). */
static void
app_read(struct pair *p)
{
	static uint8_t buf[65536];
	uint64_t id;
	unsigned ev;

	while (qb_conn_stream_next_event(p->s, &id, &ev)) {
		if (!(ev & QB_STREAM_EV_READABLE))
			continue;
		for (;;) {
			bool fin = false;
			int64_t n =
			        qb_conn_stream_read(p->s, id, buf, sizeof(buf), &fin, NULL, p->now);
			if (n <= 0)
				break;
			p->received += (uint64_t)n;
			if (fin) {
				p->fin_recv = true;
				break;
			}
		}
	}
}

/* One exchange: both sides send, the other receives, timers fire. false
 * when nothing moved and no deadline is left (stalled). */
static bool
step(struct pair *p, uint64_t size)
{
	int moved;

	if (size > 0 && p->s != NULL)
		app_write(p, size);
	moved = flush(p, p->c, &p->to_s);
	deliver(p, &p->to_s, true);
	if (size > 0 && p->s != NULL)
		app_read(p);
	moved += flush(p, p->s, &p->to_c);
	deliver(p, &p->to_c, false);
	if (moved == 0) {
		/* Idle: jump to the next deadline (ACK delay, pacer, PTO). */
		uint64_t t = qb_conn_deadline(p->c);
		if (p->s != NULL && qb_conn_deadline(p->s) < t)
			t = qb_conn_deadline(p->s);
		if (t == UINT64_MAX)
			return false;
		if (t > p->now)
			p->now = t;
	}
	if (qb_conn_deadline(p->c) <= p->now)
		qb_conn_on_timeout(p->c, p->now);
	if (p->s != NULL && qb_conn_deadline(p->s) <= p->now)
		qb_conn_on_timeout(p->s, p->now);
	return true;
}

static void
handshake(struct pair *p)
{
	for (int i = 0; i < 10000; i++) {
		if (p->s != NULL && qb_conn_handshake_confirmed(p->c) &&
		    qb_conn_handshake_confirmed(p->s))
			return;
		if (!step(p, 0))
			break;
	}
	die("handshake did not complete");
}

static void
stats_diff(struct qb_conn_stats *d, const struct qb_conn_stats *a, const struct qb_conn_stats *b)
{
	d->pkts_sent = b->pkts_sent - a->pkts_sent;
	d->pkts_recv = b->pkts_recv - a->pkts_recv;
	d->pkts_lost = b->pkts_lost - a->pkts_lost;
	d->pkts_dropped = b->pkts_dropped - a->pkts_dropped;
	d->bytes_sent = b->bytes_sent - a->bytes_sent;
	d->bytes_recv = b->bytes_recv - a->bytes_recv;
	d->dgrams_sent = b->dgrams_sent - a->dgrams_sent;
	d->dgrams_recv = b->dgrams_recv - a->dgrams_recv;
}

/* One upload of size bytes on a fresh pair; fills the transfer fields of r. */
static void
transfer(struct qb_tls_ctx *cctx, struct qb_tls_ctx *sctx, uint64_t size, uint64_t seed,
         struct round *r)
{
	static struct pair p;
	struct qb_conn_stats c0, s0, c1, s1;
	uint64_t w0, t0;
	long i;

	pair_init(&p, cctx, sctx, seed);
	handshake(&p);
	if (qb_conn_stream_open(p.c, true, &p.stream) != 0)
		die("qb_conn_stream_open failed");
	qb_conn_stats(p.c, &c0);
	qb_conn_stats(p.s, &s0);
	w0 = clock_ns(CLOCK_MONOTONIC);
	t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	for (i = 0; i < 100000000 && !p.fin_recv; i++)
		if (!step(&p, size))
			break;
	r->cpu_s = (double)(clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0) / 1e9;
	r->wall_s = (double)(clock_ns(CLOCK_MONOTONIC) - w0) / 1e9;
	if (!p.fin_recv || p.received != size) {
		fprintf(stderr, "bench_bulk: transfer stalled at %lu of %lu bytes\n",
		        (unsigned long)p.received, (unsigned long)size);
		exit(1);
	}
	qb_conn_stats(p.c, &c1);
	qb_conn_stats(p.s, &s1);
	stats_diff(&r->c, &c0, &c1);
	stats_diff(&r->s, &s0, &s1);
	pair_fini(&p);
}

/* ---- The AEAD alone, at the sizes the transfer produced ------------------- */

/* Thread CPU time, like the transfer's: the machine is shared, and wall
 * time would charge another process's slices to the AEAD. */
static uint64_t
cpu_ns(void)
{
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

struct bare {
	EVP_AEAD_CTX aead;
	AES_KEY hp;
	uint8_t iv[12];
};

static const uint8_t secret[32] = {0x51, 0x75, 0x69, 0x63, 0x6b, 0x42, 0x75, 0x72, 0x73, 0x74};

static void
bare_init(struct bare *b)
{
	uint8_t key[16], hp[16];

	if (qb_crypto_hkdf_expand_label(QB_AEAD_AES128GCM, secret, 32, "quic key", key, 16) ||
	    qb_crypto_hkdf_expand_label(QB_AEAD_AES128GCM, secret, 32, "quic iv", b->iv, 12) ||
	    qb_crypto_hkdf_expand_label(QB_AEAD_AES128GCM, secret, 32, "quic hp", hp, 16) ||
	    !EVP_AEAD_CTX_init(&b->aead, EVP_aead_aes_128_gcm(), key, 16, 16, NULL) ||
	    AES_set_encrypt_key(hp, 128, &b->hp) != 0)
		die("bare key setup failed");
}

static void
nonce_of(const uint8_t *iv, uint64_t pn, uint8_t *nonce)
{
	memcpy(nonce, iv, 12);
	for (int i = 0; i < 8; i++)
		nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
}

/* Header protection (RFC 9001 §5.4): mask from the sample, applied. */
static void
bare_hp(const struct bare *b, uint8_t *pkt)
{
	uint8_t mask[16];

	AES_encrypt(pkt + PN_OFFSET + 4, mask, &b->hp);
	pkt[0] ^= mask[0] & 0x1f;
	pkt[PN_OFFSET] ^= mask[1];
	pkt[PN_OFFSET + 1] ^= mask[2];
}

/* A datagram of len bytes is a short header, PN_LEN-byte pn, payload, tag. */
static size_t
payload_of(size_t len)
{
	return len - PN_OFFSET - PN_LEN - QB_CRYPTO_TAG_LEN;
}

static double
time_bare_seal(const struct bare *b, size_t len)
{
	static uint8_t pkt[2048];
	const size_t hl = PN_OFFSET + PN_LEN, pl = payload_of(len);
	uint8_t nonce[12];
	size_t out;
	uint64_t t0 = cpu_ns();

	for (uint64_t pn = 0; pn < AEAD_REPS; pn++) {
		pkt[0] = 0x40 | (PN_LEN - 1);
		pkt[PN_OFFSET] = (uint8_t)(pn >> 8);
		pkt[PN_OFFSET + 1] = (uint8_t)pn;
		nonce_of(b->iv, pn, nonce);
		if (!EVP_AEAD_CTX_seal(&b->aead, pkt + hl, &out, pl + 16, nonce, 12, pkt + hl, pl,
		                       pkt, hl))
			die("bare seal failed");
		bare_hp(b, pkt);
	}
	return (double)(cpu_ns() - t0) / AEAD_REPS;
}

/* The open is out of place (the sealed packet stays intact for the next
 * turn); HP removal works on a copy of the header. Same cipher work as in
 * place, no copy of the payload to pay for. */
static double
time_bare_open(const struct bare *b, size_t len)
{
	static uint8_t pkt[2048], out[2048];
	const size_t hl = PN_OFFSET + PN_LEN, pl = payload_of(len);
	uint8_t nonce[12], hdr[PN_OFFSET + PN_LEN];
	size_t olen;
	uint64_t t0;

	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x40 | (PN_LEN - 1);
	nonce_of(b->iv, 0, nonce);
	if (!EVP_AEAD_CTX_seal(&b->aead, pkt + hl, &olen, pl + 16, nonce, 12, pkt + hl, pl, pkt,
	                       hl))
		die("bare seal failed");
	bare_hp(b, pkt);
	t0 = cpu_ns();
	for (int i = 0; i < AEAD_REPS; i++) {
		uint8_t mask[16];

		memcpy(hdr, pkt, hl);
		AES_encrypt(pkt + PN_OFFSET + 4, mask, &b->hp);
		hdr[0] ^= mask[0] & 0x1f;
		hdr[PN_OFFSET] ^= mask[1];
		hdr[PN_OFFSET + 1] ^= mask[2];
		nonce_of(b->iv, (uint64_t)hdr[PN_OFFSET] << 8 | hdr[PN_OFFSET + 1], nonce);
		if (!EVP_AEAD_CTX_open(&b->aead, out, &olen, pl, nonce, 12, pkt + hl, pl + 16, hdr,
		                       hl))
			die("bare open failed");
	}
	return (double)(cpu_ns() - t0) / AEAD_REPS;
}

static double
time_seal(const struct qb_crypto_key *key, size_t len)
{
	static uint8_t pkt[2048];
	uint64_t t0 = cpu_ns();

	for (uint64_t pn = 0; pn < AEAD_REPS; pn++) {
		pkt[0] = 0x40 | (PN_LEN - 1);
		if (qb_crypto_protect(key, pkt, PN_OFFSET, PN_LEN, pn, payload_of(len)) < 0)
			die("qb_crypto_protect failed");
	}
	return (double)(cpu_ns() - t0) / AEAD_REPS;
}

/* qb_crypto_unprotect works in place: each turn copies the sealed packet
 * back first, and that copy, timed alone, is taken off. */
static double
time_open(const struct qb_crypto_key *key, size_t len)
{
	static uint8_t src[2048], pkt[2048];
	struct qb_crypto_hdr hdr;
	uint64_t t0, t1, t2;

	memset(src, 0, sizeof(src));
	src[0] = 0x40 | (PN_LEN - 1);
	if (qb_crypto_protect(key, src, PN_OFFSET, PN_LEN, 7, payload_of(len)) < 0)
		die("qb_crypto_protect failed");
	t0 = cpu_ns();
	for (int i = 0; i < AEAD_REPS; i++) {
		memcpy(pkt, src, len);
		if (qb_crypto_unprotect(key, pkt, len, PN_OFFSET, 6, &hdr) != 0)
			die("qb_crypto_unprotect failed");
	}
	t1 = cpu_ns();
	for (int i = 0; i < AEAD_REPS; i++) {
		memcpy(pkt, src, len);
		__asm__ volatile("" : : "r"(pkt) : "memory"); /* keep the copy */
	}
	t2 = cpu_ns();
	return (double)((t1 - t0) - (t2 - t1)) / AEAD_REPS;
}

/* Bare and our-path costs at both directions' sizes, then the shares. */
static void
aead_costs(struct round *r, const struct qb_crypto_key *key, const struct bare *b)
{
	size_t lc = (size_t)(r->c.bytes_sent / r->c.dgrams_sent);
	size_t ls = (size_t)(r->s.bytes_sent / r->s.dgrams_sent);
	double pkts = (double)(r->c.pkts_sent + r->s.pkts_sent);

	/* Packets shorter than the sample needs are padded by the engine. */
	if (ls < PN_OFFSET + 4 + 16 + 4)
		ls = PN_OFFSET + 4 + 16 + 4;
	time_seal(key, lc); /* warm-up */
	r->seal_c = time_seal(key, lc);
	r->open_c = time_open(key, lc);
	r->seal_s = time_seal(key, ls);
	r->open_s = time_open(key, ls);
	r->bseal_c = time_bare_seal(b, lc);
	r->bopen_c = time_bare_open(b, lc);
	r->bseal_s = time_bare_seal(b, ls);
	r->bopen_s = time_bare_open(b, ls);
	/* Each side seals what it sends and opens what it receives. */
	r->aead_ours_s = ((double)r->c.pkts_sent * r->seal_c + (double)r->s.pkts_recv * r->open_c +
	                  (double)r->s.pkts_sent * r->seal_s + (double)r->c.pkts_recv * r->open_s) /
	                 1e9;
	r->aead_bare_s =
	        ((double)r->c.pkts_sent * r->bseal_c + (double)r->s.pkts_recv * r->bopen_c +
	         (double)r->s.pkts_sent * r->bseal_s + (double)r->c.pkts_recv * r->bopen_s) /
	        1e9;
	r->share_ours = r->aead_ours_s / r->cpu_s;
	r->share_bare = r->aead_bare_s / r->cpu_s;
	r->eng_ns_pkt = (r->cpu_s - r->aead_ours_s) * 1e9 / pkts;
	r->eng_ns_bare = (r->cpu_s - r->aead_bare_s) * 1e9 / pkts;
}

/* ---- Report ---------------------------------------------------------------- */

#define MED(field)                                      \
	({                                              \
		double v_[MAX_ROUND];                   \
		for (int k_ = 0; k_ < n; k_++)          \
			v_[k_] = (double)(r[k_].field); \
		median(v_, n);                          \
	})

/* BENCH_BULK_TRANSFER_ONLY set: no AEAD timing loops (for a profiler). */
static bool skip_aead;

static void
report(const char *name, const char *arch, uint64_t size, const struct round *r, int n)
{
	double bits = (double)size * 8;

	printf("  backend %s (%s), %d rounds of %lu MB, medians:\n", name, arch, n,
	       (unsigned long)(size >> 20));
	printf("    payload %.2f Gbit/s per core (thread CPU %.3f s), wall %.3f s = %.2f Gbit/s\n",
	       bits / MED(cpu_s) / 1e9, MED(cpu_s), MED(wall_s), bits / MED(wall_s) / 1e9);
	printf("    packets c->s %.0f (mean datagram %.0f B), s->c %.0f (mean %.0f B); "
	       "lost %.0f, dropped %.0f\n",
	       MED(c.pkts_sent), MED(c.bytes_sent) / MED(c.dgrams_sent), MED(s.pkts_sent),
	       MED(s.bytes_sent) / MED(s.dgrams_sent), MED(c.pkts_lost) + MED(s.pkts_lost),
	       MED(c.pkts_dropped) + MED(s.pkts_dropped));
	if (!skip_aead)
		printf("    per packet, ns (c->s size / s->c size): qb_crypto seal %.0f / %.0f, open "
		       "%.0f / %.0f; bare BoringSSL seal %.0f / %.0f, open %.0f / %.0f\n",
		       MED(seal_c), MED(seal_s), MED(open_c), MED(open_s), MED(bseal_c),
		       MED(bseal_s), MED(bopen_c), MED(bopen_s));
	double pkts = MED(c.pkts_sent) + MED(s.pkts_sent);
	bool bssl = strcmp(name, "boringssl") == 0;

	printf("    CPU per packet sent (both ways): %.0f ns, per data packet (c->s): %.0f ns\n",
	       MED(cpu_s) * 1e9 / pkts, MED(cpu_s) * 1e9 / MED(c.pkts_sent));
	if (skip_aead)
		return;
	printf("    AEAD share of the CPU time: %.1f%% (qb_crypto path, %s)", 100 * MED(share_ours),
	       name);
	if (bssl)
		printf(", %.1f%% (bare BoringSSL)", 100 * MED(share_bare));
	printf("\n    engine overhead (CPU - AEAD) per packet: %.0f ns", MED(eng_ns_pkt));
	if (bssl)
		printf(" (%.0f ns against bare BoringSSL)", MED(eng_ns_bare));
	printf("; per data packet: %.0f ns\n", MED(eng_ns_pkt) * pkts / MED(c.pkts_sent));
}

int
main(int argc, char **argv)
{
	static const enum qb_crypto_backend backends[] = {QB_CRYPTO_BORINGSSL, QB_CRYPTO_IPSECMB};
	uint64_t mb = argc > 1 ? strtoull(argv[1], NULL, 10) : 200;
	int rounds = argc > 2 ? atoi(argv[2]) : 3;
	struct qb_tls_ctx *cctx = make_ctx(QB_TLS_CLIENT), *sctx = make_ctx(QB_TLS_SERVER);
	uint16_t suite = negotiated_suite(cctx, sctx);
	struct bare bare;

	if (mb == 0)
		mb = 200;
	skip_aead = getenv("BENCH_BULK_TRANSFER_ONLY") != NULL;
	if (getenv("BENCH_BULK_SNDBUF_KB") != NULL)
		sndbuf = strtoull(getenv("BENCH_BULK_SNDBUF_KB"), NULL, 10) << 10;
	if (rounds < 1 || rounds > MAX_ROUND)
		rounds = 3;
	bare_init(&bare);
	if (qb_stream_pools_init(&pool_c, 4096, 8192, 4096) != 0 ||
	    qb_stream_pools_init(&pool_s, 4096, 8192, 4096) != 0)
		die("qb_stream_pools_init failed");
	printf("bench_bulk: in-memory upload, client to server on one stream, one thread, "
	       "send buffer %lu KiB; TLS suite %#x (%s)\n",
	       (unsigned long)(sndbuf >> 10), suite,
	       suite == QB_TLS_AES_128_GCM_SHA256 ? "AES-128-GCM" : "not AES-128-GCM");
	if (suite != QB_TLS_AES_128_GCM_SHA256)
		printf("  warning: the suite is not AES-128-GCM; the AEAD timings below are "
		       "AES-128-GCM and do not match the transfer\n");
	for (size_t b = 0; b < sizeof(backends) / sizeof(backends[0]); b++) {
		struct qb_crypto_choice ch;
		struct qb_crypto_key key;
		struct round r[MAX_ROUND];

		if (qb_crypto_select(backends[b], &ch) != 0) {
			printf("  backend %s: not available (%s)\n",
			       qb_crypto_backend_name(backends[b]), ch.reason);
			continue;
		}
		memset(&key, 0, sizeof(key));
		if (qb_crypto_key_init(&key, QB_AEAD_AES128GCM, QB_CRYPTO_QUIC_V1, secret, 32,
		                       backends[b]) != 0)
			die("qb_crypto_key_init failed");
		memset(r, 0, sizeof(r));
		for (int i = 0; i < rounds; i++) {
			transfer(cctx, sctx, mb << 20, 1 + (uint64_t)i, &r[i]);
			if (!skip_aead)
				aead_costs(&r[i], &key, &bare);
		}
		qb_crypto_key_clear(&key);
		report(ch.name, ch.arch, mb << 20, r, rounds);
	}
	EVP_AEAD_CTX_cleanup(&bare.aead);
	qb_stream_pools_fini(&pool_c);
	qb_stream_pools_fini(&pool_s);
	qb_tls_ctx_free(cctx);
	qb_tls_ctx_free(sctx);
	return 0;
}
