/*
 * The subscription index: a tree with one node per topic level, children hashed by level name,
 * so matching a topic costs its depth times the wildcard branches that exist, never a scan of
 * unrelated subscriptions (MQTT 3.1.1 section 4.7).
 *
 * Matching rules enforced (4.7.1, 4.7.2): '+' matches exactly one level (an empty level too);
 * '#' matches the parent level and any number of child levels, so "a/#" matches "a"; a filter
 * starting with '+' or '#' never matches a topic whose first level starts with '$'.
 *
 * Subscribers are opaque struct sess pointers: the tree borrows them and never dereferences
 * them. A session that subscribes to overlapping filters appears once per filter in match
 * results; removing duplicates is the caller's job.
 */
#ifndef TERN_TOPIC_TREE_H
#define TERN_TOPIC_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mem;
struct sess;
struct topic_tree;

/* Returns a new empty tree allocating through mem (borrowed, must outlive the tree). */
struct topic_tree *topic_tree_new(struct mem *mem);
void topic_tree_free(struct topic_tree *t);

/*
 * Adds the subscription (filter, s) with qos, or updates the qos when s already has exactly
 * this filter (*is_new = false then). The filter must be valid (codec_topic_filter_valid).
 * Returns TERN_OK or TERN_ENOMEM (the tree is unchanged then).
 */
int topic_subscribe(struct topic_tree *t, const uint8_t *filter, size_t len, struct sess *s,
                    uint8_t qos, bool *is_new);

/* Removes (filter, s). Returns TERN_OK or TERN_ENOTFOUND. Frees nodes left empty. */
int topic_unsubscribe(struct topic_tree *t, const uint8_t *filter, size_t len, struct sess *s);

/* Called once per matching (subscription, session); borrows s. */
typedef void (*topic_match_fn)(void *ctx, struct sess *s, uint8_t qos);

/* Calls fn for every subscription whose filter matches the topic name. The callback must not
 * change the tree. */
void topic_match(const struct topic_tree *t, const uint8_t *topic, size_t len,
                 topic_match_fn fn, void *ctx);

/* Number of subscriptions held. */
size_t topic_count(const struct topic_tree *t);

/* Pure: does this filter match this topic name, by the rules above? */
bool topic_filter_matches(const uint8_t *filter, size_t flen, const uint8_t *topic, size_t tlen);

#endif
