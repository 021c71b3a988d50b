/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Chunked send and receive buffers. A chunk covers a chunk-aligned range of
 * stream offsets, so the chunk holding an offset is found by walking the list
 * from the closest known chunk (a hint that follows the traffic makes in-order
 * work O(1)). Per-byte bitmaps record what arrived (receive) and what was
 * acknowledged or lost (send): exact under any reordering, overlap or
 * duplication, and bounded by the data held.
 */
#include <string.h>

#include "qburst/error.h"
#include "stream_internal.h"

int
qb_stream_pools_init(struct qb_stream_pools *p, uint32_t chunk_size, uint32_t max_chunks,
                     uint32_t max_streams)
{
	int rc;

	*p = (struct qb_stream_pools){0};
	if (chunk_size < 64 || chunk_size > 65536 || (chunk_size & (chunk_size - 1)) != 0)
		return QB_ERR_ARG;
	p->chunk_size = chunk_size;
	rc = qb_pool_init(&p->chunks, sizeof(struct qb_chunk) + 2 * (chunk_size / 8) + chunk_size,
	                  max_chunks);
	if (rc < 0)
		return rc;
	rc = qb_pool_init(&p->streams, sizeof(struct qb_stream), max_streams);
	if (rc < 0) {
		qb_pool_fini(&p->chunks);
		return rc;
	}
	return 0;
}

void
qb_stream_pools_fini(struct qb_stream_pools *p)
{
	qb_pool_fini(&p->chunks);
	qb_pool_fini(&p->streams);
}

/* --- Bit ranges [from, to) within one chunk's bitmap ---------------------- */

static inline uint64_t
word_mask(uint32_t w, uint32_t from, uint32_t to)
{
	uint32_t lo = w * 64, hi = lo + 64;
	uint64_t m = ~UINT64_C(0);

	if (from > lo)
		m &= ~UINT64_C(0) << (from - lo);
	if (to < hi)
		m &= ~UINT64_C(0) >> (hi - to);
	return m;
}

static void
bits_set(uint64_t *map, uint32_t from, uint32_t to)
{
	for (uint32_t w = from / 64; from < to && w <= (to - 1) / 64; w++)
		map[w] |= word_mask(w, from, to);
}

/* First index in [from, to) whose bit equals `one`, or to. A NULL map is a
 * map never written: all zero. */
static uint32_t
bits_find(const uint64_t *map, uint32_t from, uint32_t to, bool one)
{
	if (map == NULL)
		return one ? to : from;
	for (uint32_t w = from / 64; from < to && w <= (to - 1) / 64; w++) {
		uint64_t v = (one ? map[w] : ~map[w]) & word_mask(w, from, to);
		if (v != 0)
			return w * 64 + (uint32_t)__builtin_ctzll(v);
	}
	return to;
}

static struct qb_chunk *
chunk_new(struct qb_stream_pools *p, uint64_t base)
{
	struct qb_chunk *c = qb_pool_get(&p->chunks);

	if (c == NULL)
		return NULL;
	c->next = NULL;
	c->ext = NULL;
	c->base = base;
	c->valid = 0;
	c->flags = 0;
	c->chain = 0;
	return c;
}

/* Map k of c for writing, zeroed on first use. */
static uint64_t *
map_w(struct qb_chunk *c, unsigned k, uint32_t cs)
{
	uint32_t w = qb_chunk_words(cs);

	if ((c->valid & (1u << k)) == 0) {
		memset(c->map + k * w, 0, w * sizeof(uint64_t));
		c->valid |= 1u << k;
	}
	return c->map + k * w;
}

/* Map k of c for reading, or NULL while it was never written (all zero). */
static const uint64_t *
map_r(const struct qb_chunk *c, unsigned k, uint32_t cs)
{
	return (c->valid & (1u << k)) ? c->map + k * qb_chunk_words(cs) : NULL;
}

/* The chunk in a sorted list starting at the best of `from` candidates whose
 * base <= target: walking starts as close as possible. */
static struct qb_chunk *
chunk_start(struct qb_chunk *head, struct qb_chunk *a, struct qb_chunk *b, uint64_t base)
{
	struct qb_chunk *c = head;

	if (a != NULL && a->base <= base && (c == NULL || a->base > c->base))
		c = a;
	if (b != NULL && b->base <= base && (c == NULL || b->base > c->base))
		c = b;
	return c;
}

/* --- Receive buffer ------------------------------------------------------ */

