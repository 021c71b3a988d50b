/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QBURST_CID_H
#define QBURST_CID_H

/*
 * Connection IDs (RFC 9000 §5.1, §10.3, §19.15, §19.16).
 *
 * Two sets per connection, both fixed arrays inside the structure (no
 * allocation, no time), fields ordered so entries pack to 48 bytes:
 *   struct qb_cid_local - the IDs we issue to the peer. Each has a sequence
 *     number, bytes made by a generator hook (so the burst engine can encode
 *     the owning worker and a server id in them, QUIC-LB style) and a
 *     stateless reset token derived from the bytes with a static key. It
 *     issues up to the peer's active_connection_id_limit, produces the
 *     NEW_CONNECTION_ID frames to send, and handles RETIRE_CONNECTION_ID.
 *   struct qb_cid_peer - the IDs the peer issued to us, keyed by sequence
 *     number, with their reset tokens. It handles NEW_CONNECTION_ID
 *     (duplicates, limits, retire_prior_to), produces the
 *     RETIRE_CONNECTION_ID frames to send, chooses the DCID in use and
 *     recognises a stateless reset.
 *
 * Frame bookkeeping follows RFC 9000 §13.3: a frame to send is "pending"; the
 * caller takes it with *_next(), records it in its sent packet, and reports
 * the packet's fate with *_acked() / *_lost(); a lost frame becomes pending
 * again unless it is no longer needed.
 *
 * Errors: functions return 0 (or a count) on success, a negative enum qb_err
 * on failure. When the peer violated the protocol the return is QB_ERR_PROTO
 * and *te holds the RFC 9000 §20.1 transport error code (enum
 * qb_transport_error) to close the connection with.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qburst/wire_common.h"

/*
 * The sets are fixed arrays inside every connection, so they are sized for
 * what a connection uses rather than for the largest peer: four CIDs each
 * way covers a path per CID for the four paths of the multi-path handshake
 * (qburst/conn.h QB_CONN_MAX_PATHS) plus a rotation, and an idle connection
 * holds ~950 bytes of them (doc/performance.md).
 */
/* Our CIDs alive at once (issued, not yet retired by the peer). */
#define QB_CID_LOCAL_MAX       8
/* At most this many of them count against the peer's limit (the rest are
 * being retired); a peer's larger active_connection_id_limit gets this many. */
#define QB_CID_LOCAL_ISSUE_MAX 4
/* Peer CIDs we keep: the largest active_connection_id_limit we may advertise. */
#define QB_CID_PEER_MAX        4
/*
 * RETIRE_CONNECTION_ID frames tracked (pending, in flight, or recently
 * acknowledged): at least twice our limit, as RFC 9000 §5.1.2 recommends.
 */
#define QB_CID_RETIRE_MAX      (4 * QB_CID_PEER_MAX)
/* Bytes of the static key that reset tokens are derived from. */
#define QB_CID_RESET_KEY_LEN   32

struct qb_cid {
	uint8_t len; /* 0..QB_MAX_CID_LEN */
	uint8_t id[QB_MAX_CID_LEN];
};

/* True if a holds len bytes equal to cid (not constant-time: CIDs are public). */
bool qb_cid_eq(const struct qb_cid *a, const uint8_t *cid, size_t len);

/*
 * The stateless reset token of cid (RFC 9000 §10.3.2): HMAC-SHA256 keyed
 * with key (QB_CID_RESET_KEY_LEN bytes, static for the endpoint, secret)
 * over the CID bytes, truncated to 16 bytes. The same key and CID always give
 * the same token, so an endpoint that lost the connection's state can still
 * send the reset. Returns 0 or QB_ERR_CRYPTO.
 */
int qb_cid_reset_token(const uint8_t key[QB_CID_RESET_KEY_LEN], const uint8_t *cid, size_t len,
                       uint8_t token[QB_STATELESS_RESET_TOKEN_LEN]);

/*
 * Generator hook: write len bytes of the CID with sequence number seq to cid.
 * Returns 0, or a negative qb_err that the issuing call returns. The bytes
 * must be unique among the connection's live CIDs (a collision is retried a
 * few times, then QB_ERR_STATE) and, to stop a third party from linking or
 * forging them, unpredictable in their random part.
 */
