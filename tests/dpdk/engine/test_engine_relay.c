/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * QUIC over a relayed path (BRIEF §2, forward header), in one process: a
 * qburst client and server (engine workers) and a relay (a worker dispatch
 * with a relaying listener, as --mode=relay runs it), each on its own ring
 * port, joined by a small Ethernet switch in the test thread that moves
 * every frame from a port's TX ring to the RX ring of the port its
 * destination MAC names. The client only knows the relay: it connects
 * through it with qb_engine_connect_via; the server accepts the forwarded
 * Initial and answers through the relay.
 *
 * The switch looks at every frame: none goes between client and server
 * directly; each carries a forward header (byte 0 repeating the QUIC
 * packet's low bits, a relayed pair of 26 bytes) before QUIC packets whose
 * short headers have the spin bit 0. Then 50 MB move byte-exact, both
 * connections' paths are recorded as relayed (the peer's own endpoint and
 * the relay), every datagram they received came through the relay. Then a
 * second client connection comes directly to the same relaying listener:
 * served as plain QUIC on a direct path. At the end every mbuf is back in
 * its pool.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_eth_ring.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include "qb_engine.h"
#include "ring_node.h"
#include "qb_neigh.h"
#include "qb_port.h"

#define XFER_SIZE  (50ull * 1000 * 1000)
#define NB_MBUF    8191
#define RING_SIZE  4096
#define DATA_ROOM  (QB_MBUF_HEADROOM + 2048)
#define SRV_PORT   4433
#define CLI_PORT   40000
#define RLY_PORT   3478
#define TIMEOUT_NS (90ull * 1000 * 1000 * 1000)
#define ALPN       "hq-interop"

enum { P_CLI, P_SRV, P_RLY, P_N };

static const char request[] = "GET /50MB\r\n";
static const char *const ips[P_N] = {"198.18.5.2", "198.18.5.1", "198.18.5.3"};

struct node {
	struct ring_node r;
	struct qb_ipaddr ip;
};

static struct node nodes[P_N];
static struct qb_engine_worker cli, srv;
static struct qb_dispatch_shared rsh;
static struct qb_dispatch *rly;
static struct qb_neigh_table rneigh;
static struct qb_lcore_stats rstats;
static struct qb_tls_ctx *ctx_s, *ctx_c;
static const uint8_t reset_key[QB_CID_RESET_KEY_LEN] = {0x7e, 0x1a};

static bool done;

#define XFER_BYTES XFER_SIZE
#include "xfer_app.h"

/* What the switch saw. */
static struct {
	uint64_t frames[P_N][P_N]; /* [from][to] */
	uint64_t short_hdr;        /* 1-RTT packets first in their datagram */
	uint64_t spin_set;
	uint64_t bad_fwd;
	uint64_t not_udp;
	bool direct_ok; /* frames between client and server are expected, not inspected */
} sw;

static void
node_up(unsigned int i)
{
	ring_node_up(&nodes[i].r, "qb_rl", i, 5, &ips[i], 1, 24, NB_MBUF, DATA_ROOM, RING_SIZE);
	cr_assert_eq(qb_ipaddr_parse(ips[i], &nodes[i].ip), 0);
}

/*
 * A frame from node `from`: every one is IPv4/UDP, and the UDP payload
 * starts with a forward header whose byte 0 repeats the QUIC packet's low
 * five bits; a short header behind it has the spin bit 0.
 */
static void
inspect(struct rte_mbuf *m)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(p + 14);
	struct qb_fwd_hdr h;
	size_t ihl, len;
	const uint8_t *d;
	int n;

	if (m->data_len < 14 + 20 + 8 || p[12] != 0x08 || p[13] != 0x00 ||
	    ip->next_proto_id != IPPROTO_UDP) {
		sw.not_udp++;
		return;
	}
	ihl = (size_t)(ip->version_ihl & 0x0f) * 4;
	d = p + 14 + ihl + 8;
	len = rte_be_to_cpu_16(((const struct rte_udp_hdr *)(p + 14 + ihl))->dgram_len) - 8;
	n = qb_fwd_hdr_decode(d, len, &h);
	if (n != 26 || (size_t)n >= len || (d[0] & 0x1f) != (d[n] & 0x1f) || !h.src.relayed ||
	    !h.dst.relayed) {
		sw.bad_fwd++;
		return;
	}
	if (!(d[n] & 0x80)) {
		sw.short_hdr++;
		if (d[n] & 0x20)
			sw.spin_set++;
	}
}

