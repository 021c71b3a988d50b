/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QBURST_CC_H
#define QBURST_CC_H

/*
 * Congestion control (RFC 9002 §7, Appendix B; RFC 9438 CUBIC) behind one
 * ops table, and a pacer (RFC 9002 §7.7). One struct qb_cc and one struct
 * qb_pacer per path, embedded by the caller: no allocation, no clock reads
 * (`now` is nanoseconds). Windows and sizes are bytes of QUIC packets
 * (no UDP/IP overhead).
 *
 * Which packets are limited: only in-flight (ack-eliciting or padded)
 * packets. ACK-only packets are neither congestion controlled nor paced, and
 * PTO probes are not blocked by either (RFC 9002 §7, §7.5, §7.7); the burst
 * engine decides which packets to submit to qb_cc_can_send() and the pacer.
 */

#include <stdbool.h>
#include <stdint.h>

#include "qburst/error.h"

struct qb_cc;

/* One ACK frame's worth of newly acknowledged in-flight packets. */
struct qb_cc_ack {
	uint64_t acked_bytes;      /* sum of sizes of newly acked in-flight packets */
	uint64_t newest_time_sent; /* time_sent of the most recently sent of them */
	uint64_t recovery_bytes;   /* part of acked_bytes sent within the recovery
	                            * period: no growth for those (Appendix B.5
	                            * checks each packet, not the ACK) */
	uint64_t smoothed_rtt;     /* after this ACK's sample, ns */
	uint64_t min_rtt;          /* ns */
	uint64_t latest_rtt;       /* this ACK's RTT sample, ns; 0: no sample */
};

/*
 * Algorithm hooks. The generic qb_cc_* functions keep bytes_in_flight and
 * call these; cwnd/ssthresh and the recovery period live in struct qb_cc.
 */
struct qb_cc_ops {
	const char *name;
	void (*init)(struct qb_cc *cc, uint64_t now);
	/* bytes_in_flight already reduced; grow cwnd unless in recovery/app-limited. */
	void (*on_ack)(struct qb_cc *cc, const struct qb_cc_ack *ack, uint64_t now);
	/* A new recovery period starts now (the generic code checks §7.3.2). */
	void (*on_congestion_event)(struct qb_cc *cc, bool ecn, uint64_t now);
	void (*on_persistent_congestion)(struct qb_cc *cc, uint64_t now);
};

/* CUBIC state (RFC 9438 §4.1.2); windows in bytes, K in seconds. */
struct qb_cubic {
	double w_max;           /* bytes; 0: undefined (no loss yet, or after timeout) */
	double k;               /* seconds */
	double w_est;           /* bytes, Reno-friendly estimate */
	double cwnd_start;      /* bytes */
	double cwnd_frac;       /* sub-byte growth carried between ACKs */
	uint64_t prior_cwnd;    /* bytes */
	uint64_t epoch_start;   /* ns; valid when in_epoch */
	uint64_t last_ack_time; /* ns, to drop app-limited periods from t */
	bool in_epoch;
	bool fast_convergence;
	/* HyStart++ (RFC 9406) in the first slow start, rounds told by send time. */
	bool hystart;
	uint8_t hs_state;        /* QB_HS_* */
	uint32_t hs_samples;     /* RTT samples this round */
	uint32_t hs_css_rounds;  /* rounds spent in conservative slow start */
	uint64_t hs_round_start; /* a packet sent after this ends the round */
	uint64_t hs_cur_min;     /* currentRoundMinRTT, UINT64_MAX: none */
	uint64_t hs_last_min;    /* lastRoundMinRTT */
	uint64_t hs_css_baseline;
};

#define QB_HS_SLOW_START   0
#define QB_HS_CONSERVATIVE 1 /* CSS: growth / 4 */
#define QB_HS_DONE         2

struct qb_newreno {
	uint64_t bytes_acked; /* congestion avoidance counter (RFC 3465 §2.1) */
};

struct qb_cc {
	const struct qb_cc_ops *ops;
	uint64_t cwnd;
	uint64_t ssthresh; /* UINT64_MAX: infinite */
	uint64_t bytes_in_flight;
	uint64_t recovery_start; /* congestion_recovery_start_time, if has_recovery_start */
	uint32_t max_datagram_size;
	bool has_recovery_start;
	bool app_limited; /* set by the connection: cwnd not fully used (§7.8) */
	uint64_t congestion_events;
	uint64_t persistent_events;
	union {
		struct qb_newreno reno;
		struct qb_cubic cubic;
	} u;
};

/* Looks an algorithm up by name ("newreno", "cubic"); NULL if unknown. */
const struct qb_cc_ops *qb_cc_find(const char *name);

/*
 * Initialises cc for algorithm `name` with max_datagram_size (>= 1200):
 * cwnd = min(10*mds, max(14720, 2*mds)) (§7.2). Returns 0, or
 * QB_ERR_UNSUPPORTED for an unknown name, QB_ERR_ARG for a bad size.
 */
int qb_cc_init(struct qb_cc *cc, const char *name, uint32_t max_datagram_size, uint64_t now);

/* kInitialWindow and kMinimumWindow for a datagram size (§7.2). */
uint64_t qb_cc_initial_window(uint32_t max_datagram_size);
uint64_t qb_cc_minimum_window(uint32_t max_datagram_size);

/* OnPacketSentCC: an in-flight packet of `bytes` was sent. */
static inline void
qb_cc_on_packet_sent(struct qb_cc *cc, uint32_t bytes, uint64_t now)
{
	(void)now;
	cc->bytes_in_flight += bytes;
}

