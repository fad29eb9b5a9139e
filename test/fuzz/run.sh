#!/bin/sh
# Builds every test/fuzz/fuzz_<target>.c with clang's libFuzzer, ASan and UBSan, then runs each
# for SECONDS over a working copy of test/fuzz/corpus/<target>/. The broker library is built
# by the Makefile itself (its own source and platform lists, into build/fuzz/lib-nows) with the
# sanitizers and libFuzzer's coverage instrumentation, so new modules are picked up without
# touching this script.
#
# New interesting inputs stay in the working copy (build/fuzz/corpus/<target>/); crashing
# inputs are written to build/fuzz/artifacts/ and join the seed corpus once the bug is fixed.
# Prints executions and coverage (libFuzzer's cov/ft) per target. Exits non-zero if any target
# fails to build, crashes, leaks, times out on one input, or trips a sanitizer.
#
# Usage: test/fuzz/run.sh [SECONDS]          (default 60; run from anywhere)
# Environment:
#   CC             compiler with libFuzzer (default clang)
#   FUZZ_TARGETS   space-separated target names to run (default: every fuzz_*.c)
#   FUZZ_OUT       output directory (default build/fuzz)
set -u

SECONDS_EACH=${1:-60}
cd "$(dirname "$0")/../.." || exit 1

CC=${CC:-clang}
OUT=${FUZZ_OUT:-build/fuzz}
LIBDIR=$OUT/lib-nows
SANFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined"
SANFLAGS="$SANFLAGS -fno-sanitize-recover=undefined"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if ! command -v "$CC" >/dev/null 2>&1; then
    echo "== fuzz: $CC not found (platform/linux/install-deps.sh test installs clang)" >&2
    exit 1
fi

if [ -z "${FUZZ_TARGETS:-}" ]; then
    FUZZ_TARGETS=""
    for f in test/fuzz/fuzz_*.c; do
        [ -f "$f" ] || continue
        t=$(basename "$f" .c)
        FUZZ_TARGETS="$FUZZ_TARGETS ${t#fuzz_}"
    done
fi

mkdir -p "$OUT/artifacts" "$OUT/corpus" || exit 1
echo "== fuzz: building the library with $CC, libFuzzer coverage, ASan and UBSan"
# CFLAGS from the environment: the Makefile appends its own flags to it. No target reaches the
# WebSocket transport, so WITH_WS=0 spares a libwebsockets build with this compiler (in a
# directory of its own: the Makefile does not track that switch in objects).
if ! CFLAGS="$SANFLAGS -fsanitize=fuzzer-no-link" make --no-print-directory -s \
        BUILD="$LIBDIR" CC="$CC" WITH_WS=0 "$LIBDIR/libtern.a"; then
    echo "== fuzz: LIBRARY BUILD FAILED" >&2
    exit 1
fi
LIBS=$(make --no-print-directory -s BUILD="$LIBDIR" CC="$CC" WITH_WS=0 print-ldlibs)

status=0
for t in $FUZZ_TARGETS; do
    bin="$OUT/fuzz_$t"
    echo "== fuzz_$t: building"
    # shellcheck disable=SC2086 # SANFLAGS and LIBS are word lists on purpose.
    if ! $CC $SANFLAGS -fsanitize=fuzzer -std=c11 -D_GNU_SOURCE -Iinclude -Isrc -o "$bin" \
            "test/fuzz/fuzz_$t.c" "$LIBDIR/libtern.a" $LIBS; then
        echo "== fuzz_$t: BUILD FAILED" >&2
        status=1
        continue
    fi
    work="$OUT/corpus/$t"
    mkdir -p "$work"
    if [ -d "test/fuzz/corpus/$t" ]; then
        cp -p "test/fuzz/corpus/$t"/* "$work"/ 2>/dev/null
    fi
    echo "== fuzz_$t: running ${SECONDS_EACH}s over $work"
    if ! "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -print_final_stats=1 \
            -artifact_prefix="$OUT/artifacts/${t}-" "$work" >"$OUT/fuzz_$t.log" 2>&1; then
        echo "== fuzz_$t: CRASH (see $OUT/fuzz_$t.log and $OUT/artifacts/)" >&2
        tail -n 40 "$OUT/fuzz_$t.log" >&2
        status=1
        continue
    fi
    # The last status line carries the coverage: "#N DONE cov: C ft: F corp: ...".
    grep -E '^#[0-9]+[[:space:]]+DONE' "$OUT/fuzz_$t.log" | tail -n 1
    grep -E '^stat::number_of_executed_units' "$OUT/fuzz_$t.log"
    echo "== fuzz_$t: ok"
done
exit $status
