/* SPDX-License-Identifier: BSD-3-Clause */
/* Frames: round trips at smallest and largest values, errors, packet-type rules. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "qburst/frame.h"
#include "hex.h"

#define VMAX QB_VARINT_MAX

static const uint8_t bytes20[20] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                    11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
static const uint8_t token16[16] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                    0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};
static uint8_t big[3000];

static void
assert_same(const struct qb_frame *a, const struct qb_frame *b)
{
	cr_assert_eq(a->type, b->type);
	switch (a->type) {
	case QB_FT_PADDING:
		cr_assert_eq(a->padding.len, b->padding.len);
		break;
	case QB_FT_ACK:
	case QB_FT_ACK_ECN:
		cr_assert_eq(a->ack.largest, b->ack.largest);
		cr_assert_eq(a->ack.delay, b->ack.delay);
		cr_assert_eq(a->ack.range_count, b->ack.range_count);
		cr_assert_eq(a->ack.first_range, b->ack.first_range);
		cr_assert_eq(a->ack.ranges_len, b->ack.ranges_len);
		if (a->ack.ranges_len > 0) /* ranges may be NULL when empty */
			cr_assert_arr_eq(a->ack.ranges, b->ack.ranges, a->ack.ranges_len);
		if (a->type == QB_FT_ACK_ECN) {
			cr_assert_eq(a->ack.ect0, b->ack.ect0);
			cr_assert_eq(a->ack.ect1, b->ack.ect1);
			cr_assert_eq(a->ack.ce, b->ack.ce);
		}
		break;
	case QB_FT_RESET_STREAM:
		cr_assert_eq(a->reset_stream.stream_id, b->reset_stream.stream_id);
		cr_assert_eq(a->reset_stream.error_code, b->reset_stream.error_code);
		cr_assert_eq(a->reset_stream.final_size, b->reset_stream.final_size);
		break;
	case QB_FT_STOP_SENDING:
		cr_assert_eq(a->stop_sending.stream_id, b->stop_sending.stream_id);
		cr_assert_eq(a->stop_sending.error_code, b->stop_sending.error_code);
		break;
	case QB_FT_CRYPTO:
		cr_assert_eq(a->crypto.offset, b->crypto.offset);
		cr_assert_eq(a->crypto.len, b->crypto.len);
		cr_assert_arr_eq(a->crypto.data, b->crypto.data, a->crypto.len);
		break;
	case QB_FT_NEW_TOKEN:
		cr_assert_eq(a->new_token.len, b->new_token.len);
		cr_assert_arr_eq(a->new_token.token, b->new_token.token, a->new_token.len);
		break;
	case QB_FT_MAX_DATA:
		cr_assert_eq(a->max_data.max, b->max_data.max);
		break;
	case QB_FT_MAX_STREAM_DATA:
		cr_assert_eq(a->max_stream_data.stream_id, b->max_stream_data.stream_id);
		cr_assert_eq(a->max_stream_data.max, b->max_stream_data.max);
		break;
	case QB_FT_MAX_STREAMS_BIDI:
	case QB_FT_MAX_STREAMS_UNI:
		cr_assert_eq(a->max_streams.max, b->max_streams.max);
		break;
	case QB_FT_DATA_BLOCKED:
		cr_assert_eq(a->data_blocked.limit, b->data_blocked.limit);
		break;
	case QB_FT_STREAM_DATA_BLOCKED:
		cr_assert_eq(a->stream_data_blocked.stream_id, b->stream_data_blocked.stream_id);
		cr_assert_eq(a->stream_data_blocked.limit, b->stream_data_blocked.limit);
		break;
	case QB_FT_STREAMS_BLOCKED_BIDI:
	case QB_FT_STREAMS_BLOCKED_UNI:
		cr_assert_eq(a->streams_blocked.limit, b->streams_blocked.limit);
		break;
	case QB_FT_NEW_CONNECTION_ID:
		cr_assert_eq(a->new_cid.seq, b->new_cid.seq);
		cr_assert_eq(a->new_cid.retire_prior_to, b->new_cid.retire_prior_to);
		cr_assert_eq(a->new_cid.cid_len, b->new_cid.cid_len);
		cr_assert_arr_eq(a->new_cid.cid, b->new_cid.cid, a->new_cid.cid_len);
		cr_assert_arr_eq(a->new_cid.reset_token, b->new_cid.reset_token, 16);
		break;
	case QB_FT_RETIRE_CONNECTION_ID:
		cr_assert_eq(a->retire_cid.seq, b->retire_cid.seq);
		break;
	case QB_FT_PATH_CHALLENGE:
	case QB_FT_PATH_RESPONSE:
		cr_assert_arr_eq(a->path.data, b->path.data, 8);
		break;
	case QB_FT_CONNECTION_CLOSE:
	case QB_FT_CONNECTION_CLOSE_APP:
		cr_assert_eq(a->close.error_code, b->close.error_code);
		cr_assert_eq(a->close.frame_type, b->close.frame_type);
		cr_assert_eq(a->close.reason_len, b->close.reason_len);
		cr_assert_arr_eq(a->close.reason, b->close.reason, a->close.reason_len);
		break;
	case QB_FT_DATAGRAM:
	case QB_FT_DATAGRAM_LEN:
		cr_assert_eq(a->datagram.len, b->datagram.len);
		cr_assert_arr_eq(a->datagram.data, b->datagram.data, a->datagram.len);
		break;
	case QB_FT_PING:
	case QB_FT_HANDSHAKE_DONE:
		break;
	default:
		cr_assert(a->type >= 0x08 && a->type <= 0x0f, "type %#lx", (unsigned long)a->type);
		cr_assert_eq(a->stream.stream_id, b->stream.stream_id);
		cr_assert_eq(a->stream.offset, b->stream.offset);
		cr_assert_eq(a->stream.len, b->stream.len);
		cr_assert_eq(a->stream.fin, b->stream.fin);
		cr_assert_arr_eq(a->stream.data, b->stream.data, a->stream.len);
	}
}

