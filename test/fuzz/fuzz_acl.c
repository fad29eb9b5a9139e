/*
 * libFuzzer entry for the ACL-file parser and check (acl.c): any bytes handed to
 * acl_load_string give TERN_OK or TERN_ECONF with a NUL-terminated "name:line: reason", never a
 * crash, a hang or a leak; a loaded file answers acl_check for topics, usernames and client ids
 * cut from the input (so %c/%u expansion sees hostile values) and frees every byte.
 * Seed corpus: test/fuzz/corpus/acl/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "mem.h"
#include "tern/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mem m;
    mem_init(&m, 0);
    struct acl a;
    char err[256];
    int rc = acl_load_string(&a, &m, "fuzz.acl", (const char *)data, size, err, sizeof err);
    if (rc != TERN_OK && rc != TERN_ECONF && rc != TERN_ENOMEM)
        abort();
    if (rc != TERN_OK && memchr(err, '\0', sizeof err) == NULL)
        abort();
    if (rc == TERN_OK) {
        static const char *const topics[] = {"a/b", "$SYS/x", "", "/", "a//b", "home/u1/x"};
        char id[64];
        size_t n = size < sizeof id - 1 ? size : sizeof id - 1;
        memcpy(id, data, n);
        id[n] = '\0';
        for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++) {
            const uint8_t *t = (const uint8_t *)topics[i];
            acl_check(&a, NULL, id, t, strlen(topics[i]), ACL_READ);
            acl_check(&a, id, "c1", t, strlen(topics[i]), ACL_WRITE);
            acl_check(&a, "u1", id, t, strlen(topics[i]), ACL_READ);
        }
        acl_check(&a, "u1", "c1", data, size, ACL_WRITE);
    }
    acl_cleanup(&a);
    if (m.used != 0)
        abort();
    return 0;
}
