#!/usr/bin/python3
# With keepalive 1 s and nothing sent, the broker closes the connection after about 1.5 s.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq

import time

def main():
    with t.Broker() as b:
        c = t.Client(b.port)
        start = time.monotonic()
        c.connect("ka1", keepalive=1)
        bound = t.keepalive_bound(1)
        c.expect_closed(timeout=bound, what="keepalive 1 s expired")
        elapsed = time.monotonic() - start
        t.note("closed after %.2f s" % elapsed)
        check(elapsed >= 0.9, "closed after %.2f s: before the keepalive (1 s) could expire" % elapsed)
        # A client that keeps pinging within its keepalive stays connected.
        c = t.Client(b.port, "pinger")
        c.connect("ka-ping", keepalive=1)
        for _ in range(6):
            time.sleep(0.4)
            c.ping()
        c.disconnect()

t.run(main)
