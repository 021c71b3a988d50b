/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_TLS_CERT_H
#define QB_TLS_CERT_H

/* Internal to engine/crypto/tls (and its tests): certificates made with
 * BoringSSL's X509/EVP APIs. */

#include <stdbool.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/*
 * Make a fresh ECDSA P-256 key and an X.509 v3 certificate for name (a DNS
 * name or an IP literal: subjectAltName dNSName or iPAddress, and CN),
 * signed with SHA-256 by issuer/issuer_key, or self-signed when issuer is
 * NULL. is_ca adds a critical basicConstraints CA:TRUE. The validity period
 * is fixed (2000-01-01 to 2099-12-31) so no clock is read.
 * Returns 0 with *cert and *key owned by the caller, or a qb_err.
 */
int qb_tls_cert_make(const char *name, X509 *issuer, EVP_PKEY *issuer_key, bool is_ca, X509 **cert,
                     EVP_PKEY **key);

/* Write cert (PEM) to cert_path and key (PKCS#8 PEM, mode 0600) to key_path.
 * Either path may be NULL to skip it. Returns 0 or QB_ERR_INVALID. */
int qb_tls_pem_write(X509 *cert, EVP_PKEY *key, const char *cert_path, const char *key_path);

/* True when name parses as an IPv4 or IPv6 address literal. */
bool qb_tls_is_ip_literal(const char *name);

#endif
