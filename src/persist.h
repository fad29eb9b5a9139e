/*
 * The durable store: an append-only log of checksummed records in persistence_location/tern.db,
 * group commit in the loop's before-sleep hook, compaction, and recovery at start-up.
 *
 * The rule (STYLE 2.9): with persistence on, a PUBACK, PUBREC or PUBCOMP is never sent before
 * the records that made it true are in the log and synced per persistence_sync. Handlers do not
 * send those acks themselves: they call persist_ack(), which holds them in the pending-acks list
 * until persist_commit() (before-sleep) has written and synced the turn's records, and only then
 * moves them into the connections' output queues, ahead of conn_flush_all.
 *
 * What is logged: retained messages, persistent sessions (client id, subscriptions with QoS),
 * each session's queue, its outbound in-flight entries (packet id, QoS 2 phase), and inbound
 * QoS 2 packet ids awaiting PUBREL. Clean sessions are never logged. A message body is written
 * once per log file (MSG record, keyed by the broker-assigned m->id) and referred to by id.
 * Every record stands alone (applying a prefix of the log always gives a consistent state), so
 * recovery applies records up to the first bad one.
 *
 * Ownership: struct persist is owned by the broker (b->persist; NULL when persistence is off,
 * and every persist_* hook accepts NULL and does nothing). It borrows the broker, sessions and
 * connections; it holds no message references outside persist_load().
 */
#ifndef TERN_PERSIST_H
#define TERN_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

struct broker;
struct conn;
struct sess;
struct msg;
struct conf;

enum persist_sync {
    PERSIST_SYNC_TURN = 0,     /* one write + fsync per loop turn, acks after it (default) */
    PERSIST_SYNC_ALWAYS,       /* one write + fsync per client packet that changed state */
    PERSIST_SYNC_INTERVAL,     /* one write per turn, acks after it; fsync every N seconds */
};

#define PERSIST_FILE "tern.db"
#define PERSIST_LOCK "tern.lock"
#define PERSIST_SLACK (4u * 1024u * 1024u)        /* log may exceed 2 x live by this much */
#define PERSIST_HOLD_MAX (8u * 1024u * 1024u)     /* unwritten bytes held while the disk fails
                                                     before QoS 1/2 publishes are refused */
#define PERSIST_RETRY_MS 1000u

struct persist_ack {
    struct conn *c;            /* borrowed; entries are removed when c closes */
    uint8_t type;              /* MQTT_PUBACK, MQTT_PUBREC or MQTT_PUBCOMP */
    uint16_t packet_id;
};

struct persist_stats {
    uint64_t bytes_written;    /* to the log and compacted files */
    uint64_t records;
    uint64_t fsyncs;
    uint64_t compactions;
    uint64_t write_errors;
    uint64_t refused;          /* QoS 1/2 publishes refused while the disk failed */
    uint64_t acks_held;        /* acks released after a sync */
};

struct persist {
    struct broker *b;
    char *path;                /* DIR/tern.db, owned */
    char *tmp_path;            /* DIR/tern.db.new, owned */
    char *dir;                 /* owned */
    int fd;
    int lock_fd;               /* DIR/tern.lock, flock'ed while this broker uses DIR */
    enum persist_sync mode;
    uint64_t interval_ms;
    uint64_t file_off;         /* bytes in the log that end with a whole record */
    int64_t live;              /* bytes a compaction would write now (estimate) */
    uint64_t slack;            /* PERSIST_SLACK; tests make it small */
    uint64_t compact_retry_off; /* after a failed compaction: next try once file_off passes it */
    uint8_t *buf;              /* records not written yet */
    size_t len;
    size_t cap;
    struct persist_ack *acks;  /* pending acks, in arrival order */
    size_t n_acks;
    size_t acks_cap;
    uint64_t seq;              /* last batch committed to the file */
    uint64_t durable_seq;      /* last batch known to be fsynced */
    uint64_t last_sync_ms;
    bool unsynced;             /* written, not yet fsynced (interval mode) */
    bool failed;               /* the disk refused a write or fsync; retrying */
    bool need_compact;         /* a failed fsync: rewrite everything on the next try */
    bool loading;              /* replaying: hooks record nothing */
    bool fail_writes;          /* tests: every write fails as if the disk were full */
    uint32_t gen;              /* file generation; m->pgen == gen: body is in this file */
    uint32_t next_skey;
    struct loop_timer timer;   /* retry while failed; interval fsync */
    struct persist_stats stats;
};

