/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QBURST_TLS_H
#define QBURST_TLS_H

/*
 * The TLS 1.3 handshake for QUIC (RFC 9001 §4), through BoringSSL's QUIC API,
 * sans-IO: bytes in, bytes and secrets out. This layer never protects packets
 * and never touches the network or the clock.
 *
 * Flow for the connection core:
 *  1. one qb_tls_ctx per endpoint role, made at start (qb_tls_ctx_new);
 *  2. per connection, qb_tls_new(ctx, peer name, local transport parameters).
 *     A client's ClientHello is ready at once in the Initial output buffer;
 *  3. after every call that feeds TLS (qb_tls_new for a client, qb_tls_provide):
 *     - qb_tls_take_new_keys(): the secrets that became available, then
 *       qb_tls_secret() for each to derive packet protection keys;
 *     - qb_tls_out() / qb_tls_out_consume(): handshake bytes to send in CRYPTO
 *       frames at each level (the core copies them into its crypto stream);
 *     - qb_tls_is_complete(), qb_tls_peer_tp(), qb_tls_alpn();
 *     - on failure, qb_tls_error_code() for CONNECTION_CLOSE (type 0x1c);
 *  4. once the handshake is confirmed (RFC 9001 §4.1.2), qb_tls_release()
 *     frees the SSL object and buffers (BRIEF §6: the per-connection memory
 *     budget), keeping only the small handle; qb_tls_free() at the end.
 *
 * Threads: a qb_tls_ctx may be shared by workers (BoringSSL's SSL_CTX is
 * thread-safe for SSL_new); a qb_tls handle belongs to one thread.
 * Allocation: only in qb_tls_ctx_new, qb_tls_new and while the handshake runs
 * (BoringSSL allocates there anyway); never on the per-packet path.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Encryption levels, numbered as BoringSSL's enum ssl_encryption_level_t.
 * Initial and Handshake have their own packet number spaces; early data
 * (0-RTT) and application (1-RTT) share one (RFC 9001 §4). */
enum qb_tls_level {
	QB_TLS_LEVEL_INITIAL = 0,
	QB_TLS_LEVEL_EARLY = 1,
	QB_TLS_LEVEL_HANDSHAKE = 2,
	QB_TLS_LEVEL_APP = 3,
};
#define QB_TLS_NLEVELS 4

enum qb_tls_role {
	QB_TLS_CLIENT = 0,
	QB_TLS_SERVER = 1,
};

/* Negotiated cipher suites, valued as their TLS 1.3 code points (RFC 8446
 * §B.4). Each names the AEAD and the hash of HKDF (RFC 9001 §5). */
enum qb_tls_cipher {
	QB_TLS_AES_128_GCM_SHA256 = 0x1301,
	QB_TLS_AES_256_GCM_SHA384 = 0x1302,
	QB_TLS_CHACHA20_POLY1305_SHA256 = 0x1303,
};

enum qb_tls_aead {
	QB_TLS_AEAD_AES128GCM = 1,
	QB_TLS_AEAD_AES256GCM = 2,
	QB_TLS_AEAD_CHACHA20POLY1305 = 3,
};

enum qb_tls_hash {
	QB_TLS_HASH_SHA256 = 1,
	QB_TLS_HASH_SHA384 = 2,
};

/* The AEAD and HKDF hash of a cipher suite; 0 for an unknown value. */
enum qb_tls_aead qb_tls_cipher_aead(enum qb_tls_cipher c);
enum qb_tls_hash qb_tls_cipher_hash(enum qb_tls_cipher c);

/* A traffic secret (RFC 8446 §7.1) and the suite it belongs to. len is the
 * hash length: 32 (SHA-256) or 48 (SHA-384). */
#define QB_TLS_SECRET_MAX 48
struct qb_tls_secret {
	enum qb_tls_cipher cipher;
	uint8_t len;
	uint8_t secret[QB_TLS_SECRET_MAX];
};

