/*
 * Recovery: the log reader (persist_scan, a pure function over bytes, fuzzed by
 * test/fuzz/fuzz_persist.c), replay of its records into the broker's state, and
 * persist_open/persist_free.
 *
 * The reader trusts nothing: every length is checked against the bytes that remain, every
 * record against its CRC32C, every referenced session and message against what was replayed
 * before it (a record naming an unknown one is skipped), every filter and topic against the
 * MQTT syntax rules. Replay stops at the first record that fails its CRC or runs past the end.
 * If a later COMMIT says that the bad record's batch had been fsynced, the damage is inside
 * acknowledged data and start-up stops with the file, the offset and the way out; otherwise
 * it is a torn tail (a batch whose fsync never finished, so nothing in it was acknowledged)
 * and the file is cut there, logged with the offset.
 */
#include "persist.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "conf.h"
#include "expire.h"
#include "persist_format.h"
#include "queue.h"
#include "retain.h"
#include "session.h"
#include "tern/codec.h"
#include "tern/err.h"
#include "tern/msg.h"
#include "tern/platform.h"

static const uint32_t crc_table[256] = {
    0x00000000u, 0xf26b8303u, 0xe13b70f7u, 0x1350f3f4u, 0xc79a971fu, 0x35f1141cu,
    0x26a1e7e8u, 0xd4ca64ebu, 0x8ad958cfu, 0x78b2dbccu, 0x6be22838u, 0x9989ab3bu,
    0x4d43cfd0u, 0xbf284cd3u, 0xac78bf27u, 0x5e133c24u, 0x105ec76fu, 0xe235446cu,
    0xf165b798u, 0x030e349bu, 0xd7c45070u, 0x25afd373u, 0x36ff2087u, 0xc494a384u,
    0x9a879fa0u, 0x68ec1ca3u, 0x7bbcef57u, 0x89d76c54u, 0x5d1d08bfu, 0xaf768bbcu,
    0xbc267848u, 0x4e4dfb4bu, 0x20bd8edeu, 0xd2d60dddu, 0xc186fe29u, 0x33ed7d2au,
    0xe72719c1u, 0x154c9ac2u, 0x061c6936u, 0xf477ea35u, 0xaa64d611u, 0x580f5512u,
    0x4b5fa6e6u, 0xb93425e5u, 0x6dfe410eu, 0x9f95c20du, 0x8cc531f9u, 0x7eaeb2fau,
    0x30e349b1u, 0xc288cab2u, 0xd1d83946u, 0x23b3ba45u, 0xf779deaeu, 0x05125dadu,
    0x1642ae59u, 0xe4292d5au, 0xba3a117eu, 0x4851927du, 0x5b016189u, 0xa96ae28au,
    0x7da08661u, 0x8fcb0562u, 0x9c9bf696u, 0x6ef07595u, 0x417b1dbcu, 0xb3109ebfu,
    0xa0406d4bu, 0x522bee48u, 0x86e18aa3u, 0x748a09a0u, 0x67dafa54u, 0x95b17957u,
    0xcba24573u, 0x39c9c670u, 0x2a993584u, 0xd8f2b687u, 0x0c38d26cu, 0xfe53516fu,
    0xed03a29bu, 0x1f682198u, 0x5125dad3u, 0xa34e59d0u, 0xb01eaa24u, 0x42752927u,
    0x96bf4dccu, 0x64d4cecfu, 0x77843d3bu, 0x85efbe38u, 0xdbfc821cu, 0x2997011fu,
    0x3ac7f2ebu, 0xc8ac71e8u, 0x1c661503u, 0xee0d9600u, 0xfd5d65f4u, 0x0f36e6f7u,
    0x61c69362u, 0x93ad1061u, 0x80fde395u, 0x72966096u, 0xa65c047du, 0x5437877eu,
    0x4767748au, 0xb50cf789u, 0xeb1fcbadu, 0x197448aeu, 0x0a24bb5au, 0xf84f3859u,
    0x2c855cb2u, 0xdeeedfb1u, 0xcdbe2c45u, 0x3fd5af46u, 0x7198540du, 0x83f3d70eu,
    0x90a324fau, 0x62c8a7f9u, 0xb602c312u, 0x44694011u, 0x5739b3e5u, 0xa55230e6u,
    0xfb410cc2u, 0x092a8fc1u, 0x1a7a7c35u, 0xe811ff36u, 0x3cdb9bddu, 0xceb018deu,
    0xdde0eb2au, 0x2f8b6829u, 0x82f63b78u, 0x709db87bu, 0x63cd4b8fu, 0x91a6c88cu,
    0x456cac67u, 0xb7072f64u, 0xa457dc90u, 0x563c5f93u, 0x082f63b7u, 0xfa44e0b4u,
    0xe9141340u, 0x1b7f9043u, 0xcfb5f4a8u, 0x3dde77abu, 0x2e8e845fu, 0xdce5075cu,
    0x92a8fc17u, 0x60c37f14u, 0x73938ce0u, 0x81f80fe3u, 0x55326b08u, 0xa759e80bu,
    0xb4091bffu, 0x466298fcu, 0x1871a4d8u, 0xea1a27dbu, 0xf94ad42fu, 0x0b21572cu,
    0xdfeb33c7u, 0x2d80b0c4u, 0x3ed04330u, 0xccbbc033u, 0xa24bb5a6u, 0x502036a5u,
    0x4370c551u, 0xb11b4652u, 0x65d122b9u, 0x97baa1bau, 0x84ea524eu, 0x7681d14du,
    0x2892ed69u, 0xdaf96e6au, 0xc9a99d9eu, 0x3bc21e9du, 0xef087a76u, 0x1d63f975u,
    0x0e330a81u, 0xfc588982u, 0xb21572c9u, 0x407ef1cau, 0x532e023eu, 0xa145813du,
    0x758fe5d6u, 0x87e466d5u, 0x94b49521u, 0x66df1622u, 0x38cc2a06u, 0xcaa7a905u,
    0xd9f75af1u, 0x2b9cd9f2u, 0xff56bd19u, 0x0d3d3e1au, 0x1e6dcdeeu, 0xec064eedu,
    0xc38d26c4u, 0x31e6a5c7u, 0x22b65633u, 0xd0ddd530u, 0x0417b1dbu, 0xf67c32d8u,
    0xe52cc12cu, 0x1747422fu, 0x49547e0bu, 0xbb3ffd08u, 0xa86f0efcu, 0x5a048dffu,
    0x8ecee914u, 0x7ca56a17u, 0x6ff599e3u, 0x9d9e1ae0u, 0xd3d3e1abu, 0x21b862a8u,
    0x32e8915cu, 0xc083125fu, 0x144976b4u, 0xe622f5b7u, 0xf5720643u, 0x07198540u,
    0x590ab964u, 0xab613a67u, 0xb831c993u, 0x4a5a4a90u, 0x9e902e7bu, 0x6cfbad78u,
    0x7fab5e8cu, 0x8dc0dd8fu, 0xe330a81au, 0x115b2b19u, 0x020bd8edu, 0xf0605beeu,
    0x24aa3f05u, 0xd6c1bc06u, 0xc5914ff2u, 0x37faccf1u, 0x69e9f0d5u, 0x9b8273d6u,
    0x88d28022u, 0x7ab90321u, 0xae7367cau, 0x5c18e4c9u, 0x4f48173du, 0xbd23943eu,
    0xf36e6f75u, 0x0105ec76u, 0x12551f82u, 0xe03e9c81u, 0x34f4f86au, 0xc69f7b69u,
    0xd5cf889du, 0x27a40b9eu, 0x79b737bau, 0x8bdcb4b9u, 0x988c474du, 0x6ae7c44eu,
    0xbe2da0a5u, 0x4c4623a6u, 0x5f16d052u, 0xad7d5351u,
};

