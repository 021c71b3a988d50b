#!/usr/bin/env bash
# Interop of qburst (net_af_packet on a veth pair between two network
# namespaces this test creates; 198.18.7.0/24 only inside them) with itself
# and with Debian's ngtcp2 0.12 (gtlsserver/gtlsclient, HTTP/3 only).
# Files of 1 KB, 5 MB and 10 MB are fetched in parallel on one connection
# and compared by hash. Every process is bounded in time; the namespaces
# are deleted on exit.
# usage: interop.sh QBURST CASE
#   qq-h3 | qq-hq         qburst client <-> qburst server (ALPN h3 / hq-interop)
#   qq-h3-workers         the same with two workers on each side
#   qq-errors             404 (h3, hq-interop) and timeout: exit 1 with the reason
#   qclient-ngtcp2        qburst client downloads from gtlsserver
#   ngtcp2-qserver        gtlsclient downloads from the qburst server
#   *-loss                the same with ngtcp2's loss injection at 5% each way
#   *-chacha              the same with ngtcp2 restricted to ChaCha20-Poly1305
#   *-tap                 qburst on net_tap (checksum offload path), the tap's
#                         kernel side being ngtcp2's interface, in one namespace
#   *-capture             the same, captured by tcpdump and decoded by tshark with
#                         the key log: ServerHello's suite, HTTP/3 frames seen, no
#                         malformed packet
# CAPTURE=DIR keeps a pcap and the key log of the run in DIR.
set -u

QB=${1:?usage: $0 QBURST CASE}
CASE=${2:?usage: $0 QBURST CASE}
TAG="$(echo "$CASE" | tr -dc 'a-z0-9' | cut -c1-5)$$"
WORK=$(mktemp -d /tmp/qbt-interop-XXXXXX)
NS=qbi-s-$TAG
NC=qbi-c-$TAG
VS=is$$
VC=ic$$
SRV=198.18.7.1
CLI=198.18.7.2
PORT=4433
FILES="1KB 5MB 10MB"
CLEANUPS=()