/* Moves every frame from a TX ring to the RX ring its destination MAC names. */
static unsigned int
switch_frames(void)
{
	struct rte_mbuf *ms[64];
	unsigned int moved = 0;

	for (unsigned int i = 0; i < P_N; i++) {
		unsigned int n = rte_ring_sc_dequeue_burst(nodes[i].r.tx, (void **)ms, 64, NULL);

		for (unsigned int k = 0; k < n; k++) {
			const struct rte_ether_addr *dst = rte_pktmbuf_mtod(ms[k], void *);
			unsigned int to = P_N;

			for (unsigned int j = 0; j < P_N; j++)
				if (rte_is_same_ether_addr(dst, &nodes[j].r.pa.mac))
					to = j;
			if (to == P_N || to == i) {
				rte_pktmbuf_free(ms[k]);
				continue;
			}
			sw.frames[i][to]++;
			if (!sw.direct_ok || i == P_RLY || to == P_RLY)
				inspect(ms[k]);
			if (rte_ring_sp_enqueue(nodes[to].r.rx, ms[k]) != 0)
				rte_pktmbuf_free(ms[k]);
			moved++;
		}
	}
	return moved;
}

/* ---- the application: a hq-interop-like download ------------------------ */

/* ---- set-up -------------------------------------------------------------- */

static void
setup(void)
{
	struct qb_steer steer = {.n_workers = 1, .cid_len = 8, .no_cids = true, .seed = 5};

	ring_eal_up("test_engine_relay", "qb-erelay", "512");
	ctx_s = ring_tls_ctx(QB_TLS_SERVER, ALPN);
	ctx_c = ring_tls_ctx(QB_TLS_CLIENT, ALPN);
	for (unsigned int i = 0; i < P_N; i++)
		node_up(i);

	struct qb_engine_conf cs = {
	        .server = true,
	        .port_id = nodes[P_SRV].r.port,
	        .pool = nodes[P_SRV].r.pool,
	        .addrs = &nodes[P_SRV].r.pa,
	        .udp_port = SRV_PORT,
	        .accept_relayed = true,
	        .conn = {.tls = ctx_s,
	                 .seed = 7,
	                 .send_buffer_max = 4u << 20,
	                 .reset_key = reset_key},
	        .server_id = 1,
	        .n_workers = 1,
	        .on_event = server_event,
	};
	struct qb_engine_conf cc = cs;

	cc.server = false;
	cc.port_id = nodes[P_CLI].r.port;
	cc.pool = nodes[P_CLI].r.pool;
	cc.addrs = &nodes[P_CLI].r.pa;
	cc.udp_port = CLI_PORT;
	cc.conn = (struct qb_conn_config){.tls = ctx_c, .server_name = "localhost", .seed = 9};
	cc.server_id = 2;
	cc.on_event = client_event;
	cr_assert_eq(qb_engine_worker_init(&srv, &cs), 0);
	cr_assert_eq(qb_engine_worker_init(&cli, &cc), 0);

	/* The relay: what --mode=relay builds, its neighbours static. */
	qb_neigh_init(&rneigh);
	cr_assert_eq(qb_neigh_add_static(&rneigh, &nodes[P_CLI].ip, &nodes[P_CLI].r.pa.mac), 0);
	cr_assert_eq(qb_neigh_add_static(&rneigh, &nodes[P_SRV].ip, &nodes[P_SRV].r.pa.mac), 0);
	cr_assert_eq(qb_dispatch_shared_init(&rsh, &steer, 64, (int)rte_socket_id(), "qb_rl_r"), 0);
	struct qb_dispatch_conf rc = {
	        .max_conns = 1,
	        .max_initial = 1,
	        .listener = {.cid_len = 8},
	        .relay_port = RLY_PORT,
	        .addrs = &nodes[P_RLY].r.pa,
	        .neigh = &rneigh,
	        .seed = 3,
	};
	struct qb_dispatch_ops ops = {0};
	rly = qb_dispatch_create(&rsh, &rc, &ops, NULL, 0);
	cr_assert_not_null(rly);
}

static void
print_stats(const char *who, const struct qb_engine_worker *w)
{
	printf("%s: rx %" PRIu64 " tx %" PRIu64 " dgrams_in %" PRIu64 " relayed_in %" PRIu64
	       " other_path %" PRIu64 "\n",
	       who, w->wk.stats.rx_pkts, w->wk.stats.tx_pkts, w->st.dgrams_in, w->st.relayed_in,
	       w->st.other_path);
}

