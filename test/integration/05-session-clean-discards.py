#!/usr/bin/python3
# Connecting with clean session 1 discards a stored session: session-present 0, no subscription left.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        c = t.connected(b.port, "p1", clean=False)
        c.subscribe([("cd/t", 1)])
        c.disconnect()
        pub = t.connected(b.port, "cdpub")
        pub.publish("cd/t", b"queued", qos=1)

        c = t.Client(b.port, "p1")
        ack = c.connect("p1", clean=True)
        check_eq(ack.session_present, 0, "session-present with clean session 1")
        c.subscribe([("cd/sync", 1)])
        got = t.marker_sync(c, pub, "cd/sync")
        check(not got, "clean-1 session received the old session's messages or subscription: %r" % got)
        c.disconnect()

        # And the clean-1 session is not kept either.
        c = t.Client(b.port, "p1")
        ack = c.connect("p1", clean=False)
        check_eq(ack.session_present, 0, "session-present after a clean-1 session ended")
        c.subscribe([("cd/sync", 1)])
        pub.publish("cd/t", b"no-subscriber", qos=1)
        got = t.marker_sync(c, pub, "cd/sync")
        check(not got, "subscription survived clean session 1: %r" % got)
        c.disconnect()
        pub.disconnect()

t.run(main)