/* Frames whose prefix can itself be a valid frame (data to the packet end). */
static bool
open_ended(const struct qb_frame *f)
{
	return f->type == QB_FT_PADDING || f->type == QB_FT_DATAGRAM ||
	       (f->type >= 0x08 && f->type <= 0x0f && !(f->type & QB_STREAM_LEN));
}

/*
 * Encodes f into an exact-size heap buffer (ASan sees any overrun), checks
 * one byte less is refused untouched, decodes it back and compares; every
 * strict prefix must fail with FRAME_ENCODING_ERROR.
 */
static void
roundtrip(const struct qb_frame *f)
{
	size_t n = qb_frame_len(f);
	cr_assert_gt(n, 0, "type %#lx cannot be encoded", (unsigned long)f->type);
	uint8_t *buf = malloc(n + 8);
	memset(buf, 0x5a, n + 8);
	cr_assert_eq(qb_frame_encode(buf, n - 1, f), QB_ERR_NOBUF);
	for (size_t i = 0; i < n + 8; i++)
		cr_assert_eq(buf[i], 0x5a, "NOBUF encode wrote byte %zu", i);
	cr_assert_eq(qb_frame_encode(buf, n, f), (int)n);
	for (size_t i = n; i < n + 8; i++)
		cr_assert_eq(buf[i], 0x5a, "encode wrote past its frame");

	uint8_t *exact = malloc(n);
	memcpy(exact, buf, n);
	struct qb_frame d;
	uint64_t terr = 99;
	cr_assert_eq(qb_frame_decode(exact, n, &d, &terr), (int)n, "type %#lx",
	             (unsigned long)f->type);
	cr_assert_eq(terr, QB_TE_NO_ERROR);
	assert_same(f, &d);
	/* Re-encoding the decoded frame gives the same bytes. */
	cr_assert_eq(qb_frame_encode(buf, n, &d), (int)n);
	cr_assert_arr_eq(buf, exact, n);
	if (!open_ended(f)) {
		for (size_t k = 1; k < n; k++) {
			uint8_t *pre = malloc(k);
			memcpy(pre, exact, k);
			terr = 0;
			int rc = qb_frame_decode(pre, k, &d, &terr);
			cr_assert_lt(rc, 0, "type %#lx prefix %zu/%zu accepted",
			             (unsigned long)f->type, k, n);
			cr_assert_eq(terr, QB_TE_FRAME_ENCODING_ERROR);
			free(pre);
		}
	}
	free(exact);
	free(buf);
}

