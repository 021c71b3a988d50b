/* SPDX-License-Identifier: BSD-3-Clause */
/* Relay listener decisions: forwarded (deliver or relay) vs QUIC vs STUN,
 * including a spin-bit short header and a Version Negotiation packet whose
 * bytes dquic's rule would misread. No EAL. */

#include <criterion/criterion.h>
#include <string.h>

#include <qburst/fwdhdr.h>

#include "qb_dispatch.h"

#define CID_LEN 12
#define PORT    4433

static struct qb_steer s;
static struct qb_port_addrs pa;

static void
setup(void)
{
	struct rte_ether_addr mac = {{2, 0, 0, 0, 0, 1}};
	struct qb_ipnet n;

	memset(&s, 0, sizeof(s));
	s.n_workers = 2;
	s.cid_len = CID_LEN;
	/* Rotation 0 so that our CIDs' first byte (0x0b) has 0x08 set and
	 * version 0 in its high bits: a plausible forward header byte 1. */
	s.lb.config_rotation = 0;
	s.lb.server_id_len = 1;
	s.lb.server_id[0] = 0x42;
	qb_port_addrs_init(&pa, &mac);
	cr_assert_eq(qb_ipnet_parse("198.18.0.1/24", &n), 0);
	cr_assert_eq(qb_port_addrs_add(&pa, &n), 0);
}

static void
fwd_addr(struct qb_fwd_addr *a, const char *ip, uint16_t port)
{
	struct qb_ipaddr x;
	cr_assert_eq(qb_ipaddr_parse(ip, &x), 0);
	memset(a, 0, sizeof(*a));
	a->port = port;
	memcpy(a->addr, &x.v4, 4);
}

/* A forward header then a 1-RTT packet of 40 bytes. */
static size_t
forwarded(uint8_t *d, const struct qb_fwd_hdr *h)
{
	uint8_t first = 0x43;
	int n = qb_fwd_hdr_encode(d, 100, h, first);
	cr_assert_gt(n, 0);
	d[n] = first;
	memset(d + n + 1, 0xaa, 39);
	return (size_t)n + 40;
}

TestSuite(steer_relay, .init = setup);

static bool
never_ours(void *ctx, const uint8_t *cid, size_t len)
{
	(void)ctx;
	(void)cid;
	(void)len;
	return false;
}

Test(steer_relay, deliver_to_us_direct_and_via_relay)
{
	struct qb_fwd_hdr h = {0}, out;
	uint8_t d[200];
	size_t hl, len;
	enum qb_steer_drop why;

	fwd_addr(&h.src.addr, "203.0.113.5", 5000);
	fwd_addr(&h.dst.addr, "198.18.0.1", PORT);
	len = forwarded(d, &h);
	cr_assert_eq(qb_relay_decide(&s, &pa, PORT, d, len, &out, &hl, &why), QB_RELAY_DELIVER);
	cr_assert_eq(hl, 14);
	cr_assert_eq(out.src.addr.port, 5000);
	/* Another port of ours is not us. */
	cr_assert_eq(qb_relay_decide(&s, &pa, PORT + 1, d, len, &out, &hl, &why), QB_RELAY_DROP);
	cr_assert_eq(why, QB_SDROP_FWD_NOT_OURS);

	/* Relayed destination whose outer address is ours: delivered. */
	h.dst.relayed = true;
	fwd_addr(&h.dst.addr, "192.0.2.9", 3478);
	fwd_addr(&h.dst.outer, "198.18.0.1", PORT);
	len = forwarded(d, &h);
	cr_assert_eq(qb_relay_decide(&s, &pa, PORT, d, len, &out, &hl, &why), QB_RELAY_DELIVER);
	cr_assert_eq(hl, 20);
}