uint32_t persist_crc32c(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *s = p;
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ s[i]) & 0xffu] ^ (crc >> 8);
    return ~crc;
}

/* ---- the reader ------------------------------------------------------------------------- */

/* True when a whole record with a good CRC starts at off; *blen gets its body length. */
static bool record_ok(const uint8_t *d, size_t len, size_t off, size_t *blen)
{
    if (len - off < PF_REC_HDR)
        return false;
    uint32_t n = pf_get32(d + off);
    if (n > PF_MAX_BODY || (size_t)n > len - off - PF_REC_HDR)
        return false;
    if (persist_crc32c(0, d + off + 8, 1 + (size_t)n) != pf_get32(d + off + 4))
        return false;
    *blen = n;
    return true;
}

/* After a bad record at off in batch `batch`: does a later COMMIT say that batch was synced? */
static bool synced_data_follows(const uint8_t *d, size_t len, size_t off, uint64_t batch)
{
    for (size_t x = off + 1; x + PF_REC_HDR + PF_COMMIT_LEN <= len; x++) {
        size_t blen;
        if (d[x + 8] != PF_COMMIT || pf_get32(d + x) != PF_COMMIT_LEN ||
            !record_ok(d, len, x, &blen))
            continue;
        if (pf_get64(d + x + PF_REC_HDR + 8) >= batch)
            return true;
    }
    return false;
}