Test(frame, roundtrip_small_and_large)
{
	static const uint8_t ranges_min[] = {0x00, 0x00};
	/* Two pairs, each 8-byte varints: gap 0, len 0 written at maximum width. */
	uint8_t ranges_big[32];
	size_t rbl = qb_test_unhex_ok(
	        "c000000000000000 c000000000000000 c000000000000000 c000000000000000", ranges_big,
	        sizeof(ranges_big));
	struct qb_frame fs[] = {
	        {.type = QB_FT_PADDING, .padding = {1}},
	        {.type = QB_FT_PADDING, .padding = {1500}},
	        {.type = QB_FT_PING},
	        {.type = QB_FT_HANDSHAKE_DONE},
	        {.type = QB_FT_ACK, .ack = {.largest = 0}},
	        {.type = QB_FT_ACK,
	         .ack = {.largest = VMAX,
	                 .delay = VMAX,
	                 .first_range = VMAX - 4,
	                 .range_count = 2,
	                 .ranges = ranges_big,
	                 .ranges_len = rbl}},
	        {.type = QB_FT_ACK_ECN,
	         .ack = {.largest = 10,
	                 .range_count = 1,
	                 .first_range = 3,
	                 .ranges = ranges_min,
	                 .ranges_len = 2,
	                 .ect0 = 0,
	                 .ect1 = 0,
	                 .ce = 0}},
	        {.type = QB_FT_ACK_ECN,
	         .ack = {.largest = VMAX, .ect0 = VMAX, .ect1 = VMAX, .ce = VMAX}},
	        {.type = QB_FT_RESET_STREAM, .reset_stream = {0, 0, 0}},
	        {.type = QB_FT_RESET_STREAM, .reset_stream = {VMAX, VMAX, VMAX}},
	        {.type = QB_FT_STOP_SENDING, .stop_sending = {0, 0}},
	        {.type = QB_FT_STOP_SENDING, .stop_sending = {VMAX, VMAX}},
	        {.type = QB_FT_CRYPTO, .crypto = {0, bytes20, 0}},
	        {.type = QB_FT_CRYPTO, .crypto = {VMAX - sizeof(big), big, sizeof(big)}},
	        {.type = QB_FT_NEW_TOKEN, .new_token = {bytes20, 1}},
	        {.type = QB_FT_NEW_TOKEN, .new_token = {big, sizeof(big)}},
	        {.type = 0x08, .stream = {.stream_id = 0, .data = big, .len = 0}},
	        {.type = 0x08, .stream = {.stream_id = 4, .data = big, .len = 100}},
	        {.type = 0x09, .stream = {.stream_id = VMAX, .data = big, .len = 1, .fin = true}},
	        {.type = 0x0a, .stream = {.stream_id = 1, .data = big, .len = 0}},
	        {.type = 0x0b,
	         .stream = {.stream_id = VMAX, .data = big, .len = sizeof(big), .fin = true}},
	        {.type = 0x0c, .stream = {.stream_id = 0, .offset = 1, .data = big, .len = 5}},
	        {.type = 0x0d,
	         .stream = {.stream_id = 0, .offset = VMAX, .data = big, .len = 0, .fin = true}},
	        {.type = 0x0e,
	         .stream = {.stream_id = 2, .offset = VMAX - 20, .data = big, .len = 20}},
	        {.type = 0x0f,
	         .stream = {.stream_id = VMAX, .offset = VMAX, .data = big, .len = 0, .fin = true}},
	        {.type = QB_FT_MAX_DATA, .max_data = {0}},
	        {.type = QB_FT_MAX_DATA, .max_data = {VMAX}},
	        {.type = QB_FT_MAX_STREAM_DATA, .max_stream_data = {0, 0}},
	        {.type = QB_FT_MAX_STREAM_DATA, .max_stream_data = {VMAX, VMAX}},
	        {.type = QB_FT_MAX_STREAMS_BIDI, .max_streams = {0}},
	        {.type = QB_FT_MAX_STREAMS_BIDI, .max_streams = {QB_MAX_STREAMS_LIMIT}},
	        {.type = QB_FT_MAX_STREAMS_UNI, .max_streams = {QB_MAX_STREAMS_LIMIT}},
	        {.type = QB_FT_DATA_BLOCKED, .data_blocked = {0}},
	        {.type = QB_FT_DATA_BLOCKED, .data_blocked = {VMAX}},
	        {.type = QB_FT_STREAM_DATA_BLOCKED, .stream_data_blocked = {0, 0}},
	        {.type = QB_FT_STREAM_DATA_BLOCKED, .stream_data_blocked = {VMAX, VMAX}},
	        {.type = QB_FT_STREAMS_BLOCKED_BIDI, .streams_blocked = {0}},
	        {.type = QB_FT_STREAMS_BLOCKED_UNI, .streams_blocked = {QB_MAX_STREAMS_LIMIT}},
	        {.type = QB_FT_NEW_CONNECTION_ID, .new_cid = {0, 0, bytes20, 1, token16}},
	        {.type = QB_FT_NEW_CONNECTION_ID, .new_cid = {VMAX, VMAX, bytes20, 20, token16}},
	        {.type = QB_FT_RETIRE_CONNECTION_ID, .retire_cid = {0}},
	        {.type = QB_FT_RETIRE_CONNECTION_ID, .retire_cid = {VMAX}},
	        {.type = QB_FT_PATH_CHALLENGE, .path = {bytes20}},
	        {.type = QB_FT_PATH_RESPONSE, .path = {token16}},
	        {.type = QB_FT_CONNECTION_CLOSE, .close = {0, 0, bytes20, 0}},
	        {.type = QB_FT_CONNECTION_CLOSE, .close = {VMAX, VMAX, big, sizeof(big)}},
	        {.type = QB_FT_CONNECTION_CLOSE_APP, .close = {0, 0, bytes20, 0}},
	        {.type = QB_FT_CONNECTION_CLOSE_APP, .close = {VMAX, 0, big, 300}},
	        {.type = QB_FT_DATAGRAM, .datagram = {bytes20, 0}},
	        {.type = QB_FT_DATAGRAM, .datagram = {big, sizeof(big)}},
	        {.type = QB_FT_DATAGRAM_LEN, .datagram = {bytes20, 0}},
	        {.type = QB_FT_DATAGRAM_LEN, .datagram = {big, sizeof(big)}},
	};
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++)
		roundtrip(&fs[i]);
}

