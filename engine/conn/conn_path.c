/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Paths of a connection and the multi-path handshake (BRIEF §2, a dquic
 * extension, opt-in, qburst to qburst only). A client may open several
 * paths before its first datagram; each sends Initials with the original
 * DCID; the first path on which the peer's Initial is processed becomes the
 * handshake path, and the handshake stays there (RFC 9000 §9 forbids moving
 * before confirmation). After confirmation every other path takes its own
 * peer CID (§9.5), is validated with PATH_CHALLENGE/PATH_RESPONSE (§8.2),
 * and then carries 1-RTT packets too.
 *
 * Until an answer places the handshake, each path's first datagram (and its
 * first after a PTO) carries all the Initial data, so that whichever path
 * works can become the handshake path (conn_tx.c).
 *
 * The anti-amplification credit (§8.1) and validation are per path; packet
 * numbers and the congestion controller stay per connection: one
 * controller over all paths is the simplest correct choice (one window
 * bounds the bytes in flight on all paths together, so no path can be
 * overrun by the sum of several windows), at the cost of not adding the
 * paths' capacities. Validation probes are kept out of it (conn_tx.c).
 *
 * Loss detection is per path (qburst/recovery.h): every sent packet records
 * its path, and once the handshake path is known each other path gets an
 * RTT estimator of its own (the handshake path keeps the connection's, which
 * the pacer, stats and qlog read), so that a slower path's packets are not
 * declared lost when a faster path's later packets are acknowledged. Before
 * that, the client's Initial copies on every path share the connection's
 * estimator.
 */
#include <stdlib.h>
#include <string.h>

#include "conn/conn_internal.h"

_Static_assert(QB_CONN_MAX_PATHS <= QB_RECOVERY_MAX_PATHS, "recovery tracks every path");

/* Path id (not the handshake path) starts an RTT estimate of its own. */
static void
path_rtt_start(struct qb_conn *c, unsigned id)
{
	qb_rtt_init(&c->path[id].rtt, 0); /* a new path: kInitialRtt (RFC 9000 §9.4) */
	qb_recovery_set_path_rtt(&c->rec, (uint8_t)id, &c->path[id].rtt);
}

int
qb_conn_path_add(struct qb_conn *c, uint32_t *path_id)
{
	if (c == NULL || path_id == NULL)
		return QB_ERR_ARG;
	if (c->is_server || !c->cfg.multipath_handshake)
		return QB_ERR_UNSUPPORTED;
	/* Every path's first Initial goes out together, before any answer. */
	if (c->st.dgrams_sent != 0 || c->st.dgrams_recv != 0 || c->hs_path >= 0)
		return QB_ERR_STATE;
	for (uint32_t i = 0; i < QB_CONN_MAX_PATHS; i++) {
		if (!c->path[i].known) {
			c->path[i].known = true;
			*path_id = i;
			return 0;
		}
	}
	return QB_ERR_NOMEM;
}

/*
 * The path a datagram came on; a client knows its paths. For a server a
 * datagram on a new path id (or on a failed path's, whose slot is reused)
 * gives a fresh slot that is not known yet: anyone can send a datagram
 * with our CID from any address, so the path is kept only once a packet of
 * it was unprotected (conn_path_rx_done(); RFC 9000 §9.3: a new address is
 * considered on a non-probing packet, and junk is no packet at all).
 */
struct conn_path *
conn_path_rx(struct qb_conn *c, uint32_t id)
{
	if (id >= QB_CONN_MAX_PATHS || (id != 0 && !c->cfg.multipath_handshake))
		return NULL;
	struct conn_path *p = &c->path[id];
	if (!p->known && !c->is_server)
		return NULL;
	if (!p->known || (c->is_server && p->failed)) {
		memset(p, 0, sizeof(*p));
		p->challenge_timer = QB_TIME_NONE;
		qb_rtt_init(&p->rtt, 0);
	}
	return p;
}

