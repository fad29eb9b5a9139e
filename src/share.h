/*
 * Shared subscriptions: "$share/GROUP/FILTER", the form Mosquitto and MQTT 5 (section 4.8.2)
 * use, accepted from MQTT 3.1.1 clients. The sessions subscribed with the same GROUP and
 * FILTER form a group; each matching message goes to ONE member, round-robin, preferring
 * members that are online with room in their in-flight window and nothing queued, then any
 * online member (its queue takes it), then any member (a persistent session's offline queue).
 * Retained messages are never sent on a shared subscription. When a member's connection ends,
 * the QoS 1/2 messages it received through a group and has not acknowledged (PUBACK or
 * PUBREC) are handed to another member of a group that matches them.
 *
 * The groups are a flat list, matched with topic_filter_matches on every publish: cheap for
 * the handful of work queues an edge broker has, not meant for thousands of groups.
 * Sessions are borrowed; session.c removes a session from every group before freeing it.
 */
#ifndef TERN_SHARE_H
#define TERN_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker;
struct sess;
struct msg;
struct share_group;

struct share_table {
    struct share_group **groups;
    size_t n;
    size_t cap;
};

/* True when filter has the "$share/" prefix. */
bool share_is_shared(const uint8_t *filter, size_t len);

/* Splits "$share/GROUP/FILTER": GROUP non-empty without '+', '#'; FILTER non-empty. Returns
 * TERN_OK with views into filter, or TERN_EINVAL. Pure. */
int share_parse(const uint8_t *filter, size_t len, const uint8_t **group, size_t *glen,
                const uint8_t **real, size_t *rlen);

/* Adds s (or updates its qos) to the group of this "$share/..." filter. TERN_OK,
 * TERN_EINVAL (bad form) or TERN_ENOMEM. */
int share_subscribe(struct broker *b, const uint8_t *filter, size_t len, struct sess *s,
                    uint8_t qos);
/* Removes s from that group; frees the group when it is left empty. */
void share_unsubscribe(struct broker *b, const uint8_t *filter, size_t len, struct sess *s);

/* Sends m to one member of every group whose filter matches its topic. Borrows m. */
void share_publish(struct broker *b, struct msg *m);

/* s's connection is ending: hands its unacknowledged shared deliveries to other members. */
void share_handover(struct broker *b, struct sess *s);

/* Number of shared subscriptions (members over all groups). */
size_t share_count(const struct broker *b);

void share_free_all(struct broker *b);

#endif
