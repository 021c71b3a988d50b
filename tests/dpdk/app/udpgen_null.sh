#!/usr/bin/env bash
# udpgen on net_null0,no-rx=1 (BRIEF §9: --dst-mac, no ARP there).
# usage: udpgen_null.sh QBURST basic|single|sigint|sigterm|rate|ipv6
. "$(dirname "$0")/lib.sh"

NULL="--vdev=net_null0,no-rx=1"
V4="--mode=udpgen --ip=198.18.0.1/24 --dst-ip=198.18.0.2 --dst-mac=02:00:00:00:00:02"
J=$WORK/stats.json

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# run, timed from outside: udpgen must exit within its duration plus 3 s
# (EAL start-up and teardown included).
run_within() { # NAME DURATION_S ARGS...
	local name=$1 dur=$2 start ms limit
	shift 2
	start=$(now_ms)
	run "$name" 20 "$@"
	ms=$(($(now_ms) - start))
	limit=$(awk -v d="$dur" 'BEGIN { printf "%d", (d + 3) * 1000 }')
	echo "wall time $ms ms for a $dur s run (limit $limit ms)"
	[ "$ms" -lt "$limit" ] || fail "took $ms ms for a $dur s run, want < $limit ms"
}

case $CASE in
basic)
	# One worker, 2 s: exits 0 within its duration, JSON valid, every
	# mbuf back in its pool, bytes = frames x frame size.
	# shellcheck disable=SC2046,SC2086
	run_within basic 2 -l 0-1 $(eal) $NULL -- $V4 --duration=2 --stats-json="$J"
	[ "$RC" -eq 0 ] || fail "exit $RC"
	check_json "$J" udpgen 1 "tx_pkts > 100000" "tx_bytes == 64 * tx_pkts" \
		"1.9 < duration_s < 4" "rx_pkts == 0" "tx_pps > 0" "abs(tx_bps - 8 * tx_bytes / duration_s) < 1e-3 * tx_bps + 8"
	grep -q '^Port 0 .*Tx-pps:' "$WORK/basic.out" || fail "no periodic statistics line"
	grep -q 'summary for port 0' "$WORK/basic.out" || fail "no final summary"
	check_pools "$WORK/basic.err"
	;;
single)
	# One lcore runs the worker loop and the control work; 1200-byte
	# frames over 16 flows.
	# shellcheck disable=SC2046,SC2086
	run_within single 1 -l 0 $(eal) $NULL -- $V4 --duration=1 --pkt-size=1200 --flows=16 \
		--stats-period=0.25 --stats-json="$J" --crypto=boringssl
	[ "$RC" -eq 0 ] || fail "exit $RC"
	check_json "$J" udpgen 1 "tx_pkts > 10000" "tx_bytes == 1200 * tx_pkts" \
		"crypto['backend'] == 'boringssl'"
	n=$(grep -c '^Port 0 ' "$WORK/single.out" || true)
	[ "$n" -ge 2 ] || fail "$n periodic lines in 1 s at a 0.25 s period"
	check_pools "$WORK/single.err"
	;;
sigint | sigterm)
	# --duration=0 runs until SIGINT/SIGTERM; the JSON is still written.
	sig=INT
	signo=2
	[ "$CASE" = sigterm ] && sig=TERM && signo=15
	# shellcheck disable=SC2046,SC2086
	timeout -s KILL 20 "$QB" -l 0-1 $(eal) $NULL -- $V4 --duration=0 --stats-json="$J" \
		>"$WORK/sigint.out" 2>"$WORK/sigint.err" &
	pid=$!
	sleep 2
	kill -$sig $pid
	sent=$(now_ms)
	rc=0
	wait $pid || rc=$?
	ms=$(($(now_ms) - sent))
	[ "$rc" -eq 0 ] || fail "exit $rc after SIG$sig"
	echo "exited $ms ms after SIG$sig"
	[ "$ms" -lt 2000 ] || fail "exited $ms ms after SIG$sig, want < 2000 ms"
	grep -q "stopped by signal $signo" "$WORK/sigint.err" || fail "no stop-by-signal log"
	check_json "$J" udpgen 1 "tx_pkts > 0"
	check_pools "$WORK/sigint.err"
	;;
rate)
	# --rate is the total over workers: two workers sharing the CPUs.
	# shellcheck disable=SC2046,SC2086
	run_within rate 1.5 --lcores=0@0,1@1,2@1 $(eal) $NULL -- $V4 --rate=20000 --duration=1.5 \
		--stats-json="$J"
	[ "$RC" -eq 0 ] || fail "exit $RC"
	check_json "$J" udpgen 2 "0.9 * 20000 * duration_s - 100 <= tx_pkts <= 20000 * duration_s + 100"
	check_pools "$WORK/rate.err"
	;;
ipv6)
	# The smallest IPv6 frame: 62 bytes of headers + 4 of payload.
	# shellcheck disable=SC2046,SC2086
	run_within ipv6 1 -l 0-1 $(eal) $NULL -- --mode=udpgen --ip=2001:db8::1/64 --dst-ip=2001:db8::2 \
		--dst-mac=02:00:00:00:00:02 --pkt-size=66 --duration=1 --stats-json="$J"
	[ "$RC" -eq 0 ] || fail "exit $RC"
	check_json "$J" udpgen 1 "tx_pkts > 10000" "tx_bytes == 66 * tx_pkts"
	check_pools "$WORK/ipv6.err"
	;;
*)
	fail "unknown case $CASE"
	;;
esac
echo "PASS: udpgen_null $CASE"