Test(steer_relay, forward_when_we_are_the_relay)
{
	struct qb_fwd_hdr h = {0}, out;
	uint8_t d[200];
	size_t hl, len;
	enum qb_steer_drop why;

	h.src.relayed = true;
	fwd_addr(&h.src.addr, "192.0.2.1", 3478);
	fwd_addr(&h.src.outer, "203.0.113.5", 5000);
	h.dst.relayed = true;
	fwd_addr(&h.dst.addr, "198.18.0.1", PORT);
	fwd_addr(&h.dst.outer, "198.18.0.77", 6000);
	len = forwarded(d, &h);
	cr_assert_eq(qb_relay_decide(&s, &pa, PORT, d, len, &out, &hl, &why), QB_RELAY_FORWARD);
	cr_assert_eq(hl, 26);
	cr_assert_eq(out.dst.outer.port, 6000);
	struct qb_ipaddr ip, want;
	qb_fwd_to_ipaddr(out.ipv6, &out.dst.outer, &ip);
	qb_ipaddr_parse("198.18.0.77", &want);
	cr_assert(qb_ipaddr_equal(&ip, &want));
	/* Not via us and not to us. */
	fwd_addr(&h.dst.addr, "192.0.2.2", PORT);
	len = forwarded(d, &h);
	cr_assert_eq(qb_relay_decide(&s, &pa, PORT, d, len, &out, &hl, &why), QB_RELAY_DROP);
	cr_assert_eq(why, QB_SDROP_FWD_NOT_OURS);
}

Test(steer_relay, spin_bit_short_header_with_our_cid_is_quic)
{
	struct qb_cid_lb lb = s.lb;
	struct qb_fwd_hdr out;
	uint8_t d[100], cid[CID_LEN];
	size_t hl;
	enum qb_steer_drop why;

	lb.worker_id = 1;
	lb.rng_state = 3;
	cr_assert_eq(qb_cid_gen_lb(&lb, 0, cid, CID_LEN), 0);
	cr_assert_eq(cid[0], 0x0b);
	/* 0x61: short header, spin bit set; byte 1 = 0x0b reads as a v0 forward
	 * header with both endpoints relayed (26 bytes). Make the byte at 26
	 * repeat byte 0's low bits so dquic's test alone would say forwarded. */
	memset(d, 0x11, sizeof(d));
	d[0] = 0x61;
	memcpy(d + 1, cid, CID_LEN);
	d[26] = 0x01;
	cr_assert_eq(qb_relay_decide(&s, &pa, PORT, d, sizeof(d), &out, &hl, &why), QB_RELAY_QUIC);
	/* The same bytes with a CID that is not ours are a forward header. */
	d[2] ^= 0xff; /* server id */
	cr_assert_eq(qb_dgram_classify(d, sizeof(d), CID_LEN, never_ours, NULL),
	             QB_DGRAM_FORWARDED);
	enum qb_relay_verdict v = qb_relay_decide(&s, &pa, PORT, d, sizeof(d), &out, &hl, &why);
	cr_assert(v == QB_RELAY_DROP && why == QB_SDROP_FWD_NOT_OURS, "verdict %d why %d", v, why);
}