/*
 * Opens (creating when missing) DIR/tern.db and replays it into b: sessions, subscriptions,
 * queues, in-flight state, inbound QoS 2 ids, retained messages. A torn or corrupt tail is cut
 * off (logged with its offset). A corrupt record followed by later synced data stops start-up:
 * TERN_EIO with "FILE: corrupt record at offset N ..." and the recovery command in err.
 * On success *out is owned by the caller (persist_free).
 */
int persist_open(struct broker *b, const struct conf *c, struct persist **out, char *err,
                 size_t errlen);
/* Writes what is pending (best effort) and frees p; NULL is fine. */
void persist_free(struct persist *p);

/* before-sleep: writes this turn's records, syncs per policy, releases pending acks, compacts
 * when the log passed 2 x live + slack. */
void persist_commit(struct persist *p);
/* PERSIST_SYNC_ALWAYS: called after each client packet; writes and syncs its records. */
void persist_packet_done(struct persist *p);

/* Sends type/packet_id to c now when p is NULL, else after the turn's records are synced. */
int persist_ack(struct persist *p, struct conn *c, uint8_t type, uint16_t packet_id);
/* Forgets c's pending acks (c is closing). */
void persist_forget_conn(struct persist *p, struct conn *c);
/* False while the disk fails and too much is held: QoS 1/2 publishes are refused unacked
 * (counted and logged here). */
bool persist_accepting(struct persist *p);

/* State hooks, called by session.c and broker.c after the in-memory change. Each does nothing
 * when p is NULL, while loading, or for a clean session (s->pkey == 0). */
void persist_sess_new(struct persist *p, struct sess *s);
void persist_sess_free(struct persist *p, struct sess *s);
void persist_sub(struct persist *p, struct sess *s, const uint8_t *f, size_t len, uint8_t qos,
                 bool is_new);
void persist_unsub(struct persist *p, struct sess *s, const uint8_t *f, size_t len);
void persist_q_push(struct persist *p, struct sess *s, struct msg *m, uint8_t qos, bool retain);
/* The queue head left the queue: sent at QoS 0 (to_infl false) or moved into the window as
 * packet_id (to_infl true). */
void persist_q_pop(struct persist *p, struct sess *s, struct msg *m, bool to_infl,
                   uint16_t packet_id);
void persist_infl(struct persist *p, struct sess *s, struct msg *m, uint16_t packet_id,
                  uint8_t qos, bool retain);
void persist_infl_pubrec(struct persist *p, struct sess *s, struct msg *m, uint16_t packet_id);
/* m is the entry's message, or NULL once PUBREC dropped it. */
void persist_infl_done(struct persist *p, struct sess *s, struct msg *m, uint16_t packet_id);
void persist_qos2_in(struct persist *p, struct sess *s, uint16_t packet_id, bool add);
/* Before retain_set(m): records the new retained message for m->topic. */
void persist_retain(struct persist *p, struct msg *m);

/* Compaction now (also used by tests): TERN_OK or TERN_EIO. */
int persist_compact(struct persist *p);

/*
 * The log reader, pure over a memory buffer (fuzzed): checks the header and every record and
 * returns where the usable prefix ends (*good_end) and, when it stops early, whether the rest
 * is a torn tail (TERN_OK) or corruption followed by synced data (TERN_EIO, *bad_at set).
 * fn (may be NULL) is called for each good record in order.
 */
typedef void (*persist_rec_fn)(void *ctx, uint8_t type, const uint8_t *body, size_t len);
int persist_scan(const uint8_t *data, size_t len, persist_rec_fn fn, void *ctx,
                 size_t *good_end, size_t *bad_at);

/* The format version of a log starting with data[0..len) (its header checked), or 0 when it
 * is not a Tern log of a version this build reads. Pure. */
unsigned persist_file_version(const uint8_t *data, size_t len);

/* Internal to persist.c and persist_load.c: recomputes m->prefs and p->live from the state;
 * fills the 16-byte file header; runs the retry / interval-sync timer. */
void persist_measure(struct persist *p);
void persist_on_timer(struct persist *p);
void persist_header(uint8_t *out);

/* CRC32C (Castagnoli) of p[0..n), continuing from crc (start with 0). */
uint32_t persist_crc32c(uint32_t crc, const void *p, size_t n);

#endif
