/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Build rate (BRIEF §6, issue 5 item 6): 1-RTT packets of 1200 and 1452 bytes
 * carrying STREAM data (short header, 8-byte DCID, 2-4 byte packet number,
 * one STREAM frame with bytes from a source window), protected with a real
 * AES-128-GCM 1-RTT key, built by qb_burst_tx straight into mbufs,
 * UDP/IPv4/Ethernet prepended, and handed to net_null, on one lcore. Four
 * fills build the same packet: copy (encoder copies the data, seal in
 * place), from (seal from the source), gap (qb_crypto_protect_gap) and tmpl
 * (gap with the path's short-header template: the fast path).
 *
 * Against: the bare seal + header protection of the same backend, in place
 * on a buffer of the same size (BoringSSL: EVP_AEAD_CTX_seal + AES_encrypt
 * of the sample; ipsec-mb: IMB_AES128_GCM_ENC + IMB_AES128_CFB_ONE), timed
 * in rounds interleaved with the build rounds (bare, build, bare, build...)
 * so a noisy machine hits both alike. The figure is the rate ratio
 * bare ns / build ns (1.0: the engine costs nothing beyond the cipher).
 *
 * Each backend is measured on the offload path (the template sets the
 * checksum offload flags and pseudo-header seed as on a real NIC, although
 * net_null advertises no offload: a bench-only switch) and on the software
 * checksum path.
 *
 * The connection core as the fill (build_conn.h): conn is qb_burst_tx whose
 * fill is a real server connection's qb_conn_send(), with the stream data
 * referenced in place and the bytes before it lent (qb_streams_write_ref_gap
 * on a writable, file-like window: bench_build_conn.c file_window()); cref
 * the same referenced read-only
 * (qb_streams_write_ref); ccopy the same with the data copied into the
 * stream's pool chunks (qb_conn_stream_write); econn conn's fill alone into
 * one buffer. Only the bursts are timed: the peer's ACK
 * (qb_conn_recv of a 1-RTT ACK packet) and the send buffer's top-up run
 * between timed segments of BUILD_CONN_ACK datagrams; the ACK's cost is
 * reported apart, per data packet.
 *
 * Usage: bench_build EAL-ARGS -- [ROUNDS [BURSTS_PER_ROUND [BACKEND [PATH]]]]
 *   BACKEND boringssl|ipsecmb (or all) and PATH offload|software restrict the
 *   table.
 *   BUILD_PROFILE=<variant> (bare, copy, from, gap, tmpl, ecopy, efrom, egap,
 *   etmpl, driver, conn, cref, ccopy, econn) in the environment runs only that
 *   variant, untimed, for perf record or callgrind (conn variants: with their
 *   ACKs). BUILD_CONN_ACK=<datagrams> (a multiple of 32; default 128) sets
 *   the ACK interval, BUILD_CONN_CHUNK=<bytes> the stream chunk size
 *   (default 4096, as the workers').
 *   e.g. bench_build -l 1 --no-huge -m 512 --no-pci --no-shconf \
 *        --file-prefix=bench_build --vdev=net_null0,no-rx=1 -- 101 64
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/aead.h>
#include <openssl/aes.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#ifdef QB_HAVE_IPSECMB
#include <intel-ipsec-mb.h>
#endif

#include "bench_build.h"
#include "build_conn.h"
#include "qb_burst.h"
#include "qb_net.h"
#include "qb_port.h"
#include "qb_worker.h"
#include "qburst/crypto.h"
#include "qburst/crypto_select.h"
#include "qburst/frame.h"
#include "qburst/packet.h"

/* ---- the datagram source: what the connection core's send does for 1-RTT data ---- */

struct src {
	const struct qb_crypto_key *key;
	uint8_t *data; /* SRC_SIZE + MAX_PKT bytes, so any window offset has a packet,
	                * with 64 bytes of room before it (qb_crypto_protect_gap) */
	uint64_t pn;
	uint64_t offset; /* stream offset */
	uint8_t dcid[DCID_LEN];
	struct qb_pkt_short_tmpl tmpl; /* the path's short header: first byte and DCID */
};

/* RFC 9000 §17.1: 2 bytes while small, then 3, then 4. */
static inline size_t
pn_len_of(uint64_t pn)
{
	return pn < (1u << 15) ? 2 : pn < (1u << 23) ? 3 : 4;
}

static int
fill_stream(void *arg, uint8_t *buf, size_t cap, uint64_t now, uint32_t *why)
{
	struct src *s = arg;
	struct qb_pkt_layout l;
	struct qb_pkt_enc e;
	uint64_t pn = s->pn;
	size_t taken;

	(void)now;
	qb_pkt_enc_init(&e, buf, cap);
	if (qb_pkt_enc_begin_short(&e, s->dcid, DCID_LEN, false, false, pn, pn_len_of(pn)) != 0 ||
	    qb_pkt_enc_stream(&e, 0, s->offset, s->data + (s->offset & (SRC_SIZE - 1)), MAX_PKT,
	                      false, &taken) != 0 ||
	    qb_pkt_enc_finish(&e, &l) != 0)
		goto fail;
	if (qb_crypto_protect(s->key, buf + l.offset, l.pn_offset, l.pn_len, l.pn, l.payload_len) <
	    0)
		goto fail;
	s->pn = pn + 1;
	s->offset += taken;
	return (int)(l.offset + l.len);
fail:
	*why = 1;
	return 0;
}

/*
 * The engine's fast path for the same packet: the STREAM frame header and the
 * packet's end in one call (qb_pkt_enc_stream_final), and the data sealed
 * straight from the source into the packet (qb_crypto_protect_from): the
 * stream bytes are never copied in plaintext.
 */
static int
fill_fast(void *arg, uint8_t *buf, size_t cap, uint64_t now, uint32_t *why)
{
	struct src *s = arg;
	struct qb_pkt_layout l;
	struct qb_pkt_enc e;
	uint64_t pn = s->pn;
	size_t taken;

	(void)now;
	qb_pkt_enc_init(&e, buf, cap);
	if (qb_pkt_enc_begin_short(&e, s->dcid, DCID_LEN, false, false, pn, pn_len_of(pn)) != 0 ||
	    qb_pkt_enc_stream_final(&e, 0, s->offset, MAX_PKT, false, &taken, &l) != 0)
		goto fail;
	if (qb_crypto_protect_from(s->key, buf + l.offset, l.pn_offset, l.pn_len, l.pn,
	                           l.payload_len - taken, s->data + (s->offset & (SRC_SIZE - 1)),
	                           taken) < 0)
		goto fail;
	s->pn = pn + 1;
	s->offset += taken;
	return (int)(l.offset + l.len);
fail:
	*why = 1;
	return 0;
}

/*
 * The fastest: the whole packet's headers in one encoder call
 * (qb_pkt_enc_short_stream) and qb_crypto_protect_gap: the frame header is
 * put in the room just before the data (and restored after), so the backend
 * seals head and data in one out-of-place pass.
 */
static int
fill_gap(void *arg, uint8_t *buf, size_t cap, uint64_t now, uint32_t *why)
{
	struct src *s = arg;
	struct qb_pkt_layout l;
	struct qb_pkt_enc e;
	uint64_t pn = s->pn;
	size_t taken;

	(void)now;
	qb_pkt_enc_init(&e, buf, cap);
	if (qb_pkt_enc_short_stream(&e, s->dcid, DCID_LEN, false, false, pn, pn_len_of(pn), 0,
	                            s->offset, MAX_PKT, false, &taken, &l) != 0)
		goto fail;
	if (qb_crypto_protect_gap(s->key, buf + l.offset, l.pn_offset, l.pn_len, l.pn,
	                          l.payload_len - taken, s->data + (s->offset & (SRC_SIZE - 1)),
	                          taken) < 0)
		goto fail;
	s->pn = pn + 1;
	s->offset += taken;
	return (int)(l.offset + l.len);
fail:
	*why = 1;
	return 0;
}

/*
 * The fast path as a connection would run it: the path's short-header
 * template (qb_pkt_enc_short_stream_tmpl: no encoder state, header copied
 * with two stores) and qb_crypto_protect_gap (one backend call seals and
 * computes the header-protection mask where the backend has seal_to_hp).
 */
static int
fill_tmpl(void *arg, uint8_t *buf, size_t cap, uint64_t now, uint32_t *why)
{
	struct src *s = arg;
	struct qb_pkt_layout l;
	uint64_t pn = s->pn;
	size_t taken;
	int n;

	(void)now;
	n = qb_pkt_enc_short_stream_tmpl(&s->tmpl, buf, cap, pn, pn_len_of(pn), 0, s->offset,
	                                 MAX_PKT, false, &taken, &l);
	if (n < 0 ||
	    qb_crypto_protect_gap(s->key, buf, l.pn_offset, l.pn_len, pn, l.payload_len - taken,
	                          s->data + (s->offset & (SRC_SIZE - 1)), taken) < 0) {
		*why = 1;
		return 0;
	}
	s->pn = pn + 1;
	s->offset += taken;
	return n;
}

/* ---- bare seal + header protection, per backend ---- */

static const uint8_t bare_key[16] = {0x1f, 0x2e, 0x3d, 0x4c, 0x5b, 0x6a, 0x79, 0x88,
                                     0x97, 0xa6, 0xb5, 0xc4, 0xd3, 0xe2, 0xf1, 0x00};
static const uint8_t bare_hp[16] = {0x01, 0x12, 0x23, 0x34, 0x45, 0x56, 0x67, 0x78,
                                    0x89, 0x9a, 0xab, 0xbc, 0xcd, 0xde, 0xef, 0xf0};
static const uint8_t bare_iv[12] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 11, 12};

#define BARE_PN_OFF 9 /* 1 + DCID_LEN */
#define BARE_PN_LEN 2
#define BARE_HDR    (BARE_PN_OFF + BARE_PN_LEN)

static uint8_t bare_pkt[MAX_PKT] __rte_aligned(64);
static EVP_AEAD_CTX ssl_aead;
static AES_KEY ssl_hp;
#ifdef QB_HAVE_IPSECMB
static IMB_MGR *imb;
static struct gcm_key_data imb_gcm __rte_aligned(64);
static uint8_t imb_hp_rk[15 * 16] __rte_aligned(16);
#endif

static inline void
bare_nonce(uint8_t nonce[12], uint64_t pn)
{
	memcpy(nonce, bare_iv, 12);
	for (int i = 0; i < 8; i++)
		nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
}

/* RFC 9001 §5.4.1: a short header masks 5 bits of byte 0 and the pn bytes. */
static inline void
bare_mask(uint8_t *pkt, const uint8_t *mask)
{
	pkt[0] ^= mask[0] & 0x1f;
	pkt[BARE_PN_OFF] ^= mask[1];
	pkt[BARE_PN_OFF + 1] ^= mask[2];
}

static void
bare_ssl(uint8_t *pkt, size_t len, uint64_t pn)
{
	size_t plen = len - BARE_HDR - 16, out;
	uint8_t nonce[12], mask[16];

	pkt[0] = 0x40 | (BARE_PN_LEN - 1);
	pkt[BARE_PN_OFF] = (uint8_t)(pn >> 8);
	pkt[BARE_PN_OFF + 1] = (uint8_t)pn;
	bare_nonce(nonce, pn);
	if (!EVP_AEAD_CTX_seal(&ssl_aead, pkt + BARE_HDR, &out, plen + 16, nonce, 12,
	                       pkt + BARE_HDR, plen, pkt, BARE_HDR))
		abort();
	AES_encrypt(pkt + BARE_PN_OFF + 4, mask, &ssl_hp);
	bare_mask(pkt, mask);
}

#ifdef QB_HAVE_IPSECMB
static void
bare_imb(uint8_t *pkt, size_t len, uint64_t pn)
{
	static const uint8_t zero[16];
	size_t plen = len - BARE_HDR - 16;
	struct gcm_context_data ctx;
	uint8_t nonce[12], mask[16];

	pkt[0] = 0x40 | (BARE_PN_LEN - 1);
	pkt[BARE_PN_OFF] = (uint8_t)(pn >> 8);
	pkt[BARE_PN_OFF + 1] = (uint8_t)pn;
	bare_nonce(nonce, pn);
	IMB_AES128_GCM_ENC(imb, &imb_gcm, &ctx, pkt + BARE_HDR, pkt + BARE_HDR, plen, nonce, pkt,
	                   BARE_HDR, pkt + BARE_HDR + plen, 16);
	IMB_AES128_CFB_ONE(imb, mask, zero, pkt + BARE_PN_OFF + 4, imb_hp_rk, 16);
	bare_mask(pkt, mask);
}

#endif

/* ---- harness ---- */

uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double
bb_median(double *v, int n)
{
	if (n == 0)
		return 0;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct backend {
	const char *name;
	enum qb_crypto_backend id;
	void (*bare)(uint8_t *pkt, size_t len, uint64_t pn);
	struct qb_crypto_key key;
};

struct qb_port port;
struct qb_lcore_stats stats;
/* GAP bytes of room before the window: what qb_crypto_protect_gap borrows. */
#define GAP 64
static uint8_t src_room[GAP + SRC_SIZE + MAX_PKT];
uint8_t *const src_data = src_room + GAP;

/* A TX that keeps the first frame of the burst for the self-check, frees the rest. */
static struct rte_mbuf *kept;
static uint16_t
keep_tx(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **m, uint16_t n)
{
	(void)port_id;
	(void)queue_id;
	kept = m[0];
	rte_pktmbuf_free_bulk(m + 1, n - 1);
	return n;
}

/*
 * Before timing: build one burst into a captured mbuf and check it is what the
 * bench claims to measure: a valid UDP/IPv4 frame (checksums verified on the
 * software path) whose payload opens with the key to the source's bytes.
 */
static int
self_check(struct backend *b, const struct qb_udp_tmpl *t, const struct qb_burst_path *p,
           size_t size, qb_burst_fill_fn fill)
{
	const struct qb_burst_io io = {qb_burst_io_dpdk.alloc, keep_tx, qb_burst_io_dpdk.free};
	struct qb_burst_txq q = {port.pool, port.port_id, 0, &stats, &io};
	struct src s = {.key = &b->key, .data = src_data, .dcid = {1, 2, 3, 4, 5, 6, 7, 8}};
	struct qb_crypto_hdr ch;

	qb_pkt_short_tmpl_init(&s.tmpl, s.dcid, DCID_LEN, false, false);
	struct qb_pkt_info info;
	struct qb_frame f;
	uint64_t terr;
	int ok = 0;

	if (qb_burst_tx(&q, p, BURST, size, fill, &s, 0, NULL) != BURST)
		return -1;
	if (!t->hw_cksum && qb_net_parse(kept, NULL, &info) != QB_DROP_NONE)
		goto out;
	if (t->hw_cksum) {
		kept->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
		if (qb_net_parse(kept, NULL, &info) != QB_DROP_NONE)
			goto out;
	}
	uint8_t *d = rte_pktmbuf_mtod_offset(kept, uint8_t *, info.payload_off);
	if (info.payload_len != size ||
	    qb_crypto_unprotect(&b->key, d, size, 1 + DCID_LEN, QB_PN_NONE, &ch) != 0 || ch.pn != 0)
		goto out;
	d += ch.pn_offset + ch.pn_len;
	/* One STREAM frame (RFC 9000 §19.8) filling the packet, from offset 0. */
	if (qb_frame_decode(d, ch.payload_len, &f, &terr) != (int)ch.payload_len || f.type < 0x08 ||
	    f.type > 0x0f || f.stream.offset != 0 || f.stream.len < size / 2 ||
	    memcmp(f.stream.data, src_data, f.stream.len) != 0)
		goto out;
	ok = 1;
out:
	rte_pktmbuf_free(kept);
	return ok ? 0 : -1;
}

/* A fill that only seals (bare) a cap-byte packet: the driver's share. */
static void (*bare_fill_fn)(uint8_t *pkt, size_t len, uint64_t pn);
static uint64_t bare_fill_pn;

static int
fill_bare(void *arg, uint8_t *buf, size_t cap, uint64_t now, uint32_t *why)
{
	(void)arg;
	(void)now;
	(void)why;
	bare_fill_fn(buf, cap, bare_fill_pn++);
	return (int)cap;
}

uint8_t engine_buf[MAX_PKT] __rte_aligned(64);

/*
 * The variants, timed in this order in every round. A burst variant sends
 * bursts of BURST through qb_burst_tx with its fill; an engine variant (no
 * mbuf) calls the fill into one buffer; bare seals in place; the conn
 * variants' fill is bconn_fill (bench_build_conn.c runs them).
 */
enum variant {
	V_BARE,
	V_COPY,
	V_FROM,
	V_GAP,
	V_TMPL,
	V_ECOPY,
	V_EFROM,
	V_EGAP,
	V_ETMPL,
	V_DRIVER,
	V_CONN,
	V_CREF,
	V_CCOPY,
	V_ECONN,
	V_N
};

static const struct {
	const char *name;
	qb_burst_fill_fn fill;
	bool burst;
} variants[V_N] = {
        [V_BARE] = {"bare", NULL, false},        [V_COPY] = {"copy", fill_stream, true},
        [V_FROM] = {"from", fill_fast, true},    [V_GAP] = {"gap", fill_gap, true},
        [V_TMPL] = {"tmpl", fill_tmpl, true},    [V_ECOPY] = {"ecopy", fill_stream, false},
        [V_EFROM] = {"efrom", fill_fast, false}, [V_EGAP] = {"egap", fill_gap, false},
        [V_ETMPL] = {"etmpl", fill_tmpl, false}, [V_DRIVER] = {"driver", fill_bare, true},
        [V_CONN] = {"conn", NULL, true},         [V_CREF] = {"cref", NULL, true},
        [V_CCOPY] = {"ccopy", NULL, true},       [V_ECONN] = {"econn", NULL, false},
};

static unsigned int
run_plain(enum variant v, struct backend *b, const struct qb_burst_txq *q,
          const struct qb_burst_path *p, struct src *s, size_t size, int bursts, uint64_t now)
{
	unsigned int sent = 0;
	uint32_t w;

	if (v == V_BARE) {
		for (int i = 0; i < bursts * BURST; i++)
			b->bare(bare_pkt, size, (uint64_t)i);
		return (unsigned int)(bursts * BURST);
	}
	bare_fill_fn = b->bare;
	if (variants[v].burst) {
		void *arg = v == V_DRIVER ? NULL : s;

		for (int i = 0; i < bursts; i++)
			sent += qb_burst_tx(q, p, BURST, size, variants[v].fill, arg, now, NULL);
		return sent;
	}
	for (int i = 0; i < bursts * BURST; i++)
		variants[v].fill(s, engine_buf, size, now, &w);
	return (unsigned int)(bursts * BURST);
}

/*
 * One variant's n packets; returns how many the PMD took (bursts) or n, and
 * in *ns the time they took (the whole call; conn variants: their timed
 * segments only).
 */
static unsigned int
run_variant(enum variant v, struct backend *b, const struct qb_burst_txq *q,
            const struct qb_burst_path *p, struct src *s, size_t size, int bursts, uint64_t *ns)
{
	uint64_t t0;
	unsigned int sent;

	if (v == V_CONN)
		return bb_conn_run(BB_CONN, q, p, size, bursts, ns);
	if (v == V_CREF)
		return bb_conn_run(BB_CREF, q, p, size, bursts, ns);
	if (v == V_CCOPY)
		return bb_conn_run(BB_CCOPY, q, p, size, bursts, ns);
	if (v == V_ECONN)
		return bb_conn_run(BB_ECONN, q, p, size, bursts, ns);
	t0 = now_ns();
	sent = run_plain(v, b, q, p, s, size, bursts, t0);
	*ns = now_ns() - t0;
	return sent;
}

/* BUILD_PROFILE=variant: run only that one, untimed (for perf or callgrind). */
static const char *profile;

/* Median ns/packet of each variant; ack_ns, write_ns, direct: bb_conn_end's. */
static void
measure(struct backend *b, bool hw, size_t size, int rounds, int bursts, double *med,
        double *ack_ns, double *write_ns, double direct[3])
{
	const struct qb_burst_txq q = {port.pool, port.port_id, 0, &stats, NULL};
	struct src s = {.key = &b->key, .data = src_data, .dcid = {1, 2, 3, 4, 5, 6, 7, 8}};
	struct rte_ether_addr dst = {{0x02, 0, 0, 0, 0, 0x02}};
	struct qb_ipaddr sip, dip;
	struct qb_burst_path p;
	struct qb_udp_tmpl t;
	double *v[V_N];
	int n = bursts * BURST;

	for (int i = 0; i < V_N; i++) {
		v[i] = calloc((size_t)rounds, sizeof(double));
		if (v[i] == NULL)
			abort();
	}
	qb_pkt_short_tmpl_init(&s.tmpl, s.dcid, DCID_LEN, false, false);
	qb_ipaddr_parse("198.18.0.1", &sip);
	qb_ipaddr_parse("198.18.0.2", &dip);
	/* hw: the bench-only switch, offload flags as on a real NIC. */
	if (qb_udp_tmpl_init(&t, &port.mac, &dst, 0, &sip, 4433, &dip, 443, hw) != 0 ||
	    qb_burst_path_init(&p, &t, (uint16_t)size, NULL) != 0)
		abort();
	if (self_check(b, &t, &p, size, fill_stream) != 0 ||
	    self_check(b, &t, &p, size, fill_fast) != 0 ||
	    self_check(b, &t, &p, size, fill_gap) != 0 ||
	    self_check(b, &t, &p, size, fill_tmpl) != 0 ||
	    bb_conn_begin(b->id, b->name, hw, &t, &p, size) != 0) {
		fprintf(stderr, "bench_build: self-check failed (%s, %zu, %s)\n", b->name, size,
		        hw ? "offload" : "software");
		exit(1);
	}
	/* Warm every path (caches, pool, branch predictors) before timing. */
	uint64_t ns;
	for (int i = 0; i < V_N; i++)
		run_variant((enum variant)i, b, &q, &p, &s, size, bursts, &ns);
	if (profile != NULL) {
		for (int i = 0; i < V_N; i++)
			if (strcmp(profile, variants[i].name) == 0)
				for (int k = 0; k < rounds; k++)
					run_variant((enum variant)i, b, &q, &p, &s, size, bursts,
					            &ns);
		for (int i = 0; i < V_N; i++)
			free(v[i]);
		bb_conn_end(ack_ns, write_ns, direct);
		return;
	}
	bb_conn_timing(true);
	for (int k = 0; k < rounds; k++) {
		for (int i = 0; i < V_N; i++) {
			unsigned int sent =
			        run_variant((enum variant)i, b, &q, &p, &s, size, bursts, &ns);

			v[i][k] = (double)ns / n;
			if (sent != (unsigned int)n) {
				fprintf(stderr, "bench_build: %s sent %u of %d\n", variants[i].name,
				        sent, n);
				exit(1);
			}
		}
	}
	bb_conn_timing(false);
	bb_conn_end(ack_ns, write_ns, direct);
	for (int i = 0; i < V_N; i++) {
		med[i] = bb_median(v[i], rounds);
		free(v[i]);
	}
}

int
main(int argc, char **argv)
{
	struct qb_port_conf pc = {.nb_queues = 1};
	struct backend be[2];
	struct qb_crypto_choice choice;
	uint8_t secret[32];
	int nb = 0, rounds, bursts, ret;
	const char *only_backend, *only_path;

	profile = getenv("BUILD_PROFILE");
	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "bench_build: rte_eal_init failed\n");
		return 1;
	}
	argc -= ret;
	argv += ret;
	rounds = argc > 1 ? atoi(argv[1]) : 101;
	bursts = argc > 2 ? atoi(argv[2]) : 64;
	only_backend = argc > 3 ? argv[3] : NULL;
	only_path = argc > 4 ? argv[4] : NULL;
	if (rounds < 1 || bursts < 1) {
		fprintf(stderr, "usage: bench_build EAL-ARGS -- [rounds] [bursts-per-round]\n");
		return 2;
	}
	if (qb_port_first(&pc.port_id) != 0 || qb_port_open(&port, &pc) != 0) {
		fprintf(stderr, "bench_build: no port (give --vdev=net_null0,no-rx=1)\n");
		return 1;
	}
	for (size_t i = 0; i < SRC_SIZE + MAX_PKT; i++)
		src_data[i] = (uint8_t)(i * 31 + (i >> 8));
	memset(secret, 0x5a, sizeof(secret));

	if (!EVP_AEAD_CTX_init(&ssl_aead, EVP_aead_aes_128_gcm(), bare_key, 16, 16, NULL) ||
	    AES_set_encrypt_key(bare_hp, 128, &ssl_hp) != 0)
		return 1;
	be[nb] = (struct backend){.name = "boringssl", .id = QB_CRYPTO_BORINGSSL, .bare = bare_ssl};
	nb++;
#ifdef QB_HAVE_IPSECMB
	if (qb_crypto_select(QB_CRYPTO_IPSECMB, &choice) == 0) {
		uint8_t dec[15 * 16] __rte_aligned(16);

		imb = alloc_mb_mgr(0);
		if (imb == NULL)
			return 1;
		init_mb_mgr_auto(imb, NULL);
		IMB_AES128_GCM_PRE(imb, bare_key, &imb_gcm);
		IMB_AES_KEYEXP_128(imb, bare_hp, imb_hp_rk, dec);
		be[nb] = (struct backend){
		        .name = "ipsecmb", .id = QB_CRYPTO_IPSECMB, .bare = bare_imb};
		nb++;
	} else {
		printf("ipsec-mb not usable here: %s\n", choice.reason);
	}
#else
	(void)choice;
	printf("built without ipsec-mb\n");
#endif
	for (int i = 0; i < nb; i++)
		if (qb_crypto_key_init(&be[i].key, QB_AEAD_AES128GCM, QB_CRYPTO_QUIC_V1, secret,
		                       sizeof(secret), be[i].id) != 0)
			return 1;
	if (bb_conn_setup() != 0)
		return 1;

	printf("Build rate: AES-128-GCM 1-RTT STREAM packets built by qb_burst_tx into mbufs,\n"
	       "UDP/IPv4/Ethernet, bursts of %d to %s; median ns/packet over %d rounds of\n"
	       "%d packets, all variants interleaved. ratio = bare ns / build ns.\n"
	       "copy: the encoder copies the STREAM bytes, qb_crypto_protect seals in place.\n"
	       "from: qb_pkt_enc_stream_final + qb_crypto_protect_from (two-piece seal from\n"
	       "the source, no plaintext copy). gap: qb_pkt_enc_short_stream +\n"
	       "qb_crypto_protect_gap (frame header borrowed into the room before the data,\n"
	       "one out-of-place pass). tmpl: as gap, the header from the path's template\n"
	       "(qb_pkt_enc_short_stream_tmpl). engine = the fill alone into one buffer\n"
	       "(no mbuf); driver = qb_burst_tx whose fill is the bare seal.\n"
	       "conn: the fill is a real server connection's qb_conn_send (TLS-handshaken in\n"
	       "memory, TLS_AES_128_GCM_SHA256, keys of the backend), one uni stream whose data\n"
	       "is referenced and its gap lent (qb_streams_write_ref_gap on a writable,\n"
	       "file-like source: one long run of memory whose slices all map the same %d\n"
	       "bytes, as warm as the other fills' window; %u-byte pool chunks); cref: the\n"
	       "same referenced read-only\n"
	       "(qb_streams_write_ref); ccopy: the same copied into pool chunks\n"
	       "(qb_conn_stream_write); engine conn = conn's fill alone into one buffer; direct\n"
	       "= share of conn's and econn's packets by qb_conn_send's fast path\n"
	       "(pkts_sent_direct; cref's and ccopy's after the table). The peer's ACK (a 1-RTT ACK\n"
	       "packet built from the client's key in the key log, qb_conn_recv) and the send\n"
	       "buffer's top-up run every %u datagrams outside the timed segments; ACK rx =\n"
	       "its qb_conn_recv ns per data packet acknowledged (median over the ACKs of\n"
	       "conn and econn); ccopy write = the copying top-up's ns per data packet (median,\n"
	       "not in ccopy's time). Bench config: client limits 2^50 (max_data,\n"
	       "max_stream_data), cubic grown in slow start before timing, the connection's\n"
	       "clock %llu ns per datagram, moved once per burst of qb_conn_burst_* (one now per\n"
	       "burst, as in the workers, each as large as qb_conn_burst_quota allows up to %d),\n"
	       "the pacer's bucket %u packets of 1200 B (BUILD_CONN_PACER; the connection's\n"
	       "default is 10), ACKs %llu us after the last packet,\n"
	       "key updates off.\n\n",
	       BURST, port.name, rounds, bursts * BURST, SRC_SIZE, bb_conn_chunk(),
	       bb_conn_ack_every(), (unsigned long long)BCONN_STEP_NS, BURST, bb_conn_pacer(),
	       (unsigned long long)BCONN_ACK_DELAY_NS / 1000);
	printf("| backend | bytes | checksums | bare seal+HP | copy | ratio | from | ratio | gap "
	       "| ratio | tmpl | tmpl Mpps | **tmpl ratio** | engine copy | engine gap | engine tmpl "
	       "| driver | conn | conn Mpps | **conn ratio** | cref | cref ratio | ccopy | ccopy ratio "
	       "| engine conn | direct | ACK rx | ccopy write |\n");
	printf("|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:"
	       "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
	for (int i = 0; i < nb; i++)
		for (int sz = 0; sz < 2; sz++)
			for (int hw = 1; hw >= 0; hw--) {
				size_t size = sz == 0 ? 1200 : 1452;
				double r[V_N], ack = 0, wr = 0, direct[3] = {0};

				if ((only_backend != NULL && strcmp(only_backend, "all") != 0 &&
				     strcmp(only_backend, be[i].name) != 0) ||
				    (only_path != NULL &&
				     strcmp(only_path, hw ? "offload" : "software") != 0))
					continue;
				measure(&be[i], hw, size, rounds, bursts, r, &ack, &wr, direct);
				if (profile != NULL)
					continue;
				printf("| %s | %zu | %s | %.1f | %.1f | %.3f | %.1f | %.3f | %.1f | %.3f "
				       "| %.1f | %.2f | **%.3f** | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f "
				       "| **%.3f** | %.1f | %.3f | %.1f | %.3f | %.1f | %.0f%% | %.1f "
				       "| %.1f |\n",
				       be[i].name, size, hw ? "offload" : "software", r[V_BARE],
				       r[V_COPY], r[V_BARE] / r[V_COPY], r[V_FROM],
				       r[V_BARE] / r[V_FROM], r[V_GAP], r[V_BARE] / r[V_GAP],
				       r[V_TMPL], 1e3 / r[V_TMPL], r[V_BARE] / r[V_TMPL],
				       r[V_ECOPY], r[V_EGAP], r[V_ETMPL], r[V_DRIVER], r[V_CONN],
				       1e3 / r[V_CONN], r[V_BARE] / r[V_CONN], r[V_CREF],
				       r[V_BARE] / r[V_CREF], r[V_CCOPY], r[V_BARE] / r[V_CCOPY],
				       r[V_ECONN], 100 * direct[0], ack, wr);
				bb_conn_note_direct(be[i].name, hw, size, direct);
				fflush(stdout);
			}
	if (profile == NULL)
		bb_conn_print_notes();
	printf("\ndrops: no_mbuf %" PRIu64 " tx_full %" PRIu64 "\n", stats.drops[QB_DROP_NO_MBUF],
	       stats.drops[QB_DROP_TX_FULL]);
	for (int i = 0; i < nb; i++)
		qb_crypto_key_clear(&be[i].key);
	EVP_AEAD_CTX_cleanup(&ssl_aead);
	bb_conn_teardown();
#ifdef QB_HAVE_IPSECMB
	if (imb != NULL)
		free_mb_mgr(imb);
#endif
	ret = (int)qb_port_close(&port);
	rte_eal_cleanup();
	return ret == 0 ? 0 : 1;
}
