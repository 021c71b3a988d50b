/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The QUIC worker loop on top of the dispatch (qb_dispatch.h: RX, steering,
 * tables, listener): delivery, timers and bursts. See qb_engine.h for the
 * whole turn.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "qb_engine.h"
#include "qb_port.h"

/* Bursts one connection may send per turn, so that receiving keeps pace. */
#define ENGINE_TX_BUDGET  4
/* RX turns of the dispatch per engine turn (each: one burst of the queue, the ring). */
#define ENGINE_RX_ROUNDS  4
/* Timers expired per wheel call. */
#define ENGINE_EXPIRE_MAX 32

static const char *const drop_names[QB_ENGINE_DROP__COUNT] = {
        [QB_ENGINE_DROP_CONN_FULL] = "conn_full",
        [QB_ENGINE_DROP_NOT_INITIAL] = "not_initial",
        [QB_ENGINE_DROP_CLOSED] = "closed",
        [QB_ENGINE_DROP_NO_PATH] = "no_path",
        [QB_ENGINE_DROP_PATH_FULL] = "path_full",
        [QB_ENGINE_DROP_PATH_MTU] = "path_mtu",
        [QB_ENGINE_DROP_UNVALIDATED] = "unvalidated_path",
        [QB_ENGINE_DROP_UNKNOWN_SERVER] = "unknown_server",
};

const char *
qb_engine_drop_name(unsigned int r)
{
	return r < QB_ENGINE_DROP__COUNT ? drop_names[r] : "unknown";
}

uint64_t
qb_engine_now_ns(void)
{
	static uint64_t hz;

	if (unlikely(hz == 0))
		hz = rte_get_tsc_hz();
	return (uint64_t)((unsigned __int128)rte_rdtsc() * 1000000000u / hz);
}

static inline void
edrop(struct qb_engine_worker *w, enum qb_engine_drop r)
{
	qb_count(&w->st.drops[r], 1);
}

/* ---- tables and timers --------------------------------------------------- */

/*
 * Brings the connection table in line with the CIDs the connection issued,
 * when they changed (a NEW_CONNECTION_ID issued, a RETIRE_CONNECTION_ID
 * taken): its entries are replaced, which is O(table) but rare.
 */
static void
cid_sync(struct qb_engine_worker *w, struct qb_engine_conn *ec)
{
	const struct qb_cid_local *l = qb_conn_local_cids(ec->conn);
	size_t count = qb_cid_local_count(l);

	if (l->next_seq == ec->cid_seq && count == ec->cid_count)
		return;
	qb_ctable_remove_conn(w->d->conns, ec);
	for (unsigned int i = 0; i < QB_CID_LOCAL_MAX; i++)
		if (l->e[i].live &&
		    qb_dispatch_add_cid(w->d, l->e[i].cid.id, l->e[i].cid.len, ec) == QB_ERR_NOMEM)
			edrop(w, QB_ENGINE_DROP_CONN_FULL);
	ec->cid_seq = l->next_seq;
	ec->cid_count = count;
}

/* Re-arms ec's timer at its connection's deadline. */
static void
timer_arm(struct qb_engine_worker *w, struct qb_engine_conn *ec)
{
	uint32_t id = (uint32_t)(ec - w->conns);

	ec->deadline = qb_conn_deadline(ec->conn);
	if (ec->deadline == UINT64_MAX)
		qb_twheel_cancel(w->d->timers, id);
	else
		qb_twheel_schedule(w->d->timers, id, ec->deadline, ec);
}

/* ---- connections -------------------------------------------------------- */

/* What the fill callback sends for: a connection's burst on one of its paths. */
struct fill_ctx {
	struct qb_conn_burst b;
};

static int
fill(void *arg, uint8_t *buf, size_t cap, uint64_t now, uint32_t *why)
{
	struct fill_ctx *fc = arg;

	/* A burst after a short first datagram (an ACK) offers a cap below
	 * what the connection accepts: end the burst there, nothing amiss. */
	if (cap < QB_MIN_INITIAL_DGRAM) {
		*why = 0;
		return 0;
	}
	(void)now; /* the burst's, given to qb_conn_burst_begin */
	return qb_conn_burst_send(&fc->b, buf, cap, why);
}

