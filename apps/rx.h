/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_APP_RX_H
#define QB_APP_RX_H

#include "app.h"

/*
 * One RX burst on w's queue: every frame counted (rx_pkts, rx_bytes), parsed
 * (qb_net_parse), ARP requests and neighbour solicitations for pa's addresses
 * answered in place and sent back on w's TX queue (counted as TX), UDP for us
 * consumed, the rest dropped and counted by reason. With filter false, UDP to
 * any address is accepted (a sink with no --ip). Returns the frames received.
 */
unsigned int qb_rx_poll(struct qb_worker *w, const struct qb_port_addrs *pa, bool filter);

#endif