Test(steer_relay, version_negotiation_and_stun)
{
	struct qb_cid_lb lb = s.lb;
	struct qb_fwd_hdr out;
	uint8_t d[64], cid[CID_LEN];
	size_t hl;
	enum qb_steer_drop why;

	lb.worker_id = 0;
	lb.rng_state = 9;
	qb_cid_gen_lb(&lb, 0, cid, CID_LEN);
	/* A VN packet to one of our CIDs with first byte 0xc2: dquic's STUN form. */
	memset(d, 0, sizeof(d));
	d[0] = 0xc2;
	d[5] = CID_LEN;
	memcpy(d + 6, cid, CID_LEN);
	d[6 + CID_LEN] = 4;
	memset(d + 7 + CID_LEN, 0x33, 4);
	size_t len = 7 + CID_LEN + 4;
	d[len + 3] = 1; /* version 1 */
	len += 4;
	cr_assert_eq(qb_relay_decide(&s, &pa, PORT, d, len, &out, &hl, &why), QB_RELAY_QUIC);
	/* dquic's STUN variant not addressed to a CID of ours. */
	d[7] ^= 0xff;
	cr_assert_eq(qb_relay_decide(&s, &pa, PORT, d, len, &out, &hl, &why), QB_RELAY_DROP);
	cr_assert_eq(why, QB_SDROP_STUN);
	/* RFC 8489 binding request: magic cookie at bytes 4..7. */
	uint8_t stun[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4};
	cr_assert_eq(qb_relay_decide(&s, &pa, PORT, stun, sizeof(stun), &out, &hl, &why),
	             QB_RELAY_DROP);
	cr_assert_eq(why, QB_SDROP_STUN);
	/* A plain short header without spin: QUIC. */
	uint8_t q[40] = {0x41};
	cr_assert_eq(qb_relay_decide(&s, &pa, PORT, q, sizeof(q), &out, &hl, &why), QB_RELAY_QUIC);
	cr_assert_eq(qb_relay_decide(&s, &pa, PORT, q, 0, &out, &hl, &why), QB_RELAY_DROP);
	cr_assert_eq(why, QB_SDROP_EMPTY);
}

Test(steer_relay, ipv6_relay_and_delivery)
{
	struct qb_fwd_hdr h = {0}, out;
	struct qb_ipnet n6;
	struct qb_ipaddr a;
	uint8_t d[200];
	size_t hl, len;
	enum qb_steer_drop why;

	cr_assert_eq(qb_ipnet_parse("2001:db8:6::2/64", &n6), 0);
	cr_assert_eq(qb_port_addrs_add(&pa, &n6), 0);
	h.ipv6 = true;
	h.src.addr.port = 5000;
	qb_ipaddr_parse("2001:db8:6::1", &a);
	memcpy(h.src.addr.addr, a.v6, 16);
	h.dst.relayed = true;
	h.dst.addr.port = PORT;
	memcpy(h.dst.addr.addr, n6.addr.v6, 16);
	h.dst.outer.port = 7000;
	memcpy(h.dst.outer.addr, a.v6, 16);
	len = forwarded(d, &h);
	cr_assert_eq(qb_relay_decide(&s, &pa, PORT, d, len, &out, &hl, &why), QB_RELAY_FORWARD);
	cr_assert_eq(hl, 56);
	struct qb_ipaddr dst;
	qb_fwd_to_ipaddr(out.ipv6, &out.dst.outer, &dst);
	cr_assert(qb_ipaddr_equal(&dst, &a));
	/* The IPv4 address's bytes inside an IPv6 header are not ours. */
	h.dst.relayed = false;
	memset(h.dst.addr.addr, 0, 16);
	memcpy(h.dst.addr.addr, &pa.addrs[0].addr.v4, 4);
	len = forwarded(d, &h);
	cr_assert_eq(qb_relay_decide(&s, &pa, PORT, d, len, &out, &hl, &why), QB_RELAY_DROP);
	cr_assert_eq(why, QB_SDROP_FWD_NOT_OURS);
	memcpy(h.dst.addr.addr, n6.addr.v6, 16);
	len = forwarded(d, &h);
	cr_assert_eq(qb_relay_decide(&s, &pa, PORT, d, len, &out, &hl, &why), QB_RELAY_DELIVER);
	cr_assert_eq(hl, 38);
}

/* ---- relayed paths: what the engine records and sends (qb_path_*) ---- */

static void
party(struct qb_port_addrs *p, uint8_t id, const char *net)
{
	struct rte_ether_addr mac = {{2, 0, 0, 0, 7, id}};
	struct qb_ipnet n;

	qb_port_addrs_init(p, &mac);
	cr_assert_eq(qb_ipnet_parse(net, &n), 0);
	cr_assert_eq(qb_port_addrs_add(p, &n), 0);
}

