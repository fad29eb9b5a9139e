/*
 * Defaults for a 32-bit ARMv7 board (Raspberry Pi 2/3 on a 32-bit OS, BeagleBone, i.MX6;
 * 512 MB to 1 GB of RAM), used where the config file is silent: a 64 MiB memory cap, 4,000
 * connections, a 64 KiB read buffer.
 */
#ifndef TERN_BOARD_H
#define TERN_BOARD_H
#define TERN_BOARD_NAME "armv7"
#define TERN_BOARD_READ_BUF (64u * 1024u)
#define TERN_BOARD_MEMORY_LIMIT (64u * 1024u * 1024u)
#define TERN_BOARD_MAX_CONNECTIONS 4000L
#define TERN_BOARD_FD_WANT 8192L
#endif
