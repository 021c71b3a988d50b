/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_CC_ALGOS_H
#define QB_CC_ALGOS_H
/* Internal: the congestion controllers qb_cc_find() knows. */
#include "qburst/cc.h"

extern const struct qb_cc_ops qb_cc_newreno_ops;
extern const struct qb_cc_ops qb_cc_cubic_ops;

#endif
