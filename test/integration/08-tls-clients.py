#!/usr/bin/env python3
"""TLS listener with real clients: mosquitto_pub/mosquitto_sub with --cafile (RSA-2048 server key)
and Paho (ECDSA P-256 server key on a second listener), QoS 0/1/2 both ways, a payload larger than
one TLS record (records and MQTT packets split anywhere), and session resumption through both
session tickets and the session-id cache (openssl s_client -sess_out/-sess_in reports "Reused")."""

import os
import subprocess
import tempfile
import threading

import paho.mqtt.client as mqtt

from sec_util import make_ca, make_cert, mosq_pub, mosq_sub_once, run_tool, tls_listener
from tern_test import Broker, HOST, check, check_eq, free_port, note, run


def paho_roundtrip(port, cafile):
    got = []
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(c, u, m):
        got.append((m.topic, m.payload, m.qos))
        if len(got) == 3:
            done.set()

    sub = mqtt.Client(client_id="paho-tls-sub", protocol=mqtt.MQTTv311)
    sub.tls_set(ca_certs=cafile)
    sub.on_message = on_message
    sub.on_subscribe = lambda c, u, mid, q: subscribed.set()
    sub.connect(HOST, port, 30)
    sub.loop_start()
    pub = mqtt.Client(client_id="paho-tls-pub", protocol=mqtt.MQTTv311)
    try:
        sub.subscribe("paho/#", 2)
        check(subscribed.wait(5), "Paho: no SUBACK over TLS")
        pub.tls_set(ca_certs=cafile)
        pub.connect(HOST, port, 30)
        pub.loop_start()
        big = os.urandom(100000)           # six TLS records
        for q, payload in ((0, b"zero"), (1, b"one"), (2, big)):
            pub.publish("paho/q%d" % q, payload, qos=q).wait_for_publish(5)
        check(done.wait(5), "Paho: got %d of 3 messages over TLS" % len(got))
    finally:
        pub.loop_stop()
        sub.loop_stop()
        pub.disconnect()
        sub.disconnect()
    got.sort()
    check_eq([(t, q) for t, _, q in got], [("paho/q0", 0), ("paho/q1", 1), ("paho/q2", 2)],
             "Paho topics and QoS")
    check(got[2][1] == big, "Paho: the 100 kB payload arrived damaged")


def resumed(port, cafile, d, ticket):
    """Two s_client connections, the second resuming the first's session."""
    sess = os.path.join(d, "sess-%s.pem" % ("t" if ticket else "c"))
    base = ["openssl", "s_client", "-connect", "%s:%d" % (HOST, port), "-CAfile", cafile,
            "-tls1_2"] + ([] if ticket else ["-no_ticket"])
    rc, out = run_tool(base + ["-sess_out", sess], stdin=b"", timeout=10)
    check("Verify return code: 0" in out, "s_client did not verify the server: %s" % out[-800:])
    if ticket:
        check("TLS session ticket lifetime hint: 86400" in out, "no session ticket issued")
    rc, out = run_tool(base + ["-sess_in", sess], stdin=b"", timeout=10)
    return "Reused, TLSv1.2" in out


def body():
    d = tempfile.mkdtemp(prefix="tern-tls-")
    make_ca(d, "ca")
    make_cert(d, "server", kind="rsa")
    make_cert(d, "server-ec", kind="ec")
    cafile = os.path.join(d, "ca.crt")
    ec_port = free_port()
    conf = tls_listener("{port}", d)
    conf += tls_listener(ec_port, d, server="server-ec")
    conf += ["allow_anonymous true"]
    with Broker(config="\n".join(conf) + "\n") as b:
        tls = ["--cafile", cafile]
        # mosquitto_sub / mosquitto_pub over TLS, each QoS.
        for q in (0, 1, 2):
            out = []
            t = threading.Thread(target=lambda: out.append(
                mosq_sub_once(b.port, "m/q%d" % q, extra=tls + ["-q", str(q)], wait=8)))
            t.start()
            # Retained, so the order of subscriber start and publish does not matter.
            rc, text = mosq_pub(b.port, "m/q%d" % q, "hello-%d" % q, extra=tls + ["-r"], qos=q)
            check_eq(rc, 0, "mosquitto_pub over TLS (QoS %d) exit status; %s" % (q, text))
            t.join(15)
            check(out and out[0][0] == 0, "mosquitto_sub over TLS (QoS %d): %r" % (q, out))
            check_eq(out[0][1], ["m/q%d hello-%d" % (q, q)], "mosquitto_sub output")
        note("mosquitto clients over TLS (RSA-2048): QoS 0/1/2 ok")
        paho_roundtrip(ec_port, cafile)
        note("Paho over TLS (ECDSA P-256): QoS 0/1/2 and a 100 kB payload ok")
        check(resumed(b.port, cafile, d, ticket=True), "no resumption with a session ticket")
        check(resumed(b.port, cafile, d, ticket=False), "no resumption from the session cache")
        note("session resumption: tickets and session-id cache ok")


run(body)