unsigned persist_file_version(const uint8_t *data, size_t len)
{
    if (len < PF_HEADER || memcmp(data, PF_MAGIC, 8) != 0 ||
        pf_get32(data + 12) != persist_crc32c(0, data, 12))
        return 0;
    uint32_t v = pf_get32(data + 8);
    return v >= PF_VERSION_MIN && v <= PF_VERSION ? v : 0;
}

int persist_scan(const uint8_t *data, size_t len, persist_rec_fn fn, void *ctx,
                 size_t *good_end, size_t *bad_at)
{
    uint8_t hdr[PF_HEADER];
    persist_header(hdr);
    *good_end = 0;
    *bad_at = 0;
    if (len < PF_HEADER)
        return len == 0 || memcmp(data, hdr, len) == 0 ? TERN_OK : TERN_EMALFORMED;
    if (persist_file_version(data, len) == 0)
        return TERN_EMALFORMED;
    uint64_t last_commit = 0;
    size_t off = PF_HEADER;
    while (off < len) {
        size_t blen;
        if (!record_ok(data, len, off, &blen)) {
            *good_end = off;
            if (synced_data_follows(data, len, off, last_commit + 1)) {
                *bad_at = off;
                return TERN_EIO;
            }
            return TERN_OK;
        }
        const uint8_t *body = data + off + PF_REC_HDR;
        uint8_t type = data[off + 8];
        if (type == PF_COMMIT && blen == PF_COMMIT_LEN)
            last_commit = pf_get64(body);
        if (fn != NULL)
            fn(ctx, type, body, blen);
        off += PF_REC_HDR + blen;
    }
    *good_end = off;
    return TERN_OK;
}

/* ---- id maps used while replaying ------------------------------------------------------- */

struct pmap {
    struct mem *mem;
    uint64_t *keys;       /* 0 = empty slot */
    void **vals;
    size_t cap;           /* power of two */
    size_t count;
};

static void **pmap_find(const struct pmap *m, uint64_t key)
{
    if (m->cap == 0)
        return NULL;
    size_t i = (size_t)(key * 0x9E3779B97F4A7C15ull) & (m->cap - 1);
    for (; m->keys[i] != 0; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key)
            return &m->vals[i];
    }
    return NULL;
}

