# tap.sh: TAP helpers for the shell integration tests (sourced; POSIX sh + bash).
# A test: `. "$(dirname "$0")/lib/tap.sh"; require_spate; plan N; ...; done_testing`.
# Every process a test starts goes through `bg_start` (or is registered with `on_exit`) and every
# temp dir through `tmpdir`, so the EXIT trap leaves nothing behind.

if [ -z "${TAP_LIB:-}" ]; then
    if [ -n "${BASH_SOURCE:-}" ]; then TAP_LIB=$(cd "$(dirname -- "$BASH_SOURCE")" && pwd)
    else TAP_LIB=$(cd "$(dirname -- "$0")/lib" && pwd); fi
fi
TESTS_DIR=$(dirname -- "$TAP_LIB")
PY=${PYTHON:-python3}

# Sanitizer findings must make spate exit nonzero and be visible on stderr. exitcode=86 keeps them
# apart from spate's own exit statuses 1 and 2. A caller's own settings win.
: "${ASAN_OPTIONS:=detect_leaks=1:abort_on_error=0:exitcode=86}"
: "${UBSAN_OPTIONS:=print_stacktrace=1:halt_on_error=1:exitcode=86}"
: "${LSAN_OPTIONS:=exitcode=86}"
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
# spate must never reach a proxy, whatever the environment says.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

TAP_N=0
TAP_FAILED=0
TAP_PLANNED=

plan() { TAP_PLANNED=$1; echo "1..$1"; }

# skip_all REASON: the whole file is skipped (prints a plan of 0).
skip_all() { echo "1..0 # SKIP $*"; exit 0; }

diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

# ok STATUS DESC: passes when STATUS (an exit code) is 0.
ok() {
    TAP_N=$((TAP_N + 1))
    [ -n "${TAP_TIMING:-}" ] && echo "# t=$(date +%s.%N)"
    if [ "$1" = 0 ]; then
        echo "ok $TAP_N - $2"
        return 0
    fi
    echo "not ok $TAP_N - $2"
    TAP_FAILED=$((TAP_FAILED + 1))
    return 1
}

# ok_cmd DESC CMD...: passes when CMD exits 0; CMD's output goes to TAP diagnostics.
ok_cmd() {
    _d=$1; shift
    _o=$("$@" 2>&1)
    if ok $? "$_d"; then return 0; fi
    [ -n "$_o" ] && diag "$_o"
    return 1
}

# is GOT WANT DESC
is() {
    if [ "$1" = "$2" ]; then ok 0 "$3"; return 0; fi
    ok 1 "$3"
    diag "  got: '$1'" "want: '$2'"
    return 1
}

# isnt GOT UNWANTED DESC
isnt() {
    if [ "$1" != "$2" ]; then ok 0 "$3"; return 0; fi
    ok 1 "$3"
    diag "  got: '$1'" "want anything else"
    return 1
}

# like GOT ERE DESC (case-sensitive); like_i is case-insensitive; unlike: must not match.
like() {
    if printf '%s\n' "$1" | grep -Eq -- "$2"; then ok 0 "$3"; return 0; fi
    ok 1 "$3"
    diag "  got: '$(printf '%s' "$1" | head -c 2000)'" "want match: /$2/"
    return 1
}
like_i() {
    if printf '%s\n' "$1" | grep -Eiq -- "$2"; then ok 0 "$3"; return 0; fi
    ok 1 "$3"
    diag "  got: '$(printf '%s' "$1" | head -c 2000)'" "want match (any case): /$2/"
    return 1
}
unlike() {
    if ! printf '%s\n' "$1" | grep -Eq -- "$2"; then ok 0 "$3"; return 0; fi
    ok 1 "$3"
    diag "  got: '$(printf '%s' "$1" | head -c 2000)'" "want no match: /$2/"
    return 1
}

# cmp_num A OP B DESC with OP one of -lt -le -eq -ge -gt -ne (integers).
cmp_num() {
    if [ "$1" "$2" "$3" ] 2>/dev/null; then ok 0 "$4"; return 0; fi
    ok 1 "$4"
    diag "  got: '$1'" "want: $2 $3"
    return 1
}

# at_most_times A B F DESC: passes when A and B are positive numbers and A <= F x B (two peak RSS
# figures, say); DESC is followed by the ratio and the bound: "DESC (1.236x, at most 1.3x)".
at_most_times() {
    _r=$(awk -v a="$1" -v b="$2" \
        'BEGIN { if (a > 0 && b > 0) printf "%.3f", a / b; else print "?" }')
    awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { exit !(a > 0 && b > 0 && a <= f * b) }'
    ok $? "$4 (${_r}x, at most $3x)"
}

skip() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N # skip $*"; }

