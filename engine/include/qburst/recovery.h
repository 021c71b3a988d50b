/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QBURST_RECOVERY_H
#define QBURST_RECOVERY_H

/*
 * Loss recovery building blocks (RFC 9000 §13.2, RFC 9002 §5-6, Appendix A),
 * sans-IO: every entry point takes `now` (uint64_t nanoseconds from any fixed
 * origin, never decreasing) and nothing here reads a clock or allocates.
 *
 * A connection owns:
 *   - one struct qb_rx_space per packet number space (what it received, and
 *     when an ACK frame is due);
 *   - one struct qb_recovery (the three sent-packet spaces, the loss/PTO
 *     timer and PTO backoff), attached to the current path's struct qb_rtt
 *     and struct qb_cc (qburst/cc.h) with qb_recovery_set_path().
 *
 * Several paths over one packet number space (the multi-path handshake,
 * qburst/conn.h): each sent packet names its path (struct qb_sent_info.path,
 * below QB_RECOVERY_MAX_PATHS) and a path may have an RTT estimator of its
 * own (qb_recovery_set_path_rtt()). Loss is then detected per path: a packet
 * is declared lost only against the largest acknowledged packet of its own
 * path (packet threshold) and with its own path's RTT (time threshold), so
 * the faster path's acknowledgments do not condemn the slower path's
 * packets in flight (RFC 9002 §6.1 assumes one path; its thresholds are
 * applied path by path). A packet sent after its path's largest
 * acknowledged packet but before another path's is still judged, so that
 * no record outlives its path's acknowledgments (a path being validated,
 * or gone silent): in flight, it is lost once one PTO period of its path
 * old (§6.2.1); not in flight (ACK-only, path probes), it is forgotten
 * (on_discarded) as §6.1 would judge it with one path. One congestion
 * controller serves every path. A
 * connection that only ever uses path 0 behaves exactly as RFC 9002.
 * Storage for received ranges and sent-packet records is provided by the
 * caller (from a pool sized at start-up) and must outlive the object.
 *
 * Times are nanoseconds; QB_TIME_NONE means "no deadline". Sizes are bytes.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qburst/error.h"

#define QB_TIME_NONE UINT64_MAX
#ifndef QB_PN_NONE
#define QB_PN_NONE UINT64_MAX /* as in qburst/varint.h */
#endif

/* RFC 9002 §6.1.1, §6.1.2, Appendix A.2 */
#define QB_PACKET_THRESHOLD  3
#define QB_GRANULARITY_NS    1000000ull   /* kGranularity: 1 ms */
#define QB_INITIAL_RTT_NS    333000000ull /* kInitialRtt: 333 ms */
#define QB_PC_THRESHOLD      3            /* kPersistentCongestionThreshold */
#define QB_MAX_ACK_DELAY_DEF 25000000ull  /* RFC 9000 §18.2 default, 25 ms */

/* Path ids of sent packets are 0..QB_RECOVERY_MAX_PATHS-1. */
#define QB_RECOVERY_MAX_PATHS 4

struct qb_cc;

enum qb_pn_space {
	QB_PN_INITIAL = 0,
	QB_PN_HANDSHAKE = 1,
	QB_PN_APP = 2, /* 0-RTT and 1-RTT */
	QB_PN_SPACE_COUNT = 3,
};

/* ECN codepoint of a received datagram, as in the IP header (RFC 3168). */
enum qb_ecn {
	QB_ECN_NOT_ECT = 0,
	QB_ECN_ECT1 = 1,
	QB_ECN_ECT0 = 2,
	QB_ECN_CE = 3,
};

/* An inclusive range of packet numbers [lo, hi]. */
struct qb_pn_range {
	uint64_t lo;
	uint64_t hi;
};

/* ------------------------------------------------------------------------ */
/* Received packets and ACK generation (RFC 9000 §13.2), one per space.      */

