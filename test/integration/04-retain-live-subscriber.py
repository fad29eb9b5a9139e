#!/usr/bin/python3
# A retained publish reaches an already-subscribed client with RETAIN=0 (and a later subscriber with RETAIN=1).
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        s = t.connected(b.port, "live")
        s.subscribe([("live/t", 1)])
        pub = t.connected(b.port, "livepub")
        pub.publish("live/t", b"now", qos=1, retain=True)
        s.expect_publish("live/t", b"now", qos=1, retain=False)
        late = t.connected(b.port, "late")
        late.subscribe([("live/t", 1)])
        late.expect_publish("live/t", b"now", qos=1, retain=True)
        # Re-subscribing resends the retained message.
        s.subscribe([("live/t", 1)], pid=2)
        s.expect_publish("live/t", b"now", retain=True)
        for c in (s, pub, late):
            c.disconnect()

t.run(main)
