/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QBURST_CONN_INTERNAL_H
#define QBURST_CONN_INTERNAL_H

/*
 * The connection's private state, shared by conn.c (lifecycle, deadline),
 * conn_rx.c (datagrams in), conn_tx.c (one datagram out), conn_tls.c
 * (handshake glue, keys), conn_rec.c (frame records and recovery hooks) and
 * conn_stream.c (stream API).
 */

#include "qburst/cc.h"
#include "qburst/cid.h"
#include "qburst/conn.h"
#include "qburst/crypto.h"
#include "qburst/frame.h"
#include "qburst/packet.h"
#include "qburst/recovery.h"
#include "qburst/stream.h"
#include "qburst/tls.h"
#include "qburst/tp.h"
#include "qlog/qlog_conn.h"

/* Epochs double as packet number space indexes (enum qb_pn_space). */
#define CONN_EP_INITIAL   0
#define CONN_EP_HANDSHAKE 1
#define CONN_EP_APP       2
#define CONN_NEP          3

/* Received ranges kept, 1-RTT: as many as an ACK frame carries (TX_ACK_RANGES
 * in conn_tx.c); older ones only raise the duplicate floor (qb_rx_space). */
#define CONN_RX_RANGES      32
/* ... with several paths: every packet in flight on a slower path leaves a
 * gap (~120 at 2x100 Mbit/s, 10/25 ms; more as its queue grows). */
#define CONN_RX_RANGES_MP   512
#define CONN_RX_RANGES_HS   8             /* Initial, Handshake: a handful of packets each */
#define CONN_HS_SENT_CAP    256           /* Initial/Handshake sent records per space */
#define CONN_SENT_START     16            /* sent records per space at first (conn_mem.c) */
#define CONN_SENT_IDLE      2             /* 1-RTT sent records left by qb_conn_trim() */
#define CONN_TRIM_IDLE_NS   1000000000ull /* quiet this long (or 3 PTOs): trim */
#define CONN_FREC_START     64            /* frame records at first: one packet's and more */
#define CONN_MAX_PKTS_DGRAM 8             /* coalesced packets walked per datagram */
#define CONN_CRYPTO_RX_MAX  65536         /* out-of-order CRYPTO bytes buffered per epoch */
#define CONN_FREC_PER_PKT   48            /* frame records per packet at most */
#define CONN_REASON_MAX     64
#define CONN_TOKEN_MAX      512 /* longest Retry token taken */
#define CONN_CHALLENGE_MAX  3   /* PATH_CHALLENGEs per validation before it fails */

/* What a sent packet carried, for retransmission by frame (RFC 9002 §6). */
enum conn_frec_kind {
	FREC_ACK = 1, /* a.largest acknowledged by our ACK frame */
	FREC_CRYPTO,  /* epoch, offset, len */
	FREC_STREAM,  /* id, offset, len, fin */
	FREC_CTRL,    /* a stream-layer control frame */
	FREC_HANDSHAKE_DONE,
	FREC_RETIRE_CID, /* id: seq */
	FREC_NEW_CID,    /* id: seq */
};

struct conn_frec {
	uint32_t next; /* index + 1 of the packet's next record; 0 ends */
	uint8_t kind;  /* enum conn_frec_kind */
	uint8_t epoch;
	bool fin;
	uint64_t id;     /* stream id, or seq */
	uint64_t offset; /* stream/crypto offset, or ACK largest */
	uint64_t len;
	struct qb_ctrl_frame ctrl;
};

/*
 * Acknowledged STREAM bytes [lo, hi) of one stream not yet passed to the
 * stream layer: the packets one ACK frame acknowledges carry adjacent pieces,
 * passed on as one range when the ACK is done (conn_acked_flush()).
 */
struct conn_acked_run {
	bool live;
	bool fin;
	uint64_t id, lo, hi;
};

/* The most 1-RTT packets that leave out an ACK of the peer's non-eliciting
 * packets (conn_tx.c conn_ack_can_wait()). */
#define CONN_ACK_LAG 16

