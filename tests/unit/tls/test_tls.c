/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TLS layer (qburst/tls.h) driven in memory: a client and a server handle
 * hand each other the handshake bytes of each level directly, no packets.
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "qburst/crypto.h"
#include "qburst/error.h"
#include "qburst/tls.h"
#include "crypto/tls/tls_cert.h"
#include "crypto/tls/tls_internal.h"

static const char *const alpn_both[] = {"h3", "hq-interop"};
static const char *const alpn_h3[] = {"h3"};
static const char *const alpn_hq[] = {"hq-interop"};

static const uint8_t client_tp[] = {0x04, 0x04, 0x80, 0x10, 0x00, 0x00, 0x0f, 0x04,
                                    0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x43, 0xe8};
static const uint8_t server_tp[] = {0x00, 0x08, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
                                    0x07, 0x08, 0x03, 0x02, 0x45, 0xc0, 0x0e, 0x01,
                                    0x04, 0x0f, 0x04, 0xca, 0xfe, 0xf0, 0x0d};

static char tmpdir[64];

static void
mktemp_dir(void)
{
	strcpy(tmpdir, "/tmp/qb_tls_test_XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_temp_dir(void)
{
	if (tmpdir[0] != '\0')
		nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	tmpdir[0] = '\0';
}

static const char *
tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
	return buf;
}

static struct qb_tls_ctx *
make_ctx(const struct qb_tls_ctx_config *cfg)
{
	char err[256] = "";
	struct qb_tls_ctx *ctx = qb_tls_ctx_new(cfg, err, sizeof(err));

	cr_assert_not_null(ctx, "qb_tls_ctx_new: %s", err);
	return ctx;
}

static struct qb_tls_ctx *
server_ctx(const char *const *alpn, size_t n)
{
	struct qb_tls_ctx_config cfg = {
	        .role = QB_TLS_SERVER,
	        .alpn = alpn,
	        .alpn_count = n,
	        .selfsigned_name = "localhost",
	};
	return make_ctx(&cfg);
}

static struct qb_tls_ctx *
client_ctx(const char *const *alpn, size_t n, const char *ca_file, const char *keylog)
{
	struct qb_tls_ctx_config cfg = {
	        .role = QB_TLS_CLIENT,
	        .alpn = alpn,
	        .alpn_count = n,
	        .ca_file = ca_file,
	        .keylog_file = keylog,
	};
	return make_ctx(&cfg);
}

/* Move one side's pending handshake bytes of every level to the other.
 * Returns the bytes moved; stops at the first provide failure. */
static size_t
transfer(struct qb_tls *from, struct qb_tls *to, int *rc)
{
	static const enum qb_tls_level levels[] = {QB_TLS_LEVEL_INITIAL, QB_TLS_LEVEL_HANDSHAKE,
	                                           QB_TLS_LEVEL_APP};
	size_t moved = 0;

	*rc = 0;
	for (size_t i = 0; i < 3; i++) {
		const uint8_t *p;
		size_t n = qb_tls_out(from, levels[i], &p);

		if (n == 0)
			continue;
		*rc = qb_tls_provide(to, levels[i], p, n);
		qb_tls_out_consume(from, levels[i], n);
		moved += n;
		if (*rc != 0)
			break;
	}
	return moved;
}

/* Ping-pong until neither side has anything to say or one fails. */
static void
pump(struct qb_tls *c, struct qb_tls *s)
{
	int rc_s = 0, rc_c = 0;

	for (int round = 0; round < 10; round++) {
		size_t a = transfer(c, s, &rc_s);
		size_t b = transfer(s, c, &rc_c);

		if ((a == 0 && b == 0) || rc_s != 0 || rc_c != 0)
			return;
	}
	cr_assert_fail("handshake did not settle in 10 rounds");
}

static void
assert_secret_pair(struct qb_tls *w, struct qb_tls *r, enum qb_tls_level level)
{
	struct qb_tls_secret ws, rs;

	cr_assert_eq(qb_tls_secret(w, level, true, &ws), 0);
	cr_assert_eq(qb_tls_secret(r, level, false, &rs), 0);
	cr_assert_eq(ws.cipher, rs.cipher);
	cr_assert_eq(ws.len, rs.len);
	cr_assert(ws.len == 32 || ws.len == 48);
	cr_assert_eq(memcmp(ws.secret, rs.secret, ws.len), 0, "level %d secrets differ", level);
}

Test(tls, full_handshake)
{
	struct qb_tls_ctx *sctx = server_ctx(alpn_both, 2);
	struct qb_tls_ctx *cctx = client_ctx(alpn_both, 2, NULL, NULL);
	struct qb_tls *c = qb_tls_new(cctx, "localhost", client_tp, sizeof(client_tp));
	struct qb_tls *s = qb_tls_new(sctx, NULL, server_tp, sizeof(server_tp));
	const uint8_t *p;
	size_t n;
	uint32_t ckeys, skeys;
	struct qb_tls_secret sec, c_hs_tx;

	cr_assert_not_null(c);
	cr_assert_not_null(s);
	/* The ClientHello is ready at once, at the Initial level only. */
	cr_assert_gt(qb_tls_out(c, QB_TLS_LEVEL_INITIAL, &p), 0);
	cr_assert_eq(p[0], 1, "first byte is the ClientHello message type");
	cr_assert_eq(qb_tls_out(c, QB_TLS_LEVEL_HANDSHAKE, &p), 0);
	cr_assert_eq(qb_tls_take_new_keys(c), 0, "no keys before the server answers");

	pump(c, s);
	cr_assert(qb_tls_is_complete(c));
	cr_assert(qb_tls_is_complete(s));
	cr_assert_not(qb_tls_failed(c));
	cr_assert_eq(qb_tls_error_code(c), 0);
	cr_assert_eq(qb_tls_alert(s), -1);

	/* Handshake and 1-RTT secrets on both sides, none for 0-RTT. */
	ckeys = qb_tls_take_new_keys(c);
	skeys = qb_tls_take_new_keys(s);
	for (int lvl = QB_TLS_LEVEL_HANDSHAKE; lvl <= QB_TLS_LEVEL_APP; lvl++)
		for (int w = 0; w < 2; w++) {
			cr_assert(ckeys & QB_TLS_KEY_BIT(lvl, w));
			cr_assert(skeys & QB_TLS_KEY_BIT(lvl, w));
		}
	cr_assert_not(ckeys & (QB_TLS_KEY_BIT(QB_TLS_LEVEL_EARLY, 0) |
	                       QB_TLS_KEY_BIT(QB_TLS_LEVEL_EARLY, 1)));
	cr_assert_eq(qb_tls_take_new_keys(c), 0, "the mask clears");
	cr_assert_eq(qb_tls_secret(c, QB_TLS_LEVEL_EARLY, true, &sec), QB_ERR_STATE);
	cr_assert_eq(qb_tls_secret(c, QB_TLS_LEVEL_INITIAL, false, &sec), QB_ERR_STATE);

	assert_secret_pair(c, s, QB_TLS_LEVEL_HANDSHAKE);
	assert_secret_pair(s, c, QB_TLS_LEVEL_HANDSHAKE);
	assert_secret_pair(c, s, QB_TLS_LEVEL_APP);
	assert_secret_pair(s, c, QB_TLS_LEVEL_APP);
	/* Each direction has its own secret. */
	qb_tls_secret(c, QB_TLS_LEVEL_HANDSHAKE, true, &c_hs_tx);
	qb_tls_secret(c, QB_TLS_LEVEL_HANDSHAKE, false, &sec);
	cr_assert_neq(memcmp(c_hs_tx.secret, sec.secret, sec.len), 0);
	/* The default suite here is AES-128-GCM (both ends prefer it with AES-NI). */
	cr_assert(c_hs_tx.cipher == QB_TLS_AES_128_GCM_SHA256 ||
	          c_hs_tx.cipher == QB_TLS_AES_256_GCM_SHA384 ||
	          c_hs_tx.cipher == QB_TLS_CHACHA20_POLY1305_SHA256);
	cr_assert_eq(c_hs_tx.len,
	             qb_tls_cipher_hash(c_hs_tx.cipher) == QB_TLS_HASH_SHA384 ? 48 : 32);

	/* ALPN: server preference, both see it. */
	cr_assert_str_eq(qb_tls_alpn(s), "h3");
	cr_assert_str_eq(qb_tls_alpn(c), "h3");

	/* Transport parameters intact both ways. */
	n = qb_tls_peer_tp(s, &p);
	cr_assert_eq(n, sizeof(client_tp));
	cr_assert_eq(memcmp(p, client_tp, n), 0);
	n = qb_tls_peer_tp(c, &p);
	cr_assert_eq(n, sizeof(server_tp));
	cr_assert_eq(memcmp(p, server_tp, n), 0);

	/* SNI reached the server. */
	cr_assert_not_null(qb_tls_sni(s));
	cr_assert_str_eq(qb_tls_sni(s), "localhost");
	cr_assert_null(qb_tls_sni(c));

	/* Nothing left to send: no session tickets, nothing at 1-RTT. */
	cr_assert_eq(qb_tls_out(s, QB_TLS_LEVEL_APP, &p), 0);
	cr_assert_eq(qb_tls_out(c, QB_TLS_LEVEL_APP, &p), 0);

	/* Release after confirmation: the small handle keeps answering. */
	cr_assert_eq(qb_tls_release(s), 0);
	cr_assert_eq(qb_tls_release(c), 0);
	cr_assert(qb_tls_released(c));
	cr_assert(qb_tls_is_complete(c));
	cr_assert_str_eq(qb_tls_alpn(c), "h3");
	cr_assert_eq(qb_tls_peer_tp(c, &p), 0);
	cr_assert_eq(qb_tls_secret(c, QB_TLS_LEVEL_APP, true, &sec), QB_ERR_STATE);
	cr_assert_eq(qb_tls_provide(c, QB_TLS_LEVEL_APP, (const uint8_t *)"\x04\x00\x00\x00", 4), 0,
	             "post-handshake bytes are ignored once released");
	cr_assert_eq(qb_tls_provide(c, QB_TLS_LEVEL_HANDSHAKE, (const uint8_t *)"x", 1),
	             QB_ERR_STATE);
	qb_tls_free(c);
	qb_tls_free(s);
	qb_tls_ctx_free(cctx);
	qb_tls_ctx_free(sctx);
}

Test(tls, step_by_step_levels)
{
	/* RFC 9001 §4.1.4 order: the server has Handshake and 1-RTT write keys
	 * after the ClientHello, 1-RTT read keys only after the client Finished. */
	struct qb_tls_ctx *sctx = server_ctx(alpn_both, 2);
	struct qb_tls_ctx *cctx = client_ctx(alpn_hq, 1, NULL, NULL);
	struct qb_tls *c = qb_tls_new(cctx, "127.0.0.1", client_tp, sizeof(client_tp));
	struct qb_tls *s = qb_tls_new(sctx, NULL, server_tp, sizeof(server_tp));
	const uint8_t *p;
	size_t n;
	uint32_t k;
	int rc;

	cr_assert_eq(qb_tls_release(s), QB_ERR_STATE, "no release before completion");
	transfer(c, s, &rc);
	cr_assert_eq(rc, 0);
	k = qb_tls_take_new_keys(s);
	cr_assert_eq(k,
	             QB_TLS_KEY_BIT(QB_TLS_LEVEL_HANDSHAKE, 0) |
	                     QB_TLS_KEY_BIT(QB_TLS_LEVEL_HANDSHAKE, 1) |
	                     QB_TLS_KEY_BIT(QB_TLS_LEVEL_APP, 1),
	             "server keys after ClientHello: %#x", k);
	cr_assert_not(qb_tls_is_complete(s));
	cr_assert_gt(qb_tls_out(s, QB_TLS_LEVEL_INITIAL, &p), 0);
	cr_assert_eq(p[0], 2, "ServerHello");
	cr_assert_gt(qb_tls_out(s, QB_TLS_LEVEL_HANDSHAKE, &p), 0);
	cr_assert_eq(p[0], 8, "EncryptedExtensions");
	cr_assert_null(qb_tls_sni(s), "no SNI for an IP literal");
	cr_assert_str_eq(qb_tls_alpn(s), "hq-interop");
	n = qb_tls_peer_tp(s, &p);
	cr_assert_eq(n, sizeof(client_tp), "client parameters known after the ClientHello");

	/* Client: ServerHello first, then the rest. */
	n = qb_tls_out(s, QB_TLS_LEVEL_INITIAL, &p);
	cr_assert_eq(qb_tls_provide(c, QB_TLS_LEVEL_INITIAL, p, n), 0);
	qb_tls_out_consume(s, QB_TLS_LEVEL_INITIAL, n);
	k = qb_tls_take_new_keys(c);
	cr_assert_eq(k, QB_TLS_KEY_BIT(QB_TLS_LEVEL_HANDSHAKE, 0) |
	                        QB_TLS_KEY_BIT(QB_TLS_LEVEL_HANDSHAKE, 1));
	/* Feed the Handshake flight in two pieces to exercise buffering. */
	n = qb_tls_out(s, QB_TLS_LEVEL_HANDSHAKE, &p);
	cr_assert_gt(n, 10);
	cr_assert_eq(qb_tls_provide(c, QB_TLS_LEVEL_HANDSHAKE, p, 7), 0);
	cr_assert_not(qb_tls_is_complete(c));
	cr_assert_eq(qb_tls_provide(c, QB_TLS_LEVEL_HANDSHAKE, p + 7, n - 7), 0);
	qb_tls_out_consume(s, QB_TLS_LEVEL_HANDSHAKE, n);
	cr_assert(qb_tls_is_complete(c));
	k = qb_tls_take_new_keys(c);
	cr_assert_eq(k, QB_TLS_KEY_BIT(QB_TLS_LEVEL_APP, 0) | QB_TLS_KEY_BIT(QB_TLS_LEVEL_APP, 1));
	/* Client Finished: Handshake level only. */
	cr_assert_eq(qb_tls_out(c, QB_TLS_LEVEL_INITIAL, &p), 0);
	n = qb_tls_out(c, QB_TLS_LEVEL_HANDSHAKE, &p);
	cr_assert_eq(p[0], 20, "Finished");
	/* Partial consumption keeps the rest. */
	qb_tls_out_consume(c, QB_TLS_LEVEL_HANDSHAKE, 4);
	cr_assert_eq(qb_tls_out(c, QB_TLS_LEVEL_HANDSHAKE, &p), n - 4);
	cr_assert_eq(qb_tls_provide(s, QB_TLS_LEVEL_HANDSHAKE, p - 4, n), 0);
	qb_tls_out_consume(c, QB_TLS_LEVEL_HANDSHAKE, n);
	cr_assert(qb_tls_is_complete(s));
	cr_assert_eq(qb_tls_take_new_keys(s), QB_TLS_KEY_BIT(QB_TLS_LEVEL_APP, 0));
	qb_tls_free(c);
	qb_tls_free(s);
	qb_tls_ctx_free(cctx);
	qb_tls_ctx_free(sctx);
}

Test(tls, alpn_mismatch_is_crypto_error_0x178)
{
	struct qb_tls_ctx *sctx = server_ctx(alpn_h3, 1);
	struct qb_tls_ctx *cctx = client_ctx(alpn_hq, 1, NULL, NULL);
	struct qb_tls *c = qb_tls_new(cctx, "localhost", client_tp, sizeof(client_tp));
	struct qb_tls *s = qb_tls_new(sctx, NULL, server_tp, sizeof(server_tp));
	int rc;

	transfer(c, s, &rc);
	cr_assert_eq(rc, QB_ERR_CRYPTO);
	cr_assert(qb_tls_failed(s));
	cr_assert_not(qb_tls_is_complete(s));
	cr_assert_eq(qb_tls_alert(s), 120);
	cr_assert_eq(qb_tls_error_code(s), 0x178, "got %#lx", (unsigned long)qb_tls_error_code(s));
	cr_assert_null(qb_tls_alpn(s));
	/* Further input is refused, and nothing is freed twice. */
	cr_assert_eq(qb_tls_provide(s, QB_TLS_LEVEL_INITIAL, (const uint8_t *)"x", 1),
	             QB_ERR_STATE);
	qb_tls_free(c);
	qb_tls_free(s);
	qb_tls_ctx_free(cctx);
	qb_tls_ctx_free(sctx);
}

/* A server from PEM files and a client that verifies it with --ca. Returns
 * the client's error code after the handshake (0 on success). */
static uint64_t
verified_handshake(const char *cert, const char *key, const char *ca, const char *peer_name,
                   const char *server_name_seen)
{
	struct qb_tls_ctx_config scfg = {
	        .role = QB_TLS_SERVER,
	        .alpn = alpn_both,
	        .alpn_count = 2,
	        .cert_file = cert,
	        .key_file = key,
	};
	struct qb_tls_ctx *sctx = make_ctx(&scfg);
	struct qb_tls_ctx *cctx = client_ctx(alpn_both, 2, ca, NULL);
	struct qb_tls *c = qb_tls_new(cctx, peer_name, client_tp, sizeof(client_tp));
	struct qb_tls *s = qb_tls_new(sctx, NULL, server_tp, sizeof(server_tp));
	uint64_t code;

	cr_assert_not_null(c);
	cr_assert_not_null(s);
	pump(c, s);
	if (server_name_seen != NULL)
		cr_assert_str_eq(qb_tls_sni(s), server_name_seen);
	code = qb_tls_error_code(c);
	cr_assert_eq(qb_tls_is_complete(c), code == 0);
	if (code == 0)
		cr_assert(qb_tls_is_complete(s));
	qb_tls_free(c);
	qb_tls_free(s);
	qb_tls_ctx_free(cctx);
	qb_tls_ctx_free(sctx);
	return code;
}

Test(tls, pem_files_and_ca_verification, .fini = rm_temp_dir)
{
	char cert[128], key[128], other[128], other_key[128];
	uint64_t code;

	mktemp_dir();
	tmp_path(cert, sizeof(cert), "cert.pem");
	tmp_path(key, sizeof(key), "key.pem");
	tmp_path(other, sizeof(other), "other.pem");
	tmp_path(other_key, sizeof(other_key), "other-key.pem");
	cr_assert_eq(qb_tls_selfsigned_write("server.test", cert, key), 0);
	cr_assert_eq(qb_tls_selfsigned_write("server.test", other, other_key), 0);
	cr_assert_eq(access(key, R_OK), 0);

	/* No CA: no verification, the handshake completes. */
	cr_assert_eq(verified_handshake(cert, key, NULL, "server.test", "server.test"), 0);
	/* The right CA and name: verified. */
	cr_assert_eq(verified_handshake(cert, key, cert, "server.test", "server.test"), 0);
	/* Another certificate as CA (same name, different key): unknown_ca (48). */
	code = verified_handshake(cert, key, other, "server.test", NULL);
	cr_assert_eq(code, 0x100 + 48, "got %#lx", (unsigned long)code);
	/* The right CA, the wrong name: bad_certificate (42). */
	code = verified_handshake(cert, key, cert, "other.test", NULL);
	cr_assert_eq(code, 0x100 + 42, "got %#lx", (unsigned long)code);
}

Test(tls, ca_signed_chain_and_ip_san, .fini = rm_temp_dir)
{
	char leaf_path[128], key_path[128], ca_path[128];
	X509 *ca, *leaf;
	EVP_PKEY *ca_key, *leaf_key;
	uint64_t code;

	mktemp_dir();
	tmp_path(leaf_path, sizeof(leaf_path), "leaf.pem");
	tmp_path(key_path, sizeof(key_path), "leaf-key.pem");
	tmp_path(ca_path, sizeof(ca_path), "ca.pem");
	cr_assert_eq(qb_tls_cert_make("qburst test CA", NULL, NULL, true, &ca, &ca_key), 0);
	cr_assert_eq(qb_tls_cert_make("198.18.0.1", ca, ca_key, false, &leaf, &leaf_key), 0);
	cr_assert_eq(qb_tls_pem_write(leaf, leaf_key, leaf_path, key_path), 0);
	cr_assert_eq(qb_tls_pem_write(ca, NULL, ca_path, NULL), 0);
	X509_free(ca);
	X509_free(leaf);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(leaf_key);

	/* An IP literal is checked against the iPAddress SAN; no SNI sent. */
	code = verified_handshake(leaf_path, key_path, ca_path, "198.18.0.1", NULL);
	cr_assert_eq(code, 0, "got %#lx", (unsigned long)code);
	code = verified_handshake(leaf_path, key_path, ca_path, "198.18.0.2", NULL);
	cr_assert_eq(code, 0x100 + 42, "got %#lx", (unsigned long)code);
	/* The leaf is not a CA: trusting it alone for itself still works, but
	 * trusting nothing that issued it does not. */
	code = verified_handshake(leaf_path, key_path, leaf_path, "198.18.0.1", NULL);
	cr_assert_eq(code, 0x100 + 48, "got %#lx", (unsigned long)code);
}

Test(tls, bad_config)
{
	char err[256] = "";
	struct qb_tls_ctx_config cfg = {
	        .role = QB_TLS_SERVER,
	        .alpn = alpn_both,
	        .alpn_count = 2,
	        .cert_file = "/nonexistent/cert.pem",
	        .key_file = "/nonexistent/key.pem",
	};

	cr_assert_null(qb_tls_ctx_new(&cfg, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "/nonexistent/cert.pem"), "%s", err);
	cfg.cert_file = NULL;
	cfg.key_file = NULL;
	cfg.alpn_count = 0;
	cr_assert_null(qb_tls_ctx_new(&cfg, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "ALPN"), "%s", err);
	cfg.role = QB_TLS_CLIENT;
	cfg.alpn_count = 1;
	cfg.ca_file = "/nonexistent/ca.pem";
	cr_assert_null(qb_tls_ctx_new(&cfg, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "CA"), "%s", err);
	cfg.ca_file = NULL;
	cfg.keylog_file = "/nonexistent/dir/keys.log";
	cr_assert_null(qb_tls_ctx_new(&cfg, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "key log"), "%s", err);
	cr_assert_eq(qb_tls_selfsigned_write("", "/tmp/x", "/tmp/y"), QB_ERR_ARG);
}

/* Hex of the 32-byte client random and of a secret, lowercase. */
static void
hex(char *out, const uint8_t *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", in[i]);
}

Test(tls, keylog, .fini = rm_temp_dir)
{
	static const struct {
		const char *label;
		enum qb_tls_level level;
		bool client_write;
	} want[] = {
	        {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", QB_TLS_LEVEL_HANDSHAKE, true},
	        {"SERVER_HANDSHAKE_TRAFFIC_SECRET", QB_TLS_LEVEL_HANDSHAKE, false},
	        {"CLIENT_TRAFFIC_SECRET_0", QB_TLS_LEVEL_APP, true},
	        {"SERVER_TRAFFIC_SECRET_0", QB_TLS_LEVEL_APP, false},
	};
	char path[128], line[512], random_hex[65], secret_hex[97];
	uint8_t random[32];
	struct qb_tls_ctx *sctx, *cctx;
	struct qb_tls *c, *s;
	int found[4] = {0};
	int lines = 0, exporter = 0;
	FILE *fp;

	mktemp_dir();
	tmp_path(path, sizeof(path), "keys.log");
	sctx = server_ctx(alpn_both, 2);
	cctx = client_ctx(alpn_both, 2, NULL, path);
	c = qb_tls_new(cctx, "localhost", client_tp, sizeof(client_tp));
	s = qb_tls_new(sctx, NULL, server_tp, sizeof(server_tp));
	pump(c, s);
	cr_assert(qb_tls_is_complete(c));
	cr_assert_eq(qb_tls_client_random(c, random), 0);
	hex(random_hex, random, 32);

	fp = fopen(path, "r");
	cr_assert_not_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		char label[64], rnd[80], sec[120];

		lines++;
		cr_assert_eq(line[strlen(line) - 1], '\n', "each line ends with a newline");
		cr_assert_eq(sscanf(line, "%63s %79s %119s", label, rnd, sec), 3, "%s", line);
		cr_assert_str_eq(rnd, random_hex, "client random of %s", label);
		if (strcmp(label, "EXPORTER_SECRET") == 0)
			exporter++;
		for (size_t i = 0; i < 4; i++) {
			struct qb_tls_secret secret;

			if (strcmp(label, want[i].label) != 0)
				continue;
			found[i]++;
			cr_assert_eq(qb_tls_secret(c, want[i].level, want[i].client_write, &secret),
			             0);
			hex(secret_hex, secret.secret, secret.len);
			cr_assert_str_eq(sec, secret_hex, "%s matches the secret handed out",
			                 label);
		}
	}
	fclose(fp);
	for (size_t i = 0; i < 4; i++)
		cr_assert_eq(found[i], 1, "%s logged once", want[i].label);
	/* BoringSSL also logs the exporter secret (RFC 8446 §7.5). */
	cr_assert_eq(exporter, 1);
	cr_assert_eq(lines, 5);
	qb_tls_free(c);
	qb_tls_free(s);
	qb_tls_ctx_free(cctx);
	qb_tls_ctx_free(sctx);
}

/* Run a handshake where byte `pos` of the server's Handshake flight is
 * flipped on the way to the client. */
static void
corrupted_server_flight(size_t pos, bool *client_failed, uint64_t *code, size_t *flight_len)
{
	struct qb_tls_ctx *sctx = server_ctx(alpn_both, 2);
	struct qb_tls_ctx *cctx = client_ctx(alpn_both, 2, NULL, NULL);
	struct qb_tls *c = qb_tls_new(cctx, "localhost", client_tp, sizeof(client_tp));
	struct qb_tls *s = qb_tls_new(sctx, NULL, server_tp, sizeof(server_tp));
	const uint8_t *p;
	uint8_t copy[8192];
	size_t n;
	int rc;

	transfer(c, s, &rc);
	cr_assert_eq(rc, 0);
	n = qb_tls_out(s, QB_TLS_LEVEL_INITIAL, &p);
	cr_assert_eq(qb_tls_provide(c, QB_TLS_LEVEL_INITIAL, p, n), 0);
	n = qb_tls_out(s, QB_TLS_LEVEL_HANDSHAKE, &p);
	cr_assert_leq(n, sizeof(copy));
	memcpy(copy, p, n);
	*flight_len = n;
	/* Each server makes a fresh certificate, so the flight length varies
	 * by a byte or two (DER signatures): clamp to corrupt a real byte. */
	if (pos != SIZE_MAX) {
		if (pos >= n)
			pos = n - 1;
		copy[pos] ^= 0x01;
	}
	rc = qb_tls_provide(c, QB_TLS_LEVEL_HANDSHAKE, copy, n);
	*client_failed = qb_tls_failed(c);
	*code = qb_tls_error_code(c);
	cr_assert_eq(rc != 0, *client_failed);
	if (pos != SIZE_MAX)
		cr_assert_not(qb_tls_is_complete(c), "corruption at %zu went unnoticed", pos);
	qb_tls_free(c);
	qb_tls_free(s);
	qb_tls_ctx_free(cctx);
	qb_tls_ctx_free(sctx);
}

Test(tls, corrupted_byte_fails)
{
	bool failed;
	uint64_t code;
	size_t len, failures = 0, tries = 0;

	/* The last byte is in the server Finished's verify_data: decrypt_error
	 * (51), RFC 8446 §4.4.4. */
	corrupted_server_flight(SIZE_MAX, &failed, &code, &len);
	cr_assert_not(failed, "sanity: no corruption, no failure");
	corrupted_server_flight(len - 1, &failed, &code, &len);
	cr_assert(failed);
	cr_assert_eq(code, 0x100 + 51, "got %#lx", (unsigned long)code);

	/* Anywhere else: never completes; it fails with a CRYPTO_ERROR or, when a
	 * length grew, waits for bytes that never come. */
	for (size_t pos = 0; pos < len; pos += 13) {
		corrupted_server_flight(pos, &failed, &code, &len);
		tries++;
		if (failed) {
			failures++;
			cr_assert(code >= 0x100 && code <= 0x1ff, "pos %zu code %#lx", pos,
			          (unsigned long)code);
		}
	}
	cr_assert_gt(failures, tries / 2, "most corruptions fail outright (%zu/%zu)", failures,
	             tries);
}

Test(tls, wrong_level_and_bounded_output)
{
	struct qb_tls_ctx *sctx = server_ctx(alpn_both, 2);
	struct qb_tls_ctx *cctx = client_ctx(alpn_both, 2, NULL, NULL);
	struct qb_tls_ctx_config small = {
	        .role = QB_TLS_SERVER,
	        .alpn = alpn_both,
	        .alpn_count = 2,
	        .out_cap = 200, /* smaller than the certificate flight */
	};
	struct qb_tls_ctx *tiny = make_ctx(&small);
	struct qb_tls *c = qb_tls_new(cctx, "localhost", client_tp, sizeof(client_tp));
	struct qb_tls *c2 = qb_tls_new(cctx, "localhost", client_tp, sizeof(client_tp));
	struct qb_tls *s = qb_tls_new(tiny, NULL, server_tp, sizeof(server_tp));
	static const uint8_t junk[] = {0x14, 0x00, 0x00, 0x20};
	int rc;

	/* Handshake bytes at a level the client is not reading yet. */
	cr_assert_eq(qb_tls_provide(c, QB_TLS_LEVEL_HANDSHAKE, junk, sizeof(junk)), QB_ERR_PROTO);
	cr_assert_eq(qb_tls_error_code(c), 0x0a);
	cr_assert_eq(qb_tls_provide(c, QB_TLS_LEVEL_EARLY, junk, sizeof(junk)), QB_ERR_ARG);

	/* The server's flight overflows its cap: a clean internal_error. */
	transfer(c2, s, &rc);
	cr_assert_eq(rc, QB_ERR_CRYPTO);
	cr_assert_eq(qb_tls_error_code(s), 0x100 + 80);

	qb_tls_free(c);
	qb_tls_free(c2);
	qb_tls_free(s);
	qb_tls_ctx_free(cctx);
	qb_tls_ctx_free(sctx);
	qb_tls_ctx_free(tiny);
}

Test(tls, garbage_client_hello)
{
	struct qb_tls_ctx *sctx = server_ctx(alpn_both, 2);
	struct qb_tls *s = qb_tls_new(sctx, NULL, server_tp, sizeof(server_tp));
	/* A ClientHello header announcing 5 bytes of body that is not one. */
	static const uint8_t bad[] = {0x01, 0x00, 0x00, 0x05, 0x03, 0x03, 0xff, 0xff, 0xff};
	int rc = qb_tls_provide(s, QB_TLS_LEVEL_INITIAL, bad, sizeof(bad));

	cr_assert_eq(rc, QB_ERR_CRYPTO);
	cr_assert(qb_tls_error_code(s) >= 0x100 && qb_tls_error_code(s) <= 0x1ff);
	qb_tls_free(s);
	qb_tls_ctx_free(sctx);
}

Test(tls, cipher_maps)
{
	cr_assert_eq(qb_tls_cipher_aead(QB_TLS_AES_128_GCM_SHA256), QB_TLS_AEAD_AES128GCM);
	cr_assert_eq(qb_tls_cipher_aead(QB_TLS_AES_256_GCM_SHA384), QB_TLS_AEAD_AES256GCM);
	cr_assert_eq(qb_tls_cipher_aead(QB_TLS_CHACHA20_POLY1305_SHA256),
	             QB_TLS_AEAD_CHACHA20POLY1305);
	cr_assert_eq(qb_tls_cipher_hash(QB_TLS_AES_128_GCM_SHA256), QB_TLS_HASH_SHA256);
	cr_assert_eq(qb_tls_cipher_hash(QB_TLS_AES_256_GCM_SHA384), QB_TLS_HASH_SHA384);
	cr_assert_eq(qb_tls_cipher_hash(QB_TLS_CHACHA20_POLY1305_SHA256), QB_TLS_HASH_SHA256);
	cr_assert_eq(qb_tls_cipher_aead((enum qb_tls_cipher)0x1304), 0);
}

/* One extension of a ClientHello (RFC 8446 §4.1.2), bounds-checked: returns
 * its body length and sets *body, or -1 when absent. */
static long
find_extension(const uint8_t *ch, size_t len, uint16_t type, const uint8_t **body)
{
	size_t pos = 4 + 2 + 32; /* header, legacy_version, random */
	size_t ext_end;

	cr_assert_geq(len, pos + 1);
	cr_assert_eq(ch[0], 1, "ClientHello");
	cr_assert_eq(((size_t)ch[1] << 16 | (size_t)ch[2] << 8 | ch[3]) + 4, len);
	pos += 1 + ch[pos]; /* legacy_session_id */
	cr_assert_leq(pos + 2, len);
	pos += 2 + ((size_t)ch[pos] << 8 | ch[pos + 1]); /* cipher_suites */
	cr_assert_leq(pos + 1, len);
	pos += 1 + ch[pos]; /* legacy_compression_methods */
	cr_assert_leq(pos + 2, len);
	ext_end = pos + 2 + ((size_t)ch[pos] << 8 | ch[pos + 1]);
	cr_assert_eq(ext_end, len);
	pos += 2;
	while (pos + 4 <= ext_end) {
		uint16_t t = (uint16_t)(ch[pos] << 8 | ch[pos + 1]);
		size_t l = (size_t)ch[pos + 2] << 8 | ch[pos + 3];

		cr_assert_leq(pos + 4 + l, ext_end);
		if (t == type) {
			*body = ch + pos + 4;
			return (long)l;
		}
		pos += 4 + l;
	}
	return -1;
}

Test(tls, client_hello_on_the_wire)
{
	static const uint8_t alpn_wire[] = {0x00, 0x0e, 2,   'h', '3', 10,  'h', 'q',
	                                    '-',  'i',  'n', 't', 'e', 'r', 'o', 'p'};
	static const uint8_t only_tls13[] = {0x02, 0x03, 0x04};
	struct qb_tls_ctx *cctx = client_ctx(alpn_both, 2, NULL, NULL);
	struct qb_tls *named = qb_tls_new(cctx, "example.test", client_tp, sizeof(client_tp));
	struct qb_tls *ip = qb_tls_new(cctx, "2001:db8::1", client_tp, sizeof(client_tp));
	const uint8_t *ch, *body;
	size_t len;
	long l;

	len = qb_tls_out(named, QB_TLS_LEVEL_INITIAL, &ch);
	cr_assert_gt(len, 0);
	/* RFC 9001 §8.4: no middlebox compatibility mode, empty session id. */
	cr_assert_eq(ch[4 + 2 + 32], 0);
	/* RFC 9001 §8.2: transport parameters under code point 0x39, verbatim;
	 * never under the drafts' 0xffa5. */
	l = find_extension(ch, len, 0x0039, &body);
	cr_assert_eq(l, (long)sizeof(client_tp));
	cr_assert_eq(memcmp(body, client_tp, sizeof(client_tp)), 0);
	cr_assert_eq(find_extension(ch, len, 0xffa5, &body), -1);
	/* RFC 9001 §4.2: TLS 1.3 only (supported_versions = {0x0304}). */
	l = find_extension(ch, len, 0x002b, &body);
	cr_assert_eq(l, (long)sizeof(only_tls13));
	cr_assert_eq(memcmp(body, only_tls13, sizeof(only_tls13)), 0);
	/* ALPN, our list in our order (RFC 7301 §3.1). */
	l = find_extension(ch, len, 0x0010, &body);
	cr_assert_eq(l, (long)sizeof(alpn_wire));
	cr_assert_eq(memcmp(body, alpn_wire, sizeof(alpn_wire)), 0);
	/* SNI with the name (RFC 6066 §3); no early data offered. */
	l = find_extension(ch, len, 0x0000, &body);
	cr_assert_eq(l, 2 + 1 + 2 + (long)strlen("example.test"));
	cr_assert_eq(memcmp(body + 5, "example.test", strlen("example.test")), 0);
	cr_assert_eq(find_extension(ch, len, 0x002a, &body), -1);

	/* An IP literal is never put in SNI. */
	len = qb_tls_out(ip, QB_TLS_LEVEL_INITIAL, &ch);
	cr_assert_eq(find_extension(ch, len, 0x0000, &body), -1);
	cr_assert_gt(find_extension(ch, len, 0x0039, &body), 0);
	qb_tls_free(named);
	qb_tls_free(ip);
	qb_tls_ctx_free(cctx);
}

Test(tls, post_handshake_ticket)
{
	/* Our servers send no tickets, but other servers (ngtcp2) do: turn them
	 * on in one server to drive the client's post-handshake path (RFC 9001
	 * §4.1.3: CRYPTO at the 1-RTT level after completion). */
	struct qb_tls_ctx *sctx = server_ctx(alpn_both, 2);
	struct qb_tls_ctx *cctx = client_ctx(alpn_both, 2, NULL, NULL);
	struct qb_tls *c, *s;
	const uint8_t *p;
	size_t n;
	int rc;

	SSL_CTX_clear_options(sctx->ssl_ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(sctx->ssl_ctx, SSL_SESS_CACHE_SERVER);
	c = qb_tls_new(cctx, "localhost", client_tp, sizeof(client_tp));
	s = qb_tls_new(sctx, NULL, server_tp, sizeof(server_tp));
	transfer(c, s, &rc); /* ClientHello */
	transfer(s, c, &rc); /* server flight */
	transfer(c, s, &rc); /* client Finished */
	cr_assert(qb_tls_is_complete(s));
	n = qb_tls_out(s, QB_TLS_LEVEL_APP, &p);
	cr_assert_gt(n, 0);
	cr_assert_eq(p[0], 4, "NewSessionTicket");
	transfer(s, c, &rc);
	cr_assert_eq(rc, 0);
	cr_assert(qb_tls_is_complete(c));
	cr_assert_not(qb_tls_failed(c));
	/* A split message waits; a malformed one fails cleanly. */
	cr_assert_eq(qb_tls_provide(c, QB_TLS_LEVEL_APP, (const uint8_t *)"\x04\x00\x00", 3), 0);
	cr_assert_not(qb_tls_failed(c));
	cr_assert_eq(qb_tls_provide(c, QB_TLS_LEVEL_APP, (const uint8_t *)"\x02\xff\xff", 3),
	             QB_ERR_CRYPTO);
	cr_assert(qb_tls_failed(c));
	cr_assert(qb_tls_error_code(c) >= 0x100 && qb_tls_error_code(c) <= 0x1ff);
	n = qb_tls_peer_tp(c, &p);
	cr_assert_eq(n, sizeof(server_tp));
	qb_tls_free(c);
	qb_tls_free(s);
	qb_tls_ctx_free(cctx);
	qb_tls_ctx_free(sctx);
}

/* One packet protected with the key from `w`'s write secret of level and
 * opened with the key from `r`'s read secret (qburst/crypto.h). */
static void
protect_across(struct qb_tls *w, struct qb_tls *r, enum qb_tls_level level)
{
	struct qb_tls_secret ws, rs;
	struct qb_crypto_key *wk = calloc(1, sizeof(*wk)), *rk = calloc(1, sizeof(*rk));
	struct qb_crypto_hdr hdr;
	uint8_t pkt[1 + 8 + 2 + 40 + QB_CRYPTO_TAG_LEN];
	int alg, n;

	cr_assert_eq(qb_tls_secret(w, level, true, &ws), 0);
	cr_assert_eq(qb_tls_secret(r, level, false, &rs), 0);
	alg = qb_crypto_alg_from_cipher_suite((uint16_t)ws.cipher);
	cr_assert_geq(alg, 0);
	cr_assert_eq(qb_crypto_secret_len(alg), ws.len);
	cr_assert_eq(qb_crypto_key_init(wk, alg, QB_CRYPTO_QUIC_V1, ws.secret, ws.len,
	                                QB_CRYPTO_BORINGSSL),
	             0);
	cr_assert_eq(qb_crypto_key_init(rk, qb_crypto_alg_from_cipher_suite((uint16_t)rs.cipher),
	                                QB_CRYPTO_QUIC_V1, rs.secret, rs.len, QB_CRYPTO_BORINGSSL),
	             0);
	/* A short header (RFC 9000 §17.3.1): 8-byte DCID, 2-byte pn. */
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x41;
	memset(pkt + 1, 0xc1, 8);
	memset(pkt + 11, 'q', 40);
	n = qb_crypto_protect(wk, pkt, 9, 2, 7, 40);
	cr_assert_eq(n, (int)sizeof(pkt));
	cr_assert_eq(qb_crypto_unprotect(rk, pkt, sizeof(pkt), 9, UINT64_MAX, &hdr), 0);
	cr_assert_eq(hdr.pn, 7);
	cr_assert_eq(hdr.payload_len, 40);
	cr_assert_eq(pkt[11], 'q');
	cr_assert_eq(pkt[50], 'q');
	qb_crypto_key_clear(wk);
	qb_crypto_key_clear(rk);
	free(wk);
	free(rk);
}

Test(tls, secrets_make_working_packet_keys)
{
	struct qb_tls_ctx *sctx = server_ctx(alpn_both, 2);
	struct qb_tls_ctx *cctx = client_ctx(alpn_both, 2, NULL, NULL);
	struct qb_tls *c = qb_tls_new(cctx, "localhost", client_tp, sizeof(client_tp));
	struct qb_tls *s = qb_tls_new(sctx, NULL, server_tp, sizeof(server_tp));

	pump(c, s);
	cr_assert(qb_tls_is_complete(c) && qb_tls_is_complete(s));
	protect_across(c, s, QB_TLS_LEVEL_HANDSHAKE);
	protect_across(s, c, QB_TLS_LEVEL_HANDSHAKE);
	protect_across(c, s, QB_TLS_LEVEL_APP);
	protect_across(s, c, QB_TLS_LEVEL_APP);
	qb_tls_free(c);
	qb_tls_free(s);
	qb_tls_ctx_free(cctx);
	qb_tls_ctx_free(sctx);
}
