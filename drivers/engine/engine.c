/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The QUIC worker loop: RX, demux by DCID, steering to the owning worker,
 * delivery, timers and bursts. See qb_engine.h for the whole turn.
 */
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "qb_engine.h"
#include "qb_neigh.h"
#include "qb_port.h"

/* Bursts one connection may send per turn, so that receiving keeps pace. */
#define ENGINE_TX_BUDGET   4
/* RX bursts per turn (the ring or queue is drained up to this). */
#define ENGINE_RX_ROUNDS   4
/* Bytes of our CIDs (QUIC-LB layout: 1 + server id + worker + 5 random). */
#define ENGINE_CID_LEN     8
/* The smallest datagram that may open a connection (RFC 9000 §14.1). */
#define ENGINE_MIN_INITIAL 1200

static const char *const drop_names[QB_ENGINE_DROP__COUNT] = {
        [QB_ENGINE_DROP_NOT_OUR_PORT] = "not_our_port",
        [QB_ENGINE_DROP_MULTISEG] = "multiseg",
        [QB_ENGINE_DROP_MALFORMED] = "malformed",
        [QB_ENGINE_DROP_UNKNOWN_CID] = "unknown_cid",
        [QB_ENGINE_DROP_SMALL_INITIAL] = "small_initial",
        [QB_ENGINE_DROP_NOT_INITIAL] = "not_initial",
        [QB_ENGINE_DROP_CONN_FULL] = "conn_full",
        [QB_ENGINE_DROP_INBOX_FULL] = "inbox_full",
        [QB_ENGINE_DROP_CLOSED] = "closed",
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

/* ---- the CID table (TEMPORARY: linear; replaced by the steer table) ---- */

static int
cid_find(const struct qb_engine_worker *w, const uint8_t *cid, size_t len)
{
	for (unsigned int i = 0; i < w->n_cids; i++) {
		const struct qb_engine_cid *e = &w->cids[i];

		if (e->len == len && memcmp(e->id, cid, len) == 0)
			return e->conn;
	}
	return -1;
}

static int
cid_add(struct qb_engine_worker *w, const uint8_t *cid, size_t len, unsigned int conn, bool initial)
{
	struct qb_engine_cid *e;

	if (len == 0 || len > QB_MAX_CID_LEN || w->n_cids == QB_ENGINE_MAX_CIDS)
		return QB_ERR_NOMEM;
	e = &w->cids[w->n_cids++];
	e->len = (uint8_t)len;
	e->initial = initial;
	e->conn = (uint16_t)conn;
	memcpy(e->id, cid, len);
	return 0;
}

/* Removes conn's entries (all of them, or only the issued ones). */
static void
cid_remove(struct qb_engine_worker *w, unsigned int conn, bool keep_initial)
{
	unsigned int i = 0;

	while (i < w->n_cids) {
		struct qb_engine_cid *e = &w->cids[i];

		if (e->conn == conn && !(keep_initial && e->initial))
			*e = w->cids[--w->n_cids];
		else
			i++;
	}
}

/* Brings the table in line with the CIDs conn issued, when they changed. */
static void
cid_sync(struct qb_engine_worker *w, unsigned int idx)
{
	struct qb_engine_conn *ec = &w->conns[idx];
	const struct qb_cid_local *l = qb_conn_local_cids(ec->conn);
	size_t count = qb_cid_local_count(l);

	if (l->next_seq == ec->cid_seq && count == ec->cid_count)
		return;
	cid_remove(w, idx, true);
	for (unsigned int i = 0; i < QB_CID_LOCAL_MAX; i++)
		if (l->e[i].live && cid_add(w, l->e[i].cid.id, l->e[i].cid.len, idx, false) != 0)
			edrop(w, QB_ENGINE_DROP_CONN_FULL);
	ec->cid_seq = l->next_seq;
	ec->cid_count = count;
}

/* ---- steering --------------------------------------------------------- */

/* FNV-1a over the DCID: any function of its bytes keeps a handshake on one worker. */
static uint32_t
cid_hash(const uint8_t *cid, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ cid[i]) * 16777619u;
	return h;
}

