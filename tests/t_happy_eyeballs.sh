#!/bin/sh
# t_happy_eyeballs.sh: names with several addresses (SPEC.md "spate fetch", DNS). A first address
# whose connects hang (a listener with a full accept queue: its SYNs go unanswered) must cost each
# new connection about --happy-eyeballs-delay before the next address races it (RFC 8305), the
# winner named by time.connect and -v; families alternate; a refusal moves on at once; racing
# connects count as one connection for -c and --per-host; every address of a 40-address answer is
# tried; --connect-timeout ends the whole connect. Servers: lib/timed_server.py (serving, or
# --never-accept for the black holes), names from lib/dns_server.py. No timed speed assertion:
# only delays the test sets, with generous upper margins.
. "$(dirname "$0")/lib/tap.sh"
require_spate
diag "binary: $SPATE_BIN"
tmpdir T
export TOL=0.15 # seconds a connect may take beyond the delay it had to wait

# ts_start NAME ARGS...: timed_server.py logging to $T/NAME.jsonl; sets TS_PORT.
ts_start() {
    _n=$1
    shift
    : >"$T/$_n.jsonl"
    py_start "$T/$_n" timed_server.py "$T/$_n.jsonl" "$@" || return 1
    TS_PORT=$PY_PORT
}
every() { "$PY" "$TAP_LIB/time_check.py" "$1" "$2" - "$3" ${4:+"$4"}; }
# vias NAME: the distinct addresses of run NAME's -v "via" lines, sorted, space-separated.
vias() { sed -n 's/.* via \([^ ]*\) (.*/\1/p' "$(err "$1")" | sort -u | tr '\n' ' ' | sed 's/ $//'; }

# the server on 127.0.0.1:P and [::1]:P; black holes on 127.0.0.2:P, 127.0.0.3:P, 127.0.0.50-59:P
ts_start v4 || { echo "Bail out! timed_server.py did not start"; exit 1; }
P=$TS_PORT
ts_start v6 --addr ::1 --port "$P" || diag "no [::1]:$P server: the family test will fail"
BH="--addr 127.0.0.2 --addr 127.0.0.3"
for i in $(seq 50 59); do BH="$BH --addr 127.0.0.$i"; done
# shellcheck disable=SC2086
ts_start bh --never-accept $BH --port "$P" || { echo "Bail out! no black hole"; exit 1; }
SRV=$T/v4.jsonl

# The black hole really drops SYNs on this kernel: a plain connect to it hangs.
"$PY" - "$P" <<'EOF'
import socket, sys
s = socket.socket()
s.settimeout(0.5)
try:
    s.connect(("127.0.0.2", int(sys.argv[1])))
    sys.exit(1)
except socket.timeout:
    sys.exit(0)
except OSError:
    sys.exit(2)
EOF
ok $? "a connect to the black hole 127.0.0.2:$P hangs (accept queue full: SYNs unanswered)"

ZONE=$T/zone.json
QLOG=$T/queries.jsonl
: >"$QLOG"
"$PY" - >"$ZONE" <<'EOF'
import json
z = {
    "he.test": {"A": ["127.0.0.2", "127.0.0.1"]},
    "fam.test": {"A": ["127.0.0.2", "127.0.0.3"], "AAAA": ["::1"]},
    "ref.test": {"A": ["127.0.0.4", "127.0.0.1"]},
    "bh.test": {"A": ["127.0.0.2", "127.0.0.3"]},
    "ten.test": {"A": ["127.0.0.%d" % i for i in range(50, 60)] + ["127.0.0.1"]},
    # 39 addresses that refuse, the 40th serves: more than one DNS reply over UDP carries
    "many.test": {"A": ["127.0.0.%d" % i for i in range(100, 139)] + ["127.0.0.1"]},
}
for v in z.values():
    v["ttl"] = 300
