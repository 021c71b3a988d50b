/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine's path edges (issue 5), in one process on ring ports whose
 * frames the test moves, re-addresses or forges by hand:
 *  - a path whose MTU leaves less than 1200 bytes of QUIC behind the
 *    forward header is refused, on the client (qb_engine_connect_via NULL)
 *    and on a server (the forwarded Initial dropped as path_mtu), instead of
 *    a connection that can never send;
 *  - a server credits a datagram only to the path it came by (RFC 9000
 *    §8.1): before validation, a datagram of the connection from another
 *    address does not raise path 0's anti-amplification credit; with the
 *    multi-path handshake it gets a path of its own, and one that opens
 *    nothing leaves no path behind that the worker would poll forever;
 *  - a relaying listener answers an unknown version (Version Negotiation)
 *    and an unknown short-header CID (stateless reset, rate-limited) that
 *    came through a relay the way they came: to the relay, behind a
 *    forward header the relay sends on to the client;
 *  - qb_engine_connect_via takes our address for the relay, not for the
 *    final destination, as the source of its packets.
 * Every test ends with every mbuf back in its pool.
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

#include <qburst/packet.h>

#include "qb_engine.h"
#include "qb_port.h"
#include "ring_node.h"

#define NB_MBUF   2047
#define RING_SIZE 1024
#define DATA_ROOM (QB_MBUF_HEADROOM + 2048)
#define SRV_PORT  4433
#define CLI_PORT  40000
#define RLY_PORT  3478
#define SEC       1000000000ull
#define ALPN      "hq-interop"

enum { P_CLI, P_SRV, P_N };

static struct ring_node nodes[P_N];
static struct qb_engine_worker cli, srv;
static struct qb_tls_ctx *ctx_s, *ctx_c;
static const uint8_t reset_key[QB_CID_RESET_KEY_LEN] = {0x5e, 0x7c, 0x01};
static const struct rte_ether_addr relay_mac = {{0x02, 0, 0, 0, 9, 9}};
static struct qb_ipaddr ip_cli, ip_cli2, ip_srv, ip_rly, ip_other;

static struct qb_ipaddr
ip(const char *s)
{
	struct qb_ipaddr a;

	cr_assert_eq(qb_ipaddr_parse(s, &a), 0, "%s", s);
	return a;
}

/* Node i on its own ring port, with the addresses ips[0..n) (/24). */
static void
node_up(unsigned int i, const char *const *ips, unsigned int n_ips)
{
	ring_node_up(&nodes[i], "qb_pt", i, 6, ips, n_ips, 24, NB_MBUF, DATA_ROOM, RING_SIZE);
}

/*
 * EAL, the two nodes (the client with a second address on another subnet,
 * where the relay is), and two workers: a server on SRV_PORT, a client on
 * CLI_PORT, both listeners configured for relaying; srv_mtu and cli_mtu
 * are their conf.mtu (0: the default).
 */
static void
setup_with(uint16_t srv_mtu, uint16_t cli_mtu, uint32_t reset_rate)
{
	static const char *const cli_ips[] = {"198.18.6.2", "198.18.7.2"};
	static const char *const srv_ips[] = {"198.18.6.1"};

	ring_eal_up("test_engine_paths", "qb-epaths", "256");
	ctx_s = ring_tls_ctx(QB_TLS_SERVER, ALPN);
	ctx_c = ring_tls_ctx(QB_TLS_CLIENT, ALPN);
	node_up(P_CLI, cli_ips, 2);
	node_up(P_SRV, srv_ips, 1);
	ip_cli = ip("198.18.6.2");
	ip_cli2 = ip("198.18.7.2");
	ip_srv = ip("198.18.6.1");
	ip_rly = ip("198.18.7.3");
	ip_other = ip("198.18.6.9");

	struct qb_engine_conf cs = {
	        .server = true,
	        .port_id = nodes[P_SRV].port,
	        .pool = nodes[P_SRV].pool,
	        .addrs = &nodes[P_SRV].pa,
	        .udp_port = SRV_PORT,
	        .mtu = srv_mtu,
	        .accept_relayed = true,
	        .conn = {.tls = ctx_s, .seed = 7, .reset_key = reset_key},
	        .reset_rate = reset_rate,
	        .server_id = 1,
	        .n_workers = 1,
	};
	struct qb_engine_conf cc = cs;

	cc.server = false;
	cc.port_id = nodes[P_CLI].port;
	cc.pool = nodes[P_CLI].pool;
	cc.addrs = &nodes[P_CLI].pa;
	cc.udp_port = CLI_PORT;
	cc.mtu = cli_mtu;
	cc.conn = (struct qb_conn_config){.tls = ctx_c, .server_name = "localhost", .seed = 9};
	cc.server_id = 2;
	cr_assert_eq(qb_engine_worker_init(&srv, &cs), 0);
	cr_assert_eq(qb_engine_worker_init(&cli, &cc), 0);
}

