# 32-bit ARM boards (Debian armhf, Raspberry Pi OS 32-bit). Tuning only, no -march: Raspberry
# Pi OS's armhf baseline is ARMv6 (Pi Zero/1), Debian's ARMv7, and the compiler's default
# already matches its userland. armhf cross builds are optional (README "Raspberry Pi").
ifneq ($(filter arm%,$(TARGET_MACHINE)),)
BOARD_CFLAGS += -mtune=cortex-a7
endif
