/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One datagram out (BRIEF §2): Initial (ACK, CRYPTO), Handshake (ACK,
 * CRYPTO), 1-RTT (ACK, HANDSHAKE_DONE, PATH_RESPONSE, control frames, stream
 * data), coalesced in that order (RFC 9000 §12.2); a datagram carrying an
 * Initial from a client, or an ack-eliciting Initial from a server, is padded
 * to 1200 bytes inside its last packet (§14.1); the anti-amplification limit
 * (§8.1); congestion control and pacing for ack-eliciting packets only, PTO
 * probes exempt (RFC 9002 §6.2.4, §7).
 */
#include <stddef.h>
#include <string.h>

#include "conn/conn_internal.h"

/* ACK frames carry up to this many ranges (as many as the receiver keeps). */
#define TX_ACK_RANGES     CONN_RX_RANGES_MP
#define TX_MIN_ROOM       24 /* below this a packet takes no more data frames */
/* The longest STREAM frame header: type, 8-byte id and offset (RFC 9000 §19.8). */
#define TX_STREAM_HDR_MAX 17

struct tx {
	struct qb_conn *c;
	struct conn_path *path; /* the path the datagram goes on */
	unsigned path_id;
	const uint8_t *dcid; /* the path's DCID */
	size_t dcid_len;
	bool wrote_initial; /* an Initial packet went into the datagram */
	uint64_t now;
	bool eliciting_ok;     /* congestion window and pacer allow ack-eliciting data */
	bool initial_ack_only; /* the datagram is below 1200 bytes: an ACK-only Initial at most */
	bool need_pad;         /* the datagram must reach 1200 bytes */
	int last_ep;           /* epoch of the last packet written, -1 none */
	/* PATH_RESPONSE / PATH_CHALLENGE in the open packet: they count as
	 * sent only once it is sealed (path_frames_done()). */
	bool response_written, challenge_written;
	uint32_t why;
	/* Last, and left out by tx_init(): qb_pkt_enc_init() sets it before
	 * any use (a zeroed struct cost a `rep stos`, ~5 ns per datagram). */
	struct qb_pkt_enc e;
};

/* Everything but the encoder zeroed, then the datagram's basics. */
static inline void
tx_init(struct tx *t, struct qb_conn *c, uint64_t now, uint32_t path_id)
{
	memset(t, 0, offsetof(struct tx, e));
	t->c = c;
	t->now = now;
	t->last_ep = -1;
	t->path_id = path_id;
}

static bool
ep_usable(const struct qb_conn *c, int ep)
{
	return !c->discarded[ep] && qb_crypto_key_present(c->txk[ep]);
}

static bool
path_frames_pending(const struct conn_path *p)
{
	return p->response_pending || p->challenge_pending;
}

static bool
app_pending(struct tx *t)
{
	struct qb_conn *c = t->c;
	return (c->is_server && c->hs_done_pending) || path_frames_pending(t->path) ||
	       conn_cid_pending(c) ||
	       (qb_streams_tx_status(c->streams) & (QB_STREAMS_TX_DATA | QB_STREAMS_TX_CTRL));
}

/* Whether space ep has something that must go now. */
static bool
ep_has_data(struct tx *t, int ep)
{
	struct qb_conn *c = t->c;

	if (!ep_usable(c, ep))
		return false;
	if (c->rx[ep].ack_pending && qb_rx_ack_due(&c->rx[ep], t->now))
		return true;
	if (ep == CONN_EP_INITIAL && t->initial_ack_only)
		return false;
	if (qb_recovery_probes(&c->rec, (enum qb_pn_space)ep) > 0)
		return true;
	if (!t->eliciting_ok)
		return false;
	if (qb_crypto_stream_to_send(&c->cs[ep]))
		return true;
	return ep == CONN_EP_APP && app_pending(t);
}

