#!/bin/sh
# Unpacks Debian's mosquitto package (the reference broker and mosquitto_passwd, 2.0.11 on
# Debian 12) into DIR with apt-get download + dpkg -x, without installing the service. Its
# runtime libraries are ordinary packages listed in platform/linux/install-deps.sh (test).
# Usage: get-ref-mosquitto.sh DIR
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"
if [ ! -x usr/sbin/mosquitto ] || [ ! -x usr/bin/mosquitto_passwd ]; then
    ls mosquitto_*.deb >/dev/null 2>&1 ||
        apt-get -q download mosquitto >/dev/null 2>&1 ||
        { apt-get -q update >/dev/null 2>&1 && apt-get -q download mosquitto >/dev/null; }
    dpkg -x "$(ls mosquitto_*.deb | head -1)" .
fi
if ldd usr/sbin/mosquitto | grep -q "not found"; then
    echo "$0: mosquitto misses libraries:" >&2
    ldd usr/sbin/mosquitto | grep "not found" >&2
    exit 1
fi
