/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The crypto stream of one epoch (RFC 9000 §7.5, §19.6): the same buffers as
 * a stream, with no flow control and no FIN; out-of-order data is bounded.
 */
#include <string.h>

#include "qburst/error.h"
#include "stream_internal.h"

void
qb_crypto_stream_init(struct qb_crypto_stream *cs)
{
	memset(cs, 0, sizeof(*cs));
}

void
qb_crypto_stream_free(struct qb_crypto_stream *cs, struct qb_stream_pools *p)
{
	qb_rbuf_free(&cs->rx, p);
	qb_sbuf_free(&cs->tx, p);
	qb_crypto_stream_init(cs);
}

int
qb_crypto_stream_on_frame(struct qb_crypto_stream *cs, struct qb_stream_pools *p, uint64_t offset,
                          const uint8_t *data, size_t len, uint64_t max_buffer, uint64_t *terr)
{
	/* RFC 9000 §19.6: offset + length cannot exceed 2^62 - 1. */
	if (offset > QB_STREAM_MAX_OFFSET || len > QB_STREAM_MAX_OFFSET - offset) {
		*terr = QB_TE_FRAME_ENCODING_ERROR;
		return QB_ERR_PROTO;
	}
	/* RFC 9000 §7.5: data beyond what we are willing to buffer ahead of the
	 * read point closes the connection with CRYPTO_BUFFER_EXCEEDED. */
	if (offset + len > cs->rx.read + max_buffer) {
		*terr = QB_TE_CRYPTO_BUFFER_EXCEEDED;
		return QB_ERR_PROTO;
	}
	return qb_rbuf_write(&cs->rx, p, offset, data, len);
}

size_t
qb_crypto_stream_peek(const struct qb_crypto_stream *cs, const struct qb_stream_pools *p,
                      const uint8_t **data)
{
	return qb_rbuf_peek(&cs->rx, p->chunk_size, data);
}

void
qb_crypto_stream_consume(struct qb_crypto_stream *cs, struct qb_stream_pools *p, size_t n)
{
	qb_rbuf_consume(&cs->rx, p, n);
}

int
qb_crypto_stream_write(struct qb_crypto_stream *cs, struct qb_stream_pools *p, const uint8_t *data,
                       size_t len)
{
	const uint32_t csz = p->chunk_size;
	uint64_t need;

	if (len > INT32_MAX)
		return QB_ERR_ARG;
	if (len == 0)
		return 0;
	/* All or nothing (the handshake cannot resume a message mid-way): count
	 * the chunks [end, end + len) spans, less the tail if it has room. */
	need = (cs->tx.end + len - 1) / csz - cs->tx.end / csz + 1;
	if (cs->tx.tail != NULL && cs->tx.end < cs->tx.tail->base + csz)
		need--;
	if (need > qb_pool_avail(&p->chunks))
		return QB_ERR_NOMEM;
	if (qb_sbuf_append(&cs->tx, p, data, len) != len)
		return QB_ERR_NOMEM; /* only under QB_POOL_MALLOC with malloc failing */
	return (int)len;
}

bool
qb_crypto_stream_send_peek(struct qb_crypto_stream *cs, const struct qb_stream_pools *p,
                           size_t max_len, struct qb_send_span *out)
{
	const uint32_t csz = p->chunk_size;

	memset(out, 0, sizeof(*out));
	/* Asked for every datagram, and nearly always empty once the handshake is done. */
	if (!qb_crypto_stream_to_send(cs))
		return false;
	if (qb_sbuf_peek_lost(&cs->tx, csz, max_len, &out->offset, &out->data, &out->len,
	                      &out->gap)) {
		out->retransmit = true;
		return true;
	}
	out->offset = cs->tx.sent;
	out->len = qb_sbuf_peek_new(&cs->tx, csz, UINT64_MAX, max_len, &out->data, &out->gap);
	return out->len > 0;
}

void
qb_crypto_stream_send_commit(struct qb_crypto_stream *cs, const struct qb_stream_pools *p,
                             uint64_t offset, size_t len)
{
	qb_sbuf_commit(&cs->tx, p->chunk_size, offset, len);
}

void
qb_crypto_stream_on_acked(struct qb_crypto_stream *cs, struct qb_stream_pools *p, uint64_t offset,
                          uint64_t len)
{
	qb_sbuf_on_acked(&cs->tx, p, offset, len);
}

void
qb_crypto_stream_on_lost(struct qb_crypto_stream *cs, const struct qb_stream_pools *p,
                         uint64_t offset, uint64_t len)
{
	qb_sbuf_on_lost(&cs->tx, p->chunk_size, offset, len);
}

bool
qb_crypto_stream_pending(const struct qb_crypto_stream *cs)
{
	return cs->tx.acked < cs->tx.end;
}