static struct qb_ipaddr
ip_of(const char *s)
{
	struct qb_ipaddr a;

	cr_assert_eq(qb_ipaddr_parse(s, &a), 0, "%s", s);
	return a;
}

/* A forwarded datagram with a 1-RTT packet (spin 0) behind h, as a sender puts it out. */
static size_t
relayed_dgram(uint8_t *d, size_t cap, const struct qb_fwd_hdr *h)
{
	const uint8_t first = 0x45; /* short header, spin 0, key phase 1, pn length 2 */
	int n = qb_fwd_hdr_encode(d, cap, h, first);

	cr_assert_gt(n, 0);
	d[n] = first;
	memset(d + n + 1, 0x5a, 60);
	return (size_t)n + 61;
}

/* The dispatch's view of a datagram from src:sport to dst:dport that carried h. */
static void
rx_dgram(struct qb_rx_dgram *dg, const char *src, uint16_t sport, const char *dst, uint16_t dport,
         const struct qb_fwd_hdr *h)
{
	memset(dg, 0, sizeof(*dg));
	dg->info.kind = QB_PKT_UDP;
	dg->info.src = ip_of(src);
	dg->info.sport = sport;
	dg->info.dst = ip_of(dst);
	dg->info.dport = dport;
	dg->relayed = h != NULL;
	if (h != NULL)
		dg->fwd = *h;
}

/*
 * Client C 198.18.7.3:50000, relay R 198.18.7.2:4433, server S
 * 198.18.7.1:4433 (BRIEF §2): the client's header, the relay's verdict, the
 * server's delivery and the path it records, the server's answer through the
 * same relay, and the client recognising its own path in it.
 */
