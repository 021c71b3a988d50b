/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A qburst client and server, each a set of engine workers on its own
 * in-process port, the two ports joined by crossed rings (A's TX ring is B's
 * RX ring: BRIEF §9). The client asks for 50 MB on a bidirectional stream
 * (hq-interop style request), the server sends a position-dependent pattern,
 * the client checks every byte. At the end every mbuf is back in its pool.
 *
 *  - one worker per side, both polled from the test's own thread;
 *  - two workers per side on four lcores mapped onto the two CPUs, each
 *    port with two queue pairs: the client's worker k transmits on its
 *    queue k, which is the server's RX queue k, while the CIDs name the
 *    owning worker, so datagrams reach the wrong worker and are handed over
 *    through the steering rings (counted and asserted on both sides);
 *  - the listener front-end seen from outside: drops by reason, Version
 *    Negotiation, stateless reset, ARP.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_eth_ring.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "qb_engine.h"
#include "qb_neigh.h"
#include "qb_port.h"

#define XFER_SIZE  (50ull * 1000 * 1000)
#define NB_MBUF    8191
#define RING_SIZE  4096
#define DATA_ROOM  (QB_MBUF_HEADROOM + 2048)
#define SRV_PORT   4433
#define CLI_PORT   40000
#define MAX_WORK   2
#define TIMEOUT_NS (90ull * 1000 * 1000 * 1000)
#define ALPN       "hq-interop"

static const char request[] = "GET /50MB\r\n";

struct side {
	uint16_t port;
	struct rte_mempool *pool;
	struct qb_port_addrs pa;
	struct rte_ring *inbox[MAX_WORK];
	struct qb_engine_worker w[MAX_WORK];
};

/* The application's state of one connection (one per side here). */
static struct qb_tls_ctx *ctx_s, *ctx_c;
static volatile bool done;
static const uint8_t reset_key[QB_CID_RESET_KEY_LEN] = {0x5e, 0xc2, 0xe7};
static uint64_t t_start, t_end;

#define XFER_BYTES       XFER_SIZE
#define XFER_ON_FIN(now) (t_end = (now))
#include "xfer_app.h"

static struct side srv, cli;

static void
eal_up(const char *lcores)
{
	char prefix[64], lc[64];
	char *argv[] = {
	        "test_engine_xfer", lc,     "--no-huge",   "-m", "512", "--no-pci", "--no-shconf",
	        "--file-prefix",    prefix, "--log-level", "3"};

	snprintf(prefix, sizeof(prefix), "qb-engine-%d", (int)getpid());
	snprintf(lc, sizeof(lc), "--lcores=%s", lcores);
	cr_assert_geq(rte_eal_init(RTE_DIM(argv), argv), 0, "rte_eal_init failed");
}

/* A port over rings: rx[k] is its RX queue k, tx[k] its TX queue k. */
static uint16_t
ring_port(const char *name, struct rte_ring **rx, struct rte_ring **tx, unsigned int nq,
          struct rte_mempool *mp)
{
	struct rte_eth_conf conf = {0};
	int port = rte_eth_from_rings(name, rx, nq, tx, nq, (unsigned int)rte_socket_id());

	cr_assert_geq(port, 0, "rte_eth_from_rings %s", name);
	cr_assert_eq(rte_eth_dev_configure((uint16_t)port, (uint16_t)nq, (uint16_t)nq, &conf), 0);
	for (unsigned int q = 0; q < nq; q++) {
		cr_assert_eq(rte_eth_rx_queue_setup((uint16_t)port, (uint16_t)q, RING_SIZE,
		                                    rte_socket_id(), NULL, mp),
		             0);
		cr_assert_eq(rte_eth_tx_queue_setup((uint16_t)port, (uint16_t)q, RING_SIZE,
		                                    rte_socket_id(), NULL),
		             0);
	}
	cr_assert_eq(rte_eth_dev_start((uint16_t)port), 0);
	return (uint16_t)port;
}

static void
side_addrs(struct side *s, uint8_t id, const char *ip)
{
	/* Ring ports have an all-zero MAC: each side takes a local one. */
	struct rte_ether_addr mac = {.addr_bytes = {0x02, 0, 0, 0, 0, id}};
	struct qb_ipnet n;

	qb_port_addrs_init(&s->pa, &mac);
	cr_assert_eq(qb_ipnet_parse(ip, &n), 0);
	cr_assert_eq(qb_port_addrs_add(&s->pa, &n), 0);
}

/* ---- the application: hq-interop-like download -------------------------- */

/* ---- set-up and checks ------------------------------------------------- */

