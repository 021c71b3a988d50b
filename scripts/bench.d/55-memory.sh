#!/usr/bin/env bash
# Memory held per idle connection (BRIEF §6: ngtcp2 0.12 holds 81 KB of heap
# per server connection after its handshake; goal under 8 KiB): N in-memory
# client/server pairs complete their handshakes, go idle, and the heap each
# idle server connection holds is measured (what freeing it gives back) and
# broken down by component, for each packet-protection backend. Mbufs: the
# engine links no DPDK, so an idle connection holds none.
set -euo pipefail
exec taskset -c 1 build/tests/bench/engine/bench_mem ${MEM_CONNS:-1000 10000}