/* Endpoint configuration. Strings are copied; NULL means "not set". */
struct qb_tls_ctx_config {
	enum qb_tls_role role;
	/* Application protocols in preference order (e.g. "h3", "hq-interop");
	 * at least one, each 1..255 bytes, at most QB_TLS_ALPN_MAX. A server
	 * picks its first entry the client also offers (RFC 7301 §3.2); no
	 * overlap fails the handshake with no_application_protocol (RFC 9001
	 * §8.1), i.e. CRYPTO_ERROR 0x178. */
	const char *const *alpn;
	size_t alpn_count;
	/* Server: PEM certificate chain (leaf first) and PEM private key. When
	 * both are NULL, a self-signed ECDSA P-256 certificate for
	 * selfsigned_name (a DNS name or an IP literal; NULL: "localhost") is
	 * made in memory. */
	const char *cert_file;
	const char *key_file;
	const char *selfsigned_name;
	/* Client: PEM file of trusted CAs. Set: the server's chain is verified
	 * (and its name or IP, see qb_tls_new); NULL: no verification. */
	const char *ca_file;
	/* SSLKEYLOGFILE-format log of every secret, appended to; NULL: off. */
	const char *keylog_file;
	/* Cap, in bytes, on the unread handshake output of one level of one
	 * connection; 0 selects QB_TLS_OUT_CAP_DEFAULT. A flight that does not
	 * fit fails the handshake (internal_error): drain after every call. */
	uint32_t out_cap;
};
#define QB_TLS_ALPN_MAX        8
#define QB_TLS_OUT_CAP_DEFAULT 32768u

struct qb_tls_ctx;
struct qb_tls;

/*
 * Make an endpoint context: TLS 1.3 only, QUIC method, ALPN, certificate or
 * CA, key log, no session tickets, no early data.
 * Returns NULL on failure with a one-line reason in errbuf (if errbuf_len > 0).
 */
struct qb_tls_ctx *qb_tls_ctx_new(const struct qb_tls_ctx_config *cfg, char *errbuf,
                                  size_t errbuf_len);

/* Free ctx. Every qb_tls made from it must have been freed first. NULL ok. */
void qb_tls_ctx_free(struct qb_tls_ctx *ctx);

/*
 * Start the TLS side of one connection.
 * peer_name (client only; NULL allowed): the server's DNS name or IP literal.
 *   A DNS name is sent as SNI (RFC 6066 §3) and, with a CA file, checked
 *   against the certificate; an IP literal is not sent (SNI carries no
 *   addresses) but is checked against the certificate's IP addresses.
 * tp, tp_len: our encoded transport parameters (RFC 9000 §18), sent in the
 *   quic_transport_parameters extension, code point 0x39 (RFC 9001 §8.2).
 * A client produces its ClientHello here (Initial output buffer).
 * Returns NULL on allocation or BoringSSL failure.
 */
struct qb_tls *qb_tls_new(struct qb_tls_ctx *ctx, const char *peer_name, const uint8_t *tp,
                          size_t tp_len);

/* Free t and everything it holds (secrets are wiped). NULL ok. */
void qb_tls_free(struct qb_tls *t);

/*
 * Feed in-order CRYPTO stream bytes received at level (the core reassembles
 * by offset and passes each new contiguous run once). Drives the handshake,
 * or, once it is complete, post-handshake messages (e.g. NewSessionTicket).
 * Returns 0 (including "need more bytes"), or:
 *   QB_ERR_CRYPTO  TLS failed; qb_tls_error_code() says 0x100 + alert;
 *   QB_ERR_PROTO   data at a level TLS does not expect, or too much buffered
 *                  (error code PROTOCOL_VIOLATION or CRYPTO_BUFFER_EXCEEDED);
 *   QB_ERR_ARG     level out of range or EARLY (CRYPTO is never 0-RTT);
 *   QB_ERR_STATE   t failed before, or was released (after release, bytes at
 *                  the APP level are accepted and ignored and 0 is returned).
 * Any failure is final for t.
 */
int qb_tls_provide(struct qb_tls *t, enum qb_tls_level level, const uint8_t *data, size_t len);

/*
 * Handshake bytes to send at level: *data points at n = return value unread
 * bytes (valid until the next call on t). Returns 0 when none.
 */