typedef int (*qb_cid_gen_fn)(void *arg, uint64_t seq, uint8_t *cid, size_t len);

/* A generator of random CIDs from BoringSSL's RAND_bytes; arg is unused. */
int qb_cid_gen_random(void *arg, uint64_t seq, uint8_t *cid, size_t len);

/*
 * A QUIC-LB style generator (draft-ietf-quic-load-balancers, plaintext
 * mode), arg = struct qb_cid_lb:
 *   byte 0: config rotation (3 bits) << 5 | ((len - 1) & 0x1f)
 *           (the length self-encoding, so a load balancer can find the length)
 *   then server_id_len bytes of server id, then 1 byte of worker id,
 *   then random bytes (at least 4: len >= 1 + server_id_len + 1 + 4).
 * The random bytes come from a splitmix64 stream when rng_state was seeded
 * non-zero (reproducible tests), else from RAND_bytes.
 */
struct qb_cid_lb {
	uint8_t config_rotation; /* 0..6 (7 is reserved by QUIC-LB) */
	uint8_t server_id_len;   /* 0..15 */
	uint8_t server_id[15];
	uint8_t worker_id;
	uint64_t rng_state; /* 0: use RAND_bytes */
};
int qb_cid_gen_lb(void *arg, uint64_t seq, uint8_t *cid, size_t len);
/* The worker id carried by a CID that qb_cid_gen_lb() made with lb's layout, or -1. */
int qb_cid_lb_worker(const struct qb_cid_lb *lb, const uint8_t *cid, size_t len);

/* ---- our CIDs ---- */

/* A NEW_CONNECTION_ID frame to send (RFC 9000 §19.15). */
struct qb_cid_new_frame {
	uint64_t seq;
	uint64_t retire_prior_to;
	struct qb_cid cid;
	uint8_t token[QB_STATELESS_RESET_TOKEN_LEN];
};

enum qb_cid_frame_state {
	QB_CID_FRAME_NONE = 0, /* nothing to send */
	QB_CID_FRAME_PENDING,  /* to send */
	QB_CID_FRAME_SENT,     /* in flight */
	QB_CID_FRAME_ACKED,
};

struct qb_cid_local_entry {
	uint64_t seq;
	struct qb_cid cid;
	uint8_t token[QB_STATELESS_RESET_TOKEN_LEN];
	bool live;
	uint8_t frame; /* enum qb_cid_frame_state of its NEW_CONNECTION_ID */
};

struct qb_cid_local_cfg {
	size_t cid_len;    /* 1..20: every CID we issue has this length */
	qb_cid_gen_fn gen; /* NULL: qb_cid_gen_random */
	void *gen_arg;
	const uint8_t *reset_key; /* QB_CID_RESET_KEY_LEN bytes, copied */
};

struct qb_cid_local {
	size_t cid_len;
	qb_cid_gen_fn gen;
	void *gen_arg;
	uint8_t reset_key[QB_CID_RESET_KEY_LEN];
	uint64_t next_seq;        /* the next sequence number to issue */
	uint64_t retire_prior_to; /* what we ask the peer to retire (sent in every frame) */
	uint64_t peer_limit;      /* the peer's active_connection_id_limit, capped */
	struct qb_cid_local_entry e[QB_CID_LOCAL_MAX];
	/* Live entries whose frame is QB_CID_FRAME_PENDING: an O(1) "anything to send?". */
	uint32_t npending;
};

/*
 * Set up l and issue sequence number 0 (the Source Connection ID of our
 * long-header packets; it needs no frame). The peer's limit starts at 1
 * (nothing more is issued) until qb_cid_local_set_peer_limit().
 * Returns 0, QB_ERR_ARG (cid_len, key) or the generator's error.
 */
int qb_cid_local_init(struct qb_cid_local *l, const struct qb_cid_local_cfg *cfg);

/*
 * The peer's active_connection_id_limit transport parameter is known
 * (RFC 9000 §18.2; at least 2, default 2): issue CIDs up to
 * min(limit, QB_CID_LOCAL_ISSUE_MAX), each with a pending NEW_CONNECTION_ID.
 * Returns the number issued or a generator error. A limit below 2 is a
 * TRANSPORT_PARAMETER_ERROR the transport-parameter decoder reports, not this.
 */
