/*
 * PINGREQ/PINGRESP and DISCONNECT (MQTT 3.1.1 sections 3.12-3.14).
 *
 * DISCONNECT: the will is discarded (3.14.4-3) and the connection closed (3.14.4-1).
 */
#include "broker.h"
#include "conn.h"
#include "proto.h"
#include "tern/err.h"

int proto_pingreq(struct conn *c, const struct pkt *p)
{
    uint8_t resp[2];
    codec_encode_pingresp(resp);
    return conn_send_bytes(c, resp, sizeof resp);
}

int proto_disconnect(struct conn *c, const struct pkt *p)
{
    c->got_disconnect = true;
    conn_close(c, "DISCONNECT");
    return TERN_ECLOSED;
}