/* Frames node i sent: up to max into ms. */
static unsigned int
take(unsigned int i, struct rte_mbuf **ms, unsigned int max)
{
	return rte_ring_sc_dequeue_burst(nodes[i].tx, (void **)ms, max, NULL);
}

static void
give(unsigned int i, struct rte_mbuf *m)
{
	cr_assert_eq(rte_ring_sp_enqueue(nodes[i].rx, m), 0);
}

static void
free_all(unsigned int i)
{
	struct rte_mbuf *ms[64];
	unsigned int n;

	while ((n = take(i, ms, 64)) > 0)
		rte_pktmbuf_free_bulk(ms, n);
}

/* The UDP payload of an untagged IPv4 frame, and its length. */
static uint8_t *
payload(struct rte_mbuf *m, size_t *len)
{
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	const struct rte_udp_hdr *u = (const struct rte_udp_hdr *)(p + 14 + 20);

	cr_assert_eq(p[12] << 8 | p[13], RTE_ETHER_TYPE_IPV4);
	*len = rte_be_to_cpu_16(u->dgram_len) - 8u;
	return p + 14 + 20 + 8;
}

/*
 * Re-address an untagged IPv4 frame around the same UDP payload (what a
 * NAT or a relay does): new Ethernet/IP/UDP headers, checksums in software.
 */
static void
readdress(struct rte_mbuf *m, const struct rte_ether_addr *smac, const struct rte_ether_addr *dmac,
          const struct qb_ipaddr *sip, uint16_t sport, const struct qb_ipaddr *dip, uint16_t dport)
{
	struct qb_udp_tmpl t;
	size_t len;

	payload(m, &len);
	cr_assert_not_null(rte_pktmbuf_adj(m, 14 + 20 + 8));
	if (m->pkt_len > len)
		rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - len));
	m->ol_flags = 0;
	cr_assert_eq(qb_udp_tmpl_init(&t, smac, dmac, 0, sip, sport, dip, dport, false), 0);
	cr_assert_eq(qb_udp_prepend(m, &t), 0);
}

/* A frame from relay_mac/ip_rly:RLY_PORT to the server carrying hdr + quic. */
static struct rte_mbuf *
forged(const uint8_t *bytes, size_t len, const struct qb_ipaddr *sip, uint16_t sport)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(nodes[P_SRV].pool);
	struct qb_udp_tmpl t;
	uint8_t *d;

	cr_assert_not_null(m);
	d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
	cr_assert_not_null(d);
	memcpy(d, bytes, len);
	cr_assert_eq(qb_udp_tmpl_init(&t, &relay_mac, &nodes[P_SRV].pa.mac, 0, sip, sport, &ip_srv,
	                              SRV_PORT, false),
	             0);
	cr_assert_eq(qb_udp_prepend(m, &t), 0);
	return m;
}

static void
teardown(void)
{
	free_all(P_CLI);
	free_all(P_SRV);
	ring_workers_fini(&srv, &cli);
	for (unsigned int i = 0; i < P_N; i++)
		ring_node_check_pool(&nodes[i], i);
	qb_tls_ctx_free(ctx_s);
	qb_tls_ctx_free(ctx_c);
}

static struct qb_engine_conn *
server_conn(void)
{
	for (unsigned int i = 0; i < QB_ENGINE_MAX_CONNS; i++)
		if (srv.conns[i].conn != NULL)
			return &srv.conns[i];
	return NULL;
}

/* ---- 1. a path too small for QUIC behind its forward header ------------- */

