/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QBURST_CONN_H
#define QBURST_CONN_H

/*
 * A QUIC connection (RFC 9000, RFC 9001, RFC 9002), sans-IO: datagrams in
 * (qb_conn_recv), datagrams out (qb_conn_send, one caller-provided buffer at
 * a time), one next deadline (qb_conn_deadline / qb_conn_on_timeout), and a
 * stream API. Every entry point takes `now`, in nanoseconds from any fixed
 * origin, never decreasing. Nothing here reads a clock or does I/O.
 *
 * Typical loop of a caller (the burst engine, or a test):
 *   - a datagram arrives: qb_conn_recv();
 *   - then, and whenever a deadline passes (qb_conn_on_timeout()), call
 *     qb_conn_send() until it returns 0; *why then says what event makes the
 *     connection ready again (an ACK, the pacer's time, more data...);
 *   - arm a timer at qb_conn_deadline().
 *
 * What it covers: the TLS 1.3 handshake (qburst/tls.h) with Initial keys
 * from the client's first DCID, key discard (RFC 9001 §4.9), transport
 * parameters and their CID checks (RFC 9000 §7.3), Retry and Version
 * Negotiation on the client, 1-RTT key updates (RFC 9001 §6), loss recovery
 * by frame records (RFC 9002), congestion control and pacing, streams and
 * flow control (qburst/stream.h), connection IDs (qburst/cid.h), idle
 * timeout, closing and draining (RFC 9000 §10), stateless reset detection.
 * Not (yet): 0-RTT, DATAGRAM frames (not advertised: received ones close
 * the connection), migration of the handshake path, ECN.
 *
 * Paths: one path, id 0, unless cfg.multipath_handshake opts in to the
 * multi-path handshake (BRIEF §2, a dquic extension, qburst to qburst only):
 * a client opens more paths with qb_conn_path_add() before its first send
 * (one per local address); every path sends Initials with the original DCID;
 * the first path on which the server's Initial is processed becomes the
 * handshake path, the only one that carries Initial and Handshake packets
 * (the server, too, answers only on the path its first Initial came on). Once
 * the handshake is confirmed, each other path takes an unused connection ID
 * of the peer (RFC 9000 §9.5), is validated with PATH_CHALLENGE/PATH_RESPONSE
 * in 1200-byte datagrams (§8.2), and then carries 1-RTT packets like the
 * handshake path. A server's path ids are the engine's, one per peer
 * address (any id below QB_CONN_MAX_PATHS; a new one is taken on its first
 * datagram). All paths share one packet number space, one RTT estimator and
 * one congestion controller; the caller spreads datagrams over the paths by
 * calling qb_conn_send() on each.
 *
 * A caller with several paths: names a path by its (local address, peer
 * address) pair (a client's paths differ by local address, a server's by the
 * peer's); after any datagram or timeout tries every path of the connection,
 * starting with a different one each turn (one congestion window and pacer
 * serve all paths: a fixed order starves the later paths); gives a path up
 * when qb_conn_path_info() says QB_PATH_FAILED. Loss detection and RTT are
 * per path (qburst/recovery.h) over one packet number space and one
 * congestion controller: paths of different delays work; the caller's
 * alternation of paths, not their capacity, sets each path's share.
 *
 * Memory: qb_conn_client_new()/qb_conn_server_new() allocate the connection
 * once (its sent-packet and frame-record tables are sized there); nothing is
 * allocated on the per-packet path except what BoringSSL allocates while the
 * handshake runs. Stream data lives in the caller's struct qb_stream_pools
 * (qburst/stream.h), shared by the connections of one thread.
 *
 * Errors: functions return 0 or a non-negative count, or a negative enum
 * qb_err (qburst/error.h). A peer's protocol violation is not an error of the
 * call: the connection closes with the RFC 9000 §20.1 code, visible through
 * qb_conn_close_info().
 *
 * Not thread-safe: a connection belongs to one thread.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qburst/cid.h"
#include "qburst/error.h"
#include "qburst/frame.h"
#include "qburst/stream.h"
#include "qburst/tls.h"

struct qb_conn;
struct qb_qlog;

/* Connection IDs we issue have this length unless configured (bytes). */
#define QB_CONN_CID_LEN_DEFAULT 8
/* The active_connection_id_limit we advertise (peer CIDs we keep). */
#define QB_CONN_PEER_CID_LIMIT  4
/* Path ids are 0..QB_CONN_MAX_PATHS-1 (more than 1 only with multipath_handshake). */
#define QB_CONN_MAX_PATHS       4

