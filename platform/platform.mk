# Chooses the platform files from the OS, the poller and the board, and the toolchain for cross
# builds. Only this file and the files it names know which OS or board Tern is built for.
#
# CROSS=aarch64-linux-gnu- (or arm-linux-gnueabihf-) cross-compiles with Debian's cross gcc and
# the :arm64 (:armhf) multiarch libraries: CC, AR, STRIP and pkg-config follow the prefix, the
# build goes to build/<triplet> unless BUILD is given, and TARGET_RUNNER names the qemu-user
# binary that runs the result here (binfmt may not be registered, so it is always explicit).
# BOARD defaults to rpi-aarch64 for aarch64 targets that are a Raspberry Pi (or any aarch64
# cross build), armv7 for 32-bit ARM, linux-generic otherwise.

# The rules below must not become make's default goal: a plain `make` builds `all`.
.DEFAULT_GOAL := all

UNAME_S := $(shell uname -s)
CROSS   ?=

ifneq ($(CROSS),)
  ifeq ($(origin CC),default)
    CC := $(CROSS)gcc
  endif
  ifeq ($(origin AR),default)
    AR := $(CROSS)ar
  endif
  STRIP ?= $(CROSS)strip
  CROSS_TRIPLET := $(patsubst %-,%,$(CROSS))
  PKG_CONFIG ?= PKG_CONFIG_LIBDIR=/usr/lib/$(CROSS_TRIPLET)/pkgconfig pkg-config
  ifeq ($(origin BUILD),file)
    BUILD := build/$(CROSS_TRIPLET)
  endif
else
  STRIP ?= strip
  PKG_CONFIG ?= pkg-config
endif

# Before the cross compiler is installed (make test-arm installs it) the prefix names the target.
# DEPS_ARCH: the foreign architecture whose :ARCH packages a cross build needs (none natively,
# e.g. when building on the Pi itself).
TARGET_MACHINE := $(or $(shell $(CC) -dumpmachine 2>/dev/null),$(CROSS_TRIPLET))
ifneq ($(filter aarch64%,$(TARGET_MACHINE)),)
  TARGET_RUNNER := $(if $(CROSS),qemu-aarch64)
  DEB_ARCH := arm64
  DEPS_ARCH := $(if $(CROSS),arm64)
else ifneq ($(filter arm%,$(TARGET_MACHINE)),)
  TARGET_RUNNER := $(if $(CROSS),qemu-arm)
  DEB_ARCH := armhf
  DEPS_ARCH := $(if $(CROSS),armhf)
else
  TARGET_RUNNER :=
  DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
  DEPS_ARCH :=
endif

ifeq ($(origin BOARD),undefined)
  ifneq ($(filter aarch64%,$(TARGET_MACHINE)),)
    ifneq ($(CROSS),)
      BOARD := rpi-aarch64
    else
      BOARD := $(if $(shell grep -s 'Raspberry Pi' /proc/device-tree/model),rpi-aarch64,linux-generic)
    endif
  else ifneq ($(filter arm%,$(TARGET_MACHINE)),)
    BOARD := armv7
  else
    BOARD := linux-generic
  endif
endif
ifeq ($(wildcard platform/board/$(BOARD).h),)
  $(error BOARD=$(BOARD): no platform/board/$(BOARD).h (boards: $(basename $(notdir $(wildcard platform/board/*.h)))))
endif

ifeq ($(POLLER),)
  ifeq ($(UNAME_S),Linux)
    POLLER := epoll
  else
    POLLER := poll
  endif
endif

ifeq ($(POLLER),epoll)
  PLAT_POLL := platform/poll_epoll.c
else ifeq ($(POLLER),poll)
  PLAT_POLL := platform/poll_posix.c
else
  $(error POLLER must be epoll or poll, not '$(POLLER)')
endif

PLAT_SRC := $(PLAT_POLL) platform/time_posix.c platform/os_posix.c platform/notify_systemd.c \
            platform/board.c

# 64-bit file offsets on 32-bit targets (armv7): a persistence log may pass 2 GiB, and without
# them readdir (include_dir) fails with EOVERFLOW on a filesystem with 64-bit directory offsets
# (seen under qemu-arm). No effect on 64-bit targets.
BOARD_CFLAGS += -D_FILE_OFFSET_BITS=64

include platform/board/$(BOARD).mk

# Only board.c reads the board header; board.name records the board last built into BUILD so
# that changing BOARD rebuilds it.
$(BUILD)/platform/board.o: CFLAGS += -DTERN_BOARD_FILE='"board/$(BOARD).h"'
$(BUILD)/platform/board.o $(BUILD)/test/unit/test_plat.o: $(BUILD)/board.name
$(BUILD)/board.name: FORCE
	@mkdir -p $(dir $@)
	@[ "$$(cat $@ 2>/dev/null)" = "$(BOARD)" ] || echo "$(BOARD)" > $@
.PHONY: FORCE