static void
setup(unsigned int nw)
{
	struct rte_ring *c2s[MAX_WORK], *s2c[MAX_WORK];
	char name[32];

	ctx_s = ring_tls_ctx(QB_TLS_SERVER, ALPN);
	ctx_c = ring_tls_ctx(QB_TLS_CLIENT, ALPN);
	srv.pool = qb_pool_create("qb_eng_srv", NB_MBUF, DATA_ROOM, (int)rte_socket_id());
	cli.pool = qb_pool_create("qb_eng_cli", NB_MBUF, DATA_ROOM, (int)rte_socket_id());
	cr_assert(srv.pool != NULL && cli.pool != NULL);
	for (unsigned int k = 0; k < nw; k++) {
		snprintf(name, sizeof(name), "qb_c2s%u", k);
		c2s[k] = rte_ring_create(name, RING_SIZE, rte_socket_id(),
		                         RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "qb_s2c%u", k);
		s2c[k] = rte_ring_create(name, RING_SIZE, rte_socket_id(),
		                         RING_F_SP_ENQ | RING_F_SC_DEQ);
		cr_assert(c2s[k] != NULL && s2c[k] != NULL);
		snprintf(name, sizeof(name), "qb_in_s%u", k);
		srv.inbox[k] = qb_engine_inbox_create(name, RING_SIZE, (int)rte_socket_id());
		snprintf(name, sizeof(name), "qb_in_c%u", k);
		cli.inbox[k] = qb_engine_inbox_create(name, RING_SIZE, (int)rte_socket_id());
		cr_assert(srv.inbox[k] != NULL && cli.inbox[k] != NULL);
	}
	srv.port = ring_port("qb_eng_s", c2s, s2c, nw, srv.pool);
	cli.port = ring_port("qb_eng_c", s2c, c2s, nw, cli.pool);
	side_addrs(&srv, 0x21, "198.18.0.1/24");
	side_addrs(&cli, 0x22, "198.18.0.2/24");

	for (unsigned int k = 0; k < nw; k++) {
		struct qb_engine_conf cs = {
		        .server = true,
		        .port_id = srv.port,
		        .queue_id = (uint16_t)k,
		        .pool = srv.pool,
		        .addrs = &srv.pa,
		        .udp_port = SRV_PORT,
		        .conn = {.tls = ctx_s,
		                 .seed = 7,
		                 .send_buffer_max = 4u << 20,
		                 .reset_key = reset_key},
		        .server_id = 1,
		        .worker_id = (uint16_t)k,
		        .n_workers = (uint16_t)nw,
		        .inboxes = nw > 1 ? srv.inbox : NULL,
		        .on_event = server_event,
		};
		struct qb_engine_conf cc = cs;

		cc.server = false;
		cc.port_id = cli.port;
		cc.pool = cli.pool;
		cc.addrs = &cli.pa;
		cc.udp_port = CLI_PORT;
		cc.conn = (struct qb_conn_config){
		        .tls = ctx_c, .server_name = "localhost", .seed = 9};
		cc.server_id = 2;
		cc.inboxes = nw > 1 ? cli.inbox : NULL;
		cc.on_event = client_event;
		cr_assert_eq(qb_engine_worker_init(&srv.w[k], &cs), 0);
		cr_assert_eq(qb_engine_worker_init(&cli.w[k], &cc), 0);
	}
}

/*
 * Opens the client's connection on client worker 0, with the first seed
 * from `seed` whose first DCID the server steers to worker want_owner.
 */
static struct qb_engine_conn *
connect_client(unsigned int want_owner, uint64_t now)
{
	struct qb_ipaddr dst;

	cr_assert_eq(qb_ipaddr_parse("198.18.0.1", &dst), 0);
	for (uint64_t seed = 100; seed < 200; seed++) {
		struct qb_engine_conn *ec =
		        qb_engine_connect(&cli.w[0], &dst, SRV_PORT, &srv.pa.mac, seed, now);
		const uint8_t *dcid;
		size_t len;

		cr_assert_not_null(ec);
		dcid = qb_conn_dcid(ec->conn, &len);
		cr_assert_not_null(dcid);
		if (qb_engine_cid_owner(&srv.w[0], dcid, len) == want_owner) {
			ec->user = &app_c;
			return ec;
		}
		/* Not the steering we want to exercise: close it unsent. */
		qb_engine_conn_free(&cli.w[0], ec);
	}
	cr_assert_fail("no seed gives owner %u", want_owner);
	return NULL;
}

