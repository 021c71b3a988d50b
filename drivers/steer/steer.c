/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Steering decisions (BRIEF §3) and the server's front-end for datagrams
 * that match no connection (RFC 9000 §5.2.2, §6, §10.3, §14.1).
 */

#include <string.h>

#include <qburst/packet.h>

#include "qb_steer.h"

static const char *const sdrop_names[QB_SDROP__COUNT] = {
        [QB_SDROP_NONE] = "none",
        [QB_SDROP_RING_FULL] = "ring_full",
        [QB_SDROP_EMPTY] = "empty",
        [QB_SDROP_MALFORMED] = "malformed",
        [QB_SDROP_INITIAL_TOO_SMALL] = "initial_too_small",
        [QB_SDROP_VN_TOO_SMALL] = "vn_too_small",
        [QB_SDROP_VN_RECEIVED] = "vn_received",
        [QB_SDROP_UNKNOWN_CID] = "unknown_cid",
        [QB_SDROP_RESET_RATE] = "reset_rate_limited",
        [QB_SDROP_RESET_TOO_SMALL] = "reset_too_small",
        [QB_SDROP_RESET_DISABLED] = "reset_disabled",
        [QB_SDROP_TABLE_FULL] = "table_full",
        [QB_SDROP_NOT_LISTENING] = "not_listening",
        [QB_SDROP_FWD_NOT_OURS] = "fwd_not_ours",
        [QB_SDROP_FWD_BAD] = "fwd_bad",
        [QB_SDROP_STUN] = "stun",
        [QB_SDROP_NO_NEIGH] = "relay_no_neigh",
        [QB_SDROP_NO_HEADROOM] = "relay_no_headroom",
        [QB_SDROP_REPLY_RELAYED] = "reply_relayed",
};

const char *
qb_steer_drop_name(unsigned int r)
{
	return r < QB_SDROP__COUNT && sdrop_names[r] ? sdrop_names[r] : "unknown";
}

bool
qb_steer_cid_ours(const struct qb_steer *s, const uint8_t *cid, size_t len, int *worker)
{
	int w;

	/* QUIC-LB's length self-encoding (byte 0's low 5 bits) must agree. */
	if (s->no_cids || len != s->cid_len || len == 0 || (size_t)(cid[0] & 0x1f) != len - 1)
		return false;
	w = qb_cid_lb_worker(&s->lb, cid, len);
	if (w < 0 || w >= s->n_workers)
		return false;
	if (worker != NULL)
		*worker = w;
	return true;
}

uint16_t
qb_steer_owner(const struct qb_steer *s, const uint8_t *d, size_t len, uint16_t rx,
               enum qb_steer_kind *kind)
{
	int w;

	*kind = QB_STEER_LOCAL;
	if (len == 0)
		return rx;
	if (!(d[0] & 0x80)) {
		/* Short header (RFC 9000 §17.3): the DCID follows byte 0. */
		if (len >= 1 + (size_t)s->cid_len && qb_steer_cid_ours(s, d + 1, s->cid_len, &w)) {
			*kind = QB_STEER_OURS;
			return (uint16_t)w;
		}
		return rx;
	}
	/* Long header invariants (RFC 8999 §5.1): version, DCID length, DCID. */
	if (len < 6)
		return rx;
	uint32_t version = (uint32_t)d[1] << 24 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 8 | d[4];
	size_t dcid_len = d[5];
	if (!qb_version_supported(version) || dcid_len > QB_MAX_CID_LEN || len < 6 + dcid_len)
		return rx;
	const uint8_t *dcid = d + 6;
	if (qb_steer_cid_ours(s, dcid, dcid_len, &w)) {
		*kind = QB_STEER_OURS;
		return (uint16_t)w;
	}
	enum qb_pkt_type t = qb_long_type_of(version, (d[0] >> 4) & 3);
	if (t == QB_PKT_INITIAL || t == QB_PKT_0RTT) {
		*kind = QB_STEER_HASHED;
		return (uint16_t)(qb_steer_hash(s->seed, dcid, dcid_len) % s->n_workers);
	}
	return rx;
}

/* ------------------------------------------------------------ listener */

