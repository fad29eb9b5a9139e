/*
 * Logging: see log.h. Lines go to stderr, stdout, a file and/or syslog as configured; a
 * failed write is ignored (logging must never stop the broker).
 */
#include "log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "tern/err.h"

int log_init(struct log *l, const struct conf *c)
{
    memset(l, 0, sizeof *l);
    l->types = c->log_type;
    l->dest = c->log_dest;
    if ((l->dest & CONF_LOG_FILE) && c->log_file != NULL) {
        l->path = strdup(c->log_file);
        if (l->path == NULL)
            return TERN_ENOMEM;
        l->file = fopen(l->path, "a");
        if (l->file == NULL) {
            fprintf(stderr, "tern: cannot open log file %s\n", l->path);
            return TERN_EIO;
        }
        setvbuf(l->file, NULL, _IOLBF, 0);
    }
    if (l->dest & CONF_LOG_SYSLOG)
        openlog("tern", LOG_PID, LOG_DAEMON);
    return TERN_OK;
}

void log_cleanup(struct log *l)
{
    if (l->file != NULL)
        fclose(l->file);
    if (l->dest & CONF_LOG_SYSLOG)
        closelog();
    free(l->path);
    memset(l, 0, sizeof *l);
}

void log_reopen(struct log *l)
{
    if (l->path == NULL)
        return;
    FILE *f = fopen(l->path, "a");
    if (f == NULL)
        return;
    setvbuf(f, NULL, _IOLBF, 0);
    if (l->file != NULL)
        fclose(l->file);
    l->file = f;
}

static int syslog_priority(unsigned type)
{
    switch (type) {
    case CONF_LOGT_ERROR:
        return LOG_ERR;
    case CONF_LOGT_WARNING:
        return LOG_WARNING;
    case CONF_LOGT_NOTICE:
        return LOG_NOTICE;
    case CONF_LOGT_DEBUG:
        return LOG_DEBUG;
    default:
        return LOG_INFO;
    }
}

void log_printf(struct log *l, unsigned type, const char *fmt, ...)
{
    if (!(l->types & type) || (l->dest & CONF_LOG_NONE))
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    long now = (long)time(NULL);
    if (l->dest & CONF_LOG_STDERR)
        fprintf(stderr, "%ld: %s\n", now, line);
    if (l->dest & CONF_LOG_STDOUT) {
        fprintf(stdout, "%ld: %s\n", now, line);
        fflush(stdout);
    }
    if (l->file != NULL)
        fprintf(l->file, "%ld: %s\n", now, line);
    if (l->dest & CONF_LOG_SYSLOG)
        syslog(syslog_priority(type), "%s", line);
}
