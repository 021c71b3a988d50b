/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Two workers (lcores 1 and 2 mapped onto the two CPUs, BRIEF §9) on one
 * port made with rte_eth_from_rings with two queue pairs. Every frame is
 * injected on worker 0's RX queue: datagrams whose CIDs name worker 1 are
 * handed over through worker 1's ring and delivered there; client Initials
 * land on hash(DCID) % 2; an unknown short header is answered with a
 * stateless reset on worker 0's TX queue; a forwarded datagram for which we
 * are the relay leaves unchanged behind new headers. At the end every mbuf
 * is back in the pool.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_eth_ring.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <qburst/fwdhdr.h>

#include "qb_dispatch.h"
#include "qb_worker.h"

#define NB_MBUF   2047
#define BURST     32
#define CID_LEN   12
#define PORT      4433
#define N_SHORT   200 /* per owner worker */
#define N_INITIAL 40

static struct rte_mempool *mp;
static uint16_t port;
static struct rte_ring *rxr[2], *txr[2];
static struct qb_port_addrs pa;
static struct qb_neigh_table neigh;
static struct qb_dispatch_shared sh;
static volatile int stop;
static const uint8_t reset_key[QB_CID_RESET_KEY_LEN] = {7, 7, 7};
static const struct rte_ether_addr peer_mac = {{0x02, 0, 0, 0, 0, 0x99}};

struct wctx {
	unsigned int idx;
	struct qb_dispatch *d;
	unsigned int delivered_ok; /* deliveries whose conn is this worker's */
	unsigned int delivered_bad;
	unsigned int accepted;
	unsigned int accepted_wrong_owner;
	unsigned int relayed; /* deliveries marked relayed */
	uint16_t last_len;    /* QUIC bytes of the last delivery */
	uint8_t last_first;   /* and their first byte */
	int conns[1];         /* the handle: &conns[0] */
	struct qb_lcore_stats stats;
} __rte_cache_aligned;

static struct wctx wc[2];

static void
eal_up(void)
{
	char prefix[64];
	char *argv[] = {"test_steer_dispatch",
	                "--lcores",
	                "0@0,1@1,2@0",
	                "--no-huge",
	                "-m",
	                "256",
	                "--no-pci",
	                "--no-shconf",
	                "--file-prefix",
	                prefix,
	                "--log-level",
	                "3"};

	snprintf(prefix, sizeof(prefix), "qb-steer-dispatch-%d", (int)getpid());
	cr_assert_geq(rte_eal_init(RTE_DIM(argv), argv), 0, "rte_eal_init failed");
}

static void
deliver(void *ctx, struct rte_mbuf *m, const struct qb_rx_dgram *dg)
{
	struct wctx *w = ctx;

	if (dg->conn == &w->conns[0])
		w->delivered_ok++;
	else
		w->delivered_bad++;
	if (dg->relayed)
		w->relayed++;
	w->last_len = dg->len;
	w->last_first = dg->data[0];
	rte_pktmbuf_free(m);
}

static void
accept_cb(void *ctx, struct rte_mbuf *m, const struct qb_rx_dgram *dg)
{
	struct wctx *w = ctx;

	/* The client's DCID hashes to this worker, from any RX queue. */
	if (qb_steer_hash(sh.steer.seed, dg->data + 6, dg->data[5]) % 2 != w->idx)
		w->accepted_wrong_owner++;
	w->accepted++;
	rte_pktmbuf_free(m);
}

static uint64_t
now_ns(void)
{
	return (uint64_t)((double)rte_rdtsc() * 1e9 / (double)rte_get_tsc_hz());
}

static int
worker(void *arg)
{
	struct wctx *w = arg;

	while (!stop) {
		if (qb_dispatch_poll(w->d, &w->stats, port, (uint16_t)w->idx, PORT, now_ns()) == 0)
			rte_pause();
	}
	return 0;
}

/* A frame from 198.18.0.2:5555 (the peer) to us with payload p. */
static struct rte_mbuf *
frame(const uint8_t *p, size_t len, const char *src)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	struct qb_udp_tmpl t;
	struct qb_ipaddr s, d;

	cr_assert_not_null(m);
	qb_ipaddr_parse(src, &s);
	qb_ipaddr_parse("198.18.0.1", &d);
	cr_assert_eq(qb_udp_tmpl_init(&t, &peer_mac, &pa.mac, 0, &s, 5555, &d, PORT, false), 0);
	memcpy(rte_pktmbuf_append(m, (uint16_t)len), p, len);
	cr_assert_eq(qb_udp_prepend(m, &t), 0);
	return m;
}

