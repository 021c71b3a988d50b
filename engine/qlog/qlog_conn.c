/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The connection's QUIC events (draft-ietf-quic-qlog-quic-events, the file
 * in /work/shared/reference; all in the "quic" namespace): packet_sent,
 * packet_received (frames decoded again from the plaintext, only when qlog
 * is on), packet_dropped, packet_lost, connection_started,
 * connection_state_updated, connection_closed, parameters_set, key_updated,
 * key_discarded, recovery_metrics_updated. State-like events are found by
 * comparing the connection with what was last logged (qb_qlog_conn_sync),
 * which keeps the hooks in engine/conn to one line each.
 */
#include <string.h>

#include "conn/conn_internal.h"
#include "qlog/qlog_conn.h"
#include "qlog/qlog_internal.h"

#define QLOG_ACK_RANGES 32 /* ACK ranges listed per frame */
#define QLOG_MAX_FRAMES 64 /* frames listed per packet */
#define QLOG_TP_BUF     256

/* Derived connection states (§4.6 base and granular states), in order. */
enum qlog_cstate {
	QS_NONE = 0,
	QS_ATTEMPTED,
	QS_HS_STARTED,
	QS_HS_COMPLETE,
	QS_HS_CONFIRMED,
	QS_CLOSING,
	QS_DRAINING,
	QS_CLOSED,
};

static const char *const cstate_name[] = {
        "",
        "attempted",
        "handshake_started",
        "handshake_complete",
        "handshake_confirmed",
        "closing",
        "draining",
        "closed",
};

static const char *
pkt_type_name(uint8_t t)
{
	switch (t) {
	case QB_PKT_INITIAL:
		return "initial";
	case QB_PKT_HANDSHAKE:
		return "handshake";
	case QB_PKT_0RTT:
		return "0RTT";
	case QB_PKT_1RTT:
		return "1RTT";
	case QB_PKT_RETRY:
		return "retry";
	case QB_PKT_VN:
		return "version_negotiation";
	default:
		return "unknown";
	}
}

static const char *const ep_pkt_type[CONN_NEP] = {"initial", "handshake", "1RTT"};

/* $TransportError (§8.13.1) or CryptoError; NULL: "unknown" + error_code. */
static const char *
transport_error_name(uint64_t code, char *buf)
{
	static const char *const names[] = {
	        "no_error",
	        "internal_error",
	        "connection_refused",
	        "flow_control_error",
	        "stream_limit_error",
	        "stream_state_error",
	        "final_size_error",
	        "frame_encoding_error",
	        "transport_parameter_error",
	        "connection_id_limit_error",
	        "protocol_violation",
	        "invalid_token",
	        "application_error",
	        "crypto_buffer_exceeded",
	        "key_update_error",
	        "aead_limit_reached",
	        "no_viable_path",
	};
	static const char hex[] = "0123456789abcdef";
	if (code < sizeof(names) / sizeof(names[0]))
		return names[code];
	if (code >= 0x100 && code <= 0x1ff) {
		/* RFC 9001 §4.8: a TLS alert; the draft's crypto_error_0x1XX. */
		memcpy(buf, "crypto_error_0x1", 16);
		buf[16] = hex[(code >> 4) & 15];
		buf[17] = hex[code & 15];
		buf[18] = 0;
		return buf;
	}
	return NULL;
}

/* ---- Frames ---------------------------------------------------------------- */

static void
raw_len(struct qb_qlog *q, uint64_t len)
{
	qb_qlog_obj_open(q, "raw");
	qb_qlog_u64(q, "length", len);
	qb_qlog_obj_close(q);
}

static void
log_ack(struct qb_qlog *q, const struct qb_frame *f, uint8_t exp)
{
	struct qb_ack_range ar[QLOG_ACK_RANGES];
	size_t n = qb_ack_ranges(&f->ack, ar, QLOG_ACK_RANGES);

	qb_qlog_str(q, "frame_type", "ack");
	qb_qlog_ms(q, "ack_delay", qb_ack_delay_decode(f->ack.delay, exp));
	qb_qlog_arr_open(q, "acked_ranges");
	for (size_t i = 0; i < n; i++) {
		qb_qlog_arr_open(q, NULL);
		qb_qlog_arr_u64(q, ar[i].smallest);
		if (ar[i].largest != ar[i].smallest)
			qb_qlog_arr_u64(q, ar[i].largest);
		qb_qlog_arr_close(q);
	}
	qb_qlog_arr_close(q);
	if (f->ack.ecn) {
		qb_qlog_u64(q, "ect1", f->ack.ect1);
		qb_qlog_u64(q, "ect0", f->ack.ect0);
		qb_qlog_u64(q, "ce", f->ack.ce);
	}
}

