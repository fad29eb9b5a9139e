#!/usr/bin/python3
# A zero-length client id is accepted with clean session 1 and refused (CONNACK 0x02) with clean session 0.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        c = t.Client(b.port, "empty-clean1")
        ack = c.connect("", clean=True)
        check_eq(ack.session_present, 0, "session-present")
        c.ping()
        c.disconnect()

        c = t.Client(b.port, "empty-clean0")
        c.send(t.enc_connect("", clean=False))
        p = c.recv(what="CONNACK")
        check_eq(p.type, t.CONNACK, "packet type")
        check_eq(p.rc, 2, "CONNACK return code (identifier rejected)")
        check_eq(p.session_present, 0, "session-present with a refused CONNECT")
        c.expect_closed(what="after CONNACK 0x02")

t.run(main)