/*
 * One path (a pair of addresses the engine names by an id). Path validation,
 * the anti-amplification limit (RFC 9000 §8, §9) and, for paths other than
 * the handshake path, the RTT estimate (loss detection per path, recovery.h)
 * are per path; packet numbers and congestion control are per connection.
 */
struct conn_path {
	bool known;               /* added (client) or a datagram came on it (server) */
	bool validated;           /* §8: the peer proved it gets our datagrams here */
	bool failed;              /* validation timed out (§8.2.4) */
	bool initial_sent;        /* client, handshake path unknown: sent its Initial copy */
	bool has_dcid;            /* not the handshake path: dcid_seq is claimed */
	bool challenge_pending;   /* a new PATH_CHALLENGE to send */
	bool response_pending;    /* a PATH_RESPONSE to send (§8.2.2) */
	uint8_t challenges;       /* PATH_CHALLENGEs sent in this validation */
	uint64_t dcid_seq;        /* the peer CID used here (§9.5) */
	uint64_t challenge_timer; /* resend or give up; QB_TIME_NONE: none */
	uint8_t challenge[CONN_CHALLENGE_MAX][QB_PATH_DATA_LEN];
	uint8_t response[QB_PATH_DATA_LEN];
	uint64_t rx_bytes, tx_bytes; /* amplification credit (§8.1) */
	uint64_t dgrams_sent, dgrams_recv, challenges_sent;
	struct qb_rtt rtt; /* not the handshake path (which uses c->rtt): its RTT */
};

struct qb_conn {
	bool is_server;
	uint8_t state; /* enum qb_conn_state */
	uint32_t version;
	struct qb_conn_config cfg;
	uint64_t rng;

	/* Connection IDs (engine/conn/cid): ours and the peer's; scid is our
	 * sequence 0 (long headers, initial_source_connection_id); odcid the
	 * client's first DCID (Initial keys, original_destination_connection_id),
	 * also the client's DCID until the server's Initial (RFC 9000 §7.2). */
	struct qb_cid_local lcid;
	struct qb_cid_peer pcid;
	bool pcid_set;
	uint8_t scid[QB_MAX_CID_LEN], odcid[QB_MAX_CID_LEN];
	uint8_t scid_len, odcid_len;
	uint8_t peer_scid[QB_MAX_CID_LEN]; /* the SCID of the peer's first packet */
	uint8_t peer_scid_len;
	/* original_destination_connection_id: the client's very first DCID
	 * (odcid changes on a Retry, this does not). */
	uint8_t tp_odcid[QB_MAX_CID_LEN];
	uint8_t tp_odcid_len;
	bool retried; /* client: a Retry was taken; server: started after one */
	uint16_t token_len;
	uint8_t *token; /* client: the Retry token for our Initials (malloc'ed, NULL: none) */

	/* Handshake. */
	struct qb_tls *tls;
	bool hs_complete, hs_confirmed, peer_tp_done;
	bool hs_done_pending; /* server: HANDSHAKE_DONE to (re)send */
	bool sent_handshake_pkt;
	struct qb_tp peer_tp;

	/* Per epoch: keys, received packets, crypto stream, next pn. */
	/* Keys in use per epoch (NULL: none), each allocated with just the
	 * state its backend uses (qb_crypto_key_new) and freed as soon as it is
	 * discarded (RFC 9001 §4.9) or replaced by a key update (§6): an idle
	 * confirmed connection holds two. rx_next is the next key phase's
	 * 1-RTT receive key once derived, kept until that phase starts (§6.3). */
	struct qb_crypto_key *rxk[CONN_NEP], *txk[CONN_NEP], *rx_next;
	uint8_t rx_phase, tx_phase; /* key phase bit in use per direction */
	bool discarded[CONN_NEP];
	uint64_t tx_phase_first_pn; /* first pn sent in the current tx phase */
	uint64_t aead_failures;     /* 1-RTT packets that failed to open */
	struct qb_rx_space rx[CONN_NEP];
	/* Initial and Handshake ranges: one allocation, freed once both
	 * spaces are discarded (conn_mem_discard()). */
	struct qb_pn_range (*rx_ranges_hs)[CONN_RX_RANGES_HS];
	struct qb_pn_range rx_ranges[CONN_RX_RANGES]; /* 1-RTT */
	struct qb_pn_range *rx_ranges_mp; /* 1-RTT, several paths (conn_path.c), or NULL */
	uint64_t next_pn[CONN_NEP];
	struct qb_crypto_stream cs[CONN_NEP];

