/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_build's conn variants (bench_build.h): the connection pairs of
 * build_conn.h per table row, their self-check on real mbufs, and the timed
 * runs, with the peer's ACKs and the send buffer's top-up between the timed
 * segments.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_mbuf.h>

#include "bench_build.h"
#include "build_conn.h"
#include "qb_net.h"
#include "qburst/tls.h"

static unsigned int ack_every = 128; /* datagrams between the peer's ACKs */
/* The fills go through qb_conn_burst_* as the engine's workers send; with
 * BUILD_CONN_SINGLE=1, one qb_conn_send per datagram. */
static bool bursts_on = true;
/* The server's pacer bucket (BUILD_CONN_PACER; 0: BCONN_PACER_BURST). */
static uint32_t pacer;
static uint32_t chunk = 4096; /* stream pool chunk size (the workers') */
static struct qb_tls_ctx *tls_c, *tls_s;
static char keylog[64];

/* The row's connections, by data source: lent (conn, econn), referenced
 * read-only (cref), copied (ccopy); indexed by enum bconn_data. */
static struct bconn *conns[3];
static const char *const conn_names[3] = {"conn/econn", "cref", "ccopy"};
/* Their packets and fast-path packets when the timed rounds began. */
static uint64_t sent0[3], direct0[3];

/* During the timed rounds, one sample per ACK: its qb_conn_recv ns per
 * datagram it acknowledged (lent connection), and the copy top-up's ns per
 * datagram (copy connection). Medians: a preempted ACK is one sample. */
#define MAX_SAMPLES 65536
static bool timing;
static double ack_s[MAX_SAMPLES], write_s[MAX_SAMPLES];
static int n_ack, n_write;

unsigned int
bb_conn_ack_every(void)
{
	return ack_every;
}

uint32_t
bb_conn_chunk(void)
{
	return chunk;
}

/* The key log goes with the process, whichever way it exits. */
static void
keylog_unlink(void)
{
	if (keylog[0] != '\0')
		unlink(keylog);
	keylog[0] = '\0';
}

int
bb_conn_setup(void)
{
	static const char *const alpn[] = {"hq-interop"};
	const char *e;
	char err[256] = "";
	int fd;

	if ((e = getenv("BUILD_CONN_SINGLE")) != NULL && strcmp(e, "0") != 0)
		bursts_on = false;
	if ((e = getenv("BUILD_CONN_PACER")) != NULL) {
		long v = strtol(e, NULL, 10);
		if (v < 2 || v > 1024) {
			fprintf(stderr, "bench_build: BUILD_CONN_PACER: packets, 2..1024\n");
			return -1;
		}
		pacer = (uint32_t)v;
	}
	if ((e = getenv("BUILD_CONN_ACK")) != NULL) {
		long a = strtol(e, NULL, 10);
		ack_every = a < BURST ? BURST : (unsigned int)(a + BURST - 1) / BURST * BURST;
	}
	if ((e = getenv("BUILD_CONN_CHUNK")) != NULL) {
		long c = strtol(e, NULL, 10);
		if (c < 64 || c > SRC_SIZE || (c & (c - 1)) != 0) {
			fprintf(stderr, "bench_build: BUILD_CONN_CHUNK: a power of two, 64..%d\n",
			        SRC_SIZE);
			return -1;
		}
		chunk = (uint32_t)c;
	}
	snprintf(keylog, sizeof(keylog), "/tmp/bench_build_keylog_XXXXXX");
	fd = mkstemp(keylog);
	if (fd < 0) {
		perror("bench_build: mkstemp");
		return -1;
	}
	close(fd);
	atexit(keylog_unlink);
	/* Both ends log to one file: the secrets of the newest pair are its last lines. */
	for (int server = 0; server < 2; server++) {
		struct qb_tls_ctx_config cfg = {
		        .role = server ? QB_TLS_SERVER : QB_TLS_CLIENT,
		        .alpn = alpn,
		        .alpn_count = 1,
		        .selfsigned_name = "localhost",
		        .keylog_file = keylog,
		};
		struct qb_tls_ctx *ctx = qb_tls_ctx_new(&cfg, err, sizeof(err));

		if (ctx == NULL) {
			fprintf(stderr, "bench_build: qb_tls_ctx_new: %s\n", err);
			bb_conn_teardown();
			return -1;
		}
		*(server ? &tls_s : &tls_c) = ctx;
	}
	return 0;
}

