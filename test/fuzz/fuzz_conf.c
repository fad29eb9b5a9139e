/*
 * libFuzzer entry for the config parser: any bytes handed to conf_load_string must give
 * TERN_OK or TERN_ECONF with a NUL-terminated message, never a crash, a hang or a leak.
 * Seed corpus: test/fuzz/corpus/conf/ (the shipped tern.conf plus small valid and invalid
 * snippets). `make test` replays it through test/fuzz/replay_main.c; `make fuzz` runs libFuzzer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "tern/err.h"

static void ignore_warning(void *ctx, const char *message)
{
    size_t *n = ctx;
    *n += strlen(message) > 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct conf c;
    char err[256];
    size_t warnings = 0;

    conf_init(&c);
    int rc = conf_load_string(&c, "fuzz.conf", (const char *)data, size, err, sizeof err,
                              ignore_warning, &warnings);
    if (rc != TERN_OK && rc != TERN_ECONF && rc != TERN_ENOMEM) {
        abort();
    }
    if (rc != TERN_OK && memchr(err, '\0', sizeof err) == NULL) {
        abort();
    }
    for (size_t i = 0; i < c.n_listeners; i++) {
        if (c.listeners[i].port == 0) {
            abort();
        }
    }
    conf_cleanup(&c);
    return 0;
}
