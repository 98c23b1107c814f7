#!/bin/sh
# t_bench_merge.sh: pieces of one test (--segment K/N --start-at T) and `spate merge`:
#   - two segments run side by side against nginx add up to what --procs 2 reports for the same
#     test (counts, statuses, connections), nginx's count included; the merged histogram is the
#     bucket-by-bucket sum; the rate is the responses over the union of the two periods;
#   - merging one whole report gives it back (the reader and the writer agree on every field);
#   - refused with exit 2 and a message: another URL, another rate, a corrupt or truncated
#     file, a histogram or statuses that do not add up, another histogram layout, the same piece
#     twice, a missing file; a missing piece is named (exit 0);
#   - --start-at: +S and an absolute T start the measured period then; a T in the past is a usage
#     error saying by how much; a piece whose connections come up ~1 s after T (its TLS handshakes
#     are held by arrival_server.py) starts at once, reports late_s and its skipped slots, merge
#     names it, and the merged rate is over the whole union (not inflated).
. "$(dirname "$0")/lib/tap.sh"
. "$TAP_LIB/nginx.sh"
. "$TAP_LIB/tls_certs.sh"
require_spate
plan 31

SPATE_TIMEOUT=40
tmpdir T shm
nginx_start "$T" || { echo "Bail out! nginx did not start"; exit 1; }
printf 'hello from nginx, spate merge\n' >"$T/www/small.txt"
U=$NGINX_URL
AL=$T/access.log
J() { jl "$(out "$1")" "(lambda j: $2)(rows[0]) if len(rows) == 1 else 'got %d stdout lines' % len(rows)"; }
logged() { awk -v u="$1" '$1 == u' "$AL" | wc -l | tr -d ' '; }
now() { date +%s.%N; }

# --- two segments vs --procs 2 ---------------------------------------------------------------------
TS=$(echo "$(now)" | awk '{printf "%.3f", $1 + 1.5}')
spate bench --segment 0/2 --start-at "$TS" -n 20000 -c 8 --json "$U/small.txt?seg" >"$T/a.json" 2>"$T/a.err" &
PA=$!
spate bench --segment 1/2 --start-at "$TS" -n 20000 -c 8 --json "$U/small.txt?seg" >"$T/b.json" 2>"$T/b.err"
RB=$?
wait $PA
RA=$?
is "$RA:$RB" "0:0" "segments 0/2 and 1/2: both exit 0" || diag "$(cat "$T/a.err" "$T/b.err")"
is "$(logged '/small.txt?seg')" 20000 "segments: nginx logged 20,000 requests"
is "$(jl "$T/a.json" "(rows[0]['requests'], rows[0]['piece'], rows[0]['connections'], rows[0]['period']['start_at'] == rows[0]['period']['start'] == $TS)")" \
    "[10000, {\"k\": 0, \"n\": 2}, 4, true]" "segment 0/2: 10,000 requests on 4 connections, started at T"
run merged merge --json "$T/a.json" "$T/b.json"
is "$RC" 0 "merge a.json b.json: exit 0"
run procs bench --procs 2 -n 20000 -c 8 --json "$U/small.txt?procs"
is "$(logged '/small.txt?procs')" 20000 "--procs 2: nginx logged 20,000 requests"
KEYS="('requests', 'sent', 'responses', 'ok', 'failed', 'errors', 'status', 'errors_by_kind', 'connections', 'connections_up', 'connections_established', 'reconnects', 'unfinished', 'unsent', 'model', 'rate', 'piece')"
is "$(jl "$(out merged)" "[rows[0][k] for k in $KEYS] == [P[0][k] for k in $KEYS] and rows[0]['histogram']['count'] == P[0]['histogram']['count'] == 20000" P="$(out procs)")" \
    true "merge of the two segments equals --procs 2's report in counts, statuses, connections ($(J merged "(j['requests'], j['status'])"))"
is "$(jl "$(out merged)" "(lambda m, a, b: (lambda ca, cb: m['histogram']['counts'] == sorted([i, ca.get(i, 0) + cb.get(i, 0)] for i in set(ca) | set(cb)) and m['histogram']['min'] == min(a['histogram']['min'], b['histogram']['min']) and m['histogram']['max'] == max(a['histogram']['max'], b['histogram']['max']) and m['histogram']['sum'] == a['histogram']['sum'] + b['histogram']['sum'])(dict(a['histogram']['counts']), dict(b['histogram']['counts'])))(rows[0], A[0], B[0])" A="$T/a.json" B="$T/b.json")" \
    true "merge: the histogram is the bucket-by-bucket sum; min, max and sum exact"