Test(steer_relay, relayed_path_round_trip_ipv4)
{
	struct qb_port_addrs pc, pr, ps;
	struct qb_path_addrs cp = {0}, sp, back;
	struct qb_fwd_hdr h, out;
	struct qb_rx_dgram dg;
	struct qb_ipaddr c = ip_of("198.18.7.3"), ip;
	uint8_t d[256];
	size_t len, hl;
	enum qb_steer_drop why;
	/* Written out by hand: byte 0 0x60 | 0x45 & 0x1f; byte 1 version 0 |
	 * 0x08 | source relayed 0x02 | destination relayed 0x01; source: relay
	 * R:4433 then outer C:50000; destination: relay R:4433 then outer S:4433. */
	static const uint8_t want[26] = {
	        0x65, 0x0b, 0x11, 0x51, 198, 18, 7, 2,    0xc3, 0x50, 198, 18, 7,
	        3,    0x11, 0x51, 198,  18,  7,  2, 0x11, 0x51, 198,  18,  7,  1,
	};

	party(&pc, 3, "198.18.7.3/24");
	party(&pr, 2, "198.18.7.2/24");
	party(&ps, 1, "198.18.7.1/24");
	cp.peer = ip_of("198.18.7.1");
	cp.peer_port = 4433;
	cp.relayed = true;
	cp.relay = ip_of("198.18.7.2");
	cp.relay_port = 4433;
	cr_assert_eq(qb_path_fwd_hdr(&cp, &c, 50000, &h), 0);
	len = relayed_dgram(d, sizeof(d), &h);
	cr_assert_eq(len, 26 + 61);
	cr_assert_arr_eq(d, want, sizeof(want));

	/* The relay sends it on to S (its outer destination), unchanged. */
	cr_assert_eq(qb_relay_decide(&s, &pr, 4433, d, len, &out, &hl, &why), QB_RELAY_FORWARD);
	qb_fwd_to_ipaddr(out.ipv6, &out.dst.outer, &ip);
	cr_assert(qb_ipaddr_equal(&ip, &cp.peer));
	cr_assert_eq(out.dst.outer.port, 4433);
	/* Neither C nor S takes it for itself before the relay did its part... */
	cr_assert_eq(qb_relay_decide(&s, &pc, 50000, d, len, &out, &hl, &why), QB_RELAY_DROP);
	/* ...and S delivers it: header stripped, path recorded as relayed. */
	cr_assert_eq(qb_relay_decide(&s, &ps, 4433, d, len, &out, &hl, &why), QB_RELAY_DELIVER);
	cr_assert_eq(hl, 26);
	cr_assert_eq(d[hl], 0x45);
	rx_dgram(&dg, "198.18.7.2", 4433, "198.18.7.1", 4433, &out);
	cr_assert_eq(qb_path_addrs_from_rx(&dg, &sp), 0);
	cr_assert(sp.relayed);
	cr_assert(qb_ipaddr_equal(&sp.peer, &c), "the peer is C, not the relay");
	cr_assert_eq(sp.peer_port, 50000);
	cr_assert(qb_ipaddr_equal(&sp.relay, &cp.relay));
	cr_assert_eq(sp.relay_port, 4433);

	/* S answers through R; R sends it on to C, which delivers it. */
	cr_assert_eq(qb_path_fwd_hdr(&sp, &ps.addrs[0].addr, 4433, &h), 0);
	len = relayed_dgram(d, sizeof(d), &h);
	cr_assert_eq(qb_relay_decide(&s, &pr, 4433, d, len, &out, &hl, &why), QB_RELAY_FORWARD);
	qb_fwd_to_ipaddr(out.ipv6, &out.dst.outer, &ip);
	cr_assert(qb_ipaddr_equal(&ip, &c));
	cr_assert_eq(out.dst.outer.port, 50000);
	cr_assert_eq(qb_relay_decide(&s, &pc, 50000, d, len, &out, &hl, &why), QB_RELAY_DELIVER);
	rx_dgram(&dg, "198.18.7.2", 4433, "198.18.7.3", 50000, &out);
	cr_assert_eq(qb_path_addrs_from_rx(&dg, &back), 0);
	cr_assert(qb_path_addrs_equal(&cp, &back), "the client sees its own path come back");
	/* The same bytes straight from S (no relay) are another path. */
	rx_dgram(&dg, "198.18.7.1", 4433, "198.18.7.3", 50000, NULL);
	cr_assert_eq(qb_path_addrs_from_rx(&dg, &back), 0);
	cr_assert_not(back.relayed);
	cr_assert_not(qb_path_addrs_equal(&cp, &back));
}

