#!/usr/bin/python3
# A newer retained message replaces the older one: a new subscriber gets only the newest.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        pub = t.connected(b.port, "reppub")
        for v in (b"one", b"two", b"three"):
            pub.publish("rep/t", v, qos=1, retain=True)
        # A non-retained publish does not replace it.
        pub.publish("rep/t", b"not-retained", qos=1, retain=False)
        s = t.connected(b.port, "repsub")
        s.subscribe([("rep/t", 1), ("rep/sync", 1)])
        s.expect_publish("rep/t", b"three", retain=True)
        extra = t.marker_sync(s, pub, "rep/sync")
        check(not extra, "more than the newest retained message: %r" % extra)
        s.disconnect()
        pub.disconnect()

t.run(main)
