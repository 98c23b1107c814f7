#!/bin/sh
# t_fetch_output.sh: where `spate fetch` results and bodies go, against a private nginx. -o DIR: every
# complete body kept (error statuses too), the result names its file, a repeated id never
# overwrites (id, id.1, id.2, ...), ids percent-encoded so none leaves DIR, each file's sha256 equal
# to what nginx served, no default body cap; a closed stdout (`| head -1` on 100,000 URLs) stops
# the run at once; a result line that cannot be written (/dev/full) makes the exit status
# non-zero; an empty input is a run of 0.
. "$(dirname "$0")/lib/tap.sh"
. "$TAP_LIB/nginx.sh"
require_spate
plan 34

tmpdir T shm
mkdir -p "$T/www/r"
# random bodies of assorted sizes (0 bytes to 200 KiB), a custom 404 page, a 500 with a fixed body
"$PY" - "$T/www" <<'EOF'
import os, sys
d = sys.argv[1]
sizes = [1000, 0, 3, 70000, 1, 204800, 17, 4096, 65537, 5]
for i, n in enumerate(sizes):
    open(os.path.join(d, "r", str(i)), "wb").write(os.urandom(n))
for i in range(10, 60):
    open(os.path.join(d, "r", str(i)), "wb").write(os.urandom(100 + i))
open(os.path.join(d, "err404.html"), "wb").write(b"no such thing\n" + os.urandom(300))
EOF
nginx_start "$T" "" 'error_page 404 /err404.html; location = /e500 { return 500 "server broke\n"; }' ||
    { echo "Bail out! nginx did not start"; exit 1; }
U=$NGINX_URL
DEAD=$(free_port)
now() { date +%s.%N; }

# --- -o: names, collisions, error bodies, sha256 of what nginx served -----------------------------
cat >"$T/ids.jsonl" <<EOF
{"url": "$U/r/0", "id": "a"}
{"url": "$U/r/1", "id": "a"}
{"url": "$U/r/2", "id": "a"}
{"url": "$U/r/3", "id": "a.1"}
{"url": "$U/nope", "id": "../../etc/x"}
{"url": "$U/e500", "id": ".hidden"}
{"url": "$U/r/4", "id": "sp ace/\u00e9"}
{"url": "$U/r/5", "id": 42}
{"url": "$U/r/6", "id": {"k": [1]}}
{"url": "$U/r/7"}
{"url": "$U/r/8", "id": ""}
{"url": "http://127.0.0.1:$DEAD/x", "id": "dead"}
EOF
mkdir "$T/o"
run odir fetch -q -c 1 -o "$T/o" -i "$T/ids.jsonl"
is "$RC" 1 "-o: exit 1 (a 404, a 500 and a refused connection)"
O=$(out odir)
# id -> file name, one pair per line (-c 1: the repeats of "a" finish in input order)
NAMES=$(jl "$O" "json.dumps(sorted(([str(key(r['id'])), r['file'] and r['file'][len('$T/o/'):]] for r in rows), key=str), ensure_ascii=False)")
is "$NAMES" "$("$PY" -c 'import json; print(json.dumps(sorted([
    ["a", "a"], ["a", "a.1"], ["a", "a.2"], ["a.1", "a.1.1"],
    ["../../etc/x", "%2E.%2F..%2Fetc%2Fx"], [".hidden", "%2Ehidden"],
    ["sp ace/\u00e9", "sp%20ace%2F%C3%A9"], ["42", "42"], ["{\"k\":[1]}", "%7B%22k%22%3A%5B1%5D%7D"],
    ["9", "9"], ["", "%22%22"], ["dead", None]], key=str), ensure_ascii=False))')" \
    "-o: file names: repeats numbered, bytes outside A-Za-z0-9._- and a leading dot encoded"
is "$(jl "$O" "sorted(r['file'][len('$T/o/'):] for r in rows if r['file'])")" \
    "$(cd "$T/o" && ls -A | "$PY" -c 'import sys, json; print(json.dumps(sorted(sys.stdin.read().split())))')" \
    "-o: DIR holds exactly the files the lines name"
is "$(jl "$O" "[(r['id'], r['file']) for r in rows if r['id'] == 'dead']")" '[["dead", null]]' \
    "-o: a request without a response has file null"
