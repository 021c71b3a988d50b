/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_build's connection pair (build_conn.h): an in-memory handshake,
 * the 1-RTT keys read back from the key log, the peer's ACKs built by hand,
 * and the check of what the server's datagrams carry.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../unit/common/hex.h"
#include "build_conn.h"
#include "qburst/conn.h"
#include "qburst/frame.h"
#include "qburst/packet.h"
#include "qburst/stream.h"

#define HS_MTU      1472 /* UDP payload of the handshake datagrams */
#define HS_BURST    64
#define HS_DELAY_NS 100000ull /* one way, during the handshake */
#define MS          1000000ull
#define BIG_LIMIT   (UINT64_C(1) << 50) /* the client's flow-control limits */
#define WARM_CAP    1452                /* datagram size of the warm-up */
#define WARM_MAX    4096                /* datagrams per warm-up ACK interval at most */

struct bconn {
	struct bconn_opts o;
	struct qb_stream_pools pool_c, pool_s;
	struct qb_conn_config cfg_c, cfg_s;
	struct qb_conn *c, *s;
	uint64_t now;         /* the pair's fake clock, ns */
	uint64_t sid;         /* the server's stream */
	uint64_t end;         /* stream bytes written (chunk-aligned) */
	uint64_t sndbuf;      /* the server's send_buffer_max */
	uint64_t next_pn;     /* the server's next 1-RTT packet number */
	uint64_t cpn;         /* the next packet number of the ACK packets (client) */
	unsigned int unacked; /* datagrams since the last ACK */
	uint64_t acks;        /* ACK packets handed over */
	uint8_t to_s[20];     /* DCID of the client's packets: a server CID */
	size_t to_s_len;
	uint8_t to_c[20]; /* DCID of the server's packets: a client CID */
	size_t to_c_len;
	struct qb_crypto_key ckey, skey; /* 1-RTT: client's and server's write keys */
	/* the self-check's expectations for the next datagram */
	uint64_t chk_pn, chk_off;
	bool ack_frame_ok; /* an ACK packet came since the server last sent an ACK frame */
	/* The server's burst (qb_conn_burst_*) between bconn_burst_begin/end. */
	struct qb_conn_burst cb;
	bool in_burst;
	unsigned int burst_n; /* datagrams of the burst so far */
};

static void
fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

static void
die(const char *what)
{
	fprintf(stderr, "bench_build (conn): %s\n", what);
	exit(1);
}

static uint64_t
clock_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the handshake, datagrams handed over directly ------------------------ */

struct hs_q {
	uint8_t d[HS_BURST][HS_MTU];
	size_t len[HS_BURST];
	int n;
};

static int
hs_flush(struct bconn *b, struct qb_conn *c, struct hs_q *q)
{
	uint32_t why;

	q->n = 0;
	while (c != NULL && q->n < HS_BURST) {
		int n = qb_conn_send(c, 0, q->d[q->n], HS_MTU, b->now, &why);
		if (n <= 0)
			break;
		q->len[q->n++] = (size_t)n;
	}
	return q->n;
}

static int
hs_deliver(struct bconn *b, struct hs_q *q, bool to_server)
{
	b->now += HS_DELAY_NS;
	for (int i = 0; i < q->n; i++) {
		if (to_server && b->s == NULL) {
			b->s = qb_conn_server_new(&b->cfg_s, q->d[i], q->len[i], b->now);
			if (b->s == NULL)
				return -1;
		}
		qb_conn_recv(to_server ? b->s : b->c, 0, q->d[i], q->len[i], b->now);
	}
	return 0;
}

static void
hs_timers(struct bconn *b)
{
	if (qb_conn_deadline(b->c) <= b->now)
		qb_conn_on_timeout(b->c, b->now);
	if (b->s != NULL && qb_conn_deadline(b->s) <= b->now)
		qb_conn_on_timeout(b->s, b->now);
}

/* Both ways once; moved datagrams, or -1 (server refused the first one). */
static int
hs_exchange(struct bconn *b)
{
	static struct hs_q q;
	int moved = hs_flush(b, b->c, &q);

	if (hs_deliver(b, &q, true) != 0)
		return -1;
	moved += hs_flush(b, b->s, &q);
	hs_deliver(b, &q, false);
	return moved;
}