Test(engine_paths, relayed_path_below_1200_bytes_of_quic_is_refused, .timeout = 60)
{
	struct rte_mbuf *ms[16];
	struct qb_engine_conn *ec;
	uint64_t now;
	unsigned int n;

	/* The client's MTU leaves 1199 bytes behind a 26-byte header. */
	setup_with(1225, 1225, 0);
	now = qb_engine_now_ns();
	cr_assert_eq(qb_engine_quic_room(&cli, QB_AF_INET, true), 1199);
	cr_assert_eq(qb_engine_quic_room(&cli, QB_AF_INET6, true), 1225 - 74);
	cr_assert_eq(qb_engine_quic_room(&cli, QB_AF_INET, false), 1225);
	cr_assert_null(qb_engine_connect_via(&cli, &ip_srv, SRV_PORT, &ip_rly, RLY_PORT, &relay_mac,
	                                     1, now),
	               "a relayed path that cannot carry a 1200-byte datagram");
	cr_assert_eq(cli.n_conns, 0);
	/* Direct, the same MTU is enough. */
	ec = qb_engine_connect(&cli, &ip_srv, SRV_PORT, &nodes[P_SRV].pa.mac, 2, now);
	cr_assert_not_null(ec);
	qb_engine_conn_free(&cli, ec);

	/* One byte more and the relayed path works: its first datagram is a
	 * 1200-byte Initial behind the forward header, 1226 bytes of UDP. */
	cli.cf.mtu = 1226;
	ec = qb_engine_connect_via(&cli, &ip_srv, SRV_PORT, &ip_rly, RLY_PORT, &relay_mac, 3, now);
	cr_assert_not_null(ec);
	cr_assert_gt(qb_engine_poll(&cli, now), 0);
	n = take(P_CLI, ms, 16);
	cr_assert_geq(n, 1);
	size_t len;
	payload(ms[0], &len);
	cr_assert_eq(len, 1226, "the first datagram fills the path: %zu", len);
	/* The server's MTU (1225) cannot answer that path: the forwarded
	 * Initial (as the relay sends it on) is refused and counted, and no
	 * connection is made that could never send. */
	readdress(ms[0], &relay_mac, &nodes[P_SRV].pa.mac, &ip_rly, RLY_PORT, &ip_srv, SRV_PORT);
	give(P_SRV, ms[0]);
	rte_pktmbuf_free_bulk(ms + 1, n - 1);
	qb_engine_poll(&srv, now);
	cr_assert_eq(srv.d->stats.fwd_in, 1, "taken as forwarded to us");
	cr_assert_eq(srv.st.drops[QB_ENGINE_DROP_PATH_MTU], 1);
	cr_assert_eq(srv.n_conns, 0);
	cr_assert_eq(srv.st.conns_new, 0);
	cr_assert_eq(take(P_SRV, ms, 16), 0, "nothing sent");
	cr_assert_str_eq(qb_engine_drop_name(QB_ENGINE_DROP_PATH_MTU), "path_mtu");
	qb_engine_conn_free(&cli, ec);
	teardown();
}

/* The mbufs bound a datagram as the MTU does: a pool too small is refused too. */
Test(engine_paths, pool_too_small_for_1200_bytes_of_quic_is_refused, .timeout = 60)
{
	static struct qb_engine_worker w2;
	struct qb_engine_conf c2;
	struct rte_mempool *small;
	struct qb_engine_conn *ec;
	uint64_t now;

	setup_with(0, 0, 0);
	now = qb_engine_now_ns();
	/* Past the 42 bytes of IPv4/UDP/Ethernet headers: 1199, then 1200. */
	small = rte_pktmbuf_pool_create("qb_pt_small", 63, 0, 0, 42 + 1199, (int)rte_socket_id());
	cr_assert_not_null(small);
	c2 = cli.cf;
	c2.pool = small;
	c2.udp_port = CLI_PORT + 2;
	cr_assert_eq(qb_engine_worker_init(&w2, &c2), 0);
	cr_assert_null(qb_engine_connect(&w2, &ip_srv, SRV_PORT, &nodes[P_SRV].pa.mac, 9, now),
	               "a path whose mbufs hold 1199 bytes of QUIC");
	qb_engine_worker_fini(&w2);
	rte_mempool_free(small);
	small = rte_pktmbuf_pool_create("qb_pt_small2", 63, 0, 0, 42 + 1200, (int)rte_socket_id());
	cr_assert_not_null(small);
	c2.pool = small;
	cr_assert_eq(qb_engine_worker_init(&w2, &c2), 0);
	ec = qb_engine_connect(&w2, &ip_srv, SRV_PORT, &nodes[P_SRV].pa.mac, 9, now);
	cr_assert_not_null(ec);
	qb_engine_conn_free(&w2, ec);
	qb_engine_worker_fini(&w2);
	rte_mempool_free(small);
	teardown();
}

/* ---- 2. credit only on the path a datagram came by ----------------------- */

