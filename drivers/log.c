/* SPDX-License-Identifier: BSD-3-Clause */
#include "qb_log.h"

RTE_LOG_REGISTER(qb_logtype, qburst, INFO);
