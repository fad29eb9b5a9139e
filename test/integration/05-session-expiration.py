#!/usr/bin/python3
# persistent_client_expiration: an offline persistent session is removed after the period
# (session-present 0 and no queued messages on return); one that returns in time is kept.
import os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    t.tern_only("persistent_client_expiration in seconds")
    with t.Broker(["persistent_client_expiration 2"]) as b:
        for cid in ("exp-old", "exp-new"):
            c = t.connected(b.port, cid, clean=False)
            c.subscribe([(cid + "/t", 1)])
            c.disconnect()
        pub = t.connected(b.port, "exp-pub")
        pub.publish("exp-old/t", b"lost", qos=1, pid=1)
        # exp-new comes back within the period, every 0.8 s, and so stays alive.
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:
            c = t.Client(b.port, "exp-new")
            check_eq(c.connect("exp-new", clean=False).session_present, 1,
                     "session kept while the client returns in time")
            c.disconnect()
            time.sleep(0.8)
        c = t.Client(b.port, "exp-old")
        check_eq(c.connect("exp-old", clean=False).session_present, 0,
                 "expired session is gone")
        c.expect_nothing(0.5, "queued message of an expired session")
        c.disconnect()
        check("Expiring persistent session of client exp-old" in b.log(),
              "expiry is logged; log:\n" + b.log())
        pub.disconnect()

t.run(main)
