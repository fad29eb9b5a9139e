#!/usr/bin/python3
# Tern's documented behaviour: the will of a connection taken over by a new connection with the same client id is published.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        watcher = t.connected(b.port, "watcher")
        watcher.subscribe([("will/#", 1)])
        old = t.connected(b.port, "same-id", will=("will/same-id", b"taken-over", 1, False))
        new = t.connected(b.port, "same-id")
        old.expect_closed(what="taken over")
        watcher.expect_publish("will/same-id", b"taken-over", qos=1)
        new.disconnect()
        pub = t.connected(b.port, "wpub")
        extra = t.marker_sync(watcher, pub, "will/sync")
        check(not extra, "more than one will: %r" % extra)
        watcher.disconnect()
        pub.disconnect()

t.run(main)
