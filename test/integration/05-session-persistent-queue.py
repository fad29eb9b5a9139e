#!/usr/bin/python3
# Clean session 0: subscription and QoS 1 messages published while offline survive; reconnect gets session-present 1 and all 10 in order.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        c = t.Client(b.port, "p1")
        ack = c.connect("p1", clean=False)
        check_eq(ack.session_present, 0, "session-present on the first clean-0 connect")
        c.subscribe([("sess/t", 1)])
        c.disconnect()

        pub = t.connected(b.port, "p1pub")
        for i in range(10):
            pub.publish("sess/t", b"m%d" % i, qos=1, pid=i + 1)

        c = t.Client(b.port, "p1")
        ack = c.connect("p1", clean=False)
        check_eq(ack.session_present, 1, "session-present on reconnect with clean session 0")
        got = c.collect(10)
        check_eq([p.payload for p in got], [b"m%d" % i for i in range(10)], "queued messages in order")
        check(all(p.qos == 1 for p in got), "queued messages at QoS 1: %r" % got)
        c.expect_nothing(what="no more queued messages")
        # The subscription is still there while online.
        pub.publish("sess/t", b"online", qos=1, pid=50)
        c.expect_publish("sess/t", b"online", qos=1)
        c.disconnect()
        pub.disconnect()

t.run(main)
