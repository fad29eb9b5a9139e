/* Defaults for a Linux server: used where the config file is silent. */
#ifndef TERN_BOARD_H
#define TERN_BOARD_H
#define TERN_BOARD_NAME "linux-generic"
#define TERN_BOARD_READ_BUF (256u * 1024u)   /* loop-owned read buffer */
#define TERN_BOARD_MEMORY_LIMIT 0            /* 0 = no cap */
#define TERN_BOARD_FD_WANT 65536L            /* soft fd limit to ask for */
#endif