static void
log_close(struct qb_qlog *q, const struct qb_frame *f)
{
	char b[20];
	bool app = f->type == QB_FT_CONNECTION_CLOSE_APP;
	const char *name = app ? NULL : transport_error_name(f->close.error_code, b);

	qb_qlog_str(q, "frame_type", "connection_close");
	qb_qlog_str(q, "error_space", app ? "application" : "transport");
	qb_qlog_str(q, "error", name != NULL ? name : "unknown");
	if (name == NULL)
		qb_qlog_u64(q, "error_code", f->close.error_code);
	qb_qlog_strn(q, "reason", (const char *)f->close.reason, f->close.reason_len);
	if (!app)
		qb_qlog_u64(q, "trigger_frame_type", f->close.frame_type);
}

/* One $QuicFrame (§8.12) of frame length n; exp: the sender's ack_delay_exponent. */
static void
log_frame(struct qb_qlog *q, const struct qb_frame *f, size_t n, uint8_t exp)
{
	uint64_t t = f->type;

	qb_qlog_obj_open(q, NULL);
	if (t >= QB_FT_STREAM && t <= (QB_FT_STREAM | 7)) {
		qb_qlog_str(q, "frame_type", "stream");
		qb_qlog_u64(q, "stream_id", f->stream.stream_id);
		qb_qlog_u64(q, "offset", f->stream.offset);
		/* StreamFrame: the frame's Length (data bytes) goes in raw.length. */
		raw_len(q, f->stream.len);
		if (f->stream.fin)
			qb_qlog_bool(q, "fin", true);
		qb_qlog_obj_close(q);
		return;
	}
	switch (t) {
	case QB_FT_PADDING:
		qb_qlog_str(q, "frame_type", "padding");
		qb_qlog_obj_open(q, "raw");
		qb_qlog_u64(q, "length", n);
		qb_qlog_u64(q, "payload_length", f->padding.len);
		qb_qlog_obj_close(q);
		break;
	case QB_FT_PING:
		qb_qlog_str(q, "frame_type", "ping");
		break;
	case QB_FT_ACK:
	case QB_FT_ACK_ECN:
		log_ack(q, f, exp);
		break;
	case QB_FT_RESET_STREAM:
		qb_qlog_str(q, "frame_type", "reset_stream");
		qb_qlog_u64(q, "stream_id", f->reset_stream.stream_id);
		qb_qlog_str(q, "error", "unknown");
		qb_qlog_u64(q, "error_code", f->reset_stream.error_code);
		qb_qlog_u64(q, "final_size", f->reset_stream.final_size);
		break;
	case QB_FT_STOP_SENDING:
		qb_qlog_str(q, "frame_type", "stop_sending");
		qb_qlog_u64(q, "stream_id", f->stop_sending.stream_id);
		qb_qlog_str(q, "error", "unknown");
		qb_qlog_u64(q, "error_code", f->stop_sending.error_code);
		break;
	case QB_FT_CRYPTO:
		qb_qlog_str(q, "frame_type", "crypto");
		qb_qlog_u64(q, "offset", f->crypto.offset);
		qb_qlog_obj_open(q, "raw");
		qb_qlog_u64(q, "length", f->crypto.len);
		qb_qlog_obj_close(q);
		break;
	case QB_FT_NEW_TOKEN:
		qb_qlog_str(q, "frame_type", "new_token");
		qb_qlog_obj_open(q, "token");
		raw_len(q, f->new_token.len);
		qb_qlog_obj_close(q);
		break;
	case QB_FT_MAX_DATA:
		qb_qlog_str(q, "frame_type", "max_data");
		qb_qlog_u64(q, "maximum", f->max_data.max);
		break;
	case QB_FT_MAX_STREAM_DATA:
		qb_qlog_str(q, "frame_type", "max_stream_data");
		qb_qlog_u64(q, "stream_id", f->max_stream_data.stream_id);
		qb_qlog_u64(q, "maximum", f->max_stream_data.max);
		break;
	case QB_FT_MAX_STREAMS_BIDI:
	case QB_FT_MAX_STREAMS_UNI:
		qb_qlog_str(q, "frame_type", "max_streams");
		qb_qlog_str(q, "stream_type",
		            t == QB_FT_MAX_STREAMS_BIDI ? "bidirectional" : "unidirectional");
		qb_qlog_u64(q, "maximum", f->max_streams.max);
		break;
	case QB_FT_DATA_BLOCKED:
		qb_qlog_str(q, "frame_type", "data_blocked");
		qb_qlog_u64(q, "limit", f->data_blocked.limit);
		break;
	case QB_FT_STREAM_DATA_BLOCKED:
		qb_qlog_str(q, "frame_type", "stream_data_blocked");
		qb_qlog_u64(q, "stream_id", f->stream_data_blocked.stream_id);
		qb_qlog_u64(q, "limit", f->stream_data_blocked.limit);
		break;
	case QB_FT_STREAMS_BLOCKED_BIDI:
	case QB_FT_STREAMS_BLOCKED_UNI:
		qb_qlog_str(q, "frame_type", "streams_blocked");
		qb_qlog_str(q, "stream_type",
		            t == QB_FT_STREAMS_BLOCKED_BIDI ? "bidirectional" : "unidirectional");
		qb_qlog_u64(q, "limit", f->streams_blocked.limit);
		break;
	case QB_FT_NEW_CONNECTION_ID:
		/* The stateless reset token is left out (it could end the connection). */
		qb_qlog_str(q, "frame_type", "new_connection_id");
		qb_qlog_u64(q, "sequence_number", f->new_cid.seq);
		qb_qlog_u64(q, "retire_prior_to", f->new_cid.retire_prior_to);
		qb_qlog_u64(q, "connection_id_length", f->new_cid.cid_len);
		qb_qlog_hex(q, "connection_id", f->new_cid.cid, f->new_cid.cid_len);
		break;
	case QB_FT_RETIRE_CONNECTION_ID:
		qb_qlog_str(q, "frame_type", "retire_connection_id");
		qb_qlog_u64(q, "sequence_number", f->retire_cid.seq);
		break;
	case QB_FT_PATH_CHALLENGE:
	case QB_FT_PATH_RESPONSE:
		qb_qlog_str(q, "frame_type",
		            t == QB_FT_PATH_CHALLENGE ? "path_challenge" : "path_response");
		qb_qlog_hex(q, "data", f->path.data, QB_PATH_DATA_LEN);
		break;
	case QB_FT_CONNECTION_CLOSE:
	case QB_FT_CONNECTION_CLOSE_APP:
		log_close(q, f);
		break;
	case QB_FT_HANDSHAKE_DONE:
		qb_qlog_str(q, "frame_type", "handshake_done");
		break;
	case QB_FT_DATAGRAM:
	case QB_FT_DATAGRAM_LEN:
		qb_qlog_str(q, "frame_type", "datagram");
		raw_len(q, f->datagram.len);
		break;
	default:
		qb_qlog_str(q, "frame_type", "unknown");
		qb_qlog_u64(q, "frame_type_bytes", t);
		break;
	}
	qb_qlog_obj_close(q);
}