struct qb_conn_config {
	struct qb_tls_ctx *tls;        /* role must match the connection's (not owned) */
	struct qb_stream_pools *pools; /* data chunks and stream objects (not owned) */
	const char *server_name;       /* client: SNI / name to verify; NULL: none */
	uint32_t version;              /* QB_VERSION_1 (0 selects it) or QB_VERSION_2 */
	const char *cc_algo;           /* "cubic" (NULL) or "newreno" */
	uint8_t cid_len;               /* our CIDs, 1..20 (0: QB_CONN_CID_LEN_DEFAULT) */
	qb_cid_gen_fn cid_gen; /* our CIDs (qburst/cid.h); NULL: a PRNG seeded with `seed` */
	void *cid_gen_ctx;
	const uint8_t *reset_key; /* QB_CID_RESET_KEY_LEN bytes for reset tokens; NULL: per
	                           * connection from the PRNG (tokens then die with it) */
	uint64_t seed;            /* seeds the connection's PRNG (CIDs, PATH_CHALLENGE data) */
	/* Server, when the client's Initial carried a Retry token the engine
	 * validated: the client's original DCID from that token (RFC 9000 §8.1.2,
	 * §7.3); sent as original_destination_connection_id, with the Initial's
	 * DCID as retry_source_connection_id. NULL: no Retry happened. */
	const uint8_t *retry_odcid;
	uint8_t retry_odcid_len;
	/* Our transport parameters (RFC 9000 §18.2); 0 selects the default shown. */
	uint64_t idle_timeout_ms;   /* max_idle_timeout: 30000 */
	uint64_t max_udp_payload;   /* max_udp_payload_size: 1500 */
	uint64_t max_data;          /* initial_max_data: 1 MiB */
	uint64_t max_stream_data;   /* each initial_max_stream_data_*: 256 KiB */
	uint64_t max_streams_bidi;  /* initial_max_streams_bidi: 100 */
	uint64_t max_streams_uni;   /* initial_max_streams_uni: 100 */
	uint64_t max_ack_delay_ms;  /* max_ack_delay: 25 */
	uint64_t max_stream_window; /* receive auto-tuning cap per stream: 16 MiB */
	uint64_t max_conn_window;   /* receive auto-tuning cap: 32 MiB */
	uint64_t send_buffer_max;   /* per-stream send buffer: 0 = pool only */
	uint32_t max_local_streams; /* local streams at once: 1024 */
	uint32_t max_sent_packets;  /* 1-RTT packets outstanding (power of 2): 8192 */
	/* Packets the pacer lets out at one time (its bucket, RFC 9002 §7.7:
	 * bursts SHOULD stay within the initial window): 10 (QB_PACER_BURST). */
	uint32_t pacer_burst;
	/* 1-RTT packets sent with one key before a key update starts by itself;
	 * 0: half the AEAD's confidentiality limit (RFC 9001 §6.6). */
	uint64_t key_update_packets;
	/* qlog of this connection (qburst/qlog.h; not owned, must outlive the
	 * connection; flushed at close and in qb_conn_free). NULL: off. */
	struct qb_qlog *qlog;
	/* The multi-path handshake (see the top of this file); both ends must
	 * be qburst with it on. false: one path, id 0. */
	bool multipath_handshake;
};

/*
 * A client connection to server_name. Its first flight (ClientHello) is
 * ready for qb_conn_send() at once. NULL on a bad config or allocation
 * failure.
 */
struct qb_conn *qb_conn_client_new(const struct qb_conn_config *cfg, uint64_t now);

/*
 * A client takes a Retry (RFC 9000 §17.2.5, §8.1.2) by itself in
 * qb_conn_recv(): the integrity tag checked, Initial keys re-derived for the
 * new DCID, the token put in its Initials, its first flight sent again.
 *
 * A server connection for the client Initial that starts dgram (len bytes,
 * at least 1200: RFC 9000 §14.1). The
 * datagram is only parsed, not consumed: pass it to qb_conn_recv() next.
 * NULL when the datagram is shorter, its first packet is not an Initial of a
 * version we speak with a DCID of at least 8 bytes (RFC 9000 §7.2), or on
 * allocation failure.
 */
struct qb_conn *qb_conn_server_new(const struct qb_conn_config *cfg, const uint8_t *dgram,
                                   size_t len, uint64_t now);

