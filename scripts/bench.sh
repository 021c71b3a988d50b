#!/usr/bin/env bash
# Runs every benchmark in scripts/bench.d/ in order, against a release build.
# Figures are ratios measured side by side in one run (the machine is shared
# and noisy); each part prints its own table. Usage: scripts/bench.sh [PART...]
# where PART is a name in scripts/bench.d without its number and .sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
[ -f build/build.ninja ] || meson setup build --buildtype=release
ninja -C build
rc=0
for f in scripts/bench.d/*.sh; do
	name=$(basename "$f" .sh); name=${name#*-}
	if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name"; then continue; fi
	echo "== bench: $name =="
	bash "$f" || { echo "bench $name failed"; rc=1; }
done
exit $rc
