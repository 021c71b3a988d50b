/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The send fast path and the path burst (BRIEF §2, §6). The common datagram
 * is one 1-RTT packet whose only frame is a STREAM frame filling it (RFC 9000
 * §19.8: no Length, the data runs to the end): its short header comes from a
 * template of the path's DCID (qb_pkt_enc_short_stream_tmpl) and the frame
 * header is sealed together with the data straight from the send buffer
 * (qb_crypto_protect_gap borrowing the bytes before the data;
 * qb_crypto_protect_from for read-only memory): no encoder, no plaintext
 * copy. In a burst, the send-buffer span is taken once for many such
 * packets and the per-datagram checks of qb_conn_send shrink to the few a
 * packet can change (window, pacer, records, ACK lag, key age).
 */
#include <string.h>

#include "conn/conn_internal.h"

/* A span's gap is what qb_crypto_protect_gap may borrow. */
_Static_assert(QB_SEND_GAP <= QB_CRYPTO_GAP_MAX, "send gap beyond the protect gap");

int
conn_stream_slice(struct qb_conn *c, unsigned path_id, uint64_t now,
                  const struct qb_pkt_short_tmpl *tmpl, const struct qb_send_span *sp, size_t *used,
                  uint8_t *buf, size_t cap, size_t pn_len)
{
	const uint64_t pn = c->next_pn[CONN_EP_APP];
	const uint64_t offset = sp->offset + *used;
	struct qb_pkt_layout lay;
	size_t taken, head_len;
	uint32_t head = 0;
	int n;

	n = qb_pkt_enc_short_stream_tmpl(tmpl, buf, cap, pn, pn_len, sp->stream_id, offset,
	                                 sp->len - *used, sp->fin, &taken, &lay);
	if (n < 0 || (size_t)n != cap)
		return 0; /* not a full packet: the general path adds frames after it */
	/* The frame header's bytes: what goes before the data in the plaintext. */
	head_len = lay.payload_len - taken;
	if (sp->gap >= head_len)
		n = qb_crypto_protect_gap(c->txk[CONN_EP_APP], buf, lay.pn_offset, pn_len, pn,
		                          head_len, (uint8_t *)(uintptr_t)(sp->data + *used),
		                          taken);
	else
		n = qb_crypto_protect_from(c->txk[CONN_EP_APP], buf, lay.pn_offset, pn_len, pn,
		                           head_len, sp->data + *used, taken);
	if (n < 0)
		return 0; /* cannot happen with a present key */
	*used += taken;
	/* The caller checked a record is free. */
	conn_frec_stream(c, &head, sp->stream_id, offset, taken, sp->fin && *used == sp->len);
	conn_packet_sent(c, CONN_EP_APP, path_id, now, pn, lay.len, head, true, false, false);
	c->st.pkts_sent_direct++;
	if (c->rx[CONN_EP_APP].ack_pending)
		c->acks_waited++;
	return n;
}

void
conn_span_commit(struct qb_conn *c, const struct qb_send_span *sp, size_t used)
{
	struct qb_send_span done = *sp;

	done.len = used;
	done.fin = sp->fin && used == sp->len;
	qb_streams_send_commit(c->streams, &done);
}

/* ---- the burst ------------------------------------------------------------ */

void
qb_conn_burst_begin(struct qb_conn_burst *b, struct qb_conn *c, uint32_t path_id, unsigned max,
                    uint64_t now)
{
	b->c = c;
	b->path_id = path_id;
	b->left = max;
	b->now = now;
	b->fast = false;
}

/* The run ends: the span's bytes sent so far go to the stream. */
static void
burst_stop(struct qb_conn_burst *b)
{
	if (b->fast) {
		conn_span_commit(b->c, &b->span, b->used);
		b->fast = false;
	}
}

/*
 * The next packet of the run, or 0 when it must end. Only what a packet of
 * the run can change is checked again: qb_conn_send made every other check
 * for its first packet, and nothing else runs on the connection meanwhile.
 */
static int
burst_next(struct qb_conn_burst *b, uint8_t *buf, size_t cap)
{
	struct qb_conn *c = b->c;
	const struct qb_sent_ring *ring = &c->rec.space[QB_PN_APP].sent;
	int n;

	/* The run's packets share the first one's now: the pacer has nothing
	 * to refill (qb_pacer_ready). RFC 9002 §7, §7.7; qb_conn_send says why
	 * when the run ends here. */
	if (cap != b->cap || !qb_cc_can_send(&c->cc) || !qb_pacer_ready(&c->pacer))
		return 0;
	/* Room for a sent record and a frame record, as conn_mem_reserve()
	 * makes it (this is its common case, inline). */
	if (ring->head - ring->tail > ring->mask ||
	    c->frec_cap - c->frec_used < CONN_FREC_PER_PKT) {
		conn_mem_reserve(c, CONN_EP_APP);
		if (!qb_recovery_can_send(&c->rec, QB_PN_APP))
			return 0;
	}
	if (c->frec_free == 0 || !conn_ack_can_wait(c) ||
	    c->next_pn[CONN_EP_APP] - c->tx_phase_first_pn >= c->cfg.key_update_packets)
		return 0;
	n = conn_stream_slice(c, b->path_id, b->now, &b->tmpl, &b->span, &b->used, buf, cap,
	                      b->pn_len);
	if (n > 0)
		conn_dgram_sent(c, &c->path[b->path_id], (size_t)n, b->now);
	return n;
}

int
qb_conn_burst_send(struct qb_conn_burst *b, uint8_t *buf, size_t cap, uint32_t *why)
{
	int n;

	if (b->fast) {
		if (b->left > 0 && b->used < b->span.len && (n = burst_next(b, buf, cap)) > 0) {
			b->left--;
			if (why != NULL)
				*why = 0;
			return n;
		}
		burst_stop(b);
	}
	n = conn_send(b->c, b->path_id, buf, cap, b->now, why, b);
	if (b->left > 0)
		b->left--;
	if (n <= 0)
		burst_stop(b);
	return n;
}

void
qb_conn_burst_end(struct qb_conn_burst *b)
{
	burst_stop(b);
	if (CONN_QLOG(b->c))
		qb_qlog_conn_sync(b->c, b->now);
}

unsigned
qb_conn_burst_quota(struct qb_conn *c, uint64_t now, unsigned max, size_t size)
{
	uint64_t room = c->cc.cwnd > c->cc.bytes_in_flight ? c->cc.cwnd - c->cc.bytes_in_flight : 0;
	uint32_t sz = (uint32_t)(size < QB_MIN_INITIAL_DGRAM ? QB_MIN_INITIAL_DGRAM
	                         : size > 65535              ? 65535
	                                                     : size);
	/* A packet goes while bytes_in_flight < cwnd: room / size, rounded up. */
	uint64_t n = room / sz + (room % sz != 0);
	uint32_t paced = qb_pacer_quota_of(&c->pacer, now, sz);

	if (paced < n)
		n = paced;
	if (n < 1)
		n = 1;
	return n < max ? (unsigned)n : max;
}
