#!/usr/bin/python3
# Retained messages on $-topics are not sent for # or + subscriptions, but are for $foo/#.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        pub = t.connected(b.port, "dpub")
        pub.publish("$foo/bar", b"dollar", qos=1, retain=True)
        pub.publish("plain/bar", b"plain", qos=1, retain=True)
        s = t.connected(b.port, "hash")
        s.subscribe([("#", 1)])
        got = s.collect(1)
        check_eq([(p.topic, p.retain) for p in got], [("plain/bar", True)], "retained via #")
        s.expect_nothing(what="no retained $-topic via #")
        s2 = t.connected(b.port, "plus")
        s2.subscribe([("+/bar", 1)])
        got = s2.collect(1)
        check_eq([p.topic for p in got], ["plain/bar"], "retained via +/bar")
        s2.expect_nothing(what="no retained $-topic via +/bar")
        d = t.connected(b.port, "dollar")
        d.subscribe([("$foo/#", 1)])
        d.expect_publish("$foo/bar", b"dollar", retain=True)
        for c in (pub, s, s2, d):
            c.disconnect()

t.run(main)