size_t qb_tls_out(const struct qb_tls *t, enum qb_tls_level level, const uint8_t **data);

/* Mark the first n bytes returned by qb_tls_out as taken (n is clamped). */
void qb_tls_out_consume(struct qb_tls *t, enum qb_tls_level level, size_t n);

/* Bit for (level, direction) in qb_tls_take_new_keys's mask. */
#define QB_TLS_KEY_BIT(level, write) (1u << ((level)*2 + ((write) ? 1 : 0)))

/* The secrets that became available since the last call, as a mask of
 * QB_TLS_KEY_BIT; clears it. Initial secrets never appear here: they come
 * from the client's Destination Connection ID (RFC 9001 §5.2). */
uint32_t qb_tls_take_new_keys(struct qb_tls *t);

/* Copy the read (write=false) or write secret of level to *out.
 * Returns 0, or QB_ERR_STATE when that secret is not (yet) known. */
int qb_tls_secret(const struct qb_tls *t, enum qb_tls_level level, bool write,
                  struct qb_tls_secret *out);

/* True once TLS has sent and verified both Finished messages (RFC 9001
 * §4.1.1), and t has not failed since. Stays true after qb_tls_release. */
bool qb_tls_is_complete(const struct qb_tls *t);

/* True after a failure (see qb_tls_error_code). */
bool qb_tls_failed(const struct qb_tls *t);

/*
 * The QUIC error code of the failure, for CONNECTION_CLOSE: 0x100 + the TLS
 * alert (CRYPTO_ERROR, RFC 9001 §4.8), or a transport error (0x0a
 * PROTOCOL_VIOLATION, 0x0d CRYPTO_BUFFER_EXCEEDED, 0x01 INTERNAL_ERROR).
 * 0 while t has not failed.
 */
uint64_t qb_tls_error_code(const struct qb_tls *t);

/* The alert TLS raised (RFC 8446 §6), or -1 when none. */
int qb_tls_alert(const struct qb_tls *t);

/* The peer's encoded transport parameters (RFC 9000 §18) as received:
 * sets *data and returns the length, 0 when not (yet) received. Available
 * to a server once the ClientHello is read, to a client once the server's
 * EncryptedExtensions are; the bytes live until qb_tls_release. */
size_t qb_tls_peer_tp(const struct qb_tls *t, const uint8_t **data);

/* The negotiated application protocol (a NUL-terminated string owned by the
 * ctx), or NULL before it is known. Survives qb_tls_release. */
const char *qb_tls_alpn(const struct qb_tls *t);

/* Server: the SNI the client sent (NUL-terminated), or NULL when none. Valid
 * until qb_tls_release. Client: NULL. */
const char *qb_tls_sni(const struct qb_tls *t);

/* The 32-byte ClientHello random (the key log's second field), copied to
 * out. Returns 0, or QB_ERR_STATE after qb_tls_release. */
int qb_tls_client_random(const struct qb_tls *t, uint8_t out[32]);

/*
 * Free the SSL object, the output buffers and every secret once the handshake
 * is confirmed (server: complete; client: HANDSHAKE_DONE received; RFC 9001
 * §4.1.2). The core must have taken the secrets it keeps (the 1-RTT ones, for
 * key updates). Afterwards: ALPN, completion and the error code still
 * answer; qb_tls_provide ignores APP-level bytes. Returns 0, or QB_ERR_STATE
 * when the handshake is not complete (nothing is freed).
 */
int qb_tls_release(struct qb_tls *t);

/* True after qb_tls_release. */
bool qb_tls_released(const struct qb_tls *t);

/*
 * Write a fresh self-signed ECDSA P-256 certificate for name (DNS name or IP
 * literal, put in subjectAltName and CN) and its private key to two PEM
 * files (the key file mode 0600). For tests and for peers that need files.
 * Returns 0, QB_ERR_ARG (bad name), QB_ERR_CRYPTO or QB_ERR_INVALID (a file
 * could not be written).
 */
int qb_tls_selfsigned_write(const char *name, const char *cert_path, const char *key_path);

#endif
