#!/bin/sh
# Installs the Debian packages Tern needs to build and test, when any is missing.
# Usage: install-deps.sh [build|test]   (build: compile only; test: also the test tools)
# As root it runs apt-get itself; otherwise it prints the exact command and exits 1.
set -u
want="${1:-build}"
pkgs="gcc make libc6-dev libmbedtls-dev"
if [ "$want" = test ]; then
    pkgs="$pkgs pkg-config check mosquitto-clients python3 python3-paho-mqtt"
fi
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
    echo "tern: run:  sudo apt-get update && sudo $cmd" >&2
    exit 1
fi
echo "tern: installing missing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || apt-get update
# shellcheck disable=SC2086
$cmd
