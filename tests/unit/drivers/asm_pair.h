/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A real client and server connection (engine/conn) whose datagrams go
 * through qb_burst_tx into hand-made mbufs (burst_helpers.h: no EAL), are
 * captured as whole Ethernet frames, and are handed to the peer connection
 * by the test. Also what the tests need to read those frames byte for byte:
 * the Initial keys from the client's original DCID (RFC 9001 §5.2), the
 * Handshake and 1-RTT keys from the endpoints' key log (SSLKEYLOGFILE
 * format), a packet opener and a frame walker built on engine/wire and
 * engine/crypto.
 */
#ifndef QB_TEST_ASM_PAIR_H
#define QB_TEST_ASM_PAIR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "burst_helpers.h"
#include "qb_burst.h"
#include "qburst/conn.h"
#include "qburst/crypto.h"
#include "qburst/frame.h"
#include "qburst/packet.h"
#include "qburst/stream.h"
#include "qburst/tls.h"

#define A_MS    1000000ull
#define A_DELAY (5 * A_MS) /* one-way delay the pump puts between send and receipt */
#define A_ALPN  "hq-interop"

static const struct rte_ether_addr a_mac_c = {{0x02, 0, 0, 0, 0, 0x0c}};
static const struct rte_ether_addr a_mac_s = {{0x02, 0, 0, 0, 0, 0x05}};
#define A_PORT_C 50000
#define A_PORT_S 4433

/* ---- one captured frame, and one burst of them ---------------------------- */

struct a_dgram {
	uint8_t frame[TB_BUF]; /* Ethernet header first */
	uint32_t len;          /* whole frame, without FCS */
	uint16_t hdr_len;      /* Ethernet + IP + UDP */
	uint16_t fwd_len;      /* forward header after UDP (relayed path) */
	uint16_t data_off;     /* the mbuf's, after qb_burst_tx */
	uint8_t l2_len, l3_len;
	uint64_t ol_flags;
};

static inline const uint8_t *
a_udp_payload(const struct a_dgram *d)
{
	return d->frame + d->hdr_len;
}

static inline size_t
a_udp_len(const struct a_dgram *d)
{
	return d->len - d->hdr_len;
}

static inline const uint8_t *
a_quic(const struct a_dgram *d)
{
	return d->frame + d->hdr_len + d->fwd_len;
}

static inline size_t
a_quic_len(const struct a_dgram *d)
{
	return d->len - d->hdr_len - d->fwd_len;
}

struct a_burst {
	unsigned int n;     /* datagrams the (fake) PMD took */
	uint32_t why;       /* qb_burst_tx's *why */
	unsigned int fills; /* fill calls */
	size_t caps[TB_COUNT];
	struct a_dgram d[TB_COUNT];
};

/* ---- the pair --------------------------------------------------------------- */

struct a_pair {
	struct qb_tls_ctx *ctx_c, *ctx_s;
	struct qb_stream_pools pool_c, pool_s;
	struct qb_conn_config cfg_c, cfg_s;
	struct qb_conn *c, *s;
	struct qb_burst_path path_c, path_s; /* client->server, server->client */
	uint64_t now;
	char keylog[64], cert[64], key[64];
	bool chain; /* cert/key are files of ours */
	uint8_t odcid[20];
	size_t odcid_len;
};

static struct qb_lcore_stats a_stats;
static struct qb_burst_txq a_txq = {.port_id = 0, .queue_id = 0, .stats = &a_stats, .io = &tb_io};

/* Headers of one direction: client 198.18.0.1:50000 <-> server 198.18.0.2:4433. */
static inline void
a_path(struct qb_burst_path *p, bool from_client, bool v6, bool hw, uint16_t mtu,
       const struct qb_fwd_hdr *fwd)
{
	struct qb_ipaddr c, s;
	struct qb_udp_tmpl t;

	cr_assert_eq(qb_ipaddr_parse(v6 ? "2001:db8::1" : "198.18.0.1", &c), 0);
	cr_assert_eq(qb_ipaddr_parse(v6 ? "2001:db8::2" : "198.18.0.2", &s), 0);
	if (from_client)
		cr_assert_eq(
		        qb_udp_tmpl_init(&t, &a_mac_c, &a_mac_s, 0, &c, A_PORT_C, &s, A_PORT_S, hw),
		        0);
	else
		cr_assert_eq(
		        qb_udp_tmpl_init(&t, &a_mac_s, &a_mac_c, 0, &s, A_PORT_S, &c, A_PORT_C, hw),
		        0);
	cr_assert_eq(qb_burst_path_init(p, &t, mtu, fwd), 0);
}