int qb_cid_local_set_peer_limit(struct qb_cid_local *l, uint64_t limit);

/* Issue CIDs up to the peer's limit (after set_peer_limit() and retirements). */
int qb_cid_local_replenish(struct qb_cid_local *l);

/*
 * Ask the peer to retire every CID below seq (e.g. to rotate the QUIC-LB
 * configuration): later NEW_CONNECTION_ID frames carry retire_prior_to = seq,
 * and new CIDs are issued so the peer keeps its limit's worth. The old CIDs
 * stay valid for receiving until the peer's RETIRE_CONNECTION_ID. seq must
 * not exceed next_seq; a smaller value than before is ignored.
 * Returns the number issued or an error (QB_ERR_ARG).
 */
int qb_cid_local_retire_prior_to(struct qb_cid_local *l, uint64_t seq);

/* The live entry for sequence number seq, or NULL. */
const struct qb_cid_local_entry *qb_cid_local_get(const struct qb_cid_local *l, uint64_t seq);
/* The live entry whose bytes are cid, or NULL (a DCID lookup on receive). */
const struct qb_cid_local_entry *qb_cid_local_find(const struct qb_cid_local *l, const uint8_t *cid,
                                                   size_t len);
/* Live CIDs (including those the peer was asked to retire). */
size_t qb_cid_local_count(const struct qb_cid_local *l);

/*
 * The next NEW_CONNECTION_ID frame to send, in sequence order: fills out and
 * marks it in flight, returns 1; 0 when none is pending.
 */
int qb_cid_local_next(struct qb_cid_local *l, struct qb_cid_new_frame *out);
/* The packet carrying NEW_CONNECTION_ID seq was acknowledged / declared lost. */
void qb_cid_local_acked(struct qb_cid_local *l, uint64_t seq);
void qb_cid_local_lost(struct qb_cid_local *l, uint64_t seq);

/*
 * A RETIRE_CONNECTION_ID frame for seq arrived in a packet whose Destination
 * Connection ID was dcid (RFC 9000 §19.16). A seq never issued, or the one of
 * dcid itself, is QB_ERR_PROTO with *te = PROTOCOL_VIOLATION; a seq already
 * retired is ignored. Otherwise the CID is forgotten and a replacement is
 * issued if the peer's limit allows. Returns the number of CIDs issued (0 or
 * more) or an error.
 */
int qb_cid_local_on_retire(struct qb_cid_local *l, uint64_t seq, const uint8_t *dcid,
                           size_t dcid_len, uint64_t *te);

/* ---- the peer's CIDs ---- */

struct qb_cid_peer_entry {
	uint64_t seq;
	struct qb_cid cid;
	uint8_t token[QB_STATELESS_RESET_TOKEN_LEN];
	bool live;
	bool used;      /* has been our DCID: its reset token is checked */
	bool has_token; /* seq 0 from a client has none (RFC 9000 §10.3) */
};

struct qb_cid_retire {
	uint64_t seq : 62;  /* sequence numbers are below 2^62 (RFC 9000 §19.15) */
	uint64_t state : 2; /* enum qb_cid_frame_state; ACKED slots are history */
};

struct qb_cid_peer {
	uint64_t limit;           /* our active_connection_id_limit, 2..QB_CID_PEER_MAX */
	uint64_t retire_prior_to; /* the largest the peer sent */
	int active;               /* index in e[] of the DCID in use; -1: none */
	struct qb_cid_peer_entry e[QB_CID_PEER_MAX];
	struct qb_cid_retire r[QB_CID_RETIRE_MAX];
	/* Entries of r[] in state QB_CID_FRAME_PENDING: an O(1) "anything to send?". */
	uint32_t rpending;
};

/*
 * Set up p with the peer's first CID, sequence number 0 (the Source
 * Connection ID of the peer's first long-header packet; a client calls this
 * once the server's Initial arrives and until then uses its own chosen
 * original DCID). cid may be zero-length. limit is the
 * active_connection_id_limit we advertise: 2..QB_CID_PEER_MAX, else QB_ERR_ARG.
 */
