/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The connection's lifecycle: creation as client or server, configuration,
 * the single next deadline, timeouts (loss/PTO, idle, closing and draining),
 * closing (RFC 9000 §10), state queries and statistics.
 */
#include <stdlib.h>
#include <string.h>

#include "conn/conn_internal.h"

/* splitmix64: a small deterministic generator for CIDs and path data. */
uint64_t
conn_rand(struct qb_conn *c)
{
	uint64_t z = (c->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Unpredictable bytes from the connection's PRNG (CIDs, keys of tests). */
void
conn_cid_new(struct qb_conn *c, uint8_t *out, size_t len)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t r = conn_rand(c);
		size_t n = len - i < 8 ? len - i : 8;
		memcpy(out + i, &r, n);
	}
}

static void
config_defaults(struct qb_conn_config *k)
{
#define DEF(f, v)                  \
	do {                       \
		if (!(f))          \
			(f) = (v); \
	} while (0)
	DEF(k->version, QB_VERSION_1);
	DEF(k->cc_algo, "cubic");
	DEF(k->cid_len, QB_CONN_CID_LEN_DEFAULT);
	DEF(k->idle_timeout_ms, 30000);
	DEF(k->max_udp_payload, 1500);
	DEF(k->max_data, 1u << 20);
	DEF(k->max_stream_data, 256u << 10);
	DEF(k->max_streams_bidi, 100);
	DEF(k->max_streams_uni, 100);
	DEF(k->max_ack_delay_ms, 25);
	DEF(k->max_stream_window, 16u << 20);
	DEF(k->max_conn_window, 32u << 20);
	DEF(k->max_local_streams, 1024);
	DEF(k->max_sent_packets, 8192);
#undef DEF
}

static struct qb_conn *
conn_alloc(const struct qb_conn_config *cfg, bool is_server, uint64_t now)
{
	if (cfg == NULL || cfg->tls == NULL || cfg->pools == NULL)
		return NULL;
	struct qb_conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->cfg = *cfg;
	config_defaults(&c->cfg);
	if (c->cfg.cid_len > QB_MAX_CID_LEN || !qb_version_supported(c->cfg.version) ||
	    (c->cfg.max_sent_packets & (c->cfg.max_sent_packets - 1)) != 0 ||
	    c->cfg.pacer_burst > QB_PACER_BURST_MAX)
		goto fail;
	c->is_server = is_server;
	c->version = c->cfg.version;
	c->state = QB_CONN_HANDSHAKE;
	c->rng = c->cfg.seed ^ (is_server ? 0x5e5e5e5eull : 0xc1c1c1c1ull);
	c->last_activity = now;
	c->peer_max_udp = 65527;
	c->peer_ack_delay_exp = 3;
	c->idle_timeout_ns = c->cfg.idle_timeout_ms * 1000000ull;
	c->pacing_next = QB_TIME_NONE;
	for (unsigned i = 0; i < QB_CONN_MAX_PATHS; i++)
		c->path[i].challenge_timer = QB_TIME_NONE;
	/* A multi-path server learns its paths from the datagrams. */
	c->path[0].known = !(is_server && c->cfg.multipath_handshake);
	/* One path: it is the handshake path. Several: the first answered. */
	c->hs_path = c->cfg.multipath_handshake ? -1 : 0;
	if (conn_cid_init(c) != 0)
		goto fail;

	c->rx_ranges_hs = calloc(2, sizeof(*c->rx_ranges_hs));
	if (c->rx_ranges_hs == NULL)
		goto fail;
	for (int ep = 0; ep < CONN_NEP; ep++) {
		uint64_t mad = ep == CONN_EP_APP ? c->cfg.max_ack_delay_ms * 1000000ull : 0;
		bool app = ep == CONN_EP_APP;
		if (qb_rx_init(&c->rx[ep], app ? c->rx_ranges : c->rx_ranges_hs[ep],
		               app ? CONN_RX_RANGES : CONN_RX_RANGES_HS, mad, 3) != 0)
			goto fail;
		qb_crypto_stream_init(&c->cs[ep]);
	}
	uint32_t caps[CONN_NEP];
	if (conn_mem_init(c, caps) != 0)
		goto fail;
	struct qb_recovery_cb cb = conn_recovery_cb_tmpl;
	cb.ctx = c;
	struct qb_recovery_config rcfg = {.is_server = is_server, .max_ack_delay = 0};
	if (qb_recovery_init(&c->rec, &rcfg, c->sent_store, caps, &cb) != 0)
		goto fail;
	qb_rtt_init(&c->rtt, 0);
	if (qb_cc_init(&c->cc, c->cfg.cc_algo, QB_MIN_INITIAL_DGRAM, now) != 0)
		goto fail;
	qb_pacer_init(&c->pacer, QB_MIN_INITIAL_DGRAM, c->cfg.pacer_burst, now);
	qb_recovery_set_path(&c->rec, &c->rtt, &c->cc);

	struct qb_streams_config scfg = {
	        .is_server = is_server,
	        .local =
	                {
	                        .max_data = c->cfg.max_data,
	                        .max_stream_data_bidi_local = c->cfg.max_stream_data,
	                        .max_stream_data_bidi_remote = c->cfg.max_stream_data,
	                        .max_stream_data_uni = c->cfg.max_stream_data,
	                        .max_streams_bidi = c->cfg.max_streams_bidi,
	                        .max_streams_uni = c->cfg.max_streams_uni,
	                },
	        .max_stream_window = c->cfg.max_stream_window,
	        .max_conn_window = c->cfg.max_conn_window,
	        .send_buffer_max = c->cfg.send_buffer_max,
	        .max_local_streams = c->cfg.max_local_streams,
	};
	c->streams = qb_streams_create(c->cfg.pools, &scfg);
	if (c->streams == NULL)
		goto fail;
	return c;
fail:
	qb_conn_free(c);
	return NULL;
}

