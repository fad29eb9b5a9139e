#!/usr/bin/python3
# UNSUBSCRIBE gets UNSUBACK with the same packet id and stops delivery; other subscriptions stay.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        sub = t.connected(b.port, "unsub")
        sub.subscribe([("u/a", 1), ("u/sync", 1)])
        pub = t.connected(b.port, "unsubpub")
        pub.publish("u/a", b"before", qos=1)
        sub.expect_publish("u/a", b"before", qos=1)

        sub.send(t.enc_unsubscribe(0x1234, ["u/a"]))
        p = sub.expect(t.UNSUBACK, 0x1234)
        check_eq(p.flags, 0, "UNSUBACK flags")
        check_eq(len(p.body), 2, "UNSUBACK remaining length")

        pub.publish("u/a", b"after", qos=1)
        extra = t.marker_sync(sub, pub, "u/sync")
        check(not extra, "messages delivered after UNSUBSCRIBE: %r" % extra)

        # Unsubscribing a filter that was never subscribed still gets UNSUBACK.
        sub.unsubscribe(["never/subscribed"], pid=99)
        sub.disconnect()
        pub.disconnect()

t.run(main)
