/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Streams of a connection: IDs and limits, final size and flow control
 * errors, send and receive state machines, control frames, window growth,
 * and many streams between two managers without leaks.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "qburst/error.h"
#include "qburst/stream.h"

/* RFC 9000 §20.1 */
#define FLOW_CONTROL_ERROR   0x3
#define STREAM_LIMIT_ERROR   0x4
#define STREAM_STATE_ERROR   0x5
#define FINAL_SIZE_ERROR     0x6
#define FRAME_ENCODING_ERROR 0x7

/* RFC 9000 §19 frame types */
#define FT_RESET_STREAM        0x04
#define FT_STOP_SENDING        0x05
#define FT_MAX_DATA            0x10
#define FT_MAX_STREAM_DATA     0x11
#define FT_MAX_STREAMS_BIDI    0x12
#define FT_MAX_STREAMS_UNI     0x13
#define FT_DATA_BLOCKED        0x14
#define FT_STREAM_DATA_BLOCKED 0x15
#define FT_STREAMS_BLOCKED_BI  0x16

static struct qb_stream_pools pools;
static uint8_t buf[1 << 16];

static void
setup(void)
{
	cr_assert_eq(qb_stream_pools_init(&pools, 1024, 4096, 4096), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 31 + (i >> 9));
}

static void
teardown(void)
{
	qb_stream_pools_fini(&pools);
}

static struct qb_streams_config
config(bool server)
{
	struct qb_streams_config c = {
	        .is_server = server,
	        .local =
	                {
	                        .max_data = 10000,
	                        .max_stream_data_bidi_local = 4000,
	                        .max_stream_data_bidi_remote = 4000,
	                        .max_stream_data_uni = 4000,
	                        .max_streams_bidi = 4,
	                        .max_streams_uni = 4,
	                },
	        .max_stream_window = 64000,
	        .max_conn_window = 160000,
	        .max_local_streams = 16,
	};
	return c;
}

static struct qb_streams *
make(bool server, const struct qb_stream_params *peer)
{
	struct qb_streams_config c = config(server);
	struct qb_streams *m = qb_streams_create(&pools, &c);
	uint64_t terr;

	cr_assert_not_null(m);
	if (peer != NULL)
		cr_assert_eq(qb_streams_set_peer_params(m, peer, &terr), 0);
	return m;
}

static struct qb_stream_params
peer_params(void)
{
	return config(false).local;
}

/* Take every pending control frame; return how many of `type` (and its last). */
static int
drain_ctrl(struct qb_streams *m, uint8_t type, struct qb_ctrl_frame *last)
{
	struct qb_ctrl_frame f;
	int n = 0;

	while (qb_streams_ctrl_peek(m, &f)) {
		qb_streams_ctrl_sent(m, &f);
		if (f.type == type) {
			n++;
			if (last != NULL)
				*last = f;
		}
	}
	return n;
}

TestSuite(streams, .init = setup, .fini = teardown);

Test(streams, stream_ids_by_initiator_and_direction)
{
	struct qb_stream_params pp = peer_params();
	struct qb_streams *c = make(false, &pp), *s = make(true, &pp);
	uint64_t id;

	/* RFC 9000 §2.1: 0x0 client bidi, 0x1 server bidi, 0x2 client uni, 0x3 server uni. */
	cr_assert_eq(qb_streams_open(c, true, &id), 0);
	cr_assert_eq(id, 0);
	cr_assert_eq(qb_streams_open(c, true, &id), 0);
	cr_assert_eq(id, 4);
	cr_assert_eq(qb_streams_open(c, false, &id), 0);
	cr_assert_eq(id, 2);
	cr_assert_eq(qb_streams_open(s, true, &id), 0);
	cr_assert_eq(id, 1);
	cr_assert_eq(qb_streams_open(s, false, &id), 0);
	cr_assert_eq(id, 3);
	cr_assert_eq(qb_streams_open(s, false, &id), 0);
	cr_assert_eq(id, 7);
	/* A local uni stream has no receive side, a peer's no send side. */
	cr_assert_eq(qb_streams_recv_state(c, 2), QB_RECV_NONE);
	cr_assert_eq(qb_streams_send_state(c, 2), QB_SEND_READY);
	cr_assert_eq(qb_streams_recv_state(c, 0), QB_RECV_RECV);
	qb_streams_destroy(c);
	qb_streams_destroy(s);
}

Test(streams, local_open_respects_peer_limit_and_streams_blocked_once)
{
	struct qb_stream_params pp = peer_params();
	struct qb_ctrl_frame f;
	struct qb_streams *c;
	uint64_t id, terr;

	pp.max_streams_bidi = 2;
	c = make(false, &pp);
	cr_assert_eq(qb_streams_open(c, true, &id), 0);
	cr_assert_eq(qb_streams_open(c, true, &id), 0);
	cr_assert_eq(qb_streams_open(c, true, &id), QB_ERR_STATE);
	cr_assert_eq(qb_streams_open(c, true, &id), QB_ERR_STATE);
	cr_assert_eq(drain_ctrl(c, FT_STREAMS_BLOCKED_BI, &f), 1);
	cr_assert_eq(f.value, 2);
	/* Lost while still blocked at 2: sent again. */
	qb_streams_ctrl_lost(c, &f);
	cr_assert_eq(drain_ctrl(c, FT_STREAMS_BLOCKED_BI, NULL), 1);
	/* MAX_STREAMS that does not raise the limit is ignored (§4.6). */
	cr_assert_eq(qb_streams_on_max_streams(c, true, 1, &terr), 0);
	cr_assert_eq(qb_streams_open(c, true, &id), QB_ERR_STATE);
	cr_assert_eq(drain_ctrl(c, FT_STREAMS_BLOCKED_BI, NULL), 0);
	cr_assert_eq(qb_streams_on_max_streams(c, true, 3, &terr), 0);
	cr_assert_eq(qb_streams_open(c, true, &id), 0);
	cr_assert_eq(id, 8);
	/* Above 2^60: FRAME_ENCODING_ERROR (§4.6, §19.11). */
	cr_assert_eq(qb_streams_on_max_streams(c, true, (1ull << 60) + 1, &terr), QB_ERR_PROTO);
	cr_assert_eq(terr, FRAME_ENCODING_ERROR);
	qb_streams_destroy(c);
}

Test(streams, peer_streams_open_lower_ids_and_respect_our_limit)
{
	struct qb_stream_params pp = peer_params();
	struct qb_streams *s = make(true, &pp);
	uint64_t terr = 0;

	/* Client bidi stream 8 opens 0 and 4 too (RFC 9000 §3.2). */
	cr_assert_eq(qb_streams_on_stream(s, 8, 0, buf, 10, false, &terr), 0);
	cr_assert_eq(qb_streams_count(s), 3);
	cr_assert_eq(qb_streams_recv_state(s, 0), QB_RECV_RECV);
	cr_assert_eq(qb_streams_recv_state(s, 4), QB_RECV_RECV);
	/* Our limit is 4 bidi streams: ids 0, 4, 8, 12; 16 is over it. */
	cr_assert_eq(qb_streams_on_stream(s, 12, 0, buf, 1, false, &terr), 0);
	cr_assert_eq(qb_streams_on_stream(s, 16, 0, buf, 1, false, &terr), QB_ERR_PROTO);
	cr_assert_eq(terr, STREAM_LIMIT_ERROR);
	terr = 0;
	cr_assert_eq(qb_streams_on_max_stream_data(s, 4 * 9, 100, &terr), QB_ERR_PROTO);
	cr_assert_eq(terr, STREAM_LIMIT_ERROR);
	qb_streams_destroy(s);
}

