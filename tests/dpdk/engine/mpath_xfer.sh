#!/usr/bin/env bash
# The multi-path handshake through the app (BRIEF §2; issue 5, items 3 and
# 5): a qburst client with two addresses on its port and --multipath
# downloads a file from a qburst server with --multipath, over a veth pair
# between two namespaces (198.18.9.0/24 only inside them; offloads off, as
# net_af_packet needs).
#   server 198.18.9.1            --multipath --listen=4433, one worker,
#                                --pacer-burst=39 (bursts of up to the
#                                worker's 32 datagrams of 1452 bytes)
#                                (WORKERS=2: two, on lcores mapped onto the
#                                two CPUs, BRIEF §9; the second path's
#                                datagrams then often reach the other worker
#                                and are handed over, which delays that path
#                                against the first: see the worker's report
#                                on paths of unequal delay)
#   client 198.18.9.3, .13       --multipath: one path per address, one lcore
# First the option checks (no EAL): --help lists --multipath; bad
# combinations print one line naming it and exit 2.
# Checks: the file (MB megabytes, default 20) arrives byte-exact (sha256)
# within the client's deadline; on both ends both paths received and sent
# datagrams (the text summary and the stats JSON agree); the server took
# one new path and none failed; every pool full at exit.
# usage: mpath_xfer.sh QBURST   env: MB (20), WORKERS (1), KEEP_OUT
. "$(dirname "$0")/../app/lib.sh"
# KEEP_OUT=1: the outputs are copied to /tmp at exit (for a failure's study).
[ -n "${KEEP_OUT:-}" ] && trap 'cp "$WORK"/*.out "$WORK"/*.err /tmp/ 2>/dev/null; cleanup' EXIT

# ---- options (no EAL) ----
out=$("$QB" --help) || fail "--help exited $?"
echo "$out" | grep -q -- "--multipath" || fail "--help lacks --multipath"
U=https://198.18.0.1:4433/f
expect2 "--multipath: needs two --ip" --mode=client --ip=198.18.0.2 --multipath $U
expect2 "--multipath: needs two --ip" --mode=client --ip=198.18.0.2 --ip=2001:db8::2 \
	--multipath $U
expect2 "--multipath: not with --relay" --mode=client --ip=198.18.0.2 --ip=198.18.0.12 \
	--multipath --relay=198.18.0.3:4433 $U
expect2 "--multipath: server and client only" --mode=sink --ip=198.18.0.2 --multipath
expect2 "--multipath: takes no value" --mode=server --ip=198.18.0.1 --listen=4433 \
	--multipath=1
echo "PASS: --multipath options"

# ---- the download ----
need_netns
MB=${MB:-20}
NC=qbm-c-$TAG
NS=qbm-s-$TAG
PORT=4433
SRV=198.18.9.1 CLI0=198.18.9.3 CLI1=198.18.9.13
for ns in "$NC" "$NS"; do new_netns "$ns"; done
VC=mc$$
VS=ms$$
ip link add "$VC" type veth peer name "$VS" || fail "ip link add veth"
CLEANUPS+=("ip link del $VC")
ip link set "$VC" netns "$NC" && ip link set "$VS" netns "$NS" || fail "moving the veths"
for side in "$NC:$VC" "$NS:$VS"; do
	ip netns exec "${side%%:*}" ethtool -K "${side##*:}" rx off tx off tso off gso off \
		>/dev/null 2>&1 || ip netns exec "${side%%:*}" ethtool -K "${side##*:}" \
		rx off tx off >/dev/null || fail "ethtool -K ${side##*:}"
	ip -n "${side%%:*}" link set "${side##*:}" up || fail "link ${side##*:} up"
done

mkdir -p "$WORK/www" "$WORK/dl"
head -c $((MB * 1000000)) /dev/urandom >"$WORK/www/bulk" || fail "making the file"
SUM=$(sha256sum <"$WORK/www/bulk" | cut -c1-64)

eal() { # NAME LCORES
	echo "$2 --no-huge -m 512 --no-pci --no-shconf --file-prefix=qbm-$1-$TAG"
}

if [ "${WORKERS:-1}" = 2 ]; then
	SL="--lcores=0@1,1@1,2@0" QP=2
else
	SL="-l1" QP=1