struct qb_rx_space {
	struct qb_pn_range *ranges; /* caller's storage, ascending, disjoint, not adjacent */
	uint32_t cap;               /* capacity of ranges */
	uint32_t n;                 /* ranges in use */
	uint64_t floor;             /* pns below this are refused as duplicates */
	uint64_t largest;           /* largest pn received, QB_PN_NONE before any */
	uint64_t largest_time;      /* when `largest` was received */
	uint64_t largest_eliciting; /* largest ack-eliciting pn, QB_PN_NONE before any */
	uint64_t max_ack_delay;     /* our max_ack_delay (ns); 0 acks at once */
	uint64_t ack_deadline;      /* when an ACK frame must be sent, QB_TIME_NONE */
	uint32_t unacked_eliciting; /* ack-eliciting packets since the last ACK sent */
	uint32_t ack_threshold;     /* ack after this many ack-eliciting packets (2) */
	uint8_t ack_delay_exponent; /* ours, for the ACK Delay field (RFC 9000 §18.2) */
	bool ack_pending;           /* something received is not yet in a sent ACK */
	uint64_t ecn[3];            /* ECT(0), ECT(1), CE counts (RFC 9000 §13.4.1) */
	uint64_t reorder;           /* most a pn arrived below the largest received */
	/* Several paths of different delays: keep recent gaps (see
	 * qb_rx_on_ack_acked); false (qb_rx_init) is plain RFC 9000. */
	bool multipath;
};

/*
 * Initialises rx over caller storage of cap ranges (cap >= 1). For Initial
 * and Handshake spaces pass max_ack_delay 0: every ack-eliciting packet is
 * acknowledged at once (RFC 9000 §13.2.1). ack_delay_exponent is ours (<= 20).
 * Returns 0 or QB_ERR_ARG.
 */
int qb_rx_init(struct qb_rx_space *rx, struct qb_pn_range *storage, uint32_t cap,
               uint64_t max_ack_delay, uint8_t ack_delay_exponent);

/*
 * Moves rx's ranges to new caller storage of cap ranges (cap >= rx->n), e.g.
 * a larger array once a connection uses several paths. The old storage is
 * no longer used. Returns 0 or QB_ERR_ARG.
 */
int qb_rx_move(struct qb_rx_space *rx, struct qb_pn_range *storage, uint32_t cap);

/* True when pn was already received (or is below the tracking floor): drop it. */
bool qb_rx_is_duplicate(const struct qb_rx_space *rx, uint64_t pn);

/*
 * Records a packet once it has been decrypted and all its frames processed
 * (RFC 9000 §13.1). Updates the ranges (the oldest range is dropped when
 * storage is full), ECN counts and the ACK deadline: ack at once on every
 * `ack_threshold`-th ack-eliciting packet, on an ack-eliciting packet that is
 * out of order or follows a gap, or carries CE (§13.2.1-13.2.2); otherwise
 * within max_ack_delay. Returns 0, or 1 if pn is a duplicate (nothing changed).
 */
int qb_rx_on_packet(struct qb_rx_space *rx, uint64_t pn, bool ack_eliciting, enum qb_ecn ecn,
                    uint64_t now);

/* When an ACK frame must go out (<= now: now), or QB_TIME_NONE. */
static inline uint64_t
qb_rx_ack_deadline(const struct qb_rx_space *rx)
{
	return rx->ack_deadline;
}

/* True when an ACK frame must be sent now. */
static inline bool
qb_rx_ack_due(const struct qb_rx_space *rx, uint64_t now)
{
	return rx->ack_deadline <= now;
}

/*
 * Writes up to max ranges for an ACK frame, largest first (the oldest are
 * omitted when max is short, RFC 9000 §13.2.3). Returns the count (0: nothing
 * to acknowledge).
 */
uint32_t qb_rx_ack_ranges(const struct qb_rx_space *rx, struct qb_pn_range *out, uint32_t max);

/*
 * The ACK Delay field for an ACK frame sent at now: microseconds since the
 * largest packet was received, shifted right by ack_delay_exponent (§13.2.5).
 */
