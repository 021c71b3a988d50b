/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_LOG_H
#define QB_LOG_H

#include <rte_log.h>

/*
 * The "qburst" log type (RTE_LOG_REGISTER in drivers/log.c). Its level is set
 * with the EAL option --log-level=qburst:debug. Messages end with a newline
 * added here.
 */
extern int qb_logtype;

#define QB_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, qb_logtype, "qburst: " fmt "\n", ##__VA_ARGS__)

#endif
