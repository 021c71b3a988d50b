/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Path bursts built straight into mbufs (BRIEF §2, §3). The per-burst costs
 * (one bulk allocation, one TX call, at most two bulk frees) are kept out of
 * the per-datagram loop, whose work is: set data_off, call the fill, copy the
 * forward header template if any, prepend the UDP template.
 */
#include <rte_ethdev.h>
#include <rte_prefetch.h>

#include "qb_burst.h"
#include "qb_port.h"

/*
 * Raw mbufs straight from the pool (its lcore cache): the pool keeps next
 * NULL, nb_segs 1 and refcnt 1 on every free mbuf; qb_burst_tx writes every
 * other field a TX reads, so rte_pktmbuf_reset's dozen stores per mbuf
 * (one of them to the second cache line) would all be overwritten or unused.
 */
static int
dpdk_alloc(struct rte_mempool *mp, struct rte_mbuf **m, unsigned int n)
{
	return rte_mempool_get_bulk(mp, (void **)m, n);
}

static uint16_t
dpdk_tx(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **m, uint16_t n)
{
	return rte_eth_tx_burst(port_id, queue_id, m, n);
}

static void
dpdk_free(struct rte_mbuf **m, unsigned int n)
{
	rte_pktmbuf_free_bulk(m, n);
}

const struct qb_burst_io qb_burst_io_dpdk = {
        .alloc = dpdk_alloc,
        .tx = dpdk_tx,
        .free = dpdk_free,
};

int
qb_burst_path_init(struct qb_burst_path *p, const struct qb_udp_tmpl *udp, uint16_t mtu,
                   const struct qb_fwd_hdr *fwd)
{
	int n = 0;

	if (p == NULL || udp == NULL)
		return QB_ERR_ARG;
	memset(p, 0, sizeof(*p));
	p->udp = *udp;
	if (fwd != NULL) {
		/* Byte 0 depends on each datagram's first QUIC byte: set per datagram. */
		n = qb_fwd_hdr_encode(p->fwd, sizeof(p->fwd), fwd, 0);
		if (n < 0)
			return QB_ERR_ARG;
	}
	/*
	 * The QUIC bytes of a datagram are what the MTU leaves past the
	 * forward header; the connection core writes nothing into less than
	 * 1200 (RFC 9000 §14.1: Initials are padded to it, and a path must
	 * carry them), so such a path could only ever send nothing, and a
	 * worker would retry it forever. Refuse it here, where it is made.
	 */
	if (mtu < n + QB_BURST_QUIC_MIN)
		return QB_ERR_ARG;
	p->fwd_len = (uint8_t)n;
	p->headroom = (uint16_t)(udp->hdr_len + n);
	if (p->headroom > QB_MBUF_HEADROOM)
		return QB_ERR_NOBUF;
	p->mtu = mtu;
	return 0;
}

/*
 * The mbuf fields of one datagram, stored whole (as PMDs rearm RX mbufs):
 * data_off, refcnt 1, nb_segs 1, port; ol_flags; packet_type 0, pkt_len,
 * data_len, vlan_tci 0; tx_offload (l2_len, l3_len). Built once per frame
 * size, so a datagram costs four stores and no read-modify-write.
 */
struct mbuf_words {
	uint64_t rearm;
	uint64_t ol_flags;
	uint64_t desc[2];
	uint64_t tx_offload;
};

static inline void
words_init(struct mbuf_words *w, uint16_t data_off, uint32_t len, uint64_t ol_flags, uint8_t l2_len,
           uint16_t l3_len)
{
	struct rte_mbuf t;

	memset(&t, 0, sizeof(t));
	t.data_off = data_off;
	t.refcnt = 1;
	t.nb_segs = 1;
	t.port = RTE_MBUF_PORT_INVALID;
	t.pkt_len = len;
	t.data_len = (uint16_t)len;
	memcpy(&w->rearm, &t.rearm_data, 8);
	memcpy(w->desc, &t.rx_descriptor_fields1, 16);
	w->ol_flags = ol_flags;
	w->tx_offload = rte_mbuf_tx_offload(l2_len, l3_len, 0, 0, 0, 0, 0);
}

