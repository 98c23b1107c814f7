#!/bin/sh
# t_library.sh: libspate as an embedder gets it. `make install DESTDIR=... PREFIX=/usr`, then
# against that staged copy only (headers, libraries and spate.pc found through pkg-config with
# PKG_CONFIG_SYSROOT_DIR): the poll() example built shared and fully static, the libuv, libevent
# and C++ examples, each fetching 1,000 URLs from a private nginx (counts, bytes and nginx's log
# checked); exactly the functions spate.h declares exported from libspate.so and global in
# libspate.a; a program carrying its own lenient llhttp still gets spate's strict parser; both
# man pages render without warnings and cover every option and function; the Makefile honours
# CPPFLAGS, CFLAGS, LDFLAGS and WERROR; `make uninstall` removes what install put.
. "$(dirname "$0")/lib/tap.sh"
. "$TAP_LIB/nginx.sh"
eval "$("$PY" "$TAP_LIB/hostile_http.py" shell)"
ROOT=$(cd "$TESTS_DIR/.." && pwd)
plan 63

tmpdir T
S=$T/stage
N=1000
CC=${CC:-cc}
CXX=${CXX:-g++}
# this test's make runs are not part of a parent make's job server
pmake() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$ROOT" --no-print-directory "$@"; }

VERSION=$(sed -n 's/^#define SPATE_VERSION "\(.*\)"/\1/p' "$ROOT/engine/spate.h")

# --- the Makefile honours the user's flags -------------------------------------------------------
L=$(pmake -n -B CPPFLAGS=-DMARK_CPPFLAGS CFLAGS=-DMARK_CFLAGS build/rel/engine/url.o 2>&1 | grep ' -c engine/url.c')
like "$L" ' -O3 .* -DMARK_CPPFLAGS .*-DMARK_CFLAGS' "CPPFLAGS and CFLAGS reach the compiler, after the project's -O3"
like "$L" ' -fvisibility=hidden ' "library objects are compiled with -fvisibility=hidden"
unlike "$L" 'Werror' "a plain make (a user's or packager's build) does not add -Werror"
L=$(pmake -n -B test 2>&1 | grep ' -c engine/url.c' | grep -c -- ' -Werror ')
is "$L" 3 "make test (the project's own check, what CI runs) builds all three variants with -Werror"
L=$(pmake -n -B WERROR=-Werror build/rel/engine/url.o 2>&1 | grep ' -c engine/url.c')
like "$L" ' -Werror ' "WERROR=-Werror forces it on a plain build"
L=$(pmake -n -B LDFLAGS=-Wl,-O1,--mark-ldflags build/lib/libspate.so.$VERSION build/rel/spate 2>&1)
is "$(printf '%s\n' "$L" | grep -E ' -shared | -o build/rel/spate ' | grep -c -- '--mark-ldflags')" 2 \
    "LDFLAGS reach the links of libspate.so and spate"

# --- make install --------------------------------------------------------------------------------
pmake -s install DESTDIR="$S" PREFIX=/usr >"$T/install.log" 2>&1
ok_cmd "make install DESTDIR=... PREFIX=/usr succeeds" test -s "$S/usr/lib/pkgconfig/spate.pc" \
    || diag "$(tail -n 20 "$T/install.log")"
SO=$S/usr/lib/libspate.so.$VERSION
missing=
for f in bin/spate include/spate.h lib/libspate.a lib/libspate.so.$VERSION \
    share/man/man1/spate.1 share/man/man3/libspate.3; do
    [ -f "$S/usr/$f" ] || missing="$missing $f"
done
is "$missing" "" "installed: spate, spate.h, libspate.a, libspate.so.$VERSION, both man pages"
is "$(readlink "$S/usr/lib/libspate.so.0") $(readlink "$S/usr/lib/libspate.so")" "libspate.so.$VERSION libspate.so.0" \
    "symlinks libspate.so.0 -> libspate.so.$VERSION and libspate.so -> libspate.so.0"
