/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --mode=udpgen: UDP datagrams of --pkt-size bytes (Ethernet frame without
 * FCS) from --ip to --dst-ip:--dst-port over --flows source ports.
 *
 * The per-packet work is kept to what testpmd's txonly does: the payload is
 * written once into every mbuf of a dedicated pool at start-up (a freed mbuf
 * keeps it: nothing else writes into this pool's buffers), and each flow's
 * headers are built once with their final lengths and checksums (software
 * path: the full UDP checksum over the constant payload; offload path: the
 * pseudo-header seed and the flags). Per packet: a fixed-size header copy
 * and a few stores.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "app.h"
#include "qb_log.h"
#include "rx.h"

/* Per-worker state, written only by its worker. */
struct udpgen_worker {
	struct rte_mempool *pool;
	const struct qb_udp_frame *frames; /* shared, read-only */
	const struct qb_port_addrs *pa;
	uint32_t nflows;
	uint32_t flow;
	uint16_t payload_len;
	uint16_t frame_len;
	/* --rate > 0 only */
	double pkts_per_tsc;
	uint64_t rate_start;
	uint64_t sent; /* packets due so far, sent or dropped */
} __rte_cache_aligned;

struct udpgen {
	struct rte_mempool *pool;
	struct qb_udp_frame *frames;
	struct udpgen_worker *uw; /* one per worker */
};

/* The payload byte at offset i: constant, so one checksum per flow. */
static inline uint8_t
payload_byte(unsigned int i)
{
	return (uint8_t)(0x20 + i % 95); /* printable, easy to spot in a capture */
}

struct fill_arg {
	uint16_t len;
};

/* rte_mempool_obj_iter callback: write the payload after our headroom. */
static void
fill_payload(struct rte_mempool *mp, void *arg, void *obj, unsigned int idx)
{
	const struct fill_arg *fa = arg;
	struct rte_mbuf *m = obj;
	uint8_t *p = (uint8_t *)m->buf_addr + QB_MBUF_HEADROOM;
	unsigned int i;

	RTE_SET_USED(mp);
	RTE_SET_USED(idx);
	for (i = 0; i < fa->len; i++)
		p[i] = payload_byte(i);
}

/*
 * Build n packets from u's pool and send them; what the PMD did not take is
 * freed and counted as tx_full. Counters are updated once per burst.
 */
static inline unsigned int
send_burst(struct qb_worker *w, struct udpgen_worker *u, unsigned int n)
{
	struct rte_mbuf *pkts[QB_BURST];
	uint32_t flow = u->flow;
	unsigned int i, sent;

	if (unlikely(rte_pktmbuf_alloc_bulk(u->pool, pkts, n) != 0)) {
		qb_count(&w->stats.drops[QB_DROP_NO_MBUF], n);
		return 0;
	}
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];

		/* The payload is already in place after the headroom. */
		m->data_off = QB_MBUF_HEADROOM;
		m->data_len = u->payload_len;
		m->pkt_len = u->payload_len;
		qb_udp_frame_prepend(m, &u->frames[flow]);
		if (++flow == u->nflows)
			flow = 0;
	}
	u->flow = flow;
	sent = rte_eth_tx_burst(w->port_id, w->queue_id, pkts, (uint16_t)n);
	if (unlikely(sent < n)) {
		rte_pktmbuf_free_bulk(&pkts[sent], n - sent);
		qb_count(&w->stats.drops[QB_DROP_TX_FULL], n - sent);
	}
	qb_count(&w->stats.tx_pkts, sent);
	qb_count(&w->stats.tx_bytes, (uint64_t)sent * u->frame_len);
	return n;
}

/* --rate=0: a full burst every poll, no rate arithmetic. */
static unsigned int
udpgen_poll_max(struct qb_worker *w, uint64_t now)
{
	struct udpgen_worker *u = w->mode;

	RTE_SET_USED(now);
	qb_rx_poll(w, u->pa, true);
	return send_burst(w, u, QB_BURST);
}