static int
slot_alloc(struct qb_engine_worker *w)
{
	if (w->n_conns == QB_ENGINE_MAX_CONNS)
		return -1;
	for (unsigned int i = 0; i < QB_ENGINE_MAX_CONNS; i++)
		if (w->conns[i].conn == NULL)
			return (int)i;
	return -1;
}

static void
conn_cfg(struct qb_engine_worker *w, struct qb_conn_config *cfg, uint64_t seed)
{
	*cfg = w->cf.conn;
	cfg->pools = &w->pools;
	cfg->cid_len = QB_ENGINE_CID_LEN;
	cfg->cid_gen = qb_cid_gen_lb;
	cfg->cid_gen_ctx = &w->lb;
	cfg->seed = seed;
}

static void
conn_release(struct qb_engine_worker *w, unsigned int idx)
{
	struct qb_engine_conn *ec = &w->conns[idx];

	qb_dispatch_forget(w->d, ec);
	qb_twheel_cancel(w->d->timers, idx);
	qb_conn_free(ec->conn);
	memset(ec, 0, sizeof(*ec));
	w->n_conns--;
	qb_count(&w->st.conns_closed, 1);
}

void
qb_engine_conn_free(struct qb_engine_worker *w, struct qb_engine_conn *ec)
{
	if (ec != NULL && ec->conn != NULL)
		conn_release(w, (unsigned int)(ec - w->conns));
}

static void
notify(struct qb_engine_worker *w, struct qb_engine_conn *ec, unsigned int ev, uint64_t now)
{
	if (w->cf.on_event != NULL)
		w->cf.on_event(w->cf.event_arg, w, ec, ev, now);
}

unsigned int
qb_engine_quic_room(const struct qb_engine_worker *w, int family, bool relayed)
{
	/* Our relayed paths name both ends relayed (qb_path_fwd_hdr). */
	size_t fwd = relayed ? qb_fwd_hdr_len(family == QB_AF_INET6, true, true) : 0;

	return w->cf.mtu > fwd ? (unsigned int)(w->cf.mtu - fwd) : 0;
}

/*
 * The headers of ec's path id from local:lport to ec->addrs[id] (its peer,
 * or its relay on a relayed path, with the forward header) through next hop
 * dst_mac; local is recorded as ours on the path. 0, QB_ERR_NOBUF when our
 * MTU (a relayed path's forward header takes 26 or 74 bytes of it:
 * qb_burst_path_init refuses it) or the pool's mbufs leave less than 1200
 * bytes of QUIC on it, where the connection could send nothing, or another
 * negative enum qb_err.
 */
static int
path_setup(struct qb_engine_worker *w, struct qb_engine_conn *ec, unsigned int id,
           const struct rte_ether_addr *dst_mac, uint16_t vlan_tci, const struct qb_ipaddr *local,
           uint16_t lport)
{
	const struct qb_path_addrs *pa = &ec->addrs[id];
	struct qb_fwd_hdr fh;
	struct qb_udp_tmpl t;
	int rc;

	if (qb_engine_quic_room(w, local->family, pa->relayed) < QB_BURST_QUIC_MIN)
		return QB_ERR_NOBUF;
	if (pa->relayed) {
		rc = qb_path_fwd_hdr(pa, local, lport, &fh);
		if (rc == 0)
			rc = qb_udp_tmpl_init(&t, &w->cf.addrs->mac, dst_mac, vlan_tci, local,
			                      lport, &pa->relay, pa->relay_port, w->cf.hw_cksum);
	} else {
		rc = qb_udp_tmpl_init(&t, &w->cf.addrs->mac, dst_mac, vlan_tci, local, lport,
		                      &pa->peer, pa->peer_port, w->cf.hw_cksum);
	}
	if (rc != 0)
		return rc;
	ec->local[id] = *local;
	rc = qb_burst_path_init(&ec->path[id], &t, w->cf.mtu, pa->relayed ? &fh : NULL);
	if (rc != 0)
		return rc;
	/* The mbufs bound a datagram too (qb_burst_tx): their data room past
	 * the headers must hold 1200 bytes of QUIC as well. */
	if (rte_pktmbuf_data_room_size(w->cf.pool) <
	    (unsigned int)qb_burst_headroom(&ec->path[id]) + QB_BURST_QUIC_MIN)
		return QB_ERR_NOBUF;
	return 0;
}

