/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_DISPATCH_H
#define QB_DISPATCH_H

/*
 * The receive dispatch of a worker, on mbufs (EAL needed for the rings):
 * for each UDP datagram that qb_net_parse accepted on worker W,
 *   1. on a listener configured for relaying (relay_port), tell forwarded,
 *      STUN and QUIC apart (qb_dgram_classify, BRIEF §2): a forwarded
 *      datagram for which we are the relay is sent on unchanged to its
 *      destination endpoint (new UDP/IP/Ethernet headers around the same
 *      bytes); one addressed to us continues with its header skipped and
 *      the datagram marked relayed; STUN is dropped (counted);
 *   2. steer (qb_steer_owner): a datagram another worker owns is enqueued
 *      on that worker's ring (multi-producer, single-consumer; full: drop,
 *      counted as ring_full); the owner drains its ring each loop
 *      (qb_dispatch_drain) and continues at step 3;
 *   3. look its DCID up in the worker's connection table (our CIDs) and then
 *      in its initial table (client-chosen DCIDs): found, ops->deliver;
 *   4. else the listener (qb_listener_input): an Initial to accept goes to
 *      ops->accept, a Version Negotiation or stateless reset is written over
 *      the datagram and turned around to its sender, the rest is dropped.
 *      A trigger that came through a relay is answered through it: to the
 *      frame's sender, behind the forward header a connection on that path
 *      would send (qb_path_fwd_hdr), so the relay sends it on to the peer.
 *
 * The UDP payload must lie in the mbuf's first segment (a datagram spread
 * over segments is dropped as malformed): every parser here, and the
 * callbacks, see it as one run of bytes.
 *
 * Mbuf ownership: qb_dispatch_rx and qb_dispatch_drain take every mbuf they
 * are given. Each one ends exactly once: freed (a drop), handed to another
 * worker's ring, passed to ops->deliver / ops->accept (which then own it),
 * or appended to the caller's tx array (a reply or a relayed frame, headers
 * complete, for the caller to transmit on its own queue and free what the
 * PMD does not take). A ring holds only mbufs in flight; qb_dispatch_free
 * empties it.
 *
 * Threading: struct qb_dispatch_shared is built on the control lcore and is
 * read-only once workers run (the rings are the only shared mutable state,
 * and rte_ring is safe for many producers and one consumer). Each struct
 * qb_dispatch belongs to one worker.
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <qburst/fwdhdr.h>

#include "qb_neigh.h"
#include "qb_net.h"
#include "qb_steer.h"
#include "qb_worker.h"

#define QB_DISPATCH_MAX_WORKERS 64
#define QB_DISPATCH_DRAIN_MAX   64 /* mbufs per qb_dispatch_drain call */

/* What the dispatch tells its callbacks about a datagram. */
struct qb_rx_dgram {
	struct qb_pkt_info info; /* addresses and ports of the UDP datagram as received */
	uint8_t *data;           /* the QUIC bytes (after any forward header) in m */
	uint16_t len;
	bool relayed;          /* it came through a forward header addressed to us */
	struct qb_fwd_hdr fwd; /* that header, when relayed */
	void *conn;            /* deliver: the handle the tables gave */
};

struct qb_dispatch_ops {
	/* A datagram for conn (a table hit). Takes m. */
	void (*deliver)(void *ctx, struct rte_mbuf *m, const struct qb_rx_dgram *dg);
	/*
	 * An Initial of v1/v2 in >= 1200 bytes for no known connection, on
	 * its owner worker: create the connection and insert its CIDs
	 * (qb_dispatch_conns / qb_dispatch_initial). Takes m. NULL: such
	 * datagrams are dropped as not_listening.
	 */
	void (*accept)(void *ctx, struct rte_mbuf *m, const struct qb_rx_dgram *dg);
};

/* Per worker counters, written by their worker only (qb_count). */
struct qb_dispatch_stats {
	uint64_t handover_out; /* enqueued to another worker's ring */
	uint64_t handover_in;  /* dequeued from ours */
	uint64_t delivered;
	uint64_t accepted;
	uint64_t vn_sent;
	uint64_t resets_sent;
	uint64_t relayed; /* forwarded datagrams sent on by us as the relay */
	uint64_t fwd_in;  /* forwarded datagrams addressed to us */
	uint64_t drops[QB_SDROP__COUNT];
} __rte_cache_aligned;

/* Process-wide: steering configuration and one ring per worker. */
struct qb_dispatch_shared {
	struct qb_steer steer;
	unsigned int n_workers;
	struct rte_ring *rings[QB_DISPATCH_MAX_WORKERS];
};

/*
 * Create n_workers rings of ring_size entries (a power of two) on socket,
 * named "<prefix>_<i>". s is copied, s->n_workers must equal n_workers.
 * 0, or a negative errno (everything made is freed).
 */
