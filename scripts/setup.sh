#!/usr/bin/env bash
# Installs every Debian package that building, testing and benchmarking qburst
# needs, and only those that are missing. Safe to run any number of times.
set -euo pipefail

PACKAGES=(
	# build
	build-essential clang clang-format libclang-rt-14-dev meson ninja-build pkg-config git
	# libraries
	libdpdk-dev dpdk dpdk-dev android-libboringssl-dev libipsec-mb-dev libcriterion-dev
	libnghttp3-dev
	# interop peer and network tooling for the tests
	ngtcp2-client ngtcp2-server iproute2 ethtool openssl tshark tcpdump
	# scripts
	python3 jq
)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "setup: all ${#PACKAGES[@]} packages present"
	exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
	SUDO=sudo
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