unsigned int
qb_engine_cid_owner(const struct qb_cid_lb *lb, const uint8_t *cid, size_t len, unsigned int n)
{
	int wid;

	if (n <= 1)
		return 0;
	wid = qb_cid_lb_worker(lb, cid, len);
	if (wid >= 0 && (unsigned int)wid < n)
		return (unsigned int)wid;
	return cid_hash(cid, len) % n;
}

struct rte_ring *
qb_engine_inbox_create(const char *name, unsigned int size, int socket_id)
{
	return rte_ring_create(name, size, socket_id, RING_F_SC_DEQ);
}

/* ---- connections -------------------------------------------------------- */

static int
fill(void *arg, uint8_t *buf, size_t cap, uint64_t now, uint32_t *why)
{
	/* A burst after a short first datagram (an ACK) offers a cap below
	 * what the connection accepts: end the burst there, nothing amiss. */
	if (cap < ENGINE_MIN_INITIAL) {
		*why = 0;
		return 0;
	}
	return qb_conn_send(arg, 0, buf, cap, now, why);
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
	cfg->cid_len = ENGINE_CID_LEN;
	cfg->cid_gen = qb_cid_gen_lb;
	cfg->cid_gen_ctx = &w->lb;
	cfg->seed = seed;
}

static void
conn_release(struct qb_engine_worker *w, unsigned int idx)
{
	struct qb_engine_conn *ec = &w->conns[idx];

	cid_remove(w, idx, false);
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

/* A server connection for the Initial in m; its path from the frame's addresses. */
static int
conn_accept(struct qb_engine_worker *w, struct rte_mbuf *m, const struct qb_pkt_info *pi,
            uint8_t *dgram, const uint8_t *dcid, size_t dcid_len, uint64_t now)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	struct qb_engine_conn *ec;
	struct qb_conn_config cfg;
	struct qb_udp_tmpl t;
	int idx;

	if (pi->payload_len < ENGINE_MIN_INITIAL) {
		edrop(w, QB_ENGINE_DROP_SMALL_INITIAL);
		return -1;
	}
	idx = slot_alloc(w);
	if (idx < 0 || w->n_cids + QB_CID_LOCAL_MAX + 1 > QB_ENGINE_MAX_CIDS) {
		edrop(w, QB_ENGINE_DROP_CONN_FULL);
		return -1;
	}
	ec = &w->conns[idx];
	if (qb_udp_tmpl_init(&t, &w->cf.addrs->mac, &eth->src_addr, pi->vlan_tci, &pi->dst,
	                     pi->dport, &pi->src, pi->sport, w->cf.hw_cksum) != 0 ||
	    qb_burst_path_init(&ec->path, &t, w->cf.mtu, NULL) != 0) {
		edrop(w, QB_ENGINE_DROP_MALFORMED);
		return -1;
	}
	conn_cfg(w, &cfg, w->seed++);
	if (w->cf.on_conn_config != NULL)
		w->cf.on_conn_config(w->cf.event_arg, w, &cfg, now);
	ec->conn = qb_conn_server_new(&cfg, dgram, pi->payload_len, now);
	if (ec->conn == NULL) {
		edrop(w, QB_ENGINE_DROP_NOT_INITIAL);
		return -1;
	}
	w->n_conns++;
	ec->ready = true;
	ec->deadline = UINT64_MAX;
	qb_count(&w->st.conns_new, 1);
	if (cid_add(w, dcid, dcid_len, (unsigned int)idx, true) != 0)
		edrop(w, QB_ENGINE_DROP_CONN_FULL);
	cid_sync(w, (unsigned int)idx);
	notify(w, ec, QB_ENGINE_EV_NEW, now);
	return idx;
}