/* The earliest deadline of the two, or UINT64_MAX. */
static uint64_t
hs_deadline(struct bconn *b)
{
	uint64_t t = qb_conn_deadline(b->c);

	if (b->s != NULL && qb_conn_deadline(b->s) < t)
		t = qb_conn_deadline(b->s);
	return t;
}

static bool
hs_confirmed(struct bconn *b)
{
	return b->s != NULL && qb_conn_handshake_confirmed(b->c) &&
	       qb_conn_handshake_confirmed(b->s);
}

/*
 * To confirmation on both sides, then until nothing moves and no deadline
 * but the idle ones is near: HANDSHAKE_DONE, NEW_CONNECTION_ID and their
 * ACKs all delivered and processed.
 */
static int
hs_run(struct bconn *b, char *err, size_t err_len)
{
	for (int i = 0; i < 1000 && !hs_confirmed(b); i++) {
		int moved = hs_exchange(b);
		if (moved < 0) {
			fail(err, err_len, "qb_conn_server_new refused the client's Initial");
			return -1;
		}
		if (moved == 0) {
			uint64_t t = hs_deadline(b);
			if (t == UINT64_MAX)
				break;
			b->now = t > b->now ? t : b->now;
		}
		hs_timers(b);
	}
	if (!hs_confirmed(b)) {
		fail(err, err_len, "handshake not confirmed");
		return -1;
	}
	for (int i = 0; i < 1000; i++) {
		if (hs_exchange(b) > 0)
			continue;
		uint64_t t = hs_deadline(b);
		if (t > b->now + 1000 * MS)
			return 0;
		b->now = t > b->now ? t : b->now;
		hs_timers(b);
	}
	fail(err, err_len, "the pair did not settle after the handshake");
	return -1;
}

/* ---- keys from the key log -------------------------------------------------- */

/*
 * The last secret logged under label (the newest connection's: both ends
 * append to one file, each secret appears twice), its client random into
 * rnd. Returns the secret's length, 0 when absent.
 */
static size_t
keylog_last(const char *path, const char *label, uint8_t *secret, char *rnd, size_t rnd_cap)
{
	char line[512];
	size_t ll = strlen(label), n = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, label, ll) != 0 || line[ll] != ' ')
			continue;
		const char *r = line + ll + 1, *sp = strchr(r, ' ');
		if (sp == NULL || (size_t)(sp - r) >= rnd_cap)
			continue;
		memcpy(rnd, r, (size_t)(sp - r));
		rnd[sp - r] = '\0';
		n = 0;
		for (const char *h = sp + 1; qb_test_nibble(h[0]) >= 0 &&
		                             qb_test_nibble(h[1]) >= 0 && n < QB_CRYPTO_SECRET_MAX;
		     h += 2)
			secret[n++] = (uint8_t)(qb_test_nibble(h[0]) << 4 | qb_test_nibble(h[1]));
	}
	fclose(f);
	return n;
}

/* Both 1-RTT write keys of the newest connection, as AES-128-GCM keys. */
static int
load_keys(struct bconn *b, const char *keylog, char *err, size_t err_len)
{
	uint8_t cs[QB_CRYPTO_SECRET_MAX], ss[QB_CRYPTO_SECRET_MAX];
	char cr[80], sr[80];
	size_t cl = keylog_last(keylog, "CLIENT_TRAFFIC_SECRET_0", cs, cr, sizeof(cr));
	size_t sl = keylog_last(keylog, "SERVER_TRAFFIC_SECRET_0", ss, sr, sizeof(sr));

	if (cl == 0 || sl == 0 || strcmp(cr, sr) != 0) {
		fail(err, err_len, "no 1-RTT secrets of one connection in the key log %s", keylog);
		return -1;
	}
	/* 32 bytes: SHA-256, AES-128-GCM or ChaCha20; which one is proven by
	 * opening the server's packets (bconn_new's probe, bconn_check). */
	if (cl != 32 || sl != 32) {
		fail(err, err_len, "1-RTT secret of %zu bytes: the suite is not AES-128-GCM", cl);
		return -1;
	}
	if (qb_crypto_key_init(&b->ckey, QB_AEAD_AES128GCM, QB_CRYPTO_QUIC_V1, cs, cl,
	                       b->o.backend) != 0 ||
	    qb_crypto_key_init(&b->skey, QB_AEAD_AES128GCM, QB_CRYPTO_QUIC_V1, ss, sl,
	                       b->o.backend) != 0) {
		fail(err, err_len, "qb_crypto_key_init failed");
		return -1;
	}
	memset(cs, 0, sizeof(cs));
	memset(ss, 0, sizeof(ss));
	return 0;
}

