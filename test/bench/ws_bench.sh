#!/bin/sh
# WebSocket next to TCP through one Tern: round-trip latency (p50/p99/p99.9/max, count over
# 10 ms) and pipelined throughput, from test/bench/ws_rtt.c. Usage: ws_bench.sh BUILD_DIR [N]
# (make bench-ws). Loopback only; stops the broker it started, by pid.
set -eu
build=$1
n=${2:-100000}
cc=${CC:-cc}
$cc -O2 -Wall -Wextra -o "$build/ws_rtt" test/bench/ws_rtt.c
dir=$(mktemp -d)
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tcp=$(port)
ws=$(port)
cat > "$dir/tern.conf" <<CONF
listener $tcp 127.0.0.1
allow_anonymous true
listener $ws 127.0.0.1
protocol websockets
log_type error
CONF
"$build/tern" -c "$dir/tern.conf" > "$dir/tern.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
i=0
until "$build/ws_rtt" tcp "$tcp" 1 1 >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 50 ] || { cat "$dir/tern.log"; exit 1; }; sleep 0.1
done
echo "== Tern $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/ws_rtt" tcp "$tcp" "$n"
"$build/ws_rtt" ws "$ws" "$n"
