#!/bin/sh
# t_layers.sh: the layering, enforced. Every #include "..." in engine/, tls/, dns/ and cli/ is
# resolved (the including file's directory first, then -Iengine -Itls -Idns -Icli, as the
# compiler does) and must point at a layer the including file may see:
#   bottom    loop, timer, clock, buf, list, freelist, htable, err, deadline, the poll backends,
#             transport.h: only the bottom
#   tls, dns  the bottom and their own directory
#   public    spate.h: nothing of the project
#   exchange  conn, pool, limit, http1, url, retry, tcp, ctx.h, request.h: all of the above
#   face      engine, request.c, attempt, redirect, response, load.c, strerror.c, version.c, sized.h: all of
#             the above and each other
#   cli       spate.h and cli/ only: the command is built on the public API alone
# A file in no layer fails too: a new file gets its layer here. The check runs on the real tree,
# then on copies with a bad include planted, which it must reject. The build enforces the same
# layering with include paths per layer (Makefile: CLI_INCS, BOTTOM_H); the last tests compile
# planted copies with the Makefile's own rules and must see the compiler refuse them.
. "$(dirname "$0")/lib/tap.sh"
ROOT=$(cd "$TESTS_DIR/.." && pwd)

# layer_of PATH (relative to the tree's root): prints the layer, or "none".
layer_of() {
    case $1 in
    engine/loop.[ch] | engine/timer.[ch] | engine/clock.[ch] | engine/buf.[ch] | engine/list.h | \
        engine/htable.[ch] | engine/err.[ch] | engine/poll_*.c.h | engine/transport.h | \
        engine/deadline.[ch] | engine/freelist.h) echo bottom ;;
    tls/*.[ch]) echo tls ;;
    dns/*.[ch]) echo dns ;;
    engine/spate.h) echo public ;;
    engine/conn.[ch] | engine/pool.[ch] | engine/limit.[ch] | engine/http1.[ch] | engine/url.[ch] | \
        engine/retry.[ch] | engine/tcp.c | engine/ctx.h | engine/request.h) echo exchange ;;
    engine/engine.[ch] | engine/request.c | engine/attempt.[ch] | engine/redirect.[ch] | \
        engine/response.[ch] | engine/load.c | engine/strerror.c | engine/version.c | \
        engine/sized.h) echo face ;;
    cli/*.[ch]) echo cli ;;
    *) echo none ;;
    esac
}

# may_see FROM TO: which layers a layer may include.
may_see() {
    case $1:$2 in
    bottom:bottom) return 0 ;;
    tls:bottom | tls:tls | dns:bottom | dns:dns) return 0 ;;
    exchange:bottom | exchange:tls | exchange:dns | exchange:public | exchange:exchange) return 0 ;;
    face:bottom | face:tls | face:dns | face:public | face:exchange | face:face) return 0 ;;
    cli:public | cli:cli) return 0 ;;
    esac
    return 1
}

# resolve TREE FILE NAME: the included file's path relative to TREE, or nothing.
resolve() {
    _dir=$(dirname "$2")
    for _d in "$_dir" engine tls dns cli; do
        if [ -f "$1/$_d/$3" ]; then
            (cd "$1" && realpath --relative-to=. "$_d/$3")
            return
        fi
    done
}

# check TREE: prints one line per include against the layering (nothing when all is well).
check() {
    (cd "$1" && find engine tls dns cli -name '*.[ch]' | sort) | while read -r f; do
        from=$(layer_of "$f")
        if [ "$from" = none ]; then
            echo "$f: in no layer (give it one in t_layers.sh)"
            continue
        fi
        # "x.h" must be a project file; <x.h> is checked when it names one (the build's -I
        # paths would find it), else it is a system header
        sed -n -e 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/q \1/p' \
            -e 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*<\([^>]*\)>.*/a \1/p' "$1/$f" |
            while read -r kind inc; do
                to=$(resolve "$1" "$f" "$inc")
                if [ -z "$to" ]; then
                    [ "$kind" = a ] && continue
                    echo "$f: #include \"$inc\": no such project file"
                    continue
                fi
                tl=$(layer_of "$to")
                may_see "$from" "$tl" && continue
                echo "$f ($from) includes $to ($tl)"
            done
    done
}

