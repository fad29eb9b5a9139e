#!/usr/bin/python3
# A CONNECT with the reserved flag bit 0 set is closed without CONNACK.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        c = t.Client(b.port)
        c.send(t.enc_connect("reserved", flags=0x03))
        c.expect_closed(what="reserved connect flag set; no CONNACK expected")
        t.round_trip(b.port)

t.run(main)
