/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One connection's TLS handshake over BoringSSL's QUIC API (RFC 9001 §4.1):
 * received CRYPTO bytes go in per level, handshake bytes and traffic secrets
 * come out per level through the SSL_QUIC_METHOD hooks below, which only
 * record into the handle; the connection core polls them after each call.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <openssl/err.h>
#include <openssl/mem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "qburst/error.h"
#include "crypto/tls/tls_cert.h"
#include "crypto/tls/tls_internal.h"

/* QUIC transport error codes this layer reports (RFC 9000 §20.1). */
#define QB_TLS_INTERNAL_ERROR          0x01u
#define QB_TLS_PROTOCOL_VIOLATION      0x0au
#define QB_TLS_CRYPTO_BUFFER_EXCEEDED  0x0du
#define QB_TLS_CRYPTO_ERROR(alert)     (0x100u + (alert)) /* RFC 9001 §4.8 */
#define QB_TLS_ALERT_INTERNAL          80                 /* RFC 8446 §6.2 internal_error */
#define QB_TLS_ALERT_MISSING_EXTENSION 109
#define QB_TLS_ALERT_NO_APP_PROTOCOL   120

/* Unread outgoing handshake bytes of one level: [head, head + len) of buf. */
struct qb_tls_outbuf {
	uint8_t *buf;
	uint32_t head;
	uint32_t len;
	uint32_t cap;
};

/* What only the handshake needs, allocated apart so that qb_tls_release
 * shrinks a confirmed connection's TLS state to the small handle below. */
struct qb_tls_hs {
	struct qb_tls_outbuf out[QB_TLS_NLEVELS];
	struct qb_tls_secret secret[QB_TLS_NLEVELS][2]; /* [level][write] */
};

struct qb_tls {
	struct qb_tls_ctx *ctx;
	SSL *ssl;             /* NULL after qb_tls_release */
	struct qb_tls_hs *hs; /* NULL after qb_tls_release */
	uint32_t have_keys;   /* QB_TLS_KEY_BIT mask */
	uint32_t new_keys;
	uint64_t error_code;
	int16_t alert;
	int8_t alpn_idx;
	bool complete;
	bool failed;
};

static struct qb_tls *
tls_of(const SSL *ssl)
{
	return SSL_get_app_data(ssl);
}

static void
fail(struct qb_tls *t, uint64_t code)
{
	if (!t->failed) {
		t->failed = true;
		t->error_code = code;
	}
	/* BoringSSL's error queue is per thread: leave nothing in it for the
	 * next connection this worker runs. */
	ERR_clear_error();
}

/* A secret arrives (RFC 9001 §4.1.4); keep it and flag it new. */
static int
record_secret(SSL *ssl, enum ssl_encryption_level_t level, bool write, const SSL_CIPHER *cipher,
              const uint8_t *secret, size_t len)
{
	struct qb_tls *t = tls_of(ssl);
	uint16_t id = SSL_CIPHER_get_protocol_id(cipher);
	struct qb_tls_secret *s;
	size_t want;

	if ((unsigned)level >= QB_TLS_NLEVELS)
		return 0;
	switch (id) {
	case QB_TLS_AES_128_GCM_SHA256:
	case QB_TLS_CHACHA20_POLY1305_SHA256:
		want = 32;
		break;
	case QB_TLS_AES_256_GCM_SHA384:
		want = 48;
		break;
	default:
		return 0; /* a suite QUIC cannot protect packets with */
	}
	if (len != want)
		return 0;
	s = &t->hs->secret[level][write];
	s->cipher = (enum qb_tls_cipher)id;
	s->len = (uint8_t)len;
	memcpy(s->secret, secret, len);
	t->have_keys |= QB_TLS_KEY_BIT(level, write);
	t->new_keys |= QB_TLS_KEY_BIT(level, write);
	return 1;
}

static int
set_read_secret(SSL *ssl, enum ssl_encryption_level_t level, const SSL_CIPHER *cipher,
                const uint8_t *secret, size_t len)
{
	return record_secret(ssl, level, false, cipher, secret, len);
}

static int
set_write_secret(SSL *ssl, enum ssl_encryption_level_t level, const SSL_CIPHER *cipher,
                 const uint8_t *secret, size_t len)
{
	return record_secret(ssl, level, true, cipher, secret, len);
}

/*
 * Append to the level's output. Bounded by ctx->out_cap: the core drains
 * after every call, so only one flight ever waits here. Storage grows by
 * doubling (handshake time only) and is freed by qb_tls_release.
 */
