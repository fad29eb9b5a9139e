/*
 * libFuzzer entry for the password-file parser and checker (auth.c): any bytes handed to
 * auth_load_string give TERN_OK or TERN_ECONF with a NUL-terminated "name:line: reason", never
 * a crash, a hang or a leak; a loaded file answers auth_check for a user taken from the input
 * without crashing, and frees every byte it allocated. Iterations are capped at 1000 for the
 * fuzzer only (a $7$ line may ask for up to ten million; that is the admin's choice, not a bug).
 * Seed corpus: test/fuzz/corpus/passwd/ (files written by mosquitto_passwd and tern_passwd).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "mem.h"
#include "tern/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mem m;
    mem_init(&m, 0);
    struct auth_file a;
    char err[256];
    int rc = auth_load_string(&a, &m, "fuzz.pw", (const char *)data, size, err, sizeof err);
    if (rc != TERN_OK && rc != TERN_ECONF && rc != TERN_ENOMEM)
        abort();
    if (rc != TERN_OK && memchr(err, '\0', sizeof err) == NULL)
        abort();
    if (rc == TERN_OK) {
        for (size_t i = 0; i < a.n_users && i < 4; i++) {
            if (a.users[i].iterations > 1000)
                continue;
            const char *u = a.users[i].name;
            int r = auth_check(&a, (const uint8_t *)u, strlen(u), data, size < 32 ? size : 32);
            if (r != TERN_OK && r != TERN_EPROTO)
                abort();
        }
        if (auth_check(&a, (const uint8_t *)"\xff", 1, data, 0) != TERN_ENOTFOUND &&
            a.n_users == 0)
            abort();
    }
    auth_cleanup(&a);
    if (m.used != 0)
        abort();
    return 0;
}
