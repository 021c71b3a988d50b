/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_APP_H
#define QB_APP_H

/* State shared by the app's files: options, port, workers, modes, stats. */

#include <stdint.h>
#include <stdio.h>

#include "options.h"
#include "qb_neigh.h"
#include "qb_net.h"
#include "qb_port.h"
#include "qb_steer.h"
#include "qb_worker.h"

struct qb_app;

/* A mode: set up on the control lcore, polled on workers, torn down after. */
struct qb_mode_ops {
	/*
	 * After the port started, before workers run: per-worker state in
	 * w->mode, w->poll set. Returns 0, or an exit code (a one-line reason
	 * printed to stderr).
	 */
	int (*init)(struct qb_app *app);
	/* Just before workers start; now is the TSC. May be NULL. */
	void (*start)(struct qb_app *app, uint64_t now);
	/* After workers stopped, before the port closes (statistics are
	 * final): give back mbufs the mode still holds. May be NULL. */
	void (*stopped)(struct qb_app *app);
	/* After workers stopped and the port closed (its TX rings gave back
	 * their mbufs): frees the mode's state and pools. */
	void (*fini)(struct qb_app *app);
	/* Optional (NULL: none). A line after the port's statistics line,
	 * over the last dt_s seconds; the summary's lines; the JSON's
	 * members after "ports" (starting with ','). */
	void (*stats_line)(struct qb_app *app, double dt_s);
	void (*stats_summary)(struct qb_app *app, double secs);
	void (*stats_json)(struct qb_app *app, FILE *f, double secs);
	/* Optional: the job's exit code after the run (a one-line reason
	 * printed to stderr when not 0). */
	int (*status)(struct qb_app *app);
};

extern const struct qb_mode_ops qb_udpgen_ops;
extern const struct qb_mode_ops qb_sink_ops;
extern const struct qb_mode_ops qb_relay_ops;
extern const struct qb_mode_ops qb_server_ops;
extern const struct qb_mode_ops qb_client_ops;

/* Totals over the workers, for statistics. */
struct qb_totals {
	uint64_t rx_pkts;
	uint64_t rx_bytes;
	uint64_t tx_pkts;
	uint64_t tx_bytes;
	uint64_t drops[QB_DROP__COUNT];
	uint64_t sdrops[QB_SDROP__COUNT]; /* steering/listener/relay drops */
	uint64_t handovers;               /* datagrams handed to another worker */
	uint64_t relayed;                 /* forwarded datagrams sent on as the relay */
	uint64_t fwd_in;                  /* forwarded datagrams addressed to us */
};

struct qb_app {
	struct qb_opts opts;
	struct qb_port port;
	struct qb_port_addrs addrs;  /* read-only once workers run */
	struct qb_neigh_table neigh; /* read-only once workers run */
	unsigned int nb_workers;
	struct qb_worker *workers;     /* nb_workers, cache-aligned */
	struct qb_dispatch **dispatch; /* nb_workers, or NULL: the mode has none */
	const struct qb_mode_ops *ops;
	/* Per worker: where its counters are (NULL: workers[i].stats). */
	const struct qb_lcore_stats **wstats;
	void *mode_state;
	uint64_t tsc_hz;
	uint64_t start_tsc;    /* when workers started */
	uint64_t stop_tsc;     /* when they were told to stop */
	uint64_t deadline_tsc; /* 0: none */
	/* periodic statistics */
	uint64_t period_tsc;
	uint64_t next_stats_tsc;
	uint64_t last_stats_tsc;
	struct qb_totals last;
};

/* Sum of every worker's counters. */
void qb_totals_read(const struct qb_app *app, struct qb_totals *t);

/* Periodic work on the control lcore: duration, signals, statistics lines. */
void qb_control_tick(void *arg);

/* The final summary on stdout, and the JSON file if asked. 0, or -1 if the
 * JSON could not be written (reported on stderr). */
int qb_stats_final(struct qb_app *app);

#endif
