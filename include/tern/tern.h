/*
 * Tern's public lifecycle API: build a broker from a loaded configuration, run it until a stop
 * is requested (SIGINT/SIGTERM or tern_broker_stop), free it.
 */
#ifndef TERN_TERN_H
#define TERN_TERN_H

#include <stddef.h>

#define TERN_VERSION "0.1.0"

struct conf;
struct tern_broker;

/*
 * Creates a broker for conf (borrowed: it must outlive the broker; SIGHUP re-reads
 * conf_path into it when conf_path is not NULL) and opens its listeners. Returns NULL with
 * a message in err when start-up fails.
 */
struct tern_broker *tern_broker_new(struct conf *conf, const char *conf_path, char *err,
                                    size_t errlen);
/* Runs the loop until a stop is requested. Returns TERN_OK or TERN_EIO. */
int tern_broker_run(struct tern_broker *tb);
/* Requests a stop (safe from a callback inside the loop). */
void tern_broker_stop(struct tern_broker *tb);
/* Closes every connection and frees everything. */
void tern_broker_free(struct tern_broker *tb);

#endif