Test(engine_paths, server_credits_only_the_path_a_datagram_came_by, .timeout = 60)
{
	struct rte_mbuf *ms[64], *copy, *later = NULL;
	struct qb_conn_path_info p0, p0b;
	struct qb_engine_conn *ec, *sec;
	uint64_t now, t0, in0 = 0, out = 0;
	unsigned int n;
	size_t len;

	setup_with(0, 0, 0);
	now = qb_engine_now_ns();
	ec = qb_engine_connect(&cli, &ip_srv, SRV_PORT, &nodes[P_SRV].pa.mac, 5, now);
	cr_assert_not_null(ec);
	qb_engine_poll(&cli, now);
	n = take(P_CLI, ms, 64);
	cr_assert_geq(n, 1);
	/* The same datagram as if from another address of the client (a NAT
	 * rebinding, or an attacker replaying it to buy credit). */
	copy = rte_pktmbuf_copy(ms[0], nodes[P_SRV].pool, 0, UINT32_MAX);
	cr_assert_not_null(copy);
	readdress(copy, &nodes[P_CLI].pa.mac, &nodes[P_SRV].pa.mac, &ip_other, CLI_PORT + 1,
	          &ip_srv, SRV_PORT);
	for (unsigned int i = 0; i < n; i++) {
		payload(ms[i], &len);
		in0 += len;
		give(P_SRV, ms[i]);
	}
	qb_engine_poll(&srv, now);
	sec = server_conn();
	cr_assert_not_null(sec, "the Initial made a connection");
	cr_assert_eq(qb_conn_path_info(sec->conn, 0, &p0), 0);
	cr_assert_eq(p0.bytes_recv, in0);
	/* Its first flight, held to 3x what came from the client: dropped
	 * here, so the handshake cannot complete and the path stays
	 * unvalidated. */
	while ((n = take(P_SRV, ms, 64)) > 0) {
		for (unsigned int i = 0; i < n; i++) {
			payload(ms[i], &len);
			out += len;
		}
		rte_pktmbuf_free_bulk(ms, n);
	}
	cr_assert_gt(out, 0);
	cr_assert_leq(out, 3 * in0);

	give(P_SRV, copy);
	qb_engine_poll(&srv, now);
	cr_assert_eq(qb_conn_path_info(sec->conn, 0, &p0b), 0);
	cr_assert_eq(p0b.bytes_recv, p0.bytes_recv,
	             "RFC 9000 §8.1: bytes from another address raise no credit of path 0 "
	             "(%" PRIu64 " -> %" PRIu64 ")",
	             p0.bytes_recv, p0b.bytes_recv);
	cr_assert_eq(p0b.dgrams_recv, p0.dgrams_recv);
	cr_assert_eq(srv.st.drops[QB_ENGINE_DROP_UNVALIDATED], 1);
	cr_assert_eq(srv.st.other_path, 0);
	cr_assert_eq(srv.st.path_in[0], p0.dgrams_recv);
	/* And nothing more was sent on the strength of it. */
	cr_assert_eq(take(P_SRV, ms, 64), 0);

	/* The handshake, frames moved both ways (the server's PTO resends its
	 * flight); once it completed, path 0 is validated and a datagram of
	 * the client from elsewhere is taken again (counted as other_path). */
	for (t0 = now; now - t0 < 10 * SEC;) {
		now = qb_engine_now_ns();
		qb_engine_poll(&cli, now);
		while ((n = take(P_CLI, ms, 64)) > 0)
			for (unsigned int i = 0; i < n; i++) {
				if (later == NULL && qb_conn_handshake_complete(ec->conn))
					later = rte_pktmbuf_copy(ms[i], nodes[P_SRV].pool, 0,
					                         UINT32_MAX);
				give(P_SRV, ms[i]);
			}
		qb_engine_poll(&srv, now);
		while ((n = take(P_SRV, ms, 64)) > 0)
			for (unsigned int i = 0; i < n; i++)
				give(P_CLI, ms[i]);
		if (later != NULL && qb_conn_handshake_complete(sec->conn))
			break;
	}
	cr_assert(qb_conn_handshake_complete(sec->conn), "handshake");
	cr_assert_not_null(later);
	readdress(later, &nodes[P_CLI].pa.mac, &nodes[P_SRV].pa.mac, &ip_other, CLI_PORT + 1,
	          &ip_srv, SRV_PORT);
	give(P_SRV, later);
	qb_engine_poll(&srv, now);
	cr_assert_eq(srv.st.other_path, 1, "after validation: taken, answered on path 0");
	cr_assert_eq(srv.st.drops[QB_ENGINE_DROP_UNVALIDATED], 1);
	teardown();
}

