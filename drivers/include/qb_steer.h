/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_STEER_H
#define QB_STEER_H

/*
 * The receive side of a worker, without EAL (the ring handover and the
 * per-worker dispatch on mbufs are in qb_dispatch.h):
 *   - struct qb_ctable: connection ID -> opaque connection handle, fixed
 *     capacity, open addressing, seeded hash (one table for our CIDs, one for
 *     the client-chosen DCIDs of handshakes in progress);
 *   - struct qb_twheel: a timer wheel over one deadline per connection;
 *   - qb_steer_owner(): which worker owns a datagram (BRIEF §3);
 *   - struct qb_listener: the server front-end for datagrams that match no
 *     connection: Version Negotiation, stateless resets (rate limited),
 *     acceptance of Initials, drops counted by reason.
 *
 * Threading: every object here belongs to one worker lcore and is used by it
 * alone; struct qb_steer is read-only once workers run. Nothing here locks,
 * logs or allocates after its create call; the create calls allocate with
 * calloc (control lcore, start-up). Times are uint64_t nanoseconds (or any
 * monotonic unit, consistently) passed in by the caller.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <qburst/cid.h>
#include <qburst/error.h>
#include <qburst/wire_common.h>

/* ------------------------------------------------------------ drop reasons */

/*
 * Why the steering or listener layer dropped a datagram (counted per worker,
 * beside the packet layer's enum qb_drop). qb_steer_drop_name() gives a
 * stable name for statistics and JSON.
 */
enum qb_steer_drop {
	QB_SDROP_NONE = 0,
	QB_SDROP_RING_FULL,         /* the owner's handover ring was full */
	QB_SDROP_EMPTY,             /* zero-length UDP payload */
	QB_SDROP_MALFORMED,         /* header does not parse (RFC 8999 invariants) */
	QB_SDROP_INITIAL_TOO_SMALL, /* Initial in a datagram < 1200 bytes (RFC 9000 §14.1) */
	QB_SDROP_VN_TOO_SMALL,      /* unknown version in < 1200 bytes (RFC 9000 §5.2.2) */
	QB_SDROP_VN_RECEIVED,       /* a Version Negotiation packet at a server (§6.1) */
	QB_SDROP_UNKNOWN_CID,       /* long header, not Initial, for no connection */
	QB_SDROP_RESET_RATE,        /* stateless reset refused by the token bucket */
	QB_SDROP_RESET_TOO_SMALL,   /* trigger too small for a smaller reset (§10.3.3) */
	QB_SDROP_RESET_DISABLED,    /* no reset key / rate 0 */
	QB_SDROP_TABLE_FULL,        /* connection table exhausted */
	QB_SDROP_NOT_LISTENING,     /* no connection, and not accepting (client side) */
	QB_SDROP_FWD_NOT_OURS,      /* forwarded datagram neither to us nor via us */
	QB_SDROP_FWD_BAD,           /* forwarded datagram with a bad header */
	QB_SDROP_STUN,              /* STUN on a relay listener (not answered) */
	QB_SDROP_NO_NEIGH,          /* relay: next hop MAC unknown */
	QB_SDROP_NO_HEADROOM,       /* relay/reply: headers do not fit */
	QB_SDROP_REPLY_RELAYED,     /* a VN/reset cannot go back the way its trigger came
	                             * (a forward header of another family than its
	                             * datagram): not sent */
	QB_SDROP__COUNT
};

/* "ring_full", ...; "unknown" when out of range. */
const char *qb_steer_drop_name(unsigned int r);

/* ------------------------------------------------------------ hashing */

/*
 * A keyed 64-bit hash of len bytes (a multiply-xorshift mix over 8-byte
 * words, not cryptographic). The seed is drawn at start-up so a peer cannot
 * aim many CIDs at one bucket without seeing the hash outputs.
 */
uint64_t qb_steer_hash(uint64_t seed, const uint8_t *p, size_t len);

/* ------------------------------------------------------- connection table */

/*
 * Connection ID (1..QB_MAX_CID_LEN bytes) -> opaque handle. Linear probing
 * with backward-shift deletion (no tombstones, so lookups stay short after
 * churn); the slot array is a power of two at least twice max_entries, so
 * the load factor never exceeds 1/2. Several CIDs may map to one handle.
 * Keys may have different lengths (the initial table holds client-chosen
 * DCIDs of 0..20 bytes); a key is its bytes and its length.
 */
struct qb_ctable_slot {
	void *conn; /* NULL: free */
	uint32_t hash;
	uint8_t len;
	uint8_t cid[QB_MAX_CID_LEN];
};

struct qb_ctable {
	uint32_t max_entries;
	uint32_t mask; /* slots - 1 */
	uint32_t n;    /* entries */
	uint64_t seed;
	uint64_t full; /* inserts refused because max_entries were in use */
	struct qb_ctable_slot *slots;
};

