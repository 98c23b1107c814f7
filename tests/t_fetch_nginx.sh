#!/bin/sh
# t_fetch_nginx.sh: `spate fetch` against a private nginx: 10,000 distinct URLs at -c 64, the
# output contract (JSON Lines fields, ids, bytes), input from arguments and stdin, -q, --body,
# -o DIR, HEAD; and --ordered against http_server.py with fast and slow URLs mixed.
. "$(dirname "$0")/lib/tap.sh"
. "$TAP_LIB/nginx.sh"
require_spate
plan 50

tmpdir T shm
N=10000
make_files "$T/www" $N
# A body that is not UTF-8 (for body_base64) with NUL, CR, LF and 0xff.
"$PY" -c 'import sys; open(sys.argv[1], "wb").write(b"\x00\xff\xfe\r\n" + bytes(range(256)) * 4)' "$T/www/bin.dat"
nginx_start "$T" || { echo "Bail out! nginx did not start"; exit 1; }
U=$NGINX_URL

# --- 10,000 URLs, -c 64 -----------------------------------------------------------------------
seq 0 $((N - 1)) | sed "s|^|$U/f/|" >"$T/urls.txt"
run big fetch -c 64 -i "$T/urls.txt"
diag "10,000 URLs took ${ELAPSED}s"
O=$(out big)
is "$RC" 0 "10k: exit status 0"
is "$(wc -l <"$O" | tr -d ' ')" $N "10k: exactly $N output lines"
jl_schema "$O" "10k: every line is a well-formed result object"
is "$(jl "$O" "sorted(key(r['id']) for r in rows) == list(range($N))")" true "10k: ids are 0..9999, each once"
is "$(jl "$O" "[r for r in rows if r['url'] != '$U/f/%s' % r['id']][:3]")" "[]" "10k: url matches id"
is "$(jl "$O" "[r for r in rows if not (r['status'] == 200 and r['ok'] is True and r['error'] is None)][:3]")" "[]" \
    "10k: all status 200, ok true, error null"
is "$(jl "$O" "[r for r in rows if r['method'] != 'GET' or r['attempts'] != 1][:3]")" "[]" "10k: method GET, 1 attempt"
is "$(jl "$O" "[r for r in rows if r['bytes'] != len('file %d\n' % r['id'])][:3]")" "[]" "10k: bytes == file size"
is "$(jl "$O" "[r for r in rows if 'body' in r or 'body_base64' in r][:1]")" "[]" "10k: no body field without --body"
is "$(jl "$O" "[r for r in rows if not r['time']['total'] >= r['time']['ttfb']][:3] or sum(r['time']['total'] for r in rows) > 0")" true \
    "10k: time.total >= time.ttfb, and times are measured (not all 0)"
# nginx's view: every URI once, all 200 GET, on at most 64 connections.
AL=$T/access.log
is "$("$PY" - "$AL" $N <<'EOF'
import sys, collections
n = int(sys.argv[2])
c = collections.Counter(l.split()[0] for l in open(sys.argv[1]) if l.startswith("/f/"))
want = {"/f/%d" % i for i in range(n)}
bad = [u for u in want if c[u] != 1][:5] + [u for u in c if u not in want][:5]
print("ok" if not bad else "wrong counts: %s" % [(u, c[u]) for u in bad])
EOF
)" ok "10k: nginx served each URI exactly once"
is "$(awk '$1 ~ /^\/f\// && ($3 != 200 || $4 != "GET")' "$AL" | head -3)" "" "10k: nginx logged only 200 GET"
NCONN=$(awk '$1 ~ /^\/f\// {print $2}' "$AL" | sort -u | wc -l | tr -d ' ')
cmp_num "$NCONN" -le 64 "10k: at most 64 connections used (-c 64)"
cmp_num "$NCONN" -ge 8 "10k: requests actually ran concurrently (>= 8 connections, got $NCONN)"
E=$(cat "$(err big)")
like "$E" '10,?000' "10k: summary on stderr gives the count"
like_i "$E" 'ok|succe' "10k: summary on stderr mentions the ok count"
sanitizer_clean "$(err big)" "10k: no sanitizer report"

# --- -q ---------------------------------------------------------------------------------------
seq 0 49 | sed "s|^|$U/f/|" >"$T/urls50.txt"
run quiet fetch -q -c 8 -i "$T/urls50.txt"
is "$RC" 0 "-q: exit 0"
is "$(wc -l <"$(out quiet)" | tr -d ' ')" 50 "-q: still 50 result lines on stdout"
is "$(wc -c <"$(err quiet)" | tr -d ' ')" 0 "-q: nothing at all on stderr"

# --- URLs as arguments, from stdin, both ------------------------------------------------------
run args fetch -q "$U/f/7" "$U/f/5" "$U/f/9"
is "$RC" 0 "args: exit 0"
is "$(jl "$(out args)" "sorted((key(r['id']), r['url']) for r in rows)")" \
    "[[0, \"$U/f/7\"], [1, \"$U/f/5\"], [2, \"$U/f/9\"]]" "args: ids are the argument positions"
printf '# comment\n\n%s\n%s\n   \n# another\n%s\n' "$U/f/11" "$U/f/12" "$U/f/13" >"$T/stdin.txt"
RUN_STDIN=$T/stdin.txt run stdin fetch -q -i -
is "$RC" 0 "-i -: exit 0"
is "$(jl "$(out stdin)" "sorted((key(r['id']), r['url'], r['bytes']) for r in rows)")" \
    "[[0, \"$U/f/11\", 8], [1, \"$U/f/12\", 8], [2, \"$U/f/13\", 8]]" \
    "-i -: one result per URL line, ids count requests (blank and # lines skipped)"
