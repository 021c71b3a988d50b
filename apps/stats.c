/* SPDX-License-Identifier: BSD-3-Clause */
/* Live statistics lines, the final summary and the --stats-json file. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>

#include "app.h"
#include "qb_dispatch.h"

void
qb_totals_read(const struct qb_app *app, struct qb_totals *t)
{
	unsigned int i, d;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < app->nb_workers; i++) {
		const struct qb_lcore_stats *s =
		        app->wstats != NULL ? app->wstats[i] : &app->workers[i].stats;

		t->rx_pkts += qb_count_read(&s->rx_pkts);
		t->rx_bytes += qb_count_read(&s->rx_bytes);
		t->tx_pkts += qb_count_read(&s->tx_pkts);
		t->tx_bytes += qb_count_read(&s->tx_bytes);
		for (d = 0; d < QB_DROP__COUNT; d++)
			t->drops[d] += qb_count_read(&s->drops[d]);
		if (app->dispatch == NULL || app->dispatch[i] == NULL)
			continue;
		const struct qb_dispatch_stats *ds = &app->dispatch[i]->stats;
		for (d = 0; d < QB_SDROP__COUNT; d++)
			t->sdrops[d] += qb_count_read(&ds->drops[d]);
		t->handovers += qb_count_read(&ds->handover_out);
		t->relayed += qb_count_read(&ds->relayed);
		t->fwd_in += qb_count_read(&ds->fwd_in);
	}
}

static uint64_t
drops_sum(const struct qb_totals *t)
{
	uint64_t n = 0;
	unsigned int d;

	for (d = 0; d < QB_DROP__COUNT; d++)
		n += t->drops[d];
	for (d = 0; d < QB_SDROP__COUNT; d++)
		n += t->sdrops[d];
	return n;
}

/* Per second over cycles TSC cycles. */
static uint64_t
per_sec(uint64_t n, uint64_t cycles, uint64_t hz)
{
	if (cycles == 0)
		return 0;
	return (uint64_t)((double)n * (double)hz / (double)cycles);
}

/* One line per port, as testpmd's periodic statistics. */
static void
print_period(struct qb_app *app, uint64_t now)
{
	struct qb_totals t;
	uint64_t dt = now - app->last_stats_tsc;

	qb_totals_read(app, &t);
	printf("Port %u  Rx-pps: %12" PRIu64 "  Tx-pps: %12" PRIu64 "  Tx-bps: %14" PRIu64
	       "  Drops: %" PRIu64 "  (RX-total: %" PRIu64 "  TX-total: %" PRIu64 ")\n",
	       app->port.port_id, per_sec(t.rx_pkts - app->last.rx_pkts, dt, app->tsc_hz),
	       per_sec(t.tx_pkts - app->last.tx_pkts, dt, app->tsc_hz),
	       per_sec((t.tx_bytes - app->last.tx_bytes) * 8, dt, app->tsc_hz),
	       drops_sum(&t) - drops_sum(&app->last), t.rx_pkts, t.tx_pkts);
	if (app->ops != NULL && app->ops->stats_line != NULL)
		app->ops->stats_line(app, (double)dt / (double)app->tsc_hz);
	fflush(stdout);
	app->last = t;
	app->last_stats_tsc = now;
}

void
qb_control_tick(void *arg)
{
	struct qb_app *app = arg;
	uint64_t now = rte_rdtsc();

	if (app->deadline_tsc != 0 && now >= app->deadline_tsc)
		qb_stop_request();
	if (app->period_tsc != 0 && now >= app->next_stats_tsc && !qb_stop_requested()) {
		print_period(app, now);
		app->next_stats_tsc += app->period_tsc;
		if (app->next_stats_tsc < now)
			app->next_stats_tsc = now + app->period_tsc;
	}
}

