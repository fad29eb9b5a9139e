/*
 * The WebSocket transport (MQTT 3.1.1 section 6): libwebsockets driven by Tern's own loop.
 * See net_ws.c for the design. Built when WITH_WS=1 (the default); listener.c reaches it only
 * through its transport table entry.
 */
#ifndef TERN_NET_WS_H
#define TERN_NET_WS_H

#include "listener.h"

extern const struct transport net_ws_transport;

#endif