is "$(readelf -d "$SO" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')" libspate.so.0 "soname libspate.so.0"
ok_cmd "the installed header is engine/spate.h" cmp "$ROOT/engine/spate.h" "$S/usr/include/spate.h"
is "$("$S/usr/bin/spate" --version 2>&1 | head -n 1)" "spate $VERSION" "the installed spate runs and says its version (first line; the libraries follow)"

export PKG_CONFIG_SYSROOT_DIR="$S"
export PKG_CONFIG_LIBDIR="$S/usr/lib/pkgconfig:$(pkg-config --variable pc_path pkg-config)"
unset PKG_CONFIG_PATH
is "$(pkg-config --modversion spate 2>&1)" "$VERSION" "pkg-config finds the staged spate.pc, version $VERSION"
is "$(pkg-config --cflags --libs spate 2>&1 | tr -s ' ' | sed 's/ $//')" "-I$S/usr/include -L$S/usr/lib -lspate" \
    "pkg-config --cflags --libs spate points into the staged tree"
like "$(pkg-config --static --libs spate 2>&1)" '-lspate .*-lm -pthread.*-lssl.*-lcrypto.*-lcares' \
    "pkg-config --static adds -lm, -pthread (pthread_once) and openssl and c-ares (Requires.private, Libs.private)"
SP_CFLAGS=$(pkg-config --cflags spate)
SP_LIBS=$(pkg-config --libs spate)
SP_STATIC=$(pkg-config --static --libs spate)

# --- run-time version ------------------------------------------------------------------------------
cat >"$T/version.c" <<'EOF'
#include <spate.h>
#include <stdio.h>
int main(void) { printf("%s %s %06x\n", spate_version(), SPATE_VERSION, SPATE_VERSION_NUM); return 0; }
EOF
$CC -o "$T/version" "$T/version.c" $SP_CFLAGS $SP_LIBS >"$T/version.log" 2>&1
WANT_NUM=$(echo "$VERSION" | awk -F. '{printf "%02x%02x%02x", $1, $2, $3}')
is "$(LD_LIBRARY_PATH=$S/usr/lib "$T/version" 2>&1)" "$VERSION $VERSION $WANT_NUM" \
    "spate_version(), SPATE_VERSION and SPATE_VERSION_NUM agree with spate.pc"

# --- the examples, each against 1,000 URLs of a private nginx ------------------------------------
make_files "$T/www" $N
nginx_start "$T" || { echo "Bail out! nginx did not start"; exit 1; }
BYTES=$("$PY" -c "print(sum(len('file %d\n' % i) for i in range($N)))")
EX=$ROOT/tests/examples
CWARN="-Wall -Wextra -Werror -pedantic"

# served_each_once: nginx's log since the last truncation holds /f/0 .. /f/N-1 once each, all 200
served_each_once() {
    "$PY" - "$T/access.log" $N <<'EOF'
import sys, collections
n = int(sys.argv[2])
rows = [l.split() for l in open(sys.argv[1])]
c = collections.Counter(r[0] for r in rows)
want = {"/f/%d" % i for i in range(n)}
bad = [u for u in want if c[u] != 1][:5] + [u for u in c if u not in want][:5]
bad += [r for r in rows if r[2] != "200"][:3]
print("ok" if not bad else "wrong: %s" % bad)
EOF
}

# example NAME BINARY: runs it on N URLs and checks its line, its exit status and nginx's view
example() {
    : >"$T/access.log"
    LD_LIBRARY_PATH=$S/usr/lib timeout -k 5 60 "$2" -n $N "$NGINX_URL/f/" >"$T/$1.out" 2>"$T/$1.err"
    _rc=$?
    is "$_rc $(cat "$T/$1.out")" "0 fetched $N of $N URLs, $BYTES body bytes" \
        "$1: exit 0, all $N fetched, body bytes = the files' total" || diag "$(head -n 5 "$T/$1.err")"
    is "$(served_each_once)" ok "$1: nginx served each of the $N URLs exactly once, all 200"
}

for f in poll.c libuv.c libevent.c cxx.cc; do
    cmp_num "$(wc -l <"$EX/$f")" -lt 100 "tests/examples/$f is under 100 lines"
