/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Loss detection and PTO, following RFC 9002 Appendix A function by
 * function (OnPacketSent, OnAckReceived, DetectAndRemoveAckedPackets,
 * DetectAndRemoveLostPackets, GetLossTimeAndSpace, GetPtoTimeAndSpace,
 * SetLossDetectionTimer, OnLossDetectionTimeout) with Appendix B's
 * OnPacketsLost folded in.
 *
 * Cost: records are in send order, so packet numbers and send times both
 * increase along the ring. DetectAndRemoveLostPackets therefore stops at the
 * first record that is not lost (every later one is newer on both counts),
 * and acknowledged records are skipped in amortised O(1) (sent_ring.h): an
 * in-order ACK costs O(log outstanding + acked), never O(outstanding).
 *
 * Several paths (qb_recovery_set_path_rtt()): records of all paths share the
 * ring, in send order, so along it the packet numbers and send times of each
 * path's records still increase. Loss detection walks the ring once per path
 * that carried packets, looking only at that path's records and stopping at
 * its first record that is not lost; each path keeps the sequence where its
 * walk stopped (no live record of it lies below), so records of other paths
 * are stepped over at most once per path: the cost stays amortised
 * O(paths * (acked + lost + sent)).
 */
#include <string.h>

#include "qburst/cc.h"
#include "qburst/recovery.h"
#include "qburst/varint.h"
#include "recovery/sent_ring.h"

static uint64_t
sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* a * 2^n, saturating. */
static uint64_t
sat_shl(uint64_t a, uint32_t n)
{
	if (a == 0)
		return 0;
	if (n >= 64 || a > (UINT64_MAX >> n))
		return UINT64_MAX;
	return a << n;
}

static void
space_reset(struct qb_recovery_space *sp)
{
	sp->largest_acked = QB_PN_NONE;
	sp->largest_acked_time_sent = 0;
	sp->time_of_last_ack_eliciting = 0;
	sp->loss_time = QB_TIME_NONE;
	sp->eliciting_in_flight = 0;
	sp->ecn_ce = 0;
	sp->path_mask = 0;
	for (int i = 0; i < QB_RECOVERY_MAX_PATHS; i++) {
		sp->path[i].largest_acked = QB_PN_NONE;
		sp->path[i].scan = 0;
		sp->path[i].eliciting_in_flight = 0;
	}
}

/* The estimator of a path: its own, or the connection's. */
static struct qb_rtt *
path_rtt(const struct qb_recovery *rec, unsigned path)
{
	return rec->path_rtt[path] != NULL ? rec->path_rtt[path] : rec->rtt;
}

/* True when at most one path ever sent in the space. */
static bool
single_path(const struct qb_recovery_space *sp)
{
	return (sp->path_mask & (sp->path_mask - 1)) == 0;
}

int
qb_recovery_init(struct qb_recovery *rec, const struct qb_recovery_config *cfg,
                 struct qb_sent_pkt *const storage[QB_PN_SPACE_COUNT],
                 const uint32_t cap[QB_PN_SPACE_COUNT], const struct qb_recovery_cb *cb)
{
	int s, rc;

	if (rec == NULL || cfg == NULL || storage == NULL || cap == NULL)
		return QB_ERR_ARG;
	memset(rec, 0, sizeof(*rec));
	for (s = 0; s < QB_PN_SPACE_COUNT; s++) {
		rc = qb_sent_init(&rec->space[s].sent, storage[s], cap[s]);
		if (rc < 0)
			return rc;
		space_reset(&rec->space[s]);
	}
	if (cb != NULL)
		rec->cb = *cb;
	rec->is_server = cfg->is_server;
	rec->max_ack_delay = cfg->max_ack_delay ? cfg->max_ack_delay : QB_MAX_ACK_DELAY_DEF;
	rec->timer = QB_TIME_NONE;
	return 0;
}

void
qb_recovery_set_path(struct qb_recovery *rec, struct qb_rtt *rtt, struct qb_cc *cc)
{
	rec->rtt = rtt;
	rec->cc = cc;
}

int
qb_recovery_set_path_rtt(struct qb_recovery *rec, uint8_t path, struct qb_rtt *rtt)
{
	if (rec == NULL || path >= QB_RECOVERY_MAX_PATHS)
		return QB_ERR_ARG;
	rec->path_rtt[path] = rtt;
	return 0;
}

void
qb_recovery_set_max_ack_delay(struct qb_recovery *rec, uint64_t max_ack_delay)
{
	rec->max_ack_delay = max_ack_delay;
}

static bool
any_eliciting_in_flight(const struct qb_recovery *rec)
{
	return rec->space[QB_PN_INITIAL].eliciting_in_flight +
	               rec->space[QB_PN_HANDSHAKE].eliciting_in_flight +
	               rec->space[QB_PN_APP].eliciting_in_flight !=
	       0;
}

/* Appendix A.8 PeerCompletedAddressValidation. */
static bool
peer_completed_address_validation(const struct qb_recovery *rec)
{
	/* Clients validate the server's address implicitly; a server has
	 * validated ours once it sends a Handshake ACK or confirms. */
	return rec->is_server || rec->handshake_ack_received || rec->handshake_confirmed;
}