static inline struct qb_tls_ctx *
a_ctx(enum qb_tls_role role, const char *keylog, const char *cert, const char *key)
{
	static const char *const alpn[] = {A_ALPN};
	struct qb_tls_ctx_config cfg = {
	        .role = role,
	        .alpn = alpn,
	        .alpn_count = 1,
	        .selfsigned_name = "localhost",
	        .keylog_file = keylog,
	        .cert_file = cert,
	        .key_file = key,
	};
	char err[256] = "";
	struct qb_tls_ctx *ctx = qb_tls_ctx_new(&cfg, err, sizeof(err));

	cr_assert_not_null(ctx, "qb_tls_ctx_new: %s", err);
	return ctx;
}

static inline void
a_tmpname(char *out, size_t cap, const char *what)
{
	snprintf(out, cap, "/tmp/qb_asm_%s_XXXXXX", what);
	int fd = mkstemp(out);
	cr_assert_geq(fd, 0, "mkstemp %s", out);
	close(fd);
}

/*
 * A certificate file whose chain is the leaf plus extra_certs unrelated
 * self-signed certificates (~0.4 KB each): the server's Certificate message
 * grows by that much, so its flight outgrows the 3x amplification credit.
 * The client does not verify the chain (no CA file).
 */
static inline void
a_make_chain(struct a_pair *p, unsigned int extra_certs)
{
	char xc[64], xk[64], name[32];
	static char pem[8192];

	a_tmpname(p->cert, sizeof(p->cert), "cert");
	a_tmpname(p->key, sizeof(p->key), "key");
	a_tmpname(xc, sizeof(xc), "xcert");
	a_tmpname(xk, sizeof(xk), "xkey");
	p->chain = true;
	cr_assert_eq(qb_tls_selfsigned_write("localhost", p->cert, p->key), 0);
	FILE *out = fopen(p->cert, "a");
	cr_assert_not_null(out);
	for (unsigned int i = 0; i < extra_certs; i++) {
		snprintf(name, sizeof(name), "extra%u.test", i);
		cr_assert_eq(qb_tls_selfsigned_write(name, xc, xk), 0);
		FILE *in = fopen(xc, "r");
		cr_assert_not_null(in);
		size_t n = fread(pem, 1, sizeof(pem), in);
		fclose(in);
		cr_assert(n > 0 && n < sizeof(pem));
		cr_assert_eq(fwrite(pem, 1, n, out), n);
	}
	fclose(out);
	unlink(xc);
	unlink(xk);
}

/* Both configs and the client's direct IPv4 path; extra_certs > 0: a long chain. */
static inline void
a_init(struct a_pair *p, uint64_t seed, unsigned int extra_certs)
{
	(void)tb_fill_fn; /* burst_helpers.h's scripted fill: not used here */
	memset(p, 0, sizeof(*p));
	memset(&a_stats, 0, sizeof(a_stats));
	tb_reset();
	p->now = 1000 * A_MS;
	a_tmpname(p->keylog, sizeof(p->keylog), "keylog");
	if (extra_certs > 0)
		a_make_chain(p, extra_certs);
	/* Both ends log to one file: each secret then shows up as soon as
	 * either end has it (lines repeat; they agree). */
	p->ctx_c = a_ctx(QB_TLS_CLIENT, p->keylog, NULL, NULL);
	p->ctx_s = a_ctx(QB_TLS_SERVER, p->keylog, p->chain ? p->cert : NULL,
	                 p->chain ? p->key : NULL);
	cr_assert_eq(qb_stream_pools_init(&p->pool_c, 4096, 512, 256), 0);
	cr_assert_eq(qb_stream_pools_init(&p->pool_s, 4096, 512, 256), 0);
	p->cfg_c = (struct qb_conn_config){
	        .tls = p->ctx_c, .pools = &p->pool_c, .server_name = "localhost", .seed = seed};
	p->cfg_s = (struct qb_conn_config){.tls = p->ctx_s, .pools = &p->pool_s, .seed = seed + 1};
	p->cfg_c.send_buffer_max = p->cfg_s.send_buffer_max = 1u << 20;
	a_path(&p->path_c, true, false, false, 1452, NULL);
	a_path(&p->path_s, false, false, false, 1452, NULL);
}