fi
# shellcheck disable=SC2046
ip netns exec "$NS" timeout -s KILL 150 "$QB" $(eal s "$SL") \
	--vdev=net_af_packet0,iface=$VS,qpairs=$QP -- --mode=server --ip=$SRV/24 --listen=$PORT \
	--multipath --pacer-burst=39 --www="$WORK/www" --stats-period=0 \
	--stats-json="$WORK/server.json" \
	>"$WORK/server.out" 2>"$WORK/server.err" &
SPID=$!
CLEANUPS+=("kill -KILL $SPID")
sleep 2
kill -0 $SPID 2>/dev/null || fail "qburst server did not start"

rc=0
start=$(date +%s.%N)
# shellcheck disable=SC2046
ip netns exec "$NC" timeout -s KILL 120 "$QB" $(eal c -l0) --vdev=net_af_packet0,iface=$VC \
	-- --mode=client --ip=$CLI0/24 --ip=$CLI1/24 --multipath --downloads="$WORK/dl" \
	--duration=90 --stats-period=0 --stats-json="$WORK/client.json" \
	"https://$SRV:$PORT/bulk" >"$WORK/client.out" 2>"$WORK/client.err" || rc=$?
end=$(date +%s.%N)
if [ "$rc" -ne 0 ]; then
	# The server's summary too, for the failure report.
	kill -INT "$SPID" 2>/dev/null
	sleep 3
	fail "qburst client exited $rc: $(grep 'client:' "$WORK/client.err" | tail -1)"
fi
[ -f "$WORK/dl/bulk" ] || fail "the file was not downloaded"
[ "$(sha256sum <"$WORK/dl/bulk" | cut -c1-64)" = "$SUM" ] || fail "the file differs (sha256)"
echo "mpath-xfer: $MB MB byte-exact on two paths in $(echo "$end - $start" | bc) s (client process)"

kill -INT "$SPID" 2>/dev/null
rc=0
wait "$SPID" || rc=$?
[ "$rc" -eq 0 ] || fail "qburst server exited $rc"
grep -A7 -- '--- summary' "$WORK/client.out"
grep -A7 -- '--- summary' "$WORK/server.out"

# "QUIC datagrams per path (in/out):  0: A/B  1: C/D ..." on both ends.
per_path() { # FILE -> "IN0 OUT0 IN1 OUT1"
	sed -n 's|.*per path (in/out):  0: \([0-9]*\)/\([0-9]*\)  1: \([0-9]*\)/\([0-9]*\).*|\1 \2 \3 \4|p' "$1"
}
read -r ci0 co0 ci1 co1 <<<"$(per_path "$WORK/client.out")"
read -r si0 so0 si1 so1 <<<"$(per_path "$WORK/server.out")"
echo "client path 0: in ${ci0:-?} out ${co0:-?}; path 1: in ${ci1:-?} out ${co1:-?}"
echo "server path 0: in ${si0:-?} out ${so0:-?}; path 1: in ${si1:-?} out ${so1:-?}"
for v in "${ci0:-0}" "${co0:-0}" "${ci1:-0}" "${co1:-0}" "${si0:-0}" "${so0:-0}" "${si1:-0}" "${so1:-0}"; do
	[ "$v" -gt 0 ] || fail "a path carried no datagrams one way (summary above)"
done
# Both paths carried a share of the file: together at least the datagrams it needs.
need=$((MB * 1000000 / 1452))
[ $((ci0 + ci1)) -ge "$need" ] || fail "client: $((ci0 + ci1)) datagrams in, expected >= $need"
python3 - "$WORK/client.json" "$WORK/server.json" <<'PY' || fail "client/server --stats-json"
import json, sys
c = json.load(open(sys.argv[1]))["quic"]
s = json.load(open(sys.argv[2]))["quic"]
assert c["connections"] == 1 and c["handshakes"] == 1 and c["streams"] == 1, c
assert s["connections"] == 1 and s["handshakes"] == 1, s
for q in (c, s):
    p = q["path_dgrams"]
    assert [e["path"] for e in p] == [0, 1, 2, 3], p
    assert all(e["in"] > 0 and e["out"] > 0 for e in p[:2]), p
    assert all(e["in"] == 0 and e["out"] == 0 for e in p[2:]), p
    assert q["paths_opened"] == 1 and q["paths_failed"] == 0, q
print("client quic:", c)
print("server quic:", s)
PY
check_json "$WORK/client.json" client 1
check_json "$WORK/server.json" server "${WORKERS:-1}"
for f in client server; do check_pools "$WORK/$f.err"; done
echo "PASS: mpath-xfer"
