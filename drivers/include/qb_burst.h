/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_BURST_H
#define QB_BURST_H

/*
 * The transmit half of a path burst (BRIEF §2, §3): datagrams are built
 * straight into mbuf data areas by a fill callback (the connection core's
 * "write one datagram" entry point), then the forward header (relayed paths),
 * UDP, IP and Ethernet headers are prepended into the reserved headroom, the
 * checksum offload flags set (or the checksums computed) and the burst handed
 * to the worker's own TX queue.
 *
 * Mbuf ownership: qb_burst_tx allocates every mbuf it uses from the queue's
 * pool and, before it returns, either hands it to the PMD (rte_eth_tx_burst
 * took it: the PMD frees it after sending) or frees it (not filled, or not
 * taken by the PMD). The caller never owns an mbuf across the call, so after
 * any run the pool holds as many free mbufs as at start. The fill callback
 * only ever sees a plain byte buffer, valid during the call.
 *
 * Nothing here allocates beyond the mempool, locks, logs or makes a system
 * call; a struct qb_burst_txq belongs to one worker lcore.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <qburst/fwdhdr.h>

#include "qb_net.h"
#include "qb_worker.h"

/*
 * Writes ONE datagram of QUIC packets into buf (cap bytes: the most it may
 * write), at time now (ns), exactly as qb_conn_send(conn, path, buf, cap,
 * now, &why) does. Returns the datagram's length in bytes (1..cap), or 0 when
 * nothing can be sent, with *why set to the non-zero set of reasons (the
 * connection core's signal bits; bit 31 is reserved for QB_BURST_WHY_NO_MBUF).
 * A negative or larger-than-cap return is treated as 0. The buffer is the
 * mbuf's data area: the callback must not keep the pointer.
 */
typedef int (*qb_burst_fill_fn)(void *arg, uint8_t *buf, size_t cap, uint64_t now, uint32_t *why);

/* Set in *why by qb_burst_tx when the pool had no mbufs for the burst. */
#define QB_BURST_WHY_NO_MBUF (UINT32_C(1) << 31)

/* Most datagrams per qb_burst_tx call (max_segments is clamped to it). */
#define QB_BURST_MAX 64

/*
 * The mbuf and TX operations qb_burst_tx uses, injectable so that unit tests
 * run without EAL (hand-made mbufs, a captured burst). They follow DPDK:
 * alloc is rte_mempool_get_bulk on a pktmbuf pool (all n or none: 0 or a
 * negative errno; raw mbufs as the pool keeps them: buf_addr, buf_len,
 * next NULL, nb_segs 1, refcnt 1, other fields stale: qb_burst_tx sets
 * data_off, lengths, ol_flags, packet_type, vlan_tci and tx_offload itself),
 * tx is rte_eth_tx_burst (returns how many of the first mbufs it took),
 * free is rte_pktmbuf_free_bulk.
 */
struct qb_burst_io {
	int (*alloc)(struct rte_mempool *mp, struct rte_mbuf **m, unsigned int n);
	uint16_t (*tx)(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **m, uint16_t n);
	void (*free)(struct rte_mbuf **m, unsigned int n);
};

/* DPDK's own: rte_pktmbuf_alloc_bulk, rte_eth_tx_burst, rte_pktmbuf_free_bulk. */
extern const struct qb_burst_io qb_burst_io_dpdk;

/* One worker's TX queue: where bursts come from and go to. */
struct qb_burst_txq {
	struct rte_mempool *pool; /* the worker's pool (its lcore cache) */
	uint16_t port_id;
	uint16_t queue_id;            /* the worker's own TX queue */
	struct qb_lcore_stats *stats; /* the worker's counters (tx_*, drops) */
	const struct qb_burst_io *io; /* NULL: qb_burst_io_dpdk */
};

/* q for worker w: its port, its own TX queue, its counters, DPDK's mbuf and TX calls. */
static inline void
qb_burst_txq_init(struct qb_burst_txq *q, struct qb_worker *w, struct rte_mempool *pool)
{
	q->pool = pool;
	q->port_id = w->port_id;
	q->queue_id = w->queue_id;
	q->stats = &w->stats;
	q->io = NULL;
}

/*
 * What one path needs on the transmit side, built once by qb_burst_path_init
 * and read-only after. Layout public so it can be embedded; fields private.
 */