static int pmap_grow(struct pmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    uint64_t *keys = mem_calloc(m->mem, cap, sizeof *keys);
    void **vals = mem_calloc(m->mem, cap, sizeof *vals);
    if (keys == NULL || vals == NULL) {
        mem_free(m->mem, keys);
        mem_free(m->mem, vals);
        return TERN_ENOMEM;
    }
    for (size_t j = 0; j < m->cap; j++) {
        if (m->keys[j] == 0)
            continue;
        size_t i = (size_t)(m->keys[j] * 0x9E3779B97F4A7C15ull) & (cap - 1);
        while (keys[i] != 0)
            i = (i + 1) & (cap - 1);
        keys[i] = m->keys[j];
        vals[i] = m->vals[j];
    }
    mem_free(m->mem, m->keys);
    mem_free(m->mem, m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return TERN_OK;
}

/* Returns the value slot for key (new slots hold NULL), or NULL without memory. key != 0. */
static void **pmap_put(struct pmap *m, uint64_t key)
{
    void **v = pmap_find(m, key);
    if (v != NULL)
        return v;
    if ((m->count + 1) * 2 > m->cap && pmap_grow(m) != TERN_OK)
        return NULL;
    size_t i = (size_t)(key * 0x9E3779B97F4A7C15ull) & (m->cap - 1);
    while (m->keys[i] != 0)
        i = (i + 1) & (m->cap - 1);
    m->keys[i] = key;
    m->vals[i] = NULL;
    m->count++;
    return &m->vals[i];
}

static void pmap_cleanup(struct pmap *m, bool msgs)
{
    for (size_t i = 0; msgs && i < m->cap; i++) {
        struct msg *v = m->vals[i];
        msg_unref(&v);
    }
    mem_free(m->mem, m->keys);
    mem_free(m->mem, m->vals);
    memset(m, 0, sizeof *m);
}

/* ---- replay ----------------------------------------------------------------------------- */

struct replay {
    struct broker *b;
    struct persist *p;
    struct pmap msgs;     /* id -> struct msg * (one reference each) */
    struct pmap sess;     /* skey -> struct sess * (NULL once deleted) */
    uint64_t max_id;
    uint32_t max_skey;
    uint64_t seq;
    uint64_t records;
    uint64_t skipped;
    unsigned version;     /* of the file's header; 0 for an empty file */
    int err;
};

static struct sess *sess_of(struct replay *r, const uint8_t *body)
{
    uint32_t k = pf_get32(body);
    void **v = k != 0 ? pmap_find(&r->sess, k) : NULL;
    return v != NULL ? *v : NULL;
}

static struct msg *msg_of(struct replay *r, uint64_t id)
{
    void **v = id != 0 ? pmap_find(&r->msgs, id) : NULL;
    return v != NULL ? *v : NULL;
}

static bool apply_msg(struct replay *r, const uint8_t *b, size_t len)
{
    if (len < PF_MSG_FIXED)
        return false;
    uint64_t id = pf_get64(b);
    uint16_t tlen = pf_get16(b + 10);
    uint32_t plen = pf_get32(b + 12);
    if (id == 0 || b[8] > 2 || b[9] > 1 || len != PF_MSG_FIXED + (size_t)tlen + plen ||
        !codec_topic_name_valid(b + 16, tlen))
        return false;
    struct msg *m = msg_new(&r->b->mem, b + 16, tlen, b + 16 + tlen, plen, b[8], b[9] != 0);
    void **slot = m != NULL ? pmap_put(&r->msgs, id) : NULL;
    if (slot == NULL) {
        msg_unref(&m);
        r->err = TERN_ENOMEM;
        return true;
    }
    struct msg *old = *slot;
    msg_unref(&old);
    m->id = id;
    m->pgen = r->p->gen;
    *slot = m;
    if (id > r->max_id)
        r->max_id = id;
    return true;
}

static bool apply_msg_expiry(struct replay *r, const uint8_t *b, size_t len)
{
    struct msg *m = len == PF_MSG_EXPIRY_LEN ? msg_of(r, pf_get64(b)) : NULL;
    int64_t arrived = m != NULL ? (int64_t)pf_get64(b + 8) : 0;
    if (m == NULL || arrived < 0)
        return false;
    expire_restore(r->b, m, arrived, pf_get32(b + 16));
    return true;
}

static bool apply_sess(struct replay *r, const uint8_t *b, size_t len)
{
    uint32_t k = len >= PF_SESS_FIXED ? pf_get32(b) : 0;
    if (k == 0 || len != PF_SESS_FIXED + (size_t)pf_get16(b + 4) || pf_get16(b + 4) == 0 ||
        sess_find(r->b, b + 6, len - PF_SESS_FIXED) != NULL)
        return false;
    void **slot = pmap_put(&r->sess, k);
    struct sess *s = slot != NULL ? sess_new(r->b, b + 6, len - PF_SESS_FIXED, false) : NULL;
    if (s == NULL) {
        r->err = TERN_ENOMEM;
        return true;
    }
    s->pkey = k;
    *slot = s;
    if (k > r->max_skey)
        r->max_skey = k;
    return true;
}

static bool apply_sess_del(struct replay *r, const uint8_t *b, size_t len)
{
    struct sess *s = len == PF_SKEY_LEN ? sess_of(r, b) : NULL;
    if (s == NULL)
        return false;
    *pmap_find(&r->sess, s->pkey) = NULL;
    sess_free(s);
    return true;
}

static bool apply_sub(struct replay *r, uint8_t type, const uint8_t *b, size_t len)
{
    size_t fixed = type == PF_SUB ? PF_SUB_FIXED : PF_UNSUB_FIXED;
    struct sess *s = len >= fixed ? sess_of(r, b) : NULL;
    if (s == NULL || len != fixed + (size_t)pf_get16(b + fixed - 2) ||
        !codec_topic_filter_valid(b + fixed, len - fixed))
        return false;
    if (type == PF_UNSUB) {
        sess_unsubscribe(s, b + fixed, len - fixed);
        return true;
    }
    if (b[4] > 2)
        return false;
    if (sess_subscribe(s, b + fixed, len - fixed, b[4]) != TERN_OK)
        r->err = TERN_ENOMEM;
    return true;
}

static bool apply_qpush(struct replay *r, const uint8_t *b, size_t len)
{
    struct sess *s = len == PF_QPUSH_LEN ? sess_of(r, b) : NULL;
    struct msg *m = s != NULL ? msg_of(r, pf_get64(b + 4)) : NULL;
    if (m == NULL || b[12] > 2 || b[13] > 1)
        return false;
    if (queue_push(&s->pending, m, b[12], b[13] != 0) != TERN_OK)
        r->err = TERN_ENOMEM;
    return true;
}

static bool apply_qpop(struct replay *r, uint8_t type, const uint8_t *b, size_t len)
{
    struct sess *s = len == (type == PF_QPOP ? PF_SKEY_LEN : PF_PID_LEN) ? sess_of(r, b) : NULL;
    struct qentry e;
    if (s == NULL || !queue_pop(&s->pending, &e))
        return false;
    if (type == PF_QINFL && e.qos > 0 &&
        sess_restore_infl(s, pf_get16(b + 4), e.qos, e.qos == 1 ? INFL_WAIT_PUBACK
                                                                : INFL_WAIT_PUBREC,
                          e.m, e.retain) != TERN_OK)
        r->err = TERN_ENOMEM;
    msg_unref(&e.m);
    return true;
}

static bool apply_infl(struct replay *r, const uint8_t *b, size_t len)
{
    struct sess *s = len == PF_INFL_LEN ? sess_of(r, b) : NULL;
    if (s == NULL || b[6] < 1 || b[6] > 2 || b[7] > 1)
        return false;
    uint8_t state = b[8];
    struct msg *m = NULL;
    if (state == INFL_WAIT_PUBCOMP) {
        if (b[6] != 2)
            return false;
    } else if ((state == INFL_WAIT_PUBACK && b[6] == 1) ||
               (state == INFL_WAIT_PUBREC && b[6] == 2)) {
        if ((m = msg_of(r, pf_get64(b + 9))) == NULL)
            return false;
    } else {
        return false;
    }
    int rc = sess_restore_infl(s, pf_get16(b + 4), b[6], state, m, b[7] != 0);
    if (rc == TERN_ENOMEM)
        r->err = rc;
    return rc == TERN_OK;
}

static bool apply_pid(struct replay *r, uint8_t type, const uint8_t *b, size_t len)
{
    struct sess *s = len == PF_PID_LEN ? sess_of(r, b) : NULL;
    if (s == NULL)
        return false;
    uint16_t pid = pf_get16(b + 4);
    switch (type) {
    case PF_INFL_REL:
        return sess_on_pubrec(s, pid) == TERN_OK;
    case PF_INFL_DONE:
        return sess_restore_done(s, pid) == TERN_OK;
    case PF_QOS2_IN:
        if (!sess_qos2_seen(s, pid) && sess_qos2_add(s, pid) != TERN_OK)
            r->err = TERN_ENOMEM;
        return true;
    default:
        sess_qos2_release(s, pid);
        return true;
    }
}

static void apply(void *ctx, uint8_t type, const uint8_t *b, size_t len)
{
    struct replay *r = ctx;
    bool ok = false;
    if (r->err != TERN_OK)
        return;
    r->records++;
    switch (type) {
    case PF_MSG: ok = apply_msg(r, b, len); break;
    case PF_MSG_EXPIRY: ok = apply_msg_expiry(r, b, len); break;
    case PF_RETAIN: {
        struct msg *m = len == PF_RETAIN_LEN ? msg_of(r, pf_get64(b)) : NULL;
        ok = m != NULL && m->retain && retain_set(r->b->retained, m) == TERN_OK;
        break;
    }
    case PF_SESS: ok = apply_sess(r, b, len); break;
    case PF_SESS_DEL: ok = apply_sess_del(r, b, len); break;
    case PF_SUB:
    case PF_UNSUB: ok = apply_sub(r, type, b, len); break;
    case PF_QPUSH: ok = apply_qpush(r, b, len); break;
    case PF_QPOP:
    case PF_QINFL: ok = apply_qpop(r, type, b, len); break;
    case PF_INFL: ok = apply_infl(r, b, len); break;
    case PF_INFL_REL:
    case PF_INFL_DONE:
    case PF_QOS2_IN:
    case PF_QOS2_DONE: ok = apply_pid(r, type, b, len); break;
    case PF_COMMIT:
        ok = len == PF_COMMIT_LEN;
        if (ok)
            r->seq = pf_get64(b);
        break;
    default: break;
    }
    if (!ok)
        r->skipped++;
}

/* ---- open and close --------------------------------------------------------------------- */

static char *path_join(struct mem *mem, const char *dir, const char *name)
{
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *s = mem_alloc(mem, n);
    if (s != NULL)
        snprintf(s, n, "%s/%s", dir, name);
    return s;
}

static struct persist *persist_new(struct broker *b, const struct conf *c)
{
    struct persist *p = mem_calloc(&b->mem, 1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->b = b;
    p->fd = -1;
    p->lock_fd = -1;
    p->mode = (enum persist_sync)c->persistence_sync;
    p->interval_ms = (uint64_t)c->persistence_sync_interval * 1000u;
    p->slack = PERSIST_SLACK;
    p->gen = 1;
    p->next_skey = 1;
    loop_timer_init(&p->timer, NULL, p);
    const char *dir = c->persistence_location != NULL ? c->persistence_location : ".";
    p->dir = mem_strndup(&b->mem, dir, strlen(dir));
    p->path = path_join(&b->mem, dir, PERSIST_FILE);
    p->tmp_path = path_join(&b->mem, dir, PERSIST_FILE ".new");
    if (p->dir == NULL || p->path == NULL || p->tmp_path == NULL) {
        persist_free(p);
        return NULL;
    }
    return p;
}

/* Maps and replays the file; fills err on failure. */
static int replay_file(struct persist *p, struct replay *r, size_t size, size_t *good,
                       char *err, size_t errlen)
{
    size_t bad = 0;
    void *map = NULL;
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, p->fd, 0);
        if (map == MAP_FAILED) {
            snprintf(err, errlen, "%s: cannot map: %s", p->path, strerror(errno));
            return TERN_EIO;
        }
    }
    int rc = persist_scan(map, size, apply, r, good, &bad);
    if (size >= PF_HEADER)
        r->version = persist_file_version(map, size);
    if (map != NULL)
        munmap(map, size);
    if (rc == TERN_EMALFORMED) {
        snprintf(err, errlen, "%s: not a Tern persistence file (bad header); move it away to "
                 "start with an empty store", p->path);
    } else if (rc == TERN_EIO) {
        snprintf(err, errlen, "%s: corrupt record at offset %zu, and data synced after it "
                 "follows. To start with the state before it, keep a copy and cut the file "
                 "there: cp %s %s.bad && truncate -s %zu %s", p->path, bad, p->path, p->path,
                 bad, p->path);
    } else if (r->err != TERN_OK) {
        snprintf(err, errlen, "%s: out of memory while loading (%zu of %zu bytes read); raise "
                 "memory_limit", p->path, *good, size);
        rc = TERN_ENOMEM;
    }
    return rc;
}