int qb_cid_peer_init(struct qb_cid_peer *p, uint64_t limit, const uint8_t *cid, size_t len);

/*
 * Attach the reset token of sequence number 0: the server's
 * stateless_reset_token transport parameter (RFC 9000 §18.2), client side.
 * QB_ERR_STATE if seq 0 is gone.
 */
int qb_cid_peer_set_token0(struct qb_cid_peer *p,
                           const uint8_t token[QB_STATELESS_RESET_TOKEN_LEN]);

/*
 * A NEW_CONNECTION_ID frame arrived (RFC 9000 §19.15, §5.1.1-5.1.2):
 *  - retire_prior_to > seq: FRAME_ENCODING_ERROR; the peer gives us
 *    zero-length CIDs: PROTOCOL_VIOLATION.
 *  - a seq we hold with the same CID and token: ignored (a retransmission);
 *    with a different CID or token, or a CID we hold under another seq:
 *    PROTOCOL_VIOLATION.
 *  - an increased retire_prior_to retires every CID below it (a
 *    RETIRE_CONNECTION_ID is queued for each, and the DCID in use moves to a
 *    remaining one); a seq below the largest retire_prior_to is not added but
 *    retired at once.
 *  - more live CIDs than our limit afterwards: CONNECTION_ID_LIMIT_ERROR;
 *    more retirements outstanding than we track: CONNECTION_ID_LIMIT_ERROR
 *    (RFC 9000 §5.1.2 allows it).
 * token is QB_STATELESS_RESET_TOKEN_LEN bytes.
 */
int qb_cid_peer_on_new(struct qb_cid_peer *p, uint64_t seq, uint64_t retire_prior_to,
                       const uint8_t *cid, size_t len, const uint8_t *token, uint64_t *te);

/* The DCID to put in packets, or NULL when there is none (send blocked: no CID). */
const struct qb_cid *qb_cid_peer_active(const struct qb_cid_peer *p);
/* Its sequence number; UINT64_MAX when none. */
uint64_t qb_cid_peer_active_seq(const struct qb_cid_peer *p);
/* Live peer CIDs. */
size_t qb_cid_peer_count(const struct qb_cid_peer *p);
/* Live peer CIDs never used as DCID (available for a new path or a rotation). */
size_t qb_cid_peer_unused(const struct qb_cid_peer *p);

/*
 * Move to an unused peer CID (a new path, or to stop linkability, RFC 9000
 * §9.5) and retire the one in use. Returns 0, QB_ERR_STATE when no unused CID
 * exists, QB_ERR_NOMEM when no retirement can be tracked.
 */
int qb_cid_peer_rotate(struct qb_cid_peer *p);

/*
 * The next RETIRE_CONNECTION_ID frame to send: *seq set and marked in
 * flight, returns 1; 0 when none is pending.
 */
/*
 * Retire the live, non-active entry with sequence number seq (a path that
 * gave it up): owe RETIRE_CONNECTION_ID and forget the CID. QB_OK also when
 * no such entry is live (retired already); QB_ERR_NOMEM when no retirement
 * slot is free (try again later).
 */
int qb_cid_peer_retire(struct qb_cid_peer *p, uint64_t seq);
int qb_cid_peer_next_retire(struct qb_cid_peer *p, uint64_t *seq);
void qb_cid_peer_retire_acked(struct qb_cid_peer *p, uint64_t seq);
void qb_cid_peer_retire_lost(struct qb_cid_peer *p, uint64_t seq);
/* RETIRE_CONNECTION_ID frames pending or in flight. */
size_t qb_cid_peer_retiring(const struct qb_cid_peer *p);

/*
 * A datagram (or the packet ending it) that could not be unprotected: is it a
 * stateless reset from the peer (RFC 9000 §10.3.1)? True when it is at least
 * 21 bytes and its last 16 bytes equal the token of a peer CID that we have
 * used and not retired; every such token is compared in constant time.
 */
bool qb_cid_peer_is_stateless_reset(const struct qb_cid_peer *p, const uint8_t *dgram, size_t len);

#endif
