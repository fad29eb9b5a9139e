#!/usr/bin/python3
# WebSocket clients get the same limits as TCP ones: a listener's max_connections (refused at
# accept, before any handshake), keepalive expiry (1.5 x keepalive), a CONNACK refusal that
# reaches the client before the close, session takeover between TCP and WebSockets, and the
# output bound: a WebSocket client that does not read its output is not read from either
# (libwebsockets' rx flow control) until it drains.
import os, sys, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
import tern_ws as w
from tern_test import check, check_eq


def main():
    wsport = t.free_port()
    b = t.Broker(config=w.ws_config(wsport, ["max_connections 2"]))
    b.start(wait_ports=[b.port, wsport])
    with b:
        # The port probe of start() may still be closing: wait until it is gone.
        deadline = time.monotonic() + 3
        while "closed during the WebSocket handshake" not in b.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        a = w.WSClient(wsport, "a")
        a.connect("lim-a")
        c = w.WSClient(wsport, "b")
        c.connect("lim-b")
        try:
            w.WSClient(wsport, "third")
        except (w.HandshakeRefused, OSError) as e:
            t.note("third WebSocket client refused: %s" % e)
        else:
            raise t.TestFailure("a third WebSocket connection was accepted over max_connections 2")
        check("max_connections reached" in b.log(), "refusal logged")
        t.round_trip(b.port, "tcp-unaffected")   # the TCP listener has no such limit
        c.disconnect()
        a.disconnect()
        time.sleep(0.2)

        # Keepalive: 1 s, then silence: closed after 1.5 s (not before 1 s).
        k = w.WSClient(wsport, "keepalive")
        k.connect("lim-k", keepalive=1)
        start = time.monotonic()
        check(k.closed_within(4), "silent WebSocket client closed by keepalive")
        took = time.monotonic() - start
        check(took > 1.0, "closed too early (%.2f s)" % took)
        check("keepalive" in b.log(), "keepalive close logged")

        # A refused CONNECT still gets its CONNACK over the WebSocket before the close.
        r = w.WSClient(wsport, "refused")
        r.send(t.enc_connect("lim-r", level=5))
        p = r.recv(what="CONNACK refusing protocol level 5")
        check_eq((p.type, p.rc), (t.CONNACK, 1), "CONNACK for an unacceptable protocol level")
        check(r.closed_within(3), "closed after the refusal")

        # Session takeover across transports: TCP takes a WebSocket client's id and back.
        a = w.WSClient(wsport, "ws-dup")
        a.connect("dup")
        tcp = t.connected(b.port, "dup")
        check(a.closed_within(3), "WebSocket client closed when TCP took its client id")
        d = w.WSClient(wsport, "ws-dup2")
        d.connect("dup")
        tcp.expect_closed(what="TCP client closed when a WebSocket client took its id")
        d.ping()
        d.disconnect()

        # The output bound pauses WebSocket input too: flood a subscriber that never reads; its
        # publishes do not get through while its output is over the bound, then all do.
        slow = w.WSClient(wsport, "slow")
        slow.connect("slow", keepalive=0)
        slow.subscribe([("big/#", 0)])
        probe = t.connected(b.port, "probe")
        probe.subscribe([("probe", 0)])
        pub = t.connected(b.port, "flooder")
        stop = threading.Event()

        def flood():
            end = time.monotonic() + 15
            while not stop.is_set() and time.monotonic() < end:
                pub.send(t.enc_publish("big/x", b"y" * 100000, qos=0))
        th = threading.Thread(target=flood)
        th.start()
        try:
            deadline = time.monotonic() + 10
            while "not reading from it" not in b.log():
                check(time.monotonic() < deadline, "the unread WebSocket client was never paused")
                time.sleep(0.05)
            for i in range(5):
                slow.send(t.enc_publish("probe", b"p%d" % i, qos=0))
                time.sleep(0.1)
            probe.expect_nothing(timeout=0.5, what="publishes of a paused WebSocket client")
        finally:
            stop.set()
            th.join()
        deadline = time.monotonic() + 10
        got = []
        while len(got) < 5:
            check(time.monotonic() < deadline, "paused WebSocket client's publishes: %r" % got)
            try:
                slow._fill(time.monotonic() + 0.2)
                slow.buf.clear()             # its output drains as it reads
            except Exception:
                pass
            try:
                got.append(probe.recv(timeout=0.05).payload)
            except t.TestFailure:
                pass
        check_eq(got, [b"p0", b"p1", b"p2", b"p3", b"p4"], "publishes after the drain, in order")
        slow.close()

t.run(main)