cleanup() {
	local i
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${CLEANUPS[$i]}" >/dev/null 2>&1; done
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $CASE: $*" >&2
	for f in "$WORK"/*.out "$WORK"/*.err; do
		[ -s "$f" ] && { echo "--- $f"; tail -25 "$f"; } >&2
	done
	exit 1
}

[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces)"
command -v ip >/dev/null || fail "needs iproute2 (ip)"
command -v ethtool >/dev/null || fail "needs ethtool"
ip netns add "$NS" 2>/dev/null || fail "cannot create a network namespace (ip netns add)"
CLEANUPS+=("ip netns del $NS")
ip netns add "$NC" || fail "ip netns add $NC"
CLEANUPS+=("ip netns del $NC")
ip link add "$VS" type veth peer name "$VC" || fail "cannot create a veth pair"
CLEANUPS+=("ip link del $VS")
ip link set "$VS" netns "$NS" && ip link set "$VC" netns "$NC" || fail "moving the veths"
for pair in "$NS:$VS" "$NC:$VC"; do
	ns=${pair%%:*}
	v=${pair##*:}
	ip -n "$ns" link set lo up
	# No checksum or segmentation offload: af_packet frames and the
	# kernel's own are complete on the wire (BRIEF §5).
	ip netns exec "$ns" ethtool -K "$v" rx off tx off tso off gso off tx-udp-segmentation off \
		>/dev/null 2>&1 || ip netns exec "$ns" ethtool -K "$v" rx off tx off >/dev/null ||
		fail "ethtool -K $v"
	ip -n "$ns" link set "$v" up || fail "link $v up"
done

mkdir -p "$WORK/www" "$WORK/dl" "$WORK/qlog-s" "$WORK/qlog-c"
echo secret >"$WORK/interop.secret"
head -c 1024 /dev/urandom >"$WORK/www/1KB"
head -c 5000000 /dev/urandom >"$WORK/www/5MB"
head -c 10000000 /dev/urandom >"$WORK/www/10MB"
urls() {
	local f
	for f in $FILES; do echo "https://$SRV:$PORT/$f"; done
}

eal() { # LCORE NAME IFACE
	case "$CASE" in
	*-workers) # two workers per side, lcores mapped onto the two CPUs (BRIEF §9)
		echo "--lcores=0@$1,1@$((1 - $1)),2@$1 --no-huge -m 512 --no-pci --no-shconf --file-prefix=qbi-$2-$TAG --vdev=net_af_packet0,iface=$3,qpairs=2" ;;
	*)
		echo "-l $1 --no-huge -m 512 --no-pci --no-shconf --file-prefix=qbi-$2-$TAG --vdev=net_af_packet0,iface=$3" ;;
	esac
}

KEYLOG=$WORK/keys.log
case "$CASE" in *-capture)
	command -v tshark >/dev/null || fail "needs tshark"
	command -v tcpdump >/dev/null || fail "needs tcpdump"
	CAPTURE=$WORK/cap
	;;
esac
if [ -n "${CAPTURE:-}" ]; then
	mkdir -p "$CAPTURE"
	KEYLOG=$CAPTURE/keys.log
	: >"$KEYLOG"
	# On the side that is not qburst: net_af_packet bypasses the qdisc
	# layer, so its own frames only show up where they are received.
	capns=$NC capif=$VC
	case "$CASE" in qclient-*) capns=$NS capif=$VS ;; esac
	ip netns exec "$capns" timeout 60 tcpdump -n -i "$capif" -w "$CAPTURE/$CASE.pcap" udp \
		>/dev/null 2>"$WORK/tcpdump.err" &
	CAP_PID=$!
	CLEANUPS+=("kill -INT $CAP_PID")
	sleep 1
fi

start_qserver() {
	# shellcheck disable=SC2046
	ip netns exec "$NS" timeout -s KILL 60 "$QB" $(eal 0 s "$VS") -- --mode=server \
		--ip=$SRV/24 --listen=$PORT --www="$WORK/www" --keylog="$KEYLOG" --duration=50 \
		--qlog-dir="$WORK/qlog-s" \
		--stats-period=0 --stats-json="$WORK/server.json" >"$WORK/server.out" 2>"$WORK/server.err" &
	SPID=$!
	CLEANUPS+=("kill -KILL $SPID")
	sleep 1.5
	kill -0 $SPID 2>/dev/null || fail "qburst server did not start"
}

stop_server() {
	kill -INT "$SPID" 2>/dev/null
	local rc=0
	wait "$SPID" || rc=$?
	[ "$rc" -eq 0 ] || fail "qburst server exited $rc"
}

run_qclient() { # ALPN
	local rc=0
	# shellcheck disable=SC2046
	ip netns exec "$NC" timeout -s KILL 45 "$QB" $(eal 1 c "$VC") -- --mode=client \
		--ip=$CLI/24 --downloads="$WORK/dl" --alpn="$1" --keylog="$KEYLOG" --duration=30 \
		--qlog-dir="$WORK/qlog-c" "${CLIENT_ARGS[@]}" \
		--stats-period=1 --stats-json="$WORK/client.json" $(urls) \
		>"$WORK/client.out" 2>"$WORK/client.err" || rc=$?
	[ "$rc" -eq 0 ] || fail "qburst client exited $rc: $(grep 'client:' "$WORK/client.err" | tail -1)"
	grep -A8 -- '--- summary' "$WORK/client.out"
	python3 - "$WORK/client.json" <<'PY' || fail "client --stats-json: $(cat "$WORK/client.json")"
import json, sys
j = json.load(open(sys.argv[1]))
q = j["quic"]
assert j["mode"] == "client", j["mode"]
assert set(q) == {"connections", "handshakes", "streams", "goodput_bps", "retransmits", "srtt_us"}, q
assert q["connections"] == 1 and q["handshakes"] == 1 and q["streams"] == 3, q
assert q["goodput_bps"] > 0 and q["srtt_us"] > 0, q
print("client JSON quic:", q)
PY
}

check_files() {
	local f a b
	for f in $FILES; do
		[ -f "$WORK/dl/$f" ] || fail "$f was not downloaded"
		a=$(sha256sum <"$WORK/www/$f" | cut -c1-64)
		b=$(sha256sum <"$WORK/dl/$f" | cut -c1-64)
		[ "$a" = "$b" ] || fail "$f differs ($(stat -c %s "$WORK/dl/$f") bytes received)"
	done
	echo "sha256 equal: $FILES"
}

gtls_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:$SRV" -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
		>/dev/null 2>&1 || fail "openssl could not make a certificate"
}

CHACHA=NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305
PEER_ARGS=()
CLIENT_ARGS=()
case "$CASE" in
*-loss) PEER_ARGS=(-r 0.05 -t 0.05) ;;
*-chacha | *-chacha-capture) PEER_ARGS=(--ciphers="$CHACHA") ;;
esac

case "$CASE" in
qq-h3 | qq-hq | qq-h3-workers)
	alpn=h3
	[ "$CASE" = qq-hq ] && alpn=hq-interop
	start_qserver
	run_qclient "$alpn"
	check_files
	stop_server
	# One JSON-SEQ qlog per side, named by the ODCID, from start to close.
	python3 - "$WORK/qlog-c" "$WORK/qlog-s" <<'PY' || fail "qlog check"
import json, os, sys
for d, who in zip(sys.argv[1:], ("client", "server")):
    files = os.listdir(d)
    assert len(files) == 1 and files[0].endswith(".sqlog"), (d, files)
    recs = [json.loads(r) for r in open(os.path.join(d, files[0])).read().split("\x1e") if r.strip()]
    assert recs[0]["trace"]["vantage_point"]["type"] == who, recs[0]
    assert recs[0]["trace"]["common_fields"]["ODCID"] == files[0][:-6]
    names = [r.get("name") for r in recs[1:]]
    assert "quic:packet_received" in names and "quic:packet_sent" in names, set(names)
    print(f"qlog {who}: {files[0]}, {len(recs)} records, last {names[-1]}")
PY
	;;
qclient-ngtcp2-tap | ngtcp2-qserver-tap)
	# net_tap (checksum offload path): qburst in $NC on a tap whose kernel
	# side, in $NC too, is the ngtcp2 peer's interface (the veths unused).
	[ -c /dev/net/tun ] || fail "needs /dev/net/tun (net_tap)"
	TAP=qbit$$
	tap_eal="-l 1 --no-huge -m 512 --no-pci --no-shconf --file-prefix=qbi-t-$TAG --vdev=net_tap0,iface=$TAP"
	up_tap() {
		local i
		for i in $(seq 100); do ip -n "$NC" link show "$TAP" >/dev/null 2>&1 && break; sleep 0.1; done
		ip -n "$NC" addr add "$1/24" dev "$TAP" || fail "no tap $TAP in $NC"
		ip -n "$NC" link set "$TAP" up
	}
	if [ "$CASE" = qclient-ngtcp2-tap ]; then
		gtls_cert
		# shellcheck disable=SC2086,SC2046
		ip netns exec "$NC" timeout -s KILL 45 "$QB" $tap_eal -- --mode=client --ip=$CLI/24 \
			--downloads="$WORK/dl" --keylog="$KEYLOG" --duration=30 --arp-timeout=15000 \
			--stats-period=0 --stats-json="$WORK/client.json" $(urls) \
			>"$WORK/client.out" 2>"$WORK/client.err" &
		CPID=$!
		CLEANUPS+=("kill -KILL $CPID")
		up_tap $SRV
		ip netns exec "$NC" timeout -s KILL 60 /usr/sbin/gtlsserver -q -d "$WORK/www" \
			--max-gso-dgrams=1 $SRV $PORT "$WORK/key.pem" "$WORK/cert.pem" \
			>"$WORK/gtlsserver.out" 2>"$WORK/gtlsserver.err" &
		CLEANUPS+=("kill -KILL $!")
		rc=0
		wait $CPID || rc=$?
		[ "$rc" -eq 0 ] || fail "qburst client exited $rc: $(grep 'client:' "$WORK/client.err" | tail -1)"
		grep -q 'checksum offload ipv4 on' "$WORK/client.err" || fail "net_tap: no checksum offload"
		grep -A8 -- '--- summary' "$WORK/client.out"
	else
		# shellcheck disable=SC2086
		ip netns exec "$NC" timeout -s KILL 60 "$QB" $tap_eal -- --mode=server --ip=$SRV/24 \
			--listen=$PORT --www="$WORK/www" --duration=50 --stats-period=0 \
			>"$WORK/server.out" 2>"$WORK/server.err" &
		SPID=$!
		CLEANUPS+=("kill -KILL $SPID")
		up_tap $CLI
		sleep 1
		rc=0
		# shellcheck disable=SC2046
		ip netns exec "$NC" timeout -s KILL 40 gtlsclient -q --exit-on-all-streams-close \
			--download="$WORK/dl" --timeout=20s $SRV $PORT $(urls) \
			>"$WORK/gtlsclient.out" 2>"$WORK/gtlsclient.err" || rc=$?
		[ "$rc" -eq 0 ] || fail "gtlsclient exited $rc"
		grep -q 'checksum offload ipv4 on' "$WORK/server.err" || fail "net_tap: no checksum offload"
		stop_server
		grep -A8 -- '--- summary' "$WORK/server.out"
	fi
	check_files
	;;
qclient-ngtcp2 | qclient-ngtcp2-*)
	command -v gtlsserver >/dev/null || [ -x /usr/sbin/gtlsserver ] || fail "needs gtlsserver (ngtcp2-server)"
	gtls_cert
	ip netns exec "$NS" ip addr add $SRV/24 dev "$VS" || fail "address on $VS"
	ip netns exec "$NS" env SSLKEYLOGFILE="$KEYLOG" timeout -s KILL 60 /usr/sbin/gtlsserver -q \
		-d "$WORK/www" --max-gso-dgrams=1 "${PEER_ARGS[@]}" $SRV $PORT "$WORK/key.pem" "$WORK/cert.pem" \
		>"$WORK/gtlsserver.out" 2>"$WORK/gtlsserver.err" &
	GPID=$!
	CLEANUPS+=("kill -KILL $GPID")
	sleep 1
	kill -0 $GPID 2>/dev/null || fail "gtlsserver did not start"
	if [ "$CASE" = qclient-ngtcp2 ]; then
		# Another CA: the handshake must fail, exit 1 with the TLS alert.
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
			-subj "/CN=other" -keyout "$WORK/other.key" -out "$WORK/other.pem" >/dev/null 2>&1
		rc=0
		# shellcheck disable=SC2046
		ip netns exec "$NC" timeout -s KILL 30 "$QB" $(eal 1 c "$VC") -- --mode=client \
			--ip=$CLI/24 --downloads="$WORK/dl" --ca="$WORK/other.pem" --duration=10 \
			--stats-period=0 https://$SRV:$PORT/1KB >"$WORK/client.out" 2>"$WORK/client.err" || rc=$?
		reason=$(grep 'qburst: client:' "$WORK/client.err" | tail -1)
		echo "wrong CA: exit $rc, $reason"
		[ "$rc" -eq 1 ] && [ ! -e "$WORK/dl/1KB" ] || fail "wrong CA: exit $rc, '$reason'"
	fi
	# The chain verified: by IP literal, or by --sni for the chacha run.
	CLIENT_ARGS=(--ca="$WORK/cert.pem")
	case "$CASE" in *-chacha) CLIENT_ARGS+=(--sni=localhost) ;; esac
	run_qclient h3
	check_files
	;;
ngtcp2-qserver | ngtcp2-qserver-*)
	command -v gtlsclient >/dev/null || fail "needs gtlsclient (ngtcp2-client)"
	ip netns exec "$NC" ip addr add $CLI/24 dev "$VC" || fail "address on $VC"
	start_qserver
	rc=0
	# shellcheck disable=SC2046
	ip netns exec "$NC" env SSLKEYLOGFILE="$KEYLOG" timeout -s KILL 40 gtlsclient -q \
		--exit-on-all-streams-close --download="$WORK/dl" --timeout=20s "${PEER_ARGS[@]}" $SRV $PORT $(urls) \
		>"$WORK/gtlsclient.out" 2>"$WORK/gtlsclient.err" || rc=$?
	[ "$rc" -eq 0 ] || fail "gtlsclient exited $rc"
	check_files
	stop_server
	grep -A8 -- '--- summary' "$WORK/server.out"
	;;
qq-errors)
	# A missing file: exit 1 naming the HTTP error; the connection and the
	# other file are fine. Then no server at all: exit 1, "timeout".
	start_qserver
	for alpn in h3 hq-interop; do
		rc=0
		# shellcheck disable=SC2046
		ip netns exec "$NC" timeout -s KILL 30 "$QB" $(eal 1 c "$VC") -- --mode=client \
			--ip=$CLI/24 --downloads="$WORK/dl" --alpn=$alpn --duration=10 --stats-period=0 \
			https://$SRV:$PORT/1KB https://$SRV:$PORT/missing \
			>"$WORK/client.out" 2>"$WORK/client.err" || rc=$?
		[ "$rc" -eq 1 ] || fail "$alpn: a missing file: exit $rc, not 1"
		reason=$(grep 'qburst: client:' "$WORK/client.err" | tail -1)
		echo "$alpn: $reason"
		echo "$reason" | grep -Eq '404|0x194' || fail "$alpn: the reason does not say 404: $reason"
		cmp -s "$WORK/www/1KB" "$WORK/dl/1KB" || fail "$alpn: 1KB not fetched beside the 404"
		rc=0
		# shellcheck disable=SC2046
		ip netns exec "$NC" timeout -s KILL 30 "$QB" $(eal 1 c "$VC") -- --mode=client \
			--ip=$CLI/24 --downloads="$WORK/dl" --alpn=$alpn --duration=10 --stats-period=0 \
			https://$SRV:$PORT/../interop.secret \
			>"$WORK/client.out" 2>"$WORK/client.err" || rc=$?
		reason=$(grep 'qburst: client:' "$WORK/client.err" | tail -1)
		echo "$alpn: $reason"
		[ "$rc" -eq 1 ] && echo "$reason" | grep -Eq '403|0x193' ||
			fail "$alpn: a path out of --www: exit $rc, '$reason'"
	done
	stop_server
	rc=0
	# shellcheck disable=SC2046
	ip netns exec "$NC" timeout -s KILL 30 "$QB" $(eal 1 c "$VC") -- --mode=client \
		--ip=$CLI/24 --downloads="$WORK/dl" --duration=2 --stats-period=0 \
		--dst-mac=02:00:00:00:00:01 https://$SRV:$PORT/1KB \
		>"$WORK/client.out" 2>"$WORK/client.err" || rc=$?
	[ "$rc" -eq 1 ] || fail "no server: exit $rc, not 1"
	reason=$(grep 'qburst: client:' "$WORK/client.err" | tail -1)
	echo "no server: $reason"
	[ "$reason" = "qburst: client: timeout" ] || fail "no server: reason '$reason', not timeout"
	# Ctrl-C: a clean stop, the summary and the JSON written, exit 1.
	# shellcheck disable=SC2046
	ip netns exec "$NC" timeout -s KILL 30 "$QB" $(eal 1 c "$VC") -- --mode=client \
		--ip=$CLI/24 --downloads="$WORK/dl" --duration=20 --stats-period=0 \
		--stats-json="$WORK/sigint.json" --dst-mac=02:00:00:00:00:01 https://$SRV:$PORT/1KB \
		>"$WORK/client.out" 2>"$WORK/client.err" &
	CPID=$!
	sleep 2
	kill -INT $CPID
	rc=0
	wait $CPID || rc=$?
	reason=$(grep 'qburst: client:' "$WORK/client.err" | tail -1)
	echo "SIGINT: exit $rc, $reason"
	[ "$rc" -eq 1 ] && [ "$reason" = "qburst: client: interrupted" ] || fail "SIGINT: exit $rc, '$reason'"
	grep -q -- '--- summary' "$WORK/client.out" || fail "SIGINT: no summary"
	python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["quic"]["connections"] == 1' \
		"$WORK/sigint.json" || fail "SIGINT: JSON"
	;;
*)
	fail "unknown case"
	;;
esac
case "$CASE" in *-capture)
	sleep 1
	kill -INT "$CAP_PID" 2>/dev/null
	wait "$CAP_PID" 2>/dev/null
	pcap=$CAPTURE/$CASE.pcap
	TS=(tshark -r "$pcap" -o "tls.keylog_file:$KEYLOG")
	n=$("${TS[@]}" 2>/dev/null | wc -l)
	[ "$n" -gt 1000 ] || fail "capture: only $n packets"
	suite=$("${TS[@]}" -Y 'tls.handshake.type == 2' -T fields -e tls.handshake.ciphersuite 2>/dev/null | head -1)
	case "$CASE" in *chacha*) [ "$suite" = 0x1303 ] || fail "capture: ServerHello suite '$suite', not ChaCha20-Poly1305" ;; esac
	h3=$("${TS[@]}" -Y http3 2>/dev/null | wc -l)
	[ "$h3" -gt 0 ] || fail "capture: tshark decoded no HTTP/3 frame (keys not used?)"
	bad=$("${TS[@]}" -Y '_ws.malformed || _ws.expert.severity == "error"' 2>/dev/null | wc -l)
	[ "$bad" -eq 0 ] || fail "capture: $bad malformed packets: $("${TS[@]}" -Y _ws.malformed 2>/dev/null | head -3)"
	echo "capture: $n packets decoded, suite $suite, $h3 with HTTP/3 frames, none malformed"
	;;
esac
echo "PASS: $CASE"
