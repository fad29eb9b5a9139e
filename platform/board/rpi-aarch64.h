/*
 * Defaults for a Raspberry Pi 3/4/5 on a 64-bit OS (1-8 GB of RAM, SD card or USB flash),
 * used where the config file is silent. The memory cap keeps a flood of queued messages from
 * pushing the gateway into swap or the OOM killer (a full cap refuses the message, never the
 * process); the connection cap stays far below what the cap can hold (an idle client costs
 * about 1 KB); a 128 KiB read buffer still drains a socket in one read at Pi network speeds.
 */
#ifndef TERN_BOARD_H
#define TERN_BOARD_H
#define TERN_BOARD_NAME "rpi-aarch64"
#define TERN_BOARD_READ_BUF (128u * 1024u)
#define TERN_BOARD_MEMORY_LIMIT (256u * 1024u * 1024u)
#define TERN_BOARD_MAX_CONNECTIONS 20000L
#define TERN_BOARD_FD_WANT 32768L
#endif
