/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_SIM_H
#define QB_SIM_H

/*
 * A deterministic simulated link for tests: two directions between endpoint
 * A and endpoint B on a fake clock (uint64_t nanoseconds). No real time, no
 * threads: time only moves when the caller (or qb_sim_run()) says so, and all
 * randomness comes from a PRNG seeded by the caller, so one seed gives one
 * trace, byte for byte.
 *
 * Each direction models, in this order, for every datagram sent:
 *   1. MTU: a datagram larger than the MTU is dropped (mtu_drops).
 *   2. Bottleneck queue: the datagram waits for the serialiser; when the bytes
 *      still waiting plus this datagram exceed queue_limit it is tail-dropped
 *      (queue_drops).
 *   3. Buffer pool: the sim copies the datagram into one of a bounded set of
 *      buffers shared by both directions; none free = dropped (pool_drops).
 *   4. Serialisation at `bandwidth` bytes/s (0: infinitely fast), exact over
 *      any number of datagrams (the remainder is carried, no drift).
 *   5. Loss on the wire (after the bottleneck, so a lost datagram still used
 *      its share of bandwidth): random loss with probability `loss` (lost),
 *      and the Gilbert-Elliott burst model (burst_lost): a two-state Markov
 *      chain stepped once per datagram; in the bad state a datagram is lost
 *      with probability ge_loss_bad.
 *   6. Propagation: arrival = end of serialisation + delay; with probability
 *      `reorder` a datagram gets reorder_delay extra (reordered), so later
 *      datagrams can overtake it.
 *   7. Corruption with probability `corrupt`: one random bit of one random
 *      byte is flipped (corrupted).
 *   8. Duplication with probability `dup`: a second, uncorrupted copy arrives
 *      1 ns after the first (dup), if a buffer is free.
 * Datagrams due at the same instant are delivered in the order they were sent.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Directions of travel. */
enum qb_sim_dir {
	QB_SIM_A_TO_B = 0,
	QB_SIM_B_TO_A = 1,
};

/* One direction's impairments. All zero: an ideal link (no delay, no loss). */
struct qb_sim_dir_cfg {
	uint64_t delay_ns;    /* one-way propagation delay */
	uint64_t bandwidth;   /* bytes per second; 0: no serialisation delay */
	uint64_t queue_limit; /* bytes waiting for the serialiser; 0: unbounded */
	double loss;          /* probability of random loss, 0..1 */
	/* Gilbert-Elliott burst loss (all 0: off). */
	double ge_p_good_bad; /* per datagram: good -> bad */
	double ge_p_bad_good; /* per datagram: bad -> good */
	double ge_loss_bad;   /* loss probability in the bad state */
	double reorder;       /* probability of reorder_delay_ns extra delay */
	uint64_t reorder_delay_ns;
	double dup;     /* probability of duplication */
	double corrupt; /* probability of one flipped bit */
	size_t mtu;     /* largest datagram carried, bytes; 0: the pool's buffer size */
};

/* Trace events (for the optional trace hook). */
enum qb_sim_event {
	QB_SIM_EV_SEND,    /* accepted for transmission; t = arrival time */
	QB_SIM_EV_DELIVER, /* handed to the receiver */
	QB_SIM_EV_LOSS,    /* random loss */
	QB_SIM_EV_BURST,   /* Gilbert-Elliott loss */
	QB_SIM_EV_QUEUE,   /* tail drop */
	QB_SIM_EV_MTU,     /* larger than the MTU */
	QB_SIM_EV_POOL,    /* no free buffer */
	QB_SIM_EV_DUP,     /* a duplicate was queued; t = its arrival */
	QB_SIM_EV_CORRUPT, /* a bit was flipped */
	QB_SIM_EV_REORDER, /* extra delay given */
};

/* Whole-link configuration for qb_sim_create(). */
struct qb_sim_cfg {
	struct qb_sim_dir_cfg dir[2]; /* indexed by enum qb_sim_dir */
	uint64_t seed;                /* PRNG seed: same seed, same trace */
	size_t pool_size;             /* datagram buffers, both directions; 0: 4096 */
	size_t buf_size;              /* bytes per buffer; 0: 2048 */
	uint64_t max_steps;           /* qb_sim_run() bound; 0: 10,000,000 */
	/*
	 * Optional: called for every event with the datagram's bytes (after any
	 * corruption for SEND/DELIVER) and the event's time.
	 */
	void (*trace)(void *arg, enum qb_sim_dir dir, enum qb_sim_event ev, uint64_t t,
	              const uint8_t *dgram, size_t len);
	void *trace_arg;
};