static void
ctrl_to_frame(const struct qb_ctrl_frame *k, struct qb_frame *f)
{
	memset(f, 0, sizeof(*f));
	f->type = k->type;
	switch (k->type) {
	case QB_FT_RESET_STREAM:
		f->reset_stream.stream_id = k->stream_id;
		f->reset_stream.error_code = k->error_code;
		f->reset_stream.final_size = k->value;
		break;
	case QB_FT_STOP_SENDING:
		f->stop_sending.stream_id = k->stream_id;
		f->stop_sending.error_code = k->error_code;
		break;
	case QB_FT_MAX_DATA:
		f->max_data.max = k->value;
		break;
	case QB_FT_MAX_STREAM_DATA:
		f->max_stream_data.stream_id = k->stream_id;
		f->max_stream_data.max = k->value;
		break;
	case QB_FT_MAX_STREAMS_BIDI:
	case QB_FT_MAX_STREAMS_UNI:
		f->max_streams.max = k->value;
		break;
	case QB_FT_DATA_BLOCKED:
		f->data_blocked.limit = k->value;
		break;
	case QB_FT_STREAM_DATA_BLOCKED:
		f->stream_data_blocked.stream_id = k->stream_id;
		f->stream_data_blocked.limit = k->value;
		break;
	default: /* STREAMS_BLOCKED */
		f->streams_blocked.limit = k->value;
		break;
	}
}

static void
write_ack(struct tx *t, int ep, uint32_t *head, unsigned *nrec)
{
	struct qb_conn *c = t->c;
	struct qb_pn_range pr[TX_ACK_RANGES];
	struct qb_ack_range ar[TX_ACK_RANGES];
	uint32_t n = qb_rx_ack_ranges(&c->rx[ep], pr, TX_ACK_RANGES);

	if (n == 0)
		return;
	for (uint32_t i = 0; i < n; i++) {
		ar[i].smallest = pr[i].lo;
		ar[i].largest = pr[i].hi;
	}
	uint64_t delay = ep == CONN_EP_APP ? qb_rx_ack_delay_field(&c->rx[ep], t->now) : 0;
	if (qb_pkt_enc_ack(&t->e, ar, n, delay, NULL, NULL) != 0)
		return;
	qb_rx_on_ack_sent(&c->rx[ep]);
	if (ep == CONN_EP_APP)
		c->acks_waited = 0;
	struct conn_frec *r = conn_frec_add(c, head);
	if (r != NULL) {
		r->kind = FREC_ACK;
		r->offset = ar[0].largest;
		(*nrec)++;
	}
}

/* NEW_CONNECTION_ID and RETIRE_CONNECTION_ID frames (RFC 9000 §19.15-16). */
static bool
write_cid_frames(struct tx *t, uint32_t *head, unsigned *nrec)
{
	struct qb_conn *c = t->c;
	struct conn_frec *r;
	bool any = false;

	if (!conn_cid_pending(c))
		return false; /* the common case: one scan, no frame calls */
	/* Room for the largest NEW_CONNECTION_ID (1+8+8+1+20+16) first. */
	while (*nrec < CONN_FREC_PER_PKT && qb_pkt_enc_room(&t->e) >= 54 && c->frec_free != 0) {
		struct qb_cid_new_frame nf;
		if (qb_cid_local_next(&c->lcid, &nf) != 1)
			break;
		struct qb_frame f = {.type = QB_FT_NEW_CONNECTION_ID};
		f.new_cid.seq = nf.seq;
		f.new_cid.retire_prior_to = nf.retire_prior_to;
		f.new_cid.cid = nf.cid.id;
		f.new_cid.cid_len = nf.cid.len;
		f.new_cid.reset_token = nf.token;
		if (qb_pkt_enc_frame(&t->e, &f) != 0) {
			qb_cid_local_lost(&c->lcid, nf.seq); /* pending again */
			break;
		}
		r = conn_frec_add(c, head);
		r->kind = FREC_NEW_CID;
		r->id = nf.seq;
		(*nrec)++;
		any = true;
	}
	while (c->pcid_set && *nrec < CONN_FREC_PER_PKT && qb_pkt_enc_room(&t->e) >= 9 &&
	       c->frec_free != 0) {
		uint64_t seq;
		if (qb_cid_peer_next_retire(&c->pcid, &seq) != 1)
			break;
		struct qb_frame f = {.type = QB_FT_RETIRE_CONNECTION_ID};
		f.retire_cid.seq = seq;
		if (qb_pkt_enc_frame(&t->e, &f) != 0) {
			qb_cid_peer_retire_lost(&c->pcid, seq);
			break;
		}
		r = conn_frec_add(c, head);
		r->kind = FREC_RETIRE_CID;
		r->id = seq;
		(*nrec)++;
		any = true;
	}
	return any;
}