struct qb_conn *
qb_conn_client_new(const struct qb_conn_config *cfg, uint64_t now)
{
	struct qb_conn *c = conn_alloc(cfg, false, now);
	if (c == NULL)
		return NULL;
	/* RFC 9000 §7.2: an unpredictable DCID of at least 8 bytes. */
	c->odcid_len = 8;
	conn_cid_new(c, c->odcid, c->odcid_len);
	memcpy(c->tp_odcid, c->odcid, c->odcid_len);
	c->tp_odcid_len = c->odcid_len;
	if (qb_crypto_initial_keys_new(c->version, c->odcid, c->odcid_len, &c->txk[0],
	                               &c->rxk[0]) != 0 ||
	    conn_tls_start(c, now) != 0) {
		qb_conn_free(c);
		return NULL;
	}
	if (CONN_QLOG(c))
		qb_qlog_conn_start(c, now);
	return c;
}

struct qb_conn *
qb_conn_server_new(const struct qb_conn_config *cfg, const uint8_t *dgram, size_t len, uint64_t now)
{
	struct qb_pkt_hdr h;

	/* RFC 9000 §14.1: a server drops a client Initial in a datagram under 1200. */
	if (dgram == NULL || len < QB_MIN_INITIAL_DGRAM ||
	    qb_pkt_parse(dgram, len, 0, QB_CONN_CID_LEN_DEFAULT, 0, &h) != 0 ||
	    h.type != QB_PKT_INITIAL || !qb_version_supported(h.version) || h.dcid_len < 8)
		return NULL;
	struct qb_conn_config k = *cfg;
	k.version = h.version;
	struct qb_conn *c = conn_alloc(&k, true, now);
	if (c == NULL)
		return NULL;
	memcpy(c->odcid, h.dcid, h.dcid_len);
	c->odcid_len = h.dcid_len;
	if (cfg->retry_odcid != NULL && cfg->retry_odcid_len <= QB_MAX_CID_LEN) {
		memcpy(c->tp_odcid, cfg->retry_odcid, cfg->retry_odcid_len);
		c->tp_odcid_len = cfg->retry_odcid_len;
		c->retried = true;
	} else {
		memcpy(c->tp_odcid, h.dcid, h.dcid_len);
		c->tp_odcid_len = h.dcid_len;
	}
	if (conn_cid_set_peer(c, h.scid, h.scid_len) != 0 ||
	    qb_crypto_initial_keys_new(c->version, c->odcid, c->odcid_len, &c->rxk[0],
	                               &c->txk[0]) != 0 ||
	    conn_tls_start(c, now) != 0) {
		qb_conn_free(c);
		return NULL;
	}
	if (CONN_QLOG(c))
		qb_qlog_conn_start(c, now);
	return c;
}

void
qb_conn_free(struct qb_conn *c)
{
	if (c == NULL)
		return;
	if (CONN_QLOG(c))
		qb_qlog_flush(c->cfg.qlog);
	qb_crypto_key_free(c->rx_next);
	for (int ep = 0; ep < CONN_NEP; ep++) {
		qb_crypto_key_free(c->rxk[ep]);
		qb_crypto_key_free(c->txk[ep]);
		if (c->cfg.pools != NULL)
			qb_crypto_stream_free(&c->cs[ep], c->cfg.pools);
		free(c->sent_store[ep]);
	}
	qb_tls_free(c->tls);
	free(c->token);
	free(c->rx_ranges_hs);
	qb_streams_destroy(c->streams);
	free(c->frec);
	free(c->rx_ranges_mp);
	free(c);
}

/* ---- Closing (RFC 9000 §10.2) ---------------------------------------------- */

uint64_t
conn_pto(struct qb_conn *c)
{
	return qb_recovery_pto(&c->rec, QB_PN_APP);
}

void
conn_close_transport(struct qb_conn *c, uint64_t code, uint64_t frame, const char *reason,
                     uint64_t now)
{
	if (conn_closing(c))
		return;
	memset(&c->close, 0, sizeof(c->close));
	c->close.code = code;
	c->close.frame = frame;
	if (reason != NULL)
		strncpy(c->close.reason, reason, CONN_REASON_MAX);
	c->state = QB_CONN_CLOSING;
	c->close_pending = true;
	c->close_rx = 0;
	c->close_next = 1;
	c->close_end = now + 3 * conn_pto(c);
}