static int
add_handshake_data(SSL *ssl, enum ssl_encryption_level_t level, const uint8_t *data, size_t len)
{
	struct qb_tls *t = tls_of(ssl);
	struct qb_tls_outbuf *b;
	size_t need;

	if ((unsigned)level >= QB_TLS_NLEVELS || level == ssl_encryption_early_data)
		return 0;
	b = &t->hs->out[level];
	need = (size_t)b->len + len;
	if (need > t->ctx->out_cap) {
		fail(t, QB_TLS_CRYPTO_ERROR(QB_TLS_ALERT_INTERNAL));
		return 0;
	}
	if (b->head + need > b->cap) {
		if (need <= b->cap) {
			memmove(b->buf, b->buf + b->head, b->len);
		} else {
			size_t cap = b->cap ? b->cap : 512;
			uint8_t *nb;

			while (cap < need)
				cap *= 2;
			if (cap > t->ctx->out_cap)
				cap = t->ctx->out_cap;
			nb = malloc(cap);
			if (nb == NULL) {
				fail(t, QB_TLS_CRYPTO_ERROR(QB_TLS_ALERT_INTERNAL));
				return 0;
			}
			if (b->len)
				memcpy(nb, b->buf + b->head, b->len);
			free(b->buf);
			b->buf = nb;
			b->cap = (uint32_t)cap;
		}
		b->head = 0;
	}
	memcpy(b->buf + b->head + b->len, data, len);
	b->len += (uint32_t)len;
	return 1;
}

static int
flush_flight(SSL *ssl)
{
	(void)ssl; /* the core drains the buffers after every call */
	return 1;
}

/* RFC 9001 §4.8: the alert becomes CRYPTO_ERROR 0x100 + alert, carried by
 * the core in CONNECTION_CLOSE; TLS never sends it itself. */
static int
send_alert(SSL *ssl, enum ssl_encryption_level_t level, uint8_t alert)
{
	struct qb_tls *t = tls_of(ssl);

	(void)level;
	if (t->alert < 0)
		t->alert = alert;
	return 1;
}

const SSL_QUIC_METHOD qb_tls_quic_method = {
        .set_read_secret = set_read_secret,
        .set_write_secret = set_write_secret,
        .add_handshake_data = add_handshake_data,
        .flush_flight = flush_flight,
        .send_alert = send_alert,
};

void
qb_tls_keylog_line(const SSL *ssl, const char *line)
{
	const struct qb_tls *t = tls_of(ssl);
	struct iovec iov[2];
	ssize_t n;

	if (t == NULL || t->ctx->keylog_fd < 0)
		return;
	/* One writev per line: with O_APPEND the line is never interleaved with
	 * another worker's. A failed write loses a log line, nothing more. */
	iov[0].iov_base = (void *)line;
	iov[0].iov_len = strlen(line);
	iov[1].iov_base = "\n";
	iov[1].iov_len = 1;
	n = writev(t->ctx->keylog_fd, iov, 2);
	(void)n;
}

enum qb_tls_aead
qb_tls_cipher_aead(enum qb_tls_cipher c)
{
	switch (c) {
	case QB_TLS_AES_128_GCM_SHA256:
		return QB_TLS_AEAD_AES128GCM;
	case QB_TLS_AES_256_GCM_SHA384:
		return QB_TLS_AEAD_AES256GCM;
	case QB_TLS_CHACHA20_POLY1305_SHA256:
		return QB_TLS_AEAD_CHACHA20POLY1305;
	}
	return 0;
}

enum qb_tls_hash
qb_tls_cipher_hash(enum qb_tls_cipher c)
{
	switch (c) {
	case QB_TLS_AES_128_GCM_SHA256:
	case QB_TLS_CHACHA20_POLY1305_SHA256:
		return QB_TLS_HASH_SHA256;
	case QB_TLS_AES_256_GCM_SHA384:
		return QB_TLS_HASH_SHA384;
	}
	return 0;
}

/* Note the negotiated protocol once BoringSSL knows it. */
static void
update_alpn(struct qb_tls *t)
{
	const uint8_t *p;
	unsigned len;

	if (t->alpn_idx >= 0)
		return;
	SSL_get0_alpn_selected(t->ssl, &p, &len);
	if (len > 0)
		t->alpn_idx = (int8_t)qb_tls_ctx_alpn_index(t->ctx, p, len);
}

