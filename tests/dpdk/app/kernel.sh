#!/usr/bin/env bash
# udpgen and sink against the Linux kernel in network namespaces this test
# creates (198.18.0.0/15 addresses only inside them, deleted afterwards).
#  tap:      qburst runs inside namespace A on net_tap; the tap's kernel side
#            is in A too, with the receiving socket (offload path: net_tap
#            advertises checksum offload and fills the sums itself).
#  tap6:     the same over IPv6.
#  afpacket: qburst in A on net_af_packet over a veth pair, the kernel socket
#            in B (software checksums: net_af_packet has no offload).
#  afpacket6: the same over IPv6 (neighbour discovery, software checksums).
#  neigh:    the same with a static --neigh and no ARP at all (1 ms timeout).
#  gateway:  a destination outside --ip's prefix (on B's loopback), reached
#            through --gateway, the gateway's MAC by ARP.
#  sink:     qburst --mode=sink in A over the veth pair; the kernel in B sends
#            datagrams to it, so the sink must answer ARP first.
#  sink6:    the same over IPv6 (neighbour solicitation answered).
# Next hops are resolved by ARP/ND (no --dst-mac). Checksums are verified
# twice: the kernel drops bad UDP checksums (rx checksumming is turned off
# on the receiving veth so the kernel really checks), and tcpdump -vv must
# report "udp sum ok" for every captured datagram.
# usage: kernel.sh QBURST tap|tap6|afpacket|afpacket6|neigh|gateway|sink|sink6
. "$(dirname "$0")/lib.sh"

need_netns
NA=qbt-a-$TAG
NB=qbt-b-$TAG
J=$WORK/stats.json
PORT=9999
SIZE=200

# veth pair: VA in A (qburst), VB in B (kernel) with checksum offloads off
# so the kernel verifies what it receives and sends plain frames.
veth_pair() { # V4ADDR V6ADDR
	VA=qa$$
	VB=qb$$
	new_netns "$NA"
	new_netns "$NB"
	ip link add "$VA" type veth peer name "$VB" || fail "ip link add veth"
	CLEANUPS+=("ip link del $VA")
	ip link set "$VA" netns "$NA" && ip link set "$VB" netns "$NB" || fail "moving veths"
	ip -n "$NB" addr add "$1" dev "$VB" || fail "address on $VB"
	ip -n "$NB" addr add "$2" dev "$VB" nodad || fail "address on $VB"
	ip netns exec "$NB" ethtool -K "$VB" rx off tx off >/dev/null || fail "ethtool -K $VB rx off tx off"
	ip netns exec "$NB" ethtool -K "$VB" tx-udp-segmentation off >/dev/null 2>&1 || true
	ip netns exec "$NA" ethtool -K "$VA" rx off tx off >/dev/null || fail "ethtool -K $VA"
	ip -n "$NA" link set "$VA" up && ip -n "$NB" link set "$VB" up || fail "links up"
}

# Checks the receiver's count against what qburst sent.
check_received() { # TX_PKTS
	python3 - "$WORK/recv.json" "$1" <<'PY' || fail "receiver: $(cat "$WORK/recv.json")"
import json, sys
r = json.load(open(sys.argv[1])); tx = int(sys.argv[2])
print(f"kernel socket: {r['good']} datagrams with udpgen's payload of {tx} sent, {r['bad']} other, {r['sports']} source ports")
assert r["good"] > 0 and r["bad"] == 0
assert r["good"] >= 0.9 * tx, "too many datagrams lost"
assert r["sports"] == 4
PY
}

tx_pkts() {
	python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['ports'][0]['tx_pkts'])" "$J"
}

udpgen_args="--mode=udpgen --dst-port=$PORT --flows=4 --pkt-size=$SIZE --rate=2000 --duration=2 --stats-period=0.5 --stats-json=$J"

case $CASE in
tap | tap6)
	[ -c /dev/net/tun ] || fail "needs /dev/net/tun (net_tap)"
	TAP=qbtap$$
	new_netns "$NA"
	if [ "$CASE" = tap6 ]; then
		ip_args="--ip=2001:db8:2::2/64 --dst-ip=2001:db8:2::1"
		peer=2001:db8:2::1/64
		start_receiver "$NA" $PORT $((SIZE - 62))
	else
		ip_args="--ip=198.18.2.2/24 --dst-ip=198.18.2.1"
		peer=198.18.2.1/24
		start_receiver "$NA" $PORT $((SIZE - 42))
	fi
	# shellcheck disable=SC2046,SC2086
	ip netns exec "$NA" timeout -s KILL 30 "$QB" -l 0-1 $(eal) --vdev=net_tap0,iface=$TAP -- \
		$ip_args --arp-timeout=15000 $udpgen_args >"$WORK/qb.out" 2>"$WORK/qb.err" &
	QBPID=$!
	CLEANUPS+=("kill $QBPID")
	# EAL creates the tap: give its kernel side the peer's address while
	# udpgen keeps asking for the peer's MAC (--arp-timeout).
	for i in $(seq 100); do ip -n "$NA" link show "$TAP" >/dev/null 2>&1 && break; sleep 0.1; done
	ip -n "$NA" addr add $peer dev "$TAP" nodad || fail "no tap $TAP in $NA: $(cat "$WORK/qb.err")"
	ip -n "$NA" link set "$TAP" up
	start_capture "$NA" "$TAP" $PORT 20
	rc=0
	wait $QBPID || rc=$?
	[ "$rc" -eq 0 ] || fail "qburst exited $rc"
	grep -q 'offloaded checksums' "$WORK/qb.err" || fail "net_tap did not take the offload path"
	;;