/*
 * RFC 9000 §9: a client MUST discard packets from an unknown server
 * address. A datagram of the server's, replayed to the client as if from
 * another address, is dropped by the worker before the connection sees it.
 */
Test(engine_paths, client_discards_datagrams_from_an_unknown_server_address, .timeout = 60)
{
	struct rte_mbuf *ms[64], *copy = NULL;
	struct qb_engine_conn *ec;
	uint64_t now, t0;
	unsigned int n;

	setup_with(0, 0, 0);
	now = qb_engine_now_ns();
	ec = qb_engine_connect(&cli, &ip_srv, SRV_PORT, &nodes[P_SRV].pa.mac, 6, now);
	cr_assert_not_null(ec);
	for (t0 = now; now - t0 < 10 * SEC && !qb_conn_handshake_complete(ec->conn);) {
		now = qb_engine_now_ns();
		qb_engine_poll(&cli, now);
		while ((n = take(P_CLI, ms, 64)) > 0)
			for (unsigned int i = 0; i < n; i++)
				give(P_SRV, ms[i]);
		qb_engine_poll(&srv, now);
		while ((n = take(P_SRV, ms, 64)) > 0)
			for (unsigned int i = 0; i < n; i++) {
				if (copy == NULL)
					copy = rte_pktmbuf_copy(ms[i], nodes[P_CLI].pool, 0,
					                        UINT32_MAX);
				give(P_CLI, ms[i]);
			}
	}
	cr_assert(qb_conn_handshake_complete(ec->conn), "handshake");
	cr_assert_not_null(copy);
	qb_engine_poll(&cli, now); /* what the server sent last */
	while ((n = take(P_CLI, ms, 64)) > 0)
		rte_pktmbuf_free_bulk(ms, n);
	const uint64_t in = cli.st.dgrams_in;
	readdress(copy, &nodes[P_SRV].pa.mac, &nodes[P_CLI].pa.mac, &ip_other, SRV_PORT, &ip_cli,
	          CLI_PORT);
	give(P_CLI, copy);
	qb_engine_poll(&cli, now);
	cr_assert_eq(cli.st.drops[QB_ENGINE_DROP_UNKNOWN_SERVER], 1, "dropped by the worker");
	cr_assert_eq(cli.st.other_path, 0);
	cr_assert_eq(cli.st.dgrams_in, in, "the connection never saw it");
	teardown();
}

/*
 * Client and server exchange frames until both completed the handshake;
 * returns the server's connection and, in *later, a copy (in the server's
 * pool) of a client datagram sent after the client completed.
 */
static struct qb_engine_conn *
handshake(struct qb_engine_conn *ec, uint64_t *now, struct rte_mbuf **later)
{
	struct qb_engine_conn *sec = NULL;
	struct rte_mbuf *ms[64];
	uint64_t t0 = *now;
	unsigned int n;

	*later = NULL;
	while (*now - t0 < 10 * SEC) {
		*now = qb_engine_now_ns();
		qb_engine_poll(&cli, *now);
		while ((n = take(P_CLI, ms, 64)) > 0)
			for (unsigned int i = 0; i < n; i++) {
				if (*later == NULL && qb_conn_handshake_complete(ec->conn))
					*later = rte_pktmbuf_copy(ms[i], nodes[P_SRV].pool, 0,
					                          UINT32_MAX);
				give(P_SRV, ms[i]);
			}
		qb_engine_poll(&srv, *now);
		while ((n = take(P_SRV, ms, 64)) > 0)
			for (unsigned int i = 0; i < n; i++)
				give(P_CLI, ms[i]);
		sec = server_conn();
		if (*later != NULL && sec != NULL && qb_conn_handshake_complete(sec->conn))
			break;
	}
	cr_assert(sec != NULL && qb_conn_handshake_complete(sec->conn), "handshake");
	cr_assert_not_null(*later);
	return sec;
}

/*
 * With the multi-path handshake a server gives each new address pair its
 * own path id, so what comes from there is credited to that path only; and
 * a datagram from a new address that opens nothing (forged, corrupted)
 * leaves no path behind in the worker either: the core forgot it, and a
 * path only the worker knew would be offered to qb_conn_send at every turn
 * for nothing, the connection never going idle.
 */
