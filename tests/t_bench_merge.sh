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
plan 48

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
# +1.5 counts from spate's start, which comes after L0 by the exec (~10 ms, more on a loaded
# machine): the upper bound only has to tell 1.5 s from 15 s or from an absolute time
is "$(J plus "(lambda d: 1.4 <= d <= 2.5)(j['period']['start'] - $L0)")" true \
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
# The period ends when spate's end-of-run timer fires: never before T + 3, and on a loaded machine
# up to a few scheduling delays after it (0.3 s), well short of T + late_s + 3 (late_s >= 0.6),
# where a period that ran its full 3 s from its own late start would end. late_s is the server's
# 1.6 s hold less the 0.7 s to T plus this piece's own start-up (1.14 s seen under load): its
# upper bound only keeps some of the run; that it counts from T, not from the launch, is checked
# by start == T + late_s.
is "$(jl "$T/l1.json" "(lambda p: (0.6 <= p['late_s'] <= 2.2, abs(p['start'] - $TL - p['late_s']) < 0.01, -0.01 < p['end'] - $TL - 3 < 0.3, abs(p['skipped'] - p['late_s'] * 50) <= 2, rows[0]['requests'] + p['skipped'] == 150))(rows[0]['period'])")" \
    "[true, true, true, true, true]" \
    "late piece 1: late_s $LATE s, ran from T + late_s to the common end, skipped its ~$(jl "$T/l1.json" "rows[0]['period']['skipped']") slots due before"
run latemerge merge --json "$T/l0.json" "$T/l1.json"
is "$(J latemerge "(lambda p: (p[0]['late_s'], abs(p[1]['late_s'] - $LATE) < 1e-5, -0.01 < j['duration'] - 3 < 0.3, j['rps'] <= 100, abs(j['rps'] - j['responses'] / j['duration']) < 0.01))(j['pieces'])")" \
    "[0.0, true, true, true, true]" \
    "merge: the late piece named with late_s, the period the 3 s union, rate $(J latemerge "'%.1f' % j['rps']")/s not inflated"
run latetext merge "$T/l0.json" "$T/l1.json"
like "$(cat "$(out latetext)")" "late +piece .*l1.json \(piece 1/2\) began [0-9.]+(ms|s) after the planned start, [0-9]+ scheduled requests skipped" \
    "merge, text: names the late piece, how late and the slots it skipped"
# --- merged reports as pieces: merge per node, then merge the node reports ----------------------------------
# Four segments of one test; ab = merge a b, cd = merge c d; merge ab cd must be merge a b c d.
TS=$(echo "$(now)" | awk '{printf "%.3f", $1 + 1.5}')
N4=$T/nodes
mkdir -p "$N4"
for k in a b c d; do
    spate bench --segment "$(echo $k | tr abcd 0123)/4" --start-at "$TS" -n 8000 -c 8 --json "$U/small.txt?four" >"$N4/$k.json" 2>"$N4/$k.err" &
    eval "P$k=\$!"
done
R4=""; for k in a b c d; do eval "wait \$P$k"; R4="$R4$?"; done
is "$R4:$(logged '/small.txt?four')" "0000:8000" "four segments k/4: all exit 0, nginx logged 8,000 requests"
run ab merge --json "$N4/a.json" "$N4/b.json"
run cd merge --json "$N4/c.json" "$N4/d.json"
run bc merge --json "$N4/b.json" "$N4/c.json"
cp "$(out ab)" "$N4/ab.json"; cp "$(out cd)" "$N4/cd.json"; cp "$(out bc)" "$N4/bc.json"
is "$(jl "$N4/ab.json" "(rows[0]['requests'], rows[0]['connections'], rows[0]['piece'], rows[0]['missing'], rows[0]['result']['ok'])")" \
    '[4000, 4, {"k": 0, "n": 0}, "no report of piece(s) 2/4 3/4", true]' \
    "merge a b: 4,000 requests on its 4 connections, pieces 2/4 3/4 named missing, result ok"
run flat merge --json "$N4/a.json" "$N4/b.json" "$N4/c.json" "$N4/d.json"
run nested merge --json "$N4/ab.json" "$N4/cd.json"
is "$RC:$(grep -c . "$(err nested)")" "0:0" "merge ab.json cd.json (two merged reports): exit 0, nothing on stderr" || diag "$(cat "$(err nested)")"
KEYS4="('requests', 'sent', 'responses', 'ok', 'failed', 'errors', 'status', 'errors_by_kind', 'setup_errors', 'connections', 'connections_up', 'connections_established', 'reconnects', 'unfinished', 'unsent', 'model', 'rate', 'piece', 'procs', 'missing', 'bytes', 'latency', 'result')"
is "$(jl "$(out nested)" "[k for k in $KEYS4 if rows[0].get(k, 'absent') != F[0].get(k, 'absent')] + [k for k in ('duration', 'rps') if abs(rows[0][k] - F[0][k]) > 1e-6 * F[0][k]]" F="$(out flat)")" "[]" \
    "merge of the merges equals merge a b c d: counts, statuses, errors, connections, rate, latency, result"
