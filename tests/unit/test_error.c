/* SPDX-License-Identifier: BSD-3-Clause */
#include <criterion/criterion.h>
#include <string.h>

#include "qburst/error.h"

Test(error, every_code_has_its_own_message)
{
	const int codes[] = {QB_OK,         QB_ERR_NOBUF, QB_ERR_TRUNCATED,   QB_ERR_INVALID,
	                     QB_ERR_CRYPTO, QB_ERR_NOMEM, QB_ERR_UNSUPPORTED, QB_ERR_PROTO,
	                     QB_ERR_STATE,  QB_ERR_ARG};
	const size_t n = sizeof(codes) / sizeof(codes[0]);
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_neq(qb_strerror(codes[i]), "unknown error");
		for (size_t j = i + 1; j < n; j++)
			cr_assert_str_neq(qb_strerror(codes[i]), qb_strerror(codes[j]));
	}
	cr_assert_str_eq(qb_strerror(-1000), "unknown error");
}
