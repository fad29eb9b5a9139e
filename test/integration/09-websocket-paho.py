#!/usr/bin/python3
# Paho over WebSockets (transport="websockets", path /mqtt) and a Paho client over TCP, through
# Tern both ways, QoS 0/1/2 and a payload larger than one WebSocket read; then the same over
# wss:// (a test CA made with openssl at run time) with Paho and a raw TLS WebSocket client.
import os, ssl, sys, tempfile, threading
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import paho.mqtt.client as mqtt
import tern_test as t
import tern_ws as w
from tern_test import check, check_eq


def client(name, port, ws, cafile=None):
    c = mqtt.Client(client_id=name, protocol=mqtt.MQTTv311,
                    transport="websockets" if ws else "tcp")
    if ws:
        c.ws_set_options(path="/mqtt")
    if cafile is not None:
        c.tls_set(ca_certs=cafile)
    got = []
    done = threading.Event()
    subscribed = threading.Event()
    c.user_data_set((got, done))

    def on_message(cl, u, m):
        u[0].append((m.topic, m.payload, m.qos))
        if len(u[0]) >= 3:
            u[1].set()
    c.on_message = on_message
    c.on_subscribe = lambda cl, u, mid, q: subscribed.set()
    c.connect(t.HOST, port, 30)
    c.loop_start()
    return c, got, done, subscribed


def one_way(src, dst, tag, big):
    """dst subscribes tag/#; src publishes three messages at QoS 0/1/2; dst must get them."""
    s, got, done, subscribed = dst
    s.subscribe(tag + "/#", 2)
    check(subscribed.wait(5), "%s: no SUBACK" % tag)
    p = src[0]
    for q, payload in ((0, b"zero"), (1, b"one"), (2, big)):
        p.publish("%s/q%d" % (tag, q), payload, qos=q).wait_for_publish(5)
    check(done.wait(10), "%s: got %d of 3 messages" % (tag, len(got)))
    got.sort()
    check_eq([(tp, q) for tp, _, q in got], [(tag + "/q0", 0), (tag + "/q1", 1), (tag + "/q2", 2)],
             "%s: topics and QoS" % tag)
    check(got[2][1] == big, "%s: the large payload arrived damaged" % tag)


def both_ways(tcp_port, ws_port, tag, cafile=None):
    big = os.urandom(300000)
    ws = client(tag + "-ws", ws_port, True, cafile)
    tcp = client(tag + "-tcp", tcp_port, False)
    try:
        one_way(tcp, ws, tag + "/to-ws", big)
        ws2 = client(tag + "-ws2", ws_port, True, cafile)
        tcp2 = client(tag + "-tcp2", tcp_port, False)
        try:
            one_way(ws2, tcp2, tag + "/to-tcp", big)
        finally:
            for c in (ws2, tcp2):
                c[0].disconnect()
                c[0].loop_stop()
    finally:
        for c in (ws, tcp):
            c[0].disconnect()
            c[0].loop_stop()


def main():
    d = tempfile.mkdtemp(prefix="tern-wss-")
    cafile, crt, key = w.make_test_ca(d)
    ws_port, wss_port = t.free_port(), t.free_port()
    b = t.Broker(config=w.ws_config(ws_port, [
        "listener %d 127.0.0.1" % wss_port, "protocol websockets",
        "certfile " + crt, "keyfile " + key]))
    b.start(wait_ports=[b.port, ws_port, wss_port])
    with b:
        both_ways(b.port, ws_port, "ws")
        both_ways(b.port, wss_port, "wss", cafile=cafile)

        # Raw wss: verified against the test CA; plain ws on the wss port fails.
        ctx = ssl.create_default_context(cafile=cafile)
        c = w.WSClient(wss_port, "raw-wss", tls_ctx=ctx)
        c.connect("raw-wss")
        c.subscribe([("raw/#", 1)])
        c.publish("raw/x", b"over tls", qos=1)
        c.expect_publish("raw/x", b"over tls", qos=1)
        c.disconnect()
        try:
            w.WSClient(wss_port, "plain-on-wss")
        except (w.HandshakeRefused, t.TestFailure, OSError) as e:
            t.note("plain ws on the wss port refused: %s" % e)
        else:
            raise t.TestFailure("plain ws upgrade accepted on the wss listener")
        t.round_trip(b.port, "after")

t.run(main)