/*
 * Allocate a table for max_entries CIDs (1..2^30). NULL on a bad argument or
 * when memory is short. Free with qb_ctable_free.
 */
struct qb_ctable *qb_ctable_create(uint32_t max_entries, uint64_t seed);
void qb_ctable_free(struct qb_ctable *t);

/*
 * Map cid -> conn (conn non-NULL). 0; QB_ERR_STATE when cid is already
 * mapped (to any handle); QB_ERR_NOMEM when max_entries are in use (counted
 * in t->full); QB_ERR_ARG for len 0 or > QB_MAX_CID_LEN or conn NULL.
 */
int qb_ctable_insert(struct qb_ctable *t, const uint8_t *cid, size_t len, void *conn);

/* The handle cid maps to, or NULL. */
void *qb_ctable_lookup(const struct qb_ctable *t, const uint8_t *cid, size_t len);

/* Unmap cid. 0, or QB_ERR_STATE when it was not mapped. */
int qb_ctable_remove(struct qb_ctable *t, const uint8_t *cid, size_t len);

/* Unmap every CID of conn (a connection going away): O(slots). Returns the count. */
unsigned int qb_ctable_remove_conn(struct qb_ctable *t, const void *conn);

/* ------------------------------------------------------------ timer wheel */

/*
 * One deadline per timer id (0..max_timers-1; the worker's connection slot),
 * with an opaque argument. A single wheel of n_slots slots of tick units
 * each, plus an overflow list for deadlines beyond the wheel's horizon
 * (n_slots * tick): each time the cursor completes a revolution, the
 * overflow entries now within the horizon move into their slots (their cost
 * is amortised over the n_slots ticks of a revolution). Expiry walks the
 * slots of the ticks that have passed (O(expired + slots passed)); in the
 * slot of the current tick only entries with deadline <= now fire. When the
 * wheel is empty the cursor jumps. Deadlines in the past fire at the next
 * expiry (also when the cursor skips whole revolutions). Timers of one tick fire in no particular
 * order; timers of different ticks fire in tick order. Doubly linked lists of 32-bit indices in a
 * fixed node array: schedule, reschedule and cancel are O(1).
 */
#define QB_TWHEEL_NONE UINT32_MAX

struct qb_twheel_node {
	uint64_t deadline;
	void *arg;
	uint32_t next, prev;
	uint32_t list; /* slot index, n_slots for overflow, QB_TWHEEL_NONE: idle */
};

struct qb_twheel {
	uint64_t tick;       /* units per slot */
	uint64_t cur;        /* tick number of the next slot to expire */
	uint32_t n_slots;    /* power of two */
	uint32_t max;        /* timers */
	uint32_t n_active;   /* scheduled timers */
	uint32_t n_overflow; /* of which in the overflow list */
	uint32_t *heads;     /* n_slots + 1 list heads (the last: overflow) */
	struct qb_twheel_node *nodes;
};

/* A fired timer. */
struct qb_twheel_fired {
	uint32_t id;
	void *arg;
	uint64_t deadline;
};

/*
 * Allocate a wheel: max_timers ids, n_slots (rounded up to a power of two,
 * >= 2) slots of tick units (> 0), cursor at now. NULL on bad arguments.
 */
struct qb_twheel *qb_twheel_create(uint32_t max_timers, uint32_t n_slots, uint64_t tick,
                                   uint64_t now);
void qb_twheel_free(struct qb_twheel *w);

/*
 * Set id's deadline (scheduling it, or moving it if scheduled) with arg.
 * 0, or QB_ERR_ARG for id out of range.
 */
int qb_twheel_schedule(struct qb_twheel *w, uint32_t id, uint64_t deadline, void *arg);

/* Unschedule id (nothing if idle). */
void qb_twheel_cancel(struct qb_twheel *w, uint32_t id);

/* True if id is scheduled. */
bool qb_twheel_pending(const struct qb_twheel *w, uint32_t id);

/*
 * Unschedule and report up to max timers whose deadline <= now into out.
 * Returns the count; when it equals max, more may be due: call again. A
 * fired id may be rescheduled at once (including for a time <= now: it
 * fires at the next call).
 */
unsigned int qb_twheel_expire(struct qb_twheel *w, uint64_t now, struct qb_twheel_fired *out,
                              unsigned int max);

/* ------------------------------------------------------------ steering */

/* The process-wide steering configuration; read-only once workers run. */
struct qb_steer {
	uint16_t n_workers;  /* >= 1 */
	uint8_t cid_len;     /* the length of every CID we issue */
	uint64_t seed;       /* the client-DCID hash seed, the same on every worker */
	struct qb_cid_lb lb; /* the QUIC-LB layout of our CIDs (worker_id unused here) */
	bool no_cids;        /* a pure relay: no CID is ours (lb unused) */
};