/* The chunk at `base`, inserted (zeroed) if missing; NULL if the pool is dry. */
static struct qb_chunk *
rbuf_chunk(struct qb_rbuf *rb, struct qb_stream_pools *p, uint64_t base)
{
	struct qb_chunk **pp = &rb->head, *c;

	c = chunk_start(NULL, rb->hint, NULL, base);
	if (c != NULL) {
		if (c->base == base)
			return c;
		pp = &c->next;
	}
	while (*pp != NULL && (*pp)->base < base)
		pp = &(*pp)->next;
	if (*pp != NULL && (*pp)->base == base) {
		rb->hint = *pp;
		return *pp;
	}
	c = chunk_new(p, base);
	if (c == NULL)
		return NULL;
	c->next = *pp;
	*pp = c;
	rb->hint = c;
	return c;
}

/* Move the contiguous point over bytes that arrived out of order. */
static void
rbuf_advance(struct qb_rbuf *rb, uint32_t cs)
{
	uint64_t pos = rb->contig;
	struct qb_chunk *c;

	if (pos >= rb->hi)
		return;
	c = chunk_start(rb->head, rb->hint, NULL, pos & ~(uint64_t)(cs - 1));
	while (c != NULL && c->base + cs <= pos)
		c = c->next;
	while (c != NULL && c->base <= pos) {
		uint32_t idx = bits_find(map_r(c, 0, cs), (uint32_t)(pos - c->base), cs, false);
		pos = c->base + idx;
		if (idx < cs)
			break;
		c = c->next;
	}
	rb->contig = pos;
}

int
qb_rbuf_write(struct qb_rbuf *rb, struct qb_stream_pools *p, uint64_t off, const uint8_t *data,
              size_t len)
{
	const uint32_t cs = p->chunk_size;
	uint64_t end = off + len;
	bool extends;
	int rc = 0;

	if (end <= rb->contig)
		return 0; /* a duplicate of what we have (or consumed) */
	if (off < rb->contig) {
		data += rb->contig - off;
		off = rb->contig;
	}
	/* Bytes that extend the contiguous run need no bits: contig covers them. */
	extends = off == rb->contig;
	while (off < end) {
		uint64_t base = off & ~(uint64_t)(cs - 1);
		struct qb_chunk *c = rbuf_chunk(rb, p, base);
		uint64_t n;

		if (c == NULL) {
			rc = QB_ERR_NOMEM;
			break;
		}
		n = (end < base + cs ? end : base + cs) - off;
		memcpy(qb_chunk_data(c, cs) + (off - base), data, n);
		if (!extends)
			bits_set(map_w(c, 0, cs), (uint32_t)(off - base),
			         (uint32_t)(off - base + n));
		off += n;
		data += n;
	}
	if (off > rb->hi)
		rb->hi = off;
	if (extends) {
		rb->contig = off;
		rbuf_advance(rb, cs);
	}
	return rc;
}

size_t
qb_rbuf_peek(const struct qb_rbuf *rb, uint32_t cs, const uint8_t **data)
{
	const struct qb_chunk *c = rb->head;
	uint64_t stop;

	if (rb->read >= rb->contig || c == NULL)
		return 0;
	stop = c->base + cs < rb->contig ? c->base + cs : rb->contig;
	*data = qb_chunk_data((struct qb_chunk *)c, cs) + (rb->read - c->base);
	return (size_t)(stop - rb->read);
}

void
qb_rbuf_consume(struct qb_rbuf *rb, struct qb_stream_pools *p, size_t n)
{
	const uint32_t cs = p->chunk_size;

	rb->read += n;
	if (rb->read > rb->contig)
		rb->read = rb->contig;
	if (rb->read == rb->hi) {
		/* Nothing unread is buffered: an idle stream holds no chunk. */
		qb_rbuf_free(rb, p);
		return;
	}
	while (rb->head != NULL && rb->head->base + cs <= rb->read) {
		struct qb_chunk *c = rb->head;
		rb->head = c->next;
		if (rb->hint == c)
			rb->hint = NULL;
		qb_pool_put(&p->chunks, c);
	}
}

void
qb_rbuf_free(struct qb_rbuf *rb, struct qb_stream_pools *p)
{
	while (rb->head != NULL) {
		struct qb_chunk *c = rb->head;
		rb->head = c->next;
		qb_pool_put(&p->chunks, c);
	}
	rb->hint = NULL;
}

/* --- Send buffer --------------------------------------------------------- */

static struct qb_chunk *
sbuf_chunk(struct qb_sbuf *sb, uint32_t cs, uint64_t off)
{
	uint64_t base = off & ~(uint64_t)(cs - 1);
	struct qb_chunk *c = chunk_start(sb->head, sb->hint, sb->cur, base);

	while (c != NULL && c->base < base)
		c = c->next;
	if (c == NULL || c->base != base)
		return NULL; /* below the acknowledged prefix, or past the end */
	sb->hint = c;
	return c;
}