static inline void
a_start(struct a_pair *p)
{
	p->c = qb_conn_client_new(&p->cfg_c, p->now);
	cr_assert_not_null(p->c);
}

static inline void
a_fini(struct a_pair *p)
{
	qb_conn_free(p->c);
	qb_conn_free(p->s);
	qb_stream_pools_fini(&p->pool_c);
	qb_stream_pools_fini(&p->pool_s);
	qb_tls_ctx_free(p->ctx_c);
	qb_tls_ctx_free(p->ctx_s);
	unlink(p->keylog);
	if (p->chain) {
		unlink(p->cert);
		unlink(p->key);
	}
}

/* ---- sending: the engine's fill over qb_conn_send ---------------------------- */

/*
 * What drivers/engine's fill does: a cap below 1200 (after a short first
 * datagram) ends the burst without a reason; otherwise one qb_conn_send.
 */
static int
a_fill(void *arg, uint8_t *buf, size_t cap, uint64_t now, uint32_t *why)
{
	if (cap < QB_MIN_INITIAL_DGRAM) {
		*why = 0;
		return 0;
	}
	int n = qb_conn_send(arg, 0, buf, cap, now, why);
	cr_assert_geq(n, 0, "qb_conn_send: %d", n);
	return n;
}

/* Records the caps qb_burst_tx offers, then fills as a_fill. */
struct a_fill_rec {
	struct qb_conn *c;
	struct a_burst *b;
};

static int
a_fill_rec_fn(void *arg, uint8_t *buf, size_t cap, uint64_t now, uint32_t *why)
{
	struct a_fill_rec *r = arg;

	if (r->b->fills < TB_COUNT)
		r->b->caps[r->b->fills] = cap;
	r->b->fills++;
	return a_fill(r->c, buf, cap, now, why);
}

/* One qb_burst_tx of c on path, at p->now; the frames are copied into b. */
static inline unsigned int
a_send(struct a_pair *p, struct qb_conn *c, const struct qb_burst_path *path,
       unsigned int max_segments, size_t seg, struct a_burst *b)
{
	struct a_fill_rec r = {.c = c, .b = b};

	tb_reset();
	memset(&a_stats, 0, sizeof(a_stats)); /* the counters of this burst */
	b->fills = 0;
	b->n = qb_burst_tx(&a_txq, path, max_segments, seg, a_fill_rec_fn, &r, p->now, &b->why);
	cr_assert_eq(b->n, tb_n_sent);
	cr_assert_eq(tb_n_alloc, tb_n_sent + tb_n_freed, "every mbuf sent or freed");
	for (unsigned int i = 0; i < b->n; i++) {
		const struct rte_mbuf *m = tb_sent[i];
		struct a_dgram *d = &b->d[i];

		cr_assert_eq(m->nb_segs, 1);
		cr_assert_eq(m->data_len, m->pkt_len);
		cr_assert_leq(m->pkt_len, sizeof(d->frame));
		d->len = m->pkt_len;
		d->data_off = m->data_off;
		d->ol_flags = m->ol_flags;
		d->l2_len = (uint8_t)m->l2_len;
		d->l3_len = (uint8_t)m->l3_len;
		d->hdr_len = path->udp.hdr_len;
		d->fwd_len = path->fwd_len;
		memcpy(d->frame, rte_pktmbuf_mtod(m, const uint8_t *), m->pkt_len);
	}
	return b->n;
}

