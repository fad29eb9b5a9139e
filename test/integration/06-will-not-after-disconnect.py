#!/usr/bin/python3
# The will is not published after a clean DISCONNECT.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        watcher = t.connected(b.port, "watcher")
        watcher.subscribe([("will/#", 1)])
        c = t.connected(b.port, "polite", will=("will/polite", b"should-not-appear", 1, True))
        c.ping()
        c.disconnect()
        pub = t.connected(b.port, "wpub")
        extra = t.marker_sync(watcher, pub, "will/sync")
        check(not extra, "will published after DISCONNECT: %r" % extra)
        late = t.connected(b.port, "late")
        late.subscribe([("will/polite", 1), ("will/sync", 1)])
        extra = t.marker_sync(late, pub, "will/sync")
        check(not extra, "will retained after DISCONNECT: %r" % extra)
        for x in (watcher, pub, late):
            x.disconnect()

t.run(main)