/* "frames": the payload's frames decoded again (stops at an undecodable one). */
static void
log_frames(struct qb_qlog *q, const uint8_t *p, size_t len, uint8_t exp)
{
	const uint8_t *end = p + len;
	unsigned count = 0;

	qb_qlog_arr_open(q, "frames");
	while (p < end && count < QLOG_MAX_FRAMES) {
		struct qb_frame f;
		uint64_t terr = 0;
		int n = qb_frame_decode(p, (size_t)(end - p), &f, &terr);
		if (n <= 0)
			break;
		log_frame(q, &f, (size_t)n, exp);
		p += n;
		count++;
	}
	qb_qlog_arr_close(q);
}

/* ---- Packets --------------------------------------------------------------- */

static void
log_version(struct qb_qlog *q, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	qb_qlog_hex(q, "version", b, 4);
}

void
qb_qlog_conn_rx(struct qb_conn *c, const struct qb_pkt_hdr *h, const struct qb_crypto_hdr *ch,
                const uint8_t *pkt, uint64_t now)
{
	struct qb_qlog *q = c->cfg.qlog;

	qb_qlog_event_begin(q, now, "packet_received");
	qb_qlog_obj_open(q, "header");
	qb_qlog_str(q, "packet_type", pkt_type_name(h->type));
	qb_qlog_u64(q, "packet_number", ch->pn);
	qb_qlog_u64(q, "packet_number_length", ch->pn_len);
	if (h->type == QB_PKT_1RTT) {
		qb_qlog_bool(q, "key_phase_bit", qb_pkt_key_phase(ch->first_byte) != 0);
		qb_qlog_bool(q, "spin_bit", h->spin);
	} else {
		log_version(q, h->version);
		qb_qlog_u64(q, "length", h->len - ch->pn_offset);
		qb_qlog_u64(q, "scil", h->scid_len);
		qb_qlog_hex(q, "scid", h->scid, h->scid_len);
		if (h->type == QB_PKT_INITIAL && h->token_len > 0) {
			qb_qlog_obj_open(q, "token");
			raw_len(q, h->token_len);
			qb_qlog_obj_close(q);
		}
	}
	qb_qlog_u64(q, "dcil", h->dcid_len);
	qb_qlog_hex(q, "dcid", h->dcid, h->dcid_len);
	qb_qlog_obj_close(q);
	qb_qlog_obj_open(q, "raw");
	qb_qlog_u64(q, "length", h->len);
	qb_qlog_u64(q, "payload_length", ch->payload_len);
	qb_qlog_obj_close(q);
	log_frames(q, pkt + ch->pn_offset + ch->pn_len, ch->payload_len, c->peer_ack_delay_exp);
	qb_qlog_event_end(q);
}

