/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_NEIGH_H
#define QB_NEIGH_H

/*
 * ARP (RFC 826) and IPv6 neighbour discovery (RFC 4861): answering requests
 * and solicitations for our own addresses in place, learning neighbours,
 * building requests/solicitations for next hops, static neighbours.
 *
 * Threading rule. A struct qb_neigh_table belongs to one port and is written
 * by one lcore at a time, with no lock: the app resolves next hops (and adds
 * static neighbours) on the control lcore before the workers start, then the
 * table is read-only. Workers answer ARP requests and neighbour solicitations
 * in place by calling qb_neigh_input with tbl == NULL, which reads only the
 * port's addresses and writes nothing shared. A learning call (tbl non-NULL)
 * must not run while another lcore reads the table.
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "qb_net.h"

#define QB_NEIGH_MAX 64 /* entries per table; fixed, no allocation */

struct qb_neigh_entry {
	struct qb_ipaddr ip; /* family 0: free slot */
	struct rte_ether_addr mac;
	bool is_static; /* never replaced by learning */
};

/* A port's neighbour table. Embed it (or allocate it once); no allocation after. */
struct qb_neigh_table {
	struct qb_neigh_entry e[QB_NEIGH_MAX];
	unsigned int n;      /* slots in use, the first n */
	unsigned int victim; /* next learned slot to recycle when full */
};

/* Empty tbl. */
void qb_neigh_init(struct qb_neigh_table *tbl);

/*
 * Add or replace a static neighbour (from the command line). 0, QB_ERR_NOMEM
 * when every slot is static, QB_ERR_ARG for an unset family.
 */
int qb_neigh_add_static(struct qb_neigh_table *tbl, const struct qb_ipaddr *ip,
                        const struct rte_ether_addr *mac);

/*
 * Record a learned neighbour: updates an existing learned entry, leaves a
 * static one alone, recycles the oldest learned slot when full. 0, or
 * QB_ERR_NOMEM when every slot is static, QB_ERR_ARG for an unset family.
 */
int qb_neigh_learn(struct qb_neigh_table *tbl, const struct qb_ipaddr *ip,
                   const struct rte_ether_addr *mac);

/* Copy ip's MAC to *mac. True if known. */
bool qb_neigh_lookup(const struct qb_neigh_table *tbl, const struct qb_ipaddr *ip,
                     struct rte_ether_addr *mac);

/* What qb_neigh_input did with the mbuf. */
enum qb_neigh_action {
	QB_NEIGH_CONSUMED = 0, /* nothing to send: the caller frees m */
	QB_NEIGH_REPLY = 1,    /* m now holds the reply: the caller transmits it */
};

/*
 * Handle an ARP or ICMPv6 ND packet that qb_net_parse classified (info->kind
 * QB_PKT_ARP or QB_PKT_ND), received on the port whose addresses are pa.
 *  - An ARP request for one of pa's IPv4 addresses, or a neighbour
 *    solicitation for one of pa's IPv6 addresses, is rewritten in place into
 *    the ARP reply / solicited neighbour advertisement (RFC 4861 §7.2.4, with
 *    the target link-layer address option), the VLAN tag kept, and
 *    QB_NEIGH_REPLY returned.
 *  - With tbl non-NULL, the sender of a request addressed to us (RFC 826's
 *    merge; RFC 4861 §7.2.3, when the NS carries a source link-layer option)
 *    and the target of a reply/advertisement are learned into tbl.
 * *drop is set to the reason for a malformed packet (else QB_DROP_NONE);
 * such a packet is QB_NEIGH_CONSUMED. Requests for other hosts are consumed.
 */
enum qb_neigh_action qb_neigh_input(struct qb_neigh_table *tbl, const struct qb_port_addrs *pa,
                                    struct rte_mbuf *m, const struct qb_pkt_info *info,
                                    enum qb_drop *drop);

/*
 * Build in m (an empty mbuf: data_len 0) an ARP request (IPv4 target) or a
 * neighbour solicitation to target's solicited-node multicast address (IPv6,
 * RFC 4861 §7.2.2, with a source link-layer option), from pa's MAC, VLAN and
 * source address for target. ARP frames are padded to the 60-byte Ethernet
 * minimum. 0, QB_ERR_NOBUF if m has no room, QB_ERR_ARG if pa has no address
 * of target's family.
 */
int qb_neigh_solicit_build(struct rte_mbuf *m, const struct qb_port_addrs *pa,
                           const struct qb_ipaddr *target);

/* The solicited-node multicast address ff02::1:ffXX:XXXX of v6 (RFC 4291 §2.7.1). */
void qb_nd_solicited_node(const uint8_t v6[16], uint8_t out[16]);

/* The Ethernet multicast MAC 33:33:xx:xx:xx:xx of an IPv6 multicast address (RFC 2464 §7). */
void qb_nd_mcast_mac(const uint8_t v6[16], struct rte_ether_addr *mac);

/*
 * Control-lcore helper (needs EAL and a started port): resolve ip's MAC into
 * *mac, from tbl if known, else by sending a request from mp on (port, queue)
 * every 200 ms and polling that RX queue, handling every ARP/ND packet it
 * receives (answering requests, learning into tbl) and freeing the rest, for
 * up to timeout_ms. Only for use before workers poll that queue. 0,
 * QB_ERR_STATE on timeout, QB_ERR_NOMEM if mp is empty, QB_ERR_ARG if pa
 * has no address of ip's family.
 */
int qb_neigh_resolve(uint16_t port, uint16_t queue, struct rte_mempool *mp,
                     const struct qb_port_addrs *pa, struct qb_neigh_table *tbl,
                     const struct qb_ipaddr *ip, unsigned int timeout_ms,
                     struct rte_ether_addr *mac);

#endif
