/* SPDX-License-Identifier: BSD-3-Clause */
#include <criterion/criterion.h>

#include "qb_net.h"

Test(addr, parse_and_format_ipv4)
{
	struct qb_ipaddr a;
	char s[QB_IPADDR_STRLEN];

	cr_assert_eq(qb_ipaddr_parse("198.18.0.1", &a), 0);
	cr_assert_eq(a.family, QB_AF_INET);
	cr_assert_eq(a.v4, rte_cpu_to_be_32(0xc6120001));
	cr_assert_eq(qb_ipaddr_format(&a, s, sizeof(s)), 10);
	cr_assert_str_eq(s, "198.18.0.1");
	cr_assert_eq(qb_ipaddr_format(&a, s, 10), QB_ERR_NOBUF);
}

Test(addr, parse_and_format_ipv6)
{
	static const uint8_t want[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	struct qb_ipaddr a;
	char s[QB_IPADDR_STRLEN];

	cr_assert_eq(qb_ipaddr_parse("2001:db8::1", &a), 0);
	cr_assert_eq(a.family, QB_AF_INET6);
	cr_assert_arr_eq(a.v6, want, 16);
	cr_assert_eq(qb_ipaddr_format(&a, s, sizeof(s)), 11);
	cr_assert_str_eq(s, "2001:db8::1");
}

Test(addr, parse_rejects_garbage)
{
	struct qb_ipaddr a;
	struct qb_ipnet n;

	cr_assert_eq(qb_ipaddr_parse("198.18.0", &a), QB_ERR_INVALID);
	cr_assert_eq(qb_ipaddr_parse("198.18.0.256", &a), QB_ERR_INVALID);
	cr_assert_eq(qb_ipaddr_parse("", &a), QB_ERR_INVALID);
	cr_assert_eq(qb_ipaddr_parse("2001:db8:::1", &a), QB_ERR_INVALID);
	cr_assert_eq(qb_ipnet_parse("198.18.0.1/33", &n), QB_ERR_INVALID);
	cr_assert_eq(qb_ipnet_parse("198.18.0.1/", &n), QB_ERR_INVALID);
	cr_assert_eq(qb_ipnet_parse("198.18.0.1/-1", &n), QB_ERR_INVALID);
	cr_assert_eq(qb_ipnet_parse("198.18.0.1/24x", &n), QB_ERR_INVALID);
	cr_assert_eq(qb_ipnet_parse("2001:db8::1/129", &n), QB_ERR_INVALID);
	cr_assert_eq(qb_ipnet_parse("/24", &n), QB_ERR_INVALID);
}

Test(addr, prefixes)
{
	struct qb_ipnet n;
	struct qb_ipaddr a;
	char s[QB_IPADDR_STRLEN];

	cr_assert_eq(qb_ipnet_parse("198.18.0.1", &n), 0);
	cr_assert_eq(n.prefix, 32);
	cr_assert_eq(qb_ipnet_parse("198.18.0.1/15", &n), 0);
	cr_assert_eq(n.prefix, 15);
	cr_assert_eq(qb_ipnet_format(&n, s, sizeof(s)), 13);
	cr_assert_str_eq(s, "198.18.0.1/15");
	qb_ipaddr_parse("198.19.255.255", &a);
	cr_assert(qb_ipnet_contains(&n, &a));
	qb_ipaddr_parse("198.20.0.1", &a);
	cr_assert_not(qb_ipnet_contains(&n, &a));
	qb_ipaddr_parse("2001:db8::1", &a);
	cr_assert_not(qb_ipnet_contains(&n, &a), "family differs");

	cr_assert_eq(qb_ipnet_parse("2001:db8::1/64", &n), 0);
	qb_ipaddr_parse("2001:db8::ffff:1", &a);
	cr_assert(qb_ipnet_contains(&n, &a));
	qb_ipaddr_parse("2001:db9::1", &a);
	cr_assert_not(qb_ipnet_contains(&n, &a));
	cr_assert_eq(qb_ipnet_parse("2001:db8::1/0", &n), 0);
	cr_assert(qb_ipnet_contains(&n, &a));
}

Test(addr, mac)
{
	struct rte_ether_addr m;

	cr_assert_eq(qb_mac_parse("02:00:0a:Bc:00:ff", &m), 0);
	cr_assert_eq(m.addr_bytes[0], 0x02);
	cr_assert_eq(m.addr_bytes[3], 0xbc);
	cr_assert_eq(m.addr_bytes[5], 0xff);
	cr_assert_eq(qb_mac_parse("02-00-00-00-00-01", &m), 0);
	cr_assert_eq(qb_mac_parse("02:00:00:00:00", &m), QB_ERR_INVALID);
	cr_assert_eq(qb_mac_parse("02:00:00:00:00:01:", &m), QB_ERR_INVALID);
	cr_assert_eq(qb_mac_parse("2:00:00:00:00:01", &m), QB_ERR_INVALID);
	cr_assert_eq(qb_mac_parse("02:00:00:00:00:0g", &m), QB_ERR_INVALID);
}

Test(addr, port_addresses_source_and_next_hop)
{
	struct rte_ether_addr mac = {.addr_bytes = {2, 0, 0, 0, 0, 1}};
	struct qb_port_addrs pa;
	struct qb_ipnet n;
	struct qb_ipaddr dst, nh;
	char s[QB_IPADDR_STRLEN];
	int i;

	qb_port_addrs_init(&pa, &mac);
	qb_ipnet_parse("10.0.0.1/8", &n);
	cr_assert_eq(qb_port_addrs_add(&pa, &n), 0);
	qb_ipnet_parse("198.18.0.1/24", &n);
	cr_assert_eq(qb_port_addrs_add(&pa, &n), 0);
	qb_ipnet_parse("2001:db8::1/64", &n);
	cr_assert_eq(qb_port_addrs_add(&pa, &n), 0);

	qb_ipaddr_parse("198.18.0.9", &dst);
	cr_assert(qb_port_addrs_has(&pa, &n.addr));
	cr_assert_not(qb_port_addrs_has(&pa, &dst));
	qb_ipaddr_format(qb_port_addrs_src_for(&pa, &dst), s, sizeof(s));
	cr_assert_str_eq(s, "198.18.0.1", "the address whose prefix holds dst");
	qb_ipaddr_parse("192.0.2.1", &dst);
	qb_ipaddr_format(qb_port_addrs_src_for(&pa, &dst), s, sizeof(s));
	cr_assert_str_eq(s, "10.0.0.1", "else the first of the family");

	/* No gateway: the destination itself. */
	qb_next_hop(&pa, &dst, &nh);
	cr_assert(qb_ipaddr_equal(&nh, &dst));
	qb_ipaddr_parse("198.18.0.254", &pa.gw4);
	qb_next_hop(&pa, &dst, &nh);
	cr_assert(qb_ipaddr_equal(&nh, &pa.gw4), "off-link goes to the gateway");
	qb_ipaddr_parse("198.18.0.9", &dst);
	qb_next_hop(&pa, &dst, &nh);
	cr_assert(qb_ipaddr_equal(&nh, &dst), "on-link stays direct");
	qb_ipaddr_parse("2001:db9::1", &dst);
	qb_next_hop(&pa, &dst, &nh);
	cr_assert(qb_ipaddr_equal(&nh, &dst), "no IPv6 gateway");

	for (i = pa.n_addrs; i < QB_PORT_MAX_ADDRS; i++)
		cr_assert_eq(qb_port_addrs_add(&pa, &n), 0);
	cr_assert_eq(qb_port_addrs_add(&pa, &n), QB_ERR_NOMEM);
}
