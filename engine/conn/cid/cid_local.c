/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The connection IDs we issue (RFC 9000 §5.1), their stateless reset tokens
 * (§10.3.2) and the generators that make their bytes.
 */
#include "qburst/cid.h"

#include <string.h>

#include <openssl/digest.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

/* Generator collisions retried before giving up. */
#define QB_CID_GEN_TRIES 4

bool
qb_cid_eq(const struct qb_cid *a, const uint8_t *cid, size_t len)
{
	return a->len == len && (len == 0 || memcmp(a->id, cid, len) == 0);
}

int
qb_cid_reset_token(const uint8_t key[QB_CID_RESET_KEY_LEN], const uint8_t *cid, size_t len,
                   uint8_t token[QB_STATELESS_RESET_TOKEN_LEN])
{
	/*
	 * RFC 9000 §10.3.2: a keyed hash of the CID with a static key, so the
	 * token can be recomputed without state; HMAC-SHA256 truncated to the
	 * token's 16 bytes, as the RFC suggests.
	 */
	uint8_t mac[32];
	unsigned int mac_len = 0;
	static const uint8_t empty[1];
	if (HMAC(EVP_sha256(), key, QB_CID_RESET_KEY_LEN, len != 0 ? cid : empty, len, mac,
	         &mac_len) == NULL ||
	    mac_len < QB_STATELESS_RESET_TOKEN_LEN)
		return QB_ERR_CRYPTO;
	memcpy(token, mac, QB_STATELESS_RESET_TOKEN_LEN);
	return QB_OK;
}

int
qb_cid_gen_random(void *arg, uint64_t seq, uint8_t *cid, size_t len)
{
	(void)arg;
	(void)seq;
	return RAND_bytes(cid, len) == 1 ? QB_OK : QB_ERR_CRYPTO;
}

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

int
qb_cid_gen_lb(void *arg, uint64_t seq, uint8_t *cid, size_t len)
{
	struct qb_cid_lb *lb = arg;
	(void)seq;
	size_t fixed = 1 + (size_t)lb->server_id_len + 1;
	if (lb->config_rotation > 6 || lb->server_id_len > sizeof(lb->server_id) ||
	    len > QB_MAX_CID_LEN || len < fixed + 4)
		return QB_ERR_ARG;
	/*
	 * First octet: config rotation in the top 3 bits, the CID length minus
	 * one in the low 5 (QUIC-LB's length self-encoding), then the server
	 * id and our worker so any RX queue can steer the datagram (BRIEF §3).
	 */
	cid[0] = (uint8_t)(lb->config_rotation << 5 | ((len - 1) & 0x1f));
	memcpy(cid + 1, lb->server_id, lb->server_id_len);
	cid[1 + lb->server_id_len] = lb->worker_id;
	uint8_t *nonce = cid + fixed;
	size_t n = len - fixed;
	if (lb->rng_state == 0)
		return RAND_bytes(nonce, n) == 1 ? QB_OK : QB_ERR_CRYPTO;
	for (size_t i = 0; i < n; i += 8) {
		uint64_t r = splitmix64(&lb->rng_state);
		size_t k = n - i < 8 ? n - i : 8;
		memcpy(nonce + i, &r, k);
	}
	return QB_OK;
}

int
qb_cid_lb_worker(const struct qb_cid_lb *lb, const uint8_t *cid, size_t len)
{
	size_t at = 1 + (size_t)lb->server_id_len;
	if (len < at + 1 || (cid[0] >> 5) != lb->config_rotation ||
	    memcmp(cid + 1, lb->server_id, lb->server_id_len) != 0)
		return -1;
	return cid[at];
}

/* ---- the set ---- */

static struct qb_cid_local_entry *
find_seq(struct qb_cid_local *l, uint64_t seq)
{
	for (size_t i = 0; i < QB_CID_LOCAL_MAX; i++)
		if (l->e[i].live && l->e[i].seq == seq)
			return &l->e[i];
	return NULL;
}