Test(frame, known_bytes)
{
	/* STREAM 0x0e: id 4, offset 0x4000 (4 bytes), len 2, "hi". */
	uint8_t b[16];
	struct qb_frame f = {.type = 0x0e, .stream = {4, 0x4000, (const uint8_t *)"hi", 2, false}};
	int n = qb_frame_encode(b, sizeof(b), &f);
	uint8_t want[16];
	size_t wl = qb_test_unhex_ok("0e 04 80004000 02 6869", want, sizeof(want));
	cr_assert_eq(n, (int)wl);
	cr_assert_arr_eq(b, want, wl);
	/* The server Initial payload of RFC 9001 A.3: ACK then CRYPTO. */
	uint8_t pl[128];
	size_t pn =
	        qb_test_unhex_ok("02000000000600405a020000560303ee fce7f7b37ba1d1632e96677825ddf739"
	                         "88cfc79825df566dc5430b9a045a1200 130100002e00330024001d00209d3c94"
	                         "0d89690b84d08a60993c144eca684d10 81287c834d5311bcf32bb9da1a002b00"
	                         "020304",
	                         pl, sizeof(pl));
	struct qb_frame d;
	uint64_t terr;
	cr_assert_eq(qb_frame_decode(pl, pn, &d, &terr), 5);
	cr_assert_eq(d.type, QB_FT_ACK);
	cr_assert_eq(d.ack.largest, 0);
	cr_assert_eq(d.ack.smallest, 0);
	cr_assert_eq(qb_frame_decode(pl + 5, pn - 5, &d, &terr), (int)pn - 5);
	cr_assert_eq(d.type, QB_FT_CRYPTO);
	cr_assert_eq(d.crypto.offset, 0);
	cr_assert_eq(d.crypto.len, 90);
	cr_assert_eq(d.crypto.data, pl + 9);
	/* Non-minimal varints inside a frame are fine (RFC 9000 §16). */
	size_t l = qb_test_unhex_ok("10 c000000000000005", b, sizeof(b));
	cr_assert_eq(qb_frame_decode(b, l, &d, &terr), (int)l);
	cr_assert_eq(d.max_data.max, 5);
}

static void
expect_err(const char *hex, int rc_want, uint64_t terr_want)
{
	uint8_t b[128];
	size_t n = qb_test_unhex_ok(hex, b, sizeof(b));
	uint8_t *x = malloc(n);
	memcpy(x, b, n);
	struct qb_frame f;
	uint64_t terr = 0;
	int rc = qb_frame_decode(x, n, &f, &terr);
	cr_assert_eq(rc, rc_want, "%s: rc %d", hex, rc);
	cr_assert_eq(terr, terr_want, "%s: terr %#lx", hex, (unsigned long)terr);
	free(x);
}

Test(frame, decode_errors)
{
	const uint64_t FEE = QB_TE_FRAME_ENCODING_ERROR, PV = QB_TE_PROTOCOL_VIOLATION;
	/* Frame type not minimal: PING as 0x4001 (RFC 9000 §12.4). */
	expect_err("4001", QB_ERR_PROTO, PV);
	expect_err("4000", QB_ERR_PROTO, PV);
	expect_err("80000006 00 00", QB_ERR_PROTO, PV);
	/* Unknown types. */
	expect_err("1f", QB_ERR_INVALID, FEE);
	expect_err("21", QB_ERR_INVALID, FEE);
	expect_err("4040", QB_ERR_INVALID, FEE);
	expect_err("40", QB_ERR_TRUNCATED, FEE);
	/* STREAM offset + length beyond 2^62-1 (§19.8). */
	expect_err("0e 00 ffffffffffffffff 01 aa", QB_ERR_INVALID, FEE);
	expect_err("0c 00 ffffffffffffffff aa", QB_ERR_INVALID, FEE);
	expect_err("0d 00 ffffffffffffffff", 10, QB_TE_NO_ERROR);
	/* Length past the end. */
	expect_err("0a 00 05 aabbcc", QB_ERR_TRUNCATED, FEE);
	/* CRYPTO offset + length beyond 2^62-1 (§19.6). */
	expect_err("06 ffffffffffffffff 01 aa", QB_ERR_INVALID, FEE);
	/* Empty NEW_TOKEN (§19.7). */
	expect_err("07 00", QB_ERR_INVALID, FEE);
	/* MAX_STREAMS / STREAMS_BLOCKED > 2^60 (§19.11, §19.14). */
	expect_err("12 d000000000000001", QB_ERR_INVALID, FEE);
	expect_err("13 d000000000000001", QB_ERR_INVALID, FEE);
	expect_err("16 d000000000000001", QB_ERR_INVALID, FEE);
	expect_err("17 d000000000000001", QB_ERR_INVALID, FEE);
	expect_err("12 d000000000000000", 9, QB_TE_NO_ERROR);
	/* NEW_CONNECTION_ID: length 0, 21; retire_prior_to > seq (§19.15). */
	expect_err("18 01 00 00 00112233445566778899aabbccddeeff", QB_ERR_INVALID, FEE);
	expect_err("18 01 00 15 000102030405060708090a0b0c0d0e0f1011121314"
	           " 00112233445566778899aabbccddeeff",
	           QB_ERR_INVALID, FEE);
	expect_err("18 01 02 01 aa 00112233445566778899aabbccddeeff", QB_ERR_INVALID, FEE);
	expect_err("18 02 02 01 aa 00112233445566778899aabbccddeeff", 21, QB_TE_NO_ERROR);
	expect_err("18 02 02 01 aa 00112233445566778899aabbccddee", QB_ERR_TRUNCATED, FEE);
	/* ACK: first range beyond largest, gap or range below zero (§19.3.1). */
	expect_err("02 05 00 00 06", QB_ERR_INVALID, FEE);
	expect_err("02 05 00 00 05", 5, QB_TE_NO_ERROR);
	expect_err("02 05 00 01 02 02 00", QB_ERR_INVALID, FEE); /* 3 - 2 - 2 < 0 */
	expect_err("02 05 00 01 02 01 00", 7, QB_TE_NO_ERROR);   /* range [0,0] */
	expect_err("02 05 00 01 02 00 02", QB_ERR_INVALID, FEE); /* [0..1] - 2 */
	expect_err("02 05 00 02 00 00 00", QB_ERR_TRUNCATED, FEE);
	expect_err("02 05 00 ffffffffffffffff 00", QB_ERR_TRUNCATED, FEE);
	expect_err("03 05 00 00 00 01 02", QB_ERR_TRUNCATED, FEE);
	/* PATH_CHALLENGE short; CONNECTION_CLOSE reason past the end. */
	expect_err("1a 00112233445566", QB_ERR_TRUNCATED, FEE);
	expect_err("1c 00 00 04 616263", QB_ERR_TRUNCATED, FEE);
	expect_err("1d 00 04 61626364", 7, QB_TE_NO_ERROR);
	expect_err("31 03 6162", QB_ERR_TRUNCATED, FEE);
	/* PADDING runs are one frame. */
	expect_err("000000 01", 3, QB_TE_NO_ERROR);
}