Test(engine_paths, multipath_server_new_address_gets_its_own_path, .timeout = 60)
{
	struct qb_conn_path_info p0, p0b, p1;
	struct qb_engine_conn *ec, *sec;
	struct rte_mbuf *later, *bad;
	size_t len;
	uint64_t now;

	setup_with(0, 0, 0);
	srv.cf.conn.multipath_handshake = true;
	now = qb_engine_now_ns();
	ec = qb_engine_connect(&cli, &ip_srv, SRV_PORT, &nodes[P_SRV].pa.mac, 8, now);
	cr_assert_not_null(ec);
	sec = handshake(ec, &now, &later);
	qb_engine_poll(&srv, now);
	free_all(P_SRV);
	cr_assert_eq(qb_conn_path_info(sec->conn, 0, &p0), 0);
	cr_assert_eq(srv.st.paths_new, 0);

	/* Corrupted (its last bytes, inside the AEAD tag), from elsewhere. */
	bad = rte_pktmbuf_copy(later, nodes[P_SRV].pool, 0, UINT32_MAX);
	cr_assert_not_null(bad);
	uint8_t *d = payload(bad, &len);
	d[len - 1] ^= 0x5a;
	readdress(bad, &nodes[P_CLI].pa.mac, &nodes[P_SRV].pa.mac, &ip_other, CLI_PORT + 1, &ip_srv,
	          SRV_PORT);
	give(P_SRV, bad);
	qb_engine_poll(&srv, now);
	cr_assert_eq(qb_conn_path_info(sec->conn, 1, &p1), 0);
	cr_assert_eq(p1.state, QB_PATH_UNKNOWN, "the core forgot the path");
	cr_assert_not(sec->live[1], "and so did the worker");
	cr_assert_eq(srv.st.paths_new, 0);
	qb_engine_poll(&srv, now);
	cr_assert_not(sec->ready, "nothing to send: the connection waits");
	cr_assert_eq(qb_conn_path_info(sec->conn, 0, &p0b), 0);
	cr_assert_eq(p0b.bytes_recv, p0.bytes_recv, "no credit to path 0");

	/* The same datagram intact from there: a path of its own, which its
	 * bytes are credited to (RFC 9000 §8.1), not path 0. */
	payload(later, &len);
	readdress(later, &nodes[P_CLI].pa.mac, &nodes[P_SRV].pa.mac, &ip_other, CLI_PORT + 1,
	          &ip_srv, SRV_PORT);
	give(P_SRV, later);
	qb_engine_poll(&srv, now);
	cr_assert_eq(qb_conn_path_info(sec->conn, 1, &p1), 0);
	cr_assert_neq(p1.state, QB_PATH_UNKNOWN);
	cr_assert(sec->live[1]);
	cr_assert_eq(srv.st.paths_new, 1);
	cr_assert_eq(p1.bytes_recv, len);
	cr_assert_eq(qb_conn_path_info(sec->conn, 0, &p0b), 0);
	cr_assert_eq(p0b.bytes_recv, p0.bytes_recv);
	cr_assert(qb_ipaddr_equal(&sec->addrs[1].peer, &ip_other));
	teardown();
}

/* ---- 3. VN and stateless reset back through the relay -------------------- */

/* The forward header of a datagram the client sends through the relay. */
static size_t
client_fwd(uint8_t *buf, uint8_t quic_first)
{
	struct qb_path_addrs pa = {.peer = ip_srv,
	                           .peer_port = SRV_PORT,
	                           .relayed = true,
	                           .relay = ip_rly,
	                           .relay_port = RLY_PORT};
	struct qb_fwd_hdr h;
	int n;

	cr_assert_eq(qb_path_fwd_hdr(&pa, &ip_cli2, CLI_PORT, &h), 0);
	n = qb_fwd_hdr_encode(buf, QB_FWD_MAX_LEN, &h, quic_first);
	cr_assert_eq(n, 26);
	return (size_t)n;
}

/*
 * The server's answer to a forwarded trigger: to the relay, from us, with a
 * forward header the relay sends on to the client; returns the QUIC bytes.
 */
