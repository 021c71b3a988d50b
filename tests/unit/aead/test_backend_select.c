/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --crypto=auto|boringssl|ipsecmb: the start-up choice, its fallback when
 * ipsec-mb has no AVX2/AVX-512 path or no AES-NI, and the refusal of a forced
 * ipsecmb that cannot run. Built with and without ipsec-mb.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "qburst/crypto.h"
#include "qburst/crypto_select.h"
#ifdef QB_HAVE_IPSECMB
#include "crypto/ipsecmb/imb_aead.h"
#endif

/* Installs a 1-RTT AES-128-GCM key with the default backend; returns its backend. */
static enum qb_crypto_backend
key_backend_of_default(void)
{
	static struct qb_crypto_key key;
	uint8_t secret[32];
	enum qb_crypto_backend b;

	memset(secret, 0x42, sizeof(secret));
	cr_assert_eq(qb_crypto_key_init(&key, QB_AEAD_AES128GCM, QB_CRYPTO_QUIC_V1, secret,
	                                sizeof(secret), QB_CRYPTO_AUTO),
	             0);
	b = qb_crypto_key_backend(&key);
	qb_crypto_key_clear(&key);
	return b;
}

Test(select, parse)
{
	cr_assert_eq(qb_crypto_backend_parse("auto"), QB_CRYPTO_AUTO);
	cr_assert_eq(qb_crypto_backend_parse("boringssl"), QB_CRYPTO_BORINGSSL);
	cr_assert_eq(qb_crypto_backend_parse("ipsecmb"), QB_CRYPTO_IPSECMB);
	cr_assert_eq(qb_crypto_backend_parse("ipsec-mb"), QB_ERR_ARG);
	cr_assert_eq(qb_crypto_backend_parse(""), QB_ERR_ARG);
	cr_assert_eq(qb_crypto_select((enum qb_crypto_backend)7, NULL), QB_ERR_ARG);
}

Test(select, before_any_choice_is_boringssl)
{
	const struct qb_crypto_choice *c = qb_crypto_current_choice();

	cr_assert_eq(c->backend, QB_CRYPTO_BORINGSSL);
	cr_assert_str_eq(c->name, "boringssl");
	cr_assert(strcmp(c->arch, "aesni") == 0 || strcmp(c->arch, "generic") == 0);
}

Test(select, boringssl_forced)
{
	struct qb_crypto_choice c;

	cr_assert_eq(qb_crypto_select(QB_CRYPTO_BORINGSSL, &c), 0);
	cr_assert_eq(c.backend, QB_CRYPTO_BORINGSSL);
	cr_assert_str_eq(c.name, "boringssl");
	cr_assert_eq(qb_crypto_default_backend(), QB_CRYPTO_BORINGSSL);
	cr_assert_not(qb_crypto_backend_available(QB_CRYPTO_IPSECMB));
	cr_assert_eq(key_backend_of_default(), QB_CRYPTO_BORINGSSL);
	cr_assert_eq(qb_crypto_current_choice()->backend, QB_CRYPTO_BORINGSSL);
}

#ifdef QB_HAVE_IPSECMB

Test(select, auto_takes_ipsecmb_on_avx2_or_avx512)
{
	struct qb_crypto_choice c;
	int fast = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("aes");

	cr_assert_eq(qb_crypto_select(QB_CRYPTO_AUTO, &c), 0);
	if (!fast) {
		cr_assert_eq(c.backend, QB_CRYPTO_BORINGSSL);
		cr_assert_str_neq(c.reason, "");
		return;
	}
	cr_assert_eq(c.backend, QB_CRYPTO_IPSECMB);
	cr_assert_str_eq(c.name, "ipsecmb");
	cr_assert(strcmp(c.arch, "avx2") == 0 || strcmp(c.arch, "avx512") == 0, "arch %s", c.arch);
	cr_assert_str_eq(c.reason, "");
	cr_assert_eq(qb_crypto_default_backend(), QB_CRYPTO_IPSECMB);
	cr_assert_eq(key_backend_of_default(), QB_CRYPTO_IPSECMB);
	cr_assert_str_eq(qb_crypto_current_choice()->arch, c.arch);

	/* Changing one's mind at start-up: BoringSSL, then back. */
	cr_assert_eq(qb_crypto_select(QB_CRYPTO_BORINGSSL, &c), 0);
	cr_assert_eq(key_backend_of_default(), QB_CRYPTO_BORINGSSL);
	cr_assert_eq(qb_crypto_select(QB_CRYPTO_IPSECMB, &c), 0);
	cr_assert_eq(key_backend_of_default(), QB_CRYPTO_IPSECMB);
}

