#!/bin/sh
# t_hostile_conn.sh: hostile servers, HOSTILE.md §2 C (cases 37-48: connections, pool, limiter)
# and D (cases 49-53: slow and hostile timing), with tests/lib/hostile_http.py. Each case asserts
# the baseline (no sanitizer report, exit status, bounded time, the right error kind and message,
# other requests unaffected, no reuse of a bad connection, retries per policy) and its own
# expectation. Loopback only; every run is under a hard timeout; timing margins are generous.
. "$(dirname "$0")/lib/tap.sh"
require_spate
eval "$("$PY" "$TAP_LIB/hostile_http.py" shell)"

tmpdir T
hsrv_start srv --ports 2 || { echo "Bail out! hostile_http.py did not start"; exit 1; }
P2=${HPORTS#* }
HURL2=http://127.0.0.1:$P2/case
# seen ERE: how many requests the server logged whose target matches ERE
seen() { jl "$HLOG" "len([q for q in rows if 'method' in q and re.search(r'''$1''', q['target'])])"; }
conns() { jl "$HLOG" "len(set(q['conn'] for q in rows if 'method' in q and re.search(r'''$1''', q['target'])))"; }

# --- C37 stale keep-alive race, deterministic form: the server closes a reused connection (FIN or
# RST) when the next request arrives, without a byte of response ------------------------------------
for how in fin rst; do
    if [ $how = rst ]; then p=close_next/rst; else p=close_next; fi
    hrun C37.stale_$how 10 fetch -q -c 1 --ordered --timeout 2 "$HURL/$p?s37=$how-1" "$HURL/$p?s37=$how-2" "$HURL/ok?ctl=C37$how"
    hbase_run C37.stale_$how 0 3
    is "$(res C37.stale_$how "[(r['ok'], r['attempts']) for r in rows]")" '[[true, 1], [true, 1], [true, 1]]' \
        "C37.stale_$how: every GET ok with attempts 1 (the stale connection never surfaces)"
    is "$(seen "s37=$how-2")/$(conns "s37=$how-2")" 2/2 "C37.stale_$how: the GET was re-sent once, on a new connection"
done
printf '{"url": "%s"}\n{"url": "%s", "method": "POST", "body": "once"}\n{"url": "%s"}\n' \
    "$HURL/close_next?s37=post-1" "$HURL/close_next?s37=post-2" "$HURL/ok?ctl=C37post" >"$T/c37post.in"
hrun C37.stale_post 10 fetch -q -c 1 --ordered --timeout 2 --retries 2 --backoff 0.05 -i "$T/c37post.in"
hbase_run C37.stale_post 1 3
is "$(res C37.stale_post "[(r['ok'], (r['error'] or {}).get('kind')) for r in rows]")" '[[true, null], [false, "reset"], [true, null]]' \
    "C37.stale_post: the POST on the stale connection fails (kind reset), the others are ok"
is "$(seen "s37=post-2")" 1 "C37.stale_post: the POST was sent exactly once (not re-sent, not retried)"
hrun C37.stale_post_all 10 fetch -q -c 1 --ordered --timeout 2 --retry-all-methods -i "$T/c37post.in"
hbase_run C37.stale_post_all 0 3
is "$(seen "s37=post-2")" 3 "C37.stale_post_all: with --retry-all-methods the POST is re-sent once on a new connection"

# --- C38 "Connection: close" (and HTTP/1.0 without keep-alive) while the server keeps the socket open:
# never reused; HTTP/1.0 with keep-alive may be ---------------------------------------------------------------------
hcase C38.connection_close conn_close_open ok '' bytes=2
hcase C38.http10_no_keepalive http10_open ok '' bytes=2
hcase C38.http10_keepalive http10_keepalive ok '' bytes=2 reuse=any

# --- C39 connection refused ------------------------------------------------------------------------------
DEAD=$(free_port)
hrun C39.refused 10 fetch -q --ordered --retries 2 --backoff 0.05 "http://127.0.0.1:$DEAD/x" "$HURL/ok?ctl=C39"
hbase_run C39.refused 1 2
is "$(res C39.refused "(by_id[0]['error']['kind'], by_id[0]['attempts'], by_id[1]['ok'])")" '["connect", 3, true]' \
    "C39.refused: kind connect, retried per policy (attempts 3), the control ok"
like_i "$(res C39.refused "by_id[0]['error']['message']")" "refused.*127\\.0\\.0\\.1:$DEAD" "C39.refused: message says refused and names the address"

# --- C40 connect timeout: a listener whose backlog is full never completes the handshake ---------------------
py_start "$T/bh" "$HOSTILE_PY" blackhole
BH=$PY_PORT
hrun C40.connect_timeout 10 fetch -q -c 2 --ordered --connect-timeout 1 "http://127.0.0.1:$BH/x" "$HURL/ok?ctl=C40"
hbase_run C40.connect_timeout 1 2.5
is "$(res C40.connect_timeout "(by_id[0]['error']['kind'], by_id[1]['ok'])")" '["timeout", true]' "C40.connect_timeout: kind timeout, the control ok"
like_i "$(res C40.connect_timeout "by_id[0]['error']['message']")" 'connect' "C40.connect_timeout: message says it was the connect"
fge "$ELAPSED" 0.9; ok $? "C40.connect_timeout: waited the connect timeout (${ELAPSED}s >= 0.9s)"

# --- C40b per-address connect timeout: the first address black-holes, the second serves ----------------------------
# --resolve gives the name both addresses on the black hole's port; with Happy Eyeballs off
# (--happy-eyeballs-delay 0) the connect budget is shared by the addresses left to try, so the
# first gets half of it and the request still succeeds in time (the race: t_happy_eyeballs.sh).
py_start "$T/c40b" dns_peer_http.py 127.0.0.2 "$BH" "$T/c40b.log"
hrun C40b.failover 10 fetch -q -v --connect-timeout 2 --happy-eyeballs-delay 0 --resolve "fo.test:$BH:127.0.0.1,127.0.0.2" "http://fo.test:$BH/x"
is "$(res C40b.failover "(rows[0]['ok'], rows[0]['attempts'])")" '[true, 1]' \
    "C40b.failover: a black-holed first address falls over to the second within one attempt"
like "$(cat "$(err C40b.failover)" 2>/dev/null)" "via 127\\.0\\.0\\.2:$BH" "C40b.failover: -v names the address used"
fge "$ELAPSED" 0.9; ok $? "C40b.failover: the first address had its share of the connect timeout (${ELAPSED}s >= 0.9s)"

# --- C41 accept and stay silent -----------------------------------------------------------------------------------
hcase C41.silent hang timeout 'within 1.5 s' c=2 limit=2.8 -- --timeout 1.5 --read-timeout 0 --retries 0
fge "$ELAPSED" 1.4; ok $? "C41.silent: waited the whole --timeout (${ELAPSED}s >= 1.4s)"
hcase C41.silent_read_timeout hang timeout 'read timeout' c=2 limit=1.8 -- --read-timeout 0.5 --timeout 5 --retries 0
fge "$ELAPSED" 0.45; ok $? "C41.silent_read_timeout: waited the read timeout (${ELAPSED}s >= 0.45s)"
hcase C41.silent_retried hang timeout 'timeout' c=2 n=3 limit=3.5 -- --timeout 0.8 --retries 2 --backoff 0.05
is "$H_ATT" 3 "C41.silent_retried: a timeout is retried per policy (attempts 3)"

# --- C42 per-host limit: 30 URLs of 50 ms, -c 10 --per-host 3 --------------------------------------------------------
: >"$T/c42.txt"
for i in $(seq 1 30); do echo "$HURL2/slow/50?c42=$i" >>"$T/c42.txt"; done
hrun C42.per_host 20 fetch -q -c 10 --per-host 3 --timeout 5 -i "$T/c42.txt"
hbase_run C42.per_host 0 10
is "$(res C42.per_host "(len(rows), all(r['ok'] for r in rows))")" '[30, true]' "C42.per_host: 30 results, all ok"
cmp_num "$(jl "$HLOG" "max(q['open_port'] for q in rows if 'c42=' in q.get('target', '') and 'method' in q)")" -le 3 \
    "C42.per_host: the server never saw more than 3 connections open"
cmp_num "$(jl "$HLOG" "max(q['open_port'] for q in rows if 'c42=' in q.get('target', '') and 'method' in q)")" -ge 2 \
    "C42.per_host: the limit is used (>= 2 connections at once)"
cmp_num "$(conns 'c42=')" -le 6 "C42.per_host: connections are reused ($(conns 'c42=') connections for 30 requests)"

# --- C43 head-of-line isolation: 6 silent URLs on one origin, 12 fast ones on another, -c 6 --per-host 3 -------------
: >"$T/c43.txt"
for i in 1 2 3 4 5 6; do echo "$HURL2/hang?c43=$i" >>"$T/c43.txt"; echo "$HURL/slow/20?c43f=$i" >>"$T/c43.txt"; done
for i in 7 8 9 10 11 12; do echo "$HURL/slow/20?c43f=$i" >>"$T/c43.txt"; done
hrun C43.hol 20 fetch -q -c 6 --per-host 3 --timeout 1 -i "$T/c43.txt"
hbase_run C43.hol 1 4
is "$(res C43.hol "sorted(set((('fast' if 'c43f' in r['url'] else 'slow'), r['ok'], (r['error'] or {}).get('kind')) for r in rows))")" \
    '[["fast", true, null], ["slow", false, "timeout"]]' "C43.hol: the fast origin's requests all ok, the silent one's time out"
cmp_num "$(res C43.hol "int(1000 * max(r['time']['total'] for r in rows if 'c43f' in r['url']))")" -lt 800 \
    "C43.hol: no fast request waited behind the silent origin (max time.total < 0.8 s)"

# --- C44 fd exhaustion: ulimit -n 64, 300 URLs at -c 200 --------------------------------------------------------------
: >"$T/c44.txt"
for i in $(seq 1 300); do echo "$HURL/slow/20?c44=$i" >>"$T/c44.txt"; done
(ulimit -n 64 && hrun C44.fd_exhaustion 30 fetch -c 200 --timeout 5 -i "$T/c44.txt" && echo "$RC $ELAPSED" >"$T/c44.rc")
read RC ELAPSED <"$T/c44.rc"
NCASES=$((NCASES + 1))
sanitizer_clean "$(err C44.fd_exhaustion)" "C44.fd_exhaustion: BL1 no sanitizer report"
like "$RC" '^[01]$' "C44.fd_exhaustion: BL1 exit status 0 or 1 (got $RC)"
fle "$ELAPSED" 15; ok $? "C44.fd_exhaustion: BL2 ends in time (${ELAPSED}s)"
is "$(res C44.fd_exhaustion "(len(rows), len(set(r['id'] for r in rows)))")" '[300, 300]' "C44.fd_exhaustion: one result per request"
is "$(res C44.fd_exhaustion "[r['error'] for r in rows if not r['ok']][:2]")" '[]' \
    "C44.fd_exhaustion: concurrency is clamped to the fd limit, so every request is ok"
like "$(cat "$(err C44.fd_exhaustion)")" 'open-files limit is 64: using [0-9]+ connections instead of 200' \
    "C44.fd_exhaustion: a warning says the concurrency was clamped and why"

# --- C45 mass RST in one batch: 100 concurrent requests, all reset at once ------------------------------------------
: >"$T/c45.txt"
for i in $(seq 1 100); do echo "$HURL/rst?c45=$i" >>"$T/c45.txt"; done
echo "$HURL/ok?ctl=C45" >>"$T/c45.txt"
hrun C45.mass_rst 20 fetch -q -c 101 --timeout 3 -i "$T/c45.txt"
hbase_run C45.mass_rst 1 5
is "$(res C45.mass_rst "(len(rows), len(set(r['id'] for r in rows)), sorted(Counter((r['error'] or {}).get('kind') or 'ok' for r in rows).items()))")" \
    '[101, 101, [["ok", 1], ["reset", 100]]]' "C45.mass_rst: 101 results, each id once: 100 reset, the control ok"

# --- C47 half-close: a framed response, then shutdown(SHUT_WR), still reading -----------------------------------------
hcase C47.halfclose halfclose ok '' bytes=2 -- --rate 5
hcase C47.halfclose_nogap halfclose ok '' bytes=2 reuse=any n=1
is "$C_ATT" 1 "C47.halfclose_nogap: the control is ok with attempts 1 (a race with the FIN never surfaces)"

# --- C48 SIGPIPE on upload: the server closes (FIN with unread data = RST, or an explicit RST) while spate
# writes a 32 MiB body; spate must not die of SIGPIPE (exit 141) ------------------------------------------------------
head -c 33554432 /dev/zero >"$T/32mb.bin"
hcase C48.upload_close upload_close reset 'reset|broken pipe|closed' limit=5 -- -d "@$T/32mb.bin"
hcase C48.upload_rst upload_close/rst reset 'reset|broken pipe|closed' limit=5 -- -d "@$T/32mb.bin"

# --- D49 slowloris headers: one byte every 200 ms never trips --read-timeout 1; --timeout 2 ends it --------------------
hcase D49.slowloris slowloris/200 timeout 'no complete response' c=2 limit=3 -- --retries 0
fge "$ELAPSED" 1.9; ok $? "D49.slowloris: ended by the total timeout (${ELAPSED}s >= 1.9s)"
# --- D50 body trickle: headers, then one body byte every 200 ms ---------------------------------------------------------
hcase D50.trickle trickle/200 timeout 'no complete response' c=2 limit=3 -- --retries 0
fge "$ELAPSED" 1.9; ok $? "D50.trickle: ended by the total timeout (${ELAPSED}s >= 1.9s)"
cmp_num "$H_BYTES" -gt 0 "D50.trickle: the trickled bytes were counted ($H_BYTES)"
# --- D51 mid-body stall: half the body, then silence ---------------------------------------------------------------------
hcase D51.stall stall timeout 'read timeout' c=2 limit=1.8 -- --read-timeout 0.5 --timeout 10 --retries 0
is "$H_BYTES" 500 "D51.stall: the 500 bytes before the stall were counted"
# --- D52 zero-window upload: the server never reads a 32 MiB body ---------------------------------------------------------
hcase D52.zero_window noread timeout 'timeout' c=2 limit=3 -- -d "@$T/32mb.bin" --timeout 1.5 --retries 0
if [ -n "$CPU" ]; then
    fle "$CPU" 1.0; ok $? "D52.zero_window: no busy loop while the window is closed (cpu ${CPU}s in ${ELAPSED}s)"
fi
# --- D53 timer edges, generous margins --------------------------------------------------------------------------------------
hcase D53.total_in_time slow/500 ok '' bytes=2 reuse=any -- --timeout 1 --retries 0
hcase D53.total_late slow/1500 timeout 'within 1 s' c=2 limit=2.5 -- --timeout 1 --read-timeout 0 --retries 0
hcase D53.read_gap_in_time gap/300 ok '' bytes=4 reuse=any -- --read-timeout 0.8 --retries 0
hcase D53.read_gap_late gap/1500 timeout 'read timeout' c=2 limit=2.5 -- --read-timeout 0.8 --retries 0

hcount
done_testing
