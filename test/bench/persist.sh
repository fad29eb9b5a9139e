#!/bin/bash
# The cost of durability, measured (not a test: nothing here asserts on timing).
#
#  1. QoS 1 throughput with a persistent subscriber online (every message is stored before its
#     PUBACK): Tern with persistence off, persistence_sync turn (default), always and interval 1,
#     and Mosquitto 2.0 with `persistence true` (which writes only at autosave_interval and on
#     exit). Also the bytes each broker wrote to the disk per message (/proc/PID/io write_bytes:
#     what reached the block layer, journal excluded) and fsyncs.
#  2. Recovery: FILL (default 1,000,000) QoS 1 messages of 64 bytes queued for an offline
#     persistent subscriber, the broker killed with SIGKILL, restarted; reports the load time
#     Tern logs, the time until it accepts connections, its RSS before and after, the log size
#     per stored message, and checks that the subscriber then receives every message.
#
# Environment: TERN (default build/tern), SECS (3), FILL (1000000), PUBS (4), WINDOW (32),
# PDIR (where the stores go; default build/bench/persist, on the same disk as the tree).
# Mosquitto is the reference build/ref/usr/sbin/mosquitto that test/bench/run.sh unpacks.
set -u
cd "$(dirname "$0")/../.." || exit 1
OUT=build/bench
TERN=${TERN:-build/tern}
MOSQ=build/ref/usr/sbin/mosquitto
SECS=${SECS:-3}
FILL=${FILL:-1000000}
PUBS=${PUBS:-4}
WINDOW=${WINDOW:-32}
PDIR=${PDIR:-$OUT/persist}
PG=$OUT/persistgen

say() { echo "persist-bench: $*" >&2; }
mkdir -p "$OUT" "$PDIR" || exit 1
gcc -O2 -std=gnu11 -Wall -Wextra -o "$PG" test/bench/persistgen.c || exit 1
[ -x "$TERN" ] || { say "$TERN is missing (make first)"; exit 1; }
if [ ! -x "$MOSQ" ]; then
    say "unpacking the reference Mosquitto (test/bench/run.sh --selftest)"
    test/bench/run.sh --selftest >/dev/null 2>&1
fi
[ -x "$MOSQ" ] || say "no reference Mosquitto: its rows are skipped"