uint64_t qb_rx_ack_delay_field(const struct qb_rx_space *rx, uint64_t now);

/* Call after an ACK frame for this space was written into a sent packet. */
void qb_rx_on_ack_sent(struct qb_rx_space *rx);

/*
 * Call when a packet carrying our ACK frame, whose Largest Acknowledged was
 * largest_in_frame, is itself acknowledged: ranges <= that are forgotten and
 * the duplicate floor rises above it (RFC 9000 §13.2.4). With rx->multipath,
 * the floor stays at least twice the largest reordering seen (in packet
 * numbers) below the largest received: over paths of different delays the
 * slower path's packets arrive below ranges already acknowledged, and a
 * floor above them would refuse them as duplicates (real losses).
 */
void qb_rx_on_ack_acked(struct qb_rx_space *rx, uint64_t largest_in_frame);

/* ------------------------------------------------------------------------ */
/* Sent-packet records: a ring in send order over caller storage.           */

#define QB_SENT_ACK_ELICITING 0x01
#define QB_SENT_IN_FLIGHT     0x02
#define QB_SENT_REMOVED       0x04 /* acked, lost or discarded (internal) */
#define QB_SENT_SPAN_ACKED    0x08 /* internal: the skipped span holds an acked packet */

/* One sent packet (RFC 9002 Appendix A.1.1). */
struct qb_sent_pkt {
	uint64_t pn;
	uint64_t time_sent;
	uint32_t size;   /* bytes of the QUIC packet, no UDP/IP overhead */
	uint32_t frames; /* opaque handle of the connection's frame records */
	uint32_t skip;   /* internal: distance to the next record when removed */
	uint8_t flags;   /* QB_SENT_* */
	uint8_t path;    /* the path it was sent on (struct qb_sent_info.path) */
};

struct qb_sent_ring {
	struct qb_sent_pkt *slots; /* caller storage, cap is a power of two */
	uint32_t mask;
	uint64_t tail;    /* sequence of the oldest live record (== head: empty) */
	uint64_t head;    /* sequence of the next record */
	uint64_t next_pn; /* lowest pn the next send may use */
};

/* What the connection reports for a packet it has just sent. */
struct qb_sent_info {
	uint64_t pn;
	uint32_t size;
	uint32_t frames;
	bool ack_eliciting;
	bool in_flight; /* counts toward bytes in flight (ack-eliciting or PADDING) */
	uint8_t path;   /* path id, < QB_RECOVERY_MAX_PATHS; 0 with a single path */
};

/* ------------------------------------------------------------------------ */
/* RTT estimation (RFC 9002 §5), one per path.                               */

struct qb_rtt {
	uint64_t latest;
	uint64_t smoothed;
	uint64_t rttvar;
	uint64_t min;
	uint64_t first_sample_time;
	uint64_t initial; /* kInitialRtt used before a sample and after a reset */
	bool has_sample;
};

/* Initial estimate (RFC 9002 §6.2.2); initial_rtt 0 uses kInitialRtt. */
void qb_rtt_init(struct qb_rtt *rtt, uint64_t initial_rtt);

/*
 * One RTT sample (RFC 9002 §5.3, Appendix A.7 UpdateRtt). ack_delay is the
 * decoded delay of the ACK frame; it is capped by max_ack_delay once the
 * handshake is confirmed, and never subtracted below min_rtt.
 */
void qb_rtt_update(struct qb_rtt *rtt, uint64_t latest_rtt, uint64_t ack_delay,
                   uint64_t max_ack_delay, bool handshake_confirmed, uint64_t now);

/* smoothed_rtt + max(4 * rttvar, kGranularity), the PTO base (§6.2.1). */
uint64_t qb_rtt_pto_base(const struct qb_rtt *rtt);

/* Decodes an ACK Delay field with the peer's exponent to ns, saturating. */
uint64_t qb_ack_delay_decode(uint64_t field, uint8_t exponent);

