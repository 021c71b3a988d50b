#!/usr/bin/env bash
# Raw TX: qburst udpgen against dpdk-testpmd --forward-mode=txonly on
# net_null, one forwarding lcore each (-l 0-1), the same frame sizes (64 and
# 1200 bytes, testpmd's --txpkts), one after the other, interleaved over
# ROUNDS rounds of SECONDS each, in ABBA order: odd rounds run testpmd first,
# even rounds udpgen first, so neither always gets the warmer (or the
# quieter) slot. Each run's rate is the median of its
# per-second Tx-pps lines. The summary line per size gives the median rate of
# each over the rounds and the median of the per-round ratios (a round's two
# runs are seconds apart, so their ratio is the least disturbed by the load
# of a shared machine).
# Environment: ROUNDS (default 3), SECONDS_PER_RUN (default 5), SIZES.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
SECS=${SECONDS_PER_RUN:-5}
SIZES=${SIZES:-"64 1200"}
QB=build/apps/qburst
TESTPMD=$(command -v dpdk-testpmd) || { echo "10-udpgen: dpdk-testpmd not found (package dpdk)" >&2; exit 1; }
[ -x "$QB" ] || { echo "10-udpgen: $QB not built" >&2; exit 1; }

eal() { # PREFIX
	echo "-l 0-1 --no-huge -m 1024 --no-pci --no-shconf --file-prefix=$1-$$ --vdev=net_null0,no-rx=1"
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) printf "%.0f\n", v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# testpmd prints "Tx-pps: N" every --stats-period; its first line is 0
# (no previous sample) and EAL start-up takes a while: run it longer.
run_testpmd() { # SIZE
	# shellcheck disable=SC2046
	{ timeout -s INT $((SECS + 4)) "$TESTPMD" $(eal qb-bench-tp) -- --forward-mode=txonly \
		--txpkts="$1" --stats-period=1 2>/dev/null || true; } |
		awk '/Tx-pps:/ && $2 > 0 { print $2 }' | median
}

run_udpgen() { # SIZE
	# shellcheck disable=SC2046
	timeout -s KILL $((SECS + 20)) "$QB" $(eal qb-bench-qb) -- --mode=udpgen --ip=198.18.0.1/24 \
		--dst-ip=198.18.0.2 --dst-mac=02:00:00:00:00:02 --pkt-size="$1" --duration="$SECS" \
		--stats-period=1 2>/dev/null |
		awk '/^Port 0 / { for (i = 1; i < NF; i++) if ($i == "Tx-pps:") print $(i + 1) }' | median
}

printf '%-6s %-6s %14s %14s %7s\n' size round testpmd_pps udpgen_pps ratio
for size in $SIZES; do
	tp_all=()
	qb_all=()
	ratios=()
	for r in $(seq "$ROUNDS"); do
		if [ $((r % 2)) -eq 1 ]; then
			tp=$(run_testpmd "$size")
			qb=$(run_udpgen "$size")
		else
			qb=$(run_udpgen "$size")
			tp=$(run_testpmd "$size")
		fi
		ratio=$(awk -v a="$qb" -v b="$tp" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
		tp_all+=("$tp")
		qb_all+=("$qb")
		ratios+=("$ratio")
		printf '%-6s %-6s %14.0f %14.0f %7.3f\n' "$size" "$r" "$tp" "$qb" "$ratio"
	done
	tpm=$(printf '%s\n' "${tp_all[@]}" | median)
	qbm=$(printf '%s\n' "${qb_all[@]}" | median)
	rm=$(printf '%s\n' "${ratios[@]}" | sort -n |
		awk '{ v[NR] = $1 } END { printf "%.3f", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }')
	printf '%-6s %-6s %14.0f %14.0f %7.3f  (udpgen/testpmd, median of the rounds)\n' "$size" median \
		"$tpm" "$qbm" "$rm"
done
