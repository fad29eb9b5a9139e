#!/usr/bin/python3
# max_queued_messages 5: of 10 QoS 1 messages published while a persistent client is offline, exactly 5 arrive, in order.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker(["max_queued_messages 5"]) as b:
        c = t.connected(b.port, "mq", clean=False)
        c.subscribe([("mq/t", 1)])
        c.disconnect()
        pub = t.connected(b.port, "mqpub")
        for i in range(10):
            pub.publish("mq/t", b"%d" % i, qos=1, pid=i + 1)
        c = t.Client(b.port, "mq")
        ack = c.connect("mq", clean=False)
        check_eq(ack.session_present, 1, "session-present")
        c.subscribe([("mq/sync", 1)], pid=2)
        got = t.marker_sync(c, pub, "mq/sync")
        nums = [int(p.payload) for p in got]
        t.note("queued messages delivered: %r" % nums)
        check_eq(len(nums), 5, "number of queued messages delivered with max_queued_messages 5")
        check(nums == sorted(nums) and len(set(nums)) == 5, "queued messages not in order: %r" % nums)
        c.disconnect()
        pub.disconnect()

t.run(main)