print(json.dumps(z))
EOF
py_start "$T/dns" dns_server.py "$ZONE" "$QLOG" || { echo "Bail out! dns_server.py did not start"; exit 1; }
DNSP=$PY_PORT
DNS="--dns-server 127.0.0.1:$DNSP"
# urls NAME HOST N TAG: N URLs to HOST whose answers close the connection (each needs a new one)
urls() { for i in $(seq 1 "$3"); do echo "http://$2:$P/t/0/0?key=$4$i&close=1"; done >"$T/$1.txt"; }

# --- the first address black-holed, the second serves: the default delay (250 ms) -------------------
urls he he.test 12 he
run he fetch -v -c 4 $DNS -i "$T/he.txt"
is "$RC" 0 "black-holed first address: exit 0"
is "$(jl "$(out he)" "(len(rows), sum(1 for r in rows if r['ok'] and r['attempts'] == 1))")" '[12, 12]' \
    "black-holed first address: 12 requests, each a new connection, all ok in one attempt"
is "$(every "$(out he)" "$SRV" "0.25 <= t['connect'] <= 0.25 + TOL")" ok \
    "each connect within [0.25, 0.25 + $TOL] s: the next address raced after the 250 ms default"
is "$(vias he)" "127.0.0.1:$P" "-v names the winner 127.0.0.1:$P for every request"
is "$(every "$(out he)" "$SRV" "abs(t['connect'] - (s['t_accept'] - start)) <= 0.05")" ok \
    "time.connect is the winner's (= when the server accepted it - start, within 0.05 s)"
jl_schema "$(out he)" "black-holed first address: well-formed lines, times ordered"

# --- --happy-eyeballs-delay, with -c 1 and --per-host 1: the racing connects are one connection -----
urls hed he.test 6 hd
run hed fetch -v -c 1 --per-host 1 --happy-eyeballs-delay 0.1 $DNS -i "$T/hed.txt"
is "$(jl "$(out hed)" "(len(rows), sum(1 for r in rows if r['ok']))")" '[6, 6]' \
    "--happy-eyeballs-delay 0.1 with -c 1 --per-host 1: all 6 ok (two racing connects hold one slot)"
is "$(every "$(out hed)" "$SRV" "0.1 <= t['connect'] <= 0.1 + TOL")" ok \
    "--happy-eyeballs-delay 0.1: each connect within [0.1, 0.1 + $TOL] s"
is "$(jl "$SRV" "max(q['open'] for q in rows if (q['key'] or '').startswith('hd'))")" 1 \
    "-c 1: the server never saw two connections at once"

# --- families alternate (RFC 8305 4): A 127.0.0.2, 127.0.0.3 (black holes), AAAA ::1 ----------------
urls fam fam.test 4 fam
run fam fetch -v -c 2 $DNS -i "$T/fam.txt"
is "$(jl "$(out fam)" "(len(rows), sum(1 for r in rows if r['ok']))")" '[4, 4]' "two families: all 4 ok"
is "$(vias fam)" "[::1]:$P" "two families: the IPv6 address won (tried second, not third)"
is "$(every "$(out fam)" "$T/v6.jsonl" "t['connect'] <= 0.25 + TOL")" ok \
    "two families: connected within one delay (in answer order it would take two)"

# --- a refusal starts the next address at once ----------------------------------------------------
urls ref ref.test 4 ref
run ref fetch -v -c 2 --happy-eyeballs-delay 2 $DNS -i "$T/ref.txt"
is "$(jl "$(out ref)" "(len(rows), sum(1 for r in rows if r['ok']))")" '[4, 4]' "refused first address: all 4 ok"
is "$(every "$(out ref)" "$SRV" "t['connect'] <= 0.1")" ok \
    "refused first address: connected within 0.1 s although the race delay is 2 s"