/* Cuts a torn tail, writes the header into an empty file. */
static int settle_file(struct persist *p, size_t size, size_t good, char *err, size_t errlen)
{
    if (good < size) {
        LOG_WARN(&p->b->log, "Persistence: %s: torn tail at offset %zu (%zu bytes of a batch "
                 "never acknowledged) discarded.", p->path, good, size - good);
        if (ftruncate(p->fd, (off_t)good) != 0 || plat_fsync(p->fd) != TERN_OK) {
            snprintf(err, errlen, "%s: cannot truncate the torn tail: %s", p->path,
                     strerror(errno));
            return TERN_EIO;
        }
    }
    if (good >= PF_HEADER) {
        p->file_off = good;
        return TERN_OK;
    }
    uint8_t hdr[PF_HEADER];
    persist_header(hdr);
    if (pwrite(p->fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr ||
        plat_fsync(p->fd) != TERN_OK || plat_fsync_dir(p->dir) != TERN_OK) {
        snprintf(err, errlen, "%s: cannot write: %s", p->path, strerror(errno));
        return TERN_EIO;
    }
    p->file_off = PF_HEADER;
    return TERN_OK;
}

static int load(struct persist *p, char *err, size_t errlen)
{
    struct broker *b = p->b;
    uint64_t t0 = plat_now_ms();
    mkdir(p->dir, 0700);
    char *lock = path_join(&b->mem, p->dir, PERSIST_LOCK);
    int lrc = lock != NULL ? plat_lock_file(lock, &p->lock_fd) : TERN_ENOMEM;
    mem_free(&b->mem, lock);
    if (lrc == TERN_ELIMIT) {
        snprintf(err, errlen, "%s: in use by another broker (%s/" PERSIST_LOCK " is locked)",
                 p->path, p->dir);
        return TERN_ELIMIT;
    }
    if (lrc != TERN_OK) {
        snprintf(err, errlen, "%s/" PERSIST_LOCK ": cannot lock: %s", p->dir, strerror(errno));
        return TERN_EIO;
    }
    p->fd = open(p->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    struct stat st;
    if (p->fd < 0 || fstat(p->fd, &st) != 0) {
        snprintf(err, errlen, "%s: cannot open: %s", p->path, strerror(errno));
        return TERN_EIO;
    }
    struct replay r = {.b = b, .p = p};
    r.msgs.mem = &b->mem;
    r.sess.mem = &b->mem;
    size_t size = (size_t)st.st_size;
    size_t good = 0;
    p->loading = true;
    int rc = replay_file(p, &r, size, &good, err, errlen);
    pmap_cleanup(&r.msgs, true);
    pmap_cleanup(&r.sess, false);
    p->loading = false;
    if (rc == TERN_OK)
        rc = settle_file(p, size, good, err, errlen);
    if (rc != TERN_OK)
        return rc;
    p->seq = p->durable_seq = r.seq;
    p->next_skey = r.max_skey + 1;
    if (r.max_id > b->next_msg_id)
        b->next_msg_id = r.max_id;
    persist_measure(p);
    if (r.version != 0 && r.version < PF_VERSION) {
        if (persist_compact(p) != TERN_OK) {
            snprintf(err, errlen, "%s: cannot rewrite the version %u log as version %u: %s",
                     p->path, r.version, PF_VERSION, strerror(errno));
            return TERN_EIO;
        }
        LOG_NOTICE(&b->log, "Persistence: %s rewritten from format version %u to %u.",
                   p->path, r.version, PF_VERSION);
    }
    size_t n_sess = 0;
    size_t n_queued = 0;
    for (size_t i = 0; i < b->sessions.cap; i++) {
        for (struct sess *s = b->sessions.slots[i]; s != NULL; s = s->hnext) {
            n_sess++;
            n_queued += s->pending.count + s->infl_live;
            sess_detach(s);
        }
    }
    if (size == 0) {
        LOG_NOTICE(&b->log, "Persistence: created %s (persistence_sync %s).", p->path,
                   p->mode == PERSIST_SYNC_ALWAYS ? "always"
                   : p->mode == PERSIST_SYNC_INTERVAL ? "interval" : "turn");
        return TERN_OK;
    }
    LOG_NOTICE(&b->log, "Persistence: loaded %s (%zu bytes, %llu records%s) in %llu ms: %zu "
               "sessions, %zu queued or in-flight messages, %zu retained.", p->path, good,
               (unsigned long long)r.records, r.skipped ? ", some skipped" : "",
               (unsigned long long)(plat_now_ms() - t0), n_sess, n_queued,
               retain_count(b->retained));
    return TERN_OK;
}

static void on_timer_trampoline(struct loop *l, struct loop_timer *t, void *data);

int persist_open(struct broker *b, const struct conf *c, struct persist **out, char *err,
                 size_t errlen)
{
    struct persist *p = persist_new(b, c);
    *out = NULL;
    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        return TERN_ENOMEM;
    }
    loop_timer_init(&p->timer, on_timer_trampoline, p);
    int rc = load(p, err, errlen);
    if (rc != TERN_OK) {
        persist_free(p);
        return rc;
    }
    p->last_sync_ms = broker_now(b);
    *out = p;
    return TERN_OK;
}

static void on_timer_trampoline(struct loop *l, struct loop_timer *t, void *data)
{
    persist_on_timer(data);
}
