#!/usr/bin/python3
# A second CONNECT on the same connection is a protocol violation: the connection is closed.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        c = t.connected(b.port, "twice")
        c.send(t.enc_connect("twice"))
        c.expect_closed(what="second CONNECT")
        t.round_trip(b.port)

t.run(main)