size_t
qb_sbuf_append(struct qb_sbuf *sb, struct qb_stream_pools *p, const uint8_t *data, size_t len)
{
	const uint32_t cs = p->chunk_size;
	size_t done = 0;

	while (done < len) {
		struct qb_chunk *t = sb->tail;
		size_t n;

		if (t != NULL && t->ext != NULL && sb->end < t->base + cs) {
			/* A referenced chunk only partly filled: its bytes move
			 * into its own data area, which takes the copy. Only when
			 * a stream mixes both kinds of writes. */
			memcpy(qb_chunk_data(t, cs), t->ext, (size_t)(sb->end - t->base));
			t->ext = NULL;
			t->flags = 0;
			t->chain = 0;
		}
		if (t == NULL || sb->end >= t->base + cs) {
			/* Chunks stay aligned even when an emptied buffer restarts
			 * mid-chunk; the bytes below `end` in it are unused. */
			struct qb_chunk *c = chunk_new(p, sb->end & ~(uint64_t)(cs - 1));
			if (c == NULL)
				break;
			if (t == NULL)
				sb->head = c;
			else
				t->next = c;
			sb->tail = t = c;
		}
		n = (size_t)(t->base + cs - sb->end);
		if (n > len - done)
			n = len - done;
		memcpy(qb_chunk_data(t, cs) + (sb->end - t->base), data + done, n);
		sb->end += n;
		done += n;
	}
	return done;
}

/*
 * Appends by reference: data is not copied but pointed to (the caller keeps
 * data valid and unchanged until it is freed: every byte acknowledged, the
 * stream reset, or the buffer freed), a chunk per chunk-aligned piece, the
 * last one possibly partly filled. Bytes before the first chunk boundary are
 * copied, so chunks stay aligned and a chunk is either all copied or all
 * referenced, unless they continue the memory of a partly filled referenced
 * chunk (the next piece of the same buffer): then that chunk takes them.
 */
size_t
qb_sbuf_append_ref(struct qb_sbuf *sb, struct qb_stream_pools *p, const uint8_t *data, size_t len,
                   bool writable)
{
	const uint32_t cs = p->chunk_size;
	const uint32_t flags = writable ? QB_CHUNK_EXT_RW : 0;
	size_t head = (size_t)((cs - (sb->end & (cs - 1))) & (cs - 1));
	struct qb_chunk *t = sb->tail;
	size_t done;

	if (head > len)
		head = len;
	if (head > 0 && t != NULL && t->ext != NULL && t->flags == flags && sb->end > t->base &&
	    t->ext + (sb->end - t->base) == data) {
		sb->end += head;
		done = head;
	} else {
		done = qb_sbuf_append(sb, p, data, head);
		if (done < head)
			return done;
	}
	while (done < len) {
		struct qb_chunk *c = chunk_new(p, sb->end);
		size_t n = len - done < cs ? len - done : cs;

		if (c == NULL)
			return done;
		c->ext = data + done;
		c->flags = flags;
		if (sb->tail != NULL && sb->tail->ext != NULL && sb->tail->ext + cs == c->ext &&
		    sb->tail->flags == flags)
			c->chain = sb->tail->chain + (sb->tail->chain != UINT32_MAX);
		if (sb->tail == NULL)
			sb->head = c;
		else
			sb->tail->next = c;
		sb->tail = c;
		sb->end += n;
		done += n;
	}
	return done;
}

/* Where chunk c's bytes are. */
static inline const uint8_t *
sbuf_data(struct qb_chunk *c, uint32_t cs)
{
	return c->ext != NULL ? c->ext : qb_chunk_data(c, cs);
}

/*
 * The bytes before byte `from` of chunk c that a sender may borrow
 * (qb_crypto_protect_gap): in a pool chunk, the chunk's own memory before
 * it (its header and bitmaps, or bytes before it: at least 48); in
 * referenced memory, QB_SEND_GAP if the application allowed it, else none.
 */
static inline uint8_t
sbuf_gap(const struct qb_chunk *c, uint32_t cs, uint32_t from)
{
	size_t before;

	if (c->ext != NULL)
		return (c->flags & QB_CHUNK_EXT_RW) ? QB_SEND_GAP : 0;
	before = sizeof(*c) + 2 * sizeof(uint64_t) * qb_chunk_words(cs) + from;
	return before < QB_SEND_GAP ? (uint8_t)before : QB_SEND_GAP;
}