/*
 * The datagram of len bytes on path id was processed. A fresh server path
 * is kept when a packet of it was unprotected (c->rx_authentic), else
 * forgotten (the slot stays free). Returns false when it was forgotten.
 */
bool
conn_path_rx_done(struct qb_conn *c, unsigned id, size_t len)
{
	struct conn_path *p = &c->path[id];

	if (!p->known) {
		if (!c->rx_authentic) {
			memset(p, 0, sizeof(*p));
			p->challenge_timer = QB_TIME_NONE;
			return false;
		}
		p->known = true;
		if (c->hs_path >= 0 && (int)id != c->hs_path)
			path_rtt_start(c, id);
	}
	p->rx_bytes += len;
	p->dgrams_recv++;
	return true;
}

/*
 * The first Initial of the peer was processed on rx_path: that path is the
 * handshake path. For a client the server's answer there proves the path
 * (the server validates it in turn by our Handshake packet, §8.1).
 */
void
conn_path_set_hs(struct qb_conn *c)
{
	if (c->hs_path >= 0)
		return;
	c->hs_path = (int8_t)c->rx_path;
	if (!c->is_server)
		c->path[c->rx_path].validated = true;
	if (!c->cfg.multipath_handshake)
		return;
	/* 1-RTT packets may come over paths of different delays: keep more
	 * ranges (allocated once, here; without memory, the 64 inline ones). */
	c->rx[CONN_EP_APP].multipath = true;
	c->rx_ranges_mp = calloc(CONN_RX_RANGES_MP, sizeof(*c->rx_ranges_mp));
	if (c->rx_ranges_mp != NULL &&
	    qb_rx_move(&c->rx[CONN_EP_APP], c->rx_ranges_mp, CONN_RX_RANGES_MP) != 0) {
		free(c->rx_ranges_mp);
		c->rx_ranges_mp = NULL;
	}
	for (unsigned i = 0; i < QB_CONN_MAX_PATHS; i++)
		if ((int)i != c->hs_path)
			path_rtt_start(c, i);
}

/* A PATH_CHALLENGE: answered on the path it came on (§8.2.2). */
void
conn_path_on_challenge(struct qb_conn *c, const uint8_t *data)
{
	struct conn_path *p = &c->path[c->rx_path];

	memcpy(p->response, data, QB_PATH_DATA_LEN);
	p->response_pending = true;
}

/*
 * A PATH_RESPONSE validates the path its challenge was sent on, whichever
 * path it arrives on (§8.2.2); one that matches nothing is ignored (§8.2.2
 * MAY). Data of earlier challenges of the same validation still count.
 */
void
conn_path_on_response(struct qb_conn *c, const uint8_t *data)
{
	for (unsigned i = 0; i < QB_CONN_MAX_PATHS; i++) {
		struct conn_path *p = &c->path[i];
		if (!p->known || p->validated || p->failed)
			continue;
		for (unsigned k = 0; k < p->challenges; k++) {
			if (memcmp(p->challenge[k], data, QB_PATH_DATA_LEN) == 0) {
				p->validated = true;
				p->challenge_pending = false;
				p->challenge_timer = QB_TIME_NONE;
				return;
			}
		}
	}
}

/*
 * A 1-RTT packet arrived on rx_path. On a path other than the handshake
 * path, once confirmed, the peer is reaching us from another address: we
 * validate it before sending it more than the 3x limit allows (§8.1, §9.3).
 */
void
conn_path_on_1rtt(struct qb_conn *c)
{
	struct conn_path *p = &c->path[c->rx_path];

	if (!c->hs_confirmed || (int)c->rx_path == c->hs_path || p->validated || p->failed ||
	    p->challenges != 0 || p->challenge_pending)
		return;
	p->challenge_pending = true;
}

/*
 * Client, before the handshake path is known: a PTO. Every path sends its
 * copy of the Initial data again (the lost one may be on any path).
 */