void
qb_qlog_conn_rx_special(struct qb_conn *c, const struct qb_pkt_hdr *h, uint64_t now)
{
	struct qb_qlog *q = c->cfg.qlog;
	bool retry = h->type == QB_PKT_RETRY;

	qb_qlog_event_begin(q, now, "packet_received");
	qb_qlog_obj_open(q, "header");
	qb_qlog_str(q, "packet_type", pkt_type_name(h->type));
	if (retry) {
		log_version(q, h->version);
		qb_qlog_obj_open(q, "token");
		qb_qlog_str(q, "type", "retry");
		raw_len(q, h->token_len);
		qb_qlog_obj_close(q);
	}
	qb_qlog_u64(q, "scil", h->scid_len);
	qb_qlog_hex(q, "scid", h->scid, h->scid_len);
	qb_qlog_u64(q, "dcil", h->dcid_len);
	qb_qlog_hex(q, "dcid", h->dcid, h->dcid_len);
	qb_qlog_obj_close(q);
	if (!retry) {
		/* RFC 9000 §17.2.1: the versions the server lists, 4 bytes each. */
		qb_qlog_arr_open(q, "supported_versions");
		for (size_t i = 0; i + 4 <= h->versions_len && i < 4 * 64; i += 4)
			qb_qlog_hex(q, NULL, h->versions + i, 4);
		qb_qlog_arr_close(q);
	}
	raw_len(q, h->len);
	qb_qlog_event_end(q);
}

void
qb_qlog_conn_drop(struct qb_conn *c, const struct qb_pkt_hdr *h, enum qb_qlog_drop why,
                  uint64_t now)
{
	static const char *const trig[] = {
	        [QB_QLOG_DROP_REJECTED] = "rejected",
	        [QB_QLOG_DROP_KEY_UNAVAILABLE] = "key_unavailable",
	        [QB_QLOG_DROP_DECRYPTION] = "decryption_failure",
	        [QB_QLOG_DROP_DUPLICATE] = "duplicate",
	        [QB_QLOG_DROP_INVALID] = "invalid",
	        [QB_QLOG_DROP_INTERNAL] = "internal_error",
	};
	struct qb_qlog *q = c->cfg.qlog;

	qb_qlog_event_begin(q, now, "packet_dropped");
	if (h != NULL) {
		qb_qlog_obj_open(q, "header");
		qb_qlog_str(q, "packet_type", pkt_type_name(h->type));
		qb_qlog_obj_close(q);
		raw_len(q, h->len);
	}
	qb_qlog_str(q, "trigger", trig[why]);
	qb_qlog_event_end(q);
}

