#!/usr/bin/env bash
# A qburst client downloads a file from a qburst server through a qburst
# --mode=relay that forwards by forward header (BRIEF §2; issue 5, items 2
# and 5). Three namespaces (client, relay, server), each with one end of a
# veth pair whose other end is on a bridge in a fourth namespace
# (198.18.8.0/24 only inside them; offloads off, as net_af_packet needs).
#   client 198.18.8.3  --relay=198.18.8.2:4433 (its MAC by ARP, answered by
#                      the relay), one lcore on CPU 0
#   relay  198.18.8.2  --mode=relay --listen=4433, the two others as --neigh,
#                      one lcore on CPU 0
#   server 198.18.8.1  --accept-relayed --listen=4433, two workers on lcores
#                      mapped onto the two CPUs (BRIEF §9), so relayed
#                      datagrams landing on the other worker's queue are
#                      handed over after their header is stripped
# The client never addresses the server: every datagram of the connection,
# both ways, goes through the relay with a forward header. Checks: the file
# (MB megabytes, default 50) arrives byte-exact (sha256) within the client's
# deadline; client and server received their QUIC datagrams through the
# relay and from no other path; the relay relayed at least as many
# datagrams as the file needs; no relay drops; every pool full at exit.
# With FAMILY 6, the same over IPv6 (2001:db8:8::/64; the relay's MAC by
# Neighbor Discovery; 74-byte forward headers).
# usage: relay_xfer.sh QBURST [4|6]   env: MB (50)
. "$(dirname "$0")/../app/lib.sh"

need_netns
MB=${MB:-50}
NC=qbx-c-$TAG
NR=qbx-r-$TAG
NS=qbx-s-$TAG
NW=qbx-w-$TAG
PORT=4433
if [ "${CASE:-4}" = 6 ]; then
	CLI=2001:db8:8::3 RLY=2001:db8:8::2 SRV=2001:db8:8::1 PFX=64
	RLY_EP="[$RLY]:$PORT" URL="https://[$SRV]:$PORT/bulk"
else
	CLI=198.18.8.3 RLY=198.18.8.2 SRV=198.18.8.1 PFX=24
	RLY_EP="$RLY:$PORT" URL="https://$SRV:$PORT/bulk"
fi

for ns in "$NC" "$NR" "$NS" "$NW"; do new_netns "$ns"; done
ip -n "$NW" link add br0 type bridge || fail "bridge"
ip -n "$NW" link set br0 up || fail "bridge up"
for who in c r s; do
	case $who in c) ns=$NC ;; r) ns=$NR ;; s) ns=$NS ;; esac
	v=x$who$$
	ip link add "$v" type veth peer name "${v}b" || fail "ip link add veth $v"
	CLEANUPS+=("ip link del $v")
	ip link set "$v" netns "$ns" && ip link set "${v}b" netns "$NW" || fail "moving $v"
	ip -n "$NW" link set "${v}b" master br0 || fail "$v on the bridge"
	for side in "$ns:$v" "$NW:${v}b"; do
		ip netns exec "${side%%:*}" ethtool -K "${side##*:}" rx off tx off tso off gso off \
			>/dev/null 2>&1 || ip netns exec "${side%%:*}" ethtool -K "${side##*:}" \
			rx off tx off >/dev/null || fail "ethtool -K ${side##*:}"
		ip -n "${side%%:*}" link set "${side##*:}" up || fail "link ${side##*:} up"
	done
done
VC=xc$$
VR=xr$$
VS=xs$$
mac() { ip -n "$1" link show "$2" | awk '/ether/ { print $2 }'; }
mac_c=$(mac "$NC" "$VC")
mac_s=$(mac "$NS" "$VS")

mkdir -p "$WORK/www" "$WORK/dl"
head -c $((MB * 1000000)) /dev/urandom >"$WORK/www/bulk" || fail "making the file"
SUM=$(sha256sum <"$WORK/www/bulk" | cut -c1-64)

eal() { # NAME LCORES [VDEV ARGS]
	echo "$2 --no-huge -m 512 --no-pci --no-shconf --file-prefix=qbx-$1-$TAG"
}

# shellcheck disable=SC2046
ip netns exec "$NS" timeout -s KILL 150 "$QB" $(eal s --lcores=0@1,1@1,2@0) \
	--vdev=net_af_packet0,iface=$VS,qpairs=2 -- --mode=server --ip=$SRV/$PFX --listen=$PORT \
	--accept-relayed --www="$WORK/www" --stats-period=0 --stats-json="$WORK/server.json" \
	>"$WORK/server.out" 2>"$WORK/server.err" &
