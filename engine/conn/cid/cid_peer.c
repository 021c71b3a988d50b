/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The connection IDs the peer issued to us (RFC 9000 §5.1.1-5.1.2, §19.15),
 * the RETIRE_CONNECTION_ID frames we owe (§19.16) and stateless reset
 * detection (§10.3.1).
 */
#include "qburst/cid.h"

#include <string.h>

#include <openssl/mem.h>

/* The smallest datagram that can be a stateless reset: 5 bytes + the token (§10.3). */
#define QB_STATELESS_RESET_MIN 21

static void
fail(uint64_t *te, uint64_t code)
{
	*te = code;
}

int
qb_cid_peer_init(struct qb_cid_peer *p, uint64_t limit, const uint8_t *cid, size_t len)
{
	if (limit < 2 || limit > QB_CID_PEER_MAX || len > QB_MAX_CID_LEN)
		return QB_ERR_ARG;
	memset(p, 0, sizeof(*p));
	p->limit = limit;
	p->e[0].live = true;
	p->e[0].used = true;
	p->e[0].seq = 0;
	p->e[0].cid.len = (uint8_t)len;
	if (len != 0)
		memcpy(p->e[0].cid.id, cid, len);
	p->active = 0;
	return QB_OK;
}

int
qb_cid_peer_set_token0(struct qb_cid_peer *p, const uint8_t token[QB_STATELESS_RESET_TOKEN_LEN])
{
	for (size_t i = 0; i < QB_CID_PEER_MAX; i++) {
		struct qb_cid_peer_entry *e = &p->e[i];
		if (e->live && e->seq == 0) {
			memcpy(e->token, token, QB_STATELESS_RESET_TOKEN_LEN);
			e->has_token = true;
			return QB_OK;
		}
	}
	return QB_ERR_STATE;
}

/* The tracked retirement of seq (pending, in flight or acknowledged), or NULL. */
static struct qb_cid_retire *
retire_find(struct qb_cid_peer *p, uint64_t seq)
{
	for (size_t i = 0; i < QB_CID_RETIRE_MAX; i++)
		if (p->r[i].state != QB_CID_FRAME_NONE && p->r[i].seq == seq)
			return &p->r[i];
	return NULL;
}

/*
 * Owe the peer a RETIRE_CONNECTION_ID for seq, once. Acknowledged ones are
 * history kept only to recognise repeats: the oldest is reused when full.
 */
static int
retire_queue(struct qb_cid_peer *p, uint64_t seq)
{
	if (retire_find(p, seq) != NULL)
		return QB_OK;
	struct qb_cid_retire *slot = NULL;
	for (size_t i = 0; i < QB_CID_RETIRE_MAX; i++) {
		struct qb_cid_retire *r = &p->r[i];
		if (r->state == QB_CID_FRAME_NONE) {
			slot = r;
			break;
		}
		if (r->state == QB_CID_FRAME_ACKED && (slot == NULL || r->seq < slot->seq))
			slot = r;
	}
	if (slot == NULL)
		return QB_ERR_NOMEM;
	slot->seq = seq;
	slot->state = QB_CID_FRAME_PENDING; /* was NONE or ACKED */
	p->rpending++;
	return QB_OK;
}

/* Retire live entry e: owe the frame, forget the CID (and its token, §10.3.1). */
static int
retire_entry(struct qb_cid_peer *p, struct qb_cid_peer_entry *e)
{
	int rc = retire_queue(p, e->seq);
	if (rc < 0)
		return rc;
	if (p->active == (int)(e - p->e))
		p->active = -1;
	memset(e, 0, sizeof(*e));
	return QB_OK;
}

int
qb_cid_peer_retire(struct qb_cid_peer *p, uint64_t seq)
{
	for (size_t i = 0; i < QB_CID_PEER_MAX; i++)
		if (p->e[i].live && p->e[i].seq == seq && p->active != (int)i)
			return retire_entry(p, &p->e[i]);
	return QB_OK;
}

