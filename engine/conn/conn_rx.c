/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A datagram in: the coalesced packets are parsed (RFC 9000 §12.2),
 * unprotected in place per level (RFC 9001 §5), and their frames dispatched
 * (RFC 9000 §12.4, §19). A peer violation closes the connection with the
 * code of RFC 9000 §20.1.
 */
#include <stdlib.h>
#include <string.h>

#include "conn/conn_internal.h"

/* ACK ranges read from a frame: as many as a peer like us sends. */
#define RX_ACK_RANGES CONN_RX_RANGES_MP

/* Dispatch results other than a qb_err. */
#define RX_CLOSED 1 /* the connection closed: stop processing the datagram */

static int
violation(struct qb_conn *c, uint64_t code, uint64_t frame, const char *why, uint64_t now)
{
	conn_close_transport(c, code, frame, why, now);
	return RX_CLOSED;
}

static int
on_ack(struct qb_conn *c, int ep, const struct qb_frame *f, uint64_t now)
{
	struct qb_ack_range ar[RX_ACK_RANGES];
	struct qb_pn_range pr[RX_ACK_RANGES];
	size_t n = qb_ack_ranges(&f->ack, ar, RX_ACK_RANGES);

	for (size_t i = 0; i < n; i++) {
		pr[i].lo = ar[i].smallest;
		pr[i].hi = ar[i].largest;
	}
	struct qb_ack_info ai = {
	        .ranges = pr,
	        .nranges = (uint32_t)n,
	        /* RFC 9002 §5.3: an Initial ACK's delay may be ignored (those
	         * ACKs are not delayed); Handshake and 1-RTT delays are used, and
	         * recovery caps them by max_ack_delay only once confirmed. */
	        .ack_delay = ep != CONN_EP_INITIAL
	                             ? qb_ack_delay_decode(f->ack.delay, c->peer_ack_delay_exp)
	                             : 0,
	        .has_ecn = f->ack.ecn,
	        .ecn = {f->ack.ect0, f->ack.ect1, f->ack.ce},
	};
	int rc = qb_recovery_on_ack_received(&c->rec, (enum qb_pn_space)ep, &ai, now);
	conn_acked_flush(c); /* the STREAM ranges on_acked gathered */
	if (rc == QB_ERR_PROTO || rc == QB_ERR_INVALID)
		return violation(c, QB_TE_PROTOCOL_VIOLATION, f->type, "ACK of an unsent packet",
		                 now);
	qb_pacer_set_rate(&c->pacer, c->cc.cwnd, c->rtt.smoothed, now);
	qb_streams_set_rtt(c->streams, c->rtt.smoothed);
	return 0;
}

/* NEW_CONNECTION_ID (RFC 9000 §19.15, §5.1.1-5.1.2) into the peer's CIDs. */
static int
on_new_cid(struct qb_conn *c, const struct qb_frame *f, uint64_t now)
{
	uint64_t te = 0;
	int rc =
	        qb_cid_peer_on_new(&c->pcid, f->new_cid.seq, f->new_cid.retire_prior_to,
	                           f->new_cid.cid, f->new_cid.cid_len, f->new_cid.reset_token, &te);
	if (rc == QB_ERR_PROTO)
		return violation(c, te, f->type, "NEW_CONNECTION_ID", now);
	return rc < 0 ? rc : 0;
}

/* RETIRE_CONNECTION_ID (RFC 9000 §19.16) of one of ours. */
static int
on_retire_cid(struct qb_conn *c, const struct qb_pkt_hdr *h, const struct qb_frame *f, uint64_t now)
{
	uint64_t te = 0;
	int rc = qb_cid_local_on_retire(&c->lcid, f->retire_cid.seq, h->dcid, h->dcid_len, &te);
	if (rc == QB_ERR_PROTO)
		return violation(c, te, f->type, "RETIRE_CONNECTION_ID", now);
	return rc < 0 ? rc : 0;
}

static int
stream_err(struct qb_conn *c, int rc, uint64_t terr, uint64_t type, uint64_t now)
{
	if (rc == QB_ERR_PROTO)
		return violation(c, terr, type, "stream frame", now);
	return rc < 0 ? rc : 0;
}