BPID=
free_port() { "$OUT/loadgen" --free-port 2>/dev/null ||
              python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_listen() {
    for _ in $(seq 1 600); do
        ss -Hltn "sport = :$PORT" 2>/dev/null | grep -q . && return 0
        kill -0 "$BPID" 2>/dev/null || return 1
        sleep 0.01
    done
    return 1
}
# start KIND DIR EXTRA-LINES -> BPID, PORT, START_MS (ms from exec to listening)
start() {
    local kind=$1 dir=$2 extra=$3
    PORT=$(free_port)
    mkdir -p "$dir"
    {
        echo "listener $PORT 127.0.0.1"
        echo "allow_anonymous true"
        echo "max_inflight_messages 0"
        echo "max_queued_messages 0"
        echo "log_dest file $dir/broker.log"
        printf '%b\n' "$extra"
    } >"$dir/broker.conf"
    local t0=$(date +%s%N)
    if [ "$kind" = tern ]; then
        "$TERN" -c "$dir/broker.conf" >>"$dir/out.log" 2>&1 &
    else
        "$MOSQ" -c "$dir/broker.conf" >>"$dir/out.log" 2>&1 &
    fi
    BPID=$!
    wait_listen || { say "$kind did not start"; cat "$dir/out.log" "$dir/broker.log" >&2; return 1; }
    START_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}
stop() { # signal
    [ -n "$BPID" ] || return 0
    kill -"${1:-TERM}" "$BPID" 2>/dev/null
    for _ in $(seq 1 600); do kill -0 "$BPID" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$BPID" 2>/dev/null
    wait "$BPID" 2>/dev/null
    BPID=
}
trap 'stop KILL' EXIT
io() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$BPID/io"; }
rss_kb() { awk '$1 == "VmRSS:" {print $2}' "/proc/$BPID/status"; }

echo "## QoS 1 with a persistent subscriber online ($PUBS publishers x window $WINDOW, 64-byte payloads, ${SECS} s)"
echo
echo "| broker | persistence | msgs/s acknowledged | disk bytes written per msg |"
echo "|---|---|---|---|"
rate_row() { # label kind extra [pubs window]
    local label=$1 kind=$2 extra=$3 dir=$PDIR/rate pubs=${4:-$PUBS} window=${5:-$WINDOW}
    rm -rf "$dir"
    start "$kind" "$dir" "$extra" || return
    local w0=$(io write_bytes)
    local line=$("$PG" rate -p "$PORT" -t "$SECS" -n "$pubs" -w "$window" | grep '^RESULT')
    sync -f "$dir" 2>/dev/null
    local w1=$(io write_bytes)
    local rate=$(echo "$line" | sed -n 's/.*acked_per_s=\([0-9]*\).*/\1/p')
    local per=$(awk -v a="$w0" -v b="$w1" -v r="${rate:-0}" -v s="$SECS" \
                'BEGIN { n = r * s; if (n > 0) printf "%.0f", (b - a) / n; else print "-" }')
    echo "| $kind | $label | ${rate:-failed} | $per |"
    stop TERM
}
rate_row "off" tern ""
rate_row "on, persistence_sync turn (default)" tern "persistence true\npersistence_location $PDIR/rate/db"
rate_row "on, turn, 16 publishers x window 256 (bigger groups per fsync)" tern \
    "persistence true\npersistence_location $PDIR/rate/db" 16 256
rate_row "on, persistence_sync interval 1" tern "persistence true\npersistence_location $PDIR/rate/db\npersistence_sync interval 1"
rate_row "on, persistence_sync always" tern "persistence true\npersistence_location $PDIR/rate/db\npersistence_sync always"
if [ -x "$MOSQ" ]; then
    rate_row "off" mosquitto "set_tcp_nodelay true"
    rate_row "true (autosave_interval 1800: nothing written until then)" mosquitto \
        "set_tcp_nodelay true\npersistence true\npersistence_location $PDIR/rate/"
fi
echo

echo "## Recovery of $FILL queued QoS 1 messages (64-byte payloads), after SIGKILL"
echo
dir=$PDIR/recover
rm -rf "$dir"
start tern "$dir" "persistence true\npersistence_location $dir/db" || exit 1
rss0=$(rss_kb)
fill=$("$PG" fill -p "$PORT" -c "$FILL" | grep '^RESULT')
rss_full=$(rss_kb)
written=$(io write_bytes)
stop KILL
size=$(stat -c %s "$dir/db/tern.db")
start tern "$dir" "persistence true\npersistence_location $dir/db" || exit 1
loaded=$(grep 'Persistence: loaded' "$dir/broker.log" | tail -1)
load_ms=$(echo "$loaded" | sed -n 's/.* in \([0-9]*\) ms.*/\1/p')
rss_loaded=$(rss_kb)
drain=$("$PG" drain -p "$PORT" -c "$FILL" | grep '^RESULT')
stop TERM
echo "| measure | value |"
echo "|---|---|"
echo "| fill ($FILL msgs, one publisher, window 512) | $(echo "$fill" | sed 's/RESULT //') |"
echo "| log file after fill | $size bytes = $(( size / FILL )) bytes per queued message |"
echo "| disk bytes written during fill | $written = $(( written / FILL )) per message |"
echo "| Tern's own load time (log line) | ${load_ms:-?} ms |"
echo "| exec to accepting connections | $START_MS ms |"
echo "| RSS empty / full before kill / after recovery | $((rss0 / 1024)) MiB / $((rss_full / 1024)) MiB / $((rss_loaded / 1024)) MiB |"
echo "| drain after recovery | $(echo "$drain" | sed 's/RESULT //') |"
comp=$(grep 'Persistence: compacted' "$dir/broker.log" | sed 's/^[0-9]*: Persistence: //; s/ to / -> /')
echo "| compactions while draining (log > 2 x live + 4 MiB) | $(echo "$comp" | grep -c .): $(echo "$comp" | sed 's/.*-> //' | tr '\n' ';' | sed 's/;$//') |"
echo
echo "($loaded)"
if [ -x "$MOSQ" ] && [ "${MOSQ_RECOVERY:-1}" = 1 ]; then
    echo
    echo "Mosquitto 2.0 with persistence true, same fill, stopped with SIGTERM (it writes its"
    echo "database only then or at autosave; after SIGKILL it would recover nothing):"
    echo
    mdir=$PDIR/mosq
    rm -rf "$mdir"
    mkdir -p "$mdir" && chmod 1777 "$mdir"   # Mosquitto drops root for its own user
    start mosquitto "$mdir" "persistence true\npersistence_location $mdir/" || exit 1
    mfill=$("$PG" fill -p "$PORT" -c "$FILL" | grep '^RESULT')
    stop TERM
    msize=$(stat -c %s "$mdir/mosquitto.db" 2>/dev/null || echo 0)
    start mosquitto "$mdir" "persistence true\npersistence_location $mdir/" || exit 1
    mrss=$(rss_kb)
    mdrain=$("$PG" drain -p "$PORT" -c "$FILL" | grep '^RESULT')
    stop TERM
    echo "| measure | value |"
    echo "|---|---|"
    echo "| fill | $(echo "$mfill" | sed 's/RESULT //') |"
    echo "| mosquitto.db | $msize bytes |"
    echo "| exec to accepting connections | $START_MS ms |"
    echo "| RSS after loading | $((mrss / 1024)) MiB |"
    echo "| drain | $(echo "$mdrain" | sed 's/RESULT //') |"
fi
rm -rf "$PDIR"
