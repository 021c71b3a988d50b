/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Path bursts (qb_conn_burst_*) at their edges: a run of fast-path packets
 * must keep every limit a datagram through qb_conn_send keeps: the 3x
 * anti-amplification limit of an unvalidated server path (RFC 9000 §8.1),
 * the peer's max_udp_payload_size (§18.2), and the memory the application
 * did not lend (a span never borrows bytes in read-only memory).
 */
#include <sys/mman.h>

#include "harness.h"
#include "qburst/cc.h"

/* One burst as qb_burst_tx drives it; returns the bytes sent, *most the
 * largest datagram. */
static size_t
one_burst(struct qb_conn *c, uint64_t now, size_t cap, unsigned max, size_t *most)
{
	static uint8_t out[H_MTU];
	struct qb_conn_burst b;
	size_t total = 0;
	uint32_t why;

	qb_conn_burst_begin(&b, c, 0, max, now);
	for (unsigned k = 0; k < max && cap >= QB_MIN_INITIAL_DGRAM; k++) {
		int n = qb_conn_burst_send(&b, out, cap, &why);

		cr_assert_geq(n, 0);
		if (n == 0)
			break;
		total += (size_t)n;
		if ((size_t)n > *most)
			*most = (size_t)n;
		if (k > 0 && (size_t)n < cap)
			break;
		cap = (size_t)n;
	}
	qb_conn_burst_end(&b);
	return total;
}

/* A server with 0.5-RTT data (RFC 9000 §7: it may send 1-RTT data before
 * the handshake completes) on its unvalidated path: 3x what it received. */
Test(conn_burst, runs_keep_the_amplification_limit)
{
	static uint8_t d[H_MTU], data[200000];
	struct h_pair p;
	uint32_t why = 0;
	size_t total = 0, most = 0;
	uint64_t id;

	h_init(&p, 3);
	h_start(&p);
	int n = qb_conn_send(p.c, 0, d, sizeof(d), p.now, &why);
	cr_assert_geq(n, QB_MIN_INITIAL_DGRAM);
	p.s = qb_conn_server_new(&p.cfg_s, d, (size_t)n, p.now);
	cr_assert_not_null(p.s);
	cr_assert_eq(qb_conn_recv(p.s, 0, d, (size_t)n, p.now), 0);
	cr_assert_eq(qb_conn_stream_open(p.s, false, &id), 0);
	cr_assert_gt(qb_conn_stream_write(p.s, id, data, sizeof(data), false), 0);
	for (int round = 0; round < 5; round++)
		total += one_burst(p.s, p.now, 1472, 32, &most);
	struct qb_conn_stats st;
	qb_conn_stats(p.s, &st);
	cr_assert_gt(total, 2 * (size_t)n, "the server sent its flight and data");
	cr_assert_leq(total, 3 * (size_t)n, "sent %zu for %d received", total, n);
	cr_assert_eq(st.bytes_sent, total);
	h_fini(&p);
}

/* The peer allows 1200-byte datagrams: a run keeps to them even when the
 * caller offers more each time. */
Test(conn_burst, runs_keep_the_peer_max_udp_payload)
{
	static uint8_t data[300000];
	struct h_pair p;
	size_t most = 0, total = 0;
	uint64_t id;

	h_init(&p, 9);
	p.cfg_s.max_udp_payload = 1200;
	h_start(&p);
	cr_assert(h_run(&p, 5000 * H_MS, h_confirmed, NULL), "handshake");
	cr_assert_eq(qb_conn_stream_open(p.c, false, &id), 0);
	cr_assert_gt(qb_conn_stream_write(p.c, id, data, sizeof(data), true), 0);
	for (int round = 0; round < 4; round++) {
		/* A caller that offers 1472 every time, not the last length. */
		static uint8_t out[H_MTU];
		struct qb_conn_burst b;
		uint32_t why;

		qb_conn_burst_begin(&b, p.c, 0, 16, p.now);
		for (int k = 0; k < 16; k++) {
			int n = qb_conn_burst_send(&b, out, 1472, &why);
			cr_assert_geq(n, 0);
			if (n == 0)
				break;
			total += (size_t)n;
			if ((size_t)n > most)
				most = (size_t)n;
		}
		qb_conn_burst_end(&b);
	}
	cr_assert_gt(total, 4 * 1200u, "data went out");
	cr_assert_leq(most, 1200, "a datagram of %zu bytes", most);
	h_fini(&p);
}

