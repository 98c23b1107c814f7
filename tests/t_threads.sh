#!/bin/sh
# t_threads.sh: libspate from several threads at once, one engine each (spate.h's contract).
# tests/lib/threads.c starts 4 threads at one barrier; each asks for the versions, creates its
# engine (c-ares' process-wide init runs in the first spate_engine_create, OpenSSL's in the first
# https submit, all at the same instant) and fetches 200 URLs of a private nginx, every other
# one over TLS (verified against the test CA), checking each body. The counts are checked per
# thread and at nginx (each URL once, on the right server). Built and run under
# AddressSanitizer + UBSan against the test build's library, then (when the compiler has it)
# under ThreadSanitizer with the library built from its sources: no data race. A control run
# under ThreadSanitizer with dns.c's once-only guard taken out must report the race, which shows
# that the concurrent start reaches it.
. "$(dirname "$0")/lib/tap.sh"
. "$TAP_LIB/nginx.sh"
. "$TAP_LIB/tls_certs.sh"
ROOT=$(cd "$TESTS_DIR/.." && pwd)
CC=${CC:-cc}
LIBINT=$ROOT/build/asan/libspate-internal.a
[ -f "$LIBINT" ] || skip_all "no $LIBINT: build with 'make build/asan/spate' first"
command -v openssl >/dev/null 2>&1 || skip_all "openssl CLI not found"
[ -x "$NGINX_BIN" ] || skip_all "nginx not found at $NGINX_BIN"
plan 13

THREADS=4
N=200
tmpdir T
make_certs "$T" || { echo "Bail out! make_certs failed"; exit 1; }
make_files "$T/www" $((THREADS * N))
TLS_PORT=$(free_port)
nginx_start "$T" "server {
        listen 127.0.0.1:$TLS_PORT ssl;
        server_name localhost;
        root $T/www;
        access_log $T/tls.log spate;
        ssl_certificate $T/good.crt;
        ssl_certificate_key $T/leaf.key;
    }" || { echo "Bail out! nginx did not start"; exit 1; }
wait_port "$TLS_PORT" 5 || { echo "Bail out! nginx's TLS port did not open"; exit 1; }
HTTPS=https://127.0.0.1:$TLS_PORT

VERSION=$(sed -n 's/^#define SPATE_VERSION "\(.*\)"/\1/p' "$ROOT/engine/spate.h")
CARES=$(pkg-config --modversion libcares 2>/dev/null)
PKG_LIBS=$(pkg-config --libs openssl libcares)
LLHTTP_LIBS=$(pkg-config --exists libllhttp 2>/dev/null && pkg-config --libs libllhttp)
LLHTTP_DIR=${LLHTTP_DIR:-/usr/share/llhttp}
LLHTTP_INC=${LLHTTP_INC:-/usr/share/include/llhttp}

# served LOG PARITY: nginx's log LOG holds exactly the URLs of that parity (0: http, 1: https),
# /f/K?t=T with K = T * N + i, once each, all GET 200.
served() {
    "$PY" - "$1" "$2" $THREADS $N <<'EOF'
import sys, collections
log, parity, threads, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows = [l.split() for l in open(log)]
c = collections.Counter(r[0] for r in rows)
want = {"/f/%d?t=%d" % (t * n + i, t) for t in range(threads) for i in range(n) if i % 2 == parity}
bad = [u for u in sorted(want) if c[u] != 1][:5] + [u for u in c if u not in want][:5]
bad += [r for r in rows if r[2] != "200" or r[3] != "GET"][:3]
print("ok %d" % len(rows) if not bad else "wrong: %s" % bad)
EOF
}

# check NAME BINARY [ENV]: runs it, then checks its lines, its exit status and nginx's logs.
check() {
    : >"$T/access.log"
    : >"$T/tls.log"
    env ${3:-} timeout -k 5 120 "$2" $THREADS $N "$NGINX_URL" "$HTTPS" "$T/ca.crt" >"$T/$1.out" 2>"$T/$1.err"
    _rc=$?
    _want=
    _t=0
    while [ $_t -lt $THREADS ]; do
        _want="${_want}thread $_t: $N of $N ok ($((N / 2)) http, $((N / 2)) https), bodies right, versions $VERSION/@/$CARES
"
        _t=$((_t + 1))
    done
    # the OpenSSL version string is the library's own (checked equal across threads, and
    # against `openssl version` below); the rest is the ground truth of the build
    _got=$(sed 's|/OpenSSL [^/]*/|/@/|' "$T/$1.out")
    is "$_rc $_got" "0 $(printf '%s' "$_want")" \
        "$1: exit 0, each of $THREADS threads got all $N ($((N / 2)) over TLS), bodies right" \
        || diag "$(head -n 20 "$T/$1.err")"
    is "$(served "$T/access.log" 0)" "ok $((THREADS * N / 2))" "$1: nginx (http) served each thread's plain URLs once, all 200"
    is "$(served "$T/tls.log" 1)" "ok $((THREADS * N / 2))" "$1: nginx (https) served each thread's TLS URLs once, all 200"
}