static inline void
words_store(struct rte_mbuf *b, const struct mbuf_words *w)
{
	memcpy(&b->rearm_data, &w->rearm, 8);
	b->ol_flags = w->ol_flags;
	memcpy(&b->rx_descriptor_fields1, w->desc, 16);
	b->tx_offload = w->tx_offload;
}

/* Counts one drop reason on the worker's counters. */
static inline void
count_drop(const struct qb_burst_txq *q, enum qb_drop r, uint64_t n)
{
	qb_count(&q->stats->drops[r], n);
}

/*
 * The per-datagram loop of qb_burst_tx, inlined into it twice: once for a
 * direct path on the offload path (hw true, fwd_len 0: the build-rate case,
 * with those branches gone and the loop's state in registers) and once
 * for any path. Returns the number of datagrams filled; *reasons gets the
 * set of the fill that ended the burst.
 */
static __rte_always_inline unsigned int
fill_loop(const struct qb_burst_path *p, struct rte_mbuf **m, uint16_t *frame_len,
          unsigned int max_segments, size_t cap, const bool hw, const unsigned int fwd_len,
          qb_burst_fill_fn fill, void *arg, uint64_t now, uint32_t *reasons)
{
	const uint16_t head = p->headroom;
	struct qb_udp_frame fr;
	struct mbuf_words mw = {0};
	uint32_t fr_len = 0; /* the payload length fr holds headers for; 0: none yet */
	unsigned int n;

	for (n = 0; n < max_segments; n++) {
		struct rte_mbuf *b = m[n];
		uint8_t *data = (uint8_t *)b->buf_addr + head;
		uint32_t w = 0;
		int len;

		/*
		 * The next datagram's first lines (its headers and the QUIC
		 * header) are written out of order: fetch them for writing
		 * while this one is sealed. The rest is written front to back
		 * by the cipher, which the hardware prefetcher follows; fetching
		 * every line (~20 per datagram) measured no better and costs
		 * ~80 instructions. Two stages: the mbuf two ahead (its
		 * buf_addr is read one iteration later, then a cache hit),
		 * the buffer of the next one.
		 */
		if (n + 2 < max_segments)
			rte_prefetch0(m[n + 2]);
		if (n + 1 < max_segments) {
			uint8_t *nx = m[n + 1]->buf_addr; /* the headers start there */

			__builtin_prefetch(nx, 1, 3);
			__builtin_prefetch(nx + head, 1, 3);
		}
		len = fill(arg, data, cap, now, &w);
		if (unlikely(len <= 0 || (size_t)len > cap)) {
			*reasons = len <= 0 ? w : 0;
			break;
		}
		if (fwd_len != 0) {
			uint8_t *f = data - fwd_len;

			memcpy(f, p->fwd, fwd_len);
			f[0] = (uint8_t)(0x60 | (data[0] & 0x1f)); /* BRIEF §2 */
		}
		/*
		 * Cannot fail: headroom and length were checked above. On the
		 * offload path every header of a burst is the same but for the
		 * last, shorter datagram's: build it, and the mbuf's fields,
		 * once per size (lengths, seed, flags; as udpgen does) and copy
		 * them. The software path sums each payload, so it prepends
		 * per datagram, on fields set as rte_pktmbuf_reset would.
		 */
		if (hw) {
			uint32_t plen = (uint32_t)(len + fwd_len);
			uint8_t *h;

			if (unlikely(plen != fr_len)) {
				fr_len = plen;
				qb_udp_frame_init(&fr, &p->udp, data - fwd_len, (uint16_t)fr_len);
				words_init(&mw, (uint16_t)(head - fwd_len - fr.hdr_len),
				           plen + fr.hdr_len, fr.ol_flags, fr.l2_len, fr.l3_len);
			}
			h = data - fwd_len - fr.hdr_len;
			/* Fixed-size overlapping copies: a few vector moves. */
			memcpy(h, fr.hdr, 32);
			if (fr.hdr_len > 64)
				memcpy(h + 32, fr.hdr + 32, 32);
			memcpy(h + fr.hdr_len - 32, fr.hdr + fr.hdr_len - 32, 32);
			words_store(b, &mw);
			frame_len[n] = (uint16_t)(plen + fr.hdr_len);
		} else {
			uint32_t plen = (uint32_t)(len + fwd_len);

			if (unlikely(plen != fr_len)) {
				fr_len = plen;
				words_init(&mw, (uint16_t)(head - fwd_len), plen, 0, 0, 0);
			}
			words_store(b, &mw);
			qb_udp_prepend(b, &p->udp);
			frame_len[n] = (uint16_t)b->pkt_len;
		}
		/*
		 * GSO rule (BRIEF §2): the first datagram sets the size; later
		 * ones get it as their cap, and one shorter than it is last.
		 */
		if (n > 0 && (size_t)len < cap) {
			n++;
			break;
		}
		cap = (size_t)len;
	}

	return n;
}

