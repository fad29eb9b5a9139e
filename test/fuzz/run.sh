#!/bin/sh
# Builds every test/fuzz/fuzz_<target>.c with clang's libFuzzer, ASan and UBSan into
# build/fuzz/, then runs each for SECONDS over a working copy of test/fuzz/corpus/<target>/.
# New interesting inputs stay in the working copy (build/fuzz/corpus/<target>/); crashing
# inputs are written to build/fuzz/artifacts/ and should be copied into the seed corpus once
# the bug is fixed. Exits non-zero if any target fails to build or finds a crash.
#
# Usage: test/fuzz/run.sh [SECONDS]          (default 60; run from anywhere)
# Environment:
#   CC             compiler with libFuzzer (default clang)
#   FUZZ_SRC       sources linked into each target, overriding the default: every src/*.c but
#                  src/main.c, plus the epoll platform files named in platform/platform.mk
#   FUZZ_TARGETS   space-separated target names to run (default: every fuzz_*.c)
set -u

SECONDS_EACH=${1:-60}
cd "$(dirname "$0")/../.." || exit 1

CC=${CC:-clang}
OUT=build/fuzz
BOARD_H=platform/board/linux-generic.h
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined"
CFLAGS="$CFLAGS -fno-sanitize-recover=undefined -Iinclude -Isrc -include $BOARD_H"
PLAT_SRC="platform/poll_epoll.c platform/time_posix.c platform/os_posix.c"

if [ -z "${FUZZ_SRC:-}" ]; then
    FUZZ_SRC=""
    for f in src/*.c $PLAT_SRC; do
        [ "$f" = src/main.c ] && continue
        [ -f "$f" ] && FUZZ_SRC="$FUZZ_SRC $f"
    done
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
status=0
for t in $FUZZ_TARGETS; do
    bin="$OUT/fuzz_$t"
    echo "== fuzz_$t: building"
    # shellcheck disable=SC2086 # FUZZ_SRC and CFLAGS are word lists on purpose.
    if ! $CC $CFLAGS -o "$bin" "test/fuzz/fuzz_$t.c" $FUZZ_SRC; then
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
    if ! "$bin" -max_total_time="$SECONDS_EACH" -print_final_stats=1 \
            -artifact_prefix="$OUT/artifacts/${t}-" "$work" >"$OUT/fuzz_$t.log" 2>&1; then
        echo "== fuzz_$t: CRASH (see $OUT/fuzz_$t.log and $OUT/artifacts/)" >&2
        tail -n 40 "$OUT/fuzz_$t.log" >&2
        status=1
        continue
    fi
    grep -E '^stat::number_of_executed_units|^Done ' "$OUT/fuzz_$t.log"
    echo "== fuzz_$t: ok"
done
exit $status