const struct qb_cid_local_entry *
qb_cid_local_get(const struct qb_cid_local *l, uint64_t seq)
{
	return find_seq((struct qb_cid_local *)l, seq);
}

const struct qb_cid_local_entry *
qb_cid_local_find(const struct qb_cid_local *l, const uint8_t *cid, size_t len)
{
	for (size_t i = 0; i < QB_CID_LOCAL_MAX; i++)
		if (l->e[i].live && qb_cid_eq(&l->e[i].cid, cid, len))
			return &l->e[i];
	return NULL;
}

size_t
qb_cid_local_count(const struct qb_cid_local *l)
{
	size_t n = 0;
	for (size_t i = 0; i < QB_CID_LOCAL_MAX; i++)
		n += l->e[i].live;
	return n;
}

/* Live CIDs the peer counts against its limit: those not below retire_prior_to. */
static size_t
counted(const struct qb_cid_local *l)
{
	size_t n = 0;
	for (size_t i = 0; i < QB_CID_LOCAL_MAX; i++)
		n += l->e[i].live && l->e[i].seq >= l->retire_prior_to;
	return n;
}

/* Issue the next sequence number into a free slot, its frame in state frame. */
static int
issue(struct qb_cid_local *l, enum qb_cid_frame_state frame)
{
	struct qb_cid_local_entry *e = NULL;
	for (size_t i = 0; i < QB_CID_LOCAL_MAX && e == NULL; i++)
		if (!l->e[i].live)
			e = &l->e[i];
	if (e == NULL)
		return QB_ERR_NOMEM;
	uint8_t id[QB_MAX_CID_LEN];
	int rc = QB_ERR_STATE;
	for (int t = 0; t < QB_CID_GEN_TRIES; t++) {
		rc = l->gen(l->gen_arg, l->next_seq, id, l->cid_len);
		if (rc < 0)
			return rc;
		/* A CID must name one connection only (RFC 9000 §5.1.1). */
		if (qb_cid_local_find(l, id, l->cid_len) == NULL)
			break;
		rc = QB_ERR_STATE;
	}
	if (rc < 0)
		return rc;
	rc = qb_cid_reset_token(l->reset_key, id, l->cid_len, e->token);
	if (rc < 0)
		return rc;
	e->cid.len = (uint8_t)l->cid_len;
	memcpy(e->cid.id, id, l->cid_len);
	e->seq = l->next_seq++;
	e->frame = (uint8_t)frame;
	e->live = true;
	if (frame == QB_CID_FRAME_PENDING)
		l->npending++;
	return QB_OK;
}

int
qb_cid_local_init(struct qb_cid_local *l, const struct qb_cid_local_cfg *cfg)
{
	if (cfg->cid_len == 0 || cfg->cid_len > QB_MAX_CID_LEN || cfg->reset_key == NULL)
		return QB_ERR_ARG;
	memset(l, 0, sizeof(*l));
	l->cid_len = cfg->cid_len;
	l->gen = cfg->gen != NULL ? cfg->gen : qb_cid_gen_random;
	l->gen_arg = cfg->gen_arg;
	memcpy(l->reset_key, cfg->reset_key, QB_CID_RESET_KEY_LEN);
	l->peer_limit = 1;
	/*
	 * Sequence number 0 travels in the long header's SCID, not in a frame
	 * (§5.1.1): the peer knows it as if its frame had been acknowledged.
	 */
	return issue(l, QB_CID_FRAME_ACKED);
}

int
qb_cid_local_replenish(struct qb_cid_local *l)
{
	uint64_t want = l->peer_limit;
	if (want > QB_CID_LOCAL_ISSUE_MAX)
		want = QB_CID_LOCAL_ISSUE_MAX;
	int issued = 0;
	/* A table full of CIDs being retired waits for the peer's retirements. */
	while (counted(l) < want && qb_cid_local_count(l) < QB_CID_LOCAL_MAX) {
		int rc = issue(l, QB_CID_FRAME_PENDING);
		if (rc < 0)
			return rc;
		issued++;
	}
	return issued;
}

