#!/usr/bin/python3
# An empty retained payload clears the retained message: new subscribers get nothing.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        pub = t.connected(b.port, "clrpub")
        pub.publish("clr/t", b"soon-gone", qos=1, retain=True)
        pub.publish("clr/keep", b"stays", qos=1, retain=True)
        s = t.connected(b.port, "clrsub0")
        s.subscribe([("clr/t", 0)])
        s.expect_publish("clr/t", b"soon-gone", retain=True)
        s.disconnect()
        pub.publish("clr/t", b"", qos=1, retain=True)
        s = t.connected(b.port, "clrsub")
        s.subscribe([("clr/#", 1), ("sync", 1)])
        got = s.collect(1)
        check_eq([(p.topic, p.payload, p.retain) for p in got], [("clr/keep", b"stays", True)],
                 "retained messages after clearing clr/t")
        extra = t.marker_sync(s, pub, "sync")
        check(not extra, "cleared retained message still delivered: %r" % extra)
        s.disconnect()
        pub.disconnect()

t.run(main)