Test(streams, frames_in_the_wrong_direction_are_stream_state_errors)
{
	struct qb_stream_params pp = peer_params();
	struct qb_streams *c = make(false, &pp);
	uint64_t id, terr = 0;

	cr_assert_eq(qb_streams_open(c, false, &id), 0); /* 2: client uni, send-only */
	/* STREAM, RESET_STREAM, STREAM_DATA_BLOCKED on our send-only stream. */
	cr_assert_eq(qb_streams_on_stream(c, 2, 0, buf, 1, false, &terr), QB_ERR_PROTO);
	cr_assert_eq(terr, STREAM_STATE_ERROR);
	terr = 0;
	cr_assert_eq(qb_streams_on_reset_stream(c, 2, 0, 0, &terr), QB_ERR_PROTO);
	cr_assert_eq(terr, STREAM_STATE_ERROR);
	terr = 0;
	cr_assert_eq(qb_streams_on_stream_data_blocked(c, 2, 0, &terr), QB_ERR_PROTO);
	cr_assert_eq(terr, STREAM_STATE_ERROR);
	/* MAX_STREAM_DATA and STOP_SENDING on the peer's send-only stream 3. */
	terr = 0;
	cr_assert_eq(qb_streams_on_max_stream_data(c, 3, 10, &terr), QB_ERR_PROTO);
	cr_assert_eq(terr, STREAM_STATE_ERROR);
	terr = 0;
	cr_assert_eq(qb_streams_on_stop_sending(c, 3, 0, &terr), QB_ERR_PROTO);
	cr_assert_eq(terr, STREAM_STATE_ERROR);
	/* Any frame for a local stream not yet opened (bidi 4). */
	terr = 0;
	cr_assert_eq(qb_streams_on_stream(c, 4, 0, buf, 1, false, &terr), QB_ERR_PROTO);
	cr_assert_eq(terr, STREAM_STATE_ERROR);
	terr = 0;
	cr_assert_eq(qb_streams_on_max_stream_data(c, 4, 10, &terr), QB_ERR_PROTO);
	cr_assert_eq(terr, STREAM_STATE_ERROR);
	/* But fine on the peer's uni stream (receive side) and our bidi stream. */
	cr_assert_eq(qb_streams_on_stream(c, 3, 0, buf, 1, false, &terr), 0);
	cr_assert_eq(qb_streams_open(c, true, &id), 0);
	cr_assert_eq(qb_streams_on_stream(c, id, 0, buf, 1, false, &terr), 0);
	qb_streams_destroy(c);
}

Test(streams, final_size_errors)
{
	struct qb_stream_params pp = peer_params();
	struct qb_streams *s = make(true, &pp);
	uint64_t terr = 0;

	/* FIN at 100, then data past it. */
	cr_assert_eq(qb_streams_on_stream(s, 0, 0, buf, 100, true, &terr), 0);
	cr_assert_eq(qb_streams_recv_state(s, 0), QB_RECV_DATA_RECVD);
	cr_assert_eq(qb_streams_on_stream(s, 0, 50, buf, 51, false, &terr), QB_ERR_PROTO);
	cr_assert_eq(terr, FINAL_SIZE_ERROR);
	/* A duplicate within it is fine; a FIN at another size is not. */
	cr_assert_eq(qb_streams_on_stream(s, 0, 50, buf, 50, true, &terr), 0);
	terr = 0;
	cr_assert_eq(qb_streams_on_stream(s, 0, 50, buf, 40, true, &terr), QB_ERR_PROTO);
	cr_assert_eq(terr, FINAL_SIZE_ERROR);
	/* RESET_STREAM with another final size. */
	terr = 0;
	cr_assert_eq(qb_streams_on_reset_stream(s, 0, 7, 99, &terr), QB_ERR_PROTO);
	cr_assert_eq(terr, FINAL_SIZE_ERROR);
	/* FIN below data already received (stream 4). */
	terr = 0;
	cr_assert_eq(qb_streams_on_stream(s, 4, 200, buf, 100, false, &terr), 0);
	cr_assert_eq(qb_streams_on_stream(s, 4, 0, buf, 100, true, &terr), QB_ERR_PROTO);
	cr_assert_eq(terr, FINAL_SIZE_ERROR);
	/* RESET_STREAM below data received. */
	terr = 0;
	cr_assert_eq(qb_streams_on_reset_stream(s, 4, 7, 299, &terr), QB_ERR_PROTO);
	cr_assert_eq(terr, FINAL_SIZE_ERROR);
	/* A reset fixes the final size: data beyond it afterwards is an error. */
	cr_assert_eq(qb_streams_on_reset_stream(s, 4, 7, 300, &terr), 0);
	cr_assert_eq(qb_streams_recv_state(s, 4), QB_RECV_RESET_RECVD);
	cr_assert_eq(qb_streams_on_stream(s, 4, 0, buf, 300, false, &terr), 0);
	terr = 0;
	cr_assert_eq(qb_streams_on_stream(s, 4, 300, buf, 1, false, &terr), QB_ERR_PROTO);
	cr_assert_eq(terr, FINAL_SIZE_ERROR);
	qb_streams_destroy(s);
}

Test(streams, flow_control_errors)
{
	struct qb_stream_params pp = peer_params();
	struct qb_streams *s = make(true, &pp);
	uint64_t terr = 0;

	/* Stream window 4000: the last allowed byte is 3999. */
	cr_assert_eq(qb_streams_on_stream(s, 0, 3000, buf, 1000, false, &terr), 0);
	cr_assert_eq(qb_streams_on_stream(s, 0, 3000, buf, 1001, false, &terr), QB_ERR_PROTO);
	cr_assert_eq(terr, FLOW_CONTROL_ERROR);
	/* Connection window 10000: 4000 + 4000 + 2000 fits, one more byte does not,
	 * counting the highest offset even with holes (RFC 9000 §4.1). */
	terr = 0;
	cr_assert_eq(qb_streams_on_stream(s, 4, 3999, buf, 1, false, &terr), 0);
	cr_assert_eq(qb_streams_on_stream(s, 8, 1999, buf, 1, false, &terr), 0);
	cr_assert_eq(qb_streams_on_stream(s, 12, 0, buf, 1, false, &terr), QB_ERR_PROTO);
	cr_assert_eq(terr, FLOW_CONTROL_ERROR);
	/* A RESET_STREAM's final size is checked the same way. */
	terr = 0;
	cr_assert_eq(qb_streams_on_reset_stream(s, 12, 0, 1, &terr), QB_ERR_PROTO);
	cr_assert_eq(terr, FLOW_CONTROL_ERROR);
	terr = 0;
	cr_assert_eq(qb_streams_on_reset_stream(s, 8, 0, 4001, &terr), QB_ERR_PROTO);
	cr_assert_eq(terr, FLOW_CONTROL_ERROR);
	/* Offset + length beyond 2^62 - 1. */
	terr = 0;
	cr_assert_eq(qb_streams_on_stream(s, 0, (1ull << 62) - 1, buf, 1, false, &terr),
	             QB_ERR_PROTO);
	cr_assert_eq(terr, FRAME_ENCODING_ERROR);
	qb_streams_destroy(s);
}