int
qb_cid_local_set_peer_limit(struct qb_cid_local *l, uint64_t limit)
{
	/* RFC 9000 §18.2: values below 2 are invalid; the decoder rejects them. */
	l->peer_limit = limit < 2 ? 2 : limit;
	return qb_cid_local_replenish(l);
}

int
qb_cid_local_retire_prior_to(struct qb_cid_local *l, uint64_t seq)
{
	if (seq > l->next_seq)
		return QB_ERR_ARG;
	if (seq <= l->retire_prior_to)
		return 0;
	l->retire_prior_to = seq;
	/*
	 * Frames still to send carry the new value. A CID below it that the
	 * peer never heard of is forgotten now: no RETIRE_CONNECTION_ID will
	 * ever come for it.
	 */
	for (size_t i = 0; i < QB_CID_LOCAL_MAX; i++) {
		struct qb_cid_local_entry *e = &l->e[i];
		if (e->live && e->seq < seq && e->frame == QB_CID_FRAME_PENDING) {
			memset(e, 0, sizeof(*e));
			l->npending--;
		}
	}
	return qb_cid_local_replenish(l);
}

int
qb_cid_local_next(struct qb_cid_local *l, struct qb_cid_new_frame *out)
{
	struct qb_cid_local_entry *best = NULL;
	for (size_t i = 0; i < QB_CID_LOCAL_MAX; i++) {
		struct qb_cid_local_entry *e = &l->e[i];
		if (e->live && e->frame == QB_CID_FRAME_PENDING &&
		    (best == NULL || e->seq < best->seq))
			best = e;
	}
	if (best == NULL)
		return 0;
	best->frame = QB_CID_FRAME_SENT;
	l->npending--;
	out->seq = best->seq;
	out->retire_prior_to = l->retire_prior_to;
	out->cid = best->cid;
	memcpy(out->token, best->token, QB_STATELESS_RESET_TOKEN_LEN);
	return 1;
}

void
qb_cid_local_acked(struct qb_cid_local *l, uint64_t seq)
{
	struct qb_cid_local_entry *e = find_seq(l, seq);
	if (e != NULL && e->frame == QB_CID_FRAME_SENT)
		e->frame = QB_CID_FRAME_ACKED;
}

void
qb_cid_local_lost(struct qb_cid_local *l, uint64_t seq)
{
	/*
	 * RFC 9000 §13.3: resent until acknowledged, unless the CID has been
	 * retired meanwhile (by the peer, or by our retire_prior_to: then the
	 * peer most likely never saw it and will not retire it, so forget it).
	 */
	struct qb_cid_local_entry *e = find_seq(l, seq);
	if (e == NULL || e->frame != QB_CID_FRAME_SENT)
		return;
	if (seq >= l->retire_prior_to) {
		e->frame = QB_CID_FRAME_PENDING;
		l->npending++;
	} else
		memset(e, 0, sizeof(*e));
}

int
qb_cid_local_on_retire(struct qb_cid_local *l, uint64_t seq, const uint8_t *dcid, size_t dcid_len,
                       uint64_t *te)
{
	/* RFC 9000 §19.16: a sequence number we never issued. */
	if (seq >= l->next_seq) {
		*te = QB_TE_PROTOCOL_VIOLATION;
		return QB_ERR_PROTO;
	}
	struct qb_cid_local_entry *e = find_seq(l, seq);
	if (e == NULL)
		return 0; /* already retired: a repeated frame */
	/* §19.16: it must not retire the CID the packet itself was sent to. */
	if (qb_cid_eq(&e->cid, dcid, dcid_len)) {
		*te = QB_TE_PROTOCOL_VIOLATION;
		return QB_ERR_PROTO;
	}
	if (e->frame == QB_CID_FRAME_PENDING)
		l->npending--;
	memset(e, 0, sizeof(*e));
	/* §5.1.1: keep the peer supplied with its limit's worth. */
	return qb_cid_local_replenish(l);
}