static int
dispatch(struct qb_conn *c, int ep, const struct qb_pkt_hdr *h, const struct qb_frame *f,
         uint64_t now)
{
	uint64_t terr = 0, t = f->type;
	struct qb_streams *m = c->streams;
	int rc;

	if (t >= QB_FT_STREAM && t <= (QB_FT_STREAM | 7)) {
		rc = qb_streams_on_stream(m, f->stream.stream_id, f->stream.offset, f->stream.data,
		                          f->stream.len, f->stream.fin, &terr);
		return stream_err(c, rc, terr, t, now);
	}
	switch (t) {
	case QB_FT_PADDING:
	case QB_FT_PING:
	case QB_FT_NEW_TOKEN: /* no resumption: ignored */
		return 0;
	case QB_FT_PATH_RESPONSE:
		conn_path_on_response(c, f->path.data);
		return 0;
	case QB_FT_ACK:
	case QB_FT_ACK_ECN:
		return on_ack(c, ep, f, now);
	case QB_FT_CRYPTO: {
		rc = conn_tls_on_crypto(c, ep, f->crypto.offset, f->crypto.data, f->crypto.len,
		                        now);
		return conn_closing(c) ? RX_CLOSED : rc;
	}
	case QB_FT_RESET_STREAM:
		rc = qb_streams_on_reset_stream(m, f->reset_stream.stream_id,
		                                f->reset_stream.error_code,
		                                f->reset_stream.final_size, &terr);
		return stream_err(c, rc, terr, t, now);
	case QB_FT_STOP_SENDING:
		rc = qb_streams_on_stop_sending(m, f->stop_sending.stream_id,
		                                f->stop_sending.error_code, &terr);
		return stream_err(c, rc, terr, t, now);
	case QB_FT_MAX_DATA:
		rc = qb_streams_on_max_data(m, f->max_data.max);
		return stream_err(c, rc, 0, t, now);
	case QB_FT_MAX_STREAM_DATA:
		rc = qb_streams_on_max_stream_data(m, f->max_stream_data.stream_id,
		                                   f->max_stream_data.max, &terr);
		return stream_err(c, rc, terr, t, now);
	case QB_FT_MAX_STREAMS_BIDI:
	case QB_FT_MAX_STREAMS_UNI:
		rc = qb_streams_on_max_streams(m, t == QB_FT_MAX_STREAMS_BIDI, f->max_streams.max,
		                               &terr);
		return stream_err(c, rc, terr, t, now);
	case QB_FT_DATA_BLOCKED:
		return stream_err(c, qb_streams_on_data_blocked(m, f->data_blocked.limit), 0, t,
		                  now);
	case QB_FT_STREAM_DATA_BLOCKED:
		rc = qb_streams_on_stream_data_blocked(m, f->stream_data_blocked.stream_id,
		                                       f->stream_data_blocked.limit, &terr);
		return stream_err(c, rc, terr, t, now);
	case QB_FT_STREAMS_BLOCKED_BIDI:
	case QB_FT_STREAMS_BLOCKED_UNI:
		rc = qb_streams_on_streams_blocked(m, t == QB_FT_STREAMS_BLOCKED_BIDI,
		                                   f->streams_blocked.limit, &terr);
		return stream_err(c, rc, terr, t, now);
	case QB_FT_NEW_CONNECTION_ID:
		return on_new_cid(c, f, now);
	case QB_FT_RETIRE_CONNECTION_ID:
		return on_retire_cid(c, h, f, now);
	case QB_FT_PATH_CHALLENGE:
		conn_path_on_challenge(c, f->path.data);
		return 0;
	case QB_FT_CONNECTION_CLOSE:
	case QB_FT_CONNECTION_CLOSE_APP:
		memset(&c->close, 0, sizeof(c->close));
		c->close.by_peer = true;
		c->close.app = t == QB_FT_CONNECTION_CLOSE_APP;
		c->close.code = f->close.error_code;
		c->close.frame = f->close.frame_type;
		memcpy(c->close.reason, f->close.reason,
		       f->close.reason_len < CONN_REASON_MAX ? f->close.reason_len
		                                             : CONN_REASON_MAX);
		conn_enter_draining(c, now);
		return RX_CLOSED;
	case QB_FT_HANDSHAKE_DONE:
		/* RFC 9001 §4.1.2: the client's handshake is confirmed. */
		conn_confirm(c, now);
		return 0;
	case QB_FT_DATAGRAM:
	case QB_FT_DATAGRAM_LEN:
		/* RFC 9221 §4: we did not advertise max_datagram_frame_size. */
		return violation(c, QB_TE_PROTOCOL_VIOLATION, t, "DATAGRAM not negotiated", now);
	default:
		return violation(c, QB_TE_FRAME_ENCODING_ERROR, t, "unknown frame", now);
	}
}

