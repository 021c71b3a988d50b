/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_ENGINE_H
#define QB_ENGINE_H

/*
 * The QUIC worker: one struct qb_engine_worker per worker lcore, owning a set
 * of QUIC connections (engine/include/qburst/conn.h) on one RX/TX queue pair.
 *
 * How the worker loop works (qb_engine_poll, one turn):
 *   1. Receive (qb_dispatch_poll, qb_dispatch.h): rte_eth_rx_burst on the
 *      worker's own queue, qb_net_parse, ARP and IPv6 ND answered in place,
 *      UDP to our port steered by Destination Connection ID: the CIDs we
 *      issue are made by qb_cid_gen_lb and name their owning worker
 *      (qburst/cid.h); a client's first Initials, whose DCID it chose, go
 *      to the worker picked by a hash of that DCID (BRIEF §3). A datagram
 *      another worker owns goes to that worker's inbox unchanged; the worker
 *      drains its own inbox in the same call. On the owner, the DCID is
 *      looked up in the worker's connection table (every CID its
 *      connections issued) and initial table (the client-chosen DCIDs of
 *      its server connections); what matches nothing goes to the listener
 *      front-end: Version Negotiation for an unknown version, a
 *      rate-limited stateless reset for an unknown short-header CID, and
 *      on a server an Initial in a datagram of at least 1200 bytes (RFC
 *      9000 §14.1) is accepted. A VN or reset answering a forwarded
 *      datagram goes back through the relay it came by, with a forward
 *      header, as a connection's datagrams would (qb_dispatch.h).
 *   2. Deliver: qb_conn_recv on the UDP payload in the mbuf (in place: the
 *      connection unprotects it there), then the mbuf is freed. An accepted
 *      Initial creates a connection (qb_conn_server_new) whose path headers
 *      come from the frame's addresses, ports and source MAC.
 *      Relayed paths (BRIEF §2): with accept_relayed, our port is a
 *      listener configured for relaying; a forwarded datagram addressed to
 *      us reaches its connection with the forward header stripped, and an
 *      accepted one records the connection's path as relayed
 *      (qb_path_addrs_from_rx: the peer's own endpoint from the header, the
 *      relay as next hop). Every datagram sent on a relayed path goes to the
 *      relay's MAC, address and port with the forward header of
 *      qb_path_fwd_hdr prepended (qb_burst_tx), so the relay sends it on
 *      unchanged. A client opens a relayed path with qb_engine_connect_via.
 *      The connection core sends the spin bit as 0 on every path (RFC 9000
 *      §17.4 lets an endpoint disable it), which BRIEF §2 asks on relayed
 *      paths: their first byte cannot pass for a forward header's. The tables
 *      follow each connection's CIDs (qb_conn_local_cids(), re-read when a
 *      connection issued or retired one). Each connection that received
 *      something gets one QB_ENGINE_EV_RECV callback per turn, after all of
 *      its datagrams of the turn, so the application reads and writes its
 *      streams there.
 *      One path (no multipath_handshake): every datagram of a connection
 *      is delivered as path 0's, whose anti-amplification credit it raises
 *      in the core, so a server drops (unvalidated_path) what comes from
 *      another address pair (our address, the peer's endpoint, the relay)
 *      until its handshake completed, which validated path 0 (RFC 9000
 *      §8.1, §9); afterwards it is taken and counted as other_path. A
 *      client drops them all (unknown_server: RFC 9000 §9).
 *      Multi-path handshake (BRIEF §2, with conf.conn.multipath_handshake):
 *      a connection has up to QB_CONN_MAX_PATHS paths. A server tells them
 *      apart by the peer's address and port (the same relay, if any) and
 *      its own address the datagram reached, each its own credit: a
 *      datagram from a new one takes the next free path id, its headers
 *      built as for an accepted Initial (none free: dropped, path_full),
 *      kept only if the core kept the path (a packet of it was authentic). A
 *      client tells them apart by its own address the datagram reached (the
 *      server's is the same on every path); it opens its paths with
 *      qb_engine_connect_multi. The routing needs nothing more: a second
 *      path's Initials carry the same original DCID (the same worker by
 *      hash and initial table), later packets our CIDs naming the worker.
 *   3. Timers: a timer wheel (qb_steer.h) holds every connection's
 *      qb_conn_deadline(); the ones due get qb_conn_on_timeout().
 *   4. TX: every connection marked ready (by a receive, a timeout, a new
 *      connection or qb_engine_conn_wake) sends bursts with qb_burst_tx,
 *      qb_conn_send on one path being the fill callback, on the worker's
 *      own TX queue, on each live path in turn (starting from another path
 *      each turn: one pacer and congestion window serve all paths, and a
 *      fixed order would starve the later ones), until every path has
 *      nothing more to send (their QB_WHY_* reasons are kept in the
 *      connection's `why`; a path waiting for validation or a CID is tried
 *      again after the next datagram or timeout) or the turn's budget is
 *      spent; a path whose validation failed (QB_PATH_FAILED) is freed;
 *      its deadline is then re-armed in the wheel. A connection that
 *      reached QB_CONN_CLOSED gets QB_ENGINE_EV_CLOSED and is freed with
 *      its table entries and timer.
 *
 * Time: `now` is nanoseconds from qb_engine_now_ns() (the TSC converted).
 *
 * Mbuf ownership: every mbuf the worker receives (from its RX queue or its
 * inbox) is freed or transmitted before qb_engine_poll returns, except those
 * handed to another worker's inbox, which that worker then owns. Bursts are
 * allocated and freed inside qb_burst_tx (qb_burst.h). qb_engine_worker_drain
 * frees what is still queued on the worker's RX queue and inbox, so after a
 * run and a drain of every worker the pool holds all its mbufs.
 *
 * Threading: a worker and its connections belong to one lcore at a time
 * (shared-nothing); the only shared objects are the inboxes (rte_ring,
 * multi-producer, single-consumer) and the read-only configuration (TLS
 * context, port addresses).
 *
 * Errors: creators return NULL or a negative enum qb_err (qburst/error.h).
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_ether.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <qburst/cid.h>
#include <qburst/conn.h>
#include <qburst/stream.h>

#include "qb_burst.h"
#include "qb_dispatch.h"
#include "qb_net.h"
#include "qb_worker.h"

/* Connections one worker owns at once. */
#define QB_ENGINE_MAX_CONNS 64
/* Bytes of the CIDs we issue (QUIC-LB layout: 1 + server id + worker + 5 random). */
#define QB_ENGINE_CID_LEN   8
/* Datagrams per qb_burst_tx call. */
#define QB_ENGINE_BURST     32

