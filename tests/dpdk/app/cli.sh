#!/usr/bin/env bash
# Command-line contract (BRIEF §10): --help before EAL, one-line errors
# naming the option with exit 2, no port, too few queue pairs.
# usage: cli.sh QBURST help|bad|noport|queues|mtu
. "$(dirname "$0")/lib.sh"

OPTIONS="--mode --ip --dst-ip --dst-port --src-port --flows --dst-mac --neigh --gateway
	--pkt-size --rate --duration --stats-period --stats-json --crypto --help"

# Expects exit 2, nothing on stdout, at most MAXLINES lines on stderr (5:
# only EAL's own start-up log lines besides ours, where EAL started), exactly
# one "qburst:" line, the last one, containing WANT.
MAXLINES=5
expect_bad() { # WANT ARGS...
	local want=$1 lines total
	shift
	run bad 20 "$@"
	[ "$RC" -eq 2 ] || fail "$* exited $RC, want 2"
	[ -s "$WORK/bad.out" ] && fail "$*: $(wc -l <"$WORK/bad.out") lines on stdout, want none"
	total=$(wc -l <"$WORK/bad.err")
	[ "$total" -le "$MAXLINES" ] || fail "$*: $total lines on stderr, want at most $MAXLINES"
	lines=$(grep -c '^qburst: ' "$WORK/bad.err" || true)
	[ "$lines" -eq 1 ] || fail "$*: $lines 'qburst:' lines on stderr, want 1"
	tail -1 "$WORK/bad.err" | grep -q '^qburst: ' || fail "$*: the 'qburst:' line is not the last"
	grep '^qburst: ' "$WORK/bad.err" | grep -qF -- "$want" ||
		fail "$*: message does not name $want: $(cat "$WORK/bad.err")"
	echo "ok: exit 2: $(grep '^qburst: ' "$WORK/bad.err")"
}

case $CASE in
help)
	for args in "--help" "-l 0 --no-huge -- --help" "$(eal) -- --mode=udpgen --help" "-- --help"; do
		# shellcheck disable=SC2086
		run help 10 $args
		[ "$RC" -eq 0 ] || fail "qburst $args exited $RC, want 0"
		grep -q 'EAL: ' "$WORK/help.out" "$WORK/help.err" && fail "qburst $args started EAL"
		for o in $OPTIONS; do
			grep -qF -- "$o" "$WORK/help.out" || fail "qburst $args: help lacks $o"
		done
		echo "ok: qburst $args"
	done
	;;
bad)
	# Parsed before EAL starts: no EAL arguments needed.
	V4="--mode=udpgen --ip=198.18.0.1/24 --dst-ip=198.18.0.2"
	expect_bad "--mode" -- --mode=bogus
	expect_bad "--mode" -- --ip=198.18.0.1
	expect_bad "--frobnicate" -- --mode=sink --frobnicate=1
	expect_bad "--ip" -- --mode=sink --ip=300.1.1.1
	expect_bad "--ip" -- --mode=sink --ip=198.18.0.1/33
	expect_bad "--ip" -- --mode=udpgen --ip=2001:db8::1/64 --dst-ip=198.18.0.2
	expect_bad "--dst-ip" -- --mode=udpgen --ip=198.18.0.1 --dst-ip=not.an.address
	expect_bad "--dst-ip" -- --mode=udpgen --ip=198.18.0.1
	expect_bad "--dst-port" -- $V4 --dst-port=70000
	expect_bad "--src-port" -- $V4 --src-port=0
	expect_bad "--flows" -- $V4 --flows=0
	expect_bad "--crypto" -- $V4 --crypto=aesni
	expect_bad "--dst-mac" -- $V4 --dst-mac=02:00:00:zz:00:01
	expect_bad "--neigh" -- $V4 --neigh=198.18.0.2
	expect_bad "--gateway" -- $V4 --gateway=2001:db8::1
	expect_bad "--pacer-burst" -- --mode=server --pacer-burst=0
	expect_bad "--pacer-burst" -- --mode=client --pacer-burst=1025
	expect_bad "--pacer-burst" -- --mode=server --pacer-burst=32x
	expect_bad "--pacer-burst" -- $V4 --pacer-burst=32
	expect_bad "--pkt-size" -- $V4 --pkt-size=63
	expect_bad "--pkt-size" -- $V4 --pkt-size=20000
	expect_bad "--pkt-size" -- --mode=udpgen --ip=2001:db8::1/64 --dst-ip=2001:db8::2 --pkt-size=65
	expect_bad "--rate" -- $V4 --rate=fast
	expect_bad "--duration" -- $V4 --duration=-1
	expect_bad "--stats-period" -- $V4 --stats-period=x
	expect_bad "--stats-json" -- $V4 --stats-json
	expect_bad "--no-tx-offload" -- $V4 --no-tx-offload=1
	expect_bad "positional" -- $V4 positional
	expect_bad "--flows=2" -- $V4 --src-port=65535 --flows=2
	expect_bad "--flows=1000" -- $V4 --src-port=65000 --flows=1000
	expect_bad "--stats-json=/nonexistent" -- $V4 --stats-json=/nonexistent/x.json
	expect_bad "--stats-json" -- $V4 --stats-json="$WORK/nodir/x.json"
	expect_bad "--stats-json" -- $V4 --stats-json="$WORK"
	# Without "--", every argument is an app option.
	expect_bad "--bogus: unknown option" --bogus
	expect_bad "--bogus: unknown option" $V4 --bogus
	expect_bad "-l: not an app option" -l 0 $V4
	# A bad EAL option: one line naming it, without EAL's usage text.
	# shellcheck disable=SC2046
	expect_bad "EAL options: unrecognized option '--bogus-eal'" -l 0-1 --bogus-eal $(eal) -- $V4
	# shellcheck disable=SC2046
	expect_bad "EAL options: " -l 0-99 $(eal) -- $V4
	;;
noport)
	# EAL starts: its start-up log (about 6 lines) comes first.
	MAXLINES=12
	# shellcheck disable=SC2046
	expect_bad "no port" -l 0 $(eal) -- --mode=sink --duration=1
	;;
queues)
	# EAL starts: its start-up log (about 6 lines) comes first.
	MAXLINES=12
	# net_af_packet offers qpairs=1; two workers need two.
	# shellcheck disable=SC2046
	expect_bad "queue pair" --lcores=0@0,1@1,2@0 $(eal) --vdev=net_af_packet0,iface=lo,qpairs=1 \
		-- --mode=sink --duration=1
	;;
mtu)
	# EAL starts: its start-up log (about 6 lines) comes first.
	MAXLINES=12
	# net_null's MTU is 1500: the largest frame is 1514.
	# shellcheck disable=SC2046
	expect_bad "--pkt-size" -l 0 $(eal) --vdev=net_null0,no-rx=1 -- --mode=udpgen \
		--ip=198.18.0.1/24 --dst-ip=198.18.0.2 --dst-mac=02:00:00:00:00:02 --pkt-size=1515
	;;
*)
	fail "unknown case $CASE"
	;;
esac
echo "PASS: cli $CASE"
