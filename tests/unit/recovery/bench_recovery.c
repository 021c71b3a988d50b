/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Cost of loss recovery per packet: record a sent packet, then process the
 * ACK frames that acknowledge it (with NewReno fed), for several numbers of
 * packets kept outstanding, in order and with 1% loss. Not a test: run
 * build/tests/unit/recovery/bench_recovery. Prints ns per packet.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "qburst/cc.h"
#include "qburst/recovery.h"

#define CAP (1u << 15)
#define N   4000000ull

static struct qb_sent_pkt st[3][CAP];
static uint64_t lost;

static void
on_lost(void *ctx, enum qb_pn_space s, const struct qb_sent_pkt *p)
{
	(void)ctx;
	(void)s;
	(void)p;
	lost++;
}

static uint64_t
clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: the machine is shared */
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Keeps `window` packets outstanding; every 2 packets the peer acks, its ACK
 * frame carrying the newest pns that arrived as up to 32 ranges (packets the
 * link dropped, one in `loss_every`, leave holes).
 */
static double
run(uint32_t window, uint32_t loss_every)
{
	struct qb_sent_pkt *const storage[3] = {st[0], st[1], st[2]};
	const uint32_t cap[3] = {CAP, CAP, CAP};
	struct qb_recovery_config cfg = {.is_server = true, .max_ack_delay = 25000000};
	struct qb_recovery_cb cb = {.on_lost = on_lost};
	static struct qb_recovery rec;
	static int64_t prevdrop[N];
	struct qb_rtt rtt;
	struct qb_cc cc;
	struct qb_pn_range r[32];
	uint64_t now = 0, pn, t0, rtt_ns = 20000000;
	uint64_t step = rtt_ns / window ? rtt_ns / window : 1; /* window per RTT */

	qb_recovery_init(&rec, &cfg, storage, cap, &cb);
	qb_rtt_init(&rtt, 0);
	qb_cc_init(&cc, "newreno", 1200, 0);
	qb_recovery_set_path(&rec, &rtt, &cc);
	qb_recovery_set_handshake_confirmed(&rec, 0);
	srand(1);
	for (pn = 0; pn < N; pn++) {
		bool drop = loss_every && (uint32_t)rand() % loss_every == 0;

		prevdrop[pn] = drop ? (int64_t)pn : pn > 0 ? prevdrop[pn - 1] : -1;
	}
	lost = 0;
	t0 = clock_ns();
	for (pn = 0; pn < N; pn++) {
		struct qb_sent_info si = {.pn = pn, .size = 1200, .ack_eliciting = true};

		now += step;
		qb_recovery_on_packet_sent(&rec, QB_PN_APP, &si, now);
		if (pn >= window && (pn & 1)) {
			/* The ACK for what was sent one window ago: ranges of
			 * arrived pns over the last 64, newest first. */
			uint64_t hi = pn - window, floor = hi > 64 ? hi - 64 : 0;
			int64_t p = (int64_t)hi;
			uint32_t n = 0;
			struct qb_ack_info a = {.ranges = r};

			while (n < 32 && p >= (int64_t)floor) {
				int64_t d = prevdrop[p]; /* newest dropped pn <= p, or -1 */

				if (d == p) {
					p--;
					continue;
				}
				r[n].hi = (uint64_t)p;
				r[n].lo =
				        (uint64_t)(d + 1 > (int64_t)floor ? d + 1 : (int64_t)floor);
				n++;
				p = d;
			}
			a.nranges = n;
			if (n > 0)
				qb_recovery_on_ack_received(&rec, QB_PN_APP, &a, now);
		}
		if (qb_recovery_timer(&rec) <= now)
			qb_recovery_on_timeout(&rec, now);
	}
	return (double)(clock_ns() - t0) / N;
}

int
main(void)
{
	static const uint32_t windows[] = {16, 256, 4096, 16384};
	size_t i;

	printf("%-10s %-18s %-18s\n", "window", "in order ns/pkt", "1% loss ns/pkt");
	for (i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
		double a = run(windows[i], 0);
		double b = run(windows[i], 100);

		printf("%-10u %-18.1f %-18.1f (lost %lu)\n", windows[i], a, b, (unsigned long)lost);
	}
	return 0;
}
