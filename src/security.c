/*
 * Password and ACL files in the running broker; see security.h.
 *
 * The CONNECT decision follows Mosquitto 2.0 (src/security.c, mosquitto_unpwd_check): a client
 * without username is accepted only with allow_anonymous true; a client with a username is
 * checked against the password file when there is one (unknown user or wrong password: CONNACK
 * 0x05, MQTT 3.1.1 section 3.2.2.3) and accepted without one. On a listener with
 * use_identity_as_username the certificate's CN is the username and no password is asked for.
 * The failed-login throttle (auth.h) refuses an address that failed too often before its
 * password is even hashed.
 */
#include "security.h"

#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "auth.h"
#include "broker.h"
#include "conn.h"
#include "listener.h"
#include "session.h"
#include "tern/codec.h"
#include "tern/err.h"
#include "tern/mqtt.h"

static void free_pw(struct broker *b, struct auth_file **pw)
{
    if (*pw == NULL)
        return;
    auth_cleanup(*pw);
    mem_free(&b->mem, *pw);
    *pw = NULL;
}

static void free_acl(struct broker *b, struct acl **acl)
{
    if (*acl == NULL)
        return;
    acl_cleanup(*acl);
    mem_free(&b->mem, *acl);
    *acl = NULL;
}

/* Loads both files named by c into *pw and *acl (NULL when not named). */
static int load(struct broker *b, const struct conf *c, struct auth_file **pw, struct acl **acl,
                char *err, size_t errlen)
{
    *pw = NULL;
    *acl = NULL;
    if (c->password_file != NULL) {
        *pw = mem_calloc(&b->mem, 1, sizeof **pw);
        if (*pw == NULL || auth_load_file(*pw, &b->mem, c->password_file, err, errlen) !=
                               TERN_OK) {
            if (*pw == NULL)
                snprintf(err, errlen, "out of memory");
            mem_free(&b->mem, *pw);
            *pw = NULL;
            return TERN_ECONF;
        }
    }
    if (c->acl_file != NULL) {
        *acl = mem_calloc(&b->mem, 1, sizeof **acl);
        if (*acl == NULL || acl_load_file(*acl, &b->mem, c->acl_file, err, errlen) != TERN_OK) {
            if (*acl == NULL)
                snprintf(err, errlen, "out of memory");
            mem_free(&b->mem, *acl);
            *acl = NULL;
            free_pw(b, pw);
            return TERN_ECONF;
        }
    }
    return TERN_OK;
}

static void log_loaded(struct broker *b, const struct conf *c)
{
    if (b->pw != NULL)
        LOG_NOTICE(&b->log, "Password file %s: %zu users.", c->password_file, b->pw->n_users);
    if (b->acl != NULL)
        LOG_NOTICE(&b->log, "ACL file %s: %zu users, %zu patterns.", c->acl_file,
                   b->acl->n_users, b->acl->patterns.n);
}

int security_init(struct broker *b, const struct conf *c, char *err, size_t errlen)
{
    b->throttle = mem_alloc(&b->mem, sizeof *b->throttle);
    if (b->throttle == NULL) {
        snprintf(err, errlen, "out of memory");
        return TERN_ENOMEM;
    }
    auth_throttle_init(b->throttle);
    if (load(b, c, &b->pw, &b->acl, err, errlen) != TERN_OK)
        return TERN_ECONF;
    log_loaded(b, c);
    return TERN_OK;
}

void security_reload(struct broker *b, const struct conf *c)
{
    struct auth_file *pw;
    struct acl *acl;
    char err[512];
    if (load(b, c, &pw, &acl, err, sizeof err) != TERN_OK) {
        LOG_ERR(&b->log, "Reload of the password/ACL files failed, keeping the old rules: %s",
                err);
        return;
    }
    free_pw(b, &b->pw);
    free_acl(b, &b->acl);
    b->pw = pw;
    b->acl = acl;
    log_loaded(b, c);
}