/* The live entry never used with the lowest sequence number, or NULL. */
static struct qb_cid_peer_entry *
lowest_unused(struct qb_cid_peer *p)
{
	struct qb_cid_peer_entry *best = NULL;
	for (size_t i = 0; i < QB_CID_PEER_MAX; i++) {
		struct qb_cid_peer_entry *e = &p->e[i];
		if (e->live && !e->used && (best == NULL || e->seq < best->seq))
			best = e;
	}
	return best;
}

static void
use(struct qb_cid_peer *p, struct qb_cid_peer_entry *e)
{
	e->used = true;
	p->active = (int)(e - p->e);
}

int
qb_cid_peer_on_new(struct qb_cid_peer *p, uint64_t seq, uint64_t retire_prior_to,
                   const uint8_t *cid, size_t len, const uint8_t *token, uint64_t *te)
{
	/* §19.15: the frame's own consistency (the decoder checks it too). */
	if (retire_prior_to > seq || len == 0 || len > QB_MAX_CID_LEN) {
		fail(te, QB_TE_FRAME_ENCODING_ERROR);
		return QB_ERR_PROTO;
	}
	/*
	 * §19.15: a peer that gave us a zero-length CID cannot issue more. Seq
	 * 0 lives until retired, and a zero-length seq 0 can only be retired
	 * by a NEW_CONNECTION_ID we reject here, so checking it suffices.
	 */
	for (size_t i = 0; i < QB_CID_PEER_MAX; i++) {
		if (p->e[i].live && p->e[i].cid.len == 0) {
			fail(te, QB_TE_PROTOCOL_VIOLATION);
			return QB_ERR_PROTO;
		}
	}

	bool known = false;
	for (size_t i = 0; i < QB_CID_PEER_MAX; i++) {
		struct qb_cid_peer_entry *e = &p->e[i];
		if (!e->live)
			continue;
		bool same_cid = qb_cid_eq(&e->cid, cid, len);
		if (e->seq == seq) {
			/*
			 * A retransmission repeats CID and token; anything else
			 * reuses a sequence number (§19.15). Seq 0's token may
			 * be unknown (a client's, or not yet received).
			 */
			bool same_token =
			        !e->has_token ||
			        memcmp(e->token, token, QB_STATELESS_RESET_TOKEN_LEN) == 0;
			if (!same_cid || !same_token) {
				fail(te, QB_TE_PROTOCOL_VIOLATION);
				return QB_ERR_PROTO;
			}
			known = true;
		} else if (same_cid) {
			/* The same CID under two sequence numbers (§19.15). */
			fail(te, QB_TE_PROTOCOL_VIOLATION);
			return QB_ERR_PROTO;
		}
	}
	/* A CID we already retired: a late or repeated frame; nothing to add. */
	if (!known && retire_find(p, seq) != NULL)
		known = true;

	/*
	 * §5.1.2: an increased Retire Prior To retires every CID below it
	 * before the new one is added.
	 */
	if (retire_prior_to > p->retire_prior_to) {
		p->retire_prior_to = retire_prior_to;
		for (size_t i = 0; i < QB_CID_PEER_MAX; i++) {
			struct qb_cid_peer_entry *e = &p->e[i];
			if (e->live && e->seq < retire_prior_to && retire_entry(p, e) < 0) {
				fail(te, QB_TE_CONNECTION_ID_LIMIT_ERROR);
				return QB_ERR_PROTO;
			}
		}
	}

	if (!known) {
		if (seq < p->retire_prior_to) {
			/* §19.15: below an earlier Retire Prior To: retire it at once. */
			if (retire_queue(p, seq) < 0) {
				fail(te, QB_TE_CONNECTION_ID_LIMIT_ERROR);
				return QB_ERR_PROTO;
			}
		} else {
			struct qb_cid_peer_entry *slot = NULL;
			for (size_t i = 0; i < QB_CID_PEER_MAX && slot == NULL; i++)
				if (!p->e[i].live)
					slot = &p->e[i];
			/* §5.1.1: more than our active_connection_id_limit. */
			if (slot == NULL || qb_cid_peer_count(p) + 1 > p->limit) {
				fail(te, QB_TE_CONNECTION_ID_LIMIT_ERROR);
				return QB_ERR_PROTO;
			}
			slot->live = true;
			slot->used = false;
			slot->has_token = true;
			slot->seq = seq;
			slot->cid.len = (uint8_t)len;
			memcpy(slot->cid.id, cid, len);
			memcpy(slot->token, token, QB_STATELESS_RESET_TOKEN_LEN);
		}
	}

	/* The DCID in use was retired: move to the oldest remaining CID. */
	if (p->active < 0) {
		struct qb_cid_peer_entry *e = lowest_unused(p);
		if (e != NULL)
			use(p, e);
	}
	return QB_OK;
}