RUN_STDIN=$T/stdin.txt run both fetch -q "$U/f/20" -i - "$U/f/21"
is "$RC" 0 "args and -i -: exit 0"
is "$(jl "$(out both)" "sorted(r['url'] for r in rows)")" \
    "[\"$U/f/11\", \"$U/f/12\", \"$U/f/13\", \"$U/f/20\", \"$U/f/21\"]" "args and -i -: every request from both"
is "$(jl "$(out both)" "sorted(key(r['id']) for r in rows)")" "[0, 1, 2, 3, 4]" "args and -i -: ids 0..4"

# --- --body --------------------------------------------------------------------------------------
run body fetch -q --body "$U/f/3" "$U/f/4242" "$U/bin.dat"
is "$RC" 0 "--body: exit 0"
is "$(jl "$(out body)" "[by_id[i].get('body') for i in (0, 1)]")" '["file 3\n", "file 4242\n"]' \
    "--body: body holds the text file content"
is "$(jl "$(out body)" "base64.b64decode(by_id[2].get('body_base64', '')) == open('$T/www/bin.dat', 'rb').read()")" true \
    "--body: a non-UTF-8 body comes as body_base64, bytes exact"
is "$(jl "$(out body)" "'body' in by_id[2] or 'body_base64' in by_id[0]")" false \
    "--body: body and body_base64 are not mixed up"
is "$(jl "$(out body)" "by_id[2]['bytes']")" "$(wc -c <"$T/www/bin.dat" | tr -d ' ')" "--body: bytes of the binary body"

# --- -o DIR -----------------------------------------------------------------------------------------
mkdir "$T/o"
run odir fetch -q -o "$T/o" "$U/f/100" "$U/f/101" "$U/bin.dat" "$U/f/102"
is "$RC" 0 "-o: exit 0"
is "$(ls "$T/o" | sort | tr '\n' ' ')" "0 1 2 3 " "-o: one file per request, named by id"
is "$(cat "$T/o/0" "$T/o/1" "$T/o/3" 2>&1)" "file 100
file 101
file 102" "-o: files hold the bodies"
ok_cmd "-o: binary body written byte for byte" cmp "$T/www/bin.dat" "$T/o/2"
is "$(wc -l <"$(out odir)" | tr -d ' ')" 4 "-o: result lines still printed"
is "$(jl "$(out odir)" "[r for r in rows if 'body' in r or 'body_base64' in r]")" "[]" "-o: no body in the output lines"

# --- HEAD: nginx sends Content-Length and no body; spate must not wait for one -------------------
run head fetch -q -X HEAD --timeout 5 "$U/f/1" "$U/f/2" "$U/bin.dat"
is "$RC" 0 "HEAD: exit 0"
is "$(jl "$(out head)" "[(r['method'], r['status'], r['bytes']) for r in sorted(rows, key=lambda r: r['id'])]")" \
    '[["HEAD", 200, 0], ["HEAD", 200, 0], ["HEAD", 200, 0]]' "HEAD: 200, 0 body bytes"
cmp_num "$(echo "$ELAPSED" | cut -d. -f1)" -lt 3 "HEAD: no wait for a body that never comes (${ELAPSED}s)"

# --- 404 from nginx --------------------------------------------------------------------------------
run nf fetch -q "$U/f/0" "$U/no/such/file"
is "$RC" 1 "404: exit 1 when one request failed"
is "$(jl "$(out nf)" "[(r['ok'], r['status'], (r['error'] or {}).get('kind')) for r in sorted(rows, key=lambda r: r['id'])]")" \
    '[[true, 200, null], [false, 404, "http"]]' "404: a failure of kind http, the other request ok"

# --- --ordered vs as-completed (http_server.py: slow and fast URLs mixed) -------------------------
srv_start "$T" || { echo "Bail out! http_server.py did not start"; exit 1; }
: >"$T/mixed.txt"
for i in $(seq 0 23); do
    case $((i % 4)) in
    0) echo "$SRV_URL/case/slow/$((600 - i * 20))?i=$i" ;;
    *) echo "$SRV_URL/case/ok?i=$i" ;;
    esac >>"$T/mixed.txt"
done
run asdone fetch -q -c 24 -i "$T/mixed.txt"
run ordered fetch -q -c 24 --ordered -i "$T/mixed.txt"
is "$RC" 0 "--ordered: exit 0"
is "$(jl "$(out ordered)" "[key(r['id']) for r in rows]")" "$(seq -s ', ' 0 23 | sed 's/.*/[&]/')" \
    "--ordered: ids in input order"
is "$(jl "$(out ordered)" "[r for r in rows if r['url'] != open('$T/mixed.txt').read().split()[r['id']]][:2]")" "[]" \
    "--ordered: each line is its own URL's result"
is "$(jl "$(out asdone)" "len(rows) == 24 and all(r['ok'] for r in rows)")" true "as completed: 24 results, all ok"
isnt "$(jl "$(out asdone)" "[key(r['id']) for r in rows]")" "$(seq -s ', ' 0 23 | sed 's/.*/[&]/')" \
    "as completed: without --ordered the output follows completion, not input order"
is "$(jl "$(out asdone)" "[key(r['id']) for r in rows][-1]")" 0 \
    "as completed: the slowest request (id 0, 600 ms) is printed last"

sanitizer_sweep "no sanitizer report in any run"
done_testing