static uint64_t
rng_next(uint64_t *state)
{
	/* splitmix64: the unpredictable bytes of resets need no more (the
	 * token is what must be unforgeable, and it is an HMAC). */
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

int
qb_listener_init(struct qb_listener *l, const struct qb_listener_conf *c, uint64_t now)
{
	uint32_t burst;

	if (c->cid_len == 0 || c->cid_len > QB_MAX_CID_LEN)
		return QB_ERR_ARG;
	memset(l, 0, sizeof(*l));
	l->cid_len = c->cid_len;
	l->server = c->server;
	if (c->reset_key != NULL) {
		memcpy(l->reset_key, c->reset_key, QB_CID_RESET_KEY_LEN);
		l->has_key = true;
	}
	if (c->reset_rate > 0) {
		burst = c->reset_burst ? c->reset_burst : c->reset_rate;
		l->interval_ns = 1000000000ull / c->reset_rate;
		if (l->interval_ns == 0)
			l->interval_ns = 1;
		l->burst_ns = (uint64_t)(burst - 1) * l->interval_ns;
	}
	l->tat = now;
	l->rng = c->rng_seed;
	return 0;
}

/*
 * GCRA token bucket: a reset conforms while the theoretical arrival time
 * runs at most burst_ns ahead of now; each one moves it interval_ns on. So
 * `burst` resets pass at once, then one per interval.
 */
static bool
reset_allowed(struct qb_listener *l, uint64_t now)
{
	uint64_t tat = l->tat > now ? l->tat : now;

	if (tat - now > l->burst_ns)
		return false;
	l->tat = tat + l->interval_ns;
	return true;
}

static enum qb_listen_action
drop(struct qb_listener *l, enum qb_steer_drop r, enum qb_steer_drop *reason)
{
	l->drops[r]++;
	*reason = r;
	return QB_LISTEN_DROP;
}

static enum qb_listen_action
stateless_reset(struct qb_listener *l, const uint8_t *d, size_t len, uint64_t now, uint8_t *reply,
                size_t cap, size_t *reply_len, enum qb_steer_drop *reason)
{
	uint8_t token[QB_STATELESS_RESET_TOKEN_LEN];
	uint8_t rnd[QB_RESET_LEN_MAX];
	size_t n;

	if (!l->has_key || l->interval_ns == 0)
		return drop(l, QB_SDROP_RESET_DISABLED, reason);
	/* RFC 9000 §10.3.3: strictly smaller than the trigger, so loops die out. */
	if (len < QB_RESET_LEN_MIN + 1 || len < 1 + (size_t)l->cid_len)
		return drop(l, QB_SDROP_RESET_TOO_SMALL, reason);
	/*
	 * RFC 9000 §10.3: a trigger of 43 bytes or less gets a reset one byte
	 * shorter; a larger one gets 43 bytes (22 more than a 21-byte CID
	 * could need: it looks like a short-header packet to a peer that
	 * pads to 22 + its CID length), still smaller than the trigger
	 * (§10.3.3) and far from 3x it.
	 */
	n = len - 1 < QB_RESET_LEN_MAX ? len - 1 : QB_RESET_LEN_MAX;
	if (cap < n)
		return drop(l, QB_SDROP_RESET_DISABLED, reason);
	if (!reset_allowed(l, now))
		return drop(l, QB_SDROP_RESET_RATE, reason);
	/* RFC 9000 §10.3.2: the token is a function of the CID alone. */
	if (qb_cid_reset_token(l->reset_key, d + 1, l->cid_len, token) != 0)
		return drop(l, QB_SDROP_RESET_DISABLED, reason);
	for (size_t i = 0; i < n - 16; i += 8) {
		uint64_t r = rng_next(&l->rng);
		memcpy(rnd + i, &r, n - 16 - i < 8 ? n - 16 - i : 8);
	}
	qb_pkt_enc_stateless_reset(reply, n, rnd, token);
	*reply_len = n;
	l->resets_sent++;
	return QB_LISTEN_REPLY;
}

enum qb_listen_action
qb_listener_input(struct qb_listener *l, const uint8_t *d, size_t len, uint64_t now, uint8_t *reply,
                  size_t cap, size_t *reply_len, enum qb_steer_drop *reason)
{
	struct qb_pkt_hdr h;
	int rc;

	*reply_len = 0;
	*reason = QB_SDROP_NONE;
	if (len == 0)
		return drop(l, QB_SDROP_EMPTY, reason);
	if (!(d[0] & 0x80))
		return stateless_reset(l, d, len, now, reply, cap, reply_len, reason);
	rc = qb_pkt_parse(d, len, 0, l->cid_len, QB_PARSE_GREASE_OK, &h);
	if (rc != 0)
		return drop(l, QB_SDROP_MALFORMED, reason);
	switch (h.type) {
	case QB_PKT_VN:
		/* RFC 9000 §6.1: never answer a Version Negotiation packet. */
		return drop(l, QB_SDROP_VN_RECEIVED, reason);
	case QB_PKT_UNKNOWN_VERSION: {
		static const uint32_t ours[] = {QB_VERSION_1, QB_VERSION_2};
		if (!l->server)
			return drop(l, QB_SDROP_NOT_LISTENING, reason);
		/* RFC 9000 §5.2.2: only for datagrams that could open a connection. */
		if (len < QB_MIN_INITIAL_DGRAM)
			return drop(l, QB_SDROP_VN_TOO_SMALL, reason);
		/* §17.2.1: the client's SCID becomes our DCID and vice versa. */
		rc = qb_pkt_enc_vn(reply, cap, (uint8_t)rng_next(&l->rng), h.scid, h.scid_len,
		                   h.dcid, h.dcid_len, ours, 2);
		if (rc < 0)
			return drop(l, QB_SDROP_MALFORMED, reason);
		*reply_len = (size_t)rc;
		l->vn_sent++;
		return QB_LISTEN_REPLY;
	}
	case QB_PKT_INITIAL:
		if (!l->server)
			return drop(l, QB_SDROP_NOT_LISTENING, reason);
		/* RFC 9000 §14.1: a server MUST discard an Initial in < 1200 bytes. */
		if (len < QB_MIN_INITIAL_DGRAM)
			return drop(l, QB_SDROP_INITIAL_TOO_SMALL, reason);
		l->accepted++;
		return QB_LISTEN_ACCEPT;
	default:
		/* 0-RTT before its Initial, Handshake, Retry: no state to use. */
		return drop(l, QB_SDROP_UNKNOWN_CID, reason);
	}
}