int qb_dispatch_shared_init(struct qb_dispatch_shared *sh, const struct qb_steer *s,
                            unsigned int ring_size, int socket, const char *prefix);
/* Free the rings, freeing any mbuf still in them. */
void qb_dispatch_shared_fini(struct qb_dispatch_shared *sh);

struct qb_dispatch_conf {
	uint16_t index;       /* this worker, 0..n_workers-1 */
	uint32_t max_conns;   /* connection table: CIDs */
	uint32_t max_initial; /* initial table: client DCIDs */
	/* The worker's timer wheel over connection deadlines (ids are the
	 * caller's connection slots): 0 timers: none. */
	uint32_t max_timers;
	uint32_t timer_slots;   /* 0: 4096 */
	uint64_t timer_tick_ns; /* 0: 100 us */
	struct qb_listener_conf listener;
	/* Relaying: 0 disables it; else datagrams to this UDP port are
	 * classified (BRIEF §2), forwarding uses addrs and neigh. */
	uint16_t relay_port;
	const struct qb_port_addrs *addrs;    /* required: the port's addresses */
	const struct qb_neigh_table *neigh;   /* read-only while workers run */
	const struct rte_ether_addr *fwd_mac; /* relaying: every next hop (NULL: neigh) */
	bool hw_cksum_v4;                     /* the port's TX checksum offloads (qb_port) */
	bool hw_cksum_v6;
	uint64_t seed; /* table hash seed */
};

struct qb_dispatch {
	struct qb_dispatch_stats stats; /* first: its own cache lines */
	const struct qb_dispatch_shared *sh;
	uint16_t index;
	uint16_t relay_port;
	bool hw_cksum_v4, hw_cksum_v6;
	const struct qb_port_addrs *addrs;
	const struct qb_neigh_table *neigh;
	const struct rte_ether_addr *fwd_mac;
	struct qb_ctable *conns;   /* our CIDs -> connection */
	struct qb_ctable *initial; /* client-chosen DCIDs -> connection */
	struct qb_twheel *timers;  /* NULL when max_timers was 0 */
	struct qb_listener listener;
	struct qb_dispatch_ops ops;
	void *ctx;
};

/*
 * Allocate one worker's dispatch (tables included). NULL on bad arguments
 * or no memory. now in ns (the listener's rate limiter starts there).
 */
struct qb_dispatch *qb_dispatch_create(const struct qb_dispatch_shared *sh,
                                       const struct qb_dispatch_conf *c,
                                       const struct qb_dispatch_ops *ops, void *ctx, uint64_t now);
/* Free it (its ring belongs to the shared part). */
void qb_dispatch_free(struct qb_dispatch *d);

/*
 * Register one of our CIDs (cid_len bytes) for conn in the worker's
 * connection table, or a client-chosen original DCID in its initial table
 * (until the handshake no longer needs it). 0; QB_ERR_STATE when already
 * mapped; QB_ERR_NOMEM when the table is full (also counted as the drop
 * reason table_full: the caller drops the datagram or the CID).
 */
int qb_dispatch_add_cid(struct qb_dispatch *d, const uint8_t *cid, size_t len, void *conn);
int qb_dispatch_add_initial(struct qb_dispatch *d, const uint8_t *dcid, size_t len, void *conn);

/* Forget every CID and initial DCID of conn (a connection freed): O(slots). */
unsigned int qb_dispatch_forget(struct qb_dispatch *d, const void *conn);

/*
 * A UDP datagram (info from qb_net_parse, kind QB_PKT_UDP) received on this
 * worker's queue; now in ns. Replies and relayed frames are appended to
 * tx[*n_tx...] (the caller provides room for one per call). Takes m.
 */
void qb_dispatch_rx(struct qb_dispatch *d, struct rte_mbuf *m, const struct qb_pkt_info *info,
                    uint64_t now, struct rte_mbuf **tx, unsigned int *n_tx);

/*
 * Dequeue up to max datagrams other workers handed to this one and process
 * them (steps 3-4); tx needs room for max. Returns the number dequeued.
 */
unsigned int qb_dispatch_drain(struct qb_dispatch *d, uint64_t now, unsigned int max,
                               struct rte_mbuf **tx, unsigned int *n_tx);

/*
 * One turn of a worker's receive side on (port, queue): an RX burst, every
 * frame counted in s (rx_pkts, rx_bytes) and parsed (qb_net_parse against
 * d's addresses), ARP requests and neighbour solicitations answered in
 * place, UDP datagrams to only_port (0: to any port) given to
 * qb_dispatch_rx (others dropped as not_listening), the ring drained, and
 * every reply and relayed frame sent on the same queue (tx_pkts, tx_bytes;
 * what the PMD refuses is freed and counted as tx_full). now in ns.
 * Returns the frames received plus the datagrams drained (0: idle).
 */