void
conn_path_on_pto(struct qb_conn *c)
{
	if (c->is_server || c->hs_path >= 0)
		return;
	for (unsigned i = 0; i < QB_CONN_MAX_PATHS; i++)
		c->path[i].initial_sent = false;
}

/* The live peer CID with sequence number seq, or NULL (retired since). */
static const struct qb_cid *
peer_cid_by_seq(const struct qb_cid_peer *pc, uint64_t seq)
{
	for (size_t i = 0; i < QB_CID_PEER_MAX; i++)
		if (pc->e[i].live && pc->e[i].seq == seq)
			return &pc->e[i].cid;
	return NULL;
}

/*
 * Claim the unused peer CID with the lowest sequence number for a path other
 * than the handshake path (§9.5: no CID toward two addresses). It is marked
 * used (its reset token then counts, §10.3.1) but is not the DCID of the
 * handshake path. False when none is left.
 */
static bool
peer_cid_claim(struct qb_cid_peer *pc, uint64_t *seq)
{
	struct qb_cid_peer_entry *best = NULL;
	for (size_t i = 0; i < QB_CID_PEER_MAX; i++) {
		struct qb_cid_peer_entry *e = &pc->e[i];
		if (e->live && !e->used && (best == NULL || e->seq < best->seq))
			best = e;
	}
	if (best == NULL)
		return false;
	best->used = true;
	*seq = best->seq;
	return true;
}

/* The DCID of packets sent on path id, or NULL when it has none (yet). */
const uint8_t *
conn_path_dcid(struct qb_conn *c, unsigned id, size_t *len)
{
	if (c->hs_path < 0 || (int)id == c->hs_path)
		return conn_dcid(c, len); /* before the answer: the original DCID */
	struct conn_path *p = &c->path[id];
	const struct qb_cid *cid = NULL;
	if (c->pcid_set && p->has_dcid)
		cid = peer_cid_by_seq(&c->pcid, p->dcid_seq);
	if (cid == NULL && c->pcid_set) {
		/* None yet, or the peer retired it (retire_prior_to): take another. */
		p->has_dcid = peer_cid_claim(&c->pcid, &p->dcid_seq);
		if (p->has_dcid)
			cid = peer_cid_by_seq(&c->pcid, p->dcid_seq);
	}
	*len = cid != NULL ? cid->len : 0;
	return cid != NULL ? cid->id : NULL;
}

/*
 * What path id may send now (the caller has checked the closing states):
 * CONN_TX_FULL everything due, CONN_TX_PROBE only PATH_CHALLENGE and
 * PATH_RESPONSE, CONN_TX_NONE nothing (*why says why).
 */
int
conn_path_mode(struct qb_conn *c, unsigned id, uint32_t *why)
{
	struct conn_path *p = &c->path[id];

	if (c->hs_path < 0) {
		/* Client: every path sends Initials. Server: nothing processed yet. */
		if (!c->is_server)
			return CONN_TX_FULL;
		*why = QB_WHY_PATH_UNVALIDATED;
		return CONN_TX_NONE;
	}
	if ((int)id == c->hs_path)
		return CONN_TX_FULL;
	/* Other paths wait for confirmation (RFC 9000 §9) and the peer's CIDs. */
	if (!c->hs_confirmed || p->failed) {
		*why = QB_WHY_PATH_UNVALIDATED;
		return CONN_TX_NONE;
	}
	/* The client starts the validation of its own paths. */
	if (!c->is_server && !p->validated && p->challenges == 0)
		p->challenge_pending = true;
	/* Nothing to send: no peer CID is claimed for it (§9.5, one per path). */
	if (!p->validated && !p->challenge_pending && !p->response_pending) {
		*why = QB_WHY_PATH_UNVALIDATED;
		return CONN_TX_NONE;
	}
	size_t len;
	if (conn_path_dcid(c, id, &len) == NULL) {
		*why = QB_WHY_NO_CID;
		return CONN_TX_NONE;
	}
	return p->validated ? CONN_TX_FULL : CONN_TX_PROBE;
}

