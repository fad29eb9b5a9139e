#!/usr/bin/python3
# The will is published, with its QoS and retain flag, when the client's socket closes without DISCONNECT.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        watcher = t.connected(b.port, "watcher")
        watcher.subscribe([("will/#", 2)])
        c = t.connected(b.port, "dying", will=("will/dying", b"gone", 1, True))
        c.ping()
        c.close()
        p = watcher.expect_publish("will/dying", b"gone", qos=1, retain=False)
        # It was retained: a new subscriber gets it with RETAIN=1.
        late = t.connected(b.port, "late")
        late.subscribe([("will/#", 2)])
        late.expect_publish("will/dying", b"gone", qos=1, retain=True)

        # QoS 2 will, not retained.
        c = t.connected(b.port, "dying2", will=("will/dying2", b"gone2", 2, False))
        c.close()
        watcher.expect_publish("will/dying2", b"gone2", qos=2, retain=False)
        late2 = t.connected(b.port, "late2")
        late2.subscribe([("will/dying2", 2), ("will/sync", 0)])
        pub = t.connected(b.port, "wpub")
        extra = t.marker_sync(late2, pub, "will/sync")
        check(not extra, "non-retained will was retained: %r" % extra)
        for x in (watcher, late, late2, pub):
            x.disconnect()

t.run(main)