is "$(jl "$(out merged)" "(lambda m: (m['period']['start'] == min(A[0]['period']['start'], B[0]['period']['start']), m['period']['end'] == max(A[0]['period']['end'], B[0]['period']['end']), abs(m['rps'] - m['responses'] / (m['period']['end'] - m['period']['start'])) < 0.001 * m['rps']))(rows[0])" A="$T/a.json" B="$T/b.json")" \
    "[true, true, true]" "merge: the period is the union of the pieces', the rate the responses over it"
is "$(J merged "[(p['name'].split('/')[-1], p['piece'], p['requests'], p['late_s']) for p in j['pieces']] + [j['missing']]")" \
    '[["a.json", {"k": 0, "n": 2}, 10000, 0.0], ["b.json", {"k": 1, "n": 2}, 10000, 0.0], null]' \
    "merge: the pieces listed, none late, nothing missing"
run mtext merge "$T/a.json" "$T/b.json"
like "$(cat "$(out mtext)")" 'requests +20,000 in [0-9.]+ s: 20,000 responses, 0 errors' "merge, text: 20,000 requests"
like "$(cat "$(out mtext)")" 'status +200: 20,000' "merge, text: the status counts"
like "$(cat "$(out mtext)")" '8 connections, closed model, 20,000 requests' "merge, text: the whole test's settings"

# --- one report merged gives it back ---------------------------------------------------------------------
run one bench -n 3000 -c 4 --json "$U/small.txt?one"
run oneback merge --json "$(out one)"
is "$(jl "$(out oneback)" "[k for k in O[0] if k not in ('rps', 'bytes_per_sec', 'duration', 'setup_seconds', 'pieces', 'missing') and O[0][k] != rows[0][k]] + [k for k in ('rps', 'bytes_per_sec', 'duration') if abs(O[0][k] - rows[0][k]) > 1e-4 * O[0][k]]" O="$(out one)")" \
    "[]" "merge of one whole report: every field as it was (latency recomputed from the histogram)"

# --- refusals -----------------------------------------------------------------------------------------------
refused() { # NAME ERE DESC FILES...
    _n=$1 _re=$2 _d=$3; shift 3
    run "$_n" merge "$@"
    if [ "$RC" = 2 ] && [ ! -s "$(out "$_n")" ] && grep -Eq -- "$_re" "$(err "$_n")"; then
        ok 0 "$_d"
    else
        ok 1 "$_d"
        diag "rc=$RC stderr: $(cat "$(err "$_n")")" "want /$_re/"
    fi
}
run other bench -n 100 -c 2 --json "$U/small.txt?other"
refused r_url "other.out is a report of another test than .*a.json: URL $U/small.txt\?other, not $U/small.txt\?seg" \
    "another URL: refused, both URLs named" "$T/a.json" "$(out other)"
sed 's/"rate":0,/"rate":5,/; s/"model":"closed","rate":5/"model":"open","rate":5/' "$T/b.json" >"$T/b_rate.json"
refused r_model "another test than .*: the open model, not the closed one" "another model: refused" "$T/a.json" "$T/b_rate.json"
head -c 2000 "$T/b.json" >"$T/b_cut.json"
refused r_cut "b_cut.json: corrupt report: not JSON" "a truncated report: refused as corrupt" "$T/a.json" "$T/b_cut.json"
printf 'hello\n' >"$T/junk.json"
refused r_junk "junk.json: not a report" "a file of something else: refused" "$T/a.json" "$T/junk.json"
"$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); j["histogram"]["counts"][0][1] += 1; print(json.dumps(j))' "$T/b.json" >"$T/b_hist.json"
refused r_hist "b_hist.json: corrupt report: histogram: the bucket counts add up to" "an edited histogram: refused" "$T/a.json" "$T/b_hist.json"
"$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); j["status"]["200"] -= 1; print(json.dumps(j))' "$T/b.json" >"$T/b_st.json"
refused r_status "\"status\" adds up to 9999, not \"responses\" 10000" "statuses that do not add up: refused" "$T/a.json" "$T/b_st.json"
"$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); j["histogram"]["sub_bucket_bits"] = 7; print(json.dumps(j))' "$T/b.json" >"$T/b_lay.json"
refused r_layout "another histogram layout cannot be merged" "another histogram layout: refused" "$T/a.json" "$T/b_lay.json"
refused r_twice "a.json is piece 0/2 of the test, which overlaps piece 0/2 of .*a.json" "the same piece twice: refused" "$T/a.json" "$T/a.json"
refused r_nofile "nope.json: cannot open" "a missing file: refused" "$T/a.json" "$T/nope.json"
run r_none merge
is "$RC" 2 "merge without a report: exit 2"
run half merge "$T/a.json"
is "$RC:$(grep -Ec 'missing +only piece 0/2 of the test' "$(out half)")" "0:1" "one of two pieces: merged, the rest named missing"

