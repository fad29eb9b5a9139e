/*
 * Access control lists in Mosquitto's acl_file format, and the check.
 *
 * File syntax (Mosquitto 2.0, mosquitto.conf(5) "acl_file"): one rule per line, '#' lines and
 * blank lines skipped.
 *   user USERNAME                        starts the rules of one user
 *   topic [read|write|readwrite|deny] FILTER   a rule of the current user; before any
 *                                        "user" line it belongs to anonymous clients
 *   pattern [read|write|readwrite|deny] FILTER a rule for every client, where %c stands for
 *                                        the client id and %u for the username
 * Without an access word the rule is readwrite. FILTER is the rest of the line (it may hold
 * spaces) and must be a valid MQTT topic filter (MQTT 3.1.1 section 4.7). Errors are reported
 * as "FILE:LINE: reason".
 *
 * The check, as Mosquitto's default ACL check: first the client's own rules (its user's
 * section, or the anonymous section for a client without username), then the patterns; in
 * each list "deny" rules are tried first, in file order, then the others in file order. The
 * first matching rule decides: deny refuses, a rule including the asked access allows; a rule
 * that matches but lacks the access is passed over. Nothing matching means refused. A topic
 * starting with '$' is matched only by rules whose filter starts with '$' too. A pattern with
 * %u is skipped for a client without username; when patterns exist, a client whose username
 * or client id contains '+' or '#' is refused (so it cannot widen a pattern).
 */
#ifndef TERN_ACL_H
#define TERN_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem.h"

#define ACL_DENY 0u
#define ACL_READ 1u
#define ACL_WRITE 2u

struct acl_rule {
    char *filter;                   /* owned, NUL-terminated */
    uint8_t access;                 /* ACL_DENY, or ACL_READ|ACL_WRITE bits */
    bool subst;                     /* pattern containing %c or %u */
    bool needs_user;                /* pattern containing %u */
};

struct acl_list {
    char *user;                     /* owned; NULL for the anonymous section */
    struct acl_rule *rules;         /* deny rules first, then the rest, each in file order */
    size_t n;
    size_t cap;
};

/* A loaded ACL file. Caller-owned storage; acl_cleanup frees. */
struct acl {
    struct mem *mem;                /* borrowed */
    struct acl_list *users;         /* sorted by user name (anonymous section separate) */
    size_t n_users;
    struct acl_list anon;           /* rules before the first "user" line */
    struct acl_list patterns;
};

/*
 * Parses text into a (which is overwritten). Returns TERN_OK, TERN_ECONF with
 * "NAME:LINE: reason" in err, or TERN_ENOMEM. On failure a is left empty.
 */
int acl_load_string(struct acl *a, struct mem *m, const char *name, const char *text,
                    size_t len, char *err, size_t errlen);
/* The same for a file; "PATH: cannot open: reason" when it cannot be read. */
int acl_load_file(struct acl *a, struct mem *m, const char *path, char *err, size_t errlen);
void acl_cleanup(struct acl *a);

/*
 * May the client (username NULL for none; client_id NUL-terminated) have access (ACL_READ or
 * ACL_WRITE) to topic[0..len)? topic is a concrete topic name (no wildcards).
 */
bool acl_check(const struct acl *a, const char *username, const char *client_id,
               const uint8_t *topic, size_t len, unsigned access);

/* MQTT filter matching as the ACL check uses it (no '$' rule): does filter match topic? */
bool acl_filter_matches(const char *filter, size_t flen, const uint8_t *topic, size_t tlen);

#endif
