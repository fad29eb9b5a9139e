/*
 * Logging with Mosquitto's log types and destinations.
 *
 * A line is "UNIXTIME: message" (Mosquitto's default format) written to every configured
 * destination when its type is enabled. struct log is a field of the broker; it holds no
 * global state. log_reopen() reopens a log file (SIGUSR1/SIGHUP, for logrotate).
 */
#ifndef TERN_LOG_H
#define TERN_LOG_H

#include <stdio.h>

#include "conf.h"

struct log {
    unsigned types;     /* CONF_LOGT_* enabled */
    unsigned dest;      /* CONF_LOG_* */
    char *path;         /* log file path when CONF_LOG_FILE, owned */
    FILE *file;
};

/* Sets up from the config (copies what it needs). Returns TERN_OK or TERN_EIO with the file
 * named on stderr. */
int log_init(struct log *l, const struct conf *c);
void log_cleanup(struct log *l);
/* Reopens the log file, if any. */
void log_reopen(struct log *l);
/* True when a line of this type would be written (to skip formatting work). */
static inline int log_enabled(const struct log *l, unsigned type)
{
    return (l->types & type) != 0;
}
void log_printf(struct log *l, unsigned type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOG_ERR(l, ...) log_printf((l), CONF_LOGT_ERROR, __VA_ARGS__)
#define LOG_WARN(l, ...) log_printf((l), CONF_LOGT_WARNING, __VA_ARGS__)
#define LOG_NOTICE(l, ...) log_printf((l), CONF_LOGT_NOTICE, __VA_ARGS__)
#define LOG_INFO(l, ...) log_printf((l), CONF_LOGT_INFORMATION, __VA_ARGS__)
#define LOG_DEBUG(l, ...)                                                                      \
    do {                                                                                       \
        if (log_enabled((l), CONF_LOGT_DEBUG))                                                 \
            log_printf((l), CONF_LOGT_DEBUG, __VA_ARGS__);                                     \
    } while (0)

#endif
