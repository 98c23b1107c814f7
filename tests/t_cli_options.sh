#!/bin/sh
# t_cli_options.sh: the command line of `spate fetch` and `spate bench`. Every long option the help
# text names is accepted by its exact name and refused by a prefix (the list comes from
# `spate help fetch|bench`, so it cannot drift from the code); "did you mean"; durations with units
# and sizes with K/M/G, checked by what they do against a server; --json data validated;
# -V/--version against the libraries' own reports; `spate help`.
. "$(dirname "$0")/lib/tap.sh"
require_spate

tmpdir T
srv_start "$T" || { echo "Bail out! http_server.py did not start"; exit 1; }
S=$SRV_URL/case
# logged PREFIX: requests the server logged with a target starting with PREFIX.
logged() { jl "$SRV_LOG" "len([r for r in rows if r.get('target', '').startswith('$1')])"; }
secs() { echo "$ELAPSED" | awk -v lo="$1" -v hi="$2" '{ exit !($1 >= lo && $1 <= hi) }'; }
errtext() { head -c 2000 "$(err "$1")"; }

echo "$S/ok/from-input" >"$T/input.txt"
mkdir "$T/odir"

# options HELPFILE: one line per long option the help text names: "NAME METAVAR" (METAVAR "-" for
# a flag). A metavar is the word after a single space; two spaces or text in lower case end it.
options() {
    "$PY" - "$1" <<'EOF'
import re, sys
seen = {}
for line in open(sys.argv[1]):
    for m in re.finditer(r"--([a-z][a-z0-9-]*)(?: ('[^']*'|[A-Z][A-Z0-9_:|@\[\]]*)(?![a-z]))?", line):
        seen.setdefault(m.group(1), m.group(2) or "-")
for name, meta in seen.items():
    print(name, meta)
EOF
}

# value CMD NAME METAVAR: a valid value for the option.
value() {
    case "$2" in
    json | data-json) echo '{"a": 1}'; return ;;
    input) echo "$T/input.txt"; return ;;
    output-dir) echo "$T/odir"; return ;;
    latency-file) echo "$T/lat.txt"; return ;;
    hdr-log) echo "$T/hdr.hlog"; return ;;
    segment) echo 0/1; return ;;
    start-at) echo +0.1; return ;;
    cacert) echo "/etc/ssl/certs/ca-certificates.crt"; return ;;
    resume) echo /dev/null; return ;;
    shard) echo 0/1; return ;;
    procs) echo 2; return ;; # two workers (-c 100 gives each 50)
    esac
    case "$3" in
    N) echo 2 ;;
    S) echo 5 ;;
    R) echo 1000 ;;
    BYTES) echo 1M ;;
    METHOD) echo GET ;;
    "'Name: value'") echo 'X-Opt: 1' ;;
    USER:PASS) echo u:p ;;
    ADDR*) echo 127.0.0.1:9 ;;
    HOST:PORT:ADDR) echo example.test:80:127.0.0.1 ;;
    *) echo x ;;
    esac
}

# extra NAME: what the option needs besides its value to be valid (after BASE, so it wins).
extra() {
    case "$1" in
    procs) echo "-c 2" ;;        # one connection per worker at least
    segments) echo "--segment 0/2 -c 2" ;; # --segments counts the pieces of --segment
    esac
}