/* Events passed to the application's callback. */
#define QB_ENGINE_EV_NEW    0x1 /* a server connection was just created */
#define QB_ENGINE_EV_RECV   0x2 /* datagrams were delivered this turn */
#define QB_ENGINE_EV_CLOSED 0x4 /* reached QB_CONN_CLOSED: freed after the call */

/*
 * Why a datagram was dropped by the engine once the dispatch handed it over
 * (the dispatch counts its own reasons in d->stats.drops, qb_steer.h).
 */
enum qb_engine_drop {
	QB_ENGINE_DROP_CONN_FULL = 0,  /* no connection slot, or a table refused its CIDs */
	QB_ENGINE_DROP_NOT_INITIAL,    /* qb_conn_server_new refused the accepted datagram */
	QB_ENGINE_DROP_CLOSED,         /* the connection refused it (closed) */
	QB_ENGINE_DROP_NO_PATH,        /* its path headers could not be built */
	QB_ENGINE_DROP_PATH_FULL,      /* multi-path: a new path and no free path id, or
	                                * a client's datagram on none of its addresses */
	QB_ENGINE_DROP_PATH_MTU,       /* its path would leave less than 1200 bytes of
	                                * QUIC per datagram (qb_engine_quic_room, or
	                                * the pool's data room) */
	QB_ENGINE_DROP_UNVALIDATED,    /* server, one path: from another address pair
	                                * than the connection's before its handshake
	                                * completed (RFC 9000 §8.1, §9) */
	QB_ENGINE_DROP_UNKNOWN_SERVER, /* client, one path: from another address pair
	                                * than the server's (RFC 9000 §9: MUST discard) */
	QB_ENGINE_DROP__COUNT
};

