#!/usr/bin/python3
# A retained message is delivered with RETAIN=1 to a new subscriber, by exact and by wildcard filter.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        pub = t.connected(b.port, "rpub")
        pub.publish("ret/a/b", b"kept", qos=1, retain=True)
        pub.publish("ret/other", b"other", qos=0, retain=True)
        for i, flt in enumerate(("ret/a/b", "ret/a/+", "ret/#", "+/a/b")):
            s = t.connected(b.port, "rsub%d" % i)
            s.subscribe([(flt, 1)])
            want = ["ret/a/b"] + (["ret/other"] if flt == "ret/#" else [])
            got = s.collect(len(want))
            check_eq(sorted(p.topic for p in got), sorted(want), "retained topics for %r" % flt)
            for p in got:
                check(p.retain, "retained message %r via %r delivered with RETAIN=0" % (p.topic, flt))
                check_eq(p.payload, b"kept" if p.topic == "ret/a/b" else b"other", "payload of %r" % p.topic)
            s.expect_nothing(what="no more retained messages for %r" % flt)
            s.disconnect()
        pub.disconnect()

t.run(main)
