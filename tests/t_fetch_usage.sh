#!/bin/sh
# t_fetch_usage.sh: bad `spate fetch` command lines and inputs: exit 2, a message on stderr that
# names the problem, no result on stdout, and nothing fetched (bad input lines under --strict;
# without it they are results of kind input: t_fetch_stream.sh); an input without requests is a
# run of 0 (exit 0) (a valid URL to http_server.py is
# given in every case, before the bad part where order matters; the server must log nothing).
. "$(dirname "$0")/lib/tap.sh"
require_spate
plan 81

tmpdir T
srv_start "$T" || { echo "Bail out! http_server.py did not start"; exit 1; }
G=$SRV_URL/case/ok

# bad NAME REGEX ARGS...: spate fetch ARGS must exit 2 with no stdout and stderr matching REGEX
# (case-insensitive). The good URL's path carries NAME so a wrongly fetched case is identified.
bad() {
    _name=$1; _re=$2; shift 2
    run "$_name" fetch "$@"
    _o=$(head -c 300 "$(out "$_name")")
    if [ "$RC" = 2 ] && [ -z "$_o" ]; then ok 0 "$_name: exit 2, no result printed"
    else ok 1 "$_name: exit 2, no result printed"; diag "rc=$RC stdout: $_o"; fi
    like_i "$(cat "$(err "$_name")")" "$_re" "$_name: message names the problem"
}

bad unknown-opt 'bogus-opt' --bogus-opt "$G/unknown-opt"
bad unknown-short "(-Z|'Z'|\bZ\b)" -Z "$G/unknown-short"
bad missing-arg-c "(-c|'c'|concurrency)" "$G/missing-arg-c" -c
bad missing-arg-timeout 'timeout' "$G/missing-arg-timeout" --timeout
bad c-zero '(-c|concurrency)' -c 0 "$G/c-zero"
bad c-abc '(-c|concurrency|abc)' -c abc "$G/c-abc"
bad c-negative '(-c|concurrency)' -c -1 "$G/c-negative"
bad timeout-negative 'timeout' --timeout -1 "$G/timeout-negative"
bad timeout-nan 'timeout' --timeout nan "$G/timeout-nan"
bad timeout-junk 'timeout' --timeout 1sec "$G/timeout-junk"
bad retries-negative 'retries' --retries -1 "$G/retries-negative"
bad per-host-abc 'per-host' --per-host abc "$G/per-host-abc"
bad coalesce-abc 'coalesce-us' --coalesce-us abc "$G/coalesce-abc"
bad coalesce-huge 'coalesce-us' --coalesce-us 100001 "$G/coalesce-huge"
bad scheme-ftp 'ftp' "$G/scheme-ftp" 'ftp://x/'
bad ipv6-open '(\[::1|ipv6)' "$G/ipv6-open" 'http://[::1/'
bad no-scheme '(example\.com/x|scheme)' "$G/no-scheme" 'example.com/x'
bad empty-url '(empty|url)' "$G/empty-url" ''
bad port-big '(port|99999)' "$G/port-big" 'http://127.0.0.1:99999/'
bad header-space-name 'header' -H 'X A: b' "$G/header-space-name"
CRLF_HDR=$(printf 'X: a\r\nY: b')
bad header-crlf 'header' -H "$CRLF_HDR" "$G/header-crlf"
LF_HDR=$(printf 'X: a\nY: b')
bad header-lf 'header' -H "$LF_HDR" "$G/header-lf"
bad header-nocolon 'header' -H 'NoColon' "$G/header-nocolon"
bad method-space 'method' -X 'G ET' "$G/method-space"
CRLF_METHOD=$(printf 'GET / HTTP/1.1\r\nX:')
bad method-crlf 'method' -X "$CRLF_METHOD" "$G/method-crlf"
bad no-urls '(no (url|request)|nothing to (fetch|do)|missing url)'
: >"$T/empty.txt"
printf '# only a comment\n\n' >"$T/comments.txt"
# an input that holds no request is a run of 0 requests, not an error (SPEC)
for _c in empty comments; do
    run "$_c-file" fetch -i "$T/$_c.txt"
    is "$RC" 0 "$_c-file: an input without requests exits 0"
    is "$(cat "$(out "$_c-file")")" "" "$_c-file: no result line"
    like "$(cat "$(err "$_c-file")")" '^spate fetch: 0 requests, 0 ok, 0 failed' "$_c-file: a summary of 0 requests"
done
bad missing-file 'urls-missing\.txt.*no such file|no such file.*urls-missing\.txt' "$G/missing-file" -i "$T/urls-missing.txt"
bad dir-as-file 'directory' "$G/dir-as-file" -i "$T"
printf '%s\n%s\n{"url": \n%s\n' "$G/badjson-1" "$G/badjson-2" "$G/badjson-4" >"$T/urls.txt"
bad bad-json-line 'urls\.txt:3' --strict -i "$T/urls.txt"
printf '%s\nftp://x/\n' "$G/badurl-1" >"$T/badurl.txt"
bad bad-url-line 'badurl\.txt:2' --strict -i "$T/badurl.txt"
printf '%s\n{"method": "GET"}\n' "$G/nourl-1" >"$T/nourl.txt"
bad json-no-url 'nourl\.txt:2' --strict -i "$T/nourl.txt"
printf '{"url": "%s", "headers": {"X": "a\\r\\nY: b"}}\n' "$G/json-crlf" >"$T/jcrlf.txt"
bad json-header-crlf 'jcrlf\.txt:1' --strict -i "$T/jcrlf.txt"
bad data-missing 'data-missing\.bin.*no such file|no such file.*data-missing\.bin' -d "@$T/data-missing.bin" "$G/data-missing"
# the stdin variant: the message names the line too
printf '%s\nnot a url at all\n' "$G/stdin-bad-1" >"$T/stdin.txt"
RUN_STDIN=$T/stdin.txt bad stdin-bad-line '(stdin>?|-):2|line 2' --strict -i -

sleep 0.2
is "$(srv_requests)" 0 "nothing was fetched by any of the bad command lines"
[ "$(srv_requests)" = 0 ] || diag "fetched: $(jl "$SRV_LOG" "[r['target'] for r in rows if 'target' in r]")"

# positive controls: the same shapes, made valid, do fetch (so the checks above are meaningful)
run good fetch -q -c 1 --timeout 5 --retries 0 --per-host 2 -H 'X-A: b' -X GET "$G/good" 'http://127.0.0.1:'"$SRV_PORT"'/case/ok/good2'
is "$RC" 0 "control: a valid command line exits 0"
is "$(jl "$(out good)" "len(rows)")" 2 "control: and prints its results"
printf '%s\n{"url": "%s"}\n' "$G/good3" "$G/good4" >"$T/good.txt"
run goodfile fetch -q -i "$T/good.txt"
is "$RC" 0 "control: a valid input file exits 0"
run help fetch --help
is "$RC" 0 "--help exits 0"
like "$(cat "$(out help)" "$(err help)")" '--concurrency' "--help lists the options"

sanitizer_sweep "no sanitizer report in any run"
done_testing