/* Appendix A.8 GetLossTimeAndSpace. */
static uint64_t
get_loss_time_and_space(const struct qb_recovery *rec, enum qb_pn_space *space)
{
	uint64_t time = QB_TIME_NONE;
	int s;

	*space = QB_PN_INITIAL;
	for (s = 0; s < QB_PN_SPACE_COUNT; s++) {
		if (rec->space[s].loss_time < time) {
			time = rec->space[s].loss_time;
			*space = (enum qb_pn_space)s;
		}
	}
	return time;
}

/*
 * smoothed_rtt + max(4*rttvar, kGranularity) for a space (§6.2.1): with
 * several paths, the largest over the paths with ack-eliciting packets in
 * flight there. One timer per space (not per path) keeps Appendix A's single
 * PTO backoff and probe accounting; taking the slowest path's period means
 * no path is probed before its ACK could have come back (a spurious PTO
 * would send probes, double the backoff and, persisting, collapse the one
 * congestion window), and a tail loss on a faster path is then found at
 * most one slow-path PTO late.
 */
static uint64_t
space_pto_base(const struct qb_recovery *rec, const struct qb_recovery_space *sp)
{
	uint64_t base = 0;

	for (unsigned i = 0; i < QB_RECOVERY_MAX_PATHS; i++) {
		uint64_t b;

		if (sp->path[i].eliciting_in_flight == 0)
			continue;
		b = qb_rtt_pto_base(path_rtt(rec, i));
		if (b > base)
			base = b;
	}
	return base != 0 ? base : qb_rtt_pto_base(rec->rtt);
}

/* Appendix A.8 GetPtoTimeAndSpace. */
static uint64_t
get_pto_time_and_space(const struct qb_recovery *rec, uint64_t now, enum qb_pn_space *space)
{
	uint64_t duration;
	uint64_t timeout = QB_TIME_NONE;
	int s;

	*space = QB_PN_INITIAL;
	if (!any_eliciting_in_flight(rec)) {
		/* Anti-deadlock PTO (§6.2.2.1) runs from now. */
		duration = sat_shl(qb_rtt_pto_base(rec->rtt), rec->pto_count);
		*space = rec->has_handshake_keys ? QB_PN_HANDSHAKE : QB_PN_INITIAL;
		return sat_add(now, duration);
	}
	for (s = 0; s < QB_PN_SPACE_COUNT; s++) {
		const struct qb_recovery_space *sp = &rec->space[s];
		uint64_t t;

		if (sp->eliciting_in_flight == 0)
			continue;
		duration = sat_shl(space_pto_base(rec, sp), rec->pto_count);
		if (s == QB_PN_APP) {
			/* §6.2.1: no Application PTO before confirmation. */
			if (!rec->handshake_confirmed)
				return timeout;
			duration = sat_add(duration, sat_shl(rec->max_ack_delay, rec->pto_count));
		}
		t = sat_add(sp->time_of_last_ack_eliciting, duration);
		if (t < timeout) {
			timeout = t;
			*space = (enum qb_pn_space)s;
		}
	}
	return timeout;
}

/*
 * Appendix A.8 SetLossDetectionTimer. Every event calls it, but the result
 * is only needed when the connection asks for its deadline (once per burst,
 * not once per packet): the event's time is kept and the timer computed on
 * demand, which gives the same value.
 */
static void
set_loss_detection_timer(struct qb_recovery *rec, uint64_t now)
{
	rec->timer_dirty = true;
	rec->timer_now = now;
}

static void
compute_loss_detection_timer(struct qb_recovery *rec, uint64_t now)
{
	enum qb_pn_space space;
	uint64_t t = get_loss_time_and_space(rec, &space);

	if (t != QB_TIME_NONE) {
		rec->timer = t; /* time threshold loss detection */
		return;
	}
	if (rec->amplification_limited) {
		rec->timer = QB_TIME_NONE; /* the server could not send a probe */
		return;
	}
	if (!any_eliciting_in_flight(rec) && peer_completed_address_validation(rec)) {
		rec->timer = QB_TIME_NONE;
		return;
	}
	rec->timer = get_pto_time_and_space(rec, now, &space);
}

int
qb_recovery_move_space(struct qb_recovery *rec, enum qb_pn_space space, struct qb_sent_pkt *storage,
                       uint32_t cap)
{
	if ((unsigned)space >= QB_PN_SPACE_COUNT)
		return QB_ERR_ARG;
	return qb_sent_move(&rec->space[space].sent, storage, cap);
}

/*
 * Records a packet checked by the caller. Scalar arguments, not struct
 * qb_sent_info: reading the info's flag bytes back with one wider load
 * right after the caller stored them one by one waited for the stores to
 * reach the cache (perf: a quarter of the function's time in the build-rate
 * bench).
 */
