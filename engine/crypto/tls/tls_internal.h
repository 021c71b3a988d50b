/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_TLS_INTERNAL_H
#define QB_TLS_INTERNAL_H

/* Shared between tls_ctx.c and tls_conn.c; not part of the public API. */

#include <stdint.h>
#include <openssl/ssl.h>

#include "qburst/tls.h"

struct qb_tls_ctx {
	SSL_CTX *ssl_ctx;
	enum qb_tls_role role;
	bool verify;   /* client: a CA file was given */
	int keylog_fd; /* -1: no key log */
	uint32_t out_cap;
	uint8_t alpn_count;
	char *alpn[QB_TLS_ALPN_MAX]; /* NUL-terminated copies, preference order */
	uint8_t alpn_len[QB_TLS_ALPN_MAX];
};

/* The QUIC hooks every SSL_CTX of ours carries (tls_conn.c). */
extern const SSL_QUIC_METHOD qb_tls_quic_method;

/* The key-log hook (tls_conn.c: it finds the handle, hence the ctx's fd). */
void qb_tls_keylog_line(const SSL *ssl, const char *line);

/* Index into ctx->alpn of the protocol name/len, or -1. */
int qb_tls_ctx_alpn_index(const struct qb_tls_ctx *ctx, const uint8_t *name, size_t len);

#endif