/*
 * PATH_RESPONSE and PATH_CHALLENGE of the datagram's path (RFC 9000 §8.2):
 * neither is retransmitted (§13.3; a new challenge goes on the path's timer),
 * and the datagram is expanded to 1200 bytes (§8.2.1-8.2.2). Nothing is
 * committed here: a packet that fails to be sealed must not use up one of
 * the CONN_CHALLENGE_MAX challenges of a validation (path_frames_done()).
 */
static bool
write_path_frames(struct tx *t)
{
	struct conn_path *p = t->path;
	bool any = false;

	if (p->response_pending) {
		struct qb_frame f = {.type = QB_FT_PATH_RESPONSE};
		f.path.data = p->response;
		if (qb_pkt_enc_frame(&t->e, &f) == 0) {
			t->response_written = true;
			t->need_pad = true;
			any = true;
		}
	}
	if (p->challenge_pending && qb_pkt_enc_room(&t->e) > 1 + QB_PATH_DATA_LEN) {
		struct qb_frame f = {.type = QB_FT_PATH_CHALLENGE};
		f.path.data = conn_path_challenge_data(t->c, t->path_id);
		if (qb_pkt_enc_frame(&t->e, &f) == 0) {
			t->challenge_written = true;
			t->need_pad = true;
			any = true;
		}
	}
	return any;
}

/* The packet holding the path frames was sealed (sent) or dropped. */
static void
path_frames_done(struct tx *t, bool sent)
{
	if (sent && t->response_written)
		t->path->response_pending = false;
	if (sent && t->challenge_written)
		conn_path_challenge_sent(t->c, t->path_id, t->now); /* count, timer */
	t->response_written = t->challenge_written = false;
}

/* A STREAM frame carrying the first `taken` bytes of span sp went into the
 * packet whose frame records start at *head (a record is free). */
static void
stream_sent(struct qb_conn *c, struct qb_send_span *sp, size_t taken, uint32_t *head)
{
	if (taken < sp->len) {
		sp->len = taken;
		sp->fin = false;
	}
	qb_streams_send_commit(c->streams, sp);
	conn_frec_stream(c, head, sp->stream_id, sp->offset, sp->len, sp->fin);
}

/* Ack-eliciting frames of the packet; returns true if any was written. */
static bool
write_data(struct tx *t, int ep, uint32_t *head, unsigned *nrec)
{
	struct qb_conn *c = t->c;
	struct qb_pkt_enc *e = &t->e;
	struct qb_send_span sp;
	bool any = false;
	struct conn_frec *r;

	if (ep == CONN_EP_APP) {
		if (c->is_server && c->hs_done_pending) {
			struct qb_frame f = {.type = QB_FT_HANDSHAKE_DONE};
			if (qb_pkt_enc_frame(e, &f) == 0 && (r = conn_frec_add(c, head)) != NULL) {
				r->kind = FREC_HANDSHAKE_DONE;
				(*nrec)++;
				c->hs_done_pending = false;
				any = true;
			}
		}
		any |= write_path_frames(t);
		any |= write_cid_frames(t, head, nrec);
		struct qb_ctrl_frame k;
		while (*nrec < CONN_FREC_PER_PKT && qb_streams_ctrl_peek(c->streams, &k)) {
			struct qb_frame f;
			ctrl_to_frame(&k, &f);
			if (qb_pkt_enc_frame(e, &f) != 0 || (r = conn_frec_add(c, head)) == NULL)
				break;
			qb_streams_ctrl_sent(c->streams, &k);
			r->kind = FREC_CTRL;
			r->ctrl = k;
			(*nrec)++;
			any = true;
		}
	}
	while (*nrec < CONN_FREC_PER_PKT && qb_pkt_enc_room(e) > TX_MIN_ROOM &&
	       qb_crypto_stream_send_peek(&c->cs[ep], c->cfg.pools, qb_pkt_enc_room(e), &sp)) {
		size_t taken = 0;
		if (qb_pkt_enc_crypto(e, sp.offset, sp.data, sp.len, &taken) != 0 || taken == 0)
			break;
		if ((r = conn_frec_add(c, head)) == NULL)
			break; /* cannot happen: nrec bounds use; keep the frame unsent */
		qb_crypto_stream_send_commit(&c->cs[ep], c->cfg.pools, sp.offset, taken);
		r->kind = FREC_CRYPTO;
		r->epoch = (uint8_t)ep;
		r->offset = sp.offset;
		r->len = taken;
		(*nrec)++;
		any = true;
	}
	if (ep != CONN_EP_APP)
		return any;
	/* A frame with no record could never be resent: stop when none is free. */
	while (*nrec < CONN_FREC_PER_PKT && qb_pkt_enc_room(e) > TX_MIN_ROOM && c->frec_free != 0 &&
	       qb_streams_send_peek(c->streams, qb_pkt_enc_room(e), &sp)) {
		size_t taken = 0;
		if (qb_pkt_enc_stream(e, sp.stream_id, sp.offset, sp.data, sp.len, sp.fin,
		                      &taken) != 0)
			break;
		stream_sent(c, &sp, taken, head);
		(*nrec)++;
		any = true;
	}
	return any;
}