/* A TLS failure: the alert TLS chose, else internal_error. */
static void
fail_tls(struct qb_tls *t)
{
	fail(t, QB_TLS_CRYPTO_ERROR(t->alert >= 0 ? t->alert : QB_TLS_ALERT_INTERNAL));
}

/* Checks BoringSSL may leave to us, done once at completion. */
static int
on_complete(struct qb_tls *t)
{
	const uint8_t *tp;
	size_t tp_len;

	t->complete = true;
	update_alpn(t);
	if (t->alpn_idx < 0) {
		/* RFC 9001 §8.1: no protocol, no connection. */
		t->alert = QB_TLS_ALERT_NO_APP_PROTOCOL;
		fail_tls(t);
		return QB_ERR_CRYPTO;
	}
	SSL_get_peer_quic_transport_params(t->ssl, &tp, &tp_len);
	if (tp_len == 0) {
		/* RFC 9001 §8.2: the extension is mandatory. */
		t->alert = QB_TLS_ALERT_MISSING_EXTENSION;
		fail_tls(t);
		return QB_ERR_CRYPTO;
	}
	return QB_OK;
}

/* Run the handshake as far as the input allows. */
static int
drive(struct qb_tls *t)
{
	int rc;

	if (t->complete) {
		/* Post-handshake messages (NewSessionTicket; RFC 9001 §4.1.3). */
		if (!SSL_process_quic_post_handshake(t->ssl)) {
			fail_tls(t);
			return QB_ERR_CRYPTO;
		}
		return QB_OK;
	}
	rc = SSL_do_handshake(t->ssl);
	if (rc == 1)
		return on_complete(t);
	if (SSL_get_error(t->ssl, rc) == SSL_ERROR_WANT_READ) {
		update_alpn(t);
		return QB_OK;
	}
	fail_tls(t);
	return QB_ERR_CRYPTO;
}

struct qb_tls *
qb_tls_new(struct qb_tls_ctx *ctx, const char *peer_name, const uint8_t *tp, size_t tp_len)
{
	struct qb_tls *t;

	if (ctx == NULL || (tp == NULL && tp_len > 0))
		return NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->ctx = ctx;
	t->alert = -1;
	t->alpn_idx = -1;
	t->hs = calloc(1, sizeof(*t->hs));
	if (t->hs == NULL)
		goto fail;
	t->ssl = SSL_new(ctx->ssl_ctx);
	if (t->ssl == NULL || !SSL_set_app_data(t->ssl, t))
		goto fail;
	/* RFC 9001 §8.2: code point 0x39, not the drafts' 0xffa5. */
	SSL_set_quic_use_legacy_codepoint(t->ssl, 0);
	if (!SSL_set_quic_transport_params(t->ssl, tp, tp_len))
		goto fail;

	if (ctx->role == QB_TLS_SERVER) {
		SSL_set_accept_state(t->ssl);
		return t;
	}

	SSL_set_connect_state(t->ssl);
	if (peer_name != NULL && peer_name[0] != '\0') {
		bool ip = qb_tls_is_ip_literal(peer_name);
		X509_VERIFY_PARAM *param = SSL_get0_param(t->ssl);

		/* RFC 6066 §3: SNI carries host names, never address literals. */
		if (!ip && !SSL_set_tlsext_host_name(t->ssl, peer_name))
			goto fail;
		if (ctx->verify) {
			int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, peer_name)
			            : X509_VERIFY_PARAM_set1_host(param, peer_name,
			                                          strlen(peer_name));
			if (!ok)
				goto fail;
		}
	}
	/* The ClientHello, into the Initial output buffer (RFC 9001 §4.1.3:
	 * the client acquires handshake bytes before its first packet). */
	if (drive(t) != QB_OK)
		goto fail;
	return t;
fail:
	ERR_clear_error();
	qb_tls_free(t);
	return NULL;
}

static void
release_all(struct qb_tls *t)
{
	SSL_free(t->ssl);
	t->ssl = NULL;
	if (t->hs != NULL) {
		for (int i = 0; i < QB_TLS_NLEVELS; i++)
			free(t->hs->out[i].buf);
		OPENSSL_cleanse(t->hs->secret, sizeof(t->hs->secret));
		free(t->hs);
		t->hs = NULL;
	}
	t->have_keys = 0;
	t->new_keys = 0;
}

void
qb_tls_free(struct qb_tls *t)
{
	if (t == NULL)
		return;
	release_all(t);
	free(t);
}

