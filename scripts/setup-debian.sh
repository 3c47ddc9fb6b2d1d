#!/usr/bin/env bash
# Installs what framerouter needs to build, test and demo on Debian 12, then
# bootstraps and configures a build directory. Safe to run again: it installs only
# what is missing and reconfigures only when asked.
#   scripts/setup-debian.sh [BUILD_DIR [CONFIGURE_ARGS...]]
set -euo pipefail

packages=(
	build-essential autoconf automake pkg-config clang
	libev-dev libturbojpeg0-dev check
	ffmpeg libjpeg-turbo-progs libimage-exiftool-perl
	python3 python3-opencv python3-numpy
	valgrind curl iproute2 procps
)

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