ok_cmd "-o: no id wrote outside DIR" test ! -e "$T/etc" -a ! -e "$T/.hidden" -a ! -e "$T/x"
# sha_check RESULTS: for every line with a file, its sha256 against that of what nginx served for
# the line's URL (the file under www/, the custom 404 page, the fixed 500 body).
sha_check() {
    "$PY" - "$1" "$T" <<'EOF2'
import hashlib, json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
T = sys.argv[2]
sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
def served(url):
    path = url.split("/", 3)[3]
    if path == "nope": return sha(os.path.join(T, "www", "err404.html"))
    if path == "e500": return hashlib.sha256(b"server broke\n").hexdigest()
    return sha(os.path.join(T, "www", path))
files = [r for r in rows if r["file"]]
bad = [(r["id"], r["url"]) for r in files if sha(r["file"]) != served(r["url"])]
print("%d files, %s" % (len(files), "all match" if not bad else "differ: %r" % bad[:3]))
EOF2
}
is "$(sha_check "$O")" "11 files, all match" "-o: every file's sha256 is that of what nginx served (404 and 500 bodies too)"
is "$(jl "$O" "[(r['status'], r['error']['kind']) for r in rows if r['id'] in ('../../etc/x', '.hidden')]")" \
    '[[404, "http"], [500, "http"]]' "-o: the error bodies kept are those of failures of kind http"
is "$(jl "$O" "[r['id'] for r in rows if r['file'] and len(open(r['file'], 'rb').read()) != r['bytes']]")" '[]' \
    "-o: each file holds 'bytes' bytes"

# the same id 50 times at -c 16: 50 files, none overwritten, each with its own body
for i in $(seq 10 59); do echo "{\"url\": \"$U/r/$i\", \"id\": \"same\"}"; done >"$T/same.jsonl"
mkdir "$T/o2"
run same fetch -q -c 16 -o "$T/o2" -i "$T/same.jsonl"
is "$RC" 0 "same id x50: exit 0"
is "$(ls "$T/o2" | wc -l | tr -d ' ')" 50 "same id x50: 50 files"
is "$(jl "$(out same)" "sorted(r['file'][len('$T/o2/'):] for r in rows) == sorted(['same'] + ['same.%d' % k for k in range(1, 50)])")" true \
    "same id x50: named same, same.1 ... same.49"
is "$(T=$T "$PY" -c "
import json, hashlib, os
rows = [json.loads(l) for l in open('$(out same)')]
sha = lambda p: hashlib.sha256(open(p, 'rb').read()).hexdigest()
print(sum(sha(r['file']) == sha(os.path.join('$T/www', r['url'].split('/', 3)[3])) for r in rows))")" 50 \
    "same id x50: each file's sha256 is that of its own URL's body"

# no default body cap with -o (the body goes to disk): 64 MiB + 1 byte
head -c $((64 * 1024 * 1024 + 1)) /dev/zero >"$T/www/big"
mkdir "$T/o3"
run big-o fetch -q -o "$T/o3" "$U/big"
is "$(jl "$(out big-o)" "(rows[0]['ok'], rows[0]['bytes'])")" "[true, $((64 * 1024 * 1024 + 1))]" "-o: a body over 64 MiB is ok (no default cap)"
ok_cmd "-o: the 64 MiB + 1 file is what nginx served" cmp "$T/www/big" "$T/o3/0"
run big-plain fetch -q "$U/big"
is "$(jl "$(out big-plain)" "rows[0]['error']['kind']")" too_large "without -o: the 64 MiB default cap holds"
mkdir "$T/o4"
run big-cap fetch -q -o "$T/o4" --max-body 1M "$U/big"
is "$(jl "$(out big-cap)" "(rows[0]['error']['kind'], rows[0]['file'])")" '["too_large", null]' \
    "-o --max-body 1M: too_large, file null"
is "$(ls -A "$T/o4")" "" "-o --max-body 1M: the cut body's file is removed"
rm -f "$T/www/big" "$T/o3/0"

