# Raspberry Pi 3/4/5 with a 64-bit OS. -mcpu=cortex-a53 is the oldest of the three cores (its
# code runs on the A72 and A76 too). Only when the compiler targets aarch64, so
# `make BOARD=rpi-aarch64` on a PC still builds (with the Pi's defaults) for testing them.
ifneq ($(filter aarch64%,$(TARGET_MACHINE)),)
BOARD_CFLAGS += -mcpu=cortex-a53
endif