/*
 * Client with cfg.multipath_handshake: opens one more path (another local
 * address toward the same server) before the first qb_conn_send(); *path_id
 * gets its id (path 0 exists from the start). Returns 0, QB_ERR_UNSUPPORTED
 * (not opted in, or a server), QB_ERR_STATE (a datagram was already sent or
 * received) or QB_ERR_NOMEM (QB_CONN_MAX_PATHS reached).
 */
int qb_conn_path_add(struct qb_conn *c, uint32_t *path_id);

/* Frees the connection and everything it holds. NULL ok. */
void qb_conn_free(struct qb_conn *c);

/*
 * Gives back memory a quiet connection no longer needs: its last ACK-only
 * sent records are forgotten, the 1-RTT sent-packet ring shrinks to a
 * couple of records (none when empty), the frame records to those still
 * held (usually none: the table is freed), and the stream table to what the
 * open streams need (none when no stream is open). What a transfer grew is
 * regrown, doubling, by the packets that need it. Does nothing (returns 0)
 * unless the handshake is over (Initial and Handshake discarded), nothing
 * ack-eliciting is in flight and nothing is waiting to be sent. Returns the
 * heap bytes released.
 *
 * The connection runs it by itself: qb_conn_deadline() includes a point one
 * quiet second (or 3 PTOs, whichever is longer) after its last activity, and
 * qb_conn_on_timeout() trims there, once per quiet period, so a driver that
 * follows the deadline needs nothing more. Callable directly too (e.g. under
 * memory pressure); not for the per-packet path (it allocates and copies
 * what is held). An idle connection then holds 7.0 KiB (BoringSSL keys) or
 * 7.9 KiB (ipsec-mb keys) of heap (doc/performance.md, "Memory per idle
 * connection").
 */
size_t qb_conn_trim(struct qb_conn *c, uint64_t now);

/*
 * Processes one received UDP payload of len bytes on path_id (0 unless
 * multipath_handshake: a client's added paths; on a server, any id below
 * QB_CONN_MAX_PATHS, a new one starting a path). Packets are unprotected in
 * place (dgram is modified). Undecryptable or undecodable packets are
 * dropped and counted. Returns 0, QB_ERR_ARG (unknown path), or QB_ERR_STATE
 * once the connection is closed for good (nothing done).
 */
int qb_conn_recv(struct qb_conn *c, uint32_t path_id, uint8_t *dgram, size_t len, uint64_t now);

/* Why qb_conn_send() wrote nothing: a set of these. */
#define QB_WHY_NO_DATA       0x001 /* nothing to send: wait for the app or the peer */
#define QB_WHY_CONGESTION    0x002 /* cwnd full (or sent-packet table): wait for an ACK */
#define QB_WHY_PACING        0x004 /* the pacer: wait for qb_conn_deadline() */
#define QB_WHY_AMPLIFICATION 0x008 /* server, 3x limit: wait for a datagram */
#define QB_WHY_KEYS          0x010 /* data waits for keys (handshake in progress) */
#define QB_WHY_FLOW_CONTROL  0x020 /* data held back by the peer's flow control */
#define QB_WHY_CLOSED        0x040 /* closed or draining: nothing more will be sent */
#define QB_WHY_BUFFER        0x080 /* cap too small for a packet */
#define QB_WHY_NO_CID        0x100 /* no peer connection ID to send with */

/* This path may not carry data yet: the handshake runs on another path, or
 * its validation is under way (wait for a datagram or qb_conn_deadline()),
 * or failed (qb_conn_path_info() says QB_PATH_FAILED: give it up). */
#define QB_WHY_PATH_UNVALIDATED 0x200

/*
 * Writes at most one datagram (<= cap bytes; cap = min(path MTU, the peer's
 * max_udp_payload_size), >= 1200) for path_id into buf: the packets now due,
 * coalesced (Initial, Handshake, 1-RTT). Returns the datagram length (> 0),
 * or 0 with *why (if not NULL) set to QB_WHY_* bits, or QB_ERR_ARG (unknown
 * path, cap < 1200).
 */
int qb_conn_send(struct qb_conn *c, uint32_t path_id, uint8_t *buf, size_t cap, uint64_t now,
                 uint32_t *why);

/*
 * A burst of datagrams on one path (BRIEF §2): qb_conn_burst_begin(), then
 * qb_conn_burst_send() once per datagram (at most max, each into its own
 * buffer, as qb_conn_send(c, path_id, buf, cap, now, why) would write it),
 * then qb_conn_burst_end(). No other call on the connection may come in
 * between. A run of full 1-RTT packets of stream data is cut from one
 * send-buffer span with the connection's checks made once, and the stream,
 * the loss recovery's counts, the congestion controller, the pacer and the
 * statistics learn what was sent at the end of the run: so
 * qb_conn_burst_end() is required. Fields private; the struct lives on the caller's stack.
 */