done

$CC -std=c99 $CWARN -o "$T/poll-shared" "$EX/poll.c" $SP_CFLAGS $SP_LIBS >"$T/build.log" 2>&1
ok $? "poll.c builds with pkg-config --cflags --libs spate (shared)" || diag "$(cat "$T/build.log")"
like "$(LD_LIBRARY_PATH=$S/usr/lib ldd "$T/poll-shared" 2>&1 | grep libspate)" "libspate.so.0 => $S/usr/lib/libspate.so.0" \
    "poll-shared loads the staged libspate.so.0"
example poll-shared "$T/poll-shared"

$CC -std=c99 $CWARN -static -o "$T/poll-static" "$EX/poll.c" $SP_CFLAGS $SP_STATIC >"$T/build.log" 2>&1
ok $? "poll.c builds fully static with pkg-config --static" || diag "$(grep -v 'statically linked applications' "$T/build.log" | head -20)"
is "$(readelf -d "$T/poll-static" 2>&1 | grep -c NEEDED)" 0 "poll-static needs no shared library"
example poll-static "$T/poll-static"

$CC -std=gnu99 $CWARN -o "$T/libuv" "$EX/libuv.c" $SP_CFLAGS $(pkg-config --cflags --libs libuv) $SP_LIBS >"$T/build.log" 2>&1
ok $? "libuv.c builds" || diag "$(cat "$T/build.log")"
example libuv "$T/libuv"

$CC -std=c99 $CWARN -o "$T/libevent" "$EX/libevent.c" $SP_CFLAGS $(pkg-config --cflags --libs libevent) $SP_LIBS >"$T/build.log" 2>&1
ok $? "libevent.c builds" || diag "$(cat "$T/build.log")"
example libevent "$T/libevent"

$CXX -std=c++11 $CWARN -o "$T/cxx" "$EX/cxx.cc" $SP_CFLAGS $SP_LIBS >"$T/build.log" 2>&1
ok $? "cxx.cc builds and links as C++ (extern \"C\")" || diag "$(cat "$T/build.log")"
example cxx "$T/cxx"

# every example on URLs given as arguments, one of which fails: counted, and exit status 1
for b in poll-shared libuv libevent cxx; do
    LD_LIBRARY_PATH=$S/usr/lib timeout -k 5 30 "$T/$b" "$NGINX_URL/f/1" "$NGINX_URL/missing" "$NGINX_URL/f/22" \
        >"$T/$b.args.out" 2>"$T/$b.args.err"
    echo "$? $(cat "$T/$b.args.out") $(cat "$T/$b.args.err")" >>"$T/args.txt"
done
is "$(sort -u "$T/args.txt")" "1 fetched 2 of 3 URLs, 15 body bytes http: HTTP status 404" \
    "URL arguments: each example counts 2 of 3 (a 404 is a failure of kind http), exit 1" || diag "$(cat "$T/args.txt")"

# the installed shared library under valgrind: no error, nothing lost
if command -v valgrind >/dev/null 2>&1; then
    LD_LIBRARY_PATH=$S/usr/lib timeout -k 5 120 valgrind -q --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect "$T/poll-shared" -n 50 "$NGINX_URL/f/" >"$T/vg.out" 2>"$T/vg.err"
    is "$? $(cat "$T/vg.out")" "0 fetched 50 of 50 URLs, 390 body bytes" "valgrind: poll-shared on 50 URLs is clean" \
        || diag "$(head -n 30 "$T/vg.err")"
else
    skip "valgrind not installed"
fi
nginx_stop

