#!/bin/sh
# bench/lib-memory.sh: libspate as an embedder pays for it.
#   1. code: tests/examples/poll.c linked with the public libspate.a (OpenSSL and c-ares stay
#      shared, as an embedder would link them), stripped, minus the same-shaped program without
#      spate (the libc calls poll.c makes); `size` text+data, and the stripped file sizes; once
#      plainly and once with -Wl,--gc-sections (libspate.a has a section per function);
#   2. heap (bench/lib-memory.c, mallinfo2): the first and each further engine, a queued request
#      beyond its URL string, a spare attempt state (kept for reuse, one per request that ran at
#      once), an idle pooled connection (the spare attempt states left out), plain and TLS,
#      against a private nginx; then, in a fresh process, an idle TLS connection as resident
#      memory (RSS).
# Targets (issue 15): a queued request <= 256 bytes beyond the caller's strings; a minimal
# embedding adds <= 150 KB of code.
# Env: CONNS [500] connections for the idle-connection figures, QUEUED [10000] requests queued.
# Not part of `make test`; needs `make` first (./libspate.a).
set -eu
. "$(dirname "$0")/lib.sh"

CONNS=${CONNS:-500}
QUEUED=${QUEUED:-10000}
CC=${CC:-cc}
need nginx curl openssl "$CC" strip size pkg-config
[ -f "$BENCH_ROOT/libspate.a" ] || die "no libspate.a: run 'make' first"
bench_init
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -H -n)" 2>/dev/null || true

SYSLIBS=$(pkg-config --libs openssl libcares)
LIBA=$BENCH_ROOT/libspate.a

# --- 1. code size -----------------------------------------------------------------------------
cat >"$WORK/nospate.c" <<'EOF'
/* poll.c's shape without spate: the same libc calls (poll, printf, snprintf, strtoul, strcmp) */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv)
{
    unsigned long n = argc == 4 && !strcmp(argv[1], "-n") ? strtoul(argv[2], NULL, 10) : 0;
    char url[2048];
    snprintf(url, sizeof url, "%s%lu", argc > 3 ? argv[3] : "", n);
    struct pollfd p = {.fd = 0, .events = POLLIN};
    if (poll(&p, 1, 0) < 0) perror("poll");
    fprintf(stderr, "%s\n", url);
    printf("fetched %lu of %lu URLs, %llu body bytes\n", n, n, 0ull);
    return 0;
}
EOF
# text_data BINARY: text + data of a stripped binary (bss takes no space in the file)
text_data() { size "$1" | awk 'NR == 2 { print $1 + $2 }'; }
code() { # LABEL EXTRA_LDFLAGS
    "$CC" -O2 $2 -I"$BENCH_ROOT/engine" -o "$WORK/with" "$BENCH_ROOT/tests/examples/poll.c" "$LIBA" $SYSLIBS -lm
    "$CC" -O2 $2 -o "$WORK/without" "$WORK/nospate.c"
    strip "$WORK/with" "$WORK/without"
    w=$(text_data "$WORK/with") wo=$(text_data "$WORK/without")
    fw=$(wc -c <"$WORK/with") fwo=$(wc -c <"$WORK/without")
    printf '%-34s %7.1f KB text+data (%d - %d bytes), stripped file +%.1f KB\n' "code added, $1:" \
        "$(echo "$w $wo" | awk '{ print ($1 - $2) / 1024 }')" "$w" "$wo" \
        "$(echo "$fw $fwo" | awk '{ print ($1 - $2) / 1024 }')"
}
echo "libspate $(sed -n 's/^#define SPATE_VERSION "\(.*\)"/\1/p' "$BENCH_ROOT/engine/spate.h"), $($CC --version | head -n 1)"
code "poll.c + libspate.a" ""
code "the same, -Wl,--gc-sections" "-Wl,--gc-sections"

# --- 2. heap ----------------------------------------------------------------------------------
make_files "$WORK/www" "$CONNS"
NGINX_CONNS=$((CONNS * 2 + 64)) NGINX_TLS=1 nginx_start "$WORK"
"$CC" -O2 -I"$BENCH_ROOT/engine" -o "$WORK/lib-memory" "$BENCH_ROOT/bench/lib-memory.c" "$LIBA" $SYSLIBS -lm
"$WORK/lib-memory" "http://127.0.0.1:$NGINX_PORT/f/" "https://127.0.0.1:$NGINX_TLS_PORT/f/" \
    "$WORK/cert.pem" "$CONNS" "$QUEUED"
"$WORK/lib-memory" rss "http://127.0.0.1:$NGINX_PORT/f/" "https://127.0.0.1:$NGINX_TLS_PORT/f/" \
    "$WORK/cert.pem" "$CONNS"