int
qb_tls_provide(struct qb_tls *t, enum qb_tls_level level, const uint8_t *data, size_t len)
{
	if ((unsigned)level >= QB_TLS_NLEVELS || level == QB_TLS_LEVEL_EARLY ||
	    (data == NULL && len > 0))
		return QB_ERR_ARG;
	if (t->failed)
		return QB_ERR_STATE;
	if (t->ssl == NULL)
		return level == QB_TLS_LEVEL_APP ? QB_OK : QB_ERR_STATE;
	if (len > 0 &&
	    !SSL_provide_quic_data(t->ssl, (enum ssl_encryption_level_t)level, data, len)) {
		/* Either a level TLS is not reading (RFC 9001 §4.1.3: new data
		 * at an old level is a PROTOCOL_VIOLATION), or more than
		 * SSL_quic_max_handshake_flight_len waiting (RFC 9000 §7.5). */
		if ((enum ssl_encryption_level_t)level != SSL_quic_read_level(t->ssl))
			fail(t, QB_TLS_PROTOCOL_VIOLATION);
		else
			fail(t, QB_TLS_CRYPTO_BUFFER_EXCEEDED);
		return QB_ERR_PROTO;
	}
	return drive(t);
}

size_t
qb_tls_out(const struct qb_tls *t, enum qb_tls_level level, const uint8_t **data)
{
	const struct qb_tls_outbuf *b;

	*data = NULL;
	if ((unsigned)level >= QB_TLS_NLEVELS || t->hs == NULL)
		return 0;
	b = &t->hs->out[level];
	if (b->len == 0)
		return 0;
	*data = b->buf + b->head;
	return b->len;
}

void
qb_tls_out_consume(struct qb_tls *t, enum qb_tls_level level, size_t n)
{
	struct qb_tls_outbuf *b;

	if ((unsigned)level >= QB_TLS_NLEVELS || t->hs == NULL)
		return;
	b = &t->hs->out[level];
	if (n >= b->len) {
		b->head = 0;
		b->len = 0;
	} else {
		b->head += (uint32_t)n;
		b->len -= (uint32_t)n;
	}
}

uint32_t
qb_tls_take_new_keys(struct qb_tls *t)
{
	uint32_t m = t->new_keys;

	t->new_keys = 0;
	return m;
}

int
qb_tls_secret(const struct qb_tls *t, enum qb_tls_level level, bool write,
              struct qb_tls_secret *out)
{
	if ((unsigned)level >= QB_TLS_NLEVELS || !(t->have_keys & QB_TLS_KEY_BIT(level, write)))
		return QB_ERR_STATE;
	*out = t->hs->secret[level][write];
	return QB_OK;
}

bool
qb_tls_is_complete(const struct qb_tls *t)
{
	return t->complete && !t->failed;
}

bool
qb_tls_failed(const struct qb_tls *t)
{
	return t->failed;
}

uint64_t
qb_tls_error_code(const struct qb_tls *t)
{
	return t->failed ? t->error_code : 0;
}

int
qb_tls_alert(const struct qb_tls *t)
{
	return t->alert;
}

size_t
qb_tls_peer_tp(const struct qb_tls *t, const uint8_t **data)
{
	size_t len = 0;

	*data = NULL;
	if (t->ssl == NULL)
		return 0;
	SSL_get_peer_quic_transport_params(t->ssl, data, &len);
	if (len == 0)
		*data = NULL;
	return len;
}

const char *
qb_tls_alpn(const struct qb_tls *t)
{
	return t->alpn_idx >= 0 ? t->ctx->alpn[t->alpn_idx] : NULL;
}

const char *
qb_tls_sni(const struct qb_tls *t)
{
	if (t->ssl == NULL || t->ctx->role != QB_TLS_SERVER)
		return NULL;
	return SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
}

int
qb_tls_client_random(const struct qb_tls *t, uint8_t out[32])
{
	if (t->ssl == NULL || SSL_get_client_random(t->ssl, out, 32) != 32)
		return QB_ERR_STATE;
	return QB_OK;
}

int
qb_tls_release(struct qb_tls *t)
{
	if (t->ssl == NULL)
		return QB_OK;
	if (!qb_tls_is_complete(t))
		return QB_ERR_STATE;
	release_all(t);
	return QB_OK;
}

bool
qb_tls_released(const struct qb_tls *t)
{
	return t->ssl == NULL;
}