static void
print_stats(const char *who, struct qb_engine_worker *w)
{
	const struct qb_engine_stats *st = &w->st;

	printf("%s w%u: rx %" PRIu64 " tx %" PRIu64 " dgrams_in %" PRIu64 " bursts %" PRIu64
	       " handover out %" PRIu64 " in %" PRIu64 " conns %" PRIu64 "/%" PRIu64,
	       who, w->cf.worker_id, w->wk.stats.rx_pkts, w->wk.stats.tx_pkts, st->dgrams_in,
	       st->bursts, w->d->stats.handover_out, w->d->stats.handover_in, st->conns_new,
	       st->conns_closed);
	for (unsigned int r = 0; r < QB_ENGINE_DROP__COUNT; r++)
		if (st->drops[r])
			printf(" %s=%" PRIu64, qb_engine_drop_name(r), st->drops[r]);
	for (unsigned int r = 0; r < QB_SDROP__COUNT; r++)
		if (w->d->stats.drops[r])
			printf(" %s=%" PRIu64, qb_steer_drop_name(r), w->d->stats.drops[r]);
	for (unsigned int r = 0; r < QB_DROP__COUNT; r++)
		if (w->wk.stats.drops[r])
			printf(" %s=%" PRIu64, qb_drop_name(r), w->wk.stats.drops[r]);
	printf("\n");
	for (unsigned int i = 0; i < QB_ENGINE_MAX_CONNS; i++) {
		struct qb_conn_stats cs;

		if (w->conns[i].conn == NULL)
			continue;
		qb_conn_stats(w->conns[i].conn, &cs);
		printf("  conn: pkts sent %" PRIu64 " recv %" PRIu64 " lost %" PRIu64
		       " dropped %" PRIu64 " bytes sent %" PRIu64 " pto %" PRIu64 " srtt %" PRIu64
		       " us cwnd %" PRIu64 "\n",
		       cs.pkts_sent, cs.pkts_recv, cs.pkts_lost, cs.pkts_dropped, cs.bytes_sent,
		       cs.pto_count, cs.srtt_ns / 1000, cs.cwnd);
	}
}

/* Transfer checks, then every worker freed and drained, then the pools full. */
static void
finish(unsigned int nw)
{
	double secs = (double)(t_end - t_start) / 1e9;

	cr_assert(done, "transfer incomplete: %" PRIu64 " of %llu bytes", app_c.off, XFER_SIZE);
	cr_assert_eq(app_c.off, XFER_SIZE);
	cr_assert_eq(app_c.bad, 0, "%" PRIu64 " bytes differ", app_c.bad);
	printf("engine xfer, %u worker(s) per side: %llu bytes in %.3f s = %.3f Gbit/s\n", nw,
	       XFER_SIZE, secs, (double)XFER_SIZE * 8 / secs / 1e9);
	for (unsigned int k = 0; k < nw; k++) {
		print_stats("server", &srv.w[k]);
		print_stats("client", &cli.w[k]);
	}
	for (unsigned int k = 0; k < nw; k++) {
		qb_engine_worker_drain(&srv.w[k]);
		qb_engine_worker_drain(&cli.w[k]);
	}
	for (unsigned int k = 0; k < nw; k++) {
		qb_engine_worker_fini(&srv.w[k]);
		qb_engine_worker_fini(&cli.w[k]);
	}
	cr_assert_eq(rte_mempool_avail_count(srv.pool), srv.pool->size, "server pool: %u of %u",
	             rte_mempool_avail_count(srv.pool), srv.pool->size);
	cr_assert_eq(rte_mempool_avail_count(cli.pool), cli.pool->size, "client pool: %u of %u",
	             rte_mempool_avail_count(cli.pool), cli.pool->size);
	qb_tls_ctx_free(ctx_s);
	qb_tls_ctx_free(ctx_c);
}