static const uint8_t *
check_via_relay(struct rte_mbuf *m, size_t *qlen)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	const struct rte_ipv4_hdr *iph = (const struct rte_ipv4_hdr *)(p + 14);
	const struct rte_udp_hdr *u = (const struct rte_udp_hdr *)(p + 14 + 20);
	struct qb_steer rs = {.n_workers = 1, .cid_len = 8, .no_cids = true};
	struct qb_port_addrs rpa;
	struct qb_ipnet rnet;
	struct qb_fwd_hdr h;
	struct qb_ipaddr a;
	size_t len, hl = 0;
	enum qb_steer_drop why;
	const uint8_t *d = payload(m, &len);

	cr_assert(rte_is_same_ether_addr((const struct rte_ether_addr *)p, &relay_mac));
	cr_assert_eq(memcmp(&iph->src_addr, &ip_srv.v4, 4), 0);
	cr_assert_eq(memcmp(&iph->dst_addr, &ip_rly.v4, 4), 0);
	cr_assert_eq(rte_be_to_cpu_16(u->src_port), SRV_PORT);
	cr_assert_eq(rte_be_to_cpu_16(u->dst_port), RLY_PORT);
	/* The relay, as --mode=relay decides: forward it, to the client. */
	qb_port_addrs_init(&rpa, &relay_mac);
	cr_assert_eq(qb_ipnet_parse("198.18.7.3/24", &rnet), 0);
	cr_assert_eq(qb_port_addrs_add(&rpa, &rnet), 0);
	cr_assert_eq(qb_relay_decide(&rs, &rpa, RLY_PORT, d, len, &h, &hl, &why), QB_RELAY_FORWARD,
	             "why %d", why);
	cr_assert_eq(hl, 26);
	qb_fwd_to_ipaddr(false, &h.dst.outer, &a);
	cr_assert(qb_ipaddr_equal(&a, &ip_cli2), "to the client's outer address");
	cr_assert_eq(h.dst.outer.port, CLI_PORT);
	qb_fwd_to_ipaddr(false, &h.src.outer, &a);
	cr_assert(qb_ipaddr_equal(&a, &ip_srv));
	cr_assert_eq(h.src.outer.port, SRV_PORT);
	cr_assert_eq(d[0], 0x60 | (d[hl] & 0x1f), "byte 0 repeats the QUIC packet's low bits");
	*qlen = len - hl;
	return d + hl;
}

Test(engine_paths, relayed_vn_and_reset_go_back_through_the_relay, .timeout = 60)
{
	static const uint8_t dcid[8] = {0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8};
	static const uint8_t scid[8] = {0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58};
	uint8_t buf[1400], token[QB_STATELESS_RESET_TOKEN_LEN];
	struct rte_mbuf *ms[8];
	const uint8_t *q;
	size_t fl, o, qlen;
	uint64_t now;

	/* Two resets at once, then one per half second. */
	setup_with(0, 0, 2);
	now = qb_engine_now_ns();

	/* An Initial of an unknown version, 1200 bytes of QUIC, relayed. */
	fl = client_fwd(buf, 0xc0);
	o = fl;
	memset(buf + fl, 0, 1200);
	buf[o++] = 0xc0;
	buf[o++] = 0x1a;
	buf[o++] = 0x2a;
	buf[o++] = 0x3a;
	buf[o++] = 0x4a;
	buf[o++] = sizeof(dcid);
	memcpy(buf + o, dcid, sizeof(dcid));
	o += sizeof(dcid);
	buf[o++] = sizeof(scid);
	memcpy(buf + o, scid, sizeof(scid));
	give(P_SRV, forged(buf, fl + 1200, &ip_rly, RLY_PORT));
	qb_engine_poll(&srv, now);
	cr_assert_eq(srv.d->stats.vn_sent, 1);
	cr_assert_eq(take(P_SRV, ms, 8), 1, "the Version Negotiation is sent");
	q = check_via_relay(ms[0], &qlen);
	/* RFC 9000 §17.2.1: version 0, the CIDs swapped, v1 listed. */
	cr_assert_eq(qlen, 7 + 16 + 8, "VN of %zu bytes", qlen);
	cr_assert(q[0] & 0x80);
	cr_assert_eq(q[1] | q[2] | q[3] | q[4], 0);
	cr_assert_eq(q[5], 8);
	cr_assert_arr_eq(q + 6, scid, 8);
	cr_assert_eq(q[14], 8);
	cr_assert_arr_eq(q + 15, dcid, 8);
	cr_assert_eq(q[23] << 24 | q[24] << 16 | q[25] << 8 | q[26], QB_VERSION_1);
	rte_pktmbuf_free(ms[0]);

	/* A short header for a CID we never issued, 40 bytes of QUIC,
	 * relayed: a stateless reset back through the relay (RFC 9000
	 * §10.3), shorter than its trigger, its token from our key. */
	fl = client_fwd(buf, 0x41);
	for (size_t i = 0; i < 40; i++)
		buf[fl + i] = (uint8_t)(0x41 + 7 * i);
	buf[fl] = 0x41;
	cr_assert_eq(qb_cid_reset_token(reset_key, buf + fl + 1, QB_ENGINE_CID_LEN, token), 0);
	for (unsigned int k = 0; k < 3; k++)
		give(P_SRV, forged(buf, fl + 40, &ip_rly, RLY_PORT));
	qb_engine_poll(&srv, now);
	cr_assert_eq(srv.d->stats.resets_sent, 2, "rate-limited as for direct clients");
	cr_assert_eq(srv.d->stats.drops[QB_SDROP_RESET_RATE], 1);
	cr_assert_eq(srv.d->stats.drops[QB_SDROP_REPLY_RELAYED], 0);
	cr_assert_eq(take(P_SRV, ms, 8), 2);
	for (unsigned int k = 0; k < 2; k++) {
		q = check_via_relay(ms[k], &qlen);
		cr_assert_eq(qlen, 39, "one byte shorter than the trigger (§10.3)");
		cr_assert_eq(q[0] & 0xc0, 0x40, "a short header");
		cr_assert_arr_eq(q + qlen - 16, token, 16, "its token");
	}
	rte_pktmbuf_free_bulk(ms, 2);

	/* The same bucket for a direct client: spent now, and after half a
	 * second one more goes, straight back to its sender. */
	give(P_SRV, forged(buf + fl, 40, &ip_cli, CLI_PORT));
	qb_engine_poll(&srv, now);
	cr_assert_eq(srv.d->stats.drops[QB_SDROP_RESET_RATE], 2);
	cr_assert_eq(take(P_SRV, ms, 8), 0);
	give(P_SRV, forged(buf + fl, 40, &ip_cli, CLI_PORT));
	qb_engine_poll(&srv, now + SEC / 2);
	cr_assert_eq(srv.d->stats.resets_sent, 3);
	cr_assert_eq(take(P_SRV, ms, 8), 1);
	{
		const uint8_t *p = rte_pktmbuf_mtod(ms[0], const uint8_t *);
		size_t len;

		q = payload(ms[0], &len);
		cr_assert_eq(len, 39, "direct: no forward header");
		cr_assert_eq(memcmp(p + 14 + 16, &ip_cli.v4, 4), 0);
		cr_assert_arr_eq(q + len - 16, token, 16);
	}
	rte_pktmbuf_free(ms[0]);
	teardown();
}

