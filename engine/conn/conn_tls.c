/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Handshake glue (RFC 9001 §4): CRYPTO bytes to TLS and back, packet
 * protection keys installed from the TLS secrets, transport parameters
 * exchanged and checked (RFC 9000 §7.3-7.4, §18), keys discarded (§4.9).
 */
#include <string.h>

#include "conn/conn_internal.h"

int
conn_encode_tp(struct qb_conn *c, uint8_t *buf, size_t cap)
{
	const struct qb_conn_config *k = &c->cfg;
	struct qb_tp tp;

	qb_tp_default(&tp);
	tp.max_idle_timeout = k->idle_timeout_ms;
	tp.max_udp_payload_size = k->max_udp_payload;
	tp.initial_max_data = k->max_data;
	tp.initial_max_stream_data_bidi_local = k->max_stream_data;
	tp.initial_max_stream_data_bidi_remote = k->max_stream_data;
	tp.initial_max_stream_data_uni = k->max_stream_data;
	tp.initial_max_streams_bidi = k->max_streams_bidi;
	tp.initial_max_streams_uni = k->max_streams_uni;
	tp.max_ack_delay = k->max_ack_delay_ms;
	tp.active_connection_id_limit = QB_CONN_PEER_CID_LIMIT;
	tp.initial_scid.len = c->scid_len;
	memcpy(tp.initial_scid.id, c->scid, c->scid_len);
	tp.present |= QB_TP_BIT(QB_TP_INITIAL_SCID);
	if (c->is_server) {
		/* RFC 9000 §7.3: the server echoes the client's first DCID. */
		tp.original_dcid.len = c->tp_odcid_len;
		memcpy(tp.original_dcid.id, c->tp_odcid, c->tp_odcid_len);
		tp.present |= QB_TP_BIT(QB_TP_ORIGINAL_DCID);
		if (c->retried) {
			/* §7.3: the SCID of our Retry, the DCID the client now uses. */
			tp.retry_scid.len = c->odcid_len;
			memcpy(tp.retry_scid.id, c->odcid, c->odcid_len);
			tp.present |= QB_TP_BIT(QB_TP_RETRY_SCID);
		}
		/* §10.3: the token of our CID sequence 0 (the others ride in frames). */
		const struct qb_cid_local_entry *e = qb_cid_local_get(&c->lcid, 0);
		if (e != NULL) {
			memcpy(tp.stateless_reset_token, e->token, QB_STATELESS_RESET_TOKEN_LEN);
			tp.present |= QB_TP_BIT(QB_TP_STATELESS_RESET_TOKEN);
		}
	}
	return qb_tp_encode(buf, cap, &tp, c->is_server);
}

static int
install_key(struct qb_conn *c, int level, bool write, uint64_t now)
{
	struct qb_tls_secret s;
	int ep = level == QB_TLS_LEVEL_HANDSHAKE ? CONN_EP_HANDSHAKE : CONN_EP_APP;
	struct qb_crypto_key **slot = write ? &c->txk[ep] : &c->rxk[ep], *key;

	if (level == QB_TLS_LEVEL_EARLY)
		return 0; /* no 0-RTT */
	if (qb_tls_secret(c->tls, level, write, &s) != 0)
		return QB_ERR_STATE;
	int alg = qb_crypto_alg_from_cipher_suite((uint16_t)s.cipher);
	if (alg < 0)
		return alg;
	int rc = qb_crypto_key_new(&key, (enum qb_aead_alg)alg, c->version, s.secret, s.len,
	                           QB_CRYPTO_AUTO);
	memset(&s, 0, sizeof(s));
	if (rc == 0) {
		qb_crypto_key_free(*slot);
		*slot = key;
	}
	if (rc == 0 && ep == CONN_EP_APP && write && c->cfg.key_update_packets == 0)
		c->cfg.key_update_packets =
		        qb_crypto_confidentiality_limit((enum qb_aead_alg)alg) / 2;
	if (rc == 0 && ep == CONN_EP_HANDSHAKE && !c->is_server && write)
		qb_recovery_set_handshake_keys(&c->rec, now);
	return rc;
}

static bool
cid_eq(const struct qb_tp_cid *a, const uint8_t *id, size_t len)
{
	return a->len == len && memcmp(a->id, id, len) == 0;
}

