#!/usr/bin/python3
# max_inflight_messages 2: a subscriber that withholds PUBACKs gets only 2 QoS 1 PUBLISHes; acking releases the rest in order.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker(["max_inflight_messages 2"]) as b:
        c = t.connected(b.port, "infl")
        c.subscribe([("inf/t", 1)])
        pub = t.connected(b.port, "inflpub")
        for i in range(6):
            pub.publish("inf/t", b"%d" % i, qos=1, pid=i + 1)
        first = c.collect(2, ack=False)
        check_eq([p.payload for p in first], [b"0", b"1"], "first two in flight")
        c.expect_nothing(timeout=1.0, what="no third PUBLISH while 2 are unacknowledged")
        for p in first:
            c.send(t.enc_ack(t.PUBACK, p.pid))
        rest = c.collect(4, ack=True)
        check_eq([p.payload for p in rest], [b"2", b"3", b"4", b"5"], "remaining messages in order")
        c.disconnect()
        pub.disconnect()

t.run(main)
