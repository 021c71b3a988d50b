/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QBURST_QLOG_CONN_H
#define QBURST_QLOG_CONN_H

/*
 * The connection's qlog hooks (engine/conn calls them, qlog_conn.c formats
 * the QUIC events of draft-ietf-quic-qlog-quic-events). Each call site is
 * guarded by CONN_QLOG(c): one predictable branch when qlog is off.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qburst/qlog.h"

struct qb_conn;
struct qb_pkt_hdr;
struct qb_crypto_hdr;
struct qb_pkt_layout;
struct qb_sent_pkt;

#define CONN_QLOG(c) __builtin_expect((c)->cfg.qlog != NULL, 0)

/* Why a received packet was dropped (the packet_dropped trigger). */
enum qb_qlog_drop {
	QB_QLOG_DROP_REJECTED = 0, /* not ours, wrong version, Retry/VN ignored */
	QB_QLOG_DROP_KEY_UNAVAILABLE,
	QB_QLOG_DROP_DECRYPTION,
	QB_QLOG_DROP_DUPLICATE,
	QB_QLOG_DROP_INVALID,
	QB_QLOG_DROP_INTERNAL, /* no room to take it (pool exhausted) */
};

/* Trace header, connection_started, local parameters_set, Initial keys. */
void qb_qlog_conn_start(struct qb_conn *c, uint64_t now);
/* A packet opened: packet_received with its frames (before they run). */
void qb_qlog_conn_rx(struct qb_conn *c, const struct qb_pkt_hdr *h, const struct qb_crypto_hdr *ch,
                     const uint8_t *pkt, uint64_t now);
/* A Retry or Version Negotiation packet taken (client). */
void qb_qlog_conn_rx_special(struct qb_conn *c, const struct qb_pkt_hdr *h, uint64_t now);
/* A packet dropped; h NULL when the datagram did not parse. */
void qb_qlog_conn_drop(struct qb_conn *c, const struct qb_pkt_hdr *h, enum qb_qlog_drop why,
                       uint64_t now);
/* A packet sealed: pkt is its plaintext (before protection). */
void qb_qlog_conn_tx(struct qb_conn *c, int ep, const uint8_t *pkt, const struct qb_pkt_layout *lay,
                     bool probe, uint64_t now);
/* A packet declared lost (at the time last given to the qlog). */
void qb_qlog_conn_lost(struct qb_conn *c, int space, const struct qb_sent_pkt *pkt);
/* The time of what follows (loss detection inside a timeout). */
void qb_qlog_conn_time(struct qb_conn *c, uint64_t now);
/* After each API call: state, keys, peer parameters, recovery metrics,
 * connection_closed (then a flush) as they changed. */
void qb_qlog_conn_sync(struct qb_conn *c, uint64_t now);

#endif