static int
write_json(const struct qb_app *app, const struct qb_totals *t, double secs)
{
	const char *path = app->opts.stats_json;
	char tmp[4096];
	unsigned int d;
	FILE *f;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= sizeof(tmp)) {
		fprintf(stderr, "qburst: --stats-json=%s: name too long\n", path);
		return -1;
	}
	f = fopen(tmp, "w");
	if (f == NULL) {
		fprintf(stderr, "qburst: --stats-json=%s: cannot create %s: %m\n", path, tmp);
		return -1;
	}
	double div = secs > 0 ? secs : 1;

	fprintf(f,
	        "{\"schema\":1,\"mode\":\"%s\",\"duration_s\":%.3f,\"workers\":%u,"
	        "\"crypto\":{\"backend\":\"%s\",\"arch\":\"%s\"},\"ports\":[{\"port\":%u,"
	        "\"rx_pkts\":%" PRIu64 ",\"tx_pkts\":%" PRIu64 ",\"rx_bytes\":%" PRIu64
	        ",\"tx_bytes\":%" PRIu64 ",\"rx_pps\":%.0f,\"tx_pps\":%.0f,\"tx_bps\":%.0f,"
	        "\"drops\":{",
	        qb_mode_name(app->opts.mode), secs, app->nb_workers,
	        qb_crypto_current_choice()->name, qb_crypto_current_choice()->arch,
	        app->port.port_id, t->rx_pkts, t->tx_pkts, t->rx_bytes, t->tx_bytes,
	        (double)t->rx_pkts / div, (double)t->tx_pkts / div, (double)t->tx_bytes * 8 / div);
	for (d = 1; d < QB_DROP__COUNT; d++)
		fprintf(f, "%s\"%s\":%" PRIu64, d > 1 ? "," : "", qb_drop_name(d), t->drops[d]);
	if (app->dispatch != NULL) {
		for (d = 1; d < QB_SDROP__COUNT; d++)
			fprintf(f, ",\"%s\":%" PRIu64, qb_steer_drop_name(d), t->sdrops[d]);
	}
	/* BRIEF §10's schema has no relay object: relayed datagrams are the
	 * port's tx_pkts (beside ARP/ND answers), and drops are by reason. */
	fprintf(f, "}}]");
	if (app->ops != NULL && app->ops->stats_json != NULL)
		app->ops->stats_json((struct qb_app *)app, f, secs);
	fprintf(f, "}\n");
	if (fflush(f) != 0 || fsync(fileno(f)) != 0 || ferror(f)) {
		fprintf(stderr, "qburst: --stats-json=%s: write failed: %m\n", path);
		fclose(f);
		unlink(tmp);
		return -1;
	}
	fclose(f);
	if (rename(tmp, path) != 0) {
		fprintf(stderr, "qburst: --stats-json=%s: rename: %m\n", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
qb_stats_final(struct qb_app *app)
{
	struct qb_totals t;
	uint64_t cycles = app->stop_tsc - app->start_tsc;
	double secs = (double)cycles / (double)app->tsc_hz;
	unsigned int d;

	qb_totals_read(app, &t);
	printf("\n---------------------- summary for port %u (%s) ----------------------\n"
	       "  RX-packets: %-14" PRIu64 " RX-bytes: %-16" PRIu64 " Rx-pps: %" PRIu64 "\n"
	       "  TX-packets: %-14" PRIu64 " TX-bytes: %-16" PRIu64 " Tx-pps: %" PRIu64
	       "  Tx-bps: %" PRIu64 "\n"
	       "  Drops: %" PRIu64,
	       app->port.port_id, app->port.name, t.rx_pkts, t.rx_bytes,
	       per_sec(t.rx_pkts, cycles, app->tsc_hz), t.tx_pkts, t.tx_bytes,
	       per_sec(t.tx_pkts, cycles, app->tsc_hz),
	       per_sec(t.tx_bytes * 8, cycles, app->tsc_hz), drops_sum(&t));
	for (d = 1; d < QB_DROP__COUNT; d++) {
		if (t.drops[d] != 0)
			printf("  %s: %" PRIu64, qb_drop_name(d), t.drops[d]);
	}
	for (d = 1; d < QB_SDROP__COUNT; d++) {
		if (t.sdrops[d] != 0)
			printf("  %s: %" PRIu64, qb_steer_drop_name(d), t.sdrops[d]);
	}
	if (app->opts.mode == QB_MODE_RELAY)
		printf("\n  Relayed: %" PRIu64 "  Forwarded-to-us: %" PRIu64
		       "  Handovers: %" PRIu64,
		       t.relayed, t.fwd_in, t.handovers);
	if (app->ops != NULL && app->ops->stats_summary != NULL) {
		printf("\n");
		app->ops->stats_summary(app, secs);
	}
	printf("\n  Mode: %s  Workers: %u  Duration: %.3f s\n"
	       "----------------------------------------------------------------------\n",
	       qb_mode_name(app->opts.mode), app->nb_workers, secs);
	fflush(stdout);
	if (app->opts.stats_json != NULL)
		return write_json(app, &t, secs);
	return 0;
}