static int
begin_packet(struct tx *t, int ep)
{
	struct qb_conn *c = t->c;
	uint64_t pn = c->next_pn[ep];
	size_t pn_len = qb_recovery_pn_len(&c->rec, (enum qb_pn_space)ep, (uint8_t)t->path_id, pn);

	size_t dcid_len = t->dcid_len;
	const uint8_t *dcid = t->dcid;

	if (dcid == NULL)
		return QB_ERR_STATE; /* every peer CID retired: wait for a new one */
	if (ep == CONN_EP_APP)
		return qb_pkt_enc_begin_short(&t->e, dcid, dcid_len, false, c->tx_phase != 0, pn,
		                              pn_len);
	return qb_pkt_enc_begin_long(
	        &t->e, c->version, ep == CONN_EP_INITIAL ? QB_PKT_INITIAL : QB_PKT_HANDSHAKE, dcid,
	        dcid_len, c->scid, c->scid_len, c->token, c->token_len, pn, pn_len);
}

static void packet_sent(struct tx *t, int ep, uint64_t pn, size_t len, uint32_t head,
                        bool eliciting, bool padded, bool probe);

/* Seals the open packet and records it; returns 0 or an error. */
static int
finish_packet(struct tx *t, int ep, uint32_t head, bool eliciting, bool padded, bool probe)
{
	struct qb_conn *c = t->c;
	struct qb_pkt_layout lay;

	if (qb_pkt_enc_finish(&t->e, &lay) != 0) {
		qb_pkt_enc_abort(&t->e);
		conn_frec_free_list(c, head);
		return QB_ERR_NOBUF;
	}
	if (CONN_QLOG(c))
		qb_qlog_conn_tx(c, ep, t->e.buf + lay.offset, &lay, probe, t->now);
	int n = qb_crypto_protect(c->txk[ep], t->e.buf + lay.offset, lay.pn_offset, lay.pn_len,
	                          lay.pn, lay.payload_len);
	if (n < 0)
		return n; /* cannot happen with a present key; the datagram is dropped */
	packet_sent(t, ep, lay.pn, lay.len, head, eliciting, padded, probe);
	return 0;
}

static void
packet_sent(struct tx *t, int ep, uint64_t pn, size_t len, uint32_t head, bool eliciting,
            bool padded, bool probe)
{
	conn_packet_sent(t->c, ep, t->path_id, t->now, pn, len, head, eliciting, padded, probe);
	t->last_ep = ep;
	if (ep == CONN_EP_INITIAL)
		t->wrote_initial = true;
}