unsigned int
qb_burst_tx(const struct qb_burst_txq *q, const struct qb_burst_path *p, unsigned int max_segments,
            size_t max_segment_size, qb_burst_fill_fn fill, void *arg, uint64_t now, uint32_t *why)
{
	const struct qb_burst_io *io = q->io != NULL ? q->io : &qb_burst_io_dpdk;
	struct rte_mbuf *m[QB_BURST_MAX];
	uint16_t frame_len[QB_BURST_MAX];
	const uint16_t head = p->headroom;
	const unsigned int fwd_len = p->fwd_len;
	const bool hw = p->udp.hw_cksum;
	unsigned int n, i, sent;
	uint32_t reasons = 0;
	uint64_t bytes = 0;
	size_t seg, cap;

	if (max_segments > QB_BURST_MAX)
		max_segments = QB_BURST_MAX;
	/* The UDP payload per datagram; the forward header is carved from it (dquic). */
	seg = RTE_MIN(max_segment_size, (size_t)p->mtu);
	if (max_segments == 0 || seg <= fwd_len) {
		if (why != NULL)
			*why = 0;
		return 0;
	}
	cap = seg - fwd_len;
	if (unlikely(io->alloc(q->pool, m, max_segments) != 0)) {
		count_drop(q, QB_DROP_NO_MBUF, 1);
		if (why != NULL)
			*why = QB_BURST_WHY_NO_MBUF;
		return 0;
	}

	/* Every mbuf of a pool has the same buffer length: check it once. */
	if (unlikely(m[0]->buf_len <= head)) {
		io->free(m, max_segments);
		count_drop(q, QB_DROP_NO_HEADROOM, 1);
		if (why != NULL)
			*why = 0;
		return 0;
	}
	if (max_segments > 1)
		rte_prefetch0(m[1]);
	cap = RTE_MIN(cap, (size_t)(m[0]->buf_len - head));
	cap = RTE_MIN(cap, (size_t)QB_UDP_PAYLOAD_MAX - fwd_len);

	if (hw && fwd_len == 0)
		n = fill_loop(p, m, frame_len, max_segments, cap, true, 0, fill, arg, now,
		              &reasons);
	else
		n = fill_loop(p, m, frame_len, max_segments, cap, hw, fwd_len, fill, arg, now,
		              &reasons);

	if (n < max_segments)
		io->free(m + n, max_segments - n);
	if (why != NULL)
		*why = reasons;
	if (n == 0)
		return 0;

	sent = io->tx(q->port_id, q->queue_id, m, (uint16_t)n);
	if (unlikely(sent < n)) {
		io->free(m + sent, n - sent);
		count_drop(q, QB_DROP_TX_FULL, n - sent);
	}
	/* Lengths were saved before TX: a PMD may free what it took at once. */
	for (i = 0; i < sent; i++)
		bytes += frame_len[i];
	qb_count(&q->stats->tx_pkts, sent);
	qb_count(&q->stats->tx_bytes, bytes);
	return sent;
}