static inline int
sent_record(struct qb_recovery *rec, enum qb_pn_space space, uint64_t pn, uint32_t size,
            uint32_t frames, bool eliciting, bool in_flight, uint8_t path, uint64_t now)
{
	struct qb_recovery_space *sp = &rec->space[space];
	struct qb_sent_pkt *p;

	if (qb_sent_full(&sp->sent)) {
		/* Not recorded (the caller sends it only if it is ACK-only),
		 * but sent: the peer may acknowledge it, and that must not read
		 * as an ACK of a packet never sent (RFC 9000 §13.1). */
		sp->sent.next_pn = pn + 1;
		return QB_ERR_NOMEM;
	}
	p = qb_sent_push(&sp->sent);
	p->pn = pn;
	p->time_sent = now;
	p->size = size;
	p->frames = frames;
	p->skip = 0;
	p->flags = (uint8_t)((eliciting ? QB_SENT_ACK_ELICITING : 0) |
	                     (in_flight ? QB_SENT_IN_FLIGHT : 0));
	p->path = path;
	sp->path_mask |= (uint8_t)(1u << path);
	sp->sent.next_pn = pn + 1;
	if (eliciting && rec->probes[space] > 0)
		rec->probes[space]--;
	if (in_flight) {
		if (eliciting) {
			sp->time_of_last_ack_eliciting = now;
			sp->eliciting_in_flight++;
			sp->path[path].eliciting_in_flight++;
		}
		if (rec->cc != NULL)
			qb_cc_on_packet_sent(rec->cc, size, now);
		set_loss_detection_timer(rec, now);
	}
	return 0;
}

/* The checks of a packet to record: 0, QB_ERR_ARG or QB_ERR_STATE. */
static int
sent_check(const struct qb_recovery *rec, enum qb_pn_space space, uint64_t pn, uint8_t path)
{
	if ((unsigned)space >= QB_PN_SPACE_COUNT)
		return QB_ERR_ARG;
	if (rec->space[space].discarded)
		return QB_ERR_STATE;
	if (pn < rec->space[space].sent.next_pn || pn >= (1ull << 62) ||
	    path >= QB_RECOVERY_MAX_PATHS)
		return QB_ERR_ARG;
	return 0;
}

int
qb_recovery_on_packet_sent(struct qb_recovery *rec, enum qb_pn_space space,
                           const struct qb_sent_info *info, uint64_t now)
{
	int rc;

	if (info == NULL)
		return QB_ERR_ARG;
	if ((rc = sent_check(rec, space, info->pn, info->path)) != 0)
		return rc;
	/* An ack-eliciting packet always counts in flight (§2). */
	return sent_record(rec, space, info->pn, info->size, info->frames, info->ack_eliciting,
	                   info->in_flight || info->ack_eliciting, info->path, now);
}

int
qb_recovery_on_eliciting_sent(struct qb_recovery *rec, enum qb_pn_space space, uint64_t pn,
                              uint32_t size, uint32_t frames, uint8_t path, uint64_t now)
{
	int rc = sent_check(rec, space, pn, path);

	return rc != 0 ? rc : sent_record(rec, space, pn, size, frames, true, true, path, now);
}

void
qb_recovery_run_end(struct qb_recovery *rec, enum qb_pn_space space, uint64_t last_pn,
                    uint32_t count, uint64_t bytes, uint8_t path, uint64_t now)
{
	struct qb_recovery_space *sp = &rec->space[space];

	/* What sent_record() does per packet beyond the slot, once. */
	sp->path_mask |= (uint8_t)(1u << path);
	sp->sent.next_pn = last_pn + 1;
	rec->probes[space] = rec->probes[space] > count ? (uint8_t)(rec->probes[space] - count) : 0;
	sp->time_of_last_ack_eliciting = now;
	sp->eliciting_in_flight += count;
	sp->path[path].eliciting_in_flight += count;
	if (rec->cc != NULL)
		qb_cc_on_packet_sent(rec->cc, (uint32_t)bytes, now);
	set_loss_detection_timer(rec, now);
}

/* Takes a live record out of the ring, keeping the space's counters right. */
static void
take(struct qb_recovery_space *sp, uint64_t seq, struct qb_sent_pkt *p, bool acked)
{
	if (p->flags & QB_SENT_ACK_ELICITING) {
		sp->eliciting_in_flight--;
		sp->path[p->path].eliciting_in_flight--;
	}
	qb_sent_remove(&sp->sent, seq, acked);
}

/* What one loss-detection pass found, over all paths (Appendix B.8 inputs). */
struct lost_sum {
	uint64_t bytes;          /* in-flight bytes declared lost */
	uint64_t last_time_sent; /* newest send time among them */
	bool in_flight;          /* any in-flight packet lost */
	struct qb_rtt *pc_rtt;   /* a path whose losses establish persistent congestion */
};

/* §7.6.1 duration with a path's estimator. */
static uint64_t
pc_duration_of(const struct qb_recovery *rec, const struct qb_rtt *rtt)
{
	/* §7.6.1: max_ack_delay counts whatever the space. */
	uint64_t d = sat_add(qb_rtt_pto_base(rtt), rec->max_ack_delay);

	return d > UINT64_MAX / QB_PC_THRESHOLD ? UINT64_MAX : d * QB_PC_THRESHOLD;
}