/* The peer's transport parameters (RFC 9000 §7.3, §7.4, §18.2). */
static int
apply_peer_tp(struct qb_conn *c, uint64_t now)
{
	const uint8_t *p;
	size_t n = qb_tls_peer_tp(c->tls, &p);
	uint64_t terr = 0;
	struct qb_tp *tp = &c->peer_tp;

	if (n == 0)
		return 0;
	if (qb_tp_decode(p, n, !c->is_server, tp, &terr) != 0) {
		conn_close_transport(c, terr, QB_FT_CRYPTO, "bad transport parameters", now);
		return QB_ERR_PROTO;
	}
	/* §7.3: the CIDs the peer used must be authenticated by its parameters. */
	if (!(tp->present & QB_TP_BIT(QB_TP_INITIAL_SCID)) ||
	    (!c->is_server && !(tp->present & QB_TP_BIT(QB_TP_ORIGINAL_DCID)))) {
		conn_close_transport(c, QB_TE_TRANSPORT_PARAMETER_ERROR, QB_FT_CRYPTO,
		                     "missing connection ID parameter", now);
		return QB_ERR_PROTO;
	}
	if (!cid_eq(&tp->initial_scid, c->peer_scid, c->peer_scid_len) ||
	    (!c->is_server && !cid_eq(&tp->original_dcid, c->tp_odcid, c->tp_odcid_len))) {
		conn_close_transport(c, QB_TE_PROTOCOL_VIOLATION, QB_FT_CRYPTO,
		                     "connection ID parameter mismatch", now);
		return QB_ERR_PROTO;
	}
	/* §7.3: retry_source_connection_id exactly when we took a Retry. */
	if (!c->is_server && (c->retried != !!(tp->present & QB_TP_BIT(QB_TP_RETRY_SCID)) ||
	                      (c->retried && !cid_eq(&tp->retry_scid, c->odcid, c->odcid_len)))) {
		conn_close_transport(c, QB_TE_TRANSPORT_PARAMETER_ERROR, QB_FT_CRYPTO,
		                     "retry_source_connection_id", now);
		return QB_ERR_PROTO;
	}
	struct qb_stream_params sp = {
	        .max_data = tp->initial_max_data,
	        .max_stream_data_bidi_local = tp->initial_max_stream_data_bidi_local,
	        .max_stream_data_bidi_remote = tp->initial_max_stream_data_bidi_remote,
	        .max_stream_data_uni = tp->initial_max_stream_data_uni,
	        .max_streams_bidi = tp->initial_max_streams_bidi,
	        .max_streams_uni = tp->initial_max_streams_uni,
	};
	if (qb_streams_set_peer_params(c->streams, &sp, &terr) != 0) {
		conn_close_transport(c, terr, QB_FT_CRYPTO, "bad stream limits", now);
		return QB_ERR_PROTO;
	}
	if (!c->is_server && (tp->present & QB_TP_BIT(QB_TP_STATELESS_RESET_TOKEN)))
		qb_cid_peer_set_token0(&c->pcid, tp->stateless_reset_token);
	/* Issue our further CIDs up to the peer's limit (RFC 9000 §5.1.1). */
	if (qb_cid_local_set_peer_limit(&c->lcid, tp->active_connection_id_limit) < 0) {
		conn_close_transport(c, QB_TE_INTERNAL_ERROR, 0, "CID generator", now);
		return QB_ERR_STATE;
	}
	c->peer_ack_delay_exp = (uint8_t)tp->ack_delay_exponent;
	qb_recovery_set_max_ack_delay(&c->rec, tp->max_ack_delay * 1000000ull);
	c->peer_max_udp = tp->max_udp_payload_size;
	/* §10.1: the effective idle timeout is the smaller of the two non-zero. */
	uint64_t ours = c->cfg.idle_timeout_ms, theirs = tp->max_idle_timeout;
	uint64_t ms = ours == 0 ? theirs : theirs == 0 ? ours : (ours < theirs ? ours : theirs);
	c->idle_timeout_ns = ms * 1000000ull;
	c->peer_tp_done = true;
	return 0;
}

