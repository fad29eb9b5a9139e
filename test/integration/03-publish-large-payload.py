#!/usr/bin/python3
# A 2 MB payload goes through a default-config broker intact (QoS 0 and QoS 1).
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq

import os

def main():
    payload = os.urandom(2 * 1024 * 1024)
    with t.Broker() as b:
        sub = t.connected(b.port, "bigsub")
        sub.subscribe([("big/t", 1)])
        pub = t.connected(b.port, "bigpub")
        for q in (0, 1):
            pub.publish("big/t", payload, qos=q, pid=9)
            p = sub.expect_publish("big/t", qos=q, timeout=10)
            check(p.payload == payload, "2 MB payload corrupted at QoS %d (got %d bytes)" % (q, len(p.payload)))
        sub.disconnect()
        pub.disconnect()

t.run(main)