/* ------------------------------------------------------------------------ */
/* Loss detection and PTO (RFC 9002 §6, Appendix A), one per connection.     */

/*
 * Called for each packet as it leaves the sent records; the record is only
 * valid during the call. on_acked: retire its frames (an ACK frame in it lets
 * the connection call qb_rx_on_ack_acked). on_lost: requeue its frames
 * (RFC 9002 §6: retransmit frames, not packets). on_discarded: free its frame
 * records without retransmitting (keys dropped, §6.4; or a packet not in
 * flight that loss detection stops tracking, above). A NULL hook is skipped.
 */
struct qb_recovery_cb {
	void (*on_acked)(void *ctx, enum qb_pn_space space, const struct qb_sent_pkt *pkt);
	void (*on_lost)(void *ctx, enum qb_pn_space space, const struct qb_sent_pkt *pkt);
	void (*on_discarded)(void *ctx, enum qb_pn_space space, const struct qb_sent_pkt *pkt);
	void *ctx;
};

/* An ACK frame as decoded by the wire layer. */
struct qb_ack_info {
	const struct qb_pn_range *ranges; /* largest first, disjoint, descending */
	uint32_t nranges;                 /* >= 1; ranges[0].hi is Largest Acknowledged */
	uint64_t ack_delay;               /* decoded (qb_ack_delay_decode), ns */
	bool has_ecn;                     /* ACK_ECN frame (type 0x03) */
	uint64_t ecn[3];                  /* ECT(0), ECT(1), ECN-CE counts */
};

/* One path's share of a packet number space. */
struct qb_recovery_path_space {
	uint64_t largest_acked;       /* largest acked pn sent on this path, QB_PN_NONE */
	uint64_t scan;                /* internal: no live record of the path below this seq */
	uint32_t eliciting_in_flight; /* ack-eliciting packets outstanding on the path */
};

/* Per packet number space loss-detection state (Appendix A.3). */
struct qb_recovery_space {
	struct qb_sent_ring sent;
	uint64_t largest_acked;           /* QB_PN_NONE before any ACK (all paths) */
	uint64_t largest_acked_time_sent; /* time_sent of largest_acked */
	uint64_t time_of_last_ack_eliciting;
	uint64_t loss_time;           /* QB_TIME_NONE when unset */
	uint32_t eliciting_in_flight; /* ack-eliciting packets outstanding */
	uint64_t ecn_ce;              /* largest ECN-CE count the peer reported */
	bool discarded;
	uint8_t path_mask; /* paths that sent a packet in this space (bit per id) */
	struct qb_recovery_path_space path[QB_RECOVERY_MAX_PATHS];
};

/* What qb_recovery_on_timeout() asks of the connection. */
enum qb_ld_event {
	QB_LD_NONE = 0,      /* the timer was not due */
	QB_LD_LOST,          /* time-threshold loss: packets went to on_lost */
	QB_LD_PTO,           /* send 1-2 ack-eliciting probes in probe_space */
	QB_LD_ANTI_DEADLOCK, /* client: one probe in probe_space (Handshake if it
	                      * has the keys, else an Initial padded to 1200 B) */
};

struct qb_recovery_config {
	bool is_server;
	uint64_t max_ack_delay; /* peer's, ns; 0 uses the default 25 ms */
};

struct qb_recovery {
	struct qb_recovery_space space[QB_PN_SPACE_COUNT];
	struct qb_rtt *rtt; /* the current path's estimator */
	struct qb_cc *cc;   /* the current path's congestion controller */
	/* Per path estimators (qb_recovery_set_path_rtt); NULL: use rtt. */
	struct qb_rtt *path_rtt[QB_RECOVERY_MAX_PATHS];
	struct qb_recovery_cb cb;
	uint64_t max_ack_delay; /* peer's (ns) */
	uint64_t timer;         /* loss detection timer (read qb_recovery_timer()) */
	uint64_t timer_now;     /* time of the event that last moved the timer */
	bool timer_dirty;       /* timer must be recomputed at timer_now */
	uint32_t pto_count;
	uint8_t probes[QB_PN_SPACE_COUNT]; /* probe packets still owed per space */
	enum qb_pn_space probe_space;      /* space of the last PTO */
	bool is_server;
	bool handshake_confirmed;
	bool has_handshake_keys;
	bool handshake_ack_received; /* client: an ACK arrived in Handshake */
	bool amplification_limited;  /* server: cannot send (3x limit) */
	bool persistent_congestion;  /* last ACK established it (for tests/stats) */
	uint64_t lost_count;
	uint64_t pto_fired;
};