unsigned int qb_dispatch_poll(struct qb_dispatch *d, struct qb_lcore_stats *s, uint16_t port,
                              uint16_t queue, uint16_t only_port, uint64_t now);

/* ------------------------------------------------------------ relaying */

enum qb_relay_verdict {
	QB_RELAY_QUIC = 0, /* plain QUIC (or nothing we recognise): steer it */
	QB_RELAY_DELIVER,  /* forwarded, addressed to us: QUIC after *hdr_len bytes */
	QB_RELAY_FORWARD,  /* forwarded, we are its relay: send on to h->dst.outer */
	QB_RELAY_DROP,     /* *why says why (STUN, bad header, not ours) */
};

/*
 * Classify a datagram d (len bytes) that arrived on a relay listener at UDP
 * port `port` of an address of pa (BRIEF §2). Short headers carrying one of
 * our CIDs (qb_steer_cid_ours, spin bit or not) and VN packets are QUIC.
 * A forwarded datagram is for us when its destination endpoint is one of
 * pa's addresses at `port` (direct, or the outer address of a relayed
 * destination); we are its relay when its destination is relayed through
 * one of our address/port pairs and its outer address is not ours.
 * EAL-free. *h and *hdr_len are set for DELIVER and FORWARD.
 */
enum qb_relay_verdict qb_relay_decide(const struct qb_steer *s, const struct qb_port_addrs *pa,
                                      uint16_t port, const uint8_t *d, size_t len,
                                      struct qb_fwd_hdr *h, size_t *hdr_len,
                                      enum qb_steer_drop *why);

/* A forward-header endpoint address as a qb_ipaddr. */
void qb_fwd_to_ipaddr(bool ipv6, const struct qb_fwd_addr *a, struct qb_ipaddr *out);

/*
 * Where a connection's path leads, kept by the driver beside the
 * connection's opaque path id (BRIEF §2): the peer's own endpoint and, on a
 * relayed path, the relay every datagram goes through (the next hop of its
 * UDP/IP headers) and the forward header each one carries. EAL-free.
 */
struct qb_path_addrs {
	struct qb_ipaddr peer; /* the peer's real address */
	uint16_t peer_port;    /* host order */
	bool relayed;
	struct qb_ipaddr relay; /* relayed: the relay's address and port */
	uint16_t relay_port;
};

/*
 * The path a received datagram came by. Direct: the UDP source. Relayed
 * (dg->relayed, a forward header addressed to us): the peer is the header's
 * source endpoint (its outer address when the source is relayed), the relay
 * the datagram's UDP source (the relay that sent it on to us, whatever relay
 * the header names). 0, or QB_ERR_ARG when the header's family is not the
 * datagram's.
 */
int qb_path_addrs_from_rx(const struct qb_rx_dgram *dg, struct qb_path_addrs *out);

/*
 * The forward header of the datagrams we send on the relayed path pa from
 * local:lport (BRIEF §2, a relayed pair: 26 bytes over IPv4, 74 over IPv6):
 * the source is relayed through pa's relay with outer endpoint local:lport,
 * the destination relayed through the same relay with outer endpoint the
 * peer. The relay sends it on to the peer (qb_relay_decide: FORWARD), which
 * delivers it (DELIVER) and answers through the same relay. 0, or QB_ERR_ARG
 * (not relayed, or families differ).
 */
int qb_path_fwd_hdr(const struct qb_path_addrs *pa, const struct qb_ipaddr *local, uint16_t lport,
                    struct qb_fwd_hdr *h);

/* True if a datagram that came by `got` came by the path pa (same endpoints, same relay). */
bool qb_path_addrs_equal(const struct qb_path_addrs *pa, const struct qb_path_addrs *got);

/*
 * Rewrite m (a received frame whose UDP payload is at info->payload_off)
 * into a datagram carrying the same payload from src:sport to dst:dport:
 * the old headers are stripped and new Ethernet/IP/UDP headers prepended,
 * to dst_mac when given (a reply to the frame's sender), else to the next
 * hop's MAC found in neigh (qb_next_hop over pa). 0, or the drop
 * reason (QB_SDROP_NO_NEIGH, QB_SDROP_NO_HEADROOM) with m unchanged in
 * ownership (the caller frees it).
 */
enum qb_steer_drop qb_relay_rewrite(struct rte_mbuf *m, const struct qb_pkt_info *info,
                                    const struct qb_port_addrs *pa,
                                    const struct qb_neigh_table *neigh,
                                    const struct rte_ether_addr *dst_mac,
                                    const struct qb_ipaddr *src, uint16_t sport,
                                    const struct qb_ipaddr *dst, uint16_t dport, bool hw_cksum);

#endif
