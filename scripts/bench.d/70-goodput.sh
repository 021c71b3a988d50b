#!/usr/bin/env bash
# Goodput per core of one bulk download (BRIEF §6): a qburst server to a
# qburst client (net_af_packet, one lcore each: -l 0 / -l 1) against
# gtlsserver to gtlsclient (ngtcp2 0.12 over kernel UDP), the same file,
# over the same veth pair between two network namespaces this script
# creates (198.18.9.0/24 only inside them; offloads off on both veths, as
# net_af_packet needs), one after the other, ROUNDS rounds interleaved,
# medians. Needs root. The file's sha256 is checked after every download.
#
# Cores used = CPU-seconds / wall seconds over the client process's
# lifetime: the client's CPU from /usr/bin/time (user + sys, all threads),
# the server's as the change of utime + stime in /proc/PID/stat across that
# same window. A busy-polling lcore thus counts as about one core.
# Goodput = file bytes / client process wall time, for both (it includes
# the client's start: DPDK EAL init for qburst, a few ms for gtlsclient);
# qburst's own figure (client --stats-json quic.goodput_bps, over the
# transfer only) is shown beside it. Per core = goodput / (CPU-s / wall s)
# = file bytes / CPU-s.
# usage: 70-goodput.sh [QBURST]   env: ROUNDS (3), MB (200)
set -u
QB=${1:-build/apps/qburst}
ROUNDS=${ROUNDS:-3}
MB=${MB:-200}
TAG=gp$$
NS=qbg-s-$TAG
NC=qbg-c-$TAG
VS=gs$$
VC=gc$$
SRV=198.18.9.1
CLI=198.18.9.2
PORT=4433
WORK=$(mktemp -d /tmp/qbt-goodput-XXXXXX)
SPID=
cleanup() {
	[ -n "$SPID" ] && kill -KILL "$SPID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	ip netns del "$NC" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
	echo "FAIL: goodput: $*" >&2
	for f in "$WORK"/*.err "$WORK"/*.out; do
		[ -s "$f" ] && { echo "--- $f"; tail -15 "$f"; } >&2
	done
	exit 1
}

if [ "$(id -u)" -ne 0 ]; then
	echo "goodput: skipped (needs root for its network namespaces)"
	exit 0
fi
[ -x "$QB" ] || fail "no $QB (build first)"
for p in /usr/sbin/gtlsserver /usr/bin/gtlsclient /usr/bin/time; do
	[ -x $p ] || fail "needs $p"
done
ip netns add "$NS" || fail "ip netns add"
ip netns add "$NC" || fail "ip netns add"
ip link add "$VS" type veth peer name "$VC" || fail "veth"
ip link set "$VS" netns "$NS" && ip link set "$VC" netns "$NC" || fail "moving the veths"
for pair in "$NS:$VS:$SRV" "$NC:$VC:$CLI"; do
	IFS=: read -r ns v _ <<<"$pair"
	ip -n "$ns" link set lo up
	ip netns exec "$ns" ethtool -K "$v" rx off tx off tso off gso off tx-udp-segmentation off \
		>/dev/null 2>&1 || ip netns exec "$ns" ethtool -K "$v" rx off tx off >/dev/null ||
		fail "ethtool -K $v"
	ip -n "$ns" link set "$v" up
done

mkdir -p "$WORK/www" "$WORK/dl"
head -c $((MB * 1000000)) /dev/urandom >"$WORK/www/bulk"
SUM=$(sha256sum <"$WORK/www/bulk" | cut -c1-64)
BYTES=$(stat -c %s "$WORK/www/bulk")
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj "/CN=localhost" -addext "subjectAltName=IP:$SRV" -keyout "$WORK/key.pem" \
	-out "$WORK/cert.pem" >/dev/null 2>&1 || fail "openssl"

cpu_ticks() { # PID -> utime + stime in clock ticks (all threads)
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
now() { date +%s.%N; }
check() { # NAME
	[ -f "$WORK/dl/bulk" ] || fail "$1: nothing downloaded"
	[ "$(sha256sum <"$WORK/dl/bulk" | cut -c1-64)" = "$SUM" ] ||
		fail "$1: file differs ($(stat -c %s "$WORK/dl/bulk") of $BYTES bytes)"
	rm -f "$WORK/dl/bulk"
}

# Starts the server (SPID is its own pid: ip netns exec execs it), runs the
# client under /usr/bin/time, stops the server; appends one line to
# $WORK/NAME.res: goodput_MBps server_cpu client_cpu wall
run() { # NAME
	local name=$1 rc=0 t0 t1 c0 c1 gp
	rm -rf "$WORK/dl" && mkdir -p "$WORK/dl"
	if [ "$name" = qburst ]; then
		ip netns exec "$NS" "$QB" -l 0 --no-huge -m 512 --no-pci --no-shconf \
			--file-prefix=qbg-s-$TAG --vdev=net_af_packet0,iface=$VS -- --mode=server \
			--ip=$SRV/24 --listen=$PORT --www="$WORK/www" --duration=100 --stats-period=0 \
			>"$WORK/server.out" 2>"$WORK/server.err" &
	else
		# The kernel's addresses only for ngtcp2's run: during qburst's
		# the kernel would answer its packets with ICMP unreachables.
		ip -n "$NS" addr add $SRV/24 dev "$VS" && ip -n "$NC" addr add $CLI/24 dev "$VC" ||
			fail "addresses on the veths"
		ip netns exec "$NS" /usr/sbin/gtlsserver -q -d "$WORK/www" $SRV $PORT \
			"$WORK/key.pem" "$WORK/cert.pem" >"$WORK/server.out" 2>"$WORK/server.err" &
	fi
	SPID=$!
	sleep 1.5
	kill -0 $SPID 2>/dev/null || fail "$name server did not start"
	c0=$(cpu_ticks $SPID)
	t0=$(now)
	if [ "$name" = qburst ]; then
		ip netns exec "$NC" timeout -s KILL 90 /usr/bin/time -o "$WORK/time" -f "%U %S" \
			"$QB" -l 1 --no-huge -m 512 --no-pci --no-shconf --file-prefix=qbg-c-$TAG \
			--vdev=net_af_packet0,iface=$VC -- --mode=client --ip=$CLI/24 \
			--downloads="$WORK/dl" --duration=80 --stats-period=0 \
			--stats-json="$WORK/client.json" "https://$SRV:$PORT/bulk" \
			>"$WORK/client.out" 2>"$WORK/client.err" || rc=$?
	else
		ip netns exec "$NC" timeout -s KILL 90 /usr/bin/time -o "$WORK/time" -f "%U %S" \
			/usr/bin/gtlsclient -q --exit-on-all-streams-close --timeout=20s \
			--download="$WORK/dl" $SRV $PORT "https://$SRV:$PORT/bulk" \
			>"$WORK/client.out" 2>"$WORK/client.err" || rc=$?
	fi
	t1=$(now)
	c1=$(cpu_ticks $SPID)
	kill -INT $SPID 2>/dev/null
	sleep 0.5
	kill -KILL $SPID 2>/dev/null
	wait $SPID 2>/dev/null
	SPID=
	ip -n "$NS" addr del $SRV/24 dev "$VS" 2>/dev/null
	ip -n "$NC" addr del $CLI/24 dev "$VC" 2>/dev/null
	[ "$rc" -eq 0 ] || fail "$name client exited $rc"
	check "$name"
	gp=-
	if [ "$name" = qburst ]; then
		gp=$(python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["quic"]["goodput_bps"] / 8e6))' \
			"$WORK/client.json") || fail "client JSON"
	fi
	awk -v gp="$gp" -v b="$BYTES" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" \
		-v tk="$(getconf CLK_TCK)" '{ printf "%.1f %s %.3f %.3f %.3f\n", b / (t1 - t0) / 1e6, gp,
			(c1 - c0) / tk, $1 + $2, t1 - t0 }' "$WORK/time" >>"$WORK/$name.res"
	echo "  round $r $name: $(tail -1 "$WORK/$name.res") (MB/s, own MB/s, server CPU-s, client CPU-s, wall s); sha256 equal"
}

echo "goodput: $MB MB file, $ROUNDS rounds, veth between two namespaces"
for r in $(seq "$ROUNDS"); do
	run qburst
	run ngtcp2
done

python3 - "$WORK/qburst.res" "$WORK/ngtcp2.res" "$BYTES" <<'PY'
import statistics, sys
b = int(sys.argv[3]) / 1e6
med = {}
for name, path in zip(("qburst", "ngtcp2"), sys.argv[1:3]):
    rows = [l.split() for l in open(path) if l.strip()]
    # per round: goodput, own figure, server CPU-s, client CPU-s, wall s,
    # MB per server CPU-s, MB per client CPU-s; then the median of each
    per = [(float(g), float(o) if o != "-" else float("nan"), float(s), float(c), float(w),
            b / float(s), b / float(c)) for g, o, s, c, w in rows]
    med[name] = [statistics.median(col) for col in zip(*per)]
hdr = ("", "goodput MB/s", "own figure MB/s", "server CPU-s", "client CPU-s", "wall s",
       "MB/s per server core", "MB/s per client core")
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
for name in ("qburst", "ngtcp2"):
    g, o, s, c, w, ps, pc = med[name]
    own = f"{o:.1f}" if o == o else "-"
    print(f"| {name} | {g:.1f} | {own} | {s:.3f} | {c:.3f} | {w:.3f} | {ps:.1f} | {pc:.1f} |")
q, n = med["qburst"], med["ngtcp2"]
print(f"| qburst / ngtcp2 | {q[0] / n[0]:.2f} | | | | | {q[5] / n[5]:.2f} | {q[6] / n[6]:.2f} |")
PY
