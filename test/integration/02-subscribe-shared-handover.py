#!/usr/bin/python3
# Shared subscriptions, handover of QUEUED messages and groups across a restart.
#  1. Three clean-session members, max_inflight_messages 1, none acknowledging: 9 messages
#     give each one in flight and two queued. A member that closes hands over both kinds: the
#     other two get the 7 messages they had not had yet exactly once, among them the one the
#     closed member had in flight and the two it had queued.
#  2. With persistence: two persistent members; one goes offline with messages in flight and
#     queued, which the other gets; after a restart the group still exists (messages published
#     with both offline reach a member when it returns) and the member that left has none of
#     the messages it handed over.
import os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq

F = "$share/q/jobs/#"


def clean_members():
    with t.Broker(["max_inflight_messages 1"]) as b:
        members = [t.connected(b.port, "w%d" % i) for i in range(3)]
        for m in members:
            m.subscribe([(F, 1)])
        pub = t.connected(b.port, "pub")
        for i in range(9):
            pub.publish("jobs/x", b"j%d" % i, qos=1, pid=i + 1)
        first = [m.recv(what="the in-flight message") for m in members]
        for m in members:
            m.expect_nothing(timeout=0.2, what="one message in flight (window 1)")
        w0 = members[0]
        held = first[0].payload
        w0.close()
        for m, p in zip(members[1:], first[1:]):
            m.ack(p)
        got = t.collect_from(members[1:], 7, timeout=5.0)
        payloads = sorted(p.payload for v in got.values() for p in v)
        want = sorted([b"j%d" % i for i in range(9) if b"j%d" % i not in
                       (first[1].payload, first[2].payload)])
        check_eq(payloads, want, "after w0 left: everything w1/w2 had not had, exactly once")
        check(held in payloads, "w0's unacknowledged message was handed over")
        for m in members[1:]:
            m.expect_nothing(timeout=0.3, what="nothing more")
            m.disconnect()
        pub.disconnect()


def persistent_members():
    b = t.Broker(["max_inflight_messages 1"])
    with open(b.conf_path, "a") as f:
        f.write("persistence true\npersistence_location %s\n" % os.path.join(b.dir, "db"))
    with b:
        p0 = t.connected(b.port, "p0", clean=False)
        p1 = t.connected(b.port, "p1", clean=False)
        for m in (p0, p1):
            m.subscribe([(F, 1)])
        pub = t.connected(b.port, "pub")
        for i in range(4):
            pub.publish("jobs/y", b"y%d" % i, qos=1, pid=i + 1)
        a = p0.recv(what="p0's in-flight message")
        c = p1.recv(what="p1's in-flight message")
        p0.close()
        p1.ack(c)
        got = t.collect_from([p1], 3, timeout=5.0)["p1"]
        check_eq(sorted(set(p.payload for p in got + [c])), [b"y0", b"y1", b"y2", b"y3"],
                 "p1 got every message, p0's in flight and queued ones included")
        p1.disconnect()
        pub.disconnect()
        b.stop()
        check_eq(b.returncode, 0, "exit status")
        b.stopped = False
        b.returncode = None
        b.log_path = os.path.join(b.dir, "broker-2.log")
        b.start()
        pub = t.connected(b.port, "pub")
        for i in range(4):
            pub.publish("jobs/z", b"z%d" % i, qos=1, pid=i + 1)
        r0 = t.Client(b.port, "p0")
        check_eq(r0.connect("p0", clean=False).session_present, 1, "p0 session present")
        r1 = t.Client(b.port, "p1")
        check_eq(r1.connect("p1", clean=False).session_present, 1, "p1 session present")
        got = t.collect_from([r0, r1], 4, timeout=5.0)
        everything = [p.payload for v in got.values() for p in v]
        check_eq(sorted(everything), [b"z0", b"z1", b"z2", b"z3"],
                 "the restored group delivered each message once, none of y* came back")
        check(all(len(v) == 2 for v in got.values()),
              "the restored group split the messages: %r" % {k: len(v) for k, v in got.items()})
        for c in (r0, r1):
            c.expect_nothing(timeout=0.3, what="nothing more")
            c.disconnect()
        pub.disconnect()


def main():
    if not t.tern_only("shared subscriptions"):
        return
    clean_members()
    persistent_members()


t.run(main)