Test(frame, encode_refuses_unencodable)
{
	uint8_t b[64];
	struct qb_frame f = {.type = QB_FT_MAX_STREAMS_BIDI,
	                     .max_streams = {QB_MAX_STREAMS_LIMIT + 1}};
	cr_assert_eq(qb_frame_encode(b, sizeof(b), &f), QB_ERR_ARG);
	f = (struct qb_frame){.type = QB_FT_MAX_DATA, .max_data = {VMAX + 1}};
	cr_assert_eq(qb_frame_encode(b, sizeof(b), &f), QB_ERR_ARG);
	f = (struct qb_frame){.type = QB_FT_NEW_CONNECTION_ID,
	                      .new_cid = {1, 2, bytes20, 4, token16}};
	cr_assert_eq(qb_frame_encode(b, sizeof(b), &f), QB_ERR_ARG);
	f = (struct qb_frame){.type = QB_FT_NEW_CONNECTION_ID,
	                      .new_cid = {1, 0, bytes20, 21, token16}};
	cr_assert_eq(qb_frame_encode(b, sizeof(b), &f), QB_ERR_ARG);
	f = (struct qb_frame){.type = 0x0a, .stream = {.stream_id = 0, .offset = 5}};
	cr_assert_eq(qb_frame_encode(b, sizeof(b), &f), QB_ERR_ARG, "offset without OFF bit");
	f = (struct qb_frame){.type = 0x1f};
	cr_assert_eq(qb_frame_encode(b, sizeof(b), &f), QB_ERR_ARG);
}