struct qb_conn_burst {
	struct qb_conn *c;
	uint64_t now;
	uint32_t path_id;
	uint32_t left; /* datagrams the caller may still ask for */
	bool fast;     /* a run is under way */
	size_t used;   /* bytes of span sent by the run */
	size_t pn_len; /* the run's packet number length */
	size_t cap;    /* the run's datagram size */
	uint32_t k;    /* packets of the run after its first, not yet counted in */
	uint32_t kmax; /* how many the window, pacer, records, ACK lag allow */
	struct qb_send_span span;
	struct qb_pkt_short_tmpl tmpl;
};
void qb_conn_burst_begin(struct qb_conn_burst *b, struct qb_conn *c, uint32_t path_id, unsigned max,
                         uint64_t now);
/* One datagram: the length, or 0 with *why, or QB_ERR_ARG; as qb_conn_send(). */
int qb_conn_burst_send(struct qb_conn_burst *b, uint8_t *buf, size_t cap, uint32_t *why);
void qb_conn_burst_end(struct qb_conn_burst *b);

/*
 * How many datagrams of size bytes (the largest the caller will offer) a
 * burst on the connection can fill at now as far as the pacer and the
 * congestion window go (RFC 9002 §7, §7.7), at least 1 (ACKs and probes
 * are held back by neither), at most max: a caller sizes its burst by it
 * rather than take buffers (mbufs) it would give back unused.
 */
unsigned qb_conn_burst_quota(struct qb_conn *c, uint64_t now, unsigned max, size_t size);

/* The next time qb_conn_on_timeout() must be called (ns), or UINT64_MAX. */
uint64_t qb_conn_deadline(struct qb_conn *c);

/* Handles every deadline due at now (loss/PTO, idle, draining end). */
void qb_conn_on_timeout(struct qb_conn *c, uint64_t now);

/*
 * Closes the connection with an application error (CONNECTION_CLOSE 0x1d;
 * during the handshake a 0x1c with APPLICATION_ERROR, RFC 9000 §10.2.3).
 * reason (may be NULL) is copied, truncated to 64 bytes. The connection
 * enters the closing state (RFC 9000 §10.2.1). QB_ERR_STATE if already
 * closing.
 */
int qb_conn_close(struct qb_conn *c, uint64_t app_error, const char *reason, uint64_t now);

/*
 * Starts a key update (RFC 9001 §6.1): 1-RTT packets go out with the next
 * key phase; the peer answers in kind. QB_ERR_STATE before the handshake is
 * confirmed, or while the previous update is not yet acknowledged.
 */
int qb_conn_key_update(struct qb_conn *c);

/* ---- State ---------------------------------------------------------------- */

enum qb_conn_state {
	QB_CONN_HANDSHAKE = 0, /* handshake in progress */
	QB_CONN_OPEN = 1,      /* handshake complete */
	QB_CONN_CLOSING = 2,   /* we sent CONNECTION_CLOSE (RFC 9000 §10.2.1) */
	QB_CONN_DRAINING = 3,  /* the peer's CONNECTION_CLOSE arrived (§10.2.2) */
	QB_CONN_CLOSED = 4,    /* terminal: free it */
};

enum qb_conn_state qb_conn_state(const struct qb_conn *c);
bool qb_conn_is_server(const struct qb_conn *c);
bool qb_conn_handshake_complete(const struct qb_conn *c);
bool qb_conn_handshake_confirmed(const struct qb_conn *c);
/* The negotiated ALPN (owned by the TLS ctx), NULL before it is known. */
const char *qb_conn_alpn(const struct qb_conn *c);

/* Why the connection closed (valid once state >= CLOSING). */
struct qb_conn_close_info {
	bool by_peer;    /* the peer sent CONNECTION_CLOSE */
	bool app;        /* application close (0x1d) rather than transport (0x1c) */
	bool idle;       /* closed silently by the idle timeout (RFC 9000 §10.1) */
	uint64_t code;   /* transport (enum qb_transport_error) or application code */
	uint64_t frame;  /* transport: the frame type that caused it (0: unknown) */
	char reason[65]; /* NUL-terminated, possibly truncated */
};
void qb_conn_close_info(const struct qb_conn *c, struct qb_conn_close_info *out);

