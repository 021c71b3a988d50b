/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Start-up choice between BoringSSL and ipsec-mb (issue 7, BRIEF §10
 * --crypto). Compiled in every build; the ipsec-mb half only when the
 * library was found (QB_HAVE_IPSECMB).
 */
#include <string.h>

#include <openssl/aead.h>

#include "crypto/aead_backend.h"
#include "qburst/crypto_select.h"
#ifdef QB_HAVE_IPSECMB
#include "crypto/ipsecmb/imb_aead.h"

extern const struct qb_aead_ops qb_aead_ipsecmb_ops;
#endif

static struct qb_crypto_choice g_choice;

static struct qb_crypto_choice
boringssl_choice(const char *reason)
{
	struct qb_crypto_choice c = {
	        .backend = QB_CRYPTO_BORINGSSL,
	        .name = qb_crypto_backend_name(QB_CRYPTO_BORINGSSL),
	        .arch = EVP_has_aes_hardware() ? "aesni" : "generic",
	        .reason = reason,
	};
	return c;
}

int
qb_crypto_backend_parse(const char *s)
{
	if (strcmp(s, "auto") == 0)
		return QB_CRYPTO_AUTO;
	if (strcmp(s, "boringssl") == 0)
		return QB_CRYPTO_BORINGSSL;
	if (strcmp(s, "ipsecmb") == 0)
		return QB_CRYPTO_IPSECMB;
	return QB_ERR_ARG;
}

/* Fills *c with ipsec-mb when it may serve `want`, else leaves the reason. */
static void
try_ipsecmb(enum qb_crypto_backend want, struct qb_crypto_choice *c)
{
#ifdef QB_HAVE_IPSECMB
	struct qb_imb_info info;
	int err = qb_imb_init();

	if (qb_imb_get_info(&info) != err) /* not probed: cannot happen after init */
		info.why = "ipsec-mb did not initialise";
	if (err != 0) {
		c->reason = info.why[0] != '\0' ? info.why : "ipsec-mb did not initialise";
		return;
	}
	/*
	 * ipsec-mb's gain is its AVX2 (VAES on 256 bits) and AVX-512 GCM; on
	 * its SSE/AVX paths BoringSSL's AES-NI code is about as fast, so auto
	 * keeps the library everything else uses.
	 */
	if (want == QB_CRYPTO_AUTO && info.arch < IMB_ARCH_AVX2) {
		c->reason = "ipsec-mb has no AVX2 or AVX-512 code path on this CPU";
		return;
	}
	if (qb_aead_backend_register(QB_CRYPTO_IPSECMB, &qb_aead_ipsecmb_ops) != 0) {
		c->reason = "ipsec-mb backend could not be registered";
		return;
	}
	c->backend = QB_CRYPTO_IPSECMB;
	c->name = qb_crypto_backend_name(QB_CRYPTO_IPSECMB);
	c->arch = info.name;
	c->reason = "";
#else
	(void)want;
	c->reason = "qburst was built without ipsec-mb (libipsec-mb-dev)";
#endif
}

int
qb_crypto_select(enum qb_crypto_backend want, struct qb_crypto_choice *out)
{
	struct qb_crypto_choice c = boringssl_choice("");
	int rc = 0;

	if (want != QB_CRYPTO_AUTO && want != QB_CRYPTO_BORINGSSL && want != QB_CRYPTO_IPSECMB)
		return QB_ERR_ARG;
	if (want == QB_CRYPTO_BORINGSSL)
		c.reason = "boringssl requested";
	else
		try_ipsecmb(want, &c);
	if (c.backend != QB_CRYPTO_IPSECMB) {
		/* Keys made before keep their ops; new ones go to BoringSSL. */
		qb_aead_backend_register(QB_CRYPTO_IPSECMB, NULL);
		if (want == QB_CRYPTO_IPSECMB)
			rc = QB_ERR_UNSUPPORTED;
	}
	if (qb_crypto_set_default_backend(c.backend) != 0)
		return QB_ERR_STATE; /* BoringSSL is always registered */
	g_choice = c;
	if (out != NULL)
		*out = c;
	return rc;
}

const struct qb_crypto_choice *
qb_crypto_current_choice(void)
{
	if (g_choice.name == NULL)
		g_choice = boringssl_choice("");
	return &g_choice;
}