void
qb_qlog_conn_tx(struct qb_conn *c, int ep, const uint8_t *pkt, const struct qb_pkt_layout *lay,
                bool probe, uint64_t now)
{
	struct qb_qlog *q = c->cfg.qlog;
	size_t dcid_len;
	const uint8_t *dcid = conn_dcid(c, &dcid_len);

	qb_qlog_event_begin(q, now, "packet_sent");
	qb_qlog_obj_open(q, "header");
	qb_qlog_str(q, "packet_type", ep_pkt_type[ep]);
	qb_qlog_u64(q, "packet_number", lay->pn);
	qb_qlog_u64(q, "packet_number_length", lay->pn_len);
	if (ep == CONN_EP_APP) {
		qb_qlog_bool(q, "key_phase_bit", c->tx_phase != 0);
	} else {
		log_version(q, c->version);
		qb_qlog_u64(q, "length", lay->len - lay->pn_offset);
		qb_qlog_u64(q, "scil", c->scid_len);
		qb_qlog_hex(q, "scid", c->scid, c->scid_len);
		if (ep == CONN_EP_INITIAL && c->token_len > 0) {
			qb_qlog_obj_open(q, "token");
			qb_qlog_str(q, "type", "retry");
			raw_len(q, c->token_len);
			qb_qlog_obj_close(q);
		}
	}
	if (dcid != NULL) {
		qb_qlog_u64(q, "dcil", dcid_len);
		qb_qlog_hex(q, "dcid", dcid, dcid_len);
	}
	qb_qlog_obj_close(q);
	qb_qlog_obj_open(q, "raw");
	qb_qlog_u64(q, "length", lay->len);
	qb_qlog_u64(q, "payload_length", lay->payload_len);
	qb_qlog_obj_close(q);
	/* Our ack_delay_exponent is the default: conn_encode_tp leaves it. */
	log_frames(q, pkt + lay->hdr_len, lay->payload_len, 3);
	if (probe)
		qb_qlog_str(q, "trigger", "pto_probe");
	qb_qlog_event_end(q);
}

void
qb_qlog_conn_time(struct qb_conn *c, uint64_t now)
{
	c->cfg.qlog->now = now;
}

void
qb_qlog_conn_lost(struct qb_conn *c, int space, const struct qb_sent_pkt *pkt)
{
	struct qb_qlog *q = c->cfg.qlog;
	uint64_t largest = c->rec.space[space].largest_acked;

	qb_qlog_event_begin(q, q->now, "packet_lost");
	qb_qlog_obj_open(q, "header");
	qb_qlog_str(q, "packet_type", ep_pkt_type[space]);
	qb_qlog_u64(q, "packet_number", pkt->pn);
	qb_qlog_obj_close(q);
	/* What the packet carried, from its frame records (RFC 9002 §6). */
	qb_qlog_arr_open(q, "frames");
	unsigned count = 0;
	for (uint32_t i = pkt->frames; i != 0 && count < QLOG_MAX_FRAMES;
	     i = c->frec[i - 1].next, count++) {
		const struct conn_frec *r = &c->frec[i - 1];
		if (r->kind != FREC_STREAM && r->kind != FREC_CRYPTO)
			continue;
		qb_qlog_obj_open(q, NULL);
		qb_qlog_str(q, "frame_type", r->kind == FREC_STREAM ? "stream" : "crypto");
		if (r->kind == FREC_STREAM)
			qb_qlog_u64(q, "stream_id", r->id);
		qb_qlog_u64(q, "offset", r->offset);
		raw_len(q, r->len);
		if (r->kind == FREC_STREAM && r->fin)
			qb_qlog_bool(q, "fin", true);
		qb_qlog_obj_close(q);
	}
	qb_qlog_arr_close(q);
	/* RFC 9002 §6.1.1: kPacketThreshold 3 behind the largest acknowledged. */
	qb_qlog_str(q, "trigger",
	            largest != QB_PN_NONE && largest >= pkt->pn + 3 ? "reordering_threshold"
	                                                            : "time_threshold");
	qb_qlog_event_end(q);
}