/*
 * How a record of a path is judged against the space's acknowledgments
 * (see detect_lost_on_path()). Each rule is a packet threshold against a
 * largest acknowledged packet and a time threshold; a rule never applies to
 * a packet at or above its largest (nothing sent later was acknowledged).
 */
struct loss_rule {
	uint64_t largest;   /* packets below it may be lost; QB_PN_NONE: none */
	uint64_t pkt_limit; /* lost when pn + pkt_limit <= largest; 0: time only */
	uint64_t delay;     /* lost when sent at least this long ago */
};

/* True when p is lost under rule at now; else *deadline is when it would be. */
static bool
rule_says_lost(const struct loss_rule *rl, const struct qb_sent_pkt *p, uint64_t now,
               uint64_t *deadline)
{
	if (rl->largest == QB_PN_NONE || p->pn > rl->largest)
		return false;
	if (rl->pkt_limit != 0 && rl->largest - p->pn >= rl->pkt_limit)
		return true;
	if (now >= rl->delay && p->time_sent <= now - rl->delay)
		return true;
	if (sat_add(p->time_sent, rl->delay) < *deadline)
		*deadline = sat_add(p->time_sent, rl->delay);
	return false;
}

/*
 * Appendix A.10 DetectAndRemoveLostPackets for the records of one path.
 * RFC 9002 §6.1 assumes one path; here a record is judged by one of four
 * rules (with one path only rules 1 and 3 apply, which are §6.1 exactly,
 * since every acknowledged packet is then the path's own):
 *
 *  1. In flight, below the path's own largest acknowledged packet: §6.1.1
 *     and §6.1.2 against that packet, with the path's RTT. Another path's
 *     later packets say nothing of this one's delay, so they do not count.
 *  2. In flight, sent before a packet of another path that was
 *     acknowledged, but after the path's own largest acknowledged (or on a
 *     path with none: being validated, or dead since): lost once it is one
 *     PTO period of its path old (§6.2.1: smoothed_rtt + max(4 * rttvar,
 *     kGranularity), plus max_ack_delay in the Application space). Its ACK
 *     could have come back by then, and something sent after it did come
 *     back. Without this rule such a packet would never be declared lost:
 *     the space's PTO does not fire while other paths' ACKs arrive, so its
 *     bytes would stay in flight for good.
 *  3. Not in flight (ACK-only, PATH_CHALLENGE/PATH_RESPONSE probes), below
 *     the path's own largest acknowledged packet: as rule 1 (§6.1).
 *  4. Not in flight, sent before a packet of another path that was
 *     acknowledged: forgotten (on_discarded, not counted as lost) once
 *     kPacketThreshold packets behind the space's largest acknowledged or
 *     the path's loss delay old, as with a single path. Such a record only
 *     tells whether the peer got our ACK frame: nothing is retransmitted
 *     or congestion controlled on its account (on_lost does nothing with
 *     an ACK frame: a newer one is built from the received ranges), so
 *     giving up on it early costs nothing, while a record never
 *     acknowledged, say the probe of a path whose validation failed or was
 *     lost, would otherwise hold the sent ring's tail forever: the ring
 *     fills behind it and nothing more can be sent, with nothing in flight.
 *
 * Along a path's records (send order) the records below the path's largest
 * acknowledged come first, and each rule's verdict goes from lost to not
 * lost once, so the walk stops at the first record that is not lost yet
 * and arms the timer for it, unless that record is one of rule 4's, whose
 * delay can outlast rule 2's: the walk goes on past it to the records
 * after it. Returns the path's loss_time (QB_TIME_NONE: none pending).
 */
static uint64_t
detect_lost_on_path(struct qb_recovery *rec, enum qb_pn_space space, unsigned path, uint64_t now,
                    struct lost_sum *sum)
{
	struct qb_recovery_space *sp = &rec->space[space];
	struct qb_recovery_path_space *ps = &sp->path[path];
	struct qb_sent_ring *r = &sp->sent;
	struct qb_rtt *rtt = path_rtt(rec, path);
	uint64_t loss_delay, loss_time = QB_TIME_NONE, run_start = 0, pc_duration, pto;
	bool run = false, acked_gap = false;
	uint64_t seq, kept = UINT64_MAX; /* the first rule-4 record passed over */

	if (sp->largest_acked == QB_PN_NONE)
		return QB_TIME_NONE;
	/* §6.1.2: 9/8 * max(smoothed_rtt, latest_rtt), at least kGranularity. */
	loss_delay = rtt->latest > rtt->smoothed ? rtt->latest : rtt->smoothed;
	loss_delay = loss_delay + loss_delay / 8;
	if (loss_delay < QB_GRANULARITY_NS)
		loss_delay = QB_GRANULARITY_NS;
	pc_duration = pc_duration_of(rec, rtt);
	/* §6.2.1: the path's PTO period, without backoff. */
	pto = qb_rtt_pto_base(rtt);
	if (space == QB_PN_APP)
		pto = sat_add(pto, rec->max_ack_delay);

