#!/usr/bin/env bash
# Set-up, build, then the main job on virtual ports (no NIC, no hugepages):
#
#   scripts/run.sh            the demo: a qburst server and a qburst client,
#                             each its own process on its own CPU, over a veth
#                             pair between two network namespaces
#                             (net_af_packet; 198.18.0.0/24 only inside them).
#                             The client fetches 1 KB, 5 MB and 10 MB files
#                             the script makes, in parallel on one connection
#                             (HTTP/3), with live statistics; the files are
#                             compared by sha256, the summary shows the
#                             goodput, the namespaces are deleted. Needs root.
#                             Extra arguments go to the client, e.g.
#                             --alpn=hq-interop or --cc=newreno.
#   scripts/run.sh udpgen [app options]
#                             the former job: udpgen for 10 s on net_null.
#
# QBURST_EAL overrides udpgen's EAL options. Ctrl-C stops and cleans up.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
[ -f build/build.ninja ] || meson setup build --buildtype=release
ninja -C build

QB=build/apps/qburst

if [ "${1:-}" = udpgen ]; then
	shift
	EAL=${QBURST_EAL:-"-l 0-1 --no-huge -m 1024 --no-pci --no-shconf --file-prefix=qburst-run-$$ --vdev=net_null0,no-rx=1"}
	# net_null answers nothing: the destination MAC is given, not resolved.
	# shellcheck disable=SC2086
	exec "$QB" $EAL -- --mode=udpgen --ip=198.18.0.1/24 --dst-ip=198.18.0.2 \
		--dst-mac=02:00:00:00:00:02 "$@"
fi

[ "$(id -u)" -eq 0 ] || {
	echo "run.sh: the demo needs root (network namespaces); scripts/run.sh udpgen does not" >&2
	exit 1
}
NS=qb-demo-srv-$$
NC=qb-demo-cli-$$
VS=qbds$$
VC=qbdc$$
WORK=$(mktemp -d /tmp/qburst-demo-XXXXXX)
SPID=
cleanup() {
	[ -n "$SPID" ] && kill -KILL "$SPID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	ip netns del "$NC" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS"
ip netns add "$NC"
ip link add "$VS" type veth peer name "$VC"
ip link set "$VS" netns "$NS"
ip link set "$VC" netns "$NC"
for pair in "$NS:$VS" "$NC:$VC"; do
	ns=${pair%%:*}
	v=${pair##*:}
	ip -n "$ns" link set lo up
	ip netns exec "$ns" ethtool -K "$v" rx off tx off tso off gso off >/dev/null 2>&1 || true
	ip -n "$ns" link set "$v" up
done

mkdir -p "$WORK/www" "$WORK/downloads"
head -c 1024 /dev/urandom >"$WORK/www/1KB"
head -c 5000000 /dev/urandom >"$WORK/www/5MB"
head -c 10000000 /dev/urandom >"$WORK/www/10MB"
eal() { # LCORE NAME IFACE
	echo "-l $1 --no-huge -m 512 --no-pci --no-shconf --file-prefix=qb-demo-$2-$$ --vdev=net_af_packet0,iface=$3 --log-level=lib.eal:warning"
}

echo "== qburst server on 198.18.0.1:4433 (CPU 0), serving $WORK/www"
# shellcheck disable=SC2046
ip netns exec "$NS" timeout -s KILL 120 "$QB" $(eal 0 srv "$VS") -- --mode=server \
	--ip=198.18.0.1/24 --listen=4433 --www="$WORK/www" --stats-period=0 \
	>"$WORK/server.out" 2>"$WORK/server.err" &
SPID=$!
sleep 1.5
kill -0 "$SPID" 2>/dev/null || {
	cat "$WORK/server.err" >&2
	exit 1
}

echo "== qburst client on 198.18.0.2 (CPU 1): 1KB, 5MB, 10MB in parallel"
rc=0
# shellcheck disable=SC2046
ip netns exec "$NC" timeout -s KILL 60 "$QB" $(eal 1 cli "$VC") -- --mode=client \
	--ip=198.18.0.2/24 --downloads="$WORK/downloads" --stats-period=0.1 "$@" \
	https://198.18.0.1:4433/1KB https://198.18.0.1:4433/5MB https://198.18.0.1:4433/10MB ||
	rc=$?
kill -INT "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null || true
SPID=
echo "== server"
grep -A8 -- '--- summary' "$WORK/server.out" || cat "$WORK/server.err"
[ "$rc" -eq 0 ] || {
	echo "== client failed (exit $rc)"
	exit "$rc"
}
for f in 1KB 5MB 10MB; do
	a=$(sha256sum <"$WORK/www/$f" | cut -c1-64)
	b=$(sha256sum <"$WORK/downloads/$f" | cut -c1-64)
	[ "$a" = "$b" ] || {
		echo "== $f differs"
		exit 1
	}
	echo "== $f: sha256 $a equal"
done
echo "== demo done"
