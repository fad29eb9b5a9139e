/*
 * Message allocation and refcounting: see include/tern/msg.h. Topic and payload share one
 * allocation with the header so a message costs one malloc and frees in one call.
 */
#include "tern/msg.h"

#include <string.h>

#include "mem.h"

struct msg *msg_new(struct mem *mem, const uint8_t *topic, size_t topic_len,
                    const uint8_t *payload, size_t payload_len, uint8_t qos, bool retain)
{
    if (topic_len > UINT16_MAX || payload_len > UINT32_MAX)
        return NULL;
    struct msg *m = mem_alloc(mem, sizeof *m + topic_len + 1 + payload_len);
    if (m == NULL)
        return NULL;
    m->refs = 1;
    m->qos = qos;
    m->retain = retain;
    m->topic_len = (uint16_t)topic_len;
    m->payload_len = (uint32_t)payload_len;
    m->id = 0;
    m->prefs = 0;
    m->pgen = 0;
    m->expiry_s = 0;
    m->expires_at = 0;
    m->origin = NULL;
    m->mem = mem;
    memcpy(m->topic, topic, topic_len);
    m->topic[topic_len] = '\0';
    m->payload = (uint8_t *)m->topic + topic_len + 1;
    if (payload_len > 0)
        memcpy(m->payload, payload, payload_len);
    return m;
}

struct msg *msg_ref(struct msg *m)
{
    m->refs++;
    return m;
}

void msg_unref(struct msg **mp)
{
    struct msg *m = *mp;
    if (m == NULL)
        return;
    *mp = NULL;
    if (--m->refs == 0)
        mem_free(m->mem, m);
}

size_t msg_size(const struct msg *m)
{
    return sizeof *m + m->topic_len + 1 + m->payload_len;
}