/* dquic's shorter form (source direct, 20 bytes): the relay is whoever sent it on. */
Test(steer_relay, relayed_path_from_direct_source)
{
	struct qb_fwd_hdr h = {0};
	struct qb_rx_dgram dg;
	struct qb_path_addrs p, q;

	fwd_addr(&h.src.addr, "203.0.113.5", 5000);
	h.dst.relayed = true;
	fwd_addr(&h.dst.addr, "192.0.2.9", 3478);
	fwd_addr(&h.dst.outer, "198.18.0.1", PORT);
	rx_dgram(&dg, "192.0.2.9", 3478, "198.18.0.1", PORT, &h);
	cr_assert_eq(qb_path_addrs_from_rx(&dg, &p), 0);
	cr_assert(p.relayed);
	struct qb_ipaddr peer = ip_of("203.0.113.5"), relay = ip_of("192.0.2.9");
	cr_assert(qb_ipaddr_equal(&p.peer, &peer));
	cr_assert_eq(p.peer_port, 5000);
	cr_assert(qb_ipaddr_equal(&p.relay, &relay));
	cr_assert_eq(p.relay_port, 3478);
	/* Through another port of the same relay: another path. */
	rx_dgram(&dg, "192.0.2.9", 3479, "198.18.0.1", PORT, &h);
	cr_assert_eq(qb_path_addrs_from_rx(&dg, &q), 0);
	cr_assert_not(qb_path_addrs_equal(&p, &q));
	/* A direct datagram: the UDP source is the peer. */
	rx_dgram(&dg, "203.0.113.5", 5000, "198.18.0.1", PORT, NULL);
	cr_assert_eq(qb_path_addrs_from_rx(&dg, &q), 0);
	cr_assert_not(q.relayed);
	cr_assert(qb_ipaddr_equal(&q.peer, &peer));
	cr_assert_eq(q.peer_port, 5000);
	/* No forward header for a direct path, nor across families. */
	struct qb_fwd_hdr o;
	cr_assert_eq(qb_path_fwd_hdr(&q, &pa.addrs[0].addr, PORT, &o), QB_ERR_ARG);
	struct qb_ipaddr v6 = ip_of("2001:db8::1");
	cr_assert_eq(qb_path_fwd_hdr(&p, &v6, PORT, &o), QB_ERR_ARG);
	/* A relayed source naming another relay than the one it came from:
	 * the peer is its outer endpoint, the next hop the actual sender. */
	h.src.relayed = true;
	fwd_addr(&h.src.addr, "192.0.2.66", 3478);
	fwd_addr(&h.src.outer, "203.0.113.5", 5001);
	rx_dgram(&dg, "192.0.2.9", 3478, "198.18.0.1", PORT, &h);
	cr_assert_eq(qb_path_addrs_from_rx(&dg, &q), 0);
	cr_assert(q.relayed && qb_ipaddr_equal(&q.peer, &peer) && q.peer_port == 5001);
	cr_assert(qb_ipaddr_equal(&q.relay, &relay) && q.relay_port == 3478);
	/* An IPv6 header inside an IPv4 datagram is refused. */
	h.ipv6 = true;
	rx_dgram(&dg, "192.0.2.9", 3478, "198.18.0.1", PORT, &h);
	cr_assert_eq(qb_path_addrs_from_rx(&dg, &q), QB_ERR_ARG);
}

/* The IPv6 relayed pair: 74 bytes, delivered at the peer, path recorded. */
Test(steer_relay, relayed_path_ipv6)
{
	struct qb_port_addrs pr, ps;
	struct qb_path_addrs cp = {0}, sp;
	struct qb_fwd_hdr h, out;
	struct qb_rx_dgram dg;
	struct qb_ipaddr c = ip_of("2001:db8:7::3");
	uint8_t d[256];
	size_t len, hl;
	enum qb_steer_drop why;

	party(&pr, 2, "2001:db8:7::2/64");
	party(&ps, 1, "2001:db8:7::1/64");
	cp.peer = ip_of("2001:db8:7::1");
	cp.peer_port = 443;
	cp.relayed = true;
	cp.relay = ip_of("2001:db8:7::2");
	cp.relay_port = 3478;
	cr_assert_eq(qb_path_fwd_hdr(&cp, &c, 61000, &h), 0);
	len = relayed_dgram(d, sizeof(d), &h);
	cr_assert_eq(len, 74 + 61);
	cr_assert_eq(d[0], 0x65);
	cr_assert_eq(d[1], 0x0f); /* 0x08 | IPv6 | source relayed | destination relayed */
	cr_assert_eq(qb_relay_decide(&s, &pr, 3478, d, len, &out, &hl, &why), QB_RELAY_FORWARD);
	cr_assert_eq(qb_relay_decide(&s, &ps, 443, d, len, &out, &hl, &why), QB_RELAY_DELIVER);
	cr_assert_eq(hl, 74);
	rx_dgram(&dg, "2001:db8:7::2", 3478, "2001:db8:7::1", 443, &out);
	cr_assert_eq(qb_path_addrs_from_rx(&dg, &sp), 0);
	cr_assert(sp.relayed && qb_ipaddr_equal(&sp.peer, &c) && sp.peer_port == 61000);
	cr_assert(qb_ipaddr_equal(&sp.relay, &cp.relay) && sp.relay_port == 3478);
}
