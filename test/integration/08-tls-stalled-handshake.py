#!/usr/bin/env python3
"""Handshakes never block the loop: 20 clients open the TLS port and stop mid-handshake (10 say
nothing, 10 send half a ClientHello), one more sends garbage; meanwhile a TLS publisher and a TLS
subscriber keep exchanging QoS 1 messages, each of which must arrive within 1 s. The stalled
connections are closed by the handshake (CONNECT) timeout, 10 s after they were accepted."""

import os
import socket
import tempfile
import threading
import time

import paho.mqtt.client as mqtt

from sec_util import make_ca, make_cert, tls_listener, wait_log
from tern_test import Broker, HOST, check, note, run

# A TLS 1.2 ClientHello record header announcing 512 bytes, then only its first few bytes.
HALF_HELLO = b"\x16\x03\x01\x02\x00" + b"\x01\x00\x01\xfc\x03\x03" + os.urandom(20)
CONNECT_TIMEOUT = 10.0


def body():
    d = tempfile.mkdtemp(prefix="tern-tlss-")
    make_ca(d, "ca")
    make_cert(d, "server")
    cafile = os.path.join(d, "ca.crt")
    with Broker(config="\n".join(tls_listener("{port}", d) + ["allow_anonymous true"]) + "\n") as b:
        stalled = []
        t0 = time.monotonic()
        for i in range(20):
            s = socket.create_connection((HOST, b.port), timeout=2)
            if i % 2:
                s.sendall(HALF_HELLO)
            stalled.append(s)
        g = socket.create_connection((HOST, b.port), timeout=2)
        g.sendall(os.urandom(300))

        got = {}
        cond = threading.Condition()

        def on_message(c, u, m):
            with cond:
                got[m.payload.decode()] = time.monotonic()
                cond.notify_all()

        sub = mqtt.Client(client_id="live-sub", protocol=mqtt.MQTTv311)
        sub.tls_set(ca_certs=cafile)
        sub.on_message = on_message
        subscribed = threading.Event()
        sub.on_subscribe = lambda c, u, mid, q: subscribed.set()
        sub.connect(HOST, b.port, 30)
        sub.loop_start()
        pub = mqtt.Client(client_id="live-pub", protocol=mqtt.MQTTv311)
        pub.tls_set(ca_certs=cafile)
        pub.connect(HOST, b.port, 30)
        pub.loop_start()
        try:
            sub.subscribe("live/t", 1)
            check(subscribed.wait(5), "no SUBACK while handshakes are stalled")
            worst = 0.0
            for i in range(30):
                sent = time.monotonic()
                pub.publish("live/t", str(i), qos=1)
                with cond:
                    ok = cond.wait_for(lambda: str(i) in got, 1.0)
                check(ok, "message %d not delivered within 1 s while handshakes are stalled" % i)
                worst = max(worst, got[str(i)] - sent)
                time.sleep(0.05)
            note("30 QoS 1 messages over TLS beside 21 stalled handshakes; worst latency %.1f ms"
                 % (worst * 1000))
        finally:
            pub.loop_stop()
            sub.loop_stop()
            pub.disconnect()
            sub.disconnect()
        # Every stalled connection is closed by the timeout, not before the loop could serve
        # others, and not much after it.
        for s in stalled:
            s.settimeout(max(0.1, t0 + CONNECT_TIMEOUT + 3 - time.monotonic()))
            try:
                while s.recv(4096):
                    pass
            except socket.timeout:
                raise AssertionError("a stalled handshake was not closed within %.0f s"
                                     % (CONNECT_TIMEOUT + 3))
            except OSError:
                pass
            s.close()
        g.close()
        note("stalled handshakes closed after %.1f s" % (time.monotonic() - t0))
        wait_log(b, "no CONNECT received in time")


run(body)
