# A Linux server or desktop: no extra flags.
BOARD_CFLAGS +=