struct qb_engine_conn *
qb_engine_connect(struct qb_engine_worker *w, const struct qb_ipaddr *dst, uint16_t dport,
                  const struct rte_ether_addr *dst_mac, uint64_t seed, uint64_t now)
{
	const struct qb_ipaddr *src = qb_port_addrs_src_for(w->cf.addrs, dst);
	struct qb_engine_conn *ec;
	struct qb_conn_config cfg;
	struct qb_udp_tmpl t;
	int idx = slot_alloc(w);

	if (src == NULL || idx < 0 || w->n_cids + QB_CID_LOCAL_MAX > QB_ENGINE_MAX_CIDS)
		return NULL;
	ec = &w->conns[idx];
	if (qb_udp_tmpl_init(&t, &w->cf.addrs->mac, dst_mac, w->cf.addrs->vlan_tci, src,
	                     w->cf.udp_port, dst, dport, w->cf.hw_cksum) != 0 ||
	    qb_burst_path_init(&ec->path, &t, w->cf.mtu, NULL) != 0)
		return NULL;
	conn_cfg(w, &cfg, seed);
	ec->conn = qb_conn_client_new(&cfg, now);
	if (ec->conn == NULL)
		return NULL;
	w->n_conns++;
	ec->ready = true;
	ec->deadline = qb_conn_deadline(ec->conn);
	qb_count(&w->st.conns_new, 1);
	cid_sync(w, (unsigned int)idx);
	return ec;
}

/* ---- receive ------------------------------------------------------------- */

/*
 * The DCID of the first QUIC packet of a datagram (RFC 9000 §17.2, §17.3),
 * read without removing protection. false when it does not fit.
 */
static bool
dgram_dcid(const uint8_t *d, size_t len, const uint8_t **cid, size_t *cid_len)
{
	if (len < 1)
		return false;
	if (d[0] & 0x80) { /* long header: version (4), DCID length (1), DCID */
		if (len < 6 || d[5] > QB_MAX_CID_LEN || len < 6u + d[5])
			return false;
		*cid = d + 6;
		*cid_len = d[5];
		return true;
	}
	if (len < 1 + ENGINE_CID_LEN) /* short header: our CIDs' fixed length */
		return false;
	*cid = d + 1;
	*cid_len = ENGINE_CID_LEN;
	return true;
}

/* Hands m to worker owner's inbox. true when taken. */
static bool
handover(struct qb_engine_worker *w, struct rte_mbuf *m, unsigned int owner)
{
	if (rte_ring_enqueue(w->cf.inboxes[owner], m) != 0) {
		edrop(w, QB_ENGINE_DROP_INBOX_FULL);
		return false;
	}
	qb_count(&w->st.handover_out, 1);
	return true;
}

/*
 * One received frame; m is freed, transmitted or handed over. from_inbox:
 * another worker steered it here (it is not steered again). Returns 1 if
 * the frame was a datagram handled (delivered or handed over).
 */
