# Shared helpers for the app's dpdk-suite tests (sourced, not run).
# Every EAL instance gets --no-shconf and a unique --file-prefix, every
# namespace and interface a unique name; tests are bounded in time.
set -u

QB=${1:?usage: $0 QBURST_BINARY CASE}
CASE=${2:-}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TAG="$(basename "$0" .sh | tr -dc 'a-z' | cut -c1-6)$$"
WORK=$(mktemp -d /tmp/qbt-app-XXXXXX)
CLEANUPS=()

cleanup() {
	local i
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${CLEANUPS[$i]}" >/dev/null 2>&1; done
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	for f in "$WORK"/*.out "$WORK"/*.err; do
		[ -s "$f" ] && { echo "--- $f"; tail -30 "$f"; } >&2
	done
	exit 1
}

# EAL flags that work without hugepages or PCI, unique per run.
# A bad command line: exit 2 and one line on stderr containing WANT.
expect2() { # WANT_SUBSTRING ARGS...
	local want=$1 rc=0 err
	shift
	err=$("$QB" --no-huge --no-pci -- "$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" -eq 2 ] || fail "$*: exit $rc, want 2"
	[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "$*: not one line: $err"
	case $err in *"$want"*) ;; *) fail "$*: '$err' lacks '$want'" ;; esac
}

eal() {
	echo "--no-huge -m 512 --no-pci --no-shconf --file-prefix=qbt-$TAG-$RANDOM"
}

# Runs qburst with a time bound; stdout/stderr to $WORK/NAME.out/.err.
# Usage: run NAME SECONDS ARGS... ; sets RC.
run() {
	local name=$1 secs=$2
	shift 2
	RC=0
	timeout -s KILL "$secs" "$QB" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || RC=$?
}

# Checks the --stats-json file: exact schema of BRIEF §10, then
# "key op value" expressions on the port (python syntax).
check_json() {
	python3 "$HERE/check_json.py" "$@" || fail "stats JSON check failed: $*"
}

# Every "pool NAME: A of N mbufs free" line must have A == N.
check_pools() {
	local f=$1 lines
	lines=$(grep -h 'mbufs free' "$f" || true)
	[ -n "$lines" ] || fail "no pool report in $f"
	echo "$lines" | awk '{ if ($4 != $6) bad = 1 } END { exit bad }' ||
		fail "mbufs missing from a pool: $lines"
}

# The namespace tools the kernel tests need; fails (never skips) when absent.
need_netns() {
	[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces)"
	command -v ip >/dev/null || fail "needs iproute2 (ip)"
	ip netns add "qbt-probe-$$" 2>/dev/null || fail "cannot create a network namespace (ip netns add)"
	ip netns del "qbt-probe-$$"
	command -v tcpdump >/dev/null || fail "needs tcpdump"
	command -v ethtool >/dev/null || fail "needs ethtool"
}

new_netns() { # NAME
	ip netns add "$1" || fail "ip netns add $1"
	CLEANUPS+=("ip netns del $1")
	ip -n "$1" link set lo up
}

# Starts a UDP receiver in namespace NS on PORT; writes $WORK/recv.json.
start_receiver() { # NS PORT PAYLOAD_LEN
	ip netns exec "$1" python3 "$HERE/udp_recv.py" "$2" "$3" "$WORK/recv.json" "$WORK/recv.ready" \
		>"$WORK/recv.out" 2>"$WORK/recv.err" &
	CLEANUPS+=("kill $!")
	RECV_PID=$!
	wait_file "$WORK/recv.ready" 5 || fail "UDP receiver did not start"
}

# Captures up to COUNT UDP datagrams to PORT on IFACE in NS with tcpdump -vv.
start_capture() { # NS IFACE PORT COUNT
	ip netns exec "$1" timeout 30 tcpdump -l -n -vv -i "$2" -c "$4" "udp dst port $3" \
		>"$WORK/cap.txt" 2>"$WORK/cap.err" &
	CLEANUPS+=("kill $!")
	CAP_PID=$!
	local i
	for i in $(seq 50); do grep -q 'listening on' "$WORK/cap.err" 2>/dev/null && return 0; sleep 0.1; done
	fail "tcpdump did not start: $(cat "$WORK/cap.err")"
}

# tcpdump's verdict on the captured checksums: every one "udp sum ok".
check_capture() {
	local ok bad
	sleep 0.5
	kill "$CAP_PID" 2>/dev/null
	wait "$CAP_PID" 2>/dev/null
	ok=$(grep -c 'udp sum ok' "$WORK/cap.txt" || true)
	bad=$(grep -Ec 'bad udp cksum|no cksum' "$WORK/cap.txt" || true)
	[ "$ok" -gt 0 ] || fail "tcpdump saw no datagram with a valid UDP checksum: $(head -5 "$WORK/cap.txt")"
	[ "$bad" -eq 0 ] || fail "tcpdump saw bad or missing UDP checksums: $(grep -E 'bad udp|no cksum' "$WORK/cap.txt" | head -3)"
	echo "tcpdump: $ok datagrams with valid UDP checksums"
}

wait_file() { # FILE SECONDS
	local i
	for i in $(seq $(($2 * 10))); do [ -e "$1" ] && return 0; sleep 0.1; done
	return 1
}

# UDP checksum errors the namespace's kernel counted (IPv4 + IPv6).
udp_csum_errors() { # NS
	ip netns exec "$1" sh -c 'cat /proc/net/snmp; cat /proc/net/snmp6' | awk '
		/^Udp:/ { if (h) { n += $(i) } else { for (i = 1; i <= NF; i++) if ($i == "InCsumErrors") break; h = 1 } }
		$1 == "Udp6InCsumErrors" { n += $2 }
		END { print n + 0 }'
}