/*
 * Our send keys move to the next phase (we start an update, or answer one):
 * the next key is derived now from the current secret (RFC 9001 §6.1) and
 * the old one freed at once, as nothing is sent with it again (§6.5).
 */
static void
key_update_tx_commit(struct qb_conn *c, struct qb_crypto_key *next)
{
	qb_crypto_key_free(c->txk[CONN_EP_APP]);
	c->txk[CONN_EP_APP] = next;
	c->tx_phase ^= 1;
	c->tx_phase_first_pn = c->next_pn[CONN_EP_APP];
	c->st.key_updates++;
}

int
conn_key_update_tx(struct qb_conn *c)
{
	struct qb_crypto_key *next;
	int rc = qb_crypto_key_new_update(&next, c->txk[CONN_EP_APP]);

	if (rc != 0)
		return rc;
	key_update_tx_commit(c, next);
	return 0;
}

/*
 * Removes packet protection. A 1-RTT packet of the other key phase is the
 * peer's key update (RFC 9001 §6.2-6.3): it opens with the next key, which
 * then becomes current, and our send keys follow. Old-phase packets that
 * arrive after an update are dropped (they are tried with the next phase's
 * key): their frames come back as losses.
 *
 * The next phase's receive key is derived on the first packet that claims
 * it, not ahead: an idle connection then holds two keys, not three. RFC
 * 9001 §6.3 allows this ("MAY generate new keys as part of packet
 * processing") and notes its cost: the derivation (one HKDF-Expand-Label and
 * the backend's key expansion, a few microseconds) is a timing signal that
 * may tell an observer that a packet's Key Phase bit changed. Once derived
 * the key is kept (c->rx_next) even when that packet fails to open, so that
 * forged key-phase bits cannot make us derive it again and again (§6.3).
 *
 * A key that cannot be derived (out of memory) is QB_ERR_NOMEM, not a
 * forgery (§6.6 counts only packets that fail authentication): the packet
 * is dropped unacknowledged and nothing switches, so the peer's next packet
 * of that phase tries the whole update again. Our next send key is
 * allocated before the receive switch is committed for the same reason: a
 * receive side that moved without the send side would never move it (the
 * new phase's later packets take the current-phase branch).
 */
static int
open_packet(struct qb_conn *c, int ep, uint8_t *pkt, const struct qb_pkt_hdr *h,
            struct qb_crypto_hdr *ch)
{
	if (ep != CONN_EP_APP)
		return qb_crypto_unprotect(c->rxk[ep], pkt, h->len, h->pn_offset, c->rx[ep].largest,
		                           ch);
	int rc = qb_crypto_unprotect_header(c->rxk[ep], pkt, h->len, h->pn_offset,
	                                    c->rx[ep].largest, ch);
	if (rc != 0)
		return rc;
	uint8_t phase = qb_pkt_key_phase(ch->first_byte) ? 1 : 0;
	if (phase == c->rx_phase)
		return qb_crypto_unprotect_payload(c->rxk[ep], pkt, ch);
	if (c->rx_next == NULL && qb_crypto_key_new_update(&c->rx_next, c->rxk[ep]) != 0) {
		qb_crypto_unprotect_restore(pkt, ch);
		return QB_ERR_NOMEM;
	}
	rc = qb_crypto_unprotect_payload(c->rx_next, pkt, ch);
	if (rc != 0)
		return rc;
	/* The peer's update: our send keys follow (§6.2), ready first. */
	struct qb_crypto_key *tx_next = NULL;
	if (c->tx_phase != phase && qb_crypto_key_new_update(&tx_next, c->txk[ep]) != 0)
		return QB_ERR_NOMEM;
	/* The old phase's key is not used again: freed now. */
	qb_crypto_key_free(c->rxk[ep]);
	c->rxk[ep] = c->rx_next;
	c->rx_next = NULL;
	c->rx_phase = phase;
	if (tx_next != NULL)
		key_update_tx_commit(c, tx_next);
	return 0;
}

int
qb_conn_key_update(struct qb_conn *c)
{
	const struct qb_recovery_space *s = &c->rec.space[QB_PN_APP];

	/* RFC 9001 §6.1: confirmed, and the current phase acknowledged. */
	if (!c->hs_confirmed || conn_closing(c) || c->rx_phase != c->tx_phase ||
	    s->largest_acked == QB_PN_NONE || s->largest_acked < c->tx_phase_first_pn)
		return QB_ERR_STATE;
	return conn_key_update_tx(c);
}

