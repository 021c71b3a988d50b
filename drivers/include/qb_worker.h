/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_WORKER_H
#define QB_WORKER_H

/*
 * The per-lcore worker loop, its counters, and the process-wide stop flag
 * set by SIGINT/SIGTERM or by the control lcore.
 *
 * Each worker owns one RX/TX queue pair of one port and a cache-aligned
 * block of counters that only it writes; the control lcore reads them
 * (relaxed 64-bit loads: a reading may lag by a burst, never tear).
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_mbuf.h>

#include "qb_net.h"

/* Counters of one worker; frames are counted in bytes without FCS. */
struct qb_lcore_stats {
	uint64_t rx_pkts;
	uint64_t rx_bytes;
	uint64_t tx_pkts;
	uint64_t tx_bytes;
	uint64_t drops[QB_DROP__COUNT]; /* by enum qb_drop (qb_net.h) */
} __rte_cache_aligned;

/* Adds n to a counter only this lcore writes; a plain store on x86. */
static inline void
qb_count(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

/* Reads a counter another lcore writes. */
static inline uint64_t
qb_count_read(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

struct qb_worker {
	struct qb_lcore_stats stats; /* first: its own cache lines */
	unsigned int lcore_id;
	uint16_t index; /* 0..workers-1 */
	uint16_t port_id;
	uint16_t queue_id;
	/*
	 * The mode's work: one RX and/or TX burst. now is the TSC. Returns
	 * the number of packets handled; 0 counts as an idle poll.
	 */
	unsigned int (*poll)(struct qb_worker *w, uint64_t now);
	void *mode; /* the mode's per-worker state */
	/*
	 * Single-lcore runs: the control work (statistics, duration), called
	 * from the loop every control_period TSC cycles. NULL otherwise.
	 */
	void (*control)(void *arg);
	void *control_arg;
	uint64_t control_period;
} __rte_cache_aligned;

/*
 * The worker loop, an lcore_function_t for rte_eal_remote_launch (arg is a
 * struct qb_worker). Polls until qb_stop_requested(), backing off after a run
 * of idle polls (pause, then short sleeps) so that workers sharing a CPU do
 * not starve each other. Returns 0.
 */
int qb_worker_loop(void *arg);

/* Installs SIGINT/SIGTERM handlers that request a stop. */
void qb_signals_install(void);

/* Asks every worker (and the control loop) to stop. Async-signal-safe. */
void qb_stop_request(void);

/* True once a stop was requested. */
bool qb_stop_requested(void);

/* The signal that requested the stop, or 0. */
int qb_stop_signal(void);

#endif