/* ---- the data source ---------------------------------------------------------- */

/*
 * Tops the send buffer up to sndbuf with whole chunks at chunk-aligned
 * offsets: referenced, every chunk points into the window (nothing copied);
 * copied, every byte goes into pool chunks. Only after an ACK of everything
 * sent (acknowledged = sent = the connection's tx_used).
 */
static void
refill(struct bconn *b)
{
	struct qb_streams *m = qb_conn_streams(b->s);
	const uint64_t cs = b->o.chunk_size, w = b->o.window_size;
	struct qb_streams_fc fc;

	qb_streams_get_fc(m, &fc);
	uint64_t held = b->end - fc.tx_used;
	uint64_t room = held >= b->sndbuf ? 0 : (b->sndbuf - held) & ~(cs - 1);

	while (room > 0) {
		uint64_t at = b->end % w, len = w - at < room ? w - at : room;
		int64_t n;

		if (b->o.data == BCONN_LENT)
			n = qb_streams_write_ref_gap(m, b->sid, b->o.window + at, len, false);
		else if (b->o.data == BCONN_REF)
			n = qb_streams_write_ref(m, b->sid, b->o.window + at, len, false);
		else
			n = qb_conn_stream_write(b->s, b->sid, b->o.window + at, len, false);
		if (n != (int64_t)len)
			die("the stream took less than its send buffer's room");
		b->end += len;
		room -= len;
	}
}

/* ---- the peer's ACKs ---------------------------------------------------------- */

uint64_t
bconn_ack(struct bconn *b, uint64_t *write_ns)
{
	static uint8_t pkt[256];
	struct qb_ack_range r = {.smallest = 0, .largest = b->next_pn - 1};
	struct qb_conn_stats st0, st;
	struct qb_pkt_layout l;
	struct qb_pkt_enc e;

	if (write_ns != NULL)
		*write_ns = 0;
	if (b->unacked == 0)
		return 0;
	/* RFC 9000 §17.3.1, §19.3: one range, everything the server sent in
	 * 1-RTT (it never skips a packet number); ACK Delay 0. */
	qb_pkt_enc_init(&e, pkt, sizeof(pkt));
	if (qb_pkt_enc_begin_short(&e, b->to_s, b->to_s_len, false, false, b->cpn, 4) != 0 ||
	    qb_pkt_enc_ack(&e, &r, 1, 0, NULL, NULL) != 0 || qb_pkt_enc_finish(&e, &l) != 0 ||
	    qb_crypto_protect(&b->ckey, pkt + l.offset, l.pn_offset, l.pn_len, l.pn,
	                      l.payload_len) < 0)
		die("building the ACK packet failed");
	b->cpn++;
	b->now += BCONN_ACK_DELAY_NS;
	qb_conn_stats(b->s, &st0);
	uint64_t t0 = clock_now();
	int rc = qb_conn_recv(b->s, 0, pkt, l.offset + l.len, b->now);
	uint64_t t1 = clock_now();
	qb_conn_stats(b->s, &st);
	if (rc != 0 || qb_conn_state(b->s) != QB_CONN_OPEN || st.pkts_recv != st0.pkts_recv + 1 ||
	    st.bytes_in_flight != 0) {
		fprintf(stderr,
		        "bench_build (conn): the ACK of pn 0..%llu was not taken as expected "
		        "(rc %d, state %d, recv %llu->%llu, in flight %llu)\n",
		        (unsigned long long)(b->next_pn - 1), rc, (int)qb_conn_state(b->s),
		        (unsigned long long)st0.pkts_recv, (unsigned long long)st.pkts_recv,
		        (unsigned long long)st.bytes_in_flight);
		exit(1);
	}
	b->unacked = 0;
	b->acks++;
	b->ack_frame_ok = true;
	refill(b);
	if (write_ns != NULL)
		*write_ns = clock_now() - t1;
	return t1 - t0;
}

unsigned int
bconn_unacked(const struct bconn *b)
{
	return b->unacked;
}

