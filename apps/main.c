/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * qburst: the testpmd-style application (BRIEF §10). The first lcore is the
 * control lcore (statistics, signals, JSON); every other lcore is a worker
 * with its own RX/TX queue pair on the first port; with one lcore it runs the
 * worker loop itself and the control work from inside that loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "app.h"
#include "qb_log.h"

/* Control-loop tick: stats lines and the duration are checked this often. */
#define QB_CONTROL_TICK_US 10000
#define QB_LINK_WAIT_MS    3000

static struct qb_app app;

static const struct qb_mode_ops *
mode_ops(enum qb_mode m)
{
	switch (m) {
	case QB_MODE_UDPGEN:
		return &qb_udpgen_ops;
	case QB_MODE_RELAY:
		return &qb_relay_ops;
	case QB_MODE_SERVER:
		return &qb_server_ops;
	case QB_MODE_CLIENT:
		return &qb_client_ops;
	case QB_MODE_SINK:
	default:
		return &qb_sink_ops;
	}
}

/* Checks that need the port, before it is configured. Exit code or 0. */
static int
check_port(uint16_t port_id, unsigned int nb_workers)
{
	char name[RTE_ETH_NAME_MAX_LEN] = "?";
	uint16_t mtu = RTE_ETHER_MTU;
	int maxq;

	rte_eth_dev_get_name_by_port(port_id, name);
	maxq = qb_port_max_queue_pairs(port_id);
	if (maxq < 0) {
		fprintf(stderr, "qburst: port %u (%s): %s\n", port_id, name, rte_strerror(-maxq));
		return QB_EXIT_FAIL;
	}
	if ((unsigned int)maxq < nb_workers) {
		fprintf(stderr,
		        "qburst: port %u (%s) has %d queue pair(s) but %u workers need one each "
		        "(use fewer lcores; net_af_packet takes qpairs=N)\n",
		        port_id, name, maxq, nb_workers);
		return QB_EXIT_USAGE;
	}
	if (rte_eth_dev_get_mtu(port_id, &mtu) != 0 || mtu == 0)
		mtu = RTE_ETHER_MTU;
	if (app.opts.mode == QB_MODE_UDPGEN && app.opts.pkt_size > (uint32_t)mtu + 14) {
		fprintf(stderr, "qburst: --pkt-size=%u: larger than port %u's MTU + 14 (%u)\n",
		        app.opts.pkt_size, port_id, mtu + 14);
		return QB_EXIT_USAGE;
	}
	return 0;
}

/* Port addresses and static neighbours from the options. */
static int
setup_addrs(void)
{
	const struct qb_opts *o = &app.opts;
	unsigned int i;

	qb_port_addrs_init(&app.addrs, &app.port.mac);
	for (i = 0; i < o->n_ips; i++) {
		if (qb_port_addrs_add(&app.addrs, &o->ips[i]) != 0) {
			fprintf(stderr, "qburst: --ip: too many addresses\n");
			return QB_EXIT_USAGE;
		}
	}
	if (o->gateway.family == QB_AF_INET)
		app.addrs.gw4 = o->gateway;
	else if (o->gateway.family == QB_AF_INET6)
		app.addrs.gw6 = o->gateway;
	qb_neigh_init(&app.neigh);
	for (i = 0; i < o->n_neigh; i++) {
		if (qb_neigh_add_static(&app.neigh, &o->neigh[i].ip, &o->neigh[i].mac) != 0) {
			fprintf(stderr, "qburst: --neigh: too many static neighbours\n");
			return QB_EXIT_USAGE;
		}
	}
	return 0;
}

/* Runs the workers until the duration ends or a signal arrives. */
static void
run_workers(const struct qb_mode_ops *ops)
{
	unsigned int lcore, i = 0;

	app.tsc_hz = rte_get_tsc_hz();
	app.period_tsc = (uint64_t)(app.opts.stats_period * (double)app.tsc_hz);
	app.start_tsc = rte_rdtsc();
	app.last_stats_tsc = app.start_tsc;
	app.next_stats_tsc = app.start_tsc + app.period_tsc;
	if (app.opts.duration > 0)
		app.deadline_tsc =
		        app.start_tsc + (uint64_t)(app.opts.duration * (double)app.tsc_hz);
	if (ops->start != NULL)
		ops->start(&app, app.start_tsc);

	if (rte_lcore_count() == 1) {
		struct qb_worker *w = &app.workers[0];

		w->control = qb_control_tick;
		w->control_arg = &app;
		w->control_period = app.tsc_hz * QB_CONTROL_TICK_US / 1000000;
		qb_worker_loop(w);
	} else {
		RTE_LCORE_FOREACH_WORKER(lcore)
		{
			if (rte_eal_remote_launch(qb_worker_loop, &app.workers[i], lcore) != 0) {
				QB_LOG(ERR, "lcore %u: cannot launch worker %u", lcore, i);
				qb_stop_request();
			}
			i++;
		}
		while (!qb_stop_requested()) {
			qb_control_tick(&app);
			rte_delay_us_sleep(QB_CONTROL_TICK_US);
		}
		rte_eal_mp_wait_lcore();
	}
	app.stop_tsc = rte_rdtsc();
	if (qb_stop_signal() != 0)
		QB_LOG(INFO, "stopped by signal %d", qb_stop_signal());
}