const struct qb_cid *
qb_cid_peer_active(const struct qb_cid_peer *p)
{
	return p->active < 0 ? NULL : &p->e[p->active].cid;
}

uint64_t
qb_cid_peer_active_seq(const struct qb_cid_peer *p)
{
	return p->active < 0 ? UINT64_MAX : p->e[p->active].seq;
}

size_t
qb_cid_peer_count(const struct qb_cid_peer *p)
{
	size_t n = 0;
	for (size_t i = 0; i < QB_CID_PEER_MAX; i++)
		n += p->e[i].live;
	return n;
}

size_t
qb_cid_peer_unused(const struct qb_cid_peer *p)
{
	size_t n = 0;
	for (size_t i = 0; i < QB_CID_PEER_MAX; i++)
		n += p->e[i].live && !p->e[i].used;
	return n;
}

int
qb_cid_peer_rotate(struct qb_cid_peer *p)
{
	struct qb_cid_peer_entry *next = lowest_unused(p);
	if (next == NULL)
		return QB_ERR_STATE;
	if (p->active >= 0) {
		int rc = retire_entry(p, &p->e[p->active]);
		if (rc < 0)
			return rc;
	}
	use(p, next);
	return QB_OK;
}

int
qb_cid_peer_next_retire(struct qb_cid_peer *p, uint64_t *seq)
{
	struct qb_cid_retire *best = NULL;
	for (size_t i = 0; i < QB_CID_RETIRE_MAX; i++) {
		struct qb_cid_retire *r = &p->r[i];
		if (r->state == QB_CID_FRAME_PENDING && (best == NULL || r->seq < best->seq))
			best = r;
	}
	if (best == NULL)
		return 0;
	best->state = QB_CID_FRAME_SENT;
	p->rpending--;
	*seq = best->seq;
	return 1;
}

void
qb_cid_peer_retire_acked(struct qb_cid_peer *p, uint64_t seq)
{
	struct qb_cid_retire *r = retire_find(p, seq);
	if (r != NULL && r->state == QB_CID_FRAME_SENT)
		r->state = QB_CID_FRAME_ACKED;
}

void
qb_cid_peer_retire_lost(struct qb_cid_peer *p, uint64_t seq)
{
	/* §13.3: resent until acknowledged. */
	struct qb_cid_retire *r = retire_find(p, seq);
	if (r != NULL && r->state == QB_CID_FRAME_SENT) {
		r->state = QB_CID_FRAME_PENDING;
		p->rpending++;
	}
}

size_t
qb_cid_peer_retiring(const struct qb_cid_peer *p)
{
	size_t n = 0;
	for (size_t i = 0; i < QB_CID_RETIRE_MAX; i++)
		n += p->r[i].state == QB_CID_FRAME_PENDING || p->r[i].state == QB_CID_FRAME_SENT;
	return n;
}

bool
qb_cid_peer_is_stateless_reset(const struct qb_cid_peer *p, const uint8_t *dgram, size_t len)
{
	if (len < QB_STATELESS_RESET_MIN)
		return false;
	const uint8_t *tail = dgram + len - QB_STATELESS_RESET_TOKEN_LEN;
	/*
	 * §10.3.1: only CIDs we used and have not retired; compare in constant
	 * time and look at every candidate, so timing says nothing of which
	 * token matched or how much of it.
	 */
	int match = 0;
	for (size_t i = 0; i < QB_CID_PEER_MAX; i++) {
		const struct qb_cid_peer_entry *e = &p->e[i];
		if (e->live && e->used && e->has_token)
			match |= CRYPTO_memcmp(e->token, tail, QB_STATELESS_RESET_TOKEN_LEN) == 0;
	}
	return match != 0;
}