/* One packet of space ep; false when nothing was written. */
static bool
write_packet(struct tx *t, int ep, bool is_last)
{
	struct qb_conn *c = t->c;
	uint32_t head = 0;
	unsigned nrec = 0;
	bool probe = qb_recovery_probes(&c->rec, (enum qb_pn_space)ep) > 0;
	bool data_ok = t->eliciting_ok || probe;

	if (ep == CONN_EP_INITIAL && t->initial_ack_only)
		probe = data_ok = false; /* §14.1: an ack-eliciting Initial needs 1200 bytes */
	conn_mem_reserve(c, ep);
	if (begin_packet(t, ep) != 0)
		return false;
	if (c->rx[ep].ack_pending)
		write_ack(t, ep, &head, &nrec);
	bool eliciting = false;
	/* Data only into a packet the sent records can track (probes included). */
	if (data_ok && qb_recovery_can_send(&c->rec, (enum qb_pn_space)ep))
		eliciting = write_data(t, ep, &head, &nrec);
	if (probe && !eliciting) {
		/* RFC 9002 §6.2.4: a probe with no data is a PING. */
		struct qb_frame f = {.type = QB_FT_PING};
		eliciting = qb_pkt_enc_frame(&t->e, &f) == 0;
	}
	if (qb_pkt_enc_payload_len(&t->e) == 0) {
		qb_pkt_enc_abort(&t->e);
		conn_frec_free_list(c, head);
		path_frames_done(t, false);
		return false;
	}
	if (ep == CONN_EP_INITIAL && (!c->is_server || eliciting))
		t->need_pad = true;
	/*
	 * Data left but too little room for another frame (a STREAM frame
	 * ended at a send-buffer chunk boundary): pad to the full size, so a
	 * burst's datagrams stay equal and the GSO rule (BRIEF §2) does not
	 * end it early.
	 */
	if (ep == CONN_EP_APP && eliciting && is_last && qb_pkt_enc_room(&t->e) > 0 &&
	    qb_pkt_enc_room(&t->e) <= TX_MIN_ROOM &&
	    (qb_streams_tx_status(c->streams) & QB_STREAMS_TX_DATA))
		qb_pkt_enc_pad(&t->e, qb_pkt_enc_room(&t->e));
	bool padded = false;
	if (t->need_pad && is_last && qb_pkt_enc_room(&t->e) > 0) {
		size_t before = qb_pkt_enc_len(&t->e);
		padded = qb_pkt_enc_pad_to(&t->e, QB_MIN_INITIAL_DGRAM) == 0 &&
		         qb_pkt_enc_len(&t->e) > before;
	}
	bool sent = finish_packet(t, ep, head, eliciting, padded, probe) == 0;
	path_frames_done(t, sent);
	return sent;
}

/*
 * Whether the datagram can be the fast path's one 1-RTT packet of stream data
 * (send_stream_fast): nothing else is due in any space, not even an ACK or a
 * probe, and qlog does not want the plaintext.
 */
static bool
fast_path_ok(struct tx *t, const bool has[CONN_NEP], int last, bool probe)
{
	struct qb_conn *c = t->c;

	return last == CONN_EP_APP && !has[CONN_EP_INITIAL] && !has[CONN_EP_HANDSHAKE] &&
	       t->eliciting_ok && !probe && !CONN_QLOG(c) && conn_ack_can_wait(c) &&
	       !(c->is_server && c->hs_done_pending) && !path_frames_pending(t->path) &&
	       !conn_cid_pending(c) &&
	       (qb_streams_tx_status(c->streams) & (QB_STREAMS_TX_DATA | QB_STREAMS_TX_CTRL)) ==
	               QB_STREAMS_TX_DATA &&
	       !qb_crypto_stream_to_send(&c->cs[CONN_EP_APP]) && c->frec_free != 0 &&
	       qb_recovery_can_send(&c->rec, QB_PN_APP);
}

/*
 * The common datagram, fast (BRIEF §6, build rate): one 1-RTT packet whose
 * only frame is a STREAM frame filling it (conn_stream_slice()). Returns the
 * packet's length, or 0 for the general path (a span too short to fill the
 * packet: more frames follow it there) with nothing changed. In a burst (b)
 * the span is taken for the datagrams that follow too: b slices it
 * (conn_burst.c) and commits it to the stream when the run ends.
 */
