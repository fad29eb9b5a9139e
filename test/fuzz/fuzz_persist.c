/*
 * Fuzz target for recovery from the persistence log (persist_load.c): the input is the whole
 * content of tern.db. The pure reader (persist_scan) must report a usable prefix inside the
 * input; then the file is replayed into a real broker context (sessions, topic tree, retained
 * store) through persist_open, which must either refuse with a message or load. A loaded store
 * is compacted (exercising the writer over whatever state the input produced) and loaded
 * again, and every byte must return to the struct mem afterwards.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "conf.h"
#include "expire.h"
#include "loop.h"
#include "persist.h"
#include "retain.h"
#include "session.h"
#include "tern/err.h"
#include "topic_tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int load(struct broker *b, struct conf *c, const char *dir)
{
    char err[512];
    memset(b, 0, sizeof *b);
    mem_init(&b->mem, 0);
    expire_init(b);
    b->loop = loop_new(&b->mem, 16);
    b->subs = topic_tree_new(&b->mem);
    b->retained = retain_new(&b->mem);
    b->lim.max_queued_messages = 1000;
    b->lim.max_inflight = 20;
    b->log.types = 0;
    if (b->loop == NULL || b->subs == NULL || b->retained == NULL)
        abort();
    conf_init(c);
    c->persistence = true;
    c->persistence_location = strdup(dir);
    int rc = persist_open(b, c, &b->persist, err, sizeof err);
    if (rc != TERN_OK && strstr(err, PERSIST_FILE) == NULL && rc != TERN_ENOMEM)
        abort();   /* a refusal must name the file */
    return rc;
}

static void unload(struct broker *b, struct conf *c)
{
    persist_free(b->persist);
    b->persist = NULL;
    sess_free_all(b);
    retain_free(b->retained);
    topic_tree_free(b->subs);
    mem_free(&b->mem, b->match);
    expire_cleanup(b);
    loop_free(b->loop);
    conf_cleanup(c);
    if (b->mem.used != 0)
        abort();
}

static char dir[64];

static void remove_dir(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/" PERSIST_LOCK, dir);
    unlink(path);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[128];
    size_t good;
    size_t bad;
    if (dir[0] == '\0') {
        snprintf(dir, sizeof dir, "/tmp/tern-fuzz-persist-XXXXXX");
        if (mkdtemp(dir) == NULL)
            abort();
        atexit(remove_dir);
    }
    int rc = persist_scan(data, size, NULL, NULL, &good, &bad);
    if (good > size || (rc == TERN_EIO && (bad < good || bad >= size)))
        abort();
    snprintf(path, sizeof path, "%s/" PERSIST_FILE, dir);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    struct broker b;
    struct conf c;
    if (load(&b, &c, dir) == TERN_OK) {
        size_t sessions = b.sessions.count;
        size_t retained = retain_count(b.retained);
        if (persist_compact(b.persist) != TERN_OK)
            abort();
        unload(&b, &c);
        if (load(&b, &c, dir) != TERN_OK || b.sessions.count != sessions ||
            retain_count(b.retained) != retained)
            abort();
    }
    unload(&b, &c);
    unlink(path);
    return 0;
}
