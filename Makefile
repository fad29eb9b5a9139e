# Tern: one GNU Makefile. `make` builds build/tern; `make run` starts it on conf/tern.conf;
# `make test` runs every test (unit, fuzz-corpus replay, integration on both pollers).
# Switches: POLLER=epoll|poll (POLL= is accepted too), BOARD=linux-generic|rpi-aarch64|armv7,
# SAN=1 (AddressSanitizer + UBSan), CC=gcc|clang, BUILD=dir.

CC      ?= gcc
BUILD   ?= build
POLL    ?=
POLLER  ?= $(if $(POLL),$(POLL),)
SAN     ?= 0
# SAN=1 builds into its own directory (build/san unless BUILD is given), so sanitized and plain
# objects never mix.
ifeq ($(SAN),1)
  ifeq ($(origin BUILD),file)
    BUILD := build/san
  endif
endif

include platform/platform.mk
# mbedTLS: TLS listeners (net_tls.c) and password hashes (auth.c); Debian ships no .pc file.
# Linked statically by default (MBEDTLS_STATIC=1; the static archives come with libmbedtls-dev):
# only the modules Tern uses are pulled in, and an idle broker without TLS listeners maps none
# of it, where the three shared libraries cost ~360 KB of RSS and ~50 KB of relocated pages
# in every Tern process (README "Footprint"). MBEDTLS_STATIC=0 links the shared libraries;
# then Debian's mbedTLS security updates apply without rebuilding Tern.
MBEDTLS_STATIC ?= 1
ifeq ($(MBEDTLS_STATIC),1)
MBEDTLS_LIBS := -Wl,-Bstatic -lmbedtls -lmbedx509 -lmbedcrypto -Wl,-Bdynamic
else
MBEDTLS_LIBS := -lmbedtls -lmbedx509 -lmbedcrypto
endif
LDLIBS  += $(MBEDTLS_LIBS)
# Packed relative relocations (DT_RELR, glibc 2.36+, binutils 2.38+) when the toolchain has
# them: the PIE's relocation table shrinks from ~30 KB to under 1 KB, pages the loader no
# longer reads at start-up.
# (aarch64's ld 2.40 accepts the flag with only a warning that it ignores it: silence required.)
LDFLAGS += $(shell out=$$(printf 'int main(void){return 0;}' | $(CC) -Wl,-z,pack-relative-relocs \
             -x c -o /dev/null - 2>&1) && [ -z "$$out" ] && echo -Wl,-z,pack-relative-relocs)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE $(WARN) -Iinclude -Isrc -MMD -MP $(BOARD_CFLAGS)
LDLIBS  += $(PLAT_LDLIBS)
# WebSockets (WITH_WS=1, the default): src/net_ws.c over a libwebsockets built with external
# poll and mbedTLS by platform/linux/build-lws.sh into LWS_DIR, once per target (cached), or
# the system's own when it has external poll. WITH_WS=0 drops the file and its table entry.
WITH_WS ?= 1
LWS_DIR ?= build/lws-$(TARGET_MACHINE)
LWS_STAMP := $(LWS_DIR)/stamp
ifeq ($(WITH_WS),1)
CFLAGS  += -DTERN_WITH_WS
LWS_LIBS = $(if $(wildcard $(LWS_DIR)/use-system),-lwebsockets,$(LWS_DIR)/lib/libwebsockets.a)
LWS_CAP  = $(if $(shell grep -s '^\#define LWS_HAVE_LIBCAP' $(LWS_DIR)/include/lws_config.h),-lcap)
LDLIBS  += $(LWS_LIBS) $(MBEDTLS_LIBS) $(LWS_CAP)
else
LWS_WS_SRC := src/net_ws.c
endif
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
# Any report ends the process with a failure status (the integration helpers also scan broker
# output for reports); leaks are checked at exit. TERN_SAN tells tests that measure RSS or
# timing that they run under ASan.
export ASAN_OPTIONS ?= abort_on_error=1:halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS ?= halt_on_error=1:print_stacktrace=1
export TERN_SAN := 1
endif