/* --rate>0: send what is due by the TSC, at most a burst per poll. */
static unsigned int
udpgen_poll_rate(struct qb_worker *w, uint64_t now)
{
	struct udpgen_worker *u = w->mode;
	unsigned int rx = qb_rx_poll(w, u->pa, true);
	uint64_t due = (uint64_t)((double)(now - u->rate_start) * u->pkts_per_tsc);
	unsigned int n;

	if (due <= u->sent)
		return rx;
	n = due - u->sent > QB_BURST ? QB_BURST : (unsigned int)(due - u->sent);
	u->sent += n;
	return send_burst(w, u, n) + rx;
}

static void
udpgen_free(struct udpgen *g)
{
	rte_free(g->uw);
	rte_free(g->frames);
	if (g->pool != NULL) {
		qb_pool_report(g->pool);
		rte_mempool_free(g->pool);
	}
	free(g);
}

/* The next hop's MAC: --dst-mac, a --neigh entry, else ARP/ND. */
static int
resolve_dst_mac(struct qb_app *app, struct rte_ether_addr *mac)
{
	const struct qb_opts *o = &app->opts;
	char dst[QB_IPADDR_STRLEN], nhs[QB_IPADDR_STRLEN];
	struct qb_ipaddr nh;
	int rc;

	if (o->has_dst_mac) {
		*mac = o->dst_mac;
		return 0;
	}
	qb_next_hop(&app->addrs, &o->dst_ip, &nh);
	rc = qb_neigh_resolve(app->port.port_id, 0, app->port.pool, &app->addrs, &app->neigh, &nh,
	                      o->arp_timeout_ms, mac);
	if (rc == 0)
		return 0;
	qb_ipaddr_format(&o->dst_ip, dst, sizeof(dst));
	qb_ipaddr_format(&nh, nhs, sizeof(nhs));
	fprintf(stderr,
	        "qburst: --dst-ip=%s: next hop %s did not answer %s within %u ms (%s); "
	        "give --dst-mac or --neigh\n",
	        dst, nhs, nh.family == QB_AF_INET ? "ARP" : "neighbour solicitation",
	        o->arp_timeout_ms, qb_strerror(rc));
	return -1;
}