/* ---- the fill --------------------------------------------------------------------- */

int
bconn_fill(void *arg, uint8_t *buf, size_t cap, uint64_t now, uint32_t *why)
{
	struct bconn *b = arg;

	int n;

	(void)now;
	if (b->in_burst) {
		n = qb_conn_burst_send(&b->cb, buf, cap, why);
		b->burst_n += n > 0;
	} else {
		b->now += BCONN_STEP_NS;
		n = qb_conn_send(b->s, 0, buf, cap, b->now, why);
	}
	if (n > 0) {
		b->next_pn++; /* one 1-RTT packet per datagram once the handshake is over */
		b->unacked++;
	}
	return n;
}

unsigned int
bconn_quota(struct bconn *b, size_t size, unsigned int max)
{
	return qb_conn_burst_quota(b->s, b->now, max, size);
}

void
bconn_burst_begin(struct bconn *b, unsigned int max)
{
	qb_conn_burst_begin(&b->cb, b->s, 0, max, b->now);
	b->in_burst = true;
	b->burst_n = 0;
}

void
bconn_burst_end(struct bconn *b)
{
	qb_conn_burst_end(&b->cb);
	b->in_burst = false;
	/* The clock moves as it did per datagram, once per burst. */
	b->now += BCONN_STEP_NS * (b->burst_n ? b->burst_n : 1);
}

/* ---- set-up ------------------------------------------------------------------------ */

/*
 * One datagram of the server, opened to learn its next packet number (the
 * packets of the handshake are few: a 1-byte truncated pn decodes against
 * "none received" as long as it is below 128).
 */
static int
probe_pn(struct bconn *b, char *err, size_t err_len)
{
	static uint8_t d[WARM_CAP];
	struct qb_crypto_hdr ch;
	uint32_t why = 0;
	int n = bconn_fill(b, d, sizeof(d), 0, &why);

	if (n <= 0) {
		fail(err, err_len, "the server sends no stream data (why %#x)", why);
		return -1;
	}
	if ((d[0] & 0x80) != 0 ||
	    qb_crypto_unprotect(&b->skey, d, (size_t)n, 1 + b->to_c_len, QB_PN_NONE, &ch) != 0) {
		fail(err, err_len,
		     "the server's 1-RTT packet does not open with SERVER_TRAFFIC_SECRET_0 as "
		     "AES-128-GCM (suite not TLS_AES_128_GCM_SHA256?)");
		return -1;
	}
	if (ch.pn >= 128) {
		fail(err, err_len, "the server sent %llu packets in the handshake",
		     (unsigned long long)ch.pn);
		return -1;
	}
	b->next_pn = ch.pn + 1;
	return 0;
}

/* Slow start until the window holds many ACK intervals (nothing timed). */
static int
warm_up(struct bconn *b, char *err, size_t err_len)
{
	static uint8_t d[WARM_CAP];
	const uint64_t target = 16ull * b->o.ack_every * WARM_CAP;
	uint64_t cwnd = 0, srtt;

	for (int i = 0; i < 1000; i++) {
		bconn_cc(b, &cwnd, &srtt);
		if (cwnd >= target && i >= 64)
			return 0;
		for (int k = 0; k < WARM_MAX; k++) {
			uint32_t why = 0;
			if (bconn_fill(b, d, sizeof(d), 0, &why) <= 0)
				break;
		}
		bconn_ack(b, NULL);
	}
	fail(err, err_len, "the congestion window stayed at %llu bytes", (unsigned long long)cwnd);
	return -1;
}