	const struct loss_rule own = {ps->largest_acked, QB_PACKET_THRESHOLD, loss_delay};
	const struct loss_rule cross = {sp->largest_acked, 0, pto};
	const struct loss_rule any = {sp->largest_acked, QB_PACKET_THRESHOLD, loss_delay};

	/* No live record of this path lies below ps->scan. */
	for (seq = qb_sent_next_live(r, ps->scan > r->tail ? ps->scan : r->tail, NULL);
	     seq < r->head; seq = qb_sent_next_live(r, seq + 1, &acked_gap)) {
		struct qb_sent_pkt *p = qb_sent_at(r, seq);
		uint64_t deadline = QB_TIME_NONE;
		bool lost, mine;

		if (p->path != path)
			continue; /* another path's: judged by its own walk */
		if (p->pn > sp->largest_acked)
			break; /* nothing sent later was acknowledged */
		mine = ps->largest_acked != QB_PN_NONE && p->pn <= ps->largest_acked;
		if (mine)
			lost = rule_says_lost(&own, p, now, &deadline);
		else if (p->flags & QB_SENT_IN_FLIGHT)
			lost = rule_says_lost(&cross, p, now, &deadline);
		else
			lost = rule_says_lost(&any, p, now, &deadline);
		if (!lost) {
			/* Not lost yet: arm the timer (see above). */
			if (deadline < loss_time)
				loss_time = deadline;
			if (!mine && !(p->flags & QB_SENT_IN_FLIGHT)) {
				/* Rule 4's delay (9/8 RTT) can outlast rule 2's
				 * (the PTO period) on a path of long steady RTT:
				 * a later in-flight record may be due first. */
				if (kept == UINT64_MAX)
					kept = seq;
				continue;
			}
			break;
		}
		if (!mine && !(p->flags & QB_SENT_IN_FLIGHT)) {
			/* Rule 4: forgotten, not lost. */
			if (rec->cb.on_discarded != NULL)
				rec->cb.on_discarded(rec->cb.ctx, space, p);
			take(sp, seq, p, false);
			continue;
		}
		/*
		 * §7.6.2: a run of lost ack-eliciting packets, sent after the
		 * first RTT sample, with no acknowledged packet between them.
		 * Only this space's acknowledgments are seen (allowed by §7.6.2);
		 * an acknowledged packet of any path between them ends the run.
		 */
		if (acked_gap)
			run = false;
		acked_gap = false;
		if ((p->flags & QB_SENT_ACK_ELICITING) && rtt->has_sample &&
		    p->time_sent > rtt->first_sample_time) {
			if (!run) {
				run = true;
				run_start = p->time_sent;
			} else if (p->time_sent - run_start > pc_duration) {
				sum->pc_rtt = rtt;
			}
		}
		if (p->flags & QB_SENT_IN_FLIGHT) {
			sum->in_flight = true;
			sum->bytes += p->size;
			if (p->time_sent > sum->last_time_sent)
				sum->last_time_sent = p->time_sent;
		}
		rec->lost_count++;
		if (rec->cb.on_lost != NULL)
			rec->cb.on_lost(rec->cb.ctx, space, p);
		take(sp, seq, p, false);
	}
	ps->scan = kept < seq ? kept : seq; /* no live record of the path below it */
	return loss_time;
}

/*
 * Appendix A.10 DetectAndRemoveLostPackets, path by path, with Appendix B.8
 * OnPacketsLost and the persistent congestion check (§7.6.2) done in the
 * same walks.
 */
static void
detect_and_remove_lost(struct qb_recovery *rec, enum qb_pn_space space, uint64_t now)
{
	struct qb_recovery_space *sp = &rec->space[space];
	struct lost_sum sum = {0};

	sp->loss_time = QB_TIME_NONE;
	if (sp->largest_acked == QB_PN_NONE)
		return;
	for (unsigned i = 0; i < QB_RECOVERY_MAX_PATHS; i++) {
		uint64_t t;

		if (!(sp->path_mask & (1u << i)))
			continue;
		t = detect_lost_on_path(rec, space, i, now, &sum);
		if (t < sp->loss_time)
			sp->loss_time = t;
	}

	if (rec->cc == NULL)
		return;
	/* Appendix B.8 OnPacketsLost. */
	if (sum.bytes > 0)
		qb_cc_on_lost(rec->cc, sum.bytes);
	if (sum.in_flight)
		qb_cc_on_congestion_event(rec->cc, sum.last_time_sent, false, now);
	if (sum.pc_rtt != NULL) {
		/* One controller for all paths: one path's persistent
		 * congestion collapses the shared window. */
		rec->persistent_congestion = true;
		qb_cc_on_persistent_congestion(rec->cc, now);
		/* §5.2: restart min_rtt from the newest sample. */
		sum.pc_rtt->min = sum.pc_rtt->latest;
	}
}

static bool
was_sampled(struct qb_rtt *const *done, unsigned n, const struct qb_rtt *rtt)
{
	for (unsigned i = 0; i < n; i++)
		if (done[i] == rtt)
			return true;
	return false;
}

