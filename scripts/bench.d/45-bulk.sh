#!/usr/bin/env bash
# In-memory bulk upload through the connection core (client and server in
# one thread, no DPDK), AES-128-GCM, each packet-protection backend in turn:
# payload Gbit/s per core, the AEAD's share of the CPU time (AEAD timed
# alone in the same run at the transfer's packet sizes) and the engine's
# own cost per packet. Twice: with a 4 MiB send buffer (the conn tests'
# setting; the data is cold in cache by the time it is packed) and 256 KiB.
set -euo pipefail
for kb in 4096 256; do
	BENCH_BULK_SNDBUF_KB=$kb taskset -c 1 build/tests/bench/engine/bench_bulk \
		"${BULK_MB:-200}" "${BULK_ROUNDS:-3}"
done