static int
pkt_epoch(uint8_t type)
{
	switch (type) {
	case QB_PKT_INITIAL:
		return CONN_EP_INITIAL;
	case QB_PKT_HANDSHAKE:
		return CONN_EP_HANDSHAKE;
	case QB_PKT_1RTT:
		return CONN_EP_APP;
	default:
		return -1; /* 0-RTT (not accepted), Retry, VN: dropped */
	}
}

static bool
dcid_ours(const struct qb_conn *c, const struct qb_pkt_hdr *h)
{
	if (qb_cid_local_find(&c->lcid, h->dcid, h->dcid_len) != NULL)
		return true;
	/* The client's Initials carry its chosen DCID until it sees ours (§7.2). */
	return c->is_server && h->type != QB_PKT_1RTT && h->dcid_len == c->odcid_len &&
	       memcmp(h->dcid, c->odcid, c->odcid_len) == 0;
}

/*
 * Client: a Retry (RFC 9000 §17.2.5.2): taken once, before any server
 * Initial, if its integrity tag holds (RFC 9001 §5.8). The Initials start
 * again toward the server's new CID, with the token and new Initial keys;
 * what was in flight is sent again (RFC 9002 §6.3).
 */
static int
recv_retry(struct qb_conn *c, const uint8_t *dgram, const struct qb_pkt_hdr *h, uint64_t now)
{
	if (c->is_server || c->retried || c->pcid_set || h->version != c->version ||
	    h->token_len > CONN_TOKEN_MAX ||
	    qb_crypto_retry_verify(c->version, c->odcid, c->odcid_len, dgram + h->offset, h->len) !=
	            0 ||
	    (h->scid_len == c->odcid_len && memcmp(h->scid, c->odcid, c->odcid_len) == 0)) {
		c->st.pkts_dropped++;
		if (CONN_QLOG(c))
			qb_qlog_conn_drop(c, h, QB_QLOG_DROP_REJECTED, now);
		return 0;
	}
	if (CONN_QLOG(c))
		qb_qlog_conn_rx_special(c, h, now);
	/* At most one Retry is taken: its token is allocated once (most
	 * connections never see one, so none holds room for it). */
	c->token = malloc(h->token_len > 0 ? h->token_len : 1);
	if (c->token == NULL)
		return violation(c, QB_TE_INTERNAL_ERROR, 0, "Retry token", now);
	c->retried = true;
	memcpy(c->token, h->token, h->token_len);
	c->token_len = (uint16_t)h->token_len;
	memcpy(c->odcid, h->scid, h->scid_len);
	c->odcid_len = h->scid_len;
	/* The token is bound to the address it was sent to (§8.1.2): the
	 * handshake continues on the Retry's path only. */
	conn_path_set_hs(c);
	qb_crypto_key_free(c->txk[CONN_EP_INITIAL]);
	qb_crypto_key_free(c->rxk[CONN_EP_INITIAL]);
	if (qb_crypto_initial_keys_new(c->version, c->odcid, c->odcid_len, &c->txk[CONN_EP_INITIAL],
	                               &c->rxk[CONN_EP_INITIAL]) != 0)
		return violation(c, QB_TE_INTERNAL_ERROR, 0, "Initial keys", now);
	qb_recovery_on_retry(&c->rec, now);
	qb_cc_init(&c->cc, c->cfg.cc_algo, QB_MIN_INITIAL_DGRAM, now);
	return 0;
}

/*
 * Client: Version Negotiation (RFC 9000 §6.2): ignored once anything came
 * from the server or when it lists our version; otherwise no version is
 * common and the attempt is abandoned (no CONNECTION_CLOSE can be sent).
 */