static int
udpgen_init(struct qb_app *app)
{
	const struct qb_opts *o = &app->opts;
	const struct qb_ipaddr *src = qb_port_addrs_src_for(&app->addrs, &o->dst_ip);
	bool v4 = o->dst_ip.family == QB_AF_INET;
	bool hw = v4 ? app->port.tx_cksum_ipv4 : app->port.tx_cksum_ipv6;
	unsigned int hdr_len = RTE_ETHER_HDR_LEN + (v4 ? 20 : 40) + 8;
	uint16_t payload_len = (uint16_t)(o->pkt_size - hdr_len);
	struct rte_ether_addr dst_mac;
	struct fill_arg fa = {.len = payload_len};
	struct udpgen *g;
	uint8_t *payload;
	unsigned int i, n;
	int rc;

	if (src == NULL) /* options.c checked there is an --ip of this family */
		return QB_EXIT_USAGE;
	if (resolve_dst_mac(app, &dst_mac) != 0)
		return QB_EXIT_FAIL;

	g = calloc(1, sizeof(*g));
	payload = malloc(payload_len);
	if (g == NULL || payload == NULL)
		goto nomem;
	for (i = 0; i < payload_len; i++)
		payload[i] = payload_byte(i);

	/* Every TX descriptor full, a cache per lcore, a burst per worker. */
	n = app->nb_workers * (app->port.nb_txd + 2 * QB_BURST) +
	    rte_lcore_count() * QB_POOL_CACHE + 1024;
	g->pool = qb_pool_create("qb_udpgen", n,
	                         (uint16_t)RTE_ALIGN_CEIL(QB_MBUF_HEADROOM + payload_len, 64),
	                         app->port.socket_id);
	if (g->pool == NULL)
		goto nomem;
	rte_mempool_obj_iter(g->pool, fill_payload, &fa);

	/* One frame per flow, final checksums included: built once. */
	g->frames = rte_zmalloc_socket("qb_udpgen_frames", sizeof(*g->frames) * o->flows,
	                               RTE_CACHE_LINE_SIZE, app->port.socket_id);
	g->uw = rte_zmalloc_socket("qb_udpgen_workers", sizeof(*g->uw) * app->nb_workers,
	                           RTE_CACHE_LINE_SIZE, app->port.socket_id);
	if (g->frames == NULL || g->uw == NULL)
		goto nomem;
	for (i = 0; i < o->flows; i++) {
		struct qb_udp_tmpl t;

		rc = qb_udp_tmpl_init(&t, &app->port.mac, &dst_mac, 0, src,
		                      (uint16_t)(o->src_port + i), &o->dst_ip, o->dst_port, hw);
		if (rc == 0)
			rc = qb_udp_frame_init(&g->frames[i], &t, payload, payload_len);
		if (rc != 0) {
			fprintf(stderr, "qburst: udpgen: flow %u: %s\n", i, qb_strerror(rc));
			free(payload);
			udpgen_free(g);
			return QB_EXIT_FAIL;
		}
	}
	free(payload);

	for (i = 0; i < app->nb_workers; i++) {
		struct udpgen_worker *u = &g->uw[i];
		struct qb_worker *w = &app->workers[i];
		uint64_t r = o->rate / app->nb_workers + (i < o->rate % app->nb_workers);

		u->pool = g->pool;
		u->frames = g->frames;
		u->pa = &app->addrs;
		u->nflows = o->flows;
		/* Workers start at different flows so that together they
		 * cover every source port evenly. */
		u->flow = (uint32_t)((uint64_t)i * o->flows / app->nb_workers);
		u->payload_len = payload_len;
		u->frame_len = (uint16_t)o->pkt_size;
		u->pkts_per_tsc = (double)r / (double)rte_get_tsc_hz();
		w->mode = u;
		w->poll = o->rate != 0 ? udpgen_poll_rate : udpgen_poll_max;
	}
	app->mode_state = g;
	{
		char d[QB_IPADDR_STRLEN], s[QB_IPADDR_STRLEN];

		qb_ipaddr_format(src, s, sizeof(s));
		qb_ipaddr_format(&o->dst_ip, d, sizeof(d));
		QB_LOG(INFO,
		       "udpgen: %s:%u-%u -> %s:%u via " RTE_ETHER_ADDR_PRT_FMT
		       ", %u-byte frames (%u-byte payload), %s checksums, rate %s",
		       s, o->src_port, o->src_port + o->flows - 1, d, o->dst_port,
		       RTE_ETHER_ADDR_BYTES(&dst_mac), o->pkt_size, payload_len,
		       hw ? "offloaded" : "software", o->rate ? "limited" : "unlimited");
	}
	return 0;

nomem:
	fprintf(stderr, "qburst: udpgen: out of memory (pool or state)\n");
	free(payload);
	if (g != NULL)
		udpgen_free(g);
	return QB_EXIT_FAIL;
}

/* The rate clock starts when the workers do. */
static void
udpgen_start(struct qb_app *app, uint64_t now)
{
	struct udpgen *g = app->mode_state;
	unsigned int i;

	if (g == NULL)
		return;
	for (i = 0; i < app->nb_workers; i++)
		g->uw[i].rate_start = now;
}

static void
udpgen_fini(struct qb_app *app)
{
	if (app->mode_state != NULL)
		udpgen_free(app->mode_state);
	app->mode_state = NULL;
}

const struct qb_mode_ops qb_udpgen_ops = {
        .init = udpgen_init,
        .start = udpgen_start,
        .fini = udpgen_fini,
};