Test(streams, max_stream_data_and_max_data_after_half_the_window)
{
	struct qb_stream_params pp = peer_params();
	struct qb_streams *s = make(true, &pp);
	struct qb_ctrl_frame f;
	struct qb_read_span r;
	struct qb_streams_fc fc;
	uint64_t terr;

	cr_assert_eq(qb_streams_on_stream(s, 0, 0, buf, 4000, false, &terr), 0);
	/* 2000 read: 2000 of credit left, not below half the window yet. */
	cr_assert_eq(qb_streams_read_peek(s, 0, &r), 0);
	cr_assert_eq(r.len, 1024);
	cr_assert_arr_eq(r.data, buf, 1024);
	cr_assert_eq(qb_streams_read_consume(s, 0, 1024, 0), 0);
	cr_assert_eq(qb_streams_read_consume(s, 0, 976, 0), 0);
	cr_assert_not(qb_streams_ctrl_peek(s, &f));
	cr_assert_eq(qb_streams_read_consume(s, 0, 1, 0), 0);
	cr_assert(qb_streams_ctrl_peek(s, &f));
	cr_assert_eq(f.type, FT_MAX_STREAM_DATA);
	cr_assert_eq(f.stream_id, 0);
	cr_assert_eq(f.value, 2001 + 4000);
	qb_streams_ctrl_sent(s, &f);
	struct qb_ctrl_frame none;
	cr_assert_not(qb_streams_ctrl_peek(s, &none));
	/* Lost: the same value is still current, so it goes again. */
	qb_streams_ctrl_lost(s, &f);
	cr_assert_eq(drain_ctrl(s, FT_MAX_STREAM_DATA, NULL), 1);
	/* Connection: 10000 window; read on more streams until 5000+ consumed. */
	cr_assert_eq(qb_streams_on_stream(s, 4, 0, buf, 3000, false, &terr), 0);
	cr_assert_eq(qb_streams_read_consume(s, 4, 1024, 0), 0);
	cr_assert_eq(qb_streams_read_consume(s, 4, 1024, 0), 0);
	cr_assert_eq(qb_streams_read_consume(s, 4, 951, 0), 0); /* 2001 + 2999 = 5000 */
	cr_assert_eq(drain_ctrl(s, FT_MAX_DATA, NULL), 0);
	cr_assert_eq(qb_streams_read_consume(s, 4, 1, 0), 0);
	qb_streams_get_fc(s, &fc);
	cr_assert_eq(fc.rx_consumed, 5001);
	cr_assert_eq(fc.rx_max, 15001);
	cr_assert_eq(drain_ctrl(s, FT_MAX_DATA, &f), 1);
	cr_assert_eq(f.value, 15001);
	/* An older MAX_DATA lost after a newer one is not sent again (§13.3). */
	f.value = 10000;
	qb_streams_ctrl_lost(s, &f);
	cr_assert_eq(drain_ctrl(s, FT_MAX_DATA, NULL), 0);
	qb_streams_destroy(s);
}

/* Feed a stream up to its limits and read it at once, `step_ns` apart per
 * frame; return the stream's receive window at the end. */
static uint64_t
run_window(struct qb_streams *s, uint64_t step_ns, int rounds)
{
	uint64_t off = 0, now = 1000000, terr;
	struct qb_ctrl_frame f;
	struct qb_streams_fc fc;
	struct qb_read_span r;

	cr_assert_eq(qb_streams_on_stream(s, 0, 0, buf, 0, false, &terr), 0); /* open it */
	for (int i = 0; i < rounds; i++) {
		uint64_t max = qb_streams_rx_max(s, 0);
		qb_streams_get_fc(s, &fc);
		if (max > off + (fc.rx_max - fc.rx_highest))
			max = off + (fc.rx_max - fc.rx_highest);
		cr_assert_gt(max, off);
		while (off < max) {
			size_t n = max - off > sizeof(buf) ? sizeof(buf) : (size_t)(max - off);
			cr_assert_eq(qb_streams_on_stream(s, 0, off, buf, n, false, &terr), 0);
			off += n;
			while (qb_streams_read_peek(s, 0, &r) == 0 && r.len > 0)
				cr_assert_eq(qb_streams_read_consume(s, 0, r.len, now), 0);
			now += step_ns;
		}
		while (qb_streams_ctrl_peek(s, &f))
			qb_streams_ctrl_sent(s, &f);
	}
	return qb_streams_rx_window(s, 0);
}

Test(streams, window_grows_with_bdp_up_to_the_cap)
{
	struct qb_stream_params pp = peer_params();
	struct qb_streams *s = make(true, &pp);
	struct qb_streams_fc fc;

	/* Fast reader, 10 ms RTT: each half window goes in well under 2 RTT. */
	qb_streams_set_rtt(s, 10000000);
	cr_assert_eq(qb_streams_rx_window(s, 0), 0); /* not open yet */
	uint64_t w = run_window(s, 100000, 30);
	cr_assert_eq(w, 64000, "window %lu", (unsigned long)w); /* the cap */
	qb_streams_get_fc(s, &fc);
	cr_assert_geq(fc.rx_window, 96000); /* follows 1.5x the stream window */
	cr_assert_leq(fc.rx_window, 160000);
	qb_streams_destroy(s);

	/* Slow reader: 100 ms per step against a 10 ms RTT: no growth. */
	s = make(true, &pp);
	qb_streams_set_rtt(s, 10000000);
	w = run_window(s, 100000000, 10);
	cr_assert_eq(w, 4000);
	qb_streams_destroy(s);
}

/* Move every span from m to peer (if any), return the spans. */
static size_t
send_spans(struct qb_streams *m, size_t max, struct qb_send_span *out, size_t cap)
{
	size_t n = 0;

	while (n < cap && qb_streams_send_peek(m, max, &out[n])) {
		qb_streams_send_commit(m, &out[n]);
		n++;
	}
	return n;
}

Test(streams, send_flow_control_and_blocked_frames)
{
	struct qb_stream_params pp = peer_params();
	struct qb_send_span sp[64];
	struct qb_ctrl_frame f;
	struct qb_streams *c;
	uint64_t id, id2, terr;
	size_t n;

	pp.max_stream_data_bidi_remote = 3000;
	pp.max_data = 5000;
	c = make(false, &pp);
	cr_assert_eq(qb_streams_open(c, true, &id), 0);
	cr_assert_eq(qb_streams_write(c, id, buf, 4000, false), 4000);
	n = send_spans(c, 1200, sp, 64);
	cr_assert_eq(sp[n - 1].offset + sp[n - 1].len, 3000); /* stream limit */
	cr_assert_eq(qb_streams_send_state(c, id), QB_SEND_SEND);
	cr_assert_eq(drain_ctrl(c, FT_STREAM_DATA_BLOCKED, &f), 1);
	cr_assert_eq(f.value, 3000);
	cr_assert_eq(f.stream_id, id);
	/* Nothing new: no second STREAM_DATA_BLOCKED for the same limit. */
	cr_assert_eq(qb_streams_write(c, id, buf, 10, false), 10);
	cr_assert_eq(send_spans(c, 1200, sp, 64), 0);
	cr_assert_eq(drain_ctrl(c, FT_STREAM_DATA_BLOCKED, NULL), 0);
	/* Another stream hits the connection limit at 5000. */
	cr_assert_eq(qb_streams_open(c, true, &id2), 0);
	cr_assert_eq(qb_streams_write(c, id2, buf, 3000, false), 3000);
	n = send_spans(c, 1200, sp, 64);
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += sp[i].len;
	cr_assert_eq(total, 2000);
	cr_assert_eq(drain_ctrl(c, FT_DATA_BLOCKED, &f), 1);
	cr_assert_eq(f.value, 5000);
	/* MAX_STREAM_DATA: still connection-blocked. */
	cr_assert_eq(qb_streams_on_max_stream_data(c, id, 10000, &terr), 0);
	cr_assert_eq(send_spans(c, 1200, sp, 64), 0);
	/* MAX_DATA releases both streams. */
	cr_assert_eq(qb_streams_on_max_data(c, 100000), 0);
	n = send_spans(c, 1200, sp, 64);
	total = 0;
	bool seen[2] = {false, false};
	for (size_t i = 0; i < n; i++) {
		total += sp[i].len;
		seen[sp[i].stream_id == id2] = true;
	}
	cr_assert_eq(total, 1010 + 1000);
	cr_assert(seen[0] && seen[1]);
	qb_streams_destroy(c);
}