static int
run(void)
{
	const struct qb_mode_ops *ops = mode_ops(app.opts.mode);
	struct qb_port_conf pc;
	unsigned int lcore, i = 0, missing;
	uint16_t port_id;
	int rc, status = QB_EXIT_OK;

	app.ops = ops;
	if (qb_port_first(&port_id) != 0) {
		fprintf(stderr, "qburst: no port: EAL offers no device (give e.g. "
		                "--vdev=net_null0,no-rx=1, or bind a NIC to vfio-pci)\n");
		return QB_EXIT_USAGE;
	}
	app.nb_workers = rte_lcore_count() > 1 ? rte_lcore_count() - 1 : 1;
	rc = check_port(port_id, app.nb_workers);
	if (rc != 0)
		return rc;

	memset(&pc, 0, sizeof(pc));
	pc.port_id = port_id;
	pc.nb_queues = (uint16_t)app.nb_workers;
	pc.no_tx_offload = app.opts.no_tx_offload;
	if (qb_port_open(&app.port, &pc) != 0) {
		fprintf(stderr, "qburst: port %u: bring-up failed (see the log above)\n", port_id);
		return QB_EXIT_FAIL;
	}
	qb_port_wait_link(&app.port, QB_LINK_WAIT_MS);

	app.workers = rte_zmalloc_socket("qb_workers", sizeof(*app.workers) * app.nb_workers,
	                                 RTE_CACHE_LINE_SIZE, app.port.socket_id);
	rc = app.workers == NULL ? QB_EXIT_FAIL : setup_addrs();
	if (rc != 0) {
		qb_port_close(&app.port);
		rte_free(app.workers);
		return rc;
	}
	if (rte_lcore_count() == 1) {
		app.workers[0].lcore_id = rte_lcore_id();
	} else {
		RTE_LCORE_FOREACH_WORKER(lcore)
		{
			app.workers[i].lcore_id = lcore;
			i++;
		}
	}
	for (i = 0; i < app.nb_workers; i++) {
		app.workers[i].index = (uint16_t)i;
		app.workers[i].port_id = port_id;
		app.workers[i].queue_id = (uint16_t)i;
	}

	rc = ops->init(&app);
	if (rc != 0) {
		qb_port_close(&app.port);
		rte_free(app.workers);
		return rc;
	}
	QB_LOG(INFO, "%s: %u worker(s), duration %.3g s%s, crypto %s (%s)",
	       qb_mode_name(app.opts.mode), app.nb_workers, app.opts.duration,
	       app.opts.duration > 0 ? "" : " (until signal)", qb_crypto_current_choice()->name,
	       qb_crypto_current_choice()->arch);

	run_workers(ops);

	if (qb_stats_final(&app) != 0)
		status = QB_EXIT_FAIL;
	if (ops->status != NULL && (rc = ops->status(&app)) != 0)
		status = rc;
	if (ops->stopped != NULL)
		ops->stopped(&app);
	missing = qb_port_close(&app.port);
	ops->fini(&app);
	if (missing != 0)
		QB_LOG(WARNING, "%u mbufs did not come back to the port's pool", missing);
	rte_free(app.workers);
	app.workers = NULL;
	return status;
}

/*
 * The reason for a failed rte_eal_init, from what it printed (CAP, read from
 * the start): getopt's "PROG: unrecognized option ..." line if there is one,
 * else EAL's last specific log line (not its generic "Invalid 'command line'
 * arguments" nor the start-up "Detected ..." lines), else rte_errno's text.
 */
