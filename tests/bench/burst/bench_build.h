/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_BENCH_BUILD_H
#define QB_BENCH_BUILD_H

/*
 * What bench_build.c (the harness, the bench-local fills, the bare seal)
 * shares with bench_build_conn.c (the conn variants: the connection core's
 * qb_conn_send as the fill, build_conn.h).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qb_burst.h"
#include "qb_port.h"
#include "qb_worker.h"
#include "qburst/crypto.h"

#define BURST    32
#define DCID_LEN 8
#define SRC_SIZE 65536 /* stream bytes cycle through this window */
#define MAX_PKT  1500

extern struct qb_port port;         /* net_null */
extern struct qb_lcore_stats stats; /* qb_burst_tx's counters */
extern uint8_t *const src_data;     /* the window: SRC_SIZE + MAX_PKT bytes */
extern uint8_t engine_buf[MAX_PKT]; /* the engine variants' one buffer */
uint64_t now_ns(void);              /* CLOCK_MONOTONIC */
double bb_median(double *v, int n); /* sorts v; 0 when n is 0 */

/* ---- the conn variants (bench_build_conn.c) ---- */

enum bb_conn_kind {
	BB_CONN,  /* qb_burst_tx, data referenced and its gap lent (write_ref_gap) */
	BB_CREF,  /* qb_burst_tx, data referenced read-only (write_ref) */
	BB_CCOPY, /* qb_burst_tx, data copied into pool chunks */
	BB_ECONN, /* the fill alone into engine_buf, data as conn's */
};

/* BUILD_CONN_ACK / BUILD_CONN_CHUNK from the environment, the TLS contexts
 * and their key log. 0 or -1 (reason printed). */
int bb_conn_setup(void);
void bb_conn_teardown(void);
unsigned int bb_conn_ack_every(void);
uint32_t bb_conn_chunk(void);

/*
 * For one row of the table: the three connections (lent, referenced and
 * copied data) of backend id, each self-checked on path p (udp template t, datagrams of
 * size bytes). 0, or -1 (the reason printed).
 */
int bb_conn_begin(enum qb_crypto_backend id, const char *name, bool hw, const struct qb_udp_tmpl *t,
                  const struct qb_burst_path *p, size_t size);

/* bursts * BURST datagrams of kind k; returns how many were built and sent,
 * *ns the timed part (the ACKs and the send buffer's top-up excluded). */
/* The server's pacer bucket in the conn variants (packets). */
unsigned int bb_conn_pacer(void);
unsigned int bb_conn_run(enum bb_conn_kind k, const struct qb_burst_txq *q,
                         const struct qb_burst_path *p, size_t size, int bursts, uint64_t *ns);

/* From now on (counters reset), or no longer, count the ACKs' and top-ups' cost. */
void bb_conn_timing(bool on);

/* The row's end: qb_conn_recv ns of an ACK per data packet it acknowledged
 * (conn and econn), the copy top-up's ns per data packet (ccopy), medians
 * over the ACKs of the timed rounds; direct[3]: the share of each
 * connection's timed packets (conn+econn, cref, ccopy) that took
 * qb_conn_send's fast path; the pairs freed. */
void bb_conn_end(double *ack_ns, double *write_ns, double direct[3]);

/* The self-checks' findings and each connection's fast-path share
 * (bb_conn_note_direct, after a row), printed after the table. */
void bb_conn_note_direct(const char *name, bool hw, size_t size, const double direct[3]);
void bb_conn_print_notes(void);

#endif