static int
check_ranges(const struct qb_ack_info *ack)
{
	uint32_t k;

	if (ack->ranges == NULL || ack->nranges == 0)
		return QB_ERR_INVALID;
	for (k = 0; k < ack->nranges; k++) {
		if (ack->ranges[k].lo > ack->ranges[k].hi)
			return QB_ERR_INVALID;
		if (k > 0 && ack->ranges[k].hi >= ack->ranges[k - 1].lo)
			return QB_ERR_INVALID;
	}
	return 0;
}

int
qb_recovery_on_ack_received(struct qb_recovery *rec, enum qb_pn_space space,
                            const struct qb_ack_info *ack, uint64_t now)
{
	struct qb_recovery_space *sp;
	struct qb_sent_ring *r;
	uint64_t largest, acked_bytes = 0, newest_sent = 0, largest_new = QB_PN_NONE;
	uint64_t largest_new_time = 0, recovery_bytes = 0;
	bool any_new = false, eliciting = false, in_recovery;
	unsigned largest_new_path = 0;
	struct qb_rtt *sampled = NULL;
	/* Per path: its largest newly acknowledged packet. */
	uint64_t pnew[QB_RECOVERY_MAX_PATHS], pnew_time[QB_RECOVERY_MAX_PATHS];
	bool pnew_eliciting[QB_RECOVERY_MAX_PATHS] = {false};
	/* Estimators this ACK sampled: at most one sample each. */
	struct qb_rtt *done[QB_RECOVERY_MAX_PATHS + 1];
	unsigned ndone = 0;
	uint32_t k;
	int rc;

	if ((unsigned)space >= QB_PN_SPACE_COUNT || ack == NULL)
		return QB_ERR_ARG;
	sp = &rec->space[space];
	r = &sp->sent;
	if (sp->discarded)
		return QB_ERR_STATE;
	rc = check_ranges(ack);
	if (rc < 0)
		return rc;
	largest = ack->ranges[0].hi;
	/* RFC 9000 §13.1: an ACK of a packet never sent. */
	if (largest >= r->next_pn || r->head == 0)
		return QB_ERR_PROTO;

	if (space == QB_PN_HANDSHAKE)
		rec->handshake_ack_received = true;
	if (sp->largest_acked == QB_PN_NONE || largest > sp->largest_acked)
		sp->largest_acked = largest;
	for (k = 0; k < QB_RECOVERY_MAX_PATHS; k++) {
		pnew[k] = QB_PN_NONE;
		pnew_time[k] = 0;
	}

	/* Appendix A.7 DetectAndRemoveAckedPackets. */
	for (k = 0; k < ack->nranges; k++) {
		const struct qb_pn_range *rg = &ack->ranges[k];
		uint64_t seq;

		if (r->tail == r->head || rg->hi < qb_sent_at(r, r->tail)->pn)
			break; /* this range and every later (lower) one is old news */
		/* Common case: the range reaches back past the oldest record. */
		if (rg->lo <= qb_sent_at(r, r->tail)->pn)
			seq = r->tail;
		else
			seq = qb_sent_next_live(r, qb_sent_lower_bound(r, rg->lo), NULL);
		while (seq < r->head) {
			struct qb_sent_pkt *p = qb_sent_at(r, seq);

			if (p->pn > rg->hi)
				break;
			any_new = true;
			if (p->flags & QB_SENT_ACK_ELICITING)
				eliciting = true;
			if (p->flags & QB_SENT_IN_FLIGHT) {
				acked_bytes += p->size;
				if (rec->cc != NULL && qb_cc_in_recovery(rec->cc, p->time_sent))
					recovery_bytes += p->size;
			}
			if (p->time_sent > newest_sent)
				newest_sent = p->time_sent;
			if (largest_new == QB_PN_NONE || p->pn > largest_new) {
				largest_new = p->pn;
				largest_new_time = p->time_sent;
				largest_new_path = p->path;
			}
			if (pnew[p->path] == QB_PN_NONE || p->pn > pnew[p->path]) {
				pnew[p->path] = p->pn;
				pnew_time[p->path] = p->time_sent;
			}
			if (p->flags & QB_SENT_ACK_ELICITING)
				pnew_eliciting[p->path] = true;
			if (rec->cb.on_acked != NULL)
				rec->cb.on_acked(rec->cb.ctx, space, p);
			take(sp, seq, p, true);
			seq = qb_sent_next_live(r, seq + 1, NULL);
		}
	}
	if (!any_new)
		return 0;

	if (largest_new == largest) {
		struct qb_rtt *rtt = path_rtt(rec, largest_new_path);

		sp->largest_acked_time_sent = largest_new_time;
		/* §5.1: sample only when the largest is newly acked and
		 * something ack-eliciting was; the sample is its path's. */
		if (eliciting && rtt != NULL) {
			uint64_t latest = now > largest_new_time ? now - largest_new_time : 0;
			/* §5.3: Initial ACKs are not delayed on purpose. */
			uint64_t delay = space == QB_PN_INITIAL ? 0 : ack->ack_delay;

			qb_rtt_update(rtt, latest, delay, rec->max_ack_delay,
			              rec->handshake_confirmed, now);
			sampled = rtt;
			done[ndone++] = rtt;
		}
	}
	for (k = 0; k < QB_RECOVERY_MAX_PATHS; k++) {
		struct qb_recovery_path_space *ps = &sp->path[k];
		struct qb_rtt *rtt = path_rtt(rec, k);

		if (pnew[k] == QB_PN_NONE ||
		    (ps->largest_acked != QB_PN_NONE && pnew[k] <= ps->largest_acked))
			continue;
		ps->largest_acked = pnew[k];
		/*
		 * §5.1 per path: the path's largest acknowledged advanced; its
		 * estimator, unless this ACK sampled it already (paths may share
		 * the connection's), samples that packet. Without the frame's ACK
		 * Delay, which is measured from the Largest Acknowledged's
		 * arrival: the sample may include some delay at the peer (an
		 * overestimate makes loss detection slower, never hastier). One
		 * path: §5.1 exactly, no such sample.
		 */
		if (rtt != NULL && pnew_eliciting[k] && !single_path(sp) &&
		    !was_sampled(done, ndone, rtt)) {
			uint64_t latest = now > pnew_time[k] ? now - pnew_time[k] : 0;

			qb_rtt_update(rtt, latest, 0, rec->max_ack_delay, rec->handshake_confirmed,
			              now);
			done[ndone++] = rtt;
		}
	}
	/* One path only: every packet, tracked or not, is that path's. */
	if (single_path(sp) && sp->path_mask != 0)
		sp->path[__builtin_ctz(sp->path_mask)].largest_acked = sp->largest_acked;

	/* Appendix B.7 ProcessECN. */
	if (ack->has_ecn && ack->ecn[2] > sp->ecn_ce) {
		sp->ecn_ce = ack->ecn[2];
		if (rec->cc != NULL)
			qb_cc_on_congestion_event(rec->cc, sp->largest_acked_time_sent, true, now);
	}

	rec->persistent_congestion = false;
	in_recovery = rec->cc != NULL && rec->cc->has_recovery_start;
	detect_and_remove_lost(rec, space, now);
	/* Appendix B.8 ended the period: every packet may grow the window. */
	if (in_recovery && !rec->cc->has_recovery_start)
		recovery_bytes = 0;

	if (rec->cc != NULL) {
		/* The controller's RTT: the path this ACK sampled, else the
		 * connection's estimator. */
		const struct qb_rtt *crtt = sampled != NULL ? sampled : rec->rtt;
		struct qb_cc_ack ca = {
		        .acked_bytes = acked_bytes,
		        .newest_time_sent = newest_sent,
		        .recovery_bytes = recovery_bytes,
		        .smoothed_rtt = crtt != NULL ? crtt->smoothed : 0,
		        .min_rtt = crtt != NULL ? crtt->min : 0,
		        .latest_rtt = sampled != NULL ? sampled->latest : 0,
		};

		qb_cc_on_ack(rec->cc, &ca, now);
	}

	/* §6.2.1: a client unsure the server validated it keeps the backoff. */
	if (peer_completed_address_validation(rec))
		rec->pto_count = 0;
	set_loss_detection_timer(rec, now);
	return 0;
}