Test(engine_relay, client_server_through_relay_50MB_byte_exact, .timeout = 150)
{
	struct qb_engine_conn *ec, *sec = NULL;
	struct qb_ipaddr relay;
	uint64_t now, t0;

	setup();
	relay = nodes[P_RLY].ip;
	now = qb_engine_now_ns();
	/* Without a relaying listener the answers could not come back. */
	srv.cf.accept_relayed = false;
	cr_assert_null(qb_engine_connect_via(&srv, &nodes[P_CLI].ip, CLI_PORT, &relay, RLY_PORT,
	                                     &nodes[P_RLY].r.pa.mac, 1, now));
	srv.cf.accept_relayed = true;
	ec = qb_engine_connect_via(&cli, &nodes[P_SRV].ip, SRV_PORT, &relay, RLY_PORT,
	                           &nodes[P_RLY].r.pa.mac, 11, now);
	cr_assert_not_null(ec);
	ec->user = &app_c;
	cr_assert(ec->addrs[0].relayed);
	t0 = now;
	while (!done && now - t0 < TIMEOUT_NS) {
		now = qb_engine_now_ns();
		qb_engine_poll(&cli, now);
		switch_frames();
		qb_dispatch_poll(rly, &rstats, nodes[P_RLY].r.port, 0, RLY_PORT, now);
		switch_frames();
		qb_engine_poll(&srv, now);
		switch_frames();
	}
	double secs = (double)(now - t0) / 1e9;

	print_stats("client", &cli);
	print_stats("server", &srv);
	printf("relay: rx %" PRIu64 " tx %" PRIu64 " relayed %" PRIu64 "; switch: c->r %" PRIu64
	       " r->s %" PRIu64 " s->r %" PRIu64 " r->c %" PRIu64 " short headers %" PRIu64 "\n",
	       rstats.rx_pkts, rstats.tx_pkts, rly->stats.relayed, sw.frames[P_CLI][P_RLY],
	       sw.frames[P_RLY][P_SRV], sw.frames[P_SRV][P_RLY], sw.frames[P_RLY][P_CLI],
	       sw.short_hdr);
	cr_assert(done, "transfer incomplete: %" PRIu64 " of %llu bytes", app_c.off, XFER_SIZE);
	cr_assert_eq(app_c.off, XFER_SIZE);
	cr_assert_eq(app_c.bad, 0, "%" PRIu64 " bytes differ", app_c.bad);
	printf("engine relay xfer: %llu bytes in %.3f s (handshake included) = %.3f Gbit/s\n",
	       XFER_SIZE, secs, (double)XFER_SIZE * 8 / secs / 1e9);

	/* Nothing went between client and server directly; every frame had
	 * its forward header, every 1-RTT packet spin 0 (BRIEF §2). */
	cr_assert_eq(sw.frames[P_CLI][P_SRV] + sw.frames[P_SRV][P_CLI], 0);
	cr_assert_eq(sw.not_udp + sw.bad_fwd, 0, "not UDP %" PRIu64 ", bad forward header %" PRIu64,
	             sw.not_udp, sw.bad_fwd);
	cr_assert_gt(sw.short_hdr, XFER_SIZE / 1500);
	cr_assert_eq(sw.spin_set, 0);
	/* The relay sent on everything it got. */
	cr_assert_eq(rly->stats.relayed, rstats.rx_pkts);
	cr_assert_eq(sw.frames[P_RLY][P_SRV], sw.frames[P_CLI][P_RLY]);
	cr_assert_eq(sw.frames[P_RLY][P_CLI], sw.frames[P_SRV][P_RLY]);
	for (unsigned int r = 1; r < QB_SDROP__COUNT; r++)
		cr_assert_eq(rly->stats.drops[r], 0, "relay drop %s", qb_steer_drop_name(r));

	/* Both ends received only through the relay, and recorded the path. */
	cr_assert_gt(cli.st.dgrams_in, XFER_SIZE / 1500);
	cr_assert_eq(cli.st.relayed_in, cli.st.dgrams_in);
	cr_assert_eq(srv.st.relayed_in, srv.st.dgrams_in);
	cr_assert_eq(cli.st.other_path + srv.st.other_path, 0);
	cr_assert_eq(srv.st.conns_new, 1);
	for (unsigned int i = 0; i < QB_ENGINE_MAX_CONNS; i++)
		if (srv.conns[i].conn != NULL)
			sec = &srv.conns[i];
	cr_assert_not_null(sec);
	cr_assert(sec->addrs[0].relayed);
	cr_assert(qb_ipaddr_equal(&sec->addrs[0].peer, &nodes[P_CLI].ip), "the peer is the client");
	cr_assert_eq(sec->addrs[0].peer_port, CLI_PORT);
	cr_assert(qb_ipaddr_equal(&sec->addrs[0].relay, &nodes[P_RLY].ip));
	cr_assert_eq(sec->addrs[0].relay_port, RLY_PORT);
	cr_assert_eq(qb_burst_headroom(&sec->path[0]), 14 + 20 + 8 + 26);

	/* Close through the relay too; then everything back in its pool. */
	cr_assert_eq(qb_conn_close(ec->conn, 0, "done", now), 0);
	qb_engine_conn_wake(ec);
	for (t0 = now; (srv.n_conns || cli.n_conns) && now - t0 < TIMEOUT_NS;) {
		now = qb_engine_now_ns();
		qb_engine_poll(&cli, now);
		qb_dispatch_poll(rly, &rstats, nodes[P_RLY].r.port, 0, RLY_PORT, now);
		qb_engine_poll(&srv, now);
		switch_frames();
	}
	cr_assert_eq(srv.n_conns + cli.n_conns, 0, "both ends closed");
	cr_assert_eq(sw.frames[P_CLI][P_SRV] + sw.frames[P_SRV][P_CLI], 0);
	cr_assert_eq(sw.not_udp + sw.bad_fwd + sw.spin_set, 0);

	/* The same listeners, configured for relaying, still serve a client
	 * that comes directly: its datagrams are QUIC (BRIEF §2), its path is
	 * recorded as direct and its answers carry no forward header. */
	uint64_t s_relayed = srv.st.relayed_in, c_relayed = cli.st.relayed_in;
	sw.direct_ok = true;
	ec = qb_engine_connect(&cli, &nodes[P_SRV].ip, SRV_PORT, &nodes[P_SRV].r.pa.mac, 12, now);
	cr_assert_not_null(ec);
	cr_assert_not(ec->addrs[0].relayed);
	for (t0 = now; now - t0 < TIMEOUT_NS;) {
		now = qb_engine_now_ns();
		qb_engine_poll(&cli, now);
		switch_frames();
		qb_engine_poll(&srv, now);
		switch_frames();
		if (qb_conn_handshake_complete(ec->conn) && srv.n_conns == 1 &&
		    qb_conn_handshake_complete(srv.conns[0].conn))
			break;
	}
	cr_assert(qb_conn_handshake_complete(ec->conn), "direct handshake");
	sec = srv.n_conns == 1 ? &srv.conns[0] : NULL;
	cr_assert(sec != NULL && sec->conn != NULL);
	cr_assert_not(sec->addrs[0].relayed);
	cr_assert(qb_ipaddr_equal(&sec->addrs[0].peer, &nodes[P_CLI].ip));
	cr_assert_eq(sec->addrs[0].peer_port, CLI_PORT);
	cr_assert_eq(qb_burst_headroom(&sec->path[0]), 14 + 20 + 8);
	cr_assert_gt(sw.frames[P_CLI][P_SRV], 0);
	cr_assert_gt(sw.frames[P_SRV][P_CLI], 0);
	cr_assert_eq(srv.st.relayed_in, s_relayed);
	cr_assert_eq(cli.st.relayed_in, c_relayed);
	cr_assert_eq(cli.st.other_path + srv.st.other_path, 0);
	cr_assert_eq(qb_conn_close(ec->conn, 0, "done", now), 0);
	qb_engine_conn_wake(ec);
	for (t0 = now; (srv.n_conns || cli.n_conns) && now - t0 < TIMEOUT_NS;) {
		now = qb_engine_now_ns();
		qb_engine_poll(&cli, now);
		qb_engine_poll(&srv, now);
		switch_frames();
	}
	cr_assert_eq(srv.n_conns + cli.n_conns, 0, "both ends closed");
	while (switch_frames() > 0)
		qb_dispatch_poll(rly, &rstats, nodes[P_RLY].r.port, 0, RLY_PORT, now);
	ring_workers_fini(&srv, &cli);
	{
		struct rte_mbuf *ms[64];
		unsigned int n;

		do {
			n = rte_eth_rx_burst(nodes[P_RLY].r.port, 0, ms, 64);
			rte_pktmbuf_free_bulk(ms, n);
		} while (n > 0);
	}
	qb_dispatch_free(rly);
	qb_dispatch_shared_fini(&rsh);
	for (unsigned int i = 0; i < P_N; i++)
		ring_node_check_pool(&nodes[i].r, i);
	qb_tls_ctx_free(ctx_s);
	qb_tls_ctx_free(ctx_c);
}