/*
 * Initialises rec. storage[s] holds cap[s] records for space s (a power of
 * two up to 2^30, one array per space; it bounds how many packets may be outstanding in that
 * space). rtt and cc must be set with qb_recovery_set_path() before the first packet is sent.
 * Returns 0 or QB_ERR_ARG.
 */
int qb_recovery_init(struct qb_recovery *rec, const struct qb_recovery_config *cfg,
                     struct qb_sent_pkt *const storage[QB_PN_SPACE_COUNT],
                     const uint32_t cap[QB_PN_SPACE_COUNT], const struct qb_recovery_cb *cb);

/* Attaches the path's RTT estimator and congestion controller. */
void qb_recovery_set_path(struct qb_recovery *rec, struct qb_rtt *rtt, struct qb_cc *cc);

/*
 * Several paths: gives path (< QB_RECOVERY_MAX_PATHS) an RTT estimator of its
 * own (not owned; it must outlive rec or be detached with NULL). A path
 * without one uses the estimator of qb_recovery_set_path(). Per path:
 *   - RTT samples (RFC 9002 §5.1): the ACK frame's Largest Acknowledged,
 *     when newly acknowledged, samples its own path's estimator with the
 *     frame's ACK Delay; each other path whose largest acknowledged packet
 *     advanced in the frame samples its estimator from that packet, without
 *     ACK Delay (the delay field is the largest's, not that packet's);
 *   - loss detection (§6.1): thresholds against the path's own largest
 *     acknowledged packet and RTT; beyond that packet, its PTO period
 *     (in flight) or §6.1 against the space's largest (not in flight);
 *   - PTO (§6.2.1): one timer and backoff per connection; a space's period is
 *     the largest of the PTO periods of the paths with ack-eliciting packets
 *     in flight there, so a slow path's packets are not probed before their
 *     ACK can arrive, while a fast path's tail loss waits at most the slow
 *     path's PTO;
 *   - congestion control: the one controller sees every path's packets and
 *     losses; its RTT inputs are those of the path sampled by the frame's
 *     Largest Acknowledged (or the qb_recovery_set_path() estimator).
 * Returns 0 or QB_ERR_ARG.
 */
int qb_recovery_set_path_rtt(struct qb_recovery *rec, uint8_t path, struct qb_rtt *rtt);

/* The peer's max_ack_delay transport parameter, in ns. */
void qb_recovery_set_max_ack_delay(struct qb_recovery *rec, uint64_t max_ack_delay);

/*
 * Moves space's records to new storage of cap records (a power of two up to
 * 2^30, at least qb_recovery_outstanding()), e.g. from a small pool to a large
 * one when a transfer grows. The old storage is no longer used and can go back
 * to its pool. Returns 0, QB_ERR_ARG (bad capacity) or QB_ERR_NOBUF (cap too
 * small for the records held).
 */
int qb_recovery_move_space(struct qb_recovery *rec, enum qb_pn_space space,
                           struct qb_sent_pkt *storage, uint32_t cap);

/* True when a packet can be recorded in space (its ring is not full).
 * Inline: it is asked several times per datagram. */
static inline bool
qb_recovery_can_send(const struct qb_recovery *rec, enum qb_pn_space space)
{
	const struct qb_sent_ring *r = &rec->space[space].sent;

	return !rec->space[space].discarded && r->head - r->tail <= r->mask;
}