	/* Recovery, congestion, pacing (one path). */
	struct qb_recovery rec;
	/* NULL once discarded, or (1-RTT) trimmed while empty (conn_mem.c). */
	struct qb_sent_pkt *sent_store[CONN_NEP];
	struct qb_sent_pkt sent_parked; /* the discarded spaces' empty ring */
	struct qb_rtt rtt;
	struct qb_cc cc;
	struct qb_pacer pacer;

	struct qb_streams *streams;

	/* Frame records: a free list threaded through `next`. */
	struct conn_frec *frec;
	uint32_t frec_cap, frec_free, frec_used;
	struct conn_acked_run acked_run; /* live only inside qb_recovery_on_ack_received() */
	uint64_t trimmed_at; /* last_activity when the idle trim last ran (conn_mem.c) */

	/* Paths: hs_path is the handshake path (-1 until the first Initial is
	 * processed when the multi-path handshake is on), rx_path the path of
	 * the datagram being processed. */
	struct conn_path path[QB_CONN_MAX_PATHS];
	int8_t hs_path;
	uint8_t rx_path;
	/* Byte-sized fields of other concerns, here to fill the padding. */
	uint8_t peer_ack_delay_exp;
	bool eliciting_since_rx;
	uint8_t acks_waited; /* 1-RTT packets sent since an ACK of non-eliciting ones was due */
	bool close_pending;  /* CONNECTION_CLOSE to (re)send */
	bool rx_authentic;   /* a packet of the datagram being processed was unprotected */
	uint64_t peer_max_udp;

	/* Lifecycle. */
	uint64_t idle_timeout_ns; /* 0: none */
	uint64_t last_activity;
	uint64_t close_end;            /* end of closing/draining */
	uint32_t close_rx, close_next; /* rate limit of resends in closing */
	struct qb_conn_close_info close;
	uint64_t pacing_next; /* the pacer's next time when it held data back */

	struct qb_conn_stats st;
};

/* conn.c */
uint64_t conn_rand(struct qb_conn *c);
void conn_close_transport(struct qb_conn *c, uint64_t code, uint64_t frame, const char *reason,
                          uint64_t now);
void conn_enter_draining(struct qb_conn *c, uint64_t now);
uint64_t conn_pto(struct qb_conn *c);
void conn_cid_new(struct qb_conn *c, uint8_t *out, size_t len);

/* conn_cid.c */
int conn_cid_init(struct qb_conn *c);
int conn_cid_set_peer(struct qb_conn *c, const uint8_t *cid, size_t len);
const uint8_t *conn_dcid(const struct qb_conn *c, size_t *len);
bool conn_cid_pending(const struct qb_conn *c);

/* conn_tls.c */
int conn_tls_start(struct qb_conn *c, uint64_t now);
int conn_tls_on_crypto(struct qb_conn *c, int ep, uint64_t offset, const uint8_t *data, size_t len,
                       uint64_t now);
void conn_discard_epoch(struct qb_conn *c, int ep, uint64_t now);
void conn_confirm(struct qb_conn *c, uint64_t now);
int conn_encode_tp(struct qb_conn *c, uint8_t *buf, size_t cap);

/* conn_mem.c: sent rings and frame records sized to use. */
int conn_mem_init(struct qb_conn *c, uint32_t caps[CONN_NEP]);
/* Before a packet of space ep: a free sent record, a packet's frame records. */
void conn_mem_reserve(struct qb_conn *c, int ep);
/* Before a run of n 1-RTT packets (conn_burst.c): what conn_mem_reserve()
 * would grow before each, grown at once. */