Test(streams, fin_delivery_and_send_states)
{
	struct qb_stream_params pp = peer_params();
	struct qb_streams *c = make(false, &pp), *s = make(true, &pp);
	struct qb_send_span sp[16], x;
	struct qb_read_span r;
	uint64_t id, terr;
	size_t n;

	cr_assert_eq(qb_streams_open(c, false, &id), 0);
	cr_assert_eq(qb_streams_write(c, id, buf, 1500, true), 1500);
	cr_assert_eq(qb_streams_write(c, id, buf, 1, false), QB_ERR_STATE); /* after FIN */
	n = send_spans(c, 2000, sp, 16);
	cr_assert_eq(n, 2); /* chunk boundary at 1024 */
	cr_assert_not(sp[0].fin);
	cr_assert(sp[1].fin);
	cr_assert_eq(qb_streams_send_state(c, id), QB_SEND_DATA_SENT);
	/* The receiver gets the FIN on the last span only. */
	cr_assert_eq(qb_streams_on_stream(s, id, sp[1].offset, sp[1].data, sp[1].len, true, &terr),
	             0);
	cr_assert_eq(qb_streams_recv_state(s, id), QB_RECV_SIZE_KNOWN);
	cr_assert_eq(qb_streams_on_stream(s, id, 0, sp[0].data, sp[0].len, false, &terr), 0);
	cr_assert_eq(qb_streams_recv_state(s, id), QB_RECV_DATA_RECVD);
	cr_assert_eq(qb_streams_read_peek(s, id, &r), 0);
	cr_assert_eq(r.len, 1024);
	cr_assert_not(r.fin);
	cr_assert_eq(qb_streams_read_consume(s, id, r.len, 0), 0);
	cr_assert_eq(qb_streams_read_peek(s, id, &r), 0);
	cr_assert_eq(r.len, 476);
	cr_assert(r.fin);
	cr_assert_arr_eq(r.data, buf + 1024, 476);
	cr_assert_eq(qb_streams_read_consume(s, id, r.len, 0), 0);
	/* Data Read and no send side: the stream is gone. */
	cr_assert_eq(qb_streams_count(s), 0);
	cr_assert_eq(qb_streams_recv_state(s, id), QB_RECV_NONE);
	/* The FIN is lost while the data is acknowledged: a FIN-only frame. */
	qb_streams_on_data_acked(c, id, 0, 1500, false);
	qb_streams_on_data_lost(c, id, 1024, 476, true);
	cr_assert(qb_streams_send_peek(c, 2000, &x));
	cr_assert_eq(x.len, 0);
	cr_assert(x.fin);
	cr_assert_eq(x.offset, 1500);
	qb_streams_send_commit(c, &x);
	cr_assert_eq(qb_streams_send_state(c, id), QB_SEND_DATA_SENT);
	qb_streams_on_data_acked(c, id, 1500, 0, true);
	cr_assert_eq(qb_streams_send_state(c, id), QB_SEND_NONE); /* Data Recvd: freed */
	cr_assert_eq(qb_streams_count(c), 0);
	/* A bare FIN on an empty stream. */
	cr_assert_eq(qb_streams_open(c, false, &id), 0);
	cr_assert_eq(qb_streams_write(c, id, NULL, 0, true), 0);
	cr_assert(qb_streams_send_peek(c, 2000, &x));
	cr_assert(x.fin && x.len == 0 && x.offset == 0);
	qb_streams_send_commit(c, &x);
	cr_assert_eq(qb_streams_send_state(c, id), QB_SEND_DATA_SENT);
	cr_assert_eq(qb_streams_on_stream(s, id, 0, NULL, 0, true, &terr), 0);
	cr_assert_eq(qb_streams_read_peek(s, id, &r), 0);
	cr_assert(r.fin && r.len == 0);
	cr_assert_eq(qb_streams_read_consume(s, id, 0, 0), 0);
	cr_assert_eq(qb_streams_count(s), 0);
	qb_streams_destroy(c);
	qb_streams_destroy(s);
	cr_assert_eq(pools.chunks.in_use, 0);
	cr_assert_eq(pools.streams.in_use, 0);
}

Test(streams, lost_data_is_retransmitted_before_new_data)
{
	struct qb_stream_params pp = peer_params();
	struct qb_streams *c = make(false, &pp);
	struct qb_send_span sp[16], x;
	uint64_t a, b;

	cr_assert_eq(qb_streams_open(c, true, &a), 0);
	cr_assert_eq(qb_streams_open(c, true, &b), 0);
	cr_assert_eq(qb_streams_write(c, a, buf, 2048, false), 2048);
	cr_assert_eq(send_spans(c, 1024, sp, 16), 2);
	cr_assert_eq(qb_streams_write(c, a, buf + 2048, 1000, false), 1000);
	cr_assert_eq(qb_streams_write(c, b, buf, 1000, false), 1000);
	qb_streams_on_data_lost(c, a, 1024, 1024, false);
	cr_assert(qb_streams_send_peek(c, 500, &x));
	cr_assert_eq(x.stream_id, a);
	cr_assert(x.retransmit);
	cr_assert_eq(x.offset, 1024);
	cr_assert_eq(x.len, 500);
	cr_assert_arr_eq(x.data, buf + 1024, 500);
	qb_streams_send_commit(c, &x);
	/* Round robin: b gets a turn, then a resumes its retransmission. */
	cr_assert(qb_streams_send_peek(c, 500, &x));
	cr_assert_eq(x.stream_id, b);
	qb_streams_send_commit(c, &x);
	cr_assert(qb_streams_send_peek(c, 2000, &x));
	cr_assert_eq(x.stream_id, a);
	cr_assert(x.retransmit);
	cr_assert_eq(x.offset, 1524);
	cr_assert_eq(x.len, 524);
	qb_streams_send_commit(c, &x);
	cr_assert(qb_streams_send_peek(c, 2000, &x));
	cr_assert_eq(x.stream_id, b);
	qb_streams_send_commit(c, &x);
	cr_assert(qb_streams_send_peek(c, 2000, &x));
	cr_assert_eq(x.stream_id, a);
	cr_assert_not(x.retransmit);
	cr_assert_eq(x.offset, 2048);
	qb_streams_destroy(c);
	cr_assert_eq(pools.chunks.in_use, 0);
}

Test(streams, app_reset_stream_path)
{
	struct qb_stream_params pp = peer_params();
	struct qb_streams *c = make(false, &pp);
	struct qb_send_span sp[16];
	struct qb_ctrl_frame f;
	uint64_t id;

	cr_assert_eq(qb_streams_open(c, false, &id), 0);
	cr_assert_eq(qb_streams_write(c, id, buf, 3000, false), 3000);
	cr_assert_eq(send_spans(c, 1000, sp, 2), 2);
	cr_assert_eq(qb_streams_reset(c, id, 42), 0);
	cr_assert_eq(qb_streams_send_state(c, id), QB_SEND_RESET_SENT);
	cr_assert_eq(pools.chunks.in_use, 0); /* data dropped at once */
	cr_assert_not(qb_streams_send_peek(c, 1000, &sp[0]));
	cr_assert(qb_streams_ctrl_peek(c, &f));
	cr_assert_eq(f.type, FT_RESET_STREAM);
	cr_assert_eq(f.stream_id, id);
	cr_assert_eq(f.error_code, 42);
	cr_assert_eq(f.value, 1024); /* final size: all the credit used */
	qb_streams_ctrl_sent(c, &f);
	/* Stream data lost after a reset is not sent again (RFC 9000 §19.4). */
	qb_streams_on_data_lost(c, id, 0, 1024, false);
	cr_assert_not(qb_streams_send_peek(c, 1000, &sp[0]));
	/* The RESET_STREAM itself is, when lost. */
	qb_streams_ctrl_lost(c, &f);
	cr_assert_eq(drain_ctrl(c, FT_RESET_STREAM, NULL), 1);
	cr_assert_eq(qb_streams_write(c, id, buf, 1, false), QB_ERR_STATE);
	cr_assert_eq(qb_streams_reset(c, id, 1), QB_ERR_STATE);
	qb_streams_ctrl_acked(c, &f);
	cr_assert_eq(qb_streams_count(c), 0); /* Reset Recvd and send-only: freed */
	qb_streams_destroy(c);
}

