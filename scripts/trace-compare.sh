#!/usr/bin/env bash
# Shows that a change to the send path changes no behaviour: the same
# deterministic transfers (tests/unit/conn/trace_xfer.c) traced on this
# tree's release build and on revision REV's, one line each (a hash of every
# datagram's delivery time and size, and the final statistics), diffed.
# Exit 0 when every line is equal, 1 when one differs (printed), 2 on a
# build failure or a failed trace run (an assertion, a leak, a crash: its
# last lines printed). REV is built in a temporary worktree under /tmp
# (removed after) with this tree's copy of the tool. A REV git cannot find
# exits 128 (git's status).
# usage: scripts/trace-compare.sh REV   (e.g. HEAD~3, main)
set -euo pipefail
REV=${1:?usage: scripts/trace-compare.sh REV}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WT=$(mktemp -d /tmp/qb-trace-XXXXXX)
trap 'git -C "$ROOT" worktree remove --force "$WT" >/dev/null 2>&1 || rm -rf "$WT"' EXIT

tool() { # SRC_TREE BUILD_DIR OUT -> trace lines in OUT
	[ -f "$2/build.ninja" ] || meson setup "$2" "$1" --buildtype=release >"$3.log" 2>&1 ||
		{ tail -n 20 "$3.log" >&2; echo "trace-compare: meson setup failed in $1" >&2; exit 2; }
	ninja -C "$2" tests/unit/conn/trace_conn_xfer >"$3.log" 2>&1 ||
		{ tail -n 20 "$3.log" >&2; echo "trace-compare: build failed in $1" >&2; exit 2; }
	# Its own status, not a pipeline's: a run that fails (and so may print
	# every line yet) is not a difference.
	"$2/tests/unit/conn/trace_conn_xfer" --jobs 1 >"$3.raw" 2>"$3.log" ||
		{ tail -n 20 "$3.log" >&2; echo "trace-compare: the trace run failed in $1" >&2; exit 2; }
	grep '^TRACE' "$3.raw" >"$3" || true
}

git -C "$ROOT" worktree add -q --detach "$WT" "$REV"
# The same tool on both sides: this tree's (an edit to it is then no
# difference); REV without it gets its build line too.
cp "$ROOT/tests/unit/conn/trace_xfer.c" "$WT/tests/unit/conn/"
if ! grep -q trace_conn_xfer "$WT/tests/unit/conn/meson.build"; then
	printf "\nexecutable('trace_conn_xfer', files('trace_xfer.c'), %s\n\tbuild_by_default: false)\n" \
		"dependencies: conn_test_deps," >>"$WT/tests/unit/conn/meson.build"
fi
tool "$ROOT" "$ROOT/build" "$WT/new.txt"
tool "$WT" "$WT/build" "$WT/old.txt"
n=$(wc -l <"$WT/new.txt")
[ "$n" -gt 0 ] || { echo "trace-compare: no trace lines" >&2; exit 2; }
if diff "$WT/old.txt" "$WT/new.txt"; then
	echo "trace-compare: $n transfers, the same datagrams and statistics as $REV"
else
	echo "trace-compare: the lines above differ from $REV ('<' $REV, '>' this tree)"
	exit 1
fi
