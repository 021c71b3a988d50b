/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-endpoint TLS context: one SSL_CTX configured for QUIC (RFC 9001
 * §4.2: TLS 1.3 only; §8.1: ALPN mandatory; §4.6: no 0-RTT for now), with
 * the server's identity or the client's trust anchors, and the key log.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "qburst/error.h"
#include "crypto/tls/tls_cert.h"
#include "crypto/tls/tls_internal.h"

static void
set_err(char *errbuf, size_t errbuf_len, const char *fmt, ...)
{
	va_list ap;

	if (errbuf == NULL || errbuf_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errbuf_len, fmt, ap);
	va_end(ap);
}

/* The reason BoringSSL gave for the last failure, for a one-line message. */
static const char *
ssl_reason(char *buf, size_t len)
{
	uint32_t e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, len, "unknown reason");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

int
qb_tls_ctx_alpn_index(const struct qb_tls_ctx *ctx, const uint8_t *name, size_t len)
{
	for (int i = 0; i < ctx->alpn_count; i++)
		if (ctx->alpn_len[i] == len && memcmp(ctx->alpn[i], name, len) == 0)
			return i;
	return -1;
}

/*
 * Server ALPN choice (RFC 7301 §3.2): our first protocol the client also
 * offers. The client's list `in` is length-prefixed; walk it bounds-checked.
 * No overlap: a fatal alert, which BoringSSL sends as no_application_protocol
 * (RFC 9001 §8.1).
 */
