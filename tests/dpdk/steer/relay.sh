#!/usr/bin/env bash
# qburst --mode=relay over a veth pair between two namespaces this test
# creates (198.18.6.0/24 only inside them). qburst in A relays on
# 198.18.6.2:4433 (net_af_packet, two workers on lcores mapped onto the two
# CPUs, BRIEF §9); the kernel in B sends datagrams carrying a forward header
# (BRIEF §2) whose destination is relayed through 198.18.6.2:4433 with the
# outer endpoint 198.18.6.1:7000 (back in B). A socket in B on port 7000
# must receive every one byte for byte, from 198.18.6.2:4433. A STUN
# binding request, a spin-bit short header and a forwarded datagram for
# someone else are sent too: dropped and counted, not relayed.
# usage: relay.sh QBURST
. "$(dirname "$0")/../app/lib.sh"

need_netns
NA=qbr-a-$TAG
NB=qbr-b-$TAG
VA=ra$$
VB=rb$$
J=$WORK/stats.json
N=50

new_netns "$NA"
new_netns "$NB"
ip link add "$VA" type veth peer name "$VB" || fail "ip link add veth"
CLEANUPS+=("ip link del $VA")
ip link set "$VA" netns "$NA" && ip link set "$VB" netns "$NB" || fail "moving veths"
ip -n "$NB" addr add 198.18.6.1/24 dev "$VB" || fail "address on $VB"
ip netns exec "$NB" ethtool -K "$VB" rx off tx off >/dev/null || fail "ethtool -K $VB"
ip netns exec "$NA" ethtool -K "$VA" rx off tx off >/dev/null || fail "ethtool -K $VA"
ip -n "$NA" link set "$VA" up && ip -n "$NB" link set "$VB" up || fail "links up"
mac_b=$(ip -n "$NB" link show "$VB" | awk '/ether/ { print $2 }')

# shellcheck disable=SC2046
ip netns exec "$NA" timeout -s KILL 40 "$QB" --lcores=0@0,1@1,2@0 $(eal) \
	--vdev=net_af_packet0,iface=$VA,qpairs=2 -- --mode=relay --ip=198.18.6.2/24 --listen=4433 \
	--neigh=198.18.6.1,"$mac_b" --duration=6 --stats-period=1 --stats-json="$J" \
	>"$WORK/qb.out" 2>"$WORK/qb.err" &
QBPID=$!
CLEANUPS+=("kill $QBPID")
sleep 2

ip netns exec "$NB" timeout 20 python3 - "$N" >"$WORK/py.out" 2>"$WORK/py.err" <<'PY' || fail "sender/receiver: $(cat "$WORK/py.err")"
import socket, struct, sys, time
n = int(sys.argv[1])
ip = lambda s: socket.inet_aton(s)
def fwd(first, payload, dst_relay=("198.18.6.2", 4433), outer=("198.18.6.1", 7000)):
    # byte0 0x60 | first & 0x1f; byte1 version 0 | 0x08 | dst relayed (0x01);
    # source direct, destination relay then outer (BRIEF §2): 20 bytes.
    h = bytes([0x60 | (first & 0x1f), 0x08 | 0x01])
    h += struct.pack("!H", 5000) + ip("198.18.6.1")
    h += struct.pack("!H", dst_relay[1]) + ip(dst_relay[0])
    h += struct.pack("!H", outer[1]) + ip(outer[0])
    return h + bytes([first]) + payload
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind(("198.18.6.1", 7000))
rx.settimeout(3)
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.bind(("198.18.6.1", 5000))
sent = []
for i in range(n):
    d = fwd(0x40 | (i & 0x1f), bytes((i * 31 + k) & 0xff for k in range(20 + 17 * i)))
    sent.append(d)
    tx.sendto(d, ("198.18.6.2", 4433))
    time.sleep(0.005)
# Not to be relayed: STUN, a spin-bit short header, a forwarded datagram
# relayed through somebody else.
tx.sendto(bytes([0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42]) + bytes(12), ("198.18.6.2", 4433))
tx.sendto(bytes([0x61]) + bytes(range(40)), ("198.18.6.2", 4433))
tx.sendto(fwd(0x41, bytes(30), dst_relay=("198.18.6.9", 4433)), ("198.18.6.2", 4433))
got = []
try:
    while len(got) < n + 3:
        data, addr = rx.recvfrom(65535)
        assert addr == ("198.18.6.2", 4433), addr
        got.append(data)
except socket.timeout:
    pass
assert len(got) == n, f"received {len(got)} of {n}"
assert sorted(got) == sorted(sent), "relayed bytes differ"
print(f"relay: {n} forwarded datagrams received byte for byte from 198.18.6.2:4433")
PY
cat "$WORK/py.out"
rc=0
wait $QBPID || rc=$?
[ "$rc" -eq 0 ] || fail "qburst relay exited $rc"
grep -q "Relayed: $N " "$WORK/qb.out" || fail "summary does not say Relayed: $N"
# Two workers; N relayed plus ARP answers sent; the three others dropped.
check_json "$J" relay 2 "tx_pkts >= $N" "drops['stun'] == 1" "drops['fwd_not_ours'] == 1" \
	"drops['not_listening'] + drops['reset_disabled'] == 1" "drops['ring_full'] == 0"
check_pools "$WORK/qb.err"
echo "PASS: relay"
