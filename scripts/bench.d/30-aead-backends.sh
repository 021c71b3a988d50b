#!/usr/bin/env bash
# Protect rate of the AEAD backends (issue 7): seal + header protection of
# 1200- and 1452-byte 1-RTT packets, bare ipsec-mb, bare BoringSSL and our
# path, side by side in one process on one core, median of interleaved rounds.
set -euo pipefail
bin=build/tests/bench/ipsecmb/bench_aead
if [ ! -x "$bin" ]; then
	echo "aead-backends: $bin not built (ipsec-mb not found at configure time)"
	exit 1
fi
# One core: the machine is shared; pinning keeps the variants comparable.
taskset -c "${BENCH_CPU:-1}" "$bin" "${AEAD_ROUNDS:-101}" "${AEAD_PKTS:-1000}"