CORE_SRC := $(filter-out src/main.c $(LWS_WS_SRC),$(wildcard src/*.c))
CORE_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(CORE_SRC) $(PLAT_SRC))
MAIN_OBJ := $(BUILD)/src/main.o
LIB      := $(BUILD)/libtern.a

UNIT_SRC := $(wildcard test/unit/*.c)
UNIT_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(UNIT_SRC))
SUITES   := $(patsubst test/unit/test_%.c,%,$(filter test/unit/test_%.c,$(UNIT_SRC)))

FUZZ_SRC := $(wildcard test/fuzz/fuzz_*.c)
FUZZ_REPLAY := $(patsubst test/fuzz/%.c,$(BUILD)/fuzz/%_replay,$(FUZZ_SRC))

.PHONY: all run test test-unit test-fuzz-replay test-integration deps deps-test clean fuzz bench

# A cross build (CROSS=...) also builds the unit tests, to run under qemu (make test-arm).
all: deps $(BUILD)/tern $(BUILD)/tern_passwd $(if $(CROSS),$(BUILD)/test_unit)

deps:
	@platform/linux/install-deps.sh build $(DEPS_ARCH)

deps-test:
	@platform/linux/install-deps.sh test $(DEPS_ARCH)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# Rebuilt when the build script changes (its cmake options decide what is linked).
$(LWS_STAMP): platform/linux/build-lws.sh
	rm -f $(LWS_STAMP)
	platform/linux/build-lws.sh $(LWS_DIR) $(CC)

$(BUILD)/src/net_ws.o: CFLAGS += -isystem $(LWS_DIR)/include
$(BUILD)/src/net_ws.o: $(LWS_STAMP)

$(LIB): $(CORE_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# The link map lets test/bench/footprint.py tell Tern's bytes from the linked-in mbedTLS.
$(BUILD)/tern: $(MAIN_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -Wl,-Map=$@.map -o $@ $^ $(LDLIBS)

# tern_passwd: Mosquitto's mosquitto_passwd, for Tern's (and Mosquitto's) password files.
$(BUILD)/tern_passwd: $(BUILD)/src/tools/tern_passwd.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

run: all
	$(BUILD)/tern -c conf/tern.conf

# Unit tests: one Check runner over every test/unit/test_<module>.c (suite <module>_suite).
$(BUILD)/suites.h: $(UNIT_SRC)
	@mkdir -p $(BUILD)
	@printf '%s\n' $(foreach s,$(SUITES),'SUITE($(s))') > $@.tmp && mv $@.tmp $@

$(BUILD)/test/unit/main.o: $(BUILD)/suites.h
$(BUILD)/test/unit/%.o: CFLAGS += -I$(BUILD) $(shell $(PKG_CONFIG) --cflags check 2>/dev/null) \
    -DTERN_EXPECT_POLLER='"$(POLLER)"' -DTERN_EXPECT_BOARD='"$(BOARD)"'

$(BUILD)/test_unit: $(UNIT_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs check 2>/dev/null) $(LDLIBS)

test-unit: deps-test $(BUILD)/test_unit
	$(TARGET_RUNNER) $(BUILD)/test_unit

# Fuzz targets replay their seed corpus with a plain driver (no libFuzzer needed).
$(BUILD)/fuzz/%_replay: test/fuzz/%.c test/fuzz/replay_main.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ test/fuzz/$*.c test/fuzz/replay_main.c $(LIB) $(LDFLAGS) $(LDLIBS)

test-fuzz-replay: $(FUZZ_REPLAY)
	@set -e; for f in $(FUZZ_REPLAY); do t=$$(basename $$f _replay); t=$${t#fuzz_}; \
	  $$f test/fuzz/corpus/$$t; done

test-integration: deps-test $(BUILD)/tern $(BUILD)/tern_passwd
	test/integration/run.sh $(BUILD)/tern

# With SAN=1 (CI's second pass) the package check and the poll(2) integration pass are left
# out: the first installs the package and the second repeats the epoll pass's coverage of
# everything but platform/poll_posix.c, which the poll unit tests still run.
test: deps-test all test-unit test-fuzz-replay test-integration $(if $(filter 1,$(SAN)),,test-pkg)
	$(MAKE) --no-print-directory BUILD=$(BUILD)/poll POLLER=poll test-unit \
	  $(if $(filter 1,$(SAN)),,test-integration)

# libFuzzer runs: FUZZ_TIME seconds per target (default 60); fails on any crash or leak.
fuzz: deps-test
	test/fuzz/run.sh $(or $(FUZZ_TIME),60)

# The link libraries, for scripts that link against $(LIB) themselves (test/fuzz/run.sh).
print-ldlibs:
	@echo $(LDFLAGS) $(LDLIBS)

bench: all
	test/bench/run.sh

# TLS handshakes per second, full and resumed, RSA-2048 and ECDSA P-256, Tern and Mosquitto.
bench-tls: all
	TERN=$(BUILD)/tern test/bench/tls.sh

# WebSocket round trips and throughput next to TCP (test/bench/ws_rtt.c); BENCH_N round trips.
bench-ws: all
	test/bench/ws_bench.sh $(BUILD) $(or $(BENCH_N),100000)

# ---- ARM, install, Debian package (platform/linux/; README "Raspberry Pi") -----------------
# test-arm: cross-builds broker, tools and unit tests for aarch64 into $(ARM_BUILD), runs the
# unit tests and the ARM_IT integration scripts (publish/subscribe with mosquitto_pub/sub, Paho
# and raw clients, WebSocket frames, persistence crashes) against that broker under
# qemu-aarch64 on loopback, and checks the arm64 package. It installs the cross toolchain,
# qemu-user and the :arm64 libraries first (as root).
# install: PREFIX (/usr/local), SYSCONFDIR (/etc), DESTDIR, START=0 (do not start the
# service); deb: $(BUILD)/tern_VERSION_ARCH.deb, plus the arm64 one when $(ARM_BUILD) holds a
# cross build; test-pkg checks it (make test).
ARM_CROSS ?= aarch64-linux-gnu-
ARM_BUILD ?= $(BUILD)/$(patsubst %-,%,$(ARM_CROSS))
ARM_IT    ?= 02-subscribe 03-publish 04-retain 06-will 09-websocket-frames 10-persist \
             13-platform-sd-notify
PREFIX    ?= /usr/local
SYSCONFDIR ?= /etc

.PHONY: install deb test-pkg test-arm test-arm-run footprint

install: all
	START=$(or $(START),1) platform/linux/install.sh $(BUILD) $(PREFIX) $(SYSCONFDIR) $(STRIP) "$(DESTDIR)"

deb: all
	platform/linux/mkdeb.sh $(BUILD) $(DEB_ARCH) $(STRIP) $(BUILD)
	@if [ -z "$(CROSS)" ] && [ -x $(ARM_BUILD)/tern ]; then \
	  $(MAKE) --no-print-directory CROSS=$(ARM_CROSS) BUILD=$(ARM_BUILD) deb; fi

test-pkg: deb
	test/pkg/check-deb.sh $(BUILD) $(DEB_ARCH) $(if $(CROSS),,--install)

test-arm:
	@platform/linux/install-deps.sh test $(if $(filter aarch64%,$(ARM_CROSS)),arm64,armhf)
	$(MAKE) --no-print-directory CROSS=$(ARM_CROSS) BUILD=$(ARM_BUILD) test-arm-run

# The README's footprint table: sizes (x86-64, and aarch64 when cross-built), RSS idle and with
# 1,000 idle clients, disk writes while idle (FOOTPRINT_WINDOW seconds, default 60).
footprint: all
	/usr/bin/python3 test/bench/footprint.py $(BUILD)/tern $(wildcard $(ARM_BUILD)/tern) \
	    --window $(or $(FOOTPRINT_WINDOW),60)

test-arm-run: all test-unit test-pkg
	@set -e; for p in $(ARM_IT); do \
	  TERN_RUNNER="$(TARGET_RUNNER)" test/integration/run.sh $(BUILD)/tern $$p; done

clean:
	rm -rf $(BUILD)

-include $(CORE_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(UNIT_OBJ:.o=.d)