int
qb_conn_close(struct qb_conn *c, uint64_t app_error, const char *reason, uint64_t now)
{
	if (conn_closing(c))
		return QB_ERR_STATE;
	conn_close_transport(c, app_error, 0, reason, now);
	c->close.app = true;
	if (CONN_QLOG(c))
		qb_qlog_conn_sync(c, now);
	return 0;
}

void
conn_enter_draining(struct qb_conn *c, uint64_t now)
{
	if (c->state == QB_CONN_CLOSING) {
		/* §10.2.2: closing may become draining on the peer's CLOSE. */
		c->state = QB_CONN_DRAINING;
		c->close_pending = false;
		return;
	}
	c->state = QB_CONN_DRAINING;
	c->close_pending = false;
	c->close_end = now + 3 * conn_pto(c);
}

/* ---- Deadline ---------------------------------------------------------------- */

static uint64_t
idle_deadline(struct qb_conn *c)
{
	if (c->idle_timeout_ns == 0)
		return QB_TIME_NONE;
	/* §10.1: at least three PTOs, so probes have a chance. */
	uint64_t t = c->idle_timeout_ns, min = 3 * conn_pto(c);
	return c->last_activity + (t > min ? t : min);
}

static inline uint64_t
min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

uint64_t
qb_conn_deadline(struct qb_conn *c)
{
	if (c->state == QB_CONN_CLOSED)
		return QB_TIME_NONE;
	if (conn_closing(c))
		return c->close_end;
	uint64_t d = min64(qb_recovery_timer(&c->rec), idle_deadline(c));
	/* An ACK the 3x limit holds back waits for a datagram, not for a time. */
	bool amp = conn_path_amp_blocked(c, conn_primary(c), QB_MIN_INITIAL_DGRAM);
	for (int ep = 0; ep < CONN_NEP && !amp; ep++)
		if (!c->discarded[ep] && qb_crypto_key_present(c->txk[ep]))
			d = min64(d, qb_rx_ack_deadline(&c->rx[ep]));
	d = min64(d, conn_path_deadline(c));
	d = min64(d, conn_mem_trim_deadline(c));
	return min64(d, c->pacing_next);
}

static void
conn_on_timeout(struct qb_conn *c, uint64_t now)
{
	if (c->state == QB_CONN_CLOSED)
		return;
	if (conn_closing(c)) {
		if (now >= c->close_end)
			c->state = QB_CONN_CLOSED;
		return;
	}
	if (now >= idle_deadline(c)) {
		/* §10.1: silently closed, straight to the end state. */
		memset(&c->close, 0, sizeof(c->close));
		c->close.idle = true;
		strcpy(c->close.reason, "idle timeout");
		c->state = QB_CONN_CLOSED;
		return;
	}
	if (c->pacing_next <= now)
		c->pacing_next = QB_TIME_NONE;
	if (qb_recovery_timer(&c->rec) <= now) {
		enum qb_ld_event ev = qb_recovery_on_timeout(&c->rec, now);
		if (ev == QB_LD_PTO || ev == QB_LD_ANTI_DEADLOCK) {
			c->st.pto_count++;
			conn_path_on_pto(c);
		}
	}
	conn_path_on_timeout(c, now);
	conn_mem_on_timeout(c, now);
}

void
qb_conn_on_timeout(struct qb_conn *c, uint64_t now)
{
	if (CONN_QLOG(c))
		qb_qlog_conn_time(c, now);
	conn_on_timeout(c, now);
	if (CONN_QLOG(c))
		qb_qlog_conn_sync(c, now);
}

/* ---- Queries ------------------------------------------------------------------ */

enum qb_conn_state
qb_conn_state(const struct qb_conn *c)
{
	return (enum qb_conn_state)c->state;
}

bool
qb_conn_is_server(const struct qb_conn *c)
{
	return c->is_server;
}

bool
qb_conn_handshake_complete(const struct qb_conn *c)
{
	return c->hs_complete;
}

bool
qb_conn_handshake_confirmed(const struct qb_conn *c)
{
	return c->hs_confirmed;
}

const char *
qb_conn_alpn(const struct qb_conn *c)
{
	return c->tls != NULL ? qb_tls_alpn(c->tls) : NULL;
}

void
qb_conn_close_info(const struct qb_conn *c, struct qb_conn_close_info *out)
{
	*out = c->close;
}

void
qb_conn_stats(const struct qb_conn *c, struct qb_conn_stats *out)
{
	*out = c->st;
	out->srtt_ns = c->rtt.smoothed;
	out->min_rtt_ns = c->rtt.min;
	out->cwnd = c->cc.cwnd;
	out->bytes_in_flight = c->cc.bytes_in_flight;
}

const uint8_t *
qb_conn_scid(const struct qb_conn *c, size_t *len)
{
	*len = c->scid_len;
	return c->scid;
}

struct qb_streams *
qb_conn_streams(struct qb_conn *c)
{
	return c->streams;
}
