#!/usr/bin/env bash
# --mode=relay's options, and the client's --relay and the server's
# --accept-relayed: --help lists them; bad or missing values print one
# line naming the option and exit 2 before EAL starts.
# usage: relay_cli.sh QBURST
. "$(dirname "$0")/../app/lib.sh"

out=$("$QB" --help) || fail "--help exited $?"
echo "$out" | grep -q -- "--mode=udpgen|sink|relay" || fail "--help lacks relay"
echo "$out" | grep -q -- "--listen=PORT" || fail "--help lacks --listen"
echo "$out" | grep -q -- "--relay=IP:PORT" || fail "--help lacks --relay"
echo "$out" | grep -q -- "--accept-relayed" || fail "--help lacks --accept-relayed"

expect2 "--listen: missing" --mode=relay --ip=198.18.0.1
expect2 "--listen=0: not a port" --mode=relay --ip=198.18.0.1 --listen=0
expect2 "--listen=70000: not a port" --mode=relay --ip=198.18.0.1 --listen=70000
expect2 "--listen=x: not a port" --mode=relay --ip=198.18.0.1 --listen=x
expect2 "--ip: missing" --mode=relay --listen=4433
expect2 "--mode=relai: unknown mode (udpgen, sink, relay, server or client)" --mode=relai
U=https://198.18.0.1:4433/f
C="--mode=client --ip=198.18.0.2"
# shellcheck disable=SC2086
{
	expect2 "--relay=198.18.0.3: expected IP:PORT" $C --relay=198.18.0.3 $U
	expect2 "--relay=198.18.0.3:0: expected IP:PORT" $C --relay=198.18.0.3:0 $U
	expect2 "--relay=198.18.0.3:4433/x: expected IP:PORT" $C --relay=198.18.0.3:4433/x $U
	expect2 "--relay=[2001:db8::1]: expected IP:PORT" $C --relay=[2001:db8::1] $U
	expect2 "--relay: not of the URLs' address family" $C --ip=2001:db8::2 \
		--relay=[2001:db8::1]:4433 $U
	expect2 "--relay: only the client" --mode=server --ip=198.18.0.1 --listen=4433 \
		--relay=198.18.0.3:4433
	expect2 "--accept-relayed: server only" $C --accept-relayed $U
	expect2 "--accept-relayed: takes no value" --mode=server --ip=198.18.0.1 --listen=4433 \
		--accept-relayed=1
}
echo "PASS: relay cli"