void conn_mem_reserve_run(struct qb_conn *c, uint32_t n);
/* After qb_recovery_discard_space(): free the space's ring. */
void conn_mem_discard(struct qb_conn *c, int ep);
/* The connection trims itself once per quiet period: when (QB_TIME_NONE:
 * not due), and the timeout handler. */
uint64_t conn_mem_trim_deadline(struct qb_conn *c);
void conn_mem_on_timeout(struct qb_conn *c, uint64_t now);

/* conn_tx.c */
int conn_send(struct qb_conn *c, uint32_t path_id, uint8_t *buf, size_t cap, uint64_t now,
              uint32_t *why, struct qb_conn_burst *b);

/* conn_burst.c: the send fast path. The most packets a burst takes one
 * send-buffer span for. */
#define CONN_BURST_RUN 64
/*
 * One full 1-RTT packet (cap bytes) of the span's bytes from *used on: the
 * template's header, one STREAM frame sealed straight from the send buffer,
 * its frame record and sent record (a frame record must be free), with a
 * packet number of pn_len bytes (enough for it: qb_recovery_pn_len). *used
 * grows by the data carried. Returns the packet's length, or 0 when the
 * bytes left do not fill it (nothing changed).
 */
int conn_stream_slice(struct qb_conn *c, unsigned path_id, uint64_t now,
                      const struct qb_pkt_short_tmpl *tmpl, const struct qb_send_span *sp,
                      size_t *used, uint8_t *buf, size_t cap, size_t pn_len);
/* A run of the burst b cuts span sp (conn_burst.c). */
void conn_burst_run_start(struct qb_conn_burst *b, const struct qb_send_span *sp, size_t used,
                          size_t cap, size_t pn_len);
/* The first `used` bytes of span sp were sent: tell the stream. */
void conn_span_commit(struct qb_conn *c, const struct qb_send_span *sp, size_t used);

/* conn_rec.c */
void conn_frec_init(struct qb_conn *c);
struct conn_frec *conn_frec_add(struct qb_conn *c, uint32_t *head);
void conn_frec_free_list(struct qb_conn *c, uint32_t head);
/* Pass the pending acknowledged STREAM range (if any) to the stream layer. */
void conn_acked_flush(struct qb_conn *c);
extern const struct qb_recovery_cb conn_recovery_cb_tmpl;

/* conn_rx.c */
int conn_key_update_tx(struct qb_conn *c);

/* conn_path.c */
/* The handshake path, or 0 before it is known (what closing uses). */
static inline unsigned
conn_primary(const struct qb_conn *c)
{
	return c->hs_path >= 0 ? (unsigned)c->hs_path : 0;
}
struct conn_path *conn_path_rx(struct qb_conn *c, uint32_t id);
bool conn_path_rx_done(struct qb_conn *c, unsigned id, size_t len);
void conn_path_set_hs(struct qb_conn *c);
void conn_path_on_challenge(struct qb_conn *c, const uint8_t *data);
void conn_path_on_response(struct qb_conn *c, const uint8_t *data);
void conn_path_on_1rtt(struct qb_conn *c);
void conn_path_on_pto(struct qb_conn *c);
const uint8_t *conn_path_dcid(struct qb_conn *c, unsigned id, size_t *len);
enum conn_tx_mode {
	CONN_TX_NONE = 0,  /* nothing may go on the path */
	CONN_TX_PROBE = 1, /* PATH_CHALLENGE / PATH_RESPONSE only (validation) */
	CONN_TX_FULL = 2,  /* everything due */
};
int conn_path_mode(struct qb_conn *c, unsigned id, uint32_t *why);
const uint8_t *conn_path_challenge_data(struct qb_conn *c, unsigned id);
void conn_path_challenge_sent(struct qb_conn *c, unsigned id, uint64_t now);
bool conn_path_amp_blocked(const struct qb_conn *c, unsigned id, uint64_t min);
uint64_t conn_path_deadline(const struct qb_conn *c);
void conn_path_on_timeout(struct qb_conn *c, uint64_t now);

/* conn_tx.c */

