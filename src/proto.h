/*
 * Packet handlers, one file per packet family (proto_connect.c, proto_publish.c,
 * proto_subscribe.c, proto_misc.c). Each takes a decoded packet (borrowed: its views point
 * into the read buffer and are valid only during the call), changes session state and queues
 * replies. A handler that meets a protocol violation closes the connection itself with a
 * reason (logged with client id and peer) and returns TERN_EPROTO; the caller then stops
 * parsing that connection's bytes.
 */
#ifndef TERN_PROTO_H
#define TERN_PROTO_H

#include "tern/codec.h"

struct conn;

int proto_connect(struct conn *c, const struct pkt *p);
int proto_publish(struct conn *c, const struct pkt *p);
int proto_puback(struct conn *c, const struct pkt *p);
int proto_pubrec(struct conn *c, const struct pkt *p);
int proto_pubrel(struct conn *c, const struct pkt *p);
int proto_pubcomp(struct conn *c, const struct pkt *p);
int proto_subscribe(struct conn *c, const struct pkt *p);
int proto_unsubscribe(struct conn *c, const struct pkt *p);
int proto_pingreq(struct conn *c, const struct pkt *p);
int proto_disconnect(struct conn *c, const struct pkt *p);

#endif