/*
 * A server's path id is one (local address, peer endpoint, relay) tuple:
 * the anti-amplification credit of a path counts only what came by it
 * (RFC 9000 §8.1), and our address the datagram reached is the one we
 * answer from.
 */
static bool
same_path(const struct qb_engine_conn *ec, unsigned int id, const struct qb_path_addrs *got,
          const struct qb_rx_dgram *dg)
{
	return qb_path_addrs_equal(&ec->addrs[id], got) &&
	       qb_ipaddr_equal(&ec->local[id], &dg->info.dst);
}

/*
 * Multi-path (BRIEF §2): the id of the path dg came by. A client knows its
 * paths by its own address the datagram reached (the server's is the same on
 * all); a server by the peer's endpoint (and relay), and a new one takes the
 * next free id, its headers built from the frame as for an accepted Initial.
 * A path freed after its validation failed keeps its id for what still
 * arrives on it: the peer may have validated it and send there, and the
 * connection takes those datagrams (and acknowledges them on its other
 * paths); only sending on it stops. The id, or -1 - enum qb_engine_drop.
 */
static int
path_rx(struct qb_engine_worker *w, struct qb_engine_conn *ec, struct rte_mbuf *m,
        const struct qb_rx_dgram *dg, bool *fresh)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	struct qb_path_addrs got;
	unsigned int i;
	int rc;

	if (ec->client) {
		for (i = 0; i < QB_CONN_MAX_PATHS; i++)
			if ((ec->live[i] || ec->gone[i]) &&
			    qb_ipaddr_equal(&ec->local[i], &dg->info.dst))
				return (int)i;
		return -1 - QB_ENGINE_DROP_PATH_FULL;
	}
	if (qb_path_addrs_from_rx(dg, &got) != 0)
		return -1 - QB_ENGINE_DROP_NO_PATH;
	for (i = 0; i < QB_CONN_MAX_PATHS; i++)
		if ((ec->live[i] || ec->gone[i]) && same_path(ec, i, &got, dg))
			return (int)i;
	/* A failed path's id stays unused: the core keeps it failed. */
	for (i = 0; i < QB_CONN_MAX_PATHS; i++)
		if (!ec->live[i] && !ec->gone[i])
			break;
	if (i == QB_CONN_MAX_PATHS)
		return -1 - QB_ENGINE_DROP_PATH_FULL;
	ec->addrs[i] = got;
	rc = path_setup(w, ec, i, &eth->src_addr, dg->info.vlan_tci, &dg->info.dst, dg->info.dport);
	if (rc != 0) {
		memset(&ec->addrs[i], 0, sizeof(ec->addrs[i]));
		return -1 - (rc == QB_ERR_NOBUF ? QB_ENGINE_DROP_PATH_MTU : QB_ENGINE_DROP_NO_PATH);
	}
	ec->live[i] = true;
	*fresh = true;
	return (int)i;
}

/*
 * After the first datagram of a server path taken by path_rx: the core
 * keeps a new path only when a packet of it was authentic (it forgets one
 * that opened nothing, a forged or corrupted datagram from anywhere), and
 * so does the worker: a path the core does not know would be offered to
 * qb_conn_send at every turn, which refuses it with no reason to wait for
 * (the connection would never go idle), and would hold one of the
 * connection's path ids.
 */
static void
path_rx_done(struct qb_engine_worker *w, struct qb_engine_conn *ec, unsigned int id)
{
	struct qb_conn_path_info pi;

	if (qb_conn_path_info(ec->conn, id, &pi) == 0 && pi.state != QB_PATH_UNKNOWN) {
		qb_count(&w->st.paths_new, 1);
		return;
	}
	ec->live[id] = false;
	memset(&ec->addrs[id], 0, sizeof(ec->addrs[id]));
	memset(&ec->local[id], 0, sizeof(ec->local[id]));
	memset(&ec->path[id], 0, sizeof(ec->path[id]));
}

