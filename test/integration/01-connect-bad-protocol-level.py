#!/usr/bin/python3
# An unknown protocol level gets CONNACK 0x01 (unacceptable protocol version), then the connection is closed.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        for level in (6, 2):
            c = t.Client(b.port, "level%d" % level)
            c.send(t.enc_connect("badlevel", level=level))
            p = c.recv(what="CONNACK")
            check_eq(p.type, t.CONNACK, "packet type for level %d" % level)
            check_eq(p.rc, 1, "CONNACK return code for level %d" % level)
            c.expect_closed(what="after CONNACK 0x01")
        t.round_trip(b.port)

t.run(main)
