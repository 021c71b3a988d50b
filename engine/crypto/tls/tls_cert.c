/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Certificates for the server's default identity and for tests: an ECDSA
 * P-256 key (small public key and signature: RFC 9001 §4.4 warns that large
 * chains eat into the 3x anti-amplification budget) and a minimal v3
 * certificate.
 */
#include "crypto/tls/tls_cert.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "qburst/error.h"

bool
qb_tls_is_ip_literal(const char *name)
{
	uint8_t buf[16];

	return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

static EVP_PKEY *
make_p256_key(void)
{
	EC_KEY *ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
	EVP_PKEY *pkey = EVP_PKEY_new();

	if (ec == NULL || pkey == NULL || !EC_KEY_generate_key(ec) ||
	    !EVP_PKEY_assign_EC_KEY(pkey, ec)) {
		EC_KEY_free(ec);
		EVP_PKEY_free(pkey);
		return NULL;
	}
	return pkey; /* owns ec */
}

/* subjectAltName with one entry: iPAddress for a literal, else dNSName
 * (RFC 5280 §4.2.1.6); verifiers match names against it, not the CN. */
static int
add_san(X509 *x, const char *name, bool is_ip)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	int ok = 0;

	if (gens == NULL || gn == NULL)
		goto out;
	if (is_ip) {
		ASN1_OCTET_STRING *ip = a2i_IPADDRESS(name);

		if (ip == NULL)
			goto out;
		GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
	} else {
		ASN1_IA5STRING *dns = ASN1_IA5STRING_new();

		if (dns == NULL)
			goto out;
		if (!ASN1_STRING_set(dns, name, (int)strlen(name))) {
			ASN1_IA5STRING_free(dns);
			goto out;
		}
		GENERAL_NAME_set0_value(gn, GEN_DNS, dns);
	}
	if (!sk_GENERAL_NAME_push(gens, gn))
		goto out;
	gn = NULL; /* owned by gens */
	ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
out:
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(gens);
	return ok;
}

static int
add_ca_constraint(X509 *x)
{
	BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
	int ok;

	if (bc == NULL)
		return 0;
	bc->ca = 0xff; /* DER TRUE */
	ok = X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1, X509V3_ADD_DEFAULT) == 1;
	BASIC_CONSTRAINTS_free(bc);
	return ok;
}

int
qb_tls_cert_make(const char *name, X509 *issuer, EVP_PKEY *issuer_key, bool is_ca, X509 **cert,
                 EVP_PKEY **key)
{
	size_t name_len;
	bool is_ip;
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	X509_NAME *subj;
	ASN1_INTEGER *serial = NULL;
	uint64_t serial_v;

	*cert = NULL;
	*key = NULL;
	if (name == NULL)
		return QB_ERR_ARG;
	name_len = strlen(name);
	if (name_len == 0 || name_len > 253 || (issuer == NULL) != (issuer_key == NULL))
		return QB_ERR_ARG;
	is_ip = qb_tls_is_ip_literal(name);

	pkey = make_p256_key();
	x = X509_new();
	serial = ASN1_INTEGER_new();
	if (pkey == NULL || x == NULL || serial == NULL)
		goto fail;
	/* Random positive 63-bit serial (RFC 5280 §4.1.2.2: unique per issuer). */
	if (!RAND_bytes((uint8_t *)&serial_v, sizeof(serial_v)))
		goto fail;
	serial_v = (serial_v >> 1) | 1;
	if (!X509_set_version(x, X509_VERSION_3) || !ASN1_INTEGER_set_uint64(serial, serial_v) ||
	    !X509_set_serialNumber(x, serial))
		goto fail;
	/* Fixed validity: engine/ reads no clock (BRIEF §3). UTCTime before
	 * 2050, GeneralizedTime after (RFC 5280 §4.1.2.5). */
	if (!ASN1_TIME_set_string(X509_getm_notBefore(x), "000101000000Z") ||
	    !ASN1_TIME_set_string(X509_getm_notAfter(x), "20991231235959Z"))
		goto fail;
	subj = X509_get_subject_name(x);
	/* CN is at most 64 characters (RFC 5280 ub-common-name); the SAN is
	 * what matters, so a longer name simply has no CN. */
	if (name_len <= 64 && !X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
	                                                  (const uint8_t *)name, -1, -1, 0))
		goto fail;
	if (!X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : subj))
		goto fail;
	if (!X509_set_pubkey(x, pkey) || !add_san(x, name, is_ip))
		goto fail;
	if (is_ca && !add_ca_constraint(x))
		goto fail;
	if (!X509_sign(x, issuer_key ? issuer_key : pkey, EVP_sha256()))
		goto fail;
	ASN1_INTEGER_free(serial);
	*cert = x;
	*key = pkey;
	return QB_OK;
fail:
	ASN1_INTEGER_free(serial);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return QB_ERR_CRYPTO;
}

static int
write_pem(const char *path, mode_t mode, X509 *cert, EVP_PKEY *key)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	FILE *fp;
	int ok;

	if (fd < 0)
		return 0;
	fp = fdopen(fd, "w");
	if (fp == NULL) {
		close(fd);
		return 0;
	}
	if (cert != NULL)
		ok = PEM_write_X509(fp, cert);
	else
		ok = PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL);
	if (fclose(fp) != 0)
		ok = 0;
	return ok;
}

int
qb_tls_pem_write(X509 *cert, EVP_PKEY *key, const char *cert_path, const char *key_path)
{
	if (cert_path != NULL && !write_pem(cert_path, 0644, cert, NULL))
		return QB_ERR_INVALID;
	if (key_path != NULL && !write_pem(key_path, 0600, NULL, key))
		return QB_ERR_INVALID;
	return QB_OK;
}