# --- --start-at -----------------------------------------------------------------------------------------------
L0=$(now)
run plus bench --start-at +1.5 -n 100 -c 2 --json "$U/small.txt?plus"
is "$(J plus "(lambda d: 1.4 <= d <= 1.7)(j['period']['start'] - $L0)")" true \
    "--start-at +1.5: measuring began 1.5 s after launch ($(J plus "'%.3f' % (j['period']['start'] - $L0)") s)"
PAST=$(echo "$(now)" | awk '{printf "%d", $1 - 100}')
run past bench --start-at "$PAST" -n 10 "$U/small.txt"
like "$RC:$(cat "$(err past)")" "^2:spate bench: --start-at $PAST is 10[0-9]\.[0-9]{3} s in the past" \
    "--start-at 100 s ago: exit 2, says by how much"

# --- a piece whose connections come up ~1 s after T -------------------------------------------------------------
CD=$T/certs
mkdir -p "$CD"
make_certs "$CD" >/dev/null 2>&1 || diag "make_certs failed"
py_start "$T/late" arrival_server.py --log "$T/late.log" --tls "$CD/good.crt" "$CD/leaf.key" \
    --slow-after 2 --slow-s 1.6
LU=https://127.0.0.1:$PY_PORT/late
TL=$(echo "$(now)" | awk '{printf "%.3f", $1 + 0.7}')
spate bench --segment 0/2 --start-at "$TL" -R 100 -d 3 -c 4 --cacert "$CD/ca.crt" --json "$LU" >"$T/l0.json" 2>"$T/l0.err" &
PL=$!
_i=0; while [ "$(grep -c connected "$T/late.log" 2>/dev/null)" -lt 2 ] && [ $_i -lt 100 ]; do sleep 0.02; _i=$((_i + 1)); done
spate bench --segment 1/2 --start-at "$TL" -R 100 -d 3 -c 4 --cacert "$CD/ca.crt" --json "$LU" >"$T/l1.json" 2>"$T/l1.err"
wait $PL
is "$(jl "$T/l0.json" "(rows[0]['period']['late_s'], rows[0]['period']['start'] == $TL, rows[0]['requests'])")" "[0.0, true, 150]" \
    "late test, piece 0: on time, started at T, its 150 requests"
LATE=$(jl "$T/l1.json" "rows[0]['period']['late_s']")
is "$(jl "$T/l1.json" "(lambda p: (0.6 <= p['late_s'] <= 1.6, abs(p['start'] - $TL - p['late_s']) < 0.01, abs(p['end'] - $TL - 3) < 0.05, abs(p['skipped'] - p['late_s'] * 50) <= 2, rows[0]['requests'] + p['skipped'] == 150))(rows[0]['period'])")" \
    "[true, true, true, true, true]" \
    "late piece 1: late_s $LATE s, ran from T + late_s to the common end, skipped its ~$(jl "$T/l1.json" "rows[0]['period']['skipped']") slots due before"
run latemerge merge --json "$T/l0.json" "$T/l1.json"
is "$(J latemerge "(lambda p: (p[0]['late_s'], abs(p[1]['late_s'] - $LATE) < 1e-5, abs(j['duration'] - 3) < 0.05, j['rps'] <= 100, abs(j['rps'] - j['responses'] / j['duration']) < 0.01))(j['pieces'])")" \
    "[0.0, true, true, true, true]" \
    "merge: the late piece named with late_s, the period the 3 s union, rate $(J latemerge "'%.1f' % j['rps']")/s not inflated"
run latetext merge "$T/l0.json" "$T/l1.json"
like "$(cat "$(out latetext)")" "late +piece .*l1.json \(piece 1/2\) began [0-9.]+(ms|s) after the planned start, [0-9]+ scheduled requests skipped" \
    "merge, text: names the late piece, how late and the slots it skipped"
sanitizer_sweep "no sanitizer report in any run"
done_testing
