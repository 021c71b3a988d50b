/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QBURST_WIRE_H
#define QBURST_WIRE_H

/*
 * The QUIC wire format, one include for all of it: versions, limits, wire
 * error codes and packet types (wire_common.h), varints and packet numbers
 * (varint.h), packet headers and the packet encoder (packet.h), frames
 * (frame.h), transport parameters (tp.h), the relay forward header
 * (fwdhdr.h).
 */

#include "qburst/wire_common.h"
#include "qburst/varint.h"
#include "qburst/packet.h"
#include "qburst/frame.h"
#include "qburst/tp.h"
#include "qburst/fwdhdr.h"

#endif