/* Hands m's datagram to ec's connection, then frees m. */
static void
deliver(struct qb_engine_worker *w, struct qb_engine_conn *ec, struct rte_mbuf *m,
        const struct qb_rx_dgram *dg)
{
	struct qb_path_addrs got;
	bool fresh = false;
	int id = 0;

	if (w->cf.conn.multipath_handshake) {
		id = path_rx(w, ec, m, dg, &fresh);
		if (id < 0) {
			edrop(w, (enum qb_engine_drop)(-1 - id));
			rte_pktmbuf_free(m);
			return;
		}
	} else if (qb_path_addrs_from_rx(dg, &got) != 0 || !same_path(ec, 0, &got, dg)) {
		/*
		 * One path per connection: the core takes every datagram as
		 * path 0's and counts its bytes toward path 0's
		 * anti-amplification credit. Until that path is validated a
		 * server must not let bytes from another address raise it
		 * (RFC 9000 §8.1: 3x what was received from that address),
		 * and the client may not move before the handshake is
		 * confirmed (§9): drop it. A server's handshake completes on
		 * the client's Finished, a Handshake packet, which validated
		 * path 0 (§8.1). Later, a datagram from elsewhere (another
		 * relay, or direct on a relayed connection) is still the
		 * peer's if it authenticates, but the answer keeps to the
		 * recorded path.
		 */
		if (!ec->client && !qb_conn_handshake_complete(ec->conn)) {
			edrop(w, QB_ENGINE_DROP_UNVALIDATED);
			rte_pktmbuf_free(m);
			return;
		}
		/* §9: a client MUST discard packets from an unknown server
		 * address (it never learns another one: no preferred_address). */
		if (ec->client) {
			edrop(w, QB_ENGINE_DROP_UNKNOWN_SERVER);
			rte_pktmbuf_free(m);
			return;
		}
		qb_count(&w->st.other_path, 1);
	}
	if (qb_conn_recv(ec->conn, (uint32_t)id, dg->data, dg->len, w->now) != 0) {
		edrop(w, QB_ENGINE_DROP_CLOSED);
		if (fresh)
			path_rx_done(w, ec, (unsigned int)id);
	} else {
		if (fresh)
			path_rx_done(w, ec, (unsigned int)id);
		qb_count(&w->st.dgrams_in, 1);
		qb_count(&w->st.path_in[id], 1);
		if (dg->relayed)
			qb_count(&w->st.relayed_in, 1);
	}
	ec->recv = true;
	ec->ready = true;
	rte_pktmbuf_free(m);
}

/* The dispatch's deliver hook: a table hit. Takes m. */
static void
on_deliver(void *ctx, struct rte_mbuf *m, const struct qb_rx_dgram *dg)
{
	deliver(ctx, dg->conn, m, dg);
}

/*
 * The dispatch's accept hook: an Initial of v1/v2 in a datagram of at least
 * 1200 bytes for no connection, on its owner worker. The connection's path
 * goes back to the frame's source (its MAC, address and port). Takes m.
 */
static void
on_accept(void *ctx, struct rte_mbuf *m, const struct qb_rx_dgram *dg)
{
	struct qb_engine_worker *w = ctx;
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	const struct qb_pkt_info *pi = &dg->info;
	struct qb_engine_conn *ec;
	struct qb_conn_config cfg;
	int idx = slot_alloc(w);
	int rc;

	if (idx < 0) {
		edrop(w, QB_ENGINE_DROP_CONN_FULL);
		goto free;
	}
	ec = &w->conns[idx];
	/* Back the way it came: to the frame's sender (the peer, or the relay
	 * that sent a forwarded datagram on), from the address it reached. */
	rc = qb_path_addrs_from_rx(dg, &ec->addrs[0]);
	if (rc == 0)
		rc = path_setup(w, ec, 0, &eth->src_addr, pi->vlan_tci, &pi->dst, pi->dport);
	if (rc != 0) {
		/* A relayed path our MTU cannot carry QUIC on is refused here,
		 * counted, rather than made into a connection that can never
		 * send (qb_burst_path_init). */
		memset(ec, 0, sizeof(*ec));
		edrop(w, rc == QB_ERR_NOBUF ? QB_ENGINE_DROP_PATH_MTU : QB_ENGINE_DROP_NO_PATH);
		goto free;
	}
	conn_cfg(w, &cfg, w->seed++);
	if (w->cf.on_conn_config != NULL)
		w->cf.on_conn_config(w->cf.event_arg, w, &cfg, w->now);
	ec->conn = qb_conn_server_new(&cfg, dg->data, dg->len, w->now);
	if (ec->conn == NULL) {
		edrop(w, QB_ENGINE_DROP_NOT_INITIAL);
		goto free;
	}
	w->n_conns++;
	ec->live[0] = true;
	ec->ready = true;
	qb_count(&w->st.conns_new, 1);
	/* The client-chosen DCID (RFC 9000 §7.2) until the connection ends. */
	if (qb_dispatch_add_initial(w->d, dg->data + 6, dg->data[5], ec) == QB_ERR_NOMEM)
		edrop(w, QB_ENGINE_DROP_CONN_FULL);
	cid_sync(w, ec);
	notify(w, ec, QB_ENGINE_EV_NEW, w->now);
	deliver(w, ec, m, dg);
	return;
free:
	rte_pktmbuf_free(m);
}