struct bconn *
bconn_new(struct qb_tls_ctx *cctx, struct qb_tls_ctx *sctx, const char *keylog,
          const struct bconn_opts *o, char *err, size_t err_len)
{
	struct bconn *b = calloc(1, sizeof(*b));
	const uint8_t *cid;
	uint64_t per_ack = (uint64_t)o->ack_every * 1500;

	if (b == NULL) {
		fail(err, err_len, "out of memory");
		return NULL;
	}
	b->o = *o;
	if (b->o.ack_every == 0)
		b->o.ack_every = 1;
	b->now = 1000 * MS;
	/* Room for two ACK intervals, in whole chunks: data written (copied)
	 * at one ACK goes out before the next but one, still in the cache, as
	 * an application's freshly written data would. */
	b->sndbuf = 2 * per_ack;
	b->sndbuf = (b->sndbuf + o->chunk_size - 1) & ~(uint64_t)(o->chunk_size - 1);
	/* The connections' keys are made with the process default backend. */
	if (qb_crypto_set_default_backend(o->backend) != 0) {
		fail(err, err_len, "backend %s not registered", qb_crypto_backend_name(o->backend));
		goto bad;
	}
	if (qb_stream_pools_init(&b->pool_c, o->chunk_size, 256, 64) != 0 ||
	    qb_stream_pools_init(&b->pool_s, o->chunk_size,
	                         (uint32_t)(b->sndbuf / o->chunk_size) + 256, 64) != 0) {
		fail(err, err_len, "qb_stream_pools_init failed");
		goto bad;
	}
	b->cfg_c = (struct qb_conn_config){.tls = cctx,
	                                   .pools = &b->pool_c,
	                                   .server_name = "localhost",
	                                   .seed = 11,
	                                   .max_data = BIG_LIMIT,
	                                   .max_stream_data = BIG_LIMIT,
	                                   .max_stream_window = BIG_LIMIT,
	                                   .max_conn_window = BIG_LIMIT,
	                                   .key_update_packets = UINT64_C(1) << 40};
	b->cfg_s = (struct qb_conn_config){.tls = sctx,
	                                   .pools = &b->pool_s,
	                                   .seed = 12,
	                                   .send_buffer_max = b->sndbuf,
	                                   /* bursts the size of the driver's */
	                                   .pacer_burst = o->pacer_burst ? o->pacer_burst
	                                                                 : BCONN_PACER_BURST,
	                                   .key_update_packets = UINT64_C(1) << 40};
	b->c = qb_conn_client_new(&b->cfg_c, b->now);
	if (b->c == NULL) {
		fail(err, err_len, "qb_conn_client_new failed");
		goto bad;
	}
	if (hs_run(b, err, err_len) != 0 || load_keys(b, keylog, err, err_len) != 0)
		goto bad;
	/* Our ACK packets continue the client's 1-RTT packet numbers: above
	 * every packet it sent, in any space. */
	struct qb_conn_stats cst;
	qb_conn_stats(b->c, &cst);
	b->cpn = cst.pkts_sent + 1;
	/* The CIDs each side sends to now: the short headers' DCIDs, 8 bytes
	 * (QB_CONN_CID_LEN_DEFAULT) as in the other variants. */
	if ((cid = qb_conn_dcid(b->c, &b->to_s_len)) == NULL || b->to_s_len > 20) {
		fail(err, err_len, "the client has no server CID");
		goto bad;
	}
	memcpy(b->to_s, cid, b->to_s_len);
	if ((cid = qb_conn_dcid(b->s, &b->to_c_len)) == NULL ||
	    b->to_c_len != QB_CONN_CID_LEN_DEFAULT) {
		fail(err, err_len, "the server's DCID is not 8 bytes");
		goto bad;
	}
	memcpy(b->to_c, cid, b->to_c_len);
	if (qb_conn_stream_open(b->s, false, &b->sid) != 0) {
		fail(err, err_len, "qb_conn_stream_open failed");
		goto bad;
	}
	refill(b);
	if (probe_pn(b, err, err_len) != 0)
		goto bad;
	bconn_ack(b, NULL);
	if (warm_up(b, err, err_len) != 0)
		goto bad;
	return b;
bad:
	bconn_free(b); /* what was not made is zero: each part frees as empty */
	return NULL;
}

void
bconn_free(struct bconn *b)
{
	if (b == NULL)
		return;
	qb_conn_free(b->c);
	qb_conn_free(b->s);
	qb_crypto_key_clear(&b->ckey);
	qb_crypto_key_clear(&b->skey);
	qb_stream_pools_fini(&b->pool_c);
	qb_stream_pools_fini(&b->pool_s);
	free(b);
}

void
bconn_pkts(const struct bconn *b, uint64_t *sent, uint64_t *direct)
{
	struct qb_conn_stats st;

	qb_conn_stats(b->s, &st);
	*sent = st.pkts_sent;
	*direct = st.pkts_sent_direct;
}