static unsigned int
rx_one(struct qb_engine_worker *w, struct rte_mbuf *m, bool from_inbox, uint64_t now)
{
	struct qb_pkt_info pi;
	enum qb_drop d;
	const uint8_t *dcid;
	size_t dcid_len;
	uint8_t *dgram;
	int idx;

	d = qb_net_parse(m, w->cf.addrs, &pi);
	if (d != QB_DROP_NONE) {
		qb_count(&w->wk.stats.drops[d], 1);
		goto free;
	}
	if (pi.kind != QB_PKT_UDP) {
		if (qb_neigh_input(NULL, w->cf.addrs, m, &pi, &d) == QB_NEIGH_REPLY) {
			if (rte_eth_tx_burst(w->cf.port_id, w->cf.queue_id, &m, 1) == 1) {
				qb_count(&w->st.neigh_replies, 1);
				return 0;
			}
			qb_count(&w->wk.stats.drops[QB_DROP_TX_FULL], 1);
		} else if (d != QB_DROP_NONE) {
			qb_count(&w->wk.stats.drops[d], 1);
		}
		goto free;
	}
	if (pi.dport != w->cf.udp_port) {
		edrop(w, QB_ENGINE_DROP_NOT_OUR_PORT);
		goto free;
	}
	if (m->nb_segs != 1 || (uint32_t)pi.payload_off + pi.payload_len > m->data_len) {
		edrop(w, QB_ENGINE_DROP_MULTISEG);
		goto free;
	}
	dgram = rte_pktmbuf_mtod_offset(m, uint8_t *, pi.payload_off);
	if (!dgram_dcid(dgram, pi.payload_len, &dcid, &dcid_len)) {
		edrop(w, QB_ENGINE_DROP_MALFORMED);
		goto free;
	}
	idx = cid_find(w, dcid, dcid_len);
	if (idx < 0) {
		unsigned int owner = qb_engine_cid_owner(&w->lb, dcid, dcid_len, w->cf.n_workers);

		if (!from_inbox && owner != w->cf.worker_id) {
			if (handover(w, m, owner))
				return 1;
			goto free;
		}
		if (!(dgram[0] & 0x80)) {
			/* A stateless reset (RFC 9000 §10.3) is the listener's job. */
			edrop(w, QB_ENGINE_DROP_UNKNOWN_CID);
			goto free;
		}
		if (!w->cf.server) {
			edrop(w, QB_ENGINE_DROP_NOT_INITIAL);
			goto free;
		}
		idx = conn_accept(w, m, &pi, dgram, dcid, dcid_len, now);
		if (idx < 0)
			goto free;
	}
	{
		struct qb_engine_conn *ec = &w->conns[idx];

		if (qb_conn_recv(ec->conn, 0, dgram, pi.payload_len, now) != 0)
			edrop(w, QB_ENGINE_DROP_CLOSED);
		else
			qb_count(&w->st.dgrams_in, 1);
		ec->recv = true;
		ec->ready = true;
	}
	rte_pktmbuf_free(m);
	return 1;
free:
	rte_pktmbuf_free(m);
	return 0;
}

/* ---- the turn ------------------------------------------------------------ */

static unsigned int
tx_conn(struct qb_engine_worker *w, struct qb_engine_conn *ec, uint64_t now)
{
	unsigned int total = 0;

	for (unsigned int b = 0; b < ENGINE_TX_BUDGET; b++) {
		uint32_t why = 0;
		unsigned int n = qb_burst_tx(&w->txq, &ec->path, QB_ENGINE_BURST, w->cf.mtu, fill,
		                             ec->conn, now, &why);

		total += n;
		if (n > 0)
			qb_count(&w->st.bursts, 1);
		/* Reasons from the connection: wait for the event that clears them.
		 * A burst cut by the GSO rule or its size (why 0), or by the pool,
		 * goes on. */
		if (why & ~QB_BURST_WHY_NO_MBUF) {
			ec->why = why;
			ec->ready = false;
			break;
		}
		if (n == 0)
			break;
	}
	return total;
}