# done_testing: checks the plan (prints it when none was given) and says how it went.
done_testing() {
    if [ -z "$TAP_PLANNED" ]; then
        echo "1..$TAP_N"
    elif [ "$TAP_PLANNED" != "$TAP_N" ]; then
        diag "planned $TAP_PLANNED tests but ran $TAP_N"
    fi
    [ "$TAP_FAILED" = 0 ] || diag "$TAP_FAILED of $TAP_N failed"
    exit 0
}

# --- cleanup --------------------------------------------------------------------------------
TAP_CLEANUP=
# on_exit CMD: runs CMD (a string for eval) at exit, last registered first.
on_exit() { TAP_CLEANUP="$1
$TAP_CLEANUP"; }
tap_cleanup() {
    _c=$TAP_CLEANUP; TAP_CLEANUP=
    _ifs=$IFS; IFS='
'
    set -f
    for _l in $_c; do IFS=$_ifs; eval "$_l"; done
    set +f; IFS=$_ifs
    return 0
}
trap 'tap_cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
trap 'exit 141' PIPE

# kill_wait PID: TERM, wait up to 3 s, then KILL. Only for processes this test started.
kill_wait() {
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null || return 0
    _i=0
    while kill -0 "$1" 2>/dev/null && [ $_i -lt 30 ]; do sleep 0.1; _i=$((_i + 1)); done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    return 0
}

# bg_start CMD...: runs CMD in the background, killed at exit; sets BG_PID.
bg_start() {
    "$@" &
    BG_PID=$!
    on_exit "kill_wait $BG_PID"
}

# tmpdir VAR [shm]: creates a temp dir removed at exit and stores its path in VAR. With "shm" it
# is on /dev/shm when that is writable (many small files: a disk with discard is slow at them).
tmpdir() {
    _base=${TMPDIR:-/tmp}
    [ "${2:-}" = shm ] && [ -d /dev/shm ] && [ -w /dev/shm ] && _base=/dev/shm
    _t=$(mktemp -d "$_base/spate-test.XXXXXX") || exit 1
    on_exit "rm -rf '$_t'"
    eval "$1=\$_t"
}

# --- network ------------------------------------------------------------------------------------
# free_port: a TCP port on 127.0.0.1 that was free a moment ago.
free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT [SECONDS=10]: waits until 127.0.0.1:PORT accepts connections.
wait_port() {
    "$PY" - "$1" "${2:-10}" <<'EOF'
import socket, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
end = time.monotonic() + limit
while time.monotonic() < end:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF
}

# http_get URL: prints the body of a GET (loopback only), used for control requests.
http_get() {
    "$PY" -c 'import sys, urllib.request as u; sys.stdout.buffer.write(u.build_opener(u.ProxyHandler({})).open(sys.argv[1], timeout=10).read())' "$1"
}

# --- the binary under test ----------------------------------------------------------------------
# require_spate: skips the whole file when $SPATE_BIN is not built.
require_spate() {
    if [ -z "${SPATE_BIN:-}" ]; then
        for _c in "$TESTS_DIR/../build/asan/spate" "$TESTS_DIR/../spate"; do
            if [ -x "$_c" ]; then SPATE_BIN=$(cd "$(dirname "$_c")" && pwd)/$(basename "$_c"); break; fi
        done
    fi
    [ -n "${SPATE_BIN:-}" ] && [ -x "$SPATE_BIN" ] || skip_all "spate not built"
    export SPATE_BIN
}

# spate ARGS...: the binary under a hard timeout (SPATE_TIMEOUT seconds, default 60).
spate() { timeout -k 5 "${SPATE_TIMEOUT:-60}" "$SPATE_BIN" "$@"; }

# run NAME ARGS...: runs `spate ARGS` with stdin from /dev/null (unless RUN_STDIN names a file),
# output in $RUN_DIR/NAME.out and .err; sets RC (exit status) and ELAPSED (seconds, decimal).
RUN_DIR=
run() {
    _n=$1; shift
    [ -n "$RUN_DIR" ] || tmpdir RUN_DIR
    _t0=$(date +%s.%N)
    spate "$@" <"${RUN_STDIN:-/dev/null}" >"$RUN_DIR/$_n.out" 2>"$RUN_DIR/$_n.err"
    RC=$?
    _t1=$(date +%s.%N)
    ELAPSED=$(echo "$_t0 $_t1" | awk '{printf "%.3f", $2 - $1}')
    echo "$RC" >"$RUN_DIR/$_n.rc"
    if [ "$RC" -ge 124 ] && [ "$RC" != 86 ]; then diag "$_n: spate ended by signal/timeout (rc=$RC)"; fi
    return 0
}
out() { echo "$RUN_DIR/$1.out"; }
err() { echo "$RUN_DIR/$1.err"; }

SANITIZER_RE='ERROR: AddressSanitizer|runtime error:|LeakSanitizer|ERROR: UndefinedBehaviorSanitizer|SUMMARY: (Address|UndefinedBehavior|Leak)Sanitizer'

# sanitizer_clean STDERR_FILE DESC: fails (and shows the report) when the file has sanitizer output.
sanitizer_clean() {
    if ! grep -Eq "$SANITIZER_RE" "$1" 2>/dev/null; then ok 0 "$2"; return 0; fi
    ok 1 "$2"
    diag "$(grep -E -A 12 "$SANITIZER_RE" "$1" | head -40)"
    return 1
}

# sanitizer_sweep DESC: one assertion over the stderr of every `run` of this file so far.
sanitizer_sweep() {
    _bad=
    for _f in "$RUN_DIR"/*.err; do
        [ -f "$_f" ] || continue
        grep -Eq "$SANITIZER_RE" "$_f" && _bad="$_bad $(basename "$_f" .err)"
    done
    if [ -z "$_bad" ]; then ok 0 "$1"; return 0; fi
    ok 1 "$1"
    diag "sanitizer reports in:$_bad"
    for _f in $_bad; do diag "$(grep -E -A 12 "$SANITIZER_RE" "$RUN_DIR/$_f.err" | head -30)"; done
    return 1
}

# jq-like checks over JSON Lines: jl FILE EXPR [NAME=FILE ...] (see jsonl_check.py).
jl() { "$PY" "$TAP_LIB/jsonl_check.py" eval "$@"; }
# jl_schema FILE DESC: every line is a well-formed `spate fetch` result object.
jl_schema() { ok_cmd "$2" "$PY" "$TAP_LIB/jsonl_check.py" schema "$1"; }

# py_start PREFIX SCRIPT ARGS...: starts python3 SCRIPT (a name in tests/lib, or a path) with ARGS
# in the background, killed at exit; its stdout goes to PREFIX.port, its stderr to PREFIX.stderr.
# Waits up to 5 s for the first line, the port(s) it listens on. Sets PY_PID, PY_PORTS (that line)
# and PY_PORT (its first word); returns 1 with a diag naming the script and its stderr otherwise.
py_start() {
    _pp=$1 _ps=$2
    shift 2
    case $_ps in /*) ;; *) _ps=$TAP_LIB/$_ps ;; esac
    : >"$_pp.port"
    bg_start "$PY" "$_ps" "$@" >"$_pp.port" 2>"$_pp.stderr"
    PY_PID=$BG_PID
    _i=0
    while ! grep -q . "$_pp.port" && kill -0 "$PY_PID" 2>/dev/null && [ $_i -lt 100 ]; do
        sleep 0.05
        _i=$((_i + 1))
    done
    PY_PORTS=$(head -n 1 "$_pp.port")
    PY_PORT=${PY_PORTS%% *}
    [ -n "$PY_PORT" ] && return 0
    diag "$(basename "$_ps") did not start: $(cat "$_pp.stderr")"
    return 1
}

# --- the Python test server (http_server.py) ----------------------------------------------------
# srv_start DIR [--ports N]: starts it logging to DIR/server.jsonl; sets SRV_PORT (the first
# port), SRV_PORTS (all), SRV_PID, SRV_LOG, SRV_URL (http://127.0.0.1:SRV_PORT).
srv_start() {
    _dir=$1; shift
    SRV_LOG=$_dir/server.jsonl
    : >"$SRV_LOG"
    py_start "$_dir/server" http_server.py "$SRV_LOG" "$@" || return 1
    SRV_PID=$PY_PID SRV_PORTS=$PY_PORTS SRV_PORT=$PY_PORT
    SRV_URL=http://127.0.0.1:$SRV_PORT
}
# srv_stop: stops it; the log's last line is then {"event": "exit", "stats": {...}}.
srv_stop() { kill_wait "$SRV_PID"; }
# srv_requests: number of requests the server has logged so far.
srv_requests() { grep -c '"target"' "$SRV_LOG"; }

# require_release_spate: sets SPATE_REL to the release binary (building it if needed) for tests
# that measure memory with GNU time, where the sanitizer build's figures mean nothing.
require_release_spate() {
    _root=$(cd "$TESTS_DIR/.." && pwd)
    SPATE_REL=${SPATE_REL:-$_root/spate}
    if [ ! -x "$SPATE_REL" ]; then
        make -C "$_root" --no-print-directory spate >/dev/null 2>&1 || skip_all "cannot build the release binary"
    fi
    [ -x "$SPATE_REL" ] || skip_all "release binary $SPATE_REL not built"
    [ -x /usr/bin/time ] || { echo "Bail out! /usr/bin/time missing: run 'make deps' (package time)"; exit 1; }
}