static inline int
conn_ep_level(int ep)
{
	return ep == CONN_EP_INITIAL     ? QB_TLS_LEVEL_INITIAL
	       : ep == CONN_EP_HANDSHAKE ? QB_TLS_LEVEL_HANDSHAKE
	                                 : QB_TLS_LEVEL_APP;
}

static inline bool
conn_closing(const struct qb_conn *c)
{
	return c->state >= QB_CONN_CLOSING;
}

/* ---- the per-packet bookkeeping of both send paths, inline (conn_burst.c's
 * runs call it per packet) ---------------------------------------------- */

/* A STREAM frame's record, added as conn_frec_add does; false if none is free. */
static inline bool
conn_frec_stream(struct qb_conn *c, uint32_t *head, uint64_t id, uint64_t offset, uint64_t len,
                 bool fin)
{
	uint32_t i = c->frec_free;
	struct conn_frec *r;

	if (i == 0)
		return false;
	r = &c->frec[i - 1];
	c->frec_free = r->next;
	/* Every field a STREAM record is read by, and no more: no memset of
	 * the control frame it does not use (one per data packet). */
	r->next = *head;
	r->kind = FREC_STREAM;
	r->epoch = 0;
	r->fin = fin;
	r->id = id;
	r->offset = offset;
	r->len = len;
	*head = i;
	c->frec_used++;
	return true;
}

/* A packet of space ep was sealed: its number is used, recovery records it. */
static inline void
conn_packet_sent(struct qb_conn *c, int ep, unsigned path_id, uint64_t now, uint64_t pn, size_t len,
                 uint32_t head, bool eliciting, bool padded, bool probe)
{
	c->next_pn[ep] = pn + 1;
	c->st.pkts_sent++;
	if (eliciting) {
		/* loss detection is per path */
		if (qb_recovery_on_eliciting_sent(&c->rec, (enum qb_pn_space)ep, pn, (uint32_t)len,
		                                  head, (uint8_t)path_id, now) != 0)
			conn_frec_free_list(c, head); /* cannot happen: the caller checked */
	} else {
		struct qb_sent_info info = {
		        .pn = pn,
		        .size = (uint32_t)len,
		        .frames = head,
		        .in_flight = padded,
		        .path = (uint8_t)path_id,
		};
		if (qb_recovery_on_packet_sent(&c->rec, (enum qb_pn_space)ep, &info, now) != 0)
			conn_frec_free_list(c,
			                    head); /* an ACK-only packet the ring had no room for */
	}
	if ((eliciting || padded) && !probe)
		qb_pacer_on_sent(&c->pacer, (uint32_t)len, now);
	if (eliciting) {
		/* RFC 9000 §10.1: the first ack-eliciting packet after a receipt restarts it. */
		if (!c->eliciting_since_rx)
			c->last_activity = now;
		c->eliciting_since_rx = true;
	}
	if (ep == CONN_EP_HANDSHAKE)
		c->sent_handshake_pkt = true;
}

/* A datagram of len bytes went out on path p. */
static inline void
conn_dgram_sent(struct qb_conn *c, struct conn_path *p, size_t len, uint64_t now)
{
	c->st.dgrams_sent++;
	c->st.bytes_sent += (uint64_t)len;
	p->tx_bytes += (uint64_t)len;
	p->dgrams_sent++;
	if (len > 0 && c->pacing_next <= now)
		c->pacing_next = QB_TIME_NONE;
}

/*
 * Whether the 1-RTT ACK can stay out of this packet: nothing pending, or only
 * packets that elicit none (the peer's own ACKs: RFC 9000 §13.2.1, they are
 * acknowledged along with later ack-eliciting packets). Those still go out
 * in every CONN_ACK_LAG-th packet, so the peer can prune the ranges it
 * acknowledges (§13.2.4).
 */
static inline bool
conn_ack_can_wait(const struct qb_conn *c)
{
	const struct qb_rx_space *rx = &c->rx[CONN_EP_APP];

	return !rx->ack_pending || (rx->unacked_eliciting == 0 && c->acks_waited < CONN_ACK_LAG);
}

#endif
