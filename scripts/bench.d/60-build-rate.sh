#!/usr/bin/env bash
# Build rate (BRIEF §6, issue 5 item 6): 1-RTT STREAM packets of 1200 and 1452
# bytes built by qb_burst_tx into mbufs, protected with AES-128-GCM, UDP/IPv4/
# Ethernet prepended and handed to net_null on one lcore, against the bare seal
# + header protection of the same backend, interleaved in rounds in one
# process, for each --crypto backend, on the offload path (checksum flags set
# as on a real NIC: a bench-only switch, net_null advertises none) and on the
# software checksum path. The fills: bench-local ones (copy, from, gap, tmpl)
# and the connection core's own qb_conn_send (conn, ccopy, econn: a real
# server connection after an in-memory handshake, the peer's ACKs fed between
# timed segments). Run by scripts/bench.sh from the repository root.
#
# Environment: BUILD_ROUNDS (101), BUILD_BURSTS (64 bursts of 32 per round),
# BUILD_BACKEND (boringssl|ipsecmb) and BUILD_PATH (offload|software) restrict
# the table; BUILD_CONN_ACK (datagrams between ACKs, 128), BUILD_CONN_CHUNK
# (stream chunk bytes, 4096), BUILD_CONN_PACER (the server's pacer bucket in
# packets, 39 so a burst can be 32; 10 is the connection's default, the
# workers' bursts) and BUILD_CONN_SINGLE=1 (one qb_conn_send per datagram)
# set up the conn variants; BUILD_PROFILE=<variant> runs one variant
# untimed (for perf).
set -euo pipefail
bin=build/tests/bench/burst/bench_build
[ -x "$bin" ] || { echo "missing $bin (ninja -C build)"; exit 1; }
cpu=${BENCH_CPU:-1}
pin=()
command -v taskset >/dev/null && pin=(taskset -c "$cpu")
only=()
if [ -n "${BUILD_BACKEND:-}${BUILD_PATH:-}" ]; then
	only=("${BUILD_BACKEND:-all}")
	[ -n "${BUILD_PATH:-}" ] && only+=("$BUILD_PATH")
fi
"${pin[@]}" "$bin" -l "$cpu" --no-huge -m 512 --no-pci --no-shconf \
	--file-prefix="bench_build_$$" --vdev=net_null0,no-rx=1 --log-level=warning -- \
	"${BUILD_ROUNDS:-101}" "${BUILD_BURSTS:-64}" "${only[@]}"