/* Hands d's QUIC bytes (a copy: the connection decrypts in place) to `to`. */
static inline void
a_deliver(struct a_pair *p, bool to_server, const struct a_dgram *d)
{
	static uint8_t buf[TB_BUF];
	size_t len = a_quic_len(d);

	memcpy(buf, a_quic(d), len);
	if (to_server && p->s == NULL) {
		p->s = qb_conn_server_new(&p->cfg_s, buf, len, p->now);
		cr_assert_not_null(p->s, "the server refused the client's first datagram");
	}
	cr_assert_eq(qb_conn_recv(to_server ? p->s : p->c, 0, buf, len, p->now), 0);
}

static inline void
a_timers(struct a_pair *p)
{
	if (p->c != NULL && qb_conn_deadline(p->c) <= p->now)
		qb_conn_on_timeout(p->c, p->now);
	if (p->s != NULL && qb_conn_deadline(p->s) <= p->now)
		qb_conn_on_timeout(p->s, p->now);
}

/* Whether a datagram holds an Initial packet (headers only: no key needed). */
static inline bool
a_carries_initial(const struct a_dgram *d)
{
	struct qb_pkt_hdr h[4];
	int n = qb_dgram_parse(a_quic(d), a_quic_len(d), QB_CONN_CID_LEN_DEFAULT, 0, h, 4);

	cr_assert_geq(n, 1, "unparsable datagram");
	for (int i = 0; i < n; i++)
		if (h[i].type == QB_PKT_INITIAL)
			return true;
	return false;
}

/* Every burst one side has now, delivered A_DELAY later. Returns datagrams moved. */
static inline unsigned int
a_flush(struct a_pair *p, bool from_client)
{
	static struct a_burst b;
	struct qb_conn *c = from_client ? p->c : p->s;
	const struct qb_burst_path *path = from_client ? &p->path_c : &p->path_s;
	unsigned int total = 0;

	if (c == NULL)
		return 0;
	for (int i = 0; i < 10000; i++) {
		unsigned int n = a_send(p, c, path, 16, 1452, &b);

		p->now += A_DELAY;
		a_timers(p);
		for (unsigned int k = 0; k < n; k++) {
			/* RFC 9000 §14.1, on every client datagram of every test. */
			if (from_client && a_carries_initial(&b.d[k]))
				cr_assert_geq(a_quic_len(&b.d[k]), QB_MIN_INITIAL_DGRAM,
				              "a client datagram with an Initial");
			a_deliver(p, from_client, &b.d[k]);
		}
		total += n;
		if (n == 0 || b.why != 0)
			return total;
	}
	cr_assert_fail("flush did not end");
	return total;
}

/* One round both ways; when nothing moved, the clock jumps to the next deadline. */
static inline bool
a_round(struct a_pair *p)
{
	unsigned int moved = a_flush(p, true) + a_flush(p, false);

	if (moved > 0)
		return true;
	uint64_t t = qb_conn_deadline(p->c);
	if (p->s != NULL && qb_conn_deadline(p->s) < t)
		t = qb_conn_deadline(p->s);
	if (t == UINT64_MAX)
		return false;
	if (t > p->now)
		p->now = t;
	a_timers(p);
	return true;
}

static inline bool
a_confirmed(struct a_pair *p)
{
	return p->s != NULL && qb_conn_handshake_confirmed(p->c) &&
	       qb_conn_handshake_confirmed(p->s);
}

/* Runs the handshake to confirmation on both sides, then lets ACKs settle. */
static inline void
a_handshake(struct a_pair *p)
{
	for (int i = 0; i < 200 && !a_confirmed(p); i++)
		cr_assert(a_round(p), "stalled");
	cr_assert(a_confirmed(p), "handshake not confirmed");
	/* Settle: until nothing moves and no deadline is near (only the idle
	 * timer left), so a later burst starts with nothing owed. */
	for (int i = 0; i < 200; i++) {
		if (a_flush(p, true) + a_flush(p, false) > 0)
			continue;
		uint64_t t = qb_conn_deadline(p->c);
		if (qb_conn_deadline(p->s) < t)
			t = qb_conn_deadline(p->s);
		if (t > p->now + 1000 * A_MS)
			return;
		p->now = t > p->now ? t : p->now;
		a_timers(p);
	}
	cr_assert_fail("did not settle");
}

/* ---- keys ------------------------------------------------------------------ */

