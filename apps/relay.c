/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --mode=relay: a relaying listener on --listen at every --ip (BRIEF §2).
 * Datagrams carrying a forward header whose destination is relayed through
 * one of our address/port pairs are sent on unchanged to the destination's
 * outer endpoint; everything else arriving there is counted and dropped (a
 * pure relay has no QUIC endpoint of its own). ARP/ND for --ip answered.
 */
#include <stdio.h>
#include <stdlib.h>

#include <rte_cycles.h>
#include <rte_random.h>

#include "app.h"
#include "qb_dispatch.h"

#define RELAY_RING_SIZE 1024

struct relay_worker {
	struct qb_app *app;
	struct qb_dispatch *d;
	double ns_per_tsc;
};

struct relay_state {
	struct qb_dispatch_shared sh;
	bool sh_up;
	struct rte_ether_addr fwd_mac;
	bool has_fwd_mac;
	struct relay_worker *w; /* nb_workers */
	struct qb_dispatch **d; /* nb_workers: the statistics' view */
};

static unsigned int
relay_poll(struct qb_worker *w, uint64_t now)
{
	struct relay_worker *rw = w->mode;

	return qb_dispatch_poll(rw->d, &w->stats, w->port_id, w->queue_id,
	                        rw->app->opts.listen_port,
	                        (uint64_t)((double)now * rw->ns_per_tsc));
}

/* The next hop when every relayed datagram goes the same way. */
static int
relay_next_hop(struct qb_app *app, struct relay_state *st)
{
	const struct qb_opts *o = &app->opts;
	struct qb_ipaddr gw = o->gateway;
	int rc;

	if (o->has_dst_mac) {
		st->fwd_mac = o->dst_mac;
		st->has_fwd_mac = true;
		return 0;
	}
	if (gw.family == 0)
		return 0; /* per destination, from --neigh */
	struct rte_ether_addr mac;
	rc = qb_neigh_resolve(app->port.port_id, 0, app->port.pool, &app->addrs, &app->neigh, &gw,
	                      o->arp_timeout_ms, &mac);
	if (rc != 0) {
		char s[QB_IPADDR_STRLEN];
		qb_ipaddr_format(&gw, s, sizeof(s));
		fprintf(stderr, "qburst: --gateway=%s: %s\n", s,
		        rc == QB_ERR_ARG ? "no --ip of its family"
		                         : "no ARP/ND answer (give --neigh or --dst-mac)");
		return QB_EXIT_FAIL;
	}
	return 0;
}

static void relay_fini(struct qb_app *app);

static int
relay_init(struct qb_app *app)
{
	struct relay_state *st = calloc(1, sizeof(*st));
	struct qb_steer steer = {0};
	unsigned int i;
	int rc;

	if (st == NULL)
		return QB_EXIT_FAIL;
	app->mode_state = st;
	st->w = calloc(app->nb_workers, sizeof(*st->w));
	st->d = calloc(app->nb_workers, sizeof(*st->d));
	if (st->w == NULL || st->d == NULL)
		goto fail;
	rc = relay_next_hop(app, st);
	if (rc != 0) {
		relay_fini(app);
		return rc;
	}
	/* A pure relay issues no CIDs: nothing on the listener is "ours". */
	steer.n_workers = (uint16_t)app->nb_workers;
	steer.cid_len = 8;
	steer.no_cids = true;
	steer.seed = rte_rand();
	if (qb_dispatch_shared_init(&st->sh, &steer, RELAY_RING_SIZE, app->port.socket_id,
	                            "qb_relay") != 0)
		goto fail;
	st->sh_up = true;
	for (i = 0; i < app->nb_workers; i++) {
		struct qb_dispatch_conf c = {
		        .index = (uint16_t)i,
		        .max_conns = 1,
		        .max_initial = 1,
		        .listener = {.cid_len = 8, .server = false},
		        .relay_port = app->opts.listen_port,
		        .addrs = &app->addrs,
		        .neigh = &app->neigh,
		        .fwd_mac = st->has_fwd_mac ? &st->fwd_mac : NULL,
		        .hw_cksum_v4 = app->port.tx_cksum_ipv4,
		        .hw_cksum_v6 = app->port.tx_cksum_ipv6,
		        .seed = rte_rand(),
		};
		struct qb_dispatch_ops ops = {0};

		st->d[i] = qb_dispatch_create(&st->sh, &c, &ops, NULL, 0);
		if (st->d[i] == NULL)
			goto fail;
		st->w[i].app = app;
		st->w[i].d = st->d[i];
		st->w[i].ns_per_tsc = 1e9 / (double)rte_get_tsc_hz();
		app->workers[i].poll = relay_poll;
		app->workers[i].mode = &st->w[i];
	}
	app->dispatch = st->d;
	return 0;
fail:
	fprintf(stderr, "qburst: relay: out of memory for the dispatch state\n");
	relay_fini(app);
	return QB_EXIT_FAIL;
}

/* Workers stopped, port still open: mbufs still in the rings go back now. */
static void
relay_stopped(struct qb_app *app)
{
	struct relay_state *st = app->mode_state;

	if (st != NULL && st->sh_up) {
		qb_dispatch_shared_fini(&st->sh);
		st->sh_up = false;
	}
}

static void
relay_fini(struct qb_app *app)
{
	struct relay_state *st = app->mode_state;

	if (st == NULL)
		return;
	relay_stopped(app);
	for (unsigned int i = 0; st->d != NULL && i < app->nb_workers; i++)
		qb_dispatch_free(st->d[i]);
	free(st->d);
	free(st->w);
	free(st);
	app->mode_state = NULL;
	app->dispatch = NULL;
}

const struct qb_mode_ops qb_relay_ops = {
        .init = relay_init,
        .stopped = relay_stopped,
        .fini = relay_fini,
};