static int
send_stream_fast(struct tx *t, uint8_t *buf, size_t cap, struct qb_conn_burst *b)
{
	struct qb_conn *c = t->c;
	const size_t pn_len = qb_recovery_pn_len(&c->rec, QB_PN_APP, (uint8_t)t->path_id,
	                                         c->next_pn[CONN_EP_APP]);
	const size_t hdr = 1 + t->dcid_len + pn_len;
	struct qb_pkt_short_tmpl tmpl_local, *tmpl = b != NULL ? &b->tmpl : &tmpl_local;
	struct qb_send_span sp;
	size_t room, used = 0;
	/* A run re-checks no amplification credit: only on a path that
	 * needs none (RFC 9000 §8.1: the client's, or validated). */
	bool run = b != NULL && b->left > 1 && (!c->is_server || t->path->validated);
	int n;

	if (cap < QB_PKT_SHORT_TMPL_MIN_CAP || cap < hdr + QB_AEAD_TAG_LEN + 64)
		return 0;
	room = cap - hdr - QB_AEAD_TAG_LEN;
	if (!qb_streams_send_peek(c->streams,
	                          run ? room * (b->left < CONN_BURST_RUN ? b->left : CONN_BURST_RUN)
	                              : room,
	                          &sp) ||
	    sp.len == 0)
		return 0;
	if (sp.len + TX_STREAM_HDR_MAX < room)
		return 0; /* cannot fill the packet: conn_stream_slice would refuse it */
	if (qb_pkt_short_tmpl_init(tmpl, t->dcid, t->dcid_len, false, c->tx_phase != 0) != 0)
		return 0;
	n = conn_stream_slice(c, t->path_id, t->now, tmpl, &sp, &used, buf, cap, pn_len);
	if (n <= 0)
		return 0;
	t->last_ep = CONN_EP_APP;
	if (run && used < sp.len) {
		/* cap is clamped as qb_conn_send does: every packet of the run
		 * has it. One length for the run's packet numbers: long enough
		 * for its last. */
		conn_burst_run_start(b, &sp, used, cap,
		                     qb_recovery_pn_len(&c->rec, QB_PN_APP, (uint8_t)t->path_id,
		                                        c->next_pn[CONN_EP_APP] + CONN_BURST_RUN));
	} else {
		conn_span_commit(c, &sp, used);
	}
	return n;
}

/* A packet of PADDING only, when the planned last packet turned out empty. */
static void
pad_datagram(struct tx *t)
{
	int ep = t->last_ep;

	while (ep < CONN_EP_APP && !ep_usable(t->c, ep + 1) && !ep_usable(t->c, ep))
		ep++;
	if (ep < 0 || !ep_usable(t->c, ep) || begin_packet(t, ep) != 0)
		return;
	if (qb_pkt_enc_pad_to(&t->e, QB_MIN_INITIAL_DGRAM) != 0) {
		qb_pkt_enc_abort(&t->e);
		return;
	}
	finish_packet(t, ep, 0, false, true, false);
}

/* Closing state: CONNECTION_CLOSE in every usable space (RFC 9000 §10.2.3). */
static int
send_close(struct qb_conn *c, const struct tx *path_tx, uint8_t *buf, size_t cap, uint64_t now)
{
	struct tx t;
	int first = c->hs_confirmed ? CONN_EP_APP : CONN_EP_INITIAL;

	tx_init(&t, c, now, path_tx->path_id);
	t.path = path_tx->path;
	t.dcid = path_tx->dcid;
	t.dcid_len = path_tx->dcid_len;
	qb_pkt_enc_init(&t.e, buf, cap);
	for (int ep = first; ep < CONN_NEP; ep++) {
		if (!ep_usable(c, ep) || begin_packet(&t, ep) != 0)
			continue;
		struct qb_frame f = {.type = QB_FT_CONNECTION_CLOSE};
		if (c->close.app && ep == CONN_EP_APP) {
			f.type = QB_FT_CONNECTION_CLOSE_APP;
			f.close.error_code = c->close.code;
			f.close.reason = (const uint8_t *)c->close.reason;
			f.close.reason_len = strlen(c->close.reason);
		} else if (c->close.app) {
			/* §10.2.3: no application detail before 1-RTT. */
			f.close.error_code = QB_TE_APPLICATION_ERROR;
		} else {
			f.close.error_code = c->close.code;
			f.close.frame_type = c->close.frame;
			f.close.reason = (const uint8_t *)c->close.reason;
			f.close.reason_len = strlen(c->close.reason);
		}
		if (qb_pkt_enc_frame(&t.e, &f) != 0) {
			qb_pkt_enc_abort(&t.e);
			continue;
		}
		if (ep == CONN_EP_INITIAL && !c->is_server)
			t.need_pad = true;
		bool last = true;
		for (int k = ep + 1; k < CONN_NEP; k++)
			last = last && !ep_usable(c, k);
		if (t.need_pad && last)
			qb_pkt_enc_pad_to(&t.e, QB_MIN_INITIAL_DGRAM);
		finish_packet(&t, ep, 0, false, false, true);
	}
	c->close_pending = false;
	return (int)qb_pkt_enc_len(&t.e);
}

/*
 * A path being validated (RFC 9000 §8.2): one 1-RTT packet of PATH_RESPONSE
 * and PATH_CHALLENGE, padded to 1200 bytes or the 3x limit. Its loss
 * detection is the path's own challenge timer (RFC 9000 §9.4 allows it): it
 * is recorded (the peer will acknowledge it) but neither in flight nor
 * ack-eliciting for recovery, so it is not held back by the congestion
 * controller or the pacer, and its loss on a dead path is no congestion
 * signal for the working one. A few per PTO at most.
 */
