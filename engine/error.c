/* SPDX-License-Identifier: BSD-3-Clause */
#include "qburst/error.h"

const char *
qb_strerror(int err)
{
	switch (err) {
	case QB_OK:
		return "success";
	case QB_ERR_NOBUF:
		return "no room in buffer";
	case QB_ERR_TRUNCATED:
		return "input truncated";
	case QB_ERR_INVALID:
		return "malformed input";
	case QB_ERR_CRYPTO:
		return "cryptographic failure";
	case QB_ERR_NOMEM:
		return "out of memory or pool exhausted";
	case QB_ERR_UNSUPPORTED:
		return "not supported";
	case QB_ERR_PROTO:
		return "protocol violation";
	case QB_ERR_STATE:
		return "invalid in current state";
	case QB_ERR_ARG:
		return "invalid argument";
	}
	return "unknown error";
}