static void
inject(struct rte_mbuf *m)
{
	cr_assert_eq(rte_ring_enqueue(rxr[0], m), 0);
}

static void
make_cid(uint8_t worker_id, uint64_t seed, uint8_t cid[CID_LEN])
{
	struct qb_cid_lb lb = sh.steer.lb;
	lb.worker_id = worker_id;
	lb.rng_state = seed;
	cr_assert_eq(qb_cid_gen_lb(&lb, 0, cid, CID_LEN), 0);
}

Test(steer, two_workers_handover_listener_and_relay, .timeout = 60)
{
	struct rte_eth_conf conf = {0};
	struct qb_steer st = {.n_workers = 2, .cid_len = CID_LEN, .seed = 0xabcdef};
	uint8_t cids[2][4][CID_LEN], p[1300];
	unsigned int i, k;

	eal_up();
	cr_assert_geq(rte_lcore_count(), 3, "needs three lcores");
	mp = rte_pktmbuf_pool_create("qb_steer_mp", NB_MBUF, 0, 0, 2048 + 256, rte_socket_id());
	cr_assert_not_null(mp);
	for (i = 0; i < 2; i++) {
		char name[32];
		snprintf(name, sizeof(name), "qb_st_rx%u", i);
		rxr[i] =
		        rte_ring_create(name, 1024, rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "qb_st_tx%u", i);
		txr[i] =
		        rte_ring_create(name, 1024, rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
		cr_assert(rxr[i] != NULL && txr[i] != NULL);
	}
	int pid = rte_eth_from_rings("qb_steer_port", rxr, 2, txr, 2, rte_socket_id());
	cr_assert_geq(pid, 0);
	port = (uint16_t)pid;
	cr_assert_eq(rte_eth_dev_configure(port, 2, 2, &conf), 0);
	for (i = 0; i < 2; i++) {
		cr_assert_eq(
		        rte_eth_rx_queue_setup(port, (uint16_t)i, 256, rte_socket_id(), NULL, mp),
		        0);
		cr_assert_eq(rte_eth_tx_queue_setup(port, (uint16_t)i, 256, rte_socket_id(), NULL),
		             0);
	}
	cr_assert_eq(rte_eth_dev_start(port), 0);

	struct rte_ether_addr mac = {{0x02, 0, 0, 0, 0, 0x01}};
	struct qb_ipnet n;
	struct qb_ipaddr nip;
	qb_port_addrs_init(&pa, &mac);
	qb_ipnet_parse("198.18.0.1/24", &n);
	qb_port_addrs_add(&pa, &n);
	qb_neigh_init(&neigh);
	qb_ipaddr_parse("198.18.0.77", &nip);
	struct rte_ether_addr relay_dst_mac = {{0x02, 0, 0, 0, 0, 0x77}};
	qb_neigh_add_static(&neigh, &nip, &relay_dst_mac);

	st.lb.config_rotation = 2;
	st.lb.server_id_len = 2;
	st.lb.server_id[0] = 0x10;
	st.lb.server_id[1] = 0x20;
	cr_assert_eq(qb_dispatch_shared_init(&sh, &st, 512, (int)rte_socket_id(), "qb_st_ho"), 0);
	for (i = 0; i < 2; i++) {
		struct qb_dispatch_conf c = {
		        .index = (uint16_t)i,
		        .max_conns = 64,
		        .max_initial = 64,
		        .listener = {.cid_len = CID_LEN,
		                     .server = true,
		                     .reset_rate = 1000,
		                     .reset_key = reset_key,
		                     .rng_seed = 1 + i},
		        .relay_port = PORT,
		        .addrs = &pa,
		        .neigh = &neigh,
		        .seed = 99 + i,
		};
		struct qb_dispatch_ops ops = {.deliver = deliver, .accept = accept_cb};
		wc[i].idx = i;
		wc[i].d = qb_dispatch_create(&sh, &c, &ops, &wc[i], now_ns());
		cr_assert_not_null(wc[i].d);
		/* Four CIDs per worker's connection, in that worker's table. */
		for (k = 0; k < 4; k++) {
			make_cid((uint8_t)i, 1000 * i + k + 1, cids[i][k]);
			cr_assert_eq(qb_ctable_insert(wc[i].d->conns, cids[i][k], CID_LEN,
			                              &wc[i].conns[0]),
			             0);
		}
	}

	/* Everything arrives on worker 0's queue. */
	for (i = 0; i < 2 * N_SHORT; i++) {
		unsigned int w = i & 1;
		memset(p, 0x5a, 60);
		p[0] = (uint8_t)(0x40 | ((i & 2) ? 0x20 : 0)); /* spin bit on some */
		memcpy(p + 1, cids[w][i % 4], CID_LEN);
		inject(frame(p, 60, "198.18.0.2"));
	}
	for (i = 0; i < N_INITIAL; i++) {
		uint8_t dcid[8] = {0xc1, 0x1e, 0x47, (uint8_t)i, 0, 0, 0, 9};
		memset(p, 0, 1200);
		p[0] = 0xc3;
		p[4] = 1;
		p[5] = 8;
		memcpy(p + 6, dcid, 8);
		p[14] = 0;                         /* SCID length */
		p[15] = 0;                         /* token length */
		p[16] = 0x40 | ((1200 - 18) >> 8); /* Length */
		p[17] = (uint8_t)(1200 - 18);
		inject(frame(p, 1200, "198.18.0.2"));
	}
	/* An unknown short header: a stateless reset comes back on queue 0. */
	uint8_t unknown[CID_LEN];
	memset(unknown, 0xee, sizeof(unknown));
	memset(p, 0x33, 80);
	p[0] = 0x41;
	memcpy(p + 1, unknown, CID_LEN);
	inject(frame(p, 80, "198.18.0.3"));
	/* A forwarded datagram for which we are the relay. */
	struct qb_fwd_hdr fh = {0};
	fh.src.addr.port = 5555;
	memcpy(fh.src.addr.addr, (uint8_t[]){198, 18, 0, 2}, 4);
	fh.dst.relayed = true;
	fh.dst.addr.port = PORT;
	memcpy(fh.dst.addr.addr, (uint8_t[]){198, 18, 0, 1}, 4);
	fh.dst.outer.port = 7000;
	memcpy(fh.dst.outer.addr, (uint8_t[]){198, 18, 0, 77}, 4);
	int fl = qb_fwd_hdr_encode(p, sizeof(p), &fh, 0x45);
	cr_assert_eq(fl, 20);
	p[fl] = 0x45;
	for (i = 1; i < 100; i++)
		p[fl + i] = (uint8_t)(i * 7);
	size_t fwd_len = (size_t)fl + 100;
	uint8_t fwd_bytes[200];
	memcpy(fwd_bytes, p, fwd_len);
	inject(frame(p, fwd_len, "198.18.0.2"));

	stop = 0;
	unsigned int lcore, wi = 0;
	RTE_LCORE_FOREACH_WORKER(lcore)
	{
		if (wi < 2)
			cr_assert_eq(rte_eal_remote_launch(worker, &wc[wi], lcore), 0);
		wi++;
	}
	uint64_t deadline = rte_get_tsc_cycles() + 10 * rte_get_tsc_hz();
	while (rte_get_tsc_cycles() < deadline) {
		if (wc[0].delivered_ok + wc[1].delivered_ok == 2 * N_SHORT &&
		    wc[0].accepted + wc[1].accepted == N_INITIAL && rte_ring_count(txr[0]) >= 2)
			break;
		rte_delay_us_sleep(1000);
	}
	stop = 1;
	rte_eal_mp_wait_lcore();

	cr_assert_eq(wc[0].delivered_ok, N_SHORT);
	cr_assert_eq(wc[1].delivered_ok, N_SHORT);
	cr_assert_eq(wc[0].delivered_bad + wc[1].delivered_bad, 0);
	cr_assert_eq(wc[0].accepted + wc[1].accepted, N_INITIAL);
	cr_assert_eq(wc[0].accepted_wrong_owner + wc[1].accepted_wrong_owner, 0);
	cr_assert_gt(wc[1].accepted, 0, "some Initials hash to worker 1");
	cr_assert_gt(wc[0].accepted, 0, "some Initials hash to worker 0");
	/* Handed over: worker 1's short headers and its Initials. */
	cr_assert_eq(wc[0].d->stats.handover_out, N_SHORT + wc[1].accepted);
	cr_assert_eq(wc[1].d->stats.handover_in, N_SHORT + wc[1].accepted);
	cr_assert_eq(wc[1].d->stats.handover_out, 0);
	cr_assert_eq(wc[0].d->stats.drops[QB_SDROP_RING_FULL], 0);
	cr_assert_eq(wc[0].d->stats.resets_sent, 1);
	cr_assert_eq(wc[0].d->stats.relayed, 1);
	/* Everything was received on queue 0 and answered there. */
	cr_assert_eq(wc[0].stats.rx_pkts, 2 * N_SHORT + N_INITIAL + 2);
	cr_assert_eq(wc[1].stats.rx_pkts, 0);
	cr_assert_eq(wc[0].stats.tx_pkts, 2);

	/* Worker 0's TX queue: the reset and the relayed frame, in some order. */
	struct rte_mbuf *out[4];
	unsigned int nout = rte_ring_dequeue_burst(txr[0], (void **)out, 4, NULL);
	cr_assert_eq(nout, 2);
	cr_assert_eq(rte_ring_count(txr[1]), 0);
	bool saw_reset = false, saw_fwd = false;
	for (i = 0; i < nout; i++) {
		struct qb_pkt_info info;
		cr_assert_eq(qb_net_parse(out[i], NULL, &info), QB_DROP_NONE);
		const uint8_t *pl =
		        rte_pktmbuf_mtod_offset(out[i], const uint8_t *, info.payload_off);
		const struct rte_ether_hdr *eh =
		        rte_pktmbuf_mtod(out[i], const struct rte_ether_hdr *);
		cr_assert(rte_is_same_ether_addr(&eh->src_addr, &pa.mac));
		if (info.dport == 5555) {
			/* The reset: to the trigger's sender, 79 bytes, its token last. */
			uint8_t token[16];
			struct qb_ipaddr want;
			qb_ipaddr_parse("198.18.0.3", &want);
			cr_assert(qb_ipaddr_equal(&info.dst, &want));
			cr_assert(rte_is_same_ether_addr(&eh->dst_addr, &peer_mac));
			cr_assert_eq(info.sport, PORT);
			cr_assert_eq(info.payload_len, 43);
			qb_cid_reset_token(reset_key, unknown, CID_LEN, token);
			cr_assert_eq(memcmp(pl + 43 - 16, token, 16), 0);
			cr_assert_eq(pl[0] & 0xc0, 0x40);
			saw_reset = true;
		} else {
			/* The relayed datagram: same bytes, to 198.18.0.77:7000 via its MAC. */
			struct qb_ipaddr want;
			qb_ipaddr_parse("198.18.0.77", &want);
			cr_assert(qb_ipaddr_equal(&info.dst, &want));
			cr_assert_eq(info.dport, 7000);
			cr_assert_eq(info.sport, PORT);
			cr_assert(rte_is_same_ether_addr(&eh->dst_addr, &relay_dst_mac));
			cr_assert_eq(info.payload_len, fwd_len);
			cr_assert_eq(memcmp(pl, fwd_bytes, fwd_len), 0);
			saw_fwd = true;
		}
		rte_pktmbuf_free(out[i]);
	}
	cr_assert(saw_reset && saw_fwd);

	qb_dispatch_free(wc[0].d);
	qb_dispatch_free(wc[1].d);
	qb_dispatch_shared_fini(&sh);
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	cr_assert_eq(rte_mempool_avail_count(mp), NB_MBUF, "every mbuf back in the pool");
	rte_mempool_free(mp);
	rte_eal_cleanup();
}

/* Parse a frame as a worker would and hand it to d. */
static void
rx_one(struct qb_dispatch *d, struct rte_mbuf *m, struct rte_mbuf **tx, unsigned int *ntx)
{
	struct qb_pkt_info info;

	cr_assert_eq(qb_net_parse(m, &pa, &info), QB_DROP_NONE);
	qb_dispatch_rx(d, m, &info, 1000, tx, ntx);
}

/*
 * Without worker lcores: worker 0's dispatch called from the main lcore
 * with worker 1's ring (4 slots, 3 usable) never drained until the end:
 * the overflow is dropped and counted as ring_full; then forwarded
 * datagrams addressed to us are delivered with the header skipped, on the
 * owner named by the inner packet's CID.
 */
Test(steer, ring_full_and_forwarded_to_us, .timeout = 60)
{
	struct qb_steer st = {.n_workers = 2, .cid_len = CID_LEN, .seed = 5};
	struct rte_mbuf *tx[8];
	unsigned int ntx = 0, i;
	uint8_t cid0[CID_LEN], cid1[CID_LEN], p[1200];
	struct qb_dispatch *d[2];

	eal_up();
	mp = rte_pktmbuf_pool_create("qb_steer_mp2", 255, 0, 0, 2048 + 256, rte_socket_id());
	cr_assert_not_null(mp);
	struct rte_ether_addr mac = {{0x02, 0, 0, 0, 0, 0x01}};
	struct qb_ipnet n;
	qb_port_addrs_init(&pa, &mac);
	qb_ipnet_parse("198.18.0.1/24", &n);
	qb_port_addrs_add(&pa, &n);
	st.lb.config_rotation = 1;
	st.lb.server_id_len = 1;
	st.lb.server_id[0] = 0x33;
	cr_assert_eq(qb_dispatch_shared_init(&sh, &st, 4, (int)rte_socket_id(), "qb_st_rf"), 0);
	for (i = 0; i < 2; i++) {
		struct qb_dispatch_conf c = {
		        .index = (uint16_t)i,
		        .max_conns = 8,
		        .max_initial = 8,
		        .max_timers = 8,
		        .listener = {.cid_len = CID_LEN, .server = true},
		        .relay_port = PORT,
		        .addrs = &pa,
		        .seed = 3,
		};
		struct qb_dispatch_ops ops = {.deliver = deliver, .accept = accept_cb};
		wc[i].idx = i;
		d[i] = qb_dispatch_create(&sh, &c, &ops, &wc[i], 0);
		cr_assert_not_null(d[i]);
	}
	make_cid(0, 11, cid0);
	make_cid(1, 12, cid1);
	cr_assert_eq(qb_dispatch_add_cid(d[0], cid0, CID_LEN, &wc[0].conns[0]), 0);
	cr_assert_eq(qb_dispatch_add_cid(d[1], cid1, CID_LEN, &wc[1].conns[0]), 0);

	for (i = 0; i < 10; i++) {
		memset(p, 0x5a, 60);
		p[0] = 0x41;
		memcpy(p + 1, cid1, CID_LEN);
		rx_one(d[0], frame(p, 60, "198.18.0.2"), tx, &ntx);
	}
	cr_assert_eq(d[0]->stats.handover_out, 3);
	cr_assert_eq(d[0]->stats.drops[QB_SDROP_RING_FULL], 7);
	cr_assert_eq(qb_dispatch_drain(d[1], 1000, 32, tx, &ntx), 3);
	cr_assert_eq(wc[1].delivered_ok, 3);
	cr_assert_eq(ntx, 0);

	/* Forwarded to 198.18.0.1:PORT (direct), inner packet for worker 0. */
	struct qb_fwd_hdr fh = {0};
	fh.src.addr.port = 5555;
	memcpy(fh.src.addr.addr, (uint8_t[]){198, 18, 0, 2}, 4);
	fh.dst.addr.port = PORT;
	memcpy(fh.dst.addr.addr, (uint8_t[]){198, 18, 0, 1}, 4);
	int fl = qb_fwd_hdr_encode(p, sizeof(p), &fh, 0x42);
	cr_assert_eq(fl, 14);
	p[fl] = 0x42;
	memcpy(p + fl + 1, cid0, CID_LEN);
	memset(p + fl + 1 + CID_LEN, 0x99, 40);
	rx_one(d[0], frame(p, (size_t)fl + 1 + CID_LEN + 40, "198.18.0.2"), tx, &ntx);
	cr_assert_eq(wc[0].delivered_ok, 1);
	cr_assert_eq(wc[0].relayed, 1);
	cr_assert_eq(wc[0].last_len, 1 + CID_LEN + 40);
	cr_assert_eq(wc[0].last_first, 0x42);
	cr_assert_eq(d[0]->stats.fwd_in, 1);
	/* The same for worker 1: handed over, classified again, delivered there. */
	memcpy(p + fl + 1, cid1, CID_LEN);
	rx_one(d[0], frame(p, (size_t)fl + 1 + CID_LEN + 40, "198.18.0.2"), tx, &ntx);
	cr_assert_eq(d[0]->stats.handover_out, 4);
	cr_assert_eq(qb_dispatch_drain(d[1], 1000, 32, tx, &ntx), 1);
	cr_assert_eq(wc[1].delivered_ok, 4);
	cr_assert_eq(wc[1].relayed, 1);
	cr_assert_eq(wc[1].last_len, 1 + CID_LEN + 40);
	cr_assert_eq(d[1]->stats.fwd_in, 0, "counted once, on the receiving worker");
	/* An Initial < 1200 bytes for a client DCID: dropped on its owner. */
	memset(p, 0, 100);
	p[0] = 0xc3;
	p[4] = 1;
	p[5] = 8;
	p[16] = 0x40;
	p[17] = 100 - 18;
	for (i = 0; i < 2; i++) {
		p[6] = (uint8_t)i;
		rx_one(d[0], frame(p, 100, "198.18.0.2"), tx, &ntx);
	}
	qb_dispatch_drain(d[1], 1000, 32, tx, &ntx);
	cr_assert_eq(d[0]->stats.drops[QB_SDROP_INITIAL_TOO_SMALL] +
	                     d[1]->stats.drops[QB_SDROP_INITIAL_TOO_SMALL],
	             2);
	cr_assert_eq(ntx, 0);
	/* A handshake's initial DCID routes its Initials to the connection;
	 * the tables refuse a ninth entry and count it; forget empties them. */
	uint8_t odcid[8] = {0xc1, 0x1e, 0x47, 1, 2, 3, 4, 5};
	memset(p, 0, 1200);
	p[0] = 0xc3;
	p[4] = 1;
	p[5] = 8;
	memcpy(p + 6, odcid, 8);
	p[16] = 0x40 | ((1200 - 18) >> 8);
	p[17] = (uint8_t)(1200 - 18);
	unsigned int owner = (unsigned int)(qb_steer_hash(st.seed, odcid, 8) % 2);
	cr_assert_eq(qb_dispatch_add_initial(d[owner], odcid, 8, &wc[owner].conns[0]), 0);
	unsigned int before = wc[owner].delivered_ok;
	rx_one(d[0], frame(p, 1200, "198.18.0.2"), tx, &ntx);
	qb_dispatch_drain(d[1], 1000, 32, tx, &ntx);
	cr_assert_eq(wc[owner].delivered_ok, before + 1);
	cr_assert_eq(wc[0].accepted + wc[1].accepted, 0);
	for (i = 0; i < 7; i++) {
		odcid[7] = (uint8_t)(0x80 + i);
		cr_assert_eq(qb_dispatch_add_initial(d[owner], odcid, 8, &wc[owner].conns[0]), 0);
	}
	odcid[7] = 0xff;
	cr_assert_eq(qb_dispatch_add_initial(d[owner], odcid, 8, &wc[owner].conns[0]),
	             QB_ERR_NOMEM);
	cr_assert_eq(d[owner]->stats.drops[QB_SDROP_TABLE_FULL], 1);
	cr_assert_eq(qb_dispatch_forget(d[owner], &wc[owner].conns[0]), 9);
	cr_assert_eq(d[owner]->initial->n + d[owner]->conns->n, 0);

	/* The worker's wheel: a connection's deadline fires once, on time. */
	struct qb_twheel_fired fired[2];
	cr_assert_not_null(d[1]->timers);
	qb_twheel_schedule(d[1]->timers, 3, 5000000, &wc[1].conns[0]);
	cr_assert_eq(qb_twheel_expire(d[1]->timers, 4999999, fired, 2), 0);
	cr_assert_eq(qb_twheel_expire(d[1]->timers, 5000000, fired, 2), 1);
	cr_assert_eq(fired[0].arg, &wc[1].conns[0]);

	qb_dispatch_free(d[0]);
	qb_dispatch_free(d[1]);
	qb_dispatch_shared_fini(&sh);
	cr_assert_eq(rte_mempool_avail_count(mp), 255, "every mbuf back in the pool");
	rte_mempool_free(mp);
	rte_eal_cleanup();
}