/* ---- 4. the source address of a relayed connection ----------------------- */

Test(engine_paths, connect_via_sources_from_our_address_for_the_relay, .timeout = 60)
{
	struct rte_mbuf *ms[16];
	struct qb_engine_conn *ec;
	struct qb_fwd_hdr h;
	struct qb_ipaddr a;
	unsigned int n;
	uint64_t now;
	size_t len;

	/* Our addresses: 198.18.6.2/24 (the server's subnet) and
	 * 198.18.7.2/24 (the relay's). */
	setup_with(0, 0, 0);
	now = qb_engine_now_ns();
	ec = qb_engine_connect_via(&cli, &ip_srv, SRV_PORT, &ip_rly, RLY_PORT, &relay_mac, 4, now);
	cr_assert_not_null(ec);
	cr_assert(qb_ipaddr_equal(&ec->local[0], &ip_cli2), "our address on the relay's subnet");
	qb_engine_poll(&cli, now);
	n = take(P_CLI, ms, 16);
	cr_assert_geq(n, 1);
	for (unsigned int i = 0; i < n; i++) {
		const uint8_t *p = rte_pktmbuf_mtod(ms[i], const uint8_t *);
		const uint8_t *d = payload(ms[i], &len);

		cr_assert_eq(memcmp(p + 14 + 12, &ip_cli2.v4, 4), 0, "IP source");
		cr_assert_eq(memcmp(p + 14 + 16, &ip_rly.v4, 4), 0, "IP destination: the relay");
		cr_assert_eq(qb_fwd_hdr_decode(d, len, &h), 26);
		qb_fwd_to_ipaddr(false, &h.src.outer, &a);
		cr_assert(qb_ipaddr_equal(&a, &ip_cli2), "the forward header names it too");
		qb_fwd_to_ipaddr(false, &h.dst.outer, &a);
		cr_assert(qb_ipaddr_equal(&a, &ip_srv));
	}
	rte_pktmbuf_free_bulk(ms, n);
	qb_engine_conn_free(&cli, ec);

	/* Direct, our address for the server. */
	ec = qb_engine_connect(&cli, &ip_srv, SRV_PORT, &nodes[P_SRV].pa.mac, 6, now);
	cr_assert_not_null(ec);
	cr_assert(qb_ipaddr_equal(&ec->local[0], &ip_cli));
	qb_engine_conn_free(&cli, ec);
	teardown();
}