/*
 * OnPacketSent (Appendix A.5). Packet numbers must increase within a space
 * (gaps allowed) and now must not decrease (loss detection relies on send
 * order being time order). An ack-eliciting packet in a space owing probes
 * counts as one. Returns 0, QB_ERR_NOMEM (ring full: the packet is not
 * recorded; do not send an in-flight packet then; an ACK-only packet may
 * still go out untracked, its frame records released at once), QB_ERR_ARG
 * (pn not increasing, path id out of range) or QB_ERR_STATE (space
 * discarded).
 *
 * Path changes: packets sent on an earlier path are acknowledged against the
 * congestion controller attached at the time of the ACK (bytes in flight
 * saturate at 0).
 */
int qb_recovery_on_packet_sent(struct qb_recovery *rec, enum qb_pn_space space,
                               const struct qb_sent_info *info, uint64_t now);
/* The same for an ack-eliciting packet (so in flight), by value: the send
 * fast path's form. Same returns. */
int qb_recovery_on_eliciting_sent(struct qb_recovery *rec, enum qb_pn_space space, uint64_t pn,
                                  uint32_t size, uint32_t frames, uint8_t path, uint64_t now);

/*
 * A run: ack-eliciting packets sent back to back in one space, on one path,
 * at one now (the connection's path burst). Each is recorded by
 * qb_recovery_run_add(), which only fills its ring slot; then
 * qb_recovery_run_end() counts the run in once, leaving rec as count calls
 * of qb_recovery_on_eliciting_sent() would have (in flight, the congestion
 * controller's bytes, the timer). Nothing else may use rec in between. The
 * caller guarantees what qb_recovery_on_eliciting_sent() would check: the
 * space is not discarded, each pn is above the last recorded (and below
 * 2^62), path < QB_RECOVERY_MAX_PATHS, no probe is owed in the space, and at
 * most qb_recovery_run_room() records are added.
 */
static inline uint32_t
qb_recovery_run_room(const struct qb_recovery *rec, enum qb_pn_space space)
{
	const struct qb_sent_ring *r = &rec->space[space].sent;

	return (uint32_t)(r->mask + 1 - (r->head - r->tail));
}

static inline void
qb_recovery_run_add(struct qb_recovery *rec, enum qb_pn_space space, uint64_t pn, uint32_t size,
                    uint32_t frames, uint8_t path, uint64_t now)
{
	struct qb_sent_ring *r = &rec->space[space].sent;
	struct qb_sent_pkt *p = &r->slots[r->head & r->mask];

	r->head++;
	p->pn = pn;
	p->time_sent = now;
	p->size = size;
	p->frames = frames;
	p->skip = 0;
	p->flags = QB_SENT_ACK_ELICITING | QB_SENT_IN_FLIGHT;
	p->path = path;
}

/* count records of bytes in all, the last numbered last_pn (count > 0). */
void qb_recovery_run_end(struct qb_recovery *rec, enum qb_pn_space space, uint64_t last_pn,
                         uint32_t count, uint64_t bytes, uint8_t path, uint64_t now);

/*
 * OnAckReceived (Appendix A.7): removes newly acknowledged packets (on_acked),
 * samples the RTT, reacts to ECN-CE, detects losses (on_lost), feeds the
 * congestion controller, detects persistent congestion and re-arms the timer.
 * Cost is O(ranges * log(outstanding) + acked + lost).
 * Returns 0, QB_ERR_PROTO (acknowledges a packet never sent: close with
 * PROTOCOL_VIOLATION, RFC 9000 §13.1), QB_ERR_INVALID (ranges malformed) or
 * QB_ERR_STATE (space discarded).
 */
int qb_recovery_on_ack_received(struct qb_recovery *rec, enum qb_pn_space space,
                                const struct qb_ack_info *ack, uint64_t now);

/*
 * The loss detection timer: when to call qb_recovery_on_timeout(), or
 * QB_TIME_NONE. A time at or before now means at once. (Computed lazily from
 * the last event, hence not const.)
 */
