#!/usr/bin/env bash
# Installs what framerouter needs to build and demo on Debian 12 (with --test, also
# what the test suite needs), then bootstraps and configures a build directory.
# Safe to run again: it installs only what is missing.
#   scripts/setup-debian.sh [--test] [BUILD_DIR [CONFIGURE_ARGS...]]
set -euo pipefail

packages=(
	build-essential autoconf automake pkg-config
	libev-dev libc-ares-dev libturbojpeg0-dev libsystemd-dev libnats-dev check
	ffmpeg python3 python3-opencv python3-numpy
)
if [[ ${1:-} == --test ]]; then
	shift
	packages+=(
		clang libclang-rt-14-dev valgrind curl iproute2
		libjpeg-turbo-progs libimage-exiftool-perl	# fixtures/generate.sh
		prometheus					# promtool check metrics
		chromium					# the status page, headless
		groff-base man-db systemd			# man page and unit checks
		ncat						# a real half-closing subscriber
		stunnel4					# contrib/stunnel-pull.conf
		nginx openssl					# the TLS proxy recipe (contrib/)
		nats-server haproxy				# federation: cluster and balancer
	)
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "setup: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

top=$(cd "$(dirname "$0")/.." && pwd)
[[ -x $top/configure ]] || (cd "$top" && autoreconf -fi >/dev/null)

if (($# >= 1)); then
	build=$1
	shift
	mkdir -p "$build"
	(cd "$build" && "$top/configure" "$@" >config.out 2>&1) || {
		cat "$build/config.out" >&2
		exit 1
	}
fi
