# spate: one GNU Makefile, no configure step. `make` builds spate, libspate.a and libspate.so;
# `make test` builds the ASan+UBSan variant and runs every test under prove; `make install`
# (PREFIX, DESTDIR, LIBDIR, ...) installs them. The user's CPPFLAGS, CFLAGS, LDFLAGS and LDLIBS
# come after the project's own flags, so they win.
CC      ?= cc
PKGS    := openssl libcares
# Warnings are errors in the project's own checks (`make test`, which CI runs, and the other
# developer goals below), never in a plain `make` or `make install` by a user or packager, whose
# newer compiler may warn about code that is correct. `make WERROR=-Werror` forces it either way.
ifneq ($(filter test unit kqueue-check fuzz,$(MAKECMDGOALS)),)
WERROR  ?= -Werror
endif
WERROR  ?=
WARN     = -Wall -Wextra $(WERROR) -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
OPT     ?= -O2 -g
STD     := -std=c11 -D_GNU_SOURCE

# llhttp: a system library when pkg-config knows one, else Debian's packaged C sources.
LLHTTP_PC  := $(shell pkg-config --exists libllhttp 2>/dev/null && echo yes)
LLHTTP_DIR ?= /usr/share/llhttp
LLHTTP_INC ?= /usr/share/include/llhttp
ifeq ($(LLHTTP_PC),yes)
LLHTTP_CFLAGS := $(shell pkg-config --cflags libllhttp)
LLHTTP_LIBS   := $(shell pkg-config --libs libllhttp)
LLHTTP_SRC    :=
else
LLHTTP_CFLAGS := -I$(LLHTTP_INC)
LLHTTP_LIBS   :=
LLHTTP_SRC    := $(LLHTTP_DIR)/api.c $(LLHTTP_DIR)/http.c $(LLHTTP_DIR)/llhttp.c
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# Include paths per layer (the layers of README.md; tests/t_layers.sh checks every include too):
# a file finds only the headers its layer may see, so an include across the layering fails to
# compile. The command sees cli/ and spate.h alone (build/include holds nothing but spate.h);
# tls/ and dns/ their own directory and the engine's bottom layer (build/include-bottom: links
# to the headers in BOTTOM_H, which t_layers.sh checks against its bottom layer). The engine sees all but cli/;
# tests/ and bench/ see everything.
BOTTOM_H  := loop.h timer.h clock.h buf.h list.h htable.h err.h transport.h deadline.h freelist.h
INCS       = -Iengine -Itls -Idns -Icli $(PKG_CFLAGS) $(LLHTTP_CFLAGS)
ENGINE_INCS = -Iengine -Itls -Idns $(PKG_CFLAGS) $(LLHTTP_CFLAGS)
CLI_INCS    = -Icli -Ibuild/include
BOTTOM_INCS = -Ibuild/include-bottom $(PKG_CFLAGS)
# zlib: the CLI's HdrHistogram logs (cli/hdrlog.c) only; the engine does not use it.
ZLIB_LIBS   = $(shell pkg-config --libs zlib 2>/dev/null || echo -lz)
# -pthread: the resolver's once-only c-ares initialisation (pthread_once, in libpthread before
# glibc 2.34); spate.pc's Libs.private says the same for a static link.
LIBS        = $(PKG_LIBS) $(LLHTTP_LIBS) $(ZLIB_LIBS) -lm -pthread