struct qb_engine_conn *
qb_engine_connect_multi(struct qb_engine_worker *w, const struct qb_ipaddr *dst, uint16_t dport,
                        const struct qb_ipaddr *relay, uint16_t relay_port,
                        const struct qb_ipaddr *locals, unsigned int n_locals,
                        const struct rte_ether_addr *dst_mac, uint64_t seed, uint64_t now)
{
	struct qb_engine_conn *ec;
	struct qb_conn_config cfg;
	int idx = slot_alloc(w);
	unsigned int i, k;

	if (n_locals == 0) {
		/* Our address for where the packets go: the relay, on a
		 * relayed path (their IP destination), else dst. */
		locals = qb_port_addrs_src_for(w->cf.addrs, relay != NULL ? relay : dst);
		n_locals = 1;
	}
	if (locals == NULL || idx < 0 || n_locals > QB_CONN_MAX_PATHS ||
	    (n_locals > 1 && !w->cf.conn.multipath_handshake))
		return NULL;
	/* Each path from an address of ours of dst's family, all different. */
	for (i = 0; i < n_locals; i++) {
		if (locals[i].family != dst->family || !qb_port_addrs_has(w->cf.addrs, &locals[i]))
			return NULL;
		for (k = 0; k < i; k++)
			if (qb_ipaddr_equal(&locals[k], &locals[i]))
				return NULL;
	}
	/* The answers come back forwarded: only a relaying listener takes them. */
	if (relay != NULL && (!w->cf.accept_relayed || relay->family != dst->family))
		return NULL;
	ec = &w->conns[idx];
	for (i = 0; i < n_locals; i++) {
		ec->addrs[i].peer = *dst;
		ec->addrs[i].peer_port = dport;
		if (relay != NULL) {
			ec->addrs[i].relayed = true;
			ec->addrs[i].relay = *relay;
			ec->addrs[i].relay_port = relay_port;
		}
		if (path_setup(w, ec, i, dst_mac, w->cf.addrs->vlan_tci, &locals[i],
		               w->cf.udp_port) != 0)
			goto fail;
		ec->live[i] = true;
	}
	conn_cfg(w, &cfg, seed);
	ec->conn = qb_conn_client_new(&cfg, now);
	if (ec->conn == NULL)
		goto fail;
	/* Before the first send: every path's first Initial goes out at once. */
	for (i = 1; i < n_locals; i++) {
		uint32_t id;

		if (qb_conn_path_add(ec->conn, &id) != 0 || id != i) {
			qb_conn_free(ec->conn);
			goto fail;
		}
	}
	w->n_conns++;
	ec->client = true;
	ec->ready = true;
	qb_count(&w->st.conns_new, 1);
	if (n_locals > 1)
		qb_count(&w->st.paths_new, n_locals - 1);
	cid_sync(w, ec);
	timer_arm(w, ec);
	return ec;
fail:
	memset(ec, 0, sizeof(*ec));
	return NULL;
}