Test(streams, stop_sending_makes_the_peer_reset)
{
	struct qb_stream_params pp = peer_params();
	struct qb_streams *c = make(false, &pp), *s = make(true, &pp);
	struct qb_send_span sp[16];
	struct qb_ctrl_frame f;
	struct qb_read_span r;
	uint64_t id, terr, code = 0;
	size_t n;

	cr_assert_eq(qb_streams_open(c, true, &id), 0);
	cr_assert_eq(qb_streams_write(c, id, buf, 2000, false), 2000);
	n = send_spans(c, 1500, sp, 16);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(qb_streams_on_stream(s, id, sp[i].offset, sp[i].data, sp[i].len,
		                                  sp[i].fin, &terr),
		             0);
	/* The server asks the client to stop: what arrived is discarded. */
	struct qb_streams_fc before, after;
	uint32_t chunks = pools.chunks.in_use;
	qb_streams_get_fc(s, &before);
	cr_assert_eq(qb_streams_stop_sending(s, id, 77), 0);
	cr_assert_eq(pools.chunks.in_use, chunks - 2); /* the server's two chunks */
	cr_assert(qb_streams_ctrl_peek(s, &f));
	cr_assert_eq(f.type, FT_STOP_SENDING);
	cr_assert_eq(f.error_code, 77);
	qb_streams_ctrl_sent(s, &f);
	qb_streams_ctrl_lost(s, &f); /* still receiving: sent again */
	cr_assert_eq(drain_ctrl(s, FT_STOP_SENDING, NULL), 1);
	cr_assert_eq(qb_streams_on_stop_sending(c, id, 77, &terr), 0);
	cr_assert(qb_streams_stop_requested(c, id, &code));
	cr_assert_eq(code, 77);
	cr_assert_eq(qb_streams_send_state(c, id), QB_SEND_RESET_SENT);
	cr_assert(qb_streams_ctrl_peek(c, &f));
	cr_assert_eq(f.type, FT_RESET_STREAM);
	cr_assert_eq(f.error_code, 77); /* RFC 9000 §3.5: the code is copied */
	cr_assert_eq(f.value, 2000);
	qb_streams_ctrl_sent(c, &f);
	/* The server gets the RESET_STREAM: its reader had stopped reading, so
	 * the receive side is done at once (Reset Read). */
	cr_assert_eq(qb_streams_on_reset_stream(s, id, f.error_code, f.value, &terr), 0);
	cr_assert_eq(qb_streams_recv_state(s, id), QB_RECV_RESET_READ);
	qb_streams_get_fc(s, &after);
	cr_assert_eq(after.rx_consumed, before.rx_consumed + 2000); /* credit returned */
	cr_assert_eq(qb_streams_read_peek(s, id, &r), 0);
	cr_assert(r.reset);
	cr_assert_eq(r.error_code, 77);
	/* A STOP_SENDING lost after the reset is not resent. */
	qb_streams_ctrl_lost(s, &(struct qb_ctrl_frame){.type = FT_STOP_SENDING, .stream_id = id});
	cr_assert_eq(drain_ctrl(s, FT_STOP_SENDING, NULL), 0);
	qb_streams_destroy(c);
	qb_streams_destroy(s);
	cr_assert_eq(pools.chunks.in_use, 0);
}

Test(streams, max_streams_rises_as_peer_streams_close)
{
	struct qb_stream_params pp = peer_params();
	struct qb_streams *s = make(true, &pp);
	struct qb_ctrl_frame f;
	struct qb_read_span r;
	uint64_t terr;

	/* Client uni streams 2, 6, 10, 14 (our limit 4), each a FIN'd byte. */
	for (uint64_t i = 0; i < 4; i++)
		cr_assert_eq(qb_streams_on_stream(s, 4 * i + 2, 0, buf, 1, true, &terr), 0);
	cr_assert_eq(qb_streams_on_stream(s, 18, 0, buf, 1, true, &terr), QB_ERR_PROTO);
	cr_assert_eq(terr, STREAM_LIMIT_ERROR);
	/* One closed: no update yet (steps of half the limit). */
	cr_assert_eq(qb_streams_read_peek(s, 2, &r), 0);
	cr_assert_eq(qb_streams_read_consume(s, 2, 1, 0), 0);
	cr_assert_eq(qb_streams_count(s), 3);
	cr_assert_eq(drain_ctrl(s, FT_MAX_STREAMS_UNI, NULL), 0);
	cr_assert_eq(qb_streams_read_consume(s, 6, 1, 0), 0);
	cr_assert_eq(drain_ctrl(s, FT_MAX_STREAMS_UNI, &f), 1);
	cr_assert_eq(f.value, 6);
	cr_assert_eq(qb_streams_on_stream(s, 18, 0, buf, 1, true, &terr), 0);
	cr_assert_eq(qb_streams_on_stream(s, 22, 0, buf, 1, true, &terr), 0);
	cr_assert_eq(qb_streams_on_stream(s, 26, 0, buf, 1, true, &terr), QB_ERR_PROTO);
	/* A frame for a closed stream is ignored. */
	cr_assert_eq(qb_streams_on_stream(s, 2, 0, buf, 1, true, &terr), 0);
	cr_assert_eq(qb_streams_recv_state(s, 2), QB_RECV_NONE);
	qb_streams_destroy(s);
	cr_assert_eq(pools.streams.in_use, 0);
}