static int
recv_vn(struct qb_conn *c, const struct qb_pkt_hdr *h, uint64_t now)
{
	if (c->is_server || c->pcid_set) {
		c->st.pkts_dropped++;
		if (CONN_QLOG(c))
			qb_qlog_conn_drop(c, h, QB_QLOG_DROP_REJECTED, now);
		return 0;
	}
	for (size_t i = 0; i + 4 <= h->versions_len; i += 4) {
		const uint8_t *v = h->versions + i;
		uint32_t ver =
		        (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
		if (ver == c->version) {
			c->st.pkts_dropped++;
			if (CONN_QLOG(c))
				qb_qlog_conn_drop(c, h, QB_QLOG_DROP_REJECTED, now);
			return 0;
		}
	}
	if (CONN_QLOG(c))
		qb_qlog_conn_rx_special(c, h, now);
	memset(&c->close, 0, sizeof(c->close));
	c->close.by_peer = true;
	c->close.code = QB_TE_VERSION_NEGOTIATION_ERROR;
	strcpy(c->close.reason, "version negotiation");
	c->state = QB_CONN_CLOSED;
	return RX_CLOSED;
}

/* One packet of the datagram. Returns RX_CLOSED to stop, else 0. */
static int
recv_packet(struct qb_conn *c, uint8_t *dgram, const struct qb_pkt_hdr *h, uint64_t now)
{
	int ep = pkt_epoch(h->type);
	struct qb_crypto_hdr ch;

	if (h->type == QB_PKT_RETRY && dcid_ours(c, h))
		return recv_retry(c, dgram, h, now);
	if (h->type == QB_PKT_VN && dcid_ours(c, h))
		return recv_vn(c, h, now);

	if (ep < 0 || !dcid_ours(c, h) || (h->type != QB_PKT_1RTT && h->version != c->version) ||
	    c->discarded[ep] || !qb_crypto_key_present(c->rxk[ep])) {
		c->st.pkts_dropped++;
		if (CONN_QLOG(c))
			qb_qlog_conn_drop(c, h,
			                  ep >= 0 && dcid_ours(c, h) ? QB_QLOG_DROP_KEY_UNAVAILABLE
			                                             : QB_QLOG_DROP_REJECTED,
			                  now);
		return 0;
	}
	uint8_t *pkt = dgram + h->offset;
	int orc = open_packet(c, ep, pkt, h, &ch);
	if (orc == 0)
		c->rx_authentic = true;
	if (orc != 0) {
		c->st.pkts_dropped++;
		if (CONN_QLOG(c))
			qb_qlog_conn_drop(c, h,
			                  orc == QB_ERR_NOMEM ? QB_QLOG_DROP_INTERNAL
			                                      : QB_QLOG_DROP_DECRYPTION,
			                  now);
		/* RFC 9001 §6.6: too many forgeries tried against our 1-RTT keys
		 * (a key we could not allocate is none). */
		if (ep == CONN_EP_APP && orc != QB_ERR_NOMEM &&
		    ++c->aead_failures >=
		            qb_crypto_integrity_limit((enum qb_aead_alg)c->rxk[ep]->alg))
			return violation(c, QB_TE_AEAD_LIMIT_REACHED, 0, "AEAD integrity limit",
			                 now);
		return 0;
	}
	if (!qb_pkt_reserved_ok(ch.first_byte))
		return violation(c, QB_TE_PROTOCOL_VIOLATION, 0, "reserved bits set", now);
	if (qb_rx_is_duplicate(&c->rx[ep], ch.pn)) {
		c->st.pkts_dropped++;
		if (CONN_QLOG(c))
			qb_qlog_conn_drop(c, h, QB_QLOG_DROP_DUPLICATE, now);
		return 0;
	}
	if (CONN_QLOG(c))
		qb_qlog_conn_rx(c, h, &ch, pkt, now);
	if (ch.payload_len == 0) /* §12.4: a packet with no frames */
		return violation(c, QB_TE_PROTOCOL_VIOLATION, 0, "empty packet", now);

	/* RFC 9000 §7.2: the client uses the server's SCID from now on. */
	if (!c->is_server && ep == CONN_EP_INITIAL && !c->pcid_set &&
	    conn_cid_set_peer(c, h->scid, h->scid_len) != 0)
		return violation(c, QB_TE_PROTOCOL_VIOLATION, 0, "bad server SCID", now);
	/* The first Initial processed places the handshake (BRIEF §2). */
	if (ep == CONN_EP_INITIAL)
		conn_path_set_hs(c);
	if (c->is_server && ep == CONN_EP_HANDSHAKE) {
		/* RFC 9000 §8.1: a Handshake packet validates the client's address
		 * (of the handshake path: our Initials went only there);
		 * RFC 9001 §4.9.1: Initial keys go. */
		c->path[conn_primary(c)].validated = true;
		qb_recovery_set_amplification_limited(&c->rec, false, now);
		conn_discard_epoch(c, CONN_EP_INITIAL, now);
	}
	if (ep == CONN_EP_APP)
		conn_path_on_1rtt(c);

	const uint8_t *p = pkt + ch.pn_offset + ch.pn_len, *end = p + ch.payload_len;
	bool eliciting = false;
	while (p < end) {
		struct qb_frame f;
		uint64_t terr = 0;
		int n = qb_frame_decode(p, (size_t)(end - p), &f, &terr);
		if (n < 0)
			return violation(c, terr ? terr : QB_TE_FRAME_ENCODING_ERROR, f.type,
			                 "frame decode", now);
		uint64_t chk = qb_frame_check(f.type, (enum qb_pkt_type)h->type, !c->is_server);
		if (chk != QB_TE_NO_ERROR)
			return violation(c, chk, f.type, "frame not allowed in this packet", now);
		eliciting |= qb_frame_ack_eliciting(f.type);
		int rc = dispatch(c, ep, h, &f, now);
		if (rc == RX_CLOSED)
			return rc;
		if (rc == QB_ERR_NOMEM) {
			/* Not acknowledged: the peer will send it again. */
			c->st.pkts_dropped++;
			if (CONN_QLOG(c))
				qb_qlog_conn_drop(c, h, QB_QLOG_DROP_INTERNAL, now);
			return 0;
		}
		p += n;
	}
	if (c->discarded[ep])
		return 0; /* the packet made its own space go (e.g. HANDSHAKE_DONE) */
	qb_rx_on_packet(&c->rx[ep], ch.pn, eliciting, QB_ECN_NOT_ECT, now);
	c->st.pkts_recv++;
	/* RFC 9000 §10.1: the idle timer restarts on every packet processed. */
	c->last_activity = now;
	c->eliciting_since_rx = false;
	return 0;
}

static int
conn_recv(struct qb_conn *c, uint32_t path_id, uint8_t *dgram, size_t len, uint64_t now)
{
	struct qb_pkt_hdr h[CONN_MAX_PKTS_DGRAM];

	struct conn_path *path = conn_path_rx(c, path_id);
	if (path == NULL)
		return QB_ERR_ARG;
	if (c->state == QB_CONN_CLOSED)
		return QB_ERR_STATE;
	c->st.dgrams_recv++;
	c->st.bytes_recv += len;
	c->rx_path = (uint8_t)path_id;
	c->rx_authentic = false;
	if (path->known) {
		path->rx_bytes += len;
		path->dgrams_recv++;
	}
	bool fresh = !path->known; /* server: kept only if a packet opens */
	if (fresh && (c->state == QB_CONN_DRAINING || c->state == QB_CONN_CLOSING))
		conn_path_rx_done(c, path_id, 0); /* nothing is opened: forgotten */
	if (c->state == QB_CONN_DRAINING)
		return 0;
	if (c->state == QB_CONN_CLOSING) {
		/* §10.2.1: answer with CONNECTION_CLOSE, less and less often. */
		if (++c->close_rx >= c->close_next) {
			c->close_pending = true;
			c->close_next *= 2;
		}
		return 0;
	}
	int n = qb_dgram_parse(dgram, len, c->scid_len, 0, h, CONN_MAX_PKTS_DGRAM);
	if (n < 0) {
		c->st.pkts_dropped++;
		if (CONN_QLOG(c))
			qb_qlog_conn_drop(c, NULL, QB_QLOG_DROP_INVALID, now);
		if (fresh)
			conn_path_rx_done(c, path_id, len);
		return 0;
	}
	uint64_t before = c->st.pkts_recv;
	for (int i = 0; i < n; i++)
		if (recv_packet(c, dgram, &h[i], now) == RX_CLOSED)
			break;
	if (fresh)
		conn_path_rx_done(c, path_id, len);
	if (c->st.pkts_recv == before && c->pcid_set && !conn_closing(c) &&
	    qb_cid_peer_is_stateless_reset(&c->pcid, dgram, len)) {
		/* RFC 9000 §10.3.1: the peer lost our state; drain silently. */
		memset(&c->close, 0, sizeof(c->close));
		c->close.by_peer = true;
		strcpy(c->close.reason, "stateless reset");
		conn_enter_draining(c, now);
		return 0;
	}
	if (!c->is_server || c->hs_path < 0 || c->path[c->hs_path].validated)
		return 0;
	/* More credit may unblock a server held by the 3x limit. */
	qb_recovery_set_amplification_limited(
	        &c->rec, conn_path_amp_blocked(c, (unsigned)c->hs_path, QB_MIN_INITIAL_DGRAM), now);
	return 0;
}

int
qb_conn_recv(struct qb_conn *c, uint32_t path_id, uint8_t *dgram, size_t len, uint64_t now)
{
	int rc = conn_recv(c, path_id, dgram, len, now);
	if (CONN_QLOG(c) && rc == 0)
		qb_qlog_conn_sync(c, now);
	return rc;
}
