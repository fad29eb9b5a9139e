#!/usr/bin/python3
# CONNECT with a clean session gets CONNACK 0x00 with session-present 0.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        c = t.Client(b.port)
        c.send(t.enc_connect("c1", clean=True))
        p = c.recv(what="CONNACK")
        check_eq(p.type, t.CONNACK, "packet type")
        check_eq(p.flags, 0, "CONNACK fixed-header flags")
        check_eq(p.body, b"\x00\x00", "CONNACK body (session-present 0, accepted)")
        c.ping()
        c.disconnect()

t.run(main)
