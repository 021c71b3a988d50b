/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QBURST_CRYPTO_SELECT_H
#define QBURST_CRYPTO_SELECT_H

/*
 * Start-up choice of the packet-protection backend, the app's
 * --crypto=auto|boringssl|ipsecmb (BRIEF §10). Built with or without
 * ipsec-mb: without it, auto means BoringSSL and ipsecmb is refused.
 *
 * auto picks ipsec-mb when its library initialises and runs its AVX2 or
 * AVX-512 code on this CPU (there it seals 2-4x faster than BoringSSL);
 * on an SSE/AVX-only CPU BoringSSL's own AES-NI code is as good, so auto
 * stays on BoringSSL. ipsecmb forces ipsec-mb on any CPU with AES-NI and
 * fails with a reason otherwise. Call once, before workers start and
 * before any key is installed (keys keep the backend they were made with).
 */

#include "qburst/crypto.h"

struct qb_crypto_choice {
	enum qb_crypto_backend backend; /* QB_CRYPTO_BORINGSSL or QB_CRYPTO_IPSECMB */
	const char *name;               /* "boringssl" or "ipsecmb" */
	/*
	 * The code path in use, for the stats JSON "crypto":{"arch"}: for
	 * ipsec-mb the one it picked ("avx512", "avx2", "avx", "sse"); for
	 * BoringSSL "aesni" when it uses AES hardware, else "generic".
	 */
	const char *arch;
	/* Why ipsec-mb was not chosen or could not be forced; "" otherwise. */
	const char *reason;
};

/* "auto", "boringssl", "ipsecmb" -> the enum value (>= 0), else QB_ERR_ARG. */
int qb_crypto_backend_parse(const char *s);

/*
 * Chooses the backend for `want` (QB_CRYPTO_AUTO, QB_CRYPTO_BORINGSSL or
 * QB_CRYPTO_IPSECMB), registers ipsec-mb's ops table when it is chosen, makes
 * the choice the process default (qb_crypto_set_default_backend) and fills
 * *out (may be NULL; the strings are static). Returns 0, QB_ERR_UNSUPPORTED
 * when ipsecmb was forced but cannot run here (out->reason says why; the
 * default is then BoringSSL and the caller should refuse to start), or
 * QB_ERR_ARG for another value. Not thread-safe: call at start-up.
 */
int qb_crypto_select(enum qb_crypto_backend want, struct qb_crypto_choice *out);

/* The last choice made (BoringSSL with its arch before any). Never NULL. */
const struct qb_crypto_choice *qb_crypto_current_choice(void);

#endif