void security_cleanup(struct broker *b)
{
    free_pw(b, &b->pw);
    free_acl(b, &b->acl);
    mem_free(&b->mem, b->throttle);
    b->throttle = NULL;
}

/* The client's address without its port ("1.2.3.4:5" -> "1.2.3.4"). */
static void peer_addr(const struct conn *c, char *out, size_t len)
{
    snprintf(out, len, "%s", c->peer);
    char *colon = strrchr(out, ':');
    if (colon != NULL)
        *colon = '\0';
}

static uint8_t refuse_login(struct conn *c, const char *addr, const struct pkt_connect *k,
                            const char *why)
{
    struct broker *b = c->b;
    uint64_t block = 0;
    uint32_t fails = auth_throttle_fail(b->throttle, addr, broker_now(b), &block);
    b->stats.auth_failures++;
    LOG_NOTICE(&b->log, "Login refused for user '%.*s' from %s: %s (%u failure%s in a row%s).",
               (int)k->username.len, (const char *)k->username.p, c->peer, why, fails,
               fails == 1 ? "" : "s", block > 0 ? "; address blocked" : "");
    if (block > 0)
        LOG_WARN(&b->log, "Too many failed logins from %s: refusing it for %llu ms.", addr,
                 (unsigned long long)block);
    return MQTT_CONNACK_NOT_AUTHORIZED;
}

uint8_t security_authenticate(struct conn *c, const struct pkt_connect *k, const char **user,
                              size_t *user_len)
{
    struct broker *b = c->b;
    *user = NULL;
    *user_len = 0;
    if (c->lst != NULL && c->lst->use_identity_as_username) {
        const char *id = c->tp->peer_identity != NULL ? c->tp->peer_identity(c) : NULL;
        if (id == NULL || *id == '\0') {
            LOG_NOTICE(&b->log, "Client from %s refused: no certificate identity to use as "
                       "username.", c->peer);
            return MQTT_CONNACK_NOT_AUTHORIZED;
        }
        *user = id;
        *user_len = strlen(id);
        return MQTT_CONNACK_ACCEPTED;
    }
    if (!k->has_username)
        return b->lim.allow_anonymous ? MQTT_CONNACK_ACCEPTED : MQTT_CONNACK_NOT_AUTHORIZED;
    *user = (const char *)k->username.p;
    *user_len = k->username.len;
    if (b->pw == NULL)
        return MQTT_CONNACK_ACCEPTED;
    char addr[sizeof c->peer];
    peer_addr(c, addr, sizeof addr);
    uint64_t left = auth_throttle_blocked(b->throttle, addr, broker_now(b));
    if (left > 0) {
        b->stats.auth_blocked++;
        LOG_NOTICE(&b->log, "Login refused for user '%.*s' from %s: address blocked for "
                   "another %llu ms after failed logins.", (int)k->username.len,
                   (const char *)k->username.p, c->peer, (unsigned long long)left);
        return MQTT_CONNACK_NOT_AUTHORIZED;
    }
    int rc = auth_check(b->pw, k->username.p, k->username.len,
                        k->has_password ? k->password.p : (const uint8_t *)"",
                        k->has_password ? k->password.len : 0);
    if (rc == TERN_ENOTFOUND)
        return refuse_login(c, addr, k, "unknown user");
    if (rc != TERN_OK || !k->has_password)
        return refuse_login(c, addr, k, "wrong password");
    auth_throttle_ok(b->throttle, addr);
    return MQTT_CONNACK_ACCEPTED;
}

bool security_may_read(const struct sess *s, const uint8_t *topic, size_t len)
{
    const struct acl *a = s->b->acl;
    /* A bridge's own session carries what its topic lines name: the config is its ACL. */
    return a == NULL || s->bridge != NULL ||
           acl_check(a, s->username, s->client_id, topic, len, ACL_READ);
}

bool security_may_write(const struct sess *s, const uint8_t *topic, size_t len)
{
    const struct acl *a = s->b->acl;
    return a == NULL || acl_check(a, s->username, s->client_id, topic, len, ACL_WRITE);
}