static int
send_path_probe(struct tx *t, uint8_t *buf, size_t cap)
{
	struct qb_conn *c = t->c;

	if (!ep_usable(c, CONN_EP_APP))
		return 0;
	/* The ring may have been trimmed to CONN_SENT_IDLE (qb_conn_trim()):
	 * grow it like any other packet, or a few unacknowledged records would
	 * hold the validation back. */
	conn_mem_reserve(c, CONN_EP_APP);
	if (!qb_recovery_can_send(&c->rec, QB_PN_APP)) {
		t->why |= QB_WHY_CONGESTION;
		return 0;
	}
	qb_pkt_enc_init(&t->e, buf, cap);
	if (begin_packet(t, CONN_EP_APP) != 0)
		return 0;
	if (!write_path_frames(t)) {
		qb_pkt_enc_abort(&t->e);
		path_frames_done(t, false);
		return 0;
	}
	qb_pkt_enc_pad_to(&t->e, cap < QB_MIN_INITIAL_DGRAM ? cap : QB_MIN_INITIAL_DGRAM);
	bool sent = finish_packet(t, CONN_EP_APP, 0, false, false, true) == 0;
	path_frames_done(t, sent);
	return sent ? (int)qb_pkt_enc_len(&t->e) : 0;
}

/* The smallest 3x credit a probe of a new path is sent with (§8.2.1). */
#define TX_MIN_PROBE 64