/*
 * ipsec-mb limited to an older code path through the test hook, as on a CPU
 * without AVX2: its SSE code, which every AES-NI CPU runs, and its AVX code
 * too where this CPU has AVX. So the case never depends on the machine.
 */
static void
falls_back_at(int max_arch, const char *arch)
{
	struct qb_crypto_choice c;

	cr_assert_eq(qb_imb_test_reinit(max_arch, 0), 0);
	cr_assert_eq(qb_crypto_select(QB_CRYPTO_AUTO, &c), 0);
	cr_assert_eq(c.backend, QB_CRYPTO_BORINGSSL);
	cr_assert_str_eq(c.name, "boringssl");
	cr_assert(strstr(c.reason, "AVX2") != NULL, "reason: %s", c.reason);
	cr_assert_eq(qb_crypto_default_backend(), QB_CRYPTO_BORINGSSL);
	cr_assert_eq(key_backend_of_default(), QB_CRYPTO_BORINGSSL);

	/* Forced, ipsec-mb still runs there (AES-NI is present). */
	cr_assert_eq(qb_crypto_select(QB_CRYPTO_IPSECMB, &c), 0);
	cr_assert_eq(c.backend, QB_CRYPTO_IPSECMB);
	cr_assert_str_eq(c.arch, arch);
	cr_assert_eq(key_backend_of_default(), QB_CRYPTO_IPSECMB);
}

Test(select, auto_falls_back_without_avx2)
{
	falls_back_at(IMB_ARCH_SSE, "sse");
	if (__builtin_cpu_supports("avx"))
		falls_back_at(IMB_ARCH_AVX, "avx");
}

/* No AES-NI: ipsec-mb cannot start; auto falls back, forcing it is an error. */
Test(select, forced_ipsecmb_without_aesni_fails)
{
	struct qb_crypto_choice c;

	/* First make ipsec-mb the default, so the failure has something to undo. */
	cr_assert_eq(qb_crypto_select(QB_CRYPTO_IPSECMB, &c), 0);
	cr_assert_eq(qb_imb_test_reinit(IMB_ARCH_NONE, 1), QB_ERR_UNSUPPORTED);

	cr_assert_eq(qb_crypto_select(QB_CRYPTO_IPSECMB, &c), QB_ERR_UNSUPPORTED);
	cr_assert_eq(c.backend, QB_CRYPTO_BORINGSSL);
	cr_assert_str_neq(c.reason, "", "a forced failure must say why");
	cr_assert_eq(qb_crypto_default_backend(), QB_CRYPTO_BORINGSSL);
	cr_assert_not(qb_crypto_backend_available(QB_CRYPTO_IPSECMB));
	cr_assert_eq(key_backend_of_default(), QB_CRYPTO_BORINGSSL);

	cr_assert_eq(qb_crypto_select(QB_CRYPTO_AUTO, &c), 0);
	cr_assert_eq(c.backend, QB_CRYPTO_BORINGSSL);
	cr_assert_str_neq(c.reason, "");
}

#else

Test(select, without_ipsecmb_auto_is_boringssl_and_forcing_fails)
{
	struct qb_crypto_choice c;

	cr_assert_eq(qb_crypto_select(QB_CRYPTO_AUTO, &c), 0);
	cr_assert_eq(c.backend, QB_CRYPTO_BORINGSSL);
	cr_assert(strstr(c.reason, "without ipsec-mb") != NULL);
	cr_assert_eq(qb_crypto_select(QB_CRYPTO_IPSECMB, &c), QB_ERR_UNSUPPORTED);
	cr_assert_eq(c.backend, QB_CRYPTO_BORINGSSL);
	cr_assert_eq(qb_crypto_default_backend(), QB_CRYPTO_BORINGSSL);
	cr_assert_eq(key_backend_of_default(), QB_CRYPTO_BORINGSSL);
}

#endif