void
bconn_cc(const struct bconn *b, uint64_t *cwnd, uint64_t *srtt_ns)
{
	struct qb_conn_stats st;

	qb_conn_stats(b->s, &st);
	*cwnd = st.cwnd;
	*srtt_ns = st.srtt_ns;
}

/* ---- the self-check ---------------------------------------------------------------- */

void
bconn_check_begin(struct bconn *b)
{
	struct qb_streams_fc fc;

	qb_streams_get_fc(qb_conn_streams(b->s), &fc);
	b->chk_pn = b->next_pn;
	b->chk_off = fc.tx_used; /* one stream, nothing lost: its next offset */
}

int
bconn_check(struct bconn *b, uint8_t *d, size_t len, size_t size, struct bconn_tally *t, char *err,
            size_t err_len)
{
	const uint64_t cs = b->o.chunk_size;
	struct qb_crypto_hdr ch;
	unsigned int nstream = 0;
	bool ack = false, pad = false, boundary = false;

	if (len != size) {
		fail(err, err_len, "datagram of %zu bytes, not %zu", len, size);
		return -1;
	}
	/* RFC 9000 §17.3.1: a short header with the client's CID. */
	if ((d[0] & 0xc0) != 0x40 || memcmp(d + 1, b->to_c, b->to_c_len) != 0) {
		fail(err, err_len, "not a 1-RTT packet to the client's CID");
		return -1;
	}
	if (qb_crypto_unprotect(&b->skey, d, len, 1 + b->to_c_len,
	                        b->chk_pn == 0 ? QB_PN_NONE : b->chk_pn - 1, &ch) != 0) {
		fail(err, err_len,
		     "pn %llu does not open with SERVER_TRAFFIC_SECRET_0 as AES-128-GCM, or "
		     "the datagram holds more than that packet",
		     (unsigned long long)b->chk_pn);
		return -1;
	}
	if ((ch.first_byte & 0x04) != 0 || ch.pn != b->chk_pn) {
		fail(err, err_len, "key phase %d, pn %llu (expected 0, %llu)",
		     (ch.first_byte >> 2) & 1, (unsigned long long)ch.pn,
		     (unsigned long long)b->chk_pn);
		return -1;
	}
	const uint8_t *p = d + ch.pn_offset + ch.pn_len, *end = p + ch.payload_len;
	for (unsigned int i = 0; p < end; i++) {
		struct qb_frame f;
		uint64_t terr = 0;
		int n = qb_frame_decode(p, (size_t)(end - p), &f, &terr);

		if (n <= 0) {
			fail(err, err_len, "frame %u does not decode", i);
			return -1;
		}
		p += n;
		if (f.type == QB_FT_ACK && i == 0 && b->ack_frame_ok &&
		    f.ack.largest == b->cpn - 1) {
			ack = true; /* of the peer's ACK packets, piggybacked */
			b->ack_frame_ok = false;
		} else if ((f.type & ~7ull) == QB_FT_STREAM && !pad && nstream < 2 &&
		           (nstream == 0 || boundary)) {
			if (f.stream.stream_id != b->sid || f.stream.offset != b->chk_off ||
			    f.stream.len == 0 ||
			    memcmp(f.stream.data, b->o.window + f.stream.offset % b->o.window_size,
			           f.stream.len) != 0) {
				fail(err, err_len,
				     "STREAM frame (id %llu, offset %llu, %zu bytes): not the "
				     "source's bytes at offset %llu",
				     (unsigned long long)f.stream.stream_id,
				     (unsigned long long)f.stream.offset, f.stream.len,
				     (unsigned long long)b->chk_off);
				return -1;
			}
			b->chk_off += f.stream.len;
			boundary = b->chk_off % cs == 0;
			nstream++;
		} else if (f.type == QB_FT_PADDING && nstream > 0 && boundary) {
			pad = true;
		} else {
			fail(err, err_len, "unexpected frame %u of type %#llx", i,
			     (unsigned long long)f.type);
			return -1;
		}
	}
	if (nstream == 0) {
		fail(err, err_len, "no STREAM frame");
		return -1;
	}
	t->dgrams++;
	t->one_stream += nstream == 1 && !ack && !pad;
	t->two_stream += nstream == 2;
	t->with_ack += ack;
	t->padded += pad;
	t->pn_len = (unsigned int)ch.pn_len;
	b->chk_pn++;
	return 0;
}
