#!/usr/bin/python3
# Outbound QoS is min(published QoS, granted QoS).
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        subs = []
        for g in (0, 1, 2):
            s = t.connected(b.port, "granted%d" % g)
            s.subscribe([("dg/t", g)])
            subs.append(s)
        pub = t.connected(b.port, "dgpub")
        for q in (0, 1, 2):
            pub.publish("dg/t", b"pub%d" % q, qos=q, pid=q + 1)
            for g, s in enumerate(subs):
                s.expect_publish("dg/t", b"pub%d" % q, qos=min(q, g))
        for s in subs:
            s.disconnect()
        pub.disconnect()

t.run(main)