bool
qb_sbuf_peek_lost(struct qb_sbuf *sb, uint32_t cs, size_t max, uint64_t *off, const uint8_t **data,
                  size_t *len, uint8_t *gap)
{
	/* Acks may have moved past lost_lo (and freed its chunk) meanwhile. */
	if (sb->lost_lo < sb->acked)
		sb->lost_lo = sb->acked;
	while (sb->lost > 0 && sb->lost_lo < sb->sent) {
		struct qb_chunk *c = sbuf_chunk(sb, cs, sb->lost_lo);
		uint32_t from, to, lim;

		if (c == NULL)
			break;
		from = bits_find(map_r(c, 1, cs), (uint32_t)(sb->lost_lo - c->base), cs, true);
		if (from == cs) {
			sb->lost_lo = c->base + cs;
			continue;
		}
		sb->lost_lo = c->base + from;
		lim = max < cs - from ? from + (uint32_t)max : cs;
		to = bits_find(map_r(c, 1, cs), from, lim, false);
		*off = c->base + from;
		*data = sbuf_data(c, cs) + from;
		*gap = sbuf_gap(c, cs, from);
		*len = to - from;
		return *len > 0;
	}
	sb->lost = 0; /* defensive: no lost byte can exist at or above sent */
	return false;
}

/* Whether chunk c's referenced memory runs on to the end of the tail's. */
static inline bool
sbuf_in_tail_chain(const struct qb_sbuf *sb, const struct qb_chunk *c, uint32_t cs)
{
	return c->ext != NULL && sb->tail->chain >= (sb->tail->base - c->base) / cs;
}

size_t
qb_sbuf_peek_new(struct qb_sbuf *sb, uint32_t cs, uint64_t limit, size_t max, const uint8_t **data,
                 uint8_t *gap)
{
	uint64_t stop = sb->end < limit ? sb->end : limit;
	struct qb_chunk *c = sb->cur, *last;

	if (sb->sent >= stop || max == 0)
		return 0;
	/* sent left cur's chunk: when cur's memory runs on to the tail (its
	 * chain), the bytes at sent are there, found without a walk to their
	 * chunk (a cache miss per chunk); else look it up. */
	if ((c == NULL || c->base > sb->sent || c->base + cs <= sb->sent) &&
	    !(c != NULL && c->base <= sb->sent && sbuf_in_tail_chain(sb, c, cs))) {
		c = sbuf_chunk(sb, cs, sb->sent);
		if (c == NULL)
			return 0;
		sb->cur = c;
	}
	/* A span ends at its chunk's end, unless the next chunks reference
	 * the memory right after it (one qb_streams_write_ref of a large
	 * buffer), lent the same way (the gap holds for the whole span: a
	 * burst borrows bytes inside it): then a packet's data is one piece,
	 * whatever the chunk size. */
	last = c;
	/* Each step of the walk below is a cache miss (perf: ~80 ns per span
	 * of 10 chunks). When the tail's chain reaches back to c (one
	 * qb_streams_write_ref of a large buffer, a mapped file), every chunk
	 * from c on continues it: the walk would go on to the tail, or stop
	 * where stop and max cut the span anyway. */
	if (sbuf_in_tail_chain(sb, c, cs))
		last = sb->tail;
	else
		while (last->ext != NULL && last->next != NULL &&
		       last->next->ext == last->ext + cs && last->next->flags == last->flags &&
		       stop > last->base + cs && last->base + cs - sb->sent < max)
			last = last->next;
	if (stop > last->base + cs)
		stop = last->base + cs;
	if (stop - sb->sent > max)
		stop = sb->sent + max;
	*data = sbuf_data(c, cs) + (sb->sent - c->base);
	*gap = sbuf_gap(c, cs, (uint32_t)(sb->sent - c->base));
	return (size_t)(stop - sb->sent);
}

/* Clear lost bits over [off, end) and count them off. */
static void
sbuf_clear_lost(struct qb_sbuf *sb, uint32_t cs, uint64_t off, uint64_t end)
{
	const uint32_t w = qb_chunk_words(cs);

	while (off < end && sb->lost > 0) {
		struct qb_chunk *c = sbuf_chunk(sb, cs, off);
		uint64_t stop;
		uint32_t from, to;

		if (c == NULL)
			return;
		stop = end < c->base + cs ? end : c->base + cs;
		from = (uint32_t)(off - c->base);
		to = (uint32_t)(stop - c->base);
		off = stop;
		if (map_r(c, 1, cs) == NULL)
			continue; /* nothing was ever lost in this chunk */
		for (uint32_t i = from / 64; i <= (to - 1) / 64; i++) {
			uint64_t *lw = &c->map[w + i];
			uint64_t cleared = *lw & word_mask(i, from, to);
			*lw &= ~cleared;
			sb->lost -= (uint64_t)__builtin_popcountll(cleared);
		}
	}
}

