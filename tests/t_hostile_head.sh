#!/bin/sh
# t_hostile_head.sh: hostile servers, HOSTILE.md §2 A (cases 1-19): the status line and the
# header section. Each case fetches one hostile URL of tests/lib/hostile_http.py plus a control
# URL on the same server in one run and asserts the baseline BL1-BL6 (see hcase in
# hostile_http.py) and the case's own expectation. Loopback only; every run is under a hard timeout.
. "$(dirname "$0")/lib/tap.sh"
require_spate
eval "$("$PY" "$TAP_LIB/hostile_http.py" shell)"

tmpdir T
hsrv_start srv || { echo "Bail out! hostile_http.py did not start"; exit 1; }

# --- A1 non-HTTP reply, A2 empty reply, A3 RST ------------------------------------------------------
hcase A01.nonhttp nonhttp protocol 'invalid response.*HTTP/'
# *_fin1: the same bytes with the FIN in the same TCP segment (one readiness edge for both)
hcase A01.nonhttp_fin1 nonhttp_fin1 protocol 'invalid response.*HTTP/'
# transport failures before any response byte are retried per policy (--retries 2: 3 requests)
# (a retry may land on the control's pooled connection, fail there as stale and be re-sent once
# on a new one without counting: 3 attempts, 3 or 4 requests)
hcase A02.empty empty reset 'closed the connection without a response' n=3-4
is "$H_ATT" 3 "A02.empty: attempts 3"
hcase A02.empty_noretry empty reset 'closed the connection without a response' -- --retries 0
hcase A03.rst rst reset 'reset' n=3-4
is "$H_ATT" 3 "A03.rst: attempts 3"

# --- A4 wrong version, A5 bad status codes (pinned: major must be 1, status 100-599) -------------
hcase A04.v20 v20 protocol 'version'
hcase A04.v09 v09 protocol 'version'
hcase A04.v19 v19 protocol 'version'
hcase A04.v30 v30 protocol 'version'
hcase A04.vlower vlower protocol 'invalid response'
hcase A05.st2 st2 protocol 'status'
hcase A05.st2000 st2000 protocol 'status|overflow'
hcase A05.stneg stneg protocol 'status'
hcase A05.st099 st099 protocol 'status'
hcase A05.st600 st600 protocol 'status'
hcase A05.stalpha stalpha protocol 'status'
hcase A05.long_reason long_reason too_large 'header section exceeds 65536'

# --- A6 positive controls: odd but legal ------------------------------------------------------------
hcase A06.noreason noreason ok '' bytes=2 reuse=any
hcase A06.emptyreason emptyreason ok '' bytes=2 reuse=any
hcase A06.leadcrlf leadcrlf ok '' bytes=2 reuse=any
hcase A06.obstext obstext ok '' bytes=2 reuse=any
hcase A06.http10 v10 ok '' bytes=2 reuse=any

# --- A7 bare LF (pinned: reject), A8 bare CR, A9 NUL/CTL, A10 bad header names --------------------
hcase A07.barelf barelf protocol 'invalid response'
hcase A07.barelf_hdr barelf_hdr protocol 'invalid response'
hcase A08.barecr barecr protocol 'LF|invalid response'
hcase A09.nul nul protocol 'header value char'
hcase A09.ctl01 ctl01 protocol 'header value char'
hcase A09.del7f del7f protocol 'header value char'
hcase A10.name_space name_space protocol 'header (token|field|name)'
hcase A10.name_sp_colon name_sp_colon protocol 'header (token|field|name)'
hcase A10.nocolon nocolon protocol 'header (token|field|name)'
# an empty field name is not a token (RFC 9110 §5.1); llhttp 8.1 strict lets ": empty" through
hcase A10.emptyname emptyname protocol 'header (token|field|name)'

# --- A11 obs-fold (pinned: llhttp 8.1 strict takes a fold as continuation; it never makes a
# new header line, and a fold that would make Content-Length ambiguous is rejected) ------------------
hcase A11.obsfold obsfold ok '' bytes=2 reuse=any
# were the fold a new line, "Transfer-Encoding: chunked" + Content-Length would be a protocol error
hcase A11.obsfold_te obsfold_te ok '' bytes=2 reuse=any
is "$H_BODY" ok "A11.obsfold_te: the folded text did not become a Transfer-Encoding header (body 'ok')"
hcase A11.obsfold_cl obsfold_cl protocol 'content-length'
hcase A11.obsfold_te_val obsfold_te_val protocol 'transfer-coding'

