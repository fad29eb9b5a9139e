/*
 * The board defaults compiled into this binary: platform/board/$(BOARD).h, named by the
 * Makefile through TERN_BOARD_FILE, becomes one const table. Only this file includes a board
 * header, so the core reads the figures through plat_board() and never tests which board it
 * was built for. The core applies them only where the configuration file is silent
 * (memory_limit, max_connections) or where there is no option (read buffer, fd limit).
 */
#include <tern/platform.h>

#ifndef TERN_BOARD_FILE
#error "TERN_BOARD_FILE must name platform/board/<board>.h (set by platform/platform.mk)"
#endif
#include TERN_BOARD_FILE

static const struct plat_board board = {
    .name = TERN_BOARD_NAME,
    .read_buf = TERN_BOARD_READ_BUF,
    .memory_limit = TERN_BOARD_MEMORY_LIMIT,
    .max_connections = TERN_BOARD_MAX_CONNECTIONS,
    .fd_want = TERN_BOARD_FD_WANT,
};

const struct plat_board *plat_board(void)
{
    return &board;
}