Test(frame, ack_from_ranges)
{
	const struct qb_ack_range r[] = {{100, 120}, {90, 97}, {50, 50}, {0, 10}};
	uint8_t b[64];
	size_t done = 0;
	const uint64_t ecn[3] = {5, 6, 7};
	int n = qb_frame_enc_ack(b, sizeof(b), r, 4, 33, ecn, &done);
	cr_assert_gt(n, 0);
	cr_assert_eq(done, 4);
	uint8_t want[32];
	/* largest 120, delay 33, count 3, first 20; gaps 100-97-2=1 len 7, 90-50-2=38 len 0,
	 * 50-10-2=38 len 10; ECN 5 6 7. */
	size_t wl = qb_test_unhex_ok("03 40 78 21 03 14 01 07 26 00 26 0a 05 06 07", want,
	                             sizeof(want));
	cr_assert_eq(n, (int)wl);
	cr_assert_arr_eq(b, want, wl);

	struct qb_frame f;
	uint64_t terr;
	cr_assert_eq(qb_frame_decode(b, (size_t)n, &f, &terr), n);
	cr_assert_eq(f.ack.smallest, 0);
	cr_assert(f.ack.ecn);
	cr_assert_eq(f.ack.ce, 7);
	struct qb_ack_range out[4];
	cr_assert_eq(qb_ack_ranges(&f.ack, out, 4), 4);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(out[i].smallest, r[i].smallest);
		cr_assert_eq(out[i].largest, r[i].largest);
	}
	cr_assert_eq(qb_ack_ranges(&f.ack, out, 2), 2, "caller's max respected");
	cr_assert_eq(qb_ack_ranges(&f.ack, out, 0), 0);

	/* Less room: the oldest ranges are dropped, never a partial frame. */
	for (size_t room = 0; room < wl; room++) {
		memset(b, 0xee, sizeof(b));
		n = qb_frame_enc_ack(b, room, r, 4, 33, ecn, &done);
		if (room < 9) { /* 8 fixed bytes + the range count */
			cr_assert_eq(n, QB_ERR_NOBUF, "room %zu", room);
		} else {
			cr_assert_gt(n, 0);
			cr_assert_leq((size_t)n, room);
			cr_assert_lt(done, 4);
			cr_assert_eq(qb_frame_decode(b, (size_t)n, &f, &terr), n);
			cr_assert_eq(f.ack.range_count, done - 1);
		}
		cr_assert_eq(b[room], 0xee, "wrote past room %zu", room);
	}
	/* Adjacent or overlapping ranges are the caller's bug. */
	const struct qb_ack_range bad[] = {{100, 120}, {90, 99}};
	cr_assert_eq(qb_frame_enc_ack(b, sizeof(b), bad, 2, 0, NULL, NULL), QB_ERR_ARG);
	const struct qb_ack_range inv[] = {{121, 120}};
	cr_assert_eq(qb_frame_enc_ack(b, sizeof(b), inv, 1, 0, NULL, NULL), QB_ERR_ARG);
}

Test(frame, packet_type_rules)
{
	const uint64_t PV = QB_TE_PROTOCOL_VIOLATION;
	/* RFC 9000 §12.4 Table 3. */
	cr_assert_eq(qb_frame_check(QB_FT_PADDING, QB_PKT_INITIAL, true), 0);
	cr_assert_eq(qb_frame_check(QB_FT_PING, QB_PKT_0RTT, false), 0);
	cr_assert_eq(qb_frame_check(QB_FT_ACK, QB_PKT_HANDSHAKE, true), 0);
	cr_assert_eq(qb_frame_check(QB_FT_ACK_ECN, QB_PKT_0RTT, false), PV);
	cr_assert_eq(qb_frame_check(QB_FT_CRYPTO, QB_PKT_INITIAL, false), 0);
	cr_assert_eq(qb_frame_check(QB_FT_CRYPTO, QB_PKT_0RTT, false), PV);
	cr_assert_eq(qb_frame_check(0x0f, QB_PKT_INITIAL, false), PV);
	cr_assert_eq(qb_frame_check(0x0f, QB_PKT_0RTT, false), 0);
	cr_assert_eq(qb_frame_check(QB_FT_NEW_TOKEN, QB_PKT_1RTT, true), 0);
	cr_assert_eq(qb_frame_check(QB_FT_NEW_TOKEN, QB_PKT_1RTT, false), PV, "§19.7");
	cr_assert_eq(qb_frame_check(QB_FT_HANDSHAKE_DONE, QB_PKT_1RTT, false), PV, "§19.20");
	cr_assert_eq(qb_frame_check(QB_FT_HANDSHAKE_DONE, QB_PKT_HANDSHAKE, true), PV);
	cr_assert_eq(qb_frame_check(QB_FT_PATH_RESPONSE, QB_PKT_0RTT, false), PV);
	cr_assert_eq(qb_frame_check(QB_FT_PATH_CHALLENGE, QB_PKT_0RTT, false), 0);
	cr_assert_eq(qb_frame_check(QB_FT_CONNECTION_CLOSE, QB_PKT_INITIAL, true), 0);
	cr_assert_eq(qb_frame_check(QB_FT_CONNECTION_CLOSE_APP, QB_PKT_INITIAL, true), PV);
	cr_assert_eq(qb_frame_check(QB_FT_CONNECTION_CLOSE_APP, QB_PKT_HANDSHAKE, true), PV);
	cr_assert_eq(qb_frame_check(QB_FT_MAX_STREAMS_UNI, QB_PKT_HANDSHAKE, true), PV);
	cr_assert_eq(qb_frame_check(QB_FT_DATAGRAM_LEN, QB_PKT_0RTT, false), 0);
	cr_assert_eq(qb_frame_check(QB_FT_DATAGRAM, QB_PKT_INITIAL, false), PV);
	cr_assert_eq(qb_frame_check(0x1f, QB_PKT_1RTT, true), QB_TE_FRAME_ENCODING_ERROR);
	cr_assert_eq(qb_frame_check(0x40, QB_PKT_1RTT, true), QB_TE_FRAME_ENCODING_ERROR);
	/* Every known type is allowed in 1-RTT from a server. */
	for (uint64_t t = 0; t <= 0x1e; t++)
		cr_assert_eq(qb_frame_check(t, QB_PKT_1RTT, true), 0, "type %#lx",
		             (unsigned long)t);
	cr_assert(qb_frame_ack_eliciting(QB_FT_PING));
	cr_assert(!qb_frame_ack_eliciting(QB_FT_ACK));
	cr_assert(!qb_frame_ack_eliciting(QB_FT_CONNECTION_CLOSE_APP));
	cr_assert(qb_frame_probing(QB_FT_PATH_CHALLENGE));
	cr_assert(!qb_frame_probing(QB_FT_PING));
}