struct qb_engine_conn *
qb_engine_connect_via(struct qb_engine_worker *w, const struct qb_ipaddr *dst, uint16_t dport,
                      const struct qb_ipaddr *relay, uint16_t relay_port,
                      const struct rte_ether_addr *dst_mac, uint64_t seed, uint64_t now)
{
	return qb_engine_connect_multi(w, dst, dport, relay, relay_port, NULL, 0, dst_mac, seed,
	                               now);
}

struct qb_engine_conn *
qb_engine_connect(struct qb_engine_worker *w, const struct qb_ipaddr *dst, uint16_t dport,
                  const struct rte_ether_addr *dst_mac, uint64_t seed, uint64_t now)
{
	return qb_engine_connect_via(w, dst, dport, NULL, 0, dst_mac, seed, now);
}

/* ---- the turn ------------------------------------------------------------ */

/*
 * Bursts on path id of ec until it has nothing more to send or its budget
 * is spent. True when it stopped for a reason of the connection (kept in
 * *why): it waits for an event (a datagram, a timeout, the application).
 */
static bool
tx_path(struct qb_engine_worker *w, struct qb_engine_conn *ec, unsigned int id, uint64_t now,
        unsigned int *total, uint32_t *why)
{
	struct fill_ctx fc;

	for (unsigned int b = 0; b < ENGINE_TX_BUDGET; b++) {
		unsigned int n;

		*why = 0;
		/* As many mbufs as the pacer and the window let the burst fill. */
		unsigned int max = qb_conn_burst_quota(ec->conn, now, QB_ENGINE_BURST, w->cf.mtu);

		qb_conn_burst_begin(&fc.b, ec->conn, id, max, now);
		n = qb_burst_tx(&w->txq, &ec->path[id], max, w->cf.mtu, fill, &fc, now, why);
		qb_conn_burst_end(&fc.b);
		*total += n;
		if (n > 0) {
			qb_count(&w->st.bursts, 1);
			qb_count(&w->st.path_out[id], n);
		}
		/* A burst cut by the GSO rule or its size (why 0), or by the
		 * pool, goes on. */
		if (*why & ~QB_BURST_WHY_NO_MBUF)
			return true;
		if (n == 0)
			break;
	}
	return false;
}

/*
 * Every live path of ec in turn, from another one each turn: one pacer and
 * congestion window serve them all, and the first path tried takes what
 * they free. The connection waits for an event only when every path does
 * (a path waiting for its validation or a CID is retried at the next
 * datagram or timeout, which make the connection ready). A path whose
 * validation failed is freed (RFC 9000 §8.2.4: abandoned).
 */
static unsigned int
tx_conn(struct qb_engine_worker *w, struct qb_engine_conn *ec, uint64_t now)
{
	unsigned int total = 0, first = ec->tx_first % QB_CONN_MAX_PATHS;
	uint32_t why_all = 0;
	bool all_blocked = true, next_set = false;

	for (unsigned int k = 0; k < QB_CONN_MAX_PATHS; k++) {
		unsigned int id = (first + k) % QB_CONN_MAX_PATHS;
		struct qb_conn_path_info pi;
		uint32_t why = 0;

		if (!ec->live[id])
			continue;
		/* Next turn starts after the path that starts this one. */
		if (!next_set) {
			ec->tx_first = (uint8_t)((id + 1) % QB_CONN_MAX_PATHS);
			next_set = true;
		}
		if (!tx_path(w, ec, id, now, &total, &why)) {
			all_blocked = false;
			continue;
		}
		why_all |= why;
		if ((why & QB_WHY_PATH_UNVALIDATED) && qb_conn_path_info(ec->conn, id, &pi) == 0 &&
		    pi.state == QB_PATH_FAILED) {
			ec->live[id] = false;
			ec->gone[id] = true;
			qb_count(&w->st.paths_failed, 1);
		}
	}
	if (all_blocked) {
		ec->why = why_all;
		ec->ready = false;
	}
	return total;
}

