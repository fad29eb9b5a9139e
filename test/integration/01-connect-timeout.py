#!/usr/bin/python3
# SLOW (up to 15 s): a connection that never sends CONNECT is closed by the broker's connect timeout (Tern: 10 s).
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq

import time

def main():
    # Tern-specific: Tern closes a connection that sends no CONNECT within 10 s (its default
    # connect timeout). Mosquitto 2.0.11 has no such setting; it closes after about 95 s.
    if not t.tern_only("connect timeout (Tern closes after 10 s; Mosquitto after ~95 s)"):
        return
    with t.Broker() as b:
        c = t.Client(b.port)
        start = time.monotonic()
        c.expect_closed(timeout=15, what="no CONNECT sent; connect timeout expected within 15 s")
        t.note("closed after %.1f s" % (time.monotonic() - start))
        t.round_trip(b.port)

t.run(main)