void
qb_sbuf_commit(struct qb_sbuf *sb, uint32_t cs, uint64_t off, size_t len)
{
	if (off < sb->sent) {
		/* A retransmission: those bytes are in flight again. */
		uint64_t end = off + len < sb->sent ? off + len : sb->sent;
		if (off < sb->acked)
			off = sb->acked;
		if (off < end)
			sbuf_clear_lost(sb, cs, off, end);
		return;
	}
	if (off == sb->sent && off + len <= sb->end)
		sb->sent += len;
}

void
qb_sbuf_on_acked(struct qb_sbuf *sb, struct qb_stream_pools *p, uint64_t off, uint64_t len)
{
	const uint32_t cs = p->chunk_size;
	uint64_t end = off + len;
	struct qb_chunk *c;

	if (off < sb->acked)
		off = sb->acked;
	if (end > sb->sent)
		end = sb->sent;
	if (off >= end)
		return;
	sbuf_clear_lost(sb, cs, off, end);
	if (off > sb->acked) {
		/* Out of order: remember the bytes until the prefix reaches them. */
		for (uint64_t pos = off; pos < end;) {
			uint64_t stop;
			c = sbuf_chunk(sb, cs, pos);
			if (c == NULL)
				return;
			stop = end < c->base + cs ? end : c->base + cs;
			bits_set(map_w(c, 0, cs), (uint32_t)(pos - c->base),
			         (uint32_t)(stop - c->base));
			pos = stop;
		}
		return;
	}
	/* The prefix grows to `end` without bits, then over bytes acknowledged
	 * out of order earlier; chunks wholly below it are done. */
	sb->acked = end;
	c = sb->head;
	while (c != NULL) {
		uint32_t idx;
		if (c->base + cs <= sb->acked) {
			sb->head = c->next;
			if (sb->tail == c)
				sb->tail = NULL;
			if (sb->hint == c)
				sb->hint = NULL;
			if (sb->cur == c)
				sb->cur = NULL;
			qb_pool_put(&p->chunks, c);
			c = sb->head;
			continue;
		}
		idx = bits_find(map_r(c, 0, cs), (uint32_t)(sb->acked - c->base), cs, false);
		if (c->base + idx > sb->sent)
			idx = (uint32_t)(sb->sent - c->base);
		if (c->base + idx == sb->acked)
			break;
		sb->acked = c->base + idx;
	}
	if (sb->acked == sb->end)
		qb_sbuf_free(sb, p); /* all acknowledged: hold no chunk while idle */
}

void
qb_sbuf_on_lost(struct qb_sbuf *sb, uint32_t cs, uint64_t off, uint64_t len)
{
	uint64_t end = off + len, first = UINT64_MAX, was_lost = sb->lost;

	if (off < sb->acked)
		off = sb->acked;
	if (end > sb->sent)
		end = sb->sent;
	while (off < end) {
		struct qb_chunk *c = sbuf_chunk(sb, cs, off);
		uint64_t stop;
		uint32_t from, to;

		if (c == NULL)
			break;
		stop = end < c->base + cs ? end : c->base + cs;
		from = (uint32_t)(off - c->base);
		to = (uint32_t)(stop - c->base);
		const uint64_t *ack = map_r(c, 0, cs);
		uint64_t *lost = map_w(c, 1, cs);
		for (uint32_t i = from / 64; i <= (to - 1) / 64; i++) {
			/* Only bytes neither acknowledged nor already queued. */
			uint64_t add = word_mask(i, from, to) & ~lost[i] & ~(ack ? ack[i] : 0);
			if (add != 0 && first == UINT64_MAX)
				first = c->base + i * 64 + (uint32_t)__builtin_ctzll(add);
			lost[i] |= add;
			sb->lost += (uint64_t)__builtin_popcountll(add);
		}
		off = stop;
	}
	/* lost_lo is only meaningful while lost bytes exist. */
	if (first != UINT64_MAX && (was_lost == 0 || first < sb->lost_lo))
		sb->lost_lo = first;
}

void
qb_sbuf_free(struct qb_sbuf *sb, struct qb_stream_pools *p)
{
	while (sb->head != NULL) {
		struct qb_chunk *c = sb->head;
		sb->head = c->next;
		qb_pool_put(&p->chunks, c);
	}
	sb->tail = sb->hint = sb->cur = NULL;
	sb->lost = 0;
}