/* Per-direction counters. Every call to qb_sim_send() counts in `sent`. */
struct qb_sim_stats {
	uint64_t sent;       /* datagrams offered to the link */
	uint64_t sent_bytes; /* their bytes */
	uint64_t delivered;  /* datagrams returned by qb_sim_recv() (dups included) */
	uint64_t delivered_bytes;
	uint64_t lost;        /* random loss */
	uint64_t burst_lost;  /* Gilbert-Elliott loss */
	uint64_t dup;         /* duplicates made */
	uint64_t corrupted;   /* datagrams with a flipped bit */
	uint64_t reordered;   /* datagrams given extra delay */
	uint64_t queue_drops; /* tail drops at the bottleneck */
	uint64_t mtu_drops;   /* larger than the MTU */
	uint64_t pool_drops;  /* no free buffer (a duplicate not made counts too) */
};

struct qb_sim_link;

/*
 * A link at time 0 with cfg (copied). Allocates its pool here and nowhere
 * else. Returns NULL when cfg is invalid (a probability outside 0..1, mtu
 * above buf_size) or memory is short.
 */
struct qb_sim_link *qb_sim_create(const struct qb_sim_cfg *cfg);
void qb_sim_destroy(struct qb_sim_link *link);

/*
 * Offer one datagram of len bytes in direction dir at time now; the bytes are
 * copied. Returns true if it is in flight (it may still be lost on the wire:
 * loss is decided here but counted and hidden, as on a real link), false if
 * it was dropped at the sender side (MTU, queue, pool). now must not go
 * backwards between calls for one direction.
 */
bool qb_sim_send(struct qb_sim_link *link, enum qb_sim_dir dir, const uint8_t *dgram, size_t len,
                 uint64_t now);

/* Arrival time of the earliest datagram in flight (either direction), or UINT64_MAX. */
uint64_t qb_sim_next_delivery(const struct qb_sim_link *link);
/* The same for one direction. */
uint64_t qb_sim_next_delivery_dir(const struct qb_sim_link *link, enum qb_sim_dir dir);

/*
 * The next datagram travelling in dir whose arrival time is <= now, copied to
 * out; returns its length, or 0 when none is due. A datagram longer than cap
 * is truncated to cap bytes (as recvmsg() does with UDP) and cap is returned.
 */
size_t qb_sim_recv(struct qb_sim_link *link, enum qb_sim_dir dir, uint64_t now, uint8_t *out,
                   size_t cap);

/* Counters of direction dir. */
const struct qb_sim_stats *qb_sim_stats(const struct qb_sim_link *link, enum qb_sim_dir dir);

/* Change one direction's impairments from now on (datagrams in flight keep theirs). */
void qb_sim_set_dir(struct qb_sim_link *link, enum qb_sim_dir dir,
                    const struct qb_sim_dir_cfg *dcfg);

/* Datagrams in flight (both directions). */
size_t qb_sim_in_flight(const struct qb_sim_link *link);

/* The link's clock as last advanced by qb_sim_run() (starts at 0). */
uint64_t qb_sim_now(const struct qb_sim_link *link);

/*
 * An endpoint as seen by the driver; arg is passed back to every callback.
 *   send:       fill buf (cap bytes) with one datagram due at now; return its
 *               length, 0 when nothing more is to be sent now, < 0 on error
 *               (treated as 0).
 *   recv:       take one received datagram.
 *   deadline:   the endpoint's next timer, ns; UINT64_MAX: none.
 *   on_timeout: called once the clock reached deadline().
 */
struct qb_sim_endpoint {
	void *arg;
	int (*send)(void *arg, uint8_t *buf, size_t cap, uint64_t now);
	void (*recv)(void *arg, const uint8_t *buf, size_t len, uint64_t now);
	uint64_t (*deadline)(void *arg);
	void (*on_timeout)(void *arg, uint64_t now);
};

/*
 * Drive endpoints a and b over the link from qb_sim_now() until until_ns, or
 * until stop(stop_arg, now) returns true, or the link's max_steps are used.
 * Each step: deliver every datagram due (A->B to b, B->A to a), fire the
 * timers that are due, then poll a and b to send until each returns 0; then
 * move the clock to the earliest of both deadlines and the next delivery.
 * stop may be NULL. Returns the final time (also qb_sim_now()).
 */
uint64_t qb_sim_run(struct qb_sim_link *link, const struct qb_sim_endpoint *a,
                    const struct qb_sim_endpoint *b, uint64_t until_ns,
                    bool (*stop)(void *arg, uint64_t now), void *stop_arg);

/* Steps taken by all qb_sim_run() calls so far. */
uint64_t qb_sim_steps(const struct qb_sim_link *link);

#endif
