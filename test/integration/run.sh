#!/bin/sh
# Runs Tern's integration tests against a broker binary.
# Usage: test/integration/run.sh BROKER_BINARY [PATTERN]
# Every NN-area-case.py (sorted; only names containing PATTERN when given) runs with
# TERN_BIN=BROKER_BINARY under a 60 s timeout. Prints PASS/FAIL per test and "N passed, N failed";
# exits 1 if any failed.
set -u

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 BROKER_BINARY [PATTERN]" >&2
    exit 2
fi
bin=$1
pattern=${2:-}
case $bin in
    /*) ;;
    *) bin=$(pwd)/$bin ;;
esac
if [ ! -x "$bin" ]; then
    echo "$0: $bin is not an executable file" >&2
    exit 2
fi

dir=$(cd "$(dirname "$0")" && pwd)
python=/usr/bin/python3            # Debian's Python: it has paho-mqtt
per_test_timeout=${TERN_TEST_TIMEOUT:-60}
out=$(mktemp) || exit 2
trap 'rm -f "$out"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

passed=0
failed=0
failed_names=
for t in $(cd "$dir" && ls [0-9][0-9]-*.py 2>/dev/null | sort); do
    name=${t%.py}
    case $name in
        *"$pattern"*) ;;
        *) continue ;;
    esac
    start=$(date +%s.%N)
    TERN_BIN=$bin PYTHONDONTWRITEBYTECODE=1 timeout -k 5 "$per_test_timeout" \
        "$python" "$dir/$t" >"$out" 2>&1
    rc=$?
    end=$(date +%s.%N)
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
        skips=$(grep -c '^SKIP' "$out")
        if [ "$skips" -gt 0 ]; then
            echo "PASS $name (${secs}s) [$skips Tern-only check(s) skipped]"
        else
            echo "PASS $name (${secs}s)"
        fi
    else
        failed=$((failed + 1))
        failed_names="$failed_names $name"
        if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
            echo "FAIL $name (timed out after ${per_test_timeout}s)"
        else
            echo "FAIL $name (exit $rc, ${secs}s)"
        fi
        sed 's/^/    /' "$out"
    fi
done

if [ $failed -gt 0 ]; then
    echo "failed:$failed_names"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
