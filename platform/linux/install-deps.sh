#!/bin/sh
# Installs the Debian packages Tern needs to build and test, when any is missing.
# Usage: install-deps.sh [build|test] [arm64|armhf]
#   build: compile only; test: also the test tools.
#   arm64/armhf: cross-build for that architecture instead (Debian's cross gcc and the
#   :ARCH multiarch libraries; test adds qemu-user to run the result). Enabling a foreign
#   architecture is the one change made to apt's configuration; if apt-get update then fails
#   (armhf mirrors have served a bad index), the architecture is removed again so the
#   system's apt keeps working, and the script exits 1.
# As root it runs apt-get itself; otherwise it prints the exact commands and exits 1.
set -u
want="${1:-build}"
arch="${2:-}"
add_arch=""
case "$arch" in
    "")
        pkgs="gcc make libc6-dev libmbedtls-dev cmake"
        [ "$want" = test ] && pkgs="$pkgs pkg-config check mosquitto-clients python3 python3-paho-mqtt"
        # WebSocket tests: headless Chromium, openssl for the test CA, node for MQTT.js (a node
        # already on PATH, with its own npm, is used as it is).
        [ "$want" = test ] && pkgs="$pkgs chromium openssl"
        [ "$want" = test ] && ! command -v npm >/dev/null 2>&1 && pkgs="$pkgs nodejs npm"
        # Security tests: openssl makes the test certificates; the reference Mosquitto that
        # test/integration/get-ref-mosquitto.sh unpacks (for password-file interoperability)
        # needs these runtime libraries.
        [ "$want" = test ] && pkgs="$pkgs openssl libwrap0 libdlt2"
        # Fuzzing (make fuzz; CI's smoke run): clang with its libFuzzer and sanitizer runtimes.
        [ "$want" = test ] && pkgs="$pkgs clang libclang-rt-14-dev"
        ;;
    arm64|armhf)
        if [ "$arch" = arm64 ]; then gnu=aarch64-linux-gnu; else gnu=arm-linux-gnueabihf; fi
        # A cross build makes the unit tests too (make CROSS=...), so check:$arch is a build need.
        pkgs="make gcc-$gnu libc6-dev-$arch-cross libmbedtls-dev:$arch cmake"
        pkgs="$pkgs pkg-config check:$arch"
        [ "$want" = test ] && pkgs="$pkgs qemu-user mosquitto-clients python3 python3-paho-mqtt"
        dpkg --print-foreign-architectures | grep -qx "$arch" || add_arch=$arch
        ;;
    *)
        echo "usage: $0 [build|test] [arm64|armhf]" >&2
        exit 2
        ;;
esac
missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "tern: missing Debian packages:$missing" >&2
    if [ -n "$add_arch" ]; then
        echo "tern: run:  sudo dpkg --add-architecture $add_arch && sudo apt-get update && sudo $cmd" >&2
    else
        echo "tern: run:  sudo apt-get update && sudo $cmd" >&2
    fi
    exit 1
fi
echo "tern: installing missing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
if [ -n "$add_arch" ]; then
    echo "tern: enabling the $add_arch architecture (dpkg --add-architecture $add_arch)" >&2
    dpkg --add-architecture "$add_arch" || exit 1
    if ! apt-get update -qq; then
        echo "tern: apt-get update failed with $add_arch enabled; removing it again" >&2
        dpkg --remove-architecture "$add_arch"
        apt-get update -qq
        exit 1
    fi
else
    apt-get update -qq >/dev/null 2>&1 || apt-get update
fi
# shellcheck disable=SC2086
$cmd