void
bb_conn_teardown(void)
{
	qb_tls_ctx_free(tls_c);
	qb_tls_ctx_free(tls_s);
	tls_c = tls_s = NULL;
	keylog_unlink();
}

/* ---- the self-check ---- */

/* A TX that keeps the whole burst. */
static struct rte_mbuf *kept[BURST];
static uint16_t kept_n;
static uint16_t
keep_tx(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **m, uint16_t n)
{
	(void)port_id;
	(void)queue_id;
	memcpy(kept, m, n * sizeof(*m));
	kept_n = n;
	return n;
}

/* What one row's self-checks saw, printed after the table. */
#define MAX_NOTES 64
static char notes[MAX_NOTES][320];
static int n_notes;

/*
 * Before timing: one burst of the connection through qb_burst_tx into
 * captured mbufs (valid UDP/IPv4 frames, checksums verified on the software
 * path), each datagram checked by bconn_check (one 1-RTT packet of exactly
 * size bytes that opens with the server's key from the key log, its STREAM
 * frames carrying the source's bytes); then a burst's worth of the fill
 * alone into one buffer (econn), checked alike.
 */
static int
self_check(const struct qb_udp_tmpl *t, const struct qb_burst_path *p, size_t size,
           struct bconn *bc, struct bconn_tally *tally)
{
	const struct qb_burst_io io = {qb_burst_io_dpdk.alloc, keep_tx, qb_burst_io_dpdk.free};
	struct qb_burst_txq q = {port.pool, port.port_id, 0, &stats, &io};
	uint64_t sent, direct, sent1, direct1;
	char err[200] = "";
	int rc = 0;

	memset(tally, 0, sizeof(*tally));
	bconn_ack(bc, NULL); /* the first datagram then carries the ACK frame of its ACK */
	bconn_check_begin(bc);
	bconn_pkts(bc, &sent, &direct);
	kept_n = 0;
	/* As the workers: a burst as large as the pacer and window allow. */
	unsigned int want = bursts_on ? bconn_quota(bc, size, BURST) : BURST;
	if (bursts_on)
		bconn_burst_begin(bc, want);
	unsigned int nb = qb_burst_tx(&q, p, want, size, bconn_fill, bc, 0, NULL);
	if (bursts_on)
		bconn_burst_end(bc);
	if (nb != want || kept_n != want || want < 2) {
		fprintf(stderr, "bench_build: conn sent %u of %u\n", kept_n, want);
		rc = -1;
	}
	for (unsigned int i = 0; i < kept_n && rc == 0; i++) {
		struct qb_pkt_info info;

		if (t->hw_cksum)
			kept[i]->ol_flags |=
			        RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
		if (qb_net_parse(kept[i], NULL, &info) != QB_DROP_NONE) {
			fprintf(stderr, "bench_build: conn datagram %u: bad UDP/IPv4 frame\n", i);
			rc = -1;
			break;
		}
		uint8_t *d = rte_pktmbuf_mtod_offset(kept[i], uint8_t *, info.payload_off);
		if (bconn_check(bc, d, info.payload_len, size, tally, err, sizeof(err)) != 0) {
			fprintf(stderr, "bench_build: conn datagram %u: %s\n", i, err);
			rc = -1;
		}
	}
	rte_pktmbuf_free_bulk(kept, kept_n);
	bconn_check_begin(bc);
	unsigned int want2 = bursts_on ? bconn_quota(bc, size, BURST) : BURST;
	if (bursts_on)
		bconn_burst_begin(bc, want2);
	for (unsigned int i = 0; i < want2 && rc == 0; i++) {
		uint32_t w = 0;
		int n = bconn_fill(bc, engine_buf, size, 0, &w);

		if (n <= 0 ||
		    bconn_check(bc, engine_buf, (size_t)n, size, tally, err, sizeof(err)) != 0) {
			fprintf(stderr, "bench_build: econn datagram %u (%d bytes, why %#x): %s\n",
			        i, n, w, err);
			rc = -1;
		}
	}
	if (bursts_on)
		bconn_burst_end(bc);
	bconn_pkts(bc, &sent1, &direct1);
	tally->direct = (unsigned int)(direct1 - direct);
	if (rc == 0 && sent1 - sent != nb + want2) {
		fprintf(stderr, "bench_build: %llu packets for %u datagrams\n",
		        (unsigned long long)(sent1 - sent), nb + want2);
		rc = -1;
	}
	bconn_ack(bc, NULL);
	return rc;
}