static int
alpn_select(SSL *ssl, const uint8_t **out, uint8_t *out_len, const uint8_t *in, unsigned in_len,
            void *arg)
{
	const struct qb_tls_ctx *ctx = arg;

	(void)ssl;
	for (int i = 0; i < ctx->alpn_count; i++) {
		unsigned pos = 0;

		while (pos < in_len) {
			unsigned l = in[pos];

			if (l == 0 || l > in_len - pos - 1)
				break; /* malformed tail; BoringSSL checks it too */
			if (l == ctx->alpn_len[i] && memcmp(in + pos + 1, ctx->alpn[i], l) == 0) {
				*out = in + pos + 1;
				*out_len = (uint8_t)l;
				return SSL_TLSEXT_ERR_OK;
			}
			pos += 1 + l;
		}
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int
set_alpn(struct qb_tls_ctx *ctx, const struct qb_tls_ctx_config *cfg, char *errbuf,
         size_t errbuf_len)
{
	uint8_t wire[QB_TLS_ALPN_MAX * 256];
	size_t wire_len = 0;

	if (cfg->alpn == NULL || cfg->alpn_count == 0 || cfg->alpn_count > QB_TLS_ALPN_MAX) {
		set_err(errbuf, errbuf_len, "TLS: between 1 and %d ALPN protocols are needed",
		        QB_TLS_ALPN_MAX);
		return -1;
	}
	for (size_t i = 0; i < cfg->alpn_count; i++) {
		size_t l = cfg->alpn[i] ? strlen(cfg->alpn[i]) : 0;

		if (l == 0 || l > 255) {
			set_err(errbuf, errbuf_len, "TLS: ALPN protocol %zu is empty or too long",
			        i);
			return -1;
		}
		ctx->alpn[i] = strdup(cfg->alpn[i]);
		if (ctx->alpn[i] == NULL) {
			set_err(errbuf, errbuf_len, "TLS: out of memory");
			return -1;
		}
		ctx->alpn_len[i] = (uint8_t)l;
		ctx->alpn_count = (uint8_t)(i + 1);
		wire[wire_len++] = (uint8_t)l;
		memcpy(wire + wire_len, cfg->alpn[i], l);
		wire_len += l;
	}
	if (ctx->role == QB_TLS_SERVER) {
		SSL_CTX_set_alpn_select_cb(ctx->ssl_ctx, alpn_select, ctx);
	} else if (SSL_CTX_set_alpn_protos(ctx->ssl_ctx, wire, wire_len) != 0) {
		/* this one returns 0 on success */
		set_err(errbuf, errbuf_len, "TLS: cannot set the ALPN list");
		return -1;
	}
	return 0;
}

static int
set_server_identity(struct qb_tls_ctx *ctx, const struct qb_tls_ctx_config *cfg, char *errbuf,
                    size_t errbuf_len)
{
	char why[160];

	if (cfg->cert_file != NULL || cfg->key_file != NULL) {
		if (cfg->cert_file == NULL || cfg->key_file == NULL) {
			set_err(errbuf, errbuf_len, "TLS: --cert and --key go together");
			return -1;
		}
		if (!SSL_CTX_use_certificate_chain_file(ctx->ssl_ctx, cfg->cert_file)) {
			set_err(errbuf, errbuf_len, "TLS: cannot load certificate %s: %s",
			        cfg->cert_file, ssl_reason(why, sizeof(why)));
			return -1;
		}
		if (!SSL_CTX_use_PrivateKey_file(ctx->ssl_ctx, cfg->key_file, SSL_FILETYPE_PEM)) {
			set_err(errbuf, errbuf_len, "TLS: cannot load private key %s: %s",
			        cfg->key_file, ssl_reason(why, sizeof(why)));
			return -1;
		}
	} else {
		const char *name = cfg->selfsigned_name ? cfg->selfsigned_name : "localhost";
		X509 *cert;
		EVP_PKEY *key;
		int ok;

		if (qb_tls_cert_make(name, NULL, NULL, false, &cert, &key) != QB_OK) {
			set_err(errbuf, errbuf_len,
			        "TLS: cannot make a self-signed certificate for '%s'", name);
			ERR_clear_error();
			return -1;
		}
		ok = SSL_CTX_use_certificate(ctx->ssl_ctx, cert) &&
		     SSL_CTX_use_PrivateKey(ctx->ssl_ctx, key);
		X509_free(cert); /* the SSL_CTX holds its own references */
		EVP_PKEY_free(key);
		if (!ok) {
			set_err(errbuf, errbuf_len,
			        "TLS: cannot use the self-signed certificate: %s",
			        ssl_reason(why, sizeof(why)));
			return -1;
		}
	}
	if (!SSL_CTX_check_private_key(ctx->ssl_ctx)) {
		set_err(errbuf, errbuf_len, "TLS: the private key does not match the certificate");
		ERR_clear_error();
		return -1;
	}
	return 0;
}

struct qb_tls_ctx *
qb_tls_ctx_new(const struct qb_tls_ctx_config *cfg, char *errbuf, size_t errbuf_len)
{
	struct qb_tls_ctx *ctx;
	char why[160];

	if (cfg == NULL || (cfg->role != QB_TLS_CLIENT && cfg->role != QB_TLS_SERVER)) {
		set_err(errbuf, errbuf_len, "TLS: bad configuration");
		return NULL;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		set_err(errbuf, errbuf_len, "TLS: out of memory");
		return NULL;
	}
	ctx->role = cfg->role;
	ctx->keylog_fd = -1;
	ctx->out_cap = cfg->out_cap ? cfg->out_cap : QB_TLS_OUT_CAP_DEFAULT;
	ctx->ssl_ctx = SSL_CTX_new(TLS_method());
	if (ctx->ssl_ctx == NULL) {
		set_err(errbuf, errbuf_len, "TLS: SSL_CTX_new: %s", ssl_reason(why, sizeof(why)));
		goto fail;
	}
	/* RFC 9001 §4.2: TLS 1.3 or newer only; §4.6: no 0-RTT yet; session
	 * tickets off (no resumption yet, and no NewSessionTicket to send). */
	if (!SSL_CTX_set_min_proto_version(ctx->ssl_ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx->ssl_ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_quic_method(ctx->ssl_ctx, &qb_tls_quic_method)) {
		set_err(errbuf, errbuf_len, "TLS: cannot configure TLS 1.3 for QUIC: %s",
		        ssl_reason(why, sizeof(why)));
		goto fail;
	}
	SSL_CTX_set_early_data_enabled(ctx->ssl_ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx->ssl_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx->ssl_ctx, SSL_OP_NO_TICKET);
	if (set_alpn(ctx, cfg, errbuf, errbuf_len) < 0)
		goto fail;

	if (ctx->role == QB_TLS_SERVER) {
		if (set_server_identity(ctx, cfg, errbuf, errbuf_len) < 0)
			goto fail;
	} else if (cfg->ca_file != NULL) {
		if (!SSL_CTX_load_verify_locations(ctx->ssl_ctx, cfg->ca_file, NULL)) {
			set_err(errbuf, errbuf_len, "TLS: cannot load CA file %s: %s", cfg->ca_file,
			        ssl_reason(why, sizeof(why)));
			goto fail;
		}
		SSL_CTX_set_verify(ctx->ssl_ctx, SSL_VERIFY_PEER, NULL);
		ctx->verify = true;
	} else {
		/* No trust anchors given: the chain is not verified (BRIEF §10:
		 * the app prints a warning). */
		SSL_CTX_set_verify(ctx->ssl_ctx, SSL_VERIFY_NONE, NULL);
	}

	if (cfg->keylog_file != NULL) {
		/* Opened once; O_APPEND so each line's single write lands whole
		 * even with several workers logging at once. */
		ctx->keylog_fd =
		        open(cfg->keylog_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (ctx->keylog_fd < 0) {
			set_err(errbuf, errbuf_len, "TLS: cannot open key log %s: %s",
			        cfg->keylog_file, strerror(errno));
			goto fail;
		}
		SSL_CTX_set_keylog_callback(ctx->ssl_ctx, qb_tls_keylog_line);
	}
	return ctx;
fail:
	qb_tls_ctx_free(ctx);
	return NULL;
}

void
qb_tls_ctx_free(struct qb_tls_ctx *ctx)
{
	if (ctx == NULL)
		return;
	SSL_CTX_free(ctx->ssl_ctx);
	for (int i = 0; i < ctx->alpn_count; i++)
		free(ctx->alpn[i]);
	if (ctx->keylog_fd >= 0)
		close(ctx->keylog_fd);
	free(ctx);
}

int
qb_tls_selfsigned_write(const char *name, const char *cert_path, const char *key_path)
{
	X509 *cert;
	EVP_PKEY *key;
	int rc;

	if (name == NULL || cert_path == NULL || key_path == NULL)
		return QB_ERR_ARG;
	rc = qb_tls_cert_make(name, NULL, NULL, false, &cert, &key);
	if (rc != QB_OK) {
		ERR_clear_error();
		return rc;
	}
	rc = qb_tls_pem_write(cert, key, cert_path, key_path);
	X509_free(cert);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}