/* Moves what TLS produced: new keys, handshake bytes, completion, parameters. */
static int
drain_tls(struct qb_conn *c, uint64_t now)
{
	uint32_t keys = qb_tls_take_new_keys(c->tls);

	for (int level = 0; level < QB_TLS_NLEVELS; level++)
		for (int w = 0; w < 2; w++)
			if (keys & QB_TLS_KEY_BIT(level, w)) {
				int rc = install_key(c, level, w != 0, now);
				if (rc != 0) {
					conn_close_transport(c, QB_TE_INTERNAL_ERROR, 0,
					                     "key install", now);
					return rc;
				}
			}
	for (int ep = 0; ep < CONN_NEP; ep++) {
		const uint8_t *p;
		int level = conn_ep_level(ep);
		size_t n;
		while ((n = qb_tls_out(c->tls, level, &p)) > 0) {
			if (c->discarded[ep]) {
				qb_tls_out_consume(c->tls, level, n);
				continue;
			}
			int w = qb_crypto_stream_write(&c->cs[ep], c->cfg.pools, p, n);
			if (w < 0) {
				conn_close_transport(c, QB_TE_INTERNAL_ERROR, 0, "crypto buffer",
				                     now);
				return w;
			}
			qb_tls_out_consume(c->tls, level, (size_t)w);
		}
	}
	if (!c->peer_tp_done && apply_peer_tp(c, now) != 0)
		return QB_ERR_PROTO;
	if (!c->hs_complete && qb_tls_is_complete(c->tls)) {
		c->hs_complete = true;
		if (c->state == QB_CONN_HANDSHAKE)
			c->state = QB_CONN_OPEN;
		if (c->is_server) {
			/* RFC 9001 §4.1.2: the server's handshake is confirmed on completion. */
			c->hs_done_pending = true;
			conn_confirm(c, now);
		}
	}
	return 0;
}

int
conn_tls_start(struct qb_conn *c, uint64_t now)
{
	uint8_t tp[256];
	int n = conn_encode_tp(c, tp, sizeof(tp));

	if (n < 0)
		return n;
	c->tls = qb_tls_new(c->cfg.tls, c->is_server ? NULL : c->cfg.server_name, tp, (size_t)n);
	if (c->tls == NULL)
		return QB_ERR_NOMEM;
	return drain_tls(c, now);
}

int
conn_tls_on_crypto(struct qb_conn *c, int ep, uint64_t offset, const uint8_t *data, size_t len,
                   uint64_t now)
{
	struct qb_crypto_stream *cs = &c->cs[ep];
	uint64_t terr = 0;
	int rc = qb_crypto_stream_on_frame(cs, c->cfg.pools, offset, data, len, CONN_CRYPTO_RX_MAX,
	                                   &terr);

	if (rc == QB_ERR_PROTO) {
		conn_close_transport(c, terr, QB_FT_CRYPTO, "crypto buffer exceeded", now);
		return rc;
	}
	if (rc != 0)
		return rc; /* pool exhausted: the packet is not acknowledged */
	const uint8_t *p;
	size_t n;
	while ((n = qb_crypto_stream_peek(cs, c->cfg.pools, &p)) > 0) {
		if (c->tls == NULL || qb_tls_released(c->tls)) {
			qb_crypto_stream_consume(cs, c->cfg.pools, n);
			continue;
		}
		rc = qb_tls_provide(c->tls, (enum qb_tls_level)conn_ep_level(ep), p, n);
		qb_crypto_stream_consume(cs, c->cfg.pools, n);
		if (rc != 0) {
			uint64_t code = qb_tls_error_code(c->tls);
			conn_close_transport(c, code ? code : QB_TE_PROTOCOL_VIOLATION,
			                     QB_FT_CRYPTO, "TLS handshake failed", now);
			return QB_ERR_PROTO;
		}
	}
	return drain_tls(c, now);
}

void
conn_discard_epoch(struct qb_conn *c, int ep, uint64_t now)
{
	if (c->discarded[ep])
		return;
	c->discarded[ep] = true;
	/* RFC 9001 §4.9: the keys go, and their memory with them. */
	qb_crypto_key_free(c->rxk[ep]);
	qb_crypto_key_free(c->txk[ep]);
	c->rxk[ep] = c->txk[ep] = NULL;
	qb_recovery_discard_space(&c->rec, (enum qb_pn_space)ep, now);
	conn_mem_discard(c, ep);
	qb_crypto_stream_free(&c->cs[ep], c->cfg.pools);
	qb_crypto_stream_init(&c->cs[ep]);
	c->rx[ep].ack_pending = false;
	c->rx[ep].ack_deadline = QB_TIME_NONE;
}

/* RFC 9001 §4.1.2, §4.9.2: confirmed; Handshake keys go, TLS state is freed. */
void
conn_confirm(struct qb_conn *c, uint64_t now)
{
	if (c->hs_confirmed)
		return;
	c->hs_confirmed = true;
	conn_discard_epoch(c, CONN_EP_INITIAL, now);
	conn_discard_epoch(c, CONN_EP_HANDSHAKE, now);
	qb_recovery_set_handshake_confirmed(&c->rec, now);
	if (c->tls != NULL && qb_tls_is_complete(c->tls))
		qb_tls_release(c->tls);
}