static void
note(const char *name, bool hw, size_t size, const char *what, struct bconn *bc,
     const struct bconn_tally *t)
{
	uint64_t cwnd, srtt;

	bconn_cc(bc, &cwnd, &srtt);
	if (n_notes < MAX_NOTES)
		snprintf(notes[n_notes++], sizeof(notes[0]),
		         "%s %zu %s, %s: %u/%u datagrams checked (%u one STREAM frame only, %u two "
		         "at a chunk boundary, %u ACK+STREAM, %u padded; pn length %u; %u by the "
		         "fast path); cwnd %.0f KiB, srtt %.1f us before timing",
		         name, size, hw ? "offload" : "software", what, t->dgrams, 2 * BURST,
		         t->one_stream, t->two_stream, t->with_ack, t->padded, t->pn_len, t->direct,
		         (double)cwnd / 1024, (double)srtt / 1e3);
}

void
bb_conn_note_direct(const char *name, bool hw, size_t size, const double direct[3])
{
	if (n_notes < MAX_NOTES)
		snprintf(notes[n_notes++], sizeof(notes[0]),
		         "%s %zu %s, timed: %.1f%% of conn/econn's packets by the fast path, "
		         "%.1f%% of cref's, %.1f%% of ccopy's",
		         name, size, hw ? "offload" : "software", 100 * direct[0], 100 * direct[1],
		         100 * direct[2]);
}

unsigned int
bb_conn_pacer(void)
{
	return pacer ? pacer : BCONN_PACER_BURST;
}

void
bb_conn_print_notes(void)
{
	if (n_notes == 0)
		return;
	printf("\nconn self-checks (one burst through qb_burst_tx, then a burst's fills into a "
	       "buffer, as many as qb_conn_burst_quota allows up to %d, per connection; each "
	       "datagram one 1-RTT packet of the row's size that opens with "
	       "SERVER_TRAFFIC_SECRET_0 as AES-128-GCM, STREAM frames of the source's bytes):\n",
	       BURST);
	for (int i = 0; i < n_notes; i++)
		printf("- %s\n", notes[i]);
}

/*
 * The conn variants' source, as a file the application serves: one long run
 * of memory (FILE_SLICES windows), so the stream's chunks reference it end
 * to end, as a mapped file's do, but with the same SRC_SIZE bytes of
 * physical memory as the other variants' window (each slice maps them), so
 * the data is as warm in the caches. One slice more before it: lent, the
 * QB_SEND_GAP bytes before the window are written (and restored). NULL (use
 * src_data) if the mapping fails.
 */
#define FILE_SLICES 64