/* ---- Parameters, keys, states, metrics ------------------------------------- */

static void
log_params(struct qb_qlog *q, const struct qb_tp *tp, bool local, uint64_t now)
{
	qb_qlog_event_begin(q, now, "parameters_set");
	qb_qlog_str(q, "initiator", local ? "local" : "remote");
	if (tp->present & QB_TP_BIT(QB_TP_ORIGINAL_DCID))
		qb_qlog_hex(q, "original_destination_connection_id", tp->original_dcid.id,
		            tp->original_dcid.len);
	if (tp->present & QB_TP_BIT(QB_TP_INITIAL_SCID))
		qb_qlog_hex(q, "initial_source_connection_id", tp->initial_scid.id,
		            tp->initial_scid.len);
	if (tp->present & QB_TP_BIT(QB_TP_RETRY_SCID))
		qb_qlog_hex(q, "retry_source_connection_id", tp->retry_scid.id, tp->retry_scid.len);
	qb_qlog_bool(q, "disable_active_migration", tp->disable_active_migration);
	qb_qlog_u64(q, "max_idle_timeout", tp->max_idle_timeout);
	qb_qlog_u64(q, "max_udp_payload_size", tp->max_udp_payload_size);
	qb_qlog_u64(q, "ack_delay_exponent", tp->ack_delay_exponent);
	qb_qlog_u64(q, "max_ack_delay", tp->max_ack_delay);
	qb_qlog_u64(q, "active_connection_id_limit", tp->active_connection_id_limit);
	qb_qlog_u64(q, "initial_max_data", tp->initial_max_data);
	qb_qlog_u64(q, "initial_max_stream_data_bidi_local",
	            tp->initial_max_stream_data_bidi_local);
	qb_qlog_u64(q, "initial_max_stream_data_bidi_remote",
	            tp->initial_max_stream_data_bidi_remote);
	qb_qlog_u64(q, "initial_max_stream_data_uni", tp->initial_max_stream_data_uni);
	qb_qlog_u64(q, "initial_max_streams_bidi", tp->initial_max_streams_bidi);
	qb_qlog_u64(q, "initial_max_streams_uni", tp->initial_max_streams_uni);
	if (tp->max_datagram_frame_size != 0)
		qb_qlog_u64(q, "max_datagram_frame_size", tp->max_datagram_frame_size);
	if (tp->grease_quic_bit)
		qb_qlog_bool(q, "grease_quic_bit", true);
	qb_qlog_event_end(q);
}

static const char *const epoch_key[CONN_NEP] = {"initial", "handshake", "1rtt"};

/* $KeyType (§8.11): "<role>_<epoch>_secret"; w: our write key. */
static void
key_type(struct qb_conn *c, int ep, bool w, char *out)
{
	bool server = c->is_server == w;
	strcpy(out, server ? "server_" : "client_");
	strcat(out, epoch_key[ep]);
	strcat(out, "_secret");
}

static void
log_key(struct qb_conn *c, const char *name, int ep, bool w, const char *trigger, uint64_t phase,
        uint64_t now)
{
	struct qb_qlog *q = c->cfg.qlog;
	char kt[32];

	key_type(c, ep, w, kt);
	qb_qlog_event_begin(q, now, name);
	qb_qlog_str(q, "key_type", kt);
	if (ep == CONN_EP_APP)
		qb_qlog_u64(q, "key_phase", phase);
	qb_qlog_str(q, "trigger", trigger);
	qb_qlog_event_end(q);
}

