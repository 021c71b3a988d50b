/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_BENCH_BUILD_CONN_H
#define QB_BENCH_BUILD_CONN_H

/*
 * The build rate through the real connection core (bench_build's "conn"
 * variants): a server connection (engine/conn) and a client connection in
 * the same thread, handshaken in memory (TLS contexts of the caller, both
 * logging secrets to one key log), after which the server sends one
 * unidirectional stream of data without limit and qb_conn_send() is the
 * fill of qb_burst_tx. The client connection is not used after the
 * handshake: its role is played by hand, with its 1-RTT key from the key
 * log, by ACK packets built with engine/wire + engine/crypto and handed to
 * the server with qb_conn_recv(), as a real peer's would be.
 *
 * Set-up that keeps the timed region to the build alone:
 *   - the client's transport parameters do not limit the server (max_data,
 *     max_stream_data 2^50), nor its max_udp_payload_size (default 1500:
 *     the cap passed to the fill sets the datagram size);
 *   - the server's CUBIC (the default controller) is grown in slow start
 *     before timing until the window is many ACK intervals wide;
 *   - the connections' clock is the bench's own (fake) time: BCONN_STEP_NS
 *     per datagram, so the pacer's bucket (10 packets at one `now`) refills
 *     between datagrams, and each ACK arrives BCONN_ACK_DELAY_NS after the
 *     last packet it covers (the smoothed RTT, hence a pacing rate far above
 *     the build rate);
 *   - key updates are pushed beyond the run (key_update_packets 2^40);
 *   - the send buffer (two ACK intervals) is topped up after each ACK,
 *     outside the timed region, from a constant window: lent
 *     (qb_streams_write_ref_gap: referenced, and the engine may borrow the
 *     bytes before a packet's data to seal in one pass), referenced
 *     read-only (qb_streams_write_ref), or copied into pool chunks
 *     (qb_conn_stream_write).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qburst/crypto.h"
#include "qburst/tls.h"

#define BCONN_STEP_NS      1000ull /* fake clock per datagram built */
#define BCONN_PACER_BURST  39 /* pacer bucket, packets of 1200 B (default 10): 32 x 1452 B fit */
#define BCONN_ACK_DELAY_NS 10000ull /* from the last packet to its ACK */

struct bconn;

/* How the stream's data is written. */
enum bconn_data {
	BCONN_LENT, /* qb_streams_write_ref_gap: referenced, writable, its gap lent */
	BCONN_REF,  /* qb_streams_write_ref: referenced, read-only */
	BCONN_COPY, /* qb_conn_stream_write: copied into pool chunks */
};

struct bconn_opts {
	enum qb_crypto_backend backend; /* of the connections' keys (made the default) */
	uint32_t pacer_burst; /* the server's pacer bucket, packets (0: BCONN_PACER_BURST) */
	enum bconn_data data;
	/* Stream byte at offset o is window[o % window_size]; lent: the
	 * QB_SEND_GAP bytes before window are writable too. Never changed
	 * (the engine puts back what it borrows before qb_conn_send returns). */
	uint8_t *window;
	size_t window_size;     /* a multiple of chunk_size */
	uint32_t chunk_size;    /* stream pool chunk (the workers use 4096) */
	unsigned int ack_every; /* datagrams between two ACKs (>= 1) */
};

/* What the self-check saw in the datagrams it opened. */
struct bconn_tally {
	unsigned int dgrams;     /* opened and checked */
	unsigned int one_stream; /* exactly one frame: STREAM */
	unsigned int two_stream; /* two STREAM frames: the first ended at a chunk boundary */
	unsigned int with_ack;   /* an ACK frame first, of the peer's ACK packets */
	unsigned int padded;     /* PADDING after a chunk boundary */
	unsigned int pn_len;     /* packet number length of the last one */
	unsigned int direct;     /* by qb_conn_send's fast path (pkts_sent_direct) */
};

/*
 * A connected pair (handshake confirmed, HANDSHAKE_DONE and the client's
 * ACKs processed, the stream open and filled, the window grown). cctx/sctx
 * log to keylog (SSLKEYLOGFILE format), read after the handshake for the
 * 1-RTT secrets. NULL with a reason in err on any failure (the negotiated
 * suite not AES-128-GCM included).
 */
struct bconn *bconn_new(struct qb_tls_ctx *cctx, struct qb_tls_ctx *sctx, const char *keylog,
                        const struct bconn_opts *o, char *err, size_t err_len);
void bconn_free(struct bconn *b);

/* qb_burst_fill_fn: one qb_conn_send() of the server (the driver's now is
 * ignored: the connection runs on the bench's fake clock). */
int bconn_fill(void *arg, uint8_t *buf, size_t cap, uint64_t now, uint32_t *why);

/*
 * Between these, bconn_fill is qb_conn_burst_send() of one server burst of
 * at most max datagrams (as the engine's workers send: all at one `now`);
 * outside, one qb_conn_send() per fill. The fake clock moves by
 * BCONN_STEP_NS per datagram at the burst's end.
 */
void bconn_burst_begin(struct bconn *b, unsigned int max);
void bconn_burst_end(struct bconn *b);

/* The datagrams of size bytes the server's next burst may carry
 * (qb_conn_burst_quota, as the workers size theirs), at most max. */
unsigned int bconn_quota(struct bconn *b, size_t size, unsigned int max);

/* Datagrams built since the last ACK. */
unsigned int bconn_unacked(const struct bconn *b);

/*
 * The peer's ACK of every packet sent so far (one 1-RTT packet, one ACK
 * frame [0, largest]) through qb_conn_recv(), then the send buffer topped
 * up. Returns the ns spent in qb_conn_recv() alone (0 when nothing was
 * unacknowledged); *write_ns (may be NULL) gets the top-up's ns. Exits the process when the server
 * did not take it as expected (state not open, bytes still in flight: the bench's packet number
 * bookkeeping would be wrong).
 */
uint64_t bconn_ack(struct bconn *b, uint64_t *write_ns);

/*
 * Before a burst whose datagrams will be checked: where the next datagram
 * must start (packet number, stream offset).
 */
void bconn_check_begin(struct bconn *b);

/*
 * Checks one datagram of the burst (QUIC bytes, modified: opened in place)
 * against what the bench claims: exactly size bytes, one 1-RTT packet
 * (short header, the client's 8-byte CID, key phase 0) with the next packet
 * number, that opens with the server's 1-RTT key (SERVER_TRAFFIC_SECRET_0,
 * AES-128-GCM, of the backend under test), whose frames are STREAM frames
 * of the server's stream carrying the window's bytes at the next stream
 * offset (two only when the first ends at a chunk boundary; PADDING only
 * after a chunk boundary; an ACK frame first, of the peer's ACK packets,
 * once after each of them at most).
 * 0, or -1 with the reason in err.
 */
int bconn_check(struct bconn *b, uint8_t *dgram, size_t len, size_t size, struct bconn_tally *t,
                char *err, size_t err_len);

/* The server's congestion window and smoothed RTT now. */
void bconn_cc(const struct bconn *b, uint64_t *cwnd, uint64_t *srtt_ns);

/* The server's packets sent so far, and of them those of the fast path
 * (qb_conn_stats pkts_sent, pkts_sent_direct). */
void bconn_pkts(const struct bconn *b, uint64_t *sent, uint64_t *direct);

#endif