struct qb_conn_stats {
	uint64_t pkts_sent, pkts_recv, pkts_lost;
	/* Of pkts_sent, 1-RTT packets of one STREAM frame sealed straight from
	 * the send buffer (the fast path: no plaintext copy). */
	uint64_t pkts_sent_direct;
	uint64_t pkts_dropped;           /* undecryptable, duplicate, undecodable, no key */
	uint64_t bytes_sent, bytes_recv; /* UDP payload bytes */
	uint64_t dgrams_sent, dgrams_recv;
	uint64_t pto_count;
	uint64_t key_updates; /* 1-RTT send key phase changes (started or answered) */
	uint64_t srtt_ns, min_rtt_ns;
	uint64_t cwnd, bytes_in_flight;
};
void qb_conn_stats(const struct qb_conn *c, struct qb_conn_stats *out);

/* ---- Paths ------------------------------------------------------------------ */

enum qb_conn_path_state {
	QB_PATH_UNKNOWN = 0, /* no such path */
	QB_PATH_WAITING = 1, /* the handshake runs on another path (or is not yet placed) */
	QB_PATH_PROBING = 2, /* after the handshake: being validated (RFC 9000 §8.2) */
	QB_PATH_ACTIVE = 3,  /* the handshake path, or validated: carries data */
	QB_PATH_FAILED = 4,  /* validation timed out (§8.2.4): nothing is sent on it */
};

struct qb_conn_path_info {
	enum qb_conn_path_state state;
	bool handshake_path; /* the path the handshake ran on */
	uint64_t dgrams_sent, dgrams_recv;
	uint64_t bytes_sent, bytes_recv; /* UDP payload bytes */
	uint64_t challenges_sent;        /* PATH_CHALLENGE frames */
};

/* A path's state and counters. 0, or QB_ERR_ARG (path_id out of range). */
int qb_conn_path_info(const struct qb_conn *c, uint32_t path_id, struct qb_conn_path_info *out);

/*
 * Connection IDs: our first one (sequence 0, the SCID of our long headers),
 * the peer's in use on the handshake path (NULL with *len 0 when none is
 * left; other paths use CIDs of their own), and every CID we issued (for
 * the engine's demultiplexing table; see qburst/cid.h).
 */
const uint8_t *qb_conn_scid(const struct qb_conn *c, size_t *len);
const uint8_t *qb_conn_dcid(const struct qb_conn *c, size_t *len);
const struct qb_cid_local *qb_conn_local_cids(const struct qb_conn *c);
/* Peer CIDs held (live, including the one in use). */
size_t qb_conn_peer_cid_count(const struct qb_conn *c);

/* ---- Streams (RFC 9000 §2-4) --------------------------------------------- */

/*
 * Opens a local stream (needs the handshake's transport parameters: before
 * them the peer's limits are 0). 0 with *id, QB_ERR_STATE (stream limit or
 * connection not open), QB_ERR_NOMEM.
 */
int qb_conn_stream_open(struct qb_conn *c, bool bidi, uint64_t *id);

/*
 * Queues data (copied) on stream id; fin ends the stream after it (only if
 * every byte is taken). Returns the bytes taken (may be fewer than len:
 * retry after a QB_STREAM_EV_WRITABLE event), or QB_ERR_STATE / QB_ERR_NOMEM.
 */
int64_t qb_conn_stream_write(struct qb_conn *c, uint64_t id, const uint8_t *data, size_t len,
                             bool fin);

/*
 * Copies up to cap received in-order bytes of stream id into buf. Returns
 * the bytes copied; *fin (may be NULL) is set when the stream's end was
 * reached and consumed. QB_ERR_STATE when the stream does not exist or has
 * no receive side; QB_ERR_PROTO when the peer reset it (*err_code, if not
 * NULL, gets its application error code).
 */
int64_t qb_conn_stream_read(struct qb_conn *c, uint64_t id, uint8_t *buf, size_t cap, bool *fin,
                            uint64_t *err_code, uint64_t now);

/* RESET_STREAM / STOP_SENDING with an application error code. */
int qb_conn_stream_reset(struct qb_conn *c, uint64_t id, uint64_t app_error);
int qb_conn_stream_stop_sending(struct qb_conn *c, uint64_t id, uint64_t app_error);

/*
 * The next stream with pending events (QB_STREAM_EV_* of qburst/stream.h:
 * READABLE, WRITABLE, STOPPED). false when none.
 */
bool qb_conn_stream_next_event(struct qb_conn *c, uint64_t *id, unsigned *events);

/* The stream manager, for statistics (qb_streams_get_fc...). */
struct qb_streams *qb_conn_streams(struct qb_conn *c);

#endif