plan 12

out=$(check "$ROOT")
ok "$([ -z "$out" ]; echo $?)" "every include in engine/, tls/, dns/ and cli/ keeps to its layer"
[ -n "$out" ] && diag "$out"

# The Makefile's BOTTOM_H (the headers tls/ and dns/ can see) is the bottom layer of layer_of, its
# source fragments poll_*.c.h aside: checked here, so a new bottom header is not forgotten in one.
mk=$(sed -n 's/^BOTTOM_H *:= *//p' "$ROOT/Makefile" | tr ' ' '\n' | grep . | sort | tr '\n' ' ')
lo=$(cd "$ROOT" && for h in engine/*.h; do case $h in *.c.h) continue ;; esac; [ "$(layer_of "$h")" = bottom ] && basename "$h"; done | sort | tr '\n' ' ')
is "$mk" "$lo" "the Makefile's BOTTOM_H lists exactly the bottom layer's headers"

# planted bad includes, each on a fresh copy of the sources
tmpdir T
plant() { # plant FILE LINE: a copy of the tree with LINE added at the top of FILE; prints the check
    rm -rf "$T/src"
    mkdir -p "$T/src"
    (cd "$ROOT" && cp -r engine tls dns cli "$T/src/")
    { echo "$2"; cat "$T/src/$1"; } >"$T/src/$1.new" && mv "$T/src/$1.new" "$T/src/$1"
    check "$T/src"
}
like "$(plant tls/tls.c '#include "conn.h"')" 'tls/tls.c \(tls\) includes engine/conn.h \(exchange\)' \
    "tls including the exchange is rejected"
like "$(plant dns/dns.c '#include "../tls/tls.h"')" 'dns/dns.c \(dns\) includes tls/tls.h \(tls\)' \
    "dns including tls is rejected"
like "$(plant engine/timer.c '#include "pool.h"')" 'engine/timer.c \(bottom\) includes engine/pool.h' \
    "the bottom including the exchange is rejected"
like "$(plant engine/timer.c '#include <pool.h>')" 'engine/timer.c \(bottom\) includes engine/pool.h' \
    "... also written with angle brackets (found through -Iengine)"
like "$(plant cli/fetch.c '#include "pool.h"')" 'cli/fetch.c \(cli\) includes engine/pool.h \(exchange\)' \
    "the command including an engine header is rejected"
like "$(plant cli/json.h '#include "buf.h"')" 'cli/json.h \(cli\) includes engine/buf.h \(bottom\)' \
    "the command including the engine's byte buffer is rejected"
like "$(plant engine/spate.h '#include "buf.h"')" 'engine/spate.h \(public\) includes engine/buf.h' \
    "the public header including anything of the project is rejected"

# The compiler refuses them too: a copy of the tree with its Makefile builds one object with
# the project's own rule and include paths (the sanitizer variant: no link-time optimization).
# compile FILE LINE OBJ: plants LINE (when not empty) at the top of FILE, builds OBJ, prints the
# compiler's output and the status.
compile() {
    rm -rf "$T/src"
    mkdir -p "$T/src"
    (cd "$ROOT" && cp -r Makefile engine tls dns cli "$T/src/")
    if [ -n "$2" ]; then
        { echo "$2"; cat "$T/src/$1"; } >"$T/src/$1.new" && mv "$T/src/$1.new" "$T/src/$1"
    fi
    # not part of a parent make's job server
    _out=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$T/src" "build/asan/$3" 2>&1)
    echo "status $?: $_out" | tr '\n' ' '
}
like "$(compile cli/json.c '' cli/json.o)" '^status 0: *$' \
    "cli/json.c compiles with the command's include paths"
like "$(compile cli/json.h '#include "buf.h"' cli/json.o)" '^status [1-9].*buf\.h: No such file' \
    "a cli/ header including the engine's buf.h fails to compile"
like "$(compile tls/tls.c '#include "conn.h"' tls/tls.o)" '^status [1-9].*conn\.h: No such file' \
    "tls/ including the exchange's conn.h fails to compile"
done_testing
