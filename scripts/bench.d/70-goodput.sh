#!/usr/bin/env bash
# Goodput per core of one bulk download (BRIEF §6), the same file, one
# after the other, ROUNDS rounds interleaved, medians; the file's sha256 is
# checked after every download; every client saves into the same directory
# (DLDIR, default a temporary directory under /tmp).
#
#   qburst memif   qburst server -> qburst client, two processes joined by
#                  net_memif (DPDK's shared-memory PMD; no kernel on the
#                  data path), one lcore each (-l 0 / -l 1).
#   qburst veth    the same over a veth pair between two namespaces, each
#                  side on net_af_packet (the kernel's veth and packet socket
#                  costs land on qburst's CPU). Skipped with VETH=0.
#   ngtcp2         gtlsserver -> gtlsclient (ngtcp2 0.12) over kernel UDP on
#                  the loopback of a namespace this script makes (their
#                  default options, so UDP GSO on the server).
#
# What is measured (see doc/performance.md, "Goodput per core"):
#   qburst: from each process's own figures: goodput_bps of --stats-json,
#   over the transfer (client: first to last body byte received; server:
#   first body byte written to last byte acknowledged), and the summary's
#   "CPU over the transfer: C s in W s": the process's CPU time (all
#   threads, CLOCK_PROCESS_CPUTIME_ID) over W, that transfer sampled to
#   within 1 ms of its end. So EAL start and stop are not counted, and idle
#   polling during the transfer is. Per core = goodput / (C / W).
#   "lcore = 1 core" gives the conservative figure: goodput / 1.
#   ngtcp2: goodput = file bytes / client process lifetime; client CPU from
#   /usr/bin/time (user + sys), server CPU as the change of utime + stime in
#   /proc/PID/stat over the client's lifetime; per core = bytes / CPU-s.
# usage: 70-goodput.sh [QBURST]   env: ROUNDS (3), MB (1000), VETH (1), DLDIR,
#   QB_SERVER_ARGS (more options for the qburst server, e.g. --pacer-burst=32)
set -u
read -r -a SERVER_ARGS <<<"${QB_SERVER_ARGS:-}"
QB=${1:-build/apps/qburst}
ROUNDS=${ROUNDS:-3}
MB=${MB:-1000}
VETH=${VETH:-1}
TAG=gp$$
NS=qbg-s-$TAG
NC=qbg-c-$TAG
NL=qbg-l-$TAG
VS=gs$$
VC=gc$$
SRV=198.18.9.1
CLI=198.18.9.2
PORT=4433
WORK=$(mktemp -d /tmp/qbt-goodput-XXXXXX)
DL=${DLDIR:-$WORK/dl}
SPID=
cleanup() {
	[ -n "$SPID" ] && kill -KILL "$SPID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	ip netns del "$NC" 2>/dev/null
	ip netns del "$NL" 2>/dev/null
	rm -f "$DL/bulk"
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
ip netns add "$NL" || fail "ip netns add"
ip -n "$NL" link set lo up || fail "lo up"
if [ "$VETH" = 1 ]; then
	ip netns add "$NS" || fail "ip netns add"
	ip netns add "$NC" || fail "ip netns add"
	ip link add "$VS" type veth peer name "$VC" || fail "veth"
	ip link set "$VS" netns "$NS" && ip link set "$VC" netns "$NC" || fail "moving the veths"
	for pair in "$NS:$VS" "$NC:$VC"; do
		IFS=: read -r ns v <<<"$pair"
		ip -n "$ns" link set lo up
		# net_af_packet needs whole frames with their checksums.
		ip netns exec "$ns" ethtool -K "$v" rx off tx off tso off gso off \
			tx-udp-segmentation off >/dev/null 2>&1 ||
			ip netns exec "$ns" ethtool -K "$v" rx off tx off >/dev/null ||
			fail "ethtool -K $v"
		ip -n "$ns" link set "$v" up
	done
fi

mkdir -p "$WORK/www" "$DL"
head -c $((MB * 1000000)) /dev/urandom >"$WORK/www/bulk"
SUM=$(sha256sum <"$WORK/www/bulk" | cut -c1-64)
BYTES=$(stat -c %s "$WORK/www/bulk")
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj "/CN=localhost" -keyout "$WORK/key.pem" -out "$WORK/cert.pem" >/dev/null 2>&1 ||
	fail "openssl"

cpu_ticks() { # PID -> utime + stime in clock ticks (all threads)
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
now() { date +%s.%N; }
check() { # NAME
	[ -f "$DL/bulk" ] || fail "$1: nothing downloaded"
	[ "$(sha256sum <"$DL/bulk" | cut -c1-64)" = "$SUM" ] ||
		fail "$1: file differs ($(stat -c %s "$DL/bulk") of $BYTES bytes)"
	rm -f "$DL/bulk"
}
# qburst's JSON and summary -> "goodput_MBps cpu_s window_s"
own() { # JSON OUT
	python3 -c 'import json,re,sys; q=json.load(open(sys.argv[1]))["quic"]
m=re.search(r"CPU over the transfer: ([0-9.]+) s in ([0-9.]+) s", open(sys.argv[2]).read())
print("%.3f %s %s" % (q["goodput_bps"] / 8e6, m.group(1), m.group(2)))' "$1" "$2"
}

# One round of NAME (memif, veth, ngtcp2); appends to $WORK/NAME.res:
# lifetime_MBps srv_MBps srv_cpu srv_win cli_MBps cli_cpu cli_win
run() {
	local name=$1 rc=0 t0 t1 c0 c1 sdev cdev snet=() cnet=() srvip=$SRV
	rm -f "$DL/bulk" "$WORK"/*.json "$WORK/memif.sock"
	case $name in
	memif)
		sdev=net_memif0,role=server,socket=$WORK/memif.sock,rsize=12
		cdev=net_memif0,role=client,socket=$WORK/memif.sock,rsize=12
		;;
	veth)
		sdev=net_af_packet0,iface=$VS
		cdev=net_af_packet0,iface=$VC
		snet=(ip netns exec "$NS")
		cnet=(ip netns exec "$NC")
		;;
	ngtcp2) srvip=127.0.0.1 ;;
	esac
	if [ "$name" = ngtcp2 ]; then
		ip netns exec "$NL" /usr/sbin/gtlsserver -q -d "$WORK/www" $srvip $PORT \
			"$WORK/key.pem" "$WORK/cert.pem" >"$WORK/server.out" 2>"$WORK/server.err" &
	else
		"${snet[@]}" "$QB" -l 0 --no-huge -m 512 --no-pci --no-shconf \
			--file-prefix=qbg-s-$TAG --vdev="$sdev" -- --mode=server --ip=$SRV/24 \
			--listen=$PORT --www="$WORK/www" --duration=200 --stats-period=0 \
			--stats-json="$WORK/server.json" "${SERVER_ARGS[@]}" \
			>"$WORK/server.out" 2>"$WORK/server.err" &
	fi
	SPID=$!
	sleep 1
	kill -0 $SPID 2>/dev/null || fail "$name server did not start"
	c0=$(cpu_ticks $SPID)
	t0=$(now)
	if [ "$name" = ngtcp2 ]; then
		ip netns exec "$NL" timeout -s KILL 180 /usr/bin/time -o "$WORK/time" -f "%U %S" \
			/usr/bin/gtlsclient -q --exit-on-all-streams-close --timeout=30s \
			--download="$DL" $srvip $PORT "https://$srvip:$PORT/bulk" \
			>"$WORK/client.out" 2>"$WORK/client.err" || rc=$?
	else
		"${cnet[@]}" timeout -s KILL 180 "$QB" -l 1 --no-huge -m 512 --no-pci --no-shconf \
			--file-prefix=qbg-c-$TAG --vdev="$cdev" -- --mode=client --ip=$CLI/24 \
			--downloads="$DL" --duration=170 --stats-period=0 \
			--stats-json="$WORK/client.json" "https://$SRV:$PORT/bulk" \
			>"$WORK/client.out" 2>"$WORK/client.err" || rc=$?
	fi
	t1=$(now)
	c1=$(cpu_ticks $SPID)
	kill -INT $SPID 2>/dev/null
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		kill -0 $SPID 2>/dev/null || break
		sleep 0.2
	done
	kill -KILL $SPID 2>/dev/null
	wait $SPID 2>/dev/null
	SPID=
	[ "$rc" -eq 0 ] || fail "$name client exited $rc"
	check "$name"
	if [ "$name" = ngtcp2 ]; then
		awk -v b="$BYTES" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" \
			-v tk="$(getconf CLK_TCK)" '{ w = t1 - t0; g = b / w / 1e6;
			printf "%.3f %.3f %.3f %.3f %.3f %.3f %.3f\n", g, g, (c1 - c0) / tk, w, g,
				$1 + $2, w }' "$WORK/time" >>"$WORK/$name.res"
	else
		local s c
		s=$(own "$WORK/server.json" "$WORK/server.out") || fail "$name server figures"
		c=$(own "$WORK/client.json" "$WORK/client.out") || fail "$name client figures"
		echo "$(awk -v b="$BYTES" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.3f",
			b / (t1 - t0) / 1e6 }') $s $c" >>"$WORK/$name.res"
	fi
	echo "  round $r $name: $(tail -1 "$WORK/$name.res") (lifetime MB/s; server MB/s CPU-s window-s; client MB/s CPU-s window-s); sha256 equal"
}

NAMES="memif"
[ "$VETH" = 1 ] && NAMES="$NAMES veth"
NAMES="$NAMES ngtcp2"
echo "goodput: $MB MB file, $ROUNDS rounds, downloads in $DL"
for r in $(seq "$ROUNDS"); do
	for n in $NAMES; do
		run $n
	done
done

python3 - "$WORK" $NAMES <<'PY'
import statistics, sys
work, names = sys.argv[1], sys.argv[2:]
label = {"memif": "qburst memif", "veth": "qburst veth (af_packet)", "ngtcp2": "ngtcp2 (kernel UDP)"}
med = {}
for n in names:
    rows = [[float(x) for x in l.split()] for l in open(f"{work}/{n}.res") if l.strip()]
    per = []
    for life, sg, sc, sw, cg, cc, cw in rows:
        # cores = CPU-s / window-s; per core = goodput / cores
        per.append((life, sg, cg, sc / sw, cc / cw, sg / (sc / sw), cg / (cc / cw)))
    med[n] = [statistics.median(c) for c in zip(*per)]
hdr = ("", "goodput MB/s (lifetime)", "server MB/s", "client MB/s", "server cores",
       "client cores", "MB/s per server core", "MB/s per client core")
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
for n in names:
    l, sg, cg, sk, ck, ps, pc = med[n]
    print(f"| {label[n]} | {l:.0f} | {sg:.0f} | {cg:.0f} | {sk:.2f} | {ck:.2f} | {ps:.0f} | {pc:.0f} |")
ng = med["ngtcp2"]
for n in names:
    if n == "ngtcp2":
        continue
    q = med[n]
    print(f"| {label[n]} / ngtcp2 | {q[0] / ng[0]:.2f} | | | | | **{q[5] / ng[5]:.2f}** | **{q[6] / ng[6]:.2f}** |")
    # The conservative count: each busy-polling lcore is one core.
    print(f"| {label[n]}, lcore = 1 core, / ngtcp2 | | | | | | {q[1] / ng[5]:.2f} | {q[2] / ng[6]:.2f} |")
PY