/* Decodes a finished packet's payload back into frames. */
static size_t
decode_all(const uint8_t *p, size_t n, struct qb_frame *out, size_t max)
{
	size_t k = 0;
	while (n > 0 && k < max) {
		uint64_t terr;
		int rc = qb_frame_decode(p, n, &out[k++], &terr);
		cr_assert_gt(rc, 0, "payload does not decode: %d", rc);
		p += rc;
		n -= (size_t)rc;
	}
	cr_assert_eq(n, 0);
	return k;
}

Test(frame, stream_fitting)
{
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 13);
	/* For every capacity: the frame fits, never overruns, and decodes back. */
	for (size_t cap = 30; cap < 200; cap++) {
		uint8_t mem[256];
		memset(mem, 0xc3, sizeof(mem));
		struct qb_pkt_enc e;
		struct qb_pkt_layout info;
		uint8_t cid[8] = {0};
		qb_pkt_enc_init(&e, mem, cap);
		cr_assert_eq(qb_pkt_enc_begin_short(&e, cid, 8, false, false, 1, 2), 0);
		size_t room = qb_pkt_enc_room(&e);
		size_t want = 100, taken = 0;
		int rc = qb_pkt_enc_stream(&e, 4, 1000, big, want, true, &taken);
		if (rc == QB_ERR_NOBUF) {
			cr_assert_leq(room, 4, "cap %zu room %zu refused", cap, room);
			continue;
		}
		cr_assert_eq(rc, 0);
		cr_assert_gt(taken, 0);
		cr_assert_leq(taken, want);
		cr_assert_eq(qb_pkt_enc_finish(&e, &info), 0);
		cr_assert_leq(qb_pkt_enc_len(&e), cap);
		for (size_t i = cap; i < sizeof(mem); i++)
			cr_assert_eq(mem[i], 0xc3, "cap %zu: byte %zu overwritten", cap, i);
		struct qb_frame f[4];
		size_t k = decode_all(mem + info.hdr_len, info.payload_len, f, 4);
		cr_assert_geq(k, 1);
		cr_assert_eq(f[0].type & ~7u, QB_FT_STREAM);
		cr_assert_eq(f[0].stream.stream_id, 4);
		cr_assert_eq(f[0].stream.offset, 1000);
		cr_assert_eq(f[0].stream.len, taken);
		cr_assert_eq(f[0].stream.fin, taken == want);
		cr_assert_arr_eq(f[0].stream.data, big, taken);
		/* Partial frames use (almost) all the room: at most 1 byte left over. */
		if (taken < want)
			cr_assert_leq(room - info.payload_len, 1, "cap %zu room %zu taken %zu", cap,
			              room, taken);
	}
}

Test(frame, stream_fin_only_and_crypto_and_datagram)
{
	uint8_t mem[200];
	struct qb_pkt_enc e;
	struct qb_pkt_layout info;
	size_t taken = 99;
	qb_pkt_enc_init(&e, mem, sizeof(mem));
	cr_assert_eq(qb_pkt_enc_begin_long(&e, QB_VERSION_1, QB_PKT_HANDSHAKE, NULL, 0, NULL, 0,
	                                   NULL, 0, 0, 1),
	             0);
	cr_assert_eq(qb_pkt_enc_stream(&e, 0, 0, NULL, 0, false, &taken), QB_ERR_ARG);
	cr_assert_eq(qb_pkt_enc_stream(&e, 0, 7, NULL, 0, true, &taken), 0);
	cr_assert_eq(taken, 0);
	cr_assert_eq(qb_pkt_enc_crypto(&e, 5, big, 40, &taken), 0);
	cr_assert_eq(taken, 40);
	cr_assert_eq(qb_pkt_enc_datagram(&e, big, 10), 0);
	cr_assert_eq(qb_pkt_enc_datagram(&e, big, 200), QB_ERR_NOBUF);
	struct qb_frame ping = {.type = QB_FT_PING};
	cr_assert_eq(qb_pkt_enc_frame(&e, &ping), 0);
	/* CRYPTO larger than the room: cut to fit. */
	cr_assert_gt(qb_pkt_enc_room(&e), 20);
	cr_assert_eq(qb_pkt_enc_crypto(&e, 45, big, 1000, &taken), 0);
	cr_assert_lt(taken, 1000);
	cr_assert_leq(qb_pkt_enc_room(&e), 1);
	cr_assert_eq(qb_pkt_enc_finish(&e, &info), 0);
	cr_assert_geq(qb_pkt_enc_len(&e), sizeof(mem) - 1,
	              "the cut CRYPTO frame fills the datagram");
	struct qb_frame f[8];
	size_t k = decode_all(mem + info.hdr_len, info.payload_len, f, 8);
	cr_assert_eq(k, 5);
	cr_assert_eq(f[0].type, 0x0f);
	cr_assert_eq(f[0].stream.offset, 7);
	cr_assert(f[0].stream.fin);
	cr_assert_eq(f[1].crypto.offset, 5);
	cr_assert_eq(f[2].type, QB_FT_DATAGRAM_LEN);
	cr_assert_eq(f[2].datagram.len, 10);
	cr_assert_eq(f[3].type, QB_FT_PING);
	cr_assert_eq(f[4].crypto.offset, 45);
	cr_assert_eq(f[4].crypto.len, taken);
}