/* What qb_steer_owner() saw. */
enum qb_steer_kind {
	QB_STEER_OURS = 0, /* a header whose DCID is one of our CIDs: its worker */
	QB_STEER_HASHED,   /* an Initial/0-RTT with a client-chosen DCID: hashed */
	QB_STEER_LOCAL,    /* anything else: the receiving worker's listener handles it */
};

/*
 * True if cid (len bytes) has our CID layout: cid_len long, length
 * self-encoding, config rotation and server id as s->lb, worker id below
 * n_workers; never with s->no_cids. *worker gets the worker id when non-NULL.
 */
bool qb_steer_cid_ours(const struct qb_steer *s, const uint8_t *cid, size_t len, int *worker);

/*
 * The worker that owns the UDP payload d (len bytes) arriving on worker rx:
 *  - a short header: the first cid_len bytes after byte 0 are the DCID; if
 *    it has our layout, its worker (QB_STEER_OURS);
 *  - a long header of QUIC v1/v2 whose DCID has our layout: its worker;
 *  - a v1/v2 Initial or 0-RTT with any other DCID: qb_steer_hash(seed, DCID)
 *    % n_workers, the same on every worker for every datagram of that
 *    handshake (QB_STEER_HASHED);
 *  - else rx itself (QB_STEER_LOCAL: too short, unknown version, VN,
 *    Handshake for an unknown CID: the listener decides).
 * Never reads outside d[0..len).
 */
uint16_t qb_steer_owner(const struct qb_steer *s, const uint8_t *d, size_t len, uint16_t rx,
                        enum qb_steer_kind *kind);

/* ------------------------------------------------------------ listener */

/* The largest stateless reset we send (bytes), when the trigger allows. */
#define QB_RESET_LEN_MAX     43
/* The smallest (RFC 9000 §10.3): so triggers of 21 bytes or less get none. */
#define QB_RESET_LEN_MIN     21
/* Datagram size that may start a connection (RFC 9000 §14.1). */
#define QB_MIN_INITIAL_DGRAM 1200

struct qb_listener_conf {
	uint8_t cid_len;          /* our CID length */
	bool server;              /* accepts connections (else: client side, no VN/accept) */
	uint32_t reset_rate;      /* stateless resets per second; 0: never send */
	uint32_t reset_burst;     /* bucket depth (resets); 0: reset_rate (>= 1) */
	const uint8_t *reset_key; /* QB_CID_RESET_KEY_LEN bytes, copied; NULL: no resets */
	uint64_t rng_seed;        /* unpredictable bytes of resets and VN's first byte */
};

struct qb_listener {
	uint8_t cid_len;
	bool server;
	bool has_key;
	uint8_t reset_key[QB_CID_RESET_KEY_LEN];
	uint64_t interval_ns; /* ns per reset token (1e9 / rate); 0: disabled */
	uint64_t burst_ns;    /* (burst - 1) * interval: how far tat may run ahead */
	uint64_t tat;         /* GCRA theoretical arrival time */
	uint64_t rng;
	uint64_t vn_sent;
	uint64_t resets_sent;
	uint64_t accepted;
	uint64_t drops[QB_SDROP__COUNT];
};

enum qb_listen_action {
	QB_LISTEN_DROP = 0, /* *reason says why (also counted in l->drops) */
	QB_LISTEN_ACCEPT,   /* an Initial of v1/v2 in >= 1200 bytes: create the connection */
	QB_LISTEN_REPLY,    /* reply[0..*reply_len) is a VN or stateless reset to send back */
};

/* 0, or QB_ERR_ARG (cid_len 0 or > 20). */
int qb_listener_init(struct qb_listener *l, const struct qb_listener_conf *c, uint64_t now);

/*
 * Decide what to do with a UDP payload d (len bytes, len being the whole
 * datagram's payload) that matched no connection on its owner worker:
 *  - a long header with an unknown version: in >= 1200 bytes, a Version
 *    Negotiation listing v1 and v2 with the CIDs swapped (RFC 9000 §6.1,
 *    §17.2.1); smaller: dropped (§5.2.2). A VN packet is never answered.
 *  - a v1/v2 Initial: in < 1200 bytes dropped (§14.1), else ACCEPT (server).
 *  - a short header: a stateless reset (RFC 9000 §10.3) one byte shorter
 *    than the trigger and at most QB_RESET_LEN_MAX, token from the reset key
 *    over the DCID (our cid_len bytes), if the trigger is at least
 *    QB_RESET_LEN_MIN + 1 bytes (§10.3.3) and the token bucket allows.
 *  - anything else: dropped by reason.
 * reply needs cap >= 1 + 4 + 2 + 2*255 + 8 bytes for any VN. now in ns.
 */
enum qb_listen_action qb_listener_input(struct qb_listener *l, const uint8_t *d, size_t len,
                                        uint64_t now, uint8_t *reply, size_t cap, size_t *reply_len,
                                        enum qb_steer_drop *reason);

#define QB_LISTEN_REPLY_MAX (7 + 2 * 255 + 8)

#endif
