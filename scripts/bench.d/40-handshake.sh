#!/usr/bin/env bash
# In-memory QUIC-TLS 1.3 handshakes (X25519, ECDSA P-256) through our TLS
# layer, client and server in one process; server-side cost per handshake
# against the public-key floor measured in the same run.
set -euo pipefail
exec taskset -c 1 build/tests/bench/engine/bench_handshake "${HANDSHAKES:-1000}"
