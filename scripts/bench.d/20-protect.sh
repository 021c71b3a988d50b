#!/usr/bin/env bash
# Protect rate (BRIEF §6): seal + header protection of 1200- and 1452-byte
# packets through qb_crypto_protect() against bare BoringSSL calls, interleaved
# in rounds in one process; prints ns/packet, Mpps and the ratio ours/bare.
# Run by scripts/bench.sh from the repository root with build/ built.
set -euo pipefail
bin=build/tests/bench/crypto/bench_protect
[ -x "$bin" ] || { echo "missing $bin (ninja -C build)"; exit 1; }
# One core: the figure is per core, and pinning keeps the rounds comparable.
pin=()
command -v taskset >/dev/null && pin=(taskset -c "${BENCH_CPU:-1}")
"${pin[@]}" "$bin" "${PROTECT_ROUNDS:-201}" "${PROTECT_PACKETS:-1000}"