unsigned int
qb_engine_poll(struct qb_engine_worker *w, uint64_t now)
{
	struct rte_mbuf *pkts[QB_BURST];
	unsigned int work = 0, n, i;

	if (w->cf.n_workers > 1) {
		n = rte_ring_dequeue_burst(w->cf.inboxes[w->cf.worker_id], (void **)pkts, QB_BURST,
		                           NULL);
		qb_count(&w->st.handover_in, n);
		for (i = 0; i < n; i++)
			work += rx_one(w, pkts[i], true, now);
	}
	for (unsigned int r = 0; r < ENGINE_RX_ROUNDS; r++) {
		uint64_t bytes = 0;

		n = rte_eth_rx_burst(w->cf.port_id, w->cf.queue_id, pkts, QB_BURST);
		for (i = 0; i < n; i++)
			bytes += pkts[i]->pkt_len;
		qb_count(&w->wk.stats.rx_pkts, n);
		qb_count(&w->wk.stats.rx_bytes, bytes);
		for (i = 0; i < n; i++)
			work += rx_one(w, pkts[i], false, now);
		if (n < QB_BURST)
			break;
	}

	for (i = 0; i < QB_ENGINE_MAX_CONNS && w->n_conns > 0; i++) {
		struct qb_engine_conn *ec = &w->conns[i];

		if (ec->conn == NULL)
			continue;
		if (ec->recv) {
			ec->recv = false;
			notify(w, ec, QB_ENGINE_EV_RECV, now);
		}
		if (ec->deadline <= now) {
			qb_conn_on_timeout(ec->conn, now);
			ec->ready = true;
		}
		if (ec->ready)
			work += tx_conn(w, ec, now);
		cid_sync(w, i);
		ec->deadline = qb_conn_deadline(ec->conn);
		if (qb_conn_state(ec->conn) == QB_CONN_CLOSED) {
			notify(w, ec, QB_ENGINE_EV_CLOSED, now);
			conn_release(w, i);
		}
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

int
qb_engine_worker_init(struct qb_engine_worker *w, const struct qb_engine_conf *cf)
{
	if (cf == NULL || cf->pool == NULL || cf->addrs == NULL || cf->conn.tls == NULL ||
	    cf->n_workers == 0 || cf->n_workers > QB_ENGINE_MAX_WORKERS ||
	    cf->worker_id >= cf->n_workers || (cf->n_workers > 1 && cf->inboxes == NULL))
		return QB_ERR_ARG;
	memset(w, 0, sizeof(*w));
	w->cf = *cf;
	if (w->cf.mtu == 0)
		w->cf.mtu = 1452;
	if (w->cf.mtu < ENGINE_MIN_INITIAL)
		return QB_ERR_ARG;
	if (qb_stream_pools_init(&w->pools, 4096, cf->pool_chunks ? cf->pool_chunks : 16384,
	                         cf->pool_streams ? cf->pool_streams : 1024) != 0)
		return QB_ERR_NOMEM;
	w->wk.index = cf->worker_id;
	w->wk.port_id = cf->port_id;
	w->wk.queue_id = cf->queue_id;
	w->wk.poll = qb_engine_worker_poll;
	w->wk.mode = w;
	qb_burst_txq_init(&w->txq, &w->wk, cf->pool);
	w->lb.server_id_len = 1;
	w->lb.server_id[0] = cf->server_id;
	w->lb.worker_id = (uint8_t)cf->worker_id;
	w->seed = cf->conn.seed ^ ((uint64_t)cf->worker_id << 48);
	return 0;
}

void
qb_engine_worker_fini(struct qb_engine_worker *w)
{
	for (unsigned int i = 0; i < QB_ENGINE_MAX_CONNS; i++)
		if (w->conns[i].conn != NULL)
			conn_release(w, i);
	qb_stream_pools_fini(&w->pools);
}

unsigned int
qb_engine_worker_drain(struct qb_engine_worker *w)
{
	struct rte_mbuf *pkts[QB_BURST];
	unsigned int total = 0, n;

	do {
		n = rte_eth_rx_burst(w->cf.port_id, w->cf.queue_id, pkts, QB_BURST);
		rte_pktmbuf_free_bulk(pkts, n);
		total += n;
	} while (n > 0);
	if (w->cf.n_workers > 1) {
		do {
			n = rte_ring_dequeue_burst(w->cf.inboxes[w->cf.worker_id], (void **)pkts,
			                           QB_BURST, NULL);
			rte_pktmbuf_free_bulk(pkts, n);
			total += n;
		} while (n > 0);
	}
	return total;
}