/*
 * Lent memory (write_ref_gap) followed right after by read-only memory
 * (write_ref): a span must not run from one into the other, or a burst
 * cutting it into packets would borrow bytes inside the read-only part
 * (SIGSEGV here, where it is mapped read-only). The peer gets every byte.
 */
Test(conn_burst, never_borrows_in_read_only_memory)
{
	const size_t pg = 4096, ro_len = 16 * pg;
	struct h_pair p;
	uint64_t id;
	uint8_t *m;

	h_init(&p, 7);
	h_start(&p);
	cr_assert(h_run(&p, 5000 * H_MS, h_confirmed, NULL), "handshake");
	m = mmap(NULL, 2 * pg + ro_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(m != MAP_FAILED);
	for (size_t i = 0; i < 2 * pg + ro_len; i++)
		m[i] = (uint8_t)(i * 7);
	uint8_t *lent = m + pg, *ro = m + 2 * pg;
	cr_assert_eq(mprotect(ro, ro_len, PROT_READ), 0);
	cr_assert_eq(qb_conn_stream_open(p.c, false, &id), 0);
	cr_assert_eq(qb_streams_write_ref_gap(qb_conn_streams(p.c), id, lent, pg, false),
	             (int64_t)pg);
	cr_assert_eq(qb_streams_write_ref(qb_conn_streams(p.c), id, ro, ro_len, true),
	             (int64_t)ro_len);
	p.burst = 16;
	h_run(&p, 2000 * H_MS, NULL, NULL);
	/* Delivered: the server read the stream to its end. */
	uint64_t got = 0, sid;
	unsigned ev;
	static uint8_t rd[65536];
	while (qb_conn_stream_next_event(p.s, &sid, &ev))
		for (;;) {
			bool fin = false;
			int64_t k =
			        qb_conn_stream_read(p.s, sid, rd, sizeof(rd), &fin, NULL, p.now);
			if (k <= 0)
				break;
			for (int64_t i = 0; i < k; i++)
				cr_assert_eq(rd[i], (uint8_t)((pg + got + (uint64_t)i) * 7));
			got += (uint64_t)k;
		}
	cr_assert_eq(got, pg + ro_len, "%lu bytes read", (unsigned long)got);
	h_fini(&p);
	munmap(m, 2 * pg + ro_len);
}

/* The quota sizes a burst by the pacer's bucket and the window: the burst
 * it announces goes out whole, and right after it only 1 is offered. */
Test(conn_burst, quota_is_what_the_pacer_and_window_allow)
{
	static uint8_t data[300000];
	struct h_pair p;
	size_t most = 0;
	uint64_t id;

	h_init(&p, 11);
	h_start(&p);
	cr_assert(h_run(&p, 5000 * H_MS, h_confirmed, NULL), "handshake");
	h_run(&p, 1000 * H_MS, NULL, NULL); /* the pacer's bucket refills */
	cr_assert_eq(qb_conn_stream_open(p.c, false, &id), 0);
	cr_assert_gt(qb_conn_stream_write(p.c, id, data, sizeof(data), true), 0);
	struct qb_conn_stats st0, st1;
	/* RFC 9002 §7.7: the bucket holds 10 packets (QB_PACER_BURST) of
	 * 1200 bytes; each goes while 1200 bytes of credit are left. */
	cr_assert_eq(qb_conn_burst_quota(p.c, p.now, 64, 1200), QB_PACER_BURST);
	cr_assert_eq(qb_conn_burst_quota(p.c, p.now, 4, 1200), 4, "at most max");
	unsigned q = qb_conn_burst_quota(p.c, p.now, 64, 1252);
	cr_assert_eq(q, 9, "(12000 - 1200) / 1252 + 1: %u", q);
	qb_conn_stats(p.c, &st0);
	size_t bytes = one_burst(p.c, p.now, 1252, q, &most);
	qb_conn_stats(p.c, &st1);
	cr_assert_eq(st1.dgrams_sent - st0.dgrams_sent, q, "the whole quota went: %zu bytes",
	             bytes);
	cr_assert_eq(qb_conn_burst_quota(p.c, p.now, 64, 1252), 1, "the bucket is empty");
	h_fini(&p);
}

/* Two pairs alike up to the data: p sends it in one burst, o one datagram
 * at a time through qb_conn_send at the same now. */
static void
twin_pairs(struct h_pair *p, struct h_pair *o, const uint8_t *data, size_t len)
{
	struct h_pair *pp[2] = {p, o};
	uint64_t id;

	for (int i = 0; i < 2; i++) {
		h_init(pp[i], 12);
		h_start(pp[i]);
		cr_assert(h_run(pp[i], 5000 * H_MS, h_confirmed, NULL), "handshake");
		h_run(pp[i], 1000 * H_MS, NULL, NULL); /* the pacer's bucket refills */
		cr_assert_eq(qb_conn_stream_open(pp[i]->c, false, &id), 0);
		cr_assert_gt(qb_conn_stream_write(pp[i]->c, id, data, len, true), 0);
	}
	cr_assert_eq(p->now, o->now);
}

/* A run counts its packets in at its end (run_count_in): the connection
 * must then be as if each had gone through qb_conn_send: the same
 * datagrams, statistics, bytes in flight, pacer credit (the next quota)
 * and loss-detection deadline; and the peer reads every byte. */
Test(conn_burst, a_run_leaves_the_connection_as_single_sends_do)
{
	static uint8_t data[50000];
	static uint8_t out[H_MTU];
	struct h_pair p, o;
	struct qb_conn_burst b;
	struct qb_conn_stats sp, so;
	struct qb_conn_path_info ip, io;
	size_t lp[16], lo[16];
	unsigned np = 0, no = 0;
	uint32_t why;
	int n;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13 + (i >> 9));
	twin_pairs(&p, &o, data, sizeof(data));
	unsigned q = qb_conn_burst_quota(p.c, p.now, 16, H_MTU - 28);
	qb_conn_burst_begin(&b, p.c, 0, 16, p.now);
	while (np < 16 && (n = qb_conn_burst_send(&b, out, H_MTU - 28, &why)) > 0) {
		lp[np++] = (size_t)n;
		h_put(&p, &p.to_s, out, (size_t)n);
	}
	qb_conn_burst_end(&b);
	while (no < 16 && (n = qb_conn_send(o.c, 0, out, H_MTU - 28, o.now, &why)) > 0) {
		lo[no++] = (size_t)n;
		h_put(&o, &o.to_s, out, (size_t)n);
	}
	/* (12000 - 1200) / 1472 + 1: the pacer's bucket ends both. */
	cr_assert_eq(q, 8);
	cr_assert_eq(np, q, "%u datagrams", np);
	cr_assert_eq(np, no);
	for (unsigned i = 0; i < np; i++)
		cr_assert_eq(lp[i], lo[i], "datagram %u: %zu and %zu bytes", i, lp[i], lo[i]);
	qb_conn_stats(p.c, &sp);
	qb_conn_stats(o.c, &so);
	cr_assert_gt(sp.pkts_sent_direct, np / 2, "the run was taken");
	cr_assert_eq(sp.pkts_sent, so.pkts_sent);
	cr_assert_eq(sp.pkts_sent_direct, so.pkts_sent_direct);
	cr_assert_eq(sp.dgrams_sent, so.dgrams_sent);
	cr_assert_eq(sp.bytes_sent, so.bytes_sent);
	cr_assert_eq(sp.bytes_in_flight, so.bytes_in_flight);
	cr_assert_eq(qb_conn_path_info(p.c, 0, &ip), 0);
	cr_assert_eq(qb_conn_path_info(o.c, 0, &io), 0);
	cr_assert_eq(ip.dgrams_sent, io.dgrams_sent);
	cr_assert_eq(ip.bytes_sent, io.bytes_sent);
	cr_assert_eq(qb_conn_burst_quota(p.c, p.now + 2 * H_MS, 64, 1200),
	             qb_conn_burst_quota(o.c, o.now + 2 * H_MS, 64, 1200), "pacer credit");
	cr_assert_eq(qb_conn_deadline(p.c), qb_conn_deadline(o.c), "loss detection timer");
	/* Both peers get every byte, and the senders' books close alike. */
	struct h_pair *pp[2] = {&p, &o};
	for (int i = 0; i < 2; i++) {
		static uint8_t rd[65536];
		uint64_t got = 0, sid;
		unsigned ev;

		h_run(pp[i], 2000 * H_MS, NULL, NULL);
		while (qb_conn_stream_next_event(pp[i]->s, &sid, &ev))
			for (;;) {
				bool fin = false;
				int64_t k = qb_conn_stream_read(pp[i]->s, sid, rd, sizeof(rd), &fin,
				                                NULL, pp[i]->now);
				if (k <= 0)
					break;
				cr_assert_eq(memcmp(rd, data + got, (size_t)k), 0, "at %lu",
				             (unsigned long)got);
				got += (uint64_t)k;
			}
		cr_assert_eq(got, sizeof(data), "pair %d: %lu bytes read", i, (unsigned long)got);
		qb_conn_stats(pp[i]->c, i == 0 ? &sp : &so);
	}
	cr_assert_eq(sp.bytes_in_flight, 0);
	cr_assert_eq(so.bytes_in_flight, 0);
	cr_assert_eq(sp.pkts_lost, 0);
	h_fini(&p);
	h_fini(&o);
}