unsigned int
qb_engine_poll(struct qb_engine_worker *w, uint64_t now)
{
	struct qb_twheel_fired fired[ENGINE_EXPIRE_MAX];
	unsigned int work = 0, n, i;

	w->now = now;
	for (unsigned int r = 0; r < ENGINE_RX_ROUNDS; r++) {
		n = qb_dispatch_poll(w->d, &w->wk.stats, w->cf.port_id, w->cf.queue_id,
		                     w->cf.udp_port, now);
		work += n;
		if (n < QB_DISPATCH_DRAIN_MAX)
			break;
	}
	do {
		n = qb_twheel_expire(w->d->timers, now, fired, ENGINE_EXPIRE_MAX);
		for (i = 0; i < n; i++) {
			struct qb_engine_conn *ec = fired[i].arg;

			qb_conn_on_timeout(ec->conn, now);
			qb_count(&w->st.timeouts, 1);
			ec->ready = true;
			/* Not re-armed here: the scan below does it for every
			 * connection that was touched. */
			ec->deadline = 0;
		}
	} while (n == ENGINE_EXPIRE_MAX);

	for (i = 0; i < QB_ENGINE_MAX_CONNS && w->n_conns > 0; i++) {
		struct qb_engine_conn *ec = &w->conns[i];
		bool touched;

		if (ec->conn == NULL)
			continue;
		touched = ec->recv || ec->ready;
		if (ec->recv) {
			ec->recv = false;
			notify(w, ec, QB_ENGINE_EV_RECV, now);
		}
		if (ec->ready)
			work += tx_conn(w, ec, now);
		if (!touched)
			continue;
		cid_sync(w, ec);
		if (qb_conn_state(ec->conn) == QB_CONN_CLOSED) {
			notify(w, ec, QB_ENGINE_EV_CLOSED, now);
			conn_release(w, i);
			continue;
		}
		timer_arm(w, ec);
	}
	return work;
}

unsigned int
qb_engine_worker_poll(struct qb_worker *wk, uint64_t tsc)
{
	(void)tsc;
	return qb_engine_poll(wk->mode, qb_engine_now_ns());
}

/* ---- set-up -------------------------------------------------------------- */

/* A fixed hash key when none is configured (a deployment should set one). */
#define ENGINE_STEER_SEED 0x9e3779b97f4a7c15ull

