/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-packet costs of the packet library, without EAL: checksums, header
 * prepends on both paths, and the parser. Best of 40 batches of 20,000 calls,
 * timed by the TSC calibrated against CLOCK_MONOTONIC. Not a test: run
 * build/tests/unit/net/bench_net by hand (figures in the net report).
 */
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>

#include "qb_net.h"
#include "helpers.h"

#define BATCH 20000
#define REPS  40

static double ns_per_tsc;

static double
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

#define MEASURE(label, body)                                                         \
	do {                                                                         \
		uint64_t best = UINT64_MAX;                                          \
		for (int r = 0; r < REPS; r++) {                                     \
			uint64_t t0 = __rdtsc();                                     \
			for (int i = 0; i < BATCH; i++) {                            \
				body;                                                \
			}                                                            \
			uint64_t d = __rdtsc() - t0;                                 \
			if (d < best)                                                \
				best = d;                                            \
		}                                                                    \
		printf("%-36s %6.1f ns\n", label, (double)best *ns_per_tsc / BATCH); \
	} while (0)

static struct test_mbuf tm;
static uint8_t payload[1500];

static void
reset(struct rte_mbuf *m, uint16_t len)
{
	m->data_off = 128;
	m->data_len = len;
	m->pkt_len = len;
	m->ol_flags = 0;
}

int
main(void)
{
	struct rte_ether_addr a = {.addr_bytes = {2, 0, 0, 0, 0, 1}};
	struct rte_ether_addr b = {.addr_bytes = {2, 0, 0, 0, 0, 2}};
	struct qb_ipaddr s4, d4, s6, d6;
	struct qb_udp_tmpl sw4, hw4, sw6, hw6;
	struct qb_udp_frame fr;
	struct qb_pkt_info info;
	struct rte_mbuf *m;
	volatile uint32_t sink = 0;
	double t0 = mono_ns();
	uint64_t c0 = __rdtsc();
	unsigned int i;

	while (mono_ns() - t0 < 2e7)
		;
	ns_per_tsc = (mono_ns() - t0) / (double)(__rdtsc() - c0);
	qb_ipaddr_parse("198.18.0.1", &s4);
	qb_ipaddr_parse("198.18.0.2", &d4);
	qb_ipaddr_parse("2001:db8::1", &s6);
	qb_ipaddr_parse("2001:db8::2", &d6);
	qb_udp_tmpl_init(&sw4, &a, &b, 0, &s4, 1024, &d4, 4433, false);
	qb_udp_tmpl_init(&hw4, &a, &b, 0, &s4, 1024, &d4, 4433, true);
	qb_udp_tmpl_init(&sw6, &a, &b, 0, &s6, 1024, &d6, 4433, false);
	qb_udp_tmpl_init(&hw6, &a, &b, 0, &s6, 1024, &d6, 4433, true);
	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7);
	qb_udp_frame_init(&fr, &sw4, payload, 1200);
	m = tmbuf(&tm, 128, payload, 1200);
	printf("avx2: %s\n", qb_cksum_have_avx2() ? "yes" : "no");
	MEASURE("cksum scalar 1200 B", sink += qb_cksum_raw_scalar(payload, 1200));
	if (qb_cksum_have_avx2())
		MEASURE("cksum avx2 1200 B", sink += qb_cksum_raw_avx2(payload, 1200));
	MEASURE("cksum (dispatch) 1452 B", sink += qb_cksum_raw(payload, 1452));
	MEASURE("udp_prepend IPv4 software 1200 B", reset(m, 1200); qb_udp_prepend(m, &sw4));
	MEASURE("udp_prepend IPv4 offload 1200 B", reset(m, 1200); qb_udp_prepend(m, &hw4));
	MEASURE("udp_prepend IPv6 software 1200 B", reset(m, 1200); qb_udp_prepend(m, &sw6));
	MEASURE("udp_prepend IPv6 offload 1200 B", reset(m, 1200); qb_udp_prepend(m, &hw6));
	MEASURE("udp_frame_prepend (udpgen)", reset(m, 1200); qb_udp_frame_prepend(m, &fr));
	reset(m, 1200);
	qb_udp_prepend(m, &sw4);
	MEASURE("net_parse 1242 B, software verify", sink += qb_net_parse(m, NULL, &info));
	m->ol_flags = RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	MEASURE("net_parse 1242 B, NIC verified", sink += qb_net_parse(m, NULL, &info));
	/* Read the sink so the summed results stay live. */
	return sink == 0x5eed ? 1 : 0;
}