/* A short stable name for r ("conn_full"); "unknown" out of range. */
const char *qb_engine_drop_name(unsigned int r);

/* Engine counters of one worker (only it writes them). */
struct qb_engine_stats {
	uint64_t dgrams_in;    /* QUIC datagrams delivered to a connection */
	uint64_t conns_new;    /* connections created (server) or opened (client) */
	uint64_t conns_closed; /* connections freed */
	uint64_t bursts;       /* qb_burst_tx calls that sent something */
	uint64_t timeouts;     /* qb_conn_on_timeout calls from the wheel */
	uint64_t relayed_in;   /* of dgrams_in, those that came through a relay */
	uint64_t other_path;   /* delivered from another path than the connection's
	                        * (still answered on its own: no migration here;
	                        * without multipath_handshake only) */
	uint64_t paths_new;    /* multi-path: paths opened (client) or taken (server) */
	uint64_t paths_failed; /* multi-path: paths freed after a failed validation */
	/* Datagrams per path id: delivered to a connection, and sent. */
	uint64_t path_in[QB_CONN_MAX_PATHS];
	uint64_t path_out[QB_CONN_MAX_PATHS];
	uint64_t drops[QB_ENGINE_DROP__COUNT];
} __rte_cache_aligned;

struct qb_engine_worker;
struct qb_engine_conn;

/*
 * The application's hook: ev is a set of QB_ENGINE_EV_*; the connection is
 * ec->conn. Runs on the worker's lcore inside qb_engine_poll; it may use the
 * stream API and qb_conn_close on ec->conn (the worker sends afterwards).
 */
typedef void (*qb_engine_event_fn)(void *arg, struct qb_engine_worker *w, struct qb_engine_conn *ec,
                                   unsigned int ev, uint64_t now);

struct qb_engine_conf {
	bool server;      /* accept connections (else only qb_engine_connect) */
	uint16_t port_id; /* the port and the worker's own queue pair */
	uint16_t queue_id;
	struct rte_mempool *pool;          /* mbufs for bursts and ARP answers (not owned) */
	const struct qb_port_addrs *addrs; /* our MAC and addresses (read-only, shared) */
	uint16_t udp_port;                 /* our UDP port (host order) */
	uint16_t mtu;                      /* largest UDP payload we send (0: 1452) */
	bool hw_cksum;                     /* the port has IPv4/UDP checksum offload enabled */
	bool accept_relayed; /* udp_port is a listener configured for relaying (BRIEF §2) */
	/* Connection template: tls (server or client context), version, cc,
	 * windows, reset_key (the listener's stateless resets use it too; NULL:
	 * none sent)... pools, cid_len, cid_gen, cid_gen_ctx and seed are set
	 * by the engine (per-worker stream pools, QUIC-LB CIDs naming this
	 * worker). */
	struct qb_conn_config conn;
	uint32_t pool_chunks;   /* stream pool chunks of 4096 bytes (0: 16384) */
	uint32_t pool_streams;  /* stream objects (0: 1024) */
	uint32_t reset_rate;    /* stateless resets per second (0: 1000) */
	uint64_t timer_tick_ns; /* timer wheel granularity (0: 10 us) */
	uint8_t server_id;      /* QUIC-LB server id byte in our CIDs (the same on every worker) */
	/* The group: worker_id in 0..n_workers-1, and every worker's inbox
	 * (qb_engine_inbox_create; n_workers entries; NULL when n_workers is
	 * 1). steer_seed keys the hash that places a client's first DCID (the
	 * same on every worker; 0 selects a fixed value). */
	uint16_t worker_id;
	uint16_t n_workers;
	struct rte_ring *const *inboxes;
	uint64_t steer_seed;
	qb_engine_event_fn on_event; /* may be NULL */
	void *event_arg;
	/* Server: called (with event_arg) on each new connection's config just
	 * before qb_conn_server_new, e.g. to give it a qlog (cfg->qlog). The
	 * connection may still fail to be made: no QB_ENGINE_EV_NEW follows
	 * then. May be NULL. */
	void (*on_conn_config)(void *arg, struct qb_engine_worker *w, struct qb_conn_config *cfg,
	                       uint64_t now);
};