# --- exported symbols: exactly spate.h's functions -----------------------------------------------
# The prototypes are read from the header by a parser of the test's own, not from the build's
# list, so the two cannot drift together.
"$PY" "$TAP_LIB/header_functions.py" "$S/usr/include/spate.h" "$CC" >"$T/api.txt"
API=$(cat "$T/api.txt")
cmp_num "$(echo "$API" | grep -c '^spate_')" -ge 17 "spate.h's prototypes parsed ($(echo "$API" | wc -l) functions)"
is "$(echo "$API" | grep -cv '^spate_')" 0 "every parsed name is a spate_ function"
# defined_diff LIST_FILE: "" when the file lists exactly $API, else what is missing and extra
defined_diff() {
    _want=$(echo "$API" | sort -u)
    _got=$(sort -u "$1")
    _miss=$(printf '%s\n' "$_want" | grep -vxF -f "$1" | tr '\n' ' ')
    _extra=$(printf '%s\n' "$_got" | grep -vxF "$_want" | head -n 12 | tr '\n' ' ')
    _nextra=$(printf '%s\n' "$_got" | grep -cvxF "$_want")
    [ -z "$_miss$_extra" ] || echo "missing: [$_miss] extra ($_nextra): [$_extra]"
}
nm -D --defined-only "$SO" 2>/dev/null | awk 'NF == 3 { sub(/@.*/, "", $3); print $3 }' >"$T/so.syms"
is "$(defined_diff "$T/so.syms")" "" "nm -D libspate.so: exactly the functions spate.h declares"
nm -g --defined-only "$S/usr/lib/libspate.a" 2>/dev/null | awk 'NF == 3 { print $3 }' >"$T/a.syms"
is "$(defined_diff "$T/a.syms")" "" "nm -g libspate.a: exactly the functions spate.h declares"
is "$(grep -cE '^(llhttp_|spate_buf|spate_errf|spate_url)' "$T/so.syms" "$T/a.syms" | awk -F: '{s += $2} END {print s}')" 0 \
    "no llhttp_* and no internal spate_* symbol in either"
cmp_num "$(nm "$S/usr/lib/libspate.a" 2>/dev/null | grep -c ' t llhttp_')" -ge 5 \
    "libspate.a still holds llhttp's parser, as local symbols"

# --- the command needs nothing spate.h does not declare --------------------------------------------
# The product links the internal archive (LTO over the command and the engine at once); the same
# objects are linked here against the public libspate.a, whose only global symbols are spate.h's
# functions, so a use of anything internal fails to link. A planted call of an internal function
# shows the link would catch it: refused against libspate.a, resolved by the internal archive.
pmake -s build/asan/spate-public >"$T/public.log" 2>&1
ok_cmd "the command's objects link against the public libspate.a alone" \
    test -x "$ROOT/build/asan/spate-public" || diag "$(tail -n 20 "$T/public.log")"
is "$("$ROOT/build/asan/spate-public" --version 2>&1 | head -n 1)" "spate $VERSION" "  and that spate runs"
LINK=$(pmake -n -B build/asan/spate-public 2>/dev/null | grep -- ' -o build/asan/spate-public ')
printf '%s\n' '#include <stddef.h>' 'int spate_url_check(const char *s, char *err, size_t errlen);' \
    'int spate_planted(void);' 'int spate_planted(void) { return spate_url_check("http://h/", NULL, 0); }' \
    >"$T/planted.c"
"$CC" -c -o "$T/planted.o" "$T/planted.c"
PUB=$(cd "$ROOT" && sh -c "$(printf '%s' "$LINK" | sed "s| -o build/asan/spate-public | -o $T/planted-pub $T/planted.o |")" 2>&1)
like "$PUB" "undefined reference to .spate_url_check'" \
    "  a planted use of an internal function (spate_url_check) does not link against libspate.a"
INT=$(cd "$ROOT" && sh -c "$(printf '%s' "$LINK" | sed -e "s| -o build/asan/spate-public | -o $T/planted-int $T/planted.o |" \
    -e 's|build/asan/libspate\.a|build/asan/libspate-internal.a|')" 2>&1)
ok_cmd "  ... and links against the internal archive (the check sees what it should)" test -x "$T/planted-int" ||
    diag "$INT"