/*
 * The window ends a run (RFC 9002 §7: a packet goes while bytes in flight
 * are below it, so the last one may overshoot): a pacer bucket larger than
 * the window and data referenced in one long piece, so one run cuts it.
 * The run must send exactly what one qb_conn_send per datagram sends, and
 * must have planned them all at its start (conn_burst_run_start()'s count:
 * one short would end the run early and restart it through qb_conn_send,
 * which the datagrams alone would not show). The second of quiet before
 * trims the connection (qb_conn_trim(): a parked one-record ring, no frame
 * records), so the run's records are grown at its start.
 */
Test(conn_burst, the_window_ends_a_run_where_single_sends_end)
{
	static uint8_t data[400000];
	static uint8_t out[H_MTU];
	struct h_pair p, o, *pp[2] = {&p, &o};
	struct qb_conn_burst b;
	struct qb_conn_stats sp, so;
	unsigned np = 0, no = 0, kmax = 0;
	uint32_t why;
	uint64_t id;
	int n;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + (i >> 10));
	for (int i = 0; i < 2; i++) {
		h_init(pp[i], 14);
		pp[i]->cfg_c.pacer_burst = 1000; /* the window binds, not the pacer */
		h_start(pp[i]);
		cr_assert(h_run(pp[i], 5000 * H_MS, h_confirmed, NULL), "handshake");
		h_run(pp[i], 1000 * H_MS, NULL, NULL);
		cr_assert_eq(qb_conn_stream_open(pp[i]->c, false, &id), 0);
		cr_assert_eq(qb_streams_write_ref(qb_conn_streams(pp[i]->c), id, data, sizeof(data),
		                                  true),
		             (int64_t)sizeof(data));
	}
	cr_assert_eq(p.now, o.now);
	qb_conn_stats(p.c, &sp);
	cr_assert_eq(sp.bytes_in_flight, 0);
	qb_conn_burst_begin(&b, p.c, 0, 64, p.now);
	while (np < 64 && (n = qb_conn_burst_send(&b, out, H_MTU - 28, &why)) > 0) {
		if (np++ == 0)
			kmax = b.kmax;
		h_put(&p, &p.to_s, out, (size_t)n);
	}
	qb_conn_burst_end(&b);
	while (no < 64 && (n = qb_conn_send(o.c, 0, out, H_MTU - 28, o.now, &why)) > 0) {
		no++;
		h_put(&o, &o.to_s, out, (size_t)n);
	}
	cr_assert(why & QB_WHY_CONGESTION, "the window ended the single sends (why %#x)", why);
	qb_conn_stats(p.c, &sp);
	qb_conn_stats(o.c, &so);
	/* ceil(cwnd / datagram): the last one takes in flight past cwnd. */
	cr_assert_eq(no, (unsigned)((so.cwnd + (H_MTU - 28) - 1) / (H_MTU - 28)), "%u for cwnd %lu",
	             no, (unsigned long)so.cwnd);
	cr_assert_eq(np, no, "%u datagrams in the burst, %u one by one", np, no);
	cr_assert_eq(kmax, no - 1, "the run planned %u after its first, of %u", kmax, no - 1);
	cr_assert_eq(sp.pkts_sent_direct, np, "every one cut from the span");
	cr_assert_eq(sp.pkts_sent, so.pkts_sent);
	cr_assert_eq(sp.bytes_sent, so.bytes_sent);
	cr_assert_eq(sp.bytes_in_flight, so.bytes_in_flight);
	cr_assert_geq(sp.bytes_in_flight, sp.cwnd);
	cr_assert_eq(qb_conn_deadline(p.c), qb_conn_deadline(o.c), "loss detection timer");
	for (int i = 0; i < 2; i++)
		h_fini(pp[i]);
}