static void
sync_keys(struct qb_conn *c, uint64_t now)
{
	struct qb_qlog *q = c->cfg.qlog;

	for (int ep = 0; ep < CONN_NEP; ep++) {
		if (c->discarded[ep]) {
			if (!(q->cs.discarded & (1u << ep))) {
				q->cs.discarded |= (uint8_t)(1u << ep);
				for (int w = 0; w < 2; w++)
					if (q->cs.keys & (1u << (2 * ep + w)))
						log_key(c, "key_discarded", ep, w, "tls", 0, now);
			}
			continue;
		}
		for (int w = 0; w < 2; w++) {
			unsigned bit = 1u << (2 * ep + w);
			const struct qb_crypto_key *k = w ? c->txk[ep] : c->rxk[ep];
			if (!(q->cs.keys & bit) && qb_crypto_key_present(k)) {
				q->cs.keys |= (uint8_t)bit;
				log_key(c, "key_updated", ep, w, "tls", 0, now);
			}
		}
	}
	/* 1-RTT key updates (RFC 9001 §6): the peer's first when its phase moved. */
	bool remote = c->rx_phase != q->cs.rx_phase;
	const char *trig = remote ? "remote_update" : "local_update";
	if (remote) {
		q->cs.rx_phase = c->rx_phase;
		log_key(c, "key_updated", CONN_EP_APP, false, trig, ++q->cs.rx_kphase, now);
	}
	if (c->tx_phase != q->cs.tx_phase) {
		q->cs.tx_phase = c->tx_phase;
		log_key(c, "key_updated", CONN_EP_APP, true, trig, ++q->cs.tx_kphase, now);
	}
}

static const char *
cipher_name(uint8_t alg)
{
	switch (alg) {
	case QB_AEAD_AES128GCM:
		return "TLS_AES_128_GCM_SHA256";
	case QB_AEAD_AES256GCM:
		return "TLS_AES_256_GCM_SHA384";
	default:
		return "TLS_CHACHA20_POLY1305_SHA256";
	}
}

static uint8_t
cur_state(const struct qb_conn *c)
{
	switch (c->state) {
	case QB_CONN_CLOSING:
		return QS_CLOSING;
	case QB_CONN_DRAINING:
		return QS_DRAINING;
	case QB_CONN_CLOSED:
		return QS_CLOSED;
	default:
		break;
	}
	if (c->hs_confirmed)
		return QS_HS_CONFIRMED;
	if (c->hs_complete)
		return QS_HS_COMPLETE;
	if (qb_crypto_key_present(c->txk[CONN_EP_HANDSHAKE]) || c->discarded[CONN_EP_HANDSHAKE])
		return QS_HS_STARTED;
	return QS_ATTEMPTED;
}

static void
log_closed(struct qb_conn *c, uint64_t now)
{
	struct qb_qlog *q = c->cfg.qlog;
	const struct qb_conn_close_info *ci = &c->close;
	char b[20];

	qb_qlog_event_begin(q, now, "connection_closed");
	qb_qlog_str(q, "initiator", ci->by_peer ? "remote" : "local");
	const char *trigger;
	if (ci->idle) {
		trigger = "idle_timeout";
	} else if (ci->by_peer && !ci->app && ci->code == 0 &&
	           strcmp(ci->reason, "stateless reset") == 0) {
		trigger = "stateless_reset";
	} else {
		if (ci->app) {
			qb_qlog_str(q, "application_error", "unknown");
			qb_qlog_u64(q, "error_code", ci->code);
		} else {
			const char *name = transport_error_name(ci->code, b);
			qb_qlog_str(q, "connection_error", name != NULL ? name : "unknown");
			if (name == NULL)
				qb_qlog_u64(q, "error_code", ci->code);
		}
		trigger = ci->code == QB_TE_VERSION_NEGOTIATION_ERROR && !ci->app
		                  ? "version_mismatch"
		          : ci->app       ? "application"
		          : ci->code != 0 ? "error"
		                          : "unspecified";
	}
	if (ci->reason[0])
		qb_qlog_str(q, "reason", ci->reason);
	qb_qlog_str(q, "trigger", trigger);
	qb_qlog_event_end(q);
}