Test(engine, one_worker_per_side_50MB_byte_exact, .timeout = 120)
{
	struct qb_engine_conn *ec;
	uint64_t now;

	eal_up("0@0");
	setup(1);
	now = qb_engine_now_ns();
	ec = connect_client(0, now);
	t_start = now;
	while (!done && now - t_start < TIMEOUT_NS) {
		now = qb_engine_now_ns();
		qb_engine_poll(&srv.w[0], now);
		qb_engine_poll(&cli.w[0], now);
	}
	cr_assert(qb_conn_handshake_complete(ec->conn));
	cr_assert_eq(srv.w[0].st.conns_new, 1);
	cr_assert_eq(srv.w[0].n_conns, 1);
	print_stats("server", &srv.w[0]);
	print_stats("client", &cli.w[0]);

	/* The client closes; both ends reach CLOSED (closing and draining
	 * periods, RFC 9000 §10.2) and the workers free them and their CIDs. */
	cr_assert_eq(qb_conn_close(ec->conn, 0, "done", now), 0);
	qb_engine_conn_wake(ec);
	for (uint64_t t0 = now; (srv.w[0].n_conns || cli.w[0].n_conns) && now - t0 < TIMEOUT_NS;) {
		now = qb_engine_now_ns();
		qb_engine_poll(&srv.w[0], now);
		qb_engine_poll(&cli.w[0], now);
	}
	cr_assert_eq(srv.w[0].n_conns, 0);
	cr_assert_eq(cli.w[0].n_conns, 0);
	cr_assert_eq(srv.w[0].st.conns_closed, 1);
	cr_assert_eq(srv.w[0].d->conns->n + srv.w[0].d->initial->n, 0, "every CID entry removed");
	cr_assert_eq(cli.w[0].d->conns->n + cli.w[0].d->initial->n, 0);
	cr_assert_eq(srv.w[0].d->timers->n_active + cli.w[0].d->timers->n_active, 0,
	             "every timer cancelled");
	cr_assert(app_s.closed && app_c.closed, "QB_ENGINE_EV_CLOSED reached the application");
	finish(1);
}

Test(engine, two_workers_per_side_with_handovers_50MB_byte_exact, .timeout = 120)
{
	/* Main lcore (control) and four workers on the two CPUs (BRIEF §9). */
	static const unsigned int srv_lcore[MAX_WORK] = {1, 2}, cli_lcore[MAX_WORK] = {3, 4};
	struct qb_engine_conn *ec;
	uint64_t now;

	eal_up("0@0,1@0,2@1,3@0,4@1");
	cr_assert_geq(rte_lcore_count(), 5);
	setup(2);
	now = qb_engine_now_ns();
	/* The server's owner (by the hash of the client's first DCID) is
	 * worker 1 while the client sends from queue 0: every datagram the
	 * client sends lands on server worker 0 and is handed over, and the
	 * server's, sent from its queue 1, land on client worker 1. */
	ec = connect_client(1, now);
	t_start = now;
	for (unsigned int k = 0; k < MAX_WORK; k++) {
		cr_assert_eq(rte_eal_remote_launch(qb_worker_loop, &srv.w[k].wk, srv_lcore[k]), 0);
		cr_assert_eq(rte_eal_remote_launch(qb_worker_loop, &cli.w[k].wk, cli_lcore[k]), 0);
	}
	while (!done && qb_engine_now_ns() - t_start < TIMEOUT_NS)
		usleep(1000);
	qb_stop_request();
	rte_eal_mp_wait_lcore();
	cr_assert(qb_conn_handshake_complete(ec->conn));
	cr_assert_eq(srv.w[0].st.conns_new, 0, "server worker 0 must not own it");
	cr_assert_eq(srv.w[1].st.conns_new, 1);
	cr_assert_gt(srv.w[0].d->stats.handover_out, 0);
	cr_assert_gt(srv.w[1].d->stats.handover_in, 0);
	cr_assert_leq(srv.w[1].d->stats.handover_in, srv.w[0].d->stats.handover_out);
	cr_assert_gt(cli.w[1].d->stats.handover_out, 0);
	cr_assert_gt(cli.w[0].d->stats.handover_in, 0);
	cr_assert_leq(cli.w[0].d->stats.handover_in, cli.w[1].d->stats.handover_out);
	finish(2);
}

/* Sends a UDP datagram of len bytes (payload made by the caller) from the client's port. */
static void
inject(uint16_t dport, const uint8_t *payload, size_t len)
{
	struct qb_ipaddr src, dst;
	struct qb_udp_tmpl t;
	struct rte_mbuf *m = rte_pktmbuf_alloc(cli.pool);

	cr_assert_not_null(m);
	cr_assert_eq(qb_ipaddr_parse("198.18.0.2", &src), 0);
	cr_assert_eq(qb_ipaddr_parse("198.18.0.1", &dst), 0);
	cr_assert_eq(qb_udp_tmpl_init(&t, &cli.pa.mac, &srv.pa.mac, 0, &src, CLI_PORT, &dst, dport,
	                              false),
	             0);
	memcpy(rte_pktmbuf_append(m, (uint16_t)len), payload, len);
	cr_assert_eq(qb_udp_prepend(m, &t), 0);
	cr_assert_eq(rte_eth_tx_burst(cli.port, 0, &m, 1), 1);
}

/* The next frame on the client's port: its kind (-1: none), a UDP payload's first byte and length.
 */
