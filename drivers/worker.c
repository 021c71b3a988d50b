/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-lcore worker loop with idle back-off; stop flag and signals. */
#include <signal.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_pause.h>

#include "qb_worker.h"

/* Idle polls before pausing, and before sleeping between polls. */
#define QB_IDLE_SPIN          64
#define QB_IDLE_PAUSE         256
/* A sleep short enough not to let an RX ring overflow at moderate rates,
 * long enough to hand the CPU to a worker sharing it. */
#define QB_IDLE_SLEEP_US      50
/* After this many sleeps in a row (1 ms idle), longer ones: each wake-up
 * costs a few microseconds of CPU (more in a VM), which a worker waiting on
 * a peer without CPU would otherwise burn at 20,000 wake-ups a second. */
#define QB_IDLE_LONG          20
#define QB_IDLE_SLEEP_LONG_US 200

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t stop_sig;

void
qb_stop_request(void)
{
	stop_flag = 1;
}

bool
qb_stop_requested(void)
{
	return stop_flag != 0;
}

int
qb_stop_signal(void)
{
	return stop_sig;
}

static void
on_signal(int sig)
{
	stop_sig = sig;
	stop_flag = 1;
}

void
qb_signals_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int
qb_worker_loop(void *arg)
{
	struct qb_worker *w = arg;
	uint64_t next_control = 0;
	unsigned int idle = 0;

	while (!stop_flag) {
		uint64_t now = rte_rdtsc();

		if (w->poll(w, now) != 0) {
			idle = 0;
		} else if (++idle > QB_IDLE_SPIN) {
			if (idle > QB_IDLE_PAUSE + QB_IDLE_LONG)
				rte_delay_us_sleep(QB_IDLE_SLEEP_LONG_US);
			else if (idle > QB_IDLE_PAUSE)
				rte_delay_us_sleep(QB_IDLE_SLEEP_US);
			else
				rte_pause();
		}
		if (w->control != NULL && now >= next_control) {
			w->control(w->control_arg);
			next_control = now + w->control_period;
		}
	}
	return 0;
}
