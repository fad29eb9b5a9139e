#!/usr/bin/python3
# The will is published when the client's keepalive expires.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq

import time

def main():
    with t.Broker() as b:
        watcher = t.connected(b.port, "watcher", keepalive=60)
        watcher.subscribe([("will/#", 1)])
        start = time.monotonic()
        c = t.connected(b.port, "silent", keepalive=1, will=("will/silent", b"timed-out", 1, False))
        bound = t.keepalive_bound(1)
        watcher.expect_publish("will/silent", b"timed-out", qos=1, timeout=bound)
        t.note("will after %.2f s" % (time.monotonic() - start))
        c.expect_closed(timeout=1, what="keepalive expired")
        watcher.disconnect()

t.run(main)