Test(streams, pool_exhaustion_is_survived)
{
	struct qb_stream_params pp = peer_params();
	struct qb_streams_config cfg = config(true);
	struct qb_stream_pools small;
	struct qb_streams *s;
	struct qb_read_span r;
	uint64_t terr, id;
	uint8_t out[4000];
	size_t got = 0;

	cr_assert_eq(qb_stream_pools_init(&small, 1024, 2, 3), 0);
	s = qb_streams_create(&small, &cfg);
	cr_assert_not_null(s);
	cr_assert_eq(qb_streams_set_peer_params(s, &pp, &terr), 0);
	/* Out-of-order data fills the two chunks; the rest is refused for now. */
	cr_assert_eq(qb_streams_on_stream(s, 0, 1024, buf + 1024, 2048, false, &terr), 0);
	cr_assert_eq(qb_streams_on_stream(s, 0, 0, buf, 1024, false, &terr), QB_ERR_NOMEM);
	cr_assert_eq(qb_streams_on_stream(s, 0, 3072, buf + 3072, 928, true, &terr), QB_ERR_NOMEM);
	/* Stream objects run out too: streams 4 and 8 take the rest, 12 fails. */
	cr_assert_eq(qb_streams_on_stream(s, 12, 0, buf, 0, false, &terr), QB_ERR_NOMEM);
	cr_assert_eq(qb_streams_count(s), 3);
	cr_assert_eq(qb_streams_open(s, true, &id), QB_ERR_NOMEM);
	/* Application writes are refused, not crashed. */
	cr_assert_eq(qb_streams_write(s, 0, buf, 10, false), QB_ERR_NOMEM);
	cr_assert_eq(qb_streams_read_peek(s, 0, &r), 0);
	cr_assert_eq(r.len, 0);
	/* Resetting and reading stream 4 (both halves) frees its slot. */
	cr_assert_eq(qb_streams_on_reset_stream(s, 4, 0, 0, &terr), 0);
	cr_assert_eq(qb_streams_read_peek(s, 4, &r), 0);
	cr_assert(r.reset);
	cr_assert_eq(qb_streams_count(s), 3); /* its send half still lives */
	cr_assert_eq(qb_streams_reset(s, 4, 0), 0);
	struct qb_ctrl_frame f = {.type = FT_RESET_STREAM, .stream_id = 4};
	qb_streams_ctrl_acked(s, &f);
	cr_assert_eq(qb_streams_count(s), 2);
	cr_assert_eq(qb_streams_open(s, true, &id), 0);
	qb_streams_destroy(s);
	cr_assert_eq(small.chunks.in_use, 0);
	cr_assert_eq(small.streams.in_use, 0);
	qb_stream_pools_fini(&small);

	/* Three chunks: the out-of-order data fills them, the head cannot come. */
	cr_assert_eq(qb_stream_pools_init(&small, 1024, 3, 3), 0);
	s = qb_streams_create(&small, &cfg);
	cr_assert_eq(qb_streams_set_peer_params(s, &pp, &terr), 0);
	cr_assert_eq(qb_streams_on_stream(s, 0, 1024, buf + 1024, 2048, false, &terr), 0);
	cr_assert_eq(qb_streams_on_stream(s, 0, 3072, buf + 3072, 928, true, &terr), 0);
	cr_assert_eq(qb_streams_on_stream(s, 0, 0, buf, 1024, false, &terr), QB_ERR_NOMEM);
	/* The peer resets it: every chunk comes back. */
	cr_assert_eq(qb_streams_on_reset_stream(s, 0, 9, 4000, &terr), 0);
	cr_assert_eq(small.chunks.in_use, 0);
	/* In order, the data goes through piecewise as the reader frees chunks
	 * and the peer retransmits what was refused. */
	cr_assert_eq(qb_streams_on_stream(s, 4, 0, buf, 4000, true, &terr), QB_ERR_NOMEM);
	while (qb_streams_read_peek(s, 4, &r) == 0 && r.len > 0) {
		memcpy(out + got, r.data, r.len);
		cr_assert_eq(qb_streams_read_consume(s, 4, r.len, 0), 0);
		got += r.len;
		cr_assert_eq(qb_streams_on_stream(s, 4, got, buf + got, 4000 - got, true, &terr),
		             0);
	}
	cr_assert_eq(got, 4000);
	cr_assert_arr_eq(out, buf, 4000);
	cr_assert(r.fin);
	cr_assert_gt(small.chunks.failures, 0);
	qb_streams_destroy(s);
	cr_assert_eq(small.chunks.in_use, 0);
	qb_stream_pools_fini(&small);
}

/* Deliver all stream data and control frames from a to b, acknowledging them
 * at once; return whether anything moved. */
static bool
pump(struct qb_streams *a, struct qb_streams *b)
{
	struct qb_send_span x;
	struct qb_ctrl_frame f;
	bool moved = false;
	uint64_t terr = 0;

	while (qb_streams_ctrl_peek(a, &f)) {
		int rc = 0;
		qb_streams_ctrl_sent(a, &f);
		switch (f.type) {
		case FT_MAX_DATA:
			rc = qb_streams_on_max_data(b, f.value);
			break;
		case FT_MAX_STREAM_DATA:
			rc = qb_streams_on_max_stream_data(b, f.stream_id, f.value, &terr);
			break;
		case FT_MAX_STREAMS_BIDI:
		case FT_MAX_STREAMS_UNI:
			rc = qb_streams_on_max_streams(b, f.type == FT_MAX_STREAMS_BIDI, f.value,
			                               &terr);
			break;
		case FT_RESET_STREAM:
			rc = qb_streams_on_reset_stream(b, f.stream_id, f.error_code, f.value,
			                                &terr);
			break;
		case FT_STOP_SENDING:
			rc = qb_streams_on_stop_sending(b, f.stream_id, f.error_code, &terr);
			break;
		}
		cr_assert_eq(rc, 0, "ctrl 0x%x rc %d terr %lu", f.type, rc, (unsigned long)terr);
		qb_streams_ctrl_acked(a, &f);
		moved = true;
	}
	while (qb_streams_send_peek(a, 1200, &x)) {
		qb_streams_send_commit(a, &x);
		cr_assert_eq(
		        qb_streams_on_stream(b, x.stream_id, x.offset, x.data, x.len, x.fin, &terr),
		        0);
		qb_streams_on_data_acked(a, x.stream_id, x.offset, x.len, x.fin);
		moved = true;
	}
	return moved;
}

Test(streams, thousand_concurrent_streams_without_leaks, .timeout = 30)
{
	struct qb_streams_config cc = config(false), sc = config(true);
	struct qb_stream_params cp, sp;
	struct qb_streams *c, *s;
	static uint64_t ids[1000];
	static uint64_t got[1000];
	static bool sdone[1000], cdone[1000];
	uint64_t terr;

	/* Both allow 1000 concurrent bidi streams and enough credit. */
	cc.local.max_streams_bidi = sc.local.max_streams_bidi = 1000;
	cc.max_local_streams = 1000;
	cc.local.max_data = sc.local.max_data = 4000000;
	cc.max_conn_window = sc.max_conn_window = 8000000;
	cp = cc.local;
	sp = sc.local;
	c = qb_streams_create(&pools, &cc);
	s = qb_streams_create(&pools, &sc);
	cr_assert(c != NULL && s != NULL);
	cr_assert_eq(qb_streams_set_peer_params(c, &sp, &terr), 0);
	cr_assert_eq(qb_streams_set_peer_params(s, &cp, &terr), 0);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 1000; i++) {
			cr_assert_eq(qb_streams_open(c, true, &ids[i]), 0, "round %d stream %d",
			             round, i);
			/* Requests of 1..1500 bytes. */
			size_t len = 1 + (size_t)(i * 37 % 1500);
			cr_assert_eq(qb_streams_write(c, ids[i], buf + i, len, true), (int64_t)len);
			got[i] = 0;
			sdone[i] = cdone[i] = false;
		}
		cr_assert_eq(qb_streams_count(c), 1000);
		for (int iter = 0; iter < 100; iter++) {
			bool moved = pump(c, s);
			/* The server reads each request and answers with it, FIN'd. */
			for (int i = 0; i < 1000; i++) {
				struct qb_read_span r;
				uint64_t id = ids[i];
				while (!sdone[i] && qb_streams_read_peek(s, id, &r) == 0 &&
				       (r.len > 0 || r.fin)) {
					bool fin = r.fin;
					if (r.len > 0)
						cr_assert_arr_eq(r.data, buf + i + got[i], r.len);
					cr_assert_eq(qb_streams_write(s, id, r.data, r.len, fin),
					             (int64_t)r.len);
					got[i] += r.len;
					cr_assert_eq(qb_streams_read_consume(s, id, r.len, 0), 0);
					sdone[i] = fin;
				}
			}
			moved |= pump(s, c);
			for (int i = 0; i < 1000; i++) {
				struct qb_read_span r;
				while (!cdone[i] && qb_streams_read_peek(c, ids[i], &r) == 0 &&
				       (r.len > 0 || r.fin)) {
					cdone[i] = r.fin;
					cr_assert_eq(qb_streams_read_consume(c, ids[i], r.len, 0),
					             0);
				}
			}
			if (!moved)
				break;
		}
		cr_assert_eq(qb_streams_count(c), 0, "round %d: %u client streams left", round,
		             qb_streams_count(c));
		cr_assert_eq(qb_streams_count(s), 0, "round %d: %u server streams left", round,
		             qb_streams_count(s));
		cr_assert_eq(pools.chunks.in_use, 0);
		cr_assert_eq(pools.streams.in_use, 0);
		/* The tables grew to hold 1000 streams at half load (2048 slots);
		 * with none open, a trim frees them, once, and they regrow. */
		cr_assert_eq(qb_streams_trim(c), 2048 * sizeof(void *), "round %d", round);
		cr_assert_eq(qb_streams_trim(s), 2048 * sizeof(void *), "round %d", round);
		cr_assert_eq(qb_streams_trim(c), 0);
	}
	cr_assert_geq(pools.streams.high_water, 1000);
	qb_streams_destroy(c);
	qb_streams_destroy(s);
}