enum qb_ld_event
qb_recovery_on_timeout(struct qb_recovery *rec, uint64_t now)
{
	enum qb_pn_space space;
	enum qb_ld_event ev;

	uint64_t timer = qb_recovery_timer(rec);

	if (timer == QB_TIME_NONE || now < timer)
		return QB_LD_NONE;
	if (get_loss_time_and_space(rec, &space) != QB_TIME_NONE) {
		/* Time threshold loss detection. */
		detect_and_remove_lost(rec, space, now);
		set_loss_detection_timer(rec, now);
		return QB_LD_LOST;
	}
	if (!any_eliciting_in_flight(rec)) {
		/* Client anti-deadlock probe (§6.2.2.1): a Handshake packet if
		 * it has the keys, else an Initial padded to 1200 bytes. */
		space = rec->has_handshake_keys ? QB_PN_HANDSHAKE : QB_PN_INITIAL;
		rec->probes[space] = 1;
		ev = QB_LD_ANTI_DEADLOCK;
	} else {
		get_pto_time_and_space(rec, now, &space);
		rec->probes[space] = 2; /* §6.2.4: up to two datagrams */
		ev = QB_LD_PTO;
	}
	rec->probe_space = space;
	rec->pto_count++;
	rec->pto_fired++;
	set_loss_detection_timer(rec, now);
	return ev;
}

/* Drops every live record of a space, handing each to hook. Returns the in-flight bytes. */
static uint64_t
drain_space(struct qb_recovery *rec, enum qb_pn_space space,
            void (*hook)(void *, enum qb_pn_space, const struct qb_sent_pkt *))
{
	struct qb_recovery_space *sp = &rec->space[space];
	struct qb_sent_ring *r = &sp->sent;
	uint64_t seq, bytes = 0;

	for (seq = qb_sent_next_live(r, r->tail, NULL); seq < r->head;
	     seq = qb_sent_next_live(r, seq + 1, NULL)) {
		struct qb_sent_pkt *p = qb_sent_at(r, seq);

		if (p->flags & QB_SENT_IN_FLIGHT)
			bytes += p->size;
		if (hook != NULL)
			hook(rec->cb.ctx, space, p);
		take(sp, seq, p, false);
	}
	r->tail = r->head;
	return bytes;
}