/* The candidate keys of one direction and level (the suite is not exposed). */
struct a_keyset {
	struct qb_crypto_key k[2];
	int n;
};

struct a_keys {
	struct a_keyset init_c, init_s, hs_c, hs_s, app_c, app_s;
};

static inline void
a_keyset_clear(struct a_keyset *ks)
{
	for (int i = 0; i < ks->n; i++)
		qb_crypto_key_clear(&ks->k[i]);
	ks->n = 0;
}

static inline void
a_keys_clear(struct a_keys *k)
{
	a_keyset_clear(&k->init_c);
	a_keyset_clear(&k->init_s);
	a_keyset_clear(&k->hs_c);
	a_keyset_clear(&k->hs_s);
	a_keyset_clear(&k->app_c);
	a_keyset_clear(&k->app_s);
}

/* Initial keys from the client's original DCID (RFC 9001 §5.2). */
static inline void
a_keys_initial(struct a_keys *k, const uint8_t *odcid, size_t len)
{
	a_keyset_clear(&k->init_c);
	a_keyset_clear(&k->init_s);
	cr_assert_eq(
	        qb_crypto_initial_keys(QB_VERSION_1, odcid, len, &k->init_c.k[0], &k->init_s.k[0]),
	        0);
	k->init_c.n = k->init_s.n = 1;
}