/*
 * One connection of a worker and its paths. Path ids are the connection
 * core's (qb_conn_recv/qb_conn_send): 0 is the first path; more exist only
 * with conf.conn.multipath_handshake (BRIEF §2): a client's extra local
 * addresses (qb_engine_connect_multi), or, on a server, each new peer
 * address a datagram of the connection came from.
 */
struct qb_engine_conn {
	struct qb_conn *conn;                          /* NULL: free slot */
	struct qb_burst_path path[QB_CONN_MAX_PATHS];  /* headers of each path */
	struct qb_path_addrs addrs[QB_CONN_MAX_PATHS]; /* where it leads: the peer, direct or
	                                                * via a relay */
	struct qb_ipaddr local[QB_CONN_MAX_PATHS];     /* our address on it */
	bool live[QB_CONN_MAX_PATHS];                  /* the path is in use */
	bool gone[QB_CONN_MAX_PATHS]; /* failed: nothing sent on it; what arrives still taken */
	uint8_t tx_first;             /* the path tried first next turn */
	uint64_t deadline;            /* qb_conn_deadline, cached */
	uint32_t why;     /* QB_WHY_* of the last send that stopped (all paths' when all did) */
	bool client;      /* we opened it (qb_engine_connect*) */
	bool ready;       /* try to send on the next turn */
	bool recv;        /* datagrams delivered in this turn */
	uint64_t cid_seq; /* next_seq of its qb_cid_local when the table was synced */
	size_t cid_count; /* live CIDs then */
	void *user;       /* the application's */
};

struct qb_engine_worker {
	/* First: its counters on their own lines. rx_* count the frames of the
	 * worker's RX queue (not its inbox), tx_* the frames the PMD took,
	 * drops[] the packet layer's reasons (qb_net.h). */
	struct qb_worker wk;
	struct qb_engine_stats st;
	struct qb_engine_conf cf;
	struct qb_burst_txq txq;
	struct qb_stream_pools pools;
	struct qb_cid_lb lb;   /* our CID layout with this worker's id */
	struct qb_dispatch *d; /* receive side: tables, wheel, listener */
	/* The steering configuration and the inboxes as the dispatch wants
	 * them (the same on every worker of the group), and the inbox made
	 * for a lone worker (the dispatch always drains one). */
	struct qb_dispatch_shared sh;
	struct rte_ring *own_ring;
	uint64_t now; /* of the turn in progress */
	uint64_t seed;
	unsigned int n_conns;
	struct qb_engine_conn conns[QB_ENGINE_MAX_CONNS];
} __rte_cache_aligned;

/* Nanoseconds from the TSC (monotonic, any origin). */
uint64_t qb_engine_now_ns(void);

/*
 * Sets up w from cf (copied; the pointed-to objects must outlive w): stream
 * pools, CID layout, TX queue, dispatch (tables, wheel, listener).
 * 0, QB_ERR_ARG, QB_ERR_NOMEM.
 */
int qb_engine_worker_init(struct qb_engine_worker *w, const struct qb_engine_conf *cf);

/* Frees every connection (QB_ENGINE_EV_CLOSED is not called), the dispatch and the pools. */
void qb_engine_worker_fini(struct qb_engine_worker *w);

/*
 * Frees every mbuf waiting on the worker's RX queue and inbox (after the
 * workers stopped, before the pools are checked). Returns how many. Before
 * or after qb_engine_worker_fini (a lone worker's inbox is emptied there).
 */
unsigned int qb_engine_worker_drain(struct qb_engine_worker *w);

/*
 * One turn of the loop (see the top of this file). Returns the number of
 * datagrams handled (received, handed over or sent); 0 is an idle turn.
 */
unsigned int qb_engine_poll(struct qb_engine_worker *w, uint64_t now);

/*
 * The qb_worker poll hook for qb_worker_loop: w->mode is the engine worker,
 * the TSC is converted to ns.
 */
unsigned int qb_engine_worker_poll(struct qb_worker *wk, uint64_t tsc);

