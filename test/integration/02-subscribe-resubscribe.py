#!/usr/bin/python3
# Subscribing again to the same filter replaces its QoS; messages still arrive once.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        s = t.connected(b.port, "resub")
        s.subscribe([("rs/t", 0), ("rs/sync", 1)])
        pub = t.connected(b.port, "rspub")
        pub.publish("rs/t", b"a", qos=2, pid=1)
        got = t.marker_sync(s, pub, "rs/sync")
        check_eq([(p.payload, p.qos) for p in got], [(b"a", 0)], "delivery at granted QoS 0")
        s.subscribe([("rs/t", 2)], pid=2)
        pub.publish("rs/t", b"b", qos=2, pid=2)
        got = t.marker_sync(s, pub, "rs/sync")
        check_eq([(p.payload, p.qos) for p in got], [(b"b", 2)], "one copy at the new QoS 2")
        s.subscribe([("rs/t", 1)], pid=3)
        pub.publish("rs/t", b"c", qos=2, pid=3)
        got = t.marker_sync(s, pub, "rs/sync")
        check_eq([(p.payload, p.qos) for p in got], [(b"c", 1)], "one copy at the new QoS 1")
        s.disconnect()
        pub.disconnect()

t.run(main)
