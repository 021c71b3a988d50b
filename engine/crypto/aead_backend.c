/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Backend registry and the process-wide default. Tables are written only at
 * start-up (before workers run), so plain globals suffice: workers only read.
 */
#include "crypto/aead_backend.h"

static const struct qb_aead_ops *qb_aead_backends[QB_CRYPTO_BACKEND_COUNT] = {
        [QB_CRYPTO_BORINGSSL] = &qb_aead_boringssl_ops,
};

static enum qb_crypto_backend qb_crypto_default = QB_CRYPTO_BORINGSSL;

int
qb_aead_backend_register(enum qb_crypto_backend id, const struct qb_aead_ops *ops)
{
	if (id <= QB_CRYPTO_BORINGSSL || id >= QB_CRYPTO_BACKEND_COUNT)
		return QB_ERR_ARG;
	if (ops != NULL && (ops->id != id || ops->init == NULL || ops->seal == NULL ||
	                    ops->open == NULL || ops->hp_mask == NULL))
		return QB_ERR_ARG;
	qb_aead_backends[id] = ops;
	if (ops == NULL && qb_crypto_default == id)
		qb_crypto_default = QB_CRYPTO_BORINGSSL;
	return 0;
}

const struct qb_aead_ops *
qb_aead_backend_get(enum qb_crypto_backend id)
{
	if (id <= QB_CRYPTO_AUTO || id >= QB_CRYPTO_BACKEND_COUNT)
		return NULL;
	return qb_aead_backends[id];
}

int
qb_crypto_backend_available(enum qb_crypto_backend backend)
{
	return qb_aead_backend_get(backend) != NULL;
}

int
qb_crypto_set_default_backend(enum qb_crypto_backend backend)
{
	if (backend < QB_CRYPTO_AUTO || backend >= QB_CRYPTO_BACKEND_COUNT)
		return QB_ERR_ARG;
	if (backend == QB_CRYPTO_AUTO) {
		/* The fast backend when it registered itself, else BoringSSL. */
		backend = qb_aead_backends[QB_CRYPTO_IPSECMB] != NULL ? QB_CRYPTO_IPSECMB
		                                                      : QB_CRYPTO_BORINGSSL;
	}
	if (qb_aead_backends[backend] == NULL)
		return QB_ERR_UNSUPPORTED;
	qb_crypto_default = backend;
	return 0;
}

enum qb_crypto_backend
qb_crypto_default_backend(void)
{
	return qb_crypto_default;
}

const char *
qb_crypto_backend_name(enum qb_crypto_backend backend)
{
	switch (backend) {
	case QB_CRYPTO_AUTO:
		return "auto";
	case QB_CRYPTO_BORINGSSL:
		return "boringssl";
	case QB_CRYPTO_IPSECMB:
		return "ipsecmb";
	case QB_CRYPTO_BACKEND_COUNT:
		break;
	}
	return "unknown";
}

enum qb_crypto_backend
qb_crypto_key_backend(const struct qb_crypto_key *key)
{
	return key->ops != NULL ? key->ops->id : QB_CRYPTO_AUTO;
}