static void
eal_reason(FILE *cap, const char *prog, int err, char *reason, size_t size)
{
	char line[512];
	size_t plen = strlen(prog), n;
	bool from_getopt = false;

	snprintf(reason, size, "%s", rte_strerror(err));
	while (fgets(line, sizeof(line), cap) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		n = strlen(line);
		while (n > 0 && (line[n - 1] == '.' || line[n - 1] == ' '))
			line[--n] = '\0';
		if (strncmp(line, prog, plen) == 0 && strncmp(line + plen, ": ", 2) == 0) {
			if (!from_getopt)
				snprintf(reason, size, "%s", line + plen + 2);
			from_getopt = true;
			continue;
		}
		if (from_getopt || strncmp(line, "EAL: ", 5) != 0 || strstr(line, "FATAL:") ||
		    strstr(line, "Invalid 'command line' arguments") ||
		    strncmp(line, "EAL: Detected ", 14) == 0 || n == 5)
			continue;
		snprintf(reason, size, "%s (%s)", line + 5, rte_strerror(err));
	}
}

/*
 * rte_eal_init with its output held back. On a bad option EAL prints its
 * ~100-line usage on stdout and getopt a line on stderr (twice), while BRIEF
 * §10 wants one line: stdout goes to /dev/null for the call (EAL prints
 * nothing else there), stderr to a temporary file that is copied to the real
 * stderr when EAL starts, and reduced to the one reason (REASON) when it
 * fails. If the redirection cannot be set up, EAL runs as it is.
 */
static int
eal_init_quiet(int argc, char **argv, char *reason, size_t size)
{
	FILE *cap = tmpfile();
	int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int out_fd = dup(STDOUT_FILENO), err_fd = dup(STDERR_FILENO);
	int rc, err;
	char buf[4096];
	size_t n;

	if (cap == NULL || null_fd < 0 || out_fd < 0 || err_fd < 0) {
		if (cap != NULL)
			fclose(cap);
		if (null_fd >= 0)
			close(null_fd);
		if (out_fd >= 0)
			close(out_fd);
		if (err_fd >= 0)
			close(err_fd);
		rc = rte_eal_init(argc, argv);
		snprintf(reason, size, "%s", rc < 0 ? rte_strerror(rte_errno) : "");
		return rc;
	}
	fflush(stdout);
	fflush(stderr);
	dup2(null_fd, STDOUT_FILENO);
	dup2(fileno(cap), STDERR_FILENO);
	rc = rte_eal_init(argc, argv);
	err = rte_errno;
	/* Flushed while still redirected: the usage text must not reach the
	 * real stdout from stdio's buffer later. */
	fflush(stdout);
	fflush(stderr);
	dup2(out_fd, STDOUT_FILENO);
	dup2(err_fd, STDERR_FILENO);
	close(out_fd);
	close(err_fd);
	close(null_fd);

	rewind(cap);
	if (rc >= 0) {
		while ((n = fread(buf, 1, sizeof(buf), cap)) > 0)
			fwrite(buf, 1, n, stderr);
		reason[0] = '\0';
	} else {
		eal_reason(cap, argv[0], err, reason, size);
	}
	fclose(cap);
	rte_errno = err;
	return rc;
}

int
main(int argc, char **argv)
{
	int dashdash = -1, app_argc = 0, eal_argc, i, rc;
	char **app_argv = NULL, reason[640];

	if (qb_wants_help(argc, argv)) {
		qb_usage(argv[0]);
		return QB_EXIT_OK;
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			dashdash = i;
			break;
		}
	}
	/* Without "--", every argument is an app option and EAL gets none (as
	 * "qburst --help" already reads it): "qburst --bogus" is then an unknown
	 * app option, not a missing --mode behind a failed EAL start. */
	if (dashdash > 0) {
		app_argv = &argv[dashdash + 1];
		app_argc = argc - dashdash - 1;
		eal_argc = dashdash;
	} else {
		app_argv = &argv[1];
		app_argc = argc - 1;
		eal_argc = 1;
	}
	/* Every app option is checked before EAL starts. */
	rc = qb_opts_parse(&app.opts, app_argc, app_argv);
	if (rc != 0)
		return rc;

	/* The packet-protection backend, chosen once before any key exists. */
	struct qb_crypto_choice choice;
	if (qb_crypto_select(app.opts.crypto, &choice) != 0) {
		fprintf(stderr, "qburst: --crypto=%s: %s\n",
		        qb_crypto_backend_name(app.opts.crypto), choice.reason);
		return QB_EXIT_USAGE;
	}

	if (eal_init_quiet(eal_argc, argv, reason, sizeof(reason)) < 0) {
		fprintf(stderr, "qburst: EAL options: %s\n", reason);
		return QB_EXIT_USAGE;
	}
	qb_signals_install();
	rc = run();
	rte_eal_cleanup();
	return rc;
}
