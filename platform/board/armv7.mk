# 32-bit ARMv7 with hard float (Debian armhf, Raspberry Pi OS 32-bit on a Pi 2 or later).
# Flags only when the compiler targets 32-bit ARM; armhf cross builds are optional (README).
ifneq ($(filter arm%,$(TARGET_MACHINE)),)
BOARD_CFLAGS += -march=armv7-a -mfpu=neon-vfpv4 -mfloat-abi=hard
endif