uint64_t qb_recovery_timer(struct qb_recovery *rec);

/*
 * OnLossDetectionTimeout (Appendix A.9). Returns what happened; for QB_LD_PTO
 * and QB_LD_ANTI_DEADLOCK, rec->probe_space names the space and
 * qb_recovery_probes() how many probes are owed there. Probes are neither
 * congestion controlled nor paced (RFC 9002 §7.5).
 */
enum qb_ld_event qb_recovery_on_timeout(struct qb_recovery *rec, uint64_t now);

/* Probe packets still owed in space after a PTO. */
static inline uint32_t
qb_recovery_probes(const struct qb_recovery *rec, enum qb_pn_space space)
{
	return rec->probes[space];
}

/*
 * OnPacketNumberSpaceDiscarded (Appendix A.11): Initial or Handshake keys
 * dropped. Records go to on_discarded and leave bytes in flight; the timer is
 * re-armed. Later calls for the space return QB_ERR_STATE.
 */
void qb_recovery_discard_space(struct qb_recovery *rec, enum qb_pn_space space, uint64_t now);

/* Handshake confirmed (RFC 9001 §4.1.2): enables the Application PTO. */
void qb_recovery_set_handshake_confirmed(struct qb_recovery *rec, uint64_t now);

/* Client: Handshake keys installed (anti-deadlock probes go to Handshake). */
void qb_recovery_set_handshake_keys(struct qb_recovery *rec, uint64_t now);

/*
 * Server: whether the anti-amplification limit blocks sending. While blocked
 * the timer is off (§6.2.2.1); on unblocking it is re-armed and, if already
 * in the past, qb_recovery_timer() <= now tells the connection to call
 * qb_recovery_on_timeout() at once (Appendix A.6).
 */
void qb_recovery_set_amplification_limited(struct qb_recovery *rec, bool limited, uint64_t now);

/*
 * Every packet outstanding in space goes to on_lost so its frames are sent
 * again, leaving bytes in flight with no congestion event: for 0-RTT that the
 * server rejected (RFC 9002 §6.4; call it before any 1-RTT packet is sent,
 * since 0-RTT and 1-RTT share the Application space). The space stays usable.
 */
void qb_recovery_requeue_space(struct qb_recovery *rec, enum qb_pn_space space, uint64_t now);

/*
 * Client received Retry (RFC 9002 §6.3): Initial packets in flight go to
 * on_lost (their CRYPTO data is sent again) without a congestion event; the
 * RTT estimator, PTO backoff and timer are reset. The caller re-initialises
 * the congestion controller.
 */
void qb_recovery_on_retry(struct qb_recovery *rec, uint64_t now);

/*
 * PTO period for space without backoff: smoothed_rtt + max(4*rttvar,
 * kGranularity), plus max_ack_delay for the Application space (§6.2.1), of
 * the qb_recovery_set_path() estimator.
 */
uint64_t qb_recovery_pto(const struct qb_recovery *rec, enum qb_pn_space space);

/* Persistent congestion duration (§7.6.1). */
uint64_t qb_recovery_pc_duration(const struct qb_recovery *rec);

/*
 * Bytes to encode packet number pn of space on path (RFC 9000 §17.1): one
 * path, qb_pn_len() against the space's largest acknowledged. Several
 * paths: the peer decodes against the largest it received, which runs ahead
 * of a slower path's packet by everything the faster paths delivered
 * meanwhile (more than the slower path's own ACKs lag in slow start), so at
 * least 2 bytes (correct while under 2^15 packets are sent in the paths'
 * delay difference) and enough for the path's own largest acknowledged.
 */
size_t qb_recovery_pn_len(const struct qb_recovery *rec, enum qb_pn_space space, uint8_t path,
                          uint64_t pn);

/* Ring slots in use in a space (live records and not yet reclaimed ones). */
uint32_t qb_recovery_outstanding(const struct qb_recovery *rec, enum qb_pn_space space);

#endif
