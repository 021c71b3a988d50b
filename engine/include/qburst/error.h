/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QBURST_ERROR_H
#define QBURST_ERROR_H

/*
 * Library errors: one negative enum shared by every engine module. These are
 * not QUIC wire error codes (those live in qburst/wire.h as enum
 * qb_transport_error). Functions return 0 (or a non-negative count/length) on
 * success and one of these on failure.
 */
enum qb_err {
	QB_OK = 0,
	QB_ERR_NOBUF = -1,       /* the output buffer has no room */
	QB_ERR_TRUNCATED = -2,   /* the input ends before the item does */
	QB_ERR_INVALID = -3,     /* the input is malformed */
	QB_ERR_CRYPTO = -4,      /* an AEAD open failed or a key could not be made */
	QB_ERR_NOMEM = -5,       /* a pool or allocation is exhausted */
	QB_ERR_UNSUPPORTED = -6, /* version, cipher or feature not supported */
	QB_ERR_PROTO = -7,       /* the peer violated the protocol */
	QB_ERR_STATE = -8,       /* the call is not valid in the current state */
	QB_ERR_ARG = -9,         /* a caller's argument is out of range */
};

/* A static string naming err (a qb_err value); never NULL. */
const char *qb_strerror(int err);

#endif