static int
client_rx(uint8_t *first, uint16_t *len)
{
	struct qb_pkt_info pi;
	struct rte_mbuf *m;
	int kind;

	if (rte_eth_rx_burst(cli.port, 0, &m, 1) != 1)
		return -1;
	cr_assert_eq(qb_net_parse(m, &cli.pa, &pi), QB_DROP_NONE);
	kind = pi.kind;
	if (kind == QB_PKT_UDP) {
		cr_assert_eq(pi.sport, SRV_PORT);
		cr_assert_eq(pi.dport, CLI_PORT);
		*first = *rte_pktmbuf_mtod_offset(m, uint8_t *, pi.payload_off);
		*len = pi.payload_len;
	}
	rte_pktmbuf_free(m);
	return kind;
}

Test(engine, listener_answers_vn_and_resets_and_counts_drops, .timeout = 60)
{
	struct qb_engine_worker *s;
	struct rte_mbuf *m;
	struct qb_ipaddr target;
	uint8_t d[1300], first = 0;
	uint16_t len = 0;
	uint64_t now;

	eal_up("0@0");
	setup(1);
	s = &srv.w[0];
	now = qb_engine_now_ns();

	/* A long header, Initial type, v1, DCID of 8: but 1199 bytes (RFC 9000 §14.1). */
	memset(d, 0, sizeof(d));
	d[0] = 0xc3;
	d[4] = 0x01;
	d[5] = 8;
	memset(d + 6, 0xab, 8);
	/* No SCID, no token, Length (2-byte varint) covering the rest. */
	d[16] = (uint8_t)(0x40 | ((1199 - 18) >> 8));
	d[17] = (uint8_t)((1199 - 18) & 0xff);
	inject(SRV_PORT, d, 1199);
	/* The same at 1200 bytes of an unknown version: Version Negotiation (§6.1). */
	d[1] = 0x1a;
	inject(SRV_PORT, d, 1200);
	/* A short header with a CID no connection has: a stateless reset (§10.3). */
	d[0] = 0x41;
	inject(SRV_PORT, d, 100);
	/* To a port we do not listen on; a header cut before its DCID. */
	inject(SRV_PORT + 1, d, 100);
	d[0] = 0xc3;
	d[5] = 20;
	inject(SRV_PORT, d, 10);
	/* An ARP request for the server's address. */
	m = rte_pktmbuf_alloc(cli.pool);
	cr_assert_not_null(m);
	cr_assert_eq(qb_ipaddr_parse("198.18.0.1", &target), 0);
	cr_assert_eq(qb_neigh_solicit_build(m, &cli.pa, &target), 0);
	cr_assert_eq(rte_eth_tx_burst(cli.port, 0, &m, 1), 1);

	qb_engine_poll(s, now);
	cr_assert_eq(s->d->stats.drops[QB_SDROP_INITIAL_TOO_SMALL], 1);
	cr_assert_eq(s->d->stats.vn_sent, 1);
	cr_assert_eq(s->d->stats.resets_sent, 1);
	cr_assert_eq(s->d->stats.drops[QB_SDROP_NOT_LISTENING], 1);
	cr_assert_eq(s->d->stats.drops[QB_SDROP_MALFORMED], 1);
	cr_assert_eq(s->n_conns, 0);
	cr_assert_eq(s->st.dgrams_in, 0);
	cr_assert_eq(s->st.conns_new, 0);
	/* What came back, in order: the VN (long header), the reset (short
	 * header, shorter than its trigger: RFC 9000 §10.3.3), the ARP reply. */
	cr_assert_eq(client_rx(&first, &len), QB_PKT_UDP);
	cr_assert(first & 0x80, "a Version Negotiation is a long header");
	cr_assert_eq(client_rx(&first, &len), QB_PKT_UDP);
	cr_assert_eq(first & 0xc0, 0x40, "a reset looks like a short header");
	cr_assert_lt(len, 100);
	cr_assert_geq(len, 21);
	cr_assert_eq(client_rx(&first, &len), QB_PKT_ARP);
	cr_assert_eq(client_rx(&first, &len), -1);

	qb_engine_worker_drain(s);
	qb_engine_worker_drain(&cli.w[0]);
	qb_engine_worker_fini(s);
	qb_engine_worker_fini(&cli.w[0]);
	cr_assert_eq(rte_mempool_avail_count(srv.pool), srv.pool->size);
	cr_assert_eq(rte_mempool_avail_count(cli.pool), cli.pool->size);
	qb_tls_ctx_free(ctx_s);
	qb_tls_ctx_free(ctx_c);
}
