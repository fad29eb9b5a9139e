#!/bin/sh
# TLS handshakes per second, Tern and the reference Mosquitto side by side (make bench-tls).
#
# For each server key (RSA-2048, ECDSA P-256) both brokers are started on a free loopback port
# with a TLS listener and the same certificate, and `openssl s_time` opens as many TLS 1.2
# connections as it can for BENCH_TLS_SECS seconds: with -new every connection is a full
# handshake, with -reuse every connection after the first resumes the session (session ticket
# or session id). The client is OpenSSL, single-threaded, on the same machine: the numbers
# compare the two servers under the same client, they are not the servers' ceilings.
# Prints a table; writes nothing else. Certificates are made in a temporary directory.
#
# Usage: test/bench/tls.sh            (needs build/tern and tern_passwd built: `make`)
# Environment: BENCH_TLS_SECS (5), TERN (build/tern).
set -u
cd "$(dirname "$0")/../.." || exit 1
SECS=${BENCH_TLS_SECS:-5}
TERN=${TERN:-build/tern}
REF=build/ref
test/integration/get-ref-mosquitto.sh "$REF" || exit 1
MOSQ=$REF/usr/sbin/mosquitto
[ -x "$TERN" ] || { echo "tls.sh: $TERN not built (run make)" >&2; exit 1; }
d=$(mktemp -d)
pids=
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$d"; }
trap cleanup EXIT INT TERM

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
    i=0
    while [ $i -lt 100 ]; do
        /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2)" \
            2>/dev/null && return 0
        sleep 0.05; i=$((i + 1))
    done
    return 1
}

mkcert() { # kind name
    if [ "$1" = rsa ]; then alg="-newkey rsa:2048"; else alg="-newkey ec -pkeyopt ec_paramgen_curve:P-256"; fi
    # shellcheck disable=SC2086
    openssl req -x509 $alg -nodes -days 2 -subj "/CN=127.0.0.1" -keyout "$d/$2.key" \
        -out "$d/$2.crt" >/dev/null 2>&1
}

# s_time output: "N connections in T real seconds, ..." -> connections per second
rate() { # port mode
    openssl s_time -connect "127.0.0.1:$1" -"$2" -time "$SECS" -tls1_2 2>/dev/null |
        awk '/connections in .* real seconds/ { printf "%.0f", $1 / $4; found=1 }
             END { if (!found) printf "?" }'
}

run_one() { # broker-name kind
    port=$(free_port)
    conf=$d/$1-$2.conf
    printf "listener %s 127.0.0.1\ncertfile %s\nkeyfile %s\nallow_anonymous true\nconnection_messages false\n" \
        "$port" "$d/$2.crt" "$d/$2.key" > "$conf"
    if [ "$1" = mosquitto ]; then
        echo "user root" >> "$conf"
        "$MOSQ" -c "$conf" >"$d/$1-$2.log" 2>&1 &
    else
        "$TERN" -c "$conf" >"$d/$1-$2.log" 2>&1 &
    fi
    pid=$!
    pids="$pids $pid"
    wait_port "$port" || { echo "tls.sh: $1 did not start:" >&2; cat "$d/$1-$2.log" >&2; exit 1; }
    full=$(rate "$port" new)
    resumed=$(rate "$port" reuse)
    kill "$pid"; wait "$pid" 2>/dev/null
    printf '| %-9s | %-10s | %8s | %8s |\n' "$1" "$2" "$full" "$resumed"
}

mkcert rsa rsa2048
mkcert ec p256
echo "TLS 1.2 handshakes per second (openssl s_time, ${SECS} s each, loopback, $(nproc) cores)"
echo "| broker    | key        | full/s   | resumed/s |"
echo "|-----------|------------|----------|----------|"
for kind in rsa2048 p256; do
    run_one tern "$kind"
    run_one mosquitto "$kind"
done