afpacket | afpacket6 | neigh | gateway)
	veth_pair 198.18.3.1/24 2001:db8:3::1/64
	case $CASE in
	afpacket6)
		ip_args="--ip=2001:db8:3::2/64 --dst-ip=2001:db8:3::1"
		;;
	neigh)
		mac=$(ip -n "$NB" link show "$VB" | awk '/ether/ { print $2 }')
		ip_args="--ip=198.18.3.2/24 --dst-ip=198.18.3.1 --neigh=198.18.3.1,$mac --arp-timeout=1"
		;;
	gateway)
		ip -n "$NB" addr add 198.19.0.7/32 dev lo || fail "address on lo"
		ip_args="--ip=198.18.3.2/24 --dst-ip=198.19.0.7 --gateway=198.18.3.1"
		;;
	*)
		ip_args="--ip=198.18.3.2/24 --dst-ip=198.18.3.1"
		;;
	esac
	if [ "$CASE" = afpacket6 ]; then
		start_receiver "$NB" $PORT $((SIZE - 62))
	else
		start_receiver "$NB" $PORT $((SIZE - 42))
	fi
	start_capture "$NB" "$VB" $PORT 20
	# shellcheck disable=SC2046,SC2086
	ip netns exec "$NA" timeout -s KILL 30 "$QB" -l 0-1 $(eal) --vdev=net_af_packet0,iface=$VA -- \
		$ip_args $udpgen_args >"$WORK/qb.out" 2>"$WORK/qb.err"
	rc=$?
	[ "$rc" -eq 0 ] || fail "qburst exited $rc"
	grep -q 'software checksums' "$WORK/qb.err" || fail "net_af_packet did not take the software path"
	;;
sink | sink6)
	veth_pair 198.18.4.1/24 2001:db8:4::1/64
	if [ "$CASE" = sink6 ]; then
		me=2001:db8:4::2
		ip_args="--ip=$me/64"
		family=AF_INET6
		frame=162
	else
		me=198.18.4.2
		ip_args="--ip=$me/24"
		family=AF_INET
		frame=142
	fi
	# shellcheck disable=SC2046,SC2086
	ip netns exec "$NA" timeout -s KILL 30 "$QB" -l 0-1 $(eal) --vdev=net_af_packet0,iface=$VA -- \
		--mode=sink $ip_args --duration=4 --stats-json="$J" \
		>"$WORK/qb.out" 2>"$WORK/qb.err" &
	QBPID=$!
	CLEANUPS+=("kill $QBPID")
	sleep 1.5
	# The kernel must resolve the sink's address by ARP or neighbour
	# solicitation: the sink answers it.
	ip netns exec "$NB" python3 -c '
import socket, sys, time
s = socket.socket(getattr(socket, sys.argv[1]), socket.SOCK_DGRAM)
for i in range(200):
    s.sendto(b"x" * 100, (sys.argv[2], 9999))
    time.sleep(0.002)
' $family $me || fail "kernel could not send (ARP/ND unanswered?)"
	rc=0
	wait $QBPID || rc=$?
	[ "$rc" -eq 0 ] || fail "qburst sink exited $rc"
	ip -n "$NB" neigh show $me | grep -qi "$(ip -n "$NA" link show "$VA" | awk '/ether/ {print $2}')" ||
		fail "kernel did not learn the sink's MAC: $(ip -n "$NB" neigh show)"
	# 200 datagrams, the ARP request(s) or solicitation(s) and maybe IPv6
	# noise from the kernel; one reply (or more) sent.
	check_json "$J" sink 1 "rx_pkts >= 201" "tx_pkts >= 1" "rx_bytes >= 200 * $frame"
	check_pools "$WORK/qb.err"
	echo "PASS: kernel $CASE"
	exit 0
	;;
*)
	fail "unknown case $CASE"
	;;
esac

check_json "$J" udpgen 1 "0.9 * 2000 * duration_s - 50 <= tx_pkts <= 2000 * duration_s + 50" "0 <= $SIZE * tx_pkts - tx_bytes <= 4 * ($SIZE - 60)"
check_pools "$WORK/qb.err"
wait "$RECV_PID" || fail "receiver failed: $(cat "$WORK/recv.err")"
check_received "$(tx_pkts)"
check_capture
errs=$(udp_csum_errors "$(case $CASE in tap*) echo "$NA" ;; *) echo "$NB" ;; esac)")
[ "$errs" = 0 ] || fail "the kernel counted $errs UDP checksum errors"
echo "PASS: kernel $CASE"
