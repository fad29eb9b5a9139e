#!/usr/bin/python3
# Retained messages are delivered at min(retained QoS, granted QoS).
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        pub = t.connected(b.port, "rqpub")
        for q in (0, 1, 2):
            pub.publish("rq/%d" % q, b"stored-at-%d" % q, qos=q, retain=True, pid=q + 1)
        for g in (0, 1, 2):
            for q in (0, 1, 2):
                s = t.connected(b.port, "rq-%d-%d" % (g, q))
                s.subscribe([("rq/%d" % q, g)])
                s.expect_publish("rq/%d" % q, b"stored-at-%d" % q, qos=min(q, g), retain=True)
                s.disconnect()
        pub.disconnect()

t.run(main)