# --- a closed stdout stops the run at once: | head -1 on 100,000 URLs ------------------------------
N=100000
: >"$NGINX_DIR/access.log"
seq 0 $((N - 1)) | sed "s|.*|$U/r/1?&|" >"$T/many.txt"
mkfifo "$T/fifo"
"$SPATE_BIN" fetch -c 64 -i "$T/many.txt" >"$T/fifo" 2>"$T/head.err" &
SP=$!
on_exit "kill -KILL $SP 2>/dev/null"
head -n 1 <"$T/fifo" >"$T/head.out"
T_HEAD=$(now)
sh -c 'sleep 60; kill -KILL "$1"' _ $SP >/dev/null 2>&1 </dev/null &
WD=$!
wait $SP
RC=$?
TOOK=$(echo "$T_HEAD $(now)" | awk '{printf "%.3f", $2 - $1}')
kill $WD 2>/dev/null
is "$RC" 141 "| head -1: exit status 141 (as a tool killed by SIGPIPE)"
echo "$TOOK" | awk '{ exit !($1 < 1) }'; ok $? "| head -1: spate exits within a second of head (${TOOK}s)"
is "$(jl "$T/head.out" "(len(rows), rows[0]['ok'])")" "[1, true]" "| head -1: head got one whole result line"
sleep 0.5
SEEN=$(grep -c '^/r/1?' "$NGINX_DIR/access.log")
cmp_num "$SEEN" -lt $((N / 10)) "| head -1: nginx saw far fewer than $N requests ($SEEN)"
like "$(cat "$T/head.err")" 'stdout was closed' "| head -1: the summary says why the run stopped"

# between results too: a reader that leaves while every request is slow ends the run at once
srv_start "$T" || { echo "Bail out! http_server.py did not start"; exit 1; }
for i in 0 1 2 3 4 5; do echo "$SRV_URL/case/slow/5000/gone-$i"; done >"$T/gone.txt"
mkfifo "$T/fifo2"
"$SPATE_BIN" fetch -c 2 -i "$T/gone.txt" >"$T/fifo2" 2>"$T/gone.err" &
SP=$!
on_exit "kill -KILL $SP 2>/dev/null"
exec 4<"$T/fifo2" # a reader that never reads, until 2 requests are in flight at the server
_i=0
while [ "$(srv_requests)" -lt 2 ] && [ $_i -lt 200 ]; do sleep 0.05; _i=$((_i + 1)); done
exec 4<&-
T_GONE=$(now)
sh -c 'sleep 30; kill -KILL "$1"' _ $SP >/dev/null 2>&1 </dev/null &
WD=$!
wait $SP
RC=$?
TOOK=$(echo "$T_GONE $(now)" | awk '{printf "%.3f", $2 - $1}')
kill $WD 2>/dev/null
is "$RC" 141 "reader gone while requests are slow: exit status 141"
echo "$TOOK" | awk '{ exit !($1 < 1) }'; ok $? "reader gone: spate exits within a second, not after the 5 s answers (${TOOK}s)"
sleep 0.3
is "$(srv_requests)" 2 "reader gone: the 2 in flight were all the server saw, none started after"

# --- a result line that cannot be written makes the status non-zero ---------------------------------
if [ -w /dev/full ]; then
    "$SPATE_BIN" fetch -q "$U/r/2" >/dev/full 2>"$T/full1.err"
    is "$?" 1 "> /dev/full, one URL: exit status 1"
    like "$(cat "$T/full1.err")" 'cannot write results: No space left' "> /dev/full: the error names the cause"
    head -n 2000 "$T/many.txt" >"$T/2000.txt"
    : >"$NGINX_DIR/access.log"
    "$SPATE_BIN" fetch -i "$T/2000.txt" >/dev/full 2>"$T/full2.err"
    is "$?" 1 "> /dev/full, 2,000 URLs: exit status 1"
    like "$(cat "$T/full2.err")" 'result lines could not be written' "> /dev/full: the summary counts the lost lines"
    cmp_num "$(grep -c '^/r/1?' "$NGINX_DIR/access.log")" -lt 2000 "> /dev/full: the run stopped early"
else
    for _i in 1 2 3 4 5; do skip "/dev/full is not writable here"; done
fi

# --- an input with no request ------------------------------------------------------------------------
RUN_STDIN=/dev/null run empty-stdin fetch -i -
is "$RC" 0 "empty stdin: exit 0"
is "$(cat "$(out empty-stdin)")" "" "empty stdin: no line"
like "$(cat "$(err empty-stdin)")" '0 requests, 0 ok, 0 failed' "empty stdin: a summary of 0 requests"

SANE=0
for _f in "$RUN_DIR"/*.err "$T"/*.err; do grep -Eq "$SANITIZER_RE" "$_f" && { SANE=1; diag "$(grep -E -A 12 "$SANITIZER_RE" "$_f" | head -30)"; }; done
ok $SANE "no sanitizer report in any run"
done_testing
