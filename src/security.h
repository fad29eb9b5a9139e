/*
 * The broker's use of auth.c and acl.c: loading the password and ACL files named by the
 * config (start-up and SIGHUP), the CONNECT decision (allow_anonymous, password file,
 * certificate identity, failed-login throttle), and the ACL questions the packet handlers ask.
 *
 * auth.c and acl.c stay pure (text in, answers out; unit-tested without a broker); this file
 * holds what needs the broker: its memory, log, clock and counters.
 *
 * Reload (SIGHUP): both files are parsed into fresh structures first; only when both parse is
 * the running pair replaced, so a file with an error keeps every old rule and the error is
 * logged as FILE:LINE: reason. Connections are kept; the new rules apply from the next check
 * (ACLs are checked per message, so a subscription made earlier is filtered by the new rules).
 */
#ifndef TERN_SECURITY_H
#define TERN_SECURITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker;
struct conf;
struct conn;
struct sess;
struct pkt_connect;

/* Loads the files the config names. Returns TERN_OK or TERN_ECONF with the reason in err. */
int security_init(struct broker *b, const struct conf *c, char *err, size_t errlen);
/* Re-reads the files named by c (a freshly loaded config); logs and keeps the old rules on
 * error. */
void security_reload(struct broker *b, const struct conf *c);
void security_cleanup(struct broker *b);

/*
 * Decides whether the CONNECT k on c may log in. Returns a CONNACK code (0 = accepted) and, on
 * acceptance, the username to attach to the session in *user and *user_len (borrowed from k or from
 * the transport; NULL for an anonymous client). Logs and counts refusals.
 */
uint8_t security_authenticate(struct conn *c, const struct pkt_connect *k, const char **user,
                              size_t *user_len);

/* ACL questions about session s (its username and client id). True when no acl_file is set. */
bool security_may_read(const struct sess *s, const uint8_t *topic, size_t len);
bool security_may_write(const struct sess *s, const uint8_t *topic, size_t len);

#endif