/* The table grows as streams open and keeps every stream findable; a trim
 * leaves it at most a quarter full of the streams still open. */
Test(streams, table_grows_on_demand_and_trims_to_what_is_open)
{
	struct qb_streams_config cc = config(false);
	struct qb_stream_params sp = config(true).local;
	struct qb_streams *c;
	struct qb_ctrl_frame f;
	uint64_t terr, ids[320];
	int resets = 0;

	cc.max_local_streams = 320;
	sp.max_streams_uni = 320;
	c = qb_streams_create(&pools, &cc);
	cr_assert_not_null(c);
	cr_assert_eq(qb_streams_trim(c), 0, "no table before the first stream");
	cr_assert_eq(qb_streams_set_peer_params(c, &sp, &terr), 0);
	for (int i = 0; i < 300; i++) {
		cr_assert_eq(qb_streams_open(c, false, &ids[i]), 0, "stream %d", i);
		for (int k = 0; k <= i; k += 1 + i / 7)
			cr_assert_eq(qb_streams_send_state(c, ids[k]), QB_SEND_READY, "%d of %d", k,
			             i);
	}
	/* 300 streams at half load: 1024 slots, what a quarter full needs too. */
	cr_assert_eq(qb_streams_trim(c), 0);
	/* Reset all but 10; each closes once its RESET_STREAM is acknowledged. */
	for (int i = 10; i < 300; i++)
		cr_assert_eq(qb_streams_reset(c, ids[i], 0), 0);
	while (qb_streams_ctrl_peek(c, &f)) {
		qb_streams_ctrl_sent(c, &f);
		if (f.type == FT_RESET_STREAM) {
			qb_streams_ctrl_acked(c, &f);
			resets++;
		}
	}
	cr_assert_eq(resets, 290);
	cr_assert_eq(qb_streams_count(c), 10);
	/* 10 streams: 64 slots (a quarter full at most). */
	cr_assert_eq(qb_streams_trim(c), (1024 - 64) * sizeof(void *));
	cr_assert_eq(qb_streams_trim(c), 0);
	for (int i = 0; i < 300; i++)
		cr_assert_eq(qb_streams_send_state(c, ids[i]),
		             i < 10 ? QB_SEND_READY : QB_SEND_NONE, "stream %d", i);
	/* And it grows again. */
	for (int i = 300; i < 320; i++)
		cr_assert_eq(qb_streams_open(c, false, &ids[i]), 0, "stream %d", i);
	for (int i = 0; i < 320; i++)
		cr_assert_eq(qb_streams_send_state(c, ids[i]),
		             (i < 10 || i >= 300) ? QB_SEND_READY : QB_SEND_NONE, "stream %d", i);
	qb_streams_destroy(c);
}

Test(streams, application_events_are_edge_triggered)
{
	struct qb_stream_params pp = peer_params();
	struct qb_streams_config cfg = config(false);
	struct qb_streams *s = make(true, &pp), *c;
	struct qb_send_span x;
	uint64_t id, terr;
	unsigned ev;

	cr_assert_not(qb_streams_next_event(s, &id, &ev));
	cr_assert_eq(qb_streams_on_stream(s, 0, 0, buf, 100, false, &terr), 0);
	cr_assert_eq(qb_streams_on_stream(s, 0, 100, buf, 100, false, &terr), 0);
	cr_assert(qb_streams_next_event(s, &id, &ev));
	cr_assert_eq(id, 0);
	cr_assert_eq(ev, QB_STREAM_EV_READABLE);
	cr_assert_not(qb_streams_next_event(s, &id, &ev)); /* once per change */
	/* Out-of-order data is not readable yet; filling the gap is. */
	cr_assert_eq(qb_streams_on_stream(s, 0, 300, buf, 100, true, &terr), 0);
	cr_assert_not(qb_streams_next_event(s, &id, &ev));
	cr_assert_eq(qb_streams_on_stream(s, 0, 200, buf, 100, false, &terr), 0);
	cr_assert(qb_streams_next_event(s, &id, &ev));
	cr_assert_eq(ev, QB_STREAM_EV_READABLE);
	/* A reset is readable too. */
	cr_assert_eq(qb_streams_on_reset_stream(s, 4, 5, 0, &terr), 0);
	cr_assert(qb_streams_next_event(s, &id, &ev));
	cr_assert_eq(id, 4);
	cr_assert_eq(ev, QB_STREAM_EV_READABLE);
	qb_streams_destroy(s);

	/* STOP_SENDING, and room back after a short write. */
	cfg.send_buffer_max = 1500;
	c = qb_streams_create(&pools, &cfg);
	cr_assert_eq(qb_streams_set_peer_params(c, &pp, &terr), 0);
	cr_assert_eq(qb_streams_open(c, true, &id), 0);
	cr_assert_eq(qb_streams_write(c, id, buf, 2000, false), 1500);
	cr_assert_eq(qb_streams_write(c, id, buf, 10, false), 0);
	cr_assert(qb_streams_send_peek(c, 1000, &x));
	qb_streams_send_commit(c, &x);
	cr_assert_not(qb_streams_next_event(c, &id, &ev));
	qb_streams_on_data_acked(c, x.stream_id, x.offset, x.len, false);
	cr_assert(qb_streams_next_event(c, &id, &ev));
	cr_assert_eq(ev, QB_STREAM_EV_WRITABLE);
	cr_assert_eq(qb_streams_write(c, id, buf, 2000, false), 1000);
	cr_assert_eq(qb_streams_on_stop_sending(c, id, 3, &terr), 0);
	cr_assert(qb_streams_next_event(c, &id, &ev));
	cr_assert_eq(ev, QB_STREAM_EV_STOPPED);
	qb_streams_destroy(c);
}

Test(streams, blocked_frames_are_dropped_once_the_limit_moves)
{
	struct qb_stream_params pp = peer_params();
	struct qb_send_span sp[16];
	struct qb_ctrl_frame f;
	struct qb_streams *c;
	uint64_t id, terr;

	pp.max_data = 1000;
	pp.max_stream_data_bidi_remote = 500;
	c = make(false, &pp);
	cr_assert_eq(qb_streams_open(c, true, &id), 0);
	cr_assert_eq(qb_streams_write(c, id, buf, 2000, false), 2000);
	cr_assert_eq(send_spans(c, 1200, sp, 16), 1);
	/* STREAM_DATA_BLOCKED(500) is queued, then the peer raises the limit
	 * before it went out: it is not sent. */
	cr_assert_eq(qb_streams_on_max_stream_data(c, id, 5000, &terr), 0);
	cr_assert_eq(drain_ctrl(c, FT_STREAM_DATA_BLOCKED, NULL), 0);
	cr_assert_eq(send_spans(c, 1200, sp, 16), 1); /* up to the connection's 1000 */
	cr_assert(qb_streams_ctrl_peek(c, &f));
	cr_assert_eq(f.type, FT_DATA_BLOCKED);
	cr_assert_eq(f.value, 1000);
	cr_assert_eq(qb_streams_on_max_data(c, 2000), 0);
	cr_assert_eq(drain_ctrl(c, FT_DATA_BLOCKED, NULL), 0);
	qb_streams_destroy(c);
}