void
qb_recovery_discard_space(struct qb_recovery *rec, enum qb_pn_space space, uint64_t now)
{
	struct qb_recovery_space *sp;
	uint64_t bytes;

	if ((unsigned)space >= QB_PN_SPACE_COUNT || rec->space[space].discarded)
		return;
	sp = &rec->space[space];
	/* Appendix A.11 OnPacketNumberSpaceDiscarded. */
	bytes = drain_space(rec, space, rec->cb.on_discarded);
	if (rec->cc != NULL && bytes > 0)
		qb_cc_on_discarded(rec->cc, bytes);
	sp->time_of_last_ack_eliciting = 0;
	sp->loss_time = QB_TIME_NONE;
	sp->eliciting_in_flight = 0;
	for (int i = 0; i < QB_RECOVERY_MAX_PATHS; i++)
		sp->path[i].eliciting_in_flight = 0;
	sp->discarded = true;
	rec->probes[space] = 0;
	rec->pto_count = 0;
	set_loss_detection_timer(rec, now);
}

void
qb_recovery_requeue_space(struct qb_recovery *rec, enum qb_pn_space space, uint64_t now)
{
	struct qb_recovery_space *sp;
	uint64_t bytes;

	if ((unsigned)space >= QB_PN_SPACE_COUNT || rec->space[space].discarded)
		return;
	sp = &rec->space[space];
	bytes = drain_space(rec, space, rec->cb.on_lost);
	if (rec->cc != NULL && bytes > 0)
		qb_cc_on_discarded(rec->cc, bytes);
	sp->time_of_last_ack_eliciting = 0;
	sp->loss_time = QB_TIME_NONE;
	sp->eliciting_in_flight = 0;
	for (int i = 0; i < QB_RECOVERY_MAX_PATHS; i++)
		sp->path[i].eliciting_in_flight = 0;
	set_loss_detection_timer(rec, now);
}

void
qb_recovery_on_retry(struct qb_recovery *rec, uint64_t now)
{
	uint64_t next_pn = rec->space[QB_PN_INITIAL].sent.next_pn;

	qb_recovery_requeue_space(rec, QB_PN_INITIAL, now);
	space_reset(&rec->space[QB_PN_INITIAL]);
	/* RFC 9000 §17.2.5.3: packet numbers keep increasing after Retry. */
	rec->space[QB_PN_INITIAL].sent.next_pn = next_pn;
	if (rec->rtt != NULL)
		qb_rtt_init(rec->rtt, rec->rtt->initial);
	rec->pto_count = 0;
	rec->probes[QB_PN_INITIAL] = 0;
	set_loss_detection_timer(rec, now);
}

void
qb_recovery_set_handshake_confirmed(struct qb_recovery *rec, uint64_t now)
{
	rec->handshake_confirmed = true;
	set_loss_detection_timer(rec, now);
}

void
qb_recovery_set_handshake_keys(struct qb_recovery *rec, uint64_t now)
{
	(void)now; /* the next anti-deadlock PTO goes to Handshake; its time stands */
	rec->has_handshake_keys = true;
}

void
qb_recovery_set_amplification_limited(struct qb_recovery *rec, bool limited, uint64_t now)
{
	if (rec->amplification_limited == limited)
		return;
	rec->amplification_limited = limited;
	set_loss_detection_timer(rec, now);
}

uint64_t
qb_recovery_timer(struct qb_recovery *rec)
{
	if (rec->timer_dirty) {
		rec->timer_dirty = false;
		compute_loss_detection_timer(rec, rec->timer_now);
	}
	return rec->timer;
}

uint64_t
qb_recovery_pto(const struct qb_recovery *rec, enum qb_pn_space space)
{
	uint64_t pto = qb_rtt_pto_base(rec->rtt);

	/* §6.2.1: max_ack_delay is 0 for Initial and Handshake. */
	return space == QB_PN_APP ? sat_add(pto, rec->max_ack_delay) : pto;
}

uint64_t
qb_recovery_pc_duration(const struct qb_recovery *rec)
{
	return pc_duration_of(rec, rec->rtt);
}

size_t
qb_recovery_pn_len(const struct qb_recovery *rec, enum qb_pn_space space, uint8_t path, uint64_t pn)
{
	const struct qb_recovery_space *sp = &rec->space[space];
	size_t n;

	if (single_path(sp) || path >= QB_RECOVERY_MAX_PATHS)
		return qb_pn_len(pn, sp->largest_acked);
	n = qb_pn_len(pn, sp->path[path].largest_acked);
	return n < 2 ? 2 : n;
}

uint32_t
qb_recovery_outstanding(const struct qb_recovery *rec, enum qb_pn_space space)
{
	const struct qb_sent_ring *r = &rec->space[space].sent;

	return (uint32_t)(r->head - r->tail);
}
