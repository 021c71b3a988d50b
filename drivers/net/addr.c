/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IP addresses, prefixes, MAC strings, the port's own addresses and the next
 * hop choice. Control-path code: parsing happens at start-up only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "qb_net.h"

int
qb_ipaddr_parse(const char *s, struct qb_ipaddr *out)
{
	struct qb_ipaddr a;

	if (s == NULL || out == NULL)
		return QB_ERR_INVALID;
	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, s, &a.v4) == 1) {
		a.family = QB_AF_INET;
	} else if (inet_pton(AF_INET6, s, a.v6) == 1) {
		a.family = QB_AF_INET6;
	} else {
		return QB_ERR_INVALID;
	}
	*out = a;
	return 0;
}

int
qb_ipnet_parse(const char *s, struct qb_ipnet *out)
{
	char buf[QB_IPADDR_STRLEN];
	const char *slash;
	struct qb_ipnet n;
	unsigned long prefix;
	size_t alen;
	char *end;

	if (s == NULL || out == NULL)
		return QB_ERR_INVALID;
	slash = strchr(s, '/');
	alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(buf))
		return QB_ERR_INVALID;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	memset(&n, 0, sizeof(n));
	if (qb_ipaddr_parse(buf, &n.addr) != 0)
		return QB_ERR_INVALID;
	n.prefix = n.addr.family == QB_AF_INET ? 32 : 128;
	if (slash != NULL) {
		/* Digits only: strtoul would accept signs and spaces. */
		if (slash[1] < '0' || slash[1] > '9')
			return QB_ERR_INVALID;
		errno = 0;
		prefix = strtoul(slash + 1, &end, 10);
		if (errno != 0 || *end != '\0' || prefix > n.prefix)
			return QB_ERR_INVALID;
		n.prefix = (uint8_t)prefix;
	}
	*out = n;
	return 0;
}

int
qb_ipaddr_format(const struct qb_ipaddr *a, char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];
	size_t n;

	if (a == NULL)
		return QB_ERR_INVALID;
	if (a->family == QB_AF_INET)
		inet_ntop(AF_INET, &a->v4, tmp, sizeof(tmp));
	else if (a->family == QB_AF_INET6)
		inet_ntop(AF_INET6, a->v6, tmp, sizeof(tmp));
	else
		return QB_ERR_INVALID;
	n = strlen(tmp);
	if (buf == NULL || n + 1 > len)
		return QB_ERR_NOBUF;
	memcpy(buf, tmp, n + 1);
	return (int)n;
}

int
qb_ipnet_format(const struct qb_ipnet *n, char *buf, size_t len)
{
	char tmp[QB_IPADDR_STRLEN];
	int r;

	if (n == NULL)
		return QB_ERR_INVALID;
	r = qb_ipaddr_format(&n->addr, tmp, sizeof(tmp));
	if (r < 0)
		return r;
	r = snprintf(buf, buf != NULL ? len : 0, "%s/%u", tmp, n->prefix);
	if (buf == NULL || (size_t)r + 1 > len)
		return QB_ERR_NOBUF;
	return r;
}

bool
qb_ipaddr_equal(const struct qb_ipaddr *a, const struct qb_ipaddr *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == QB_AF_INET)
		return a->v4 == b->v4;
	if (a->family == QB_AF_INET6)
		return memcmp(a->v6, b->v6, 16) == 0;
	return true;
}

bool
qb_ipnet_contains(const struct qb_ipnet *n, const struct qb_ipaddr *a)
{
	const uint8_t *x, *y;
	unsigned int bits, i;

	if (a->family != n->addr.family || a->family == 0)
		return false;
	if (a->family == QB_AF_INET) {
		x = (const uint8_t *)&n->addr.v4;
		y = (const uint8_t *)&a->v4;
	} else {
		x = n->addr.v6;
		y = a->v6;
	}
	bits = n->prefix;
	for (i = 0; bits >= 8; i++, bits -= 8)
		if (x[i] != y[i])
			return false;
	if (bits > 0) {
		uint8_t mask = (uint8_t)(0xff << (8 - bits));

		if ((x[i] & mask) != (y[i] & mask))
			return false;
	}
	return true;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
qb_mac_parse(const char *s, struct rte_ether_addr *out)
{
	struct rte_ether_addr m;
	int i, hi, lo;

	if (s == NULL || out == NULL)
		return QB_ERR_INVALID;
	/* Exactly six two-digit groups: "02:00:00:00:00:01". */
	for (i = 0; i < RTE_ETHER_ADDR_LEN; i++) {
		hi = hexval(s[0]);
		lo = hi >= 0 ? hexval(s[1]) : -1;
		if (lo < 0)
			return QB_ERR_INVALID;
		m.addr_bytes[i] = (uint8_t)(hi << 4 | lo);
		s += 2;
		if (i < RTE_ETHER_ADDR_LEN - 1) {
			if (*s != ':' && *s != '-')
				return QB_ERR_INVALID;
			s++;
		}
	}
	if (*s != '\0')
		return QB_ERR_INVALID;
	*out = m;
	return 0;
}

void
qb_port_addrs_init(struct qb_port_addrs *pa, const struct rte_ether_addr *mac)
{
	memset(pa, 0, sizeof(*pa));
	if (mac != NULL)
		pa->mac = *mac;
}

int
qb_port_addrs_add(struct qb_port_addrs *pa, const struct qb_ipnet *n)
{
	if (n->addr.family != QB_AF_INET && n->addr.family != QB_AF_INET6)
		return QB_ERR_ARG;
	if (pa->n_addrs >= QB_PORT_MAX_ADDRS)
		return QB_ERR_NOMEM;
	pa->addrs[pa->n_addrs++] = *n;
	return 0;
}

bool
qb_port_addrs_has(const struct qb_port_addrs *pa, const struct qb_ipaddr *a)
{
	unsigned int i;

	for (i = 0; i < pa->n_addrs; i++)
		if (qb_ipaddr_equal(&pa->addrs[i].addr, a))
			return true;
	return false;
}

const struct qb_ipaddr *
qb_port_addrs_src_for(const struct qb_port_addrs *pa, const struct qb_ipaddr *dst)
{
	const struct qb_ipaddr *first = NULL;
	unsigned int i;

	for (i = 0; i < pa->n_addrs; i++) {
		if (pa->addrs[i].addr.family != dst->family)
			continue;
		if (qb_ipnet_contains(&pa->addrs[i], dst))
			return &pa->addrs[i].addr;
		if (first == NULL)
			first = &pa->addrs[i].addr;
	}
	return first;
}

void
qb_next_hop(const struct qb_port_addrs *pa, const struct qb_ipaddr *dst, struct qb_ipaddr *nh)
{
	const struct qb_ipaddr *gw = dst->family == QB_AF_INET ? &pa->gw4 : &pa->gw6;
	unsigned int i;

	*nh = *dst;
	if (gw->family != dst->family)
		return;
	for (i = 0; i < pa->n_addrs; i++)
		if (qb_ipnet_contains(&pa->addrs[i], dst))
			return;
	*nh = *gw;
}