# --- a program with its own llhttp ---------------------------------------------------------------
# Its llhttp is built lenient (no strict mode) with llhttp_init renamed, so the program's own
# llhttp_init wrapper counts every call; spate must neither call it nor parse leniently.
LLHTTP_DIR=${LLHTTP_DIR:-/usr/share/llhttp}
LLHTTP_INC=${LLHTTP_INC:-/usr/share/include/llhttp}
if [ -f "$LLHTTP_DIR/api.c" ]; then
    hsrv_start own >/dev/null || { echo "Bail out! hostile_http.py did not start"; exit 1; }
    mkdir -p "$T/own"
    _b=0
    for f in api http llhttp; do
        _ren=; [ $f = api ] && _ren=-Dllhttp_init=own_llhttp_init_real
        $CC -O1 -w -DLLHTTP_STRICT_MODE=0 $_ren -I"$LLHTTP_INC" -c "$LLHTTP_DIR/$f.c" -o "$T/own/$f.o" || _b=1
    done
    $CC $CWARN -std=c99 -I"$LLHTTP_INC" -o "$T/own/static" "$TAP_LIB/own_llhttp.c" "$T/own/api.o" \
        "$T/own/http.o" "$T/own/llhttp.o" $SP_CFLAGS -static $SP_STATIC >"$T/own/build.log" 2>&1 || _b=1
    $CC $CWARN -std=c99 -I"$LLHTTP_INC" -o "$T/own/shared" "$TAP_LIB/own_llhttp.c" "$T/own/api.o" \
        "$T/own/http.o" "$T/own/llhttp.o" $SP_CFLAGS $SP_LIBS >>"$T/own/build.log" 2>&1 || _b=1
    ok $_b "a program with its own llhttp links with libspate.a and with libspate.so (no clash)" \
        || diag "$(grep -v 'statically linked' "$T/own/build.log" | head -20)"
    for kind in static shared; do
        for c in chunk_xx name_space; do
            is "$(LD_LIBRARY_PATH=$S/usr/lib timeout -k 5 30 "$T/own/$kind" "$HURL/$c" 2>&1)" \
                "own_parse=ok own_init_calls=1 status=0 error=protocol" \
                "own llhttp, $kind: the program's lenient parser accepts $c, spate's strict one still refuses it"
        done
    done
    is "$(LD_LIBRARY_PATH=$S/usr/lib timeout -k 5 30 "$T/own/static" "$HURL/ok" 2>&1)" \
        "own_parse=ok own_init_calls=1 status=200 error=" "own llhttp, control: a sound response is fetched"
else
    for i in 1 2 3 4 5 6; do skip "no llhttp sources at $LLHTTP_DIR"; done
fi

# --- man pages ------------------------------------------------------------------------------------
for p in man1/spate.1 man3/libspate.3; do
    W=$(MANWIDTH=80 man --warnings -l "$S/usr/share/man/$p" 2>&1 >"$T/man.txt")
    is "$W" "" "man -l $p renders without warnings"
    like "$(sed -n '1,6p' "$T/man.txt" | tr -s ' ')" "^ *$(basename "$p" | sed 's/\..*//') - " "$p: NAME section"
done
# every long option the command's help lists is in spate(1)
SPATE_INST=$S/usr/bin/spate
OPTS=$({ "$SPATE_INST" fetch --help; "$SPATE_INST" bench --help; } 2>&1 | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u)
undoc=
for o in $OPTS; do
    grep -qF -- "$(echo "$o" | sed 's/-/\\-/g')" "$S/usr/share/man/man1/spate.1" || undoc="$undoc $o"
done
cmp_num "$(echo "$OPTS" | wc -l)" -ge 40 "spate fetch/bench --help list their options ($(echo "$OPTS" | wc -l))"
is "$undoc" "" "spate(1) documents every option of spate fetch --help and spate bench --help"
undoc=
for f in $API; do grep -q "^\.BI\? .*$f\b" "$S/usr/share/man/man3/libspate.3" || undoc="$undoc $f"; done
is "$undoc" "" "libspate(3) documents every function spate.h declares"

# --- make uninstall --------------------------------------------------------------------------------
pmake -s uninstall DESTDIR="$S" PREFIX=/usr >"$T/uninstall.log" 2>&1
is "$(find "$S" ! -type d | sed "s|^$S||" | tr '\n' ' ')" "" "make uninstall removes every installed file"

done_testing