int
conn_send(struct qb_conn *c, uint32_t path_id, uint8_t *buf, size_t cap, uint64_t now,
          uint32_t *why, struct qb_conn_burst *b)
{
	struct tx t;
	uint32_t dummy;

	tx_init(&t, c, now, path_id);

	if (why == NULL)
		why = &dummy;
	*why = 0;
	if (path_id >= QB_CONN_MAX_PATHS || !c->path[path_id].known || cap < QB_MIN_INITIAL_DGRAM)
		return QB_ERR_ARG;
	t.path = &c->path[path_id];
	if (c->state == QB_CONN_CLOSED || c->state == QB_CONN_DRAINING ||
	    (c->state == QB_CONN_CLOSING && (!c->close_pending || path_id != conn_primary(c)))) {
		*why = QB_WHY_CLOSED;
		return 0;
	}
	int mode = c->state == QB_CONN_CLOSING ? CONN_TX_FULL : conn_path_mode(c, path_id, why);
	if (mode == CONN_TX_NONE)
		return 0;
	if (cap > c->peer_max_udp)
		cap = (size_t)c->peer_max_udp;
	if (c->is_server && !t.path->validated) {
		/* RFC 9000 §8.1: at most 3x the bytes received before validation.
		 * §14.1 pads only datagrams with an ack-eliciting Initial to 1200
		 * bytes: such an Initial waits for that much credit, Handshake
		 * data (with an ACK-only Initial) goes in whatever is left. */
		bool hs = (int)path_id == c->hs_path;
		/* Not while the Initial owes data (a lost ServerHello): the
		 * client could not open Handshake packets without it. */
		bool hs_data = hs && ep_usable(c, CONN_EP_HANDSHAKE) &&
		               (qb_crypto_stream_to_send(&c->cs[CONN_EP_HANDSHAKE]) ||
		                qb_recovery_probes(&c->rec, QB_PN_HANDSHAKE) > 0) &&
		               !(ep_usable(c, CONN_EP_INITIAL) &&
		                 (qb_crypto_stream_to_send(&c->cs[CONN_EP_INITIAL]) ||
		                  qb_recovery_probes(&c->rec, QB_PN_INITIAL) > 0));
		if (conn_path_amp_blocked(c, path_id,
		                          hs && !hs_data ? QB_MIN_INITIAL_DGRAM : TX_MIN_PROBE)) {
			if (hs)
				qb_recovery_set_amplification_limited(&c->rec, true, now);
			*why = QB_WHY_AMPLIFICATION;
			return 0;
		}
		uint64_t credit = 3 * t.path->rx_bytes - t.path->tx_bytes;
		if (credit < cap)
			cap = (size_t)credit;
		t.initial_ack_only = cap < QB_MIN_INITIAL_DGRAM;
	}
	t.dcid = conn_path_dcid(c, path_id, &t.dcid_len);
	if (t.dcid == NULL) {
		*why = QB_WHY_NO_CID;
		return 0;
	}
	int len;
	if (c->state == QB_CONN_CLOSING) {
		len = send_close(c, &t, buf, cap, now);
	} else if (mode == CONN_TX_PROBE) {
		len = send_path_probe(&t, buf, cap);
		if (len == 0) {
			*why = t.why ? t.why : QB_WHY_PATH_UNVALIDATED;
			return 0;
		}
	} else {
		/* Multi-path handshake, client, before an answer: each path's first
		 * datagram (and each after a PTO) carries all the Initial data
		 * again, so whichever path works can become the handshake path. */
		if (!c->is_server && c->hs_path < 0 && !t.path->initial_sent &&
		    ep_usable(c, CONN_EP_INITIAL))
			qb_crypto_stream_on_lost(&c->cs[CONN_EP_INITIAL], c->cfg.pools, 0,
			                         c->cs[CONN_EP_INITIAL].tx.sent);
		bool probe = false;
		for (int ep = 0; ep < CONN_NEP; ep++)
			probe |= qb_recovery_probes(&c->rec, (enum qb_pn_space)ep) > 0;
		if (!c->discarded[CONN_EP_APP])
			conn_mem_reserve(c, CONN_EP_APP);
		bool cc_ok = qb_cc_can_send(&c->cc) && qb_recovery_can_send(&c->rec, QB_PN_APP);
		t.eliciting_ok = cc_ok;
		if (cc_ok && !probe) {
			uint64_t next = qb_pacer_next_send_time(&c->pacer, now);
			if (next > now) {
				t.eliciting_ok = false;
				t.why |= QB_WHY_PACING;
				c->pacing_next = next;
			}
		}
		if (!cc_ok)
			t.why |= QB_WHY_CONGESTION;
		/* RFC 9001 §6.6: a key is retired well before its limit. */
		if (c->hs_confirmed &&
		    c->next_pn[CONN_EP_APP] - c->tx_phase_first_pn >= c->cfg.key_update_packets)
			qb_conn_key_update(c); /* refused until the last update is acked */
		bool has[CONN_NEP];
		int last = -1;
		for (int ep = 0; ep < CONN_NEP; ep++)
			if ((has[ep] = ep_has_data(&t, ep)))
				last = ep;
		len = 0;
		if (fast_path_ok(&t, has, last, probe))
			len = send_stream_fast(&t, buf, cap, b);
		if (len == 0) {
			qb_pkt_enc_init(&t.e, buf, cap);
			for (int ep = 0; ep <= last; ep++)
				if (has[ep])
					write_packet(&t, ep, ep == last);
			if (t.need_pad && qb_pkt_enc_len(&t.e) < QB_MIN_INITIAL_DGRAM)
				pad_datagram(&t);
			len = (int)qb_pkt_enc_len(&t.e);
		}
		if (len == 0) {
			/* Why nothing: what the caller waits for. */
			if (!ep_usable(c, CONN_EP_APP) &&
			    (qb_streams_tx_status(c->streams) & QB_STREAMS_TX_DATA))
				t.why |= QB_WHY_KEYS;
			if (qb_streams_tx_status(c->streams) & QB_STREAMS_TX_BLOCKED)
				t.why |= QB_WHY_FLOW_CONTROL;
			if (t.why == 0)
				t.why = QB_WHY_NO_DATA;
			*why = t.why;
			return 0;
		}
		if (!c->is_server && c->sent_handshake_pkt && !c->discarded[CONN_EP_INITIAL])
			/* RFC 9001 §4.9.1: the client drops Initial keys once it sends Handshake.
			 */
			conn_discard_epoch(c, CONN_EP_INITIAL, now);
	}
	if (t.wrote_initial)
		t.path->initial_sent = true;
	conn_dgram_sent(c, t.path, (size_t)len, now);
	return len;
}

int
qb_conn_send(struct qb_conn *c, uint32_t path_id, uint8_t *buf, size_t cap, uint64_t now,
             uint32_t *why)
{
	int len = conn_send(c, path_id, buf, cap, now, why, NULL);
	if (CONN_QLOG(c) && len > 0)
		qb_qlog_conn_sync(c, now);
	return len;
}
