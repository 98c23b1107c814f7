#!/bin/sh
# tests/fuzz/run.sh [SECONDS] [TARGET...]: builds the libFuzzer targets into build/fuzz/ with clang
# (-fsanitize=fuzzer,address,undefined), replays the regression inputs in tests/fuzz/regress/<t>/,
# then fuzzes each target for SECONDS [60] in turn (never two at once), starting from the seeds in
# tests/fuzz/corpus/<t>/ and writing new corpus entries to build/fuzz/corpus-<t>/ (not the repo).
# SECONDS = 0: build, replay the regression inputs and the seed corpus once, no fuzzing.
# Prints per target "fuzz <t>: N executions in S s, ..." (libFuzzer's stat::number_of_executed_units).
# Exit status: 0 when nothing crashed, 1 when a target crashed or a regression input failed,
# 2 when the build failed. Crash inputs land in build/fuzz/artifacts/<t>/: copy them to
# tests/fuzz/regress/<t>/ once the bug is understood, so every later run replays them.
# Environment: CLANG (default clang-14, else clang); SPATE_FUZZ_SRC: a tree whose engine/ and cli/
# sources are fuzzed instead of this one's (to try a fix without touching the repo).
set -u
SECS=${1:-60}
[ $# -gt 0 ] && shift
ROOT=$(cd "$(dirname -- "$0")/../.." && pwd)
cd "$ROOT" || exit 2
ALL_TARGETS="url input http1"
TARGETS=${*:-$ALL_TARGETS}
OUT=build/fuzz
FZ=tests/fuzz
LLHTTP_DIR=${LLHTTP_DIR:-/usr/share/llhttp}
LLHTTP_INC=${LLHTTP_INC:-/usr/share/include/llhttp}

if [ -z "${CLANG:-}" ]; then
    if command -v clang-14 >/dev/null 2>&1; then CLANG=clang-14
    elif command -v clang >/dev/null 2>&1; then CLANG=clang
    else echo "fuzz: clang not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2; exit 2; fi
fi

SAN="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
SRC=${SPATE_FUZZ_SRC:-.}
OBJ=$OUT/obj
[ "$SRC" = . ] || OBJ=$OUT/obj-alt
CFLAGS="-g -O1 -std=c11 -D_GNU_SOURCE $SAN -I$SRC/engine -I$SRC/cli -I$LLHTTP_INC"
mkdir -p "$OBJ" || exit 2

# compile SRC OBJ [EXTRA...]: when SRC (or a project header) is newer than OBJ.
compile() {
    _src=$1; _obj=$2; shift 2
    if [ -f "$_obj" ] && [ ! "$_src" -nt "$_obj" ]; then
        _stale=
        for _h in "$SRC"/engine/*.h "$SRC"/cli/*.h; do [ "$_h" -nt "$_obj" ] && { _stale=1; break; }; done
        [ -z "$_stale" ] && return 0
    fi
    # -fsanitize=fuzzer would add a main() to every object: objects get only the coverage part.
    # shellcheck disable=SC2086
    $CLANG $(echo "$CFLAGS" | sed 's/-fsanitize=fuzzer,/-fsanitize=fuzzer-no-link,/') "$@" \
        -c "$_src" -o "$_obj" || { echo "fuzz: compiling $_src failed" >&2; exit 2; }
}

for f in api http llhttp; do
    compile "$LLHTTP_DIR/$f.c" "$OBJ/llhttp_$f.o" -DLLHTTP_STRICT_MODE=1 -w
done
for f in engine/url engine/buf engine/err engine/http1 cli/json cli/input cli/text cli/errmsg; do
    compile "$SRC/$f.c" "$OBJ/$(echo "$f" | tr / _).o" -Wall -Wextra
done
LLHTTP_OBJ="$OBJ/llhttp_api.o $OBJ/llhttp_http.o $OBJ/llhttp_llhttp.o"
objs_for() {
    case $1 in
    url) echo "$OBJ/engine_url.o $OBJ/engine_buf.o $OBJ/engine_err.o" ;;
    input) echo "$OBJ/cli_input.o $OBJ/cli_json.o $OBJ/cli_text.o $OBJ/cli_errmsg.o $OBJ/engine_url.o $OBJ/engine_buf.o $OBJ/engine_err.o" ;;
    http1) echo "$OBJ/engine_http1.o $OBJ/engine_buf.o $LLHTTP_OBJ" ;;
    esac
}
for t in $TARGETS; do
    case " $ALL_TARGETS " in *" $t "*) ;; *) echo "fuzz: unknown target '$t' (known: $ALL_TARGETS)" >&2; exit 2 ;; esac
    compile "$FZ/fuzz_$t.c" "$OBJ/fuzz_$t.o" -Wall -Wextra
    # shellcheck disable=SC2046,SC2086
    $CLANG $SAN -o "$OUT/fuzz_$t" "$OBJ/fuzz_$t.o" $(objs_for "$t") ||
        { echo "fuzz: linking fuzz_$t failed" >&2; exit 2; }
done

# libFuzzer's own checks stay on; leaks are findings too.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
FAILED=0
TOTAL=0

for t in $TARGETS; do
    bin=$OUT/fuzz_$t
    dict=
    [ -f "$FZ/$t.dict" ] && dict="-dict=$FZ/$t.dict"
    # 1. regression inputs (former crashes, or known bugs not fixed yet): each must run clean
    if [ -d "$FZ/regress/$t" ] && [ -n "$(ls -A "$FZ/regress/$t" 2>/dev/null)" ]; then
        nreg=0; nbad=0
        : >"$OUT/regress-$t.log"
        for f in "$FZ/regress/$t"/*; do
            nreg=$((nreg + 1))
            if ! "$bin" -runs=1 "$f" >"$OUT/regress-$t.one" 2>&1; then
                nbad=$((nbad + 1))
                echo "fuzz $t: REGRESSION: $f fails:"
                grep -E 'invariant failed|runtime error|ERROR: AddressSanitizer|ERROR: LeakSanitizer|error message|split feed' \
                    "$OUT/regress-$t.one" | head -5 | sed 's/^/    /'
            fi
            cat "$OUT/regress-$t.one" >>"$OUT/regress-$t.log"
        done
        rm -f "$OUT/regress-$t.one"
        echo "fuzz $t: $nreg regression inputs replayed, $nbad failed (log: $OUT/regress-$t.log)"
        [ $nbad = 0 ] || FAILED=1
    fi
    # 2. fuzzing (or, with SECONDS = 0, one pass over the seeds)
    mkdir -p "$OUT/corpus-$t" "$OUT/artifacts/$t"
    before=$(ls -A "$OUT/corpus-$t" | wc -l)
    if [ "$SECS" = 0 ]; then
        set -- -runs=0
    else
        set -- -max_total_time="$SECS"
    fi
    log=$OUT/$t.log
    start=$(date +%s)
    # shellcheck disable=SC2086
    "$bin" "$@" -print_final_stats=1 -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$OUT/artifacts/$t/" $dict "$OUT/corpus-$t" "$FZ/corpus/$t" >"$log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    after=$(ls -A "$OUT/corpus-$t" | wc -l)
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
    TOTAL=$((TOTAL + ${execs:-0}))
    if [ $rc = 0 ]; then
        echo "fuzz $t: ${execs:-?} executions in ${secs} s, coverage ${cov:-?} edges, corpus +$((after - before)) (total $after in $OUT/corpus-$t), no crash"
    else
        art=$(grep -Eo "Test unit written to [^ ]+" "$log" | tail -n 1 | sed 's/Test unit written to //')
        echo "fuzz $t: CRASH after ${execs:-?} executions in ${secs} s (exit $rc); input: ${art:-see log}; log: $log"
        grep -E 'ERROR:|invariant failed|runtime error|SUMMARY|==ERROR' "$log" | head -10 | sed 's/^/    /'
        FAILED=1
    fi
done
echo "fuzz: $TOTAL executions in total"
exit $FAILED