is "$(jl "$(out nested)" "(rows[0]['histogram'] == F[0]['histogram'], (lambda p, q: p['start'] == q['start'] and abs(p['end'] - q['end']) < 2e-6 and (p['start_at'], p['late_s'], p['skipped']) == (q['start_at'], q['late_s'], q['skipped']))(rows[0]['period'], F[0]['period']), rows[0]['period']['start_at'] == $TS, rows[0]['histogram']['count'], rows[0]['status'])" F="$(out flat)")" \
    "[true, true, true, 8000, {\"200\": 8000}]" "merge of the merges: histogram bucket-exact and period the same as the flat merge; 8,000 responses, all 200 (nginx's count)"
is "$(jl "$(out nested)" "[(p['name'].split('/')[-1], p['piece'], p['requests'], p['start'], p['end']) for p in rows[0]['pieces']] == [(q['name'].split('/')[-1], q['piece'], q['requests'], q['start'], q['end']) for q in F[0]['pieces']]" F="$(out flat)")" \
    true "merge of the merges: the four original pieces listed, as in the flat merge"
is "$(J nested "[p['name'].replace('$N4/', '') for p in j['pieces']]")" \
    '["ab.json: a.json", "ab.json: b.json", "cd.json: c.json", "cd.json: d.json"]' \
    "merge of the merges: each piece named with the report it came through"
run ntext merge "$N4/ab.json" "$N4/cd.json"
like "$(cat "$(out ntext)")" 'pieces +4: 2,000 \+ 2,000 \+ 2,000 \+ 2,000 requests' "merge of the merges, text: the four pieces and their requests"
refused r_dup "b.json is piece 1/4 of the test, which overlaps piece 1/4 of .*ab.json: .*b.json" \
    "merge ab.json b.json: the same piece again, refused" "$N4/ab.json" "$N4/b.json"
refused r_dup2 "bc.json: .*b.json is piece 1/4 of the test, which overlaps piece 1/4 of .*ab.json: .*b.json" \
    "merge ab.json bc.json: piece b reached through two merged reports, refused" "$N4/ab.json" "$N4/bc.json"
refused r_other2 "other.out is a report of another test than .*ab.json: .*a.json: URL" \
    "a merged report and a report of another test: refused" "$N4/ab.json" "$(out other)"
"$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); j["pieces"][0]["requests"] += 1; print(json.dumps(j))' "$N4/ab.json" >"$N4/ab_cut.json"
refused r_parts "ab_cut.json: corrupt report: \"pieces\" add up to 4001 requests, not \"requests\" 4000" \
    "a merged report whose pieces do not add up to its totals: refused as corrupt" "$N4/ab_cut.json" "$N4/cd.json"

# a --procs 2 report (segment 0/2, workers 0/4 and 2/4) merged with segment 1/2
TS=$(echo "$(now)" | awk '{printf "%.3f", $1 + 1.5}')
spate bench --segment 0/2 --procs 2 --start-at "$TS" -n 6000 -c 8 --json "$U/small.txt?mix" >"$T/p0.json" 2>"$T/p0.err" &
PP=$!
spate bench --segment 1/2 --start-at "$TS" -n 6000 -c 8 --json "$U/small.txt?mix" >"$T/p1.json" 2>"$T/p1.err"
RP1=$?
wait $PP
is "$?:$RP1:$(logged '/small.txt?mix')" "0:0:6000" "--segment 0/2 --procs 2 and --segment 1/2: exit 0, nginx logged 6,000 requests"
run mix merge --json "$T/p0.json" "$T/p1.json"
is "$RC:$(J mix "(j['requests'], j['status'], j['histogram']['count'], j['piece'], j['missing'], j['procs'])")" \
    '0:[6000, {"200": 6000}, 6000, {"k": 0, "n": 1}, null, 3]' \
    "merge of a --procs 2 report and a segment: exit 0, the whole test's 6,000 requests, 3 processes"
is "$(jl "$(out mix)" "[(p['name'].replace('$T/', ''), p['piece'], p['requests']) for p in rows[0]['pieces']] == [('p0.json: ' + w['name'], w['piece'], w['requests']) for w in P0[0]['workers']] + [('p1.json', {'k': 1, 'n': 2}, 3000)] and [w['piece']['n'] for w in P0[0]['workers']] == [4, 4]" P0="$T/p0.json")" \
    true "merge with a --procs report: its workers listed with their pieces (0/4, 2/4) and requests"
is "$(jl "$(out mix)" "(lambda m, a, b: (lambda ca, cb: m['histogram']['counts'] == sorted([i, ca.get(i, 0) + cb.get(i, 0)] for i in set(ca) | set(cb)) and m['histogram']['sum'] == a['histogram']['sum'] + b['histogram']['sum'])(dict(a['histogram']['counts']), dict(b['histogram']['counts'])))(rows[0], A[0], B[0])" A="$T/p0.json" B="$T/p1.json")" \
    true "merge with a --procs report: the histogram is the bucket-by-bucket sum"

# a late piece is still named when it comes through a merged report
run l1m merge --json "$T/l1.json"
cp "$(out l1m)" "$T/l1m.json"
run latenest merge --json "$T/l0.json" "$T/l1m.json"
is "$(J latenest "(lambda p: (p[0]['late_s'], abs(p[1]['late_s'] - $LATE) < 1e-5, p[1]['skipped'], p[1]['name'].replace('$T/', '')))(j['pieces'])")" \
    "[0.0, true, $(jl "$T/l1.json" "rows[0]['period']['skipped']"), \"l1m.json: l1.json\"]" \
    "merge l0.json (merge l1.json): the late piece named through the merged report, late_s and skipped kept"
sanitizer_sweep "no sanitizer report in any run"
done_testing