static uint8_t *
file_window(void)
{
	static uint8_t *win;
	size_t total = (FILE_SLICES + 1) * (size_t)SRC_SIZE;
	uint8_t *base;
	int fd;

	if (win != NULL)
		return win;
	fd = memfd_create("bench_build_window", 0);
	if (fd < 0 || ftruncate(fd, SRC_SIZE) != 0)
		goto fail;
	base = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		goto fail;
	for (size_t i = 0; i <= FILE_SLICES; i++)
		if (mmap(base + i * SRC_SIZE, SRC_SIZE, PROT_READ | PROT_WRITE,
		         MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
			munmap(base, total);
			goto fail;
		}
	close(fd);
	memcpy(base, src_data, SRC_SIZE);
	win = base + SRC_SIZE;
	return win;
fail:
	if (fd >= 0)
		close(fd);
	fprintf(stderr,
	        "bench_build: no file-like window (%s): the conn source wraps every %d "
	        "bytes\n",
	        strerror(errno), SRC_SIZE);
	return NULL;
}

static struct bconn *
make(enum qb_crypto_backend id, const char *name, enum bconn_data data)
{
	uint8_t *win = file_window();
	struct bconn_opts o = {.backend = id,
	                       .data = data,
	                       .window = win != NULL ? win : src_data,
	                       .window_size =
	                               win != NULL ? (size_t)FILE_SLICES * SRC_SIZE : SRC_SIZE,
	                       .chunk_size = chunk,
	                       .ack_every = ack_every,
	                       .pacer_burst = pacer};
	char err[200] = "";
	struct bconn *bc = bconn_new(tls_c, tls_s, keylog, &o, err, sizeof(err));

	if (bc == NULL)
		fprintf(stderr, "bench_build: conn set-up (%s): %s\n", name, err);
	return bc;
}

int
bb_conn_begin(enum qb_crypto_backend id, const char *name, bool hw, const struct qb_udp_tmpl *t,
              const struct qb_burst_path *p, size_t size)
{
	for (int i = 0; i < 3; i++) {
		struct bconn_tally tally;

		conns[i] = make(id, name, (enum bconn_data)i);
		if (conns[i] == NULL || self_check(t, p, size, conns[i], &tally) != 0)
			return -1;
		note(name, hw, size, conn_names[i], conns[i], &tally);
	}
	return 0;
}

void
bb_conn_timing(bool on)
{
	timing = on;
	if (!on)
		return;
	n_ack = n_write = 0;
	for (int i = 0; i < 3; i++)
		bconn_pkts(conns[i], &sent0[i], &direct0[i]);
}

void
bb_conn_end(double *ack, double *write, double direct[3])
{
	*ack = bb_median(ack_s, n_ack);
	*write = bb_median(write_s, n_write);
	for (int i = 0; i < 3; i++) {
		uint64_t s, d;

		bconn_pkts(conns[i], &s, &d);
		direct[i] = s > sent0[i] ? (double)(d - direct0[i]) / (double)(s - sent0[i]) : 0;
		bconn_free(conns[i]);
		conns[i] = NULL;
	}
}

/* ---- the timed runs ---- */

static void
ack(struct bconn *bc)
{
	unsigned int n = bconn_unacked(bc);
	uint64_t w, ns = bconn_ack(bc, &w);

	if (!timing || n == 0)
		return;
	if (bc == conns[BCONN_LENT] && n_ack < MAX_SAMPLES)
		ack_s[n_ack++] = (double)ns / n;
	else if (bc == conns[BCONN_COPY] && n_write < MAX_SAMPLES)
		write_s[n_write++] = (double)w / n;
}

/*
 * bursts * BURST datagrams, in bursts as large as qb_conn_burst_quota
 * allows (up to BURST). Only the bursts (or fills) are timed, in segments
 * that end when an ACK is due (every ack_every datagrams); the ACK and the top-up run between
 * them. Two clock reads per segment: a fraction of a ns per datagram. Only
 * datagrams of exactly size bytes count as sent (a burst's shorter last
 * one shows in the PMD's byte count, checked at the end).
 */
unsigned int
bb_conn_run(enum bb_conn_kind k, const struct qb_burst_txq *q, const struct qb_burst_path *p,
            size_t size, int bursts, uint64_t *ns)
{
	struct bconn *bc = conns[k == BB_CREF    ? BCONN_REF
	                         : k == BB_CCOPY ? BCONN_COPY
	                                         : BCONN_LENT];
	const bool burst = k != BB_ECONN;
	const unsigned int per = burst ? BURST : 1;
	const int calls = bursts * BURST; /* datagrams */
	const uint64_t bytes0 = stats.tx_bytes;
	unsigned int sent = 0;
	uint64_t t = 0;
	uint32_t w;

	for (int i = 0; i < calls;) {
		if (bconn_unacked(bc) + per > ack_every) {
			ack(bc);
			continue;
		}
		uint64_t t0 = now_ns();
		if (burst) {
			do {
				unsigned int mx = bursts_on ? bconn_quota(bc, size, BURST) : BURST,
				             n;

				if (mx > (unsigned int)(calls - i))
					mx = (unsigned int)(calls - i);
				if (bursts_on)
					bconn_burst_begin(bc, mx);
				n = qb_burst_tx(q, p, mx, size, bconn_fill, bc, t0, NULL);
				if (bursts_on)
					bconn_burst_end(bc);
				sent += n;
				i += n ? (int)n : 1;
			} while (i < calls && bconn_unacked(bc) + BURST <= ack_every);
		} else {
			do {
				unsigned int mx = bursts_on ? bconn_quota(bc, size, BURST) : BURST;

				if (bursts_on)
					bconn_burst_begin(bc, mx);
				for (unsigned int j = 0;
				     j < mx && i < calls && bconn_unacked(bc) + 1 <= ack_every;
				     j++, i++)
					sent += bconn_fill(bc, engine_buf, size, t0, &w) ==
					        (int)size;
				if (bursts_on)
					bconn_burst_end(bc);
			} while (i < calls && bconn_unacked(bc) + 1 <= ack_every);
		}
		t += now_ns() - t0;
	}
	if (burst && stats.tx_bytes - bytes0 != (uint64_t)sent * (size + p->udp.hdr_len)) {
		fprintf(stderr, "bench_build: conn datagrams shorter than %zu bytes\n", size);
		exit(1);
	}
	*ns = t;
	return sent;
}