Test(streams, stop_sending_discards_until_the_final_size)
{
	struct qb_stream_params pp = peer_params();
	struct qb_streams *s = make(true, &pp);
	struct qb_streams_fc fc;
	struct qb_ctrl_frame f;
	uint64_t terr;

	cr_assert_eq(qb_streams_on_stream(s, 2, 0, buf, 1500, false, &terr), 0);
	cr_assert_eq(pools.chunks.in_use, 2);
	cr_assert_eq(qb_streams_stop_sending(s, 2, 5), 0);
	cr_assert_eq(pools.chunks.in_use, 0);
	cr_assert_eq(drain_ctrl(s, FT_STOP_SENDING, &f), 1);
	cr_assert_eq(f.error_code, 5);
	/* Data still in flight is counted and dropped, never buffered. */
	cr_assert_eq(qb_streams_on_stream(s, 2, 2000, buf, 1000, false, &terr), 0);
	cr_assert_eq(pools.chunks.in_use, 0);
	cr_assert_eq(qb_streams_count(s), 1);
	/* The FIN fixes the final size: the stream is done, its credit back. */
	cr_assert_eq(qb_streams_on_stream(s, 2, 3000, buf, 500, true, &terr), 0);
	cr_assert_eq(qb_streams_count(s), 0);
	qb_streams_get_fc(s, &fc);
	cr_assert_eq(fc.rx_consumed, 3500);
	cr_assert_eq(fc.rx_highest, 3500);
	/* A STOP_SENDING lost afterwards is not resent. */
	qb_streams_ctrl_lost(s, &f);
	cr_assert_eq(drain_ctrl(s, FT_STOP_SENDING, NULL), 0);
	qb_streams_destroy(s);
}

/* write_ref: whole chunks point at the caller's bytes (new and retransmitted
 * data alike), the partial ones around them are copies; acks free them all. */
Test(streams, write_ref_gap_lends_the_bytes_before_each_span)
{
	struct qb_stream_params pp = peer_params();
	struct qb_streams *c = make(false, &pp);
	static uint8_t room[QB_SEND_GAP + 3072];
	uint8_t *data = room + QB_SEND_GAP;
	struct qb_send_span sp[16], x;
	uint64_t a;

	memcpy(data, buf, 3072);
	cr_assert_eq(qb_streams_open(c, true, &a), 0);
	/* Chunk-aligned: every byte referenced, none copied (flow control: 4000). */
	cr_assert_eq(qb_streams_write_ref_gap(c, a, data, 3072, true), 3072);
	cr_assert_eq(send_spans(c, 1500, sp, 16), 3);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(sp[i].offset, 1500u * (unsigned)i);
		cr_assert_eq(sp[i].data, data + sp[i].offset, "referenced, not copied");
		cr_assert_eq(sp[i].gap, QB_SEND_GAP, "span %d lends %u bytes", i, sp[i].gap);
	}
	cr_assert_eq(sp[2].len, 72);
	cr_assert(sp[2].fin);
	/* A retransmission from the lent memory lends its bytes too. */
	qb_streams_on_data_lost(c, a, 1000, 200, false);
	cr_assert(qb_streams_send_peek(c, 1500, &x));
	cr_assert(x.retransmit);
	cr_assert_eq(x.data, data + 1000);
	cr_assert_eq(x.gap, QB_SEND_GAP);
	qb_streams_send_commit(c, &x);
	qb_streams_on_data_acked(c, a, 0, 3072, true);
	cr_assert_eq(qb_streams_send_state(c, a), QB_SEND_DATA_RECVD);
	qb_streams_destroy(c);
	cr_assert_eq(pools.chunks.in_use, 0);
}

Test(streams, write_ref_in_pieces_is_never_copied)
{
	struct qb_stream_params pp = peer_params();
	struct qb_streams *c = make(false, &pp);
	struct qb_send_span sp[16];
	uint64_t a;

	cr_assert_eq(qb_streams_open(c, true, &a), 0);
	/* Three pieces of one buffer, none chunk-aligned: one span. */
	cr_assert_eq(qb_streams_write_ref(c, a, buf, 700, false), 700);
	cr_assert_eq(qb_streams_write_ref(c, a, buf + 700, 900, false), 900);
	cr_assert_eq(qb_streams_write_ref(c, a, buf + 1600, 1400, false), 1400);
	cr_assert_eq(send_spans(c, 4000, sp, 16), 1);
	cr_assert_eq(sp[0].len, 3000);
	cr_assert_eq(sp[0].data, buf, "not copied");
	/* A copied write after a partly filled referenced chunk: the chunk's
	 * bytes move into it, and every byte stays right. */
	cr_assert_eq(qb_streams_write(c, a, buf + 3000, 100, true), 100);
	cr_assert_eq(send_spans(c, 4000, sp, 16), 2, "up to the chunk boundary, then the rest");
	cr_assert_eq(sp[0].offset, 3000);
	cr_assert_eq(sp[0].len, 72);
	cr_assert_arr_eq(sp[0].data, buf + 3000, 72);
	cr_assert_neq(sp[0].data, buf + 3000, "a copy");
	cr_assert_eq(sp[1].len, 28);
	cr_assert_arr_eq(sp[1].data, buf + 3072, 28);
	/* The referenced bytes of that chunk, lost and resent, from the copy. */
	qb_streams_on_data_lost(c, a, 2500, 400, false);
	cr_assert(qb_streams_send_peek(c, 4000, &sp[1]));
	cr_assert_eq(sp[1].offset, 2500);
	cr_assert_eq(sp[1].len, 400);
	cr_assert_arr_eq(sp[1].data, buf + 2500, 400);
	qb_streams_send_commit(c, &sp[1]);
	qb_streams_on_data_acked(c, a, 0, 3100, true);
	cr_assert_eq(qb_streams_send_state(c, a), QB_SEND_DATA_RECVD);
	qb_streams_destroy(c);
	cr_assert_eq(pools.chunks.in_use, 0);
}

Test(streams, write_ref_references_whole_chunks)
{
	struct qb_stream_params pp = peer_params();
	struct qb_streams *c = make(false, &pp);
	struct qb_send_span sp[16], x;
	uint64_t a;

	cr_assert_eq(qb_streams_open(c, true, &a), 0);
	cr_assert_eq(qb_streams_write(c, a, buf, 100, false), 100);
	/* 924 copied up to the 1024 boundary, [1024, 3100) referenced. */
	cr_assert_eq(qb_streams_write_ref(c, a, buf + 100, 3000, true), 3000);
	cr_assert_eq(send_spans(c, 2000, sp, 16), 3);
	cr_assert_eq(sp[0].offset, 0);
	cr_assert_eq(sp[0].len, 1024);
	cr_assert_arr_eq(sp[0].data, buf, 1024);
	cr_assert_neq(sp[0].data, buf, "the head is a copy");
	cr_assert_eq(sp[0].gap, QB_SEND_GAP, "a pool chunk lends its own memory");
	/* Referenced chunks that are adjacent in memory make one span. */
	cr_assert_eq(sp[1].offset, 1024);
	cr_assert_eq(sp[1].len, 2000);
	cr_assert_eq(sp[1].data, buf + 1024, "whole chunks are referenced");
	cr_assert_eq(sp[1].gap, 0, "read-only memory: nothing to borrow");
	/* The tail chunk is referenced too, partly filled. */
	cr_assert_eq(sp[2].offset, 3024);
	cr_assert_eq(sp[2].len, 76);
	cr_assert(sp[2].fin);
	cr_assert_eq(sp[2].data, buf + 3024);
	/* A loss in a referenced chunk is resent from the caller's bytes. */
	qb_streams_on_data_lost(c, a, 1500, 300, false);
	cr_assert(qb_streams_send_peek(c, 2000, &x));
	cr_assert(x.retransmit);
	cr_assert_eq(x.offset, 1500);
	cr_assert_eq(x.len, 300);
	cr_assert_eq(x.data, buf + 1500);
	qb_streams_send_commit(c, &x);
	qb_streams_on_data_acked(c, a, 0, 3100, true);
	cr_assert_eq(qb_streams_send_state(c, a), QB_SEND_DATA_RECVD);
	qb_streams_destroy(c);
	cr_assert_eq(pools.chunks.in_use, 0);
}