SPID=$!
CLEANUPS+=("kill -KILL $SPID")
# shellcheck disable=SC2046
ip netns exec "$NR" timeout -s KILL 150 "$QB" $(eal r -l0) --vdev=net_af_packet0,iface=$VR \
	-- --mode=relay --ip=$RLY/$PFX --listen=$PORT --neigh=$CLI,"$mac_c" --neigh=$SRV,"$mac_s" \
	--stats-period=0 --stats-json="$WORK/relay.json" >"$WORK/relay.out" 2>"$WORK/relay.err" &
RPID=$!
CLEANUPS+=("kill -KILL $RPID")
sleep 2
kill -0 $SPID 2>/dev/null || fail "qburst server did not start"
kill -0 $RPID 2>/dev/null || fail "qburst relay did not start"

rc=0
start=$(date +%s.%N)
# shellcheck disable=SC2046
ip netns exec "$NC" timeout -s KILL 120 "$QB" $(eal c -l0) --vdev=net_af_packet0,iface=$VC \
	-- --mode=client --ip=$CLI/$PFX --relay="$RLY_EP" --downloads="$WORK/dl" --duration=90 \
	--stats-period=0 --stats-json="$WORK/client.json" "$URL" \
	>"$WORK/client.out" 2>"$WORK/client.err" || rc=$?
end=$(date +%s.%N)
[ "$rc" -eq 0 ] || fail "qburst client exited $rc: $(grep 'client:' "$WORK/client.err" | tail -1)"
[ -f "$WORK/dl/bulk" ] || fail "the file was not downloaded"
[ "$(sha256sum <"$WORK/dl/bulk" | cut -c1-64)" = "$SUM" ] || fail "the file differs (sha256)"
echo "relay-xfer (IPv${CASE:-4}): $MB MB byte-exact through the relay in $(echo "$end - $start" | bc) s (client process)"

for p in $SPID $RPID; do kill -INT "$p" 2>/dev/null; done
for p in $SPID $RPID; do
	rc=0
	wait "$p" || rc=$?
	[ "$rc" -eq 0 ] || fail "qburst server or relay exited $rc"
done
grep -A6 -- '--- summary' "$WORK/client.out"
grep -A6 -- '--- summary' "$WORK/relay.out"
grep -A7 -- "--- summary" "$WORK/server.out"

# Every QUIC datagram both ends received came through the relay.
relayed_in() { # FILE -> "IN OTHER"
	sed -n 's/.*QUIC datagrams in through a relay: \([0-9]*\)  from another path: \([0-9]*\).*/\1 \2/p' "$1"
}
read -r c_in c_other <<<"$(relayed_in "$WORK/client.out")"
read -r s_in s_other <<<"$(relayed_in "$WORK/server.out")"
echo "client: $c_in datagrams in through the relay, $c_other from another path"
echo "server: $s_in datagrams in through the relay, $s_other from another path"
# The file needs at least MB * 1e6 / 1452 datagrams to the client (at most
# 1452 bytes of UDP payload each, headers included).
need=$((MB * 1000000 / 1452))
[ "${c_in:-0}" -ge "$need" ] || fail "client: ${c_in:-none} relayed datagrams in, expected >= $need"
[ "${s_in:-0}" -gt 0 ] || fail "server: no datagram came through the relay"
[ "${c_other:-1}" -eq 0 ] && [ "${s_other:-1}" -eq 0 ] || fail "datagrams from another path than the relay"
relayed=$(sed -n 's/.*Relayed: \([0-9]*\) .*/\1/p' "$WORK/relay.out")
[ "${relayed:-0}" -ge $((c_in + s_in)) ] ||
	fail "relay: relayed ${relayed:-none}, fewer than the $((c_in + s_in)) datagrams delivered"
check_json "$WORK/relay.json" relay 1 "drops['fwd_not_ours'] + drops['fwd_bad'] + drops['relay_no_neigh'] == 0" \
	"drops['relay_no_headroom'] + drops['ring_full'] == 0"
python3 - "$WORK/client.json" "$WORK/server.json" <<'PY' || fail "client/server --stats-json"
import json, sys
c = json.load(open(sys.argv[1]))["quic"]
s = json.load(open(sys.argv[2]))["quic"]
assert c["connections"] == 1 and c["handshakes"] == 1 and c["streams"] == 1, c
assert s["connections"] == 1 and s["handshakes"] == 1, s
print("client quic:", c)
PY
for f in client relay server; do check_pools "$WORK/$f.err"; done
echo "PASS: relay-xfer (IPv${CASE:-4})"
