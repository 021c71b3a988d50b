#!/usr/bin/env bash
# --mtu against the forward header of a relayed path (issue 5; BRIEF §2):
# a path whose MTU leaves less than 1200 bytes of QUIC behind the header
# (RFC 9000 §14.1) is refused with a one-line reason instead of a
# connection that can never send. On net_null (nothing answers):
#  - option checks (no EAL): --help lists --mtu; out of range or outside
#    server/client: one line naming it, exit 2;
#  - client --relay --mtu=1225 (1199 bytes behind a 26-byte IPv4 header):
#    exits 1 at once with the reason, nothing sent;
#  - client --relay --mtu=1226: the path is made and its Initials go out
#    (the job then times out: nobody answers);
#  - server --accept-relayed --mtu=1250: a warning that relayed IPv6 paths
#    (74-byte header) are refused.
# usage: relay_mtu.sh QBURST
. "$(dirname "$0")/../app/lib.sh"

out=$("$QB" --help) || fail "--help exited $?"
echo "$out" | grep -q -- "--mtu=BYTES" || fail "--help lacks --mtu"
U=https://198.18.0.1:4433/f
expect2 "--mtu=1199" --mode=client --ip=198.18.0.2 --mtu=1199 $U
expect2 "--mtu=1453" --mode=client --ip=198.18.0.2 --mtu=1453 $U
expect2 "--mtu=x" --mode=client --ip=198.18.0.2 --mtu=x $U
expect2 "--mtu: server and client only" --mode=sink --ip=198.18.0.2 --mtu=1300

CLI=(--mode=client --ip=198.18.0.2/24 --dst-mac=02:00:00:00:00:01 --relay=198.18.0.3:3478
	--stats-period=0 --alpn=hq-interop)

# 1199 bytes of QUIC: refused, at once, with the reason.
start=$(date +%s)
run small 20 -l 0 $(eal) --vdev=net_null0,no-rx=1 -- "${CLI[@]}" --mtu=1225 --duration=15 $U
[ "$RC" -eq 1 ] || fail "client --mtu=1225 --relay: exit $RC, want 1"
[ $(($(date +%s) - start)) -lt 10 ] || fail "client --mtu=1225 --relay: did not stop at once"
check_pools "$WORK/small.err"
last=$(grep "^qburst: client: " "$WORK/small.err" | tail -n 1)
case $last in
*"a UDP payload of 1225 bytes leaves 1199 for QUIC behind the relay's forward header, 1200 needed"*) ;;
*) fail "client --mtu=1225 --relay: reason '$last'" ;;
esac
grep -q "TX-packets: 0 " "$WORK/small.out" || fail "client --mtu=1225 --relay: something was sent"

# 1200 bytes of QUIC: the path works (its Initials go out to the relay).
run fits 20 -l 0 $(eal) --vdev=net_null0,no-rx=1 -- "${CLI[@]}" --mtu=1226 --duration=1 \
	--stats-json="$WORK/fits.json" $U
[ "$RC" -eq 1 ] || fail "client --mtu=1226 --relay: exit $RC, want 1 (timeout)"
grep -q "qburst: client: timeout" "$WORK/fits.err" || fail "client --mtu=1226 --relay: not a timeout"
check_json "$WORK/fits.json" client 1 "tx_pkts >= 1" "tx_bytes >= 14 + 20 + 8 + 1226"

# A relaying listener whose MTU cannot carry QUIC on relayed IPv6 paths says so.
run srv 20 -l 0 $(eal) --vdev=net_null0,no-rx=1 -- --mode=server --ip=198.18.0.1/24 \
	--listen=4433 --accept-relayed --mtu=1250 --duration=0.5 --stats-period=0
[ "$RC" -eq 0 ] || fail "server --accept-relayed --mtu=1250: exit $RC"
grep -q "warning: --mtu=1250 leaves 1176 bytes of QUIC behind the forward header of a relayed IPv6 path: such paths are refused" \
	"$WORK/srv.err" || fail "server: no warning"
echo "relay_mtu: ok"