/*
 * Fresh challenge data for path id (§8.2.1), in the slot of the next
 * challenge: it counts (a response matching it validates) only once
 * conn_path_challenge_sent() records the packet as sent.
 */
const uint8_t *
conn_path_challenge_data(struct qb_conn *c, unsigned id)
{
	struct conn_path *p = &c->path[id];
	uint8_t *d = p->challenge[p->challenges < CONN_CHALLENGE_MAX ? p->challenges
	                                                             : CONN_CHALLENGE_MAX - 1];

	conn_cid_new(c, d, QB_PATH_DATA_LEN);
	return d;
}

/* The challenge of conn_path_challenge_data() went out in a sealed packet. */
void
conn_path_challenge_sent(struct qb_conn *c, unsigned id, uint64_t now)
{
	struct conn_path *p = &c->path[id];

	if (p->challenges < CONN_CHALLENGE_MAX)
		p->challenges++;
	p->challenges_sent++;
	p->challenge_pending = false;
	/*
	 * §8.2.1: not more often than an Initial would be sent: one PTO, doubled
	 * per challenge like a PTO backoff; after CONN_CHALLENGE_MAX of them
	 * (at least 3 PTOs, §8.2.4) the validation fails.
	 */
	p->challenge_timer = now + (conn_pto(c) << (p->challenges - 1));
}

/* Server: this path's 3x limit leaves less than min bytes to send (§8.1). */
bool
conn_path_amp_blocked(const struct qb_conn *c, unsigned id, uint64_t min)
{
	const struct conn_path *p = &c->path[id];
	return c->is_server && !p->validated && p->tx_bytes + min > 3 * p->rx_bytes;
}

uint64_t
conn_path_deadline(const struct qb_conn *c)
{
	uint64_t d = QB_TIME_NONE;
	for (unsigned i = 0; i < QB_CONN_MAX_PATHS; i++)
		if (c->path[i].known && c->path[i].challenge_timer < d)
			d = c->path[i].challenge_timer;
	return d;
}

void
conn_path_on_timeout(struct qb_conn *c, uint64_t now)
{
	for (unsigned i = 0; i < QB_CONN_MAX_PATHS; i++) {
		struct conn_path *p = &c->path[i];
		if (!p->known || p->challenge_timer > now)
			continue;
		p->challenge_timer = QB_TIME_NONE;
		if (p->validated)
			continue;
		if (p->challenges >= CONN_CHALLENGE_MAX) {
			p->failed = true; /* §8.2.4: abandoned */
			p->challenge_pending = p->response_pending = false;
			/* Its peer CID goes back to the peer (§5.1.2). */
			if (p->has_dcid && c->pcid_set &&
			    qb_cid_peer_retire(&c->pcid, p->dcid_seq) == QB_OK)
				p->has_dcid = false;
		} else
			p->challenge_pending = true; /* new data, §8.2.1 */
	}
}

int
qb_conn_path_info(const struct qb_conn *c, uint32_t path_id, struct qb_conn_path_info *out)
{
	if (path_id >= QB_CONN_MAX_PATHS)
		return QB_ERR_ARG;
	const struct conn_path *p = &c->path[path_id];
	memset(out, 0, sizeof(*out));
	if (!p->known)
		return 0;
	out->handshake_path = (int)path_id == c->hs_path;
	if (out->handshake_path)
		out->state = QB_PATH_ACTIVE;
	else if (p->failed)
		out->state = QB_PATH_FAILED;
	else if (p->validated)
		out->state = QB_PATH_ACTIVE;
	else if (c->hs_confirmed && c->hs_path >= 0)
		out->state = QB_PATH_PROBING;
	else
		out->state = QB_PATH_WAITING;
	out->dgrams_sent = p->dgrams_sent;
	out->dgrams_recv = p->dgrams_recv;
	out->bytes_sent = p->tx_bytes;
	out->bytes_recv = p->rx_bytes;
	out->challenges_sent = p->challenges_sent;
	return 0;
}
