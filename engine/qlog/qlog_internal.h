/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QBURST_QLOG_INTERNAL_H
#define QBURST_QLOG_INTERNAL_H

/* The qlog writer's state, shared by qlog.c (buffer, JSON) and qlog_conn.c
 * (the connection glue, which keeps what it last logged here). */

#include <stdatomic.h>

#include "qburst/qlog.h"

#define QLOG_RESERVE   (16 * 1024) /* free bytes wanted before an event */
#define QLOG_MAX_DEPTH 32          /* nesting of objects and arrays */
#define QLOG_NAME_MAX  64

struct qb_qlog {
	struct qb_qlog_sink sink;
	uint8_t *buf;
	size_t cap, len;
	size_t rec_start; /* start of the record being written */
	bool overflow;    /* the record did not fit: dropped at its end */
	bool started;     /* header record written */
	uint32_t depth;
	uint64_t nonempty; /* bit d: the container at depth d has a member */
	uint64_t ref;      /* reference time (ns, the caller's clock) */
	uint64_t wall_ns;
	uint64_t now; /* last time the connection glue saw */
	char odcid_hex[2 * 20 + 1];
	char title[QLOG_NAME_MAX], vname[QLOG_NAME_MAX];
	struct qb_qlog_stats st;
	atomic_bool flush_req; /* qb_qlog_request_flush() */

	/* The connection glue (qlog_conn.c): what was logged last. */
	struct {
		uint8_t state;      /* enum qlog_cstate */
		bool closed_logged; /* connection_closed */
		bool peer_tp, cipher;
		uint8_t keys;      /* bit 2*ep+w: key present (w 1: ours) */
		uint8_t discarded; /* bit ep */
		uint8_t rx_phase, tx_phase;
		uint64_t rx_kphase, tx_kphase;
		uint64_t srtt, min_rtt, latest, rttvar, cwnd, inflight, ssthresh;
		uint32_t pto_count;
		bool has_rtt;
	} cs;
};

#endif