Test(frame, closed_packet_takes_nothing_more)
{
	uint8_t mem[100];
	struct qb_pkt_enc e;
	size_t taken;
	qb_pkt_enc_init(&e, mem, sizeof(mem));
	cr_assert_eq(qb_pkt_enc_begin_short(&e, NULL, 0, false, false, 0, 1), 0);
	cr_assert_eq(qb_pkt_enc_stream(&e, 0, 0, big, 500, false, &taken), 0);
	cr_assert_eq(taken, 100 - 2 - 16 - 2, "LEN-less frame fills the packet");
	cr_assert_eq(qb_pkt_enc_room(&e), 0);
	struct qb_frame ping = {.type = QB_FT_PING};
	cr_assert_eq(qb_pkt_enc_frame(&e, &ping), QB_ERR_NOBUF);
	cr_assert_eq(qb_pkt_enc_pad(&e, 1), QB_ERR_NOBUF);
	cr_assert_eq(qb_pkt_enc_finish(&e, NULL), 0);
	cr_assert_eq(qb_pkt_enc_len(&e), 100);
	cr_assert_eq(mem[2], 0x08, "STREAM without OFF, LEN, FIN");
}

Test(frame, rfc9001_a2_client_payload)
{
	/* The client Initial's CRYPTO frame then PADDING to 1162 bytes. */
	static uint8_t pl[1162];
	size_t n =
	        qb_test_unhex_ok("060040f1010000ed0303ebf8fa56f129 39b9584a3896472ec40bb863cfd3e868"
	                         "04fe3a47f06a2b69484c000004130113 02010000c000000010000e00000b6578"
	                         "616d706c652e636f6dff01000100000a 00080006001d00170018001000070005"
	                         "04616c706e0005000501000000000033 00260024001d00209370b2c9caa47fba"
	                         "baf4559fedba753de171fa71f50f1ce1 5d43e994ec74d748002b000302030400"
	                         "0d0010000e0403050306030203080408 050806002d00020101001c0002400100"
	                         "3900320408ffffffffffffffff050480 00ffff07048000ffff08011001048000"
	                         "75300901100f088394c8f03e51570806 048000ffff",
	                         pl, sizeof(pl));
	cr_assert_eq(n, 245);
	struct qb_frame f[4];
	size_t k = decode_all(pl, sizeof(pl), f, 4);
	cr_assert_eq(k, 2);
	cr_assert_eq(f[0].type, QB_FT_CRYPTO);
	cr_assert_eq(f[0].crypto.len, 241);
	cr_assert_eq(f[1].type, QB_FT_PADDING);
	cr_assert_eq(f[1].padding.len, 1162 - 245, "one PADDING run");
	for (size_t i = 0; i < k; i++)
		cr_assert_eq(qb_frame_check(f[i].type, QB_PKT_INITIAL, false), 0);
}

Test(frame, open_ended_frames_close_the_packet)
{
	uint8_t mem[100];
	struct qb_pkt_enc e;
	qb_pkt_enc_init(&e, mem, sizeof(mem));
	cr_assert_eq(qb_pkt_enc_begin_short(&e, NULL, 0, false, false, 0, 1), 0);
	/* An empty DATAGRAM 0x30 would leave pn + frames at 2 < 4: refused. */
	struct qb_frame dg = {.type = QB_FT_DATAGRAM, .datagram = {big, 0}};
	cr_assert_eq(qb_pkt_enc_frame(&e, &dg), QB_ERR_ARG);
	dg.datagram.len = 5;
	cr_assert_eq(qb_pkt_enc_frame(&e, &dg), 0);
	cr_assert_eq(qb_pkt_enc_room(&e), 0, "nothing may follow DATAGRAM 0x30");
	struct qb_frame ping = {.type = QB_FT_PING};
	cr_assert_eq(qb_pkt_enc_frame(&e, &ping), QB_ERR_NOBUF);
	struct qb_pkt_layout L;
	cr_assert_eq(qb_pkt_enc_finish(&e, &L), 0);
	cr_assert_eq(L.payload_len, 6);
	struct qb_frame f;
	uint64_t terr;
	cr_assert_eq(qb_frame_decode(mem + L.hdr_len, L.payload_len, &f, &terr), 6);
	cr_assert_eq(f.datagram.len, 5);
}
