/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frame records: what each sent packet carried, so that a loss re-queues the
 * frames (not a copy of the packet, RFC 9002 §6) and an ACK retires them.
 * A packet's records form a list whose head (index + 1) is the sent
 * record's `frames` handle; the table is allocated once per connection.
 */
#include <string.h>

#include "conn/conn_internal.h"

void
conn_frec_init(struct qb_conn *c)
{
	c->frec_free = 0;
	for (uint32_t i = c->frec_cap; i > 0; i--) {
		c->frec[i - 1].next = c->frec_free;
		c->frec_free = i;
	}
	c->frec_used = 0;
}

/* A new record linked at the front of *head's list; NULL when the table is empty. */
struct conn_frec *
conn_frec_add(struct qb_conn *c, uint32_t *head)
{
	uint32_t i = c->frec_free;
	if (i == 0)
		return NULL;
	struct conn_frec *r = &c->frec[i - 1];
	c->frec_free = r->next;
	memset(r, 0, sizeof(*r));
	r->next = *head;
	*head = i;
	c->frec_used++;
	return r;
}

void
conn_frec_free_list(struct qb_conn *c, uint32_t head)
{
	while (head != 0) {
		struct conn_frec *r = &c->frec[head - 1];
		uint32_t next = r->next;
		r->next = c->frec_free;
		c->frec_free = head;
		c->frec_used--;
		head = next;
	}
}

void
conn_acked_flush(struct qb_conn *c)
{
	struct conn_acked_run *a = &c->acked_run;

	if (a->live)
		qb_streams_on_data_acked(c->streams, a->id, a->lo, a->hi - a->lo, a->fin);
	a->live = false;
}

static void
on_acked(void *ctx, enum qb_pn_space space, const struct qb_sent_pkt *pkt)
{
	struct qb_conn *c = ctx;
	struct conn_acked_run *run = &c->acked_run;

	for (uint32_t i = pkt->frames; i != 0; i = c->frec[i - 1].next) {
		struct conn_frec *r = &c->frec[i - 1];
		if (r->kind == FREC_STREAM) {
			/*
			 * A packet's STREAM frames for one stream are adjacent
			 * pieces (split where the send buffer's chunks end), listed
			 * last first, and the packets an ACK covers carry the pieces
			 * that follow: passed on one by one, a higher piece could
			 * arrive before the lower and take the send buffer's
			 * out-of-order path (bitmaps), and each would cost a stream
			 * lookup. One call per run, when the ACK is done.
			 */
			if (run->live && r->id == run->id && r->offset + r->len == run->lo) {
				run->lo = r->offset;
				run->fin |= r->fin;
				continue;
			}
			if (run->live && r->id == run->id && r->offset == run->hi) {
				run->hi += r->len;
				run->fin |= r->fin;
				continue;
			}
			conn_acked_flush(c);
			*run = (struct conn_acked_run){.live = true,
			                               .fin = r->fin,
			                               .id = r->id,
			                               .lo = r->offset,
			                               .hi = r->offset + r->len};
			continue;
		}
		if (r->kind == FREC_CTRL)
			conn_acked_flush(c); /* stream-layer frames keep their order */
		switch (r->kind) {
		case FREC_ACK:
			/* RFC 9000 §13.2.4: the peer has our ACK; stop repeating it. */
			qb_rx_on_ack_acked(&c->rx[space], r->offset);
			break;
		case FREC_CRYPTO:
			if (!c->discarded[r->epoch])
				qb_crypto_stream_on_acked(&c->cs[r->epoch], c->cfg.pools, r->offset,
				                          r->len);
			break;
		case FREC_CTRL:
			qb_streams_ctrl_acked(c->streams, &r->ctrl);
			break;
		case FREC_RETIRE_CID:
			qb_cid_peer_retire_acked(&c->pcid, r->id);
			break;
		case FREC_NEW_CID:
			qb_cid_local_acked(&c->lcid, r->id);
			break;
		default:
			break;
		}
	}
	conn_frec_free_list(c, pkt->frames);
}

static void
on_lost(void *ctx, enum qb_pn_space space, const struct qb_sent_pkt *pkt)
{
	struct qb_conn *c = ctx;

	conn_acked_flush(c); /* what this ACK acknowledged first */
	c->st.pkts_lost++;
	if (CONN_QLOG(c))
		qb_qlog_conn_lost(c, (int)space, pkt);
	for (uint32_t i = pkt->frames; i != 0; i = c->frec[i - 1].next) {
		struct conn_frec *r = &c->frec[i - 1];
		switch (r->kind) {
		case FREC_CRYPTO:
			if (!c->discarded[r->epoch])
				qb_crypto_stream_on_lost(&c->cs[r->epoch], c->cfg.pools, r->offset,
				                         r->len);
			break;
		case FREC_STREAM:
			qb_streams_on_data_lost(c->streams, r->id, r->offset, r->len, r->fin);
			break;
		case FREC_CTRL:
			qb_streams_ctrl_lost(c->streams, &r->ctrl);
			break;
		case FREC_HANDSHAKE_DONE:
			/* RFC 9000 §13.3: sent again until acknowledged. */
			if (!c->hs_done_pending && c->is_server)
				c->hs_done_pending = true;
			break;
		case FREC_RETIRE_CID:
			qb_cid_peer_retire_lost(&c->pcid, r->id);
			break;
		case FREC_NEW_CID:
			qb_cid_local_lost(&c->lcid, r->id);
			break;
		default: /* ACK: a newer one is generated from the received ranges */
			break;
		}
	}
	conn_frec_free_list(c, pkt->frames);
}

static void
on_discarded(void *ctx, enum qb_pn_space space, const struct qb_sent_pkt *pkt)
{
	struct qb_conn *c = ctx;

	(void)space;
	conn_acked_flush(c);
	conn_frec_free_list(c, pkt->frames);
}

const struct qb_recovery_cb conn_recovery_cb_tmpl = {
        .on_acked = on_acked,
        .on_lost = on_lost,
        .on_discarded = on_discarded,
};