# --- more dials than slots: ten black holes (delay 50 ms) before the address that serves -----------
run ten fetch -v --happy-eyeballs-delay 0.05 $DNS "http://ten.test:$P/t/0/0?key=ten&close=1"
is "$(jl "$(out ten)" "[(r['ok'], r['attempts']) for r in rows]")" '[[true, 1]]' "eleven addresses, ten black holes: ok"
is "$(every "$(out ten)" "$SRV" "0.5 <= t['connect'] <= 0.5 + TOL")" ok \
    "eleven addresses: connected after ten delays of 50 ms (each black hole had its turn)"
is "$(vias ten)" "127.0.0.1:$P" "eleven addresses: -v names the 11th"

# --- out of descriptors: 8 connections racing 4 addresses each would need 32; with 16 the oldest
# dial gives way to the next address instead of failing it (the address is not to blame) ----------
urls fd he3.test 24 fd
(
    ulimit -n 16 || exit 1
    run fd fetch -c 8 --connect-timeout 5 --happy-eyeballs-delay 0.05 \
        --resolve "he3.test:$P:127.0.0.2,127.0.0.3,127.0.0.50,127.0.0.1" -i "$T/fd.txt"
)
is "$(jl "$(out fd)" "(len(rows), sum(1 for r in rows if r['ok']))")" '[24, 24]' \
    "ulimit -n 16, -c 8, three black holes before the server: all 24 ok"
is "$(every "$(out fd)" "$SRV" "0.15 <= t['connect'] <= 0.15 + TOL")" ok \
    "ulimit -n 16: each connect after three delays of 50 ms, as without the limit"

# --- --happy-eyeballs-delay 0: one address at a time, each with its share of the budget -------------
run seq fetch -v --happy-eyeballs-delay 0 --connect-timeout 1 $DNS "http://he.test:$P/t/0/0?key=seq&close=1"
is "$(jl "$(out seq)" "[(r['ok'], r['attempts']) for r in rows]")" '[[true, 1]]' "--happy-eyeballs-delay 0: ok"
is "$(every "$(out seq)" "$SRV" "0.5 <= t['connect'] <= 0.5 + TOL")" ok \
    "--happy-eyeballs-delay 0: the first address had half the 1 s connect budget, then the second"

# --- every address black-holed: --connect-timeout ends the whole connect ---------------------------
run bh fetch -v --connect-timeout 1 $DNS "http://bh.test:$P/x"
is "$(jl "$(out bh)" "[(r['ok'], r['attempts'], r['error']['kind']) for r in rows]")" '[[false, 1, "timeout"]]' \
    "all addresses black-holed: kind timeout"
is "$(jl "$(out bh)" "0.95 <= rows[0]['time']['total'] <= 1.0 + $TOL")" true \
    "all addresses black-holed: failed at the 1 s connect timeout ($(jl "$(out bh)" "rows[0]['time']['total']") s)"
like "$(jl "$(out bh)" "rows[0]['error']['message']")" "connect timeout connecting to 127\\.0\\.0\\.[23]:$P \\(host bh\\.test; 2 of 2 addresses tried\\)" \
    "all addresses black-holed: the message names an address, the host and how many were tried"

# --- 40 addresses, only the last serves ---------------------------------------------------------------
urls many many.test 5 many
run many fetch -v -c 2 $DNS -i "$T/many.txt"
is "$RC" 0 "40 addresses, 39 refusing: exit 0"
is "$(jl "$(out many)" "(len(rows), sum(1 for r in rows if r['ok'] and r['attempts'] == 1))")" '[5, 5]' \
    "40 addresses, only the 40th serves: all 5 ok in one attempt (each a new connection)"
is "$(vias many)" "127.0.0.1:$P" "40 addresses: -v names the 40th"
like "$(grep 'connections' "$(err many)")" 'connections 200 opened \(5 established\)' \
    "40 addresses: 40 connects per connection, 5 established"
is "$(jl "$QLOG" "sorted(set(q['tcp'] for q in rows if q['name'] == 'many.test' and q['type'] == 'A'))")" '[false, true]' \
    "40 addresses: the answer came over TCP after a truncated UDP reply"

sanitizer_sweep "no sanitizer report in any run"
done_testing
