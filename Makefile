# spate: one GNU Makefile, no configure step. `make` builds spate and libspate.a;
# `make test` builds the ASan+UBSan variant and runs every test under prove.
CC      ?= cc
PKGS    := openssl libcares
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
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
INCS       := -Iengine -Itls -Idns -Icli
# zlib: the CLI's HdrHistogram logs (cli/hdrlog.c) only; the engine does not use it.
ZLIB_LIBS   = $(shell pkg-config --libs zlib 2>/dev/null || echo -lz)
LIBS        = $(PKG_LIBS) $(LLHTTP_LIBS) $(ZLIB_LIBS) -lm

LIB_SRC := $(wildcard engine/*.c tls/*.c dns/*.c)
CLI_SRC := $(filter-out cli/main.c,$(wildcard cli/*.c))
UNIT_SRC := $(wildcard tests/test_*.c)

# Two variants: build/rel (the product) and build/asan (what the tests run).
REL  := build/rel
ASAN := build/asan
SAN  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# The product is built with -O3 and link-time optimization (about 7% fewer instructions per
# fetched URL, measured with callgrind); fat LTO objects keep libspate.a usable by any linker.
RELOPT ?= -O3 -flto=auto -ffat-lto-objects

.PHONY: all deps bench-deps test unit run bench fuzz clean format kqueue-check
all: spate libspate.a

define variant # $1 = dir, $2 = extra flags
$1/%.o: %.c
	@mkdir -p $$(dir $$@)
	$$(CC) $(STD) $(OPT) $2 $$(WARN) -MMD -MP $$(INCS) $$(PKG_CFLAGS) $$(LLHTTP_CFLAGS) -c $$< -o $$@
# llhttp is generated code: our warning set is not its contract; strict mode per HOSTILE.md §0.
$1/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p $$(dir $$@)
	$$(CC) $(OPT) $2 -DLLHTTP_STRICT_MODE=1 -w $$(LLHTTP_CFLAGS) -c $$< -o $$@
$1/libspate.a: $(LIB_SRC:%.c=$1/%.o) $(patsubst $(LLHTTP_DIR)/%.c,$1/llhttp/%.o,$(LLHTTP_SRC))
	ar rcs $$@ $$^
$1/libcli.a: $(CLI_SRC:%.c=$1/%.o)
	ar rcs $$@ $$^
$1/spate: $1/cli/main.o $1/libcli.a $1/libspate.a
	$$(CC) $2 -o $$@ $$^ $$(LIBS)
$1/tests/test_%: $1/tests/test_%.o $1/libcli.a $1/libspate.a
	$$(CC) $2 -o $$@ $$^ $$(LIBS)
endef
$(eval $(call variant,$(REL),$(RELOPT)))
$(eval $(call variant,$(ASAN),$(SAN)))

# copy-and-rename: a running ./spate (a benchmark) must not make the build fail
spate: $(REL)/spate
	cp $< $@.tmp && mv -f $@.tmp $@
libspate.a: $(REL)/libspate.a
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
             zlib1g-dev slurmctld slurmd slurm-client munge libhdrhistogram-java
BENCH_PKGS := wrk nghttp2-client python3-aiohttp curl util-linux
deps:
	@sh tests/lib/apt-ensure.sh $(DEPS_PKGS)
bench-deps: deps
	@sh tests/lib/apt-ensure.sh $(BENCH_PKGS)

unit: $(UNIT_BIN)

# SPATE_BIN: the binary integration tests drive (the sanitized one).
test: deps
	@$(MAKE) --no-print-directory all $(ASAN)/spate $(UNIT_BIN) kqueue-check
	@SPATE_BIN=$(CURDIR)/$(ASAN)/spate sh tests/lib/run-tests.sh $(UNIT_BIN) $(sort $(wildcard tests/t_*.sh))

run: deps
	@$(MAKE) --no-print-directory all
	@sh bench/run-demo.sh

bench: bench-deps
	@$(MAKE) --no-print-directory all
	@sh bench/fetch-compare.sh

# libFuzzer targets (URL parser, input lines, response path): FUZZ_SECONDS each, one at a time.
FUZZ_SECONDS ?= 60
fuzz: deps
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf build spate libspate.a

format:
	clang-format -i $(wildcard engine/*.[ch] tls/*.[ch] dns/*.[ch] cli/*.[ch] tests/*.c)

-include $(shell find build -name '*.d' 2>/dev/null)