# --- A12 one huge header (1 MiB at once; 70 KB in 16-byte segments), A13 header count, A14 endless
hcase A12.huge_header big_header/1048576 too_large 'header section exceeds 65536'
[ -n "$MAXRSS" ] && { cmp_num "$MAXRSS" -lt 200000 "A12.huge_header: peak RSS ${MAXRSS} KiB stays bounded"; }
hcase A12.huge_header_chopped big_header/70000/16 too_large 'header section exceeds 65536'
hcase A12.huge_header_dripped chop/1/big70k too_large 'header section exceeds 65536' limit=8 deadline=20
hcase A12.long_name long_name too_large 'header section exceeds 65536'
hcase A12.max_header_bytes big_header/5000 too_large 'header section exceeds 4096' -- --max-header-bytes 4096
hcase A12.max_header_bytes_ok big_header/3000 ok '' bytes=2 reuse=any -- --max-header-bytes 4096
hcase A13.header_count hdr_count/100000 too_large 'too many response headers'
hcase A13.header_count_limit hdr_count/256 too_large 'too many response headers'
hcase A13.header_count_ok hdr_count/255 ok '' bytes=2 reuse=any
hcase A14.endless_headers hdr_endless too_large 'too many response headers|header section'
sent=$(jl "$HLOG" "max([r['bytes'] for r in rows if r.get('event') == 'sent' and 'L=A14.' in r['target']] or [-1])")
cmp_num "$sent" -lt 33554432 "A14.endless_headers: spate stopped reading early (server got out $sent bytes)"

# --- A15 headers cut by EOF (response bytes came: not retried, SPEC "before any response byte") -------
hcase A15.cut_headers cut_headers reset 'before the end of the response headers'
hcase A15.cut_headers_fin1 cut_headers_fin1 reset 'before the end of the response headers'
hcase A15.cut_status cut_status reset 'before the end of the response headers'

# --- A16 duplicate / list Content-Length, A17 bad Content-Length values --------------------------------
hcase A16.cl_dup_same cl_dup_same protocol 'content-length'
hcase A16.cl_list cl_list protocol 'content-length'
hcase A16.cl_dup_diff cl_dup_diff protocol 'content-length'
for v in neg plus hex space empty huge alpha; do
    hcase A17.cl_$v cl_$v protocol 'content-length'
done
hcase A17.cl_leading_zeros cl_leading_zeros ok '' bytes=2 reuse=any
hcase A17.cl_ows cl_ows ok '' bytes=2 reuse=any
# 2^64-1 parses: no allocation by length; bounded by --max-body (too_large) or the read timeout
hcase A17.cl_u64max cl_u64max 'timeout|too_large' 'read timeout|exceeds' -- --retries 0

# --- A18 1xx: flood (pinned cap 16 interim responses), controls, 1xx bytes count toward the budget ----
hcase A18.interim_flood interim/1000/103 protocol 'too many interim responses'
hcase A18.interim_16 interim/16/103 ok '' bytes=2 reuse=any
hcase A18.interim_17 interim/17/103 protocol 'too many interim responses'
hcase A18.interim_budget interim/10/103/8000 too_large 'header section exceeds 65536'
hcase A18.interim_with_body interim_with_body protocol 'invalid response'
hcase A18.continue_100 interim_100 ok '' bytes=2 reuse=any
hcase A18.early_hints_103 interim_103 ok '' bytes=2 reuse=any
hcase A18.processing_102_103 interim_102_103 ok '' bytes=2 reuse=any

# --- A19 unrequested 101 ----------------------------------------------------------------------------------
hcase A19.upgrade_101 up101 protocol 'unexpected 101'

# one more run after everything: the server is fine, spate is fine
hrun final 10 fetch -q "$HURL/ok?final=1"
is "$RC" 0 "a plain request after all cases succeeds"
hcount
done_testing