LIB_SRC := $(wildcard engine/*.c tls/*.c dns/*.c)
LLHTTP_OBJ = $(patsubst $(LLHTTP_DIR)/%.c,$1/llhttp/%.o,$(LLHTTP_SRC))
LIB_OBJ    = $(LIB_SRC:%.c=$1/%.o) $(call LLHTTP_OBJ,$1)
# Library objects are position-independent (libspate.so is made of them) and hidden unless
# spate.h declares them with SPATE_API.
LIB_CF  := -fPIC -fvisibility=hidden

# The version comes from spate.h; the soname carries its major number.
VERSION := $(shell sed -n 's/^\#define SPATE_VERSION "\(.*\)"/\1/p' engine/spate.h)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))
SONAME  := libspate.so.$(SOMAJOR)
SOFILE  := libspate.so.$(VERSION)
CLI_SRC := $(filter-out cli/main.c,$(wildcard cli/*.c))
UNIT_SRC := $(wildcard tests/test_*.c)

# Three variants: build/rel (the command), build/lib (the installed library) and build/asan
# (what the tests run).
REL  := build/rel
LIB  := build/lib
ASAN := build/asan
SAN  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# The product is built with -O3 and link-time optimization (about 7% fewer instructions per
# fetched URL, measured with callgrind); fat LTO objects keep libspate.a usable by any linker.
RELOPT ?= -O3 -flto=auto -ffat-lto-objects
# The library an embedder links is built for size as much as speed: -O2 makes its code about
# 20 KB (13%) smaller than -O3, so a minimal embedding stays under 150 KB (bench/lib-memory.sh),
# for about 2.5% more instructions per fetched URL; the command keeps -O3.
LIBOPT ?= -O2 -flto=auto -ffat-lto-objects

.PHONY: all deps bench-deps test unit run bench fuzz clean format install uninstall kqueue-check
all: spate libspate.a $(LIB)/$(SOFILE) $(LIB)/$(SONAME) $(LIB)/libspate.so

# The public functions, one per line: every SPATE_API prototype in spate.h. They and nothing
# else are exported from libspate.so (version script) and global in libspate.a.
build/spate.syms: engine/spate.h
	@mkdir -p $(dir $@)
	sed -n 's/^SPATE_API[^(]*[^A-Za-z0-9_(]\([A-Za-z_][A-Za-z0-9_]*\)(.*/\1/p' $< >$@.tmp
	@test -s $@.tmp || { echo "no SPATE_API prototype found in $<" >&2; exit 1; }
	mv -f $@.tmp $@
build/spate.map: build/spate.syms
	{ echo '{ global:'; sed 's/.*/    &;/' $<; echo '  local: *;'; echo '};'; } >$@

# The one-header directories of the per-layer include paths: links, so that the compiler's
# messages and the dependency files name the real header.
build/include/spate.h: engine/spate.h
	@mkdir -p $(dir $@)
	ln -sf ../../$< $@
build/include-bottom/%.h: engine/%.h
	@mkdir -p $(dir $@)
	ln -sf ../../$< $@

define variant # $1 = dir, $2 = extra flags, $3 = flags of the relocatable link (libspate.a)
$1/%.o: %.c
	@mkdir -p $$(dir $$@)
	$$(CC) $(STD) $(OPT) $2 $$(WARN) $$(OBJ_CF) -MMD -MP $$(INCS) $$(CPPFLAGS) $$(CFLAGS) -c $$< -o $$@
$1/engine/%.o $1/tls/%.o $1/dns/%.o: OBJ_CF := $(LIB_CF)
$1/engine/%.o: INCS = $$(ENGINE_INCS)
$1/tls/%.o: INCS = -Itls $$(BOTTOM_INCS)
$1/dns/%.o: INCS = -Idns $$(BOTTOM_INCS)
$(patsubst %.c,$1/%.o,$(wildcard tls/*.c dns/*.c)): | $(BOTTOM_H:%=build/include-bottom/%)
$1/cli/%.o: INCS = $$(CLI_INCS)
$(patsubst %.c,$1/%.o,$(wildcard cli/*.c)): | build/include/spate.h
# llhttp is generated code: our warning set is not its contract; strict mode per HOSTILE.md §0.
$1/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p $$(dir $$@)
	$$(CC) $(OPT) $2 $(LIB_CF) -DLLHTTP_STRICT_MODE=1 -w $$(LLHTTP_CFLAGS) $$(CPPFLAGS) $$(CFLAGS) -c $$< -o $$@
# Every symbol global: for the unit tests, which use internals (buf.h, http1.h...), and the
# command's link (see the spate rule below).
$1/libspate-internal.a: $(call LIB_OBJ,$1)
	rm -f $$@ && ar rcs $$@ $$^
# The public static library: one relocatable object in which only spate.h's functions stay
# global, so a program's own llhttp_init (or spate_buf_*) can neither replace nor clash with ours;
# then the code no public function can reach (parts of llhttp, the command's helpers) is dropped.
$1/libspate.o: $(call LIB_OBJ,$1) build/spate.syms
	$$(CC) -r -nostdlib $2 $3 -o $$@.all $(call LIB_OBJ,$1)
	objcopy --localize-hidden --keep-global-symbols=build/spate.syms $$@.all $$@.local
	$$(CC) -r -nostdlib -Wl,--gc-sections $$$$(sed 's/^/-Wl,-u,/' build/spate.syms) -o $$@ $$@.local
	rm -f $$@.all $$@.local
$1/libspate.a: $1/libspate.o
	rm -f $$@ && ar rcs $$@ $$<
$1/$(SOFILE): $(call LIB_OBJ,$1) build/spate.map
	$$(CC) -shared $2 $$(LDFLAGS) -Wl,-soname,$(SONAME) -Wl,--version-script=build/spate.map \
	    -Wl,--no-undefined -o $$@ $(call LIB_OBJ,$1) $$(LIBS) $$(LDLIBS)
$1/$(SONAME): $1/$(SOFILE)
	ln -sf $(SOFILE) $$@
$1/libspate.so: $1/$(SONAME)
	ln -sf $(SONAME) $$@
$1/libcli.a: $(CLI_SRC:%.c=$1/%.o)
	ar rcs $$@ $$^
# The command uses nothing but spate.h (t_library.sh links spate-public, the same objects against
# the public libspate.a, to prove it); it links the internal archive only so that LTO sees it and
# the engine as one program: about 1% fewer instructions per fetched URL (callgrind).
$1/spate: $1/cli/main.o $1/libcli.a $1/libspate-internal.a
	$$(CC) $2 $$(LDFLAGS) -o $$@ $$^ $$(LIBS) $$(LDLIBS)
$1/spate-public: $1/cli/main.o $1/libcli.a $1/libspate.a
	$$(CC) $2 $$(LDFLAGS) -o $$@ $$^ $$(LIBS) $$(LDLIBS)
$1/tests/test_%: $1/tests/test_%.o $1/libcli.a $1/libspate-internal.a
	$$(CC) $2 $$(LDFLAGS) -o $$@ $$^ $$(LIBS) $$(LDLIBS)
endef
# gcc -r on LTO objects: optimise the library as a whole and emit plain code any linker takes,
# one section per function so that a program linked with --gc-sections keeps only what it uses.
$(eval $(call variant,$(REL),$(RELOPT),-flinker-output=nolto-rel -ffunction-sections -fdata-sections))
$(eval $(call variant,$(LIB),$(LIBOPT),-flinker-output=nolto-rel -ffunction-sections -fdata-sections))
$(eval $(call variant,$(ASAN),$(SAN),))

# copy-and-rename: a running ./spate (a benchmark) must not make the build fail
spate: $(REL)/spate
	cp $< $@.tmp && mv -f $@.tmp $@
libspate.a: $(LIB)/libspate.a
	cp $< $@.tmp && mv -f $@.tmp $@

UNIT_BIN := $(UNIT_SRC:tests/%.c=$(ASAN)/tests/%)

# The kqueue backend on Linux: test_kqueue builds it against a declaration header of the kqueue
# API (tests/kq) and plays the kernel; kqueue-check compiles its path for kqueues without
# EV_RECEIPT. Both prove it compiles and what spate asks of the API, not how a BSD kernel answers.
$(ASAN)/tests/test_kqueue.o: INCS += -Itests/kq
KQ_CHECK := $(CC) $(STD) $(WARN) -fsyntax-only -Iengine -Itests/kq '-DSPATE_LOOP_BACKEND="poll_kqueue.c.h"'
kqueue-check:
	$(KQ_CHECK) engine/loop.c
	$(KQ_CHECK) -DSPATE_KQ_NO_RECEIPT engine/loop.c

# Debian packages the build and the tests need; apt-get only runs when one is missing.
DEPS_PKGS := gcc make pkg-config libssl-dev libc-ares-dev node-llhttp nginx python3 perl \
             openssl curl valgrind dnsmasq-base clang libclang-rt-14-dev procps iproute2 \
             zlib1g-dev slurmctld slurmd slurm-client munge libhdrhistogram-java openjdk-17-jdk-headless time \
             g++ libuv1-dev libevent-dev man-db groff-base binutils
BENCH_PKGS := wrk nghttp2-client python3-aiohttp curl util-linux
deps:
	@sh tests/lib/apt-ensure.sh $(DEPS_PKGS)
bench-deps: deps
	@sh tests/lib/apt-ensure.sh $(BENCH_PKGS)

unit: $(UNIT_BIN)

# SPATE_BIN: the binary integration tests drive (the sanitized one).
test: deps
	@$(MAKE) --no-print-directory WERROR='$(WERROR)' all $(ASAN)/spate $(UNIT_BIN) kqueue-check
	@SPATE_BIN=$(CURDIR)/$(ASAN)/spate sh tests/lib/run-tests.sh $(UNIT_BIN) $(sort $(wildcard tests/t_*.sh))

run: deps
	@$(MAKE) --no-print-directory all
	@sh bench/run-demo.sh

bench: bench-deps
	@$(MAKE) --no-print-directory all
	@sh bench/fetch-compare.sh
	@sh bench/hosts-mem.sh
	@sh bench/stream-mem.sh

# libFuzzer targets (URL parser, input lines, response path): FUZZ_SECONDS each, one at a time.
FUZZ_SECONDS ?= 60
fuzz: deps
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf build spate libspate.a

# Installation: the usual variables; DESTDIR stages the whole tree (packaging, tests).
PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
INSTALL      ?= install
# spate.pc: what a program linking libspate needs besides it (statically: all of it).
PC_REQUIRES  := $(strip $(PKGS) $(if $(LLHTTP_LIBS),libllhttp))

install: all
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
	    $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3
	$(INSTALL) -m 755 spate $(DESTDIR)$(BINDIR)/spate
	$(INSTALL) -m 644 libspate.a $(DESTDIR)$(LIBDIR)/libspate.a
	$(INSTALL) -m 755 $(LIB)/$(SOFILE) $(DESTDIR)$(LIBDIR)/$(SOFILE)
	ln -sf $(SOFILE) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libspate.so
	$(INSTALL) -m 644 engine/spate.h $(DESTDIR)$(INCLUDEDIR)/spate.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
	    -e 's|@VERSION@|$(VERSION)|g' -e 's|@REQUIRES@|$(PC_REQUIRES)|g' \
	    engine/spate.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/spate.pc
	$(INSTALL) -m 644 cli/spate.1 $(DESTDIR)$(MANDIR)/man1/spate.1
	$(INSTALL) -m 644 engine/libspate.3 $(DESTDIR)$(MANDIR)/man3/libspate.3

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/spate $(DESTDIR)$(LIBDIR)/libspate.a \
	    $(DESTDIR)$(LIBDIR)/$(SOFILE) $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libspate.so \
	    $(DESTDIR)$(INCLUDEDIR)/spate.h $(DESTDIR)$(PKGCONFIGDIR)/spate.pc \
	    $(DESTDIR)$(MANDIR)/man1/spate.1 $(DESTDIR)$(MANDIR)/man3/libspate.3

format:
	clang-format -i $(wildcard engine/*.[ch] tls/*.[ch] dns/*.[ch] cli/*.[ch] tests/*.c \
	    tests/examples/*.c tests/examples/*.cc tests/lib/*.c bench/*.c)

-include $(shell find build -name '*.d' 2>/dev/null)