/* OnPacketsAcked for one ACK frame (bytes leave flight, then cwnd grows). */
void qb_cc_on_ack(struct qb_cc *cc, const struct qb_cc_ack *ack, uint64_t now);

/* In-flight packets declared lost (bytes leave flight; no congestion event). */
void qb_cc_on_lost(struct qb_cc *cc, uint64_t bytes);

/* In-flight packets discarded with their keys (§6.4, Appendix B.9). */
void qb_cc_on_discarded(struct qb_cc *cc, uint64_t bytes);

/*
 * OnCongestionEvent(sent_time) (Appendix B.6): loss, or an ECN-CE increase
 * when ecn. Ignored while in a recovery period that started at or after
 * sent_time: one reduction per recovery period (§7.3.2).
 */
void qb_cc_on_congestion_event(struct qb_cc *cc, uint64_t sent_time, bool ecn, uint64_t now);

/* Persistent congestion (§7.6.2): cwnd to the minimum window. */
void qb_cc_on_persistent_congestion(struct qb_cc *cc, uint64_t now);

/* A new path MTU (>= 1200): the minimum window follows, cwnd at least it. */
void qb_cc_set_max_datagram_size(struct qb_cc *cc, uint32_t max_datagram_size);

/* The connection says whether it is application or flow-control limited. */
static inline void
qb_cc_set_app_limited(struct qb_cc *cc, bool limited)
{
	cc->app_limited = limited;
}

/* Bytes that may still be put in flight (0: blocked). */
static inline uint64_t
qb_cc_available(const struct qb_cc *cc)
{
	return cc->bytes_in_flight < cc->cwnd ? cc->cwnd - cc->bytes_in_flight : 0;
}

/* True when one more in-flight packet may be sent (§7: bytes_in_flight < cwnd). */
static inline bool
qb_cc_can_send(const struct qb_cc *cc)
{
	return cc->bytes_in_flight < cc->cwnd;
}

/* True while a packet sent at sent_time falls in the current recovery period. */
static inline bool
qb_cc_in_recovery(const struct qb_cc *cc, uint64_t sent_time)
{
	return cc->has_recovery_start && sent_time <= cc->recovery_start;
}

/* ------------------------------------------------------------------------ */
/* Pacer (RFC 9002 §7.7): a token bucket of burst_packets * mds bytes that
 * fills at rate = 1.25 * cwnd / smoothed_rtt. Only in-flight, non-probe
 * packets are paced; ACK-only packets and PTO probes bypass it. */

#define QB_PACER_N_NUM     5 /* N = 5/4 */
#define QB_PACER_N_DEN     4
#define QB_PACER_BURST     10   /* default burst, packets */
#define QB_PACER_BURST_MAX 1024 /* the largest bucket a connection takes */

struct qb_pacer {
	uint64_t tokens;   /* credit, in bytes * 1e9 (so ns * bytes/s adds exactly) */
	uint64_t capacity; /* burst in bytes * 1e9 */
	uint64_t rate;     /* bytes per second; 0: not paced */
	uint64_t last;     /* time tokens were last refilled */
	uint32_t mds;      /* max datagram size */
	uint32_t burst_packets;
};

/*
 * Initialises a full bucket (the first burst goes at once). burst_packets 0
 * uses QB_PACER_BURST. Returns 0 or QB_ERR_ARG.
 */
int qb_pacer_init(struct qb_pacer *p, uint32_t max_datagram_size, uint32_t burst_packets,
                  uint64_t now);

/* Recomputes the rate from the window and smoothed RTT (call after each ACK). */
void qb_pacer_set_rate(struct qb_pacer *p, uint64_t cwnd, uint64_t smoothed_rtt, uint64_t now);

/* Earliest time a packet of max_datagram_size may go: <= now means now. */
uint64_t qb_pacer_next_send_time(struct qb_pacer *p, uint64_t now);

/* Whole packets of max_datagram_size the bucket allows right now. */
uint32_t qb_pacer_quota(struct qb_pacer *p, uint64_t now);
/* Packets of size bytes it lets go right now, one after the other. */
uint32_t qb_pacer_quota_of(struct qb_pacer *p, uint64_t now, uint32_t size);

/* A paced packet of `bytes` left at now. */
/* Credit earned up to now (for the inline functions here). */
void qb_pacer_refill(struct qb_pacer *p, uint64_t now);

/* Inline: a burst's packets share one `now`, so only its first refills. */
static inline void
qb_pacer_on_sent(struct qb_pacer *p, uint32_t bytes, uint64_t now)
{
	uint64_t cost = (uint64_t)bytes * 1000000000ull;

	if (now > p->last)
		qb_pacer_refill(p, now);
	p->tokens = p->tokens > cost ? p->tokens - cost : 0;
}

/*
 * qb_pacer_next_send_time(p, now) <= now, inline, for a time no later than
 * the pacer's last call (nothing to refill): the packets of a burst after
 * its first.
 */
static inline bool
qb_pacer_ready(const struct qb_pacer *p)
{
	return p->rate == 0 || p->tokens >= (uint64_t)p->mds * 1000000000ull;
}

/*
 * How many packets of size bytes qb_pacer_ready() lets go back to back at
 * the pacer's last time (nothing refilled), each debited as
 * qb_pacer_on_sent() would; UINT32_MAX when not paced.
 */
static inline uint32_t
qb_pacer_ready_count(const struct qb_pacer *p, uint32_t size)
{
	uint64_t need = (uint64_t)p->mds * 1000000000ull, n;

	if (p->rate == 0)
		return UINT32_MAX;
	if (p->tokens < need)
		return 0;
	n = (p->tokens - need) / ((uint64_t)(size ? size : 1) * 1000000000ull) + 1;
	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

#endif
