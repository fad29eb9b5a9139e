#!/usr/bin/python3
# $SYS/broker/... topics (sys_interval 1): after known traffic, the retained snapshot a new
# $SYS/# subscriber gets carries exactly that traffic's counts (packets, PUBLISHes, bytes both
# ways, clients, subscriptions, retained count); they are republished every interval (uptime
# grows, load averages appear); '#' never sees them; sys_interval 0 publishes none.
import os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


class Counting(t.Client):
    """A client that counts the bytes it sends."""
    sent = 0

    def send(self, data):
        Counting.sent += len(data)
        super().send(data)


def snapshot(w):
    """Reads the retained $SYS burst a fresh subscription gets (up to the first live message
    or 0.4 s of quiet); returns {topic: value}."""
    got = {}
    while True:
        try:
            p = w.recv(0.4, "$SYS snapshot")
        except t.TestFailure:
            break
        if not p.retain:
            break
        got[p.topic] = p.payload.decode()
    return got


def next_on(w, topic, timeout):
    deadline = time.monotonic() + timeout
    while True:
        p = w.recv(max(0.001, deadline - time.monotonic()), "PUBLISH on %s" % topic)
        if p.topic == topic:
            return p


def main():
    with t.Broker(extra=["sys_interval 1"]) as b:
        pub = Counting(b.port, "pub")
        pub.connect("pub")
        sub = Counting(b.port, "sub")
        sub.connect("sub")
        sub.subscribe([("t/#", 0)])
        pub.publish("r/1", b"kept", retain=True)
        for i in range(5):
            pub.publish("t/x", b"0123456789")
        sub.collect(5)
        # Every byte the broker got came from pub and sub; what it sent: 2 CONNACKs, a SUBACK
        # and 5 PUBLISHes to sub.
        bytes_in = Counting.sent
        bytes_out = 4 + 4 + 5 + 5 * len(t.enc_publish("t/x", b"0123456789"))
        time.sleep(1.5)   # a $SYS round after all of that
        w = t.connected(b.port, "watch")
        w.subscribe([("$SYS/broker/#", 0)])
        snap = snapshot(w)
        want = {
            "$SYS/broker/clients/connected": "2",
            "$SYS/broker/clients/total": "2",
            "$SYS/broker/messages/received": "9",       # 2 CONNECT, SUBSCRIBE, 6 PUBLISH
            "$SYS/broker/messages/sent": "8",           # 2 CONNACK, SUBACK, 5 PUBLISH
            "$SYS/broker/publish/messages/received": "6",
            "$SYS/broker/publish/messages/sent": "5",
            "$SYS/broker/bytes/received": str(bytes_in),
            "$SYS/broker/bytes/sent": str(bytes_out),
            "$SYS/broker/subscriptions/count": "1",
            # r/1 and every $SYS topic of the round
            "$SYS/broker/retained messages/count": str(1 + len(snap)),
        }
        for k, v in want.items():
            check_eq(snap.get(k), v, k)
        check(snap.get("$SYS/broker/uptime", "").endswith(" seconds"), "uptime: %r" % snap)
        if t.tern_only("version string"):
            check(snap.get("$SYS/broker/version", "").startswith("tern version "),
                  "version: %r" % snap.get("$SYS/broker/version"))
            check("$SYS/broker/load/messages/received/1min" in snap, "load averages published")
        # Next rounds arrive live (RETAIN 0) every second, uptime growing.
        up0 = int(snap["$SYS/broker/uptime"].split()[0])
        p = next_on(w, "$SYS/broker/uptime", 2.5)
        check(not p.retain, "live $SYS publication has RETAIN 0")
        p = next_on(w, "$SYS/broker/uptime", 2.5)
        check(int(p.payload.split()[0]) > up0, "uptime grows: %r after %d" % (p.payload, up0))
        # '#' does not match $SYS (MQTT 3.1.1 4.7.2).
        h = t.connected(b.port, "hash")
        h.subscribe([("#", 0)])
        got = h.collect(1)
        check_eq(got[0].topic, "r/1", "# gets the retained r/1 only")
        h.expect_nothing(timeout=1.3, what="no $SYS via #")
        for c in (pub, sub, w, h):
            c.disconnect()
    with t.Broker(extra=["sys_interval 0"]) as b:
        w = t.connected(b.port, "watch")
        w.subscribe([("$SYS/#", 0)])
        w.expect_nothing(timeout=1.2, what="no $SYS topics with sys_interval 0")
        w.disconnect()

t.run(main)