/*
 * The most QUIC bytes a datagram of w carries on a path to a peer of family
 * (QB_AF_INET or QB_AF_INET6), direct or relayed: conf.mtu minus the forward
 * header of a relayed path (26 bytes over IPv4, 74 over IPv6; BRIEF §2).
 * Below QB_BURST_QUIC_MIN (1200, RFC 9000 §14.1, the least qb_conn_send
 * writes into) the path cannot carry QUIC and is refused where it would be
 * made: qb_engine_connect* return NULL, and a server drops the datagram
 * that would open it (drops[QB_ENGINE_DROP_PATH_MTU]). Callers use it to say
 * why.
 */
unsigned int qb_engine_quic_room(const struct qb_engine_worker *w, int family, bool relayed);

/*
 * Client: opens a connection to dst:dport through next hop dst_mac from our
 * address for dst, seeded with seed (its first DCID and CIDs derive from
 * it). Its first flight goes out at the next turn. NULL when no slot is free,
 * we have no address of dst's family, the path's MTU leaves less than 1200
 * bytes of QUIC (qb_engine_quic_room), or so does the pool's data room past
 * the path's headers, or the connection cannot be made.
 */
struct qb_engine_conn *qb_engine_connect(struct qb_engine_worker *w, const struct qb_ipaddr *dst,
                                         uint16_t dport, const struct rte_ether_addr *dst_mac,
                                         uint64_t seed, uint64_t now);

/*
 * Client: as qb_engine_connect, through the relay relay:relay_port when relay
 * is non-NULL (BRIEF §2): every datagram goes to the relay (next hop dst_mac
 * is then the relay's) with a forward header naming dst:dport as the
 * destination's outer endpoint, and the answers come back forwarded, so the
 * worker must have accept_relayed. The relay must be of dst's family. The
 * source address is ours for the relay (the packets' IP destination), not
 * for dst. NULL also when relay is given without accept_relayed, or when
 * conf.mtu leaves less than 1200 bytes of QUIC behind the forward header
 * (qb_engine_quic_room: mtu 1226 over IPv4, 1274 over IPv6 at least).
 */
struct qb_engine_conn *qb_engine_connect_via(struct qb_engine_worker *w,
                                             const struct qb_ipaddr *dst, uint16_t dport,
                                             const struct qb_ipaddr *relay, uint16_t relay_port,
                                             const struct rte_ether_addr *dst_mac, uint64_t seed,
                                             uint64_t now);

/*
 * Client, multi-path handshake (BRIEF §2): as qb_engine_connect_via, with one
 * path per local address locals[0..n_locals-1] (each one of the port's
 * addresses, of dst's family, all different; path i from locals[i]), all
 * toward dst:dport through the same next hop. n_locals 0 is
 * qb_engine_connect_via (our address for dst). More than one needs
 * conf.conn.multipath_handshake and n_locals <= QB_CONN_MAX_PATHS; NULL
 * otherwise.
 */
struct qb_engine_conn *
qb_engine_connect_multi(struct qb_engine_worker *w, const struct qb_ipaddr *dst, uint16_t dport,
                        const struct qb_ipaddr *relay, uint16_t relay_port,
                        const struct qb_ipaddr *locals, unsigned int n_locals,
                        const struct rte_ether_addr *dst_mac, uint64_t seed, uint64_t now);

/*
 * Frees ec's connection at once, without a CONNECTION_CLOSE (the peer ends
 * by its idle timeout), and its table entries. For a connection that was
 * never used, or at shutdown.
 */
void qb_engine_conn_free(struct qb_engine_worker *w, struct qb_engine_conn *ec);

/*
 * The worker of w's group that owns datagrams whose DCID is cid (BRIEF §3):
 * the worker a CID of ours names, else a hash of the bytes (a client's
 * first DCID).
 */
unsigned int qb_engine_cid_owner(const struct qb_engine_worker *w, const uint8_t *cid, size_t len);

/* Creates an inbox (multi-producer, single-consumer ring) of size entries. NULL on failure. */
struct rte_ring *qb_engine_inbox_create(const char *name, unsigned int size, int socket_id);

/* Marks ec to send at the next turn (after the application wrote outside a callback). */
static inline void
qb_engine_conn_wake(struct qb_engine_conn *ec)
{
	ec->ready = true;
}

#endif