static inline int
a_hex(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* A 32-byte secret is AES-128-GCM or ChaCha20-Poly1305, a 48-byte one AES-256-GCM. */
static inline void
a_keyset_from_secret(struct a_keyset *ks, const uint8_t *s, size_t len)
{
	a_keyset_clear(ks);
	if (len == 48) {
		cr_assert_eq(qb_crypto_key_init(&ks->k[0], QB_AEAD_AES256GCM, QB_VERSION_1, s, len,
		                                QB_CRYPTO_AUTO),
		             0);
		ks->n = 1;
		return;
	}
	cr_assert_eq(len, 32);
	cr_assert_eq(qb_crypto_key_init(&ks->k[0], QB_AEAD_AES128GCM, QB_VERSION_1, s, len,
	                                QB_CRYPTO_AUTO),
	             0);
	cr_assert_eq(qb_crypto_key_init(&ks->k[1], QB_AEAD_CHACHA20POLY1305, QB_VERSION_1, s, len,
	                                QB_CRYPTO_AUTO),
	             0);
	ks->n = 2;
}

/* Reads the key log (labels of RFC 8446 key logging as BoringSSL writes them). */
static inline void
a_keys_load(struct a_keys *k, const struct a_pair *p)
{
	static const struct {
		const char *label;
		size_t off;
	} map[] = {
	        {"CLIENT_HANDSHAKE_TRAFFIC_SECRET ", offsetof(struct a_keys, hs_c)},
	        {"SERVER_HANDSHAKE_TRAFFIC_SECRET ", offsetof(struct a_keys, hs_s)},
	        {"CLIENT_TRAFFIC_SECRET_0 ", offsetof(struct a_keys, app_c)},
	        {"SERVER_TRAFFIC_SECRET_0 ", offsetof(struct a_keys, app_s)},
	};
	char line[512];
	FILE *f = fopen(p->keylog, "r");

	cr_assert_not_null(f, "key log %s", p->keylog);
	while (fgets(line, sizeof(line), f) != NULL) {
		for (size_t m = 0; m < sizeof(map) / sizeof(map[0]); m++) {
			size_t ll = strlen(map[m].label);
			if (strncmp(line, map[m].label, ll) != 0)
				continue;
			const char *sp = strchr(line + ll, ' '); /* after the client random */
			cr_assert_not_null(sp);
			uint8_t s[QB_CRYPTO_SECRET_MAX];
			size_t n = 0;
			for (const char *h = sp + 1; a_hex(h[0]) >= 0 && a_hex(h[1]) >= 0; h += 2) {
				cr_assert_lt(n, sizeof(s));
				s[n++] = (uint8_t)(a_hex(h[0]) << 4 | a_hex(h[1]));
			}
			a_keyset_from_secret((struct a_keyset *)((char *)k + map[m].off), s, n);
		}
	}
	fclose(f);
}

/* ---- reading packets --------------------------------------------------------- */

/* One opened packet of a datagram. */
struct a_pkt {
	struct qb_pkt_hdr h;     /* as parsed (offset, len, pn_offset, CIDs into dgram) */
	struct qb_crypto_hdr ch; /* unprotected first byte, pn, pn_len */
	uint8_t raw[TB_BUF];     /* the packet, unprotected in place */
	const uint8_t *pt;       /* plaintext (in raw) */
	size_t pt_len;
};

/* Opens the packet h of dgram with one key of ks; fails the test if none fits. */
static inline void
a_open(const struct a_keyset *ks, const uint8_t *dgram, const struct qb_pkt_hdr *h,
       struct a_pkt *out)
{
	out->h = *h;
	cr_assert_gt(ks->n, 0, "no key for a packet of type %u", h->type);
	for (int i = 0; i < ks->n; i++) {
		memcpy(out->raw, dgram + h->offset, h->len);
		if (qb_crypto_unprotect(&ks->k[i], out->raw, h->len, h->pn_offset, QB_PN_NONE,
		                        &out->ch) == 0) {
			out->pt = out->raw + out->ch.pn_offset + out->ch.pn_len;
			out->pt_len = out->ch.payload_len;
			cr_assert(qb_pkt_reserved_ok(out->ch.first_byte), "reserved bits %#x",
			          out->ch.first_byte);
			return;
		}
	}
	cr_assert_fail("packet of type %u at %zu (%zu bytes) does not open", h->type, h->offset,
	               h->len);
}

/* The frames of a plaintext, in order. */
#define A_MAX_FRAMES 64
struct a_frames {
	unsigned int n;
	struct qb_frame f[A_MAX_FRAMES];
	size_t padding;       /* PADDING bytes */
	bool ends_in_padding; /* the last frame is PADDING */
};

static inline void
a_frames(const struct a_pkt *k, struct a_frames *fr)
{
	const uint8_t *p = k->pt, *end = k->pt + k->pt_len;

	memset(fr, 0, sizeof(*fr));
	cr_assert_gt(k->pt_len, 0, "empty packet");
	while (p < end) {
		uint64_t terr = 0;
		struct qb_frame f;
		int n = qb_frame_decode(p, (size_t)(end - p), &f, &terr);

		cr_assert_gt(n, 0, "frame decode at %td: %d (terr %#lx)", p - k->pt, n,
		             (unsigned long)terr);
		cr_assert_lt(fr->n, A_MAX_FRAMES);
		fr->f[fr->n++] = f;
		if (f.type == QB_FT_PADDING)
			fr->padding += (size_t)n;
		fr->ends_in_padding = f.type == QB_FT_PADDING;
		p += n;
	}
}

/* The first frame of type t (STREAM: any of 0x08..0x0f), or NULL. */
static inline const struct qb_frame *
a_find(const struct a_frames *fr, uint64_t t)
{
	for (unsigned int i = 0; i < fr->n; i++)
		if (fr->f[i].type == t || (t == QB_FT_STREAM && (fr->f[i].type & ~7ull) == 0x08))
			return &fr->f[i];
	return NULL;
}

/*
 * A long header read by hand (RFC 9000 §17.2), to check the layout
 * independently of qb_pkt_parse: returns the offset just past the Length
 * field, with *length its value.
 */
static inline size_t
a_long_hdr(const uint8_t *q, size_t len, uint8_t *dcid_len, uint8_t *scid_len, uint64_t *token,
           uint64_t *length)
{
	size_t o = 5;
	uint64_t v;
	int n;

	cr_assert_gt(len, 7);
	*dcid_len = q[o++];
	o += *dcid_len;
	cr_assert_lt(o, len);
	*scid_len = q[o++];
	o += *scid_len;
	cr_assert_lt(o, len);
	*token = 0;
	if (((q[0] >> 4) & 3) == 0) { /* Initial: token */
		n = qb_varint_decode(q + o, len - o, &v, NULL);
		cr_assert_gt(n, 0);
		o += (size_t)n + v;
		*token = v;
	}
	n = qb_varint_decode(q + o, len - o, length, NULL);
	cr_assert_gt(n, 0);
	return o + (size_t)n;
}

#endif
