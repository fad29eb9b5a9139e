/* Defaults for a Linux server or desktop, used where the config file is silent: no memory cap
 * and no connection cap (Mosquitto's defaults), a large read buffer, as many fds as allowed. */
#ifndef TERN_BOARD_H
#define TERN_BOARD_H
#define TERN_BOARD_NAME "linux-generic"
#define TERN_BOARD_READ_BUF (256u * 1024u)    /* loop-owned read buffer */
#define TERN_BOARD_MEMORY_LIMIT 0u            /* memory_limit default; 0 = no cap */
#define TERN_BOARD_MAX_CONNECTIONS -1L        /* max_connections default; -1 = no limit */
#define TERN_BOARD_FD_WANT 65536L             /* soft fd limit to ask for */
#endif