static void
sync_metrics(struct qb_conn *c, uint64_t now)
{
	struct qb_qlog *q = c->cfg.qlog;
	bool any = false;

#define METRIC(field, val, key, is_ms)                                                   \
	do {                                                                             \
		if (q->cs.field != (val)) {                                              \
			if (!any)                                                        \
				qb_qlog_event_begin(q, now, "recovery_metrics_updated"); \
			any = true;                                                      \
			q->cs.field = (val);                                             \
			if (is_ms)                                                       \
				qb_qlog_ms(q, key, val);                                 \
			else                                                             \
				qb_qlog_u64(q, key, val);                                \
		}                                                                        \
	} while (0)

	if (c->rtt.has_sample) {
		METRIC(min_rtt, c->rtt.min, "min_rtt", true);
		METRIC(srtt, c->rtt.smoothed, "smoothed_rtt", true);
		METRIC(latest, c->rtt.latest, "latest_rtt", true);
		METRIC(rttvar, c->rtt.rttvar, "rtt_variance", true);
	}
	METRIC(pto_count, c->rec.pto_count, "pto_count", false);
	METRIC(cwnd, c->cc.cwnd, "congestion_window", false);
	METRIC(inflight, c->cc.bytes_in_flight, "bytes_in_flight", false);
	if (c->cc.ssthresh != UINT64_MAX)
		METRIC(ssthresh, c->cc.ssthresh, "ssthresh", false);
#undef METRIC
	if (any)
		qb_qlog_event_end(q);
}

void
qb_qlog_conn_sync(struct qb_conn *c, uint64_t now)
{
	struct qb_qlog *q = c->cfg.qlog;

	q->now = now;
	sync_keys(c, now);
	if (!q->cs.peer_tp && c->peer_tp_done) {
		q->cs.peer_tp = true;
		log_params(q, &c->peer_tp, false, now);
	}
	if (!q->cs.cipher && qb_crypto_key_present(c->txk[CONN_EP_APP])) {
		q->cs.cipher = true;
		qb_qlog_event_begin(q, now, "parameters_set");
		qb_qlog_str(q, "tls_cipher", cipher_name(c->txk[CONN_EP_APP]->alg));
		qb_qlog_event_end(q);
	}
	if (c->state < QB_CONN_CLOSED)
		sync_metrics(c, now);
	uint8_t s = cur_state(c);
	if (s >= QS_CLOSING && !q->cs.closed_logged) {
		q->cs.closed_logged = true;
		log_closed(c, now);
	}
	if (s != q->cs.state) {
		qb_qlog_event_begin(q, now, "connection_state_updated");
		if (q->cs.state != QS_NONE)
			qb_qlog_str(q, "old", cstate_name[q->cs.state]);
		qb_qlog_str(q, "new", cstate_name[s]);
		qb_qlog_event_end(q);
		bool closing = s >= QS_CLOSING && q->cs.state < QS_CLOSING;
		q->cs.state = s;
		/* At close the trace reaches the sink without waiting for the app. */
		if (closing || s == QS_CLOSED)
			qb_qlog_flush(q);
	}
	if (atomic_load_explicit(&q->flush_req, memory_order_relaxed) &&
	    atomic_exchange_explicit(&q->flush_req, false, memory_order_acquire))
		qb_qlog_flush(q);
}

void
qb_qlog_conn_start(struct qb_conn *c, uint64_t now)
{
	struct qb_qlog *q = c->cfg.qlog;
	uint8_t buf[QLOG_TP_BUF];
	struct qb_tp tp;
	uint64_t terr = 0;

	qb_qlog_trace_begin(q, c->is_server, c->tp_odcid, c->tp_odcid_len, now);
	/* §4.2: no socket here, so no addresses: the CIDs of each half. */
	size_t dcid_len;
	const uint8_t *dcid = conn_dcid(c, &dcid_len);
	qb_qlog_event_begin(q, now, "connection_started");
	qb_qlog_obj_open(q, "local");
	qb_qlog_arr_open(q, "connection_ids");
	qb_qlog_hex(q, NULL, c->scid, c->scid_len);
	qb_qlog_arr_close(q);
	qb_qlog_obj_close(q);
	qb_qlog_obj_open(q, "remote");
	if (dcid != NULL) {
		qb_qlog_arr_open(q, "connection_ids");
		qb_qlog_hex(q, NULL, dcid, dcid_len);
		qb_qlog_arr_close(q);
	}
	qb_qlog_obj_close(q);
	qb_qlog_event_end(q);
	/* Our parameters as the peer reads them (decoded from our encoding). */
	int n = conn_encode_tp(c, buf, sizeof(buf));
	if (n > 0 && qb_tp_decode(buf, (size_t)n, c->is_server, &tp, &terr) == 0)
		log_params(q, &tp, true, now);
	qb_qlog_conn_sync(c, now);
}