# --- AddressSanitizer + UBSan, the test build's library ------------------------------------------
$CC -std=c11 -Wall -Wextra -Werror -fsanitize=address,undefined -fno-omit-frame-pointer -pthread \
    -I"$ROOT/engine" -o "$T/threads-asan" "$TAP_LIB/threads.c" "$LIBINT" $PKG_LIBS $LLHTTP_LIBS -lm \
    >"$T/build.log" 2>&1
ok $? "threads.c builds with ASan against build/asan/libspate-internal.a" || diag "$(head -n 20 "$T/build.log")"
check asan "$T/threads-asan"
is "$(cat "$T/asan.err")" "" "asan: nothing on stderr (no sanitizer report, no leak)"
OSSL=$(sed -n 's|^thread 0: .*/\(OpenSSL [^/]*\)/.*|\1|p' "$T/asan.out")
is "$(sed 's|.*versions ||' "$T/asan.out" | sort -u | wc -l)" 1 "asan: every thread saw the same versions"
_ov=$(echo "$OSSL" | awk '{print $2}')
like "$(openssl version 2>&1)" "OpenSSL ${_ov:-none} " \
    "asan: the OpenSSL version the threads reported ($OSSL) is the installed one"

# --- ThreadSanitizer, the library built from its sources ------------------------------------------
# tsan_build OUT DNS_C: the library's sources (dns.c replaced by DNS_C) and threads.c.
tsan_build() {
    $CC -std=c11 -D_GNU_SOURCE -fsanitize=thread -O1 -g -w -pthread -I"$ROOT/engine" \
        -I"$ROOT/tls" -I"$ROOT/dns" -I"$LLHTTP_INC" -DLLHTTP_STRICT_MODE=1 -o "$1" \
        "$TAP_LIB/threads.c" "$ROOT"/engine/*.c "$ROOT"/tls/*.c "$2" \
        $(ls "$ROOT"/dns/*.c | grep -v '/dns\.c$') $(ls "$LLHTTP_DIR"/*.c 2>/dev/null) \
        $PKG_LIBS $LLHTTP_LIBS -lm >"$T/tsan-build.log" 2>&1
}
printf 'int main(void) { return 0; }\n' >"$T/probe.c"
if $CC -fsanitize=thread -o "$T/probe" "$T/probe.c" >/dev/null 2>&1 && "$T/probe" >/dev/null 2>&1; then
    tsan_build "$T/threads-tsan" "$ROOT/dns/dns.c"
    ok $? "threads.c and the library build with -fsanitize=thread" || diag "$(head -n 20 "$T/tsan-build.log")"
    check tsan "$T/threads-tsan" TSAN_OPTIONS=exitcode=66
    is "$(grep -c 'ThreadSanitizer' "$T/tsan.err")" 0 "tsan: no data race reported" \
        || diag "$(head -n 30 "$T/tsan.err")"
    # control: dns.c with c-ares' once-only initialisation called directly by every engine
    sed 's/^\( *\)pthread_once(&lib_once, lib_init);/\1lib_init(); (void)lib_once;/' \
        "$ROOT/dns/dns.c" >"$T/dns-unguarded.c"
    if cmp -s "$ROOT/dns/dns.c" "$T/dns-unguarded.c"; then
        skip "control: dns.c has no 'pthread_once(&lib_once, lib_init);' line to take out"
    else
        tsan_build "$T/threads-unguarded" "$T/dns-unguarded.c"
        TSAN_OPTIONS=exitcode=66 timeout -k 5 120 "$T/threads-unguarded" $THREADS 2 "$NGINX_URL" \
            "$HTTPS" "$T/ca.crt" >"$T/unguarded.out" 2>"$T/unguarded.err"
        is "$? $(grep -c 'WARNING: ThreadSanitizer: data race' "$T/unguarded.err" | sed 's/^[1-9][0-9]*$/race/') $(grep -m 1 -o 'in lib_init' "$T/unguarded.err")" \
            "66 race in lib_init" \
            "control: without the once-only guard, ThreadSanitizer reports the race in lib_init (the test reaches it)"
    fi
else
    for i in 1 2 3 4 5 6; do skip "no working -fsanitize=thread in $CC"; done
fi
nginx_stop
done_testing