int
qb_engine_worker_init(struct qb_engine_worker *w, const struct qb_engine_conf *cf)
{
	const struct qb_dispatch_ops ops = {.deliver = on_deliver, .accept = on_accept};
	struct qb_dispatch_conf dc;
	uint64_t now = qb_engine_now_ns();

	if (cf == NULL || cf->pool == NULL || cf->addrs == NULL || cf->conn.tls == NULL ||
	    cf->n_workers == 0 || cf->n_workers > QB_DISPATCH_MAX_WORKERS ||
	    cf->worker_id >= cf->n_workers || (cf->n_workers > 1 && cf->inboxes == NULL) ||
	    cf->udp_port == 0)
		return QB_ERR_ARG;
	memset(w, 0, sizeof(*w));
	w->cf = *cf;
	if (w->cf.mtu == 0)
		w->cf.mtu = 1452;
	if (w->cf.mtu < QB_MIN_INITIAL_DGRAM)
		return QB_ERR_ARG;
	/* The steering every worker of the group applies alike. */
	w->sh.steer.n_workers = cf->n_workers;
	w->sh.steer.cid_len = QB_ENGINE_CID_LEN;
	w->sh.steer.seed = cf->steer_seed ? cf->steer_seed : ENGINE_STEER_SEED;
	w->sh.steer.lb.server_id_len = 1;
	w->sh.steer.lb.server_id[0] = cf->server_id;
	w->sh.n_workers = cf->n_workers;
	if (cf->n_workers > 1) {
		for (unsigned int i = 0; i < cf->n_workers; i++)
			w->sh.rings[i] = cf->inboxes[i];
	} else {
		char name[RTE_RING_NAMESIZE];

		snprintf(name, sizeof(name), "qb_eng_%" PRIxPTR, (uintptr_t)w);
		w->own_ring =
		        rte_ring_create(name, 64, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (w->own_ring == NULL)
			return QB_ERR_NOMEM;
		w->sh.rings[0] = w->own_ring;
	}
	w->lb = w->sh.steer.lb;
	w->lb.worker_id = (uint8_t)cf->worker_id;
	w->seed = cf->conn.seed ^ ((uint64_t)cf->worker_id << 48);
	dc = (struct qb_dispatch_conf){
	        .index = cf->worker_id,
	        .max_conns = QB_ENGINE_MAX_CONNS * QB_CID_LOCAL_MAX,
	        .max_initial = QB_ENGINE_MAX_CONNS,
	        .max_timers = QB_ENGINE_MAX_CONNS,
	        .timer_tick_ns = cf->timer_tick_ns ? cf->timer_tick_ns : 10000,
	        .listener =
	                {
	                        .cid_len = QB_ENGINE_CID_LEN,
	                        .server = cf->server,
	                        .reset_rate = cf->reset_rate ? cf->reset_rate : 1000,
	                        .reset_key = cf->conn.reset_key,
	                        .rng_seed = w->seed ^ 0x7e57ab1e,
	                },
	        /* Forwarded datagrams are recognised on our port only when
	         * asked (BRIEF §2); we relay none (no neighbour table). */
	        .relay_port = cf->accept_relayed ? cf->udp_port : 0,
	        .addrs = cf->addrs,
	        .hw_cksum_v4 = cf->hw_cksum,
	        .hw_cksum_v6 = cf->hw_cksum,
	        .seed = w->seed,
	};
	w->d = qb_dispatch_create(&w->sh, &dc, &ops, w, now);
	if (w->d == NULL ||
	    qb_stream_pools_init(&w->pools, 4096, cf->pool_chunks ? cf->pool_chunks : 16384,
	                         cf->pool_streams ? cf->pool_streams : 1024) != 0) {
		qb_dispatch_free(w->d);
		rte_ring_free(w->own_ring);
		return QB_ERR_NOMEM;
	}
	w->wk.index = cf->worker_id;
	w->wk.port_id = cf->port_id;
	w->wk.queue_id = cf->queue_id;
	w->wk.poll = qb_engine_worker_poll;
	w->wk.mode = w;
	qb_burst_txq_init(&w->txq, &w->wk, cf->pool);
	return 0;
}

void
qb_engine_worker_fini(struct qb_engine_worker *w)
{
	struct rte_mbuf *pkts[QB_BURST];
	unsigned int n;

	for (unsigned int i = 0; i < QB_ENGINE_MAX_CONNS; i++)
		if (w->conns[i].conn != NULL)
			conn_release(w, i);
	qb_dispatch_free(w->d);
	w->d = NULL;
	qb_stream_pools_fini(&w->pools);
	if (w->own_ring != NULL) {
		do {
			n = rte_ring_dequeue_burst(w->own_ring, (void **)pkts, QB_BURST, NULL);
			rte_pktmbuf_free_bulk(pkts, n);
		} while (n > 0);
		rte_ring_free(w->own_ring);
		w->own_ring = NULL;
		w->sh.rings[0] = NULL;
	}
}

unsigned int
qb_engine_cid_owner(const struct qb_engine_worker *w, const uint8_t *cid, size_t len)
{
	int wid;

	if (qb_steer_cid_ours(&w->sh.steer, cid, len, &wid))
		return (unsigned int)wid;
	return (unsigned int)(qb_steer_hash(w->sh.steer.seed, cid, len) % w->sh.n_workers);
}

struct rte_ring *
qb_engine_inbox_create(const char *name, unsigned int size, int socket_id)
{
	return rte_ring_create(name, size, socket_id, RING_F_SC_DEQ);
}

unsigned int
qb_engine_worker_drain(struct qb_engine_worker *w)
{
	struct rte_mbuf *pkts[QB_BURST];
	struct rte_ring *r = w->sh.rings[w->cf.worker_id];
	unsigned int total = 0, n;

	do {
		n = rte_eth_rx_burst(w->cf.port_id, w->cf.queue_id, pkts, QB_BURST);
		rte_pktmbuf_free_bulk(pkts, n);
		total += n;
	} while (n > 0);
	while (r != NULL) {
		n = rte_ring_dequeue_burst(r, (void **)pkts, QB_BURST, NULL);
		rte_pktmbuf_free_bulk(pkts, n);
		total += n;
		if (n == 0)
			break;
	}
	return total;
}