struct qb_burst_path {
	struct qb_udp_tmpl udp;      /* Ethernet(+VLAN)/IP/UDP and the checksum path */
	uint8_t fwd[QB_FWD_MAX_LEN]; /* the forward header, byte 0 to be set per datagram */
	uint8_t fwd_len;             /* 0 on a direct path */
	uint16_t headroom;           /* data_off of the QUIC bytes: udp.hdr_len + fwd_len */
	uint16_t mtu;                /* largest UDP payload on the path (bytes) */
};

/*
 * Sets up p for a path whose headers are udp (copied; see qb_udp_tmpl_init),
 * whose largest UDP payload is mtu bytes (path MTU minus IP and UDP headers;
 * the forward header counts inside it, as in dquic), and which goes through a
 * relay when fwd is non-NULL (its addresses and version are encoded once
 * here; byte 0 is completed per datagram from the protected QUIC packet).
 * The QUIC bytes of a datagram (mtu minus the forward header:
 * qb_burst_quic_room) must be at least QB_BURST_QUIC_MIN (1200, RFC 9000
 * §14.1), the least the connection core writes into: a relayed path needs
 * mtu >= 1226 over IPv4 and 1274 over IPv6 (a relayed pair: 26 or 74 bytes
 * of forward header). Returns 0, QB_ERR_ARG (NULL udp, an invalid forward
 * header, or mtu leaving less than QB_BURST_QUIC_MIN for QUIC), or
 * QB_ERR_NOBUF (headroom beyond QB_MBUF_HEADROOM, which cannot happen with
 * the header sizes of qb_net.h and fwdhdr.h).
 */
int qb_burst_path_init(struct qb_burst_path *p, const struct qb_udp_tmpl *udp, uint16_t mtu,
                       const struct qb_fwd_hdr *fwd);

/* The least QUIC bytes a path must carry per datagram (RFC 9000 §14.1). */
#define QB_BURST_QUIC_MIN 1200

/* The most QUIC bytes a datagram of p carries: its mtu minus the forward header. */
static inline uint16_t
qb_burst_quic_room(const struct qb_burst_path *p)
{
	return (uint16_t)(p->mtu - p->fwd_len);
}

/*
 * Bytes reserved in front of the QUIC packets: forward header (relayed
 * paths) + UDP 8 + IPv4 20 / IPv6 40 + VLAN 4 (tagged) + Ethernet 14. The
 * Ethernet header ends up at the start of the mbuf's buffer.
 */
static inline uint16_t
qb_burst_headroom(const struct qb_burst_path *p)
{
	return p->headroom;
}

/*
 * Sends one burst on path p: up to max_segments (<= QB_BURST_MAX) datagrams
 * of seg_size = min(max_segment_size, p's mtu) bytes of UDP payload each (the
 * forward header included; the QUIC bytes get seg_size - forward header, and
 * never more than the mbuf's data room past the headroom).
 *
 * Mbufs are taken from q->pool in bulk, their data_off set to
 * qb_burst_headroom(p), and fill(arg, data, cap, now, &why) called once per
 * datagram. The GSO rule (BRIEF §2): every datagram of a burst has the size of
 * the first except the last, which may be shorter: each datagram after the
 * first gets cap = the size of the one before it, and a datagram shorter than
 * the one before ends the burst, as does a fill that returns 0. Then for each
 * datagram: the forward header (relayed paths; byte 0 = 0x60 | (first QUIC
 * byte & 0x1f)), the UDP/IP/Ethernet headers (offload path: flags and
 * pseudo-header seed, built once per datagram size with qb_udp_frame_init and
 * copied; software path: qb_udp_prepend with both checksums), one TX call on
 * q's queue. Datagrams the PMD did not
 * take are freed and counted as drops[QB_DROP_TX_FULL]; unfilled mbufs are
 * freed; a burst with no mbuf counts one drops[QB_DROP_NO_MBUF].
 * q->stats->tx_pkts/tx_bytes count the frames the PMD took (bytes of the
 * whole Ethernet frame, without FCS).
 *
 * Returns the number of datagrams the PMD took. *why (may be NULL) gets the
 * reasons of the fill that ended the burst (0 if the burst ended by
 * max_segments or the GSO rule), plus QB_BURST_WHY_NO_MBUF; when the result
 * is 0 because the first fill produced nothing, *why is that fill's set.
 */
unsigned int qb_burst_tx(const struct qb_burst_txq *q, const struct qb_burst_path *p,
                         unsigned int max_segments, size_t max_segment_size, qb_burst_fill_fn fill,
                         void *arg, uint64_t now, uint32_t *why);

#endif