# exact_and_prefix CMD BASEARGS...: for each option of `spate help CMD`, the exact name is accepted
# (exit 0, no complaint about the option) and its longest prefix that is no option is refused
# (exit 2, "unknown option", a hint naming the option itself, nothing fetched).
exact_and_prefix() {
    _cmd=$1; shift
    spate help "$_cmd" >"$T/help-$_cmd.txt" 2>&1
    options "$T/help-$_cmd.txt" >"$T/opts-$_cmd.txt"
    _n=$(wc -l <"$T/opts-$_cmd.txt" | tr -d ' ')
    cmp_num "$_n" -ge 10 "$_cmd: the help text names $_n long options"
    cut -d' ' -f1 "$T/opts-$_cmd.txt" >"$T/names-$_cmd.txt"
    while read -r _name _meta; do
        [ "$_name" = help ] && continue
        if [ "$_meta" = - ]; then set -- ; else set -- "$(value "$_cmd" "$_name" "$_meta")"; fi
        run "ex-$_cmd-$_name" "$_cmd" "--$_name" ${1+"$1"} $BASE $(extra "$_name") "$S/ok/exact-$_cmd-$_name"
        if [ "$RC" = 0 ] && ! grep -qi 'unknown option' "$(err "ex-$_cmd-$_name")"; then
            ok 0 "$_cmd --$_name ${1-}: accepted"
        else
            ok 1 "$_cmd --$_name ${1-}: accepted"
            diag "rc=$RC $(errtext "ex-$_cmd-$_name")"
        fi
        _p=$_name
        while :; do
            _p=${_p%?}
            grep -qx -- "$_p" "$T/names-$_cmd.txt" || break
        done
        [ ${#_p} -ge 2 ] || continue
        run "pre-$_cmd-$_name" "$_cmd" "--$_p" ${1+"$1"} $BASE "$S/ok/prefix-$_cmd-$_name"
        _e=$(errtext "pre-$_cmd-$_name")
        if [ "$RC" = 2 ] && printf '%s' "$_e" | grep -q -- "unknown option '--$_p'" &&
            printf '%s' "$_e" | grep -Eq -- "did you mean (--[a-z-]+(, | or ))*--$_name(\\?|,| or)"; then
            ok 0 "$_cmd --$_p: refused as a prefix of --$_name, with the hint"
        else
            ok 1 "$_cmd --$_p: refused as a prefix of --$_name, with the hint"
            diag "rc=$RC $_e"
        fi
    done <"$T/opts-$_cmd.txt"
    is "$(logged /case/ok/prefix-)" 0 "$_cmd: no prefix run fetched anything"
}

BASE="-q"
exact_and_prefix fetch
BASE="-n 2 -c 1"
exact_and_prefix bench
# the same with --name=value
run eq-exact fetch -q --timeout=5 "$S/ok/eq"
is "$RC" 0 "--timeout=5 accepted"
run eq-prefix fetch -q --time=5 "$S/ok/prefix-eq"
is "$RC" 2 "--time=5 refused"
like "$(errtext eq-prefix)" "unknown option '--time'.*did you mean --timeout\\?" "--time=5: the hint names --timeout"

# --- did you mean --------------------------------------------------------------------------------
hint() { # NAME REGEX ARGS...
    _n=$1; _re=$2; shift 2
    run "$_n" "$@"
    if [ "$RC" = 2 ]; then ok 0 "$_n: exit 2"; else ok 1 "$_n: exit 2"; diag "rc=$RC"; fi
    like "$(errtext "$_n")" "$_re" "$_n: $(errtext "$_n" | head -n 1)"
}
hint time "unknown option '--time' \\(did you mean --timeout\\?\\)" fetch --time 1 "$S/ok/prefix-x"
hint retry "unknown option '--retry' \\(did you mean --retries\\?\\)" fetch --retry 2 "$S/ok/prefix-x"
hint curl-m "unknown option '-m' \\(did you mean --timeout\\?\\)" fetch -m 3 "$S/ok/prefix-x"
hint max-time "unknown option '--max-time' \\(did you mean --timeout\\?\\)" fetch --max-time 3 "$S/ok/prefix-x"
hint one-dash "unknown option '-t' \\(did you mean --timeout\\?\\)" fetch -timeout 3 "$S/ok/prefix-x"
hint typo "unknown option '--concurency' \\(did you mean --concurrency\\?\\)" fetch --concurency 3 "$S/ok/prefix-x"
# the issue's case: --head was taken as --header, sending a header "http: //..."
hint body-head "unknown option '--head' \\(did you mean --header\\?\\)" fetch --body --head "$S/ok/prefix-x" "$S/ok/prefix-y"
hint bench-time "unknown option '--time' \\(did you mean --timeout\\?\\)" bench --time 1 -n 1 "$S/ok/prefix-x"
hint bench-concurrency "did you mean --connections\\?" bench --concurrency 4 -n 1 "$S/ok/prefix-x"
hint flag-value "option '--insecure' takes no value" fetch --insecure=1 "$S/ok/prefix-x"
run far fetch --bogus-opt "$S/ok/prefix-x"
unlike "$(errtext far)" 'did you mean' "--bogus-opt: no hint when nothing is near"
is "$(logged /case/ok/prefix-)" 0 "nothing was fetched by a refused command line"

# --- durations: seconds or a unit, checked by what the server saw ---------------------------------
run t-ms fetch -q --timeout 300ms "$S/slow/3000/t-ms"
is "$(jl "$(out t-ms)" "rows[0]['error']['kind']")" timeout "--timeout 300ms: a 3 s answer times out"
secs 0.25 2.5; ok $? "--timeout 300ms: after about 0.3 s (${ELAPSED}s)"
run t-dec fetch -q --timeout 0.3 "$S/slow/3000/t-dec"
is "$(jl "$(out t-dec)" "rows[0]['error']['kind']")" timeout "--timeout 0.3: the same"
secs 0.25 2.5; ok $? "--timeout 0.3: after about 0.3 s (${ELAPSED}s)"
run t-s fetch -q --timeout 1s "$S/slow/300/t-s"
is "$RC" 0 "--timeout 1s: a 0.3 s answer is in time"
run t-m fetch -q --timeout 2m --connect-timeout 10s --grace 1m --backoff 250ms --retries 1 "$S/slow/200/t-m"
is "$RC" 0 "2m, 10s, 1m, 250ms: accepted and in time"
run t-h fetch -q --timeout 1h "$S/ok/t-h"
is "$RC" 0 "--timeout 1h accepted"
for v in 1x ms -1s 2d 1e7 300000m 1.5.s ''; do
    run "t-bad-$v" fetch --timeout "$v" "$S/ok/prefix-bad"
    _e=$(errtext "t-bad-$v")
    if [ "$RC" = 2 ] && printf '%s' "$_e" | grep -q -- '--timeout' &&
        printf '%s' "$_e" | grep -q '250ms'; then
        ok 0 "--timeout '$v': refused, the message names the option and the units"
    else
        ok 1 "--timeout '$v': refused, the message names the option and the units"
        diag "rc=$RC $_e"
    fi
done
run bench-d bench -d 500ms -c 1 "$S/ok/bench-d"
is "$RC" 0 "bench -d 500ms: exit 0"
secs 0.45 4; ok $? "bench -d 500ms: runs about half a second (${ELAPSED}s)"

# --- sizes: bytes or K/M/G, powers of 1024 -------------------------------------------------------
size_case() { # NAME MAXBODY BYTES WANT(ok|too_large)
    run "$1" fetch -q --max-body "$2" "$S/bytes/$3"
    is "$(jl "$(out "$1")" "'ok' if rows[0]['ok'] else rows[0]['error']['kind']")" "$4" "--max-body $2, $3-byte body: $4"
}
size_case k-in 1K 1024 ok
size_case k-over 1K 1025 too_large
size_case k-lower 1k 1025 too_large
size_case m-in 1M 1048576 ok
size_case m-over 1M 1048577 too_large
size_case plain 1000 1001 too_large
size_case g 1G 100000 ok
for v in 1T 1.5K K -1 0x10; do
    run "sz-bad-$v" fetch --max-body "$v" "$S/ok/prefix-sz"
    if [ "$RC" = 2 ] && grep -q -- '--max-body' "$(err "sz-bad-$v")"; then ok 0 "--max-body '$v' refused"
    else ok 1 "--max-body '$v' refused"; diag "rc=$RC $(errtext "sz-bad-$v")"; fi
done

# --- --json data is JSON -------------------------------------------------------------------------
hint json-bad "JSON" fetch --json '{bad' "$S/ok/prefix-json"
printf '{"a": [1, 2' >"$T/bad.json"
hint json-bad-file "bad\\.json.*JSON|JSON.*bad\\.json" fetch --json "@$T/bad.json" "$S/ok/prefix-json"
hint bench-json-bad "JSON" bench --data-json '[1,' -n 1 "$S/ok/prefix-json"
run json-good fetch -q --json '{"a": [1, 2]}' "$S/echo/json-good"
is "$RC" 0 "--json with valid JSON: exit 0"
is "$(jl "$SRV_LOG" "[(body(q).decode(), hdr(q, 'content-type')) for q in rows if q.get('target') == '/case/echo/json-good']")" \
    '[["{\"a\": [1, 2]}", ["application/json"]]]' "--json: the body went out unchanged, as application/json"
is "$(logged /case/ok/prefix-)" 0 "nothing was fetched by a refused duration, size or JSON"

# --- -V / --version: what the libraries report about themselves ---------------------------------
run ver --version
is "$RC" 0 "--version: exit 0"
run ver-V -V
is "$(cat "$(out ver-V)")" "$(cat "$(out ver)")" "-V prints the same"
WANT_SSL=$("$PY" -c 'import ctypes; c = ctypes.CDLL("libcrypto.so.3"); f = c.OpenSSL_version; f.restype = ctypes.c_char_p; f.argtypes = [ctypes.c_int]; print(f(0).decode())' 2>/dev/null)
WANT_ARES=$("$PY" -c 'import ctypes; c = ctypes.CDLL("libcares.so.2"); f = c.ares_version; f.restype = ctypes.c_char_p; print(f(None).decode())' 2>/dev/null)
WANT_LLHTTP=$(awk '/define LLHTTP_VERSION_(MAJOR|MINOR|PATCH)/ { v = v (v == "" ? "" : ".") $3 } END { print v }' /usr/share/include/llhttp/llhttp.h 2>/dev/null)
WANT_SPATE=$(sed -n 's/^#define SPATE_VERSION "\(.*\)"/\1/p' "$TESTS_DIR/../engine/spate.h")
V=$(cat "$(out ver)")
like "$V" "^spate $WANT_SPATE\$" "--version: spate $WANT_SPATE (SPATE_VERSION)"
if [ -n "$WANT_SSL" ]; then like "$V" "^$WANT_SSL\$" "--version: $WANT_SSL, as libcrypto reports itself"
else skip "libcrypto.so.3 not loadable from python"; fi
if [ -n "$WANT_ARES" ]; then like "$V" "^c-ares $WANT_ARES\$" "--version: c-ares $WANT_ARES, as libcares reports itself"
else skip "libcares.so.2 not loadable from python"; fi
if [ -n "$WANT_LLHTTP" ]; then like "$V" "^llhttp $WANT_LLHTTP\$" "--version: llhttp $WANT_LLHTTP, the compiled-in sources"
else skip "llhttp.h not at /usr/share/include/llhttp"; fi

# --- spate help -----------------------------------------------------------------------------------
run help help
is "$RC" 0 "spate help: exit 0"
like "$(cat "$(out help)")" 'spate fetch.*spate bench|fetch' "spate help: names the commands"
run help-fetch help fetch
run fetch-help fetch --help
is "$(cat "$(out help-fetch)")" "$(cat "$(out fetch-help)")" "spate help fetch == spate fetch --help"
like "$(cat "$(out help-fetch)")" '--grace' "spate help fetch: lists the options"
run help-bench help bench
run bench-help bench --help
is "$(cat "$(out help-bench)")" "$(cat "$(out bench-help)")" "spate help bench == spate bench --help"
run help-bad help nope
is "$RC" 2 "spate help nope: exit 2"
run cmd-typo fecth "$S/ok/prefix-cmd"
like "$(errtext cmd-typo)" "did you mean 'fetch'" "spate fecth: did you mean 'fetch'?"

sanitizer_sweep "no sanitizer report in any run"
done_testing
