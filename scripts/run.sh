#!/usr/bin/env bash
# Set-up, build, then the main job with defaults on a virtual device (no NIC,
# no hugepages): udpgen for 10 s on net_null with live statistics. Stops by
# itself, or on Ctrl-C. Extra arguments go to the app (after "--"), e.g.
#   scripts/run.sh --pkt-size=1200 --duration=5
# QBURST_EAL overrides the EAL options below.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
[ -f build/build.ninja ] || meson setup build --buildtype=release
ninja -C build

EAL=${QBURST_EAL:-"-l 0-1 --no-huge -m 1024 --no-pci --no-shconf --file-prefix=qburst-run-$$ --vdev=net_null0,no-rx=1"}
# net_null answers nothing: the destination MAC is given, not resolved.
# shellcheck disable=SC2086
exec build/apps/qburst $EAL -- --mode=udpgen --ip=198.18.0.1/24 --dst-ip=198.18.0.2 \
	--dst-mac=02:00:00:00:00:02 "$@"
